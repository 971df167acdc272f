"""Traces: acceptance counting of reject / target sampling, the template teacher, the JSONL file."""

from __future__ import annotations

import json

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from backend.reasoner import parse_answer
from backend.verify import verify_steps
from catalog.errors import ConciergeError
from tests.unit.tiny_llm import demo_case_prompt, make_tiny_model_dir
from training.config import TracesConfig, config_from_dict
from training.data import TrainingCase
from training.traces import generate_traces, query_graph, read_traces, run_traces, sample, template_completion


class Scripted(BaseChatModel):
    """Answers with the given completions in turn and records every prompt it was sent."""

    replies: list[str]
    seen: list = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        self.seen.append([m.text for m in messages])
        reply = self.replies[min(len(self.seen) - 1, len(self.replies) - 1)]
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])


@pytest.fixture
def demo():
    case, world, prompt_fn = demo_case_prompt()
    messages, handles = prompt_fn(case, world)
    by_item = {item["item_id"]: h for h, item in handles.items()}
    return case, world, prompt_fn, by_item


def test_template_trace_is_correct_and_verified(demo):
    case, world, prompt_fn, by_item = demo
    traces, stats = generate_traces([case], world, None, mode="template", prompt_fn=prompt_fn)
    assert stats["with_trace"] == 1 and stats["by_source"] == {"template": 1}
    trace = traces[0]
    assert trace.accepted and trace.mode == "template" and trace.picks[0] == "it-0"
    _, handles = prompt_fn(case, world)
    parsed = parse_answer(trace.completion, handles)
    assert parsed.picks[0] == by_item["it-0"]
    checks = verify_steps(parsed.steps, handles, query_graph(case, world))
    assert checks and not any(c.verdict == "inconsistent" for c in checks)
    assert any(c.verdict == "consistent" for c in checks)
    # it-3 is relevant (grade 1) but navy: the request's black is a soft wish, so it may follow, never lead
    assert parsed.picks[0] != by_item["it-3"]


def test_template_skips_nothing_fits(demo):
    case, world, prompt_fn, _ = demo
    empty = TrainingCase("q-2", "c-1", "A black tote", case.candidates, {}, "impossible", "bundle")
    traces, stats = generate_traces([case, empty], world, None, mode="template", prompt_fn=prompt_fn)
    assert [t.case_id for t in traces] == ["q-1"]
    assert stats["skipped_nothing_fits"] == 1 and stats["acceptance"] == 1.0
    _, handles = prompt_fn(case, world)
    assert template_completion(handles, {}, query_graph(case, world)) is None


def test_reject_sampling_counts_tries_until_a_hit(demo):
    case, world, prompt_fn, by_item = demo
    wrong, right = by_item["it-1"], by_item["it-0"]
    model = Scripted(replies=[f"1. {wrong} is black.\n2. Take it.\nANSWER: {wrong}", "no idea",
                              f"1. Black is wanted.\n2. Pick {right}.\nANSWER: {right}",
                              "never asked"], seen=[])
    config = TracesConfig(verify=False, grounded=False, keep_rejected=True)
    traces, stats = generate_traces([case], world, model, mode="reject", max_tries=4, config=config,
                                    prompt_fn=prompt_fn)
    assert len(model.seen) == 4  # the generic chat-model path samples max_tries completions
    accepted = [t for t in traces if t.accepted]
    assert [t.tries for t in accepted] == [3] and accepted[0].picks == ["it-0"]
    assert [t.accepted for t in traces] == [False, False, True]
    modes = stats["modes"]["reject"]
    assert modes["samples"] == 3 and modes["parsed"] == 2 and modes["accepted"] == 1
    assert modes["sample_acceptance"] == pytest.approx(1 / 3)
    assert stats["acceptance"] == 1.0


