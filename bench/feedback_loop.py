"""Benchmark: does associate feedback make a better model? (issue 15, item 4)

    python bench/feedback_loop.py --var-dir var/feedback-loop [--per-client 2] [--gate-limit 100]
    python bench/feedback_loop.py --job ranker --var-dir var/feedback-ranker --gate-limit 300
    python bench/feedback_loop.py --job ranker --ranker-gate verdicts --var-dir var/feedback-ranker-v

Runs the product's learning loop end to end on a scratch copy of the demo store, with simulated
associates who judge by the demo world's hidden tastes:

1. Seed: `concierge seed-demo` into `--var-dir` (the demo world, its ranker, the shipped tuned
   reasoner active), with the base model of `var/models/base`.
2. Clients: the demo world's validation-split clients (the training recipe never saw them). Each
   client's requests in time order: the first `--per-client` are asked now; the rest are that
   client's held-out requests (`OUT/heldout.txt`), never shown to the associates nor trained on.
3. Shortlists: each asked request goes through `backend.service.recommend` (the serving path,
   stored as a client's request is), 8 at once.
4. Associates: one associate account looks after these clients and reviews every shortlist through
   the review console's handlers (`app.handlers_associate`), judging by the request's graded ground
   truth, which the demo world derived from the client's hidden tastes: accept an item that fits,
   reject one that does not (with a reason), move the best-fitting shown item to the top when it is
   not there, replace the first rejected item by the best-fitting item that was not shown, and flag
   the first reasoning step the verifier found inconsistent.
5. Retraining: an admin queues one job (`training/configs/feedback.yaml`: template traces of the
   feedback's cases and of the train split, SFT that continues the active adapter,
   `from_active`), gated on a seeded subset of the held-out requests (`eval.query_ids`); `concierge
   worker --once` runs it. The job is timed end to end.
6. Verdict: the gate's paired comparison (candidate vs active, NDCG@5 on the held-out requests,
   BCa interval) and both probe scores. If the gate passes, the candidate is promoted through it
   (no override) and one more held-out request is asked: its shortlist must carry the new version.

With `--job ranker` the loop retrains the catalogue's ranker instead of the reasoner
(`training/ranker_job.py`), on the case where that matters: a catalogue imported without labelled
requests. After seeding, the served ranker is replaced by fusion (what such a catalogue gets), so the
associates review fusion-ordered shortlists; the job (`train_split: false`) learns from their
verdicts alone and is gated on the held-out requests (candidate ranker vs fusion, NDCG@5 of the
candidates' order); `concierge versions promote-ranker` serves it only if the gate passed, and the
next shortlist must record it (`reasoning.ranker`). The reasoner is untouched by this job.

Each step keeps its result in `--var-dir/feedback-bench.json` and is skipped when run again (a
stopped run resumes; the worker resumes a stopped job from its checkpoint). Writes
docs/results/feedback-loop.md and feedback-loop.json (`--job ranker`: feedback-loop-ranker.*).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PASSWORD = "feedback-bench-password"
ASSOCIATE, ADMIN = "bench-associate", "bench-admin"
CONFIG = "training/configs/feedback.yaml"
REJECT_REASON = "not what this client would choose for this request"
REPLACE_REASON = "she would rather see this one"
REORDER_REASON = "the closest fit should come first"
FLAG_REASON = "this step contradicts the item's facts"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--var-dir", default="var/feedback-loop", help="the scratch store (created)")
    p.add_argument("--per-client", type=int, default=2, help="requests asked now per client")
    p.add_argument("--gate-limit", type=int, default=100, help="held-out requests the gate scores")
    p.add_argument("--feedback-share", type=float, default=0.5,
                   help="share of the job's training cases that come from feedback")
    p.add_argument("--at-once", type=int, default=8, help="shortlists asked at once")
    p.add_argument("--shortlists", type=int, default=100,
                   help="--job ranker: held-out requests asked through the whole serving path (the "
                        "reasoner included) before and after the promotion (0: none)")
    p.add_argument("--ranker-gate", choices=("bundle", "verdicts"), default="bundle",
                   help="--job ranker: gate on the held-out requests (bundle) or, as the admin console's "
                        "job does, cross-validated over the judged shortlists (verdicts)")
    p.add_argument("--job", choices=("reasoner", "ranker"), default="reasoner",
                   help="what the feedback retrains (default: the reasoner)")
    p.add_argument("--out", default="docs/results", help="where the report goes")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    var_dir = Path(args.var_dir).resolve()
    os.environ["CONCIERGE_VAR_DIR"] = str(var_dir)  # this process and its children: the scratch store
    os.environ.setdefault("CONCIERGE_BASE_MODEL_DIR", str(ROOT / "var" / "models" / "base"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    state_path = var_dir / "feedback-bench.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}

    def save() -> None:
        var_dir.mkdir(parents=True, exist_ok=True)
        state_path.write_text(json.dumps(state, indent=1, default=str))

    if "seeded" not in state:
        started = time.perf_counter()
        run_cli("seed-demo", "--quiet")
        state["seeded"] = {"seconds": round(time.perf_counter() - started, 1)}
        if args.job == "ranker":
            state["seeded"]["ranker"] = first_import_ranker()
        save()
    bundle_path, bundle = demo_bundle()
    if "plan" not in state:
        state["plan"] = plan_requests(bundle, args.per_client)
        save()
    plan = state["plan"]
    (var_dir / "heldout.txt").write_text("\n".join(plan["heldout"]) + "\n")
    if "feedback" not in state:
        state["feedback"] = ask_and_review(bundle, plan, args.at_once)
        save()
    if "job" not in state or state["job"].get("status") != "succeeded":
        state["job"] = run_job(bundle_path, plan, args)
        save()
    if (args.job == "ranker" and args.shortlists and "shortlists_before" not in state
            and "verdict" not in state):  # asked before the promotion, or never
        state["shortlists_before"] = shortlist_scores(bundle, plan, args)
        save()
    if state["job"].get("status") == "succeeded" and "verdict" not in state:
        promote = promote_ranker_and_check if args.job == "ranker" else promote_and_check
        state["verdict"] = promote(state["job"], bundle, plan)
        save()
    if (args.job == "ranker" and args.shortlists and state.get("verdict", {}).get("passed")
            and "shortlists_after" not in state):
        state["shortlists_after"] = shortlist_scores(bundle, plan, args)
        save()
    write_report(state, args)
    return 0 if state["job"].get("status") == "succeeded" else 1


def run_cli(*command: str) -> None:
    subprocess.run([sys.executable, "-m", "app.cli", *command], cwd=ROOT, check=True,
                   env=os.environ.copy())


def first_import_ranker() -> dict:
    """Serve fusion, as a catalogue imported without labelled requests is served (`--job ranker`)."""
    from backend import ranker as ranking
    from backend.live import clear_cache, live_catalogue, ranker_path

    catalogue = live_catalogue()
    from backend.settings import get_settings

    catalogue = live_catalogue()
    ranking.save(ranking.Ranker(None, {"kind": "fusion", "why": "feedback bench: a first import"}),
                 ranker_path(catalogue.collection, get_settings()))
    clear_cache()
    return {"collection": catalogue.collection, "served": live_catalogue().ranker.label}


def demo_bundle():
    """The seeded demo world as a bundle directory in the scratch store (its path and rows)."""
    from backend.settings import get_settings
    from training.eval_queries import load_bundle
    from training.jobs import ensure_demo_bundle

    path = ensure_demo_bundle(get_settings().var_dir)
    return path, load_bundle(path)


def plan_requests(bundle, per_client: int) -> dict:
    """Validation-split clients: their first `per_client` requests are asked, the rest held out."""
    by_client: dict[str, list[dict]] = {}
    for query in bundle.queries:
        if query["split"] == "val":
            by_client.setdefault(query["client_id"], []).append(query)
    clients, asked, heldout = [], [], []
    for client_id in sorted(by_client):
        queries = sorted(by_client[client_id], key=lambda q: (q.get("timestamp") or "", q["query_id"]))
        if len(queries) <= per_client:
            continue  # nothing would be left to hold out
        clients.append(client_id)
        asked += [q["query_id"] for q in queries[:per_client]]
        heldout += [q["query_id"] for q in queries[per_client:]]
    return {"clients": clients, "asked": asked, "heldout": heldout}


def ask_and_review(bundle, plan: dict, at_once: int) -> dict:
    """Ask every planned request, then review each shortlist as the client's associate would."""
    from app.auth import Actor, assign_clients, create_account, get_account
    from backend.service import recommend
    from catalog.errors import ConciergeError

    for name, role in ((ASSOCIATE, "associate"), (ADMIN, "admin")):
        try:
            create_account(name, role, PASSWORD)
        except ConciergeError:
            pass  # made by an earlier run
    assign_clients(plan["clients"], ASSOCIATE)
    associate = Actor.of(get_account(ASSOCIATE))
    queries = {q["query_id"]: q for q in bundle.queries}
    asked = [queries[i] for i in plan["asked"]]
    started = time.perf_counter()
    with ThreadPoolExecutor(at_once) as pool:
        results = list(pool.map(lambda q: recommend(q["client_id"], q["text"], seed=0), asked))
    ask_seconds = time.perf_counter() - started
    counts: dict[str, int] = {}
    for query, result in zip(asked, results):
        for kind in review(associate, result, query["relevant"], bundle):
            counts[kind] = counts.get(kind, 0) + 1
    return {"shortlists": len(results), "ask_seconds": round(ask_seconds, 1),
            "nothing_fits": sum(r.nothing_fits for r in results),
            "model_versions": sorted({r.model_version for r in results}),
            "events": counts, "total_events": sum(counts.values())}


