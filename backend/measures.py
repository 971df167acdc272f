"""Numbers a request holds a thing to, read against the same numbers in this catalogue's items.

"Sunscreen with SPF 100" of a shop whose sunscreens stop at SPF 70, "a reed diffuser that lasts at least six
months" where the diffusers last three: a measure is a word said next to a number — a label before it ("SPF
50", "rating 4.6") or a unit after it ("45 h", "3 months", "200 ml"). Units of one dimension are compared in
one size (`measure_units` of the knowledge file: "hours" is "h", a week is 168 of them); any other word is
its own measure. The items say which measures exist: a measure the request gives a number for is judged only
on the items of the asked kind that state it, and only when some do.

A request's number is a floor when a floor cue precedes or follows it ("at least", "or more", "+"), a cap
when a cap cue does ("up to", "or less"), and otherwise what is asked: met by an item that reaches it. The
judgement is lenient by design: a number said plainly is unmet only when no item of the kind reaches it (a
quantity of one of the file's dimensions within `MEASURE_SLACK` of it: "40 hours" is met by "38 h"; a size or
grade as said: "EU 49" is not met by "EU 39-47"), so "SPF 45" is met by SPF 50 and "a 50 ml perfume" by a
larger bottle; a floor or cap said with its cue holds exactly. A range an item states ("size range: UK 6-18")
gives both its ends, the second in the unit of the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from backend.vocabulary import RANGE_TO, phrase_key, stem

# How far a stated number may miss what is asked and still meet it (10%: "40 hours" is met by "38 h").
MEASURE_SLACK = 0.1
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\d.]*\d)")
_AFTER = re.compile(r"[\s-]*([a-z]+|%)")  # "3 months", "3-wick", "54%"
_BEFORE = re.compile(r"([a-z][a-z-]*)\s*[:=]?\s*$")  # "SPF 50", "wicks: 3"
# a number said of a person, not of the thing: "I'm 1.60m", "she is 5 ft 4", "my son is 8" (English, like the cues)
_OF_A_PERSON = re.compile(r"(?:\bi\s*['\u2019]?\s*m|\bi am|\b(?:he|she)\s*['\u2019]\s*s|\b(?:he|she) is|"
                          r"\b(?:we|they)\s*['\u2019]?\s*re|\b(?:we|they) are|\b(?:my|our|his|her) \w+ (?:is|are))"
                          r"\s+(?:only |just |about |around |nearly |almost |over |under )?$")


@dataclass(frozen=True)
class Stated:
    """One number a text states of a measure ("spf", "time"), in the measure's own size."""

    measure: str
    value: float
    start: int  # where the number starts in the text it was read from
    end: int
    said: str  # the number with its word, as written ("spf 100", "6 months")


@lru_cache(maxsize=4)  # one table per knowledge file (`Knowledge` hashes by identity), not one per text read
def unit_table(knowledge) -> dict[str, tuple[str, float]]:
    """Stemmed unit name -> (dimension, size in the dimension's smallest unit), from `measure_units`."""
    out = {}
    for dimension, units in knowledge.measure_units.items():
        for unit in units:
            for name in unit["names"]:
                out[stem(name.lower())] = (dimension, float(unit["size"]))
    return out


