"""Traces and Rechead with the real base model (SmolLM2-135M-Instruct): target sampling runs and is counted,
the template fills in, and the Rechead reads the real hidden states of a serving prompt."""

from __future__ import annotations

import pytest
import torch

from tests.unit.tiny_llm import demo_case_prompt

pytestmark = pytest.mark.integration


def test_target_sampling_and_rechead_on_the_base_model(base_model_dir):
    from backend.llm import LocalChatModel
    from backend.rechead import RecHead, rechead_rank
    from training.config import TracesConfig
    from training.traces import generate_traces

    torch.set_num_threads(1)
    case, world, prompt_fn = demo_case_prompt(item_count=6)
    model = LocalChatModel(model_dir=base_model_dir)
    config = TracesConfig(max_new_tokens=24, keep_rejected=True)
    traces, stats = generate_traces([case], world, model, mode=["target", "template"], max_tries=2, config=config,
                                    prompt_fn=prompt_fn)
    target = stats["modes"]["target"]
    assert target["cases"] == 1 and 1 <= target["samples"] <= 2
    assert target["samples"] == 2 or target["accepted"] == 1  # sampling stops at the first accepted trace
    assert sum(t.accepted for t in traces) == 1  # a target trace or, failing that, the template's
    assert all(t.completion for t in traces)

    messages, handles = prompt_fn(case, world)
    shared = model.shared
    ranked = rechead_rank(RecHead(shared.model.config.hidden_size), shared.model, shared.tokenizer, messages,
                          list(handles))
    assert sorted(h for h, _ in ranked) == sorted(handles)
