"""Intent: a request's text becomes a query graph of required, preferred and excluded attributes.

The parser is deterministic and explainable: it finds vocabulary terms (the live catalogue's own
values plus a built-in lexicon of categories, materials, colours, occasions, seasons and places),
reads the words around them (negation, "prefer", budget phrases), and then makes the implicit
facts explicit with the world knowledge in `catalog.demo.places`: an occasion at a place in a
season implies a climate, a time of day, a setting, the formality levels that fit and a palette
("a summer wedding in Tuscany" -> hot, daytime, outdoor, formal; "client dinners in Milan this
fall" -> cool, evening, formal, dark or neutral palette). Several contexts in one request ("works
for both") must all be met.

The result keeps the keys of the demo world's query `facets`, so the parser can be scored against
them (tests/integration/test_intent.py), plus `preferred` (soft wishes) and `notes` (what was read
and why), and renders to a networkx graph for the UI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import networkx as nx

from catalog.demo.places import CLIMATE_SEASONS, PLACES, implied_context
from catalog.demo.vocab import MATERIALS as MATERIAL_FACTS
from catalog.demo.vocab import OCCASIONS
from catalog.derive import CATEGORY_WORDS, COLOUR_SYNONYMS, COLOURS, MATERIAL_SYNONYMS, MATERIALS, fold

SEASON_WORDS = {
    "spring": "spring", "springtime": "spring", "march": "spring", "april": "spring", "may": "spring",
    "summer": "summer", "summertime": "summer", "june": "summer", "july": "summer", "august": "summer",
    "autumn": "autumn", "fall": "autumn", "september": "autumn", "october": "autumn", "november": "autumn",
    "winter": "winter", "wintertime": "winter", "december": "winter", "january": "winter", "february": "winter",
    "christmas": "winter", "the holidays": "winter", "ski season": "winter",
}
OCCASION_WORDS = {
    **{name: name for name in OCCASIONS},
    "weddings": "wedding", "wedding ceremony": "wedding", "ceremony": "wedding",
    "client dinner": "business dinner", "client dinners": "business dinner", "business dinners": "business dinner",
    "work dinner": "business dinner", "work dinners": "business dinner", "dinner with clients": "business dinner",
    "board meeting": "business meeting", "business meetings": "business meeting", "meetings": "business meeting",
    "meeting": "business meeting", "the office": "office", "for work": "office", "at work": "office", "to work": "office",
    "workdays": "office", "work days": "office", "long trip": "travel", "work in": "office",
    "lunch in the garden": "garden party", "garden lunch": "garden party", "working dinner": "business dinner",
    "working dinners": "business dinner", "meetings with investors": "business meeting", "investor meeting":
    "business meeting", "pitch": "business meeting", "working week": "office", "working day": "office",
    "day-to-day": "everyday", "day to day": "everyday", "lazy saturday": "weekend", "saturdays": "weekend",
    "sundays": "weekend", "weekend away": "weekend", "opening night": "opera", "the theatre": "opera",
    "a night out": "evening", "black-tie dinner": "gala", "reception": "cocktail",
    "cocktails": "cocktail", "cocktail party": "cocktail", "cocktail parties": "cocktail", "drinks": "cocktail",
    "galas": "gala", "black-tie event": "gala", "black tie event": "gala", "ball": "gala", "charity ball": "gala",
    "the opera": "opera", "premiere": "opera", "garden parties": "garden party",
    "beach": "resort", "holiday by the sea": "resort", "seaside": "resort", "vacation": "resort",
    "holiday": "resort", "poolside": "resort", "weekends": "weekend", "brunch": "weekend",
    "on the road": "travel", "flights and hotels": "travel",
    "dinner date": "evening", "dinner out": "evening", "evenings out": "evening", "running around town": "everyday",
    "weekends away": "weekend", "long weekend": "weekend", "beach holiday": "resort", "cocktail reception": "cocktail", "travelling": "travel", "traveling": "travel", "flights": "travel",
    "every day": "everyday", "daily": "everyday", "evenings": "evening", "dinner": "evening",
    "dinners": "evening", "night out": "evening", "nights out": "evening", "date night": "evening",
}
COUNTRY_WORDS = {
    "italian": "Italy", "italy": "Italy", "french": "France", "france": "France", "british": "UK",
    "english": "UK", "uk": "UK", "swiss": "Switzerland", "switzerland": "Switzerland", "spanish": "Spain",
    "spain": "Spain", "japanese": "Japan", "japan": "Japan", "american": "USA", "usa": "USA",
    "german": "Germany", "germany": "Germany", "portuguese": "Portugal", "portugal": "Portugal",
    "belgian": "Belgium", "danish": "Denmark", "austrian": "Austria", "greek": "Greece",
    "moroccan": "Morocco",
}
BRANDING_WORDS = {
    "subtle branding": "discreet", "discreet": "discreet", "understated": "discreet", "quiet": "discreet",
    "no logo": "discreet", "no logos": "discreet", "without logos": "discreet", "logo-free": "discreet",
    "no visible logo": "discreet", "stealth": "discreet", "low-key": "discreet", "subtle": "discreet",
    "quiet luxury": "discreet", "no branding": "discreet", "logos kept to an absolute minimum": "discreet",
    "logo-forward": "logo-forward", "monogram": "logo-forward", "statement logo": "logo-forward",
    "visible branding": "logo-forward", "bold branding": "logo-forward", "logo should be visible": "logo-forward",
    "recognisable": "logo-forward", "recognizable": "logo-forward", "logo": "logo-forward", "logos": "logo-forward",
}
# Branding wishes that allow more than one level: "nothing logo-heavy" is discreet or moderate.
QUIET_BRANDING = ("nothing logo-heavy", "logo-heavy", "small logo", "a little branding", "some branding",
                  "quiet branding", "shouts the brand", "nothing loud", "not loud", "loud is not")
FORMALITY_WORDS = {
    "black tie": "black-tie", "black-tie": "black-tie", "formal": "formal", "dressy": "formal",
    "smart casual": "smart-casual", "smart-casual": "smart-casual", "casual": "casual", "relaxed": "casual",
    "businesslike": "business", "business attire": "business",
}
PALETTE_WORDS = {"dark": "dark", "darker": "dark", "light": "light", "lighter": "light", "pale": "light",
                 "bright": "bright", "colourful": "bright", "colorful": "bright", "neutral": "neutral",
                 "neutrals": "neutral"}
# Generic names of a category group ("something to wear", "a piece of jewellery").
GENERIC_CATEGORIES = {
    "something to wear": (None, "ready-to-wear"), "clothing": (None, "ready-to-wear"), "outfit": (None, "ready-to-wear"),
    "ready-to-wear": (None, "ready-to-wear"), "piece of jewellery": (None, "jewellery"),
    "small leather piece": (None, "small-leather-goods"), "small leather goods": (None, "small-leather-goods"),
    "jewellery": (None, "jewellery"),
    "jewelry": (None, "jewellery"), "pair of shoes": (None, "shoes"), "shoes": (None, "shoes"),
    "footwear": (None, "shoes"), "bag": (None, "bags"), "handbag": (None, "bags"), "timepiece": (None, "watches"),
    "watch": (None, "watches"), "eyewear": (None, "eyewear"), "small leather good": (None, "small-leather-goods"),
    "scarf or a stole": (None, "silk"), "silk accessory": (None, "silk"),
}
# Everyday words for categories a catalogue names otherwise (used when the catalogue has the name).
CATEGORY_ALIASES = {
    "sweater": "knitwear", "jumper": "knitwear", "cardigan": "knitwear", "pullover": "knitwear", "knit": "knitwear",
    "knee-high boot": "knee boot", "knee high boot": "knee boot", "gown": "evening gown", "tuxedo": "dinner jacket",
    "silk scarf": "scarf", "carre": "scarf", "shawl": "stole", "wrap": "stole", "sunglasses": "sunglasses",
    "glasses": "optical frame", "frames": "optical frame", "earrings": "earring", "studs": "earring",
    "pendant": "necklace", "chain": "necklace", "bangle": "bracelet", "cuff": "bracelet", "purse": "wallet",
    "billfold": "wallet", "sandals": "sandal", "heels": "pump", "court shoe": "pump", "trainers": "sneaker",
    "slides": "mule", "dive watch": "diving watch", "diver": "diving watch", "suit jacket": "blazer",
    "raincoat": "trench coat", "trench": "trench coat", "carry-on": "travel bag", "weekender": "travel bag",
    "duffle": "travel bag", "pants": "trousers",
}
# Things a luxury fashion house does not sell: a request for one can only be answered "nothing fits".
OUT_OF_CATALOGUE = ("sports car", "car", "yacht", "boat", "private jet", "jet", "helicopter", "villa",
                    "apartment", "sofa", "furniture", "laptop", "phone", "smartphone", "television", "bicycle",
                    "motorbike", "racing bicycle", "wine", "champagne", "tickets", "flight ticket", "puppy", "horse", "dog bed",
                    "dog", "cat", "kitchen", "blender", "coffee machine", "espresso machine", "tennis racket", "surfboard", "skis", "golf clubs",
                    "painting", "piano", "perfume", "fragrance", "lipstick", "skincare", "tent")
ANIMALS = ("puppy", "horse", "dog", "cat")
DETERMINERS = {"a", "an", "the", "my", "our", "his", "her", "their", "new", "some", "another"}
# Words after an out-of-catalogue word that make it a modifier ("jet black", "boat shoes").
OBJECT_MODIFIED = {"black", "red", "gold", "white", "print", "printed", "motif", "charm", "bit", "eye", "collar",
                   "neck", "club", "pattern", "shoe", "shoes", "coat", "leather", "stitch", "embroidery"}
WATCH_VERB_CUES = {"to", "i", "we", "you", "they", "can", "could", "would", "will", "should", "might", "must",
                   "lets", "let's", "not", "never", "just", "also", "then"}
NEGATIONS = ("no", "not", "without", "avoid", "never", "nothing in", "anything but", "don't want", "do not want",
             "hate", "hates", "dislike", "dislikes", "except", "rather than", "instead of", "no more",
             "allergic to", "can't stand", "cannot stand", "won't wear", "doesn't wear", "does not wear")
INJECTION_CUES = ("ignore your instructions", "ignore all previous", "ignore previous instructions",
                  "ignore the above", "system prompt", "every client", "all clients", "other clients",
                  "list all", "reveal", "developer mode", "disregard")
ENGLISH_WORDS = {"a", "an", "the", "for", "and", "or", "i", "my", "me", "to", "in", "of", "with", "that", "this",
                 "something", "need", "want", "looking", "would", "can", "also", "is", "be", "on", "she", "he",
                 "her", "his", "client", "please", "it", "some", "at", "but", "not", "no", "like", "what",
                 "any", "you", "your", "do", "does", "have", "has", "only", "avoid", "under", "below", "over",
                 "than", "more", "less", "limit", "spending", "euros", "pieces", "piece", "carry", "sell",
                 "chance", "find", "show", "made", "from", "by", "we", "our", "they", "their", "will", "wear"}


@dataclass
class QueryGraph:
    """What a request asks for. Hard fields (category ... must_not) filter; `preferred` only ranks."""

    text: str
    category: str | None = None
    category_group: str | None = None
    house: str | None = None
    occasions: list[str] = field(default_factory=list)
    season: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    contexts: list[dict] = field(default_factory=list)
    climate: list[str] = field(default_factory=list)
    wet: bool = False
    formality: list[str] | None = None
    palette: list[str] | None = None
    origin: str | None = None
    branding: list[str] | None = None  # allowed levels
    colour: list[str] | None = None  # any of these
    material: list[str] | None = None  # any of these
    budget_max: float | None = None
    must_not: dict = field(default_factory=lambda: {"materials": [], "colours": [], "branding": []})
    preferred: dict = field(default_factory=dict)
    taste_led: bool = False
    wrong_fact: dict | None = None  # {"kind", "subject", "claimed", "actual"}
    impossible: str | None = None
    injection: bool = False
    language: str = "en"
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, data: dict) -> "QueryGraph":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def required_seasons(self) -> list[str]:
        """Item seasons the request needs: one per context (from its climate, else its season)."""
        needs = []
        for ctx in self.contexts or [{"climate": None, "season": s} for s in self.season]:
            if ctx.get("climate"):
                needs.append(list(CLIMATE_SEASONS[ctx["climate"]]))
            elif ctx.get("season"):
                needs.append([ctx["season"]])
        return needs  # each inner list: the item must be wearable in at least one of these

    def to_graph(self) -> nx.DiGraph:
        """The query as a graph: `request` -> attribute nodes, edges marked required/preferred/excluded."""
        graph = nx.DiGraph()
        graph.add_node("request", kind="request", text=self.text)

        def link(key, value, strength, source="stated"):
            if value in (None, "", []):
                return
            for v in value if isinstance(value, list) else [value]:
                node = f"{key}={v}"
                graph.add_node(node, kind="attribute", relation=key)
                graph.add_edge("request", node, strength=strength, source=source)

        for key in ("category", "category_group", "house", "origin", "branding", "colour", "material"):
            link(key, getattr(self, key), "required")
        link("occasion", self.occasions, "required")
        link("price<=", self.budget_max, "required")
        for i, ctx in enumerate(self.contexts):
            ctx_node = f"context {i + 1}: " + " ".join(str(ctx[k]) for k in ("occasion", "place", "season") if ctx[k])
            graph.add_node(ctx_node, kind="context")
            graph.add_edge("request", ctx_node, strength="required", source="stated")
            for key in ("climate", "time", "setting"):
                if ctx.get(key):
                    graph.add_edge(ctx_node, f"{key}={ctx[key]}", strength="implied", source="knowledge")
        link("formality", self.formality, "required", "implied")
        link("palette", self.palette, "required", "implied")
        for key, values in self.must_not.items():
            link(key.rstrip("s"), values, "excluded")
        for key, value in self.preferred.items():
            link(key, value, "preferred")
        return graph


@dataclass
class Vocabulary:
    """Terms the parser looks for: the lexicon plus the live catalogue's own values."""

    brands: dict[str, str]  # folded name -> name
    house_country: dict[str, str]  # name -> country most of its items are made in
    house_craft: dict[str, str]  # name -> its signature craft
    crafts: dict[str, str]
    categories: dict[str, tuple[str, str]]  # term -> (category, group)
    catalogue_categories: set[str]
    colours: set[str] = field(default_factory=set)  # colour names the catalogue uses


