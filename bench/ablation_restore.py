"""Rebuild an ablation's output directory from the raw rows committed under docs/results/.

    python bench/ablation_restore.py --out var/ablation-150-p5 \
        docs/results/ablation-150-p2 docs/results/ablation-150-p3 docs/results/ablation-150-p4 docs/results/ablation-150-p5

A machine's `var/` does not outlive it, but each finished ablation task leaves its raw rows in
`docs/results/ablation-*/` (see `training.ablation`): `eval-NAME.json` (the evaluation report),
`probes-NAME.json` (probe scores) and `train-NAME.metrics.jsonl` (a GRPO run's per-step metrics). This copies
them back to where `python -m training.ablation --out OUT` looks for them, so a resumed ablation skips the
evaluations and probes already done and `--report-only` finds every row. Sources later on the command line win.
A GRPO run's wall time lives in its `run.json`, which is not among the raw rows: the report shows "–" there.
Nothing is overwritten unless `--force`.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

# raw row file name -> where training.ablation.Plan keeps it under OUT
LAYOUT = (
    (re.compile(r"^eval-(?P<name>.+)\.json$"), "eval/{name}/results.json"),
    (re.compile(r"^probes-(?P<name>.+)\.json$"), "probes/{name}.json"),
    (re.compile(r"^train-(?P<name>.+)\.metrics\.jsonl$"), "{name}/metrics.jsonl"),
)


def plan_copies(sources: list[Path], out: Path) -> dict[Path, Path]:
    """target -> source, the last source holding a row winning."""
    copies: dict[Path, Path] = {}
    for source in sources:
        if not source.is_dir():
            raise SystemExit(f"{source} is not a directory of raw ablation rows")
        for path in sorted(source.iterdir()):
            for pattern, target in LAYOUT:
                match = pattern.match(path.name)
                if match:
                    copies[out / target.format(name=match["name"])] = path
                    break
    return copies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", type=Path, help="docs/results/ablation-* directories, oldest first")
    parser.add_argument("--out", required=True, type=Path, help="the ablation's --out directory")
    parser.add_argument("--force", action="store_true", help="replace files already under --out")
    args = parser.parse_args(argv)
    copies = plan_copies(args.sources, args.out)
    if not copies:
        raise SystemExit("no eval-*.json, probes-*.json or train-*.metrics.jsonl in the sources")
    kept = 0
    for target, source in sorted(copies.items()):
        if target.exists() and not args.force:
            kept += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        print(f"{source} -> {target}")
    if kept:
        print(f"{kept} file(s) already under {args.out} left as they are (--force replaces them)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
