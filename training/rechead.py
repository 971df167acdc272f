"""Training the Rechead (RPORec stage 1) and turning it into a reward (RPORec stage 2).

The head (`backend.rechead.RecHead`) scores the candidates of a case from the frozen backbone's
hidden states (see that module). Training:

1. Features, once per case (the backbone is frozen, so they are computed one time and cached): the
   serving prompt alone, and, for cases with an accepted trace, the prompt followed by the trace as
   the assistant turn (RPORec: the chain of thought as auxiliary input). Both variants are training
   examples, so the head ranks with or without a trace.
2. Loss, per case over its candidates, with s = head scores and g = graded relevance:
   - `listnet` (default): cross-entropy between softmax(s) and the target g / sum(g) (ListNet,
   top-1);
   - `bpr`: mean over (relevant i, irrelevant j) pairs of -log sigmoid(s_i - s_j).
3. A held-out share of the cases (`holdout`) measures NDCG@5 of the head's ranking before and after.

Reward (`RecheadReward`, `rechead_reward`): with the completion as auxiliary input, the head's
    expected
gain of the true items, sum_j softmax(s)_j * g_j / max(g), in [0, 1]: high when the trace lets the
head find what the client wants.

Config (the `rechead:` section of a training config; every key optional):

    rechead:
      dim: 64              # size of the user / item space
      epochs: 60
      learning_rate: 3.0e-3
      weight_decay: 1.0e-4
      loss: listnet        # listnet | bpr
      with_traces: true    # add the prompt + accepted trace variant of each case that has one
      holdout: 0.2         # share of cases held out to measure NDCG@5
      limit: null          # at most this many cases
      threads: 0           # torch CPU threads (0: leave as is)
      seed: 0

`run_rechead(section, cases, world, base_model_dir, run_dir, traces_path=None)` writes the head to
`run_dir/rechead` (`rechead.safetensors`, `rechead.json` with the backbone and the measured NDCG)
and the per-epoch loss to `run_dir/rechead_metrics.jsonl`, and returns the head directory.
`run(ctx)` is the `concierge train` stage: it calls `run_rechead` and sets `ctx.rechead` to a
`RecheadHook`, whose `bind(case_prompt, relevance)` gives the GRPO reward's
`(completion, picks) -> float` for one case.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from backend.rechead import RecHead, encode, load_head, rechead_scores, save_head
from catalog.errors import ConciergeError
from training.config import RecheadSection
from training.metrics import ndcg_at_k
from training.traces import default_prompt_fn, messages_to_dicts, read_traces


@dataclass
class Example:
    """Cached features of one case (one variant: with or without a trace)."""

    case_id: str
    user: torch.Tensor  # (2H,)
    items: torch.Tensor  # (N, H)
    item_ids: list[str]
    gains: torch.Tensor  # (N,) graded relevance
    with_trace: bool = False


# ----------------------------------------------------------------------------------------------
# Losses (s: (N,) scores, g: (N,) grades)


def listnet_loss(scores: torch.Tensor, gains: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of softmax(scores) against the grade distribution g / sum(g)."""
    target = gains / gains.sum()
    return -(target * torch.log_softmax(scores, dim=-1)).sum()


def bpr_loss(scores: torch.Tensor, gains: torch.Tensor) -> torch.Tensor:
    """Mean -log sigmoid(s_i - s_j) over pairs with g_i > g_j (BPR, Rendle et al.)."""
    better = gains.unsqueeze(1) > gains.unsqueeze(0)  # (N, N): i better than j
    diffs = scores.unsqueeze(1) - scores.unsqueeze(0)
    return -torch.nn.functional.logsigmoid(diffs[better]).mean()


def expected_gain(scores: torch.Tensor, gains: torch.Tensor) -> float:
    """sum_j softmax(s)_j * g_j / max(g): the reward, in [0, 1] (0 when nothing is relevant)."""
    top = float(gains.max()) if gains.numel() else 0.0
    if top <= 0:
        return 0.0
    return float((torch.softmax(scores, dim=-1) * gains).sum() / top)


# ----------------------------------------------------------------------------------------------
# Features


