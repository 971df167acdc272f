"""Durable training jobs: rows in the SQL store that workers claim, report on and finish.

A job moves `queued -> running -> succeeded | failed | cancelled`. Every change of hands is one
conditional UPDATE (`... WHERE id = :id AND status = :seen AND worker_id IS :seen_worker`) whose row
count says whether this worker won, so two workers never hold the same job, on SQLite or PostgreSQL.

- A worker *claims* the oldest queued job, or a running job whose worker has been silent for
  `job_stale_s` (it was killed): that job is resumed from its last checkpoint, up to
  `job_max_attempts` starts, then marked failed with the reason.
- While it runs, the worker's heartbeat writes progress, stage, metrics and a log tail; a heartbeat
  that no longer matches (the job was cancelled, or taken over) tells the worker to stop.
- Feedback is *reserved* for a job when it first starts (`used_by_job_id`), in the same transaction
  that lists the rows in the job's config: a resumed job reads the same rows, a second job cannot
  take them, and a job that fails for good releases them for the next one. No row is lost or counted
  twice.

Every function takes an optional `engine`: a worker binds the engine of the store it took the job
from (default: the configured store).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Engine, and_, or_, true, update
from sqlmodel import select

from backend.settings import Settings, get_settings
from backend.store import session
from backend.tables import Feedback, Interaction, Shortlist, ShortlistItem, TrainingJob
from catalog.errors import ConciergeError

ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "failed", "cancelled")
LOG_TAIL_CHARS = 4000
# a purchase this soon after a shortlist that showed the item counts for it
PURCHASE_WINDOW = timedelta(days=30)


class JobStopped(Exception):
    """The job was cancelled (or taken over) while it ran."""


def ensure_demo_bundle(var_dir: Path) -> Path:
    """The demo world as a bundle directory (written once): a job's bundle when it names none."""
    from catalog.bundle import write_bundle
    from catalog.demo.export import world_bundle

    path = var_dir / "bundles" / "demo-world"
    if not (path / "manifest.json").is_file():
        write_bundle(world_bundle(seed=get_settings().demo_seed), path)
    return path


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def enqueue(config: dict, created_by: int | None = None,
            engine: Engine | None = None) -> TrainingJob:
    """Queue a training job with its configuration (what `concierge train` would be given)."""
    if not isinstance(config, dict):
        raise ConciergeError("a job's config must be a mapping")
    with session(engine) as s:
        job = TrainingJob(config=dict(config), created_by=created_by)
        s.add(job)
        s.flush()
        s.refresh(job)
        return job


def get_job(job_id: int, engine: Engine | None = None) -> TrainingJob:
    with session(engine) as s:
        job = s.get(TrainingJob, job_id)
        if job is None:
            raise ConciergeError(f"no training job {job_id}")
        return job


def list_jobs(limit: int = 50, engine: Engine | None = None) -> list[TrainingJob]:
    with session(engine) as s:
        return list(s.exec(select(TrainingJob).order_by(TrainingJob.id.desc()).limit(limit)))


@dataclass
class Claim:
    """A job this worker now holds; `resumed` when another worker held it before."""

    job: TrainingJob
    resumed: bool


def claim_next(worker_id: str, settings: Settings | None = None,
               engine: Engine | None = None) -> Claim | None:
    """Take the oldest claimable job: queued, or running with a silent worker. None when there is
    none."""
    settings = settings or get_settings()
    stale_before = utcnow() - timedelta(seconds=settings.job_stale_s)
    with session(engine) as s:
        candidates = s.exec(select(TrainingJob).where(or_(
            TrainingJob.status == "queued",
            and_(TrainingJob.status == "running", TrainingJob.heartbeat_at < stale_before),
        )).order_by(TrainingJob.id)).all()
    for job in candidates:
        claim = _try_claim(job, worker_id, settings, engine)
        if claim is not None:
            return claim
    return None


def _try_claim(job: TrainingJob, worker_id: str, settings: Settings,
               engine: Engine | None) -> Claim | None:
    resumed = job.status == "running"
    attempts = int((job.metrics or {}).get("attempts", 0)) + 1
    now = utcnow()
    stale_before = now - timedelta(seconds=settings.job_stale_s)
    seen = and_(TrainingJob.id == job.id, TrainingJob.status == job.status,
                (TrainingJob.worker_id.is_(None) if job.worker_id is None
                 else TrainingJob.worker_id == job.worker_id),
                TrainingJob.heartbeat_at < stale_before if resumed else true())
    if attempts > settings.job_max_attempts:
        with session(engine) as s:
            won = s.execute(update(TrainingJob).where(seen).values(
                status="failed", finished_at=now, worker_id=None,
                error=f"gave up after {settings.job_max_attempts} starts; the last worker "
                      f"({job.worker_id}) stopped answering")).rowcount == 1
            if won:
                _release_feedback(s, job.id)
        return None
    metrics = dict(job.metrics or {}, attempts=attempts)
    with session(engine) as s:
        won = s.execute(update(TrainingJob).where(seen).values(
            status="running", worker_id=worker_id, heartbeat_at=now, metrics=metrics,
            started_at=job.started_at or now)).rowcount == 1
    if not won:
        return None  # another worker was quicker
    return Claim(get_job(job.id, engine), resumed)


