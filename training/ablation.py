"""`python -m training.ablation`: the ReRec ablation of issue 5, end to end, into one report.

    python -m training.ablation --bundle var/bundles/demo-world \\
        --config training/configs/ablation-cpu.yaml --out var/ablation --eval-queries 40 \\
        --probe-limit 20 --jobs 2 --report docs/results/ablation.md

Every variant shares the config file and changes only the keys it names (`VARIANTS`). The work is a
small graph of subprocesses (`concierge train`, `concierge eval`, `concierge probes`), run `--jobs`
at a time as soon as what they need is there:

    train sft ─────┬─> grpo variants (each resumes a copy of the sft run: same adapter,
                   │   same step budget)
    train rechead ─┴─> the +Rechead-reward variant; `rechead@HEAD` (the head ranking alone)
    each model ────> eval (test split, re-ranking protocol, the same seeded queries)
                     and probes

Each task writes its own log (and, while it runs, its pid) under `<out>/logs/` and a file that marks
it done; a rerun skips what is done and waits for what another invocation is still running, so an
interrupted ablation continues where it stopped. The report is written from those files
only: metrics with bootstrap intervals, paired differences on the same queries, probe scores, the
training wall and step times, and whether the claim of the issue holds (computed, not asserted).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml
from tqdm.auto import tqdm

from catalog.commands import run_command
from catalog.errors import ConciergeError
from training.config import config_from_dict, deep_merge, load_config
from training.eval_report import write_keeping_notes
from training.metrics import paired_comparison
from training.train import read_metrics

BASELINES = ("bm25", "retrieval")  # the best non-LLM systems of docs/results/evaluation.md
PROBE_TOLERANCE = 0.05  # relative loss on a probe set the registry's gate allows
METRICS = ("ndcg@5", "ndcg@10", "recall@5", "hit@1")


@dataclass(frozen=True)
class Variant:
    """One row of the ablation.

    Args:
        name (`str`): short id (directory and system names).
        label (`str`): what the report calls it.
        kind (`str`): `base` (the untuned model), `sft` (the shared SFT adapter), `grpo` (trained
            here from the SFT adapter), or `rechead` (the shared Rechead's ranking, no LLM
            decoding).
        overrides (`dict`): config keys this variant changes, e.g. `{"raae": {"enabled": False}}`.
        rechead_reward (`bool`): the GRPO stage gets the shared Rechead as a reward hook.
    """

    name: str
    label: str
    kind: str
    overrides: dict = field(default_factory=dict)
    rechead_reward: bool = False


PLAIN = {"reward": {"qas": 0.0, "pas": 0.0, "format": 0.0, "missing_answer": 0.0},
         "raae": {"enabled": False}, "curriculum": {"enabled": False}}
RANKED_CLAIM = ("zero-shot-ranked", "plain-grpo-ranked", "rerec-gain-ranked")
GAIN = {"ranking": "gain", "format_steps": [2, 3], "consistency": 0.5}
RANKED = {"data": {"order": "ranker"}}
HARD = {"ranker_folds": 5, "hard_share": 0.3, "max_cases": None}
RANKED_COMPONENTS = (
    ("no-raae", "ReRec gain without RAAE", {"raae": {"enabled": False}}),
    ("no-qas", "ReRec gain without QAS", {"reward": {"qas": 0.0}}),
    ("no-pas", "ReRec gain without PAS", {"reward": {"pas": 0.0}}),
    ("no-curriculum", "ReRec gain without curriculum", {"curriculum": {"enabled": False}}),
    ("rerec-rechead", "ReRec gain + Rechead reward", {"reward": {"rechead": 0.1}}),
)
VARIANTS = (
    Variant("zero-shot", "base model, zero-shot", "base"),
    Variant("sft", "SFT only (template traces)", "sft"),
    Variant("plain-grpo", "plain GRPO (NDCG reward only)", "grpo", PLAIN),
    Variant("rerec", "ReRec full", "grpo"),
    Variant("no-raae", "ReRec without RAAE", "grpo", {"raae": {"enabled": False}}),
    Variant("no-qas", "ReRec without QAS", "grpo", {"reward": {"qas": 0.0}}),
    Variant("no-pas", "ReRec without PAS", "grpo", {"reward": {"pas": 0.0}}),
    Variant("no-curriculum", "ReRec without curriculum", "grpo",
            {"curriculum": {"enabled": False}}),
    Variant("rerec-rechead", "ReRec + Rechead reward", "grpo", {"reward": {"rechead": 0.1}},
            rechead_reward=True),
    Variant("rechead", "Rechead ranking alone", "rechead"),
    # ours, after ablation-150-p2.md: the answer charged for ranking what its steps ruled out and
    # for picks beyond the three asked for (training/rewards.py)
    Variant("rerec-consistent", "ReRec + step-answer consistency", "grpo",
            {"reward": {"consistency": 0.5, "extra_pick": 0.05}}),
    # ours, after ablation-150-p3.md: the ranking scored as evaluated (gain over the given order:
    # extra picks priced by what they displace) and the format bonus held to 2-3 steps
    Variant("rerec-gain", "ReRec, gain over the given order, 2-3 steps, consistency", "grpo",
            {"reward": GAIN}),
    # ours, after ablation-150-p4.md: the prompt lists the candidates in the serving ranker's order
    # (best first, and says so) and the gain reward pays only for improving on that order; every
    # row is evaluated by the `ranked-reasoner` system against `retrieval` (the ranker alone)
    Variant("zero-shot-ranked", "base model, zero-shot, ranker's order", "base", RANKED),
    Variant("sft-ranked", "SFT only, ranker's order", "sft", RANKED),
    Variant("plain-grpo-ranked", "plain GRPO, ranker's order", "grpo", {**PLAIN, **RANKED}),
    Variant("rerec-gain-ranked", "ReRec, gain over the ranker's order, 2-3 steps, consistency",
            "grpo", {"reward": GAIN, **RANKED}),
    # ours, after ablation-150-p5.md (ReRec learnt to copy the ranker): a train case in the order
    # of a ranker that never saw it, and 30% of the cases ones where that order's top five are
    # wrong (NDCG@5 < 0.5: 4.8% of the demo's train cases, 11.5% of its test cases)
    Variant("rerec-gain-hard", "ReRec gain, cross-fitted ranker's order, 30% hard cases", "grpo",
            {"reward": GAIN, "data": {**RANKED["data"], **HARD}}),
    # issue 15's components at the same budget, each taken out of (or, Rechead, added to) the ranked
    # ReRec recipe above: the component ablation of the recipe that serves
    *(Variant(f"{name}-ranked", f"{label}, ranker's order", "grpo",
              deep_merge({"reward": GAIN, **RANKED}, change),
              rechead_reward=name == "rerec-rechead")
      for name, label, change in RANKED_COMPONENTS),
    # ours, after ablation-150-replay.md (from the replay SFT start the knowledge probe ends 8%
    # below the base model's): a KL term, beta 0.04, four times the ReRec paper's 0.01, as our
    # learning rate is 20 times its 5e-6. Its reference is the starting SFT adapter: TRL 1.16 keeps
    # a frozen copy of a PEFT model's adapter (PEFT >= 0.20), not the base with adapters off
    Variant("rerec-gain-ranked-kl",
            "ReRec gain, ranker's order, KL to the SFT start (beta 0.04)", "grpo",
            {"reward": GAIN, **RANKED, "grpo": {"beta": 0.04}}),
)


# ----------------------------------------------------------------------------------------------
# Tasks


@dataclass
class Task:
    """One subprocess of the ablation: done when `marker` exists (checked with `is_done`)."""

    name: str
    command: list[str]
    marker: Path
    needs: list[str] = field(default_factory=list)
    # called right before the command starts (e.g. writes the variant's run dir)
    prepare: object = None
    env: dict = field(default_factory=dict)

    def is_done(self) -> bool:
        if self.marker.name == "run.json":  # a run directory: finished, not merely started
            return (self.marker.is_file()
                    and json.loads(self.marker.read_text()).get("status") == "finished")
        return self.marker.is_file()


def cli(*args: str) -> list[str]:
    """A `concierge` command line run with this interpreter."""
    return [sys.executable, "-m", "app.cli", *args]


@dataclass
class Plan:
    """Where everything goes, and the knobs of the run."""

    bundle: Path
    config: Path
    out: Path
    eval_queries: int
    probe_limit: int
    max_new_tokens: int
    seed: int = 0
    eval_concurrency: int = 1  # LLM queries in flight at once (decoded in one batch)

    def run_dir(self, name: str) -> Path:
        return self.out / name

    def eval_dir(self, name: str) -> Path:
        return self.out / "eval" / name

    def probes_file(self, name: str) -> Path:
        return self.out / "probes" / f"{name}.json"

    def system(self, variant: Variant) -> str | None:
        """The evaluation system spec of a variant."""
        if variant.kind == "rechead":
            return f"rechead@{self.rechead_head()}"
        kind = "ranked-reasoner" if ranked(variant) else "reasoner"
        return kind if variant.kind == "base" else f"{kind}@{self.adapter(variant)}"

    def adapter(self, variant: Variant) -> Path:
        """The LoRA adapter of an `sft` or `grpo` variant (every `sft` row is the shared SFT
        run)."""
        return self.run_dir(variant.name if variant.kind == "grpo" else "sft") / "adapter"

    def probe_name(self, variant: Variant) -> str:
        """Whose probe scores a variant has: the base model's (zero-shot), the shared SFT
        adapter's, or its own GRPO adapter's."""
        return {"base": "zero-shot", "rechead": "zero-shot", "sft": "sft"}.get(variant.kind,
                                                                             variant.name)

    def probe_model(self, variant: Variant) -> str:
        """What `concierge probes` loads for a variant (the Rechead's backbone is the frozen base
        model)."""
        return "base" if variant.kind in ("base", "rechead") else str(self.adapter(variant))

    def rechead_head(self) -> Path:
        record = self.run_dir("rechead") / "run.json"
        if record.is_file():
            head = json.loads(record.read_text()).get("results", {}).get("rechead", {}).get("head")
            if head:
                return Path(head)
        return self.run_dir("rechead") / "rechead-stage" / "rechead"


def ranked(variant: Variant) -> bool:
    """The variant's prompt lists the candidates in the serving ranker's order."""
    return variant.overrides.get("data", {}).get("order") == "ranker"


def servable(variant: Variant) -> bool:
    """An LLM variant whose prompt the serving pipeline builds (the candidates shuffled): one the
    whole-catalogue row may serve."""
    return variant.kind in ("base", "sft", "grpo") and not ranked(variant)


def seed_variant_run(plan: Plan, variant: Variant) -> None:
    """Write the variant's run directory so that `concierge train --resume` skips the shared stages.

    The run's config is the ablation config with the variant's overrides; its run.json carries the
    results of the shared traces and sft (and rechead) stages, so the grpo stage starts from the
    shared SFT adapter, which every GRPO variant then trains for the same number of steps.
    """
    # an interrupted grpo stage's checkpoints stay for --resume
    run_dir = plan.run_dir(variant.name)
    sft = json.loads((plan.run_dir("sft") / "run.json").read_text())["results"]
    results = {"traces": sft["traces"], "sft": sft["sft"]}
    stages = ["traces", "sft"]
    if variant.rechead_reward:
        shared = json.loads((plan.run_dir("rechead") / "run.json").read_text())
        results["rechead"] = shared["results"]["rechead"]
        stages.append("rechead")
    raw = deep_merge(load_config(plan.config).to_dict(),
                     {**variant.overrides, "stages": [*stages, "grpo"]})
    config = config_from_dict(raw, f"ablation variant {variant.name}")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    ablation = {"variant": variant.name, "overrides": variant.overrides}
    (run_dir / "run.json").write_text(json.dumps({"results": results, "ablation": ablation},
                                                 indent=2))


def build_tasks(plan: Plan, variants: tuple[Variant, ...] = VARIANTS) -> list[Task]:
    """The task graph of the ablation (see the module docstring)."""
    bundle, config = str(plan.bundle), str(plan.config)
    answer_length = {"CONCIERGE_MAX_NEW_TOKENS": str(plan.max_new_tokens)}
    tasks = [
        Task("train sft", cli("train", "--bundle", bundle, "--config", config, "--stages",
                              "traces,sft", "--run-dir", str(plan.run_dir("sft")), "--quiet"),
             plan.run_dir("sft") / "run.json"),
    ]
    if any(v.kind == "rechead" or v.rechead_reward for v in variants):
        rechead_dir = str(plan.run_dir("rechead"))
        tasks.append(Task("train rechead", cli("train", "--bundle", bundle, "--config", config,
                                               "--stages", "traces,rechead",
                                               "--run-dir", rechead_dir, "--quiet"),
                          plan.run_dir("rechead") / "run.json"))
    tasks.append(Task("eval baselines", cli("eval", bundle, "--split", "test", "--protocol",
                                            "rerank",
                                            "--systems", ",".join(BASELINES), "--limit",
                                            str(plan.eval_queries),
                                            "--seed", str(plan.seed), "--out",
                                            str(plan.eval_dir("baselines")),
                                            "--threads", "1", "--quiet"),
                      plan.eval_dir("baselines") / "results.json"))
    for v in variants:
        needs = {"base": [], "sft": ["train sft"], "rechead": ["train rechead"]}.get(v.kind)
        if v.kind == "grpo":
            needs = [f"train {v.name}"]
            tasks.append(Task(f"train {v.name}", cli("train", "--bundle", bundle, "--resume",
                                                     "--run-dir",
                                                     str(plan.run_dir(v.name)), "--quiet"),
                              plan.run_dir(v.name) / "run.json",
                              needs=["train sft", *(["train rechead"] if v.rechead_reward else [])],
                              prepare=lambda v=v: seed_variant_run(plan, v)))
        tasks.append(Task(f"eval {v.name}", cli("eval", bundle, "--split", "test", "--protocol",
                                                "rerank", "--systems", f"<system:{v.name}>",
                                                "--llm-limit", str(plan.eval_queries), "--seed",
                                                str(plan.seed),
                                                "--out", str(plan.eval_dir(v.name)), "--threads",
                                                "1", "--concurrency", str(plan.eval_concurrency),
                                                "--quiet"),
                          plan.eval_dir(v.name) / "results.json", needs=list(needs),
                          env=answer_length))
        probes = plan.probe_name(v)  # one probe run per model (a ranked row shares its model's)
        if v.kind != "rechead" and f"probes {probes}" not in {t.name for t in tasks}:
            tasks.append(Task(f"probes {probes}", cli("probes", plan.probe_model(v), "--limit",
                                                      str(plan.probe_limit),
                                                      "--out", str(plan.probes_file(probes)),
                                                      "--quiet"),
                              plan.probes_file(probes), needs=list(needs)))
    llm_evals = [f"eval {v.name}" for v in variants if v.kind in ("base", "sft", "grpo")]
    if not any(servable(v) for v in variants):
        return tasks  # the whole-catalogue row serves a shuffled-prompt variant (`best_variant`)
    tasks.append(Task("eval full-catalogue", cli("eval", bundle, "--split", "test", "--protocol",
                                                 "full",
                                                 "--systems",
                                                 ",".join(["<best-pipeline>", *BASELINES]),
                                                 "--limit", str(plan.eval_queries), "--llm-limit",
                                                 str(plan.eval_queries),
                                                 "--seed", str(plan.seed), "--out",
                                                 str(plan.eval_dir("full-catalogue")),
                                                 "--threads", "1", "--concurrency",
                                                 str(plan.eval_concurrency), "--quiet"),
                      plan.eval_dir("full-catalogue") / "results.json", needs=llm_evals,
                      env=answer_length))
    return tasks


def best_variant(plan: Plan) -> Variant:
    """The LLM variant with the highest NDCG@5 on the re-ranking protocol (the first listed on a
    tie); not a ranked one, whose prompt the serving pipeline does not build (it lists the
    candidates shuffled)."""
    scored = []
    for v in VARIANTS:
        report = _load(plan.eval_dir(v.name) / "results.json")
        if servable(v) and report:
            result = next(iter(report["results"]["rerank"].values()))
            if "metrics" in result:
                scored.append((result["metrics"]["ndcg@5"]["mean"], -VARIANTS.index(v), v))
    if not scored:
        raise ConciergeError("no LLM variant has a re-ranking evaluation to pick the best one from")
    return max(scored, key=lambda t: t[:2])[2]


def pipeline_system(plan: Plan, v: Variant) -> str:
    """The whole serving pipeline answering with the variant's model."""
    return "pipeline" if v.kind == "base" else f"pipeline@{plan.adapter(v)}"


