"""The GRPO trainer subclass on a tiny randomly initialised Llama: token-level RAAE advantages reach the
loss, LoRA weights move, the curriculum sees the rollouts and is saved with (and resumed from) checkpoints."""

import json

import pytest
import torch

from training import grpo
from training.advantage import RAAEConfig
from training.config import config_from_dict
from training.curriculum import Curriculum
from training.data import CasePrompt, TrainingCase
from training.rewards import RewardBreakdown, RewardWeights


@pytest.fixture(scope="module")
def tokenizer(base_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(base_model_dir)


def tiny_model(tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))


ITEMS = {h: {"item_id": f"i{n}", "title": f"T{n}", "category": "scarf", "attributes": {}}
         for n, h in enumerate(["K7", "B2", "M4"])}
CASES = [TrainingCase(f"q{n}", "c", "a scarf", ["i0", "i1", "i2"], {"i0": 3}, "explicit", "bundle") for n in range(3)]
PROMPTS = {c.case_id: CasePrompt([{"role": "user", "content": f"Pick one of K7, B2, M4 ({c.case_id})."}], ITEMS)
           for c in CASES}


def varied_score(text, handles, relevance, weights, embedding=None, rechead=None, given=None):
    """A random model never writes an answer block; a reward that varies with the text gives GRPO a signal."""
    return RewardBreakdown(total=(len(text) % 7) / 7, ndcg=(len(text) % 3) / 3, picks=["i1"], wrong_picks=["i1"])


def test_the_reward_returns_its_breakdowns_and_keeps_no_state(monkeypatch):
    monkeypatch.setattr(grpo, "score_completion", varied_score)
    reward = grpo.ReRecReward({c.case_id: c for c in CASES}, PROMPTS, RewardWeights())
    state = dict(vars(reward))
    logged = {}
    breakdowns = reward.score(["abc", [{"role": "assistant", "content": "abcdefgh"}]], ["q0", "q1"],
                              log_metric=logged.__setitem__)
    assert [b.total for b in breakdowns] == pytest.approx([3 / 7, 1 / 7])
    assert logged["rerec/ndcg"] == pytest.approx((0 + 2 / 3) / 2) and logged["rerec/hit@1"] == 0.0
    assert reward(prompts=None, completions=["abc"], case_id=["q0"]) == pytest.approx([3 / 7])
    assert vars(reward) == state  # nothing of a batch is left on the reward


def test_long_rollouts_lose_reward_softly_before_the_limit(monkeypatch):
    monkeypatch.setattr(grpo, "score_completion", varied_score)
    reward = grpo.ReRecReward({c.case_id: c for c in CASES}, PROMPTS, RewardWeights(), max_length=10,
                              overlong_buffer=4)
    logged = {}
    texts, ids = ["abc", "abc", "abc"], ["q0", "q1", "q2"]
    breakdowns = reward.score(texts, ids, logged.__setitem__, lengths=[6, 8, 10])
    assert [b.overlong for b in breakdowns] == pytest.approx([0.0, -0.5, -1.0])
    assert [b.total for b in breakdowns] == pytest.approx([3 / 7, 3 / 7 - 0.5, 3 / 7 - 1.0])
    assert logged["rerec/overlong"] == pytest.approx(-0.5)
    assert [b.total for b in reward.score(texts, ids)] == pytest.approx([3 / 7] * 3)  # no lengths: no term


class Spy(grpo.ReRecGRPOTrainer):
    shapes: list = []

    def _generate_and_score_completions(self, inputs):
        out = super()._generate_and_score_completions(inputs)
        Spy.shapes.append((tuple(out["advantages"].shape), tuple(out["completion_ids"].shape)))
        return out


def make_trainer(tokenizer, out, steps, curriculum, raae=True, beta=0.0):
    config = config_from_dict({"grpo": {"max_steps": steps, "num_generations": 4, "max_completion_length": 8,
                                        "learning_rate": 1e-2, "save_steps": 1, "save_total_limit": 3,
                                        "beta": beta},
                               "lora": {"r": 4, "alpha": 8}})
    reward = grpo.ReRecReward({c.case_id: c for c in CASES}, PROMPTS, RewardWeights())
    return Spy(model=tiny_model(tokenizer), args=grpo.grpo_args(config, out, progress=False),
               train_dataset=grpo.case_dataset(CASES, PROMPTS), processing_class=tokenizer,
               peft_config=grpo.lora_config(config), reward=reward, raae=RAAEConfig(enabled=raae),
               curriculum=curriculum)


