"""How much should the model's picks move the ranker's order? A sweep over the fusion settings.

    .venv/bin/python bench/fusion_sweep.py RESULTS_JSON [--system pipeline@...] [--out docs/results/reasoner-fusion.md]

Reads a `concierge eval` report (`results.json`) of a `pipeline` system on the whole-catalogue protocol:
each query's notes hold the model's picks and the ranker's order over the candidates the model was shown
(`training.systems.Pipeline`). The shortlist is recomputed offline for each (model weight, k) of the grid
with `backend.reasoner.fuse` — no model call — and scored against the bundle's grades, paired with the
ranker's own shortlist (weight 0). Run it on the **validation** split: the chosen setting goes into
`backend/settings.py`, and the test split is then evaluated once with it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from backend.reasoner import fuse
from backend.service import SHORTLIST_MAX, SHORTLIST_TARGET
from training.eval_queries import load_bundle
from training.metrics import ndcg_at_k, paired_comparison

WEIGHTS = (0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0)
KS = (1.0, 2.0, 5.0, 20.0)


def shortlists(rows: list[dict], weight: float, k: float) -> list[list[str]]:
    """The fused shortlist of each query (same size rule as the serving path)."""
    out = []
    for notes in rows:
        picks, order = notes["model_picks"], notes["ranker_order"]
        size = max(SHORTLIST_TARGET, min(len(picks), SHORTLIST_MAX))
        out.append(fuse(picks, order, weight, k)[:size])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("--system", default=None, help="the pipeline spec in the report (default: the first)")
    parser.add_argument("--out", default="docs/results/reasoner-fusion.md")
    args = parser.parse_args()
    report = json.loads(Path(args.results).read_text())
    systems = report["results"]["full"]
    spec = args.system or next(s for s in systems if s.startswith("pipeline"))
    bundle = load_bundle(report["bundle"]["path"])
    relevant = {q["query_id"]: q.get("relevant") or {} for q in bundle.queries}
    rows, ids = [], []
    for record in systems[spec]["per_query"]:
        notes = record.get("notes") or {}
        if notes.get("ranker_order") and relevant.get(record["query_id"]):
            rows.append(notes)
            ids.append(record["query_id"])
    base = [ndcg_at_k(s, relevant[q], 5) for s, q in zip(shortlists(rows, 0.0, 1.0), ids)]
    lines = [f"# Fusion of the model's picks with the ranker's order (`{spec}`)", "",
             f"`{report['bundle']['name']}`, {report['split']} split, {len(rows)} answerable queries the model "
             f"answered; report created {report['created']}; load average before the run "
             f"{report['machine']['load_average_before']:.1f}.", "",
             f"    .venv/bin/python bench/fusion_sweep.py {args.results}", "",
             "NDCG@5 of the shortlist for each model weight (rows) and rank offset k (columns); in brackets the "
             "paired difference to the ranker alone (weight 0) with its 95% bootstrap interval.", "",
             "| model weight | " + " | ".join(f"k={k:g}" for k in KS) + " |", "|---|" + "---:|" * len(KS)]
    best = (float("-inf"), None)
    for weight in WEIGHTS:
        cells = []
        for k in KS:
            scores = [ndcg_at_k(s, relevant[q], 5) for s, q in zip(shortlists(rows, weight, k), ids)]
            diff = paired_comparison(dict(zip(ids, scores)), dict(zip(ids, base)), "fused", "ranker", "ndcg@5").diff
            mean = sum(scores) / len(scores)
            cells.append(f"{mean:.3f} ({diff.mean:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}])")
            if mean > best[0]:
                best = (mean, (weight, k))
        lines.append(f"| {weight:g} | " + " | ".join(cells) + " |")
    lines += ["", f"Best: model weight {best[1][0]:g}, k = {best[1][1]:g} (NDCG@5 {best[0]:.3f}).", ""]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
