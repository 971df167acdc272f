"""Understand: a request becomes a query graph of hard constraints and soft wishes.

The words a request is matched against come from the live catalogue (`backend/vocabulary.py`: its
categories, houses and attribute values) and from general world knowledge (`backend/knowledge.py`:
seasons, places, occasions, materials). Constraints are typed:

- **hard** (they filter): a price cap; a category or house *of this catalogue* that the request names
  word for word; an explicit exclusion ("no leather", "not by X");
- **soft** (they order, never remove): everything else — attribute values named word for word, phrases
  that mean a catalogue term ("doesn't shout" ~ "discreet", "scent" ~ "Fragrance"), and what a context
  implies ("a summer wedding in Tuscany" -> hot, daytime, formal).

"Nothing fits" is decided later, by the hard constraints alone, or here when the request names only
kinds of things that this catalogue does not carry (a car asked of a beauty shop).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import networkx as nx
import numpy as np

from backend.knowledge import Knowledge, negated
from backend.vocabulary import RANGE_TO, WORD, CatalogueVocabulary, phrase_key, stem
from catalog.derive import fold

SEMANTIC_THRESHOLD = 0.55  # cosine of a request phrase and a catalogue term (MiniLM); chosen on demo train/val
MEANING_MATCHES = 3  # catalogue terms kept per request phrase
MAX_MEANING_PHRASES = 16  # request phrases embedded per request (cost: ~1 ms each on one core)
MAX_OBJECT_WORDS = 5  # longest noun phrase read as what a request asks for
SUBJECT_VERBS = frozenset({"is", "are", "was", "were", "would", "will", "should", "must", "can", "could", "might"})
PRICE_VERBS = frozenset({"costing", "costs", "priced", "retailing"})  # "a tablecloth costing no more than £100"
NAMED_WEIGHT = 1.0  # a catalogue term named word for word
MEANING_WEIGHT = 0.7  # a phrase that means a catalogue term
CONTEXT_WEIGHT = 0.5  # a fact a context implies
LANGUAGE_MIN_LETTERS = 12  # fewer letters outside the catalogue's own words: too little to judge a language
LANGUAGES_READ = ("ENGLISH",)


@dataclass
class Wish:
    """A soft preference: a phrase and the catalogue nodes it stands for, with their similarity (0..1)."""

    phrase: str
    weight: float
    source: str  # "named" (word for word), "meaning" (by embedding), "context" (implied by knowledge)
    matches: dict[str, float] = field(default_factory=dict)


def as_money(value: float) -> str:
    """A budget in words: whole figures ("2,500", "92" for "around 80" plus its 15%), below ten with cents ("0.50")."""
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:,.2f}"


@dataclass
class QueryGraph:
    """What a request asks for. `categories`, `houses`, `budget_max` and `must_not` filter; wishes order."""

    text: str
    language: str = "en"
    injection: bool = False
    impossible: str | None = None
    wrong_fact: dict | None = None
    categories: list[str] = field(default_factory=list)  # nodes `category=...` / `category_group=...`, any of
    houses: list[str] = field(default_factory=list)  # nodes `brand=...`, any of
    budget_max: float | None = None
    currency: str | None = None
    must_not: list[str] = field(default_factory=list)  # nodes, or plain words ("leather")
    must_not_also: list[str] = field(default_factory=list)  # their narrower names ("calfskin"): they exclude too
    kinds: list[str] = field(default_factory=list)  # category nodes a named kind of thing points to ("timepiece")
    foreign: list[str] = field(default_factory=list)  # content words neither the catalogue nor the knowledge knows
    sold: list[str] = field(default_factory=list)  # content words the catalogue's titles use ("conditioner")
    vague: bool = False  # the request asks for "something" (a gift, a surprise...), not a kind of thing
    for_animal: str | None = None  # "shampoo for my golden retriever": what it asks for is for an animal
    pairings: list[dict] = field(default_factory=list)  # {"words", "categories", "values"}: "a coat in linen"
    wishes: list[Wish] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)  # what is asked for, unnamed by the catalogue ("a piano")
    asked: list[str] = field(default_factory=list)  # noun phrases that may say what is asked for, in any case
    contexts: list[dict] = field(default_factory=list)
    wet: bool = False
    notes: list[str] = field(default_factory=list)
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)  # the request's embedding
    object_vectors: np.ndarray | None = field(default=None, repr=False, compare=False)  # (len(objects), d)
    asked_vectors: np.ndarray | None = field(default=None, repr=False, compare=False)  # (len(asked), d)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("vector")
        data.pop("object_vectors")
        data.pop("asked_vectors")
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "QueryGraph":
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__
                  and k not in ("vector", "object_vectors", "asked_vectors")}
        fields["wishes"] = [w if isinstance(w, Wish) else Wish(**w) for w in fields.get("wishes", [])]
        return cls(**fields)

    def names_category(self) -> bool:
        """Whether the request names one of the catalogue's categories (a filter, or a named wish for one)."""
        return bool(self.categories) or any(w.source == "named" and any(n.startswith("category") for n in w.matches)
                                            for w in self.wishes)

    @property
    def hard(self) -> bool:
        return self.limited or bool(self.categories or self.must_not)

    @property
    def limited(self) -> bool:
        """Whether the request names a house or a budget (the constraints `limits()` words)."""
        return bool(self.houses) or self.budget_max is not None

    def limits(self) -> list[str]:
        """The house and budget constraints in words, for a refusal's reason: ["by vell", "within 40"]."""
        return [p for p in ("by " + "/".join(n.split("=", 1)[1] for n in self.houses) if self.houses else "",
                            f"within {as_money(self.budget_max)}" if self.budget_max is not None else "") if p]

    def to_graph(self) -> nx.DiGraph:
        """The query as a graph: `request` -> nodes, edges marked required / excluded / preferred."""
        graph = nx.DiGraph()
        graph.add_node("request", kind="request", text=self.text)

        def link(node: str, strength: str, source: str, weight: float = 1.0) -> None:
            graph.add_node(node, kind="attribute")
            graph.add_edge("request", node, strength=strength, source=source, weight=round(weight, 3))

        for node in self.categories + self.houses:
            link(node, "required", "stated")
        if self.budget_max is not None:
            link(f"price<={as_money(self.budget_max)}", "required", "stated")
        for node in self.must_not:
            link(node if "=" in node else f"word={node}", "excluded", "stated")
        for i, ctx in enumerate(self.contexts):
            name = f"context {i + 1}: " + " ".join(str(ctx[k]) for k in ("occasion", "place", "season") if ctx.get(k))
            graph.add_node(name, kind="context")
            graph.add_edge("request", name, strength="implied", source="knowledge")
        for wish in self.wishes:
            for node, sim in wish.matches.items():
                link(node, "preferred", wish.source, wish.weight * sim)
        return graph

    def describe(self, wishes: int = 5) -> str:
        """The query graph in a few words (for the prompt and the associate): every hard constraint, the
        contexts and the `wishes` strongest soft matches."""
        parts = [n.split("=", 1)[1] for n in self.categories + self.houses]
        for ctx in self.contexts:
            parts.append(" ".join(str(ctx[k]) for k in ("occasion", "place", "season", "climate", "time")
                                  if ctx.get(k)))
        best = sorted({n: w.weight * s for w in self.wishes for n, s in w.matches.items()}.items(),
                      key=lambda kv: -kv[1])
        parts += [n.split("=", 1)[1] for n, _ in best if n not in self.categories + self.houses][:wishes]
        if self.budget_max is not None:
            parts.append(f"at most {as_money(self.budget_max)}" + (f" {self.currency}" if self.currency else ""))
        if self.must_not:
            parts.append("not " + "/".join(n.split("=", 1)[-1] for n in self.must_not))
        return "; ".join(p for p in parts if p) or "nothing specific"


@dataclass
class Mention:
    start: int  # character offsets in the folded text
    end: int
    words: str  # the request's words
    kind: str  # "term", "brand", "category_head", "place", "occasion", "season", "country", "material", "product"
    target: object
    modifier: bool = False  # names categories but modifies the next word ("silver" in "a silver teapot")

    def names_a_thing(self) -> bool:
        """Whether it names a kind of thing: a category, a head word of categories, a product kind."""
        return self.kind in ("category_head", "product") or self.kind == "term" and any(
            n.startswith("category") for n in self.target)


def understand(text: str, vocab: CatalogueVocabulary, knowledge: Knowledge, embed_fn) -> QueryGraph:
    """Read a request against a catalogue's vocabulary.

    Args:
        text (`str`): the client's request.
        vocab (`CatalogueVocabulary`): the live catalogue's terms and their vectors.
        knowledge (`Knowledge`): world knowledge.
        embed_fn (`callable`): texts -> unit vectors (the catalogue's embedding model).

    Returns:
        `QueryGraph`, with `vector` set to the request's embedding.
    """
    low = fold(text)
    q = QueryGraph(text=text)
    tokens = [(m.group(), m.start(), m.end()) for m in WORD.finditer(low)]
    q.language = detect_language(text, tokens, vocab, knowledge)
    if q.language != "en":
        q.notes.append(f"language: {q.language}")
    q.injection = any(re.search(rf"(?<!\w){re.escape(cue)}(?!\w)", low) for cue in knowledge.injection_cues)
    q.budget_max, q.currency = parse_budget(low, knowledge)
    if q.budget_max is not None:
        q.notes.append(f"budget: at most {as_money(q.budget_max)}" + (f" {q.currency}" if q.currency else ""))
    mentions, had = _read_mentions(text, low, tokens, vocab, knowledge)
    _read_wrong_facts(low, mentions, vocab, knowledge, q)
    consumed = _read_named(text, low, mentions, vocab, knowledge, q, had)
    q.must_not_also = narrower_names(q.must_not, knowledge)
    _read_contexts(low, mentions, knowledge, q)
    asked, opening = object_phrases(low, tokens, mentions, knowledge, had)
    _read_impossible(low, tokens, mentions, asked, vocab, knowledge, q, had)
    _read_meaning(text, tokens, consumed, vocab, knowledge, q, embed_fn, also=asked + opening)
    _read_objects(asked, opening, vocab, knowledge, q, embed_fn)
    if asked + opening:
        q.asked = list(dict.fromkeys(asked + opening))
        q.asked_vectors = _phrase_vectors(q.asked, vocab, embed_fn)
    lexicon = _lexicon(vocab, knowledge)
    q.foreign = [t for t, s, _ in tokens if s not in consumed and len(t) > 3 and not t.isdigit()
                 and t not in knowledge.stopwords and stem(t) not in vocab.known_words and stem(t) not in lexicon]
    q.vague = any(stem(t) in knowledge.vague_objects for t, _, _ in tokens)
    q.for_animal = _for_an_animal(low, knowledge)
    q.sold = [t for t, _, _ in tokens if len(t) > 3 and not t.isdigit() and t not in knowledge.stopwords
              and stem(t) in vocab.kind_words]
    return q


