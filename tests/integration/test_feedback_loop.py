"""The feedback loop without the browser (issue 7): shortlists -> associate feedback -> a training job on
CPU -> a candidate version with its numbers -> promotion -> the next shortlist carries the new version;
and a worker killed with SIGKILL mid-run whose job another worker resumes from its checkpoint."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from app.auth import Actor, assign_clients, create_account, get_account
from app.handlers_associate import judge_item
from backend.importer import import_bundle
from backend.service import recommend
from backend.store import session
from backend.tables import AuditLog, Feedback, Shortlist
from catalog.bundle import write_bundle
from training import jobs, registry
from training.grpo import last_complete_checkpoint
from training.worker import run_worker

pytestmark = pytest.mark.integration
PASSWORD = "correct-horse-battery-9"
# The smallest real job: one GRPO step of two short rollouts on four cases, gated on two held-out queries
# and one probe of each set (both versions alike), its fusion share tried on two val queries.
TINY_JOB = {"overrides": {"data": {"max_cases": 4, "shown": 6},
                          "grpo": {"max_steps": 1, "num_generations": 2, "max_completion_length": 16, "save_steps": 1}},
            "eval": {"limit": 2}, "probes": {"limit": 1}, "fusion": {"limit": 2}}


@pytest.fixture
def db_url(tmp_path) -> str:
    """SQLite only: these runs train a real model (minutes); the job store's claims, takeovers and feedback
    reservation are tested on PostgreSQL as well in test_jobs.py."""
    return f"sqlite:///{tmp_path / 'concierge.db'}"


@pytest.fixture
def loop_world(settings, small_world, base_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("CONCIERGE_BASE_MODEL_DIR", str(base_model_dir))
    monkeypatch.setenv("CONCIERGE_MAX_NEW_TOKENS", "24")
    monkeypatch.setenv("CONCIERGE_JOB_HEARTBEAT_S", "0.5")
    from backend.settings import get_settings

    get_settings.cache_clear()
    import_bundle(small_world, progress=False)
    return write_bundle(small_world, tmp_path / "bundle")


def ask_two(world_bundle) -> list:
    """Two real shortlists of at least two items each (for an accept and a reject on each)."""
    results = []
    for query in [q for q in world_bundle.queries if q["relevant"] and q["split"] == "train"][:8]:
        result = recommend(query["client_id"], query["text"])
        if len(result.items) >= 2:
            results.append(result)
        if len(results) == 2:
            return results
    raise AssertionError(f"only {len(results)} of 8 train requests got two or more items")


def test_feedback_becomes_a_promoted_version_that_the_next_shortlist_carries(loop_world, small_world):
    create_account("ines", "associate", PASSWORD)
    admin = create_account("root", "admin", PASSWORD)
    shortlists = ask_two(small_world)
    assign_clients([r.client_id for r in shortlists], "ines")
    assert {r.model_version for r in shortlists} == {"base"}
    associate = Actor.of(get_account("ines"))
    for result in shortlists:
        judge_item(associate, result.shortlist_id, result.items[0]["item_id"], "accept")
        judge_item(associate, result.shortlist_id, result.items[1]["item_id"], "reject", "too formal for her")

    job = jobs.enqueue(dict(TINY_JOB, bundle=str(loop_world)), created_by=admin.id)
    assert run_worker(worker_id="w1", once=True, log=lambda _: None) == 1
    job = jobs.get_job(job.id)
    assert job.status == "succeeded", job.error + job.log_tail
    version = registry.get_version(job.candidate_version)
    assert version.status == "candidate" and version.evaluation["n"] == 2 and version.probes["n_instruction"] == 1
    assert "ndcg@5" in version.evaluation["metrics"] and "passed" in job.metrics["gate"]
    if job.metrics["gate"]["passed"]:
        # two val queries cannot show what the model's share does: no record, so the new version narrates
        assert job.metrics["fusion"]["recorded"] is False and job.metrics["fusion"]["model_weight"] == 0.0
    else:  # a refused candidate gets no share chosen: promoted by an override, it narrates
        assert "fusion" not in job.metrics and "fusion share not chosen" in job.log_tail
    assert not (Path(version.adapter_path) / "fusion.json").exists()
    run = json.loads((Path(job.metrics["run_dir"]) / "run.json").read_text())
    assert run["cases"]["feedback"] == 2  # both judged shortlists became training cases
    with session() as s:
        used = {f.used_by_job_id for f in s.exec(select(Feedback))}
    assert used == {job.id} and len(job.config["feedback_ids"]) == 4

    # An admin promotes it (through the gate, or overriding it with a reason: the log says which).
    verdict = registry.promote(version.version, reason="first tuned version", actor_id=admin.id,
                               override=True)
    assert registry.active_version().version == version.version
    with session() as s:
        action = s.exec(select(AuditLog).where(AuditLog.action.startswith("promot"))).one().action
    assert action == ("promote" if verdict.passed else "promote_override")

    after = recommend(shortlists[0].client_id, "something less formal for the weekend")
    assert after.model_version == version.version
    with session() as s:
        assert s.get(Shortlist, after.shortlist_id).model_version == version.version

    # The next job continues the active adapter instead of a new one, and is gated on chosen held-out queries.
    held_out = [q["query_id"] for q in small_world.queries if q["split"] == "val"][:2]
    second = jobs.enqueue(dict(TINY_JOB, bundle=str(loop_world), from_active=True,
                               eval={"limit": 2, "query_ids": held_out}), created_by=admin.id)
    assert run_worker(worker_id="w1", once=True, log=lambda _: None) == 1
    second = jobs.get_job(second.id)
    assert second.status == "succeeded", second.error + second.log_tail
    config = yaml.safe_load((Path(second.metrics["run_dir"]) / "config.yaml").read_text())
    assert Path(config["model"]["adapter"]) == Path(version.adapter_path)
    assert second.metrics["start_adapter"] == version.adapter_path
    assert set(registry.get_version(second.candidate_version).evaluation["per_query"]) == set(held_out)
    registry.rollback("base", reason="associates preferred the old answers", actor_id=admin.id)
    assert recommend(shortlists[0].client_id, "a silk scarf").model_version == "base"


def worker_process(env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "app.cli", "worker", "--id", "doomed", "--poll", "0.2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_worker_killed_mid_run_is_resumed_from_its_checkpoint_by_another(loop_world, settings):
    env = dict(os.environ, CONCIERGE_JOB_STALE_S="4")
    job = jobs.enqueue(dict(TINY_JOB, bundle=str(loop_world),
                            overrides={**TINY_JOB["overrides"], "grpo": {**TINY_JOB["overrides"]["grpo"], "max_steps": 3}}))
    doomed = worker_process(env)
    checkpoints = settings.var_dir / "runs" / f"job-{job.id}" / "grpo" / "checkpoints"
    deadline = time.time() + 300
    while not last_complete_checkpoint(checkpoints) and time.time() < deadline and doomed.poll() is None:
        time.sleep(0.2)
    assert last_complete_checkpoint(checkpoints), doomed.communicate(timeout=5)[0] if doomed.poll() is not None \
        else "no checkpoint"
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()

    held = jobs.get_job(job.id)
    assert held.status == "running" and held.worker_id == "doomed"
    assert jobs.claim_next("eager", settings) is None  # the silent worker still holds it for job_stale_s
    time.sleep(4.5)
    from backend.settings import get_settings

    os.environ["CONCIERGE_JOB_STALE_S"] = "4"
    get_settings.cache_clear()
    try:
        assert run_worker(worker_id="heir", once=True, log=lambda _: None) == 1
    finally:
        del os.environ["CONCIERGE_JOB_STALE_S"]
        get_settings.cache_clear()
    done = jobs.get_job(job.id)
    assert done.status == "succeeded", done.error + done.log_tail
    assert done.metrics["attempts"] == 2 and "worker heir resumes job" in done.log_tail
    steps = [json.loads(line) for line in (Path(done.metrics["run_dir"]) / "metrics.jsonl").read_text().splitlines()]
    trained = sorted({row["step"] for row in steps if row.get("stage") == "grpo" and "step" in row})
    assert trained[-1] == 3
    run = json.loads((Path(done.metrics["run_dir"]) / "run.json").read_text())
    assert "checkpoint-" in run["results"]["grpo"]["resumed_from"]  # not from scratch
