"""Benchmark: does a ranker learned on other catalogues order a new one better than fusion?

    python bench/ranker_transfer.py [--bundles var/bundles/demo,...] [--out docs/results]

A catalogue imported without training requests (a retailer's first import, the MovieLens bundle, any
set kept outside the project) is ordered by reciprocal-rank fusion. The ranker's features are
catalogue-agnostic (each source's score and rank, attribute matches, price fit, taste, popularity), so
a LightGBM ranker trained on *other* catalogues' train requests may order it better. For each bundle
this computes the candidates of its train and val requests once (its scratch stores, `concierge eval`'s;
cached under var/bench/ranker-transfer/), then scores the val requests' candidate pools, ordered by:

- `fusion`: the fallback of `backend.ranker` (what such a catalogue gets today);
- `own`: a ranker trained on this bundle's train split (what `concierge import` trains when it can);
- `others`: one trained on the train splits of the other bundles only (leave one catalogue out);
- `all`: one trained on every bundle's train split (this one included).

NDCG@10 of each val request with a relevant item (the relevant items the pool missed count against it),
95% BCa bootstrap intervals (`training.metrics.bootstrap_interval`), and paired differences
against fusion. The test splits are never
read. Writes `docs/results/ranker-transfer.json` and `.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

BUNDLES = "var/bundles/demo,var/bundles/sephora,bench/bundles/maison-home,var/bundles/ml"
CACHE = Path("var/bench/ranker-transfer")


def candidate_groups(bundle_path: str) -> dict[str, list]:
    """Per split (train, val): [(query_id, [(item_id, features)], {item: grade})] from the serving generator
    over the bundle's scratch stores (`backend.live.ranker_groups`, what an import trains on); cached per
    bundle and engine version (`backend.ranker.engine_digest`)."""
    from backend import ranker as ranking
    from backend.live import live_catalogue, ranker_groups
    from training.eval_queries import load_bundle
    from training.eval_stores import scratch_stores

    bundle = load_bundle(bundle_path)
    cache = CACHE / f"{bundle.name}-{bundle.digest()[:12]}-{ranking.engine_digest()}.pkl"
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    settings = scratch_stores(bundle, progress=False)
    groups, _ = ranker_groups(bundle, live_catalogue(settings), settings, progress=True)
    out = {split: [(qid, [(c.item_id, c.features) for c in candidates],
                    {k: v for k, v in relevant.items() if v > 0}) for qid, candidates, relevant in rows]
           for split, rows in groups.items()}
    CACHE.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(out))
    return out


def as_candidates(pool):
    """`backend.retrieval.Candidate`-like rows the ranker code reads (item id and features only)."""
    from types import SimpleNamespace

    return [SimpleNamespace(item_id=i, features=f, score=0.0) for i, f in pool]


def fit(groups: list) -> object:
    from backend import ranker as ranking

    rows = [(as_candidates(pool), relevant) for _, pool, relevant in groups]
    return ranking.train(rows, [])


def score(ranker, groups: list) -> np.ndarray:
    from training.metrics import ndcg_at_k

    return np.array([ndcg_at_k([c.item_id for c in ranker.order(as_candidates(pool))], relevant, 10)
                     for _, pool, relevant in groups if relevant])


def interval(values: np.ndarray) -> tuple[float, float]:
    from training.metrics import bootstrap_interval

    found = bootstrap_interval(values)
    return float(found.low), float(found.high)


def main() -> None:
    from backend import ranker as ranking

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundles", default=BUNDLES, help="comma-separated bundle directories")
    parser.add_argument("--out", default="docs/results")
    args = parser.parse_args()
    load_before = os.getloadavg()
    data = {}
    for path in args.bundles.split(","):
        name = Path(path).name
        print(f"candidates of {name} (train/val) ...", flush=True)
        data[name] = candidate_groups(path)
    rows = []
    for name, groups in data.items():
        val = groups["val"]
        others = [g for other, gs in data.items() if other != name for g in gs["train"]]
        systems = {"fusion": ranking.Ranker(None, {"kind": "fusion"}), "others": fit(others)}
        if len(groups["train"]) >= ranking.MIN_TRAIN_QUERIES:
            systems["own"] = fit(groups["train"])
            systems["all"] = fit(others + groups["train"])
        scores = {s: score(r, val) for s, r in systems.items()}
        for s, values in scores.items():
            diff = values - scores["fusion"]
            rows.append({"bundle": name, "system": s, "ranker": systems[s].kind, "n": int(len(values)),
                         "train_queries": (systems[s].info or {}).get("train_queries"),
                         "ndcg@10": round(float(values.mean()), 4),
                         "ci": [round(x, 4) for x in interval(values)],
                         "minus_fusion": round(float(diff.mean()), 4),
                         "minus_fusion_ci": [round(x, 4) for x in interval(diff)]})
            print(rows[-1], flush=True)
    out = Path(args.out)
    record = {"created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "command": " ".join(sys.argv),
              "load_before": [round(x, 2) for x in load_before],
              "load_after": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(), "rows": rows}
    (out / "ranker-transfer.json").write_text(json.dumps(record, indent=1))
    lines = ["# A ranker learned on other catalogues, on a new one (val splits)", "",
             f"Produced by `python bench/ranker_transfer.py` ({record['created']}; load average "
             f"{record['load_before'][0]} → {record['load_after'][0]} on {record['cpus']} cores). "
             "Candidates of each bundle's val requests from the serving generator; NDCG@10 over the "
             "requests with a relevant item, ordered by each ranker; 95% BCa bootstrap (`training.metrics."
             "bootstrap_interval`). `others`: trained on the other bundles' train splits only.", "",
             "| bundle | ordered by | train queries | NDCG@10 [95% CI] | − fusion [95% CI] |",
             "|---|---|---:|---|---|"]
    for r in rows:
        lines.append(f"| {r['bundle']} | {r['system']} | {r['train_queries'] or '–'} | {r['ndcg@10']:.3f} "
                     f"[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}] | {r['minus_fusion']:+.3f} "
                     f"[{r['minus_fusion_ci'][0]:+.3f}, {r['minus_fusion_ci'][1]:+.3f}] |")
    from training.eval_report import write_keeping_notes

    write_keeping_notes(out / "ranker-transfer.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
