"""The numbers of an evaluation run: each system's per-query records summarised with bootstrap
intervals (overall and per query type) and paired comparisons between systems.

The metrics and their intervals themselves are in `training/metrics.py`.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from training.metrics import bootstrap_interval, metric_names, paired_comparison


@dataclass
class QueryRecord:
    """What one system did on one query."""

    query_id: str
    type: str
    scores: dict[str, float]
    ranking: list[str]
    seconds: float
    error: str | None = None
    notes: dict = field(default_factory=dict)



def summarise(records: list[QueryRecord], ks: list[int], resamples: int, seed: int) -> dict:
    """Metrics with bootstrap intervals, overall and per query type, and wall time per query."""
    def block(subset_records: list[QueryRecord]) -> dict:
        return {"n": len(subset_records),
                "metrics": {m: bootstrap_interval([r.scores[m] for r in subset_records], resamples,
                                                  seed=seed).to_dict() for m in metric_names(ks)}}

    by_type: dict[str, list[QueryRecord]] = {}
    for r in records:
        by_type.setdefault(r.type, []).append(r)
    seconds = [r.seconds for r in records]
    return {
        **block(records),
        "by_type": {t: block(rs) for t, rs in sorted(by_type.items())},
        "failures": [{"query_id": r.query_id, "error": r.error} for r in records if r.error],
        "seconds_per_query": {"mean": statistics.fmean(seconds),
                              "median": statistics.median(seconds),
                              "p95": sorted(seconds)[max(math.ceil(0.95 * len(seconds)) - 1, 0)],
                              "total": sum(seconds)} if seconds else {},
        "per_query": [{"query_id": r.query_id, "type": r.type,
                       "scores": {k: round(v, 4) for k, v in r.scores.items()},
                       "ranking": r.ranking[:max(ks)], "seconds": round(r.seconds, 4),
                       "error": r.error,
                       **({"notes": r.notes} if r.notes else {})} for r in records],
    }


def default_pairs(systems: list[str]) -> list[tuple[str, str]]:
    """Without --compare: every system against the first one listed."""
    return [(spec, systems[0]) for spec in systems[1:]]


def compare_all(results: dict, pairs: list[tuple[str, str]], ks: list[int], resamples: int,
                seed: int) -> dict:
    """Paired comparisons per protocol and metric, on the queries both systems answered."""
    out = {}
    for protocol, systems in results.items():
        rows = []
        for a, b in pairs:
            if "per_query" not in systems.get(a, {}) or "per_query" not in systems.get(b, {}):
                continue
            for metric in metric_names(ks):
                score_a = {q["query_id"]: q["scores"][metric] for q in systems[a]["per_query"]}
                score_b = {q["query_id"]: q["scores"][metric] for q in systems[b]["per_query"]}
                rows.append(paired_comparison(score_a, score_b, a, b, metric, resamples,
                                              seed=seed).to_dict())
        out[protocol] = rows
    return out

