"""Fails when the place in TRL that RAAE overrides moves: `GRPOTrainer._generate_and_score_completions`
forming the advantages and returning them under "advantages", and the loss accepting (B, T) advantages."""

import inspect

import trl
from trl import GRPOTrainer

from training.grpo import ReRecGRPOTrainer


def test_trl_is_the_pinned_version():
    assert trl.__version__ == "1.16.0", "RAAE overrides TRL internals; re-check training/grpo.py before moving the pin"


def test_the_overridden_method_still_forms_and_returns_the_advantages():
    method = GRPOTrainer._generate_and_score_completions
    assert list(inspect.signature(method).parameters) == ["self", "inputs"]
    source = inspect.getsource(method)
    assert "self._calculate_rewards(" in source  # our reward function runs inside it
    assert "advantages = rewards - mean_grouped_rewards" in source
    for key in ('"prompt_ids"', '"completion_ids"', '"completion_mask"', '"advantages": advantages'):
        assert key in source, f"{key} is no longer in the dict _generate_and_score_completions returns"
    assert "_generate_and_score_completions" in ReRecGRPOTrainer.__dict__


def test_the_reward_step_gets_the_rows_the_advantage_step_gets():
    """`_calculate_rewards` writes each breakdown on its input row; the override of
    `_generate_and_score_completions` reads it there, so both must see the same `inputs` list."""
    method = GRPOTrainer._calculate_rewards
    assert list(inspect.signature(method).parameters) == ["self", "inputs", "prompts", "completions",
                                                          "completion_ids_list"]
    assert "rewards_per_func = gather(rewards_per_func)" in inspect.getsource(method)  # what ours returns, too
    caller = inspect.getsource(GRPOTrainer._generate_and_score_completions)
    assert "self._calculate_rewards(inputs, prompts, completions, completion_ids_list)" in caller
    assert "\n        inputs = " not in caller  # the rows are not replaced before the reward step
    assert "_calculate_rewards" in ReRecGRPOTrainer.__dict__


def test_the_loss_takes_token_level_advantages():
    source = inspect.getsource(GRPOTrainer._compute_loss)
    assert 'advantages = inputs["advantages"]' in source
    assert "if advantages.dim() == 1:" in source and "advantages.unsqueeze(1)" in source


def test_the_sampler_and_checkpoint_hooks_exist():
    assert list(inspect.signature(GRPOTrainer._get_train_sampler).parameters) == ["self", "dataset"]
    assert "RepeatSampler(" in inspect.getsource(GRPOTrainer._get_train_sampler)
    assert list(inspect.signature(GRPOTrainer._save_checkpoint).parameters) == ["self", "model", "trial"]
