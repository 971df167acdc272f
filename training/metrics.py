"""Ranking metrics, bootstrap confidence intervals, paired comparisons and their power: pure
functions.

Every metric scores one query from the ranked item ids a system returned and the query's graded
relevant set `{item_id: grade}` (grade 1 = acceptable .. 3 = ideal):

- NDCG@k with graded gains `2**grade - 1` and the usual `log2(rank + 1)` discount (Järvelin &
  Kekäläinen; the exponential gain of Burges et al.), normalised by the ideal ordering of the
  relevant grades cut at k.
- Recall@k: the share of the relevant items found in the top k (grades ignored). With more relevant
  items than k it cannot reach 1 (the demo world has up to 10 relevant items per query).
- MRR: 1 / rank of the first relevant item in the returned list, 0 when none is returned. The list
  is as deep as the protocol asks (max k on the whole catalogue; all candidates when re-ranking).
- Hit@1: whether the first item is relevant.

A query whose relevant set is empty (nothing in the catalogue fits) scores 1 on every metric when
the system returned nothing (it said that nothing fits) and 0 otherwise. A system that failed on a
query scores 0 on every metric there (`failed_scores`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 1000
POWER = 0.8  # of the minimum detectable gain


def dcg(gains: list[float]) -> float:
    """Discounted cumulative gain of gains in rank order: sum_i gain_i / log2(i + 1), i from 1."""
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranking: list[str], relevant: dict[str, int], k: int) -> float:
    """NDCG@k with graded relevance (gain 2**grade - 1).

    Args:
        ranking (`list[str]`): item ids, best first.
        relevant (`dict[str, int]`): item id -> grade (1..3); must not be empty.
        k (`int`): cut-off.

    Returns:
        `float`: in [0, 1].
    """
    gains = [2 ** relevant.get(item, 0) - 1 for item in ranking[:k]]
    ideal = sorted((2 ** g - 1 for g in relevant.values()), reverse=True)[:k]
    best = dcg(ideal)
    return dcg(gains) / best if best > 0 else 0.0


def recall_at_k(ranking: list[str], relevant: dict[str, int], k: int) -> float:
    """Share of the relevant items among the first k (grades ignored)."""
    return len(set(ranking[:k]) & set(relevant)) / len(relevant)


def reciprocal_rank(ranking: list[str], relevant: dict[str, int]) -> float:
    """1 / (1-based rank of the first relevant item); 0 when no relevant item is in the list."""
    for rank, item in enumerate(ranking, start=1):
        if item in relevant:
            return 1.0 / rank
    return 0.0


def hit_at_1(ranking: list[str], relevant: dict[str, int]) -> float:
    """1 when the first item is relevant."""
    return float(bool(ranking) and ranking[0] in relevant)


def metric_names(ks: list[int]) -> list[str]:
    """The metric keys, in table order, for cut-offs `ks`."""
    return [f"ndcg@{k}" for k in ks] + [f"recall@{k}" for k in ks] + ["mrr", "hit@1"]


def query_scores(ranking: list[str], relevant: dict[str, int], ks: list[int]) -> dict[str, float]:
    """Every metric of one query.

    Args:
        ranking (`list[str]`): the system's item ids, best first; empty means "nothing fits".
        relevant (`dict[str, int]`): item id -> grade; empty when nothing in the catalogue fits.
        ks (`list[int]`): cut-offs for NDCG and recall.

    Returns:
        `dict[str, float]`: metric name -> score in [0, 1].
    """
    if not relevant:  # an impossible request: right only when the system said nothing fits
        right = float(not ranking)
        return {name: right for name in metric_names(ks)}
    scores = {f"ndcg@{k}": ndcg_at_k(ranking, relevant, k) for k in ks}
    scores |= {f"recall@{k}": recall_at_k(ranking, relevant, k) for k in ks}
    scores["mrr"] = reciprocal_rank(ranking, relevant)
    scores["hit@1"] = hit_at_1(ranking, relevant)
    return scores


def failed_scores(ks: list[int]) -> dict[str, float]:
    """The scores of a query the system failed on: 0 everywhere (the client got nothing usable)."""
    return {name: 0.0 for name in metric_names(ks)}


@dataclass
class Interval:
    """A mean and its bootstrap confidence interval.

    `method` says how the interval was formed: `BCa` (the default), `percentile` (BCa could not be
    computed on this sample), `constant` (fewer than two values, or all equal: nothing to resample,
    the interval is the mean itself) or `none` (no values: everything NaN).
    """

    mean: float
    low: float
    high: float
    method: str = "BCa"

    def to_dict(self) -> dict[str, float | str]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _mean(sample: np.ndarray, axis: int = -1) -> np.ndarray:
    return sample.mean(axis=axis)


def bootstrap_interval(values, resamples: int = RESAMPLES, confidence: float = CONFIDENCE,
                       seed: int = 0) -> Interval:
    """The mean of per-query scores with a bias-corrected and accelerated (BCa) bootstrap interval.

    BCa (Efron 1987, `scipy.stats.bootstrap(method="BCa")`) corrects the percentile interval for the
    bias and skew of the resampled means, which matters at the 20-40 queries the promotion gate
    decides on (per-query NDCG is bounded and skewed). Degenerate samples get no resampling: fewer
    than two values or all values equal give the interval [mean, mean] (`method="constant"`); a
    sample on which BCa yields no finite bound falls back to the percentile interval of the same
    resamples (`method="percentile"`).

    Args:
        values (`Sequence[float]`): one score per query.
        resamples (`int`): bootstrap samples.
        confidence (`float`): e.g. 0.95.
        seed (`int`): seeds the resampling, so a table is reproducible.

    Returns:
        `Interval`: mean, low, high and the method used (all NaN when there are no values).
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return Interval(math.nan, math.nan, math.nan, "none")
    mean = float(values.mean())
    # BCa needs two distinct values (its jackknife divides by 0)
    if values.size < 2 or np.ptp(values) == 0:
        return Interval(mean, mean, mean, "constant")
    common = {"n_resamples": resamples, "confidence_level": confidence, "vectorized": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)  # a NaN bound is handled below
        bca = stats.bootstrap((values,), _mean, method="BCa", rng=np.random.default_rng(seed),
                              **common)
    low, high = bca.confidence_interval
    if np.isfinite(low) and np.isfinite(high):
        return Interval(mean, float(low), float(high), "BCa")
    percentile = stats.bootstrap((values,), _mean, method="percentile", bootstrap_result=bca,
                                 rng=np.random.default_rng(seed), **{**common, "n_resamples": 0})
    low, high = percentile.confidence_interval
    return Interval(mean, float(low), float(high), "percentile")