# ----------------------------------------------------------------------------------------------
# Words


@lru_cache(maxsize=4)
def _knowledge_lexicon(knowledge: Knowledge) -> dict[str, list[tuple[str, object]]]:
    lexicon: dict[str, list[tuple[str, object]]] = {}

    def add(surface: str, kind: str, target) -> None:
        lexicon.setdefault(phrase_key(surface), []).append((kind, target))

    for name in knowledge.places:
        add(name, "place", name)
        if name.startswith("the "):
            add(name[4:], "place", name)
    for name in knowledge.occasions:
        add(name, "occasion", name)
    for word, season in knowledge.season_words.items():
        add(word, "season", season)
    for word, country in knowledge.country_words.items():
        add(word, "country", country)
    for name in knowledge.materials:
        add(name, "material", name)
    for kind, names in knowledge.product_kinds.items():
        for name in names:
            add(name, "product", kind)
    return lexicon


def _lexicon(vocab: CatalogueVocabulary, knowledge: Knowledge) -> dict[str, list[tuple[str, object]]]:
    """Phrase key -> what it names; built once per (catalogue, knowledge) and kept on the vocabulary."""
    if vocab.lexicon is not None:
        return vocab.lexicon
    lexicon = {k: list(v) for k, v in _knowledge_lexicon(knowledge).items()}
    heads: dict[str, list[str]] = {}
    for key, nodes in vocab.terms.items():
        lexicon.setdefault(key, []).append(("term", nodes))
        for node in nodes:
            if node.startswith("category=") and " " in key and not _named_otherwise(key, key.rsplit(" ", 1)[1],
                                                                                      knowledge):
                heads.setdefault(key.rsplit(" ", 1)[1], []).append(node)  # not "jacket" for the dinner jackets
    for key, nodes in vocab.terms.items():  # a shorthand: a category's name less a last word that names a kind,
        said = key.split()  # two words or more left ("a top handle": the top-handle bags)
        categories = [n for n in nodes if n.startswith("category=")]
        if len(said) > 2 and said[-1] in _kind_keys(knowledge) and categories and " ".join(said[:-1]) not in lexicon:
            lexicon[" ".join(said[:-1])] = [("term", categories)]
    for head, nodes in heads.items():
        if not any(kind == "term" for kind, _ in lexicon.get(head, [])):
            lexicon.setdefault(head, []).append(("category_head", nodes))
    for alias, node in vocab.brands.items():
        lexicon.setdefault(alias, []).append(("brand", node))
    vocab.lexicon = lexicon
    return lexicon


def find_mentions(tokens: list[tuple[str, int, int]], low: str, vocab: CatalogueVocabulary,
                  knowledge: Knowledge) -> list[Mention]:
    """Every known phrase in the request, longest first at each position, without overlaps."""
    lexicon = _lexicon(vocab, knowledge)
    keys = [phrase_key(t) for t, _, _ in tokens]  # "e-bike" is the category "E-Bike" (key "e bike")
    bare = [phrase_key(t[:-2]) if t.endswith("'s") else k for (t, _, _), k in zip(tokens, keys)]  # "Tomonari's"
    found, i = [], 0
    while i < len(tokens):
        for n in range(min(5, len(tokens) - i), 0, -1):
            entries = lexicon.get(" ".join(keys[i:i + n])) or [  # a house's "'s" ("men's" stays whom for)
                e for e in lexicon.get(" ".join(keys[i:i + n - 1] + bare[i + n - 1:i + n]), ()) if e[0] == "brand"]
            if entries:
                start, end = tokens[i][1], tokens[i + n - 1][2]
                found += [Mention(start, end, low[start:end], kind, target) for kind, target in entries]
                i += n
                break
        else:
            i += 1
    return found


def detect_language(text: str, tokens: list[tuple[str, int, int]], vocab: CatalogueVocabulary,
                    knowledge: Knowledge) -> str:
    """"en", or the language the request is written in when it is clearly another one.

    Brand and product names are the catalogue's own words: they are removed before judging, so that
    "Santal 33 eau de parfum" is read, not refused as French. Non-Latin scripts are never English."""
    letters = [ch for ch in text if ch.isalpha()]
    if letters and sum(ch.isascii() or "\u00c0" <= ch <= "\u024f" for ch in letters) / len(letters) < 0.5:
        return _lingua_name(text) or "other"
    rest = " ".join(t for t, _, _ in tokens if stem(t) not in vocab.known_words
                    and phrase_key(t) not in _knowledge_lexicon(knowledge) and not t.isdigit())
    if sum(ch.isalpha() for ch in rest) < LANGUAGE_MIN_LETTERS:
        return "en"
    name = _lingua_name(rest)
    return "en" if name in (None, "en") else name


@lru_cache(maxsize=1)
def _detector():
    from lingua import Language, LanguageDetectorBuilder

    languages = [Language.ENGLISH, Language.FRENCH, Language.GERMAN, Language.SPANISH, Language.ITALIAN,
                 Language.PORTUGUESE, Language.DUTCH, Language.JAPANESE, Language.CHINESE, Language.KOREAN,
                 Language.ARABIC, Language.RUSSIAN, Language.HEBREW, Language.GREEK, Language.TURKISH,
                 Language.POLISH, Language.HINDI]
    return LanguageDetectorBuilder.from_languages(*languages).with_minimum_relative_distance(0.1).build()


def _lingua_name(text: str) -> str | None:
    language = _detector().detect_language_of(text)
    if language is None:
        return None
    return "en" if language.name == "ENGLISH" else language.iso_code_639_1.name.lower()


def parse_budget(low: str, knowledge: Knowledge) -> tuple[float | None, str | None]:
    """The most the client wants to spend and its currency, from cues such as 'under $40',
    'capped at 2,500 euros', '900 pounds at the most', 'budget 2.5k', "budget's five grand"; of a range, its top
    ('budget £100-£120'). 'around X' tolerates 15% more, unless a cap follows it ('around £80 tops')."""
    from price_parser import Price

    low = numerals(low.replace("’", "'"), knowledge)  # "can’t", typed on a phone
    for word, amount in knowledge.money_words.items():  # "nothing over a tenner"
        low = re.sub(rf"(?<![\w-])(?:an? )?{re.escape(word)}(?![\w-])", amount, low)
    for unit, major in knowledge.minor_units.items():  # "nail polish for 50 cents"
        low = re.sub(rf"(?<![\w.,])(\d+)\s*{re.escape(unit)}(?![\w-])", lambda m: f"{int(m.group(1)) / 100:g} {major}",
                     low)
    currency = "|".join(re.escape(c) for c in sorted(knowledge.currency_words, key=len, reverse=True))
    amount = rf"(?:(?:{currency})\s*)?(\d[\d,. ]*\d|\d)\s*(k\b|thousand\b|grand\b)?\s*(?:{currency})?(?![\w])"
    cues = "|".join(re.escape(c) for c in sorted(knowledge.budget_before + knowledge.budget_about
                                                 + knowledge.budget_exceed, key=len, reverse=True))
    after = "|".join(re.escape(c) for c in sorted(knowledge.budget_after, key=len, reverse=True))
    cued = rf"(?<!\w)({cues})(?:'s|:)?\s*(?:of\s+|is\s+|was\s+|at\s+)?" + amount
    match = next((m for m in re.finditer(cued, low)
                  if (m.group(1) not in knowledge.budget_exceed or _CAP_NEGATION.search(low[:m.start()]))
                  and not _measure_follows(low, m, knowledge)), None)
    if match:
        cue, figure, thousands = match.group(1), match.group(2), match.group(3)
    else:
        match = re.search(amount + rf"\s*({after})(?!\w)", low) or _priced_amount(low, amount, knowledge)
        if not match:
            return None, None
        cue, figure, thousands = "", match.group(1), match.group(2)
    said = match.group(0)
    upper = re.compile(RANGE_TO.pattern + amount).match(low, match.end())  # "budget £100-£120": its top
    if upper and _amount(upper.group(1), upper.group(2)) > _amount(figure, thousands):  # not "under €50 to 2 people"
        match, figure, thousands, said = upper, upper.group(1), upper.group(2), said + upper.group(0)
    price = Price.fromstring(match.group(0).replace(" ", "") if not thousands else figure)
    value = float(price.amount) if price.amount is not None else None
    if value is None:
        return None, None
    value *= 1000 if thousands else 1
    symbol = next((code for word, code in knowledge.currency_words.items()
                   if re.search(rf"(?<!\w){re.escape(word)}(?!\w)" if word.isalpha() else re.escape(word),
                                said)), None)
    capped = re.match(rf"\s*(?:{currency})?\s*(?:{after})(?!\w)", low[match.end():])  # "around £80 tops"
    return (value * 1.15 if cue in knowledge.budget_about and not capped else value), symbol


