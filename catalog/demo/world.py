"""`generate_world`: houses -> items -> clients and their tastes -> histories -> queries."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from catalog.bundle import Bundle
from catalog.demo.clients import client_name, client_notes, make_taste, stated_preferences
from catalog.demo.history import client_history
from catalog.demo.houses import HOUSES
from catalog.demo.items import generate_items
from catalog.demo.needs import Catalogue, Shopper
from catalog.demo.queries import generate_queries, split_clients
from catalog.demo.relevance import disliked, taste_score
from catalog.errors import ConciergeError


@dataclass
class DemoWorld:
    """A generated demo world.

    items, clients, interactions and queries are bundle rows (see ARCHITECTURE.md, "Dataset
    bundle"); houses are the fictional houses; tastes (client id -> hidden taste) and
    template_ids (query id -> phrasing template) are never written to a bundle.
    """

    seed: int
    items: list[dict]
    clients: list[dict]
    interactions: list[dict]
    queries: list[dict]
    houses: list[dict]
    tastes: dict[str, dict]
    template_ids: dict[str, str] = field(default_factory=dict, repr=False)

    def counts(self) -> dict[str, int]:
        """Rows per bundle file (what a manifest's `counts` holds), as the world's bundle counts them."""
        return Bundle(items=self.items, clients=self.clients, interactions=self.interactions,
                      queries=self.queries).counts()


def _stream(seed: int, stage: str) -> random.Random:
    # One independent generator per stage: asking for more queries leaves items and clients as they were.
    return random.Random(f"concierge-demo/{seed}/{stage}")


def generate_world(
    seed: int = 7, n_items: int = 1600, n_clients: int = 420, n_queries: int = 3200
) -> DemoWorld:
    """Generate the demo world. The same arguments always give the same world, byte for byte.

    Args:
        seed (`int`, defaults to 7): the world's seed.
        n_items (`int`, defaults to 1600): catalogue size (at least 3: the seed request's bags).
        n_clients (`int`, defaults to 420): number of clients.
        n_queries (`int`, defaults to 3200): number of evaluation queries.

    Returns:
        `DemoWorld`: items, clients, interactions, queries, houses, hidden tastes.

    Raises:
        `ConciergeError`: when a size is out of range.
    """
    if n_items < 3 or n_clients < 1 or n_queries < 0:
        raise ConciergeError(
            f"generate_world needs n_items >= 3, n_clients >= 1 and n_queries >= 0 "
            f"(got n_items={n_items}, n_clients={n_clients}, n_queries={n_queries})"
        )
    items = generate_items(_stream(seed, "items"), n_items)
    catalogue = Catalogue(items)

    rng = _stream(seed, "clients")
    client_ids = [f"c-{i:04d}" for i in range(1, n_clients + 1)]
    tastes, names, taken = {}, {}, set()
    for client_id in client_ids:
        pronoun = "she" if rng.random() < 0.65 else "he"
        names[client_id] = client_name(rng, pronoun, taken)
        tastes[client_id] = make_taste(rng, pronoun)
    scores = {cid: {i["item_id"]: taste_score(i, tastes[cid]) for i in items} for cid in client_ids}
    blocked = {cid: {i["item_id"] for i in items if disliked(i, tastes[cid])} for cid in client_ids}

    rng = _stream(seed, "history")
    interactions, clients = [], []
    for client_id in client_ids:
        taste = tastes[client_id]
        history = client_history(rng, client_id, taste, items, scores[client_id], blocked[client_id])
        interactions.extend(history)
        returns = [(catalogue.by_id[r["item_id"]], r["timestamp"]) for r in history if r["kind"] == "return"]
        clients.append({
            "client_id": client_id,
            "name": names[client_id],
            "notes": client_notes(rng, tastes[client_id], returns),
            "stated_preferences": stated_preferences(rng, tastes[client_id]),
        })

    rng = _stream(seed, "queries")
    splits = split_clients(rng, client_ids)
    shoppers = [Shopper.build(cid, tastes[cid], scores[cid], catalogue, blocked[cid]) for cid in client_ids]
    queries, template_ids = generate_queries(rng, shoppers, splits, catalogue, n_queries)
    return DemoWorld(
        seed=seed,
        items=items,
        clients=clients,
        interactions=interactions,
        queries=queries,
        houses=[h.row() for h in HOUSES],
        tastes=tastes,
        template_ids=template_ids,
    )
