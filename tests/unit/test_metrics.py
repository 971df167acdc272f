"""Ranking metrics, bootstrap intervals, paired comparisons and their power against hand-computed values."""

import math

import numpy as np
import pytest

from training import metrics

from training.metrics import (
    bootstrap_interval,
    failed_scores,
    hit_at_1,
    metric_names,
    minimum_detectable_gain,
    ndcg_at_k,
    paired_comparison,
    query_scores,
    recall_at_k,
    reciprocal_rank,
    sign_flip_p_value,
)

RELEVANT = {"a": 3, "b": 1}


def test_ndcg_uses_graded_exponential_gains_and_log2_discount():
    # gains: b -> 2**1-1 = 1 at rank 1, x -> 0, a -> 2**3-1 = 7 at rank 3 (discount log2(4) = 2)
    dcg = 1 / 1 + 0 + 7 / 2
    ideal = 7 / 1 + 1 / math.log2(3)
    assert ndcg_at_k(["b", "x", "a"], RELEVANT, 3) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(["b", "x", "a"], RELEVANT, 3) == pytest.approx(0.589705, abs=1e-6)
    assert ndcg_at_k(["b", "x", "a"], RELEVANT, 1) == pytest.approx(1 / 7)  # the ideal top 1 is a (gain 7)
    assert ndcg_at_k(["a", "b"], RELEVANT, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], RELEVANT, 2) == 0.0


def test_recall_mrr_and_hit():
    assert recall_at_k(["b", "x", "a"], RELEVANT, 2) == pytest.approx(0.5)
    assert recall_at_k(["b", "x", "a"], RELEVANT, 3) == pytest.approx(1.0)
    assert reciprocal_rank(["x", "y", "a"], RELEVANT) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x", "y"], RELEVANT) == 0.0
    assert hit_at_1(["a", "x"], RELEVANT) == 1.0
    assert hit_at_1(["x", "a"], RELEVANT) == 0.0
    assert hit_at_1([], RELEVANT) == 0.0


def test_query_scores_names_every_metric():
    scores = query_scores(["b", "x", "a"], RELEVANT, [1, 3])
    assert list(scores) == metric_names([1, 3]) == ["ndcg@1", "ndcg@3", "recall@1", "recall@3", "mrr", "hit@1"]
    assert scores["recall@1"] == pytest.approx(0.5) and scores["mrr"] == 1.0 and scores["hit@1"] == 1.0


def test_an_impossible_request_scores_one_only_when_the_system_says_nothing_fits():
    assert set(query_scores([], {}, [5]).values()) == {1.0}
    assert set(query_scores(["x"], {}, [5]).values()) == {0.0}
    assert set(query_scores([], RELEVANT, [5]).values()) == {0.0}  # silence on an answerable request
    assert set(failed_scores([5, 10]).values()) == {0.0}


def test_bootstrap_interval_brackets_the_mean_and_is_reproducible():
    values = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0]
    first = bootstrap_interval(values, resamples=500, seed=3)
    assert first.mean == pytest.approx(5 / 8) and first.method == "BCa"
    assert 0.0 <= first.low < first.mean < first.high <= 1.0
    assert bootstrap_interval(values, resamples=500, seed=3) == first
    assert math.isnan(bootstrap_interval([]).mean) and bootstrap_interval([]).method == "none"


def test_bca_interval_of_a_large_sample_matches_the_normal_interval():
    # 400 values, half 0 and half 1: mean 0.5, standard error 0.5 / sqrt(400) = 0.025,
    # so the 95% interval is about 0.5 -+ 1.96 * 0.025 = [0.451, 0.549]
    interval = bootstrap_interval([0.0, 1.0] * 200, resamples=2000, seed=0)
    assert (interval.low, interval.high) == pytest.approx((0.451, 0.549), abs=0.01)


def test_bootstrap_interval_narrows_with_more_queries():
    few = bootstrap_interval([0.0, 1.0] * 5, seed=1)
    many = bootstrap_interval([0.0, 1.0] * 500, seed=1)
    assert (many.high - many.low) < (few.high - few.low) / 5


def test_degenerate_samples_get_the_mean_as_their_interval():
    # BCa cannot be formed on one value or on equal values (its jackknife has no spread): no resampling
    for values in ([0.4] * 5, [0.7]):
        interval = bootstrap_interval(values)
        assert (interval.low, interval.mean, interval.high) == pytest.approx((values[0],) * 3)
        assert interval.method == "constant"


