"""The promotion gate: better on NDCG@5 measurably, same queries, probes within 5%."""

import pytest

from backend.tables import ModelVersion
from training.registry import check_gate


def version(name: str, per_query: dict[str, float], instructions: float = 0.32, knowledge: float = 0.52,
            digest: str = "d1", n_probes: int = 100) -> ModelVersion:
    return ModelVersion(version=name, base_model="base", evaluation={
        "digest": digest, "split": "val", "seed": 0, "per_query": per_query}, probes={
        "instruction_following": instructions, "knowledge_contains": knowledge,
        "n_instruction": n_probes, "n_knowledge": n_probes})


QUERIES = [f"q{i}" for i in range(20)]
OLD = version("base", {q: 0.3 for q in QUERIES})


def test_a_clear_gain_with_kept_probes_passes():
    new = version("v1", {q: 0.6 for q in QUERIES}, instructions=0.31, knowledge=0.50)
    verdict = check_gate(new, OLD)
    assert verdict.passed, verdict.reasons
    assert abs(verdict.ndcg["diff"]["mean"] - 0.3) < 1e-9
    assert verdict.probes["instruction_following"]["relative_change"] == round((0.31 - 0.32) / 0.32, 4)


def test_no_gain_is_refused():
    verdict = check_gate(version("v1", {q: 0.3 for q in QUERIES}), OLD)
    assert not verdict.passed and "not better" in verdict.reasons[0]


def test_a_gain_within_noise_is_refused_unless_the_interval_is_waived():
    noisy = {q: (0.9 if i % 2 else 0.0) for i, q in enumerate(QUERIES)}  # mean 0.45 vs 0.3 but per query +-
    noisy_old = version("base", {q: (0.0 if i % 2 else 0.6) for i, q in enumerate(QUERIES)})
    candidate = version("v1", noisy)
    strict = check_gate(candidate, noisy_old)
    assert not strict.passed and "includes 0" in strict.reasons[0]
    # differences 0.9 and -0.6 alternating: sd 0.75 * sqrt(20 / 19) = 0.7695; on 20 queries the gate detects
    # (t_0.975,19 + t_0.8,19) * 0.7695 / sqrt(20) = (2.0930 + 0.8610) * 0.7695 / 4.4721 = 0.508 (80% power)
    assert strict.ndcg["detectable_gain"] == pytest.approx(0.508, abs=1e-3)
    assert "detects gains of about 0.508" in strict.reasons[0]
    assert check_gate(candidate, noisy_old, require_interval=False).passed


def test_a_probe_drop_beyond_five_percent_is_refused():
    verdict = check_gate(version("v1", {q: 0.6 for q in QUERIES}, knowledge=0.49), OLD)  # -5.8%
    assert not verdict.passed
    assert any("knowledge_contains drops 5.8%" in r for r in verdict.reasons)


def test_evaluations_of_different_bundles_or_queries_cannot_be_compared():
    other_bundle = check_gate(version("v1", {q: 0.6 for q in QUERIES}, digest="d2"), OLD)
    assert not other_bundle.passed and "differ in digest" in other_bundle.reasons[0]
    fewer = check_gate(version("v1", {q: 0.6 for q in QUERIES[:10]}), OLD)
    assert not fewer.passed and "different queries" in fewer.reasons[0]
    probes = check_gate(version("v1", {q: 0.6 for q in QUERIES}, n_probes=10), OLD)
    assert not probes.passed and "different numbers of probes" in probes.reasons[0]


def test_missing_records_are_named():
    bare = ModelVersion(version="v1", base_model="base")
    verdict = check_gate(bare, OLD)
    assert not verdict.passed
    assert "v1 has no evaluation" in verdict.reasons
    assert any("probe score instruction_following missing for v1" == r for r in verdict.reasons)
