"""How the local model turns prompts into tokens: one generation alone (`decode_tokens`), or every running
generation of a shared model together (`BatchDecoder`, continuous batching).

A decode step of SmolLM2-135M on CPU is memory-bound: one token costs a read of all the weights (~540 MB), so
B sequences decoded in one batched forward cost little more than one (docs/results/batching.md). `BatchDecoder`
is one worker thread per shared model. A caller submits a `Request` and reads its token ids as they come;
between steps the worker prefills one new request alone (batch 1: prompts differ in length) and lets it join
the running batch, and drops the sequences that ended or whose reader left.

The running batch's KV cache (`padded_cache`) is left-padded to one length: each row's tokens end at the same
position, an attention mask hides the padding and each row's position ids count its own tokens only, so a row
computes what it would alone (the same greedy tokens: tests/unit/test_decoding.py).
"""

from __future__ import annotations

import atexit
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from queue import SimpleQueue
from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import Cache, DynamicLayer

from backend.half_decode import HalfLinears, decode_threads

KV = list[tuple[torch.Tensor, torch.Tensor]]  # one sequence's cache: per layer, keys and values (1, heads, tokens, dim)


def pick_token(logits: torch.Tensor, temperature: float) -> int:
    """Greedy (temperature 0) or sampled choice from one position's logits (vocabulary,)."""
    if temperature <= 0:
        return int(logits.argmax())
    return int(torch.multinomial(torch.softmax(logits.float() / temperature, dim=-1), 1))


def last_logits(model: Any, input_ids: torch.Tensor, cache: Cache, **kwargs: Any) -> torch.Tensor:
    """The logits after the last of `input_ids` (rows, positions) for each row: (rows, vocabulary); extends `cache`."""
    return model(input_ids=input_ids, past_key_values=cache, use_cache=True, logits_to_keep=1, **kwargs).logits[:, -1]


def decode_tokens(model: Any, input_ids: torch.Tensor, max_new_tokens: int, temperature: float,
                  stop_ids: set[int], cache: DynamicCache | None = None,
                  half: HalfLinears | None = None) -> Iterator[int]:
    """New token ids, one forward pass each, in the caller's thread; stops at a stop id (not yielded) or
    after `max_new_tokens`. Closing the iterator ends generation at once.

    `model.generate` does the same with a background thread and a text streamer when streaming; on two CPU
    cores that machinery cost ~15 ms of each ~60 ms token (measured: docs/results/reasoner.md), so the
    serving path runs the loop itself. Only greedy decoding and plain temperature sampling are needed here.

    Args:
        model: a causal LM (`AutoModelForCausalLM`), already on its device, adapters activated.
        input_ids (`torch.Tensor`): (1, prompt_tokens).
        max_new_tokens (`int`): most tokens generated.
        temperature (`float`): 0 for greedy.
        stop_ids (`set[int]`): end-of-sequence ids.
        cache (`DynamicCache`, *optional*): the KV cache of tokens before `input_ids` (a shared prefix).
        half (`HalfLinears`, *optional*): the model's fp16 weight copies, if it has them: their passes run on
            one thread (`backend.half_decode.decode_threads`).
    """
    cache = DynamicCache() if cache is None else cache

    def forward(ids: torch.Tensor) -> torch.Tensor:  # (1, positions) -> logits of the last one (vocabulary,)
        # inference mode is per thread and per step: a consumer may resume this generator from another thread
        with torch.inference_mode(), decode_threads(half, ids.shape[1]):
            return last_logits(model, ids, cache)[0]

    logits = forward(input_ids)
    for count in range(1, max_new_tokens + 1):
        token = pick_token(logits, temperature)
        if token in stop_ids:
            return
        yield token
        if count < max_new_tokens:
            logits = forward(torch.tensor([[token]], device=input_ids.device))


class FairLock:
    """A lock granted in the order it was asked for; any thread may release it.

    `threading.Lock` is not fair: a thread that releases it and asks again at once usually gets it back, so the
    decoding worker, which takes the model's lock for every step, would keep `next_token_scores`, an adapter
    load or a Rechead ranking waiting for as long as generations keep coming. With this lock they wait one step.
    Only blocking acquisition (what `with lock:` does) is offered.
    """

    def __init__(self):
        self._turns = threading.Condition(threading.Lock())
        self._next_ticket = 0
        self._serving = 0

    def acquire(self) -> bool:
        with self._turns:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._turns.wait_for(lambda: self._serving == ticket)
        return True

    def release(self) -> None:
        with self._turns:
            self._serving += 1
            self._turns.notify_all()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


# ----------------------------------------------------------------------------------------------------
# The running batch's KV cache


