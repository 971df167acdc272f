"""The served CPU runtime (backend/half_decode.py with the default settings: fp16 decode steps, bf16 prompts)
against plain fp32, with the real SmolLM2-135M-Instruct and the shipped reasoner adapter: greedy answers to 20
reasoner prompts (demo world, validation requests) agree on >= 90% of the fp32 tokens (counted up to each
answer's first difference)."""

from __future__ import annotations

import random

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from backend.decoding import decode_tokens
from backend.half_decode import HalfLinears, agreed_tokens
from backend.llm import load_tokenizer
from backend.model_files import materialise_base_model
from backend.reasoner import PROMPT, describe_item
from backend.settings import Settings
from training.registry import SHIPPED_DIR

pytestmark = pytest.mark.integration

PROMPTS = 20
NEW_TOKENS = 24


def _reasoner_prompts(tokenizer) -> list[torch.Tensor]:
    from catalog.demo.export import world_bundle

    bundle = world_bundle(seed=7)
    items = {item["item_id"]: item for item in bundle.items}
    rng = random.Random(0)
    out = []
    for query in [q for q in bundle.queries if q["split"] == "val" and q["relevant"]][:PROMPTS]:
        relevant = [items[i] for i in query["relevant"] if i in items][:3]
        others = rng.sample([item for item in bundle.items if item["item_id"] not in query["relevant"]], 8)
        shown = (relevant + others)[:8]
        rng.shuffle(shown)
        lines = "\n".join(f"{letter}{rng.randint(1, 9)}: {describe_item(item)}"
                          for letter, item in zip("ABCDEFGH", shown))
        messages = PROMPT.format_messages(request=query["text"], needs=relevant[0]["category"],
                                          client="likes black; budget 3,000", candidates=lines)
        chat = [{"role": {"system": "system", "human": "user"}[m.type], "content": m.content} for m in messages]
        out.append(tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt",
                                                 return_dict=True)["input_ids"])
    return out


def _tuned(model_dir) -> torch.nn.Module:
    base = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, dtype=torch.float32)
    return PeftModel.from_pretrained(base, str(SHIPPED_DIR)).merge_and_unload().eval()


def test_the_served_cpu_runtime_reproduces_fp32_greedy_answers():
    settings = Settings()
    model_dir = materialise_base_model(settings)
    prompts = _reasoner_prompts(load_tokenizer(model_dir.resolve()))
    full, half_model = _tuned(model_dir), _tuned(model_dir)
    half = HalfLinears(half_model, settings.half_decode_rows, settings.prefill_bf16)
    same = total = identical = 0
    for prompt in prompts:
        want = list(decode_tokens(full, prompt, NEW_TOKENS, 0.0, set()))
        got = list(decode_tokens(half_model, prompt, NEW_TOKENS, 0.0, set(), half=half))
        same, total, identical = same + agreed_tokens(want, got), total + len(want), identical + (got == want)
    print(f"\n{identical}/{len(prompts)} answers identical, {same}/{total} tokens before the first difference")
    assert len(prompts) == PROMPTS
    assert same / total >= 0.9
