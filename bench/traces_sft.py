"""Traces (reject / target sampling, template teacher) and SFT on the demo world with the real base model.

    .venv/bin/python bench/traces_sft.py [--cases 50] [--reject-cases 20] [--tries 2] [--sft-steps 20]
        [--rechead-cases 50] [--holdout 0.25]

Prints a table and writes docs/results/traces-sft.json (the numbers of docs/results/traces-sft.md).
One torch thread: the machine's two cores are shared.
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
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--reject-cases", type=int, default=20)
    parser.add_argument("--tries", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--shown", type=int, default=8)
    parser.add_argument("--sft-steps", type=int, default=20)
    parser.add_argument("--rechead-cases", type=int, default=50)
    parser.add_argument("--holdout", type=float, default=0.25)
    parser.add_argument("--out", default="var/bench/traces-sft")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from backend.llm import LocalChatModel
    from catalog.demo.export import world_bundle
    from training.config import RecheadSection, SFTSection, TracesConfig
    from training.data import build_case_prompt, cases_from_bundle
    from training.eval_stores import scratch_stores
    from training.rechead import run_rechead
    from training.sft import run_sft
    from training.systems import EvalWorld
    from training.traces import generate_traces, write_traces

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bundle = world_bundle(seed=7)
    results: dict = {"args": vars(args)}
    settings = scratch_stores(bundle, needs_llm=True, progress=False)
    world = EvalWorld(bundle, settings, seed=0)
    cases = [c for c in cases_from_bundle(bundle, "train", 20, 0) if c.relevance]
    pool = random.Random("bench").sample(cases, max(args.cases, args.rechead_cases))
    cases = pool[:args.cases]
    prompts = {}

    def prompt_fn(case, world):
        if case.case_id not in prompts:
            prompts[case.case_id] = build_case_prompt(case, world, args.shown, 0)
        return prompts[case.case_id]

    model = LocalChatModel(model_dir=settings.model_dir, threads=1)
    base = dict(max_new_tokens=args.max_new_tokens, temperature=0.8, verify=True)
    runs = [("reject", cases[:args.reject_cases], ["reject"]), ("target", cases, ["target"]),
            ("template", cases, ["template"]), ("cascade", cases, ["target", "template"])]
    traces_by = {}
    for name, subset, modes in runs:
        if name == "cascade":  # reuse the target samples: target where it was accepted, else the template
            accepted = {t.case_id: t for t in traces_by["target"] if t.accepted}
            merged = [accepted.get(t.case_id, t) for t in traces_by["template"]]
            merged += [t for cid, t in accepted.items() if cid not in {x.case_id for x in merged}]
            traces_by[name] = merged
            results[name] = {"with_trace": len(merged), "by_source": {
                m: sum(t.mode == m for t in merged) for m in ("target", "template")}}
            continue
        config = TracesConfig(modes=modes, max_tries=args.tries, keep_rejected=True, **base)
        started = time.perf_counter()
        traces, stats = generate_traces(subset, world, model if name != "template" else None, mode=modes,
                                        max_tries=args.tries, config=config, prompt_fn=prompt_fn,
                                        teacher_name="SmolLM2-135M-Instruct")
        stats["seconds_per_case"] = round((time.perf_counter() - started) / len(subset), 2)
        traces_by[name] = [t for t in traces if t.accepted]
        write_traces(traces, out / f"traces-{name}.jsonl")
        results[name] = stats
        print(name, json.dumps(stats["modes"]), stats["seconds_per_case"], "s/case", flush=True)
    path = write_traces(traces_by["cascade"], out / "traces.jsonl")

    sft_config = SFTSection(max_steps=args.sft_steps, batch_size=2, learning_rate=2e-4, lora_r=16, threads=1,
                            max_length=1024)
    started = time.perf_counter()
    run_sft(sft_config, path, settings.model_dir, out / "sft")
    results["sft"] = json.loads((out / "sft" / "sft_summary.json").read_text())
    results["sft"]["losses"] = [json.loads(line)["loss"] for line in
                                (out / "sft" / "sft_metrics.jsonl").read_text().splitlines()]
    results["sft"]["wall_s"] = round(time.perf_counter() - started, 1)
    print("sft", {k: results["sft"][k] for k in ("steps", "mean_step_s", "first_loss", "last_loss")}, flush=True)

    started = time.perf_counter()
    head = run_rechead(RecheadSection(threads=1, holdout=args.holdout), pool[:args.rechead_cases], world,
                       settings.model_dir, out / "rechead", traces_path=path, prompt_fn=prompt_fn)
    meta = json.loads((head / "rechead.json").read_text())
    results["rechead"] = {k: meta[k] for k in ("train_examples", "held_out_cases", "with_traces",
                                               "ndcg@5_before", "ndcg@5_after", "features_s", "final_loss")}
    results["rechead"]["wall_s"] = round(time.perf_counter() - started, 1)
    print("rechead", results["rechead"], flush=True)
    Path("docs/results").mkdir(parents=True, exist_ok=True)
    Path("docs/results/traces-sft.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
