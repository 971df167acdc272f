"""Benchmark: latency of the request path before the LLM — understand, client context, candidates, rank.

    python bench/retrieval_latency.py [--items 1600] [--requests 60] [--out docs/results] [--import-only]

The catalogue (the demo generator at that size, its train split for the ranker) is imported once into
var/bench/retrieval-<items>/ and reused by later runs. Requests are the world's own val requests, one at
a time, after three warm-up requests; each stage is timed with `time.perf_counter`. Prints a table and
writes `docs/results/retrieval_latency.json` + `.md` (appending this size to what earlier sizes wrote), with
the machine's load average before and after. `--import-only` builds the store and stops (the 50k import
embeds every item, ~30 min here: run it in the background, then time on a quiet machine).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog.demo.export import world_bundle  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1600)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--out", default="docs/results")
    parser.add_argument("--import-only", action="store_true", help="build the store and ranker, time nothing")
    args = parser.parse_args()
    root = Path("var/bench") / f"retrieval-{args.items}"
    os.environ["CONCIERGE_VAR_DIR"] = str(root.resolve())
    os.environ.pop("CONCIERGE_DATABASE_URL", None)

    from backend import ranker as ranking
    from backend.importer import import_bundle
    from backend.live import client_context, live_catalogue, prepare_ranker, ranked_candidates, understand_request

    bundle = world_bundle(seed=7, n_items=args.items, n_clients=200 if args.items > 2000 else 120,
                          n_queries=600)
    started = time.perf_counter()
    result = import_bundle(bundle, progress=True)
    import_s = time.perf_counter() - started
    ranker = prepare_ranker(bundle, progress=True)  # trains one when missing or trained by another engine
    catalogue = live_catalogue()
    if args.import_only:
        print(f"imported {len(catalogue.graphs.items):,} items in {import_s:.0f} s into {root}")
        return
    requests = [q for q in bundle.queries if q["split"] == "val"][: args.requests + 3]
    load_before = os.getloadavg()
    stages: dict[str, list[float]] = {"understand": [], "client": [], "candidates+rank": [], "total": []}
    for i, q in enumerate(requests):
        t0 = time.perf_counter()
        query = understand_request(q["text"], catalogue)
        t1 = time.perf_counter()
        _, _, signals, _ = client_context(q["client_id"], catalogue)
        t2 = time.perf_counter()
        ranked_candidates(query, catalogue, signals)
        t3 = time.perf_counter()
        if i >= 3:  # warm-up
            for name, seconds in (("understand", t1 - t0), ("client", t2 - t1), ("candidates+rank", t3 - t2),
                                  ("total", t3 - t0)):
                stages[name].append(seconds * 1000)
    row = {"items": len(catalogue.graphs.items), "requests": len(stages["total"]), "ranker": catalogue.ranker.kind,
           "import_seconds": round(import_s, 1), "load_before": [round(x, 2) for x in load_before],
           "load_after": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(),
           "ms": {name: {"p50": round(statistics.median(v), 1), "p95": round(percentile(v, 95), 1)}
                  for name, v in stages.items()}}
    out = Path(args.out)
    path = out / "retrieval_latency.json"
    rows = [r for r in (json.loads(path.read_text()) if path.exists() else []) if r["items"] != row["items"]]
    rows = sorted(rows + [row], key=lambda r: r["items"])
    path.write_text(json.dumps(rows, indent=1))
    lines = ["# Request path before the LLM: latency", "",
             "`python bench/retrieval_latency.py --items N` (demo generator at N items, its val requests, one at "
             "a time after 3 warm-ups). ms per request; load = 1/5/15-minute load average before → after.", "",
             "| items | requests | ranker | understand p50/p95 | client p50/p95 | candidates+rank p50/p95 | "
             "total p50/p95 | load |", "|---:|---:|---|---|---|---|---|---|"]
    for r in rows:
        ms = r["ms"]
        lines.append(f"| {r['items']:,} | {r['requests']} | {r['ranker']} | "
                     + " | ".join(f"{ms[s]['p50']} / {ms[s]['p95']}" for s in ("understand", "client",
                                                                              "candidates+rank", "total"))
                     + f" | {r['load_before'][0]} → {r['load_after'][0]} ({r['cpus']} cpus) |")
    from training.eval_report import write_keeping_notes

    write_keeping_notes(out / "retrieval_latency.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    print("ranker:", ranking.summary(ranker))


if __name__ == "__main__":
    main()