@dataclass
class Comparison:
    """System A minus system B on the same queries."""

    a: str
    b: str
    metric: str
    n: int
    diff: Interval  # mean of the per-query differences A - B, with its bootstrap interval
    p_value: float  # two-sided paired sign-flip permutation test of "no difference"

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "metric": self.metric, "n": self.n,
                "diff": self.diff.to_dict(), "p_value": self.p_value}


def sign_flip_p_value(diffs: np.ndarray, draws: int = 10000, seed: int = 0) -> float:
    """Two-sided p-value of a paired permutation test: flip the sign of each difference at random.

    `scipy.stats.permutation_test` with `permutation_type="samples"` on the one sample of
    differences flips signs; with at most `draws` sign patterns (2**n <= draws, n <= 13 at the
    default) it enumerates them all and the p-value is exact.

    Args:
        diffs (`np.ndarray`): per-query differences, shape (n,).
        draws (`int`): random sign patterns (when there are more than this many patterns).
        seed (`int`): seeds the draws.

    Returns:
        `float`: the share of sign patterns at least as extreme (observed pattern counted when drawn
        at random); 1.0 when there is no difference or every difference is 0.
    """
    diffs = np.asarray(diffs, dtype=float)
    if diffs.size == 0 or not np.any(diffs):
        return 1.0
    result = stats.permutation_test((diffs,), _mean, permutation_type="samples", vectorized=True,
                                    n_resamples=draws, rng=np.random.default_rng(seed))
    return float(result.pvalue)


