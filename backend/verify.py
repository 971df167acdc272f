"""The step verifier: pure functions that check reasoning against catalogue facts, the request and
the client's preferences. Shared by serving (verdicts stored with each shortlist) and training
(RAAE penalises steps the verifier flags), so it imports nothing heavier than the standard library.

A step is checked for three kinds of claim:
1. catalogue facts: a step that names one candidate and an attribute value ("B is in silk") must
   agree with that item's attributes;
2. the request: a step that promotes a candidate ("B is ideal", "choose B") must not promote an
   item that breaks a hard constraint of the query graph;
3. the client: a step that promotes a candidate must not promote what the client clearly dislikes.
A step with no checkable claim is "unchecked" — neither right nor wrong.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

LEATHERS = ("calfskin", "grained calfskin", "lambskin", "suede", "patent leather", "crocodile", "ostrich",
            "alligator leather", "nappa", "goatskin", "nubuck", "leather")
PROMOTING = ("best", "ideal", "perfect", "recommend", "choose", "pick", "fits", "fit", "suits", "suit", "matches",
             "match", "good", "great", "works", "top", "first", "excellent", "right", "love")
NEGATING = ("not", "no", "isn't", "doesn't", "don't", "never", "without", "lacks", "fails", "too", "but")
CHECKED_KEYS = ("material", "colour", "season", "occasion", "branding", "origin", "formality", "palette")
STEP_SPLIT = re.compile(r"(?m)^\s*(?:step\s*)?(\d+)[.):]\s+", re.IGNORECASE)


@dataclass
class StepCheck:
    """The verifier's verdict on one reasoning step."""

    index: int
    text: str
    items: list[str] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)
    verdict: str = "unchecked"  # consistent | inconsistent | unchecked
    problems: list[str] = field(default_factory=list)
    support: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def split_steps(text: str) -> list[str]:
    """Numbered steps ("1." / "Step 2:"), else non-empty lines/paragraphs, of a reasoning text."""
    text = text.strip()
    if not text:
        return []
    marks = list(STEP_SPLIT.finditer(text))
    if marks:
        bounds = [m.start() for m in marks] + [len(text)]
        steps = [text[marks[i].end():bounds[i + 1]].strip() for i in range(len(marks))]
        return [s for s in steps if s]
    return [line.strip() for line in re.split(r"\n\s*\n|\n", text) if line.strip()]


def values_of(item: dict, key: str) -> list[str]:
    if key in ("brand", "category"):
        value = item.get(key)
    else:
        value = item.get("attributes", {}).get(key)
    values = value if isinstance(value, list) else [value] if value not in (None, "") else []
    return [str(v).lower() for v in values]


def material_matches(wanted: str, materials: list[str]) -> bool:
    """'silk' matches 'silk twill'; 'leather' matches any leather; 'gold' matches 'white gold'."""
    wanted = wanted.lower()
    if wanted == "leather":
        return any(m in LEATHERS or "leather" in m for m in materials)
    return any(wanted == m or re.search(rf"\b{re.escape(wanted)}\b", m) for m in materials)


def hard_violations(item: dict, query: dict, rain_sensitive: frozenset[str] = frozenset()) -> list[str]:
    """How an item breaks the hard constraints of a query graph (empty list: it fits).

    Args:
        item (`dict`): a catalogue item.
        query (`dict`): `QueryGraph.to_dict()`.
        rain_sensitive (`frozenset[str]`): materials that do not stand up to rain.

    Returns:
        `list[str]`: one short reason per broken constraint.
    """
    out = []
    if query.get("category") and item.get("category", "").lower() != query["category"].lower():
        out.append(f"not a {query['category']}")
    elif query.get("category_group") and values_of(item, "category_group") != [query["category_group"]]:
        out.append(f"not in {query['category_group']}")
    if query.get("house") and (item.get("brand") or "").lower() != query["house"].lower():
        out.append(f"not by {query['house']}")
    occasions = values_of(item, "occasion")
    for occasion in query.get("occasions") or []:
        if occasions and occasion not in occasions:
            out.append(f"not for {occasion}")
    seasons = values_of(item, "season")
    for allowed in _season_needs(query):
        if seasons and not set(allowed) & set(seasons):
            out.append(f"not for {'/'.join(allowed)}")
    for key in ("formality", "palette"):
        allowed = query.get(key)
        have = values_of(item, key)
        if allowed and have and have[0] not in allowed:
            out.append(f"{key} {have[0]} (wanted {', '.join(allowed)})")
    wanted, have = query.get("origin"), values_of(item, "origin")
    if wanted and have and have[0] != wanted.lower():
        out.append(f"made in {item['attributes']['origin']} (wanted {wanted})")
    for key in ("branding", "colour"):
        allowed = _as_list(query.get(key))
        have = values_of(item, key)
        if allowed and have and not set(have) & {a.lower() for a in allowed}:
            out.append(f"{key} {'/'.join(have)} (wanted {' or '.join(allowed)})")
    wanted_materials = _as_list(query.get("material"))
    if wanted_materials and values_of(item, "material") and not any(
            material_matches(m, values_of(item, "material")) for m in wanted_materials):
        out.append(f"not in {' or '.join(wanted_materials)}")
    price = item.get("price")
    if query.get("budget_max") is not None and price is not None and price > query["budget_max"]:
        out.append(f"EUR {price:,.0f} is over the EUR {query['budget_max']:,.0f} budget")
    must_not = query.get("must_not") or {}
    for material in must_not.get("materials", []):
        if material_matches(material, values_of(item, "material")):
            out.append(f"{material}, which was ruled out")
    for colour in must_not.get("colours", []):
        if colour.lower() in values_of(item, "colour"):
            out.append(f"{colour}, which was ruled out")
    for level in must_not.get("branding", []):
        if level in values_of(item, "branding"):
            out.append(f"{level} branding, which was ruled out")
    if query.get("wet") and rain_sensitive & set(values_of(item, "material")):
        out.append("not made for rain")
    return out


