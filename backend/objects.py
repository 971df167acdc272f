"""What a request asks for, judged by meaning against the catalogue: "a piano" of a fashion house.

Two rules. `sold_elsewhere` (on by default) compares the noun phrases a request asks for with the kinds of
things people shop for anywhere (`product_kinds` of the knowledge file, a broad list) and with this catalogue:
"a mountain bike" is, by meaning, a bicycle; no category, title or item here is one; so the catalogue has none.
`unlike_objects` (off by default) uses an absolute floor instead, and no list at all.

Request understanding (`backend/understand.py`) keeps the noun phrases a request asks for when it names none
of the catalogue's categories (`QueryGraph.objects`, embedded with the catalogue's model). Here each is compared
with the items that meet the request's hard constraints — their embedded documents and their categories — and
the request is refused when none comes close: the catalogue (or the named house, or the budget) has nothing of
that kind. No word list decides it; the catalogue's own items do.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from backend.measures import kind_items_of, unmet_number
from backend.knowledge import negated
from backend.understand import kind_stands_in, other_things_names
from backend.verify import hard_violations
from backend.vocabulary import node_phrase, phrase_key, stem, words
from catalog.derive import fold

# Cosine (all-MiniLM-L6-v2) below which an object is like nothing the catalogue has. Chosen on the demo's
# train/val requests and hand-written probes for three catalogues (fashion, beauty, home): every answerable
# object seen scored >= 0.48 ("a pair of kicks"), about 85% of the impossible ones < 0.45.
OBJECT_FLOOR = 0.45
# Under a house, budget or exclusion, fewer items remain and every similarity drops: the request is refused there
# only when the object is like something of the whole catalogue by this much more than anything allowed ("a small
# leather piece" of a watchmaker, while the catalogue's card holders score 0.79), else only by the floor itself.
CONSTRAINED_MARGIN = 0.15


def unlike_objects(query, catalogue) -> str | None:
    """Why nothing here is what the request asks for, or None when something may be.

    Args:
        query (`QueryGraph`): the request read, with `objects` and `object_vectors` (shape (objects, d)).
        catalogue (`LiveCatalogue`): item documents' vectors (`graphs.vectors`, shape (items, d)), items and
            their nodes, and the vocabulary's category vectors.

    Returns:
        `str | None`: the reason, naming the object and the hard constraints ("nothing here by vell is like
        a sofa"); None when an object comes within `OBJECT_FLOOR` of an item or its category (of an allowed
        one, or of any by less than `CONSTRAINED_MARGIN` more), or when the hard constraints alone leave
        nothing (that refusal names the closest pieces instead). The serving path asks only when
        `settings.refuse_by_object` is on.
    """
    graphs = catalogue.graphs
    if not query.objects or query.object_vectors is None or graphs.vectors is None or not len(graphs.vectors):
        return None
    best = _best_similarity(query.object_vectors, list(range(len(graphs.ids))), catalogue)
    if query.limited or query.must_not:
        hard = query.to_dict()
        rows = [r for r, i in enumerate(graphs.ids)
                if not hard_violations(graphs.items[i], hard, graphs.item_nodes.get(i))]
        if not rows:
            return None
        allowed = _best_similarity(query.object_vectors, rows, catalogue)
        if best >= OBJECT_FLOOR and (allowed >= OBJECT_FLOOR or best - allowed < CONSTRAINED_MARGIN):
            return None
    elif best >= OBJECT_FLOOR:
        return None
    where = " ".join(query.limits())
    if where:
        return f"nothing here {where} is like {query.objects[0]}"
    return f"this catalogue has nothing like {query.objects[0]}"


def _best_similarity(object_vectors: np.ndarray, rows: list[int], catalogue) -> float:
    """The highest cosine of any object with the items at `rows` (their documents) or their categories."""
    graphs, vocab = catalogue.graphs, catalogue.vocabulary
    best = float((object_vectors @ graphs.vectors[rows].T).max())  # (objects, items)
    categories = sorted({n for r in rows for n in graphs.item_nodes.get(graphs.ids[r], ()) if n in vocab.categories})
    if categories:
        at = np.array([vocab.node_index[n] for n in categories])
        best = max(best, float((object_vectors @ vocab.vectors[at].T).max()))  # (objects, categories)
    return best


# `sold_elsewhere`: a request phrase names a kind of the knowledge file when their cosine reaches KIND_FLOOR (MiniLM;
# "bottle of red wine" ~ "wine" 0.73, "adventure home" ~ "house" 0.60 does not); the catalogue carries a kind when
# one of its categories comes within CARRIED_CATEGORY of the kind's name, an item's document within CARRIED_ITEM,
# or its titles use the name's words in a row; and the phrase must be nearer the kind than anything here by
# KIND_MARGIN ("frames" ~ "picture frame" 0.81 against "optical frame" 0.68 would pass at 0.1: the titles' words
# stop it). Chosen on the demo's, Sephora's, Maison Home's and MovieLens' train/val requests and the
# hand-written probes of bench/probes/refusals.jsonl.
KIND_FLOOR = 0.7
KIND_MARGIN = 0.1
CARRIED_CATEGORY = 0.7
CARRIED_ITEM = 0.6
MAX_GRAM = 3
KIND_CATEGORIES = 2  # `priced_out`: a title word spread over more categories than this names no kind of thing,
KIND_SHARE = 0.9  # unless this share of the items titled with it fall in that many ("mascara": a stray gift set)
KIND_MEMO = 4096  # phrases whose items of the kind `ShopKinds.items_of` keeps (cleared when full)
PAIR_TITLES = 5  # a phrase's last two words name a kind ("setting spray") only when this many titles use them
# `unmet_values`: a word of an attribute value says a property of the thing asked for ("a cashmere tablecloth")
# when it is a whole value ("black", "cashmere") or rarer in English than this (wordfreq Zipf: "crystal" 4.2 of
# "lead-free crystal", "tie" 4.6 of "black tie"; not "new" 6.4 of "new baby", "year" 5.8 of "new year").
VALUE_WORD_ZIPF = 5.0
# A value word this common in English ("mixed" 4.6, "silver" 4.8; not "beeswax" 2.7) may be meant in its everyday
# sense: it says a property only of a kind whose items have an attribute that uses it ("tumblers in mixed colours").
EVERYDAY_ZIPF = 4.0
# "a decanter made in Japan", "a clutch woven in raffia": the noun phrase read may end in the participle
MADE = ("made", "crafted", "handmade", "woven", "knitted", "produced", "manufactured")
MADE_STEMS = frozenset(stem(w) for w in MADE)
MADE_WORDS = frozenset(MADE)
ORIGIN_GLUE = frozenset(MADE + ("from",))  # what says where a thing is made, before the country
FROM_GLUE = re.compile(r"\s+from\s+(?:the\s+)?([a-z][a-z'-]*(?:\s+[a-z][a-z'-]*)?)")  # "green tea from China"
SHOP_HAS = ("have", "carry", "stock", "sell")  # "the dresses you have that are made in the UK"
VALUE_GLUE = re.compile(rf"\s+(?:(?:you\s+(?:{'|'.join(SHOP_HAS)})\s+)?"  # "that are actually made in Spain"
                        r"(?:that|which)(?:'s|\s+is|\s+are)?\s+(?:\w+ly\s+)?)?"
                        rf"(?:(?:{'|'.join(MADE)})\s+in\s+(?:the\s+)?"  # "made in Japan", "made in the UK",
                        r"|in\s+(?!(?:the|a|an|my|our|his|her|their|your)\b))"  # "a teapot in crystal"
                        r"([a-z][a-z'-]*(?:\s+[a-z][a-z'-]*)?)")  # "a dive watch that's made in Italy"


@dataclass
class ShopKinds:
    """The knowledge file's kinds of things, read against one catalogue."""

    names: list[str]
    vectors: np.ndarray  # (kinds, d), unit rows
    carried: np.ndarray  # (kinds,) bool: this catalogue has things of the kind
    title_grams: set[str]  # runs of 1..MAX_GRAM stemmed words of the catalogue's titles and categories
    titles: dict[str, str]  # item id -> its title's and category's stemmed words, space-padded
    value_words: dict[str, set[str]]  # stemmed word that says a property (`VALUE_WORD_ZIPF`) -> attributes with it
    everyday: set[str]  # those of them that are common English words (`EVERYDAY_ZIPF`: "mixed", "light")
    documents: dict[str, set[str]]  # item id -> stemmed words of its title, category, description and values
    stated: dict[str, set[str]]  # item id -> stemmed words of its attribute values alone: where a country must be
    # said for the item to be made there (a description's "Italian bergamot" does not make a candle Italian)
    title_words: Counter  # stemmed word -> how many titles (with their categories) use it
    of_phrase: dict[str, list[dict]] = field(default_factory=dict)  # `items_of`'s answers, kept
    by_word: dict[str, list[str]] = field(init=False)  # stemmed word -> ids of the titles that use it
    place: dict[str, int] = field(init=False)  # item id -> its title's place in `titles`

    def __post_init__(self) -> None:
        self.by_word, self.place = {}, {i: n for n, i in enumerate(self.titles)}
        for i, text in self.titles.items():
            for w in set(text.split()):
                self.by_word.setdefault(w, []).append(i)

    def titled(self, names: list[str]) -> list[str]:
        """The ids of the titles that hold one of these space-padded names (" dinner jacket "), in `titles`' order
        (ties among categories are broken by it); read through `by_word`, an index of the titles' words built with
        the kinds, instead of a pass over every title (50k of them)."""
        found: set[str] = set()
        for name in names:
            rarest = min(name.split(), key=lambda w: len(self.by_word.get(w, ())), default=None)
            found.update(i for i in self.by_word.get(rarest, ()) if name in self.titles[i])
        return sorted(found, key=self.place.__getitem__)

    def items_of(self, phrase: str, items: dict[str, dict], knowledge) -> list[dict]:
        """`backend.measures.kind_items_of` over these titles, worked out once per phrase (a bounded memo; `items`
        must be the catalogue's, as the titles are)."""
        found = self.of_phrase.get(phrase)
        if found is None:
            if len(self.of_phrase) >= KIND_MEMO:
                self.of_phrase.clear()
            found = self.of_phrase[phrase] = kind_items_of(phrase, self.titles, items, knowledge)
        return found


