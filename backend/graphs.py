"""Graphs over the catalogue and the clients (networkx).

The product graph is bipartite: item nodes `item:<id>` linked to attribute nodes `<key>=<value>`
(`brand=maison aurel`, `material=silk`, `season=summer`, ...), each edge labelled with its relation.
It is the item–attribute graph of ReRec's query-alignment score and the walk space of personalised
PageRank at retrieval time. It is built once per catalogue version and cached on disk.
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass, field
from functools import lru_cache

import networkx as nx
from sqlalchemy import Engine

from backend.served import active_index, active_version
from backend.interaction_weights import interaction_weight
from backend.knowledge import load_knowledge
from backend.settings import Settings, get_settings

MAX_NODE_VALUE_CHARS = 48  # longer attribute values are free text, not graph vocabulary


def item_node(item_id: str) -> str:
    return f"item:{item_id}"


def attribute_nodes(item: dict) -> list[tuple[str, str]]:
    """(relation, node) pairs for an item's brand, category and every short attribute value.

    Any attribute key of the catalogue becomes a relation (`material`, `scent family`, `fragrance_free`);
    booleans become `key=true`/`key=false`; numbers and long texts are not graph vocabulary."""
    pairs = []
    for key in ("brand", "category"):
        if item.get(key):
            pairs.append((key, f"{key}={str(item[key]).lower()}"))
    for key, value in sorted((item.get("attributes") or {}).items()):
        relation = str(key).lower().replace("=", " ")
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, bool):
                text = "true" if v else "false"
            elif isinstance(v, str) and 0 < len(v.strip()) <= MAX_NODE_VALUE_CHARS:
                text = v.strip().lower()
            else:
                continue
            pairs.append((relation, f"{relation}={text}"))
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


# ----------------------------------------------------------------------------------------------
# Preference graph: what one client likes and dislikes, from history, stated preferences and notes

# Interaction weights (kind, rating, recency): `backend/interaction_weights.py`, shared with the rewards.
STATED_WEIGHT = 1.5  # what a client told the boutique outweighs one purchase
NOTE_WEIGHT = 0.75
# Words of a note that turn the attributes it names into likes or dislikes.
NOTE_LIKES = ("love", "loves", "prefer", "prefers", "favourite", "favorite", "likes", "adores", "fond of",
              "always", "collects", "drawn to")
# Besides the negations of `knowledge.json` (one list for the whole engine), these mark a dislike.
NOTE_DISLIKE_EXTRAS = ("returned", "avoids", "won't", "doesn't", "refuses", "allergic", "too loud", "too flashy")
STATED_KEYS = {"colours": "colour", "colors": "colour", "materials": "material", "houses": "brand",
               "brands": "brand", "occasions": "occasion"}


@dataclass
class PreferenceEdge:
    """One edge of a client's preference graph: the node's kind (item / attribute), its signed weight and
    which evidence contributed (interaction kinds, stated, note)."""

    kind: str
    weight: float = 0.0
    sources: list[str] = field(default_factory=list)


def preference_graph(client_id: str, interactions: list[dict], items: dict[str, dict],
                     stated_preferences: dict | None = None, notes: list[str] | None = None,
                     now=None, vocabulary: dict[str, set[str]] | None = None) -> nx.DiGraph:
    """A client's preferences as a networkx graph (`preference_edges`, same arguments): `client:<id>` ->
    `item:<id>` and -> `<key>=<value>` edges with `weight` (signed) and `sources`; nodes carry `kind`."""
    return as_graph(client_id, preference_edges(interactions, items, stated_preferences, notes, now, vocabulary))


def as_graph(client_id: str, edges: dict[str, PreferenceEdge]) -> nx.DiGraph:
    """The networkx graph of `preference_edges` (for pictures and graph walks; the request path reads the
    edges themselves, which is ~2x cheaper for a client with a long history)."""
    root = f"client:{client_id}"
    graph = nx.DiGraph()
    graph.add_node(root, kind="client")
    graph.add_nodes_from((node, {"kind": e.kind}) for node, e in edges.items())
    graph.add_edges_from((root, node, {"weight": e.weight, "sources": list(e.sources)}) for node, e in edges.items())
    return graph


def preference_edges(interactions: list[dict], items: dict[str, dict],
                     stated_preferences: dict | None = None, notes: list[str] | None = None,
                     now=None, vocabulary: dict[str, set[str]] | None = None) -> dict[str, PreferenceEdge]:
    """A client's signed, weighted edges to items and to attribute values.

    Args:
        interactions (`list[dict]`): rows with item_id, kind, value, timestamp (datetime).
        items (`dict[str, dict]`): catalogue items by id (those the interactions name).
        stated_preferences (`dict`, *optional*): colours / materials / houses / occasions / avoid.
        notes (`list[str]`, *optional*): associate notes in natural language.
        now (`datetime`, *optional*): reference time for recency (default: the newest interaction).
        vocabulary (`dict[str, set[str]]`, *optional*): attribute key -> known values, to read notes.

    Returns:
        `dict[str, PreferenceEdge]`: node (`item:<id>` or `<key>=<value>`) -> its edge from the client, in
        the order the evidence first named it.
    """
    if interactions and now is None:
        now = max(r["timestamp"] for r in interactions)
    edges: dict[str, PreferenceEdge] = {}

    def add(node: str, weight: float, source: str, kind: str) -> None:
        edge = edges.setdefault(node, PreferenceEdge(kind))
        edge.weight += weight
        if source not in edge.sources:
            edge.sources.append(source)

    for row in interactions:
        item = items.get(row["item_id"])
        age = (now - row["timestamp"]).total_seconds() / 86400 if now else 0.0
        weight = interaction_weight(row["kind"], row.get("value", 1.0), age)
        add(item_node(row["item_id"]), weight, row["kind"], "item")
        if item is None:
            continue
        attrs = attribute_nodes(item)
        for _, attr in attrs:  # spread the item's weight over its attributes
            add(attr, weight / max(len(attrs), 1) * 3.0, row["kind"], "attribute")

    vocabulary = vocabulary or {}
    for key, values in (stated_preferences or {}).items():
        values = values if isinstance(values, list) else [values]
        if key == "avoid":
            for value in values:
                for attr_key in _keys_of(str(value), vocabulary):
                    add(f"{attr_key}={str(value).lower()}", -STATED_WEIGHT, "stated", "attribute")
        elif key in STATED_KEYS:
            for value in values:
                add(f"{STATED_KEYS[key]}={str(value).lower()}", STATED_WEIGHT, "stated", "attribute")

    dislikes = load_knowledge().negations + NOTE_DISLIKE_EXTRAS
    for note in notes or []:
        for sentence in re.split(r"(?<=[.;!?])\s+", note.lower()):
            sign = -1.0 if has_cue(sentence, dislikes) else 1.0 if has_cue(sentence, NOTE_LIKES) else 0.0
            if not sign:
                continue
            for key, values in vocabulary.items():
                for value in values:
                    if re.search(rf"(?<![\w-]){re.escape(value)}s?(?![\w-])", sentence):
                        add(f"{key}={value}", sign * NOTE_WEIGHT, "note", "attribute")
    return edges


def has_cue(sentence: str, cues) -> bool:
    """Whether any cue occurs in the sentence as whole words ("another" does not hold "not")."""
    return any(re.search(rf"(?<![\w']){re.escape(cue)}(?![\w'])", sentence) for cue in cues)


def _keys_of(value: str, vocabulary: dict[str, set[str]]) -> list[str]:
    """Which attribute keys a bare value belongs to ('suede' -> material, 'logo-forward' -> branding)."""
    keys = [key for key, values in vocabulary.items() if value.lower() in values]
    return keys or ["material"]


def attribute_vocabulary(items) -> dict[str, set[str]]:
    """Attribute key -> lower-cased values, over the catalogue (brand and category included)."""
    vocab: dict[str, set[str]] = {}
    for item in items:
        for relation, node in attribute_nodes(item):
            vocab.setdefault(relation, set()).add(node.split("=", 1)[1])
    return vocab


def top_preferences(preferences: nx.DiGraph | dict[str, PreferenceEdge],
                    n: int = 6) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """The strongest liked and disliked attribute nodes, as (node, weight), strongest first, of a preference
    graph or of its edges (`preference_edges`)."""
    if isinstance(preferences, dict):
        edges = [(v, e.weight) for v, e in preferences.items() if e.kind == "attribute"]
    else:
        edges = [(v, d["weight"]) for _, v, d in preferences.out_edges(data=True)
                 if preferences.nodes[v].get("kind") == "attribute"]
    likes = sorted((e for e in edges if e[1] > 0.05), key=lambda e: -e[1])[:n]
    dislikes = sorted((e for e in edges if e[1] < -0.05), key=lambda e: e[1])[:n]
    return likes, dislikes