def test_two_steps_move_lora_with_token_advantages_and_save_the_curriculum(tokenizer, tmp_path, monkeypatch):
    monkeypatch.setattr(grpo, "score_completion", varied_score)
    torch.set_num_threads(1)
    Spy.shapes = []
    curriculum = Curriculum([c.case_id for c in CASES])
    trainer = make_trainer(tokenizer, tmp_path, 2, curriculum)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    trainer.train()
    after = dict(trainer.model.named_parameters())
    assert any(not torch.equal(before[n], after[n]) for n in before if "lora_B" in n)
    assert Spy.shapes and all(adv == ids and len(adv) == 2 for adv, ids in Spy.shapes)  # (B, T): token level
    assert len(curriculum.difficulty) == 2  # two steps, one case each
    saved = json.loads((tmp_path / "checkpoint-2" / grpo.CURRICULUM_FILE).read_text())
    assert saved["difficulty"] == pytest.approx(curriculum.difficulty)

    resumed = Curriculum([c.case_id for c in CASES])
    assert grpo.load_curriculum_state(tmp_path / "checkpoint-2", resumed)
    trainer = make_trainer(tokenizer, tmp_path, 3, resumed)
    trainer.train(resume_from_checkpoint=str(tmp_path / "checkpoint-2"))
    assert trainer.state.global_step == 3 and len(resumed.difficulty) == 3


def test_without_raae_trl_keeps_sequence_advantages(tokenizer, tmp_path, monkeypatch):
    monkeypatch.setattr(grpo, "score_completion", varied_score)
    Spy.shapes = []
    make_trainer(tokenizer, tmp_path, 1, Curriculum([c.case_id for c in CASES]), raae=False).train()
    assert Spy.shapes and len(Spy.shapes[0][0]) == 1  # (B,)


def test_rollouts_run_on_merged_weights_and_the_loss_on_unmerged_ones(tokenizer, tmp_path, monkeypatch):
    from peft.tuners.lora import LoraLayer

    monkeypatch.setattr(grpo, "score_completion", varied_score)
    merged_while_generating = []
    original = grpo.GRPOTrainer._generate_single_turn

    def watching(self, *args, **kwargs):
        layers = [m for m in self.accelerator.unwrap_model(self.model).modules() if isinstance(m, LoraLayer)]
        merged_while_generating.append(bool(layers) and all(layer.merged for layer in layers))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(grpo.GRPOTrainer, "_generate_single_turn", watching)
    trainer = make_trainer(tokenizer, tmp_path, 1, Curriculum([c.case_id for c in CASES]))
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if "lora_B" in n}
    trainer.train()
    assert merged_while_generating == [True]
    layers = [m for m in trainer.accelerator.unwrap_model(trainer.model).modules() if isinstance(m, LoraLayer)]
    assert layers and not any(layer.merged for layer in layers)
    after = dict(trainer.model.named_parameters())
    assert any(not torch.equal(before[n], after[n]) for n in before)  # the loss still reached LoRA


def test_a_kl_term_measures_the_adapter_against_the_base_model(tokenizer, tmp_path, monkeypatch):
    """beta > 0 with a LoRA policy: TRL's reference is the model with its adapter off (no second copy);
    the first step's policy is the base (LoRA B starts at zero), so its KL is 0 and the next one's is not."""
    monkeypatch.setattr(grpo, "score_completion", varied_score)
    trainer = make_trainer(tokenizer, tmp_path, 2, Curriculum([c.case_id for c in CASES]), beta=0.5)
    assert trainer.ref_model is None  # peft: the adapter is switched off instead
    trainer.train()
    kl = [row["kl"] for row in trainer.state.log_history if "kl" in row]
    assert len(kl) == 2 and kl[0] == pytest.approx(0.0, abs=1e-6) and kl[1] > 0