def resolve_command(plan: Plan, task: Task) -> list[str]:
    """The command with its late-bound parts filled in (`<system:NAME>`: the Rechead's directory is
    known only after its run)."""
    by_name = {v.name: v for v in VARIANTS}
    out = []
    for part in task.command:
        if part.startswith("<system:"):
            part = plan.system(by_name[part[len("<system:"):-1]])
        elif "<best-pipeline>" in part:
            part = part.replace("<best-pipeline>", pipeline_system(plan, best_variant(plan)))
        out.append(part)
    return out


def run_tasks(plan: Plan, tasks: list[Task], jobs: int, progress: bool = True) -> dict[str, str]:
    """Run the tasks, at most `jobs` at once, each as soon as the tasks it needs are done.

    Returns:
        `dict[str, str]`: task name -> `done` (now or earlier), `failed (exit N, see LOG)` or
        `skipped (...)`.
    """
    logs = plan.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    status = {t.name: "done" for t in tasks if t.is_done()}
    pending = [t for t in tasks if t.name not in status]
    running: dict[str, tuple[subprocess.Popen, Task, float, object]] = {}
    bar = tqdm(total=len(tasks), initial=len(status), desc="ablation", unit="task",
               disable=not progress, dynamic_ncols=True)
    while pending or running:
        for name, (proc, task, started, log) in list(running.items()):
            if proc.poll() is None:
                continue
            log.close()
            del running[name]
            (logs / (safe(name) + ".pid")).unlink(missing_ok=True)
            minutes = (time.perf_counter() - started) / 60
            if proc.returncode == 0 and task.is_done():
                status[name] = "done"
            else:
                log_file = logs / (safe(name) + ".log")
                status[name] = f"failed (exit {proc.returncode}, see {log_file})"
            bar.update(1)
            bar.write(f"{name}: {status[name]} after {minutes:.1f} min")
        elsewhere = {t.name for t in pending if running_elsewhere(logs / (safe(t.name) + ".pid"))}
        for task in list(pending):
            if task.name in elsewhere:
                continue  # another invocation runs it: wait, then take its result
            if task.is_done():
                status[task.name] = "done"
                pending.remove(task)
                bar.update(1)
                continue
            broken = [n for n in task.needs if status.get(n, "").startswith(("failed", "skipped"))]
            if broken:
                status[task.name] = f"skipped ({', '.join(broken)} did not finish)"
                pending.remove(task)
                bar.update(1)
                continue
            if len(running) + len(elsewhere) >= jobs or any(status.get(n) != "done"
                                                            for n in task.needs):
                continue
            pending.remove(task)
            if task.prepare is not None:
                task.prepare()
            log = (logs / (safe(task.name) + ".log")).open("w")
            proc = subprocess.Popen(resolve_command(plan, task), stdout=log,
                                    stderr=subprocess.STDOUT, env={**os.environ, **task.env})
            (logs / (safe(task.name) + ".pid")).write_text(str(proc.pid))
            running[task.name] = (proc, task, time.perf_counter(), log)
            bar.set_postfix_str(", ".join(running))
        time.sleep(2)
    bar.close()
    return status