def review(associate, result, relevant: dict, bundle) -> list[str]:
    """One associate's review of one shortlist (see the module docstring); the kinds it stored."""
    from app.handlers_associate import flag_step, judge_item, reorder_item, replace_item

    grade = {item: int(g) for item, g in relevant.items()}
    shown = [it["item_id"] for it in result.items]
    done = []
    for item in shown:
        fits = grade.get(item, 0) > 0
        judge_item(associate, result.shortlist_id, item, "accept" if fits else "reject",
                   "" if fits else REJECT_REASON)
        done.append("accept" if fits else "reject")
    if shown:
        best = max(shown, key=lambda i: (grade.get(i, 0), -shown.index(i)))
        if best != shown[0] and grade.get(best, 0) > grade.get(shown[0], 0):
            reorder_item(associate, result.shortlist_id, best, 1, REORDER_REASON)
            done.append("reorder")
    rejected = [i for i in shown if grade.get(i, 0) == 0]
    unseen = sorted((i for i in grade if grade[i] > 0 and i not in shown), key=lambda i: -grade[i])
    if rejected and unseen:
        replace_item(associate, result.shortlist_id, rejected[0], unseen[0], REPLACE_REASON)
        done.append("replace")
    wrong = [s for s in result.steps if s.get("verdict") == "inconsistent"]
    if wrong:
        flag_step(associate, result.shortlist_id, wrong[0]["index"], "wrong", FLAG_REASON)
        done.append("flag_wrong")
    return done


