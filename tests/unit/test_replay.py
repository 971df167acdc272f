"""Self-distillation replay (training/replay.py): prompts kept apart from the probes, the cache, the
mix in the SFT stage's settings."""

import json
import re

import pytest

from catalog.errors import ConciergeError
from training import replay
from training.config import load_config
from training.probes.instructions import INSTRUCTION_PROBES, TOPICS
from training.probes.knowledge import KNOWLEDGE_PROBES, normalise


def test_replay_prompts_share_nothing_with_the_probes():
    prompts = {normalise(p) for p in replay.PROMPTS}
    assert len(prompts) == len(replay.PROMPTS), "a replay prompt is written twice"
    assert not prompts & {normalise(p.question) for p in KNOWLEDGE_PROBES}
    assert not prompts & {normalise(p.prompt) for p in INSTRUCTION_PROBES}
    said = " ".join(f" {p} " for p in prompts)
    answers = {normalise(a) for p in KNOWLEDGE_PROBES for a in p.answers if not a.isdigit()}
    leaked = sorted(a for a in answers if f" {a} " in said)
    assert not leaked, f"replay prompts name knowledge-probe answers: {leaked}"
    topic_words = {w for t in TOPICS for w in re.findall(r"[a-z]+", t.lower()) if len(w) > 4}
    assert not {w for p in prompts for w in p.split()} & topic_words


def test_prompts_cycle_through_all_before_repeating_and_rotate_system_lines():
    n = len(replay.PROMPTS) + 3
    prompts = replay.replay_prompts(n, seed=1)
    users = [p[-1]["content"] for p in prompts]
    assert sorted(users[:len(replay.PROMPTS)]) == sorted(replay.PROMPTS)
    systems = [p[0]["content"] if p[0]["role"] == "system" else None for p in prompts]
    assert systems[:len(replay.SYSTEMS)] == list(replay.SYSTEMS)
    assert replay.replay_prompts(5, seed=1) == prompts[:5]
    assert replay.replay_prompts(5, seed=2) != prompts[:5]


def test_cached_answers_are_reused_and_missing_ones_generated(tmp_path, monkeypatch):
    cache = tmp_path / "replay.jsonl"
    calls = []

    def fake_generate(model_dir, prompts, max_new_tokens, batch_size, progress):
        calls.append(len(prompts))
        return [f"answer {len(calls)}.{i}" for i in range(len(prompts))]

    monkeypatch.setattr(replay, "_generate", fake_generate)
    first = replay.replay_examples(tmp_path, 4, 32, cache, progress=False)
    again = replay.replay_examples(tmp_path, 6, 32, cache, progress=False)
    assert calls == [4, 2]  # only the two new prompts were generated
    assert again[:4] == first
    assert all(r["completion"][0]["role"] == "assistant" for r in again)
    assert len(cache.read_text().splitlines()) == 6
    other_budget = replay.replay_examples(tmp_path, 2, 64, cache, progress=False)
    assert calls[-1] == 2 and other_budget[0]["completion"][0]["content"].startswith("answer 3")
    assert json.loads(cache.read_text().splitlines()[0])["prompt"] == first[0]["prompt"]


def test_an_answer_cut_at_the_limit_ends_at_its_last_sentence():
    assert replay._whole_sentences("One thing. Another thing! And then some") == "One thing. Another thing!"
    assert replay._whole_sentences("no sentence end at all") == "no sentence end at all"


def test_replay_share_is_checked(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("stages: [sft]\nsft: {replay: 1.0}\n")
    with pytest.raises(ConciergeError, match="replay"):
        load_config(path)
    path.write_text("stages: [sft]\nsft: {replay: 0.25, replay_tokens: 96}\n")
    assert load_config(path).sft.replay == 0.25
