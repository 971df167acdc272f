"""The loss pass that runs each distinct prompt once (`training/shared_logps.py`) gives TRL 1.16's
per-token log-probs, entropies and LoRA gradients, with two prompts of different lengths (one
left-padded), their rows interleaved, and right-padded completions; the trainer's loss is TRL's; a
batch that cannot share goes to TRL's own pass."""

import functools
from contextlib import nullcontext
from types import SimpleNamespace

import pytest
import torch
from peft import LoraConfig, get_peft_model
from trl import GRPOTrainer
from trl.trainer.utils import add_fused_lm_head

from training import grpo, shared_logps
from training.curriculum import Curriculum

from tests.unit.test_grpo_prefill import PAD, random_llama
from tests.unit.test_grpo_trainer import CASES, make_trainer, tokenizer  # noqa: F401 (a fixture)

TEMPERATURE = 0.7
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def policy():
    """The sharp random Llama with TRL's fused head and a LoRA adapter whose both factors are
    random (a zero B would leave every A without a gradient); eval mode: no dropout."""
    model = random_llama()
    add_fused_lm_head(model, temperature=TEMPERATURE, outputs=("log_probs", "entropy"))
    torch.manual_seed(3)
    lora = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=LORA_TARGETS,
                      init_lora_weights=False)
    return get_peft_model(model, lora).eval()


def batch(group: int = 3) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Prompts of 7 and 4 tokens (the short one left-padded) `group` times each, their rows
    interleaved, each row a completion of its own length (1 to 5 tokens, right-padded).

    Returns:
        (B, L) ids, (B, L) mask and K, the completion columns.
    """
    long, short = [5, 9, 12, 7, 30, 41, 3], [PAD] * 3 + [17, 22, 8, 50]
    prompts = [long if i % 2 == 0 else short for i in range(2 * group)]
    prompt_mask = [[int(t != PAD) for t in p] for p in prompts]
    generator = torch.Generator().manual_seed(4)
    completions, completion_mask = [], []
    for i in range(2 * group):
        n = 5 - i % 5
        tokens = torch.randint(2, 64, (n,), generator=generator).tolist()
        completions.append(tokens + [PAD] * (5 - n))
        completion_mask.append([1] * n + [0] * (5 - n))
    ids = torch.cat([torch.tensor(prompts), torch.tensor(completions)], 1)
    mask = torch.cat([torch.tensor(prompt_mask), torch.tensor(completion_mask)], 1)
    return ids, mask, 5


def trl_logps(model, ids, mask, keep):
    """TRL 1.16's own pass (its profiling wrapper needs a trainer; the pass needs autocast)."""
    standin = SimpleNamespace(accelerator=SimpleNamespace(autocast=nullcontext))
    logps, entropies, _ = GRPOTrainer._get_per_token_logps_and_entropies.__wrapped__(
        standin, model, ids, mask, keep, compute_entropy=True)
    return logps, entropies


def loss_gradients(model, logps, entropies, mask, keep) -> dict[str, torch.Tensor]:
    """The gradients of every trainable parameter from a loss over the completion's tokens (row
    weights differ, so a gradient summed into the wrong row would show)."""
    model.zero_grad()
    weights = torch.arange(1.0, len(logps) + 1).unsqueeze(1) * mask[:, -keep:]
    ((logps * weights).sum() + 0.3 * (entropies * weights).sum()).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


def assert_close_to_scale(actual: torch.Tensor, expected: torch.Tensor, tolerance: float, name: str):
    """Every element within `tolerance` times the largest magnitude of `expected` (a sum over
    rows rounds in another order when the prompt's gradients add up in one pass)."""
    scale = expected.abs().max().item()
    torch.testing.assert_close(actual, expected, rtol=0, atol=tolerance * scale, msg=name)