def shop_kinds(catalogue, embed_fn) -> ShopKinds:
    """The kinds read against `catalogue`, worked out on first use and kept on it."""
    cached = getattr(catalogue, "shop_kinds", None)
    if cached is not None:
        return cached
    graphs, vocab = catalogue.graphs, catalogue.vocabulary
    groups = {name: group for group, names in catalogue.knowledge.product_kinds.items() for name in names}
    names = sorted(groups)
    vectors = np.asarray(embed_fn(names), dtype=np.float32)
    grams: set[str] = set()
    for item in graphs.items.values():
        grams |= _grams(f"{item.get('title') or ''} , {item.get('category') or ''}")
    knowledge = catalogue.knowledge
    # its words (or a synonym's) in a title, or (unless it is a distinct sort) a name of its kind in a category's
    carried = np.array([any(phrase_key(n) in grams for n in (name,) + knowledge.other_names(name, phrase_key))
                        or kind_stands_in(name, groups[name], vocab, knowledge)
                        for name in names])
    to_category, to_item = _nearest(vectors, catalogue)
    carried |= (to_category >= CARRIED_CATEGORY) | (to_item >= CARRIED_ITEM)
    titles = {i: f" {phrase_key(item.get('title') or '')} {phrase_key(item.get('category') or '')} "
              for i, item in graphs.items.items()}
    documents = {i: {stem(w) for w in words(" ".join([item.get("title") or "", item.get("category") or "",
                                                        str(item.get("description") or "")]
                                                       + [node_phrase(n) for n in graphs.item_nodes.get(i, ())]))}
                 for i, item in graphs.items.items()}
    stated = {i: {stem(w) for w in words(" ".join(node_phrase(n) for n in graphs.item_nodes.get(i, ())))}
              for i in graphs.items}
    title_words = Counter(w for text in titles.values() for w in set(text.split()))
    value_words, everyday = _value_words(vocab, knowledge)
    catalogue.shop_kinds = ShopKinds(names, vectors, carried, grams, titles, value_words, everyday, documents,
                                     stated, title_words)
    return catalogue.shop_kinds


