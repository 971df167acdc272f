"""Benchmark: do associates' verdicts, read as the client's taste, lift that client's later shortlists?

    python bench/feedback_taste.py --var-dir var/feedback-loop

Reads the store `bench/feedback_loop.py` left (the demo world, 84 reviewed shortlists of 42 validation-split
clients) and its plan: each client's held-out requests, which no associate saw. Ranks every held-out
request over the whole catalogue with the serving candidate generator and ranker (`backend.live`: request
understanding, the client's signals, every source, the learned ranker) twice — the client's history alone,
and with the associates' verdicts read as likes and dislikes (`CONCIERGE_FEEDBACK_AS_TASTE`) — and compares
NDCG@10 and NDCG@5, paired per request (BCa intervals, sign-flip p-value). Validation-split clients only:
the setting's default is decided here, never on the test split. Writes docs/results/feedback-taste.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KS = (5, 10)


def rank_all(queries: list[dict], settings, client: str = "history") -> dict[str, list[str]]:
    """query id -> the whole-catalogue ranking of the serving candidate generator under `settings`. `client`:
    "history" (what serving reads: history, notes, and the verdicts when the setting says so), "none" (as for
    a new client) or "verdicts" (a new client whose shortlists associates judged: the verdicts alone)."""
    from backend.live import (client_context, client_signals, feedback_history, live_catalogue, ranked_candidates,
                              understand_request)
    from backend.retrieval import ClientSignals
    from backend.store import get_engine, session

    catalogue = live_catalogue(settings)
    out = {}
    for query in queries:
        parsed = understand_request(query["text"], catalogue, settings)
        if client == "history":
            signals = client_context(query["client_id"], catalogue, settings)[2]
        elif client == "verdicts":
            with session(get_engine(settings.sql_url)) as s:
                verdicts = feedback_history(s, query["client_id"])
            signals = client_signals(query["client_id"], verdicts, catalogue)[1]
        else:
            signals = ClientSignals()
        out[query["query_id"]] = [c.item_id for c in ranked_candidates(parsed, catalogue, signals,
                                                                      settings=settings)][:max(KS)]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--var-dir", default="var/feedback-loop")
    parser.add_argument("--out", default="docs/results/feedback-taste.md")
    args = parser.parse_args(argv)
    var_dir = Path(args.var_dir).resolve()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from backend.settings import Settings
    from training.eval_queries import load_bundle
    from training.eval_report import write_keeping_notes
    from training.metrics import ndcg_at_k, paired_comparison

    state = json.loads((var_dir / "feedback-bench.json").read_text())
    bundle = load_bundle(var_dir / "bundles" / "demo-world")
    by_id = {q["query_id"]: q for q in bundle.queries}
    queries = [by_id[i] for i in state["plan"]["heldout"] if by_id[i]["relevant"]]
    load_before = os.getloadavg()[0]
    rankings, seconds = {}, {}
    for arm, flag, client in (("no client", False, "none"), ("verdicts alone", False, "verdicts"),
                              ("history", False, "history"), ("history + verdicts", True, "history")):
        started = time.perf_counter()
        rankings[arm] = rank_all(queries, Settings(var_dir=var_dir, feedback_as_taste=flag), client)
        seconds[arm] = time.perf_counter() - started
    lines = ["# Associates' verdicts as the client's taste: the ranker on the same clients' held-out requests", "",
             f"`python bench/feedback_taste.py --var-dir {args.var_dir}` "
             f"({datetime.now(timezone.utc).isoformat(timespec='seconds')}; load average "
             f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after, 2 cores). {len(queries)} answerable held-out "
             f"requests of {len(state['plan']['clients'])} validation-split clients; "
             f"{state['feedback']['total_events']} verdicts on {state['feedback']['shortlists']} of their earlier "
             "shortlists (bench/feedback_loop.py). Whole catalogue, the serving candidate generator and ranker.", "",
             "| metric | no client signals | verdicts alone | history alone | history + verdicts | "
             "history + verdicts − history [95% CI] | p | history − no client [95% CI] | "
             "verdicts alone − no client [95% CI] |", "|---|---:|---:|---:|---:|---|---:|---|---|"]
    result = {}
    for k in KS:
        scores = {arm: {q["query_id"]: ndcg_at_k(rankings[arm][q["query_id"]], q["relevant"], k) for q in queries}
                  for arm in rankings}
        comparison = paired_comparison(scores["history + verdicts"], scores["history"], "verdicts", "history",
                                       f"ndcg@{k}")
        taste = paired_comparison(scores["history"], scores["no client"], "history", "no client", f"ndcg@{k}")
        new_client = paired_comparison(scores["verdicts alone"], scores["no client"], "verdicts alone",
                                       "no client", f"ndcg@{k}")
        means = {arm: sum(v.values()) / len(v) for arm, v in scores.items()}
        cells = [f"{c.diff.mean:+.3f} [{c.diff.low:+.3f}, {c.diff.high:+.3f}]" for c in (comparison, taste, new_client)]
        lines.append(f"| NDCG@{k} | {means['no client']:.3f} | {means['verdicts alone']:.3f} | {means['history']:.3f} | "
                     f"{means['history + verdicts']:.3f} | {cells[0]} | {comparison.p_value:.3f} | {cells[1]} | "
                     f"{cells[2]} |")
        result[f"ndcg@{k}"] = {"means": means, "verdicts_vs_history": comparison.to_dict(),
                               "history_vs_no_client": taste.to_dict(),
                               "verdicts_alone_vs_no_client": new_client.to_dict()}
    lines += ["", "Seconds per arm: " + ", ".join(f"{a} {s:.0f}" for a, s in seconds.items()) + ".", ""]
    write_keeping_notes(args.out, "\n".join(lines))
    Path(args.out).with_suffix(".json").write_text(json.dumps({"queries": len(queries), "seconds": seconds,
                                                               "results": result}, indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