def test_a_failed_bca_interval_falls_back_to_the_percentile_interval(monkeypatch):
    real = metrics.stats.bootstrap

    def no_bca(data, statistic, **kwargs):  # BCa yielding no finite bound, as scipy does on degenerate data
        result = real(data, statistic, **kwargs)
        if kwargs["method"] == "BCa":
            result.confidence_interval = type(result.confidence_interval)(math.nan, math.nan)
        return result

    monkeypatch.setattr(metrics.stats, "bootstrap", no_bca)
    # two values 0 and 1: resampled means are 0, 0.5, 1 with chances 1/4, 1/2, 1/4, so the 2.5th and
    # 97.5th percentiles are 0 and 1
    interval = bootstrap_interval([0.0, 1.0], resamples=1000, seed=0)
    assert interval.method == "percentile"
    assert (interval.low, interval.mean, interval.high) == pytest.approx((0.0, 0.5, 1.0))


def test_paired_comparison_uses_only_shared_queries():
    a = {"q1": 1.0, "q2": 1.0, "q3": 1.0}
    b = {"q1": 0.0, "q2": 0.0, "q3": 0.0, "q4": 1.0}
    result = paired_comparison(a, b, "A", "B", "hit@1", resamples=200)
    assert result.n == 3
    # every difference is 1: the interval is the mean itself
    assert (result.diff.mean, result.diff.low, result.diff.high) == pytest.approx((1.0, 1.0, 1.0))
    assert result.diff.method == "constant"
    # 3 differences of the same sign: 2 of the 8 sign patterns are as extreme (enumerated, exact)
    assert result.p_value == pytest.approx(0.25)
    assert result.to_dict()["diff"]["mean"] == pytest.approx(1.0)


def test_paired_comparison_bootstraps_the_per_query_differences():
    # B is A shifted by 0.1 on every query plus a spread that cancels: differences 0.1 -+ 0.05
    a = {f"q{i}": 0.5 + 0.05 * (-1) ** i for i in range(20)}
    b = {f"q{i}": 0.4 for i in range(20)}
    result = paired_comparison(a, b, "A", "B", "ndcg@5", resamples=500)
    assert result.n == 20 and result.diff.method == "BCa"
    assert result.diff.mean == pytest.approx(0.1)
    # mean 0.1, sd 0.0513, standard error 0.0115: the interval lies well above 0, within 0.1 -+ 0.03
    assert 0.07 < result.diff.low < 0.1 < result.diff.high < 0.13
    assert result.p_value < 0.001


def test_sign_flip_p_value_of_no_difference_is_one_and_of_a_large_one_is_small():
    assert sign_flip_p_value(np.zeros(10)) == 1.0
    assert sign_flip_p_value(np.array([])) == 1.0
    assert sign_flip_p_value(np.full(30, 0.5)) < 0.001
    # 4 differences, one negative: |mean| = 0.5; the sign patterns at least as extreme are the 2 with
    # all signs equal (|mean| 1.5) and the 8 with one sign against the rest (|mean| 0.5), 10 of 16
    assert sign_flip_p_value(np.array([1.0, 1.0, 1.0, -1.0])) == pytest.approx(10 / 16)


def test_minimum_detectable_gain_is_the_paired_t_formula():
    diffs = np.array([0.3, -0.3] * 20)  # sd = 0.3 * sqrt(40 / 39) = 0.30382
    # n = 40: (t_0.975,39 + t_0.8,39) * sd / sqrt(40) = (2.0227 + 0.8513) * 0.30382 / 6.3246 = 0.13806
    assert minimum_detectable_gain(diffs) == pytest.approx(0.13806, abs=1e-4)
    # n = 20 with the same spread: (2.0930 + 0.8610) * 0.30382 / 4.4721 = 0.20068
    assert minimum_detectable_gain(diffs, n=20) == pytest.approx(0.20068, abs=1e-4)
    # many queries: the normal quantiles, (1.95996 + 0.84162) * sd / sqrt(n)
    assert minimum_detectable_gain(diffs, n=10_000) == pytest.approx(2.80158 * 0.30382 / 100, rel=1e-3)
    assert math.isnan(minimum_detectable_gain([0.2])) and math.isnan(minimum_detectable_gain(diffs, n=1))
    assert minimum_detectable_gain([0.2, 0.2, 0.2]) == pytest.approx(0.0, abs=1e-12)  # no spread


def test_system_specs_name_their_directories_clearly():
    import pytest

    from catalog.errors import ConciergeError
    from training.systems import check_systems

    check_systems(["bm25", "reasoner@var/runs/x/adapter", "pipeline@var/runs/x/adapter", "rechead@var/runs/x/rechead"])
    with pytest.raises(ConciergeError, match="needs its directory"):
        check_systems(["rechead"])
    with pytest.raises(ConciergeError, match="take a directory"):
        check_systems(["bm25@somewhere"])
    with pytest.raises(ConciergeError, match="unknown system 'lightgcn'"):
        check_systems(["lightgcn"])
