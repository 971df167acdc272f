"""How much should the model's picks move the ranker's order? A sweep over the fusion settings.

    .venv/bin/python bench/fusion_sweep.py RESULTS_JSON [--system pipeline@...] [--out docs/results/reasoner-fusion.md]
        [--write-adapter ADAPTER_DIR]

Reads a `concierge eval` report (`results.json`) of a `pipeline` system on the whole-catalogue protocol:
each query's notes hold the model's picks and the ranker's order over the candidates the model was shown
(`training.systems.Pipeline`). The shortlist is recomputed offline for each (model weight, k) of the grid
with `backend.reasoner.fuse` — no model call — and scored against the bundle's grades, paired with the
ranker's own shortlist (weight 0). Run it on the **validation** split: `backend.fusion.choose_weight`
picks the model's share, and `--write-adapter` records it for this catalogue in the adapter's
`fusion.json`, which serving reads (refused for any other split). The test split is then evaluated once
with it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from backend.fusion import NON_INFERIORITY, read_records, write_record
from backend.importer import catalogue_digest
from training.eval_queries import load_bundle
from training.fusion_choice import KS, WEIGHTS, fusion_record, sweep


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("--system", default=None, help="the pipeline spec in the report (default: the first)")
    parser.add_argument("--out", default="docs/results/reasoner-fusion.md")
    parser.add_argument("--write-adapter", type=Path, default=None,
                        help="record the chosen share for this catalogue in ADAPTER_DIR/fusion.json (val only)")
    args = parser.parse_args()
    report = json.loads(Path(args.results).read_text())
    if args.write_adapter is not None and report["split"] != "val":
        raise SystemExit("--write-adapter: the share is chosen on the val split only")
    systems = report["results"]["full"]
    spec = args.system or next(s for s in systems if s.startswith("pipeline"))
    bundle = load_bundle(report["bundle"]["path"])
    relevant = {q["query_id"]: q.get("relevant") or {} for q in bundle.queries}
    result = sweep(systems[spec]["per_query"], relevant)
    lines = [f"# Fusion of the model's picks with the ranker's order (`{spec}`)", "",
             f"`{report['bundle']['name']}`, {report['split']} split, {result.queries} answerable queries the "
             f"model answered; report created {report['created']}; load average before the run "
             f"{report['machine']['load_average_before']:.1f}.", "",
             f"    .venv/bin/python bench/fusion_sweep.py {args.results}", "",
             "NDCG@5 of the shortlist for each model weight (rows) and rank offset k (columns); in brackets the "
             "paired difference to the ranker alone (weight 0) with its 95% bootstrap interval.", "",
             "| model weight | " + " | ".join(f"k={k:g}" for k in KS) + " |", "|---|" + "---:|" * len(KS)]
    by_point = {(t.model_weight, t.k): t for t in result.trials}
    for weight in WEIGHTS:
        cells = [f"{t.mean:.3f} ({t.diff:+.3f} [{t.low:+.3f}, {t.high:+.3f}])"
                 for t in (by_point[(weight, k)] for k in KS)]
        lines.append(f"| {weight:g} | " + " | ".join(cells) + " |")
    best, chosen = result.best, result.chosen
    lines += ["", f"Best NDCG@5: model weight {best.model_weight:g}, k = {best.k:g} ({best.mean:.3f}).", "",
              f"Chosen by `backend.fusion.choose_weight` (the largest weight within {NON_INFERIORITY} NDCG@5 of "
              "the ranker alone whose interval reaches zero): "
              + (f"model weight {chosen.model_weight:g}, k = {chosen.k:g} (NDCG@5 {chosen.mean:.3f}, "
                 f"{chosen.diff:+.3f} [{chosen.low:+.3f}, {chosen.high:+.3f}])." if chosen else
                 "**0** — no positive weight qualifies; the model narrates and the ranker orders."), ""]
    if args.write_adapter is not None:
        record = fusion_record(result, report["bundle"]["name"], catalogue_digest(bundle), report["split"],
                               spec, args.out, report["created"])
        path = write_record(args.write_adapter, record)
        lines += [f"Recorded in `{path}` for catalogue digest `{record['digest']}`.", ""]
        update_card(args.write_adapter)
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


CARD_SECTION = "## Share in the shortlist, per catalogue (`fusion.json`)"


def update_card(adapter_dir: Path) -> None:
    """Rewrite the model card's section on the model's share from the adapter's `fusion.json` (the card
    is left alone when the adapter has none)."""
    card = adapter_dir / "MODEL_CARD.md"
    if not card.is_file():
        return
    shares = ", ".join(f"{r['name']} {r['model_weight']:g}" + (f" (k = {r['k']:g})" if r["model_weight"] else "")
                       for r in read_records(adapter_dir))
    section = [CARD_SECTION, "",
               f"Chosen on each catalogue's val split by `bench/fusion_sweep.py --write-adapter {adapter_dir}`",
               f"(rule: `backend.fusion.choose_weight`): {shares}. Any other catalogue: 0 — the ranker orders,",
               "the model's reasoning is shown. See `docs/results/reasoner.md`.", "", ""]
    text = card.read_text()
    if CARD_SECTION in text:
        start = text.index(CARD_SECTION)
        end = text.find("\n## ", start + len(CARD_SECTION))
        text = text[:start] + "\n".join(section) + (text[end + 1:] if end >= 0 else "")
    else:
        at = text.find("## Reproduce")
        at = at if at >= 0 else len(text)
        text = text[:at] + "\n".join(section) + text[at:]
    card.write_text(text)


if __name__ == "__main__":
    main()
