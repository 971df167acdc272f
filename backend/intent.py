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
    "meeting": "business meeting", "the office": "office", "work": "office", "workdays": "office",
    "cocktails": "cocktail", "cocktail party": "cocktail", "cocktail parties": "cocktail", "drinks": "cocktail",
    "galas": "gala", "black-tie event": "gala", "black tie event": "gala", "ball": "gala", "charity ball": "gala",
    "the opera": "opera", "premiere": "opera", "garden parties": "garden party",
    "beach": "resort", "holiday by the sea": "resort", "seaside": "resort", "vacation": "resort",
    "holiday": "resort", "poolside": "resort", "weekends": "weekend", "brunch": "weekend",
    "trip": "travel", "trips": "travel", "travelling": "travel", "traveling": "travel", "flights": "travel",
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
    "quiet luxury": "discreet", "some branding": "moderate", "a little branding": "moderate",
    "recognisable": "moderate", "recognizable": "moderate", "logo": "logo-forward", "logos": "logo-forward",
    "logo-forward": "logo-forward", "monogram": "logo-forward", "statement logo": "logo-forward",
    "visible branding": "logo-forward", "bold branding": "logo-forward",
}
FORMALITY_WORDS = {
    "black tie": "black-tie", "black-tie": "black-tie", "formal": "formal", "dressy": "formal",
    "smart casual": "smart-casual", "smart-casual": "smart-casual", "casual": "casual", "relaxed": "casual",
    "businesslike": "business", "business attire": "business",
}
PALETTE_WORDS = {"dark": "dark", "darker": "dark", "light": "light", "lighter": "light", "pale": "light",
                 "bright": "bright", "colourful": "bright", "colorful": "bright", "neutral": "neutral",
                 "neutrals": "neutral"}
# Things a luxury fashion house does not sell: a request for one can only be answered "nothing fits".
OUT_OF_CATALOGUE = ("sports car", "car", "yacht", "boat", "private jet", "jet", "helicopter", "house", "villa",
                    "apartment", "sofa", "furniture", "laptop", "phone", "smartphone", "television", "bicycle",
                    "motorbike", "wine", "champagne", "tickets", "hotel", "flight ticket", "puppy", "horse",
                    "painting", "piano", "perfume", "fragrance", "lipstick", "skincare", "tent")
NEGATIONS = ("no", "not", "without", "avoid", "never", "nothing in", "anything but", "don't want", "do not want",
             "hate", "hates", "dislike", "dislikes", "except", "rather than", "instead of", "no more",
             "allergic to", "can't stand", "cannot stand", "won't wear", "doesn't wear", "does not wear")
SOFTENERS = ("prefer", "prefers", "preferably", "ideally", "if possible", "would love", "love", "loves",
             "leaning towards", "would be nice", "rather")
INJECTION_CUES = ("ignore your instructions", "ignore all previous", "ignore previous instructions",
                  "ignore the above", "system prompt", "every client", "all clients", "other clients",
                  "list all", "reveal", "developer mode", "disregard")
ENGLISH_WORDS = {"a", "an", "the", "for", "and", "or", "i", "my", "me", "to", "in", "of", "with", "that", "this",
                 "something", "need", "want", "looking", "would", "can", "also", "is", "be", "on", "she", "he",
                 "her", "his", "client", "please", "it", "some", "at", "but", "not", "no", "like", "what"}
CLAUSE_SPLIT = re.compile(r"[.;!?]|,\s+(?:and\s+)?(?:but|which|that)\b|\b(?:that can also|that also|and also|as well "
                          r"as|but also|while also|and then|and later|then)\b")
LEATHERS = ("calfskin", "grained calfskin", "lambskin", "suede", "patent leather", "crocodile", "ostrich",
            "alligator leather", "nappa", "goatskin", "nubuck", "leather")


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
    branding: str | None = None
    colour: str | None = None
    material: str | None = None
    budget_max: float | None = None
    must_not: dict = field(default_factory=lambda: {"materials": [], "colours": [], "branding": []})
    preferred: dict = field(default_factory=dict)
    taste_led: bool = False
    wrong_fact: str | None = None
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
    crafts: dict[str, str]
    categories: dict[str, tuple[str, str]]  # term -> (category, group)
    catalogue_categories: set[str]