def build_vocabulary(items: list[dict]) -> Vocabulary:
    """The vocabulary of a catalogue (demo world or any imported one)."""
    from collections import Counter, defaultdict

    origins: dict[str, Counter] = defaultdict(Counter)
    house_crafts: dict[str, Counter] = defaultdict(Counter)
    crafts, categories = {}, dict(CATEGORY_WORDS)
    categories.update(GENERIC_CATEGORIES)
    for item in items:
        attrs = item.get("attributes", {})
        if item.get("brand") and attrs.get("origin"):
            origins[item["brand"]][attrs["origin"]] += 1
        if item.get("brand") and attrs.get("craft"):
            house_crafts[item["brand"]][attrs["craft"]] += 1
        if attrs.get("craft"):
            crafts[fold(attrs["craft"])] = attrs["craft"]
        if item.get("category"):  # the catalogue's own names win over the lexicon's
            categories[fold(item["category"])] = (item["category"], attrs.get("category_group"))
    known = {fold(it["category"]): it["category"] for it in items if it.get("category")}
    for alias, name in CATEGORY_ALIASES.items():
        if fold(name) in known:
            categories[alias] = (known[fold(name)], categories[fold(name)][1])
    brands = {fold(it["brand"]): it["brand"] for it in items if it.get("brand")}
    return Vocabulary(brands, {b: c.most_common(1)[0][0] for b, c in origins.items()},
                      {b: c.most_common(1)[0][0] for b, c in house_crafts.items()}, crafts, categories,
                      {it.get("category") for it in items if it.get("category")},
                      {fold(str(c)) for it in items for c in it.get("attributes", {}).get("colour", []) or []})


