"""Graphs over the catalogue and the clients (networkx).

The product graph is bipartite: item nodes `item:<id>` linked to attribute nodes `<key>=<value>`
(`brand=maison aurel`, `material=silk`, `season=summer`, ...), each edge labelled with its relation.
It is the item–attribute graph of ReRec's query-alignment score and the walk space of personalised
PageRank at retrieval time. It is built once per catalogue version and cached on disk.
"""

from __future__ import annotations

import pickle
from functools import lru_cache

import networkx as nx
from sqlalchemy import Engine

from backend.settings import Settings, get_settings

GRAPH_ATTRIBUTES = ("category_group", "material", "colour", "season", "occasion", "formality", "branding",
                    "origin", "craft", "palette")


def item_node(item_id: str) -> str:
    return f"item:{item_id}"


def attribute_nodes(item: dict) -> list[tuple[str, str]]:
    """(relation, node) pairs for an item's brand, category and attributes, values lower-cased."""
    pairs = []
    for key in ("brand", "category"):
        if item.get(key):
            pairs.append((key, f"{key}={str(item[key]).lower()}"))
    attrs = item.get("attributes", {})
    for key in GRAPH_ATTRIBUTES:
        value = attrs.get(key)
        for v in value if isinstance(value, list) else [value] if value not in (None, "") else []:
            pairs.append((key, f"{key}={str(v).lower()}"))
    return pairs


def build_product_graph(items: list[dict]) -> nx.Graph:
    """The item–attribute graph of a catalogue.

    Args:
        items (`list[dict]`): catalogue items (bundle format).

    Returns:
        `nx.Graph`: item nodes (`kind="item"`, with `price`) and attribute nodes (`kind="attribute"`,
        `relation`); one edge per (item, attribute) with `relation`.
    """
    graph = nx.Graph()
    for item in items:
        node = item_node(item["item_id"])
        graph.add_node(node, kind="item", price=item.get("price"), title=item["title"])
        for relation, attr in attribute_nodes(item):
            if attr not in graph:
                graph.add_node(attr, kind="attribute", relation=relation)
            graph.add_edge(node, attr, relation=relation)
    return graph


def product_graph(settings: Settings | None = None, engine: Engine | None = None,
                  rebuild: bool = False) -> nx.Graph:
    """The product graph of the live catalogue version, from memory, disk or built anew."""
    from backend.importer import active_index, active_version

    settings = settings or get_settings()
    version = active_version(engine)
    if version is None:
        return nx.Graph()
    path = settings.graph_dir / f"{version.collection}.pkl"
    if rebuild:
        _cached_graph.cache_clear()
        path.unlink(missing_ok=True)
    if not path.exists():
        graph = build_product_graph(active_index(settings, engine).items())
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(graph, protocol=pickle.HIGHEST_PROTOCOL))
        tmp.replace(path)
        for stale in path.parent.glob("*.pkl"):
            if stale != path:
                stale.unlink(missing_ok=True)
    return _cached_graph(str(path))


@lru_cache(maxsize=2)
def _cached_graph(path: str) -> nx.Graph:
    with open(path, "rb") as f:
        return pickle.load(f)
