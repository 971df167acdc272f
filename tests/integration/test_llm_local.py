"""backend.llm with the real SmolLM2-135M-Instruct (materialised under var/models/base on first use)."""

from __future__ import annotations

import operator
from functools import reduce

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from backend.llm import STAT_KEYS, LocalChatModel
from backend.model_files import materialise_base_model
from backend.settings import Settings

pytestmark = pytest.mark.integration

PROMPT = [SystemMessage("You are a concise assistant."), HumanMessage("Name one colour.")]
MAX_NEW_TOKENS = 16


@pytest.fixture(scope="module")
def smol() -> LocalChatModel:
    return LocalChatModel(model_dir=materialise_base_model(Settings()), max_new_tokens=MAX_NEW_TOKENS)


def _report(label: str, stats: dict) -> None:
    print(f"\n{label}: {stats['prompt_tokens']} prompt tokens, prefill {stats['prefill_s']:.3f} s, "
          f"{stats['completion_tokens']} new tokens at {stats['tokens_per_s']:.1f} tok/s, "
          f"total {stats['total_s']:.2f} s")


def test_short_chat_answers_within_the_token_budget(smol):
    answer = smol.invoke(PROMPT)
    stats = answer.response_metadata
    _report("invoke", stats)
    assert answer.content.strip()
    assert 0 < stats["completion_tokens"] <= MAX_NEW_TOKENS
    assert smol.get_num_tokens(answer.content) <= MAX_NEW_TOKENS
    assert all(stats[key] > 0 for key in STAT_KEYS if key != "tokens_per_s")


def test_streaming_matches_invoke(smol):
    answer = smol.invoke(PROMPT).content
    chunks = list(smol.stream(PROMPT))
    merged = reduce(operator.add, chunks)
    _report("stream", merged.response_metadata)
    assert len([chunk for chunk in chunks if chunk.content]) >= 2
    assert merged.content == answer