def _amount(figure: str, thousands: str | None) -> float:
    """A budget figure as a number ("2,500" -> 2500; "3" with "k" -> 3000)."""
    from price_parser import Price

    value = Price.fromstring(figure.replace(" ", "")).amount
    return float(value or 0) * (1000 if thousands else 1)


# words that may follow a bare amount that is money ("under 100 total", "50 per person")
_AMOUNT_TAILS = ("total", "per", "each", "altogether")


def _measure_follows(low: str, match: re.Match, knowledge: Knowledge) -> bool:
    """A cued amount without a currency that a unit of something else follows ("lasts about 3 months",
    "within 2 days", "up to 4 people"): not money. A function word, a cap cue or nothing may follow money."""
    if any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)" if w.isalpha() else re.escape(w), match.group(0))
           for w in knowledge.currency_words):
        return False
    following = re.match(r"\s*([a-z]+)", low[match.end():])
    if not following or match.group(3):
        return False
    word = following.group(1)
    tails = set(knowledge.stopwords) | set(knowledge.prepositions) | set(_AMOUNT_TAILS)
    tails |= {w for cue in knowledge.budget_after for w in cue.split()[:1]}
    return word not in tails and word not in knowledge.currency_words


# "can't / cannot / won't / do not / never ... spend more than": the words just before an exceed cue
_CAP_NEGATION = re.compile(r"(?:n't|\bnot|\bcannot|\bnever|\bno)(?:\s+\w+){0,3}\s*$")


# "a grand", "2 grand" as a sum of money (a thousand), but not "a grand cru", "a grand piano": only where what
# follows is no noun it could qualify (English, like the budget cues)
GRAND = re.compile(r"(?<![\w.])(?:(an?|one)|(\d+(?:\.\d+)?))\s+grand\b(?=\s*(?:$|[.,;:!?)]|(?:for|on|or|and|max|"
                   r"maximum|tops|at|to|is|each|total|ish|budget|all in)\b))")


def numerals(low: str, knowledge: Knowledge) -> str:
    """Numbers written in words as digits, for reading a budget: "under a hundred euros" -> "under 100 euros"
    (text2num; "a"/"an" before the figure dropped)."""
    from text_to_num import alpha2digit

    money = "|".join(re.escape(w) for w in knowledge.currency_words if w.isalpha())
    low = re.sub(rf"(?<![\w-])(one|two)(?=\s+(?:{money})\b(?!\s+of\b))",  # text2num leaves a lone "two" alone
                 lambda m: "1" if m.group(1) == "one" else "2", low)
    cues = "|".join(re.escape(c) for c in sorted(knowledge.budget_before + ("for",), key=len, reverse=True))
    low = re.sub(rf"(?<![\w-])({cues})\s+an?(?=\s+(?:{money})\b(?!\s+of\b))", r"\1 1", low)  # "under a dollar"
    low = GRAND.sub(lambda m: f"{float(m.group(2) or 1) * 1000:g}", alpha2digit(low, "en"))
    return re.sub(r"(?<![\w])an? (?=\d)", "", low)



def _priced_amount(low: str, amount: str, knowledge: Knowledge) -> re.Match | None:
    """An amount written with its currency and no cue ("a ring for 30 euros", "£60"): a shopper who names a
    price names what they mean to spend. The largest such amount, unless a floor cue ("over €200") precedes it."""
    floor = "|".join(re.escape(c) for c in sorted(knowledge.budget_floor, key=len, reverse=True)) or "(?!)"
    words = [w for w in knowledge.currency_words]
    priced = [m for m in re.finditer(amount, low)
              if any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)" if w.isalpha() else re.escape(w), m.group(0))
                     for w in words)
              and not re.search(rf"(?<!\w)(?:{floor})\s*$", low[:m.start()])]
    return max(priced, key=lambda m: float(re.sub(r"[^\d.]", "", m.group(1).replace(",", "")) or 0), default=None)


# ----------------------------------------------------------------------------------------------
# Hard constraints and named wishes


def _ruled_out_after(low: str, end: int, knowledge: Knowledge) -> bool:
    """'Suede is out.' — a ruling-out that follows the term."""
    after = low[end:end + 24]
    return any(re.match(rf"\s+{re.escape(cue)}(?!\w)", after) for cue in knowledge.exclusion_after)


def _read_mentions(text: str, low: str, tokens: list[tuple[str, int, int]], vocab: CatalogueVocabulary,
                   knowledge: Knowledge) -> tuple[list[Mention], frozenset[int]]:
    """The request's mentions (`find_mentions`, each marked when it modifies another category) and the offsets
    of the things the client has (`_had`): what `understand` and `category_mentions` both start from."""
    mentions = [m for m in find_mentions(tokens, low, vocab, knowledge)  # "a nice scarf" is not for Nice
                if not (m.kind == "place" and m.words in knowledge.ambiguous_place_words
                        and not re.search(rf"\b{re.escape(m.words.title())}\b", text))]
    for m in mentions:
        m.modifier = _category_modifies(low, m, vocab, knowledge)
    return mentions, _had(low, tokens, mentions, knowledge)


def _read_named(text: str, low: str, mentions: list[Mention], vocab: CatalogueVocabulary, knowledge: Knowledge,
                q: QueryGraph, had: frozenset[int] = frozenset()) -> set[int]:
    """Categories, houses and attribute values named word for word; returns the character offsets they
    cover (those words are not matched again by meaning). A category owned or had (`_owned`) only orders."""
    consumed: set[int] = set()
    heads: list[str] = []  # the categories a named head word stands for ("shoes": road, gravel, winter shoes)
    owned = frozenset(m.start for m in mentions if _owned(low, m.start, knowledge, had))
    for m in mentions:
        excluded = negated(low, m.start, knowledge.negations) or _ruled_out_after(low, m.end, knowledge)
        if m.kind == "brand":
            node = m.target
            key = phrase_key(m.words)
            named = key not in vocab.common_brands or _capitalised(text, m.words) or \
                key in vocab.name_words and re.search(rf"\b{re.escape(m.words.capitalize())}\b", text) or \
                re.search(r"\b(by|from)\s+$", low[max(0, m.start - 6):m.start])
            if excluded:
                q.must_not.append(node)
            elif named and not _house_of_owned(low, m, mentions, knowledge, had, owned):
                _add(q.houses, node)
            else:
                q.wishes.append(Wish(m.words, CONTEXT_WEIGHT, "named", {node: 1.0}))
            consumed.update(range(m.start, m.end))
        elif m.kind == "term":
            categories = [n for n in m.target if n.startswith(("category=", "category_group="))]
            values = [n for n in m.target if n not in categories]
            if excluded:
                q.must_not += [n for n in m.target if n not in q.must_not]
            else:
                if categories and (_purpose(low, m.start, knowledge) or m.start in owned or m.modifier):
                    # "a brush for makeup", "a billfold to go with his watch", "a silver teapot": orders only
                    q.wishes.append(Wish(m.words, NAMED_WEIGHT, "named", {n: 1.0 for n in categories}))
                    categories = []
                for node in categories:
                    _add(q.categories, node)
                if values:
                    q.wishes.append(Wish(m.words, NAMED_WEIGHT, "named", {n: 1.0 for n in values}))
            consumed.update(range(m.start, m.end))
        elif m.kind == "category_head" and not excluded:
            q.wishes.append(Wish(m.words, NAMED_WEIGHT, "named", {n: 0.9 for n in m.target}))
            if not (m.modifier or _purpose(low, m.start, knowledge) or m.start in owned) \
                    and {n for n in vocab.word_categories.get(phrase_key(m.words), ())
                         if n.startswith("category=")} <= set(m.target):
                # a kind only when the catalogue uses the word for those categories alone: "shoes" at a shop
                # of road, gravel and winter shoes, not "body" of "Bath & Body" at one with body lotions in Skincare
                heads += [n for n in m.target if n not in heads]
            consumed.update(range(m.start, m.end))
        elif m.kind == "material" and excluded and not any(o.kind == "term" and o.start == m.start for o in mentions):
            _add(q.must_not, m.target)
    if not q.categories:
        # a kind, which orders, but which the named house or budget must have (`backend.live.kind_is_available`);
        # beside a category named word for word ("a wine as well as port") it is not the thing asked for
        q.kinds += [n for n in heads if n not in q.kinds]
    mistaken = (q.wrong_fact or {}).get("subject") if (q.wrong_fact or {}).get("kind") == "material" else None
    said_as_kind = [m for m in mentions if not m.modifier]  # "a linen tea towel": no "tea in linen"
    # one resting on a wrong belief is no condition
    q.pairings = [p for p in _pairings(low, said_as_kind, knowledge, owned)
                  if not mistaken or not any(v.split("=", 1)[1] == mistaken for v in p["values"])]
    if q.categories:
        q.notes.append("category: " + " or ".join(n.split("=", 1)[1] for n in q.categories))
    if q.houses:
        q.notes.append("house: " + " or ".join(n.split("=", 1)[1] for n in q.houses))
    if q.must_not:
        q.notes.append("ruled out: " + ", ".join(n.split("=", 1)[-1] for n in q.must_not))
    return consumed


