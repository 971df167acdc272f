"""The share a val run supports: a model whose picks help earns weight, one that picks nothing earns none."""

import pytest

from catalog.errors import ConciergeError
from training.fusion_choice import MIN_PICKED, Sweep, fusion_record, sweep

RANKER = ["a", "b", "c", "d", "e", "f", "g", "h"]


def runs(picks: list[str], n: int, relevant_item: str) -> tuple[list[dict], dict]:
    per_query = [{"query_id": f"q{i}", "notes": {"model_picks": picks, "ranker_order": RANKER}} for i in range(n)]
    return per_query, {f"q{i}": {relevant_item: 3} for i in range(n)}


def test_picks_that_find_what_the_ranker_buries_earn_the_largest_weight():
    per_query, relevant = runs(["h", "a"], 30, "h")  # the ranker puts the one relevant item last
    result = sweep(per_query, relevant)
    assert result.queries == 30 and result.chosen is not None and result.chosen.model_weight == 1.0
    assert result.chosen.diff > 0.3 and result.chosen.low > 0
    record = fusion_record(result, "shop", "d1", "val", "pipeline@x", "here", "2026-12-01T00:00:00Z")
    assert record["model_weight"] == 1.0 and record["digest"] == "d1" and record["queries"] == 30


def test_picks_that_bury_what_the_ranker_found_earn_only_a_harmless_share():
    per_query, relevant = runs(["h", "g", "f", "e", "d"], 30, "a")  # the ranker's first is the relevant one
    result = sweep(per_query, relevant)
    assert all(t.diff < 0 for t in result.trials if t.model_weight == 1.0)
    assert result.chosen is not None and result.chosen.model_weight == 0.4 and result.chosen.diff == 0.0
    refused = Sweep(result.trials, None, result.best, result.queries)  # no positive weight qualified
    record = fusion_record(refused, "shop", "d1", "val", "pipeline@x", "here", "t")
    assert record["model_weight"] == 0.0 and record["k"] == result.best.k


def test_a_model_that_picks_nothing_gets_no_share_rather_than_the_largest():
    per_query, relevant = runs([], 30, "a")  # every weight ties with the ranker alone
    per_query[0]["notes"]["model_picks"] = ["a"]
    with pytest.raises(ConciergeError, match=f"picked items on 1 of 30 .*fewer than {MIN_PICKED}"):
        sweep(per_query, relevant)
    with pytest.raises(ConciergeError, match="no answerable query"):
        sweep([{"query_id": "q0", "notes": {}}], {"q0": {"a": 1}})
