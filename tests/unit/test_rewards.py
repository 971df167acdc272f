"""The ReRec reward terms against hand-computed values."""

import math

import pytest

from training.rewards import (
    CollaborativeEmbedding,
    RewardWeights,
    contradiction,
    format_reward,
    ground_truth,
    item_attributes,
    ndcg_reward,
    overlong_penalty,
    pas,
    qas,
    rerec_reward,
    score_completion,
)

ITEMS = {
    "a": {"item_id": "a", "title": "A", "brand": "Aurel", "category": "scarf",
          "attributes": {"material": ["silk"], "colour": ["red"], "season": ["summer"]}},
    "b": {"item_id": "b", "title": "B", "brand": "Aurel", "category": "scarf",
          "attributes": {"material": ["silk"], "colour": ["blue"], "season": ["summer"]}},
    "c": {"item_id": "c", "title": "C", "brand": "Vell", "category": "boot",
          "attributes": {"material": ["suede"], "colour": ["red"], "season": ["winter"]}},
    "d": {"item_id": "d", "title": "D", "brand": "Aurel", "category": "bag",
          "attributes": {"material": ["silk"], "colour": ["green"], "season": ["winter"]}},
}
RELEVANCE = {"a": 3, "b": 3, "c": 1}
# clients x items (a, b): c1 bought both, c2 only a, c3 only b -> M^T M = [[2, 1], [1, 2]]
INTERACTIONS = [
    {"client_id": "c1", "item_id": "a", "kind": "purchase", "value": 1.0},
    {"client_id": "c1", "item_id": "b", "kind": "purchase", "value": 1.0},
    {"client_id": "c2", "item_id": "a", "kind": "purchase", "value": 1.0},
    {"client_id": "c3", "item_id": "b", "kind": "purchase", "value": 1.0},
]
WEIGHTS = RewardWeights(k=5, ndcg=1.0, qas=0.1, pas=0.2, format=0.5, missing_answer=-0.5, rechead=0.0)


def test_ndcg_term_is_graded_ndcg_of_the_picks():
    # picks c (gain 2^1-1 = 1) then a (gain 7, discount log2 3); ideal: 7, 7, 1
    dcg = 1 + 7 / math.log2(3)
    ideal = 7 + 7 / math.log2(3) + 1 / 2
    assert ndcg_reward(["c", "a"], RELEVANCE, 5) == pytest.approx(dcg / ideal)
    assert ndcg_reward(["c", "a"], RELEVANCE, 5) == pytest.approx(0.454545, abs=1e-5)
    assert ndcg_reward(["d"], RELEVANCE, 5) == 0.0
    assert ndcg_reward(["a"], {}, 5) == 0.0


def test_qas_is_the_share_of_the_ground_truths_shared_attributes():
    assert ground_truth(RELEVANCE) == ["a", "b"]
    # a and b share brand=aurel, category=scarf, material=silk, season=summer (4 nodes)
    assert item_attributes(ITEMS["a"]) & item_attributes(ITEMS["b"]) == {
        "brand=aurel", "category=scarf", "material=silk", "season=summer"}
    assert qas("a", RELEVANCE, ITEMS) == pytest.approx(1.0)
    assert qas("d", RELEVANCE, ITEMS) == pytest.approx(2 / 4)  # brand and material
    assert qas("c", RELEVANCE, ITEMS) == 0.0
    assert qas(None, RELEVANCE, ITEMS) == 0.0
    assert qas("a", {}, ITEMS) == 0.0


def test_pas_is_cosine_in_the_svd_embedding():
    emb = CollaborativeEmbedding(INTERACTIONS, factors=8)
    # E E^T = V S V^T = (M^T M)^(1/2) = 0.5 [[r3+1, r3-1], [r3-1, r3+1]]  ->  cos(a, b) = (r3-1)/(r3+1)
    r3 = math.sqrt(3)
    assert emb.cosine("a", "b") == pytest.approx((r3 - 1) / (r3 + 1))
    assert emb.cosine("a", "a") == pytest.approx(1.0)
    assert emb.cosine("a", "c") == 0.0  # c has no interactions: no vector
    # gt = a, b: mean of cos(a, a) = 1 and cos(a, b)
    assert pas("a", RELEVANCE, emb) == pytest.approx((1 + (r3 - 1) / (r3 + 1)) / 2)
    assert pas("a", RELEVANCE, None) == 0.0


