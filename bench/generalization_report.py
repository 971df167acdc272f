"""Summarise `bench/generalization.sh`'s evaluations into docs/results/generalization.md.

For each bundle: NDCG@10 and Recall@10 with 95% intervals per system and protocol, the paired difference of
the new generator (`retrieval`) against the best non-LLM baseline, and refusals: how many answerable
requests the generator refused (wrong refusals) and how many impossible ones it refused (correct).
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RUNS = ROOT / "docs" / "results" / "generalization"
BASELINES = ("popularity", "bm25", "embedding")


def cell(m: dict) -> str:
    return f"{m['mean']:.3f} [{m['low']:.3f}, {m['high']:.3f}]"


def refusals(per_query: list[dict], impossible_ids: set[str]) -> tuple[int, int, int, int]:
    answerable = [q for q in per_query if q["query_id"] not in impossible_ids]
    impossible = [q for q in per_query if q["query_id"] in impossible_ids]
    wrong = sum(1 for q in answerable if not q["ranking"])
    right = sum(1 for q in impossible if not q["ranking"])
    return wrong, len(answerable), right, len(impossible)


def main() -> None:
    lines = ["# Generalisation: the catalogue-agnostic generator on five bundles (issue 13)", "",
             "Produced by `bench/generalization.sh` (each bundle: `concierge eval BUNDLE --systems "
             "popularity,bm25,embedding,retrieval --protocol both`, demo and MovieLens on a seeded subset of 300 "
             "test queries) and summarised by `python bench/generalization_report.py`. `retrieval` is the new "
             "generator: every source, hard constraints only, then the catalogue's LightGBM ranker trained on the "
             "bundle's train split (fusion where a bundle has no train queries). Intervals: percentile bootstrap "
             "over queries (1000 resamples); paired differences bootstrap the per-query difference. Machine: 2 "
             "cores; load averages are in each run's results.json (`machine`), 2.5–4 during these runs (the "
             "suite of a colleague ran beside them).", ""]
    for run in sorted(p for p in RUNS.iterdir() if (p / "results.json").is_file()):
        data = json.loads((run / "results.json").read_text())
        lines += [f"## {data['bundle'].get('name', run.name)} ({data['split']} split, "
                  f"{data['results']['full']['retrieval']['n']} queries, "
                  f"{data['bundle'].get('counts', {}).get('items', '?')} items)", "",
                  "| protocol | system | NDCG@10 | Recall@10 |", "|---|---|---|---|"]
        for protocol, systems in data["results"].items():
            for name, res in systems.items():
                lines.append(f"| {protocol} | {name} | {cell(res['metrics']['ndcg@10'])} | "
                             f"{cell(res['metrics']['recall@10'])} |")
        lines += ["", "| protocol | new − best baseline | NDCG@10 difference [95% CI] |", "|---|---|---|"]
        for protocol, systems in data["results"].items():
            best = max(BASELINES, key=lambda b: systems[b]["metrics"]["ndcg@10"]["mean"])
            comparison = next((c for c in data["comparisons"].get(protocol, [])
                               if c["a"] == "retrieval" and c["b"] == best and c["metric"] == "ndcg@10"), None)
            if comparison:
                diff = comparison["diff"]
                lines.append(f"| {protocol} | retrieval − {best} | {diff['mean']:+.3f} "
                             f"[{diff['low']:+.3f}, {diff['high']:+.3f}] |")
        per_query = data["results"]["full"]["retrieval"]["per_query"]
        impossible = {q["query_id"] for q in per_query if q["type"] == "impossible"}
        wrong, answerable, right, n_impossible = refusals(per_query, impossible)
        lines += ["", f"Refusals (full protocol): wrong {wrong}/{answerable} answerable "
                      f"({100 * wrong / max(answerable, 1):.1f}%); correct {right}/{n_impossible} impossible"
                      + (f" ({100 * right / n_impossible:.0f}%)" if n_impossible else "") + ".", ""]
    from training.eval_report import write_keeping_notes  # the hand-written section stays

    write_keeping_notes(ROOT / "docs" / "results" / "generalization.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