def _value_words(vocab, knowledge) -> tuple[dict[str, set[str]], set[str]]:
    """The stemmed words of the catalogue's attribute values (not its categories or houses) that say a property
    of a thing — a whole one-word value, or a word rarer in English than `VALUE_WORD_ZIPF` — each with the
    attributes whose values hold it; and those of them that are common English words."""
    from wordfreq import zipf_frequency

    out: dict[str, set[str]] = {}
    everyday: set[str] = set()
    for node in vocab.nodes:
        if node.startswith(("category=", "category_group=", "brand=")) \
                or node.split("=", 1)[0].replace("_", " ") in knowledge.kind_attribute_keys:
            continue  # what a thing is ("type: ink"), not a property of it
        said = [w for w in words(node_phrase(node)) if w.isalpha() and len(w) >= 3 and w not in knowledge.stopwords
                and w not in knowledge.negations]
        for w in said:
            zipf = zipf_frequency(w, "en")
            if len(said) == 1 or zipf < VALUE_WORD_ZIPF:
                out.setdefault(stem(w), set()).add(node.split("=", 1)[0])
                if zipf >= EVERYDAY_ZIPF:
                    everyday.add(stem(w))
    return out, everyday


def sold_elsewhere(query, catalogue, embed_fn) -> str | None:
    """Why this catalogue has nothing of the kind the request asks for, or None.

    Each phrase of `query.asked` ("mountain bike", "bottle of red wine") is matched by meaning to the nearest
    kind of the knowledge file. The request is refused when some phrase names a kind the catalogue does not
    carry and is nearer that kind, by `KIND_MARGIN`, than any of the catalogue's categories and items — and
    nothing speaks for the catalogue: no phrase holds a category the request names (`_asks_for_named`), uses its titles'
    words in a row, is one of its terms or names a kind it carries. Negated phrases ("no linen") are not asked
    for, nor is a word that names only a value here ("blush" is a colour here, "Gold, say €3,000?"): it neither
    names a kind nor speaks for the catalogue. A phrase said after a category the request names refuses nothing
    (`_first_said`: the category, said first, may be the thing asked for).

    Args:
        query (`QueryGraph`): with `asked` and `asked_vectors` (shape (phrases, d)).
        catalogue (`LiveCatalogue`): categories' and items' vectors, titles, the knowledge file.
        embed_fn (`callable`): texts -> unit vectors, the catalogue's model (to embed the kinds once).

    Returns:
        `str | None`: the reason ("this catalogue has no umbrella"), naming the kind.
    """
    if not query.asked or query.asked_vectors is None or not len(query.asked_vectors) or _asks_for_named(query):
        return None
    kinds = shop_kinds(catalogue, embed_fn)
    negations = catalogue.knowledge.negations
    sims = query.asked_vectors @ kinds.vectors.T  # (phrases, kinds)
    here = np.maximum(*_nearest(query.asked_vectors, catalogue))  # (phrases,)
    low, reason = fold(query.text), None
    first = _first_said(low, query.categories + query.kinds)
    for row, phrase in enumerate(query.asked):
        key = phrase_key(phrase)
        named = catalogue.vocabulary.terms.get(key, ())
        if phrase.split()[0] in negations or named and " " not in key and not any(
                n.startswith("category") for n in named):
            continue  # a property named alone is no thing asked for ("a brooch for my coat. Gold, say €3,000?")
        kind = int(sims[row].argmax())
        if key in kinds.title_grams or key in catalogue.vocabulary.terms or (
                sims[row, kind] >= KIND_FLOOR and kinds.carried[kind]):
            return None  # the request asks for something this catalogue has
        if sims[row, kind] >= KIND_FLOOR and sims[row, kind] - here[row] >= KIND_MARGIN and reason is None \
                and low.find(phrase) < first:  # a category named before it may be the thing asked for
            name = kinds.names[kind]
            reason = f"this catalogue has no {name}" + ("" if phrase == name else f" (asked for: {phrase})")
    return reason