def run_job(bundle_path: Path, plan: dict, args) -> dict:
    """Queue the retraining job as an admin would and run it with `concierge worker --once`."""
    from app.auth import get_account
    from training import jobs

    pending = [j for j in jobs.list_jobs() if j.status in jobs.ACTIVE]
    gate = sorted(random.Random("feedback-bench").sample(plan["heldout"],
                                                          min(args.gate_limit, len(plan["heldout"]))))
    if pending:
        job = pending[0]  # a stopped run's job: the worker takes it over and resumes it
    elif args.job == "ranker" and args.ranker_gate == "verdicts":
        job = jobs.enqueue({"kind": "ranker"}, created_by=get_account(ADMIN).id)
    elif args.job == "ranker":
        job = jobs.enqueue({"kind": "ranker", "bundle": str(bundle_path), "train_split": False,
                            "eval": {"split": "val", "limit": len(gate), "seed": 0,
                                     "query_ids": gate}}, created_by=get_account(ADMIN).id)
    else:
        job = jobs.enqueue({"bundle": str(bundle_path), "config": CONFIG, "from_active": True,
                            "feedback_share": args.feedback_share,
                            "eval": {"split": "val", "limit": len(gate), "seed": 0,
                                     "query_ids": gate},
                            "probes": {"limit": 20}}, created_by=get_account(ADMIN).id)
    started = time.perf_counter()
    run_cli("worker", "--once")
    seconds = time.perf_counter() - started
    job = jobs.get_job(job.id)
    return {"id": job.id, "status": job.status, "error": job.error, "worker_seconds": round(seconds, 1),
            "created_at": job.created_at, "finished_at": job.finished_at,
            "candidate": job.candidate_version, "metrics": job.metrics, "gate_queries": len(gate),
            "log_tail": job.log_tail[-1500:]}


