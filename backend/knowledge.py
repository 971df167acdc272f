"""General world knowledge for reading requests: `backend/data/knowledge.json`, loaded once.

The file describes the world, never a catalogue: which season a month falls in, a place's climate by
season, an occasion's usual formality and time of day, which materials fear rain, the words that
negate or cap a budget, and the kinds of things people shop for. The catalogue's own vocabulary
(categories, houses, attribute values) is read from the imported catalogue (`backend/vocabulary.py`).
Anyone can extend the file; the demo generator may read it, the engine never reads the demo generator.
"""

from __future__ import annotations

import json
import re
from dataclasses import MISSING, dataclass, field, fields
from functools import lru_cache
from pathlib import Path

KNOWLEDGE_PATH = Path(__file__).parent / "data" / "knowledge.json"
SEASONS = ("spring", "summer", "autumn", "winter")


@dataclass(frozen=True, eq=False)  # hashed by identity: one instance per file, cached
class Knowledge:
    """The tables of `knowledge.json`, typed. See the file's `_about` notes for each table."""

    season_words: dict[str, str]
    climate_seasons: dict[str, tuple[str, ...]]
    places: dict[str, dict]
    occasions: dict[str, dict]
    formality_ladder: tuple[str, ...]
    materials: dict[str, dict]
    country_words: dict[str, str]
    negations: tuple[str, ...]
    exclusion_after: tuple[str, ...]
    budget_before: tuple[str, ...]
    budget_after: tuple[str, ...]
    budget_about: tuple[str, ...]
    currency_words: dict[str, str]
    brand_suffixes: tuple[str, ...]
    injection_cues: tuple[str, ...]
    product_kinds: dict[str, tuple[str, ...]]
    kind_modifiers: frozenset[str]
    kind_verb_cues: frozenset[str]
    prepositions: frozenset[str]
    seeking_words: frozenset[str]
    stopwords: frozenset[str]
    budget_floor: tuple[str, ...] = ()  # "over €200": an amount that is a floor, never read as a budget cap
    budget_exceed: tuple[str, ...] = ()  # "can't spend more than €50": a cap only when negated
    object_determiners: frozenset[str] = frozenset()  # words that introduce what a request asks for ("a", "some")
    vague_objects: frozenset[str] = frozenset()  # objects that name no kind of thing ("a gift", "a present")
    ambiguous_season_words: frozenset[str] = frozenset()  # season words that are also everyday words ("may")
    ambiguous_place_words: frozenset[str] = frozenset()  # place names that are also everyday words ("nice")
    season_cues: frozenset[str] = frozenset()  # words after which such a word is the season ("this fall")
    abbreviations: frozenset[str] = frozenset()  # "St. Moritz": a full stop after one of these ends no sentence
    owner_words: frozenset[str] = frozenset()  # "my laptop": a thing owned, mentioned rather than asked for
    # "I've got a Kawase wallet", "my husband only wears Seterie ties": a thing had, mentioned rather than asked for
    possession_verbs: frozenset[str] = frozenset()
    possessors: frozenset[str] = frozenset()  # who has it ("i", "we"; or any word after an owner word: "my husband")
    clause_openers: frozenset[str] = frozenset()  # "As the evenings get colder": a sentence of circumstances
    # "Bought a Seterie tie last month.": possession verbs that say who has the thing when they open a sentence
    possession_said_alone: frozenset[str] = frozenset()
    quantity_words: frozenset[str] = frozenset()  # "a lot of", "a pair of": words before a thing had, not of it
    hedge_words: tuple[str, ...] = ()  # "suede, ideally": a wish, not a condition the thing must meet
    possession_adverbs: frozenset[str] = frozenset()  # "we already have": words between the one who has and the verb
    # "my father-in-law gave me a watch": a verb of giving, past, then whom (`gift_recipients`): the thing is had
    gift_verbs: frozenset[str] = frozenset()
    gift_recipients: frozenset[str] = frozenset()
    count_words: frozenset[str] = frozenset()  # "a sleeve to carry two pens": a number said in words
    companion_cues: tuple[str, ...] = ()  # "cufflinks to go with the tie": the tie is mentioned, not asked for
    # "I own Alpenfeld sunglasses; frames from them too?": words after which the house of a thing had is asked for
    house_references: tuple[str, ...] = ()
    shop_owner_words: frozenset[str] = frozenset()  # "one of their blazers", "does your boutique have": the shop's
    relative_words: frozenset[str] = frozenset()  # "a friend who bought a boat": a clause that mentions things
    bare_object_verbs: frozenset[str] = frozenset()  # "do they make champagne flutes?": a plural asked for bare
    animal_words: tuple[str, ...] = ()  # "shampoo for my golden retriever": a thing for an animal
    animal_person_words: frozenset[str] = frozenset()  # "for a dog lover" (a person), "the dog days"
    animal_kinds: tuple[str, ...] = ()  # the `product_kinds` groups of things for animals
    kind_synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)  # "trainers" is "sneakers"
    material_families: dict[str, tuple[str, ...]] = field(default_factory=dict)  # "leather": calfskin, suede, ...
    # names of `product_kinds` for a sort that no other sort of its kind stands in for (vodka is no gin, a backpack
    # no tote): carried only where the name itself (or a synonym) is a category or in a title
    distinct_sorts: frozenset[str] = frozenset()
    money_words: dict[str, str] = field(default_factory=dict)  # "a tenner": "10 pounds"
    minor_units: dict[str, str] = field(default_factory=dict)  # "cents": "dollars" (a hundredth of one)
    kind_attribute_keys: frozenset[str] = frozenset()  # "type: ink": a value naming what a thing is, not a property
    measure_units: dict[str, list[dict]] = field(default_factory=dict)  # "hours" is "h"; a week is 168 of them
    number_floor_after: tuple[str, ...] = ()  # "SPF 50 or higher": a number that is a floor

    def other_names(self, words: str, key=str.lower) -> tuple[str, ...]:
        """The other names of the thing `words` names in `kind_synonyms` ("trainers" -> "sneakers", ...),
        names compared by `key` (the request reader's `phrase_key`: "trainer" is "trainers")."""
        return next((tuple(n for n in names if key(n) != key(words)) for names in self.kind_synonyms.values()
                     if key(words) in {key(n) for n in names}), ())

    @lru_cache(maxsize=16)  # read for every noun phrase of every request; one set per (file, dimension)
    def unit_names(self, dimension: str) -> frozenset[str]:
        """Every name of the units of one dimension of `measure_units` ("time": "h", "days", "weeks", ...)."""
        return frozenset(name for unit in self.measure_units.get(dimension, ()) for name in unit["names"])

    def rain_sensitive(self) -> frozenset[str]:
        """Materials that do not stand up to rain."""
        return frozenset(name for name, facts in self.materials.items() if not facts.get("rain", True))

    def material_seasons(self, name: str) -> tuple[str, ...]:
        return tuple(self.materials.get(name, {}).get("seasons", SEASONS))

    def implied_context(self, occasion: str | None, place: str | None, season: str | None) -> dict:
        """What one occasion at one place in one season leaves unsaid: climate, rain, time of day,
        setting, formality levels and the item seasons that suit it. Every value may be None."""
        facts = self.places.get(place or "", {})
        climate = wet = None
        if facts and season:
            climate = facts["climate"][SEASONS.index(season)]
            wet = season in facts.get("wet", [])
        spec = self.occasions.get(occasion or "", {})
        seasons = list(self.climate_seasons[climate]) if climate else ([season] if season else [])
        outdoor = bool(spec.get("outdoor")) or (facts.get("setting") not in (None, "city") and occasion is not None)
        return {"occasion": occasion, "place": place, "country": facts.get("country"), "season": season,
                "climate": climate, "wet": bool(wet), "time": spec.get("time"),
                "setting": ("outdoor" if outdoor else "indoor") if occasion else None,
                "formality": spec.get("formality"), "item_seasons": seasons,
                "describe": list(spec.get("describe", []))}


