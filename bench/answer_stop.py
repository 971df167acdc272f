"""Benchmark: GRPO rollouts with and without the ANSWER-line stop (issue 15, item 2).

    concierge train --bundle var/bundles/demo --config training/configs/answer-stop-on.yaml --run-dir RUNS/on
    concierge train --bundle var/bundles/demo --config training/configs/answer-stop-off.yaml --run-dir RUNS/off
    python bench/answer_stop.py RUNS/on RUNS/off [--out docs/results/answer-stop.md]

The two configs differ only in `grpo.stop_at_answer` (the GRPO stage from the shipped adapter,
`models/reasoner-default`; 2 prompts x 4 rollouts a step, at most 160 new tokens; the configs are
copied into each run directory as config.yaml). This reads each run's `metrics.jsonl` (TRL's
per-step completion statistics) and writes, per step and in total, the rollouts' mean and longest
length and the share cut at the length limit (`completions/clipped_ratio`), and the step time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def grpo_rows(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("stage") == "grpo" and "completions/mean_length" in r]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="run directories of `concierge train`")
    parser.add_argument("--out", default="docs/results/answer-stop.md")
    args = parser.parse_args()
    lines = ["# GRPO rollouts with and without the ANSWER-line stop", "",
             f"Written by `python bench/answer_stop.py {' '.join(args.runs)}` (load average "
             f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores when written; see the script's docstring).",
             "", "| run | stop at the ANSWER line | steps | rollouts | mean length, by step | longest | "
             "cut at the limit, by step | cut overall | s/step (median) |",
             "|---|---|---:|---:|---|---:|---|---:|---:|"]
    for run in map(Path, args.runs):
        config = yaml.safe_load((run / "config.yaml").read_text())
        rollouts = config["grpo"]["num_generations"] * config["grpo"].get("prompts_per_step", 1)
        rows = grpo_rows(run)
        if not rows:
            print(f"{run}: no GRPO steps logged", file=sys.stderr)
            continue
        cut = [r["completions/clipped_ratio"] for r in rows]
        seconds = sorted(r["seconds"] for r in rows)
        lines.append(
            f"| `{run.name}` | {config['grpo'].get('stop_at_answer', True)} | {len(rows)} | {rollouts * len(rows)} | "
            + ", ".join(f"{r['completions/mean_length']:.0f}" for r in rows)
            + f" | {max(r['completions/max_length'] for r in rows):.0f} | "
            + ", ".join(f"{c:.0%}" for c in cut)
            + f" | {sum(cut) / len(cut):.1%} | {seconds[len(seconds) // 2]:.1f} |")
    from training.eval_report import write_keeping_notes

    write_keeping_notes(args.out, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
