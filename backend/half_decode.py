"""Half-precision weights for the local model on CPU: fp16 for decode steps, bf16 (optionally) for prompts.

Decoding one token reads every weight of the model once: for SmolLM2-135M in fp32 that is ~540 MB, and on two
cores the step is bound by that read (43 ms a token, 36 ms of it in the linear layers). The same layers with
fp16 weights read half the bytes, and torch's fp16 matrix-vector kernel on this AVX2 CPU is fast where its fp16
*matrix-matrix* kernel is not: a decode step costs 16 ms, a 340-token prefill would cost 3x *more* than in fp32
(docs/results/reasoner.md). So each `nn.Linear` keeps its fp32 weight for prefill and training and gets an fp16
copy used only for inference passes over a few rows (one new token per running answer). fp16 keeps 11
significant bits: greedy output matched fp32 on every token of the prompts tried (tests/unit/test_half_decode.py
on a tiny model; `bench/serving.py` reports agreement with the real one). Prompts are matrix-matrix work, where
bf16 is the fast kernel here: with `prefill_bf16` they use bf16 copies (~2.4x faster, not exact: 92% of the
greedy tokens kept).

The copies belong to one state of the weights: `HalfLinears.stale()` is called whenever an adapter is merged or
unmerged (`backend.llm.SharedModel`), and they are remade on the next pass that uses them.

Passes of one or two rows run on **one** torch thread (`decode_threads`). Two threads meet at ~300 OpenMP
barriers per decode step, and in the serving process other threads have used OpenMP too (the LightGBM ranker, the
embedder): libgomp then manages more threads than there are cores and stops spin-waiting, so every barrier waits
for a sleeping thread. Measured on the 2-core machine, fp16 decode of the tuned reasoner: 2 threads 63 tokens/s
in a bare process but 28 tokens/s in the serving process; 1 thread 45 and 42, and the other core stays free for
the next request's retrieval. From 3 rows on, the work per barrier pays for the second thread (a step of 8 rows:
78 ms on 2 threads, 118 ms on 1; docs/results/reasoner.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

ONE_THREAD_ROWS = 2  # passes on the fp16 copies with at most this many rows run on one thread


class HalfLinears:
    """fp16 copies of a model's linear weights for small inference passes; fp32 everywhere else.

    Args:
        model (`torch.nn.Module`): a causal LM on the CPU, in fp32. Its `nn.Linear` modules are patched in place
            (LoRA layers added later by `peft` wrap these same modules, so merged adapters are seen).
        rows (`int`): the most rows (batch x positions) a pass may have to use the fp16 copies
            (`CONCIERGE_HALF_DECODE_ROWS`): fp16's cost grows with every row, fp32's barely; at 8 they are even.
        prefill_bf16 (`bool`): bigger inference passes over prompts (several positions per row) use bf16
            copies, whose matrix-matrix kernel is ~2.4x faster than fp32's here, at the cost of exactness
            (`CONCIERGE_PREFILL_BF16`; docs/results/reasoner.md has the agreement it keeps). Big batches of
            decode steps stay fp32: decoding in bf16 kept only ~half of the greedy tokens.
    """

    def __init__(self, model: torch.nn.Module, rows: int, prefill_bf16: bool = False):
        self.rows, self.prefill_bf16 = rows, prefill_bf16
        # LoRA's own matrices stay fp32: training changes them every step, and merged they are not called
        self.linears = [module for name, module in model.named_modules()
                        if type(module) is torch.nn.Linear and "lora_" not in name]
        self._copies: dict[torch.dtype, dict[int, torch.Tensor]] = {}
        for linear in self.linears:
            linear.forward = self._forward_of(linear)  # an instance attribute: nn.Module.__call__ uses it

    def stale(self) -> None:
        """The fp32 weights changed (an adapter merged or unmerged): drop the copies."""
        self._copies.clear()

    def _weight(self, linear: torch.nn.Linear, dtype: torch.dtype) -> torch.Tensor:
        if dtype not in self._copies:
            self._copies[dtype] = {id(module): module.weight.detach().to(dtype) for module in self.linears}
        return self._copies[dtype][id(linear)]

    def _forward_of(self, linear: torch.nn.Linear) -> Any:
        full = type(linear).forward.__get__(linear)

        def forward(x: torch.Tensor) -> torch.Tensor:
            if torch.is_grad_enabled() or x.dtype != torch.float32:
                return full(x)
            if x.numel() <= self.rows * linear.in_features:
                dtype = torch.float16  # a decode step (or a tiny prompt)
            elif self.prefill_bf16 and x.dim() > 1 and x.shape[-2] > 1:
                dtype = torch.bfloat16  # a prompt: several positions per row
            else:
                return full(x)  # a big batch of decode steps: fp32 (bf16 would change the answers)
            out = torch.nn.functional.linear(x.to(dtype), self._weight(linear, dtype)).float()
            return out if linear.bias is None else out + linear.bias

        return forward


def agreed_tokens(reference: list[int], tokens: list[int]) -> int:
    """How many of `reference`'s tokens `tokens` reproduces before the first difference: the measure of the
    issue's bar (>= 90% of fp32's greedy tokens), summed over answers by the test and the serving benchmark."""
    return next((i for i, (a, b) in enumerate(zip(reference, tokens)) if a != b), min(len(reference), len(tokens)))


@contextmanager
def decode_threads(half: HalfLinears | None, rows: int) -> Iterator[None]:
    """Run the enclosed pass on one torch thread when it uses the fp16 copies and has at most `ONE_THREAD_ROWS`
    rows; the calling thread's setting is restored after. Without `half`, or for a bigger pass, nothing changes."""
    if half is None or rows > min(half.rows, ONE_THREAD_ROWS):
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
