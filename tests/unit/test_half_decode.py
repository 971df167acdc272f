"""backend.half_decode: fp16 weight copies for small inference passes, fp32 for the rest (tiny random Llama)."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from backend.decoding import decode_tokens
from backend.half_decode import HalfLinears, agreed_tokens, decode_threads


def _model(seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=True, initializer_range=0.1)
    return LlamaForCausalLM(config).eval()


@pytest.fixture
def pair() -> tuple[LlamaForCausalLM, LlamaForCausalLM, HalfLinears]:
    full = _model()
    half_model = copy.deepcopy(full)
    return full, half_model, HalfLinears(half_model, rows=8)


def test_every_plain_linear_is_covered_lm_head_included(pair):
    _, model, half = pair
    assert len(half.linears) == 2 * 7 + 1  # q k v o gate up down per layer, and the (tied) head
    assert model.lm_head in half.linears


def test_a_decode_step_uses_the_fp16_copies_and_stays_close(pair):
    full, model, half = pair
    ids = torch.tensor([[5, 17, 42, 99, 7, 300, 12, 64, 8, 1, 250, 31]])  # 12 rows: above the limit, fp32
    with torch.inference_mode():
        prompt_full = full(input_ids=ids).logits
        prompt_half = model(input_ids=ids).logits
        assert not half._copies  # the prompt pass did not need the copies
        step_full = full(input_ids=ids[:, :1]).logits
        step_half = model(input_ids=ids[:, :1]).logits
    assert torch.equal(prompt_full, prompt_half)  # fp32, bit for bit
    assert list(half._copies) == [torch.float16]
    assert not torch.equal(step_full, step_half)  # the copies were used ...
    torch.testing.assert_close(step_half, step_full, rtol=0, atol=2e-3 * float(step_full.abs().max()))  # ... closely


def test_greedy_tokens_match_fp32(pair):
    full, model, _ = pair
    same = total = 0
    for seed in range(5):
        prompt = torch.randint(0, 512, (1, 10), generator=torch.Generator().manual_seed(seed))
        want = list(decode_tokens(full, prompt, 24, 0.0, set()))
        got = list(decode_tokens(model, prompt, 24, 0.0, set()))
        same, total = same + agreed_tokens(want, got), total + len(want)
    assert same / total >= 0.9, f"{same}/{total} tokens agree before the first difference"


def test_training_passes_use_fp32(pair):
    full, model, _ = pair
    ids = torch.tensor([[5, 17]])
    assert torch.equal(full(input_ids=ids).logits, model(input_ids=ids).logits)  # grad enabled: fp32


def test_stale_copies_are_remade_after_the_weights_change(pair):
    full, model, half = pair
    ids = torch.tensor([[5]])
    with torch.inference_mode():
        model(input_ids=ids)  # makes the copies
    with torch.no_grad():
        for target in (full, model):
            target.model.layers[0].self_attn.q_proj.weight.mul_(3.0)  # as merging an adapter would
            target.lm_head.weight.add_(0.05)
    half.stale()
    with torch.inference_mode():
        want, got = full(input_ids=ids).logits, model(input_ids=ids).logits
    torch.testing.assert_close(got, want, rtol=0, atol=2e-3 * float(want.abs().max()))


def test_passes_on_the_fp16_copies_run_on_one_thread(pair):
    _, _, half = pair
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with decode_threads(half, rows=1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with decode_threads(half, rows=3), decode_threads(half, rows=9), decode_threads(None, rows=1):
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_prompts_may_use_bf16_copies(pair):
    full, model, half = pair
    half.prefill_bf16 = True
    ids = torch.tensor([[5, 17, 42, 99, 7, 300, 12, 64, 8, 1, 250, 31]])
    with torch.inference_mode():
        want, got = full(input_ids=ids).logits, model(input_ids=ids).logits
    assert list(half._copies) == [torch.bfloat16]
    assert not torch.equal(want, got)
    torch.testing.assert_close(got, want, rtol=0, atol=3e-2 * float(want.abs().max()))  # bf16: 8 significant bits


def test_a_big_batch_of_decode_steps_stays_fp32(pair):
    full, model, half = pair
    half.prefill_bf16 = True
    ids = torch.arange(12).reshape(12, 1) + 5  # 12 rows of one position: decode steps, above the fp16 limit
    with torch.inference_mode():
        assert torch.equal(full(input_ids=ids).logits, model(input_ids=ids).logits)
    assert not half._copies


def test_agreed_tokens_counts_up_to_the_first_difference():
    assert agreed_tokens([1, 2, 3, 4], [1, 2, 9, 4]) == 2
    assert agreed_tokens([1, 2, 3], [1, 2, 3]) == 3
    assert agreed_tokens([1, 2, 3], [1, 2]) == 2  # a shorter answer agrees only as far as it goes
