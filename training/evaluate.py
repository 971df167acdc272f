"""The evaluation harness: `concierge eval BUNDLE --split test --systems LIST --k 5,10`.

Two protocols, the same queries for every system:

- `full`: a shortlist from the whole catalogue (what a client experiences); each system returns its
  best `max(k)` items.
- `rerank`: a fixed list of `RERANK_SIZE` candidates per query, every relevant item (best grades
  first, if there are more) plus negatives sampled uniformly from the rest of the catalogue, shuffled,
  seeded by the query id: identical for every system and every run, as in ReRec.

Metrics and their intervals are in `training/metrics.py`. A system that raises on a query is recorded
as failing on it (its error kept, every metric 0) and the run goes on. With `exclude_seen` (the
bundle's manifest `eval.exclude_seen`, as MovieLens sets it, or `--exclude-seen`), items the client
already interacted with are removed from every system's list before scoring and never sampled as
negatives.

The bundle is imported into scratch stores under `<var>/eval/<bundle name>/` (SQLite + Chroma +
graphs), re-used while the bundle's digest is unchanged and wiped when it changed. The serving stores
are never touched: `scratch_stores` returns the scratch stores' `Settings` (the serving settings with
another var dir, database and Chroma path), and every system is handed those settings and reads and
writes only the stores they name; nothing process-wide changes.

Output: a Markdown table on screen, and `results.json`, `results.md`, `ndcg.png` under
`docs/results/<bundle>-<date>/` (or `--out`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from tqdm.auto import tqdm

from backend.settings import Settings, get_settings
from catalog.bundle import Bundle, read_bundle
from catalog.errors import ConciergeError
from training.metrics import (GATES, RESAMPLES, bootstrap_interval, failed_scores, metric_names, paired_comparison,
                              query_scores, reasoning_gates)
from training.systems import SLOW, SYSTEMS, EvalWorld, check_systems, make_system, system_kind

PROTOCOLS = ("full", "rerank")
PROTOCOL_TITLES = {"full": "shortlist from the whole catalogue", "rerank": "re-rank a fixed list of 20 candidates"}
RERANK_SIZE = 20
DEFAULT_SYSTEMS = ("popularity", "bm25", "embedding", "graph", "als", "retrieval")


@dataclass
class EvalConfig:
    """What to evaluate and how. Every field has a default but `bundle`."""

    bundle: str = field(metadata={"help": "bundle directory"})
    split: str = field(default="test", metadata={"help": "queries of this split (train, val, test)"})
    systems: list[str] = field(default_factory=lambda: list(DEFAULT_SYSTEMS),
                               metadata={"help": "systems to run, in table order"})
    ks: list[int] = field(default_factory=lambda: [5, 10], metadata={"help": "cut-offs of NDCG and recall"})
    protocols: list[str] = field(default_factory=lambda: list(PROTOCOLS), metadata={"help": "full, rerank"})
    limit: int | None = field(default=None, metadata={"help": "at most this many queries per system"})
    llm_limit: int | None = field(default=None, metadata={"help": "at most this many for LLM systems"})
    out: str | None = field(default=None, metadata={"help": "output directory"})
    seed: int = field(default=0, metadata={"help": "seeds subsets, candidate lists, bootstrap, LLM handles"})
    resamples: int = field(default=RESAMPLES, metadata={"help": "bootstrap resamples"})
    exclude_seen: bool | None = field(default=None, metadata={"help": "None: as the bundle's manifest says"})
    compare: list[tuple[str, str]] = field(default_factory=list, metadata={"help": "(A, B) pairs"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads (0: torch's default)"})


# ----------------------------------------------------------------------------------------------
# Input


def load_bundle(path: str | Path) -> Bundle:
    """Read a bundle that can be evaluated (it has queries).

    Raises:
        `ConciergeError`: not a bundle, or a bundle without queries.
    """
    bundle, report = read_bundle(path)
    if report.problems:
        print(f"warning: {report.n_bad} bad row(s) in {path} were skipped:\n{report.to_text(limit=5)}")
    if not bundle.queries:
        raise ConciergeError(f"{path} has no queries (queries.jsonl is missing or empty): an evaluation needs "
                             "queries with their relevant items; the catalogue alone can be served, not scored")
    return bundle


def select_queries(bundle: Bundle, split: str) -> list[dict]:
    """The queries of one split, in file order.

    Raises:
        `ConciergeError`: the split has no queries; the message lists the splits that do.
    """
    chosen = [q for q in bundle.queries if q["split"] == split]
    if not chosen:
        counts = {}
        for q in bundle.queries:
            counts[q["split"]] = counts.get(q["split"], 0) + 1
        present = ", ".join(f"{name} ({n} queries)" for name, n in sorted(counts.items()))
        raise ConciergeError(f"split {split!r} does not exist in {bundle.name}; its splits are: {present}")
    return chosen


def check_config(config: EvalConfig, bundle: Bundle) -> None:
    """Raise a ConciergeError for systems, protocols, cut-offs or limits that cannot work."""
    check_systems(config.systems)
    unknown = [p for p in config.protocols if p not in PROTOCOLS]
    if unknown or not config.protocols:
        raise ConciergeError(f"unknown protocol {', '.join(unknown) or '(none)'}; choose full, rerank or both")
    if not config.ks or min(config.ks) < 1:
        raise ConciergeError(f"--k must list positive cut-offs, e.g. 5,10 (got {config.ks})")
    if max(config.ks) > len(bundle.items):
        raise ConciergeError(f"k={max(config.ks)} is larger than the catalogue of {bundle.name} "
                             f"({len(bundle.items)} items); use a smaller --k")
    for name, value in (("--limit", config.limit), ("--llm-limit", config.llm_limit)):
        if value is not None and value < 1:
            raise ConciergeError(f"{name} must be at least 1 (got {value})")
    for a, b in config.compare:
        if a not in config.systems or b not in config.systems:
            raise ConciergeError(f"--compare {a},{b}: both systems must be among --systems")


def subset(queries: list[dict], n: int | None, seed: int) -> list[dict]:
    """The first `n` queries of a seeded shuffle (the same for every system), back in file order."""
    if n is None or n >= len(queries):
        return list(queries)
    keep = {q["query_id"] for q in random.Random(f"subset/{seed}").sample(queries, len(queries))[:n]}
    return [q for q in queries if q["query_id"] in keep]


def seen_items(bundle: Bundle) -> dict[str, set[str]]:
    """Client id -> items they interacted with."""
    seen: dict[str, set[str]] = {}
    for row in bundle.interactions:
        seen.setdefault(row["client_id"], set()).add(row["item_id"])
    return seen


def rerank_candidates(query: dict, item_ids: list[str], excluded: set[str], size: int, seed: int) -> list[str]:
    """The fixed candidate list of one query: relevant items (best grade first) + sampled negatives, shuffled.

    Args:
        query (`dict`): the query row.
        item_ids (`list[str]`): the catalogue, in a fixed order.
        excluded (`set[str]`): items never drawn as negatives (what the client already has, when excluded).
        size (`int`): list length (less when the catalogue is smaller).
        seed (`int`): with the query id, seeds the draw.

    Returns:
        `list[str]`: the candidates, in the order every system receives them.
    """
    rng = random.Random(f"rerank/{seed}/{query['query_id']}")
    relevant = sorted(query["relevant"], key=lambda i: (-query["relevant"][i], i))[:size]
    pool = [i for i in item_ids if i not in query["relevant"] and i not in excluded]
    negatives = rng.sample(pool, min(size - len(relevant), len(pool)))
    candidates = relevant + negatives
    rng.shuffle(candidates)
    return candidates


# ----------------------------------------------------------------------------------------------
# Scratch stores


def safe_name(name: str) -> str:
    """A bundle name fit for a directory name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "bundle"