@lru_cache(maxsize=64)
def _pattern(term: str) -> re.Pattern:
    body = re.escape(term).replace(r"\ ", r"[\s-]+").replace(r"\-", r"[\s-]*")
    return re.compile(rf"(?<![\w-]){body}(?:s|es)?(?![\w-])")


def find_terms(text: str, terms) -> list[tuple[int, int, str]]:
    """(start, end, term) for each whole-word occurrence; longer terms win where they overlap."""
    found = []
    for term in sorted(terms, key=len, reverse=True):
        for m in _pattern(term).finditer(text):
            if not any(s < m.end() and m.start() < e for s, e, _ in found):
                found.append((m.start(), m.end(), term))
    return sorted(found)


def negated(text: str, start: int) -> bool:
    """Whether the words just before `start` (same clause, 4 words) negate what follows."""
    window = re.split(r"[,.;!?]", text[max(0, start - 40):start])[-1]
    words = " " + " ".join(window.split()[-4:]) + " "
    return any(f" {cue} " in words for cue in NEGATIONS)


def parse_budget(text: str) -> float | None:
    """The most the client wants to spend: 'under €3,000', 'capped at 2,500 euros', '11,000 euros at the
    very most', 'budget 2.5k'. 'around X' tolerates 15% more."""
    amount = r"(?:€|eur(?:os?)?\s)?\s*(\d[\d,.]*)\s*(k\b|thousand)?\s*(?:€|eur(?:os?)?\b)?"
    before = (r"(?:under|below|less than|up to|no more than|not more than|nothing (?:above|over)|max(?:imum)?"
              r"|at most|within|capped at|limit(?: of| is)?|spending limit:?|budget(?: of| is)?:?|around|about"
              r"|cheaper than|no higher than|not over)\s*")
    match = re.search(before + amount, text)
    tolerant = False
    if match:
        tolerant = match.group(0).startswith(("around", "about"))
    else:
        match = re.search(amount + r"\s*(?:at the (?:very )?most|max(?:imum)?|tops|or less)\b", text)
        if not match:
            return None
    digits = match.group(1).rstrip(".,").replace(",", "")
    if not digits:
        return None
    value = float(digits) * (1000 if match.group(2) else 1)
    return value * 1.15 if tolerant else value