def test_verifier_rejects_a_trace_with_a_false_fact(demo):
    case, world, prompt_fn, by_item = demo
    right = by_item["it-0"]
    model = Scripted(replies=[f"1. A black tote.\n2. {right} is in red.\nANSWER: {right}"], seen=[])
    traces, stats = generate_traces([case], world, model, mode="reject", max_tries=1, prompt_fn=prompt_fn)
    assert traces == [] and stats["modes"]["reject"]["accepted"] == 0


def test_cascade_falls_back_to_target_then_template(demo):
    case, world, prompt_fn, by_item = demo
    right = by_item["it-0"]
    model = Scripted(replies=["nothing", "nothing", f"1. A black tote.\n2. {right} is black.\nANSWER: {right}"],
                     seen=[])
    traces, stats = generate_traces([case], world, model, mode=["reject", "target", "template"], max_tries=2,
                                    prompt_fn=prompt_fn)
    assert [t.mode for t in traces] == ["target"] and traces[0].tries == 1
    assert "The correct answer is: ANSWER: " + right in model.seen[2][-1]  # the teacher saw the answer...
    assert not any("correct answer" in m["content"] for m in traces[0].prompt)  # ...the stored prompt does not
    assert stats["modes"]["reject"] == {"cases": 1, "accepted": 0, "samples": 2, "parsed": 0, "acceptance": 0.0,
                                        "sample_acceptance": 0.0}
    assert stats["modes"]["target"]["accepted"] == 1 and stats["modes"]["template"]["cases"] == 0
    # a teacher that never answers: the template teacher still gives the case a trace
    silent = Scripted(replies=["..."], seen=[])
    traces, stats = generate_traces([case], world, silent, mode=["reject", "target", "template"], max_tries=2,
                                    prompt_fn=prompt_fn)
    assert [t.mode for t in traces] == ["template"] and stats["by_source"]["template"] == 1


def test_echoed_hints_and_bare_answers_are_rejected(demo):
    case, world, prompt_fn, by_item = demo
    right = by_item["it-0"]
    replies = [f"The correct answer is: ANSWER: {right}", f"ANSWER: {right}",
               f"1. The request wants black.\n2. {right} is black.\nANSWER: {right}"]
    traces, stats = generate_traces([case], world, Scripted(replies=replies, seen=[]), mode="target", max_tries=3,
                                    prompt_fn=prompt_fn)
    assert [t.tries for t in traces] == [3]
    assert stats["modes"]["target"]["parsed"] == 3 and stats["modes"]["target"]["accepted"] == 1


def test_grounded_traces_only(demo):
    case, world, prompt_fn, by_item = demo
    right = by_item["it-0"]
    vague = f"1. Let me think.\n2. Here it is.\nANSWER: {right}"
    grounded = f"1. The request wants black.\n2. {right} is black.\nANSWER: {right}"
    _, stats = generate_traces([case], world, Scripted(replies=[vague], seen=[]), mode="reject", max_tries=1,
                               prompt_fn=prompt_fn)
    assert stats["with_trace"] == 0
    _, stats = generate_traces([case], world, Scripted(replies=[vague], seen=[]), mode="reject", max_tries=1,
                               config=TracesConfig(grounded=False), prompt_fn=prompt_fn)
    assert stats["with_trace"] == 1
    _, stats = generate_traces([case], world, Scripted(replies=[grounded], seen=[]), mode="reject", max_tries=1,
                               prompt_fn=prompt_fn)
    assert stats["with_trace"] == 1


def test_ndcg_acceptance_threshold(demo):
    case, world, prompt_fn, by_item = demo
    second = by_item["it-3"]  # grade 1 only: top1 accepts it, a high NDCG bar does not
    reply = f"1. A tote.\n2. Choose it.\nANSWER: {second}"
    low = TracesConfig(accept="ndcg", ndcg_threshold=0.9, verify=False, grounded=False)
    _, stats = generate_traces([case], world, Scripted(replies=[reply], seen=[]), mode="reject", max_tries=1,
                               config=low, prompt_fn=prompt_fn)
    assert stats["with_trace"] == 0
    top1 = TracesConfig(accept="top1", verify=False, grounded=False)
    _, stats = generate_traces([case], world, Scripted(replies=[reply], seen=[]), mode="reject", max_tries=1,
                               config=top1, prompt_fn=prompt_fn)
    assert stats["with_trace"] == 1


