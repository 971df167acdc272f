"""Ranking metrics, bootstrap intervals and paired comparisons against hand-computed values."""

import math

import pytest

from training.metrics import (
    bootstrap_interval,
    failed_scores,
    hit_at_1,
    metric_names,
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
    assert first.mean == pytest.approx(5 / 8)
    assert 0.0 <= first.low < first.mean < first.high <= 1.0
    assert bootstrap_interval(values, resamples=500, seed=3) == first
    constant = bootstrap_interval([0.4] * 5)
    assert (constant.low, constant.mean, constant.high) == pytest.approx((0.4, 0.4, 0.4))
    assert math.isnan(bootstrap_interval([]).mean)


def test_bootstrap_interval_narrows_with_more_queries():
    few = bootstrap_interval([0.0, 1.0] * 5, seed=1)
    many = bootstrap_interval([0.0, 1.0] * 500, seed=1)
    assert (many.high - many.low) < (few.high - few.low) / 5


def test_paired_comparison_uses_only_shared_queries():
    a = {"q1": 1.0, "q2": 1.0, "q3": 1.0}
    b = {"q1": 0.0, "q2": 0.0, "q3": 0.0, "q4": 1.0}
    result = paired_comparison(a, b, "A", "B", "hit@1", resamples=200)
    assert result.n == 3
    assert (result.diff.mean, result.diff.low, result.diff.high) == pytest.approx((1.0, 1.0, 1.0))
    # 3 differences of the same sign: 2 of the 8 sign patterns are as extreme
    assert result.p_value == pytest.approx(0.25, abs=0.02)
    assert result.to_dict()["diff"]["mean"] == pytest.approx(1.0)


def test_sign_flip_p_value_of_no_difference_is_one_and_of_a_large_one_is_small():
    import numpy as np

    assert sign_flip_p_value(np.zeros(10)) == 1.0
    assert sign_flip_p_value(np.full(30, 0.5)) < 0.001


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
