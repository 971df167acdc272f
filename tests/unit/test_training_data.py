"""Training cases from a bundle (the evaluation's re-ranking lists) and from stored feedback."""

from datetime import datetime, timezone

from training.data import (TrainingCase, cases_from_bundle, cases_from_feedback, feedback_relevance, fold_of,
                           shown_candidates, with_hard_share)
from training.eval_queries import rerank_candidates


def test_bundle_cases_use_the_evaluations_candidate_lists(small_world):
    cases = cases_from_bundle(small_world, split="train", size=20, seed=3)
    queries = [q for q in small_world.queries if q["split"] == "train"]
    assert [c.case_id for c in cases] == [q["query_id"] for q in queries]
    item_ids = [it["item_id"] for it in small_world.items]
    for case, query in zip(cases, queries):
        assert case.candidates == rerank_candidates(query, item_ids, set(), 20, 3)
        assert len(case.candidates) == 20 and len(set(case.candidates)) == 20
        assert set(case.relevance) <= set(case.candidates)
        assert all(1 <= g <= 3 for g in case.relevance.values())
        assert case.source == "bundle" and case.query_type == query["type"]
    assert any(not c.relevance for c in cases) == any(not q["relevant"] for q in queries)


def test_shown_candidates_keep_order_and_at_most_half_relevant():
    case = TrainingCase("q", "c", "r", [f"i{n}" for n in range(10)], {"i1": 1, "i3": 3, "i5": 2, "i7": 3},
                        "explicit", "bundle")
    shown = shown_candidates(case, 4)
    assert shown == ["i0", "i2", "i3", "i7"]  # the two best-graded relevant, then negatives, in case order
    assert shown_candidates(case, None) == case.candidates


class Row:
    def __init__(self, id, kind, item_id=None, replacement_item_id=None, new_rank=None):
        self.id, self.kind, self.item_id, self.replacement_item_id = id, kind, item_id, replacement_item_id
        self.new_rank = new_rank


def test_feedback_grades_latest_judgement_and_purchase_wins():
    rows = [Row(1, "accept", "a"), Row(2, "reject", "a"), Row(3, "accept", "b"), Row(4, "purchase", "c"),
            Row(5, "reject", "c"), Row(6, "replace", "d", "e"), Row(7, "flag_wrong")]
    assert feedback_relevance(rows) == {"b": 2, "c": 3, "e": 2}


def test_a_reorder_grades_the_item_by_its_new_place():
    rows = [Row(1, "reorder", "a", new_rank=1), Row(2, "reorder", "b", new_rank=3), Row(3, "reject", "c"),
            Row(4, "reorder", "c", new_rank=2), Row(5, "purchase", "d"), Row(6, "reorder", "d", new_rank=4),
            Row(7, "accept", "e"), Row(8, "reorder", "e", new_rank=5)]
    assert feedback_relevance(rows) == {"a": 2, "b": 1, "c": 1, "d": 3, "e": 1}
    assert feedback_relevance([Row(1, "reorder", "a", new_rank=2), Row(2, "reject", "a")]) == {}


def test_cases_from_feedback_reads_the_store(settings):
    from backend.store import session
    from backend.tables import Client, Feedback, ReasoningStep, Shortlist

    with session() as s:
        s.add(Client(client_id="c-1", name="Ada"))
        s.flush()
        sl = Shortlist(client_id="c-1", request="a silk scarf", candidates=[f"i{n}" for n in range(6)],
                       created_at=datetime(2025, 1, 1, tzinfo=timezone.utc))
        empty = Shortlist(client_id="c-1", request="anything", candidates=["i1"])
        s.add(sl)
        s.add(empty)
        s.flush()
        s.add(ReasoningStep(shortlist_id=sl.id, index=2, text="K7 is cashmere, ideal."))
        s.add(Feedback(shortlist_id=sl.id, item_id="i2", kind="accept"))
        s.add(Feedback(shortlist_id=sl.id, item_id="i4", kind="purchase"))
        s.add(Feedback(shortlist_id=sl.id, item_id="i5", kind="reject"))
        s.add(Feedback(shortlist_id=sl.id, step_index=2, kind="flag_wrong"))
        s.add(Feedback(shortlist_id=empty.id, item_id="i1", kind="reject"))  # nothing positive, no flag
        sl_id = sl.id
    cases = cases_from_feedback()
    assert len(cases) == 1
    case = cases[0]
    assert case.case_id == f"feedback-{sl_id}" and case.source == "feedback" and case.client_id == "c-1"
    assert case.relevance == {"i2": 2, "i4": 3}
    assert sorted(case.candidates) == [f"i{n}" for n in range(6)]
    assert case.step_labels == [{"index": 2, "text": "K7 is cashmere, ideal.", "label": "wrong"}]
    assert len(case.feedback_ids) == 4
    last = max(case.feedback_ids)
    assert cases_from_feedback(since_id=last + 1) == []


def test_hard_share_keeps_every_hard_case_and_samples_the_easy_ones():
    def case(n, top_right):  # its given order: the relevant item first (easy) or sixth (hard)
        candidates = [f"i{j}" for j in range(10)]
        return TrainingCase(f"q{n}", None, "r", candidates, {"i0" if top_right else "i5": 2}, "explicit", "bundle")

    cases = [case(n, n % 5 != 0) for n in range(50)]  # 10 hard, 40 easy
    mixed = with_hard_share(cases, 0.25, k=5, seed=1)
    hard = [c for c in mixed if "i5" in c.relevance]
    assert len(hard) == 10 and len(mixed) == 40  # a quarter hard: 30 of the 40 easy ones sampled
    assert mixed == with_hard_share(cases, 0.25, k=5, seed=1) != with_hard_share(cases, 0.25, k=5, seed=2)
    assert len(with_hard_share(cases, 0.1, k=5)) == 50  # too few easy ones for 10%: all of them


def test_folds_are_fixed_by_the_query_id_and_all_used():
    ids = [f"train-{n}" for n in range(200)]
    folds = [fold_of(i, 5) for i in ids]
    assert folds == [fold_of(i, 5) for i in ids] and set(folds) == set(range(5))
    assert max(folds.count(f) for f in range(5)) < 60  # about 40 each