def test_log_probs_entropies_and_gradients_are_trls():
    model = policy()
    ids, mask, keep = batch()
    shapes = embedded_shapes(model)
    logps, entropies = shared_logps.shared_prompt_logps(model, ids, mask, keep, compute_entropy=True)
    assert shapes == [(2, 7 - 1), (6, keep + 1)]  # each prompt once, then every row's tail
    shared_grads = loss_gradients(model, logps, entropies, mask, keep)
    plain_logps, plain_entropies = trl_logps(model, ids, mask, keep)
    plain_grads = loss_gradients(model, plain_logps, plain_entropies, mask, keep)

    assert logps.shape == entropies.shape == (6, keep)
    assert torch.equal(logps == 0, mask[:, -keep:] == 0)  # zero on padding only, as TRL's
    torch.testing.assert_close(logps, plain_logps, rtol=0, atol=1e-5)
    torch.testing.assert_close(entropies, plain_entropies, rtol=0, atol=1e-5)
    assert plain_logps.std() > 0.5 and plain_entropies.std() > 0.1  # a sharp model, varied numbers
    assert len(plain_grads) == 2 * 2 * len(LORA_TARGETS)  # A and B of every LoRA layer
    assert all(g.abs().max() > 1e-3 for g in plain_grads.values())
    for name, grad in plain_grads.items():  # within float32 rounding of the gradient's scale
        assert_close_to_scale(shared_grads[name], grad, 1e-5, name)


def test_without_gradients_the_log_probs_are_trls():
    model = policy()
    ids, mask, keep = batch()
    with torch.no_grad():
        logps, entropies = shared_logps.shared_prompt_logps(model, ids, mask, keep)
        plain_logps, _ = trl_logps(model, ids, mask, keep)
    assert entropies is None and not logps.requires_grad
    torch.testing.assert_close(logps, plain_logps, rtol=0, atol=1e-5)


def test_a_batch_that_cannot_share_is_left_to_trl():
    model = policy()
    ids, mask, keep = batch(group=1)  # two rows, two prompts
    assert shared_logps.shared_prompt_logps(model, ids, mask, keep) is None
    ids, mask, keep = batch()
    assert shared_logps.shared_prompt_logps(model, ids, mask, ids.shape[1] - 1) is None  # no prompt
    model.get_base_model().activation_checkpointing_enable()
    model.train()  # checkpointed layers drop the cache while training
    assert shared_logps.shared_prompt_logps(model, ids, mask, keep) is None


@pytest.fixture
def trainer(tokenizer, tmp_path):  # noqa: F811
    """The GRPO trainer on the tiny Llama made sharp, both LoRA factors random, dropout off."""
    trainer = make_trainer(tokenizer, tmp_path, 1, Curriculum([c.case_id for c in CASES]))
    torch.manual_seed(5)
    with torch.no_grad():
        for name, parameter in trainer.model.named_parameters():
            if parameter.dim() == 2:
                parameter.normal_(0, 0.5 if "lora" not in name else 0.2)
    trainer.model.eval()
    return trainer


@pytest.fixture
def shared(monkeypatch) -> list:
    """What every call of the trainer's `shared_prompt_logps` returned (`None`: TRL's pass ran)."""
    returned = []

    def watching(*args, **kwargs):
        returned.append(shared_logps.shared_prompt_logps(*args, **kwargs))
        return returned[-1]

    monkeypatch.setattr(grpo, "shared_prompt_logps", watching)
    return returned


def embedded_shapes(model) -> list[tuple[int, int]]:
    """(rows, tokens) of every forward pass the model runs from here on."""
    shapes = []
    model.get_input_embeddings().register_forward_hook(
        lambda module, args, out: shapes.append(tuple(args[0].shape)))
    return shapes


def trainer_batch(trainer) -> dict:
    """TRL's loss inputs for two chat prompts of different lengths (the shorter left-padded),
    their rows interleaved, 4 completions each (right-padded)."""
    tok = trainer.processing_class
    prompts = [[{"role": "user", "content": "Pick one of K7, B2, M4."}],
               [{"role": "user", "content": "Which scarf of K7, B2 or M4 suits a cold evening?"}]]
    prompt_ids, _, _ = trainer._tokenize_prompts([prompts[i % 2] for i in range(8)])
    width = max(map(len, prompt_ids))
    completions = [tok(text)["input_ids"][:6] for text in
                   ["K7 it is", "B2, warm", "M4", "K7 suits a cold walk best", "none", "B2 then M4",
                    "M4 wool", "K7"]]
    pad = tok.pad_token_id
    inputs = {
        "prompt_ids": torch.tensor([[pad] * (width - len(p)) + p for p in prompt_ids]),
        "prompt_mask": torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompt_ids]),
        "completion_ids": torch.tensor([c + [pad] * (6 - len(c)) for c in completions]),
        "completion_mask": torch.tensor([[1] * len(c) + [0] * (6 - len(c)) for c in completions]),
        "advantages": torch.linspace(-1.0, 1.2, 8),
    }
    inputs["num_items_in_batch"] = inputs["completion_mask"].sum()  # DAPO's token normaliser
    assert inputs["prompt_mask"].min() == 0 and inputs["completion_mask"].min() == 0
    return inputs