def _first_said(low: str, nodes: list[str]) -> int:
    """Where the first of these categories is said in a folded request, by its last word (`len(low)` if none is):
    "a raffia beach bag big enough for towels and a novel" asks for the bag, said before the novel."""
    heads = [n.split("=", 1)[1].split()[-1].rstrip("s") for n in nodes if n.split("=", 1)[1].split()]
    return min((m.start() for head in heads if (m := re.search(rf"\b{re.escape(head)}", low))), default=len(low))


def _asks_for_named(query) -> bool:
    """Whether a phrase of what the request asks for holds the head word of a category or kind it names ("a
    candle made in France": the candles; "prescription frames": the optical frames), not one named beside it as
    where the thing goes or what the client has ("a brooch to pin on the lapel of a camel coat", "money clip in
    silver — he keeps his cards in a card holder")."""
    named = set(query.categories) | set(query.kinds) | {n for w in query.wishes if w.source == "named"
                                                        for n in w.matches if n.startswith("category")}
    heads = {phrase_key(n.split("=", 1)[1]).split()[-1] for n in named if phrase_key(n.split("=", 1)[1])}
    return any(heads & set(phrase_key(p).split()) for p in query.asked)


def not_for_animals(query, catalogue, embed_fn) -> str | None:
    """Why nothing here is for the animal the request's thing is for ("shampoo for my golden retriever"), or
    None: no title names that animal or pets, and the catalogue carries no thing of the knowledge file's
    `animal_kinds` groups (dog beds, pet toys...; `shop_kinds` judges each against the titles, categories
    and items) — the animals themselves are left out of that test ("Cat Eye Liner" is no cat's)."""
    if not query.for_animal:
        return None
    knowledge, kinds = catalogue.knowledge, shop_kinds(catalogue, embed_fn)
    if {phrase_key(query.for_animal), "pet"} & kinds.title_grams:
        return None
    for_animals = {n for group in knowledge.animal_kinds for n in knowledge.product_kinds.get(group, ())}
    if any(carried for name, carried in zip(kinds.names, kinds.carried)
           if name in for_animals and name not in knowledge.animal_words):
        return None
    return f"this catalogue has nothing for a {query.for_animal}"


def _nearest(vectors: np.ndarray, catalogue) -> tuple[np.ndarray, np.ndarray]:
    """Each row's highest cosine with the catalogue's categories and with its item documents (-1 where the
    catalogue has none), two arrays of shape (rows,)."""
    graphs, vocab = catalogue.graphs, catalogue.vocabulary
    to_category = to_item = np.full(len(vectors), -1.0, dtype=np.float32)
    at = [vocab.node_index[n] for n in sorted(vocab.categories)]
    if at:
        to_category = (vectors @ vocab.vectors[at].T).max(axis=1)
    if graphs.vectors is not None and len(graphs.vectors):
        to_item = (vectors @ graphs.vectors.T).max(axis=1)
    return to_category, to_item


def _grams(text: str) -> set[str]:
    """Runs of 1..MAX_GRAM words (`phrase_key`s) within each comma-free part of `text`."""
    out = set()
    for part in text.split(","):
        keys = phrase_key(part).split()
        out |= {" ".join(keys[a:a + n]) for n in range(1, MAX_GRAM + 1) for a in range(len(keys) - n + 1)}
    return out


def _names_a_kind(of_kind: list[str], graphs) -> bool:
    """Whether the items titled with a word (or words) fall in at most `KIND_CATEGORIES` categories but a few."""
    return bool(_kind_categories(of_kind, graphs))


def _kind_categories(of_kind: list[str], graphs) -> list[str]:
    """The (at most `KIND_CATEGORIES`) categories that hold the items titled with a word, when they hold all
    but a few of them (`KIND_SHARE`); none when the word is spread wider or no title uses it."""
    spread = Counter(graphs.items[i].get("category") for i in of_kind).most_common(KIND_CATEGORIES)
    return [c for c, _ in spread] if of_kind and sum(n for _, n in spread) >= KIND_SHARE * len(of_kind) else []


def _in_categories(categories: list[str], graphs) -> list[str]:
    """Every item in these categories."""
    return [i for i, item in graphs.items.items() if item.get("category") in categories]


def _vague_words(knowledge) -> set[str]:
    """Stemmed words that end a phrase naming no kind of thing ("a little treat", "something nice")."""
    return {stem(w) for w in knowledge.vague_objects} | set(knowledge.stopwords)


def _pair_kind(stems: list[str], kinds: ShopKinds, graphs) -> list[str] | None:
    """The items of the kind a phrase's last two words name ("setting spray", "flat iron"), or None: at least
    `PAIR_TITLES` titles use the two words together, within `_kind_categories`' share; judged by every title
    that has both words, in any order ("Vitamin C Brightening Serum")."""
    pair = f" {' '.join(stems[-2:])} "
    together = kinds.titled([pair])
    if len(together) < PAIR_TITLES or not _names_a_kind(together, graphs):
        return None
    return [i for i, text in kinds.titles.items() if all(f" {w} " in text for w in stems[-2:])]


