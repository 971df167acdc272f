"""Benchmark: continuous batching of the local model (backend/decoding.py) with the real SmolLM2 weights.

    python bench/batching.py [--sizes 1 2 4 8] [--new-tokens 96] [--threads 0] [--out docs/results]

For each size B, B reasoner prompts (demo world validation queries, 8 candidates each, as the service builds
them) are sent at once to one `LocalChatModel` process with `decode_batch` = max(sizes); reported:

- *step*: the median time of a decode step with all B rows in the batch, hence tokens/s per sequence
  (1 / step) and in total (B / step); `prefill` the median prefill of one prompt (it stalls the batch);
- *end to end*: wall time from submission to the last token, total tokens/s, the callers' own decode rate
  (`tokens_per_s`, which counts the stalls for the others' prefills) and the slowest first token. All B
  arrive at once, so the batch fills one prefill at a time and empties as answers end: end-to-end tokens/s
  stay well below the full batch's;
- *same*: how many answers are token for token those of the same prompt decoded alone
  (`decode_batch` 1, today's path, run first as the baseline).

Writes docs/results/batching.json and batching.md. The machine's load average is printed beside: on a shared
machine the absolute numbers move, the ratios between sizes much less.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CLIENT = "Prefers understated pieces; usual budget 500-2,000 EUR."


def prompts(bundle: Path, n: int) -> list:
    """`n` serving prompts of the bundle's validation queries (repeated when there are fewer)."""
    from backend.reasoner import build_prompt

    items = [json.loads(line) for line in (bundle / "items.jsonl").open()]
    queries = [q for q in map(json.loads, (bundle / "queries.jsonl").open()) if q["split"] == "val"]
    rng = random.Random(0)
    return [build_prompt(q["text"], q["text"], CLIENT, rng.sample(items, 8), rng)[0]
            for q in (queries * n)[:n]]


class Timer:
    """Wraps the shared model's forward: (rows, positions, seconds) of every pass."""

    def __init__(self, model):
        self.passes: list[tuple[int, int, float]] = []
        forward = model.forward

        def timed(*args, **kwargs):
            started = time.perf_counter()
            out = forward(*args, **kwargs)
            self.passes.append((*kwargs["input_ids"].shape, time.perf_counter() - started))
            return out

        model.forward = timed


def run_at_once(model_dir: Path, messages: list, new_tokens: int, decode_batch: int) -> tuple[list, float]:
    """Send every prompt at once (one thread each); returns [(text, stats)] and the wall time."""
    from backend.llm import LocalChatModel

    results: list = [None] * len(messages)

    def one(index: int) -> None:
        llm = LocalChatModel(model_dir=model_dir, max_new_tokens=new_tokens, decode_batch=decode_batch)
        answer = llm.invoke(messages[index])
        results[index] = (answer.content, answer.response_metadata)

    started = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(messages))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8], help="requests sent at once")
    parser.add_argument("--new-tokens", type=int, default=96, help="max_new_tokens of each answer")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--bundle", type=Path, default=Path("var/bundles/demo"), help="where the queries are")
    parser.add_argument("--out", type=Path, default=Path("docs/results"))
    args = parser.parse_args()

    import torch

    from backend.llm import LocalChatModel
    from backend.model_files import materialise_base_model
    from backend.settings import Settings

    if args.threads:
        torch.set_num_threads(args.threads)
    model_dir = materialise_base_model(Settings())
    messages = prompts(args.bundle, max(args.sizes))
    alone = LocalChatModel(model_dir=model_dir, max_new_tokens=args.new_tokens, decode_batch=1)
    timer = Timer(alone.shared.model)
    alone.invoke(messages[0], max_new_tokens=4)  # warm up
    load = os.getloadavg()[0]

    timer.passes.clear()
    baseline = [alone.invoke(m) for m in messages]
    base_steps = [s for rows, positions, s in timer.passes if positions == 1]
    base_step = statistics.median(base_steps)
    rows_out = [{"size": "alone", "step_ms": base_step * 1000, "per_sequence_tok_s": 1 / base_step,
                 "total_tok_s": 1 / base_step,
                 "prefill_ms": statistics.median(s for _, p, s in timer.passes if p > 1) * 1000,
                 "wall_s": None, "e2e_tok_s": None, "caller_tok_s": statistics.mean(
                     a.response_metadata["tokens_per_s"] for a in baseline),
                 "first_token_s": None, "same": None}]
    for size in args.sizes:
        timer.passes.clear()
        results, wall = run_at_once(model_dir, messages[:size], args.new_tokens, max(args.sizes))
        full = [s for rows, positions, s in timer.passes if positions == 1 and rows == size]
        step = statistics.median(full) if full else float("nan")
        tokens = sum(stats["completion_tokens"] for _, stats in results)
        rows_out.append({
            "size": size, "step_ms": step * 1000, "per_sequence_tok_s": 1 / step, "total_tok_s": size / step,
            "prefill_ms": statistics.median(s for _, p, s in timer.passes if p > 1) * 1000,
            "wall_s": wall, "e2e_tok_s": tokens / wall,
            "caller_tok_s": statistics.mean(stats["tokens_per_s"] for _, stats in results),
            "first_token_s": max(stats["queued_s"] + stats["prefill_s"] for _, stats in results),
            "same": f"{sum(text == b.content for (text, _), b in zip(results, baseline))}/{size}"})
        print(json.dumps(rows_out[-1]), flush=True)

    header = ("| B | step ms | tok/s per sequence | tok/s total | prefill ms | wall s | e2e tok/s | caller tok/s "
              "| slowest first token s | same as alone |")
    lines = [header, "|" + " --- |" * 10]
    for r in rows_out:
        cells = [r["size"], r["step_ms"], r["per_sequence_tok_s"], r["total_tok_s"], r["prefill_ms"], r["wall_s"],
                 r["e2e_tok_s"], r["caller_tok_s"], r["first_token_s"], r["same"]]
        lines.append("| " + " | ".join("" if c is None else f"{c:.1f}" if isinstance(c, float) else str(c)
                                       for c in cells) + " |")
    table = "\n".join(lines)
    machine = {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
               "load_before": load, "load_after": os.getloadavg()[0]}
    print(table)
    print(machine)
    args.out.mkdir(parents=True, exist_ok=True)
    record = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "new_tokens": args.new_tokens,
              "prompt_tokens": [alone.get_num_tokens_from_messages(m) for m in messages], "machine": machine,
              "rows": rows_out}
    (args.out / "batching.json").write_text(json.dumps(record, indent=2) + "\n")
    how = __doc__.split("\n\n", 2)[2].split("\nWrites")[0].strip()
    (args.out / "batching.md").write_text(
        f"# Continuous batching of the local model\n\n`python bench/batching.py --sizes {' '.join(map(str, args.sizes))} "
        f"--new-tokens {args.new_tokens}` ({record['when']}): {how}\n\n{table}\n\nMachine: {machine}; prompts of "
        f"{min(record['prompt_tokens'])}-{max(record['prompt_tokens'])} tokens.\n")


if __name__ == "__main__":
    main()
