"""Associates' verdicts retrain the catalogue's ranker (training/ranker_job.py): a `{"kind": "ranker"}`
job through the worker, its gate against the served ranker on held-out requests, promotion through that
gate only, and the next shortlist recording the ranker that ordered it."""

import json
from pathlib import Path

import pytest
from sqlmodel import select

from app import handlers_admin
from app.auth import AccessDenied, Actor, assign_clients, create_account, get_account
from app.handlers_associate import judge_item
from backend import ranker as ranking
from backend.importer import import_bundle
from backend.live import client_context, live_catalogue, ranked_candidates, understand_request
from backend.service import ShortlistResult, persist_shortlist
from backend.store import session
from backend.tables import AuditLog, Feedback
from catalog.bundle import write_bundle
from catalog.errors import ConciergeError
from training import jobs
from training.ranker_job import promote_ranker
from training.worker import run_worker

pytestmark = pytest.mark.integration
PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'concierge.db'}"


@pytest.fixture
def fusion_world(settings, small_world, tmp_path, monkeypatch):
    """The small demo world imported without training a ranker: ordered by fusion, like a first import."""
    monkeypatch.setenv("CONCIERGE_JOB_HEARTBEAT_S", "0.5")
    from backend.settings import get_settings

    get_settings.cache_clear()
    import_bundle(small_world, progress=False)
    return write_bundle(small_world, tmp_path / "bundle")


def ranker_shortlist(query: dict, size: int = 5) -> ShortlistResult:
    """A shortlist as the served ranker alone orders it (no model: this test is about the ranker), stored
    by the serving path's own persistence."""
    catalogue = live_catalogue()
    graph = understand_request(query["text"], catalogue)
    _, _, signals, _ = client_context(query["client_id"], catalogue)
    ordered = ranked_candidates(graph, catalogue, signals)
    items = [{"item_id": c.item_id, "rank": rank, "justification": "", "provenance": []}
             for rank, c in enumerate(ordered[:size], start=1)]
    result = ShortlistResult(0, 0, query["client_id"], query["text"], items, [], graph.to_dict(), "base", False,
                             not items, "", reasoning={"ranker": catalogue.ranker.label},
                             candidates=[c.item_id for c in ordered[:50]])
    persist_shortlist(result, None, result.candidates)
    return result


def review(associate, reviewed: list[dict], shortlists: dict) -> int:
    """Judge every shown item by the request's ground truth; the number of verdicts stored."""
    judged = 0
    for query in reviewed:
        result = shortlists.setdefault(query["query_id"], ranker_shortlist(query))
        for item in result.items:
            fits = query["relevant"].get(item["item_id"], 0) > 0
            judge_item(associate, result.shortlist_id, item["item_id"], "accept" if fits else "reject",
                       "" if fits else "not for her")
            judged += 1
    return judged


def run_job(config: dict | None, admin):
    """Queue a ranker job (`None`: as the admin console does) and run it to success."""
    job = (jobs.enqueue(config, created_by=admin.id) if config is not None
           else handlers_admin.start_ranker_training(Actor.of(admin)))
    assert run_worker(worker_id="w1", once=True, log=lambda _: None) == 1
    job = jobs.get_job(job.id)
    assert job.status == "succeeded", job.error + job.log_tail
    return job


def test_verdicts_train_a_ranker_that_only_its_gate_can_promote(fusion_world, small_world):
    admin = create_account("root", "admin", PASSWORD)
    create_account("ines", "associate", PASSWORD)
    assert live_catalogue().ranker.label == "fusion"
    with pytest.raises(ConciergeError, match="no associate feedback"):
        handlers_admin.start_ranker_training(Actor.of(admin))
    reviewed = [q for q in small_world.queries if q["split"] == "train" and q["relevant"]]
    assign_clients(sorted({q["client_id"] for q in reviewed}), "ines")
    associate = Actor.of(get_account("ines"))
    shortlists: dict = {}
    assert review(associate, reviewed, shortlists) >= 5 * ranking.MIN_TRAIN_QUERIES

    # No labelled requests (what the admin console queues): the gate cross-validates over the verdicts.
    job = run_job(None, admin)
    info, gate = job.metrics["ranker"], job.metrics["gate"]
    assert info["fusion_prior"] == ranking.FEEDBACK_PRIOR and info["gate_source"].endswith("cross-validation")
    # every judged shortlist with an accepted item is trained on, and scored once by a fold's ranker
    assert info["verdict_groups"] == gate["n"] >= ranking.MIN_TRAIN_QUERIES
    assert set(gate["per_query"]["candidate"]) == set(gate["per_query"]["served"])
    assert gate["served"] == "fusion" and "passed" in gate
    with session() as s:
        assert {f.used_by_job_id for f in s.exec(select(Feedback))} == {job.id}
    failed = run_job_expecting_failure(admin)  # nothing left that an earlier job has not used
    with pytest.raises(ConciergeError, match="not a finished ranker job"):
        promote_ranker(failed, "it failed", actor_id=admin.id)

    # The same shortlists judged again (new feedback rows), gated on the bundle's labelled val requests.
    review(associate, reviewed, shortlists)
    val = [q["query_id"] for q in small_world.queries if q["split"] == "val" and q["relevant"]]
    job = run_job({"kind": "ranker", "bundle": str(fusion_world), "train_split": False,
                   "eval": {"query_ids": val}}, admin)
    assert job.candidate_version == f"job-{job.id}" and live_catalogue().ranker.label == "fusion"  # not yet
    gate = job.metrics["gate"]
    assert job.metrics["ranker"]["gate_source"] == small_world.name
    saved = json.loads(Path(job.metrics["ranker_candidate"]).with_suffix(".json").read_text())
    # a later import of this catalogue recognises it (backend.live.same_catalogue) once it is served
    assert saved["bundle"] == small_world.name and len(saved["item_sample"]) == len(small_world.items)
    assert 0 < gate["n"] == len(gate["per_query"]["candidate"]) and set(gate["per_query"]["candidate"]) <= set(val)
    with pytest.raises(ConciergeError, match="reason"):
        handlers_admin.promote_ranker_job(Actor.of(admin), job.id, "  ")
    with pytest.raises(AccessDenied):
        handlers_admin.promote_ranker_job(associate, job.id, "I like it")

    outcome = handlers_admin.promote_ranker_job(Actor.of(admin), job.id, "associates' verdicts")
    assert outcome["passed"] == gate["passed"]
    with session() as s:
        action = s.exec(select(AuditLog).where(AuditLog.action.startswith("ranker_"))).one().action
    if gate["passed"]:
        assert action == "ranker_promote" and live_catalogue().ranker.label == f"job-{job.id}"
        assert ranker_shortlist(reviewed[0]).reasoning["ranker"] == f"job-{job.id}"
    else:  # refused: the catalogue keeps its ranker
        assert action == "ranker_refused" and live_catalogue().ranker.label == "fusion"


def run_job_expecting_failure(admin) -> int:
    """A ranker job with no unused feedback fails with the reason; its id."""
    job = jobs.enqueue({"kind": "ranker"}, created_by=admin.id)
    run_worker(worker_id="w1", once=True, log=lambda _: None)
    job = jobs.get_job(job.id)
    assert job.status == "failed" and "no associate feedback" in job.error
    return job.id
