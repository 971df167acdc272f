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
    ungrounded: list[str] = field(default_factory=list)  # handles or catalogue facts the prompt never showed

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
        attrs = item.get("attributes") or {}
        value = attrs.get(key, next((v for k, v in attrs.items() if str(k).lower() == key), None))
    values = value if isinstance(value, list) else [value] if value not in (None, "") else []
    return [str(v).lower() for v in values]


def material_matches(wanted: str, materials: list[str]) -> bool:
    """'silk' matches 'silk twill'; 'leather' matches any leather; 'gold' matches 'white gold'."""
    wanted = wanted.lower()
    if wanted == "leather":
        return any(m in LEATHERS or "leather" in m for m in materials)
    return any(wanted == m or re.search(rf"\b{re.escape(wanted)}\b", m) for m in materials)


def hard_violations(item: dict, query: dict, nodes: set[str] | None = None) -> list[str]:
    """How an item breaks the hard constraints of a query graph (empty list: it fits).

    Only what the request stated and the catalogue can check is hard: the categories or houses it
    named (any of them), its price cap, and what it ruled out (a catalogue node such as
    `material=suede`, or a plain word found in the item's title or attribute values — "fragrance-free"
    does not hold "fragrance").

    Args:
        item (`dict`): a catalogue item.
        query (`dict`): `QueryGraph.to_dict()`.
        nodes (`set[str]`, *optional*): the item's graph nodes, when the caller has them already.

    Returns:
        `list[str]`: one short reason per broken constraint.
    """
    out = []
    if not (query.get("categories") or query.get("houses") or query.get("must_not")
            or query.get("budget_max") is not None):
        return out
    nodes = set(item_nodes(item)) if nodes is None else nodes
    categories = query.get("categories") or []
    if categories and not nodes & set(categories):
        out.append("not " + " or ".join(_value(n) for n in categories))
    houses = query.get("houses") or []
    if houses and not nodes & set(houses):
        out.append("not by " + " or ".join(_value(n) for n in houses))
    price = item.get("price")
    if query.get("budget_max") is not None and price is not None and price > query["budget_max"]:
        out.append(f"{price:,.0f} is over the {query['budget_max']:,.0f} budget")
    for ruled in query.get("must_not") or []:
        if ("=" in ruled and ruled in nodes) or ("=" not in ruled and _holds_word(item, ruled)):
            out.append(f"{_value(ruled)}, which was ruled out")
    for name in query.get("must_not_also") or []:  # "no leather": nor lambskin
        if _holds_word(item, name):
            out.append(f"{name}, which was ruled out")
    return out


def item_nodes(item: dict) -> list[str]:
    from backend.graphs import attribute_nodes

    return [node for _, node in attribute_nodes(item)]


def _value(node: str) -> str:
    return node.split("=", 1)[-1]


def _holds_word(item: dict, word: str) -> bool:
    text = " ".join([item.get("title", "")] + [_value(n) for n in item_nodes(item)]).lower()
    return bool(re.search(rf"(?<![\w-]){re.escape(word.lower())}(?![\w])(?!-?\s?free)", text))


def _mentions(step: str, handles: dict[str, dict]) -> list[str]:
    return [h for h in handles if re.search(rf"(?<![\w]){re.escape(h)}(?![\w])", step)]


def _attribute_mentions(step_low: str, items: list[dict]) -> list[tuple[str, str, int]]:
    """(key, value, position) of attribute values of the candidate items named in the step."""
    terms: dict[str, str] = {}
    for item in items:
        for node in item_nodes(item):
            key, value = node.split("=", 1)
            if key != "brand" and len(value) > 2 and value not in ("true", "false"):
                if terms.get(value) != "material":  # a material name is checked as a material first
                    terms[value] = "material" if key == "material" else terms.get(value, key)
    found = []
    for value, key in sorted(terms.items(), key=lambda kv: -len(kv[0])):
        for m in re.finditer(rf"(?<![\w-]){re.escape(value)}(?![\w-])", step_low):
            if not any(p <= m.start() < p + len(v) for _, v, p in found):
                found.append((key, value, m.start()))
    return found


