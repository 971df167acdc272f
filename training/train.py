"""`concierge train --bundle B --config training/configs/cpu-small.yaml [--stages grpo] [--run-dir
DIR] [--resume]`.

Runs the selected stages of the learning path, in this order, each one starting from the adapter the
previous one produced (the first from a new LoRA adapter, or from `model.adapter` when the config
names one, as a feedback job continuing the active version does):

| stage | module | produces |
| --- | --- | --- |
| `traces` | `training/traces.py` | reasoning traces by reject / target sampling (JSONL) |
| `sft` | `training/sft.py` | a LoRA adapter trained on the accepted traces |
| `rechead` | `training/rechead.py` | a Rechead; it sets `ctx.rechead` (a reward hook) |
| `grpo` | `training/grpo.py` | the adapter trained with ReRec reward, RAAE and curriculum |

Each stage is its module's `run(ctx: StageContext) -> dict`, called by `run_stage`.

The run directory (default `var/runs/<UTC timestamp>`):

    config.yaml       the resolved config (every default written out)
    run.json          bundle, stages done and their results, status
    metrics.jsonl     one line per optimiser step: stage, step, seconds, reward, NDCG, curriculum
    pool, ... plots/training.png  reward, NDCG@k and curriculum pool size per step
    <stage>/          each stage's own files (grpo/checkpoints/checkpoint-N with curriculum.json,
    grpo/adapter) adapter/          the final adapter (a copy of the last stage's)
    README.md         the model card

`--resume` reopens a run directory (the given one, or the newest under var/runs), keeps its config,
skips the stages it finished and restarts the interrupted one from its last checkpoint (model,
optimiser, scheduler, RNG and curriculum state).

Multi-GPU: `accelerate launch --config_file training/configs/accelerate-zero2.yaml -m training.train
--bundle B --config training/configs/multi-gpu.yaml`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml
from tqdm.auto import tqdm

from backend.model_files import materialise_base_model
from backend.settings import get_settings
from backend.store import get_engine
from catalog.commands import run_command
from catalog.errors import ConciergeError
from training.config import STAGES, TrainConfig, load_config
from training.data import (CasePrompt, TrainingCase, build_case_prompt, cases_from_bundle,
                           cases_from_feedback, in_ranker_order, with_hard_share)
from training.eval_queries import load_bundle
from training.eval_stores import scratch_stores
from training.rechead import RecheadHook, load_backbone
from training.systems import EvalWorld, ServingRetrieval

METRICS_FILE = "metrics.jsonl"
PLOT_KEYS = (("reward", "reward (ReRec, mean of the group)"),
             ("rerec/ndcg", "NDCG@k of the answers"),
             ("curriculum/pool", "curriculum pool (cases not mastered)"),
             ("completions/clipped_ratio", "rollouts cut at the token limit"),
             ("completions/mean_length", "rollout length (mean tokens)"))


@dataclass
class StageContext:
    """What every stage gets.

    Args:
        config (`TrainConfig`): the whole config.
        run_dir (`Path`): the run directory.
        bundle (`Bundle`): the training bundle.
        world (`EvalWorld`): the bundle and its scratch stores' settings.
        base_model (`Path`): the base model directory.
        cases (`list[TrainingCase]`): training cases.
        adapter (`Path`, *optional*): the adapter the previous stage produced.
        resume (`bool`): restart from the stage's last checkpoint if there is one.
        progress (`bool`): show progress bars.
        rechead (`Callable`, *optional*): a Rechead reward hook, set by the rechead stage.
        results (`dict`): each finished stage's result.
    """

    config: TrainConfig
    run_dir: Path
    bundle: object
    world: object
    base_model: Path
    cases: list[TrainingCase]
    adapter: Path | None = None
    resume: bool = False
    progress: bool = True
    rechead: object = None
    results: dict = field(default_factory=dict)
    # TrainerCallbacks of the caller (a job's progress/stop)
    extra_callbacks: list = field(default_factory=list)
    _prompts: dict = field(default_factory=dict)
    # the world's ServingRetrieval (it holds the parsed catalogue), made once
    _retrieval: object = None

    def prompt(self, case: TrainingCase, world=None) -> CasePrompt:
        """The case's serving prompt (built once per run; `world` is accepted for `prompt_fn`
        callers)."""
        if case.case_id not in self._prompts:
            self._retrieval = self._retrieval or ServingRetrieval(self.world)
            self._prompts[case.case_id] = build_case_prompt(case, self.world,
                                                            self.config.data.shown,
                                                            self.config.seed, self._retrieval,
                                                            self.config.data.order)
        return self._prompts[case.case_id]

    def prompts_for(self, cases: list[TrainingCase]) -> dict[str, CasePrompt]:
        """Prompts of many cases, with a progress bar (a fraction of a second each)."""
        return {c.case_id: self.prompt(c) for c in tqdm(cases, desc="prompts", unit="case",
                                                        disable=not self.progress,
                                                        dynamic_ncols=True)}

    def callbacks(self, curriculum=None) -> list:
        return [MetricsCallback(self.run_dir / METRICS_FILE, "grpo"), *self.extra_callbacks]


# ----------------------------------------------------------------------------------------------
# Metrics


def _trainer_callback_base():
    from transformers import TrainerCallback

    return TrainerCallback


class MetricsCallback(_trainer_callback_base()):
    """Appends one JSON line per logged step to `metrics.jsonl` (with the seconds the step took); on
    a resumed run, first drops the lines of this stage past the checkpoint's step."""

    def __init__(self, path: Path, stage: str):
        self.path, self.stage = path, stage
        self.last = None

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        keep = [row for row in read_metrics(self.path)
                if row.get("stage") != self.stage or row.get("step", 0) <= state.global_step]
        self.path.write_text("".join(json.dumps(row) + "\n" for row in keep))
        self.last = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or "train_runtime" in logs:
            return
        now = time.perf_counter()
        row = {"stage": self.stage, "step": state.global_step, "seconds": round(now - self.last, 2),
               "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               **{k: v for k, v in logs.items() if isinstance(v, (int, float))}}
        self.last = now
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")


def read_metrics(path: Path) -> list[dict]:
    """The rows of a metrics.jsonl (none when it does not exist)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_plots(run_dir: Path) -> Path | None:
    """plots/training.png: reward, NDCG, curriculum pool size, the share of rollouts cut at the
    token limit and their mean length against the step (None without metrics)."""
    rows = [r for r in read_metrics(run_dir / METRICS_FILE) if r.get("stage") == "grpo"]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PLOT_KEYS), figsize=(4.2 * len(PLOT_KEYS), 3.2))
    for ax, (key, title) in zip(axes, PLOT_KEYS):
        points = [(r["step"], r[key]) for r in rows if key in r]
        if points:
            ax.plot(*zip(*points), marker="o", markersize=3)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = run_dir / "plots" / "training.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def trend(rows: list[dict], key: str, n: int = 5) -> dict | None:
    """Mean of `key` over the first and the last `n` steps that logged it."""
    values = [r[key] for r in rows if key in r]
    if not values:
        return None
    n = min(n, max(len(values) // 2, 1))
    return {"first": round(statistics.fmean(values[:n]), 4),
            "last": round(statistics.fmean(values[-n:]), 4), "steps": len(values), "window": n}


# ----------------------------------------------------------------------------------------------
# Stages


def run_stage(name: str, ctx: StageContext) -> dict:
    """Run one stage: its module's `run(ctx)`, which returns the stage's result (`adapter` when it
    produced one). Imported here, not at the top: the stages load torch, TRL and PEFT."""
    if name == "traces":
        from training import traces as stage
    elif name == "sft":
        from training import sft as stage
    elif name == "rechead":
        from training import rechead as stage
    elif name == "grpo":
        from training import grpo as stage
    else:
        raise ConciergeError(f"unknown stage {name!r}; choose from {', '.join(STAGES)}")
    return stage.run(ctx)


def restore_skipped_stage(name: str, done: dict, ctx: StageContext) -> None:
    """What a stage finished in an earlier session leaves in `ctx` for the later stages: the rechead
    stage's reward hook (the grpo stage of a resumed run, or of an ablation variant built on a
    shared head)."""
    if name == "rechead" and done.get("head"):
        ctx.rechead = RecheadHook(Path(done["head"]), *load_backbone(ctx.base_model))


def select_cases(config: TrainConfig, bundle, settings=None) -> list[TrainingCase]:
    """The run's cases: the bundle split (+ feedback from the SQL store of `settings`, default
    `get_settings()`), a seeded subset of `data.max_cases` of those that have something relevant (a
    case where nothing fits cannot be ranked)."""
    rng = random.Random(f"cases/{config.seed}")
    cases = [c for c in cases_from_bundle(bundle, config.data.split, config.data.candidates,
                                          config.seed) if c.relevance]
    feedback = []
    if config.data.feedback:
        engine = get_engine(settings.sql_url) if settings is not None else None
        feedback = [c for c in cases_from_feedback(config.data.feedback_since_id,
                                                   config.data.candidates, config.seed,
                                                   ids=config.data.feedback_ids, engine=engine)
                    if c.relevance]
    if config.data.max_cases is not None:
        feedback = feedback[:config.data.max_cases]
    room = None if config.data.max_cases is None else config.data.max_cases - len(feedback)
    share = config.data.feedback_share
    # e.g. 0.25: one feedback case for every three of the bundle's
    if feedback and share is not None:
        room = min(room if room is not None else len(cases),
                   round(len(feedback) * (1 - share) / share))
    if room is not None and room < len(cases):
        cases = rng.sample(cases, room)
    rankable = feedback + cases
    if not rankable:
        raise ConciergeError(f"{bundle.name} has no {config.data.split} query with a relevant item "
                             "to train on")
    return rankable


# ----------------------------------------------------------------------------------------------
# The run


def new_run_dir(var_dir: Path) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return var_dir / "runs" / stamp


def latest_run_dir(var_dir: Path) -> Path:
    runs = sorted(p for p in (var_dir / "runs").glob("*") if (p / "run.json").is_file())
    if not runs:
        raise ConciergeError(f"--resume: no run under {var_dir / 'runs'}; pass --run-dir DIR")
    return runs[-1]


def is_main_process() -> bool:
    """False in the other ranks of a multi-process launch (`accelerate launch`, torchrun set RANK):
    only rank 0 writes the run's shared files (run.json, config.yaml, plots, model card)."""
    return int(os.environ.get("RANK", "0") or 0) == 0