def test_format_bonus_only_with_a_positive_ranking_term():
    assert format_reward(True, 0.3, 0.5) == 0.5
    assert format_reward(True, 0.0, 0.5) == 0.0  # echoing a wrong order earns nothing for its format
    assert format_reward(False, 0.3, 0.5) == 0.0


def test_rerec_total():
    emb = CollaborativeEmbedding(INTERACTIONS)
    hit = rerec_reward(["a", "c"], RELEVANCE, ITEMS, WEIGHTS, emb)
    ndcg = (7 + 1 / math.log2(3)) / (7 + 7 / math.log2(3) + 0.5)
    pas_a = (1 + (math.sqrt(3) - 1) / (math.sqrt(3) + 1)) / 2
    assert hit.ndcg == pytest.approx(ndcg)
    assert hit.total == pytest.approx(ndcg + 0.1 * 1.0 + 0.2 * pas_a + 0.5)
    assert hit.wrong_picks == []
    miss = rerec_reward(["d"], RELEVANCE, ITEMS, WEIGHTS, emb)
    assert miss.total == pytest.approx(0.1 * 0.5)  # only QAS: no ranking, so no format bonus
    assert miss.wrong_picks == ["d"]
    assert rerec_reward([], RELEVANCE, ITEMS, WEIGHTS, emb).total == -0.5


def test_rechead_term_is_weighted_and_optional():
    weights = RewardWeights(k=5, ndcg=1.0, qas=0.0, pas=0.0, format=0.0, rechead=0.5)
    handles = {"K7": ITEMS["a"], "B2": ITEMS["d"]}
    scored = score_completion("1. K7 fits.\nANSWER: K7", handles, RELEVANCE, weights, rechead=lambda text, picks: 0.8)
    assert scored.rechead == pytest.approx(0.8)
    assert scored.total == pytest.approx(1.0 * scored.ndcg + 0.5 * 0.8)

    def never(text, picks):
        raise AssertionError("the hook is not called when its weight is 0")

    assert score_completion("ANSWER: K7", handles, RELEVANCE, WEIGHTS, rechead=never).rechead == 0.0


def test_score_completion_parses_with_the_serving_parser():
    handles = {"K7": ITEMS["a"], "B2": ITEMS["d"], "M4": ITEMS["c"]}
    good = score_completion("1. K7 is silk, ideal.\n2. B2 is not a scarf.\nANSWER: K7, M4", handles, RELEVANCE, WEIGHTS)
    assert good.picks == ["a", "c"]
    # shown relevance is a:3, c:1 (b is not among the handles): ideal 7, 1
    assert good.ndcg == pytest.approx(1.0)
    assert good.format == 0.5
    sloppy = score_completion("ANSWER: K7, Z9", handles, RELEVANCE, WEIGHTS)  # Z9 is no candidate
    assert sloppy.picks == ["a"] and sloppy.format == 0.0
    assert score_completion("I like them all.", handles, RELEVANCE, WEIGHTS).total == -0.5


def test_ranking_what_the_steps_ruled_out_costs_its_rank_discount():
    assert contradiction(["a", "c", "d"], ["a", "d"], k=5) == pytest.approx(1 + 1 / 2)
    assert contradiction(["c", "a"], ["a"], k=1) == 0.0  # beyond k: free
    assert contradiction(["a"], [], k=5) == 0.0


def test_consistency_and_extra_pick_terms_charge_the_answer():
    weights = RewardWeights(k=5, ndcg=1.0, qas=0.0, pas=0.0, format=0.0, consistency=0.5, extra_pick=0.1)
    handles = {"K7": ITEMS["a"], "B2": ITEMS["d"], "M4": ITEMS["c"], "Q3": ITEMS["b"]}
    steps = "1. B2 is out: not a scarf.\n2. K7 is silk, ideal.\n"
    honest = score_completion(steps + "ANSWER: K7, M4", handles, RELEVANCE, weights)
    assert honest.contradicted == 0.0 and honest.extra_picks == 0
    assert honest.total == pytest.approx(honest.ndcg)
    # the same steps, then B2 ranked first: charged 0.5 x 1 (the first pick's discount)
    turncoat = score_completion(steps + "ANSWER: B2, K7, M4", handles, RELEVANCE, weights)
    assert turncoat.contradicted == pytest.approx(1.0)
    assert turncoat.total == pytest.approx(turncoat.ndcg - 0.5)
    # four picks where the prompt asks for three: one extra pick, charged 0.1
    padded = score_completion(steps + "ANSWER: K7, M4, Q3, B2", handles, RELEVANCE, weights)
    assert padded.extra_picks == 1
    assert padded.contradicted == pytest.approx(1 / math.log2(5))
    assert padded.total == pytest.approx(padded.ndcg - 0.5 / math.log2(5) - 0.1)
    # off by default: the ReRec reward as published
    assert score_completion(steps + "ANSWER: B2, K7, M4, Q3", handles, RELEVANCE, WEIGHTS).total == \
        rerec_reward(["d", "a", "c", "b"], RELEVANCE, ITEMS, WEIGHTS).total