def build_vocabulary(items: list[dict]) -> Vocabulary:
    """The vocabulary of a catalogue (demo world or any imported one)."""
    from collections import Counter, defaultdict

    origins: dict[str, Counter] = defaultdict(Counter)
    crafts, categories = {}, dict(CATEGORY_WORDS)
    for item in items:
        attrs = item.get("attributes", {})
        if item.get("brand") and attrs.get("origin"):
            origins[item["brand"]][attrs["origin"]] += 1
        if attrs.get("craft"):
            crafts[fold(attrs["craft"])] = attrs["craft"]
        if item.get("category"):
            categories.setdefault(fold(item["category"]), (item["category"], attrs.get("category_group")))
    brands = {fold(it["brand"]): it["brand"] for it in items if it.get("brand")}
    return Vocabulary(brands, {b: c.most_common(1)[0][0] for b, c in origins.items()}, crafts, categories,
                      {it.get("category") for it in items if it.get("category")})


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


def softened(clause: str) -> bool:
    return any(re.search(rf"\b{re.escape(cue)}\b", clause) for cue in SOFTENERS)


def parse_budget(text: str) -> float | None:
    """The most the client wants to spend, from phrases like 'under €3,000' or 'budget 2.5k'."""
    money = r"(?:€|eur(?:os?)?|euro)?\s*(\d[\d,.]*)\s*(k|thousand)?\s*(?:€|eur(?:os?)?|euro)?"
    match = re.search(r"(?:under|below|less than|up to|no more than|max(?:imum)?|at most|within|budget(?: of| is"
                      r"| around| about)?|around|about|cheaper than)\s*:?\s*" + money, text)
    if not match:
        return None
    value = float(match.group(1).replace(",", "").rstrip("."))
    if match.group(2):
        value *= 1000
    if match.group(0).startswith(("around", "about", "budget around", "budget about")):
        value *= 1.15  # "around 2,000" tolerates a little more
    return value


def parse_request(text: str, vocab: Vocabulary) -> QueryGraph:
    """Read a request into a query graph.

    Args:
        text (`str`): the client's request.
        vocab (`Vocabulary`): terms of the live catalogue (`build_vocabulary`).

    Returns:
        `QueryGraph`: hard constraints, implied context, soft preferences and notes.
    """
    low = fold(text)
    q = QueryGraph(text=text)
    words = re.findall(r"[a-z']+", low)
    if len(words) >= 4 and sum(w in ENGLISH_WORDS for w in words) / len(words) < 0.08:
        q.language = "other"
        q.notes.append("the request does not read as English")
    q.injection = any(cue in low for cue in INJECTION_CUES)
    _read_category(low, vocab, q)
    _read_contexts(low, q)
    _read_materials_colours(low, q)
    _read_origin_house_branding(low, vocab, q)
    q.budget_max = parse_budget(low)
    if q.budget_max is not None:
        q.notes.append(f"budget: at most EUR {q.budget_max:,.0f}")
    for term, level in sorted(FORMALITY_WORDS.items(), key=lambda kv: -len(kv[0])):
        if _pattern(term).search(low) and not q.formality:
            q.formality = [level]
    for _, end, term in find_terms(low, PALETTE_WORDS):
        if re.match(r"\s*(colou?rs?|tones?|palette|shades?)\b", low[end:end + 14]):
            q.preferred["palette"] = PALETTE_WORDS[term]
    q.taste_led = bool(re.search(r"\b(she|he|they|i)('d| would| will)? (love|adore|like)\b|\bsurprise\b|"
                                 r"\bsomething (special|for (her|him))\b|\bher taste\b|\bhis taste\b|\bmy taste\b",
                                 low))
    return q


def _read_category(low: str, vocab: Vocabulary, q: QueryGraph) -> None:
    hits = [(s, term) for s, _, term in find_terms(low, vocab.categories) if not negated(low, s)]
    if hits:
        category, group = vocab.categories[hits[0][1]]
        q.category_group = group
        if category not in ("bag",) and category in vocab.catalogue_categories:
            q.category = category
        q.notes.append(f"category: {q.category or group}")
        return
    for s, _, term in find_terms(low, OUT_OF_CATALOGUE):
        q.impossible = f"a {term} is not something a luxury fashion house sells"
        q.notes.append(f"out of catalogue: {term}")
        return


def _read_contexts(low: str, q: QueryGraph) -> None:
    """Occasions, places and seasons, grouped by clause into contexts, then their implied facts."""
    places = {fold(name): name for name in PLACES}
    places.update({fold(name.removeprefix("the ")): name for name in PLACES})
    all_seasons = [SEASON_WORDS[t] for _, _, t in find_terms(low, SEASON_WORDS)]
    for clause in CLAUSE_SPLIT.split(low):
        occasions = [OCCASION_WORDS[t] for s, _, t in find_terms(clause, OCCASION_WORDS) if not negated(clause, s)]
        found = [places[t] for _, _, t in find_terms(clause, places)]
        seasons = [SEASON_WORDS[t] for _, _, t in find_terms(clause, SEASON_WORDS)]
        if not occasions and not found:
            continue
        season = seasons[0] if seasons else (all_seasons[0] if len(set(all_seasons)) == 1 else None)
        occasion = next((o for o in occasions if o not in ("evening",)), occasions[0] if occasions else None)
        ctx = implied_context(occasion, found[0] if found else None, season)
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
    for season in all_seasons:
        if season not in q.season:
            q.season.append(season)