def scratch_settings(base: Settings, bundle: Bundle) -> Settings:
    """The settings of `bundle`'s scratch stores: `base` with its stores moved to `<var>/eval/<name>/`
    (a SQLite file, an embedded Chroma, graphs and rankers there) and the base model kept where `base`
    has it (shared with serving).

    Args:
        base (`Settings`): the serving settings.
        bundle (`Bundle`): the bundle evaluated.

    Returns:
        `Settings`: a new value; `base` is unchanged.
    """
    directory = (base.var_dir / "eval" / safe_name(bundle.name)).resolve()
    return base.model_copy(update={"var_dir": directory, "database_url": f"sqlite:///{directory / 'concierge.db'}",
                                   "chroma_path": directory / "chroma", "chroma_host": None,
                                   "base_model_dir": base.model_dir.resolve()})


def _wipe(directory: Path) -> None:
    """Delete a scratch directory, and the Chroma clients and SQL engines that may still hold it open
    (a cached engine would reconnect to a new, empty file without the schema)."""
    from chromadb.api.client import SharedSystemClient

    from backend import index
    from backend.store import get_engine

    index._persistent_client.cache_clear()
    SharedSystemClient.clear_system_cache()
    get_engine.cache_clear()
    shutil.rmtree(directory, ignore_errors=True)


