"""RAAE: penalised steps, step rewards on tokens, group normalisation — against hand-computed numbers."""

import math

import pytest
import torch

from training.advantage import (
    RAAEConfig,
    completion_token_rewards,
    group_stats,
    penalised_steps,
    promotes,
    raae_advantages,
    repeats_flagged,
    row_moments,
    step_rewards,
    step_spans,
    token_rewards,
)


def test_step_rewards_subtract_a_share_of_the_reward_with_a_floor():
    assert step_rewards(1.0, [False, True, False], 0.3, 0.1) == pytest.approx([1.0, 0.7, 1.0])  # (1 - w) r for r > 0
    assert step_rewards(0.0, [True], 0.3, 0.1) == pytest.approx([-0.03])  # r = 0 still penalised (floor)
    assert step_rewards(-0.5, [True, False], 0.3, 0.1) == pytest.approx([-0.65, -0.5])  # never raised


def test_which_steps_are_penalised():
    steps = ["K7 is silk, ideal for the wedding.", "B2 is not suede.", "B2 fits the summer.", "Q3 is cashmere and perfect for winter."]
    assert promotes(steps[2], "B2") and not promotes(steps[1], "B2") and not promotes(steps[0], "B2")
    assert penalised_steps(steps, ["B2"]) == [False, False, True, False]
    assert penalised_steps(steps, ["B2"], verifier_flags=[True, False, False, False]) == [True, False, True, False]
    flagged = ["H5 is cashmere and perfect for winter"]  # an associate flagged it; handles differ per prompt
    assert repeats_flagged(steps[3], flagged) and not repeats_flagged(steps[0], flagged)
    assert penalised_steps(steps, [], flagged_texts=flagged) == [False, False, False, True]


def test_step_spans_are_the_parsers_steps():
    text = "1. K7 is silk.\n2. B2 fits.\nANSWER: K7"
    assert [text[a:b] for a, b in step_spans(text)] == ["K7 is silk.", "B2 fits."]
    assert step_spans("ANSWER: K7") == []


def test_tokens_take_their_steps_reward():
    # steps at chars [3, 14) and [18, 26); tokens start at 0, 3, 9, 15, 18, 27
    row = token_rewards(1.0, [(3, 14), (18, 26)], [1.0, 0.7], [0, 3, 9, 15, 18, 27], 7)
    assert row.tolist() == pytest.approx([1.0, 1.0, 1.0, 1.0, 0.7, 1.0, 1.0])


def test_group_normalisation_by_hand():
    rewards = torch.tensor([[1.0, 0.7, 1.0], [0.0, 0.0, 5.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])  # the 5.0 is padding: ignored
    # tokens of the group: 1, .7, 1, 0, 0 -> mean .54, population variance 2.49/5 - .54^2 = .2064
    mean, std = 0.54, math.sqrt(0.2064)
    adv = raae_advantages(rewards, mask, group_size=2)
    expected = [[(1 - mean) / (std + 1e-4), (0.7 - mean) / (std + 1e-4), (1 - mean) / (std + 1e-4)],
                [-mean / (std + 1e-4), -mean / (std + 1e-4), 0.0]]
    assert adv.tolist() == [pytest.approx(r, abs=1e-5) for r in expected]
    assert raae_advantages(rewards, mask, 2, scale=False)[0].tolist() == pytest.approx([0.46, 0.16, 0.46])
    same = raae_advantages(torch.ones(2, 3), torch.ones(2, 3), 2)
    assert same.abs().max().item() == 0.0  # one reward for everything: no signal


def test_moments_of_a_group_split_over_processes_combine_exactly():
    rewards, mask = torch.rand(4, 5), torch.tensor([[1] * 5, [1] * 3 + [0] * 2, [1] * 4 + [0], [1] * 5])
    whole = group_stats(row_moments(rewards, mask), 4)
    halves = torch.cat([row_moments(rewards[:2], mask[:2]), row_moments(rewards[2:], mask[2:])])
    split = group_stats(halves, 4)
    assert torch.allclose(whole[0], split[0]) and torch.allclose(whole[1], split[1])
    assert whole[0][0].item() == pytest.approx(rewards[mask.bool()].mean().item(), abs=1e-6)


class CharTokenizer:
    """One token per character (ids are code points): the char offsets are the token indices."""

    def decode(self, ids, skip_special_tokens=True):
        return "".join(chr(i) for i in ids)


def test_completion_to_token_rewards_end_to_end():
    text = "1. B2 fits.\n2. K7 is silk.\nANSWER: B2"
    ids = [ord(c) for c in text]
    row, info = completion_token_rewards(text, ids, CharTokenizer(), 0.5, ["B2"], RAAEConfig(), len(ids) + 2)
    assert info == {"steps": 2, "penalised": 1}
    first = text.index("B2 fits.")
    assert row[first].item() == pytest.approx(0.5 - 0.3 * 0.5)  # promotes the wrong pick B2
    assert row[text.index("K7")].item() == pytest.approx(0.5)
    assert row[0].item() == pytest.approx(0.5) and row[-1].item() == pytest.approx(0.5)  # "1. " and padding
    off, _ = completion_token_rewards(text, ids, CharTokenizer(), 0.5, ["B2"], RAAEConfig(use_verifier=False),
                                      len(ids), verifier=lambda steps: [True] * len(steps))
    assert off[text.index("K7")].item() == pytest.approx(0.5)  # verifier ignored when switched off
    on, info = completion_token_rewards(text, ids, CharTokenizer(), 0.5, [], RAAEConfig(), len(ids),
                                        verifier=lambda steps: [False, True])
    assert info["penalised"] == 1 and on[text.index("K7")].item() == pytest.approx(0.35)
