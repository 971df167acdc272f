"""Two reasoners on the same requests: the base-model comparison of issue 14 (SmolLM2 against Gemma).

    .venv/bin/python bench/compare_reasoners.py A/results.json B/results.json [--out docs/results/X.md]

Each `results.json` is a `concierge eval` run of one `pipeline@ADAPTER` system on the whole-catalogue
protocol (the same bundle, split, seed and `--limit`, so the same requests). For the answerable requests
both answered, the shortlist is rebuilt offline from each model's picks and the ranker's order it was
shown (`training.fusion_choice.shortlists`, no model call) at the serving share (weight 0.25, k = 5) and
with the model leading (weight 1), and the two models are compared per request (paired BCa interval,
sign-flip p). The gates (valid pick, degenerate, consistent steps...) are each run's own report.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from training.eval_queries import load_bundle
from training.fusion_choice import METRIC_K, answered, shortlists
from training.metrics import ndcg_at_k, paired_comparison

POINTS = ((0.25, 5.0, "served share (weight 0.25, k = 5)"), (1.0, 1.0, "model leads (weight 1)"),
          (0.0, 1.0, "ranker alone (weight 0): the same for both when both saw the same candidates"))


def pipeline_rows(path: Path) -> tuple[dict, str, list[dict]]:
    report = json.loads(path.read_text())
    systems = report["results"]["full"]
    spec = next(s for s in systems if s.startswith("pipeline"))
    return report, spec, systems[spec]["per_query"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    (report_a, spec_a, rows_a), (report_b, spec_b, rows_b) = pipeline_rows(args.a), pipeline_rows(args.b)
    if report_a["bundle"]["digest"] != report_b["bundle"]["digest"] or report_a["split"] != report_b["split"]:
        raise SystemExit("the two runs are not of the same bundle and split")
    bundle = load_bundle(report_a["bundle"]["path"])
    relevant = {q["query_id"]: q.get("relevant") or {} for q in bundle.queries}
    notes_a, ids_a = answered(rows_a, relevant)
    notes_b, ids_b = answered(rows_b, relevant)
    both = sorted(set(ids_a) & set(ids_b))
    by_a, by_b = dict(zip(ids_a, notes_a)), dict(zip(ids_b, notes_b))
    lines = [f"# `{spec_a}` against `{spec_b}`", "",
             f"`{report_a['bundle']['name']}`, {report_a['split']} split: {len(both)} answerable requests both "
             f"answered (A {len(ids_a)}, B {len(ids_b)}); runs created {report_a['created']} and "
             f"{report_b['created']}.", "",
             f"    .venv/bin/python bench/compare_reasoners.py {args.a} {args.b}", "",
             f"| shortlist | NDCG@{METRIC_K} A | NDCG@{METRIC_K} B | A − B [95% CI] | p (sign flip) |",
             "|---|---:|---:|---|---:|"]
    for weight, k, label in POINTS:
        scores = []
        for notes in (by_a, by_b):
            lists = shortlists([notes[q] for q in both], weight, k)
            scores.append({q: ndcg_at_k(s, relevant[q], METRIC_K) for q, s in zip(both, lists)})
        comparison = paired_comparison(scores[0], scores[1], "A", "B", f"ndcg@{METRIC_K}")
        diff = comparison.diff
        mean_a, mean_b = (sum(s.values()) / len(s) for s in scores)
        lines.append(f"| {label} | {mean_a:.3f} | {mean_b:.3f} | {diff.mean:+.3f} [{diff.low:+.3f}, "
                     f"{diff.high:+.3f}] | {comparison.p_value:.3f} |")
    picked = [sum(bool(n[q]["model_picks"]) for q in both) for n in (by_a, by_b)]
    lines += ["", f"Requests where the model picked at least one shown item: A {picked[0]}, B {picked[1]} "
              f"of {len(both)}.", ""]
    text = "\n".join(lines)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
