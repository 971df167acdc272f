"""A job's last stage: the fusion share is chosen for a candidate the gate passes, never for one it refuses
(`training.pipeline.gate_candidate`). The registry is replaced by a recorder: what is checked here is the order
of the stages and which run, not the evaluation itself (tests/integration/test_feedback_loop.py runs it all)."""

import threading
from types import SimpleNamespace

import pytest

from training import pipeline


class Registry:
    """Records the calls a job makes; versions are already evaluated and probed, so only the gate decides."""

    def __init__(self, passed: bool):
        self.passed, self.calls = passed, []
        done = {"per_query": [1], "n_instruction": len(pipeline.INSTRUCTION_PROBES[:1])}
        self.rows = {name: SimpleNamespace(version=name, evaluation=done, probes=done) for name in ("job-1", "base")}

    def ensure_base_version(self, model_dir):
        self.calls.append("ensure_base")

    def get_version(self, version):
        return self.rows[version]

    def active_version(self):
        return self.rows["base"]

    def evaluate_version(self, version, *args, **kwargs):
        self.calls.append(f"evaluate {version}")

    def probe_version(self, version, **kwargs):
        self.calls.append(f"probe {version}")

    def check_gate(self, candidate, active):
        self.calls.append("gate")
        return SimpleNamespace(passed=self.passed, reasons=[] if self.passed else ["no better"],
                               to_dict=lambda: {"passed": self.passed})


@pytest.mark.parametrize("passed", [True, False])
def test_the_fusion_share_is_chosen_only_for_a_candidate_the_gate_passes(monkeypatch, tmp_path, passed):
    fake = Registry(passed)
    monkeypatch.setattr(pipeline, "registry", fake)
    monkeypatch.setattr(pipeline, "_same_eval", lambda done, other: True)
    monkeypatch.setattr(pipeline, "choose_fusion", lambda *a: fake.calls.append("fusion") or {"model_weight": 0.2})
    reports = []
    pipeline.gate_candidate("job-1", tmp_path, tmp_path, {"probes": {"limit": 1}}, lambda **r: reports.append(r),
                            threading.Event())
    assert ("fusion" in fake.calls) is passed
    assert fake.calls[-2:] == ["gate", "fusion"] if passed else fake.calls[-1] == "gate"  # the gate first
    logs = " ".join(r.get("log", "") for r in reports)
    assert ("fusion share not chosen" in logs) is not passed
    assert reports[-1]["metrics"]["gate"] == {"passed": passed}
