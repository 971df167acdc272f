"""What a training job does, end to end: the runner `concierge worker` gives each job.

1. Reserve the feedback no earlier job used (`training.jobs.reserve_feedback`; purchases that
followed
   a shortlist included) and mix its cases with the bundle's train split (`feedback_share`).
2. Train (`training.train.train`) into `var/runs/job-<id>`; a resumed job continues that run from
its
   last checkpoint. Progress, stage and metrics go to the job row; a cancelled job stops at the next
   optimiser step or stage.
3. Register the adapter as candidate version `job-<id>`, evaluate it and the active version on the
same
   held-out queries (re-ranking protocol), probe both, and record the gate's verdict. Promotion
   stays an admin's decision (`concierge versions promote`, or the admin console).
4. If the gate passes it, choose the candidate's share in the shortlist on val (its whole pipeline,
   `fusion`), so that a promoted version's picks move the shortlist only as far as val supports.

A job's config (all optional); `{"kind": "ranker"}` retrains the catalogue's ranker on the feedback
instead (`training.ranker_job`, its own keys):

    bundle          bundle directory (default: the demo world, written to var/bundles/demo-world)
    config          training config YAML (default training/configs/cpu-small.yaml)
    overrides       nested keys replacing the YAML's, e.g. {"grpo": {"max_steps": 4}}
    feedback_share  share of the cases that come from feedback when there is some (default 0.25)
    from_active     true: train the active version's adapter further (`model.adapter`) instead of
                    a new one (the base model has none: then a new one)
    eval            {"split": "val", "limit": 20, "seed": 0, "query_ids": None}: the gate's
                    held-out queries (`query_ids`: only those of the split)
    fusion          {"split": "val", "limit": 40, "seed": 0}: the candidate's whole pipeline on
                    these queries chooses its share in the shortlist (`training.fusion_choice`,
                    recorded in the adapter's `fusion.json`); null: none is chosen (it narrates)
    probes          {"limit": 20}: probes of each set asked (the same for both versions)
"""

from __future__ import annotations

import threading
from pathlib import Path

import yaml

from backend.settings import get_settings
from catalog.errors import ConciergeError
from training import jobs, registry
from training.jobs import JobStopped, ensure_demo_bundle
from training.config import config_from_dict, deep_merge
from training.probes.instructions import INSTRUCTION_PROBES
from training.train import train

DEFAULT_CONFIG = "training/configs/cpu-small.yaml"
DEFAULT_EVAL = {"split": "val", "limit": 20, "seed": 0}
DEFAULT_PROBES = {"limit": 20}
DEFAULT_FUSION = {"split": "val", "limit": 40, "seed": 0}
TRAIN_SHARE = 0.8  # of the job's progress bar; evaluation and probes take the rest


def job_train_config(spec: dict, feedback_ids: list[int], start_adapter: str | None = None):
    """The checked training config of a job: the YAML, the job's overrides, its reserved feedback
    and the adapter it continues (`from_active`)."""
    path = Path(spec.get("config") or DEFAULT_CONFIG)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise ConciergeError(f"cannot read the training config {path}: "
                             f"{error.strerror or error}") from error
    raw = deep_merge(raw, spec.get("overrides") or {})
    raw = deep_merge(raw, {"data": {"feedback": bool(feedback_ids),
                                    "feedback_ids": feedback_ids or None,
                                    "feedback_share": spec.get("feedback_share",
                                                               0.25) if feedback_ids else None}})
    if start_adapter:
        raw = deep_merge(raw, {"model": {"adapter": start_adapter}})
    return config_from_dict(raw, source=f"job config ({path})")


def active_adapter() -> str | None:
    """The adapter directory of the active version (None for the base model)."""
    registry.ensure_base_version(get_settings().model_dir)
    return registry.active_version().adapter_path or None


def _callback(report, stop: threading.Event, stages: list[str], current: dict):
    from transformers import TrainerCallback

    class JobCallback(TrainerCallback):
        """Reports each optimiser step to the job and stops the trainer when the job is
        cancelled."""

        def on_step_end(self, args, state, control, **kwargs):
            done = stages.index(current["stage"]) if current.get("stage") in stages else 0
            fraction = (done + state.global_step / max(state.max_steps, 1)) / max(len(stages), 1)
            report(progress=TRAIN_SHARE * fraction,
                   metrics={"step": state.global_step, "max_steps": state.max_steps})
            if stop.is_set():
                control.should_training_stop = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs:
                report(log=f"{current.get('stage')} step {state.global_step}: "
                           + ", ".join(f"{k}={v:.4g}" for k, v in logs.items()
                                       if isinstance(v, (int, float))))

    return JobCallback()


def run_training_job(job, report, stop: threading.Event) -> str | None:
    """The worker's runner (see the module docstring). Returns the candidate version it
    registered."""
    settings = get_settings()
    spec = dict(job.config or {})
    if spec.get("kind") == "ranker":  # the catalogue's ranker, not the reasoner
        from training.ranker_job import run_ranker_job

        return run_ranker_job(job, report, stop)
    feedback_ids = jobs.reserve_feedback(job.id, job.worker_id, report.engine)
    start = active_adapter() if spec.get("from_active") else None
    config = job_train_config(spec, feedback_ids, start)
    bundle = Path(spec["bundle"]) if spec.get("bundle") else ensure_demo_bundle(settings.var_dir)
    run_dir = settings.var_dir / "runs" / f"job-{job.id}"
    resume = (run_dir / "run.json").is_file()
    report(stage="training",
           log=f"{'resuming' if resume else 'starting'} {run_dir} on {bundle} with "
                                 f"{len(feedback_ids)} feedback rows; stages "
                                 f"{', '.join(config.stages)}"
                                 + (f", continuing {start}" if start else ""),
           metrics={"run_dir": str(run_dir), "feedback_rows": len(feedback_ids),
                    "start_adapter": start})
    current: dict = {}

    def on_stage(name: str) -> None:
        if stop.is_set():
            raise JobStopped(f"stopped before the {name} stage")
        current["stage"] = name
        report(stage=name)

    record = train(str(bundle), config, run_dir, resume=resume, progress=False,
                   callbacks=[_callback(report, stop, config.stages, current)], on_stage=on_stage)
    if stop.is_set():
        raise JobStopped("stopped during training")
    if not record.get("adapter"):
        raise ConciergeError(f"the run in {run_dir} produced no adapter")
    report(progress=TRAIN_SHARE, metrics={"cases": record.get("cases"),
                                          "train_seconds": record.get("seconds_this_session")})
    return gate_candidate(f"job-{job.id}", record["adapter"], bundle, spec, report, stop,
                          job_id=job.id)


