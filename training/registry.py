"""The model registry: candidate versions, the promotion gate, promotion and rollback.

A *version* is the base model, or the base model plus a LoRA adapter from a training run. Each
carries two records, both produced by the harness:

- `evaluation`: the re-ranking protocol (20 fixed candidates per query) on a held-out split, with
the
  per-query NDCG@5 so two versions can be compared on exactly the same queries;
- `probes`: the capability probes (instruction following, general knowledge).

The gate (`check_gate`) lets a candidate replace the active version only when

1. both were evaluated on the same bundle (digest), split, seed and queries;
2. the candidate is better on NDCG@5: the paired mean difference is positive and, by default, the
lower
   end of its 95% BCa bootstrap interval is above zero (a measurable gain, not noise). The verdict
   also records the smallest gain the gate can detect at its query count (80% power, paired t
   approximation from the spread of these per-query differences; `docs/results/gate-power.md`);
3. neither probe score (`instruction_following`, `knowledge_contains`) drops more than 5% (relative)
   below the active version's.

Serving reads the active row on every request (`backend.service.active_model_version`), so promotion
and rollback take effect on the next shortlist without a restart; every shortlist records the
version that produced it. Every promotion, refusal and rollback is written to the audit log with its
reason.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sqlmodel import select

from backend.settings import get_settings
from backend.store import session
from backend.tables import AuditLog, ModelVersion
from catalog.errors import ConciergeError
from training.eval_run import EvalConfig, evaluate
from training.metrics import (minimum_detectable_gain, paired_comparison, paired_differences,
                              reasoning_gates)
from training.probes.runner import load_probe_model, score_probes

BASE_VERSION = "base"
GATE_METRIC = "ndcg@5"
PROBE_KEYS = ("instruction_following", "knowledge_contains")
PROBE_TOLERANCE = 0.05  # relative drop allowed on each probe set
EVAL_PROTOCOL = "rerank"


@dataclass
class GateResult:
    """The gate's verdict on a candidate against the version it would replace."""

    candidate: str
    reference: str
    passed: bool
    reasons: list[str] = field(default_factory=list)  # why it was refused (empty when passed)
    # paired comparison candidate - reference on GATE_METRIC
    ndcg: dict = field(default_factory=dict)
    # probe key -> {candidate, reference, relative_change}
    probes: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------------------------
# Records from the harness


def evaluation_record(report: dict, spec: str) -> dict:
    """The part of an `evaluate()` report the registry keeps for one system (`spec`).

    Args:
        report (`dict`): what `training.eval_run.evaluate` returned (re-ranking protocol included).
        spec (`str`): the system spec inside it, e.g. `reasoner@var/runs/x/adapter`.

    Returns:
        `dict`: bundle name and digest, split, seed, n, metrics with intervals, per-query
        GATE_METRIC.

    Raises:
        `ConciergeError`: the report has no re-ranking result for `spec`.
    """
    result = (report.get("results") or {}).get(EVAL_PROTOCOL, {}).get(spec)
    if not result or "metrics" not in result:
        why = f": {result.get('error') or result.get('skipped')}" if result else ""
        raise ConciergeError(f"the evaluation has no {EVAL_PROTOCOL} result for {spec!r}" + why)
    return {
        "bundle": report["bundle"]["name"], "digest": report["bundle"]["digest"],
            "split": report["split"],
        "seed": report["seed"], "protocol": EVAL_PROTOCOL, "n": result["n"],
            "metrics": result["metrics"],
        "per_query": {row["query_id"]: row["scores"][GATE_METRIC] for row in result["per_query"]},
        "reasoning": reasoning_gates([row.get("notes", {}) for row in result["per_query"]]),
        "created": report["created"],
    }


def probe_record(scores: dict) -> dict:
    """The numbers of a `score_probes` result, without the individual responses."""
    return {key: value for key, value in scores.items() if not key.endswith("_probes")}


# ----------------------------------------------------------------------------------------------
# The gate (pure)