def safe(name: str) -> str:
    return name.replace(" ", "-")


def running_elsewhere(pid_file: Path) -> bool:
    """Whether the process named in `pid_file` (a task started by another invocation) is still
    alive."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    # an exited child that nobody waited for yet is a zombie, not alive
    stat = Path(f"/proc/{pid}/stat")
    if stat.is_file() and stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z":
        return False
    return pid != os.getpid()


# ----------------------------------------------------------------------------------------------
# Report


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def variant_rows(plan: Plan) -> dict[str, dict]:
    """Per variant: its evaluation result (re-ranking protocol), probe scores and training times."""
    rows = {}
    for v in VARIANTS:
        report = _load(plan.eval_dir(v.name) / "results.json")
        result = None
        if report:
            result = next(iter(report["results"]["rerank"].values()))
        probes = _load(plan.probes_file(plan.probe_name(v)))
        rows[v.name] = {"variant": v, "result": result, "probes": probes,
                        "training": training_times(plan, v)}
    return rows


def training_times(plan: Plan, v: Variant) -> dict:
    """Wall time of the stages this variant trained (its own GRPO and the shared ones it builds
    on)."""
    def stage_seconds(run: str, stage: str) -> float | None:
        record = _load(plan.run_dir(run) / "run.json") or {}
        return (record.get("results", {}).get(stage) or {}).get("seconds")

    out: dict = {}
    if v.kind in ("sft", "grpo"):
        sft = _load(plan.run_dir("sft") / "sft" / "sft_summary.json") or {}
        out["sft"] = {"seconds": sft.get("seconds"), "steps": sft.get("steps"),
                      "step_s": sft.get("mean_step_s")}
    if v.kind == "rechead" or v.rechead_reward:
        out["rechead"] = {"seconds": stage_seconds("rechead", "rechead")}
    if v.kind == "grpo":
        steps = [r for r in read_metrics(plan.run_dir(v.name) / "metrics.jsonl")
                 if r.get("stage") == "grpo"]
        seconds = [r["seconds"] for r in steps if "seconds" in r]
        rewards = [r["reward"] for r in steps if "reward" in r]
        lengths = [r["completions/mean_length"] for r in steps if "completions/mean_length" in r]
        clipped = [r["completions/clipped_ratio"] for r in steps
                   if "completions/clipped_ratio" in r]
        out["grpo"] = {"seconds": stage_seconds(v.name, "grpo"), "steps": len(steps),
                       "step_s": round(statistics.median(seconds), 1) if seconds else None,
                       "reward_first": rewards[0] if rewards else None,
                       "reward_last": rewards[-1] if rewards else None,
                       "reward_mean": round(statistics.fmean(rewards), 4) if rewards else None,
                       "length_first": lengths[0] if lengths else None,
                       "length_last": lengths[-1] if lengths else None,
                       "clipped_mean": round(statistics.fmean(clipped), 3) if clipped else None}
    return out


def per_query(result: dict, metric: str) -> dict[str, float]:
    return {q["query_id"]: q["scores"][metric] for q in result["per_query"]}


def contradicted(result: dict) -> tuple[int, int, float] | None:
    """(answers whose first pick their own steps ruled out, answers with an ANSWER line naming
    candidates, their mean number of reasoning steps), from the completions kept in the notes;
    None when no completion was kept."""
    from backend.reasoner import parse_answer
    from backend.verify import ruled_out

    found = ruled = steps = 0
    for q in result["per_query"]:
        text = (q.get("notes") or {}).get("completion")
        if not text:
            continue
        handles = dict.fromkeys(re.findall(r"\b([A-Z][1-9])\b", text), {})
        parsed = parse_answer(text, handles)
        if parsed.picks:
            found += 1
            ruled += parsed.picks[0] in ruled_out(parsed.steps, handles)
            steps += len(parsed.steps)
    return (ruled, found, steps / found) if found else None


def answered(result: dict) -> tuple[int, int] | None:
    """(answers that named valid candidates, queries the model was asked); None for a non-LLM
    system."""
    notes = [q.get("notes") or {} for q in result["per_query"]]
    asked = [n for n in notes if "picks" in n and not n.get("abstained")]
    if not asked or "answer_found" not in asked[0]:
        return None
    return sum(1 for n in asked if n["picks"] > 0), len(asked)


def _ci(interval: dict) -> str:
    return f"{interval['mean']:.3f} [{interval['low']:.3f}, {interval['high']:.3f}]"


def compare(rows: dict, a: str, b: str, metric: str = "ndcg@5", seed: int = 0):
    """Paired difference a - b on the queries both were scored on (None when either is missing)."""
    ra, rb = rows.get(a, {}).get("result"), rows.get(b, {}).get("result")
    if not ra or not rb or "per_query" not in ra or "per_query" not in rb:
        return None
    return paired_comparison(per_query(ra, metric), per_query(rb, metric), a, b, metric, seed=seed)


def claim_verdict(rows: dict, names: tuple[str, str, str] = ("zero-shot", "plain-grpo", "rerec")
                  ) -> list[str]:
    """The issue's claim, checked on the numbers: ReRec full > plain GRPO > zero-shot, the intervals
    of both apart from zero-shot's, and probes within 5% of the base model. `names`: the rows
    playing zero-shot, plain GRPO and ReRec full (the ranked run: their `-ranked` variants)."""
    lines = []

    def interval(name: str) -> dict | None:
        r = rows.get(name, {}).get("result")
        return r["metrics"]["ndcg@5"] if r and "metrics" in r else None

    zs, plain, full = (interval(name) for name in names)
    if not (zs and plain and full):
        return [f"- The claim cannot be checked: an evaluation of {', '.join(names)} is missing."]
    z, p, f = names
    checks = [
        (f"{f} above {p} (NDCG@5 mean)", full["mean"] > plain["mean"]),
        (f"{p} above {z} (NDCG@5 mean)", plain["mean"] > zs["mean"]),
        (f"{p}'s interval clear of {z}'s", plain["low"] > zs["high"]),
        (f"{f}'s interval clear of {z}'s", full["low"] > zs["high"]),
    ]
    base = rows[names[0]]["probes"]
    for name in names[1:]:
        probes = rows[name]["probes"]
        ok = bool(base and probes) and all(probes[key] >= base[key] * (1 - PROBE_TOLERANCE)
                                           for key in ("instruction_following",
                                                       "knowledge_contains"))
        measured = "" if base and probes else " (not measured)"
        checks.append((f"{name} probes within {PROBE_TOLERANCE:.0%} of the base model{measured}",
                       ok))
    for text, ok in checks:
        lines.append(f"- {text}: **{'yes' if ok else 'no'}**")
    held = all(ok for _, ok in checks)
    lines.append(f"- The claim {'**holds**' if held else '**does not hold**'} on this run.")
    return lines


def against_ranker(plan: Plan, rows: dict, baselines: dict | None) -> list[str]:
    """Each ranked variant minus the serving ranker alone (`retrieval`) on the same candidates: what
    the LLM adds to the order it was shown."""
    ranker = (baselines or {}).get("results", {}).get("rerank", {}).get("retrieval")
    if not ranker or "per_query" not in ranker:
        return []
    lines = []
    for v in VARIANTS:
        result = rows.get(v.name, {}).get("result")
        if ranked(v) and result and "per_query" in result:
            c = paired_comparison(per_query(result, "ndcg@5"), per_query(ranker, "ndcg@5"),
                                  v.name, "retrieval", "ndcg@5", seed=plan.seed)
            d = c.diff.to_dict()
            lines.append(f"| {v.name} − retrieval (n={c.n}) | {d['mean']:+.3f} "
                         f"[{d['low']:+.3f}, {d['high']:+.3f}] | {c.p_value:.3f} |")
    return lines


def full_catalogue_section(plan: Plan) -> list[str]:
    """The best variant's whole serving pipeline against the non-LLM baselines on the whole
    catalogue."""
    report = _load(plan.eval_dir("full-catalogue") / "results.json")
    if not report:
        return []
    systems = report["results"]["full"]
    lines = ["## Whole-catalogue protocol: the best variant's pipeline against the non-LLM "
             "baselines", "",
             f"Same {plan.eval_queries} test queries; the pipeline retrieves its own candidates "
             "from the whole catalogue and answers with the model of the variant with the best "
             "re-ranking NDCG@5.",
             "",
             "| system | NDCG@5 [95% CI] | NDCG@10 [95% CI] | Recall@5 | Hit@1 |",
             "| --- | --- | --- | ---: | ---: |"]
    for spec, r in systems.items():
        if "metrics" in r:
            m = r["metrics"]
            lines.append(f"| {spec} | {_ci(m['ndcg@5'])} | {_ci(m['ndcg@10'])} | "
                         f"{m['recall@5']['mean']:.3f} | {m['hit@1']['mean']:.3f} |")
        else:
            lines.append(f"| {spec} | {r.get('error') or r.get('skipped')} ||||")
    pipeline = next((spec for spec in systems if spec.startswith("pipeline")), None)
    if pipeline and "per_query" in systems[pipeline]:
        lines += ["", "| comparison (NDCG@5) | difference [95% CI] | p (sign flip) |",
                  "| --- | --- | ---: |"]
        for spec in systems:
            if spec != pipeline and "per_query" in systems[spec]:
                c = paired_comparison(per_query(systems[pipeline], "ndcg@5"),
                                      per_query(systems[spec], "ndcg@5"),
                                      pipeline, spec, "ndcg@5", seed=plan.seed)
                d = c.diff.to_dict()
                lines.append(f"| pipeline − {spec} (n={c.n}) | {d['mean']:+.3f} "
                             f"[{d['low']:+.3f}, {d['high']:+.3f}] | {c.p_value:.3f} |")
    return lines + [""]


def report_markdown(plan: Plan, rows: dict, status: dict, wall_seconds: float | None) -> str:
    """docs/results/ablation.md."""
    config = load_config(plan.config)
    baselines = _load(plan.eval_dir("baselines") / "results.json")
    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    g = config.grpo
    # a shared SFT run (--sft-run) has its own step count
    sft = _load(plan.run_dir("sft") / "sft" / "sft_summary.json") or {}
    lines = [
        "# ReRec ablation on the demo world (CPU, SmolLM2-135M-Instruct)", "",
        f"Produced by `python -m training.ablation` ({created}) with `{plan.config}`: demo world "
        "test split, re-ranking protocol (20 fixed candidates per query), the same "
        f"{plan.eval_queries} seeded queries for every system, greedy answers of at most "
        f"{plan.max_new_tokens} new tokens, 95% bootstrap intervals (1000 resamples); probes: the "
        f"first {plan.probe_limit} of each set. Every GRPO variant starts from the same SFT "
        f"adapter ({sft.get('steps', config.sft.max_steps)} SFT steps on template-teacher traces) "
        "and runs "
        f"{g.max_steps} GRPO steps of {g.num_generations} rollouts x {g.prompts_per_step} prompt, "
        f"at most {g.max_completion_length} new tokens, lr {g.learning_rate}; "
        f"{config.model.torch_threads} torch thread(s) per process on this 2-core machine. Nothing "
        "was tuned on the test split.", "",
        "## Results", "",
        "| variant | NDCG@5 [95% CI] | NDCG@10 [95% CI] | Recall@5 | Hit@1 | valid answers | "
        "first pick ruled out by its steps | steps an answer | instr. following | "
        "knowledge (contains) | train wall "
        "| GRPO s/step |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, row in rows.items():
        v, r, p, t = row["variant"], row["result"], row["probes"], row["training"]
        if not r or "metrics" not in r:
            lines.append(f"| {v.label} | not evaluated ({status.get('eval ' + name, 'not run')}) "
                         "||||||||||")
            continue
        m = r["metrics"]
        ans, ruled = answered(r), contradicted(r)
        wall = sum((s.get("seconds") or 0) for s in t.values())
        probes = (f"{p['instruction_following']:.3f} | {p['knowledge_contains']:.3f}" if p
                  else "– | –")
        lines.append(
            f"| {v.label} | {_ci(m['ndcg@5'])} | {_ci(m['ndcg@10'])} | {m['recall@5']['mean']:.3f} "
            f"| {m['hit@1']['mean']:.3f} | {f'{ans[0]}/{ans[1]}' if ans else '–'} | "
            f"{f'{ruled[0]}/{ruled[1]} | {ruled[2]:.1f}' if ruled else '– | –'} | {probes} | "
            f"{f'{wall / 60:.1f} min' if wall else '–'} | {t.get('grpo', {}).get('step_s') or '–'} "
            "|")
    if baselines:
        for spec, r in baselines["results"]["rerank"].items():
            if "metrics" in r:
                m = r["metrics"]
                lines.append(f"| {spec} (non-LLM baseline) | {_ci(m['ndcg@5'])} | "
                             f"{_ci(m['ndcg@10'])} | {m['recall@5']['mean']:.3f} | "
                             f"{m['hit@1']['mean']:.3f} | – | – | – | – | – | – | – |")
    lines += ["",
              "Train wall: the stages the variant needed (shared SFT / Rechead included). Valid "
              "answers: answers that named at least one valid candidate, of the queries the model "
              "was asked (the rest keep the given order: shuffled, or the ranker's in the ranked "
              "rows). First pick ruled out: answers whose first pick a step of the same answer had "
              "ruled out (`backend.verify.ruled_out`), of the answers with an ANSWER line; steps an"
              " answer: their mean number of reasoning steps (the prompt asks for 2 or 3). The "
              "Rechead row's probes are the base model's (its backbone is frozen).",
              "", "## Paired differences (NDCG@5, same queries)", "",
              "| comparison | difference [95% CI] | p (sign flip) |", "| --- | --- | ---: |"]
    pairs = [("sft", "zero-shot"), ("plain-grpo", "zero-shot"), ("rerec", "zero-shot"),
             ("rerec", "plain-grpo"),
             ("rerec", "sft"), ("no-raae", "rerec"), ("no-qas", "rerec"), ("no-pas", "rerec"),
             ("no-curriculum", "rerec"), ("rerec-rechead", "rerec"), ("rechead", "zero-shot"),
             ("rerec-consistent", "rerec"), ("rerec-consistent", "sft"),
             ("rerec-consistent", "plain-grpo"), ("rerec-consistent", "zero-shot"),
             ("rerec-gain", "rerec"), ("rerec-gain", "sft"), ("rerec-gain", "plain-grpo"),
             ("rerec-gain", "zero-shot"), ("sft-ranked", "zero-shot-ranked"),
             ("plain-grpo-ranked", "zero-shot-ranked"), ("rerec-gain-ranked", "zero-shot-ranked"),
             ("rerec-gain-ranked", "plain-grpo-ranked"), ("rerec-gain-ranked", "sft-ranked"),
             ("zero-shot-ranked", "zero-shot"), ("rerec-gain-ranked", "rerec-gain"),
             ("rerec-gain-hard", "rerec-gain-ranked"), ("rerec-gain-hard", "plain-grpo-ranked"),
             ("rerec-gain-hard", "zero-shot-ranked"),
             *((f"{name}-ranked", "rerec-gain-ranked") for name, _, _ in RANKED_COMPONENTS),
             ("rerec-gain-ranked-kl", "rerec-gain-ranked")]
    for a, b in pairs:
        c = compare(rows, a, b)
        if c is not None:
            d = c.diff.to_dict()
            lines.append(f"| {a} − {b} (n={c.n}) | {d['mean']:+.3f} [{d['low']:+.3f}, "
                         f"{d['high']:+.3f}] | {c.p_value:.3f} |")
    lines += against_ranker(plan, rows, baselines)
    lines += ["", "## Training signal of the GRPO variants", "",
              "| variant | steps | GRPO wall | s/step (median) | reward, first step | reward, last "
              "step | reward, mean | rollout tokens, first → last step | rollouts cut at the limit "
              "|",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, row in rows.items():
        t = row["training"].get("grpo")
        if t and t.get("steps"):
            length = (f"{t['length_first']:.0f} → {t['length_last']:.0f}"
                      if t.get("length_first") is not None else "–")
            clipped = f"{t['clipped_mean']:.0%}" if t.get("clipped_mean") is not None else "–"
            lines.append(f"| {row['variant'].label} | {t['steps']} | "
                         f"{(t['seconds'] or 0) / 60:.1f} min | {t['step_s']} | "
                         f"{t['reward_first']:.3f} | {t['reward_last']:.3f} | "
                         f"{t['reward_mean']:.3f} | {length} | {clipped} |")
    lines += ["",
              "Rewards are not comparable across variants whose reward differs (plain GRPO has no "
              "format, QAS or PAS terms and no missing-answer penalty).", ""]
    lines += full_catalogue_section(plan)
    lines += ["## The claim of issue 5", ""]
    lines += claim_verdict(rows)
    if any(rows.get(name, {}).get("result") for name in RANKED_CLAIM):
        lines += ["", "In the ranker's order (`ranked-reasoner`):", ""]
        lines += claim_verdict(rows, RANKED_CLAIM)
    failed = {k: v for k, v in status.items() if v != "done"}
    if failed:
        lines += ["", "## Tasks that did not finish", ""]
        lines += [f"- {k}: {v}" for k, v in failed.items()]
    if wall_seconds:
        lines += ["", f"Wall time of this invocation of the harness: {wall_seconds / 60:.1f} min."]
    lines += ["", f"Raw files: `{plan.out}` (runs, eval/*/results.json, probes/*.json, logs).", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# CLI


def add_ablation_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--bundle", default="var/bundles/demo-world",
                        help="bundle with train and test queries")
    parser.add_argument("--config",
                        default=str(Path(__file__).parent / "configs" / "ablation-cpu.yaml"),
                        help="the shared training config (default "
                             "training/configs/ablation-cpu.yaml)")
    parser.add_argument("--out", default="var/ablation",
                        help="runs, evaluations, probes and logs go here")
    parser.add_argument("--eval-queries", type=int, default=40,
                        help="test queries per system (a seeded subset)")
    parser.add_argument("--probe-limit", type=int, default=20, help="probes of each set per model")
    parser.add_argument("--max-new-tokens", type=int, default=160,
                        help="answer length at evaluation (the template traces run up to 147 "
                             "tokens)")
    parser.add_argument("--eval-concurrency", type=int, default=8,
                        help="test queries of an LLM variant in flight at once, decoded in one "
                             "batch (default 8)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="tasks at once (each uses one torch thread)")
    parser.add_argument("--variants", default=None,
                        help="comma-separated variant names to run (default: all of "
                             + ", ".join(v.name for v in VARIANTS) + ")")
    parser.add_argument("--sft-run", default=None,
                        help="a finished `concierge train --stages traces,sft` run to share as the "
                             "SFT stage instead of training one (linked as OUT/sft)")
    parser.add_argument("--report", default="docs/results/ablation.md", help="the Markdown report")
    parser.add_argument("--report-only", action="store_true",
                        help="only rewrite the report from what is there")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main_ablation(args: argparse.Namespace) -> int:
    for name in ("eval_queries", "probe_limit", "max_new_tokens", "jobs", "eval_concurrency"):
        if getattr(args, name) < 1:
            raise ConciergeError(f"--{name.replace('_', '-')} must be at least 1 (got "
                                 f"{getattr(args, name)})")
    if not (Path(args.bundle) / "manifest.json").is_file():
        raise ConciergeError(f"{args.bundle} is not a bundle (no manifest.json); write the demo "
                             "world with `concierge demo --out var/bundles/demo-world`")
    load_config(args.config)  # a broken config fails here, not in the first subprocess
    plan = Plan(Path(args.bundle), Path(args.config), Path(args.out), args.eval_queries,
                args.probe_limit, args.max_new_tokens,
                eval_concurrency=args.eval_concurrency)
    tasks = build_tasks(plan, select_variants(args.variants))
    if args.sft_run:
        share_sft_run(plan, Path(args.sft_run))
    started = time.perf_counter()
    if args.report_only:
        status = {t.name: "done" if t.is_done() else "not run" for t in tasks}
        wall = None
    else:
        status = run_tasks(plan, tasks, args.jobs, progress=not args.quiet)
        wall = time.perf_counter() - started
    report = Path(args.report)
    report.parent.mkdir(parents=True, exist_ok=True)
    write_keeping_notes(report, report_markdown(plan, variant_rows(plan), status, wall))
    shutil.copy(report, plan.out / "ablation.md")
    failed = [k for k, v in status.items() if v != "done"]
    print(f"wrote {report}" + (f"; not finished: {', '.join(failed)}" if failed else ""))
    return 1 if failed and not args.report_only else 0


def select_variants(names: str | None) -> tuple[Variant, ...]:
    """The variants named in `--variants` (all when None), in the table's order."""
    if not names:
        return VARIANTS
    wanted = {n.strip() for n in names.split(",") if n.strip()}
    unknown = wanted - {v.name for v in VARIANTS}
    if unknown:
        raise ConciergeError(f"unknown variant(s) {', '.join(sorted(unknown))}; choose from "
                             + ", ".join(v.name for v in VARIANTS))
    return tuple(v for v in VARIANTS if v.name in wanted)