def write_json(path: Path, data: dict) -> None:
    """Write `data` to `path` as indented JSON, whole or not at all (a temporary file renamed); rank
    0 only."""
    if not is_main_process():
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)


def train(bundle_path: str, config: TrainConfig, run_dir: Path, resume: bool = False,
          progress: bool = True,
          callbacks: list | None = None, on_stage=None, settings=None) -> dict:
    """Run the configured stages on a bundle into `run_dir` (see the module docstring).

    Args:
        callbacks (`list`, *optional*): extra `transformers.TrainerCallback`s for the trainer stages
            (a job's progress reports and its stop check).
        on_stage (`Callable[[str], None]`, *optional*): called with each stage's name before it
            runs.
        settings (`Settings`, *optional*): the serving settings: where the feedback is read, the
            base model and the bundle's scratch stores live (default: `get_settings()`).

    Returns:
        `dict`: the run record (also `run_dir/run.json`).
    """
    import torch

    settings = settings or get_settings()
    run_dir.mkdir(parents=True, exist_ok=True)
    record_path = run_dir / "run.json"
    record = json.loads(record_path.read_text()) if resume and record_path.is_file() else {}
    if is_main_process():
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    bundle = load_bundle(bundle_path)
    base_model = Path(config.model.base) if config.model.base else materialise_base_model(settings)
    if not (base_model / "config.json").is_file():
        raise ConciergeError(f"model.base {base_model} is not a Hugging Face model directory "
                             "(run `concierge prepare-models` for the default one)")
    record.update({"bundle": {"path": str(bundle_path), "name": bundle.name,
                              "digest": bundle.digest()},
                   "base_model": str(base_model.resolve()), "stages": config.stages,
                   "status": "running",
                   "started": (record.get("started")
                               or datetime.now(timezone.utc).isoformat(timespec="seconds"))})
    record.setdefault("results", {})
    write_json(record_path, record)
    if config.model.torch_threads:
        torch.set_num_threads(config.model.torch_threads)
    torch.manual_seed(config.seed)
    started = time.perf_counter()
    cases = select_cases(config, bundle, settings)  # feedback lives in the serving store
    world = EvalWorld(bundle, scratch_stores(bundle, progress=progress, settings=settings),
                      config.seed)
    if config.data.order == "ranker":  # the ranker's order is what the prompt lists and the
        cases = in_ranker_order(cases, world, folds=config.data.ranker_folds)  # gain reward
        if config.data.hard_share:  # measures picks against
            cases = with_hard_share(cases, config.data.hard_share, config.reward.k, config.seed)
    ctx = StageContext(config, run_dir, bundle, world, base_model.resolve(), cases,
                       resume=resume, progress=progress, extra_callbacks=list(callbacks or []))
    if config.model.adapter:  # a run that continues an existing adapter (a feedback job's)
        from backend.llm import check_adapter_dir

        check_adapter_dir(Path(config.model.adapter))
        ctx.adapter = Path(config.model.adapter).resolve()
    record["cases"] = {"total": len(ctx.cases),
                       "feedback": sum(c.source == "feedback" for c in ctx.cases)}
    for name in config.stages:
        if on_stage is not None:
            on_stage(name)  # a job reports the stage, and may stop here (it raises)
        done = record["results"].get(name)
        if done and done.get("finished"):
            print(f"{name}: finished earlier, skipped")
            restore_skipped_stage(name, done, ctx)
        else:
            result = run_stage(name, ctx) or {}
            done = {**{k: (str(v) if isinstance(v, Path) else v) for k, v in result.items()},
                    "finished": True}
            record["results"][name] = done
            write_json(record_path, record)
        ctx.results[name] = done
        if done.get("adapter"):
            ctx.adapter = Path(done["adapter"])
    final = run_dir / "adapter"
    if ctx.adapter is not None and ctx.adapter.resolve() != final.resolve():
        shutil.rmtree(final, ignore_errors=True)
        shutil.copytree(ctx.adapter, final)
    record.update({"status": "finished", "adapter": str(final) if ctx.adapter else None,
                   "seconds_this_session": round(time.perf_counter() - started, 1),
                   "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    if not is_main_process():
        return record
    plot = write_plots(run_dir)
    record["plot"] = str(plot) if plot else None
    write_json(record_path, record)
    (run_dir / "README.md").write_text(model_card(record, config, run_dir))
    return record


def model_card(record: dict, config: TrainConfig, run_dir: Path) -> str:
    """The run's README.md: what was trained, on what, how, what the rewards did, how to use it."""
    rows = [r for r in read_metrics(run_dir / METRICS_FILE) if r.get("stage") == "grpo"]
    seconds = [r["seconds"] for r in rows if "seconds" in r]
    g, rw, lora, sft = config.grpo, config.reward, config.lora, config.sft
    # an SFT-only run's adapter is the SFT section's
    r, alpha, modules = (lora.r, lora.alpha, lora.target_modules) if "grpo" in config.stages else \
        (sft.lora_r, sft.lora_alpha, sft.target_modules)
    modules = modules if isinstance(modules, str) else ", ".join(modules)
    lines = [f"# Concierge adapter — run {run_dir.name}", "",
             f"LoRA adapter (r={r}, alpha={alpha}, modules {modules}) on "
             f"`{record['base_model']}`, trained by `concierge train` on bundle "
             f"**{record['bundle']['name']}** (digest `{record['bundle']['digest']}`), split "
             f"`{config.data.split}`.", "",
             f"- Stages: {', '.join(config.stages)}; status: {record['status']}."]
    if "sft" in config.stages:
        traces = record["results"].get("traces", {}).get("with_trace", "?")
        lines.append(f"- SFT: {sft.max_steps or f'{sft.epochs} epoch(s) of'} steps, batch "
                     f"{sft.batch_size}, lr {sft.learning_rate} ({sft.lr_scheduler}), max length "
                     f"{sft.max_length}, trace sources {sft.sources or 'all'}; {traces} traces.")
    if "grpo" in config.stages:
        lines += [f"- GRPO: {g.max_steps} steps, G={g.num_generations} rollouts x "
                  f"{g.prompts_per_step} prompt(s) per step, max {g.max_completion_length} new "
                  f"tokens, lr {g.learning_rate}, beta {g.beta}, loss {g.loss_type}, bf16 "
                  f"{config.model.bf16}.",
                  f"- Reward: {rw.ndcg} x NDCG@{rw.k} + {rw.qas} x QAS + {rw.pas} x PAS + format "
                  f"{rw.format} (only when NDCG > 0) + {rw.rechead} x Rechead; no valid answer "
                  f"{rw.missing_answer}.",
                  f"- RAAE: {'on' if config.raae.enabled else 'off'} (w_penalty "
                  f"{config.raae.w_penalty}, floor {config.raae.floor}, verifier "
                  f"{config.raae.use_verifier}, associate labels {config.raae.use_step_labels}).",
                  f"- Curriculum: {'on' if config.curriculum.enabled else 'off'} (tau "
                  f"{config.curriculum.tau})."]
    lines += [f"- Cases: at most {config.data.max_cases or 'all'} of the split, "
              f"{config.data.candidates} candidates each, "
              f"{config.data.shown or config.data.candidates} shown in the prompt.", ""]
    if rows:
        lines += ["## Training signal", "", "| metric | first steps | last steps |",
                  "| --- | --- | --- |"]
        for key in ("reward", "rerec/ndcg", "rerec/answered", "rerec/hit@1", "raae/penalised_steps",
                    "curriculum/pool"):
            t = trend(rows, key)
            if t:
                lines.append(f"| {key} | {t['first']} | {t['last']} |")
        lines += ["",
                  f"Steps logged: {len(rows)}; mean step time {statistics.fmean(seconds):.1f} s "
                      f"(median {statistics.median(seconds):.1f} s)." if seconds else "", "",
                  "![training](plots/training.png)", ""]
    lines += ["## Use", "",
              "Evaluate against the base model on the held-out split (re-ranking protocol):", "",
              f"    concierge eval {record['bundle']['path']} --split test --protocol rerank "
              f"--systems reasoner,reasoner@{run_dir / 'adapter'} --llm-limit 100", "",
              "Training-time rewards are measured on training cases; only the evaluation above "
              "says whether the adapter is better. Files: `config.yaml`, `metrics.jsonl`, "
              "`run.json`, `adapter/`.",
              ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# CLI


def _stage_list(text: str) -> list[str]:
    stages = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown or not stages:
        raise argparse.ArgumentTypeError(f"unknown stage {', '.join(unknown) or '(none)'}; choose "
                                         f"from {', '.join(STAGES)}")
    return stages


def add_train_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments of `concierge train` (the caller sets `func=main_train`)."""
    parser.add_argument("--bundle", required=True,
                        help="bundle directory with queries (e.g. `concierge demo --out DIR`)")
    parser.add_argument("--config", default=None,
                        help="training config YAML (default training/configs/cpu-small.yaml; "
                             "with --resume: the run's own config.yaml)")
    parser.add_argument("--stages", type=_stage_list, default=None,
                        help=f"comma-separated, from {', '.join(STAGES)} (default: the config's "
                             "`stages`)")
    parser.add_argument("--run-dir", default=None,
                        help="run directory (default var/runs/<UTC timestamp>)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --run-dir (default: the newest under var/runs) "
                             "from its last checkpoint")
    parser.add_argument("--max-steps", type=int, default=None, help="override grpo.max_steps")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main_train(args: argparse.Namespace) -> int:
    """`concierge train`: run the stages, print where everything went. Returns the exit status."""
    var_dir = get_settings().var_dir
    if args.resume:
        run_dir = Path(args.run_dir) if args.run_dir else latest_run_dir(var_dir)
        if not (run_dir / "config.yaml").is_file():
            raise ConciergeError(f"--resume: {run_dir} is not a run directory (no config.yaml)")
        config_path = run_dir / "config.yaml"
        if args.config:
            print(f"--resume: using the run's own {config_path}, not {args.config}")
    else:
        run_dir = Path(args.run_dir) if args.run_dir else new_run_dir(var_dir)
        config_path = Path(args.config or Path(__file__).parent / "configs" / "cpu-small.yaml")
    overrides = {}
    if args.stages:
        overrides["stages"] = args.stages
    config = load_config(config_path, overrides)
    if args.max_steps is not None:
        if args.max_steps < 1:
            raise ConciergeError(f"--max-steps must be at least 1 (got {args.max_steps})")
        config.grpo.max_steps = args.max_steps
    record = train(args.bundle, config, run_dir, resume=args.resume, progress=not args.quiet)
    print(f"run {run_dir}: {record['status']}; adapter {record.get('adapter')}; metrics "
          f"{run_dir / METRICS_FILE}; model card {run_dir / 'README.md'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m training.train ...` (also the entry point for `accelerate launch -m
    training.train`)."""
    return run_command(add_train_arguments, main_train, "python -m training.train", argv)


if __name__ == "__main__":
    raise SystemExit(main())