def check_gate(candidate: ModelVersion, reference: ModelVersion, require_interval: bool = True,
               tolerance: float = PROBE_TOLERANCE) -> GateResult:
    """Decide whether `candidate` may replace `reference`.

    Args:
        candidate (`ModelVersion`), reference (`ModelVersion`): both with `evaluation` and `probes`
            filled.
        require_interval (`bool`): also require the lower end of the paired 95% interval to be above
            0.
        tolerance (`float`): the relative drop allowed on each probe score.

    Returns:
        `GateResult`: passed, with the reasons when not, and the numbers behind the verdict.
    """
    result = GateResult(candidate.version, reference.version, passed=False)
    ev_c, ev_r = candidate.evaluation or {}, reference.evaluation or {}
    if not ev_c.get("per_query"):
        result.reasons.append(f"{candidate.version} has no evaluation")
    if not ev_r.get("per_query"):
        result.reasons.append(f"{reference.version} has no evaluation")
    if not result.reasons:
        for key in ("digest", "split", "seed"):
            if ev_c.get(key) != ev_r.get(key):
                result.reasons.append(f"the two evaluations differ in {key} ({ev_c.get(key)!r} vs "
                                      f"{ev_r.get(key)!r}); evaluate both on the same bundle, "
                                      "split and seed")
        if set(ev_c["per_query"]) != set(ev_r["per_query"]):
            result.reasons.append("the two evaluations scored different queries; use the same "
                                  "--limit and seed")
    if not result.reasons:
        comparison = paired_comparison(ev_c["per_query"], ev_r["per_query"], candidate.version,
                                       reference.version, GATE_METRIC)
        detectable = minimum_detectable_gain(paired_differences(ev_c["per_query"],
                                                                ev_r["per_query"]))
        # None: under 2 queries
        detectable = round(detectable, 4) if math.isfinite(detectable) else None
        result.ndcg = comparison.to_dict() | {"detectable_gain": detectable}
        diff = comparison.diff
        if diff.mean <= 0:
            result.reasons.append(f"{GATE_METRIC} is not better: {diff.mean:+.3f} "
                                  f"[{diff.low:+.3f}, {diff.high:+.3f}]")
        elif require_interval and diff.low <= 0:
            result.reasons.append(f"{GATE_METRIC} gain {diff.mean:+.3f} is not measurable: its 95% "
                                  f"interval [{diff.low:+.3f}, {diff.high:+.3f}] includes 0"
                                  + (f" (on {comparison.n} queries with this spread the gate "
                                     f"detects gains of about {detectable:.3f} or more)"
                                     if detectable is not None else ""))
    sizes = [((candidate.probes or {}).get(n), (reference.probes or {}).get(n))
             for n in ("n_instruction", "n_knowledge")]
    if any(a is not None and b is not None and a != b for a, b in sizes):
        result.reasons.append("the probe scores were taken on different numbers of probes; probe "
                              "both with the same --limit")
    for key in PROBE_KEYS:
        new, old = (candidate.probes or {}).get(key), (reference.probes or {}).get(key)
        if new is None or old is None:
            result.reasons.append(f"probe score {key} missing for "
                                  f"{candidate.version if new is None else reference.version}")
            continue
        change = (new - old) / old if old > 0 else 0.0
        result.probes[key] = {"candidate": new, "reference": old,
                              "relative_change": round(change, 4)}
        if change < -tolerance:
            result.reasons.append(f"{key} drops {-change:.1%} ({old:.3f} -> {new:.3f}), more than "
                                  f"{tolerance:.0%}")
    result.passed = not result.reasons
    return result


# ----------------------------------------------------------------------------------------------
# Store operations


def _now() -> datetime:
    return datetime.now(timezone.utc)


def list_versions() -> list[ModelVersion]:
    """Every version, newest first."""
    with session() as s:
        return list(s.exec(select(ModelVersion).order_by(ModelVersion.created_at.desc())))


def get_version(version: str) -> ModelVersion:
    """The version named `version`. Raises `ConciergeError` naming the known ones when there is
    none."""
    with session() as s:
        return _version_row(s, version)


def _version_row(s, version: str) -> ModelVersion:
    """The row of `version` in session `s`; a `ConciergeError` naming the known ones if none."""
    row = s.get(ModelVersion, version)
    if row is None:
        known = [v.version for v in s.exec(select(ModelVersion))]
        raise ConciergeError(f"unknown model version {version!r}; known: "
                             f"{', '.join(known) or 'none'}")
    return row


def active_version() -> ModelVersion | None:
    with session() as s:
        return s.exec(select(ModelVersion).where(ModelVersion.status == "active")).first()


def ensure_base_version(base_model: str | Path) -> ModelVersion:
    """The `base` version row (the untuned model), created on first use; active when nothing else
    is."""
    with session() as s:
        row = s.get(ModelVersion, BASE_VERSION)
        if row is None:
            active = s.exec(select(ModelVersion).where(ModelVersion.status == "active")).first()
            has_active = active is not None
            row = ModelVersion(version=BASE_VERSION, status="retired" if has_active else "active",
                               base_model=str(base_model),
                               promoted_at=None if has_active else _now())
            s.add(row)
            s.commit()
            s.refresh(row)
        return row


