"""Training cases: what one GRPO prompt is made of, from a bundle's queries or from associate
feedback.

A `TrainingCase` is a client, a request, a fixed list of candidates (item ids, shuffled), the graded
ground truth over them, and optional step labels (reasoning steps an associate flagged). Two
sources:

- `cases_from_bundle`: the queries of one split, each with the candidate list of the evaluation's
  re-ranking protocol (`training.eval_queries.rerank_candidates`: every relevant item, best grades
  first, plus sampled negatives, shuffled, seeded by the query id), so training sees what evaluation
  scores.
- `cases_from_feedback`: stored shortlists that associates or purchases judged (grades: purchased 3,
  accepted 2, rejected 0, i.e. left out of `relevance`), with their flagged steps as step labels.

`case_prompt` turns a case into the serving prompt (`training.systems.reasoner_prompt`, the same
function the `reasoner` evaluation system uses) and the handle -> item map its answer is parsed
with.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass, field, replace

from sqlmodel import select

from backend.interaction_weights import judged_item
from backend.store import session
from backend.tables import Feedback, ReasoningStep, Shortlist
from catalog.bundle import Bundle
from catalog.errors import ConciergeError
from training.eval_queries import rerank_candidates, seen_items, select_queries
from training.metrics import ndcg_at_k
from training.systems import ServingRetrieval, reasoner_prompt

# replace: the associate's own pick
FEEDBACK_GRADES = {"purchase": 3, "accept": 2, "replace": 2, "reject": 0}
# reorder: the associate kept the item and gave it a place; the top place is as good as an accept, a
# lower one says "relevant, but others first" (grade 1)
REORDER_TOP, REORDER_LOWER = 2, 1
STEP_FLAGS = {"flag_wrong": "wrong", "flag_irrelevant": "irrelevant"}


@dataclass
class TrainingCase:
    """One training prompt's ground truth.

    Args:
        case_id (`str`): the query id (bundle) or `feedback-<shortlist id>`.
        client_id (`str`, *optional*): the client the request is for.
        request (`str`): the client's words.
        candidates (`list[str]`): item ids shown to the model (20 in the re-ranking protocol),
            shuffled.
        relevance (`dict[str, int]`): item id -> grade 1..3 (3 ideal); empty means nothing fits.
        query_type (`str`): the bundle query's type (explicit, implicit, ...) or `feedback`.
        source (`str`): `bundle` or `feedback`.
        step_labels (`list[dict]`): flagged steps, `{"index": int, "text": str, "label":
            "wrong"|"irrelevant"}`.
        feedback_ids (`list[int]`): the Feedback rows the case was built from.
    """

    case_id: str
    client_id: str | None
    request: str
    candidates: list[str]
    relevance: dict[str, int]
    query_type: str
    source: str
    step_labels: list[dict] = field(default_factory=list)
    feedback_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def as_query(self) -> dict:
        """The case as a bundle query row (what the evaluation systems take)."""
        return {"query_id": self.case_id, "client_id": self.client_id, "text": self.request,
                "type": self.query_type, "relevant": dict(self.relevance)}


# ----------------------------------------------------------------------------------------------
# From a bundle


def cases_from_bundle(bundle: Bundle, split: str = "train", size: int = 20,
                      seed: int = 0) -> list[TrainingCase]:
    """The queries of one split as training cases, candidates built as the re-ranking protocol does.

    Args:
        bundle (`Bundle`): a bundle with queries.
        split (`str`): train, val or test.
        size (`int`): candidates per case.
        seed (`int`): seeds the negatives and their order (the evaluation's seed gives its exact
            lists).

    Returns:
        `list[TrainingCase]`: in file order.

    Raises:
        `ConciergeError`: the bundle has no queries, or none in `split`.
    """
    if not bundle.queries:
        raise ConciergeError(f"{bundle.name} has no queries (queries.jsonl): training needs "
                             "requests with their relevant items")
    queries = select_queries(bundle, split)
    exclude = bool((bundle.manifest.get("eval") or {}).get("exclude_seen"))
    seen = seen_items(bundle) if exclude else {}
    item_ids = [item["item_id"] for item in bundle.items]
    cases = []
    for q in queries:
        candidates = rerank_candidates(q, item_ids, seen.get(q.get("client_id"), set()), size, seed)
        relevance = {i: int(g) for i, g in q["relevant"].items() if i in candidates and int(g) > 0}
        cases.append(TrainingCase(q["query_id"], q.get("client_id"), q["text"], candidates,
                                  relevance, q.get("type") or "untyped", "bundle"))
    return cases


# ----------------------------------------------------------------------------------------------
# From stored feedback


def cases_from_feedback(since_id: int | None = None, size: int = 20, seed: int = 0,
                        ids: list[int] | None = None, engine=None) -> list[TrainingCase]:
    """Judged shortlists of the SQL store as training cases.

    Each shortlist with at least one Feedback row newer than `since_id` becomes one case: its stored
    candidates (plus any item an associate put in by `replace`), shuffled by a seed of the shortlist
    id; grades from the latest judgement per item (`feedback_relevance`: a purchase always counts 3,
    a reorder to the top 2, to a lower place 1). A shortlist where nothing was
    judged positively is kept only when it has flagged steps (its relevance is then empty).

    Args:
        since_id (`int`, *optional*): only feedback with a larger id (e.g. the last one a job used).
        size (`int`): at most this many candidates (judged items always kept).
        seed (`int`): seeds the candidate order.
        ids (`list[int]`, *optional*): only these feedback rows (what a training job reserved).
        engine (`Engine`, *optional*): the SQL store holding the feedback (default: the configured
            one).

    Returns:
        `list[TrainingCase]`: by shortlist id.
    """
    with session(engine) as s:
        query = select(Feedback).order_by(Feedback.id)
        if since_id is not None:
            query = query.where(Feedback.id > since_id)
        if ids is not None:
            query = query.where(Feedback.id.in_(ids))
        rows = s.exec(query).all()
        by_shortlist: dict[int, list] = {}
        for row in rows:
            by_shortlist.setdefault(row.shortlist_id, []).append(row)
        cases = []
        for shortlist_id in sorted(by_shortlist):
            shortlist = s.get(Shortlist, shortlist_id)
            steps = {st.index: st.text for st in s.exec(
                select(ReasoningStep).where(ReasoningStep.shortlist_id == shortlist_id)).all()}
            case = _feedback_case(shortlist, by_shortlist[shortlist_id], steps, size, seed)
            if case is not None:
                cases.append(case)
    return cases


def feedback_relevance(rows: list) -> dict[str, int]:
    """Item id -> grade from Feedback rows (oldest first): the latest accept / reject / reorder
    wins, a purchase counts 3. A reorder to the top place counts as an accept (2), to a lower place
    1."""
    grades: dict[str, int] = {}
    for row in rows:
        item = judged_item(row)
        if item is None or (row.kind not in FEEDBACK_GRADES and row.kind != "reorder"):
            continue
        if grades.get(item) == 3 and row.kind != "purchase":
            continue  # what the client bought stays ideal whatever was said before or after
        if row.kind == "reorder":
            grades[item] = REORDER_TOP if getattr(row, "new_rank", None) == 1 else REORDER_LOWER
        else:
            grades[item] = FEEDBACK_GRADES[row.kind]
    return {item: grade for item, grade in grades.items() if grade > 0}


def _feedback_case(shortlist, rows: list, steps: dict[int, str], size: int,
                   seed: int) -> TrainingCase | None:
    relevance = feedback_relevance(rows)
    labels = [{"index": r.step_index, "text": steps.get(r.step_index, ""),
               "label": STEP_FLAGS[r.kind]}
              for r in rows if r.kind in STEP_FLAGS and r.step_index is not None]
    if not relevance and not labels:
        return None
    judged = [i for i in relevance if i]
    others = [i for i in dict.fromkeys(shortlist.candidates or []) if i not in relevance]
    candidates = judged + others[:max(size - len(judged), 0)]
    random.Random(f"feedback/{seed}/{shortlist.id}").shuffle(candidates)
    return TrainingCase(f"feedback-{shortlist.id}", shortlist.client_id, shortlist.request,
                        candidates, relevance, "feedback", "feedback", labels, [r.id for r in rows])


# ----------------------------------------------------------------------------------------------
# Prompts


@dataclass
class CasePrompt:
    """What a case looks like to the model and what its answer is scored against.

    Args:
        messages (`list[dict]`): chat messages (`role`, `content`), the serving prompt.
        handles (`dict[str, dict]`): handle -> catalogue item, for `backend.reasoner.parse_answer`.
        query_graph (`dict`): the parsed request (`QueryGraph.to_dict()`), for the step verifier.
        preferences (`dict[str, float]`): the client's attribute preferences, for the step verifier.
        abstains (`bool`): the retrieval says nothing fits (the serving path would not ask the
            model).
    """

    messages: list[dict]
    handles: dict[str, dict]
    query_graph: dict = field(default_factory=dict)
    preferences: dict[str, float] = field(default_factory=dict)
    abstains: bool = False


def shown_candidates(case: TrainingCase, shown: int | None) -> list[str]:
    """The candidates put in the prompt: all of them, or `shown` of them keeping at most half
    relevant (best grades first) so that a short prompt still leaves the model a choice; case order
    kept."""
    if shown is None or shown >= len(case.candidates):
        return list(case.candidates)
    relevant = sorted((i for i in case.candidates if i in case.relevance),
                      key=lambda i: -case.relevance[i])
    keep = set(relevant[:max(shown // 2, 1)])
    negatives = [i for i in case.candidates if i not in case.relevance]
    keep |= set(negatives[:shown - len(keep)])
    return [i for i in case.candidates if i in keep]


def build_case_prompt(case: TrainingCase, world, shown: int | None = None, seed: int | None = None,
                      retrieval=None, order: str = "shuffled") -> CasePrompt:
    """The serving prompt of a case, with what the rewards and the verifier need.

    Args:
        case (`TrainingCase`): the case.
        world (`EvalWorld`): the bundle and the settings of the scratch stores it was imported into.
        shown (`int`, *optional*): put only this many candidates in the prompt (see
            `shown_candidates`).
        seed (`int`, *optional*): seeds the handles (default: the world's seed).
        retrieval (`ServingRetrieval`, *optional*): the world's serving retrieval; a caller building
            many prompts makes it once (`ServingRetrieval(world)`) and passes it. Default: made
            here.
        order (`str`): how the prompt lists the candidates (`training.systems.reasoner_prompt`).

    Returns:
        `CasePrompt`
    """
    retrieval = retrieval or ServingRetrieval(world)
    query = case.as_query()
    ids = shown_candidates(case, shown)
    messages, handles, pool = reasoner_prompt(retrieval, query, ids,
                                              world.seed if seed is None else seed, order)
    parsed, signals, _ = retrieval.context(query)
    chat = [{"role": _role(m), "content": m.text} for m in messages]
    return CasePrompt(chat, handles, parsed.to_dict(), signals.preferences, not pool)


def in_ranker_order(cases: list[TrainingCase], world, retrieval=None,
                    folds: int = 1) -> list[TrainingCase]:
    """The cases with their candidates in the serving ranker's order (what a prompt in `ranker`
    order lists, and the order the gain reward measures picks against); a case the retrieval says
    nothing fits for keeps its order.

    Args:
        folds (`int`): 1 orders every case by the serving ranker, which learnt most train queries.
            More: cross-fitted, each case ordered by a ranker trained on the other folds' train
            queries (`fold_of`), as a test request meets the serving one. On the demo world the
            in-sample and cross-fitted orders score 0.871 and 0.860 NDCG@5 on the 2,019 train cases
            (0.806 on 200 test cases): train requests are easier, not memorised.
    """
    retrieval = retrieval or ServingRetrieval(world)
    rankers = cross_fitted_rankers(world, retrieval.catalogue, folds) if folds > 1 else None
    served, ordered = retrieval.catalogue, []
    try:
        for case in cases:
            if rankers:  # the case's own fold's ranker, which never saw its query
                retrieval.catalogue = replace(served, ranker=rankers[fold_of(case.case_id, folds)])
            ranked = retrieval.rank(case.as_query(), case.candidates, len(case.candidates))
            ordered.append(replace(case, candidates=ranked) if ranked else case)
    finally:  # the serving ranker back, whatever happened
        retrieval.catalogue = served
    return ordered


def fold_of(query_id: str, folds: int) -> int:
    """A query's fold among `folds` (by a hash of its id: the same on every run)."""
    return int(hashlib.sha1(query_id.encode()).hexdigest(), 16) % folds


