"""Where GRPO runs stand: steps done, step time, rollouts cut at the token limit, reward, by step.

    python bench/grpo_progress.py RUN_DIR [RUN_DIR ...] --out docs/results/NAME.md [--plot docs/results/NAME.png]

Reads each run's `metrics.jsonl` (one line per optimiser step, written by `concierge train` as it goes, so a
run still in progress can be read) and writes a table per run and, with `--plot`, the reward and the share of
rollouts cut at `max_completion_length` per step (issue 15: a cut share <= 5% at every step). With G rollouts
of P prompts a step, one cut rollout is 1 / (G * P) of the step: at 2 x 4 a single cut reads 12.5%.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

from training.eval_report import write_keeping_notes

CUT_BAR = 0.05  # issue 15: rollouts cut at the limit <= 5% at every step
WINDOW = 10  # steps averaged at the start and end of a run


def step_rows(run: Path) -> list[dict]:
    """The metrics lines of `run` that describe an optimiser step (the last line per step where a resumed run
    wrote one twice)."""
    rows: dict[int, dict] = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        if "step_time" in row and "step" in row:
            rows[int(row["step"])] = row
    return [rows[s] for s in sorted(rows)]


def summary(run: Path) -> dict:
    rows = step_rows(run)
    cut = [float(r.get("completions/clipped_ratio", 0.0)) for r in rows]
    reward = [float(r.get("reward", 0.0)) for r in rows]
    # the reward's consistency term (training/rewards.py): rank-discounted picks the rollout's steps ruled out
    ruled = [float(r["rerec/contradicted"]) for r in rows if "rerec/contradicted" in r]
    return {
        "run": str(run), "steps": len(rows), "last_step": rows[-1]["step"] if rows else 0,
        "median_step_s": round(statistics.median(float(r["step_time"]) for r in rows), 1) if rows else None,
        "mean_length": round(statistics.mean(float(r.get("completions/mean_length", 0)) for r in rows), 1)
        if rows else None,
        "cut_mean": round(statistics.mean(cut), 4) if cut else None,
        "cut_max": max(cut, default=None),
        "steps_over_bar": sum(c > CUT_BAR for c in cut),
        "reward_first": round(statistics.mean(reward[:WINDOW]), 4) if reward else None,
        "reward_last": round(statistics.mean(reward[-WINDOW:]), 4) if reward else None,
        "ruled_first": round(statistics.mean(ruled[:WINDOW]), 4) if ruled else None,
        "ruled_last": round(statistics.mean(ruled[-WINDOW:]), 4) if ruled else None,
        "series": {"step": [r["step"] for r in rows], "reward": reward, "cut": cut},
    }


def plot(summaries: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for s in summaries:
        name = Path(s["run"]).name
        top.plot(s["series"]["step"], s["series"]["reward"], label=name, linewidth=1)
        bottom.plot(s["series"]["step"], [100 * c for c in s["series"]["cut"]], label=name, linewidth=1)
    bottom.axhline(100 * CUT_BAR, color="grey", linestyle="--", linewidth=0.8, label="5% bar")
    top.set_ylabel("reward (mean of the step's rollouts)")
    bottom.set_ylabel("rollouts cut at the limit (%)")
    bottom.set_xlabel("GRPO step")
    top.legend()
    bottom.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _or_dash(value) -> str:
    return "–" if value is None else f"{value}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args()
    summaries = [summary(run) for run in args.runs]
    lines = ["# GRPO runs in progress", "", "    python bench/grpo_progress.py " + " ".join(map(str, args.runs))
             + f" --out {args.out}" + (f" --plot {args.plot}" if args.plot else ""), "",
             f"Load average when read: {os.getloadavg()[0]:.1f}. Step times are as the runs measured them (they "
             "share the machine with whatever else ran).", "",
             "| run | steps logged | last step | median step (s) | mean completion (tokens) | cut share, mean | "
             f"cut share, max | steps over {CUT_BAR:.0%} | reward, first {WINDOW} | reward, last {WINDOW} | "
             f"ruled-out picks, first {WINDOW} | ruled-out picks, last {WINDOW} |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summaries:
        lines.append(f"| {Path(s['run']).name} | {s['steps']} | {s['last_step']} | {s['median_step_s']} | "
                     f"{s['mean_length']} | {s['cut_mean']:.1%} | {s['cut_max']:.1%} | {s['steps_over_bar']} | "
                     f"{s['reward_first']} | {s['reward_last']} | {_or_dash(s['ruled_first'])} | "
                     f"{_or_dash(s['ruled_last'])} |")
    if args.plot:
        plot(summaries, args.plot)
        lines += ["", f"![reward and cut share by step]({args.plot.name})"]
    lines += ["", "Ruled-out picks: the mean over a step's rollouts of the rank-discounted count of picks that the "
              "rollout's own steps had ruled out (`rerec/contradicted`, logged by runs whose reward has the "
              "consistency term; a ruled-out first pick counts 1)."]
    write_keeping_notes(args.out, "\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(summaries, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