def gate_candidate(version: str, adapter: str | Path, bundle: Path, spec: dict, report,
                   stop: threading.Event, job_id: int | None = None) -> str:
    """Register `adapter` as candidate `version`, evaluate and probe it and the active version
    alike, and record the gate's verdict in the job (the candidate is offered to the admin; nothing
    is promoted)."""
    settings = get_settings()
    evaluation = {**DEFAULT_EVAL, **(spec.get("eval") or {})}
    probes = {**DEFAULT_PROBES, **(spec.get("probes") or {})}
    registry.ensure_base_version(settings.model_dir)
    try:
        registry.get_version(version)
    except ConciergeError:
        registry.register_candidate(version, settings.model_dir, adapter, job_id=job_id)
    active = registry.active_version()
    for step, (name, row) in enumerate((("candidate", registry.get_version(version)),
                                        ("active", active))):
        if stop.is_set():
            raise JobStopped("stopped during evaluation")
        done = row.evaluation or {}
        if (name == "active" and done.get("per_query")
                and _same_eval(done, registry.get_version(version).evaluation)):
            continue  # the active version was already evaluated on these queries
        report(stage=f"evaluate {row.version}")
        registry.evaluate_version(row.version, bundle, evaluation["split"], evaluation["limit"],
                                  evaluation["seed"], threads=1, progress=False,
                                  query_ids=evaluation.get("query_ids"))
        report(progress=TRAIN_SHARE + (1 - TRAIN_SHARE) * (step + 1) / 4)
    for step, row in enumerate((registry.get_version(version), registry.active_version())):
        if stop.is_set():
            raise JobStopped("stopped during the probes")
        done = row.probes or {}
        if step == 1 and done.get("n_instruction") == len(INSTRUCTION_PROBES[:probes["limit"]]):
            continue  # already probed with the same number of probes
        report(stage=f"probes {row.version}")
        registry.probe_version(row.version, limit=probes["limit"], progress=False)
        report(progress=TRAIN_SHARE + (1 - TRAIN_SHARE) * (step + 3) / 4)
    verdict = registry.check_gate(registry.get_version(version), registry.active_version())
    if spec.get("fusion", DEFAULT_FUSION) is not None and not verdict.passed:
        # a refused candidate is served only if an admin overrides the gate; it then narrates and
        # the ranker orders (no fusion.json): the whole-pipeline run is not worth its minutes
        report(log="fusion share not chosen: the gate refused the candidate")
    elif spec.get("fusion", DEFAULT_FUSION) is not None:
        if stop.is_set():
            raise JobStopped("stopped before choosing the fusion share")
        report(stage="fusion share")
        share = choose_fusion(Path(adapter), bundle,
                              {**DEFAULT_FUSION, **(spec.get("fusion") or {})})
        report(metrics={"fusion": share}, log=f"fusion share: {share}")
    report(stage="done", metrics={"candidate": version, "gate": verdict.to_dict()},
           log=("passes the gate" if verdict.passed
                else "does not pass the gate: " + "; ".join(verdict.reasons)))
    return version


def choose_fusion(adapter: Path, bundle: Path, choice: dict) -> dict:
    """Run the adapter's whole pipeline on `choice`'s queries and record in its `fusion.json` the
    share in the shortlist they support (`training.fusion_choice`). A run where the model answered
    nothing leaves no record (the model narrates, the ranker orders) and says why."""
    from backend.fusion import write_record
    from backend.importer import catalogue_digest
    from training.eval_queries import load_bundle
    from training.eval_run import EvalConfig, evaluate
    from training.fusion_choice import fusion_record, sweep

    spec = f"pipeline@{adapter}"
    run = evaluate(EvalConfig(bundle=str(bundle), split=choice["split"], systems=[spec], ks=[5],
                              protocols=["full"], limit=choice["limit"],
                              llm_limit=choice["limit"], seed=choice["seed"], progress=False,
                              threads=1, concurrency=8))
    rows = load_bundle(bundle)
    relevant = {q["query_id"]: q.get("relevant") or {} for q in rows.queries}
    try:
        result = sweep(run["results"]["full"][spec].get("per_query", []), relevant)
    except ConciergeError as error:
        return {"model_weight": 0.0, "recorded": False, "why": str(error)}
    record = fusion_record(result, rows.name, catalogue_digest(rows), choice["split"], spec,
                           "the training job's own val run", run["created"])
    write_record(adapter, record)
    return {"model_weight": record["model_weight"], "k": record["k"], "queries": result.queries,
            "recorded": True}


def _same_eval(a: dict, b: dict) -> bool:
    return (all(a.get(k) == b.get(k) for k in ("digest", "split", "seed"))
            and set(a.get("per_query", {})) == set(b.get("per_query", {})))
