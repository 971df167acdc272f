"""The model's share in the shortlist, chosen from a whole-catalogue run of the pipeline on val.

A `pipeline` system's per-query notes hold the model's picks and the ranker's order over what the
model was shown (`training.systems.Pipeline`). `sweep` recomputes the shortlist offline for each
(model weight, k) of the grid with `backend.fusion.fuse` — no model call — and scores it against the
bundle's grades, paired with the ranker's own shortlist (weight 0); `backend.fusion.choose_weight`
then picks the share. `bench/fusion_sweep.py` prints the grid; a retraining job
(`training.pipeline`) records the choice for its candidate adapter, so a promoted version's picks
count in the shortlist only as far as val supports.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.fusion import Trial, choose_weight, fuse
from backend.service import SHORTLIST_MAX, SHORTLIST_TARGET
from catalog.errors import ConciergeError
from training.metrics import ndcg_at_k, paired_comparison

WEIGHTS = (0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0)
KS = (1.0, 2.0, 5.0, 20.0)
METRIC_K = 5
MIN_PICKED = 10  # queries where the model picked something: fewer cannot show what its share does


@dataclass
class Sweep:
    """The grid of one pipeline run, and the share it supports."""

    trials: list[Trial]
    chosen: Trial | None  # None: no positive weight qualifies (the ranker orders)
    best: Trial  # the highest NDCG@5 of the grid
    queries: int  # answerable queries the model answered


def shortlists(rows: list[dict], weight: float, k: float) -> list[list[str]]:
    """The fused shortlist of each query (the serving path's size rule)."""
    out = []
    for notes in rows:
        picks, order = notes["model_picks"], notes["ranker_order"]
        size = max(SHORTLIST_TARGET, min(len(picks), SHORTLIST_MAX))
        out.append(fuse(picks, order, weight, k)[:size])
    return out


def answered(per_query: list[dict],
             relevant: dict[str, dict]) -> tuple[list[dict], list[str]]:
    """(notes, query ids) of the answerable queries whose notes hold the model's picks and the
    ranker's order."""
    rows, ids = [], []
    for record in per_query:
        notes = record.get("notes") or {}
        if notes.get("ranker_order") and relevant.get(record["query_id"]):
            rows.append(notes)
            ids.append(record["query_id"])
    return rows, ids


def sweep(per_query: list[dict], relevant: dict[str, dict]) -> Sweep:
    """Score every (weight, k) of the grid against the ranker alone.

    Args:
        per_query (`list[dict]`): a pipeline system's per-query records (`concierge eval`, full
            protocol).
        relevant (`dict[str, dict]`): query id -> graded relevant items.

    Raises:
        `ConciergeError`: no answerable query has the notes the sweep needs.
    """
    rows, ids = answered(per_query, relevant)
    if not rows:
        raise ConciergeError("no answerable query of the pipeline run has the model's picks and "
                             "the ranker's order in its notes (did the run fail? see its per-query "
                             "errors)")
    picked = sum(bool(notes["model_picks"]) for notes in rows)
    if picked < MIN_PICKED:  # every weight would tie with the ranker alone; the largest would win
        raise ConciergeError(f"the model picked items on {picked} of {len(rows)} answerable "
                             f"queries (fewer than {MIN_PICKED}): too few to choose its share")
    base = dict(zip(ids, (ndcg_at_k(s, relevant[q], METRIC_K)
                          for s, q in zip(shortlists(rows, 0.0, 1.0), ids))))
    trials = []
    for weight in WEIGHTS:
        for k in KS:
            scores = dict(zip(ids, (ndcg_at_k(s, relevant[q], METRIC_K)
                                    for s, q in zip(shortlists(rows, weight, k), ids))))
            diff = paired_comparison(scores, base, "fused", "ranker", f"ndcg@{METRIC_K}").diff
            trials.append(Trial(weight, k, sum(scores.values()) / len(scores), diff.mean, diff.low,
                                diff.high))
    return Sweep(trials, choose_weight(trials), max(trials, key=lambda t: t.mean), len(rows))


def fusion_record(result: Sweep, bundle_name: str, digest: str, split: str, system: str,
                  evidence: str, created: str) -> dict:
    """The `fusion.json` record of one catalogue (`backend.fusion.write_record`)."""
    chosen = result.chosen
    return {"name": bundle_name, "digest": digest,
            "model_weight": chosen.model_weight if chosen else 0.0,
            "k": chosen.k if chosen else result.best.k, "chosen_on": split,
            "queries": result.queries, "system": system, "evidence": evidence,
            "report_created": created}