def scratch_stores(bundle: Bundle, needs_llm: bool = False, progress: bool = True,
                   settings: Settings | None = None) -> Settings:
    """Import `bundle` into its scratch stores under `<var>/eval/<name>/` (kept while its digest is unchanged)
    and return their settings, to hand to whatever should read them.

    Args:
        bundle (`Bundle`): the bundle.
        needs_llm (`bool`): materialise the base model first (in the serving var dir, shared).
        progress (`bool`): show the import's progress bars.
        settings (`Settings`, *optional*): the serving settings (default: `get_settings()`).

    Returns:
        `Settings`: the scratch settings (`scratch_settings`).
    """
    from backend.importer import import_bundle
    from backend.live import prepare_ranker
    from backend.models import materialise_base_model

    base = settings or get_settings()
    if needs_llm:
        materialise_base_model(base)
    scratch = scratch_settings(base, bundle)
    directory = scratch.var_dir
    stamp = directory / "bundle.digest"
    if stamp.is_file() and stamp.read_text().strip() != bundle.digest():
        _wipe(directory)
    result = import_bundle(bundle, progress=progress, settings=scratch)
    directory.mkdir(parents=True, exist_ok=True)
    if result.changed or not stamp.is_file():
        print(f"scratch stores: {result.summary()} -> {directory}")
        print(f"ranker (train split, val for early stopping): {prepare_ranker(bundle, scratch, progress)}")
    stamp.write_text(bundle.digest())
    return scratch


# ----------------------------------------------------------------------------------------------
# Running


@dataclass
class QueryRecord:
    """What one system did on one query."""

    query_id: str
    type: str
    scores: dict[str, float]
    ranking: list[str]
    seconds: float
    error: str | None = None
    notes: dict = field(default_factory=dict)


def run_query(system, query: dict, candidates: list[str] | None, depth: int, keep: int,
              excluded: set[str], ks: list[int]) -> QueryRecord:
    """Rank one query with one system and score it; an exception is recorded, not raised."""
    if hasattr(system, "last"):
        system.last = {}  # notes of this query only
    started = time.perf_counter()
    try:
        ranking = [i for i in system.rank(query, candidates, depth) if i not in excluded][:keep]
        error, scores = None, query_scores(ranking, query["relevant"], ks)
    except Exception as exc:  # any failure of a system on one query is a result, not a crash
        ranking, error, scores = [], f"{type(exc).__name__}: {exc}"[:500], failed_scores(ks)
    seconds = time.perf_counter() - started
    return QueryRecord(query["query_id"], query.get("type") or "untyped", scores, ranking, seconds, error,
                       dict(getattr(system, "last", {}) or {}))


def run_system(system, spec: str, queries: list[dict], protocol: str, world: EvalWorld, config: EvalConfig,
               seen: dict[str, set[str]], exclude: bool) -> list[QueryRecord]:
    """Every query of one protocol through one system, with a progress bar (ETA)."""
    records, top = [], max(config.ks)
    for query in tqdm(queries, desc=f"{protocol}/{spec}", unit="query", disable=not config.progress,
                      dynamic_ncols=True):
        excluded = seen.get(query.get("client_id"), set()) if exclude else set()
        if protocol == "full":
            candidates, depth, keep = None, top + len(excluded), top
        else:
            candidates = rerank_candidates(query, world.item_ids, excluded, RERANK_SIZE, config.seed)
            depth = keep = len(candidates)
        records.append(run_query(system, query, candidates, depth, keep, excluded, config.ks))
    return records