def narrower_names(ruled_out: list[str], knowledge: Knowledge) -> list[str]:
    """The narrower names of each material ruled out (knowledge `material_families`), as plain words: "no
    leather" rules out the items that say lambskin or suede. They exclude but are not shown as said."""
    said = [node.split("=", 1)[-1].lower() for node in ruled_out]
    return list(dict.fromkeys(name for value in said for name in knowledge.material_families.get(value, ())
                              if name not in said))


def category_mentions(text: str, vocab: CatalogueVocabulary, knowledge: Knowledge) -> list[dict]:
    """Each category named in a request (word for word or by a head word; not negated or ruled out), with how
    `understand` takes it: `only_mentioned` when it is a purpose, a thing owned or had, or a modifier of another
    category (it then orders only), else asked for. For measuring that reading (`bench/asked_mentions.py`).

    Returns:
        `list[dict]`: `start`, `end` (offsets into the folded text, `low`), `words`, `nodes` (category nodes),
        `only_mentioned`, `had` (a possession verb covers it), `modifier`, and `low` itself.
    """
    low = fold(text)
    tokens = [(m.group(), m.start(), m.end()) for m in WORD.finditer(low)]
    mentions, had = _read_mentions(text, low, tokens, vocab, knowledge)
    out = []
    for m in mentions:
        nodes = [n for n in m.target if n.startswith(("category=", "category_group="))] \
            if m.kind in ("term", "category_head") else []
        if not nodes or negated(low, m.start, knowledge.negations) or _ruled_out_after(low, m.end, knowledge):
            continue
        only = _purpose(low, m.start, knowledge) or _owned(low, m.start, knowledge, had) or bool(m.modifier)
        out.append({"low": low, "start": m.start, "end": m.end, "words": m.words, "nodes": nodes,
                    "only_mentioned": only, "had": m.start in had, "modifier": bool(m.modifier)})
    return out


def _purpose(low: str, start: int, knowledge: Knowledge) -> bool:
    """`_said_as_purpose` for the words at character `start`."""
    before = WORD.findall(low[:start])
    return _said_as_purpose([(w, 0, 0) for w in before] + [("", 0, 0)], len(before), knowledge)


def _owned(low: str, start: int, knowledge: Knowledge, had: frozenset[int] = frozenset()) -> bool:
    """Whether the words at character `start` follow an owner word in the same noun phrase ("his watch", "my
    Figuier Noir candle", "my wife's perfume": at most `OWNER_REACH` words between, none of them a stopword,
    preposition or verb of seeking or having), follow a companion cue (`_companion`), or are among the words
    `had` (`_had`): a thing owned ("a case for her glasses", "I've got a Kawase wallet") is mentioned, not asked
    for; "her" after a seeking verb says whom ("buy her perfume"), "of their" whose range ("one of their
    blazers")."""
    if start in had:
        return True
    words = _clause_before(low, start)
    if _companion(words, knowledge):
        return True
    stops = _owner_stops(knowledge)
    for k in range(len(words) - 1, max(-1, len(words) - 2 - OWNER_REACH), -1):
        before = words[k - 1] if k else ""
        if words[k] in knowledge.owner_words:
            if before == "of" and words[k] in knowledge.shop_owner_words:
                return False  # "one of their blazers", "any of your scarves": the house's or the shop's, asked for
            return words[k] != "her" or before not in knowledge.seeking_words
        if words[k] in stops and not (words[k] == "own" and before in knowledge.owner_words):
            return False  # "my own cream linen trousers": "own" there says whose
    return False


def _house_of_owned(low: str, house: Mention, mentions: list[Mention], knowledge: Knowledge,
                    had: frozenset[int], owned: frozenset[int]) -> bool:
    """Whether a house is named as the maker of a thing the client has (at an offset of `owned`, which `_owned`
    holds), in the same noun phrase before it ("he already owns the Bruschi Milano dinner jacket", at most
    `OWNER_REACH` words between) or after it with "from" or "by" ("I have a suede bag from Kingsley Ward"), or
    followed by more words of a thing had (`had`: "I bought the Orrin Silversmiths candlesticks last autumn"):
    it says whose that thing is, not which house the thing asked for must come from. "I love Kawase" names no
    thing and stays the house, and so does one the request refers back to (`house_references`: "do they make a
    gin too?", "from the same house")."""
    after = f" {' '.join(WORD.findall(low[house.end:]))} "
    if any(f" {cue} " in after for cue in knowledge.house_references):
        return False
    if house.start in had and re.compile(r"\W*").match(low, house.end).end() in had:
        return True  # inside the words of a thing had, with more of them after it ("I bought the Orrin candlesticks")
    stops = knowledge.prepositions | knowledge.seeking_words | {"to"}  # "Cufflinks by X to match his watch"
    for thing in mentions:
        if thing.kind not in ("term", "category_head") or not any(n.startswith("category") for n in thing.target) \
                or thing.start not in owned:
            continue
        if thing.start >= house.end:
            between = WORD.findall(low[house.end:thing.start])
            if not re.search(r"[,.;:!?]", low[house.end:thing.start]) and len(between) <= OWNER_REACH \
                    and not stops & set(between):
                return True
        elif thing.end <= house.start and re.fullmatch(r"\s+(?:from|by)\s+", low[thing.end:house.start]):
            return True
    return False


def _clause_before(low: str, start: int) -> list[str]:
    """The words before character `start` back to the last punctuation mark (at most 60 characters)."""
    return re.split(r"[,.;:!?]", low[max(0, start - 60):start])[-1].split()


@lru_cache(maxsize=4)
def _owner_stops(knowledge: Knowledge) -> frozenset[str]:
    """Words that end the walk back from a thing to its owner word: stopwords, prepositions, seeking and having."""
    return knowledge.stopwords | knowledge.prepositions | knowledge.seeking_words | knowledge.possession_verbs


OWNER_REACH = 3  # words between an owner word and the thing owned ("my grey wool jacket")


def _companion(words: list[str], knowledge: Knowledge) -> bool:
    """Whether a companion cue (`companion_cues`) is among the last five of `words` (the clause before a thing):
    "cufflinks to go with the tie I bought", "a belt to match the Chelsea boots" — the thing asked for goes with
    it."""
    said = f" {' '.join(words[-5:])} "
    return any(f" {cue} " in said for cue in knowledge.companion_cues)


POSSESSION_REACH = 4  # words between a possession verb and the thing had ("got a pair of Kawase loafers")


HAD_MARK = re.compile(r"(?m)^[ \t]*(?:[-*\u2022][ \t]*)?([^\n()]+?)[ \t]*\((?:already[ \t]+)?(?:have|got|own|owned)"
                      r"(?:[ \t]+(?:it|them|one))?\)")  # a line of a list marked as had: "- gold sandals (have)"


def _had(low: str, tokens: list[tuple[str, int, int]], mentions: list[Mention], knowledge: Knowledge) -> frozenset[int]:
    """Character offsets of the words that name a thing someone already has, when the request goes on to name
    another thing: that one is asked for, the thing had only mentioned ("I've got a Kawase wallet … are there
    Kawase trainers too?", "my husband only wears Seterie ties, so … a Seterie belt"). A thing had is the words
    after a possession verb up to a preposition, conjunction, seeking or relative word or a punctuation mark
    (`POSSESSION_REACH`: "I have £500 to spend on a bag" has none), the verb's subject one of `possessors` or
    a word after an owner word ("my husband"; "do you have", "does Kawase have" ask the shop), or no subject at
    all when the verb opens a sentence and is one of `possession_said_alone` ("Bought a Seterie tie last
    month."); or, whoever gave it, the words after a verb of `gift_verbs` and its recipient ("my father-in-law
    gave me a watch"). Things joined by "and" and a determiner are had alike ("we have the decanter and the red wine
    glasses"). A thing had that is all the request names ("we already have a black tote, one in tan?") stays what
    it asks about; beside any other thing, said before or after it, it is only mentioned."""
    breaks = knowledge.prepositions | knowledge.seeking_words | knowledge.relative_words | {"and", "or", "but"}
    joined = knowledge.object_determiners | knowledge.owner_words | {"the"}  # "and the", "and my"
    spans = []
    for k, (word, _, _) in enumerate(tokens):
        j = k - 1
        while j >= 0 and tokens[j][0] in knowledge.possession_adverbs:
            j -= 1
        alone = word in knowledge.possession_said_alone and (
            j < 0 or bool(re.search(r"[.:;!?]", low[tokens[j][2]:tokens[j + 1][1]])))
        given = word in knowledge.gift_verbs and k + 1 < len(tokens) and tokens[k + 1][0] in knowledge.gift_recipients \
            and not re.search(r"[,.;:!?]", low[tokens[k][2]:tokens[k + 1][1]])  # "my father gave me a watch"
        if not given and (word not in knowledge.possession_verbs or not alone and (j < 0 or not (
                tokens[j][0] in knowledge.possessors or j > 0 and tokens[j - 1][0] in knowledge.owner_words
                - knowledge.shop_owner_words))):
            continue  # "your" is the shop's ("does your boutique have")
        before = k + 1 if given else k  # the word before the thing had: the verb, or after giving, its recipient
        end = base = before
        while base + 1 < len(tokens) and tokens[base + 1][0] in knowledge.quantity_words:
            base += 1  # "she wears a lot of your silk scarves": the reach counts from the thing's own words
        while end + 1 < len(tokens) and end - base <= POSSESSION_REACH \
                and not re.search(r"[,.;:!?]", low[tokens[end][2]:tokens[end + 1][1]]):
            if tokens[end + 1][0] == "and" and end + 2 < len(tokens) and tokens[end + 2][0] in joined:
                end = base = end + 1
            elif tokens[end + 1][0] in breaks:
                break
            end += 1
        if end > before:
            spans.append((tokens[before + 1][1], tokens[end][2]))
    spans += [(m.start(1), m.end(1)) for m in HAD_MARK.finditer(low)]  # a list's "- gold sandals (have)"
    things = [m.start for m in mentions if not m.modifier and not negated(low, m.start, knowledge.negations)
              and m.names_a_thing() and not any(a <= m.start < b for a, b in spans)]
    return frozenset(c for a, b in spans if any(t >= b or t < a for t in things) for c in range(a, b))


