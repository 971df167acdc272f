"""Continuous batching (`backend.decoding.BatchDecoder`) on a tiny random Llama: every request gets the tokens it
would get alone, whatever joins or leaves the batch around it.

The model's weights are wide enough (initializer_range 0.2) that a wrong position id, a mask that hides a
row's first token or lets its padding in, or padding that is not zeroed changes the greedy tokens (checked by
breaking each on purpose while writing these tests). Wider weights (0.5) make attention so sharp that zero keys
get no weight even unmasked, and the test would miss a missing mask.
"""

from __future__ import annotations

import threading
import time

import pytest
import torch
from langchain_core.messages import HumanMessage, SystemMessage
from transformers import LlamaConfig, LlamaForCausalLM

from backend.decoding import FairLock, Request, decode_tokens
from backend.llm import LocalChatModel
from tests.unit.test_llm import _make_adapter, _save_model, tokenizer  # noqa: F401 (a fixture)

PROMPTS = [  # different lengths, with and without a system message (whose KV cache the shared model keeps)
    [SystemMessage("You pick colours."), HumanMessage("One colour for a summer wedding in Tuscany, please?")],
    [HumanMessage("Name one colour.")],
    [SystemMessage("You pick colours."), HumanMessage("Two?")],
    [SystemMessage("Answer in French."), HumanMessage("A bag for the opera, black or navy, under 900 euros?")],
    [HumanMessage("Shoes?")],
]


def _sharp_llama(tokenizer) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, intermediate_size=128, max_position_embeddings=512,
                         tie_word_embeddings=True, initializer_range=0.2, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return LlamaForCausalLM(config)


@pytest.fixture(scope="module")
def sharp_dir(tmp_path_factory, tokenizer):  # noqa: F811 (the fixture)
    return _save_model(_sharp_llama(tokenizer), tokenizer, tmp_path_factory.mktemp("sharp"))


def _alone(model_dir, messages, max_new_tokens: int, adapter: str | None = None) -> str:
    """The answer decoded alone, in this thread (`decode_tokens`): the reference."""
    llm = LocalChatModel(model_dir=model_dir, max_new_tokens=max_new_tokens, decode_batch=1, adapter=adapter)
    return llm.invoke(messages).content


class _Recorder:
    """Wraps the shared model's forward: records each pass's (rows, positions) and runs `on_call[n]()` at the
    start of the n-th pass (counting from 0), e.g. to make a new request join at a known step."""

    def __init__(self, shared, monkeypatch, on_call=None, delay_s: float = 0.0):
        self.shapes: list[tuple[int, int]] = []
        self.on_call = on_call or {}
        forward = shared.model.forward

        def recording_forward(*args, **kwargs):
            if len(self.shapes) in self.on_call:
                self.on_call[len(self.shapes)]()
            self.shapes.append(tuple(kwargs["input_ids"].shape))
            time.sleep(delay_s)
            return forward(*args, **kwargs)

        monkeypatch.setattr(shared.model, "forward", recording_forward)

    def steps(self) -> list[int]:
        """Rows of each batched decode step (one position in)."""
        return [rows for rows, positions in self.shapes if positions == 1]


def _start(llm, messages, results: dict, key, close_after: int | None = None, **kwargs) -> threading.Thread:
    """Stream `messages` on a thread into `results[key]` (the text); stop reading after `close_after` pieces."""
    def consume():
        pieces = []
        stream = llm.stream(messages, **kwargs)
        for chunk in stream:
            pieces.append(chunk.content)
            if close_after is not None and len([p for p in pieces if p]) >= close_after:
                stream.close()
                break
        results[key] = "".join(pieces)

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    return thread


def _wait_until_waiting(shared, count: int = 1) -> None:
    """Block until the decoder has `count` requests waiting to join (so they join at the next step)."""
    deadline = time.monotonic() + 30
    while len(shared.decoder._waiting) < count:
        assert time.monotonic() < deadline, "the request never reached the decoder"
        time.sleep(0.001)