def stated_numbers(text: str, knowledge, skip: frozenset[str] = frozenset(),
                   kind_words: frozenset[str] | None = None) -> list[Stated]:
    """Every (measure, number) a folded text states: "SPF 50" -> ("spf", 50), "3 months" -> ("time", 2190.0).

    Args:
        text (`str`): folded, lower-case text (numbers in digits).
        knowledge (`Knowledge`): `measure_units`, stopwords and prepositions (never a measure).
        skip (`frozenset[str]`): more words that are never a measure (currency words, in a request).
        kind_words (`frozenset[str]`, *optional*): in a request, the stemmed words of the thing asked for: a
            number and unit that another noun follows describe that noun ("a 3 day trip", "a 30 year old"),
            unless it is the thing ("a 45 hour candle").
    """
    units, out = unit_table(knowledge), []
    never = knowledge.stopwords | knowledge.prepositions | skip
    for m in NUMBER.finditer(text):
        after = _AFTER.match(text, m.end())
        before = _BEFORE.search(text[max(0, m.start() - 40):m.start()])
        end_of = _range_end(text, m, out) if not after else None  # "size range: UK 6-18"
        if end_of is not None:
            out.append(end_of)
            continue
        unit = after.group(1) if after else None
        if unit is not None and stem(unit) in skip:
            continue  # "190 USD": money, whatever label comes before it
        said = f"{m.group(0)} {unit}"
        if unit is None or (stem(unit) not in units and (unit in never or before and before.group(1) not in never)):
            unit = before.group(1) if before and before.group(1) not in never else None
            said = f"{unit} {m.group(0)}"
        if unit is None or unit in never or stem(unit) in never:
            continue
        if kind_words is not None and _OF_A_PERSON.search(text[max(0, m.start() - 30):m.start()]):
            continue
        noun = _AFTER.match(text, after.end()) if after and said.endswith(unit) else None
        if kind_words is not None and noun and noun.group(1) not in never and stem(noun.group(1)) not in kind_words:
            continue
        dimension, size = units.get(stem(unit), (stem(unit), 1.0))
        out.append(Stated(dimension, float(m.group(0)) * size, m.start(), m.end(), said))
    return out


def _range_end(text: str, number: re.Match, stated: list[Stated]) -> Stated | None:
    """The end of a range whose start is the last number stated ("UK 6-18", "6 to 18"), in the start's unit."""
    if not stated or not RANGE_TO.fullmatch(text, stated[-1].end, number.start()):
        return None
    said = float(text[stated[-1].start:stated[-1].end])
    if not said:
        return None
    return Stated(stated[-1].measure, float(number.group(0)) * stated[-1].value / said, number.start(),
                  number.end(), f"{stated[-1].said} - {number.group(0)}")


def item_numbers(item: dict, knowledge) -> dict[str, list[float]]:
    """Measure -> the numbers an item states of it, in its title, description and attribute values ("burn
    time: 45 h" -> time; "pieces: 6" -> piece)."""
    parts = [item.get("title") or "", str(item.get("description") or "")]
    for key, value in (item.get("attributes") or {}).items():
        values = value if isinstance(value, list) else [value]
        parts += [f"{key} {v}" for v in values]
    out: dict[str, list[float]] = {}
    for part in parts:
        for s in stated_numbers(_plain(part), knowledge):
            out.setdefault(s.measure, []).append(s.value)
    return out


def _plain(text: str) -> str:
    """Folded lower-case text with its numbers kept whole ("1.7 oz", "45 h")."""
    from catalog.derive import fold

    return re.sub(r"\s+", " ", fold(text).lower())


def direction(text: str, stated: Stated, knowledge) -> str:
    """`floor`, `cap` or `asked` for a number of the request, by the cue just before or just after it."""
    before, after = text[:stated.start].rstrip(), text[stated.end:]
    if re.search(r"\+", after[:2]) or _cue_after(after, knowledge.number_floor_after):
        return "floor"
    if _cue_after(after, knowledge.budget_after):
        return "cap"
    if _cue_before(before, knowledge.budget_floor):
        return "floor"
    if _cue_before(before, knowledge.budget_before):
        return "cap"
    return "asked"


def _cue_before(before: str, cues) -> bool:
    tail = " ".join(before.split()[-4:])
    return any(re.search(rf"(?<!\w){re.escape(c)}$", tail) for c in cues)


def _cue_after(after: str, cues) -> bool:
    # the cue may follow the measure's word: "6 months or longer", "SPF 50 or higher"
    head = " ".join(after.split()[:4])
    return any(re.search(rf"^(?:\S+\s+)?{re.escape(c)}(?!\w)", head) for c in cues)