def test_gain_scores_the_evaluated_ranking_against_the_given_order():
    weights = RewardWeights(k=2, ndcg=1.0, qas=0.0, pas=0.0, format=0.5, ranking="gain")
    given = ["d", "c", "a", "b"]  # the evaluation fills the ranking with the rest in this order
    baseline = ndcg_reward(given, RELEVANCE, 2)
    echo = rerec_reward(["d", "c"], RELEVANCE, ITEMS, weights, given=given)
    assert echo.given == pytest.approx(baseline) and echo.ndcg == pytest.approx(baseline)
    assert echo.total == pytest.approx(0.0)  # echoing the given order gains nothing, no format bonus
    better = rerec_reward(["a"], RELEVANCE, ITEMS, weights, given=given)  # ranked list: a, d
    assert better.ndcg == pytest.approx(ndcg_reward(["a", "d"], RELEVANCE, 2))
    assert better.total == pytest.approx(better.ndcg - baseline + 0.5)
    # a second pick worse than the candidate it displaces lowers the reward (picks alone: it would not)
    padded = rerec_reward(["a", "d"], RELEVANCE, ITEMS, weights, given=["c", "d", "a", "b"])
    lean = rerec_reward(["a"], RELEVANCE, ITEMS, weights, given=["c", "d", "a", "b"])
    assert padded.total < lean.total
    picks_only = RewardWeights(k=2, ndcg=1.0, qas=0.0, pas=0.0, format=0.0)
    assert rerec_reward(["a", "d"], RELEVANCE, ITEMS, picks_only).total == \
        rerec_reward(["a"], RELEVANCE, ITEMS, picks_only).total
    with pytest.raises(ValueError, match="reward.ranking"):
        rerec_reward(["a"], RELEVANCE, ITEMS, RewardWeights(ranking="ndcg"))


def test_format_bonus_can_be_held_to_the_step_counts_asked_for():
    assert format_reward(True, 0.3, 0.5, steps=0, allowed_steps=[2, 3]) == 0.0
    assert format_reward(True, 0.3, 0.5, steps=2, allowed_steps=[2, 3]) == 0.5
    assert format_reward(True, 0.3, 0.5, steps=4, allowed_steps=[2, 3]) == 0.0
    assert format_reward(True, 0.3, 0.5, steps=0) == 0.5  # no step counts given: any
    weights = RewardWeights(k=5, ndcg=1.0, qas=0.0, pas=0.0, format=0.5, format_steps=[2, 3])
    handles = {"K7": ITEMS["a"], "B2": ITEMS["d"], "M4": ITEMS["c"]}
    bare = score_completion("ANSWER: K7, M4", handles, RELEVANCE, weights)
    reasoned = score_completion("1. K7 is silk, ideal.\n2. M4 is red too.\nANSWER: K7, M4", handles,
                                RELEVANCE, weights)
    assert (bare.steps, reasoned.steps) == (0, 2)
    assert bare.format == 0.0 and reasoned.format == 0.5 and bare.ndcg == reasoned.ndcg


def test_overlong_penalty_falls_linearly_over_the_buffer():
    # limit 160, buffer 40: free up to 120 tokens, then -1/40 per token, -1 at the limit and beyond
    assert overlong_penalty(100, 160, 40) == 0.0
    assert overlong_penalty(120, 160, 40) == 0.0
    assert overlong_penalty(130, 160, 40) == pytest.approx(-0.25)
    assert overlong_penalty(150, 160, 40) == pytest.approx(-0.75)
    assert overlong_penalty(160, 160, 40) == pytest.approx(-1.0)
    assert overlong_penalty(170, 160, 40) == -1.0
    assert overlong_penalty(170, 160, 0) == 0.0  # buffer 0: off