def paired_comparison(a: dict[str, float], b: dict[str, float], name_a: str, name_b: str,
                      metric: str,
                      resamples: int = RESAMPLES, confidence: float = CONFIDENCE,
                      seed: int = 0) -> Comparison:
    """Compare two systems on the queries both were scored on.

    Args:
        a (`dict[str, float]`): query id -> score of system A.
        b (`dict[str, float]`): query id -> score of system B.
        name_a (`str`), name_b (`str`): the systems' names.
        metric (`str`): the metric's name (for the record).

    Returns:
        `Comparison`: mean difference A - B with the BCa bootstrap interval of the per-query
        differences (queries resampled, so the pairing is kept) and a sign-flip permutation p-value.
    """
    diffs = paired_differences(a, b)
    interval = bootstrap_interval(diffs, resamples, confidence, seed)
    return Comparison(name_a, name_b, metric, len(diffs), interval,
                      sign_flip_p_value(diffs, seed=seed))


def paired_differences(a: dict[str, float], b: dict[str, float]) -> np.ndarray:
    """A - B on the queries both were scored on, in query-id order; shape (n,)."""
    shared = sorted(set(a) & set(b))
    return np.array([a[q] - b[q] for q in shared], dtype=float)


def minimum_detectable_gain(diffs, n: int | None = None, confidence: float = CONFIDENCE,
                            power: float = POWER) -> float:
    """The smallest mean gain a paired test at `confidence` finds with probability `power` on `n`
    queries.

    The paired t approximation: MDE = (t_{1-alpha/2, n-1} + t_{power, n-1}) * s_d / sqrt(n), where
    s_d is the standard deviation of the per-query differences (alpha = 1 - confidence, two-sided).
    With s_d =
    0.3 and n = 40 it is (2.023 + 0.851) * 0.3 / 6.325 = 0.136.

    Args:
        diffs (`Sequence[float]`): per-query differences A - B of a real comparison (their spread is
            used).
        n (`int`, *optional*): the query count to plan for (default: as many as `diffs`).
        confidence (`float`): the interval's level, e.g. 0.95.
        power (`float`): the chance of detecting a true gain of that size, e.g. 0.8.

    Returns:
        `float`: the gain; NaN with fewer than two differences or n < 2.
    """
    diffs = np.asarray(diffs, dtype=float)
    n = diffs.size if n is None else n
    if diffs.size < 2 or n < 2:
        return math.nan
    spread = float(diffs.std(ddof=1))
    t = stats.t(df=n - 1)
    return float((t.ppf(1 - (1 - confidence) / 2) + t.ppf(power)) * spread / math.sqrt(n))


# The reasoning quality gates: what an LLM system's answers must meet on the demo test split.
GATES = {"valid_pick": (">=", 0.95), "degenerate": ("<=", 0), "consistent": (">=", 0.70),
         "inconsistent": ("<=", 0.10), "ungrounded": ("<=", 0)}


def reasoning_gates(notes: list[dict]) -> dict | None:
    """The gates over one LLM system's per-query notes (queries it answered with the model), or None
    for a system without reasoning notes.

    valid_pick: share of answers whose own ANSWER line named a candidate (forced answers do not
    count); degenerate: answers stopped on repeated text; cut: answers stopped at the token limit;
    consistent / inconsistent: shares of all steps by the verifier's verdict; ungrounded: answers
    with a step naming a handle or a catalogue fact its prompt never showed.
    """
    asked = [n for n in notes if n and n.get("answer") is not None and n.get("gates") is not None]
    if not asked:
        return None
    steps = sum(n["gates"]["steps"] for n in asked)
    tokens = [n["completion_tokens"] for n in asked if n.get("completion_tokens")]
    values = {
        "answers": len(asked),
        "valid_pick": sum(n["answer"] == "model" for n in asked) / len(asked),
        "forced": sum(n["answer"] == "forced" for n in asked) / len(asked),
        "degenerate": sum(n.get("ended") == "degenerate" for n in asked),
        "cut": sum(n.get("ended") == "limit" for n in asked),
        "consistent": sum(n["gates"]["consistent"] for n in asked) / steps if steps else 0.0,
        "inconsistent": sum(n["gates"]["inconsistent"] for n in asked) / steps if steps else 0.0,
        "ungrounded": sum(n["gates"]["ungrounded"] > 0 for n in asked),
        "median_tokens": sorted(tokens)[len(tokens) // 2] if tokens else None,
    }
    values["passed"] = {gate: (values[gate] >= bound if op == ">=" else values[gate] <= bound)
                        for gate, (op, bound) in GATES.items()}
    return values