def _two_word_names(pair: list[str], knowledge) -> list[str]:
    """Two stemmed words and the other two-word names of what they name (`kind_synonyms`: "dive watch",
    "diving watch"), stemmed."""
    names = [" ".join(pair)] + [phrase_key(n) for n in knowledge.other_names(" ".join(pair), phrase_key)]
    return [n for n in dict.fromkeys(names) if len(n.split()) == 2]


def priced_out(query, catalogue, embed_fn) -> str | None:
    """Why nothing here is what the request asks for under its house or budget, when it names the kind of
    thing only in the words of item titles ("sterling silver candlesticks under £20", no category named).

    A phrase of `query.asked` names such a kind by its last word when the items whose title or category
    holds that word ("candlestick") all fall in at most `KIND_CATEGORIES` categories (a word spread over
    more, "product" or "set", names no kind). When every phrase names a kind (none is vague, "a gift") and
    no item of those kinds meets the hard constraints, nothing fits. A named category is
    `backend.live.kind_is_available`'s to judge, and so is a named kind held to a house: a kind is often sold
    under other words (Drunk Elephant's sunscreen is "Umbra Sheer Physical Daily Defense SPF 30"), so one
    house's titles cannot judge it. A named kind is held to a budget by the titles, which across every house
    name it at the low end too ("red lipstick under $8": the lipsticks here start at $12). Where the last word
    is spread over too many categories to name a kind (a format: "spray"), the last two may, held to a budget
    ("setting spray under $5": at least `PAIR_TITLES` titles use them, within the same category share); so may
    they where the last word's kind has things within the limits but the narrower one has none ("a flat iron
    under $100": curling irons are, flat irons start at $120) and none of those things says the first word
    anywhere (not in title, description or values: "scented candles under £35" are here, though their titles
    do not say "scented"). With a house, the two words' kind is every item in its categories: a house sells a
    kind under other words (a Clinique body lotion is "Body Moisture"), but in the kind's category ("Maison
    Margiela hand cream": its fragrances and candles are in none of the hand creams' categories).

    Returns:
        `str | None`: the reason ("nothing here within 20 is candlesticks"), or None.
    """
    if query.budget_max is None and not query.houses or query.categories or not query.asked \
            or query.kinds and query.houses:
        return None
    kinds, knowledge, graphs = shop_kinds(catalogue, embed_fn), catalogue.knowledge, catalogue.graphs
    vague = _vague_words(knowledge)
    hard, named = query.to_dict(), []

    def fits(judged: list[str]) -> bool:
        return any(not hard_violations(graphs.items[i], hard, graphs.item_nodes.get(i)) for i in judged)

    for phrase in query.asked:
        plain, stems = phrase.split(), phrase_key(phrase).split()
        if not stems or plain[0] in knowledge.negations or _budget_words(phrase, knowledge):
            continue  # "Budget £100-£120.": the budget's own words
        if stems[-1] in vague:
            return None  # "a little treat under 50": no kind of thing
        names = {f" {key} " for key in [stems[-1]] + [phrase_key(o) for o in
                                                       knowledge.other_names(plain[-1], phrase_key)]}
        of_kind = kinds.titled(sorted(names))
        pair = _pair_kind(stems, kinds, graphs) if len(stems) >= 2 else None
        if pair is not None and query.houses:  # a house may title the kind in other words: judge its categories
            categories = _kind_categories(pair, graphs)
            pair = _in_categories(categories, graphs) if categories else None
        if _names_a_kind(of_kind, graphs):
            if not fits(of_kind):
                named.append(plain[-1])
                continue
            # things of the kind are within the limits, but maybe not of the narrower kind the last two words
            # name ("flat iron" among "iron"s): unless one of them says the first word anywhere ("scented")
            if pair is None or fits(pair) or fits([i for i in of_kind if stems[-2] in kinds.documents[i]]):
                return None
        elif pair is None or fits(pair):
            return None  # a phrase that names no kind here may be what is asked for
        named.append(phrase)
    return f"nothing here {' and '.join(query.limits())} is {named[0]}" if named else None


def unmet_measure(query, catalogue, embed_fn) -> str | None:
    """Why nothing here of the kind asked for reaches a number the request gives it ("sunscreen with SPF 100",
    "a diffuser that lasts at least six months"), or None (`backend.measures`). The kind is each phrase of
    `query.asked` read by the titles that hold its words (`kind_items_of`), and each category the request names
    word for word ("a 2000 lumen front light": the front lights)."""
    named = [n.split("=", 1)[1] for n in query.categories if n.startswith("category=")]
    phrases = list(dict.fromkeys(query.asked + named))
    if not phrases:
        return None
    kinds, graphs = shop_kinds(catalogue, embed_fn), catalogue.graphs
    if getattr(catalogue, "item_measures", None) is None:  # item id -> its numbers, read once per catalogue
        catalogue.item_measures = {}
    for phrase in phrases:
        unmet = unmet_number(query.text, phrase, lambda p=phrase: kinds.items_of(p, graphs.items, catalogue.knowledge),
                             catalogue.knowledge, catalogue.item_measures)
        if unmet:
            return f"nothing here that is {phrase} has {unmet}"
    return None


YES, NO = ("yes", "true"), ("no", "false")