def _said_as_purpose(tokens: list[tuple[str, int, int]], i: int, knowledge: Knowledge) -> bool:
    """Whether the word at `i` follows a preposition that makes it what a thing is for, not the thing
    ("a brush for makeup", "running shoes for men"); a seeking verb's "for" introduces the thing itself
    ("searching for hair oil")."""
    return i > 0 and tokens[i - 1][0] in knowledge.prepositions and not _sought(tokens, i, knowledge)


PAIRING_GLUE = ("", "in", "of")  # "<category> in <value>", "<value> <category>" (nothing between: that order only)
# "<category>. It has to be <value>", "<category> and they must be in <value>": the value the thing just named must have
MUST_BE_GLUE = re.compile(r"^(?:,?\s*please)?[.,;:!?]?\s*(?:(?:and|but|so)\s+)?(?:it|they)\s+"
                          r"(?:(?:has|have|needs?)\s+to|must|should)\s+be(?:\s+(?:in|made\s+of|made\s+from))?$")
# "<category>, <value> please", "<category> for the office? <value> or <value>.": values in a fragment of their own
# after the thing (what ends with a comma or a stop between them)
LOOSE_GLUE = re.compile(r"[,;:.!?]$")
FRAGMENT_END = re.compile(r"[,;:.!?]")


def _pairings(low: str, mentions: list[Mention], knowledge: Knowledge,
              owned: frozenset[int] = frozenset()) -> list[dict]:
    """A category and an attribute value said as one thing ("a coat in linen", "a linen coat", "a dress watch.
    It has to be titanium", "a diving watch, titanium please"): the request asks for that combination, so a
    catalogue with no such item cannot answer it (checked in `backend.live`). A category at a character offset
    of `owned` is a thing the client has ("my coral card holder is falling apart"): mentioned, not asked for in
    that value. Values in a fragment of their own after the thing (`_lone_values`) are its values too, those joined
    by "or" as alternatives."""
    terms = [m for m in mentions if m.kind == "term"]
    out = []
    for k, (a, b) in enumerate(zip(terms, terms[1:])):
        glue = low[a.end:b.start].strip()
        if LOOSE_GLUE.search(glue) and a.start not in owned and not negated(low, a.start):
            cats = [n for n in a.target if n.startswith("category")]
            for group in _lone_values(low, terms, k + 1, knowledge) if cats else []:
                out.append({"words": f"{a.words} in {' or '.join(t.words for t in group)}", "categories": cats,
                            "values": [n for t in group for n in t.target if not n.startswith(("category", "brand"))]})
            continue
        must = bool(MUST_BE_GLUE.match(glue))
        if glue not in PAIRING_GLUE and not must or negated(low, a.start):
            continue
        # side by side, the value comes first ("a linen coat"); "port after dinner" is no port made for dinner
        for first, second in ((a, b),) if must else ((a, b), (b, a)) if glue else ((b, a),):
            cats = [n for n in first.target if n.startswith("category")] if first.start not in owned else []
            values = [n for n in second.target if not n.startswith(("category", "brand"))]
            if cats and values and not any(n.startswith("category") for n in second.target):
                if first is a:  # "a scarf or a stole in silk twill": either category in silk twill will do
                    cats += _alternatives(low, terms[:k + 1])
                out.append({"words": f"{a.words} {'in' if must else glue} {b.words}".replace("  ", " "),
                            "categories": cats, "values": values})
    return out


def _lone_values(low: str, terms: list[Mention], k: int, knowledge: Knowledge) -> list[list[Mention]]:
    """The value terms from `terms[k]` on that make a fragment of their own — up to the next comma or stop, no
    other words than stopwords ("titanium please", "camel or navy", "black leather") — in groups: those joined
    by "or" are one group (either will do), the others one each. None when the fragment holds another word, a
    category, a ruling-out ("no leather", "platinum is out": read as such elsewhere) or a hedge (`hedge_words`:
    "suede, ideally" is a wish, which orders, not a condition)."""
    groups, j = [[terms[k]]], k
    while j + 1 < len(terms) and low[terms[j].end:terms[j + 1].start].strip() in ("", "or", "and", "&"):
        glue = low[terms[j].end:terms[j + 1].start].strip()
        if glue == "or":
            groups[-1].append(terms[j + 1])
        else:
            groups.append([terms[j + 1]])
        j += 1
    rest = FRAGMENT_END.split(low[terms[j].end:], maxsplit=1)[0]
    sentence = re.split(r"[.;!?]", low[terms[j].end:], maxsplit=1)[0]  # "Leather or canvas, doesn't matter."
    worded = f" {' '.join(WORD.findall(low[terms[k].start:terms[j].end] + ' ' + sentence))} "
    if any(f" {hedge} " in worded for hedge in knowledge.hedge_words):
        return []
    said = [t for group in groups for t in group]
    if any(n.startswith("category") for t in said for n in t.target) or negated(low, terms[k].start) \
            or any(_ruled_out_after(low, t.end, knowledge) for t in said) \
            or any(w not in knowledge.stopwords for w in WORD.findall(rest)):
        return []
    return groups


ALTERNATIVE_GLUE = re.compile(r"^(?:,|or)?\s*(?:or\s+)?(?:an?|the|some)?$")  # ", ", " or a ", " or "


def _alternatives(low: str, terms: list[Mention]) -> list[str]:
    """The categories named just before the last of `terms` as its alternatives ("a scarf or a stole")."""
    found = []
    for earlier, later in zip(reversed(terms[:-1]), reversed(terms[1:])):
        cats = [n for n in earlier.target if n.startswith("category")]
        glue = low[earlier.end:later.start].strip()
        if not cats or "or" not in glue.split() and glue != "," or not ALTERNATIVE_GLUE.match(glue):
            break
        found += [n for n in cats if n not in found]
    return found


def _capitalised(text: str, words: str) -> bool:
    return bool(re.search(rf"(?<![\w.!?]\s)(?<!^)\b{re.escape(words)}\b", text, flags=re.IGNORECASE) and
                re.search(r"\b" + r"\s+".join(w[:1].upper() + re.escape(w[1:]) for w in words.split()) + r"\b", text))


def _add(target: list, value) -> None:
    if value not in target:
        target.append(value)


# ----------------------------------------------------------------------------------------------
# Contexts: an occasion at a place in a season, and what it implies


def _loose_season(text: str, low: str, m: "Mention", knowledge: Knowledge) -> bool:
    """A season word that is also an everyday word ("may", "fall": "won't fall apart") and is said as one:
    neither capitalised ("in May", "Fall") nor after a word that introduces a time ("this fall")."""
    if m.words not in knowledge.ambiguous_season_words or text[m.start:m.start + 1].isupper():
        return False
    before = low[:m.start].split()
    return not (before and before[-1] in knowledge.season_cues)


def sentence_ends(low: str, knowledge: Knowledge) -> list[int]:
    """Where each sentence of the text ends but the last: after a run of full stops, question or exclamation
    marks followed by a space, except a full stop after an abbreviation ("St. Moritz", "Mr. Hale")."""
    return [m.end() for m in re.finditer(r"([\w.']*)([.!?]+)(?=\s)", low)
            if m.group(2) != "." or m.group(1) not in knowledge.abbreviations]


def _read_contexts(low: str, mentions: list[Mention], knowledge: Knowledge, q: QueryGraph) -> None:
    """Occasions, places and seasons in reading order, grouped into contexts; each context's implied
    facts become soft wishes (the item seasons its climate asks for, its formality, its time of day).
    A context is marked `with_thing` when said in a sentence that names a thing (or when no sentence
    does: "a ball gown for a beach wedding"): "sandals for January in St. Moritz" sets the sandals' season,
    "Alpenfeld sunglasses? Heading to Zermatt in February" only tells where the client goes."""
    ends = sentence_ends(low, knowledge)
    found = sorted((m.start, m.kind, m.target) for m in mentions if m.kind in ("occasion", "place", "season")
                   and not (m.kind == "occasion" and negated(low, m.start, knowledge.negations))
                   and not (m.kind == "season" and _loose_season(q.text, low, m, knowledge)))
    groups: list[tuple[dict, set[int]]] = []  # a context's words, and the sentences they are in
    for start, kind, value in found:
        if not groups or kind in groups[-1][0]:
            groups.append(({}, set()))
        groups[-1][0][kind] = value
        groups[-1][1].add(bisect_right(ends, start))
    things = {bisect_right(ends, m.start) for m in mentions if m.names_a_thing() and not m.modifier
              and not negated(low, m.start, knowledge.negations)}
    lone = [(g["season"], said) for g, said in groups if set(g) == {"season"}]
    framed = [(g, said) for g, said in groups if set(g) != {"season"}]
    for g, said in framed:
        season, also = lone[0] if len(lone) == 1 and len(framed) == 1 and "season" not in g else (None, set())
        q.contexts.append(knowledge.implied_context(g.get("occasion"), g.get("place"), g.get("season") or season))
        q.contexts[-1]["with_thing"] = not things or bool((said | also) & things)
    if not framed:
        for season, said in lone:
            q.contexts.append(knowledge.implied_context(None, None, season))
            q.contexts[-1]["with_thing"] = not things or bool(said & things)
    for ctx in q.contexts:
        q.wet = q.wet or ctx["wet"]
        phrases = list(ctx["item_seasons"]) + list(ctx["formality"] or [])[:2] + ctx["describe"]
        phrases += [ctx["time"]] if ctx["time"] == "evening" else []
        for phrase in dict.fromkeys(phrases):
            q.wishes.append(Wish(phrase, CONTEXT_WEIGHT, "context"))
        q.notes.append("context: " + ", ".join(f"{k}={v}" for k, v in ctx.items()
                                               if v not in (None, [], False) and k not in ("describe", "with_thing")))