def _public(table: dict) -> dict:
    return {k: v for k, v in table.items() if not k.startswith("_")}


def _as_is(table):
    return table


def _tuples(table: dict) -> dict:
    return {k: tuple(v) for k, v in _public(table).items()}


# How a table of the file becomes its field of `Knowledge`; a field named nowhere here takes its table as it is.
_READ_AS = {
    tuple: ("formality_ladder", "negations", "exclusion_after", "budget_before", "budget_after", "budget_about",
            "brand_suffixes", "injection_cues", "budget_floor", "budget_exceed", "animal_words", "animal_kinds",
            "number_floor_after", "companion_cues", "house_references", "hedge_words"),
    frozenset: ("kind_modifiers", "kind_verb_cues", "prepositions", "seeking_words", "stopwords",
                "object_determiners", "vague_objects", "ambiguous_season_words", "ambiguous_place_words",
                "season_cues", "abbreviations", "owner_words", "possession_verbs", "possessors", "possession_adverbs",
                "possession_said_alone", "quantity_words", "gift_verbs", "gift_recipients", "count_words",
                "shop_owner_words", "relative_words", "clause_openers", "bare_object_verbs", "animal_person_words",
                "kind_attribute_keys", "distinct_sorts"),
    _public: ("places", "occasions", "materials", "measure_units"),
    _tuples: ("climate_seasons", "product_kinds", "kind_synonyms", "material_families"),
}
_READER = {name: read for read, names in _READ_AS.items() for name in names}


@lru_cache(maxsize=4)
def load_knowledge(path: str | None = None) -> Knowledge:
    """The knowledge file (default `backend/data/knowledge.json`), parsed once per path. A table the file
    lacks leaves its field at the default, where the field has one."""
    raw = json.loads(Path(path or KNOWLEDGE_PATH).read_text(encoding="utf-8"))
    tables = {f.name: raw[f.name] for f in fields(Knowledge) if f.name in raw or f.default is MISSING}
    return Knowledge(**{name: _READER.get(name, _as_is)(table) for name, table in tables.items()})


def negated(text: str, start: int, negations: tuple[str, ...] | None = None) -> bool:
    """Whether the words just before `start` (same clause, at most four words) negate what follows; a colon
    ends the clause ("Summer evenings without socks: suede loafers"). A cue followed by a verb of having
    (`possession_verbs`: "I've never owned a real winter coat", "I don't have a belt") negates the having, not
    the thing: it is not ruled out.

    Cues match whole words only: "another" does not hold "not", "know" does not hold "no"."""
    knowledge = load_knowledge()
    negations = negations if negations is not None else knowledge.negations
    clause = re.split(r"[,.;:!?]|\bbut\b|\band\b", text[max(0, start - 48):start])[-1]
    window = " " + " ".join(re.findall(r"[\w'-]+", clause)[-4:]) + " "
    return any(f" {cue} " in window and not set(window.split(f" {cue} ", 1)[1].split()) & knowledge.possession_verbs
               for cue in negations)
