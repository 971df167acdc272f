"""The registry on a real database: candidates, gated promotion, rollback, audit log, CLI."""

import json
from datetime import datetime, timezone

import pytest
from sqlmodel import select

from app.cli import main
from backend.store import session
from backend.tables import AuditLog, ModelVersion
from catalog.errors import ConciergeError
from training import registry

pytestmark = pytest.mark.integration
QUERIES = [f"q{i}" for i in range(20)]


def adapter_dir(tmp_path, name: str):
    path = tmp_path / name
    path.mkdir()
    (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    return path


def records(score: float, instructions: float = 0.32):
    return ({"digest": "d", "split": "val", "seed": 0, "per_query": {q: score for q in QUERIES},
             "metrics": {"ndcg@5": {"mean": score, "low": score, "high": score}}},
            {"instruction_following": instructions, "knowledge_contains": 0.5, "n_instruction": 100, "n_knowledge": 100})


def test_promotion_is_gated_audited_and_rolled_back(settings, tmp_path):
    base = registry.ensure_base_version("var/models/base")
    assert base.status == "active"
    evaluation, probes = records(0.3)
    registry.record_results("base", evaluation, probes)

    worse = registry.register_candidate("v-worse", "var/models/base", adapter_dir(tmp_path, "a1"), *records(0.2))
    verdict = registry.promote(worse.version, reason="try it", actor_id=None)
    assert not verdict.passed
    assert registry.active_version().version == "base"
    assert registry.get_version("v-worse").status == "rejected"

    registry.register_candidate("v-better", "var/models/base", adapter_dir(tmp_path, "a2"), *records(0.5))
    assert registry.promote("v-better", reason="beats base on val").passed
    assert registry.active_version().version == "v-better"
    assert registry.get_version("base").status == "retired"

    with pytest.raises(ConciergeError, match="never served"):
        registry.rollback("v-worse", reason="no")
    registry.rollback("base", reason="associates preferred the old answers")
    assert registry.active_version().version == "base"

    with session() as s:
        actions = [(a.action, a.reason) for a in s.exec(select(AuditLog).order_by(AuditLog.id))]
    assert actions == [("promotion_refused", "try it"), ("promote", "beats base on val"),
                       ("rollback", "associates preferred the old answers")]


def test_bad_input_is_refused_and_changes_nothing(settings, tmp_path):
    registry.ensure_base_version("var/models/base")
    with pytest.raises(ConciergeError, match="not a LoRA adapter"):
        registry.register_candidate("v1", "var/models/base", tmp_path)
    registry.register_candidate("v1", "var/models/base", adapter_dir(tmp_path, "a"))
    with pytest.raises(ConciergeError, match="already exists"):
        registry.register_candidate("v1", "var/models/base", adapter_dir(tmp_path, "b"))
    with pytest.raises(ConciergeError, match="give a reason"):
        registry.promote("v1", reason="  ")
    with pytest.raises(ConciergeError, match="unknown model version 'nope'"):
        registry.promote("nope", reason="x")
    with session() as s:
        assert s.exec(select(AuditLog)).all() == []
        assert s.get(ModelVersion, "v1").status == "candidate"


def test_cli_lists_and_refuses_without_traceback(settings, tmp_path, capsys):
    assert main(["versions", "base"]) == 0
    assert main(["versions", "register", "v1", str(adapter_dir(tmp_path, "a"))]) == 0
    assert main(["versions", "promote", "v1", "--reason", "why not"]) == 1  # no evaluation: refused
    out = capsys.readouterr().out
    assert "refused" in out and "v1 has no evaluation" in out
    assert main(["versions", "rollback", "ghost", "--reason", "x"]) == 2
    assert "unknown model version 'ghost'" in capsys.readouterr().err
    assert main(["versions", "list"]) == 0
    listing = capsys.readouterr().out
    assert "base" in listing and "v1" in listing and "rejected" in listing


def test_an_override_promotes_despite_the_gate_and_says_so(settings, tmp_path):
    registry.ensure_base_version("var/models/base")
    registry.record_results("base", *records(0.3))
    registry.register_candidate("v-hotfix", "var/models/base", adapter_dir(tmp_path, "a"), *records(0.3))
    verdict = registry.promote("v-hotfix", reason="ships the fix for the broken parser", override=True)
    assert not verdict.passed and registry.active_version().version == "v-hotfix"
    with session() as s:
        log = s.exec(select(AuditLog)).one()
    assert log.action == "promote_override" and "not better" in log.detail["reasons"][0]


def test_the_shipped_reasoner_is_installed_over_the_base_once_and_never_against_an_admins_choice(settings, tmp_path):
    shipped = adapter_dir(tmp_path, "shipped")
    (shipped / "version.json").write_text(json.dumps({"version": "reasoner-default-v9", "results": {"x": 1}}))
    registry.ensure_base_version("var/models/base")
    assert "installed and active (was base)" in registry.install_shipped(shipped, "var/models/base")
    assert registry.active_version().version == "reasoner-default-v9"
    assert registry.install_shipped(shipped) == "reasoner-default-v9 is active"  # idempotent
    registry.rollback("base", reason="the admin prefers the base")
    assert "the active version stays base" in registry.install_shipped(shipped)  # a re-seed respects that
    registry.register_candidate("v-admin", "var/models/base", adapter_dir(tmp_path, "a3"), *records(0.5))
    with session() as s:
        row = s.get(ModelVersion, "v-admin")
        row.status, row.promoted_at = "active", datetime.now(timezone.utc)
        s.get(ModelVersion, "base").status = "retired"
        s.add(row)
        s.commit()
    assert "the active version stays v-admin" in registry.install_shipped(shipped)
    assert registry.active_version().version == "v-admin"
    with session() as s:
        installs = [a for a in s.exec(select(AuditLog)) if a.action == "install_shipped"]
    assert len(installs) == 1 and installs[0].detail["version"] == "reasoner-default-v9"
    assert "no shipped reasoner" in registry.install_shipped(tmp_path / "nothing")