def _as_list(value) -> list[str]:
    if value in (None, "", []):
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _season_needs(query: dict) -> list[list[str]]:
    from_climate = {"hot": ["summer"], "warm": ["spring", "summer"], "mild": ["spring", "autumn"],
                    "cool": ["autumn", "winter"], "cold": ["winter"]}
    contexts = query.get("contexts") or [{"climate": None, "season": s} for s in query.get("season") or []]
    needs = []
    for ctx in contexts:
        if ctx.get("climate"):
            needs.append(from_climate[ctx["climate"]])
        elif ctx.get("season"):
            needs.append([ctx["season"]])
    return needs


def _mentions(step: str, handles: dict[str, dict]) -> list[str]:
    return [h for h in handles if re.search(rf"(?<![\w]){re.escape(h)}(?![\w])", step)]


def _attribute_mentions(step_low: str, items: list[dict]) -> list[tuple[str, str, int]]:
    """(key, value, position) of attribute values of the candidate items named in the step."""
    terms = {}
    for item in items:
        for key in CHECKED_KEYS:
            for value in values_of(item, key):
                terms.setdefault(value, key)
    found = []
    for value, key in sorted(terms.items(), key=lambda kv: -len(kv[0])):
        for m in re.finditer(rf"(?<![\w-]){re.escape(value)}(?![\w-])", step_low):
            if not any(p <= m.start() < p + len(v) for _, v, p in found):
                found.append((key, value, m.start()))
    return found


def verify_step(index: int, step: str, handles: dict[str, dict], query: dict,
                preferences: dict[str, float] | None = None, all_items: list[dict] | None = None,
                rain_sensitive: frozenset[str] = frozenset()) -> StepCheck:
    """Check one step.

    Args:
        index (`int`): 1-based step number.
        step (`str`): the step's text.
        handles (`dict[str, dict]`): candidate handle -> item.
        query (`dict`): `QueryGraph.to_dict()`.
        preferences (`dict[str, float]`, *optional*): attribute node (`material=suede`) -> signed weight.
        all_items (`list[dict]`, *optional*): items whose attribute values count as vocabulary
            (default: the candidates).

    Returns:
        `StepCheck`
    """
    check = StepCheck(index, step)
    low = step.lower()
    named = _mentions(step, handles)
    check.items = [handles[h]["item_id"] for h in named]
    mentions = _attribute_mentions(low, all_items or list(handles.values()))
    check.attributes = [f"{k}={v}" for k, v, _ in mentions]
    if len(named) == 1:
        item = handles[named[0]]
        for key, value, pos in mentions:
            have = values_of(item, key)
            if not have:
                continue
            negated = any(w in low[max(0, pos - 20):pos].split() for w in NEGATING)
            holds = (material_matches(value, have) if key == "material" else value in have)
            if holds and not negated:
                check.support.append(f"{named[0]} is {value}")
            elif not holds and not negated:
                check.problems.append(f"{named[0]} is not {value} (catalogue: {key} {', '.join(have)})")
    promoting = any(re.search(rf"\b{w}\b", low) for w in PROMOTING) and not any(
        re.search(rf"\b{w}\b", low) for w in ("not", "no", "avoid", "exclude", "reject", "drop", "isn't"))
    if promoting:
        for handle in named:
            item = handles[handle]
            broken = hard_violations(item, query, rain_sensitive)
            if broken:
                check.problems.append(f"promotes {handle}, which breaks the request: {'; '.join(broken[:2])}")
            disliked = [node for node, weight in (preferences or {}).items() if weight <= -1.0
                        and node.split("=", 1)[1] in values_of(item, node.split("=", 1)[0])]
            if disliked:
                check.problems.append(f"promotes {handle}, but the client dislikes {', '.join(disliked)}")
            if not broken and not disliked:
                check.support.append(f"{handle} fits the request")
    check.verdict = "inconsistent" if check.problems else "consistent" if check.support else "unchecked"
    return check


def verify_steps(steps: list[str], handles: dict[str, dict], query: dict,
                 preferences: dict[str, float] | None = None,
                 rain_sensitive: frozenset[str] = frozenset()) -> list[StepCheck]:
    """`verify_step` for each step, numbered from 1."""
    return [verify_step(i, s, handles, query, preferences, rain_sensitive=rain_sensitive)
            for i, s in enumerate(steps, start=1)]