def heartbeat(job_id: int, worker_id: str, *, progress: float | None = None,
              stage: str | None = None,
              metrics: dict | None = None, log: str | None = None,
              engine: Engine | None = None) -> bool:
    """Record that the job is alive (and how far it got). False: stop — cancelled or taken
    over."""
    values: dict = {"heartbeat_at": utcnow()}
    if progress is not None:
        values["progress"] = max(0.0, min(1.0, float(progress)))
    if stage is not None:
        values["stage"] = stage
    with session(engine) as s:
        job = s.get(TrainingJob, job_id)
        if job is None or job.status != "running" or job.worker_id != worker_id:
            return False
        if metrics is not None:
            values["metrics"] = dict(job.metrics or {}, **metrics)
        if log:
            values["log_tail"] = (job.log_tail + log)[-LOG_TAIL_CHARS:]
        return s.execute(update(TrainingJob).where(
            TrainingJob.id == job_id, TrainingJob.status == "running",
                                                   TrainingJob.worker_id == worker_id
        ).values(**values)).rowcount == 1


def finish(job_id: int, worker_id: str, status: str, error: str = "",
           candidate_version: str | None = None,
           metrics: dict | None = None, engine: Engine | None = None) -> bool:
    """Close a job this worker holds. A job that failed gives its reserved feedback back."""
    if status not in FINISHED:
        raise ConciergeError(f"a job finishes as one of {', '.join(FINISHED)}, not {status!r}")
    with session(engine) as s:
        job = s.get(TrainingJob, job_id)
        if job is None or job.status != "running" or job.worker_id != worker_id:
            return False
        values = {"status": status, "finished_at": utcnow(), "error": error[-LOG_TAIL_CHARS:],
                  "worker_id": None, "candidate_version": candidate_version}
        if status == "succeeded":
            values["progress"] = 1.0
        if metrics:
            values["metrics"] = dict(job.metrics or {}, **metrics)
        won = s.execute(update(TrainingJob).where(
            TrainingJob.id == job_id, TrainingJob.status == "running",
                                                  TrainingJob.worker_id == worker_id
        ).values(**values)).rowcount == 1
        if won and status != "succeeded":
            _release_feedback(s, job_id)
        return won


def cancel(job_id: int, actor_id: int | None = None, engine: Engine | None = None) -> TrainingJob:
    """Cancel a queued or running job (a running one stops at its next heartbeat)."""
    with session(engine) as s:
        job = s.get(TrainingJob, job_id)
        if job is None:
            raise ConciergeError(f"no training job {job_id}")
        if job.status not in ACTIVE:
            raise ConciergeError(f"job {job_id} is already {job.status}")
        won = s.execute(update(TrainingJob).where(TrainingJob.id == job_id,
                                                  TrainingJob.status == job.status).values(
            status="cancelled", finished_at=utcnow(), worker_id=None,
            error=f"cancelled{' by account ' + str(actor_id) if actor_id else ''}")).rowcount == 1
        if not won:
            raise ConciergeError(f"job {job_id} changed state meanwhile; look again")
        _release_feedback(s, job_id)
    return get_job(job_id, engine)


# ----------------------------------------------------------------------------------------------
# Feedback reserved for a job


def reserve_feedback(job_id: int, worker_id: str, engine: Engine | None = None) -> list[int]:
    """The feedback rows this job trains on: those it already holds (a resumed job), else every row
    no job holds, reserved now in one transaction. The ids are also written to the job's config."""
    with session(engine) as s:
        job = s.get(TrainingJob, job_id)
        if job is None or job.worker_id != worker_id:
            raise ConciergeError(f"job {job_id} is not held by {worker_id}")
        held = sorted(s.exec(select(Feedback.id).where(Feedback.used_by_job_id == job_id)).all())
        if not held and "feedback_ids" not in (job.config or {}):
            derive_purchase_feedback(s)
            s.execute(update(Feedback).where(Feedback.used_by_job_id.is_(None))
                      .values(used_by_job_id=job_id))
            held = sorted(s.exec(select(Feedback.id)
                                 .where(Feedback.used_by_job_id == job_id)).all())
            job.config = dict(job.config or {}, feedback_ids=held)
            s.add(job)
        return held


def _release_feedback(s, job_id: int) -> None:
    s.execute(update(Feedback).where(Feedback.used_by_job_id == job_id).values(used_by_job_id=None))


def derive_purchase_feedback(s) -> int:
    """Turn purchases that followed a shortlist into `purchase` feedback on it (the strongest
    signal).

    A purchase of an item counts for the latest shortlist that showed that item to that client
    within `PURCHASE_WINDOW` before the purchase. Idempotent: a (shortlist, item) pair gets one
    purchase row. Returns how many rows were added.
    """
    added = 0
    shown = s.exec(select(Shortlist.id, Shortlist.client_id, Shortlist.created_at,
                          ShortlistItem.item_id)
                   .join(ShortlistItem, ShortlistItem.shortlist_id == Shortlist.id)).all()
    if not shown:
        return 0
    by_client_item: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
    for shortlist_id, client_id, created, item_id in shown:
        by_client_item.setdefault((client_id, item_id), []).append((_aware(created), shortlist_id))
    done = set(s.exec(select(Feedback.shortlist_id,
                             Feedback.item_id).where(Feedback.kind == "purchase")).all())
    purchases = s.exec(select(Interaction.client_id, Interaction.item_id, Interaction.timestamp)
                       .where(Interaction.kind == "purchase")).all()
    for client_id, item_id, when in purchases:
        when = _aware(when)
        before = [(t, sid) for t, sid in by_client_item.get((client_id, item_id), [])
                  if t <= when <= t + PURCHASE_WINDOW]
        if not before:
            continue
        shortlist_id = max(before)[1]
        if (shortlist_id, item_id) in done:
            continue
        s.add(Feedback(shortlist_id=shortlist_id, item_id=item_id, kind="purchase",
                       reason="bought after this shortlist"))
        done.add((shortlist_id, item_id))
        added += 1
    s.flush()
    return added


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