def case_features(case, messages: list[dict], handles: dict[str, dict], model: Any, tokenizer: Any,
                  trace: str | None = None) -> Example:
    """The cached features of one case (the prompt, plus `trace` as the assistant turn when
    given)."""
    order = list(handles)
    user, items = encode(model, tokenizer, messages, order, trace)
    ids = [handles[h]["item_id"] for h in order]
    gains = torch.tensor([float(case.relevance.get(i, 0)) for i in ids])
    return Example(case.case_id, user, items, ids, gains, trace is not None)


def build_examples(cases: list, world, model: Any, tokenizer: Any,
                   prompt_fn: Callable | None = None, traces: dict[str, str] | None = None,
                   on_case: Callable[[int, int], None] | None = None) -> list[Example]:
    """Features of every case with at least one relevant candidate (and of its trace variant).

    Args:
        cases (`list[TrainingCase]`): the cases.
        world: what `prompt_fn` builds prompts from.
        model, tokenizer: the frozen backbone.
        prompt_fn (`Callable`, *optional*): `(case, world) -> CasePrompt | (messages, handles)`
            (default `training.data.build_case_prompt`).
        traces (`dict[str, str]`, *optional*): case id -> accepted trace.
        on_case (`Callable`, *optional*): progress `(done, total)`.

    Returns:
        `list[Example]`
    """
    prompt_fn = prompt_fn or default_prompt_fn
    out = []
    for index, case in enumerate(cases):
        if any(case.relevance.get(i, 0) > 0 for i in case.candidates):
            built = prompt_fn(case, world)
            messages, handles = built if isinstance(built, tuple) else (built.messages,
                                                                        built.handles)
            messages = messages_to_dicts(messages)
            out.append(case_features(case, messages, handles, model, tokenizer))
            if traces and case.case_id in traces:
                out.append(case_features(case, messages, handles, model, tokenizer,
                                         traces[case.case_id]))
        if on_case:
            on_case(index + 1, len(cases))
    return out


# ----------------------------------------------------------------------------------------------
# Training and measuring


def train_head(examples: list[Example], section: RecheadSection,
               on_epoch: Callable[[dict], None] | None = None,
               head: RecHead | None = None) -> tuple[RecHead, list[dict]]:
    """Fit a head on cached features (one case per optimiser step, shuffled each epoch).

    Returns:
        `tuple[RecHead, list[dict]]`: the head (eval mode) and one row per epoch (`epoch`, `loss`).
    """
    if not examples:
        raise ConciergeError("no training case has a relevant candidate; the Rechead has nothing "
                             "to learn from")
    torch.manual_seed(section.seed)
    head = head or RecHead(examples[0].items.shape[1], section.dim)
    optimiser = torch.optim.AdamW(head.parameters(), lr=section.learning_rate,
                                  weight_decay=section.weight_decay)
    loss_fn = listnet_loss if section.loss == "listnet" else bpr_loss
    rng = random.Random(section.seed)
    order = list(range(len(examples)))
    rows = []
    head.train()
    for epoch in range(1, section.epochs + 1):
        rng.shuffle(order)
        total = 0.0
        for i in order:
            ex = examples[i]
            scores = head(ex.user.unsqueeze(0), ex.items.unsqueeze(0))[0]  # (N,)
            loss = loss_fn(scores, ex.gains)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item()
        rows.append({"epoch": epoch, "loss": total / len(order)})
        if on_epoch:
            on_epoch(rows[-1])
    return head.eval(), rows


@torch.no_grad()
def head_ndcg(head: RecHead, examples: list[Example], k: int = 5) -> float:
    """Mean NDCG@k of the head's ranking over examples (0.0 when there are none)."""
    values = []
    for ex in examples:
        scores = head(ex.user.unsqueeze(0), ex.items.unsqueeze(0))[0]
        ranking = [ex.item_ids[j]
                   for j in torch.argsort(scores, descending=True, stable=True).tolist()]
        gains = {i: int(g) for i, g in zip(ex.item_ids, ex.gains.tolist()) if g > 0}
        values.append(ndcg_at_k(ranking, gains, k))
    return sum(values) / len(values) if values else 0.0


def split_cases(cases: list, holdout: float, seed: int) -> tuple[list, list]:
    """(train, held-out) cases, a seeded random split by case."""
    ids = sorted(c.case_id for c in cases)
    random.Random(seed).shuffle(ids)
    held = set(ids[:int(round(len(ids) * holdout))])
    return [c for c in cases if c.case_id not in held], [c for c in cases if c.case_id in held]


