"""Continuous batching with the real SmolLM2-135M-Instruct: answers decoded together are token for token those
decoded one after another (materialised under var/models/base on first use)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from backend.llm import LocalChatModel
from backend.model_files import materialise_base_model
from backend.reasoner import SYSTEM
from backend.settings import Settings

pytestmark = pytest.mark.integration

NEW_TOKENS = 48
CANDIDATES = "\n".join(f"{handle}: {house}, {what}, {price:,} EUR" for handle, house, what, price in [
    ("K3", "Maison Verre", "tote bag, black calfskin, subtle logo", 1450),
    ("B7", "Atelier Hinode", "crossbody bag, navy linen, unbranded", 890),
    ("M2", "Casa Lume", "clutch, gold satin, evening", 1200),
    ("T5", "Nordlys", "shoulder bag, cognac leather, everyday", 760),
    ("R9", "Maison Verre", "top-handle bag, ivory grain leather", 2100),
    ("H4", "Studio Arco", "bucket bag, olive suede, weekend", 640),
])
PROMPTS = [  # of different lengths, three sharing the reasoner's system message
    [SystemMessage(SYSTEM), HumanMessage(f'Request: "A bag for a summer wedding in Tuscany."\n'
                                         f"Candidates:\n{CANDIDATES}")],
    [SystemMessage("You are a concise assistant."), HumanMessage("Name one colour that suits navy.")],
    [SystemMessage(SYSTEM), HumanMessage(f'Request: "Something for client dinners in Milan, under 1,500 EUR, '
                                         f'nothing flashy, ideally Italian."\nClient: prefers black and navy.\n'
                                         f"Candidates:\n{CANDIDATES}")],
    [SystemMessage(SYSTEM), HumanMessage("Request: \"A small evening bag.\"\nCandidates:\n"
                                         + CANDIDATES.split("\n")[2])],
]


@pytest.fixture(scope="module")
def model_dir():
    return materialise_base_model(Settings())


def test_four_answers_decoded_together_are_those_decoded_one_by_one(model_dir, monkeypatch):
    alone = LocalChatModel(model_dir=model_dir, max_new_tokens=NEW_TOKENS, decode_batch=1)
    sizes = {alone.get_num_tokens_from_messages(messages) for messages in PROMPTS}
    assert len(sizes) == len(PROMPTS)
    expected = [alone.invoke(messages).content for messages in PROMPTS]
    rows, forward = [], alone.shared.model.forward
    monkeypatch.setattr(alone.shared.model, "forward",
                        lambda *a, **k: (rows.append(k["input_ids"].shape[0]), forward(*a, **k))[1])

    def together(messages):
        answer = LocalChatModel(model_dir=model_dir, max_new_tokens=NEW_TOKENS, decode_batch=4).invoke(messages)
        return answer.content, answer.response_metadata

    with ThreadPoolExecutor(max_workers=len(PROMPTS)) as pool:
        results = list(pool.map(together, PROMPTS))
    assert [text for text, _ in results] == expected
    assert all(stats["completion_tokens"] > 5 for _, stats in results)
    assert max(rows) == len(PROMPTS)  # they were decoded together
