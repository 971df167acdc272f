"""SFT: a LoRA adapter fitted on template traces with TRL's SFTTrainer lowers the loss, is saved, and serves."""

from __future__ import annotations

import json

import pytest
import torch

from catalog.errors import ConciergeError
from tests.unit.tiny_llm import demo_case_prompt, make_tiny_model_dir
from training.config import SFTSection, config_from_dict
from training.sft import run_sft, sft_examples
from training.traces import generate_traces, write_traces


def test_sft_overfits_a_trace_and_the_adapter_serves(tmp_path):
    from backend.llm import chat_model
    from backend.settings import Settings

    torch.set_num_threads(1)
    model_dir = make_tiny_model_dir(tmp_path / "tiny")
    case, world, prompt_fn = demo_case_prompt(item_count=4)
    traces, _ = generate_traces([case], world, None, mode="template", prompt_fn=prompt_fn)
    path = write_traces(traces, tmp_path / "run" / "traces.jsonl")
    config = SFTSection(max_steps=8, batch_size=1, learning_rate=5e-2, lora_r=8, lora_dropout=0.0,
                        target_modules="all-linear", threads=1)
    adapter = run_sft(config, path, model_dir, tmp_path / "run")

    assert (adapter / "adapter_config.json").is_file() and (adapter / "adapter_model.safetensors").is_file()
    rows = [json.loads(line) for line in (tmp_path / "run" / "sft_metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and all(r["step_s"] > 0 for r in rows)
    assert rows[-1]["loss"] < rows[0]["loss"] - 1.0  # ~11.6 -> ~7 on one repeated trace
    summary = json.loads((tmp_path / "run" / "sft_summary.json").read_text())
    assert summary["traces"] == 1 and summary["by_source"] == {"template": 1}

    # the adapter loads onto the served model and changes what it computes
    model = chat_model(Settings(var_dir=tmp_path / "var", base_model_dir=model_dir, llm_backend="local"),
                       adapter="sft-test", adapter_path=adapter)
    shared = model.shared
    ids = shared.tokenizer.apply_chat_template(traces[0].prompt, add_generation_prompt=True, return_tensors="pt",
                                               return_dict=True)["input_ids"]
    with torch.no_grad():
        shared.activate("sft-test")
        tuned = shared.model(input_ids=ids).logits[0, -1]
        shared.activate(None)
        base = shared.model(input_ids=ids).logits[0, -1]
    assert not torch.allclose(tuned, base, atol=1e-4)


def test_examples_pair_the_serving_prompt_with_the_trace():
    rows = [{"prompt": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}],
             "completion": "1. x\nANSWER: K7", "source": "target", "accepted": True}]
    assert sft_examples(rows) == [{"prompt": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}],
                                   "completion": [{"role": "assistant", "content": "1. x\nANSWER: K7"}]}]


def test_section_errors(tmp_path):
    with pytest.raises(ConciergeError, match="unknown key sft.steps;"):
        config_from_dict({"sft": {"steps": 3}})
    with pytest.raises(ConciergeError, match="sft.loss must be one of completion, assistant"):
        config_from_dict({"sft": {"loss": "all"}})
    with pytest.raises(ConciergeError, match="sft needs max_steps > 0 or epochs > 0"):
        config_from_dict({"sft": {"max_steps": 0, "epochs": 0}})
    assert config_from_dict({"sft": {"target_modules": "all-linear"}}).sft.target_modules == "all-linear"
    with pytest.raises(ConciergeError, match="no traces file"):
        run_sft(SFTSection(), tmp_path / "missing.jsonl", tmp_path, tmp_path)


def test_sft_trains_a_given_adapter_further(tmp_path):
    """`model.adapter` (a feedback job continuing the active version): the second run starts where the first
    ended, and its adapter keeps the first one's rank."""
    torch.set_num_threads(1)
    model_dir = make_tiny_model_dir(tmp_path / "tiny")
    case, world, prompt_fn = demo_case_prompt(item_count=4)
    traces, _ = generate_traces([case], world, None, mode="template", prompt_fn=prompt_fn)
    path = write_traces(traces, tmp_path / "traces.jsonl")
    section = SFTSection(max_steps=6, batch_size=1, learning_rate=5e-2, lora_r=4, lora_dropout=0.0,
                         target_modules="all-linear", threads=1)
    first = run_sft(section, path, model_dir, tmp_path / "first")
    wider = SFTSection(**{**section.__dict__, "lora_r": 16})  # ignored: the given adapter's shape wins
    second = run_sft(wider, path, model_dir, tmp_path / "second", start_adapter=first)
    losses = {name: [json.loads(line)["loss"] for line in (tmp_path / name / "sft_metrics.jsonl").read_text()
                     .splitlines()] for name in ("first", "second")}
    assert losses["second"][0] < losses["first"][0] - 1.0  # it did not start from the base model
    assert json.loads((second / "adapter_config.json").read_text())["r"] == 4


def test_replay_mixes_the_base_models_own_answers_into_the_examples(tmp_path, monkeypatch):
    """`sft.replay`: a share of the examples are general prompts answered by the base model itself
    (training/replay.py), generated once into the stage's cache and counted in the summary."""
    import training.sft as sft_module

    torch.set_num_threads(1)
    model_dir = make_tiny_model_dir(tmp_path / "tiny")
    case, world, prompt_fn = demo_case_prompt(item_count=4)
    traces, _ = generate_traces([case, case, case], world, None, mode="template", prompt_fn=prompt_fn)
    path = write_traces(traces, tmp_path / "traces.jsonl")
    seen = []
    real_train = sft_module.train_sft

    def recording_train(examples, *args, **kwargs):
        seen.extend(examples)
        return real_train(examples, *args, **kwargs)

    monkeypatch.setattr(sft_module, "train_sft", recording_train)
    section = SFTSection(max_steps=2, batch_size=1, lora_r=4, lora_dropout=0.0, threads=1, replay=0.5,
                         replay_tokens=6)
    run_sft(section, path, model_dir, tmp_path / "run")

    replayed = [e for e in seen if "Candidates:" not in json.dumps(e["prompt"])]
    assert len(seen) == 6 and len(replayed) == 3  # 3 traces at a share of 0.5: 3 replay rows
    cache = [json.loads(line) for line in (tmp_path / "run" / "replay.jsonl").read_text().splitlines()]
    assert [c["prompt"] for c in cache] == [e["prompt"] for e in replayed]
    assert all(e["completion"][0]["role"] == "assistant" for e in replayed)
    assert json.loads((tmp_path / "run" / "sft_summary.json").read_text())["replay"] == 3
