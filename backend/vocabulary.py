"""The live catalogue's own vocabulary: its categories, houses and attribute values, embedded once.

Request understanding (`backend/understand.py`) matches a request's phrases to these terms, first by
their words and then by meaning (all-MiniLM-L6-v2 vectors of every term, computed once per catalogue
version and cached with it). Nothing here knows what kind of shop the catalogue belongs to: a beauty
catalogue's "Fragrance" and "eau de parfum" are found the way a fashion house's "top-handle bag" is.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from backend.graphs import attribute_nodes
from backend.knowledge import Knowledge
from catalog.derive import fold

WORD = re.compile(r"[a-z0-9]+(?:['&-][a-z0-9]+)*")
RANGE_TO = re.compile(r"\s*(?:-|\u2013|to)\s*")  # between the ends of a range: "UK 6-18", "£100 to £120"
MAX_PHRASE_WORDS = 5  # longest catalogue term matched word for word
MAX_VALUES_PER_KEY = 400  # an attribute with more distinct values is free text, not vocabulary


IRREGULAR_PLURALS = {"scarves": "scarf", "knives": "knife", "shelves": "shelf", "halves": "half", "leaves": "leaf",
                     "wolves": "wolf"}


def stem(word: str) -> str:
    """A crude English singular, enough to compare 'bags' with 'bag', 'dresses' with 'dress' and 'scarves' with
    'scarf'."""
    if word in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[word]
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Folded words of a text (accents stripped, lower case; hyphenated and apostrophe words kept whole)."""
    return WORD.findall(fold(text))


def phrase_key(text: str) -> str:
    """The comparison key of a phrase: folded, hyphens as spaces, each word singular."""
    return " ".join(stem(w) for w in words(text.replace("-", " ")))


@dataclass
class CatalogueVocabulary:
    """Terms of one catalogue version.

    Attributes:
        terms: phrase key -> graph nodes it names word for word (`category=tote bag`, `material=silk`).
        nodes: every attribute node that can be matched by meaning, and `vectors` their embeddings
            (shape (len(nodes), 384), unit length).
        brands: phrase key of a house's name or short name -> `brand=<name>` node.
        common_brands: brand keys that are also ordinary words of the catalogue ("fresh"), or one word of a
            longer name ("aubrac"): they name the house only when capitalised or introduced ("by Fresh").
        kind_words: word keys found in category names and item titles (what the catalogue sells).
        word_categories: each of those words -> the category nodes of the items whose title or category
            uses it ("teapot" -> {`category=tableware`}).
        known_words: every word of titles, houses, categories and attribute values (read as the
            catalogue's own language, never as a foreign one).
        house_country: house -> the country most of its items are made in, where the catalogue says.
        name_words: the brand keys that are one rare word of a longer house name (`RARE_NAME_ZIPF`): capitalised
            even at the start of a sentence they name the house ("Halden candles?").
    """

    terms: dict[str, list[str]]
    nodes: list[str]
    vectors: np.ndarray
    brands: dict[str, str]
    common_brands: set[str]
    word_categories: dict[str, set[str]]
    known_words: set[str]
    house_country: dict[str, str]
    name_words: set[str] = field(default_factory=set)  # one-word aliases of longer house names ("aubrac")
    kind_words: set[str] = field(init=False)  # the keys of `word_categories`
    node_index: dict[str, int] = field(init=False)
    categories: set[str] = field(init=False)  # the `category=` and `category_group=` nodes
    attribute_values: dict[str, set[str]] = field(init=False)  # attribute key -> values (to read notes)
    lexicon: dict | None = field(default=None, init=False)  # request-side phrase table (understand.py)
    phrase_vectors: dict[str, np.ndarray] = field(default_factory=dict, init=False)  # embedded request phrases

    def __post_init__(self) -> None:
        self.node_index = {node: i for i, node in enumerate(self.nodes)}
        self.kind_words = set(self.word_categories)
        self.categories = {n for n in self.nodes if n.startswith(("category=", "category_group="))}
        self.attribute_values = {}
        for node in self.nodes:
            key, value = node.split("=", 1)
            self.attribute_values.setdefault(key, set()).add(value)


def node_phrase(node: str) -> str:
    """The words a node is embedded as: its value, with the key where the value alone is ambiguous."""
    key, value = node.split("=", 1)
    if value in ("true", "false", "yes", "no"):
        return key.replace("_", " ") if value in ("true", "yes") else "not " + key.replace("_", " ")
    return value


