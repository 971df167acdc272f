"""An evaluation report as people read it: Markdown tables (metrics, per query type, paired
comparisons, the language model's quality gates), a bar chart of NDCG@k, and the files
`results.json`, `results.md`, `ndcg.png` under `docs/results/<bundle>-<date>/` (or `--out`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from training.eval_queries import PROTOCOL_TITLES
from training.eval_stores import safe_name
from training.metrics import GATES, metric_names, reasoning_gates


def _label(metric: str) -> str:
    return (metric.replace("ndcg", "NDCG").replace("recall", "Recall").replace("mrr", "MRR")
            .replace("hit", "Hit"))


def _cell(interval: dict) -> str:
    if interval["mean"] is None or math.isnan(interval["mean"]):
        return "–"
    return f"{interval['mean']:.3f} [{interval['low']:.3f}, {interval['high']:.3f}]"


def metrics_table(systems: dict, ks: list[int]) -> list[str]:
    """One row per system: n, every metric with its interval, seconds per query, failures."""
    names = metric_names(ks)
    lines = ["| system | n | " + " | ".join(_label(m) for m in names) + " | ms/query | failed |",
             "|---|---:|" + "---|" * len(names) + "---:|---:|"]
    for spec, res in systems.items():
        if "metrics" not in res:
            lines.append(f"| {spec} | – | {res.get('error') or res.get('skipped')} |")
            continue
        cells = " | ".join(_cell(res["metrics"][m]) for m in names)
        lines.append(f"| {spec} | {res['n']} | {cells} | "
                     f"{1000 * res['seconds_per_query']['mean']:.1f} | "
                     f"{len(res['failures'])} |")
    return lines


def type_table(systems: dict, metric: str) -> list[str]:
    """One row per system, one column per query type, for one metric."""
    types = sorted({t for res in systems.values() for t in res.get("by_type", {})})
    if len(types) < 2:
        return []
    lines = ["| system | " + " | ".join(types) + " |", "|---|" + "---|" * len(types)]
    for spec, res in systems.items():
        if "by_type" not in res:
            continue
        cells = [f"{res['by_type'][t]['metrics'][metric]['mean']:.3f} (n={res['by_type'][t]['n']})"
                 if t in res["by_type"] else "–" for t in types]
        lines.append(f"| {spec} | " + " | ".join(cells) + " |")
    return lines


def comparison_table(report: dict, metric: str) -> list[str]:
    lines = [f"| protocol | A | B | n | {_label(metric)} A − B [95% CI] | p |",
             "|---|---|---|---:|---|---:|"]
    for protocol, rows in report["comparisons"].items():
        for row in rows:
            if row["metric"] == metric:
                lines.append(f"| {protocol} | {row['a']} | {row['b']} | {row['n']} | "
                             f"{_cell(row['diff'])} | {row['p_value']:.4f} |")
    return lines if len(lines) > 2 else []


def gates_table(report: dict) -> list[str]:
    """One row per LLM system and protocol: the gate values, each marked met or missed."""
    rows = []
    for protocol, systems in report["results"].items():
        for spec, res in systems.items():
            gates = reasoning_gates([q.get("notes", {}) for q in res.get("per_query", [])])
            if gates is None:
                continue
            mark = {g: ("met" if ok else "MISSED") for g, ok in gates["passed"].items()}
            rows.append(f"| {protocol}/{spec} | {gates['answers']} | {gates['valid_pick']:.0%} "
                        f"({mark['valid_pick']}) | {gates['forced']:.0%} | {gates['degenerate']} "
                        f"({mark['degenerate']}) | {gates['cut']} | {gates['consistent']:.0%} "
                        f"({mark['consistent']}) | {gates['inconsistent']:.0%} "
                        f"({mark['inconsistent']}) | {gates['ungrounded']} ({mark['ungrounded']}) "
                        f"| {gates['median_tokens']} |")
    if not rows:
        return []
    targets = ", ".join(f"{g} {op} {b}" for g, (op, b) in GATES.items())
    return [f"Gates: {targets}. Forced: answers whose picks were read from the model's scores "
            "after its text ended without a usable ANSWER line.", "",
            "| system | answers | valid pick | forced | degenerate | cut at limit | steps "
            "consistent | steps inconsistent | answers with ungrounded steps | median tokens |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"] + rows


def markdown(report: dict) -> str:
    """The report as Markdown: one metrics table and one per-type table per protocol, then
    comparisons."""
    b, main = report["bundle"], f"ndcg@{max(report['ks'])}"
    out = [f"# Evaluation of `{b['name']}` ({report['split']} split, {report['queries_in_split']} "
           "queries)", "",
           f"Bundle digest `{b['digest']}`, {b['counts']['items']} items; created "
           f"{report['created']}; seed {report['seed']}; means with BCa bootstrap 95% intervals "
           f"over queries ({report['bootstrap']['resamples']} resamples); items the client already "
           f"has {'removed' if report['exclude_seen'] else 'kept'}; wall time "
           f"{report['wall_seconds']} s.", ""]
    for protocol, systems in report["results"].items():
        out += [f"## {PROTOCOL_TITLES[protocol]} (`{protocol}`)",
                ""] + metrics_table(systems, report["ks"]) + [""]
        types = type_table(systems, main)
        if types:
            out += [f"{_label(main)} by query type:", ""] + types + [""]
    comparisons = comparison_table(report, main)
    if comparisons:
        out += ["## Paired comparisons", ""] + comparisons + [""]
    gates = gates_table(report)
    if gates:
        out += ["## The language model's answers: quality gates", ""] + gates + [""]
    abstaining = sorted({s for systems in report["results"].values() for s, r in systems.items()
                         if r.get("can_abstain")})
    out += ["Systems that can say nothing fits: " + ", ".join(abstaining) + ". "
            "A query with no relevant item scores 1 only when the system said so; others score 0 "
            "there.", ""]
    return "\n".join(out)


def plot(report: dict, path: Path) -> None:
    """Bar chart: NDCG@k per system with its interval, one panel per protocol."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    protocols = list(report["results"])
    fig, axes = plt.subplots(1, len(protocols), figsize=(6 * len(protocols), 4), squeeze=False)
    for ax, protocol in zip(axes[0], protocols):
        systems = {s: r for s, r in report["results"][protocol].items() if "metrics" in r}
        for offset, k in enumerate(report["ks"]):
            stats = [systems[s]["metrics"][f"ndcg@{k}"] for s in systems]
            xs = [i + (offset - (len(report["ks"]) - 1) / 2) * 0.8 / len(report["ks"])
                  for i in range(len(systems))]
            errors = [[s["mean"] - s["low"] for s in stats], [s["high"] - s["mean"] for s in stats]]
            ax.bar(xs, [s["mean"] for s in stats], width=0.8 / len(report["ks"]), yerr=errors,
                   capsize=3, label=f"NDCG@{k}")
        ax.set_xticks(range(len(systems)), list(systems), rotation=30, ha="right")
        ax.set_title(f"{report['bundle']['name']}: {PROTOCOL_TITLES[protocol]}", fontsize=9)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(report: dict, out_dir: str | Path) -> Path:
    """`results.json`, `results.md` and `ndcg.png` in `out_dir` (created)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # compact: the per-query records of a thousand queries make an indented file several times
    # larger
    (out / "results.json").write_text(json.dumps(report, ensure_ascii=False,
                                                 separators=(",", ":")) + "\n",
                                      encoding="utf-8")
    (out / "results.md").write_text(markdown(report), encoding="utf-8")
    plot(report, out / "ndcg.png")
    return out


HAND_WRITTEN = "## What the numbers say"  # a generated report's hand-written part


def write_keeping_notes(path: str | Path, generated: str) -> Path:
    """Write a generated Markdown report, keeping the hand-written section (from `HAND_WRITTEN` to
    the end) that the file at `path` already holds, so re-running a benchmark does not erase what
    was said about its numbers."""
    path = Path(path)
    kept = path.read_text().partition(HAND_WRITTEN)[2] if path.is_file() else ""
    path.write_text(generated.rstrip("\n") + "\n" + (f"\n{HAND_WRITTEN}{kept}" if kept else ""))
    return path


def default_out_dir(report: dict) -> Path:
    return Path("docs/results") / f"{safe_name(report['bundle']['name'])}-{report['created'][:10]}"