def _request_values(query: dict) -> set[str]:
    """Every value the parsed request names: categories, houses, exclusions, wished-for values, contexts."""
    nodes = list(query.get("categories") or []) + list(query.get("houses") or []) + list(query.get("must_not") or [])
    nodes += [node for wish in query.get("wishes") or [] for node in (wish.get("matches") or {})]
    values = {str(node).split("=", 1)[-1].lower() for node in nodes}
    values |= {str(v).lower() for ctx in query.get("contexts") or [] for v in ctx.values() if isinstance(v, str)}
    return values


REJECTING = ("out", "avoid", "exclude", "excluded", "reject", "drop", "skip", "not", "no", "isn't", "doesn't",
             "don't", "fails", "lacks", "wrong", "unsuitable")
CLAUSE_SPLIT = re.compile(r";|(?<=[.!?])\s+(?=[A-Z])")


# "not a fit", "isn't the best", "doesn't really suit": a promoting word under a negation rejects
NOT_PROMOTED = re.compile(r"\b(?:not|no|isn't|doesn't|don't|never)\s+(?:(?:a|an|the|really|quite|so|as|very)\s+)?"
                          r"(?:" + "|".join(PROMOTING) + r")\b")
STANDS_OUT = re.compile(r"\b(?:stands?|standing|stood)\s+out\b")  # praise, though it holds "out"


def _says_any(low: str, words) -> bool:
    """Whether the lower-cased text holds any of `words` as a whole word."""
    return any(re.search(rf"\b{w}\b", low) for w in words)


def ruled_out(steps: list[str], handles) -> list[str]:
    """The candidates the reasoning itself rules out, in the order first ruled out.

    A handle is ruled out when a clause (split at ";" and sentence ends) names it and rejects ("B2 is out",
    "K7 and M4 fail: not a bag", "M4 is not a fit") without also promoting ("K7 fits but is not silk" stays
    open). An ANSWER line that ranks such a handle contradicts its own steps (the GRPO reward's consistency
    term, `training.rewards`).

    Args:
        steps (`list[str]`): the reasoning steps (`split_steps`).
        handles (`Iterable[str]`): the candidate handles.

    Returns:
        `list[str]`: handles.
    """
    out: list[str] = []
    for clause in (c for step in steps for c in CLAUSE_SPLIT.split(step)):
        named = _mentions(clause, handles)
        low = clause.lower()
        promoting = STANDS_OUT.search(low) or _says_any(low, PROMOTING)
        rejecting = _says_any(low, REJECTING)
        if named and (NOT_PROMOTED.search(low) or (rejecting and not promoting)):
            out += [h for h in named if h not in out]
    return out