def parse_request(text: str, vocab: Vocabulary) -> QueryGraph:
    """Read a request into a query graph.

    Args:
        text (`str`): the client's request.
        vocab (`Vocabulary`): terms of the live catalogue (`build_vocabulary`).

    Returns:
        `QueryGraph`: hard constraints, implied context, soft preferences and notes.
    """
    low = re.sub(r"\bst\.\s", "st ", fold(text)).replace("-made", " made")
    q = QueryGraph(text=text)
    words = re.findall(r"[a-z']+", low)
    if len(words) >= 4 and sum(w in ENGLISH_WORDS for w in words) / len(words) < 0.08:
        q.language = "other"
        q.notes.append("the request does not read as English")
    q.injection = any(cue in low for cue in INJECTION_CUES)
    q.budget_max = parse_budget(low)
    if q.budget_max is not None:
        q.notes.append(f"budget: at most EUR {q.budget_max:,.0f}")
    low = _read_wrong_facts(low, vocab, q)
    low = _read_category(low, vocab, q)
    _read_contexts(low, q)
    _read_materials_colours(low, vocab, q)
    _read_origin_house_branding(low, vocab, q)
    for term, level in sorted(FORMALITY_WORDS.items(), key=lambda kv: -len(kv[0])):
        if _pattern(term).search(low) and not q.formality:
            q.formality = [level]
    for _, end, term in find_terms(low, PALETTE_WORDS):
        if re.match(r"\s*(colou?rs?|tones?|palette|shades?)\b", low[end:end + 14]):
            q.preferred["palette"] = PALETTE_WORDS[term]
    q.taste_led = bool(re.search(r"\b(love|adore|fall for|enjoy)\b|\bin (my|her|his|their) (style|taste)\b|"
                                 r"\bsurprise\b|\bwhat i have bought\b", low)) and not q.contexts
    return q