def promote_and_check(job: dict, bundle, plan: dict) -> dict:
    """Promote through the gate (no override); if it passed, ask one held-out request again."""
    from app.auth import get_account
    from backend.service import recommend
    from training import registry

    verdict = registry.promote(job["candidate"], reason="feedback bench: associates' feedback",
                               actor_id=get_account(ADMIN).id)
    out = {"passed": verdict.passed, "reasons": verdict.reasons,
           "active": registry.active_version().version}
    if verdict.passed:
        query = {q["query_id"]: q for q in bundle.queries}[plan["heldout"][0]]
        after = recommend(query["client_id"], query["text"], seed=0)
        out["next_shortlist"] = {"shortlist_id": after.shortlist_id,
                                 "model_version": after.model_version}
    return out


def live_ranker_label() -> str:
    from backend.live import live_catalogue

    return live_catalogue().ranker.label


def shortlist_scores(bundle, plan: dict, args) -> dict:
    """NDCG@5 of the served shortlists (the whole path: ranker, reasoner, fusion of the two) of the
    first `--shortlists` held-out requests with a relevant item, asked `--at-once` at a time."""
    from backend.service import recommend
    from training.metrics import ndcg_at_k

    queries = {q["query_id"]: q for q in bundle.queries}
    asked = [queries[i] for i in plan["heldout"] if queries[i].get("relevant")][:args.shortlists]
    started = time.perf_counter()
    with ThreadPoolExecutor(args.at_once) as pool:
        results = list(pool.map(lambda q: recommend(q["client_id"], q["text"], seed=0), asked))
    grades = [{k: int(v) for k, v in q["relevant"].items()} for q in asked]
    return {"seconds": round(time.perf_counter() - started, 1),
            "rankers": sorted({r.reasoning.get("ranker", "?") for r in results}),
            "ndcg@5": {q["query_id"]: ndcg_at_k([it["item_id"] for it in r.items], g, 5)
                       for q, r, g in zip(asked, results, grades)}}


def promote_ranker_and_check(job: dict, bundle, plan: dict) -> dict:
    """`concierge versions promote-ranker` (no override); if it passed, ask a held-out request again:
    its shortlist must record the job's ranker."""
    from app.auth import get_account
    from backend.service import recommend
    from training.ranker_job import promote_ranker

    outcome = promote_ranker(job["id"], "feedback bench: associates' verdicts",
                             actor_id=get_account(ADMIN).id)
    out = {"passed": outcome["passed"], "reasons": outcome.get("reasons", []),
           "active": outcome.get("served") or live_ranker_label()}
    if outcome["passed"]:
        query = {q["query_id"]: q for q in bundle.queries}[plan["heldout"][0]]
        after = recommend(query["client_id"], query["text"], seed=0)
        out["next_shortlist"] = {"shortlist_id": after.shortlist_id,
                                 "model_version": after.model_version,
                                 "ranker": after.reasoning.get("ranker")}
    return out


def write_report(state: dict, args) -> None:
    from training.eval_report import write_keeping_notes

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    state = {**state, "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg(),
                                  "python": platform.python_version()},
             "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "command": "python bench/feedback_loop.py " + " ".join(sys.argv[1:])}
    name = {"reasoner": "feedback-loop", "ranker": "feedback-loop-ranker"}[args.job]
    name += "-verdicts" if args.job == "ranker" and args.ranker_gate == "verdicts" else ""
    (out / f"{name}.json").write_text(json.dumps(state, indent=1, default=str))
    on_verdicts = args.job == "ranker" and args.ranker_gate == "verdicts"
    write_keeping_notes(out / f"{name}.md", report_markdown(state, args.job, on_verdicts))


