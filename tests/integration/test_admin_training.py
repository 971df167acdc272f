"""The admin console's training controls, called as handlers: start, watch, cancel, compare, promote, roll back.

No model is loaded: jobs are only queued (no worker runs here), and the versions' evaluation and probe
records are written by hand so the gate has something to decide on.
"""

import json

import pytest
from sqlmodel import func, select

from app import handlers_admin
from app.auth import AccessDenied, Actor, create_account
from app.pictures import training_curves_picture
from backend.store import session
from backend.tables import Account, AuditLog, Client, ModelVersion, TrainingJob
from catalog.errors import ConciergeError
from training import registry

pytestmark = pytest.mark.integration
PASSWORD = "a long password"
FORM = dict(stages=["grpo"], max_steps=4, max_cases=32, learning_rate=2e-4, feedback_share=0.25, eval_limit=10,
            probes_limit=5)


def count(table) -> int:
    with session() as s:
        return s.exec(select(func.count()).select_from(table)).one()


def actions() -> list[str]:
    """Audit actions after the accounts were created, oldest first."""
    with session() as s:
        return [a.action for a in s.exec(select(AuditLog).order_by(AuditLog.id)) if not a.action.startswith("account_")]


def statuses() -> dict:
    with session() as s:
        return {v.version: v.status for v in s.exec(select(ModelVersion)).all()}


@pytest.fixture
def people(settings):
    with session() as s:
        s.add(Client(client_id="c-1", name="Ada"))
    create_account("root", "admin", PASSWORD)
    create_account("ann", "associate", PASSWORD)
    create_account("ada", "client", PASSWORD, client_id="c-1")
    with session() as s:
        return {a.username: Actor.of(a) for a in s.exec(select(Account)).all()}


@pytest.fixture
def versions(people, tmp_path):
    """`base` active, and candidate `job-1` with a LoRA adapter directory but no evaluation yet."""
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    registry.ensure_base_version(tmp_path / "base")
    registry.register_candidate("job-1", tmp_path / "base", adapter)
    return adapter


def evaluated(version: str, ndcg: float, probes: float = 0.8) -> None:
    """Evaluation and probe records as the harness writes them, on the same ten queries."""
    per_query = {f"q{i}": ndcg + 0.01 * (i % 3) for i in range(10)}
    registry.record_results(version, evaluation={
        "bundle": "demo", "digest": "d1", "split": "val", "seed": 0, "protocol": "rerank", "n": 10,
        "metrics": {"ndcg@5": {"mean": ndcg, "low": ndcg - 0.05, "high": ndcg + 0.05},
                    "recall@5": {"mean": 0.5, "low": 0.4, "high": 0.6}, "hit@1": {"mean": 0.3, "low": 0.2, "high": 0.4}},
        "per_query": per_query}, probes={"instruction_following": probes, "knowledge_contains": probes,
                                         "n_instruction": 5, "n_knowledge": 5})


def test_every_training_handler_refuses_non_admins_and_changes_nothing(people, versions):
    job = handlers_admin.start_training(people["root"], **FORM)
    before = (count(TrainingJob), count(AuditLog), statuses())
    for who in (people["ann"], people["ada"]):
        calls = [lambda: handlers_admin.start_training(who, **FORM), lambda: handlers_admin.training_job(who, job.id),
                 lambda: handlers_admin.cancel_training(who, job.id, True),
                 lambda: handlers_admin.compare_versions(who),
                 lambda: handlers_admin.promote_version(who, "job-1", "better"),
                 lambda: handlers_admin.rollback_version(who, "base", "worse"),
                 lambda: handlers_admin.training_overview(who)]
        for call in calls:
            with pytest.raises(AccessDenied, match="admins only"):
                call()
    assert (count(TrainingJob), count(AuditLog), statuses()) == before
    assert handlers_admin.training_job(people["root"], job.id)["status"] == "queued"


@pytest.mark.parametrize("change, message", [
    ({"stages": []}, "choose at least one stage"),
    ({"stages": ["grpo", "dpo"]}, "unknown stage(s) dpo"),
    ({"stages": ["traces"]}, "add sft or grpo"),
    ({"max_steps": 0}, "max steps is 0; it must be between 1 and 5000"),
    ({"max_steps": 2.5}, "max steps must be a whole number"),
    ({"max_cases": None}, "cases must be a whole number"),
    ({"learning_rate": "fast"}, "the learning rate must be a number"),
    ({"learning_rate": 0.5}, "the learning rate is 0.5; it must be between 1e-07 and 0.01"),
    ({"feedback_share": 0}, "the feedback share is 0"),
    ({"eval_limit": -1}, "eval queries is -1"),
    ({"probes_limit": 10_000}, "probes is 10000"),
])
def test_the_form_is_validated_and_nothing_is_queued(people, change, message):
    with pytest.raises(ConciergeError) as error:
        handlers_admin.start_training(people["root"], **{**FORM, **change})
    assert message in str(error.value)
    assert count(TrainingJob) == 0 and actions() == []