# ----------------------------------------------------------------------------------------------
# Things the catalogue does not carry


def _read_impossible(low: str, tokens: list[tuple[str, int, int]], mentions: list[Mention], determined: list[str],
                     vocab: CatalogueVocabulary, knowledge: Knowledge, q: QueryGraph,
                     had: frozenset[int] = frozenset()) -> None:
    """Refuse a request that asks only for kinds of things this catalogue does not carry.

    A kind counts as asked for when it is the object of the request: not negated, not a modifier
    ("jet black", "boat shoes": the next word is a catalogue word), not the setting ("for the plane").
    A request that also asks for a thing its titles name (another noun phrase a determiner introduces,
    `determined`, ends in a title word: "he drinks single malt - a pair of crystal tumblers?") asks for
    something here."""
    if _names_a_category(low, tokens, [m for m in mentions if not m.modifier], knowledge, had):
        return
    starts = [s for _, s, _ in tokens]
    asked, carried = [], False
    for m in mentions:
        if m.kind != "product" or negated(low, m.start, knowledge.negations):
            continue
        i = starts.index(m.start) if m.start in starts else -1
        before = [t for t, _, _ in tokens[max(0, i - 2):i]] if i >= 0 else []
        if i >= 0 and _in_passing(low, tokens, i, knowledge, had):
            continue  # "to carry my laptop", "a friend who just bought a boat": mentioned, not asked for
        if _sought(tokens, i, knowledge):
            before = []  # "looking for a sofa": the object, whatever the preposition
        if low[m.end:m.end + 1] == "-" or _modifies(low, m.end, vocab, knowledge):
            continue
        if before and (before[-1] in knowledge.kind_verb_cues or (before[-1] in knowledge.prepositions) or
                       (len(before) == 2 and before[0] in knowledge.prepositions and before[1] in
                        ("the", "a", "an", "my", "our", "his", "her", "their"))):
            continue
        carries = _carried(m.words, m.target, vocab, knowledge)
        if carries or is_distinct_sort(m.words, knowledge):
            # a distinct sort not carried ("vodka" at a shop of gin) still orders by its kind, and is held to the
            # kind under a house or budget, should the request also ask for something here
            names = (m.words,) + knowledge.other_names(m.words, phrase_key)
            nodes = named_categories(m.words, vocab, knowledge) or sorted(  # "trainers": the sneakers, not every shoe
                {n for other in names[1:] for n in named_categories(other, vocab, knowledge)}) \
                or _head_categories(m.words, vocab, knowledge) or kind_or_titled(names, m.target, vocab, knowledge)
            q.kinds += [n for n in nodes if n not in q.kinds]
            if nodes:
                q.wishes.append(Wish(m.words, NAMED_WEIGHT, "named", {n: 0.9 for n in nodes}))
        carried = carried or carries
        if not carries:
            asked.append(m.words)
    heads = {p: p.split()[-1] for p in determined}
    titled = [p for p, head in heads.items() if stem(head) in vocab.kind_words and head not in knowledge.stopwords
              and stem(head) not in knowledge.vague_objects and not any(f" {a} " in f" {p} " for a in asked)]
    if asked and not carried and not titled:
        q.impossible = f"this catalogue has no {asked[0]}"
        q.notes.append(f"not in this catalogue: {', '.join(dict.fromkeys(asked))}")


def _modifies(low: str, end: int, vocab: CatalogueVocabulary, knowledge: Knowledge, named: tuple = ()) -> bool:
    """Whether the words ending at character `end` modify the word after them instead of naming what is asked
    for: that word is a modifier of the knowledge file ("chocolate brown", "jet black") or one the catalogue's
    titles or categories use ("boat shoes") — for words that name categories (`named`), a word used by none
    of those categories' items ("a silver teapot": the teapot is tableware; "a crossbody bag" stays a
    crossbody), or a name of a kind of thing (`product_kinds`) that the catalogue does not use ("silver
    cutlery")."""
    after = low[end:end + 30].split()
    following = after[0].strip(".,;!?") if after else ""
    if not following or following in knowledge.kind_modifiers:
        return bool(following)
    if stem(following) not in vocab.kind_words or following in knowledge.stopwords:
        # a kind of thing the catalogue has no word for ("silver cutlery" at a shop whose Silver holds none)
        return bool(named) and phrase_key(following) in _kind_keys(knowledge)
    return not named or not set(named) & vocab.word_categories.get(stem(following), set())


def _category_modifies(low: str, m: Mention, vocab: CatalogueVocabulary, knowledge: Knowledge) -> bool:
    """`_modifies` for a mention that names categories ("silver" in "a silver teapot"); False for others."""
    named = tuple(n for n in m.target if n.startswith("category")) if m.kind in ("term", "category_head") else ()
    return bool(named) and _modifies(low, m.end, vocab, knowledge, named)


def _names_a_category(low: str, tokens: list[tuple[str, int, int]], mentions: list[Mention],
                      knowledge: Knowledge, had: frozenset[int] = frozenset()) -> bool:
    """Whether the request names one of this catalogue's categories as what it asks for, not only as whom or
    what it is for ("running shoes for men": Men is a category of a beauty catalogue, shoes are asked for)
    or as a thing owned ("a billfold to go with his watch")."""
    index = {start: i for i, (_, start, _) in enumerate(tokens)}
    return any(m.kind in ("term", "category_head") and any(n.startswith("category") for n in m.target)
               and not _said_as_purpose(tokens, index.get(m.start, 0), knowledge)
               and not _owned(low, m.start, knowledge, had) for m in mentions)


def _read_objects(asked: list[str], opening: list[str], vocab: CatalogueVocabulary, knowledge: Knowledge,
                  q: QueryGraph, embed_fn) -> None:
    """What the request asks for, in its own words, when it names none of this catalogue's categories: the
    noun phrases a determiner introduces ("a piano", "some garden furniture"). They are kept (and embedded)
    for `backend.live` to judge by meaning against the items that meet the hard constraints — unless one of
    them, or a phrase that opens a sentence, is vague ("a gift") or is named by this catalogue's categories
    or titles (its last word is a word they use): then the request clearly asks for something here."""
    if q.impossible or q.kinds or q.names_category():
        return
    for phrase in asked + opening:
        head = stem(phrase.split()[-1])
        if head in vocab.kind_words or head in knowledge.stopwords or head in knowledge.vague_objects:
            return
    if asked:
        q.objects = asked
        q.object_vectors = _phrase_vectors(asked, vocab, embed_fn)
        q.notes.append("asked for: " + ", ".join(asked))


def object_phrases(low: str, tokens: list[tuple[str, int, int]], mentions: list[Mention],
                   knowledge: Knowledge, had: frozenset[int] = frozenset()) -> tuple[list[str], list[str]]:
    """Noun phrases that may name what a request asks for.

    Returns:
        `tuple[list[str], list[str]]`: phrases a determiner introduces, except in a setting ("for a
        wedding", "as a gift"; but "looking for a sofa" asks for it), and phrases that open a sentence
        ("Dog food for my puppy."), which can only speak for the request (the opening word may be a verb;
        a phrase after "to" is one: "I'd like to watch a film"; after "we", "I" it is no thing: "We host Sunday
        lunch."). Things mentioned in passing are neither
        (`_in_passing`: "my laptop", "a friend who just bought a boat").
    """
    taken = {c for m in mentions if m.kind in ("place", "occasion", "season", "country", "brand")
             and not _demonym(m) for c in range(m.start, m.end)}
    asked, opening = [], []
    for i, (word, start, _) in enumerate(tokens):
        if word in knowledge.object_determiners:
            before = tokens[i - 1][0] if i else ""
            if (before in knowledge.prepositions or before in ("as", "of")) and not _sought(tokens, i, knowledge) \
                    or _in_passing(low, tokens, i, knowledge, had) or negated(low, start, knowledge.negations):
                continue  # "he refuses to take a suitcase": ruled out, not asked for
            phrase = _noun_phrase(low, tokens, i + 1, taken, knowledge)
            asked += [phrase] if phrase else []
        elif i == 0 or re.search(r"[.:;!?]", low[tokens[i - 1][2]:start]):
            phrase = _noun_phrase(low, tokens, i, taken, knowledge)
            first = next((j for j in range(i, len(tokens)) if phrase and tokens[j][0] == phrase.split()[0]), i)
            skipped = {t for t, _, _ in tokens[i:first]}  # after "we", "I": a verb ("We host Sunday lunch."); after
            opening += [phrase] if phrase and not skipped & (  # "as", "when": what it is about ("the evenings")
                knowledge.prepositions | knowledge.possessors | knowledge.clause_openers) \
                and phrase not in knowledge.bare_object_verbs \
                and not _in_passing(low, tokens, first, knowledge, had) else []  # "Do they make ...?": no "make"
        if word in knowledge.bare_object_verbs and _bare_object(low, tokens, i + 1, knowledge, had):
            phrase = _noun_phrase(low, tokens, i + 1, taken, knowledge)  # "do they make champagne flutes?"
            asked += [phrase] if phrase and phrase not in asked else []
    verbs = knowledge.bare_object_verbs | knowledge.seeking_words | knowledge.kind_verb_cues
    for m in mentions:  # "Thé d'Orsay wine glasses": the house's name says whose, the words after it what
        after = next((j for j in range(len(tokens)) if tokens[j][1] >= m.end), None) if m.kind == "brand" else None
        if after is not None and _bare_object(low, tokens, after, knowledge, had) and tokens[after][0] not in verbs:
            phrase = _noun_phrase(low, tokens, after, taken, knowledge)
            asked += [phrase] if phrase and phrase not in asked else []
    return list(dict.fromkeys(asked)), list(dict.fromkeys(opening))