def register_candidate(version: str, base_model: str | Path, adapter_path: str | Path | None,
                       evaluation: dict | None = None, probes: dict | None = None,
                       job_id: int | None = None) -> ModelVersion:
    """Record a finished run as a candidate version.

    Raises:
        `ConciergeError`: the name is taken, or the adapter directory has no adapter in it.
    """
    if adapter_path is not None and not (Path(adapter_path) / "adapter_config.json").is_file():
        raise ConciergeError(f"{adapter_path} is not a LoRA adapter directory (no "
                             "adapter_config.json)")
    with session() as s:
        if s.get(ModelVersion, version) is not None:
            raise ConciergeError(f"model version {version!r} already exists")
        row = ModelVersion(version=version, status="candidate", base_model=str(base_model),
                           adapter_path=str(adapter_path) if adapter_path else None, job_id=job_id,
                           evaluation=evaluation or {}, probes=probes or {})
        s.add(row)
        s.commit()
        s.refresh(row)
        return row


def record_results(version: str, evaluation: dict | None = None,
                   probes: dict | None = None) -> ModelVersion:
    """Store (replace) the evaluation and/or probe records of a version."""
    with session() as s:
        row = _version_row(s, version)
        if evaluation is not None:
            row.evaluation = evaluation
        if probes is not None:
            row.probes = probes
        s.add(row)
        s.commit()
        s.refresh(row)
        return row


def _audit(s, action: str, detail: dict, reason: str, actor_id: int | None) -> None:
    s.add(AuditLog(actor_id=actor_id, action=action, detail=detail, reason=reason))


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ConciergeError("give a reason; it is recorded in the audit log")
    return reason


def promote(version: str, reason: str, actor_id: int | None = None, require_interval: bool = True,
            override: bool = False) -> GateResult:
    """Make `version` the active one if it passes the gate against the active version.

    Args:
        override (`bool`): promote even when the gate refuses (an admin's explicit decision, e.g. a
            fix that must ship); recorded as `promote_override` with the gate's verdict and the
            reason.

    Returns:
        `GateResult`: what the gate decided. A refusal changes nothing but the audit log (and marks
        the candidate `rejected`).

    Raises:
        `ConciergeError`: unknown version, no reason, no active version, or the version is already
        active.
    """
    reason = _require_reason(reason)
    with session() as s:
        candidate = _version_row(s, version)
        current = s.exec(select(ModelVersion).where(ModelVersion.status == "active")).first()
        if current is None:
            raise ConciergeError("there is no active version to compare with; create it with "
                                 "`concierge versions base`")
        if current.version == version:
            raise ConciergeError(f"{version} is already the active version")
        verdict = check_gate(candidate, current, require_interval=require_interval)
        if verdict.passed or override:
            current.status, candidate.status, candidate.promoted_at = "retired", "active", _now()
            s.add(current)
        else:
            candidate.status = "rejected"
        s.add(candidate)
        action = ("promote" if verdict.passed else "promote_override" if override
                  else "promotion_refused")
        _audit(s, action, verdict.to_dict(), reason, actor_id)
        s.commit()
        return verdict


SHIPPED_DIR = Path(__file__).resolve().parent.parent / "models" / "reasoner-default"


def install_shipped(directory: str | Path = SHIPPED_DIR,
                    base_model: str | Path | None = None) -> str:
    """Register the reasoner shipped with the project (`models/reasoner-default/`: a LoRA adapter
    trained by `concierge train --config training/configs/default.yaml`, its `version.json` and
    model card) and, the first time, make it active when the base model is. An admin's choice is
    never replaced: another active version, or a rollback from the shipped one. Idempotent.

    Returns:
        `str`: what happened, for the command's output.
    """
    directory = Path(directory)
    meta_path = directory / "version.json"
    if not meta_path.is_file():
        return f"no shipped reasoner in {directory}"
    meta = json.loads(meta_path.read_text())
    name = meta["version"]
    with session() as s:
        exists = s.get(ModelVersion, name) is not None
        active = s.exec(select(ModelVersion).where(ModelVersion.status == "active")).first()
    if not exists:
        register_candidate(name, base_model or meta.get("base_model", "base"), directory,
                           evaluation=meta.get("evaluation"), probes=meta.get("probes"))
    if active is not None and active.version == name:
        return f"{name} is active"
    if exists or (active is not None and active.version != BASE_VERSION):
        return f"{name} registered; the active version stays {active.version if active else 'none'}"
    with session() as s:
        row = s.get(ModelVersion, name)
        if active is not None:
            current = s.get(ModelVersion, active.version)
            current.status = "retired"
            s.add(current)
        row.status, row.promoted_at = "active", _now()
        s.add(row)
        _audit(s, "install_shipped", {"version": name, "directory": str(directory),
                                      "results": meta.get("results")},
               "the reasoner shipped with the project (docs/results/reasoner.md)", None)
        s.commit()
    return f"{name} installed and active (was {active.version if active else 'none'})"


