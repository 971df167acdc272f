"""Evaluation queries: needs sampled per client, graded, put into words, split by client.

Clients are split about 70/10/20 into train/val/test, so a test client never has a train query.
Query types come in fixed shares. For each query a need is sampled (resampled until at least one
item is relevant, except for `impossible` queries, which must have none), graded by
`relevance.judge`, timestamped after the client's history, and rendered with the wording pool of
the client's split (`phrasing.POOLS`: train, val and test share no template and no phrase). Each
query is rendered with a generator of its own, drawn from the query stream, so rewording a pool
never changes which needs are sampled nor how they are graded.
"""

from __future__ import annotations

import random

from catalog.demo.needs import SAMPLERS, Catalogue, Shopper, assemble, seed_request_need
from catalog.demo.phrasing import SEED_TEMPLATE, SEED_TEXT, render
from catalog.demo.relevance import judge
from catalog.demo.sampling import QUERY_START, WINDOW_END, allocate, iso, moment

TYPE_SHARES = {
    "explicit": 0.25,
    "implicit": 0.20,
    "multi_occasion": 0.15,
    "taste": 0.16,
    "misinformed": 0.14,
    "impossible": 0.10,
}
SPLIT_SHARES = {"train": 0.7, "val": 0.1, "test": 0.2}
TRIES = 25


def split_clients(rng: random.Random, client_ids: list[str]) -> dict[str, str]:
    """Assign every client to train, val or test (about 70/10/20).

    Args:
        rng (`random.Random`): the generator.
        client_ids (`list[str]`): all clients.

    Returns:
        `dict[str, str]`: client id -> split.
    """
    shuffled = list(client_ids)
    rng.shuffle(shuffled)
    counts = allocate(len(shuffled), list(SPLIT_SHARES.values()))
    splits, start = {}, 0
    for name, count in zip(SPLIT_SHARES, counts):
        for client_id in shuffled[start:start + count]:
            splits[client_id] = name
        start += count
    return splits


def graded_need(
    rng: random.Random, qtype: str, shopper: Shopper, catalogue: Catalogue
) -> tuple[dict, dict] | None:
    """A need of the given type and its graded relevant set, or None after TRIES failed draws.

    Args:
        rng (`random.Random`): the generator.
        qtype (`str`): a key of TYPE_SHARES.
        shopper (`Shopper`): the client.
        catalogue (`Catalogue`): the items.

    Returns:
        `tuple[dict, dict] | None`: (facets, relevant); relevant is empty exactly for `impossible`.
    """
    for _ in range(TRIES):
        facets = SAMPLERS[qtype](rng, shopper, catalogue)
        if facets is None:
            continue
        relevant = judge(facets, shopper.taste, catalogue.candidates(facets), shopper.scores)
        if (qtype == "impossible") == (not relevant):
            return facets, relevant
    return None


def fallback_need(shopper: Shopper, catalogue: Catalogue) -> tuple[str, dict, dict]:
    """The plainest answerable need (the category of the client's best-scoring item), or, for a
    client nothing suits, a request for something the boutique does not sell.

    Args:
        shopper (`Shopper`): the client.
        catalogue (`Catalogue`): the items.

    Returns:
        `tuple[str, dict, dict]`: (type, facets, relevant).
    """
    best = max(shopper.items, key=lambda i: (shopper.scores[i["item_id"]], i["item_id"]), default=None)
    if best is not None:
        facets = assemble([], category=best["category"])
        relevant = judge(facets, shopper.taste, catalogue.candidates(facets), shopper.scores)
        if relevant:
            return "explicit", facets, relevant
    facets = assemble([], category="fragrance")
    facets["impossible"] = "out-of-catalogue"
    return "impossible", facets, {}


def type_plan(rng: random.Random, n_queries: int) -> list[str]:
    """Query types in exact shares, shuffled.

    Args:
        rng (`random.Random`): the generator.
        n_queries (`int`): how many queries.

    Returns:
        `list[str]`: one type per query.
    """
    counts = allocate(n_queries, list(TYPE_SHARES.values()))
    plan = [t for t, c in zip(TYPE_SHARES, counts) for _ in range(c)]
    rng.shuffle(plan)
    return plan


def _seed_client(
    shoppers: list[Shopper], per_client: list[int], splits: dict[str, str], catalogue: Catalogue
) -> str | None:
    """The client who asks the seed's own request: the first val client it has answers for, else
    the first train client. Never a test client: the seed request is the engine's worked example."""
    facets = seed_request_need()
    for split in ("val", "train"):
        for shopper, count in zip(shoppers, per_client):
            if count and splits[shopper.client_id] == split and judge(
                facets, shopper.taste, catalogue.candidates(facets), shopper.scores
            ):
                return shopper.client_id
    return None


def generate_queries(
    rng: random.Random, shoppers: list[Shopper], splits: dict[str, str], catalogue: Catalogue, n_queries: int
) -> tuple[list[dict], dict[str, str]]:
    """All queries, in client order, with ids `q-00001`...

    Args:
        rng (`random.Random`): the generator.
        shoppers (`list[Shopper]`): the clients, in id order.
        splits (`dict[str, str]`): client id -> split.
        catalogue (`Catalogue`): the items.
        n_queries (`int`): how many queries.

    Returns:
        `tuple[list[dict], dict[str, str]]`: query rows, and query id -> template id (kept out of
        the bundle; tests use it to check that each split keeps to its own templates).
    """
    plan = type_plan(rng, n_queries)
    per_client = allocate(n_queries, [1.0] * len(shoppers))
    seed_client = _seed_client(shoppers, per_client, splits, catalogue)
    rows, templates, cursor = [], {}, 0
    for shopper, count in zip(shoppers, per_client):
        split = splits[shopper.client_id]
        times = sorted(iso(moment(rng, QUERY_START, WINDOW_END)) for _ in range(count))
        for slot, timestamp in enumerate(times):
            qtype = plan[cursor]
            cursor += 1
            wording_rng = random.Random(rng.getrandbits(64))
            if shopper.client_id == seed_client and slot == 0:
                qtype, facets = "multi_occasion", seed_request_need()
                relevant = judge(facets, shopper.taste, catalogue.candidates(facets), shopper.scores)
                text, template = SEED_TEXT, SEED_TEMPLATE
            else:
                found = graded_need(rng, qtype, shopper, catalogue)
                if found is None:
                    qtype = "explicit"
                    found = graded_need(rng, qtype, shopper, catalogue)
                if found is None:
                    qtype, *found = fallback_need(shopper, catalogue)
                facets, relevant = found
                text, template = render(wording_rng, qtype, facets, shopper.taste["pronoun"], split)
            query_id = f"q-{len(rows) + 1:05d}"
            templates[query_id] = template
            rows.append({
                "query_id": query_id,
                "client_id": shopper.client_id,
                "text": text,
                "timestamp": timestamp,
                "split": split,
                "type": qtype,
                "relevant": relevant,
                "facets": facets,
            })
    return rows, templates