DEMONYM_ENDINGS = ("ese", "ish", "ian", "an", "ch", "ss")  # Japanese, Irish, Italian, Mexican, French, Swiss


def _demonym(m: Mention) -> bool:
    """Whether a country mention is the adjective of a country ("Japanese kitchen knives"), which says what a
    thing is like, not where the request is set ("a Japan trip"); "Japan" itself ends like one."""
    return m.kind == "country" and m.words.endswith(DEMONYM_ENDINGS) and m.words != str(m.target).lower()


def _for_an_animal(low: str, knowledge: Knowledge) -> str | None:
    """The animal a request's thing is for ("shampoo for my golden retriever", "dry food for our dog"), or
    None; "a gift for a dog lover" is for a person, "a dog-print scarf for my aunt" for the aunt, and
    "nothing for the dog itself" is not for it."""
    if not knowledge.animal_words:
        return None
    animals = "|".join(re.escape(a) for a in sorted(knowledge.animal_words, key=len, reverse=True))
    determiners = "|".join(sorted(knowledge.owner_words | {"the", "a", "an"}))
    for m in re.finditer(rf"\bfor (?:{determiners}) (?:[\w']+ ){{0,2}}?({animals})\b(?!-)(?:\s+(\w+))?", low):
        if m.group(2) not in knowledge.animal_person_words and not negated(low, m.start(1), knowledge.negations):
            return m.group(1)  # "nothing for the dog itself": not for it
    return None


def _bare_object(low: str, tokens: list[tuple[str, int, int]], i: int, knowledge: Knowledge,
                 had: frozenset[int] = frozenset()) -> bool:
    """Whether the word at `i`, right after a verb of `bare_object_verbs`, opens a thing asked for without a
    determiner ("sell umbrellas", "need champagne flutes"; not "need to", "want the", "find it")."""
    if i >= len(tokens) or re.search(r"[,.;:!?()]", low[tokens[i - 1][2]:tokens[i][1]]):
        return False
    word = tokens[i][0]
    return not (word.isdigit() or word in knowledge.stopwords or word in knowledge.prepositions
                or word in knowledge.object_determiners or word in knowledge.vague_objects
                or word in knowledge.owner_words or _in_passing(low, tokens, i, knowledge, had))


def _in_passing(low: str, tokens: list[tuple[str, int, int]], i: int, knowledge: Knowledge,
                had: frozenset[int] = frozenset()) -> bool:
    """Whether the word at `i` (or the determiner there) mentions something rather than asks for it: a thing
    owned ("my laptop"), the thing a purpose acts on ("to decant the claret", "to carry two pens"), or a thing
    inside a relative clause ("a friend who just bought a boat", "a scarf that goes with my coat"; "that bag"
    is a determiner, not a clause)."""
    if _owned(low, tokens[i][1], knowledge, had):
        return True
    if i >= 3 and tokens[i - 3][0] == "to" and (tokens[i - 1][0] in knowledge.object_determiners
                                                or tokens[i - 1][0] == "the") \
            and tokens[i - 2][0] not in knowledge.seeking_words:
        return True  # "something to decant the claret into": the thing a purpose acts on (but "to buy a sofa")
    if i >= 2 and tokens[i - 2][0] == "to" and tokens[i - 1][0] not in knowledge.seeking_words \
            and tokens[i][0] in knowledge.count_words:
        return True  # "a sleeve to carry two fountain pens"
    for j in range(i - 1, 0, -1):
        if re.search(r"[,.;:!?]", low[tokens[j][2]:tokens[j + 1][1]]):
            return False
        if tokens[j][0] in knowledge.relative_words and (j < i - 1 or tokens[j][0] not in ("that", "which")):
            return True
    return False


# a comparison said after the thing ("a whitening kit cheaper than $15"), not before it ("a bigger bag than")
COMPARATIVES = frozenset("cheaper pricier dearer less more lower higher bigger smaller larger longer shorter lighter "
                         "heavier better warmer cooler softer older newer".split())
PROP_WORDS = ("one", "ones")  # "a sonic one", "cheaper ones": stand in for a noun said elsewhere


def _noun_phrase(low: str, tokens: list[tuple[str, int, int]], i: int, taken: set[int], knowledge: Knowledge) -> str:
    """The words from `i` up to a stop word, a preposition other than "of", a price verb, a negation, a number or
    punctuation; leading stop words ("a new phone") and a dangling "of" are dropped. Nothing when the words run
    into a place, occasion, season or house (they describe a setting) or into a verb (the phrase is a subject),
    or end in a unit of time ("ten days").
    A vague noun stays in ("a little treat"), so that the phrase is seen to name no kind of thing."""
    words: list[str] = []
    last = i  # the token of the last word kept
    for j in range(i, min(len(tokens), i + MAX_OBJECT_WORDS + 2)):
        word, start, _ = tokens[j]
        if start in taken:
            return ""  # "a long trip", "a summer wedding": the words describe a setting
        if word.isdigit() or (j > i and re.search(r"[,.;:!?()]", low[tokens[j - 1][2]:start])):
            break
        if words and word in SUBJECT_VERBS:
            return ""  # "a statement logo is welcome": what the request says of a thing, not what it asks for
        if words and (word in PRICE_VERBS or word in knowledge.negations):
            break  # "a linen tablecloth costing no more than £100", "a bag no bigger than a phone"
        if word in ("and", "or"):
            nxt = tokens[j + 1][0] if j + 1 < len(tokens) else ""
            if not words or not nxt or nxt in knowledge.object_determiners or nxt in knowledge.stopwords:
                break
        elif word in knowledge.stopwords and word not in knowledge.vague_objects and word != "of" \
                or word in knowledge.prepositions:
            if words and word in PROP_WORDS:
                return ""  # "a sonic one": the words describe a thing the request names elsewhere
            if words:
                break
            continue
        if words or word not in ("of", "and", "or"):
            words.append(word)
            last = j
        if len(words) >= MAX_OBJECT_WORDS:
            break
    while words and words[-1] in ("of", "and", "or"):
        words.pop()
    if words and words[-1] in knowledge.unit_names("time"):
        return ""  # "ten days in Capri", "a week away": a length of time, no thing
    if words and tokens[last + 1:last + 2] and tokens[last + 1][0] in PROP_WORDS:
        return ""  # cut at its longest: "a set of big fluffy white ones" describes a thing named elsewhere too
    if len(words) > 1 and words[-1] in COMPARATIVES and tokens[last + 1:last + 2] and tokens[last + 1][0] == "than":
        words.pop()  # "a whitening kit cheaper than $15": the comparison is no part of the thing
    return " ".join(words)


def _sought(tokens: list[tuple[str, int, int]], i: int, knowledge: Knowledge) -> bool:
    """Whether the word at `i` is what a seeking verb asks for: "looking for a X", "need some X"."""
    between = {"for", "at", "a", "an", "some", "the", "new", "me", "us", "him", "her", "them", "one"}
    for j in range(i - 1, max(-1, i - 5), -1):
        word = tokens[j][0]
        if word in knowledge.seeking_words:
            return True
        if word not in between:
            return False
    return False


def kind_categories(kind: str, vocab: CatalogueVocabulary, knowledge: Knowledge) -> list[str]:
    """The catalogue's category nodes whose name holds a name of this kind ("watch" -> "dress watch")."""
    return sorted({n for name in knowledge.product_kinds[kind] if phrase_key(name)
                   for n in named_categories(name, vocab, knowledge)})


def kind_or_titled(names: Sequence[str], kind: str, vocab: CatalogueVocabulary, knowledge: Knowledge) -> list[str]:
    """The categories of a kind (`kind_categories`) — or, where the catalogue has such categories but files
    the things these one-word names name under another one, the categories of the items titled so: at a
    shop of coats and dresses, the "Sweater"s are knitwear. A title word that some of the kind's categories
    also use keeps the kind's ("lipstick": Makeup, not the fragrance set with a lipstick in it)."""
    of_kind = kind_categories(kind, vocab, knowledge)
    titled = {n for name in names if len(phrase_key(name).split()) == 1
              for n in vocab.word_categories.get(phrase_key(name), ()) if n.startswith("category=")}
    return sorted(titled) if of_kind and titled and not titled & set(of_kind) else of_kind


def _head_categories(words: str, vocab: CatalogueVocabulary, knowledge: Knowledge) -> list[str]:
    """The categories named by the last word of a longer name ("scented candle": the candles), if it is one."""
    return named_categories(words.split()[-1], vocab, knowledge) if len(words.split()) > 1 else []