def accepted_traces(path: str | Path | None) -> dict[str, str]:
    """Case id -> completion of the accepted traces in a traces JSONL (empty when there is no
    file)."""
    if path is None or not Path(path).is_file():
        return {}

    return {t["case_id"]: t["completion"] for t in read_traces(Path(path), accepted_only=True)}


def load_backbone(model_dir: str | Path) -> tuple[Any, Any]:
    """The frozen fp32 base model and its tokenizer."""
    from transformers import AutoModelForCausalLM

    from backend.llm import load_tokenizer

    model_dir = Path(model_dir).resolve()
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True,
                                                 dtype=torch.float32).eval()
    return model, load_tokenizer(model_dir)


def run_rechead(section: RecheadSection, cases: list, world, base_model_dir: str | Path,
                run_dir: str | Path,
                traces_path: str | Path | None = None, prompt_fn: Callable | None = None,
                on_case: Callable[[int, int], None] | None = None,
                backbone: tuple | None = None) -> Path:
    """The Rechead stage: features from the frozen base model, a trained head in `run_dir/rechead`.

    Args:
        section (`RecheadSection`): the `rechead:` section of the training config.
        cases (`list[TrainingCase]`): training cases.
        world: what `training.data.build_case_prompt` needs.
        base_model_dir (`str` or `Path`): the backbone.
        run_dir (`str` or `Path`): the run directory.
        traces_path (`str` or `Path`, *optional*): traces JSONL (default `run_dir/traces.jsonl` if
            present).
        prompt_fn (`Callable`, *optional*): overrides `training.data.build_case_prompt`.
        on_case (`Callable`, *optional*): progress over the feature pass `(done, total)`.
        backbone (`tuple`, *optional*): (model, tokenizer) already loaded from `base_model_dir`.

    Returns:
        `Path`: the head directory (`backend.rechead.load_head` reads it).
    """

    if section.threads > 0:
        torch.set_num_threads(section.threads)
    run_dir = Path(run_dir)
    cases = cases[:section.limit] if section.limit else cases
    traces_path = traces_path or run_dir / "traces.jsonl"
    traces = accepted_traces(traces_path) if section.with_traces else {}
    base_model_dir = Path(base_model_dir).resolve()
    model, tokenizer = backbone or load_backbone(base_model_dir)
    train_cases, held_cases = split_cases(cases, section.holdout, section.seed)
    started = time.perf_counter()
    train = build_examples(train_cases, world, model, tokenizer, prompt_fn, traces, on_case)
    held = build_examples(held_cases, world, model, tokenizer, prompt_fn, None)
    features_s = time.perf_counter() - started
    torch.manual_seed(section.seed)
    untrained = RecHead(train[0].items.shape[1] if train else model.config.hidden_size, section.dim)
    before = {"train": head_ndcg(untrained, train), "held_out": head_ndcg(untrained, held)}
    metrics = run_dir / "rechead_metrics.jsonl"
    metrics.parent.mkdir(parents=True, exist_ok=True)
    with metrics.open("w") as f:
        head, rows = train_head(train, section,
                                on_epoch=lambda row: f.write(json.dumps(row) + "\n"),
                                head=untrained)
    after = {"train": head_ndcg(head, train), "held_out": head_ndcg(head, held)}
    meta = {"base_model_dir": str(base_model_dir),
            "features": "last hidden state: user = [last token; mean "
            "request line], item = mean candidate line", "train_examples": len(train),
            "held_out_cases": len(held),
            "with_traces": sum(ex.with_trace for ex in train), "ndcg@5_before": before,
            "ndcg@5_after": after,
            "features_s": round(features_s, 2), "final_loss": rows[-1]["loss"],
            "config": asdict(section)}
    return save_head(head, run_dir / "rechead", meta)


# ----------------------------------------------------------------------------------------------
# The reward