def test_the_trainers_loss_and_gradients_are_trls(trainer, shared, monkeypatch):
    inputs = trainer_batch(trainer)

    def loss_and_gradients():
        trainer.model.zero_grad()
        loss = trainer.compute_loss(trainer.model, inputs)
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in trainer.model.named_parameters()
                               if p.requires_grad}

    shapes = embedded_shapes(trainer.model)
    loss, grads = loss_and_gradients()
    assert len(shared) == 1 and shared[0] is not None  # the loss went through the shared pass
    width = inputs["prompt_ids"].shape[1]
    assert shapes == [(2, width - 1), (8, 6 + 1)]  # each prompt once, then every row's tail
    monkeypatch.setattr(trainer, "_get_per_token_logps_and_entropies", functools.partial(
        GRPOTrainer._get_per_token_logps_and_entropies, trainer))
    plain_loss, plain_grads = loss_and_gradients()
    assert len(shared) == 1  # TRL's own pass this time

    assert loss.abs() > 1e-3 and all(g.abs().max() > 1e-4 for g in plain_grads.values())
    torch.testing.assert_close(loss, plain_loss, rtol=1e-5, atol=1e-6)
    for name, grad in plain_grads.items():
        assert_close_to_scale(grads[name], grad, 1e-5, name)


def test_multimodal_fields_and_an_moe_loss_go_to_trls_own_pass(trainer, monkeypatch):
    calls = []

    def trls(self, model, input_ids, attention_mask, logits_to_keep, **kwargs):
        calls.append(kwargs)
        return torch.zeros(len(input_ids), logits_to_keep), None, None

    monkeypatch.setattr(GRPOTrainer, "_get_per_token_logps_and_entropies", trls)
    monkeypatch.setattr(grpo, "shared_prompt_logps", lambda *a, **k: pytest.fail("shared"))
    ids, mask = torch.ones(4, 9, dtype=torch.long), torch.ones(4, 9, dtype=torch.long)
    trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, 3,
                                               token_type_ids=torch.zeros_like(ids))
    trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, 3, compute_aux_loss=True)
    assert calls[0]["token_type_ids"] is not None and calls[1]["compute_aux_loss"] is True


def test_trls_pass_takes_what_the_override_hands_on():
    """The override names TRL's first parameters and passes every later one on as a field, which
    sends the batch to TRL's own pass unless it is None: a new parameter must default to None."""
    import inspect

    parameters = inspect.signature(GRPOTrainer._get_per_token_logps_and_entropies).parameters
    assert list(parameters)[:8] == ["self", "model", "input_ids", "attention_mask", "logits_to_keep",
                                    "batch_size", "compute_entropy", "compute_aux_loss"]
    assert all(p.default is None for p in list(parameters.values())[8:])


def test_chunks_share_within_themselves_and_a_chunk_without_repeats_is_trls(trainer, shared):
    inputs = trainer_batch(trainer)
    ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], 1)
    mask = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], 1)
    shapes = embedded_shapes(trainer.model)
    with torch.no_grad():  # as TRL computes old and reference log-probs, in chunks
        logps, entropies, _ = trainer._get_per_token_logps_and_entropies(
            trainer.model, ids, mask, 6, batch_size=3, compute_entropy=True)
        plain_logps, plain_entropies, _ = GRPOTrainer._get_per_token_logps_and_entropies(
            trainer, trainer.model, ids, mask, 6, batch_size=3, compute_entropy=True)
    # rows 0-2 and 3-5 each repeat a prompt; rows 6 and 7 hold one prompt each
    assert [part is not None for part in shared] == [True, True, False]
    width = ids.shape[1] - 6
    assert shapes[:5] == [(2, width - 1), (3, 7), (2, width - 1), (3, 7), (2, width + 6)]
    assert logps.shape == entropies.shape == (8, 6)
    torch.testing.assert_close(logps, plain_logps, rtol=0, atol=1e-5)
    torch.testing.assert_close(entropies, plain_entropies, rtol=0, atol=1e-5)