def summarise(records: list[QueryRecord], ks: list[int], resamples: int, seed: int) -> dict:
    """Metrics with bootstrap intervals, overall and per query type, and wall time per query."""
    def block(subset_records: list[QueryRecord]) -> dict:
        return {"n": len(subset_records),
                "metrics": {m: bootstrap_interval([r.scores[m] for r in subset_records], resamples,
                                                  seed=seed).to_dict() for m in metric_names(ks)}}

    by_type: dict[str, list[QueryRecord]] = {}
    for r in records:
        by_type.setdefault(r.type, []).append(r)
    seconds = [r.seconds for r in records]
    return {
        **block(records),
        "by_type": {t: block(rs) for t, rs in sorted(by_type.items())},
        "failures": [{"query_id": r.query_id, "error": r.error} for r in records if r.error],
        "seconds_per_query": {"mean": statistics.fmean(seconds), "median": statistics.median(seconds),
                              "p95": sorted(seconds)[max(math.ceil(0.95 * len(seconds)) - 1, 0)],
                              "total": sum(seconds)} if seconds else {},
        "per_query": [{"query_id": r.query_id, "type": r.type, "scores": {k: round(v, 4) for k, v in r.scores.items()},
                       "ranking": r.ranking[:max(ks)], "seconds": round(r.seconds, 4), "error": r.error,
                       **({"notes": r.notes} if r.notes else {})} for r in records],
    }


def default_pairs(systems: list[str]) -> list[tuple[str, str]]:
    """Without --compare: every system against the first one listed."""
    return [(spec, systems[0]) for spec in systems[1:]]


def compare_all(results: dict, pairs: list[tuple[str, str]], ks: list[int], resamples: int, seed: int) -> dict:
    """Paired comparisons per protocol and metric, on the queries both systems answered."""
    out = {}
    for protocol, systems in results.items():
        rows = []
        for a, b in pairs:
            if "per_query" not in systems.get(a, {}) or "per_query" not in systems.get(b, {}):
                continue
            for metric in metric_names(ks):
                score_a = {q["query_id"]: q["scores"][metric] for q in systems[a]["per_query"]}
                score_b = {q["query_id"]: q["scores"][metric] for q in systems[b]["per_query"]}
                rows.append(paired_comparison(score_a, score_b, a, b, metric, resamples, seed=seed).to_dict())
        out[protocol] = rows
    return out


def evaluate(config: EvalConfig, settings: Settings | None = None) -> dict:
    """Run the evaluation described by `config` and return the report (what `results.json` holds).

    Args:
        config (`EvalConfig`): bundle, split, systems, cut-offs, protocols, limits, seed.
        settings (`Settings`, *optional*): the serving settings, whose var dir holds the scratch stores
            (default: `get_settings()`).

    Returns:
        `dict`: bundle, settings of the run, per protocol and system the metrics with intervals, per type,
        per query, wall times and failures, and the paired comparisons.

    Raises:
        `ConciergeError`: a bundle without queries, an unknown split, system or protocol, or k larger
        than the catalogue.
    """
    bundle = load_bundle(config.bundle)
    queries = select_queries(bundle, config.split)
    check_config(config, bundle)
    exclude = config.exclude_seen if config.exclude_seen is not None else \
        bool((bundle.manifest.get("eval") or {}).get("exclude_seen"))
    needs_llm = any(system_kind(s) in SLOW for s in config.systems)
    load_before = os.getloadavg()[0]
    results: dict[str, dict] = {p: {} for p in config.protocols}
    started = time.perf_counter()
    scratch = scratch_stores(bundle, needs_llm, config.progress, settings)
    with torch_threads(config.threads):
        world, seen = EvalWorld(bundle, scratch, config.seed), seen_items(bundle)
        for spec in config.systems:
            run_one_system(spec, world, queries, config, seen, exclude, results)
    pairs = config.compare or default_pairs(config.systems)
    return {
        "bundle": {"name": bundle.name, "path": str(config.bundle), "digest": bundle.digest(),
                   "counts": bundle.counts()},
        "split": config.split, "ks": config.ks, "protocols": config.protocols, "seed": config.seed,
        "bootstrap": {"resamples": config.resamples, "confidence": 0.95, "method": "BCa"}, "exclude_seen": exclude,
        "rerank_size": RERANK_SIZE, "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "queries_in_split": len(queries), "wall_seconds": round(time.perf_counter() - started, 1),
        "machine": {"cpus": os.cpu_count(), "load_average_before": load_before, "load_average_after":
                    os.getloadavg()[0], "torch_threads": config.threads or "default"},
        "results": results, "comparisons": compare_all(results, pairs, config.ks, config.resamples, config.seed),
    }