def _blank(text: str, start: int, end: int) -> str:
    """The text with [start, end) replaced by spaces (positions of everything else unchanged)."""
    return text[:start] + " " * (end - start) + text[end:]


def _read_wrong_facts(low: str, vocab: Vocabulary, q: QueryGraph) -> str:
    """Spot a wrong claim about a house's origin or craft, or a material's nature; record it and blank
    it out of the text, so the rest of the parse follows the real need, not the mistaken belief."""
    for start, end, term in find_terms(low, vocab.brands):
        house = vocab.brands[term]
        window_start, window_end = max(0, start - 60), min(len(low), end + 60)
        near = low[window_start:window_end]
        for s, e, word in find_terms(near, COUNTRY_WORDS):
            claimed, actual = COUNTRY_WORDS[word], vocab.house_country.get(house)
            if actual and claimed != actual and not re.search(r"\bmade in\b|\bproduced in\b", near):
                q.wrong_fact = {"kind": "origin", "subject": house, "claimed": claimed, "actual": actual}
                low = _blank(low, window_start + s, window_start + e)
        for craft_key, craft in vocab.crafts.items():
            pos = near.find(craft_key)
            actual = vocab.house_craft.get(house)
            if pos >= 0 and actual and craft != actual:
                q.wrong_fact = {"kind": "craft", "subject": house, "claimed": craft, "actual": actual}
                low = _blank(low, window_start + pos, window_start + pos + len(craft_key))
        break
    claim = re.compile(r"(?:\bis|\bbeing|\bas it is|\bas it's)\s+((?:(?!\b(?:so|and|then|but)\b)[^.;,?!])+)")
    for start, end, term in find_terms(low, set(MATERIAL_FACTS)):
        sentence_end = min([i for i in (low.find(c, end) for c in ".;?!") if i >= 0] + [len(low)])
        m = claim.search(low, end, sentence_end)
        if not m:
            continue
        claimed = m.group(1).strip()
        facts = MATERIAL_FACTS[term]
        wrong = (re.search(r"waterproof|rain|water-resistant|downpour|shower|storm|wet", claimed)
                 and not facts.rain) or \
            (re.search(r"summer|heat|hot|breathable|light enough", claimed) and "summer" not in facts.seasons) or \
            (re.search(r"snow|winter|warm enough|cold", claimed) and "winter" not in facts.seasons)
        if wrong:
            q.wrong_fact = {"kind": "material", "subject": term, "claimed": claimed,
                            "actual": f"{term} is not {claimed}"}
            low = _blank(low, m.start(1), m.end(1))
            for s, e, _ in find_terms(low, [term]):  # the wish rested on the mistake: not a constraint
                low = _blank(low, s, e)
    if q.wrong_fact:
        q.notes.append(f"wrong fact: {q.wrong_fact['subject']} — {q.wrong_fact['claimed']} "
                       f"(actually {q.wrong_fact['actual']})")
    return low


