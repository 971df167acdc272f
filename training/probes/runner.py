"""Scoring a model on the capability probes: `concierge probes MODEL`.

A fine-tuned recommender must not lose general instruction following or knowledge (ReRec reports SFT
losing much of the latter; the registry refuses a version that drops beyond a tolerance). The model
is asked every probe once, greedily, with a short token budget; the scores are the share of
instruction probes whose checker passes, and the shares of knowledge answers that match exactly /
contain an accepted answer.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

from tqdm.auto import tqdm

from backend.settings import get_settings
from catalog.errors import ConciergeError
from training.probes.instructions import INSTRUCTION_PROBES
from training.probes.knowledge import KNOWLEDGE_PROBES, is_contained, is_exact

INSTRUCTION_TOKENS = 96
KNOWLEDGE_TOKENS = 16
KNOWLEDGE_SYSTEM = ("Answer with only the answer: a word, a name or a number. "
                    "No sentence, no explanation.")


def ask(model, messages: list, max_new_tokens: int) -> str:
    """One greedy answer; the token budget is passed where the model takes it (the local
    backend)."""
    if getattr(model, "_llm_type", None) == "concierge-local":  # backend.llm.LocalChatModel
        return model.invoke(messages, max_new_tokens=max_new_tokens, temperature=0.0).content
    return model.invoke(messages).content


def run_instructions(model, probes, progress: bool, max_new_tokens: int) -> list[dict]:
    from langchain_core.messages import HumanMessage

    rows = []
    for probe in tqdm(probes, desc="instruction probes", unit="probe", disable=not progress):
        response = ask(model, [HumanMessage(probe.prompt)], max_new_tokens)
        rows.append({"probe_id": probe.probe_id, "kind": probe.kind, "prompt": probe.prompt,
                     "response": response, "passed": bool(probe.check(response))})
    return rows


def run_knowledge(model, probes, progress: bool, max_new_tokens: int) -> list[dict]:
    from langchain_core.messages import HumanMessage, SystemMessage

    rows = []
    for probe in tqdm(probes, desc="knowledge probes", unit="probe", disable=not progress):
        response = ask(model, [SystemMessage(KNOWLEDGE_SYSTEM), HumanMessage(probe.question)],
                       max_new_tokens)
        rows.append({"probe_id": probe.probe_id, "question": probe.question, "response": response,
                     "exact": is_exact(response, probe), "contains": is_contained(response, probe)})
    return rows


def _share(rows: list[dict], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows) if rows else float("nan")


def score_probes(model, limit: int | None = None, progress: bool = True,
                 instruction_tokens: int = INSTRUCTION_TOKENS,
                 knowledge_tokens: int = KNOWLEDGE_TOKENS) -> dict:
    """Ask `model` every probe and score the answers.

    Args:
        model: a LangChain chat model (anything with `invoke(messages).content`).
        limit (`int`, *optional*): only the first `limit` probes of each set (a quick check).
        progress (`bool`): show progress bars.
        instruction_tokens (`int`), knowledge_tokens (`int`): generation budgets (local backend).

    Returns:
        `dict`: `instruction_following` (share passed, and per kind), `knowledge_exact`,
        `knowledge_contains`, counts, seconds, and every probe's response.
    """
    started = time.perf_counter()
    instructions = run_instructions(model, INSTRUCTION_PROBES[:limit], progress, instruction_tokens)
    knowledge = run_knowledge(model, KNOWLEDGE_PROBES[:limit], progress, knowledge_tokens)
    by_kind: dict[str, list[dict]] = {}
    for row in instructions:
        by_kind.setdefault(row["kind"], []).append(row)
    return {
        "instruction_following": _share(instructions, "passed"),
        "instruction_by_kind": {kind: _share(rows, "passed") for kind, rows in by_kind.items()},
        "knowledge_exact": _share(knowledge, "exact"),
        "knowledge_contains": _share(knowledge, "contains"),
        "n_instruction": len(instructions), "n_knowledge": len(knowledge),
        "seconds": round(time.perf_counter() - started, 1),
        "instruction_probes": instructions, "knowledge_probes": knowledge,
    }


def load_probe_model(spec: str, settings=None):
    """The chat model to probe: `base`, a LoRA adapter directory, or a Hugging Face model directory.

    Raises:
        `ConciergeError`: `spec` is none of those.
    """
    path = Path(spec)
    if (spec != "base" and not (path / "adapter_config.json").is_file()
            and not (path / "config.json").is_file()):
        raise ConciergeError(f"{spec!r} is neither `base`, a LoRA adapter directory "
                             "(adapter_config.json) nor a Hugging Face model directory "
                             "(config.json)")
    from backend.llm import LocalChatModel, chat_model

    settings = settings or get_settings()
    if spec == "base":
        return chat_model(settings)
    if (path / "adapter_config.json").is_file():
        from backend.llm import adapter_name_for

        name = adapter_name_for(path)
        return chat_model(settings, adapter=name, adapter_path=path)
    return LocalChatModel(model_dir=path, device=settings.llm_device, threads=settings.llm_threads,
                          temperature=0.0)


def add_probe_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments of `concierge probes` (the caller sets `func=main_probes`)."""
    parser.add_argument("model",
                        help="`base`, a LoRA adapter directory, or a Hugging Face model directory")
    parser.add_argument("--limit", type=int, default=None,
                        help="only the first N probes of each set")
    parser.add_argument("--out", default=None,
                        help="JSON file to write "
                             "(default: docs/results/probes-<model>-<date>.json)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def summary_table(name: str, scores: dict) -> str:
    return "\n".join([
        "| model | instruction following | knowledge (exact) | knowledge (contains) | probes | "
        "seconds |",
        "|---|---:|---:|---:|---:|---:|",
        f"| {name} | {scores['instruction_following']:.3f} | {scores['knowledge_exact']:.3f} | "
        f"{scores['knowledge_contains']:.3f} | {scores['n_instruction']} + {scores['n_knowledge']} "
        f"| {scores['seconds']} |"])


def main_probes(args: argparse.Namespace) -> int:
    """`concierge probes MODEL`: score, print a table, write the JSON. Returns the exit status."""
    if args.limit is not None and args.limit < 1:
        raise ConciergeError(f"--limit must be at least 1 (got {args.limit})")
    scores = score_probes(load_probe_model(args.model), limit=args.limit, progress=not args.quiet)
    name = Path(args.model).name or args.model
    created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = Path(args.out or f"docs/results/probes-{name}-{created[:10]}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": args.model, "created": created, **scores}, indent=1,
                              ensure_ascii=False) + "\n")
    print(summary_table(name, scores))
    print(f"wrote {out}")
    return 0
