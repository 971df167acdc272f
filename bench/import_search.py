"""Benchmark: import throughput, semantic search latency, and the demo world's statistics.

    python bench/import_search.py [--large 50000] [--queries 200] [--out docs/results]

Each catalogue is imported into a fresh store under var/bench/ (SQLite + embedded Chroma), timed end
to end (embedding included); the stores are kept for bench/serving.py. Search latency is measured on real request texts from the demo world's
queries, one at a time, after one warm-up query. Prints a table and writes
`docs/results/import_search.json` + `.md` and `docs/results/demo_world_stats.json` + `.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import shutil
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog.bundle import Bundle  # noqa: E402
from catalog.demo import generate_world  # noqa: E402
from catalog.demo.export import world_bundle  # noqa: E402


def use_fresh_stores(root: Path) -> None:
    """Point settings at an empty var/ directory (and forget cached engines / clients)."""
    from backend import settings as settings_module
    from backend.store import get_engine

    os.environ["CONCIERGE_VAR_DIR"] = str(root)
    os.environ.pop("CONCIERGE_DATABASE_URL", None)
    settings_module.get_settings.cache_clear()
    get_engine.cache_clear()


def large_catalogue(n_items: int, seed: int) -> Bundle:
    """A generated catalogue of `n_items` from the demo generator at that size (with 40 clients)."""
    world = generate_world(seed=seed, n_items=n_items, n_clients=40, n_queries=60)
    return Bundle({"name": f"generated-{n_items}"}, world.items, world.clients, world.interactions)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def time_import(bundle: Bundle, root: Path) -> dict:
    from backend.importer import import_bundle

    use_fresh_stores(root)
    started = time.perf_counter()
    result = import_bundle(bundle, progress=True)
    seconds = time.perf_counter() - started
    return {"items": result.items_total, "seconds": round(seconds, 2),
            "items_per_s": round(result.items_total / seconds, 1)}


def time_search(texts: list[str]) -> dict:
    from backend.served import active_index

    index = active_index()
    index.search(texts[0], k=20)  # warm-up: loads the embedding model
    latencies = []
    for text in texts:
        started = time.perf_counter()
        index.search(text, k=20)
        latencies.append((time.perf_counter() - started) * 1000)
    filtered = []
    for text in texts[:50]:
        started = time.perf_counter()
        index.search(text, k=20, where={"$and": [{"category_group": "bags"}, {"price": {"$lte": 5000.0}}]})
        filtered.append((time.perf_counter() - started) * 1000)
    return {"queries": len(texts), "p50_ms": round(percentile(latencies, 50), 1),
            "p95_ms": round(percentile(latencies, 95), 1),
            "filtered_p50_ms": round(percentile(filtered, 50), 1),
            "filtered_p95_ms": round(percentile(filtered, 95), 1)}


def world_statistics(bundle: Bundle) -> dict:
    relevant_sizes = Counter(len(q["relevant"]) for q in bundle.queries)
    grades = Counter(g for q in bundle.queries for g in q["relevant"].values())
    return {
        "counts": bundle.counts(),
        "houses": len({i["brand"] for i in bundle.items}),
        "items_per_category_group": dict(Counter(i["attributes"]["category_group"] for i in bundle.items)
                                         .most_common()),
        "items_per_category": dict(Counter(i["category"] for i in bundle.items).most_common()),
        "queries_per_type": dict(Counter(q["type"] for q in bundle.queries).most_common()),
        "queries_per_split": dict(Counter(q["split"] for q in bundle.queries).most_common()),
        "clients_per_split": {s: len({q["client_id"] for q in bundle.queries if q["split"] == s})
                              for s in ("train", "val", "test")},
        "relevant_set_size": {str(k): v for k, v in sorted(relevant_sizes.items())},
        "grades": {str(k): v for k, v in sorted(grades.items())},
        "interactions_per_kind": dict(Counter(r["kind"] for r in bundle.interactions).most_common()),
        "price_eur": {"min": min(i["price"] for i in bundle.items), "median": statistics.median(
            i["price"] for i in bundle.items), "max": max(i["price"] for i in bundle.items)},
    }


def markdown_table(rows: list[list], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=50_000, help="items in the large generated catalogue")
    parser.add_argument("--queries", type=int, default=200, help="search queries timed per catalogue")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("docs/results"))
    parser.add_argument("--stores", type=Path, default=Path("var/bench"), help="where the timed stores are kept")
    parser.add_argument("--search-only", action="store_true", help="re-time search on the kept stores only")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    demo = world_bundle(seed=args.seed)
    generation_s = time.perf_counter() - started
    texts = [q["text"] for q in demo.queries[: args.queries]]
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "platform": platform.platform()},
               "demo_generation_s": round(generation_s, 2), "catalogues": {}}
    for label, bundle in (("demo world", demo), (f"generated {args.large}", large_catalogue(args.large, args.seed))):
        print(f"\n== {label}: {len(bundle.items)} items")
        store = args.stores / label.replace(" ", "-")  # kept: bench/serving.py times retrieval on it
        if args.search_only:  # re-time search on the stores a previous run left; keep its import numbers
            use_fresh_stores(store)
            imported = json.loads((args.out / "import_search.json").read_text())["catalogues"][label]["import"]
        else:
            shutil.rmtree(store, ignore_errors=True)
            imported = time_import(bundle, store)
        searched = time_search(texts)
        results["catalogues"][label] = {"import": imported, "search": searched}
        print(json.dumps(results["catalogues"][label]))

    rows = [[label, r["import"]["items"], r["import"]["seconds"], r["import"]["items_per_s"], r["search"]["p50_ms"],
             r["search"]["p95_ms"], r["search"]["filtered_p50_ms"], r["search"]["filtered_p95_ms"]]
            for label, r in results["catalogues"].items()]
    table = markdown_table(rows, ["catalogue", "items", "import s", "items/s", "search p50 ms", "search p95 ms",
                                  "filtered p50 ms", "filtered p95 ms"])
    print("\n" + table)
    (args.out / "import_search.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "import_search.md").write_text(
        f"# Import and search ({os.cpu_count()} CPU cores, embedded Chroma + SQLite)\n\n"
        f"Import = validate-free store write: embedding (all-MiniLM-L6-v2, CPU) + Chroma + SQL, end to end. "
        f"Search = embed the request + Chroma query, k=20; filtered = category and price filter.\n\n{table}\n")

    stats = world_statistics(demo)
    (args.out / "demo_world_stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    lines = [f"# Demo world (seed {args.seed})\n", "Generated in "
             f"{generation_s:.1f} s. Counts: {json.dumps(stats['counts'])}; {stats['houses']} houses.\n"]
    for key in ("items_per_category_group", "queries_per_type", "queries_per_split", "clients_per_split",
                "relevant_set_size", "grades", "interactions_per_kind"):
        lines.append(f"\n## {key.replace('_', ' ')}\n")
        lines.append(markdown_table([[k, v] for k, v in stats[key].items()], ["", "count"]))
    lines.append("\n\n## items per category\n")
    lines.append(markdown_table([[k, v] for k, v in stats["items_per_category"].items()], ["", "count"]))
    (args.out / "demo_world_stats.md").write_text("\n".join(lines) + "\n")
    print(f"\nwrote {args.out}/import_search.{{json,md}} and {args.out}/demo_world_stats.{{json,md}}")


if __name__ == "__main__":
    main()