class _PaddedLayer(DynamicLayer):
    """One layer's keys and values of the running batch, in buffers (rows, kv_heads, capacity, head_dim) of which
    the first `length` positions are in use; a step writes its new position in place. (`DynamicLayer` grows by
    concatenation, which copies the whole cache every step: 54% of a batch-8 step at 780 tokens on CPU.)"""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, length: int):
        super().__init__()
        self.dtype, self.device, self.is_initialized = keys.dtype, keys.device, True
        self.buffers, self.length = (keys, values), length
        self._expose()

    def _expose(self) -> None:
        self.keys, self.values = (buffer[:, :, :self.length] for buffer in self.buffers)

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        end = self.length + key_states.shape[-2]
        if end > self.buffers[0].shape[2]:  # not reached: `padded_cache` leaves room for every row's last token
            self.buffers = tuple(torch.cat([b, torch.empty_like(b)], dim=2) for b in self.buffers)
        self.buffers[0][:, :, self.length:end] = key_states
        self.buffers[1][:, :, self.length:end] = value_states
        self.length = end
        self._expose()
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length

    def row(self, index: int, tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The keys and values of row `index`, its last `tokens` positions: (1, kv_heads, tokens, head_dim)."""
        return tuple(buffer[index:index + 1, :, self.length - tokens:self.length] for buffer in self.buffers)


def padded_cache(rows: list[KV], room: int) -> Cache:
    """A batch cache of `rows`, each right-aligned at the longest row's length with zeros before it (masked out,
    but never garbage: 0 x NaN would still be NaN), and `room` unused positions after it.

    Args:
        rows (`list[KV]`): per sequence, per layer, keys and values (1, kv_heads, tokens, head_dim).
        room (`int`): positions the batch will still add (its longest-running row's remaining tokens).

    Returns:
        `Cache`: of `_PaddedLayer`s, length that of the longest row.
    """
    length = max(row[0][0].shape[2] for row in rows)
    layers = []
    for per_row in zip(*rows):  # one layer: [(keys, values) of each row]
        keys = per_row[0][0]
        shape = (len(rows), keys.shape[1], length + room, keys.shape[3])  # (rows, kv_heads, capacity, head_dim)
        buffers = (keys.new_empty(shape), keys.new_empty(shape))
        for index, pair in enumerate(per_row):
            pad = length - pair[0].shape[2]
            for buffer, states in zip(buffers, pair):
                buffer[index, :, :pad] = 0
                buffer[index, :, pad:length] = states[0]
        layers.append(_PaddedLayer(*buffers, length))
    return Cache(layers=layers)


# ----------------------------------------------------------------------------------------------------
# The worker


@dataclass(eq=False)
class Request:
    """One generation submitted to a `BatchDecoder`.

    Args:
        adapter (`str`, *optional*): the LoRA adapter to generate with (None: the base weights).
        prefix_ids (`list[int]`): leading prompt tokens whose KV cache the shared model keeps (the system
            message; empty for none).
        input_ids (`torch.Tensor`): (1, prompt tokens after the prefix).
        max_new_tokens (`int`): most tokens generated.
        temperature (`float`): 0 for greedy.
        stop_ids (`set[int]`): end-of-sequence ids (ends the generation; never sent).
        max_batch (`int`): joins a running batch only while it has fewer rows.
    """

    adapter: str | None
    prefix_ids: list[int]
    input_ids: torch.Tensor
    max_new_tokens: int
    temperature: float
    stop_ids: set[int]
    max_batch: int
    tokens: SimpleQueue = field(default_factory=SimpleQueue)  # token ids, then None (the end) or an exception
    done: threading.Event = field(default_factory=threading.Event)  # the worker will not touch it again
    cancelled: bool = False
    began: float | None = None  # `time.perf_counter()` when its prefill began


@dataclass(eq=False)
class _Row:
    """A request being decoded: its last token is the next step's input for its row."""

    request: Request
    length: int  # tokens in its KV cache
    token: int = -1
    count: int = 0  # tokens picked so far
    kv: KV | None = None  # its own cache, until it joins the batch's
    finished: bool = False


class BatchDecoder:
    """Decodes every running generation of one shared model together, on one thread started on first use.

    Admission is first come, first served: the oldest waiting request joins when the batch has room and uses
    the same adapter (the same weights); one with another adapter waits for the batch to drain, and holds
    back those behind it meanwhile. The worker holds the model's lock for one prefill and one step at a time, so
    other users of the model (`next_token_scores`, adapter loads) get in between; it re-activates its adapter
    every time, in case one of them switched it.

    Args:
        shared: the process-wide model (`backend.llm.SharedModel`): `model`, `lock`, `activate(name)`,
            `prefix_cache(ids)`, `half` (fp16 weight copies or None).
    """

    def __init__(self, shared: Any):
        self._shared = shared
        self._changed = threading.Condition()
        self._waiting: deque[Request] = deque()
        self._rows: list[_Row] = []  # in the order of the batch cache's rows
        self._cache: Cache | None = None
        self._thread: threading.Thread | None = None
        self._closing = False

    def generate(self, request: Request) -> Iterator[int]:
        """Submit `request` and yield its token ids as they come; closing the iterator ends its generation
        (only its own) before `close()` returns.

        Args:
            request (`Request`): a new request.

        Returns:
            `Iterator[int]`: new token ids, stop ids left out.
        """
        with self._changed:
            if self._closing:
                raise RuntimeError("the model's decoder was closed (the process is exiting)")
            self._waiting.append(request)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="concierge-decoder", daemon=True)
                self._thread.start()
                atexit.register(self.close)
            self._changed.notify()
        try:
            while (token := request.tokens.get()) is not None:
                if isinstance(token, BaseException):
                    raise token
                yield token
        finally:
            self._cancel(request)

    def _cancel(self, request: Request) -> None:
        with self._changed:
            if request.done.is_set():
                return
            if request in self._waiting:
                self._waiting.remove(request)
                request.done.set()
                return
            request.cancelled = True
        request.done.wait()  # the worker drops it before its next forward pass

    def close(self) -> None:
        """Stop the worker after its current step; generations still running or waiting fail. Called at exit: a
        daemon thread stopped by the interpreter in the middle of a torch call aborts the process."""
        with self._changed:
            self._closing = True
            self._changed.notify()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._waiting or self._rows or self._closing)
                if self._closing:
                    closed = RuntimeError("the model's decoder was closed (the process is exiting)")
                    self._fail(closed, None)
                    while self._waiting:
                        self._finish(_Row(self._waiting.popleft(), 0), closed)
                    return
                joining = self._admit()
            with self._shared.lock, torch.inference_mode():
                try:
                    self._iterate(joining)
                except Exception as error:  # a bug, out of memory: the running generations fail, serving goes on
                    self._fail(error, joining)

    def _admit(self) -> Request | None:
        """The oldest waiting request, if it may join now (call with `_changed` held)."""
        if not self._waiting:
            return None
        head, running = self._waiting[0], [row for row in self._rows if not row.finished]
        if running and (head.adapter != running[0].request.adapter or len(running) >= head.max_batch):
            return None
        return self._waiting.popleft()

    def _iterate(self, joining: Request | None) -> None:
        """One prefill (of `joining`, if any), then one step of the running batch."""
        running = [row.request.adapter for row in self._rows if not row.finished]
        if joining or running:
            self._shared.activate(joining.adapter if joining else running[0])
        new = [self._prefill(joining)] if joining else []
        self._regroup(new)
        if self._rows:
            self._step()

    def _prefill(self, request: Request) -> _Row:
        request.began = time.perf_counter()
        cache = self._shared.prefix_cache(request.prefix_ids) if request.prefix_ids else DynamicCache()
        logits = last_logits(self._shared.model, request.input_ids, cache)[0]
        row = _Row(request, length=cache.get_seq_length(), kv=[(layer.keys, layer.values) for layer in cache.layers])
        self._take(row, logits)
        return row

    def _regroup(self, new: list[_Row]) -> None:
        """Drop the rows that ended or were cancelled and add `new` ones: one rebuild of the batch cache."""
        for row in self._rows + new:
            if row.request.cancelled and not row.finished:
                self._finish(row)
        if all(not row.finished for row in self._rows) and all(row.finished for row in new):
            return
        rows = [(row, [layer.row(index, row.length) for layer in self._cache.layers])
                for index, row in enumerate(self._rows) if not row.finished]
        rows += [(row, row.kv) for row in new if not row.finished]
        self._rows = [row for row, _ in rows]
        room = max((row.request.max_new_tokens - row.count for row in self._rows), default=0)
        self._cache = padded_cache([kv for _, kv in rows], room) if rows else None
        for row in self._rows:
            row.kv = None

    def _step(self) -> None:
        """One batched forward pass: each row's last token in, each row's next token out."""
        length, device = self._cache.get_seq_length(), self._shared.device
        lengths = torch.tensor([row.length for row in self._rows], device=device)  # (rows,)
        mask = torch.arange(length + 1, device=device) >= (length - lengths)[:, None]  # (rows, length + 1)
        input_ids = torch.tensor([[row.token] for row in self._rows], device=device)  # (rows, 1)
        with decode_threads(self._shared.half, len(self._rows)):
            logits = last_logits(self._shared.model, input_ids, self._cache, attention_mask=mask,
                                 position_ids=lengths[:, None])  # (rows, vocabulary)
        for row, row_logits in zip(self._rows, logits):
            row.length += 1
            self._take(row, row_logits)

    def _take(self, row: _Row, logits: torch.Tensor) -> None:
        """Pick the row's next token and send it, or end the row (a stop id, the token limit)."""
        request = row.request
        row.token = pick_token(logits, request.temperature)
        row.count += 1
        if row.token in request.stop_ids:
            self._finish(row)
            return
        request.tokens.put(row.token)
        if row.count >= request.max_new_tokens:
            self._finish(row)

    def _finish(self, row: _Row, error: Exception | None = None) -> None:
        row.finished = True
        row.request.tokens.put(error)
        row.request.done.set()

    def _fail(self, error: Exception, joining: Request | None) -> None:
        rows = self._rows + ([_Row(joining, 0)] if joining is not None and not joining.done.is_set() else [])
        for row in rows:
            if not row.request.done.is_set():
                self._finish(row, error)
        self._rows, self._cache = [], None