def rechead_reward(head: RecHead, model: Any, tokenizer: Any, messages: list[dict],
                   handles: dict[str, dict],
                   relevance: dict[str, int], completion: str | None = None) -> float:
    """The head's expected gain of the true items given the prompt and (optionally) a reasoning
    trace.

    Args:
        head (`RecHead`): a trained head.
        model, tokenizer: its backbone.
        messages (`list[dict]`): the serving prompt.
        handles (`dict[str, dict]`): handle -> item of the prompt.
        relevance (`dict[str, int]`): graded ground truth by item id.
        completion (`str`, *optional*): the trace to score (auxiliary input).

    Returns:
        `float`: in [0, 1]; 0 when no candidate is relevant.
    """
    order = list(handles)
    scores = rechead_scores(head, model, tokenizer, messages, order, completion)
    gains = torch.tensor([float(relevance.get(handles[h]["item_id"], 0)) for h in order])
    return expected_gain(scores, gains)


class RecheadReward:
    """A reward function in TRL's form, `f(prompts, completions, **columns) -> list[float]`.

    The dataset must carry, per row, `handles` (handle -> item, or handle -> item id) and
    `relevance` (item id -> grade); TRL passes dataset columns to reward functions as keyword lists.

    Args:
        head_dir (`str` or `Path`): a saved head.
        model, tokenizer: its backbone (the base model, frozen; e.g. the policy's reference
        weights).
    """

    def __init__(self, head_dir: str | Path, model: Any, tokenizer: Any):
        self.head, self.meta = load_head(head_dir)
        self.model, self.tokenizer = model, tokenizer
        self.__name__ = "rechead"  # TRL logs rewards under their function's name

    def __call__(self, prompts: list, completions: list, handles: list, relevance: list,
                 **_: Any) -> list[float]:
        out = []
        for prompt, completion, hmap, rel in zip(prompts, completions, handles, relevance):
            text = completion if isinstance(completion, str) else completion[-1]["content"]
            hmap = {h: (v if isinstance(v, dict) else {"item_id": v}) for h, v in hmap.items()}
            messages = prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]
            out.append(rechead_reward(self.head, self.model, self.tokenizer, messages, hmap, rel,
                                      text))
        return out


class RecheadHook:
    """The Rechead reward as the GRPO stage's hook (`training.rewards.RecheadReward`: `(completion,
    picks) -> float`), once bound to a case: `hook.bind(case_prompt, relevance)` returns that
    callable. Calling the hook itself needs the case as keywords: `hook(completion, picks,
    prompt=case_prompt, relevance=...)`.

    Args:
        head_dir (`str` or `Path`): a saved head.
        model, tokenizer: its frozen backbone.
    """

    def __init__(self, head_dir: str | Path, model: Any, tokenizer: Any):
        self.head, self.meta = load_head(head_dir)
        self.model, self.tokenizer = model, tokenizer
        self.head_dir = Path(head_dir)

    def __call__(self, completion: str, picks: list[str] | None = None, *, prompt=None,
                 relevance: dict[str, int] | None = None) -> float:
        if prompt is None or relevance is None:
            raise ConciergeError("the Rechead reward needs the case: call hook.bind(case_prompt, "
                                 "relevance) and use the returned (completion, picks) -> float, or "
                                 "pass prompt= and relevance=")

        return rechead_reward(self.head, self.model, self.tokenizer,
                              messages_to_dicts(prompt.messages),
                              prompt.handles, relevance, completion)

    def bind(self, prompt, relevance: dict[str, int]) -> Callable[[str, list[str]], float]:
        """The reward of one case's completions, `(completion, picks) -> float` in [0, 1]."""
        return lambda completion, picks=None: self(completion, picks, prompt=prompt,
                                                   relevance=relevance)


def run(ctx) -> dict:
    """`concierge train` entry point of the rechead stage: trains the head on the run's cases (with
    the traces stage's accepted traces when there are some) and sets `ctx.rechead` to a
    `RecheadHook`."""
    out = ctx.run_dir / "rechead-stage"
    out.mkdir(parents=True, exist_ok=True)
    traces = ((ctx.results.get("traces") or {}).get("path")
              or ctx.run_dir / "traces" / "traces.jsonl")
    backbone = load_backbone(ctx.base_model)
    head_dir = run_rechead(ctx.config.rechead, ctx.cases, ctx.world, ctx.base_model, out,
                           traces_path=traces, prompt_fn=ctx.prompt, backbone=backbone)
    ctx.rechead = RecheadHook(head_dir, *backbone)
    meta = ctx.rechead.meta
    return {"head": str(head_dir), "ndcg@5_before": meta["ndcg@5_before"],
            "ndcg@5_after": meta["ndcg@5_after"]}