@contextmanager
def torch_threads(threads: int):
    """torch's CPU threads set to `threads` meanwhile (0: left alone). On a shared 2-core machine one
    thread is far faster than two fighting other processes for the cores."""
    if threads <= 0:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_one_system(spec: str, world: EvalWorld, queries: list[dict], config: EvalConfig,
                   seen: dict[str, set[str]], exclude: bool, results: dict) -> None:
    """Build one system and run it on every protocol it supports; a system that cannot start is recorded."""
    kind = system_kind(spec)
    limit = config.llm_limit if kind in SLOW and config.llm_limit is not None else config.limit
    chosen = subset(queries, limit, config.seed)
    started = time.perf_counter()
    try:
        system = make_system(spec, world)
    except ConciergeError:
        raise
    except Exception as exc:  # e.g. a library that is missing: the other systems still run
        for protocol in config.protocols:
            results[protocol][spec] = {"error": f"could not start: {type(exc).__name__}: {exc}"}
        return
    setup = time.perf_counter() - started
    for protocol in config.protocols:
        if protocol not in system.protocols:
            results[protocol][spec] = {"skipped": f"{spec} does not support the {protocol} protocol"}
            continue
        records = run_system(system, spec, chosen, protocol, world, config, seen, exclude)
        results[protocol][spec] = {"can_abstain": system.can_abstain, "limit": limit, "setup_seconds": round(setup, 2),
                                   **summarise(records, config.ks, config.resamples, config.seed)}


# ----------------------------------------------------------------------------------------------
# Reporting


