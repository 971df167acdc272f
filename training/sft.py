"""Supervised warm-start: a LoRA adapter fitted on accepted reasoning traces with TRL's
`SFTTrainer`.

GR2 and FACTS.md agree that RL from a zero-shot small model adds little; SFT on good traces first
gives GRPO completions that parse and sometimes hit. Each accepted trace (`training.traces`) becomes
one conversational prompt-completion example: the *serving* prompt (never the target hint of target
sampling) and the trace as the assistant turn. With that format TRL's `SFTTrainer` (trl 1.16)
computes the loss on the completion tokens only (`completion_only_loss`, the default for
prompt-completion data), which for one assistant turn is the same as `assistant_only_loss`; the
latter is offered as `loss: assistant` (TRL then swaps in a training chat template with `{%
generation %}` markers).

Config (the `sft:` section of a training config; every key optional):

    sft:
      sources: null          # trace sources to train on (reject, target, template); null: all
      accepted max_steps: 60          # optimiser steps (0: `epochs` passes over the traces instead)
      epochs: 1.0
      batch_size: 4          # traces per device step
      grad_accum: 1
      learning_rate: 2.0e-4
      lr_scheduler: constant
      warmup_steps: 0
      max_length: 1024       # tokens of prompt + trace; longer examples are truncated
      loss: completion       # completion | assistant (TRL's assistant_only_loss)
      lora_r: 16
      lora_alpha: 32
      lora_dropout: 0.05
      target_modules: [q_proj, k_proj, v_proj, o_proj]   # or "all-linear"
      bf16: false            # true only on a GPU
      threads: 0             # torch CPU threads (0: leave as is)
      seed: 0
      replay: 0.0            # share of examples that are the base model's own general answers
      replay_tokens: 128     # (training/replay.py; against forgetting what the base model knew)

`run_sft(section, traces_path, base_model_dir, run_dir)` writes the adapter to `run_dir/adapter`
(`adapter_config.json` + `adapter_model.safetensors`, loadable by `backend.llm.chat_model(settings,
adapter=NAME, adapter_path=DIR)`), the per-step log to `run_dir/sft_metrics.jsonl` (`step, loss,
learning_rate, step_s, ...`) and a summary to `run_dir/sft_summary.json`, and returns the adapter
path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from catalog.errors import ConciergeError
from training.config import SFTSection
from training.traces import read_traces


def sft_examples(traces: list[dict]) -> list[dict]:
    """Conversational prompt-completion examples (TRL's format) from trace rows."""
    return [{"prompt": [{"role": m["role"], "content": m["content"]} for m in t["prompt"]],
             "completion": [{"role": "assistant", "content": t["completion"]}]} for t in traces]


def lora_config(section: SFTSection):
    """The PEFT LoRA configuration of the adapter."""
    from peft import LoraConfig

    return LoraConfig(r=section.lora_r, lora_alpha=section.lora_alpha,
                      lora_dropout=section.lora_dropout,
                      target_modules=section.target_modules, task_type="CAUSAL_LM")


def sft_args(section: SFTSection, output_dir: Path):
    """TRL's `SFTConfig` for this section: fp32 unless `bf16` (its autocast is ~13x slower on this
    CPU), no checkpoints."""
    import torch
    from trl import SFTConfig

    steps = (dict(max_steps=section.max_steps) if section.max_steps > 0
             else dict(num_train_epochs=section.epochs))
    return SFTConfig(
        output_dir=str(output_dir), per_device_train_batch_size=section.batch_size,
        gradient_accumulation_steps=section.grad_accum, learning_rate=section.learning_rate,
        lr_scheduler_type=section.lr_scheduler, warmup_steps=section.warmup_steps,
                     max_length=section.max_length,
        completion_only_loss=section.loss == "completion",
                     assistant_only_loss=section.loss == "assistant",
        bf16=section.bf16, fp16=False, use_cpu=not torch.cuda.is_available(), logging_steps=1,
                     save_strategy="no",
        report_to=[], seed=section.seed, data_seed=section.seed, disable_tqdm=True,
                     dataloader_num_workers=0,
        # TRL turns gradient checkpointing on by default: a third more compute per step to save
        # memory that a 135M model with LoRA does not need
        gradient_checkpointing=False, **steps)


class _StepLog:
    """A `TrainerCallback` that times each optimiser step and appends the trainer's logs to a JSONL
    file."""

    def __new__(cls, path: Path, on_step: Callable[[dict], None] | None):
        from transformers import TrainerCallback

        class StepLog(TrainerCallback):
            def __init__(self):
                self.path, self.on_step, self.rows = path, on_step, []
                self.started = self.last = time.perf_counter()
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("")

            def on_step_begin(self, args, state, control, **kwargs):
                self.last = time.perf_counter()

            def on_log(self, args, state, control, logs=None, **kwargs):
                if not logs or "loss" not in logs:
                    return
                row = {"step": state.global_step,
                       "step_s": round(time.perf_counter() - self.last, 3),
                       "elapsed_s": round(time.perf_counter() - self.started, 2)} | {
                    k: v for k, v in logs.items() if isinstance(v, (int, float))}
                self.rows.append(row)
                with self.path.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                if self.on_step:
                    self.on_step(row)

        return StepLog()


def train_sft(examples: list[dict], model: Any, tokenizer: Any, section: SFTSection,
              out_dir: str | Path,
              on_step: Callable[[dict], None] | None = None) -> tuple[Path, list[dict]]:
    """Fit a LoRA adapter on prompt-completion examples and save it.

    Args:
        examples (`list[dict]`): `sft_examples(...)` rows.
        model (`PreTrainedModel`): the base causal LM (fp32; its weights stay frozen), or a
            `PeftModel` whose trainable adapter is trained further.
        tokenizer: its tokenizer, with a chat template.
        section (`SFTSection`): training settings.
        out_dir (`str` or `Path`): the stage's directory; the adapter goes to `out_dir/adapter`.
        on_step (`Callable[[dict], None]`, *optional*): called with each step's log row.

    Returns:
        `tuple[Path, list[dict]]`: the adapter directory and the per-step log rows.
    """
    import torch
    from datasets import Dataset
    from trl import SFTTrainer

    if not examples:
        raise ConciergeError("no accepted traces to train on; run the traces stage (with the "
                             "template teacher as a fallback: traces.modes ending in template)")
    if section.threads > 0:
        torch.set_num_threads(section.threads)
    out_dir = Path(out_dir)
    log = _StepLog(out_dir / "sft_metrics.jsonl", on_step)
    from peft import PeftModel

    trainer = SFTTrainer(model=model, args=sft_args(section, out_dir / "sft-trainer"),
                         train_dataset=Dataset.from_list(examples), processing_class=tokenizer,
                         peft_config=None if isinstance(model, PeftModel) else lora_config(section),
                         callbacks=[log])
    trainer.train()
    adapter_dir = out_dir / "adapter"
    trainer.model.save_pretrained(str(adapter_dir))
    return adapter_dir, log.rows


def run_sft(section: SFTSection, traces_path: str | Path, base_model_dir: str | Path,
            run_dir: str | Path, on_step: Callable[[dict], None] | None = None,
            start_adapter: str | Path | None = None) -> Path:
    """The SFT stage: accepted traces -> LoRA adapter in `run_dir/adapter`.

    Args:
        section (`SFTSection`): the `sft:` section of the training config.
        traces_path (`str` or `Path`): the traces JSONL of the traces stage.
        base_model_dir (`str` or `Path`): the base model (Hugging Face directory).
        run_dir (`str` or `Path`): the run directory.
        on_step (`Callable[[dict], None]`, *optional*): called with each step's log row (progress
            bars).
        start_adapter (`str` or `Path`, *optional*): a LoRA adapter to train further (the config's
            `model.adapter`); its rank and modules, not the section's, then shape the adapter.

    Returns:
        `Path`: the adapter directory.
    """
    import torch
    from transformers import AutoModelForCausalLM

    from backend.llm import load_tokenizer

    traces = read_traces(Path(traces_path), accepted_only=True, sources=section.sources)
    base_model_dir = Path(base_model_dir).resolve()
    examples = sft_examples(traces)
    replay = []
    if section.replay > 0 and examples:
        from training.replay import replay_examples

        n = round(len(examples) * section.replay / (1 - section.replay))
        replay = replay_examples(base_model_dir, n, section.replay_tokens,
                                 Path(run_dir) / "replay.jsonl", seed=section.seed)
    tokenizer = load_tokenizer(base_model_dir)
    model = AutoModelForCausalLM.from_pretrained(base_model_dir, local_files_only=True,
                                                 dtype=torch.float32)
    if start_adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(start_adapter), is_trainable=True)
    started = time.perf_counter()
    adapter_dir, rows = train_sft(examples + replay, model, tokenizer, section, run_dir, on_step)
    seconds = time.perf_counter() - started
    losses = [r["loss"] for r in rows]
    summary = {"traces": len(traces), "by_source": _count(t["source"] for t in traces),
               "replay": len(replay),
               "steps": len(rows),
               "seconds": round(seconds, 2),
               "mean_step_s": round(sum(r["step_s"] for r in rows) / max(len(rows), 1), 3),
               "first_loss": losses[0] if losses else None,
               "last_loss": losses[-1] if losses else None,
               "adapter": str(adapter_dir), "config": asdict(section)}
    (Path(run_dir) / "sft_summary.json").write_text(json.dumps(summary, indent=2))
    return adapter_dir


def run(ctx) -> dict:
    """`concierge train` entry point of the sft stage: an adapter trained on the traces stage's
    traces (a new one, or the run's starting adapter, `model.adapter`, trained further)."""
    traces = ctx.results.get("traces", {}).get("path") or ctx.run_dir / "traces" / "traces.jsonl"
    if not Path(traces).is_file():
        raise ConciergeError(f"the sft stage trains on traces and {traces} does not exist; add the "
                             "traces stage (--stages traces,sft,...) or resume a run that has them")
    out = ctx.run_dir / "sft"
    out.mkdir(parents=True, exist_ok=True)
    return {"adapter": run_sft(ctx.config.sft, traces, ctx.base_model, out,
                               start_adapter=ctx.adapter)}


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out