def test_requests_that_join_and_leave_get_the_tokens_they_would_alone(sharp_dir, monkeypatch):
    """Five requests of different lengths join a running batch at different steps; one has a small token
    limit, one's reader leaves early; every answer is the one decoded alone, token for token."""
    limits = [40, 40, 12, 40, 40]
    expected = [_alone(sharp_dir, messages, limit) for messages, limit in zip(PROMPTS, limits)]
    assert len(set(expected)) == len(expected)
    llm = LocalChatModel(model_dir=sharp_dir, decode_batch=8)
    shared, results, threads = llm.shared, {}, []

    def join(index: int, **kwargs):
        def start():
            threads.append(_start(llm, PROMPTS[index], results, index, max_new_tokens=limits[index], **kwargs))
            _wait_until_waiting(shared)
        return start

    recorder = _Recorder(shared, monkeypatch, on_call={3: join(1), 8: join(2), 9: join(3, close_after=4),
                                                       16: join(4)})
    join(0)()
    deadline = time.monotonic() + 120
    while len(threads) < 5 or any(thread.is_alive() for thread in threads):
        assert time.monotonic() < deadline, "the batch never finished"
        time.sleep(0.01)

    for index in (0, 1, 2, 4):
        assert results[index] == expected[index], index
    assert results[3] and expected[3].startswith(results[3]) and results[3] != expected[3]
    steps = recorder.steps()
    assert max(steps) >= 4, steps  # they really ran together
    assert steps[-1] == 1, steps  # ... and left one by one
    # the request whose reader left after 4 tokens was dropped from the batch soon after, not decoded to its limit
    assert sum(steps) <= sum(limit - 1 for limit in limits) - 20, steps


def test_stop_ids_and_limits_end_only_their_own_row(sharp_dir):
    """At the decoder's level, token for token: a row that meets a stop id or its limit leaves; the others go on."""
    llm = LocalChatModel(model_dir=sharp_dir)
    shared = llm.shared
    prompts = [llm._prompt(messages)["input_ids"] for messages in PROMPTS[:3]]
    with shared.lock:
        shared.activate(None)
        alone = [list(decode_tokens(shared.model, ids, 30, 0.0, set())) for ids in prompts]
    stop = next(token for token in alone[1][4:] if token not in alone[1][:4])
    expected = [alone[0], alone[1][:alone[1].index(stop)], alone[2][:9]]
    requests = [Request(None, [], prompts[0], 30, 0.0, set(), 8), Request(None, [], prompts[1], 30, 0.0, {stop}, 8),
                Request(None, [], prompts[2], 9, 0.0, set(), 8)]
    results = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, list(shared.decoder.generate(requests[i]))))
               for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [results[i] for i in range(3)] == expected
    assert 4 <= len(expected[1]) < 30


def test_an_adapter_waits_for_the_batch_of_another_and_each_gets_its_own_answer(tokenizer, sharp_dir, tmp_path,  # noqa: F811
                                                                                monkeypatch):
    alpha = _make_adapter(sharp_dir, tmp_path / "alpha", 1)
    base = LocalChatModel(model_dir=sharp_dir, max_new_tokens=20)
    base.load_adapter("alpha", alpha)
    with_alpha = LocalChatModel(model_dir=sharp_dir, max_new_tokens=20, adapter="alpha")
    cases = [(base, PROMPTS[0]), (with_alpha, PROMPTS[1]), (with_alpha, PROMPTS[0]), (base, PROMPTS[2])]
    expected = [_alone(sharp_dir, messages, 20, llm.adapter) for llm, messages in cases]
    assert expected[0] != expected[2]  # the adapter changes the answer to the same prompt
    results, threads = {}, []

    def join(index: int):
        def start():
            threads.append(_start(cases[index][0], cases[index][1], results, index))
            _wait_until_waiting(base.shared)
        return start

    merged = []
    recorder = _Recorder(base.shared, monkeypatch, on_call={2: join(1), 3: join(2), 5: join(3)})
    forward = base.shared.model.forward
    monkeypatch.setattr(base.shared.model, "forward",
                        lambda *a, **k: (merged.append(base.shared.merged), forward(*a, **k))[1])
    join(0)()
    deadline = time.monotonic() + 120
    while len(threads) < 4 or any(thread.is_alive() for thread in threads):
        assert time.monotonic() < deadline, "the requests never finished"
        time.sleep(0.01)
    assert [results[i] for i in range(4)] == expected
    # first come, first served: alpha's two requests wait for the base batch to drain, then run together; the
    # base request that came after them waits for theirs (one switch each way, none back and forth)
    switches = [merged[i] for i in range(len(merged)) if i == 0 or merged[i] != merged[i - 1]]
    assert switches == [None, "alpha", None], switches
    assert max(recorder.steps()) == 2