def flag_keys(graphs) -> list[str]:
    """The attributes this catalogue answers with yes or no ("dishwasher safe", "caffeine"): most of their
    values are yes/no/true/false (another value, "mixed", meets either)."""
    said: dict[str, list[bool]] = {}
    for item in graphs.items.values():
        for key, value in (item.get("attributes") or {}).items():
            for v in value if isinstance(value, list) else [value]:
                said.setdefault(key, []).append(str(v).lower() in YES + NO)
    return [k for k, flags in said.items() if sum(flags) >= 0.8 * len(flags)]


def _flag_wanted(low: str, key: str, negations) -> tuple[bool, str] | None:
    """Whether the request wants `key` yes or no, and its words: "caffeine-free" / "no caffeine" -> no,
    "dishwasher-safe" -> yes; its first mention decides. None when the request does not say the key."""
    m = re.search(r"(?<![\w-])" + r"[\s-]+".join(map(re.escape, re.split(r"[\s_-]+", fold(key)))) + r"(?![\w])", low)
    if not m:
        return None
    free = re.match(r"[\s-]?free\b", low[m.end():])
    end = m.end() + (free.end() if free else 0)
    return not (free or negated(low, m.start(), negations)), low[m.start():end]


def unmet_flag(query, catalogue, embed_fn) -> str | None:
    """Why nothing here of the kind asked for is as the request wants it on a yes/no attribute ("caffeine-free
    matcha": the matcha here has caffeine), or None. The kind is each phrase of `query.asked` read by the
    titles that hold its words (`backend.measures.kind_items_of`); judged only when some of its items state
    the attribute, and then by those."""
    if not query.asked:
        return None
    graphs, low = catalogue.graphs, fold(query.text).lower()
    if getattr(catalogue, "flag_keys", None) is None:  # worked out once per catalogue
        catalogue.flag_keys = flag_keys(graphs)
    wanted = {k: w for k in catalogue.flag_keys if (w := _flag_wanted(low, k, catalogue.knowledge.negations))}
    if not wanted:
        return None
    kinds = shop_kinds(catalogue, embed_fn)
    for phrase in query.asked:
        of_kind = kinds.items_of(phrase, graphs.items, catalogue.knowledge)
        for key, (yes, words_said) in wanted.items():
            stated = [str((item.get("attributes") or {}).get(key)).lower() for item in of_kind
                      if key in (item.get("attributes") or {})]
            if stated and not any(v in (YES if yes else NO) or v not in YES + NO for v in stated):
                thing = " ".join(phrase.replace(words_said, " ").split()) or phrase
                return f"nothing here that is {thing} is {words_said}"
    return None


# `unmet_feature`: what a request says its thing has, right after naming it ("a mascara that has SPF in it", "an
# eye cream with SPF protection"): the first word after one of these ("a scarf for my mum with grey hair", "a
# scarf that works with jeans": the words after "with" are not the scarf's)
FEATURE_GLUE = re.compile(r"\s+(?:with|(?:that|which)\s+(?:has|have|contains?)|containing)\s+(?:an?\s+|some\s+)?"
                          r"([a-z][a-z'-]*)")
FEATURE_TITLES = 5  # a word states a feature when at least this many titles use it ("SPF")
FEATURE_KIND = 5  # and the kind is judged only when at least this many titles name it


def unmet_feature(query, catalogue, embed_fn) -> str | None:
    """Why nothing here of the kind asked for has the feature the request says it has, or None.

    The kind is each phrase of `query.asked` read by the titles that hold its words (`kind_items_of`, at least
    `FEATURE_KIND` of them); the feature is the first word said right after the phrase and "with" / "that
    has" / "containing" when at least `FEATURE_TITLES` titles of the catalogue use it (a feature its titles
    state: "SPF", "retinol") and it names none of the things asked for. The request is refused when no item of
    the kind says that word in its title, category, description or values ("a mascara that has SPF in it": SPF
    is in 135 titles here, in no mascara's). A negated feature ("with no fragrance") is not asked for.
    """
    if not query.asked:
        return None
    low = fold(query.text).lower()
    kinds, knowledge, graphs = shop_kinds(catalogue, embed_fn), catalogue.knowledge, catalogue.graphs
    asked_words = {w for phrase in query.asked for w in phrase_key(phrase).split()}
    for phrase in query.asked:
        glue = FEATURE_GLUE.match(low, low.find(phrase) + len(phrase)) if phrase in low else None
        word = glue.group(1) if glue else ""
        key = phrase_key(word)
        if not key or word in knowledge.stopwords or word in knowledge.negations or key in asked_words \
                or kinds.title_words.get(key, 0) < FEATURE_TITLES:
            continue
        of_kind = kinds.items_of(phrase, graphs.items, knowledge)
        if len(of_kind) >= FEATURE_KIND and not any(f" {key} " in kinds.titles[item["item_id"]]
                                                     or key in kinds.documents[item["item_id"]] for item in of_kind):
            return f"nothing here that is {phrase} has {word}"
    return None


def _says_a_property(word: str, keys: set[str], kinds: ShopKinds) -> bool:
    """Whether a stemmed word says a property here: a word of the catalogue's values (`ShopKinds.value_words`),
    a common English one ("mixed") only as a value of one of the attributes `keys` (the kind's)."""
    return word in kinds.value_words and (word not in kinds.everyday or bool(kinds.value_words[word] & keys))