def verify_step(index: int, step: str, handles: dict[str, dict], query: dict,
                preferences: dict[str, float] | None = None, all_items: list[dict] | None = None) -> StepCheck:
    """Check one step.

    A step that names several candidates ("B and C also fit; D is out: not a bag") is checked clause by
    clause (split at ";" and sentence ends), each claim against the candidates its clause names: an
    attribute value against the nearest handle before it, a promotion against every promoted handle's hard
    constraints and the client's dislikes, a rejection against the rejected handles (confirmed when the
    item does break the request or carry a disliked value; a softer reason stays unchecked).

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
    vocabulary = all_items or list(handles.values())
    named = _mentions(step, handles)
    check.items = [handles[h]["item_id"] for h in named]
    mentions = _attribute_mentions(step.lower(), vocabulary)
    check.attributes = [f"{k}={v}" for k, v, _ in mentions]
    if not named and mentions:  # a step about the request itself ("Needs: a tote, black, under 2,000")
        asked = _request_values(query)
        said = list(dict.fromkeys(v for _, v, _ in mentions))
        if all(v in asked for v in said):
            check.support.append("restates the request: " + ", ".join(said[:3]))
    clauses = [step] if len(named) <= 1 else [c for c in CLAUSE_SPLIT.split(step) if c.strip()]
    for clause in clauses:
        _check_clause(check, clause, handles, query, preferences or {}, vocabulary)
    check.verdict = "inconsistent" if check.problems else "consistent" if check.support else "unchecked"
    return check


def _check_clause(check: StepCheck, clause: str, handles: dict[str, dict], query: dict,
                  preferences: dict[str, float], vocabulary: list[dict]) -> None:
    """Add the support and problems of one clause's claims to `check`."""
    low = clause.lower()
    named = _mentions(clause, handles)
    if not named:
        return
    positions = {h: [m.start() for m in re.finditer(rf"(?<![\w]){re.escape(h)}(?![\w])", clause)] for h in named}
    for key, value, pos in _attribute_mentions(low, vocabulary):
        before = [(max(p for p in ps if p < pos), h) for h, ps in positions.items() if any(p < pos for p in ps)]
        handle = max(before)[1] if before else named[0]  # the nearest handle before the value
        item = handles[handle]
        have = values_of(item, key)
        if not have:
            continue
        negated = any(w in low[max(0, pos - 20):pos].split() for w in NEGATING)
        holds = (material_matches(value, have) if key == "material" else value in have) or \
            any(n.split("=", 1)[1] == value for n in item_nodes(item))  # true of the item under another key
        if holds and not negated:
            check.support.append(f"{handle} is {value}")
        elif not holds and not negated:
            check.problems.append(f"{handle} is not {value} (catalogue: {key} {', '.join(have)})")
    rejecting = _says_any(low, REJECTING)
    promoting = not rejecting and _says_any(low, PROMOTING)
    for handle in named:
        item = handles[handle]
        broken = hard_violations(item, query)
        disliked = [node for node, weight in preferences.items() if weight <= -1.0
                    and node.split("=", 1)[1] in values_of(item, node.split("=", 1)[0])]
        if promoting:
            if broken:
                check.problems.append(f"promotes {handle}, which breaks the request: {'; '.join(broken[:2])}")
            if disliked:
                check.problems.append(f"promotes {handle}, but the client dislikes {', '.join(disliked)}")
            if not broken and not disliked:
                check.support.append(f"{handle} fits the request")
        elif rejecting and (broken or disliked):
            check.support.append(f"{handle} is rightly out: {(broken or disliked)[0]}")


def verify_steps(steps: list[str], handles: dict[str, dict], query: dict,
                 preferences: dict[str, float] | None = None, prompt: str | None = None) -> list[StepCheck]:
    """`verify_step` for each step, numbered from 1; with `prompt` (the text the model was shown), each
    step's claims the prompt did not show are listed in `ungrounded`."""
    checks = [verify_step(i, s, handles, query, preferences) for i, s in enumerate(steps, start=1)]
    if prompt is not None:
        for check in checks:
            check.ungrounded = ungrounded_claims(check.text, handles, prompt)
    return checks


def ungrounded_claims(step: str, handles: dict[str, dict], prompt: str) -> list[str]:
    """What a step names that its prompt never showed: a handle that is not a candidate, or a catalogue
    value of the candidates that appears nowhere in the prompt (a true fact the model could not have
    read is a guess; an untrue one is invented).

    Args:
        step (`str`): one reasoning step.
        handles (`dict[str, dict]`): the prompt's candidates.
        prompt (`str`): the text the model was shown.

    Returns:
        `list[str]`: e.g. `["handle Z9", "value silk"]`.
    """
    out = [f"handle {h}" for h in dict.fromkeys(re.findall(r"\b([A-Z][1-9])\b", step)) if h not in handles]
    shown = prompt.lower()
    for _, value, _ in _attribute_mentions(step.lower(), list(handles.values())):
        if not re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", shown):
            out.append(f"value {value}")
    return out


def reasoning_gates(steps: list[str], handles: dict[str, dict], query: dict,
                    preferences: dict[str, float] | None, messages) -> dict:
    """Per-answer counts for the reasoning quality gates: steps judged consistent, inconsistent, and steps
    with ungrounded claims (`messages`: the prompt, LangChain messages or role/content dicts)."""
    checks = verify_steps(steps, handles, query, preferences, prompt_text(messages))
    return {"steps": len(checks), "consistent": sum(c.verdict == "consistent" for c in checks),
            "inconsistent": sum(c.verdict == "inconsistent" for c in checks),
            "ungrounded": sum(bool(c.ungrounded) for c in checks)}


def prompt_text(messages) -> str:
    """The text a model was shown: its messages' contents (LangChain messages or role/content dicts)."""
    return "\n".join(str(m["content"] if isinstance(m, dict) else m.content) for m in messages)