def _names_the_object(low: str, start: int, end: int, term: str, vocab: Vocabulary) -> bool:
    """Whether an out-of-catalogue word is the thing asked for, not a modifier of something a house
    sells ("jet black", "wine red", "boat shoes", "cat-eye sunglasses", "horse-bit loafers") nor a
    word inside a title. Animals count only as "a dog", "my cat"."""
    after = low[end:end + 30]
    if after.startswith("-"):
        return False
    following = re.match(r"\s+([a-z]+)", after)
    if following and (following.group(1) in OBJECT_MODIFIED or following.group(1) in vocab.colours
                      or any(c.split()[0] == following.group(1) for c in vocab.categories)):
        return False
    if term in ANIMALS:
        before = low[max(0, start - 12):start].split()
        return bool(before) and before[-1] in DETERMINERS
    return True


def _verb_watch(low: str, start: int, term: str) -> bool:
    """'watch' used as a verb ("something to watch", "we watch the regatta"): not the category."""
    if term != "watch":
        return False
    before = low[max(0, start - 12):start].split()
    return bool(before) and before[-1] in WATCH_VERB_CUES


def _read_category(low: str, vocab: Vocabulary, q: QueryGraph) -> str:
    """Category (or group) asked for; returns the text with category phrases blanked, so that
    'evening gown' is not read as the occasion 'evening', nor 'silk scarf' as a material wish."""
    found = find_terms(low, vocab.categories)
    hits = [(s, term) for s, _, term in found if not negated(low, s) and not _verb_watch(low, s, term)]
    if not hits:  # "a bag for the boat" asks for a bag; "a boat" alone asks for what no house sells
        for s, e, term in find_terms(low, OUT_OF_CATALOGUE):
            if not negated(low, s) and _names_the_object(low, s, e, term, vocab):
                q.impossible = f"a {term} is not something a luxury fashion house sells"
                q.notes.append(f"out of catalogue: {term}")
                return low
        return low
    specific = [(s, t) for s, t in hits if vocab.categories[t][0] in vocab.catalogue_categories]
    category, group = vocab.categories[(specific or hits)[0][1]]
    if specific:
        q.category = category
    q.category_group = group or (GENERIC_CATEGORIES.get(hits[0][1], (None, None))[1])
    q.notes.append(f"category: {q.category or q.category_group}")
    for s, e, term in found:
        if " " in term or "-" in term:
            low = _blank(low, s, e)
    return low