def test_other_users_of_the_lock_get_in_between_steps(sharp_dir, monkeypatch):
    """`next_token_scores` (and anything else that takes the model's lock) waits one step, not a whole answer."""
    llm = LocalChatModel(model_dir=sharp_dir, max_new_tokens=200)
    recorder = _Recorder(llm.shared, monkeypatch, delay_s=0.02)
    stream = llm.stream(PROMPTS[1])
    next(stream)
    scores = llm.next_token_scores(PROMPTS[1], "The answer:", [" A", " B"])
    during = len(recorder.shapes)
    stream.close()
    assert scores is not None and during < 100, "next_token_scores waited for the generation to end"


def test_a_failing_forward_fails_its_generation_and_the_decoder_goes_on(sharp_dir, monkeypatch):
    llm = LocalChatModel(model_dir=sharp_dir, max_new_tokens=12)
    expected = _alone(sharp_dir, PROMPTS[1], 12)

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory (on purpose)")

    with monkeypatch.context() as patch:
        _Recorder(llm.shared, patch, on_call={3: lambda: patch.setattr(llm.shared.model, "forward", broken)})
        with pytest.raises(RuntimeError, match="on purpose"):
            llm.invoke(PROMPTS[1])
    assert llm.invoke(PROMPTS[1]).content == expected


def test_the_fair_lock_is_granted_in_order():
    lock, order = FairLock(), []
    lock.acquire()

    def take(name: str):
        with lock:
            order.append(name)

    threads = []
    for name in "abc":
        threads.append(threading.Thread(target=take, args=(name,)))
        threads[-1].start()
        time.sleep(0.05)  # each asks after the one before
    lock.release()
    for thread in threads:
        thread.join(timeout=10)
    assert order == ["a", "b", "c"]
    # a thread that takes it again at once does not get it before one already waiting
    seen = []
    lock.acquire()
    waiter = threading.Thread(target=take, args=("w",))
    waiter.start()
    time.sleep(0.05)
    lock.release()
    with lock:
        seen.append(list(order))
    waiter.join(timeout=10)
    assert seen == [["a", "b", "c", "w"]]


def test_closing_the_decoder_ends_what_runs_and_refuses_what_comes(tokenizer, tmp_path, monkeypatch):  # noqa: F811
    """At exit the worker stops after its step (a daemon thread killed inside torch aborts the process)."""
    llm = LocalChatModel(model_dir=_save_model(_sharp_llama(tokenizer), tokenizer, tmp_path / "own"),
                         max_new_tokens=300)
    _Recorder(llm.shared, monkeypatch, delay_s=0.01)
    stream = llm.stream(PROMPTS[1])
    next(stream)
    llm.shared.decoder.close()
    with pytest.raises(RuntimeError, match="decoder was closed"):
        list(stream)
    with pytest.raises(RuntimeError, match="decoder was closed"):
        llm.invoke(PROMPTS[1])