def report_markdown(state: dict, kind: str = "reasoner", on_verdicts: bool = False) -> str:
    plan, fb, job = state["plan"], state.get("feedback", {}), state.get("job", {})
    gate = (job.get("metrics") or {}).get("gate") or {}
    title = ("# Associate feedback -> a ranker job -> the gate (a catalogue without labelled requests)"
             if kind == "ranker" else "# Associate feedback -> a retraining job -> the gate (issue 15, item 4)")
    lines = [title, "",
             f"Produced by `{state['command']}` ({state['written']}; load average "
             f"{', '.join(f'{x:.1f}' for x in state['machine']['load_average'])} on "
             f"{state['machine']['cpus']} cores at the end). See the script's docstring for the "
             "protocol.", "",
             f"- Clients: {len(plan['clients'])} of the demo world's validation split; "
             f"{len(plan['asked'])} requests asked, {len(plan['heldout'])} held out "
             + ("(the gate scores the judged shortlists instead)." if on_verdicts else
                f"({job.get('gate_queries', '?')} of them scored by the gate)."),
             f"- Shortlists: {fb.get('shortlists')} in {fb.get('ask_seconds')} s "
             f"({fb.get('nothing_fits')} said nothing fits), answered by "
             f"{', '.join(fb.get('model_versions', []))}.",
             f"- Feedback events: {fb.get('total_events')} "
             f"({', '.join(f'{k} {v}' for k, v in sorted((fb.get('events') or {}).items()))}).",
             f"- Job {job.get('id')}: {job.get('status')} in {job.get('worker_seconds')} s of "
             f"`concierge worker --once` (queued {job.get('created_at')}, finished "
             f"{job.get('finished_at')}); candidate `{job.get('candidate')}`."]
    ndcg = gate.get("ndcg") or {}
    if ndcg:
        diff = ndcg.get("diff") or {}
        where = ("the judged shortlists, cross-validated (graded by every verdict)" if on_verdicts
                 else "the held-out requests")
        lines.append(f"- Gate, NDCG@5 on {where}: candidate − active "
                     f"{diff.get('mean', float('nan')):+.3f} [{diff.get('low', float('nan')):+.3f}, "
                     f"{diff.get('high', float('nan')):+.3f}] (n = {ndcg.get('n')}; detectable gain "
                     f"≈ {ndcg.get('detectable_gain')}).")
    if gate:
        lines.append(f"- Gate verdict: {'passed' if gate.get('passed') else 'refused'}"
                     + (f" ({'; '.join(gate.get('reasons') or [])})" if gate.get("reasons") else "")
                     + ".")
        for key, change in sorted((gate.get("probes") or {}).items()):
            lines.append(f"- Probe {key}: candidate {change.get('candidate')}, active "
                         f"{change.get('reference')} (relative change "
                         f"{change.get('relative_change')}; the gate allows −5%).")
    before, after = state.get("shortlists_before"), state.get("shortlists_after")
    if before and after:
        from training.metrics import paired_comparison

        diff = paired_comparison(after["ndcg@5"], before["ndcg@5"], "after", "before", "ndcg@5").diff
        mean = sum(before["ndcg@5"].values()) / len(before["ndcg@5"])
        lines.append(f"- Whole shortlists (ranker + reasoner, as served) on {len(before['ndcg@5'])} held-out "
                     f"requests: NDCG@5 {mean:.3f} before ({', '.join(before['rankers'])}), after − before "
                     f"{diff.mean:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}] ({', '.join(after['rankers'])}); "
                     f"{before['seconds']} s and {after['seconds']} s.")
    if before and not after:
        mean = sum(before["ndcg@5"].values()) / len(before["ndcg@5"])
        lines.append(f"- Whole shortlists (ranker + reasoner, as served) on {len(before['ndcg@5'])} held-out "
                     f"requests before the promotion: NDCG@5 {mean:.3f} ({', '.join(before['rankers'])}); "
                     "nothing was promoted, so there is no after.")
    verdict = state.get("verdict")
    if verdict:
        lines.append(f"- Promotion through the gate: {'done' if verdict['passed'] else 'refused'}; "
                     f"active {kind} now `{verdict['active']}`"
                     + (f"; the next shortlist (#{verdict['next_shortlist']['shortlist_id']}) "
                        f"carries `{verdict['next_shortlist'].get(kind) or verdict['next_shortlist']['model_version']}`"
                        if verdict.get("next_shortlist") else "") + ".")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