def cross_fitted_rankers(world, catalogue, folds: int) -> list:
    """One ranker per fold, each fitted as the serving one is (`backend.live.train_ranker`: the
    same candidates and features, val watched) on the train queries of the other folds."""
    from backend import ranker as ranking
    from backend.live import ranker_groups

    groups, _ = ranker_groups(world.bundle, catalogue, world.settings)
    val = [(candidates, relevant) for _, candidates, relevant in groups["val"]]
    return [ranking.train([(candidates, relevant) for qid, candidates, relevant in groups["train"]
                           if fold_of(qid, folds) != fold], val)
            for fold in range(folds)]


def with_hard_share(cases: list[TrainingCase], share: float, k: int,
                    seed: int = 0) -> list[TrainingCase]:
    """Every hard case (its given order's NDCG@k below 0.5: the ranker's top is wrong) and a seeded
    sample of the others, so that hard ones make up `share` of the result (all of them when there
    are too few easy ones), shuffled."""
    hard, easy = [], []
    for case in cases:
        (hard if ndcg_at_k(list(case.candidates), case.relevance, k) < 0.5 else easy).append(case)
    rng = random.Random(f"hard/{seed}")
    wanted = round(len(hard) * (1 - share) / share)
    mixed = hard + (rng.sample(easy, wanted) if wanted < len(easy) else easy)
    rng.shuffle(mixed)
    return mixed


def case_prompt(case: TrainingCase, world, shown: int | None = None) -> tuple[list[dict],
                                                                              dict[str, dict]]:
    """The chat messages of a case (the serving prompt, shuffled opaque handles) and the handle ->
    item map.

    Args:
        case (`TrainingCase`): the case.
        world (`EvalWorld`): the bundle and its scratch stores' settings.
        shown (`int`, *optional*): at most this many candidates in the prompt.

    Returns:
        `tuple[list[dict], dict[str, dict]]`: messages (`role`, `content`) and handles.
    """
    built = build_case_prompt(case, world, shown)
    return built.messages, built.handles


def _role(message) -> str:
    return {"system": "system", "human": "user", "ai": "assistant"}.get(message.type, message.type)
