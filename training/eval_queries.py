"""What an evaluation asks: a bundle's queries of one split, seeded subsets, and the candidate
lists.

Two protocols, the same queries for every system:

- `full`: a shortlist from the whole catalogue (what a client experiences); each system returns its
  best `max(k)` items.
- `rerank`: a fixed list of `RERANK_SIZE` candidates per query, every relevant item (best grades
  first, if there are more) plus negatives sampled uniformly from the rest of the catalogue,
  shuffled, seeded by the query id: identical for every system and every run, as in ReRec.

With `exclude_seen`, items the client already interacted with (`seen_items`) are removed from every
system's list before scoring and never sampled as negatives.
"""

from __future__ import annotations

import random
from pathlib import Path

from catalog.bundle import Bundle, read_bundle
from catalog.errors import ConciergeError

PROTOCOLS = ("full", "rerank")
PROTOCOL_TITLES = {"full": "shortlist from the whole catalogue",
                   "rerank": "re-rank a fixed list of 20 candidates"}
RERANK_SIZE = 20


def load_bundle(path: str | Path) -> Bundle:
    """Read a bundle that can be evaluated (it has queries).

    Raises:
        `ConciergeError`: not a bundle, or a bundle without queries.
    """
    bundle, report = read_bundle(path)
    if report.problems:
        print(f"warning: {report.n_bad} bad row(s) in {path} were "
              f"skipped:\n{report.to_text(limit=5)}")
    if not bundle.queries:
        raise ConciergeError(f"{path} has no queries (queries.jsonl is missing or empty): an "
                             "evaluation needs queries with their relevant items; the catalogue "
                             "alone can be served, not scored")
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
        raise ConciergeError(f"split {split!r} does not exist in {bundle.name}; its splits are: "
                             f"{present}")
    return chosen


def only_queries(queries: list[dict], ids: list[str] | None, split: str) -> list[dict]:
    """The queries whose ids are in `ids` (all when None), in file order.

    Raises:
        `ConciergeError`: an id that is not a query of the split.
    """
    if ids is None:
        return queries
    known = {q["query_id"] for q in queries}
    missing = [i for i in ids if i not in known]
    if missing:
        raise ConciergeError(f"{len(missing)} of the chosen queries are not in the {split} split "
                             f"(e.g. {missing[0]!r})")
    wanted = set(ids)
    return [q for q in queries if q["query_id"] in wanted]


def subset(queries: list[dict], n: int | None, seed: int) -> list[dict]:
    """The first `n` queries of a seeded shuffle (the same for every system), back in file order."""
    if n is None or n >= len(queries):
        return list(queries)
    keep = {q["query_id"]
            for q in random.Random(f"subset/{seed}").sample(queries, len(queries))[:n]}
    return [q for q in queries if q["query_id"] in keep]


def seen_items(bundle: Bundle) -> dict[str, set[str]]:
    """Client id -> items they interacted with."""
    seen: dict[str, set[str]] = {}
    for row in bundle.interactions:
        seen.setdefault(row["client_id"], set()).add(row["item_id"])
    return seen


def rerank_candidates(query: dict, item_ids: list[str], excluded: set[str], size: int,
                      seed: int) -> list[str]:
    """The fixed candidate list of one query: relevant items (best grade first) + sampled negatives,
    shuffled.

    Args:
        query (`dict`): the query row.
        item_ids (`list[str]`): the catalogue, in a fixed order.
        excluded (`set[str]`): items never drawn as negatives (what the client already has, when
            excluded).
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

