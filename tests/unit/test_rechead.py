"""Rechead: losses on hand-computed values; a head trained on a tiny backbone ranks its positives first,
survives a save / load, ranks at serving time and scores traces as a reward."""

from __future__ import annotations

import json
import math

import pytest
import torch

from backend.rechead import RecHead, encode, load_head, rechead_rank
from catalog.errors import ConciergeError
from tests.unit.tiny_llm import demo_case_prompt, make_tiny_model_dir
from training.config import RecheadSection
from training.data import TrainingCase
from training.rechead import (RecheadReward, bpr_loss, build_examples, expected_gain, head_ndcg, listnet_loss,
                              run_rechead, train_head)

COLOURS = ["black", "red", "navy", "ivory", "green", "camel"]


def test_losses_and_reward_by_hand():
    scores, gains = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 0.0])
    assert float(bpr_loss(scores, gains)) == pytest.approx(-math.log(1 / (1 + math.exp(-2.0))))
    assert float(listnet_loss(torch.zeros(2), gains)) == pytest.approx(math.log(2))
    # softmax([2, 0]) = (0.8808, 0.1192); grades (3, 1): (0.8808 * 3 + 0.1192 * 1) / 3
    assert expected_gain(scores, torch.tensor([3.0, 1.0])) == pytest.approx((0.880797 * 3 + 0.119203) / 3, rel=1e-5)
    assert expected_gain(scores, torch.zeros(2)) == 0.0


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import AutoModelForCausalLM

    from backend.llm import load_tokenizer

    torch.set_num_threads(1)
    model_dir = make_tiny_model_dir(tmp_path_factory.mktemp("tiny"))
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    return model_dir, model, load_tokenizer(model_dir.resolve())


def colour_cases(candidates):
    return [TrainingCase(f"q-{i}", "c-1", f"A {COLOURS[i]} tote", candidates, {f"it-{i}": 3}, "explicit", "bundle")
            for i in range(len(COLOURS))]


def test_features_follow_the_handles(tiny):
    _, model, tokenizer = tiny
    case, world, prompt_fn = demo_case_prompt(item_count=6)
    messages, handles = prompt_fn(case, world)
    chat = [{"role": "system" if m.type == "system" else "user", "content": m.text} for m in messages]
    user, items = encode(model, tokenizer, chat, list(handles))
    assert user.shape == (64,) and items.shape == (6, 32)
    _, reversed_items = encode(model, tokenizer, chat, list(handles)[::-1])
    assert torch.allclose(reversed_items, items.flip(0))
    with pytest.raises(ConciergeError, match="not listed"):
        encode(model, tokenizer, chat, ["Z9"])


def test_trained_head_ranks_positives_first_and_serves(tiny, tmp_path):
    model_dir, model, tokenizer = tiny
    case, world, prompt_fn = demo_case_prompt(item_count=6)
    cases = colour_cases(case.candidates)
    examples = build_examples(cases, world, model, tokenizer, prompt_fn)
    assert len(examples) == 6 and all(ex.gains.sum() == 3 for ex in examples)
    head, rows = train_head(examples, RecheadSection(epochs=60, seed=0))
    assert rows[-1]["loss"] < 0.3 * rows[0]["loss"]
    assert head_ndcg(head, examples) == 1.0  # every trained positive above its five negatives

    # saved and loaded, it ranks the same at serving time
    from backend.rechead import save_head

    loaded, meta = load_head(save_head(head, tmp_path / "head", {"note": "test"}))
    assert meta["hidden"] == 32 and meta["note"] == "test"
    messages, handles = prompt_fn(cases[2], world)
    ranked = rechead_rank(loaded, model, tokenizer, messages, list(handles))
    assert handles[ranked[0][0]]["item_id"] == "it-2"
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)

    # on the serving process's shared model (lock held, base weights)
    from backend.llm import shared_model
    from backend.rechead import rank_on_shared

    served = rank_on_shared(loaded, shared_model(model_dir), messages, list(handles))
    assert [h for h, _ in served] == [h for h, _ in ranked]

    # as a reward: the true item of this request scores higher than another item would
    reward = RecheadReward(tmp_path / "head", model, tokenizer)
    chat = [{"role": "system" if m.type == "system" else "user", "content": m.text} for m in messages]
    hmap = {h: item["item_id"] for h, item in handles.items()}
    right, wrong = reward([chat, chat], ["1. It is black.\nANSWER: X1"] * 2, [hmap, hmap],
                          [{"it-2": 3}, {"it-4": 3}])
    assert 0.0 <= wrong < right <= 1.0


def test_run_rechead_writes_a_loadable_head(tiny, tmp_path):
    model_dir, _, _ = tiny
    case, world, prompt_fn = demo_case_prompt(item_count=6)
    cases = colour_cases(case.candidates)
    traces = tmp_path / "run" / "traces.jsonl"
    traces.parent.mkdir(parents=True)
    traces.write_text(json.dumps({"case_id": "q-0", "completion": "1. Black.\nANSWER: A1", "accepted": True,
                                  "source": "template"}) + "\n")
    config = RecheadSection(epochs=40, holdout=0.34, threads=1)
    head_dir = run_rechead(config, cases, world, model_dir, tmp_path / "run", prompt_fn=prompt_fn)
    head, meta = load_head(head_dir)
    assert meta["held_out_cases"] == 2 and meta["train_examples"] == 4 + meta["with_traces"]
    assert meta["ndcg@5_after"]["train"] > meta["ndcg@5_before"]["train"]
    assert len((tmp_path / "run" / "rechead_metrics.jsonl").read_text().splitlines()) == 40
    # the GRPO hook, bound to one case
    from types import SimpleNamespace

    from training.data import CasePrompt
    from training.rechead import RecheadHook

    _, model, tokenizer = tiny
    hook = RecheadHook(head_dir, model, tokenizer)
    messages, handles = prompt_fn(cases[1], world)
    chat = [{"role": "system" if m.type == "system" else "user", "content": m.text} for m in messages]
    value = hook.bind(CasePrompt(chat, handles), cases[1].relevance)("1. Red.\nANSWER: A1", ["it-1"])
    assert 0.0 < value <= 1.0
    with pytest.raises(ConciergeError, match="needs the case"):
        hook("1. Red.", ["it-1"])
    # a resumed run (or an ablation variant) that skips the finished rechead stage gets the same hook back
    from training.train import restore_skipped_stage

    ctx = SimpleNamespace(base_model=model_dir, rechead=None)
    restore_skipped_stage("rechead", {"head": str(head_dir), "finished": True}, ctx)
    assert isinstance(ctx.rechead, RecheadHook)
    assert ctx.rechead.bind(CasePrompt(chat, handles), cases[1].relevance)("1. Red.\nANSWER: A1", ["it-1"]) == \
        pytest.approx(value, abs=1e-5)
    with pytest.raises(ConciergeError, match="not a Rechead directory"):
        load_head(tmp_path)

    from backend.rechead import check_backbone

    with pytest.raises(ConciergeError, match="hidden size"):
        check_backbone(RecHead(576), SimpleNamespace(config=SimpleNamespace(hidden_size=32)))
