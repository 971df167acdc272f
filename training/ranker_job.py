"""A training job that retrains the catalogue's ranker on associates' verdicts (kind "ranker").

The reasoner job (`training.pipeline.run_training_job`) teaches the model; this one teaches the
LightGBM ranker that orders the candidates before the model sees them. On a catalogue imported
without labelled requests the ranker is fusion (`backend.ranker`); the verdicts on its shortlists
(accept, reject, reorder, replace: `training.data.feedback_relevance`) are then the only labels
there are. What the job does:

1. Reserve the feedback no earlier job used (`training.jobs.reserve_feedback`).
2. Training groups: each judged shortlist's request, re-run through the serving generator
   (`backend.live.labelled_candidates`, the client's signals included); the shortlist's judged
   items carry their grade (`RANKER_KINDS`), every other candidate counts as not relevant. With
   verdicts alone the ranker boosts from fusion (`backend.ranker.FEEDBACK_PRIOR`); with a bundle's
   train split added (`train_split`) it learns from scratch.
3. The gate: the candidate ranker and the served one order the same held-out requests' candidates;
   paired NDCG@5 (BCa interval) must lie above zero. Held out: with a `bundle`, its labelled
   requests (`eval`: split, limit, seed, or `query_ids`); without one (a retailer's catalogue has
   none) the judged shortlists themselves, cross-validated (`folds` contiguous blocks:
   each scored by a ranker trained the same way on the others), graded by every verdict
   (replacements included: `verdict_groups`). The reasoner is not touched, so its probe scores
   cannot move and are not re-taken.
4. The candidate is saved beside the served ranker (`<collection>.job-<id>.txt`); an admin promotes
   it with `promote_ranker` (refused unless the gate passed), which makes it the served ranker.

Job config keys: `kind` ("ranker"); `bundle` (labelled requests for the gate; default none);
`train_split` (bool; default: when the bundle has enough labelled train requests); `eval`
({"split": "val", "limit": 100, "seed": 0, "query_ids": None}); `folds` (5, without a bundle).
"""

from __future__ import annotations

import json
import random
import shutil
import threading
from pathlib import Path

from sqlmodel import select

from backend import ranker as ranking
from backend.index import embedding_name
from backend.live import clear_cache, labelled_candidates, live_catalogue, ranker_path, sample_of
from backend.served import active_version
from backend.settings import get_settings
from backend.store import get_engine, session
from backend.tables import AuditLog, Feedback, Shortlist
from catalog.errors import ConciergeError
from training import jobs
from training.data import feedback_relevance
from training.eval_queries import load_bundle
from training.metrics import (minimum_detectable_gain, ndcg_at_k, paired_comparison,
                              paired_differences)

KIND = "ranker"
GATE_K = 5  # NDCG@5, the reasoner gate's metric (`training.registry.GATE_METRIC`)
DEFAULT_EVAL = {"split": "val", "limit": 100, "seed": 0, "query_ids": None}
FOLDS = 5  # without a bundle the gate cross-validates over the judged shortlists
# Verdicts the ranker learns from: those on the shortlist's own items. The item a replacement
# brings in comes from below the shortlist, among candidates nobody judged (counted as not
# relevant), so with few accepted items the trees learn that fusion's lower ranks are better: on
# MovieLens val, 80 simulated reviews with replacements ordered worse than fusion (NDCG@10 -0.110
# [-0.134, -0.084]), without them better (+0.079 [+0.065, +0.094]); on the demo world's train
# split leaving them out cost 0.018 (docs/results/feedback-ranker.md).
RANKER_KINDS = ("accept", "reject", "reorder", "purchase")