def _label(metric: str) -> str:
    return metric.replace("ndcg", "NDCG").replace("recall", "Recall").replace("mrr", "MRR").replace("hit", "Hit")


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
        lines.append(f"| {spec} | {res['n']} | {cells} | {1000 * res['seconds_per_query']['mean']:.1f} | "
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
    lines = [f"| protocol | A | B | n | {_label(metric)} A − B [95% CI] | p |", "|---|---|---|---:|---|---:|"]
    for protocol, rows in report["comparisons"].items():
        for row in rows:
            if row["metric"] == metric:
                lines.append(f"| {protocol} | {row['a']} | {row['b']} | {row['n']} | {_cell(row['diff'])} | "
                             f"{row['p_value']:.4f} |")
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
            rows.append(f"| {protocol}/{spec} | {gates['answers']} | {gates['valid_pick']:.0%} ({mark['valid_pick']}) "
                        f"| {gates['forced']:.0%} | {gates['degenerate']} ({mark['degenerate']}) | {gates['cut']} "
                        f"| {gates['consistent']:.0%} ({mark['consistent']}) "
                        f"| {gates['inconsistent']:.0%} ({mark['inconsistent']}) "
                        f"| {gates['ungrounded']} ({mark['ungrounded']}) | {gates['median_tokens']} |")
    if not rows:
        return []
    targets = ", ".join(f"{g} {op} {b}" for g, (op, b) in GATES.items())
    return [f"Gates: {targets}. Forced: answers whose picks were read from the model's scores after its text "
            "ended without a usable ANSWER line.", "",
            "| system | answers | valid pick | forced | degenerate | cut at limit | steps consistent "
            "| steps inconsistent | answers with ungrounded steps | median tokens |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"] + rows


def markdown(report: dict) -> str:
    """The report as Markdown: one metrics table and one per-type table per protocol, then comparisons."""
    b, main = report["bundle"], f"ndcg@{max(report['ks'])}"
    out = [f"# Evaluation of `{b['name']}` ({report['split']} split, {report['queries_in_split']} queries)", "",
           f"Bundle digest `{b['digest']}`, {b['counts']['items']} items; created {report['created']}; seed "
           f"{report['seed']}; means with BCa bootstrap 95% intervals over queries "
           f"({report['bootstrap']['resamples']} resamples); items the client already has "
           f"{'removed' if report['exclude_seen'] else 'kept'}; wall time {report['wall_seconds']} s.", ""]
    for protocol, systems in report["results"].items():
        out += [f"## {PROTOCOL_TITLES[protocol]} (`{protocol}`)", ""] + metrics_table(systems, report["ks"]) + [""]
        types = type_table(systems, main)
        if types:
            out += [f"{_label(main)} by query type:", ""] + types + [""]
    comparisons = comparison_table(report, main)
    if comparisons:
        out += ["## Paired comparisons", ""] + comparisons + [""]
    gates = gates_table(report)
    if gates:
        out += ["## The language model's answers: quality gates", ""] + gates + [""]
    out += ["Systems that can say nothing fits: " + ", ".join(sorted(
        {s for systems in report["results"].values() for s, r in systems.items() if r.get("can_abstain")})) + ". "
            "A query with no relevant item scores 1 only when the system said so; others score 0 there.", ""]
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
            xs = [i + (offset - (len(report["ks"]) - 1) / 2) * 0.8 / len(report["ks"]) for i in range(len(systems))]
            errors = [[s["mean"] - s["low"] for s in stats], [s["high"] - s["mean"] for s in stats]]
            ax.bar(xs, [s["mean"] for s in stats], width=0.8 / len(report["ks"]), yerr=errors, capsize=3,
                   label=f"NDCG@{k}")
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
    # compact: the per-query records of a thousand queries make an indented file several times larger
    (out / "results.json").write_text(json.dumps(report, ensure_ascii=False, separators=(",", ":")) + "\n",
                                      encoding="utf-8")
    (out / "results.md").write_text(markdown(report), encoding="utf-8")
    plot(report, out / "ndcg.png")
    return out


def default_out_dir(report: dict) -> Path:
    return Path("docs/results") / f"{safe_name(report['bundle']['name'])}-{report['created'][:10]}"


# ----------------------------------------------------------------------------------------------
# Command line


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 5,10, got {text!r}") from None


def _pair(text: str) -> tuple[str, str]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected two systems as A,B, got {text!r}")
    return parts[0], parts[1]


def add_eval_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments of `concierge eval` (the caller sets `func=main_eval`)."""
    parser.add_argument("bundle", help="bundle directory with queries (e.g. from `concierge demo --out DIR`)")
    parser.add_argument("--split", default="test", help="queries of this split (default: test)")
    parser.add_argument("--systems", default=",".join(DEFAULT_SYSTEMS),
                        help=f"comma-separated, from {', '.join(SYSTEMS)}; `reasoner@DIR` uses a LoRA adapter "
                             f"(default: {','.join(DEFAULT_SYSTEMS)})")
    parser.add_argument("--k", type=_int_list, default=[5, 10], help="cut-offs for NDCG and recall (default: 5,10)")
    parser.add_argument("--protocol", choices=("full", "rerank", "both"), default="both",
                        help="whole-catalogue shortlist, re-ranking 20 fixed candidates, or both (default)")
    parser.add_argument("--limit", type=int, default=None, help="at most N queries per system (a seeded subset)")
    parser.add_argument("--llm-limit", type=int, default=None,
                        help="at most N queries for the LLM systems (reasoner, pipeline; ~6 s each on a CPU)")
    parser.add_argument("--compare", type=_pair, action="append", default=[],
                        help="paired comparison A,B (repeatable; default: every system against the first)")
    parser.add_argument("--exclude-seen", action=argparse.BooleanOptionalAction, default=None,
                        help="drop items the client already interacted with (default: as the bundle's manifest says)")
    parser.add_argument("--seed", type=int, default=0, help="seed of subsets, candidate lists and bootstrap")
    parser.add_argument("--resamples", type=int, default=RESAMPLES, help="bootstrap resamples (default: 1000)")
    parser.add_argument("--out", default=None, help="output directory (default: docs/results/<bundle>-<date>)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    return EvalConfig(bundle=args.bundle, split=args.split,
                      systems=[s.strip() for s in args.systems.split(",") if s.strip()], ks=sorted(set(args.k)),
                      protocols=list(PROTOCOLS) if args.protocol == "both" else [args.protocol], limit=args.limit,
                      llm_limit=args.llm_limit, out=args.out, seed=args.seed, resamples=args.resamples,
                      exclude_seen=args.exclude_seen, compare=args.compare, progress=not args.quiet,
                      threads=args.threads)


def main_eval(args: argparse.Namespace) -> int:
    """`concierge eval`: run, print the Markdown tables, write JSON + Markdown + PNG. Returns the exit status."""
    config = config_from_args(args)
    report = evaluate(config)
    out = write_report(report, config.out or default_out_dir(report))
    print(markdown(report))
    print(f"wrote {out / 'results.json'}, {out / 'results.md'}, {out / 'ndcg.png'}")
    return 0