def _intersect(current: list[str] | None, new: list[str] | None) -> list[str] | None:
    if new is None:
        return current
    if current is None:
        return list(new)
    both = [v for v in current if v in new]
    return both or current  # contexts that disagree: keep the first rather than ask the impossible


def _read_materials_colours(low: str, q: QueryGraph) -> None:
    material_terms = set(MATERIALS) | set(MATERIAL_FACTS) | {t for t, v in MATERIAL_SYNONYMS.items() if v}
    for start, end, term in find_terms(low, material_terms):
        name = MATERIAL_SYNONYMS.get(term) or term
        if negated(low, start):
            q.must_not["materials"].append(name)
        elif re.match(r"\s*(?:-|\s)?(?:tone|look|effect|coloured|colored)\b", low[end:end + 10]):
            continue
        elif _wrong_material_claim(low, start, end, name):
            q.wrong_fact = f"{name} is not waterproof"
            q.notes.append(f"wrong fact: {name} does not stand up to rain; read as a wish for rain-proof pieces")
            q.wet = True
        elif q.material is None:
            q.material = name
    colour_terms = set(COLOURS) | {t for t, v in COLOUR_SYNONYMS.items() if v}
    for start, end, term in find_terms(low, colour_terms):
        name = COLOUR_SYNONYMS.get(term) or term
        if term in MATERIALS and re.match(r"\s+(watch|ring|bracelet|necklace|earring|case|cufflink)", low[end:]):
            continue  # "gold ring": the material, not a colour
        if negated(low, start):
            q.must_not["colours"].append(name)
        elif q.colour is None and name not in q.must_not["colours"]:
            q.colour = name


def _wrong_material_claim(low: str, start: int, end: int, name: str) -> bool:
    facts = MATERIAL_FACTS.get(name)
    near = low[max(0, start - 25):end + 25]
    return bool(facts and not facts.rain and re.search(r"waterproof|rain-?proof|water-resistant|for the rain", near))


def _read_origin_house_branding(low: str, vocab: Vocabulary, q: QueryGraph) -> None:
    clauses = {m.start(): m.group(0) for m in re.finditer(r"[^.;!?]+", low)}

    def clause_at(pos: int) -> str:
        return next((c for s, c in clauses.items() if s <= pos < s + len(c)), low)

    brand_hits = find_terms(low, vocab.brands)
    for start, end, term in brand_hits:
        house = vocab.brands[term]
        if negated(low, start):
            continue
        q.house = house
        claimed = [COUNTRY_WORDS[t] for _, _, t in find_terms(low[max(0, start - 30):end + 30], COUNTRY_WORDS)]
        true_country = vocab.house_country.get(house)
        if claimed and true_country and claimed[0] != true_country:
            q.wrong_fact = f"{house} is a house from {true_country}, not {claimed[0]}"
            q.notes.append(f"wrong fact: {q.wrong_fact}; the house is what was asked for")
            low = low[:max(0, start - 30)] + " " * (end + 30 - max(0, start - 30)) + low[end + 30:]
        break
    for start, end, term in find_terms(low, COUNTRY_WORDS):
        if term in ("english",) and re.match(r"\s*(please|only)", low[end:]):
            continue
        country = COUNTRY_WORDS[term]
        if negated(low, start):
            continue
        if softened(clause_at(start)):
            q.preferred["origin"] = country
        elif q.origin is None:
            q.origin = country
        break
    if q.origin is None and "origin" in q.preferred:
        q.origin = q.preferred["origin"]  # "I prefer Italian craftsmanship" is a stated condition
    for start, end, term in find_terms(low, BRANDING_WORDS):
        level = BRANDING_WORDS[term]
        if level == "logo-forward" and negated(low, start):
            q.must_not["branding"].append("logo-forward")
            level = "discreet"
        if q.branding is None:
            q.branding = level
    for craft_key, craft in vocab.crafts.items():
        if craft_key in low:
            q.preferred["craft"] = craft
    for start, _, term in find_terms(low, LEATHERS):
        if term == "leather" and not negated(low, start) and q.material == "leather":
            q.notes.append("material: any leather")