def run_ranker_job(job, report, stop: threading.Event) -> str:
    """The worker's runner for a ranker job (the module docstring). Returns the candidate's
    name."""
    settings = get_settings()
    spec = dict(job.config or {})
    feedback_ids = jobs.reserve_feedback(job.id, job.worker_id, report.engine)
    if not feedback_ids:
        raise ConciergeError("there is no associate feedback that an earlier job has not used")
    catalogue = live_catalogue(settings)
    name = f"job-{job.id}"
    report(stage="ranker groups",
           log=f"ranker job on {len(feedback_ids)} feedback rows, catalogue "
               f"{catalogue.collection}, served ranker {catalogue.ranker.label}")
    verdicts = verdict_groups(feedback_ids, catalogue, settings, report.engine)
    split, bundle_name = [], None
    if spec.get("bundle"):  # labelled requests: the gate's held-out ones, maybe a train split
        bundle = load_bundle(Path(spec["bundle"]))
        bundle_name = bundle.name
        labelled = [q for q in bundle.queries if q.get("split") == "train" and q.get("relevant")]
        if spec.get("train_split", len(labelled) >= ranking.MIN_TRAIN_QUERIES):
            split = [labelled_group(q, catalogue, settings)
                     for q in labelled[:ranking.MAX_TRAIN_QUERIES]]
        choice = {**DEFAULT_EVAL, **(spec.get("eval") or {})}
        held_out = [labelled_group(q, catalogue, settings) for q in gate_queries(bundle, choice)]
    train_on = [(key, cands, grades) for key, cands, grades, _ in verdicts if grades]
    if stop.is_set():
        raise jobs_stopped("before training")
    report(stage="ranker training", progress=0.4)
    candidate = ranking.train([g[1:] for g in split + train_on], [],
                              prior=0.0 if split else ranking.FEEDBACK_PRIOR)
    if candidate.booster is None:
        raise ConciergeError(f"{len(train_on)} judged shortlists to train on are fewer than the "
                             f"{ranking.MIN_TRAIN_QUERIES} a ranker needs; review more shortlists "
                             "first")
    candidate.info.update(version=name, feedback_rows=len(feedback_ids), job_id=job.id,
                          verdict_groups=len(train_on), train_split_queries=len(split),
                          gate_source=bundle_name or f"verdicts, {FOLDS}-fold cross-validation",
                          embedding=embedding_name(settings))
    served = active_version(get_engine(settings.sql_url))
    # what a later import of this catalogue recognises it by (`backend.live.same_catalogue`)
    candidate.info.update(bundle=served.name, item_sample=sample_of(catalogue.graphs.ids))
    path = candidate_path(catalogue.collection, name, settings)
    ranking.save(candidate, path)
    report(stage="ranker gate", progress=0.6, metrics={
        "ranker_candidate": str(path),
        "ranker_target": str(ranker_path(catalogue.collection, settings)),
        "ranker": ranking.summary(candidate.info)})
    if bundle_name:
        gate = gate_rankers([(candidate, held_out)], catalogue.ranker, stop)
    else:
        gate = gate_rankers(cross_validation(verdicts, int(spec.get("folds", FOLDS))),
                            catalogue.ranker, stop)
    report(stage="done", progress=1.0, metrics={"candidate": name, "gate": gate},
           log="passes the gate" if gate["passed"]
           else "does not pass the gate: " + "; ".join(gate["reasons"]))
    return name


def jobs_stopped(when: str) -> Exception:
    return jobs.JobStopped(f"stopped {when}")


def candidate_path(collection: str, name: str, settings) -> Path:
    return ranker_path(collection, settings).with_name(f"{collection}.{name}.txt")


def verdict_groups(feedback_ids: list[int], catalogue, settings, engine=None) -> list[tuple]:
    """(key, candidates, grades to train on, grades to gate on) of each judged shortlist with an
    item judged fitting, oldest first: its request through today's generator. Trained on: the
    verdicts of `RANKER_KINDS`. Gated on: every verdict, replacements included. The shortlist's own
    accepted items were put there by the served ranker, so on them alone a candidate that reorders
    can only lose; the items associates brought in from below are where it can show that it does
    better (simulated reviews, docs/results/feedback-ranker.md: a gate on accepted items alone read
    -0.04 to 0.00 where the held-out requests showed +0.03 to +0.11; with replacements +0.03 to
    +0.11)."""
    with session(engine) as s:
        rows = s.exec(select(Feedback).where(Feedback.id.in_(feedback_ids))
                      .order_by(Feedback.id)).all()
        by_shortlist: dict[int, list] = {}
        for row in rows:
            by_shortlist.setdefault(row.shortlist_id, []).append(row)
        judged = []
        for key, kept in sorted(by_shortlist.items()):
            shortlist = s.get(Shortlist, key)
            own = feedback_relevance([r for r in kept if r.kind in RANKER_KINDS])
            every = feedback_relevance(kept)
            if every:
                judged.append((key, shortlist.request, shortlist.client_id, own, every))
    groups = []
    for shortlist_id, request, client_id, own, every in judged:
        _, candidates = labelled_candidates(request, client_id, catalogue, settings)
        groups.append((f"feedback-{shortlist_id}", candidates, own, every))
    return groups


def labelled_group(query: dict, catalogue, settings) -> tuple:
    _, candidates = labelled_candidates(query["text"], query.get("client_id"), catalogue,
                                        settings)
    return query["query_id"], candidates, {k: int(v) for k, v in query["relevant"].items()}