def test_config_errors():
    with pytest.raises(ConciergeError, match="unknown key traces.mode;"):
        config_from_dict({"traces": {"mode": "reject"}})
    with pytest.raises(ConciergeError, match="traces.modes must be a list of reject, target, template"):
        config_from_dict({"traces": {"modes": ["guess"]}})
    with pytest.raises(ConciergeError, match="traces.modes must list at least 1"):
        config_from_dict({"traces": {"modes": []}})
    with pytest.raises(ConciergeError, match="traces.modes must be a list of"):
        generate_traces([], None, None, mode="guess")  # arguments are checked as the config is
    with pytest.raises(ConciergeError, match="teacher model"):
        generate_traces([], None, None, mode="reject")


def test_run_traces_with_a_tiny_local_model(demo, tmp_path):
    import torch

    from backend.llm import LocalChatModel

    torch.set_num_threads(1)
    case, world, prompt_fn, _ = demo
    model = LocalChatModel(model_dir=make_tiny_model_dir(tmp_path / "tiny"))
    texts = sample(model, [{"role": "user", "content": "Hello"}], n=3, temperature=1.0, max_new_tokens=4, seed=1)
    assert len(texts) == 3 and all(isinstance(t, str) for t in texts)
    config = TracesConfig(modes=["reject", "template"], max_tries=2, max_new_tokens=6, keep_rejected=True)
    stats = run_traces(config, [case], world, tmp_path / "run", model=model, prompt_fn=prompt_fn)
    # a random model never answers: both samples rejected, the template supplies the trace
    assert stats["modes"]["reject"]["samples"] == 2 and stats["modes"]["reject"]["accepted"] == 0
    assert stats["by_source"] == {"reject": 0, "template": 1}
    rows = [json.loads(line) for line in (tmp_path / "run" / "traces.jsonl").read_text().splitlines()]
    assert [(r["source"], r["accepted"]) for r in rows] == [("reject", False), ("reject", False), ("template", True)]
    assert rows[-1]["prompt"][0]["role"] == "system" and rows[-1]["case_id"] == "q-1"
    assert [r["source"] for r in read_traces(tmp_path / "run" / "traces.jsonl")] == ["template"]
    assert json.loads((tmp_path / "run" / "traces_stats.json").read_text())["with_trace"] == 1


def test_config_sets_the_tries_unless_overridden(demo):
    case, world, prompt_fn, _ = demo
    _, stats = generate_traces([case], world, Scripted(replies=["..."], seen=[]), config=TracesConfig(
        modes=["reject"], max_tries=3), prompt_fn=prompt_fn)
    assert stats["modes"]["reject"]["samples"] == 3
    _, stats = generate_traces([case], world, Scripted(replies=["..."], seen=[]), max_tries=1, config=TracesConfig(
        modes=["reject"], max_tries=3), prompt_fn=prompt_fn)
    assert stats["modes"]["reject"]["samples"] == 1


def test_the_traces_and_sft_stages_run_from_the_train_context(demo, tmp_path):
    from types import SimpleNamespace

    from training.train import run_stage

    case, world, prompt_fn, _ = demo
    ctx = SimpleNamespace(config=config_from_dict({"traces": {"modes": ["template"], "teacher": "none"}}),
                          run_dir=tmp_path, cases=[case], world=world, prompt=prompt_fn, results={})
    stats = run_stage("traces", ctx)
    assert stats["by_source"] == {"template": 1} and stats["path"] == str(tmp_path / "traces" / "traces.jsonl")
    empty = SimpleNamespace(config=ctx.config, run_dir=tmp_path / "other", results={})
    with pytest.raises(ConciergeError, match="the sft stage trains on traces"):
        run_stage("sft", empty)
    with pytest.raises(ConciergeError, match="unknown stage 'rl'"):
        run_stage("rl", ctx)