def share_sft_run(plan: Plan, run: Path) -> None:
    """Link a finished SFT run as the ablation's shared SFT stage (`OUT/sft`).

    Checked here, before the harness starts, not when the first GRPO variant is seeded after the
    SFT evaluation: the run must have finished its traces and sft stages (`seed_variant_run`
    copies both results), and its adapter must be found from this working directory (a run's
    paths are written as `concierge train` was given them, so a relative one belongs to the
    directory it ran in).
    """
    record = _load(run / "run.json") or {}
    results = record.get("results", {})
    missing = [stage for stage in ("traces", "sft") if stage not in results]
    if record.get("status") != "finished" or missing:
        raise ConciergeError(f"{run} is not a finished run with traces and sft stages (missing: "
                             f"{', '.join(missing) or 'none'}; status {record.get('status')!r}; "
                             "see its run.json)")
    adapter = Path(results["sft"].get("adapter") or "(none)")
    if not (adapter / "adapter_config.json").exists():
        raise ConciergeError(f"{run}'s sft adapter {adapter} is not found from {Path.cwd()}; run "
                             "the ablation from the directory that run was trained in")
    target = plan.run_dir("sft")
    if target.is_symlink() and target.resolve() == run.resolve():
        return
    if target.exists():
        raise ConciergeError(f"{target} already exists; use a new --out or remove it")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(run.resolve(), target_is_directory=True)


def main(argv: list[str] | None = None) -> int:
    return run_command(add_ablation_arguments, main_ablation, "python -m training.ablation", argv)


if __name__ == "__main__":
    raise SystemExit(main())