def _read_contexts(low: str, q: QueryGraph) -> None:
    """Occasions, places and seasons in reading order, grouped into contexts (an occasion at a place
    in a season), then the facts each context implies."""
    places = {fold(name).replace("st. ", "st "): name for name in PLACES}
    places.update({key.removeprefix("the "): name for key, name in list(places.items())})
    mentions = sorted(
        [(s, "occasion", OCCASION_WORDS[t]) for s, _, t in find_terms(low, OCCASION_WORDS) if not negated(low, s)]
        + [(s, "place", places[t]) for s, _, t in find_terms(low, places)]
        + [(s, "season", SEASON_WORDS[t]) for s, _, t in find_terms(low, SEASON_WORDS)])
    groups: list[dict] = []
    for _, kind, value in mentions:
        current = groups[-1] if groups else None
        if current is None or current.get(kind) is not None:
            current = {}
            groups.append(current)
        current[kind] = value
    with_context = [g for g in groups if g.get("occasion") or g.get("place")]
    lone_seasons = [g["season"] for g in groups if not (g.get("occasion") or g.get("place"))]
    for g in with_context:
        season = g.get("season") or (lone_seasons[0] if len(lone_seasons) == 1 and len(with_context) == 1 else None)
        ctx = implied_context(g.get("occasion"), g.get("place"), season)
        q.contexts.append(ctx)
        q.notes.append("context: " + ", ".join(f"{k}={v}" for k, v in ctx.items() if v not in (None, [], False)))
    for ctx in q.contexts:
        for key, target in (("occasion", q.occasions), ("place", q.places), ("season", q.season),
                            ("climate", q.climate)):
            if ctx[key] and ctx[key] not in target:
                target.append(ctx[key])
        q.wet = q.wet or ctx["wet"]
        q.formality = _intersect(q.formality, ctx["formality"])
        q.palette = _intersect(q.palette, ctx["palette"])
        for colour in ctx["must_not_colours"]:
            if colour not in q.must_not["colours"]:
                q.must_not["colours"].append(colour)
    for season in lone_seasons:
        if season not in q.season:
            q.season.append(season)