def test_a_valid_form_queues_one_job_with_the_pipelines_config_and_an_audit_row(people):
    job = handlers_admin.start_training(people["root"], **{**FORM, "stages": ["grpo", "sft"], "max_steps": "6"})
    assert job.status == "queued" and job.created_by == people["root"].id
    assert job.config == {"overrides": {"stages": ["sft", "grpo"], "data": {"max_cases": 32},
                                        "sft": {"max_steps": 6, "learning_rate": 2e-4},
                                        "grpo": {"max_steps": 6, "learning_rate": 2e-4}},
                          "feedback_share": 0.25, "eval": {"limit": 10}, "probes": {"limit": 5}}
    with session() as s:
        audit = s.exec(select(AuditLog).where(AuditLog.action == "training_enqueued")).one()
    assert audit.detail["job_id"] == job.id and actions() == ["training_enqueued"]
    with pytest.raises(ConciergeError, match=f"job {job.id} is already queued"):
        handlers_admin.start_training(people["root"], **FORM)
    assert count(TrainingJob) == 1


def test_watching_a_job_reads_its_metrics_file_and_draws_the_curves(people, settings):
    job = handlers_admin.start_training(people["root"], **FORM)
    empty = handlers_admin.training_job(people["root"], job.id)
    assert empty["curves"] == [] and empty["running"] and empty["progress"] == 0.0
    run_dir = settings.var_dir / "runs" / f"job-{job.id}"
    run_dir.mkdir(parents=True)
    rows = [{"stage": "grpo", "step": i, "reward": 0.1 * i, "rerec/ndcg": 0.2 + 0.01 * i, "curriculum/pool": 10 - i}
            for i in range(1, 5)]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    view = handlers_admin.training_job(people["root"], job.id)
    assert [r["reward"] for r in view["curves"]] == pytest.approx([0.1, 0.2, 0.3, 0.4])
    picture = training_curves_picture(view["curves"])
    assert picture.size[0] > 600 and picture.getextrema() != ((255, 255), (255, 255), (255, 255))
    with pytest.raises(ConciergeError, match="no training job 999"):
        handlers_admin.training_job(people["root"], 999)
    with pytest.raises(ConciergeError, match="choose a training job first"):
        handlers_admin.training_job(people["root"], None)


def test_cancel_needs_confirmation_then_cancels_once(people):
    job = handlers_admin.start_training(people["root"], **FORM)
    with pytest.raises(ConciergeError, match="tick the confirmation"):
        handlers_admin.cancel_training(people["root"], job.id, confirmed=False)
    assert handlers_admin.training_job(people["root"], job.id)["status"] == "queued"
    cancelled = handlers_admin.cancel_training(people["root"], job.id, confirmed=True)
    assert cancelled.status == "cancelled" and f"by account {people['root'].id}" in cancelled.error
    assert not handlers_admin.training_job(people["root"], job.id)["running"]
    with pytest.raises(ConciergeError, match="already cancelled"):
        handlers_admin.cancel_training(people["root"], job.id, confirmed=True)
    assert actions() == ["training_enqueued", "training_cancelled"]
    handlers_admin.start_training(people["root"], **FORM)  # the slot is free again


def test_promotion_without_evaluation_is_refused_with_the_gates_reasons(people, versions):
    root = people["root"]
    with pytest.raises(ConciergeError, match="a reason for the promotion"):
        handlers_admin.promote_version(root, "job-1", "   ")
    with pytest.raises(ConciergeError, match="choose a model version"):
        handlers_admin.promote_version(root, "", "better")
    assert statuses() == {"base": "active", "job-1": "candidate"} and actions() == []
    rows = {r["version"]: r for r in handlers_admin.compare_versions(root)}
    assert rows["base"]["gate"] == "active" and rows["job-1"]["gate"] == "refused"
    verdict = handlers_admin.promote_version(root, "job-1", "looks better")
    assert not verdict.passed
    assert "job-1 has no evaluation" in verdict.reasons and "base has no evaluation" in verdict.reasons
    assert statuses()["base"] == "active"  # the active version stays; the refusal is audited
    with session() as s:
        audit = s.exec(select(AuditLog).where(AuditLog.action == "promotion_refused")).one()
    assert audit.reason == "looks better" and actions() == ["promotion_refused"]


def test_compare_promote_and_roll_back_with_reasons(people, versions):
    root = people["root"]
    evaluated("base", 0.30)
    evaluated("job-1", 0.50)
    rows = {r["version"]: r for r in handlers_admin.compare_versions(root)}
    assert rows["job-1"]["gate"] == "passes" and rows["job-1"]["reasons"] == []
    assert rows["job-1"]["ndcg@5"]["mean"] == pytest.approx(0.50) and rows["job-1"]["hit@1"]["mean"] == 0.3
    assert rows["job-1"]["instruction_following"] == 0.8 and rows["base"]["n"] == 10
    assert handlers_admin.promote_version(root, "job-1", "NDCG@5 +0.2 on val").passed
    assert statuses() == {"base": "retired", "job-1": "active"}
    before = count(AuditLog)
    for reason in ("", "  "):
        with pytest.raises(ConciergeError, match="a reason for the rollback"):
            handlers_admin.rollback_version(root, "base", reason)
    with pytest.raises(ConciergeError, match="job-1 is already the active version"):
        handlers_admin.rollback_version(root, "job-1", "why not")
    assert statuses() == {"base": "retired", "job-1": "active"} and count(AuditLog) == before
    assert handlers_admin.rollback_version(root, "base", "clients preferred the old lists").status == "active"
    assert statuses() == {"base": "active", "job-1": "retired"}
    log = handlers_admin.audit_log(root)
    assert [a["action"] for a in log[:2]] == ["rollback", "promote"]
    assert log[0]["reason"] == "clients preferred the old lists" and log[0]["who"] == "root"
