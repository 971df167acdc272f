"""Benchmark: where a ReRec GRPO step's time goes on this machine (issue 15; docs/results/grpo-profile.md).

    .venv/bin/python bench/grpo_profile.py --from-run var/runs/default-v2 --steps 6 [--threads 2] \
        [--generations 4] [--max-completion 160] [--no-half-rollouts] [--out docs/results]

Continues a finished traces + SFT run (the recipe of the shipped reasoner) with a few GRPO steps, in a
fresh copy of its run directory under var/runs/, so the SFT adapter and the cases are those of the
recipe and nothing of the original run changes. Each optimiser step is timed as a whole and split into
the rollouts (generation of G completions, `generate` inside TRL), the rewards (ReRec reward, RAAE
verifier, advantages) and the rest (the policy's forward and backward passes and the optimiser). TRL's
own per-step metrics give the completion lengths and the share of rollouts cut at the limit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

from training.config import load_config
from training.train import METRICS_FILE, read_metrics, train


class Timers:
    """Wall-clock seconds of named parts, one list per part, appended by the wrapped methods."""

    def __init__(self):
        self.seconds: dict[str, list[float]] = {}

    def wrap(self, owner, name: str, part: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds.setdefault(part, []).append(time.perf_counter() - started)

        setattr(owner, name, timed)


def prepare_run(source: Path, steps: int, threads: int, generations: int, max_completion: int,
                half_rollouts: bool = True) -> Path:
    """A copy of `source` (traces and SFT finished) whose config adds a GRPO stage of `steps` steps."""
    record = json.loads((source / "run.json").read_text())
    if not record.get("results", {}).get("sft", {}).get("finished"):
        raise SystemExit(f"{source} has no finished SFT stage to start GRPO from")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    run_dir = source.parent / f"grpo-profile-{stamp}"
    run_dir.mkdir(parents=True)
    record["results"] = {k: v for k, v in record["results"].items() if k in ("traces", "sft")}
    record["status"] = "running"
    (run_dir / "run.json").write_text(json.dumps(record, indent=2))
    config = yaml.safe_load((source / "config.yaml").read_text())
    config["stages"] = ["traces", "sft", "grpo"]
    config["model"]["torch_threads"] = threads
    config["model"]["half_rollouts"] = half_rollouts
    config["grpo"] = {**(config.get("grpo") or {}), "max_steps": steps, "num_generations": generations,
                      "prompts_per_step": 1, "max_completion_length": max_completion, "beta": 0.0,
                      "loss_type": "dapo", "save_steps": steps, "save_total_limit": 1}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return run_dir


def summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 2), "mean": round(statistics.mean(values), 2),
            "max": round(max(values), 2), "n": len(values)}


def table(result: dict) -> str:
    """The measured parts as a Markdown table (docs/results/grpo-profile.md quotes it)."""
    lines = [f"{result['steps']} GRPO steps, G = {result['generations']}, at most {result['max_completion_length']} "
             f"new tokens, {result['threads']} torch threads, rollouts decoded on "
             f"{'fp16 weight copies' if result.get('half_rollouts') else 'fp32 weights'}; load average before "
             f"{', '.join(f'{x:.2f}' for x in result['machine']['load_average_before'])}, after "
             f"{', '.join(f'{x:.2f}' for x in result['machine']['load_average_after'])}; {result['created']}.", "",
             "| part of a step | median s | mean s | max s |", "|---|---:|---:|---:|"]
    for name, values in result["seconds"].items():
        lines.append(f"| {name.replace('_', ' ')} | {values['median']} | {values['mean']} | {values['max']} |")
    lines += ["", "| step | completion length (mean tokens) | cut at the limit | reward |", "|---:|---:|---:|---:|"]
    for i, (length, clipped, reward) in enumerate(zip(result["completion_length"], result["clipped_ratio"],
                                                      result["reward"]), start=1):
        lines.append(f"| {i} | {length} | {clipped} | {reward if reward is None else round(reward, 3)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-run", type=Path, required=True, help="a finished traces + SFT run directory")
    parser.add_argument("--bundle", type=Path, default=None, help="default: the run's own bundle")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--generations", type=int, default=4, help="rollouts per prompt (G)")
    parser.add_argument("--max-completion", type=int, default=160)
    parser.add_argument("--no-half-rollouts", action="store_true",
                        help="rollouts decode in fp32 (model.half_rollouts: false), as before 2026-12-02")
    parser.add_argument("--out", type=Path, default=Path("docs/results"))
    args = parser.parse_args()

    from training.grpo import ReRecGRPOTrainer

    timers = Timers()
    timers.wrap(ReRecGRPOTrainer, "training_step", "step")
    timers.wrap(ReRecGRPOTrainer, "_generate_and_score_completions", "rollouts_and_rewards")
    timers.wrap(ReRecGRPOTrainer, "_calculate_rewards", "rewards")
    run_dir = prepare_run(args.from_run, args.steps, args.threads, args.generations, args.max_completion,
                          not args.no_half_rollouts)
    record = json.loads((run_dir / "run.json").read_text())
    bundle = args.bundle or Path(record["bundle"]["path"])
    load_before = os.getloadavg()
    started = time.perf_counter()
    train(str(bundle), load_config(run_dir / "config.yaml"), run_dir, resume=True, progress=False)
    wall = time.perf_counter() - started
    rows = [r for r in read_metrics(run_dir / METRICS_FILE) if r.get("stage") == "grpo"]
    step, gen_score, rewards = (timers.seconds.get(k, []) for k in ("step", "rollouts_and_rewards", "rewards"))
    train_part = [s - g for s, g in zip(step, gen_score)]
    generation = [g - r for g, r in zip(gen_score, rewards)]
    result = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "run_dir": str(run_dir),
        "from_run": str(args.from_run), "threads": args.threads, "generations": args.generations,
        "max_completion_length": args.max_completion, "steps": args.steps, "wall_s": round(wall, 1),
        "half_rollouts": not args.no_half_rollouts,
        "machine": {"cpus": os.cpu_count(), "load_average_before": load_before,
                    "load_average_after": os.getloadavg()},
        "seconds": {"step": summary(step), "generation": summary(generation), "rewards": summary(rewards),
                    "forward_backward_optimiser": summary(train_part)},
        "completion_length": [r.get("completions/mean_length") for r in rows],
        "clipped_ratio": [r.get("completions/clipped_ratio") for r in rows],
        "reward": [r.get("reward") for r in rows],
        "trl_step_time": [r.get("step_time") for r in rows],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "grpo-profile.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "grpo-profile-table.md").write_text(table(result))
    print(json.dumps(result, indent=2))
    shutil.rmtree(run_dir / "grpo" / "checkpoints", ignore_errors=True)  # the profile keeps numbers, not weights


if __name__ == "__main__":
    main()
