"""The online curriculum: difficulty from rollouts, mastered cases dropped, easy -> hard, state round trip."""

import json

import pytest

from training.curriculum import Curriculum


def test_difficulty_is_mean_of_one_minus_ndcg():
    c = Curriculum(["a", "b"])
    assert c.observe("a", [1.0, 0.5, 0.0, 0.5]) == pytest.approx(0.5)
    assert c.observe("b", [0.95, 0.9]) == pytest.approx(0.075)


def test_mastered_dropped_and_rest_easy_to_hard():
    c = Curriculum(["a", "b", "c", "d"], tau=0.1, seed=1)
    first = c.take(4)
    assert sorted(first) == ["a", "b", "c", "d"]  # unseen: all at the prior, seeded order
    c.observe("a", [0.2])  # d = .8
    c.observe("b", [1.0, 0.9])  # d = .05 < tau: mastered
    c.observe("c", [0.7])  # d = .3
    c.observe("d", [0.4])  # d = .6
    assert c.take(3) == ["c", "d", "a"]
    assert c.stats()["pool"] == 3 and c.stats()["mastered"] == 1 and c.epoch == 2


def test_epochs_roll_over_and_all_mastered_resets():
    c = Curriculum(["a", "b"], tau=0.5)
    c.take(2)
    c.observe("a", [1.0])
    c.observe("b", [1.0])
    assert sorted(c.take(2)) == ["a", "b"] and c.resets == 1  # all mastered: the pool is refilled
    assert len(c.take(5)) == 5


def test_disabled_is_a_seeded_shuffle_of_everything():
    c = Curriculum(list("abcdef"), enabled=False, seed=3)
    c.observe("a", [1.0])
    assert sorted(c.take(6)) == list("abcdef") and sorted(c.take(6)) == list("abcdef")
    assert c.stats()["mastered"] == 0


def test_state_round_trip_continues_identically():
    c = Curriculum(list("abcde"), seed=2)
    c.take(2)
    for case, ndcg in zip("abcde", (0.1, 0.5, 0.95, 0.3, 0.0)):
        c.observe(case, [ndcg])
    state = json.loads(json.dumps(c.state_dict()))
    copy = Curriculum([])
    copy.load_state_dict(state)
    assert copy.take(7) == c.take(7)
    assert copy.state_dict() == c.state_dict()


def test_cases_read_ahead_but_not_rolled_out_are_served_first_after_a_resume():
    c = Curriculum(list("abc"), seed=0)
    first, ahead = c.take(1), c.take(1)  # the loader read one case ahead
    c.observe(first[0], [0.5])
    copy = Curriculum([])
    copy.load_state_dict(json.loads(json.dumps(c.state_dict())))
    assert copy.take(1) == ahead


def test_resume_skips_a_checkpoint_whose_save_was_cut_short(tmp_path):
    from training.grpo import CURRICULUM_FILE, last_complete_checkpoint

    for step, files in ((2, ("trainer_state.json", CURRICULUM_FILE)), (4, ("trainer_state.json", CURRICULUM_FILE)),
                        (6, ("adapter_model.safetensors",))):  # killed while saving step 6
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        for name in files:
            (folder / name).write_text("{}")
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-4")
    assert last_complete_checkpoint(tmp_path / "nothing-here") is None
