"""Training jobs in the SQL store: one holder at a time, takeover of a silent worker, cancellation,
and feedback reserved exactly once."""

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from backend.store import session
from backend.tables import Client, Feedback, Shortlist, TrainingJob
from catalog.errors import ConciergeError
from training import jobs
from training.worker import run_worker

pytestmark = pytest.mark.integration


def add_feedback(n: int) -> list[int]:
    with session() as s:
        if s.get(Client, "c-1") is None:
            s.add(Client(client_id="c-1", name="Ada"))
            s.flush()
        shortlist = Shortlist(client_id="c-1", request="a bag")
        s.add(shortlist)
        s.flush()
        rows = [Feedback(shortlist_id=shortlist.id, item_id=f"i-{k}", kind="reject") for k in range(n)]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def silence(job_id: int, seconds: float) -> None:
    """Make the job's last heartbeat `seconds` old, as if its worker had been killed that long ago."""
    with session() as s:
        s.execute(update(TrainingJob).where(TrainingJob.id == job_id)
                  .values(heartbeat_at=jobs.utcnow() - timedelta(seconds=seconds)))


def test_only_one_of_two_racing_workers_gets_the_job(settings):
    job = jobs.enqueue({"stages": ["grpo"]})
    results = []
    barrier = threading.Barrier(2)

    def take(name):
        barrier.wait()
        results.append(jobs.claim_next(name, settings))

    threads = [threading.Thread(target=take, args=(f"w{k}",)) for k in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    won = [r for r in results if r is not None]
    assert len(won) == 1 and won[0].job.id == job.id and not won[0].resumed
    assert jobs.get_job(job.id).worker_id == won[0].job.worker_id
    assert jobs.claim_next("w3", settings) is None  # held and alive


def test_a_silent_worker_loses_the_job_to_a_live_one_and_gives_up_after_max_attempts(settings):
    job = jobs.enqueue({})
    assert jobs.claim_next("dead", settings).job.id == job.id
    assert jobs.claim_next("alive", settings) is None
    silence(job.id, settings.job_stale_s + 1)
    claim = jobs.claim_next("alive", settings)
    assert claim is not None and claim.resumed and claim.job.metrics["attempts"] == 2
    assert not jobs.heartbeat(job.id, "dead", progress=0.5)  # the old holder is told to stop
    for attempt in range(3, settings.job_max_attempts + 1):
        silence(job.id, settings.job_stale_s + 1)
        assert jobs.claim_next(f"w{attempt}", settings).job.metrics["attempts"] == attempt
    silence(job.id, settings.job_stale_s + 1)
    assert jobs.claim_next("last", settings) is None
    final = jobs.get_job(job.id)
    assert final.status == "failed" and "gave up after" in final.error


def test_feedback_is_reserved_once_kept_on_resume_and_released_on_failure(settings):
    first = add_feedback(3)
    job = jobs.enqueue({})
    jobs.claim_next("w1", settings)
    assert jobs.reserve_feedback(job.id, "w1") == first
    later = add_feedback(2)  # arrives while the job runs: not this job's
    silence(job.id, settings.job_stale_s + 1)
    jobs.claim_next("w2", settings)
    assert jobs.reserve_feedback(job.id, "w2") == first  # resumed: the same rows, no more
    other = jobs.enqueue({})
    jobs.finish(job.id, "w2", "failed", error="boom")
    assert jobs.claim_next("w3", settings).job.id == other.id
    assert jobs.reserve_feedback(other.id, "w3") == sorted(first + later)  # released rows counted once, here
    jobs.finish(other.id, "w3", "succeeded")
    with session() as s:
        assert {f.used_by_job_id for f in s.exec(select(Feedback))} == {other.id}


def test_cancel_stops_a_running_job_and_refuses_finished_ones(settings):
    job = jobs.enqueue({})
    jobs.claim_next("w1", settings)
    assert jobs.cancel(job.id).status == "cancelled"
    assert not jobs.heartbeat(job.id, "w1", progress=0.9)
    assert not jobs.finish(job.id, "w1", "succeeded")
    with pytest.raises(ConciergeError, match="already cancelled"):
        jobs.cancel(job.id)
    with pytest.raises(ConciergeError, match="no training job 999"):
        jobs.cancel(999)


def test_the_worker_runs_reports_and_stops_when_cancelled(settings, monkeypatch):
    monkeypatch.setattr(settings, "job_heartbeat_s", 0.05)
    ok, failing, cancelled = jobs.enqueue({"n": 1}), jobs.enqueue({"n": 2}), jobs.enqueue({"n": 3})

    def runner(job, report, stop):
        if job.config["n"] == 2:
            raise ValueError("no training cases in the bundle")
        for step in range(40):
            report(progress=step / 40, stage="grpo", metrics={"step": step}, log=f"step {step}")
            if job.config["n"] == 3 and step == 2:
                jobs.cancel(job.id)
            if stop.wait(0.01):
                return None
        return f"job-{job.id}"

    assert run_worker(runner, worker_id="w", once=True, settings=settings, log=lambda _: None) == 3
    done, failed, stopped = (jobs.get_job(j.id) for j in (ok, failing, cancelled))
    assert (done.status, done.candidate_version, done.progress, done.stage) == ("succeeded", f"job-{ok.id}", 1.0, "grpo")
    assert done.metrics["step"] == 39 and "step 39" in done.log_tail
    assert failed.status == "failed" and failed.error == "ValueError: no training cases in the bundle"
    assert stopped.status == "cancelled" and stopped.metrics.get("step", 0) < 39


def test_purchases_after_a_shortlist_become_purchase_feedback_once(settings):
    from backend.tables import Interaction, ShortlistItem

    now = jobs.utcnow()
    with session() as s:
        s.add(Client(client_id="c-2", name="Bo"))
        s.flush()
        shortlist = Shortlist(client_id="c-2", request="a scarf", created_at=now - timedelta(days=3))
        s.add(shortlist)
        s.flush()
        s.add_all([ShortlistItem(shortlist_id=shortlist.id, item_id=i, rank=r) for r, i in enumerate(["i-1", "i-2"], 1)])
        s.add_all([Interaction(client_id="c-2", item_id="i-1", kind="purchase", timestamp=now - timedelta(days=1)),
                   Interaction(client_id="c-2", item_id="i-2", kind="purchase", timestamp=now - timedelta(days=9)),  # before
                   Interaction(client_id="c-2", item_id="i-9", kind="purchase", timestamp=now)])  # never shown
    job = jobs.enqueue({})
    jobs.claim_next("w", settings)
    held = jobs.reserve_feedback(job.id, "w")
    with session() as s:
        rows = s.exec(select(Feedback)).all()
        assert [(r.item_id, r.kind, r.used_by_job_id) for r in rows] == [("i-1", "purchase", job.id)]
        assert held == [rows[0].id]
        assert jobs.derive_purchase_feedback(s) == 0  # idempotent
