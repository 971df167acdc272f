"""The evaluation harness: every system on the same queries, under one or both protocols.

`evaluate(config)` reads the bundle and its split (`training/eval_queries.py`), imports it into
scratch stores (`training/eval_stores.py`), runs each system on every query of each protocol it
supports, and returns the report: metrics with intervals and paired comparisons
(`training/eval_stats.py`). `training/eval_report.py` writes it as Markdown, JSON and a plot;
`training/eval_cli.py` is `concierge eval BUNDLE --split test --systems LIST --k 5,10`.

A system that raises on a query is recorded as failing on it (its error kept, every metric 0) and
the run goes on. `exclude_seen` comes from the bundle's manifest (`eval.exclude_seen`, as MovieLens
sets it) unless the config says otherwise.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

from tqdm.auto import tqdm

from backend.settings import Settings
from catalog.bundle import Bundle
from catalog.errors import ConciergeError
from training.eval_queries import (PROTOCOLS, RERANK_SIZE, load_bundle, only_queries,
                                   rerank_candidates, seen_items, select_queries, subset)
from training.eval_stats import QueryRecord, compare_all, default_pairs, summarise
from training.eval_journal import Journal, journal_key, journal_path
from training.eval_stores import scratch_stores
from training.metrics import RESAMPLES, failed_scores, query_scores
from training.systems import SLOW, EvalWorld, check_systems, make_system, system_kind

DEFAULT_SYSTEMS = ("popularity", "bm25", "embedding", "graph", "als", "retrieval")


@dataclass
class EvalConfig:
    """What to evaluate and how. Every field has a default but `bundle`."""

    bundle: str = field(metadata={"help": "bundle directory"})
    split: str = field(default="test",
                       metadata={"help": "queries of this split (train, val, test)"})
    systems: list[str] = field(default_factory=lambda: list(DEFAULT_SYSTEMS),
                               metadata={"help": "systems to run, in table order"})
    ks: list[int] = field(default_factory=lambda: [5, 10],
                          metadata={"help": "cut-offs of NDCG and recall"})
    protocols: list[str] = field(default_factory=lambda: list(PROTOCOLS),
                                 metadata={"help": "full, rerank"})
    limit: int | None = field(default=None,
                              metadata={"help": "at most this many queries per system"})
    llm_limit: int | None = field(default=None,
                                  metadata={"help": "at most this many for LLM systems"})
    out: str | None = field(default=None, metadata={"help": "output directory"})
    seed: int = field(default=0,
                      metadata={"help": "seeds subsets, candidate lists, bootstrap, LLM handles"})
    resamples: int = field(default=RESAMPLES, metadata={"help": "bootstrap resamples"})
    exclude_seen: bool | None = field(default=None,
                                      metadata={"help": "None: as the bundle's manifest says"})
    compare: list[tuple[str, str]] = field(default_factory=list, metadata={"help": "(A, B) pairs"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})
    threads: int = field(default=0, metadata={"help": "torch CPU threads (0: torch's default)"})
    query_ids: list[str] | None = field(default=None, metadata={
        "help": "only these queries of the split (e.g. a client's held-out requests)"})
    concurrency: int = field(default=1, metadata={
        "help": "queries of an LLM system in flight at once (their tokens decoded in one batch)"})



def check_config(config: EvalConfig, bundle: Bundle) -> None:
    """Raise a ConciergeError for systems, protocols, cut-offs or limits that cannot work."""
    check_systems(config.systems)
    unknown = [p for p in config.protocols if p not in PROTOCOLS]
    if unknown or not config.protocols:
        raise ConciergeError(f"unknown protocol {', '.join(unknown) or '(none)'}; choose full, "
                             "rerank or both")
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
    return QueryRecord(query["query_id"], query.get("type") or "untyped", scores, ranking, seconds,
                       error, dict(getattr(system, "last", {}) or {}))


def run_system(system, spec: str, queries: list[dict], protocol: str, world: EvalWorld,
               config: EvalConfig, seen: dict[str, set[str]], exclude: bool) -> list[QueryRecord]:
    """Every query of one protocol through one system, with a progress bar (ETA), in query order.

    A slow (LLM) system's records are journalled under `config.out` and taken from there when it
    runs again (`training/eval_journal.py`); with `config.concurrency` > 1 that many of its queries
    are in flight at once, each thread with its own shallow copy of the system (a system keeps the
    notes of its current query in `last`; model and stores are shared), so the shared model decodes
    their tokens in one batch (`backend/decoding.py`). A query's `seconds` is then its wall time in
    the batch, not its cost alone."""
    top, journal, done = max(config.ks), None, {}
    slow = system_kind(spec) in SLOW
    if config.out and slow:
        key = journal_key(world.bundle.digest(), config.split, protocol, spec, config.seed,
                          config.ks, exclude)
        journal = Journal(journal_path(config.out, protocol, spec), key)
        done = dict(journal.done)
        if done:
            print(f"{protocol}/{spec}: {len(done)} queries from an earlier run's journal")
    todo = [q for q in queries if q["query_id"] not in done]
    copies, workers = threading.local(), max(1, config.concurrency) if slow else 1

    def one(query: dict) -> QueryRecord:
        own = system
        if workers > 1:  # a copy per thread: its notes (`last`) are its own query's
            own = getattr(copies, "system", None) or copy.copy(system)
            copies.system = own
        excluded = seen.get(query.get("client_id"), set()) if exclude else set()
        if protocol == "full":
            candidates, depth, keep = None, top + len(excluded), top
        else:
            candidates = rerank_candidates(query, world.item_ids, excluded, RERANK_SIZE,
                                           config.seed)
            depth = keep = len(candidates)
        return run_query(own, query, candidates, depth, keep, excluded, config.ks)

    bar = tqdm(total=len(queries), initial=len(done), desc=f"{protocol}/{spec}", unit="query",
               disable=not config.progress, dynamic_ncols=True)
    if workers == 1:
        records = (one(q) for q in todo)
    else:
        pool = ThreadPoolExecutor(workers, thread_name_prefix=f"eval-{system_kind(spec)}")
        records = (future.result() for future in as_completed([pool.submit(one, q)
                                                                   for q in todo]))
    try:
        for record in records:  # journalled as each finishes, so a stop loses only what runs
            done[record.query_id] = record
            if journal is not None:
                journal.add(record)
            bar.update(1)
    finally:
        if workers > 1:
            pool.shutdown(wait=True, cancel_futures=True)
    bar.close()
    return [done[q["query_id"]] for q in queries]


def evaluate(config: EvalConfig, settings: Settings | None = None) -> dict:
    """Run the evaluation described by `config` and return the report (what `results.json` holds).

    Args:
        config (`EvalConfig`): bundle, split, systems, cut-offs, protocols, limits, seed.
        settings (`Settings`, *optional*): the serving settings, whose var dir holds the scratch
            stores (default: `get_settings()`).

    Returns:
        `dict`: bundle, settings of the run, per protocol and system the metrics with intervals, per
        type, per query, wall times and failures, and the paired comparisons.

    Raises:
        `ConciergeError`: a bundle without queries, an unknown split, system or protocol, or k
        larger than the catalogue.
    """
    bundle = load_bundle(config.bundle)
    queries = only_queries(select_queries(bundle, config.split), config.query_ids, config.split)
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
        "bootstrap": {"resamples": config.resamples, "confidence": 0.95, "method": "BCa"},
            "exclude_seen": exclude,
        "rerank_size": RERANK_SIZE,
            "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "queries_in_split": len(queries), "wall_seconds": round(time.perf_counter() - started, 1),
        "machine": {"cpus": os.cpu_count(), "load_average_before": load_before,
                    "load_average_after":
                    os.getloadavg()[0], "torch_threads": config.threads or "default"},
        "results": results,
            "comparisons": compare_all(results, pairs, config.ks, config.resamples, config.seed),
    }


@contextmanager
def torch_threads(threads: int):
    """torch's CPU threads set to `threads` meanwhile (0: left alone). On a shared 2-core machine
    one thread is far faster than two fighting other processes for the cores."""
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
    """Build one system and run it on every protocol it supports; a system that cannot start is
    recorded."""
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
            skipped = f"{spec} does not support the {protocol} protocol"
            results[protocol][spec] = {"skipped": skipped}
            continue
        records = run_system(system, spec, chosen, protocol, world, config, seen, exclude)
        results[protocol][spec] = {"can_abstain": system.can_abstain, "limit": limit,
                                   "setup_seconds": round(setup, 2),
                                   **summarise(records, config.ks, config.resamples, config.seed)}

