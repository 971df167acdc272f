"""After bench/traces_sft.py: re-judge the stored target samples with the current acceptance test, and
compare the base model with the SFT adapter on val cases (greedy, serving prompt): parse rate, Hit@1, NDCG@5.

    .venv/bin/python bench/sft_check.py [--dir var/bench/traces-sft] [--val 10]

Adds `rejudged_target` and `sft_vs_base` to docs/results/traces-sft.json.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default="var/bench/traces-sft")
    parser.add_argument("--val", type=int, default=10)
    parser.add_argument("--shown", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--adapter", default=None, help="adapter directory (default: DIR/sft/adapter)")
    parser.add_argument("--key", default="sft_vs_base", help="where the comparison goes in the JSON")
    parser.add_argument("--skip-rejudge", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from backend.llm import LocalChatModel
    from backend.reasoner import parse_answer
    from catalog.demo.export import world_bundle
    from training.data import build_case_prompt, cases_from_bundle
    from training.eval_stores import scratch_stores
    from training.metrics import ndcg_at_k
    from training.systems import EvalWorld
    from training.config import TracesConfig
    from training.traces import judge, messages_to_dicts

    out = Path(args.dir)
    results_path = Path("docs/results/traces-sft.json")
    results = json.loads(results_path.read_text())
    bundle = world_bundle(seed=7)
    settings = scratch_stores(bundle, needs_llm=True, progress=False)
    world = EvalWorld(bundle, settings, seed=0)
    train = {c.case_id: c for c in cases_from_bundle(bundle, "train", 20, 0)}
    rows = [] if args.skip_rejudge else [
        json.loads(line) for line in (out / "traces-target.jsonl").read_text().splitlines()]
    config = TracesConfig()
    kept = set()
    for row in rows:
        case = train[row["case_id"]]
        built = build_case_prompt(case, world, args.shown, 0)
        ok, _, _ = judge(row["completion"], built.handles, case, config, built.query_graph, built.preferences)
        if ok:
            kept.add(row["case_id"])
    if not args.skip_rejudge:
        results["rejudged_target"] = {"samples": len(rows), "cases_accepted": len(kept),
                                      "cases": results["target"]["cases"], "filters": "top1 + min_steps 2 + "
                                      "no hint echo + verifier consistent + grounded"}
        print("rejudged target:", results["rejudged_target"], flush=True)

    val = [c for c in cases_from_bundle(bundle, "val", 20, 0) if c.relevance]
    val = random.Random("bench-val").sample(val, args.val)
    model = LocalChatModel(model_dir=settings.model_dir, threads=1, max_new_tokens=args.max_new_tokens)
    model.load_adapter("sft-bench", Path(args.adapter) if args.adapter else out / "sft" / "adapter")
    report = {}
    for adapter in (None, "sft-bench"):
        model.use_adapter(adapter)
        parsed_n, hits, ndcgs, started = 0, 0, [], time.perf_counter()
        for case in val:
            built = build_case_prompt(case, world, args.shown, 0)
            from langchain_core.messages import HumanMessage, SystemMessage

            chat = [SystemMessage(m["content"]) if m["role"] == "system" else HumanMessage(m["content"])
                    for m in messages_to_dicts(built.messages)]
            text = model.invoke(chat).content
            answer = parse_answer(text, built.handles)
            picks = [built.handles[h]["item_id"] for h in answer.picks]
            shown = [h["item_id"] for h in built.handles.values()]
            parsed_n += bool(picks)
            hits += bool(picks) and case.relevance.get(picks[0], 0) > 0
            ndcgs.append(ndcg_at_k(picks + [i for i in shown if i not in picks], case.relevance, 5))
        report[adapter or "base"] = {"cases": len(val), "parsed": parsed_n, "hit@1": hits / len(val),
                                     "ndcg@5": sum(ndcgs) / len(ndcgs),
                                     "s_per_case": round((time.perf_counter() - started) / len(val), 1),
                                     "example": text[:400]}
        print(adapter or "base", {k: v for k, v in report[adapter or "base"].items() if k != "example"}, flush=True)
    results[args.key] = report
    results_path.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