def build_vocabulary(items: list[dict], knowledge: Knowledge, embed_fn) -> CatalogueVocabulary:
    """Collect and embed the vocabulary of a catalogue.

    Args:
        items (`list[dict]`): the catalogue's items (bundle format).
        knowledge (`Knowledge`): world knowledge (brand suffixes such as "cosmetics").
        embed_fn (`callable`): texts -> unit vectors, `np.ndarray` of shape (n, d).

    Returns:
        `CatalogueVocabulary`
    """
    per_key: dict[str, Counter] = defaultdict(Counter)
    brand_names: dict[str, str] = {}
    word_categories: dict[str, set[str]] = defaultdict(set)
    foreign_uses: Counter = Counter()  # word -> titles of *other* houses' items that use it
    origins: dict[str, Counter] = defaultdict(Counter)
    for item in items:
        item_nodes = list(attribute_nodes(item))
        for relation, node in item_nodes:
            per_key[relation][node] += 1
        brand = (item.get("brand") or "").strip()
        if brand:
            brand_names[brand.lower()] = brand
            origin = (item.get("attributes") or {}).get("origin")
            if isinstance(origin, str) and origin:
                origins[brand.lower()][origin] += 1
        own = {stem(w) for w in words(brand)}
        categories = {node for _, node in item_nodes if node.startswith(("category=", "category_group="))}
        for w in {stem(w) for w in words(f"{item.get('title', '')} {item.get('category') or ''}")}:
            word_categories[w] |= categories
            if w not in own:
                foreign_uses[w] += 1

    terms: dict[str, list[str]] = defaultdict(list)
    nodes: list[str] = []
    for relation, counts in per_key.items():
        if relation == "brand" or len(counts) > MAX_VALUES_PER_KEY:
            continue
        for node in counts:
            nodes.append(node)
            key = phrase_key(node_phrase(node))
            if key and len(key.split()) <= MAX_PHRASE_WORDS:
                terms[key].append(node)

    brands: dict[str, str] = {}
    for low, name in brand_names.items():
        for alias in _brand_aliases(name, knowledge.brand_suffixes, knowledge.stopwords):
            brands.setdefault(alias, f"brand={low}")
    node_words = {stem(w) for n in nodes for w in words(n.split("=", 1)[1])}
    one_word = {word: low for word, low in _distinctive_words(brand_names, foreign_uses, node_words, knowledge).items()
                if word not in brands}
    brands.update({word: f"brand={low}" for word, low in one_word.items()})
    # an ordinary word of the catalogue, or one word of a longer name ("a silk carré" is not Carré Lenoir's):
    # the house only when capitalised or introduced ("by Fresh", "from Aubrac")
    common = {alias for alias in brands if " " not in alias and foreign_uses[alias] >= 2} | set(one_word)
    known = set(word_categories) | node_words | {stem(w) for name in brand_names for w in words(name)}
    vectors = embed_fn([node_phrase(n) for n in nodes]) if nodes else np.zeros((0, 384), dtype=np.float32)
    house_country = {b: c.most_common(1)[0][0] for b, c in origins.items()}
    return CatalogueVocabulary(dict(terms), nodes, np.asarray(vectors, dtype=np.float32), brands, common,
                               dict(word_categories), known, house_country, set(one_word))


def _brand_aliases(name: str, suffixes: tuple[str, ...], stopwords: frozenset[str] = frozenset()) -> list[str]:
    """A house's full name (with "&" said as "and" too: "Hollis and Fane"), and its short name without a
    generic suffix ("Benefit Cosmetics" -> "benefit"). A short name that begins or ends with a function word
    is not one ("Makeup by Mario" -> not "by mario", which would take the words of "made by Mario Badescu")."""
    full = phrase_key(name)
    aliases = [full] if full else []
    spoken = phrase_key(re.sub(r"\s*[&+]\s*(?=\S)", " and ", name))  # "Hollis & Fane" also typed "Hollis and Fane"
    aliases += [spoken] if spoken != full else []
    aliases += [full.replace(" and ", " ")] if " and " in full else []  # "Bumble and bumble" typed "Bumble & bumble"
    for suffix in suffixes:
        key = phrase_key(suffix)
        shorts = ([full[: -len(key) - 1].strip()] if full.endswith(" " + key) else []) \
            + ([full[len(key) + 1:].strip()] if full.startswith(key + " ") else [])
        aliases += [short for short in shorts if len(short) >= 3
                    and short.split()[0] not in stopwords and short.split()[-1] not in stopwords]
    return aliases


# A house is often called by one word of its name ("Aubrac" for Cristallerie d'Aubrac, "Tilbury", "Halden"
# for Halden Porcelain). Such a word names the house only when it is rare in English (wordfreq's Zipf scale:
# "tilbury" 2.7, "aubrac" 1.1; "vale" 3.6, "madrid" 4.3 and first names such as "natasha" 3.5 are too common to
# say whose), belongs to no other house's name, and is used nowhere else in the catalogue's titles and values.
RARE_NAME_ZIPF = 3.0


def _distinctive_words(brand_names: dict[str, str], foreign_uses: Counter, node_words: set[str],
                       knowledge: Knowledge) -> dict[str, str]:
    """One-word aliases of houses with longer names: word key -> house key, for each word of its name that
    says whose it is and nothing else (see `RARE_NAME_ZIPF`); places, occasions and countries of the knowledge
    file never name a house ("Quintana Madrid" is not called "Madrid")."""
    from wordfreq import zipf_frequency

    def name_words(name: str) -> list[str]:
        out = []
        for word in words(name):
            head, _, tail = word.partition("'")
            out.append(tail if tail and len(head) <= 2 else head)  # "d'aubrac" -> "aubrac", "kiehl's" -> "kiehl"
        return out

    owners = Counter(w for name in brand_names.values() for w in set(name_words(name)))
    worldly = {w for key in (*knowledge.places, *knowledge.occasions, *knowledge.country_words) for w in words(key)}
    never = worldly | set(knowledge.stopwords) | {w for suffix in knowledge.brand_suffixes for w in words(suffix)}
    found: dict[str, str] = {}
    for low, name in brand_names.items():
        own = name_words(name)
        if len(own) < 2:
            continue  # a one-word name is its own alias already
        for word in own:
            key = stem(word)
            if len(word) >= 4 and word.isalpha() and owners[word] == 1 and word not in never \
                    and not foreign_uses[key] and key not in node_words and zipf_frequency(word, "en") < RARE_NAME_ZIPF:
                found.setdefault(key, low)
                found.setdefault(stem(word + "'s"), low)  # "Aubrac's flutes"
    return found