def _origin_said(word: str, made: bool, of_kind: list[str], kinds: ShopKinds, knowledge) -> bool:
    """Whether `word` is a country said as where the thing is made (`made`: after "made in" or "from", or before
    "-made": "Japanese-made") of a kind whose items say where they are made: a property even when no item here
    comes from there (`_holds` reads it by any word of its country: "japanese" by "Japan", "UK" by "Scotland")."""
    table, countries = _narrower(knowledge), _country_keys(knowledge)
    return made and word in countries and any(
        name <= kinds.stated[i] for i in of_kind for c in countries for name in table[c])


@lru_cache(maxsize=4)  # one set per knowledge file
def _country_keys(knowledge) -> frozenset[str]:
    """The phrase keys of every country word of the knowledge file ("italian", "italy", "scotland")."""
    return frozenset(phrase_key(word) for word in knowledge.country_words)


def _budget_words(phrase: str, knowledge) -> bool:
    """Whether a phrase is the budget's own words, no thing asked for: an amount of money ("a thousand euros",
    "a tenner") or a budget cue alone ("max")."""
    last = phrase.split()[-1]
    return last in knowledge.currency_words or last in knowledge.money_words \
        or phrase in knowledge.budget_before or phrase in knowledge.budget_after


JOINED = re.compile(r"\s(?:&|and|\+)\s|[,/]")  # a category name that joins several things: "Throws & Cushions"


def _either(phrases: list[str]) -> list[str]:
    """Each phrase, one joining two things by "or" said as both ("a cashmere throw or blanket": a cashmere throw,
    a cashmere blanket; the words before the first thing go with a bare second one)."""
    out = []
    for phrase in phrases:
        first, _, second = phrase.partition(" or ")
        if not second or not first.split():
            out.append(phrase)
            continue
        out += [first, " ".join(first.split()[:-1] + [second]) if len(second.split()) == 1 else second]
    return list(dict.fromkeys(out))


def _without(text: str, phrases: list[str]) -> str:
    """A space-padded text less these space-padded phrases."""
    for phrase in phrases:
        while phrase in text:  # " dinner jacket dinner jacket ": the second one shares the first's space
            text = text.replace(phrase, " ")
    return text


