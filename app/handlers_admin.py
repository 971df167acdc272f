"""What the admin console can do: import an uploaded catalogue, statistics, accounts, the audit log,
and retraining (start, watch, cancel), comparing, promoting and rolling back model versions; retraining the
catalogue's ranker on associates' feedback and serving it through its gate."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlmodel import func, select

from app.auth import Actor, assign_clients, create_account, require, set_active, set_password
from app.handlers_common import MAX_REASON, checked_text, row_id, whole_number
from backend.settings import get_settings
from backend.store import session
from backend.tables import Account, AuditLog, Client, Feedback, ModelVersion, Shortlist, TrainingJob
from catalog.archive import read_bundle_archive
from catalog.errors import ConciergeError
from catalog.importers.table import parse_map, read_table
from training import jobs

UPLOAD_TYPES = (".zip", ".csv", ".jsonl")


def import_upload(actor: Actor, path: str | None, mapping: str | None = None,
                  stage: Callable[[str], None] | None = None):
    """Import an uploaded catalogue: a bundle as .zip, or a .csv / .jsonl table with a column mapping.

    Args:
        stage (`callable`, *optional*): told what the import is doing now ("embedding and storing 1,204
            items", ...), for a progress display; the importer's own tqdm bars count the items.

    Returns:
        `(ImportResult, ValidationReport)`

    Raises:
        `ConciergeError`: no file, wrong type, too large, unsafe or damaged archive, or no valid item; nothing
        changes. Every refusal is written to the audit log (`catalogue_import_rejected`) with its reason.
    """
    require(actor, "admin")
    name = Path(path).name if path else ""
    try:
        result, report = _import_file(path, mapping, stage or (lambda text: None))
    except Exception as exc:
        reason = str(exc) if isinstance(exc, ConciergeError) else "an error on our side (see the server log)"
        with session() as s:
            s.add(AuditLog(actor_id=actor.id, action="catalogue_import_rejected",
                           detail={"file": name[:200], "reason": reason[:1000]}))
        raise
    with session() as s:
        s.add(AuditLog(actor_id=actor.id, action="catalogue_import",
                       detail={"file": name, "items": result.items_total, "changed": result.changed,
                               "bad_rows": report.n_bad}))
    return result, report


def _import_file(path: str | None, mapping: str | None, stage: Callable[[str], None]):
    """`import_upload`'s work: check the file, read it (unpacking a .zip), import it, prepare its ranker."""
    from backend.importer import import_bundle
    from backend.live import prepare_ranker

    if not path:
        raise ConciergeError("choose a file to upload first")
    source = Path(path)
    suffix = source.suffix.lower()
    if suffix not in UPLOAD_TYPES:
        raise ConciergeError(f"{source.name}: upload a bundle as .zip, or a catalogue as .csv or .jsonl")
    limit = get_settings().max_upload_mb * 1024 * 1024
    size = source.stat().st_size
    if size > limit:
        raise ConciergeError(f"{source.name} is {size / 2**20:.1f} MiB; the limit is "
                             f"{get_settings().max_upload_mb} MiB (CONCIERGE_MAX_UPLOAD_MB)")
    if size == 0:
        raise ConciergeError(f"{source.name} is empty")
    stage(f"reading and checking {source.name}")
    if suffix == ".zip":
        if (mapping or "").strip():
            raise ConciergeError("a column mapping applies to a .csv or .jsonl file, not to a .zip bundle")
        bundle, report = read_bundle_archive(source, limit * 10)
    else:
        bundle, report = read_table(source, parse_map(mapping))
    if not bundle.items:
        if not report.problems:
            raise ConciergeError(f"{source.name} has no item rows (only a header?); nothing to import")
        raise ConciergeError(f"{source.name} has no valid item; every item row was refused:\n"
                             f"{report.to_text(limit=20)}")
    stage(f"embedding and storing {len(bundle.items):,} items")
    result = import_bundle(bundle, report, progress=False)
    stage("preparing the new version's ranker")
    prepare_ranker(bundle)
    return result, report


def statistics(actor: Actor) -> dict:
    """Catalogue, shortlist and feedback counts."""
    from backend.served import catalogue_stats

    require(actor, "admin")
    try:
        catalogue = catalogue_stats()
    except ConciergeError as exc:
        catalogue = {"items": 0, "error": str(exc)}
    with session() as s:
        feedback = dict(s.exec(select(Feedback.kind, func.count()).group_by(Feedback.kind)).all())
        shortlists = s.exec(select(func.count()).select_from(Shortlist)).one()
        fallbacks = s.exec(select(func.count()).select_from(Shortlist).where(Shortlist.fallback_used)).one()
        reviewed = s.exec(select(func.count(func.distinct(Feedback.shortlist_id)))).one()
        accounts = dict(s.exec(select(Account.role, func.count()).group_by(Account.role)).all())
        clients = s.exec(select(func.count()).select_from(Client)).one()
    return {"catalogue": catalogue, "feedback": feedback, "shortlists": shortlists,
            "shortlists_reviewed": reviewed, "fallbacks": fallbacks, "accounts": accounts, "clients": clients}


def list_accounts(actor: Actor) -> list[dict]:
    require(actor, "admin")
    with session() as s:
        rows = s.exec(select(Account).order_by(Account.role, Account.username)).all()
        assigned = Counter(s.exec(select(Client.associate_id).where(Client.associate_id.is_not(None))).all())
    return [{"username": a.username, "role": a.role, "client_id": a.client_id or "", "active": a.active,
             "clients_assigned": assigned.get(a.id, 0) if a.role == "associate" else "",
             "created_at": a.created_at} for a in rows]


def admin_create_account(actor: Actor, username: str, role: str, password: str, client_id: str | None = None):
    require(actor, "admin")
    return create_account(username, role, password, client_id=client_id, actor_id=actor.id)


def admin_set_active(actor: Actor, username: str, active: bool) -> None:
    require(actor, "admin")
    set_active((username or "").strip().lower(), active, actor_id=actor.id)


def admin_reset_password(actor: Actor, username: str, password: str) -> None:
    require(actor, "admin")
    set_password((username or "").strip().lower(), password, actor_id=actor.id)


def admin_assign(actor: Actor, client_ids: str, associate: str) -> int:
    require(actor, "admin")
    ids = [c.strip() for c in (client_ids or "").replace(";", ",").split(",") if c.strip()]
    if not ids:
        raise ConciergeError("give one or more client ids, separated by commas")
    return assign_clients(ids, (associate or "").strip().lower(), actor_id=actor.id)


def training_overview(actor: Actor) -> dict:
    """Training jobs (newest first) and model versions as stored."""
    require(actor, "admin")
    with session() as s:
        rows = s.exec(select(TrainingJob).order_by(TrainingJob.id.desc()).limit(50)).all()
        versions = s.exec(select(ModelVersion).order_by(ModelVersion.created_at.desc())).all()
    return {"jobs": [{"id": j.id, "status": j.status, "stage": j.stage, "progress": j.progress,
                      "created_at": j.created_at, "finished_at": j.finished_at,
                      "candidate_version": j.candidate_version or "", "error": (j.error or "")[:200]} for j in rows],
            "versions": [{"version": v.version, "status": v.status, "job_id": v.job_id, "created_at": v.created_at,
                          "promoted_at": v.promoted_at} for v in versions]}


# --- admin: retraining, watching, comparing, promoting ------------------------------------------

# What the form may ask for: (low, high) inclusive. Wide enough for a GPU run, narrow enough to catch typos.
TRAINING_LIMITS = {"max_steps": (1, 5000), "max_cases": (1, 100_000), "learning_rate": (1e-7, 1e-2),
                   "feedback_share": (0.01, 1.0), "eval_limit": (1, 1000), "probes_limit": (1, 500)}
STEP_STAGES = ("sft", "grpo")  # the stages that take optimiser steps: max steps and learning rate apply to them


def _number(value, name: str, label: str, kind=int):
    low, high = TRAINING_LIMITS[name]
    try:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError
        number = float(value)
        if kind is int:
            if number != int(number):
                raise ValueError
            number = int(number)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
        raise ConciergeError(f"{label} must be {'a whole number' if kind is int else 'a number'} "
                             f"between {low:g} and {high:g}") from None
    if not low <= number <= high:
        raise ConciergeError(f"{label} is {number:g}; it must be between {low:g} and {high:g}")
    return number


def training_job_config(stages, max_steps, max_cases, learning_rate, feedback_share, eval_limit,
                        probes_limit) -> dict:
    """The job config (`training.pipeline`'s keys) from the admin's form, checked.

    Raises:
        `ConciergeError`: a stage that does not exist, no stage, or a number out of its range.
    """
    from training.config import STAGES

    chosen = [s for s in STAGES if s in set(stages or [])]  # in the order they run
    unknown = sorted(set(stages or []) - set(STAGES))
    if unknown:
        raise ConciergeError(f"unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}")
    if not chosen:
        raise ConciergeError(f"choose at least one stage ({', '.join(STAGES)})")
    if not any(s in chosen for s in STEP_STAGES):
        raise ConciergeError("add sft or grpo: only they produce an adapter the gate can evaluate")
    steps = _number(max_steps, "max_steps", "max steps")
    cases = _number(max_cases, "max_cases", "cases")
    rate = _number(learning_rate, "learning_rate", "the learning rate", float)
    share = _number(feedback_share, "feedback_share", "the feedback share", float)
    overrides: dict = {"stages": chosen, "data": {"max_cases": cases}}
    for stage in STEP_STAGES:
        if stage in chosen:
            overrides[stage] = {"max_steps": steps, "learning_rate": rate}
    return {"overrides": overrides, "feedback_share": share,
            "eval": {"limit": _number(eval_limit, "eval_limit", "eval queries")},
            "probes": {"limit": _number(probes_limit, "probes_limit", "probes")}}


def start_training(actor: Actor, stages, max_steps, max_cases, learning_rate, feedback_share, eval_limit,
                   probes_limit) -> TrainingJob:
    """Queue a retraining run for `concierge worker` (one at a time: refused while another is queued or running).

    Returns:
        `TrainingJob`: the queued row.

    Raises:
        `ConciergeError`: a bad form value, a config the training code rejects, or a job already active.
    """
    from training.pipeline import job_train_config

    require(actor, "admin")
    config = training_job_config(stages, max_steps, max_cases, learning_rate, feedback_share, eval_limit,
                                 probes_limit)
    job_train_config(config, [])  # the training code's own checks, before anything is stored
    return _enqueue_alone(actor, config)


def _refuse_if_busy() -> None:
    """One job at a time: refused while another is queued or running."""
    with session() as s:
        busy = s.exec(select(TrainingJob.id, TrainingJob.status).where(TrainingJob.status.in_(jobs.ACTIVE))).first()
    if busy is not None:
        raise ConciergeError(f"job {busy[0]} is already {busy[1]}; wait for it to finish or cancel it first")


def _enqueue_alone(actor: Actor, config: dict) -> TrainingJob:
    """Queue a job unless another is queued or running; the audit log records it."""
    _refuse_if_busy()
    job = jobs.enqueue(config, created_by=actor.id)
    with session() as s:
        s.add(AuditLog(actor_id=actor.id, action="training_enqueued", detail={"job_id": job.id, "config": config}))
    return job


def start_ranker_training(actor: Actor) -> TrainingJob:
    """Queue a job that retrains the catalogue's ranker on the associates' feedback no job has used yet
    (`training/ranker_job.py`: its gate cross-validates over the judged shortlists).

    Raises:
        `ConciergeError`: no feedback to learn from, or a job already active.
    """
    require(actor, "admin")
    _refuse_if_busy()  # said first, as before the feedback check
    with session() as s:
        unused = s.exec(select(func.count()).select_from(Feedback).where(Feedback.used_by_job_id.is_(None))).one()
    if not unused:
        raise ConciergeError("there is no associate feedback that an earlier job has not used")
    return _enqueue_alone(actor, {"kind": "ranker"})


def promote_ranker_job(actor: Actor, job_id, reason: str) -> dict:
    """Serve the ranker a ranker job trained, if its gate passed (the reason goes to the audit log).

    Returns:
        `dict`: `passed`, and `served` (the ranker now ordering the catalogue) or the gate's `reasons`.
    """
    from training.ranker_job import promote_ranker

    require(actor, "admin")
    number = _job_id(job_id)
    reason = checked_text(reason, MAX_REASON, "a reason for the promotion", required=True)
    return promote_ranker(number, reason, actor_id=actor.id)


def _job_id(job_id) -> int:
    number = whole_number(job_id, "choose a training job first (its number)")
    if row_id(number, "") is None:
        raise ConciergeError(f"no training job {number}")  # as training.jobs says it for an id it lacks
    return number


def training_job(actor: Actor, job_id) -> dict:
    """One job as the watch panel shows it: status, stage, progress, log tail, and its metric curves.

    Returns:
        `dict`: the job's fields, `curves` (the rows of its run's metrics.jsonl) and `gate` (the verdict
        recorded at the end, if any).
    """
    from training.train import METRICS_FILE, read_metrics

    require(actor, "admin")
    job = jobs.get_job(_job_id(job_id))
    metrics = dict(job.metrics or {})
    run_dir = Path(metrics.get("run_dir") or get_settings().var_dir / "runs" / f"job-{job.id}")
    try:
        curves = read_metrics(run_dir / METRICS_FILE)
    except (OSError, ValueError):  # a line half-written by the worker: show what was there last time
        curves = []
    return {"id": job.id, "status": job.status, "stage": job.stage, "progress": job.progress,
            "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at,
            "log_tail": job.log_tail, "error": job.error, "candidate_version": job.candidate_version or "",
            "config": job.config, "metrics": metrics, "gate": metrics.get("gate"), "curves": curves,
            "running": job.status in jobs.ACTIVE}


def cancel_training(actor: Actor, job_id, confirmed: bool = False) -> TrainingJob:
    """Cancel a queued or running job; `confirmed` must be set (the console asks first)."""
    require(actor, "admin")
    job_id = _job_id(job_id)
    if not confirmed:
        raise ConciergeError(f"tick the confirmation to cancel job {job_id}")
    job = jobs.cancel(job_id, actor_id=actor.id)
    with session() as s:
        s.add(AuditLog(actor_id=actor.id, action="training_cancelled", detail={"job_id": job_id}))
    return job


def _metric(evaluation: dict, key: str) -> dict | None:
    value = (evaluation.get("metrics") or {}).get(key)
    return value if isinstance(value, dict) else ({"mean": value} if isinstance(value, (int, float)) else None)


def compare_versions(actor: Actor) -> list[dict]:
    """Every model version with its evaluation and probe numbers and the gate's verdict against the active one.

    Returns:
        `list[dict]`: version, status, job_id, n, ndcg@5 (mean, low, high), recall@5, hit@1, the two probe
        scores, and `gate` ("active", "passes", or "refused") with its `reasons`.
    """
    from training.registry import GATE_METRIC, PROBE_KEYS, check_gate

    require(actor, "admin")
    with session() as s:
        versions = s.exec(select(ModelVersion).order_by(ModelVersion.created_at.desc())).all()
    active = next((v for v in versions if v.status == "active"), None)
    rows = []
    for v in versions:
        evaluation, probes = v.evaluation or {}, v.probes or {}
        if active is None:
            gate, reasons = "no active version", []
        elif v.version == active.version:
            gate, reasons = "active", []
        else:
            verdict = check_gate(v, active)
            gate, reasons = ("passes" if verdict.passed else "refused"), verdict.reasons
        rows.append({"version": v.version, "status": v.status, "job_id": v.job_id, "n": evaluation.get("n"),
                     GATE_METRIC: _metric(evaluation, GATE_METRIC), "recall@5": _metric(evaluation, "recall@5"),
                     "hit@1": _metric(evaluation, "hit@1"),
                     **{k: probes.get(k) for k in PROBE_KEYS}, "reasoning": evaluation.get("reasoning"),
                     "gate": gate, "reasons": reasons,
                     "created_at": v.created_at, "promoted_at": v.promoted_at})
    return rows


def _version_name(version) -> str:
    name = version.strip() if isinstance(version, str) else ""
    if not name:
        raise ConciergeError("choose a model version first")
    return name


def promote_version(actor: Actor, version, reason: str):
    """Promote a candidate through the gate against the active version (the reason goes to the audit log).

    Returns:
        `training.registry.GateResult`: `passed`, and the reasons when refused (the active version stays).
    """
    from training import registry

    require(actor, "admin")
    name = _version_name(version)
    reason = checked_text(reason, MAX_REASON, "a reason for the promotion", required=True)
    return registry.promote(name, reason, actor_id=actor.id)


def rollback_version(actor: Actor, version, reason: str) -> ModelVersion:
    """Make an earlier version active again (no gate: it served before); the reason goes to the audit log."""
    from training import registry

    require(actor, "admin")
    name = _version_name(version)
    reason = checked_text(reason, MAX_REASON, "a reason for the rollback", required=True)
    return registry.rollback(name, reason, actor_id=actor.id)


def audit_log(actor: Actor, limit: int = 100) -> list[dict]:
    require(actor, "admin")
    with session() as s:
        rows = s.exec(select(AuditLog, Account.username).join(Account, Account.id == AuditLog.actor_id, isouter=True)
                      .order_by(AuditLog.id.desc()).limit(limit)).all()
    return [{"when": a.created_at, "who": who or "system", "action": a.action, "detail": a.detail,
             "reason": a.reason} for a, who in rows]
