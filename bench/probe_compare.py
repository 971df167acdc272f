"""Compare probe results (`python -m training.probes ... --out FILE`) of several models, paired per probe.

    python bench/probe_compare.py BASE.json OTHER.json [...] [--names base,shipped,...] [--out FILE.md]

For each model and each probe set (instruction following, knowledge "contains"): the share passed with
its 95% interval (Wilson, `scipy.stats.binomtest`), and against the first file, per probe: how many
the model passes that the first does not and the reverse, with the exact McNemar p-value (a two-sided
binomial test on those discordant probes). Every file must hold the same probes (same `--limit`).
Prints a Markdown table; `--out` also writes it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scipy.stats import binomtest

SETS = (("instruction_probes", "passed", "instruction following"),
        ("knowledge_probes", "contains", "knowledge (contains)"))


def outcomes(result: dict, rows_key: str, field: str) -> dict[str, bool]:
    """probe id -> passed, for one probe set of a result file."""
    return {row["probe_id"]: bool(row[field]) for row in result[rows_key]}


def share_cell(passed: list[bool]) -> str:
    k, n = sum(passed), len(passed)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return f"{k}/{n} = {k / n:.2f} [{ci.low:.2f}, {ci.high:.2f}]"


def paired_cell(model: dict[str, bool], reference: dict[str, bool]) -> str:
    if model.keys() != reference.keys():
        raise SystemExit("the files hold different probes: run them with the same --limit")
    gained = sum(model[p] and not reference[p] for p in model)
    lost = sum(reference[p] and not model[p] for p in model)
    p = binomtest(gained, gained + lost).pvalue if gained + lost else 1.0
    return f"+{gained} / −{lost} (p = {p:.3f})"


def table(results: list[dict], names: list[str]) -> str:
    lines = ["| model | " + " | ".join(f"{label} | vs {names[0]}: gained / lost" for _, _, label in SETS)
             + " |", "|---|" + "---|---|" * len(SETS)]
    for name, result in zip(names, results):
        cells = []
        for rows_key, field, _ in SETS:
            mine, ref = outcomes(result, rows_key, field), outcomes(results[0], rows_key, field)
            cells += [share_cell(list(mine.values())),
                      "–" if result is results[0] else paired_cell(mine, ref)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--names", help="comma-separated names (default: the files' `model`)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = [json.loads(f.read_text()) for f in args.files]
    names = args.names.split(",") if args.names else [r.get("model", f.stem) for r, f in
                                                        zip(results, args.files)]
    text = table(results, names)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