def unmet_values(query, catalogue, embed_fn) -> str | None:
    """Why nothing here is the thing asked for with the property the request gives it, or None.

    A phrase of `query.asked` names a kind by its last word as in `priced_out` ("tablecloth": the items titled with
    it fall in one or two categories; titles that say another name of a thing holding the word, "Dinner Jacket", do
    not count for a bare "jacket"); the words before it ("a cashmere tablecloth"), or those after "in" / "made in",
    also in a clause ("a teapot in crystal", "a decanter that's made in Japan"), that are words of the catalogue's
    attribute values (`ShopKinds.value_words`; a common English word only as a value of an attribute the kind's
    items have: not the "mixed" of a tea's caffeine in "tumblers in mixed colours") say what it must be. The request
    is refused when no item of the categories of that kind (of a category that joins several things, "Throws &
    Cushions", the items titled so) holds all of them in its title, category, description or values — or none that
    does meets the request's house, budget and exclusions ("a leather notebook under £40": the leather-bound ones
    start at £58) — and no other phrase asks for a kind that is here as asked ("a cashmere throw or blanket" is two
    phrases, `_either`). A phrase with no such word, or one whose last word names no kind, asks for something that
    may be here; a word the request holds a wrong belief about ("lambskin is fine in heavy rain",
    `QueryGraph.wrong_fact`) is corrected in the answer, not made a condition.

    Returns:
        `str | None`: the reason ("nothing here is cashmere tablecloth"), or None.
    """
    if not query.asked:
        return None
    kinds, knowledge, graphs = shop_kinds(catalogue, embed_fn), catalogue.knowledge, catalogue.graphs
    vague = _vague_words(knowledge)
    low, unmet = fold(query.text), None
    wrong = query.wrong_fact or {}  # a wish that rests on a wrong belief ("lambskin is fine in rain") is no condition
    mistaken = set(phrase_key(f"{wrong.get('subject', '')} {wrong.get('claimed', '')}").split())
    # its house, budget and exclusions, when the request names no category (that is `kind_is_available`'s)
    limits = {} if query.categories else {**query.to_dict(), "categories": []}
    limited = bool(limits.get("houses") or limits.get("budget_max") is not None or limits.get("must_not"))
    for phrase in _either(query.asked):
        if len(phrase.split()) > 1 and phrase.split()[-1] in MADE:
            phrase = phrase.rsplit(" ", 1)[0]
        plain, stems = phrase.split(), phrase_key(phrase).split()
        if not stems or plain[0] in knowledge.negations or stems[-1] in vague or _budget_words(phrase, knowledge) \
                or len(stems) == 1 and stems[0] in kinds.value_words:
            continue  # a property named alone is no thing asked for ("I find patent too shiny")
        names = [f" {phrase_key(n)} " for n in  # "jumper": sweater; "trainers": sneaker
                 (stems[-1],) + knowledge.other_names(stems[-1], phrase_key)]
        others = [f" {n} " for n in other_things_names(stems[-1], knowledge)  # "jacket": no "Dinner Jacket"
                  if not f" {' '.join(stems)} ".endswith(f" {n} ")]  # unless the phrase says it
        categories = _kind_categories([i for i in kinds.titled(names)
                                       if any(n in _without(kinds.titles[i], others) for n in names)], graphs)
        if not categories and len(stems) >= 2:  # "a dive watch": the watches spread over four categories,
            pair = next((found for name in _two_word_names(stems[-2:], knowledge)  # the diving watches fill one
                         if (found := _pair_kind(stems[:-2] + name.split(), kinds, graphs))), None)
            if pair:
                categories, stems = _kind_categories(pair, graphs), stems[:-2] + [" ".join(stems[-2:])]
        if not categories:  # "loose green tea", "road shoes": a category of the catalogue named by the phrase's
            named = {n for n in catalogue.vocabulary.categories  # last words is the kind, however its titles say
                     if n.startswith("category=")  # it (not a group, "bags": "a light nylon bag" is not a palette)
                     and phrase_key(n.split("=", 1)[1]) in (stems[-1], " ".join(stems[-2:]))}
            categories = sorted({graphs.items[graphs.ids[r]].get("category")
                                 for node in named for r in graphs.rows_with(node)})
        if not categories:
            if limited:
                return None  # held to its limits, a phrase that names no kind may be what is asked for
            continue
        # judged by the kind's categories, not by the titles alone: a notebook may be a "Leather Journal" here;
        # but of a category that joins several things ("Throws & Cushions") only the items titled as asked
        of_kind = [i for i in _in_categories(categories, graphs) if not JOINED.search(graphs.items[i]["category"])
                   or any(n in _without(f" {phrase_key(graphs.items[i].get('title') or '')} ", others) for n in names)]
        if any(w in kinds.title_grams and w not in kinds.value_words and " ".join(stems[n:]) not in kinds.title_grams
               for n, w in enumerate(stems[:-1])):
            if limited:  # "an ink refill": a word the titles use for another thing ("Pen Ink") makes a new name
                return None
            continue
        end = low.find(phrase) + len(phrase)
        after = (VALUE_GLUE.match(low, end) or FROM_GLUE.match(low, end)) if phrase in low else None
        glue_words = set(after.group(0).split()) if after else set()
        glued = [w for w in (after.group(1).split() if after else []) if w not in knowledge.prepositions]
        keys = {n.split("=", 1)[0] for i in of_kind for n in graphs.item_nodes.get(i, ())}  # the kind's attributes
        attributes = {key for i in of_kind for key in graphs.items[i].get("attributes") or {}}
        key_words = {w for key in attributes for name in (key, key.rstrip("s"))  # "in size 47" names an attribute
                     for w in phrase_key(name.replace("_", " ")).split()}  # ("sizes"), no value of it
        glued = [w for w in glued if phrase_key(w) not in key_words]
        origins = [w for n, w in enumerate(stems[:-1])  # "Japanese-made", or a country before "made in" after it
                   if _origin_said(w, stems[n + 1] in MADE_STEMS or bool(glue_words & MADE_WORDS), of_kind, kinds,
                                   knowledge)]
        origins += [w for w in phrase_key(" ".join(glued)).split()  # after "from" only a country: "a watch from Vell"
                    if _origin_said(w, bool(glue_words & ORIGIN_GLUE), of_kind, kinds, knowledge)]
        said = [w for w in stems[:-1] if w not in origins and _says_a_property(w, keys, kinds)]
        said += [w for w in phrase_key(" ".join(glued)).split()
                 if w not in origins and "from" not in glue_words and _says_a_property(w, keys, kinds)]
        said, origins = [w for w in said if w not in mistaken], [w for w in origins if w not in mistaken]
        if not said and not origins:
            return None
        holding = [i for i in of_kind if all(_holds(w, kinds.documents[i], knowledge) for w in said)
                   and all(_holds(w, kinds.stated[i], knowledge) for w in origins)]
        if any(not hard_violations(graphs.items[i], limits, graphs.item_nodes.get(i)) for i in holding):
            return None  # this phrase asks for something that is here, within the request's limits
        glue = after.group(0).split() if after else []
        while glue and (glue[-1] in knowledge.prepositions or phrase_key(glue[-1]) not in said + origins):
            glue.pop()  # "an ink refill in blue for a pen", "made in Italy rather than...": it ends at the value
        worded = " ".join([phrase] + glue)
        within = " and ".join(query.limits()) if holding else ""
        unmet = unmet or (f"nothing here {within} is {worded}" if within else f"nothing here is {worded}"
                          + (" without what was ruled out" if holding else ""))
    return unmet


def _holds(word: str, document: set[str], knowledge) -> bool:
    """Whether an item's document (stemmed words) says `word` or a name that holds it (`_narrower`: a "leather
    card holder" is one whose item says "grained calfskin", a "Japanese-made" one says "Japan")."""
    return word in document or any(name <= document for name in _narrower(knowledge).get(word, ()))


@lru_cache(maxsize=4)  # one table per knowledge file
def _narrower(knowledge) -> dict[str, tuple[frozenset[str], ...]]:
    """Stemmed word -> the names that hold it, each as the set of its stemmed words: a material's narrower names
    (`material_families`: leather by calfskin, suede, ...) and every word of a country (`country_words`, each a
    single word here: "japanese" by "japan", "uk" by "scotland" or "northern ireland")."""
    table = {stem(name): tuple(frozenset(stem(w) for w in words(member)) for member in members)
             for name, members in knowledge.material_families.items()}
    named: dict[str, set[str]] = {}
    for word, country in knowledge.country_words.items():
        named.setdefault(country, {country.lower()}).add(word)
    for word, country in knowledge.country_words.items():
        table[phrase_key(word)] = tuple(frozenset(phrase_key(w).split()) for w in sorted(named[country]))
    return table