def gate_queries(bundle, choice: dict) -> list[dict]:
    """The held-out requests the gate scores: `query_ids`, else a seeded sample of the
    split."""
    if choice.get("query_ids"):
        wanted = set(choice["query_ids"])
        return [q for q in bundle.queries if q["query_id"] in wanted and q.get("relevant")]
    if choice["split"] == "test":
        raise ConciergeError("the ranker gate scores train or val requests; the test split "
                             "stays held out")
    pool = [q for q in bundle.queries if q.get("split") == choice["split"] and q.get("relevant")]
    return random.Random(choice["seed"]).sample(pool, min(choice["limit"], len(pool)))


def cross_validation(verdicts: list[tuple], folds: int) -> list[tuple]:
    """(ranker, groups it scores) per fold: the judged shortlists in `folds` contiguous blocks,
    oldest first; each block is scored, graded by every verdict, by a ranker trained as the job's
    on the other blocks, so every judged shortlist is held out once."""
    folds = max(2, min(folds, len(verdicts)))
    bounds = [round(i * len(verdicts) / folds) for i in range(folds + 1)]
    out = []
    for lo, hi in zip(bounds, bounds[1:]):
        rest = [(cands, grades) for _, cands, grades, _ in verdicts[:lo] + verdicts[hi:] if grades]
        ranker = ranking.train(rest, [], prior=ranking.FEEDBACK_PRIOR)
        out.append((ranker, [(key, cands, every) for key, cands, _, every in verdicts[lo:hi]]))
    return out


def gate_rankers(candidates: list[tuple], served: ranking.Ranker, stop: threading.Event) -> dict:
    """The candidate and the served ranker order the same held-out requests' candidates; paired
    NDCG@5, its BCa interval must lie above zero. `candidates`: (ranker, held-out groups) pairs —
    one for a bundle's labelled requests, one per fold of a cross-validation."""
    scores: dict[str, dict[str, float]] = {"candidate": {}, "served": {}}
    for candidate, held_out in candidates:
        for key, cands, relevant in held_out:
            if stop.is_set():
                raise jobs_stopped("during the gate")
            for name, ranker in (("candidate", candidate), ("served", served)):
                order = [c.item_id for c in ranker.order(list(cands))]
                scores[name][key] = ndcg_at_k(order, relevant, GATE_K)
    if len(scores["candidate"]) < 2:
        return {"passed": False, "reasons": ["fewer than 2 held-out requests to score"],
                "n": len(scores["candidate"])}
    comparison = paired_comparison(scores["candidate"], scores["served"], "candidate",
                                   served.label, f"ndcg@{GATE_K}")
    detectable = minimum_detectable_gain(paired_differences(scores["candidate"],
                                                            scores["served"]))
    diff = comparison.diff
    reasons = [] if diff.low > 0 else [
        f"ndcg@{GATE_K} {diff.mean:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}]: the interval is "
        "not above zero"]
    return {"passed": not reasons, "reasons": reasons, "served": served.label, "n": comparison.n,
            "ndcg": comparison.to_dict() | {"detectable_gain": round(float(detectable), 4)},
            "per_query": scores}


def promote_ranker(job_id: int, reason: str, actor_id: int | None = None, settings=None) -> dict:
    """Serve a ranker job's candidate if its gate passed (the audit log records either way).

    Raises:
        `ConciergeError`: no reason, not a finished ranker job, or its candidate file is gone.
    """
    settings = settings or get_settings()
    if not (reason or "").strip():
        raise ConciergeError("say why (a reason is required)")
    job = jobs.get_job(job_id)
    metrics = job.metrics or {}
    if ((job.config or {}).get("kind") != KIND or job.status != "succeeded"
            or "gate" not in metrics):
        raise ConciergeError(f"job {job_id} is not a finished ranker job")
    source = Path(metrics["ranker_candidate"])
    if not source.is_file():
        raise ConciergeError(f"the candidate ranker {source} is gone; run the job again")
    gate = metrics["gate"]
    detail = {"job": job_id, "gate": {k: v for k, v in gate.items() if k != "per_query"}}
    with session() as s:
        s.add(AuditLog(actor_id=actor_id, detail=detail, reason=reason.strip(),
                       action="ranker_promote" if gate["passed"] else "ranker_refused"))
        s.commit()
    if not gate["passed"]:
        return {"passed": False, "reasons": gate["reasons"]}
    target = Path(metrics["ranker_target"])
    shutil.copyfile(source.with_suffix(".json"), target.with_suffix(".json"))
    shutil.copyfile(source, target)  # last: the served catalogue reloads on its modification time
    clear_cache()
    served = json.loads(target.with_suffix(".json").read_text())
    return {"passed": True, "served": served.get("version")}