def rollback(version: str, reason: str, actor_id: int | None = None) -> ModelVersion:
    """Make an earlier version active again, without the gate (it served before, or is the base).

    Raises:
        `ConciergeError`: unknown version, no reason, already active, or a version that never
        served.
    """
    reason = _require_reason(reason)
    with session() as s:
        target = _version_row(s, version)
        if target.status == "active":
            raise ConciergeError(f"{version} is already the active version")
        if target.promoted_at is None and target.version != BASE_VERSION:
            raise ConciergeError(f"{version} never served (status {target.status}); promote it "
                                 "instead")
        current = s.exec(select(ModelVersion).where(ModelVersion.status == "active")).first()
        if current is not None:
            current.status = "retired"
            s.add(current)
        target.status, target.promoted_at = "active", _now()
        s.add(target)
        _audit(s, "rollback", {"to": version, "from": current.version if current else None}, reason,
               actor_id)
        s.commit()
        s.refresh(target)
        return target


# ----------------------------------------------------------------------------------------------
# Producing the records with the harness


def system_spec(row: ModelVersion) -> str:
    """The evaluation system that answers as this version (`reasoner` or `reasoner@ADAPTER`)."""
    return f"reasoner@{row.adapter_path}" if row.adapter_path else "reasoner"


def evaluate_version(version: str, bundle: str | Path, split: str = "val", limit: int = 30,
                     seed: int = 0, threads: int = 1, progress: bool = True,
                     concurrency: int = 8, query_ids: list[str] | None = None) -> dict:
    """Evaluate a version with the harness (re-ranking protocol) and store the record.

    The same bundle, split, limit and seed give the same queries and candidate lists, so two
    versions evaluated this way can be gated against each other. `concurrency` queries are in
    flight at once, their tokens decoded in one batch; `query_ids` keeps only those queries of the
    split (e.g. the held-out requests of the clients whose feedback trained the candidate).
    """
    row = get_version(version)
    spec = system_spec(row)
    report = evaluate(EvalConfig(bundle=str(bundle), split=split, systems=[spec], ks=[5, 10],
                                 protocols=[EVAL_PROTOCOL], limit=limit, llm_limit=limit, seed=seed,
                                 progress=progress, threads=threads,
                                 concurrency=concurrency, query_ids=query_ids))
    record = evaluation_record(report, spec)
    record_results(version, evaluation=record)
    return record


def probe_version(version: str, limit: int | None = None, progress: bool = True) -> dict:
    """Score a version on the capability probes and store the record."""
    row = get_version(version)
    record = probe_record(score_probes(load_probe_model(row.adapter_path or "base"), limit=limit,
                                       progress=progress))
    record_results(version, probes=record)
    return record


# ----------------------------------------------------------------------------------------------
# Command line: `concierge versions ...`