def named_categories(words: str, vocab: CatalogueVocabulary, knowledge: Knowledge) -> list[str]:
    """The catalogue's category nodes whose name holds these very words ("gown" -> "evening gown"), unless
    the name goes on with a name of a kind of thing (`product_kinds`): there the words only say which sort
    ("dress watch" is a watch, not a dress; "tea towels" are no tea), or the whole name is another name of a
    thing whose own name lacks these words (`kind_synonyms`: a "dinner jacket" is a tuxedo, not what a bare
    "jacket" asks for). A kind named by one of its names means the categories of that name before the kind's
    other names."""
    key, kinds, out = f" {phrase_key(words)} ", _kind_keys(knowledge), []
    for node in vocab.categories:
        name = f" {phrase_key(node.split('=', 1)[1])} "
        at = name.find(key)
        rest = name[at + len(key):].split() if at >= 0 else []
        if at >= 0 and not any(" ".join(rest[:n]) in kinds for n in range(1, min(3, len(rest)) + 1)) \
                and not _named_otherwise(name.strip(), key.strip(), knowledge):
            out.append(node)
    return sorted(out)


def _named_otherwise(name: str, words: str, knowledge: Knowledge) -> bool:
    """Whether a category's name (a phrase key) is another name of a thing (`kind_synonyms`) whose names do
    not include these words and whose own name does not hold them ("dinner jacket" -> tuxedo for "jacket";
    "champagne flutes" are still flutes)."""
    group = _synonym_groups(knowledge).get(name)
    return group is not None and words != name and words not in group[1] and f" {words} " not in f" {group[0]} "


def other_things_names(words: str, knowledge: Knowledge) -> tuple[str, ...]:
    """The phrase keys of `kind_synonyms` names that hold these words but name another thing (`_named_otherwise`:
    "dinner jacket" for "jacket"): a title that says them does not name what these words name."""
    key = phrase_key(words)
    return tuple(n for n in _synonym_groups(knowledge)
                 if f" {key} " in f" {n} " and _named_otherwise(n, key, knowledge))


@lru_cache(maxsize=4)
def _synonym_groups(knowledge: Knowledge) -> dict[str, tuple[str, frozenset[str]]]:
    """Each `kind_synonyms` name's phrase key -> (the thing's own name, every name of it), as phrase keys."""
    out = {}
    for own, names in knowledge.kind_synonyms.items():
        keys = frozenset(phrase_key(n) for n in (own, *names))
        out.update({k: (phrase_key(own), keys) for k in keys})
    return out


@lru_cache(maxsize=4)
def _kind_keys(knowledge: Knowledge) -> frozenset[str]:
    """The phrase keys of every name of `product_kinds`."""
    return frozenset(phrase_key(n) for names in knowledge.product_kinds.values() for n in names)


def _carried(words: str, kind: str, vocab: CatalogueVocabulary, knowledge: Knowledge) -> bool:
    """Whether the catalogue carries what these words name: the words themselves (or another name of the
    very same thing, `kind_synonyms`) appear among its categories or item titles, or another name of the
    same kind is one of its categories — unless the words name a distinct sort of the kind (`distinct_sorts`:
    a shop of gin and rum carries no vodka)."""
    for key in [phrase_key(words)] + [phrase_key(o) for o in knowledge.other_names(words, phrase_key)]:
        if key in vocab.terms or all(w in vocab.kind_words for w in key.split()):
            return True  # "straightener": the titles say "flat iron"
    return kind_stands_in(words, kind, vocab, knowledge)


def kind_stands_in(words: str, kind: str, vocab: CatalogueVocabulary, knowledge: Knowledge) -> bool:
    """Whether a name of this kind among the catalogue's categories stands in for what these words name: yes,
    unless they name a distinct sort (`distinct_sorts`: a shop of gin and rum carries no vodka). The one test
    of this shared by the request reader (`_carried`) and the shop's kinds (`backend.objects.shop_kinds`)."""
    return not is_distinct_sort(words, knowledge) and bool(kind_categories(kind, vocab, knowledge))


def is_distinct_sort(words: str, knowledge: Knowledge) -> bool:
    """Whether these words name a sort no other sort of its kind stands in for (`distinct_sorts`: "vodka")."""
    return phrase_key(words) in _sort_keys(knowledge.distinct_sorts)


@lru_cache(maxsize=4)
def _sort_keys(names: frozenset[str]) -> frozenset[str]:
    return frozenset(phrase_key(n) for n in names)


# ----------------------------------------------------------------------------------------------
# Wrong facts


def _read_wrong_facts(low: str, mentions: list[Mention], vocab: CatalogueVocabulary, knowledge: Knowledge,
                      q: QueryGraph) -> None:
    """A wrong claim about a house's origin or a material's nature ("suede is waterproof"): recorded, so
    the answer can correct it kindly; the rest of the request is read as usual."""
    for m in mentions:
        if m.kind != "brand":
            continue
        house = m.target.split("=", 1)[1]
        actual = vocab.house_country.get(house)
        near = low[max(0, m.start - 60):m.end + 60]
        for other in mentions:
            if other.kind == "country" and abs(other.start - m.start) <= 60 and actual and \
                    fold(other.target) != fold(knowledge.country_words.get(fold(actual).lower(), actual)) \
                    and not re.search(r"\bmade in\b|\bproduced in\b", near):  # "Scottish": Scotland is in the UK
                q.wrong_fact = {"kind": "origin", "subject": house, "claimed": other.target, "actual": actual}
    claim = re.compile(r"\s+(?:is|are)\s+((?:(?!\b(?:so|and|then|but)\b)[^.;,?!])+)")
    for m in mentions:
        if m.kind != "material":
            continue
        found = claim.match(low, m.end)
        if not found:
            continue
        claimed, facts = found.group(1).strip(), knowledge.materials[m.target]
        seasons = knowledge.material_seasons(m.target)
        wet = r"waterproof|rain|water-resistant|downpour|shower|storm|wet"
        if (re.search(wet, claimed) and not facts.get("rain", True)) \
                or (re.search(r"summer|heat|hot|breathable", claimed) and "summer" not in seasons) \
                or (re.search(r"snow|winter|warm enough|cold", claimed) and "winter" not in seasons):
            q.wrong_fact = {"kind": "material", "subject": m.target, "claimed": claimed,
                            "actual": f"{m.target} is not {claimed}"}
    if q.wrong_fact:
        q.notes.append(f"wrong fact: {wrong_fact_sentence(q.wrong_fact)}")


def wrong_fact_sentence(fact: dict) -> str:
    """A wrong fact as one plain sentence for the client."""
    if fact["kind"] == "origin":
        return f"{fact['subject'].title()} makes its pieces in {fact['actual']}, not in {fact['claimed']}"
    return f"{fact['subject']} is not {fact['claimed']}"


# ----------------------------------------------------------------------------------------------
# Meaning


def _content_phrases(tokens: list[tuple[str, int, int]], consumed: set[int], knowledge: Knowledge) -> list[str]:
    """Words and word pairs of the request that no catalogue term matched, stop words left out."""
    content = [(t, s) for t, s, _ in tokens if s not in consumed and t not in knowledge.stopwords
               and not t.isdigit() and len(t) > 2]
    phrases = [t for t, _ in content]
    phrases += [f"{a} {b}" for (a, sa), (b, sb) in zip(content, content[1:]) if sb - sa <= len(a) + 2]
    return list(dict.fromkeys(phrases))[:MAX_MEANING_PHRASES]


def _read_meaning(text: str, tokens, consumed: set[int], vocab: CatalogueVocabulary, knowledge: Knowledge,
                  q: QueryGraph, embed_fn, also: Sequence[str] = ()) -> None:
    """Embed the request and its unmatched phrases once; match them (and the context wishes) to the
    catalogue's terms by cosine similarity. `also`: phrases the later stages embed (the things asked for),
    embedded in the same call (on a CPU each call streams the model's weights once: ~13 ms here)."""
    phrases = _content_phrases(tokens, consumed, knowledge)
    context = [w for w in q.wishes if w.source == "context"]
    q.vector = embed_fn([text])[0]
    if not len(vocab.nodes):
        return
    wanted = phrases + [w.phrase for w in context]
    vectors = _phrase_vectors(wanted + list(also), vocab, embed_fn)[:len(wanted)]
    if not len(vocab.nodes):
        return
    sims = vectors @ vocab.vectors.T  # (phrases + context wishes, nodes)
    for row, phrase in enumerate(phrases):
        matches = _best(sims[row], vocab.nodes)
        if matches:
            excluded = negated(fold(text), fold(text).find(phrase.split()[0]), knowledge.negations)
            if excluded:
                continue  # an exclusion must be named word for word to be a hard constraint
            q.wishes.append(Wish(phrase, MEANING_WEIGHT, "meaning", matches))
    for row, wish in enumerate(context, start=len(phrases)):
        wish.matches = {n: v for n, v in _best(sims[row], vocab.nodes).items() if not n.startswith("category")}
    q.wishes = [w for w in q.wishes if w.matches]


PHRASE_CACHE_SIZE = 50_000


def _phrase_vectors(phrases: list[str], vocab: CatalogueVocabulary, embed_fn) -> np.ndarray:
    """Embeddings of short request phrases, cached on the catalogue's vocabulary: the same words recur
    across requests, and embedding them apart from the whole request keeps the padding short."""
    cache = vocab.phrase_vectors
    new = [p for p in dict.fromkeys(phrases) if p not in cache]
    if new:
        if len(cache) + len(new) > PHRASE_CACHE_SIZE:
            cache.clear()
        cache.update(zip(new, embed_fn(new)))
    if not phrases:
        return np.zeros((0, vocab.vectors.shape[1]), dtype=np.float32)
    return np.stack([cache[p] for p in phrases])


def _best(sims: np.ndarray, nodes: list[str]) -> dict[str, float]:
    top = np.argsort(-sims)[:MEANING_MATCHES]
    return {nodes[i]: round(float(sims[i]), 3) for i in top if sims[i] >= SEMANTIC_THRESHOLD}