def meets(values: list[float], wanted: float, how: str, slack: float = MEASURE_SLACK) -> bool:
    """Whether any of an item's numbers meets a request's number read as `how`: a floor or a cap said with a
    cue holds exactly, a number said plainly allows `slack` below it."""
    if how == "cap":
        return any(v <= wanted for v in values)
    return any(v >= wanted * (1 - (slack if how == "asked" else 0.0)) for v in values)


@lru_cache(maxsize=4)
def money_words(knowledge) -> frozenset[str]:
    """Words that make a request's number a sum of money, never a measure: currency names and the words of
    budget cues ("190 USD", "budget cap 190")."""
    cues = knowledge.budget_before + knowledge.budget_after + knowledge.budget_about
    said = {w for cue in cues for w in cue.split()} | {w for w in knowledge.currency_words if w.isalpha()}
    never = knowledge.stopwords | knowledge.prepositions | {w for n in knowledge.negations for w in n.split()}
    return frozenset(stem(w) for w in said if w.isalpha() and w not in never)


def unmet_number(text: str, phrase: str, kind_items: Callable[[], list[dict]], knowledge,
                 cache: dict[str, dict] | None = None) -> str | None:
    """Why no item of the asked kind meets a number the request gives, or None.

    Args:
        text (`str`): the request.
        phrase (`str`): the noun phrase of the thing asked for.
        kind_items (`Callable[[], list[dict]]`): gives the catalogue items of the kind asked for (called only
            when the request states a number).
        knowledge (`Knowledge`): units and cues.
        cache (`dict`, *optional*): item id -> `item_numbers`, kept by the caller across requests.

    Returns:
        `str | None`: the measure and number unmet ("spf 100"), or None when every number is met, no item of
        the kind states the measure, or there is no item of the kind.
    """
    from backend.understand import numerals

    low = numerals(_plain(text), knowledge)
    skip = money_words(knowledge)
    stated = stated_numbers(low, knowledge, skip, frozenset(phrase_key(phrase).split()))
    if not stated:
        return None
    items = kind_items()
    if not items:
        return None
    cache = {} if cache is None else cache
    for item in items:
        if item["item_id"] not in cache:
            cache[item["item_id"]] = item_numbers(item, knowledge)
    numbers = [cache[item["item_id"]] for item in items]
    for s in stated:
        described = [n[s.measure] for n in numbers if s.measure in n]
        # a quantity of a known dimension ("40 hours" is met by "38 h"); a size or a grade is met as said ("EU 49")
        slack = MEASURE_SLACK if s.measure in knowledge.measure_units else 0.0
        if described and not any(meets(values, s.value, direction(low, s, knowledge), slack) for values in described):
            return s.said
    return None


def kind_items_of(phrase: str, titles: dict[str, str], items: dict[str, dict], knowledge) -> list[dict]:
    """The items whose title or category holds the longest run of the phrase's last words that any title holds,
    the phrase read up to its first function word or negation ("matcha without caffeine" is matcha): "lip balm"
    -> the lip balms, not every balm; "the best dry shampoo" -> the dry shampoos.

    Args:
        phrase (`str`): a noun phrase of the request.
        titles (`dict[str, str]`): item id -> its title's and category's stemmed words, space-padded.
        items (`dict[str, dict]`): item id -> catalogue item.
        knowledge (`Knowledge`): stopwords, prepositions and negations end the phrase.
    """
    ends = knowledge.stopwords | knowledge.prepositions | {w for w in knowledge.negations if " " not in w}
    said = phrase.lower().split()
    cut = next((n for n, w in enumerate(said) if n and w in ends), len(said))
    keys = phrase_key(" ".join(said[:cut])).split()
    for n in range(len(keys)):
        held = [items[i] for i, t in titles.items() if all(f" {k} " in t for k in keys[n:])]
        if held:
            return held
    return []