def add_versions_arguments(parser) -> object:
    """The sub-commands of `concierge versions` (each sets `func`)."""
    sub = parser.add_subparsers(dest="versions_command", required=True)
    p = sub.add_parser("list", help="every version with its status and gate numbers")
    p.set_defaults(func=main_list)
    p = sub.add_parser("base", help="create the `base` version row (the untuned model)")
    p.set_defaults(func=main_base)
    p = sub.add_parser("register", help="record a run's adapter as a candidate version")
    p.add_argument("version", help="a name for it, e.g. rerec-2026-11-30")
    p.add_argument("adapter", help="the LoRA adapter directory")
    p.set_defaults(func=main_register)
    p = sub.add_parser("evaluate",
                       help="evaluate a version (re-ranking protocol) and store the record")
    p.add_argument("version")
    p.add_argument("--bundle", required=True, help="bundle directory with queries")
    p.add_argument("--split", default="val",
                   help="held-out split (default: val; keep test for reports)")
    p.add_argument("--limit", type=int, default=30, help="queries (a seeded subset; default 30)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--concurrency", type=int, default=8,
                   help="queries in flight at once, decoded in one batch (default 8)")
    p.set_defaults(func=main_evaluate)
    p = sub.add_parser("probes",
                       help="score a version on the capability probes and store the record")
    p.add_argument("version")
    p.add_argument("--limit", type=int, default=None, help="only the first N probes of each set")
    p.set_defaults(func=main_probe)
    for name, func, helptext in (("promote", main_promote,
                                  "make a candidate active if it passes the gate"),
                                 ("rollback", main_rollback,
                                  "make an earlier version active again")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("version")
        p.add_argument("--reason", required=True, help="recorded in the audit log")
        if name == "promote":
            p.add_argument("--no-interval", action="store_true",
                           help="accept any positive NDCG@5 gain, even when its interval "
                                "includes 0")
            p.add_argument("--override", action="store_true",
                           help="promote even if the gate refuses (recorded as an override in the "
                                "audit log)")
        p.set_defaults(func=func)
    p = sub.add_parser("promote-ranker", help="serve the ranker that a ranker job trained on "
                       "associates' feedback, if its gate passed (training/ranker_job.py)")
    p.add_argument("job", type=int, help="the job's id")
    p.add_argument("--reason", required=True, help="recorded in the audit log")
    p.set_defaults(func=main_promote_ranker)
    return parser


def main_promote_ranker(args) -> int:
    from training.ranker_job import promote_ranker

    outcome = promote_ranker(args.job, args.reason)
    if outcome["passed"]:
        print(f"the catalogue is now ordered by ranker {outcome['served']}; the next shortlist "
              "uses it")
        return 0
    print("refused: " + "; ".join(outcome["reasons"]))
    return 1


def _gate_numbers(row: ModelVersion) -> str:
    metric = ((row.evaluation or {}).get("metrics") or {}).get(GATE_METRIC)
    ndcg = f"{metric['mean']:.3f} [{metric['low']:.3f}, {metric['high']:.3f}]" if metric else "-"
    scores = row.probes or {}
    probes = " / ".join(f"{scores.get(k):.3f}" if scores.get(k) is not None else "-"
                        for k in PROBE_KEYS)
    return f"{GATE_METRIC} {ndcg}  probes (instructions / knowledge) {probes}"


def main_list(args) -> int:
    rows = list_versions()
    if not rows:
        print("no model versions yet; `concierge versions base` creates the base one")
    for row in rows:
        print(f"{row.version:<28} {row.status:<9} {_gate_numbers(row)}  {row.adapter_path or ''}")
    return 0


def main_base(args) -> int:
    row = ensure_base_version(get_settings().model_dir)
    print(f"{row.version}: {row.status}")
    return 0


def main_register(args) -> int:
    row = register_candidate(args.version, get_settings().model_dir, args.adapter)
    print(f"registered {row.version} as a candidate; evaluate and probe it, then `concierge "
          "versions promote`")
    return 0


def main_evaluate(args) -> int:
    record = evaluate_version(args.version, args.bundle, args.split, args.limit, args.seed,
                              args.threads, concurrency=args.concurrency)
    metric = record["metrics"][GATE_METRIC]
    print(f"{args.version}: {GATE_METRIC} {metric['mean']:.3f} [{metric['low']:.3f}, "
          f"{metric['high']:.3f}] on {record['n']} {record['split']} queries")
    return 0


def main_probe(args) -> int:
    record = probe_version(args.version, args.limit)
    print(f"{args.version}: " + ", ".join(f"{k} {record[k]:.3f}" for k in PROBE_KEYS))
    return 0


def main_promote(args) -> int:
    verdict = promote(args.version, args.reason, require_interval=not args.no_interval,
                      override=args.override)
    if verdict.passed or args.override:
        print(f"{args.version} is now active (was {verdict.reference}); the next shortlist uses it")
        for reason in ([] if verdict.passed else verdict.reasons):
            print(f"  override of the gate: {reason}")
        return 0
    print(f"refused: {args.version} stays a candidate ({verdict.reference} stays active):")
    for reason in verdict.reasons:
        print(f"  - {reason}")
    return 1


def main_rollback(args) -> int:
    row = rollback(args.version, args.reason)
    print(f"{row.version} is active again")
    return 0
