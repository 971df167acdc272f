"""The fusion of the model's picks with the ranker's order, and which share each adapter earned."""

import json

from backend.fusion import Trial, choose_weight, fusion_for, read_records, write_record


def trial(weight, k, diff, low, high, base=0.36):
    return Trial(weight, k, base + diff, diff, low, high)


def test_choose_weight_takes_the_largest_weight_not_worse_than_the_ranker():
    trials = [trial(0.0, 1, 0, 0, 0), trial(0.25, 1, -0.004, -0.02, 0.015), trial(0.25, 2, -0.003, -0.02, 0.016),
              trial(0.4, 1, -0.007, -0.027, 0.015),  # mean costs more than the margin
              trial(0.5, 2, -0.001, -0.03, -0.001)]  # interval entirely below zero
    chosen = choose_weight(trials, margin=0.005)
    assert (chosen.model_weight, chosen.k) == (0.25, 2)  # the better k at the largest qualifying weight
    assert choose_weight(trials, margin=0.01).model_weight == 0.4


def test_choose_weight_is_none_when_every_positive_weight_costs():
    trials = [trial(0.0, 1, 0, 0, 0), trial(0.25, 2, -0.021, -0.040, -0.001), trial(1.0, 2, -0.06, -0.1, -0.02)]
    assert choose_weight(trials) is None


def test_a_setting_beats_the_record_and_a_record_only_serves_its_own_catalogue(tmp_path):
    write_record(tmp_path, {"name": "a", "digest": "d1", "model_weight": 0.25, "k": 1.0, "chosen_on": "val"})
    tuned = fusion_for(None, 2.0, tmp_path, "d1")
    assert (tuned.model_weight, tuned.k, tuned.source) == (0.25, 1.0, "tuned")
    other = fusion_for(None, 2.0, tmp_path, "d2")
    assert (other.model_weight, other.source) == (0.0, "untuned")
    assert fusion_for(None, 2.0, None, "d1").source == "untuned"  # the base model has no record
    forced = fusion_for(0.6, 5.0, tmp_path, "d1")
    assert (forced.model_weight, forced.k, forced.source) == (0.6, 5.0, "setting")


def test_write_record_replaces_the_same_catalogue_and_keeps_the_others(tmp_path):
    write_record(tmp_path, {"name": "a", "digest": "d1", "model_weight": 0.25, "k": 1.0})
    write_record(tmp_path, {"name": "b", "digest": "d2", "model_weight": 0.0, "k": 2.0})
    write_record(tmp_path, {"name": "a", "digest": "d1", "model_weight": 0.4, "k": 2.0})
    records = {r["digest"]: r["model_weight"] for r in read_records(tmp_path)}
    assert records == {"d1": 0.4, "d2": 0.0}
    assert json.loads((tmp_path / "fusion.json").read_text())["catalogues"][-1]["model_weight"] == 0.4


def test_every_share_shipped_with_the_default_adapter_was_chosen_on_val_with_its_evidence():
    from pathlib import Path

    from training.registry import SHIPPED_DIR

    records = read_records(SHIPPED_DIR)
    assert records, "models/reasoner-default/fusion.json is missing"
    root = Path(SHIPPED_DIR).parent.parent
    for record in records:
        assert record["chosen_on"] == "val" and 0.0 <= record["model_weight"] <= 1.0
        assert (root / record["evidence"]).is_file()


def test_the_client_is_told_when_the_list_follows_the_catalogue_ranking_because_the_model_was_not_tuned():
    from app.ui_common import reasoning_note

    untuned = {"ended": "answer", "answer": "model", "fusion": {"model_weight": 0.0, "source": "untuned"}}
    assert "not tuned on this catalogue" in reasoning_note(untuned, False)
    tuned = {"ended": "answer", "answer": "model", "fusion": {"model_weight": 0.25, "source": "tuned"}}
    assert reasoning_note(tuned, False) == ""