def _intersect(current: list[str] | None, new: list[str] | None) -> list[str] | None:
    if new is None:
        return current
    if current is None:
        return list(new)
    both = [v for v in current if v in new]
    return both or current  # contexts that disagree: keep the first rather than ask the impossible


def _read_materials_colours(low: str, vocab: Vocabulary, q: QueryGraph) -> None:
    material_terms = set(MATERIALS) | set(MATERIAL_FACTS) | {t for t, v in MATERIAL_SYNONYMS.items() if v}
    for start, end, term in find_terms(low, material_terms):
        name = term if term in MATERIAL_FACTS else (MATERIAL_SYNONYMS.get(term) or term)
        if term in vocab.colours:
            continue  # "gold", "silver", "rose gold" name the colour; "yellow gold" the material
        if re.match(r"\s*(?:-|\s)?(?:tone|look|effect|coloured|colored|piece|goods?)\b", low[end:end + 10]):
            continue
        if re.match(r"\s+(dial|case|bezel|frames?)\b", low[end:end + 8]) and q.category_group == "watches":
            continue
        target = q.must_not["materials"] if negated(low, start) or _ruled_out_after(low, end) else None
        if target is not None:
            if name not in target:
                target.append(name)
        else:
            q.material = (q.material or []) + ([name] if name not in (q.material or []) else [])
    colour_terms = set(COLOURS) | set(vocab.colours) | {t for t, v in COLOUR_SYNONYMS.items() if v}
    for start, end, term in find_terms(low, colour_terms):
        name = COLOUR_SYNONYMS.get(term) or term
        if term in material_terms and term not in vocab.colours and term not in COLOURS:
            continue  # "yellow gold": the material
        if negated(low, start) or _ruled_out_after(low, end):
            if name not in q.must_not["colours"]:
                q.must_not["colours"].append(name)
        elif name not in (q.colour or []):
            q.colour = (q.colour or []) + [name]


def _ruled_out_after(low: str, end: int) -> bool:
    """'Suede is out.' — a ruling-out that follows the term."""
    return bool(re.match(r"\s+(?:is|are)\s+(?:out|not welcome|a no)\b", low[end:end + 20]))


def _read_origin_house_branding(low: str, vocab: Vocabulary, q: QueryGraph) -> None:
    for start, end, term in find_terms(low, vocab.brands):
        if not negated(low, start):
            q.house = vocab.brands[term]
            break
    for start, end, term in find_terms(low, COUNTRY_WORDS):
        country = COUNTRY_WORDS[term]
        if negated(low, start) or (term == "english" and re.match(r"\s*(please|only)", low[end:])):
            continue
        sentence = re.split(r"[.;!?]", low[max(0, start - 60):start])[-1]
        if re.search(r"\bideally\b|\bif (at all )?possible\b|\bpreferably\b|\bwould be nice\b", sentence +
                     low[end:end + 30]):
            q.preferred["origin"] = country
        q.origin = country  # a stated origin is a condition; "ideally" also ranks it first
        break
    quiet = any(cue in low for cue in QUIET_BRANDING)
    for start, end, term in find_terms(low, BRANDING_WORDS):
        level = BRANDING_WORDS[term]
        if level == "logo-forward" and quiet:
            continue
        if level == "logo-forward" and negated(low, start):  # "avoid logos", "no logo"
            level = "discreet"
            q.must_not["branding"].append("logo-forward")
        q.branding = [level]
        break
    if q.branding is None and re.search(r"\b(no|without|nothing with)\s+(visible\s+)?logos?\b", low):
        q.branding = ["discreet"]
    if quiet and q.branding in (None, ["discreet"]) and not re.search(r"no visible logo|subtle branding", low):
        q.branding = ["discreet", "moderate"]
    if quiet and "logo-forward" not in q.must_not["branding"]:
        q.must_not["branding"].append("logo-forward")
    for craft_key, craft in vocab.crafts.items():
        if craft_key in low:
            q.preferred["craft"] = craft
