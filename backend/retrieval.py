"""Candidates: every source's best items for a request, each with its per-source scores and features.

Sources, each run over the whole live catalogue:
- **dense**: Chroma nearest neighbours of the request's embedding, filtered in Chroma by the hard
  constraints it can check (category, house, price);
- **bm25**: Okapi BM25 (`bm25s`) of the request's words over each item's document;
- **graph**: personalised PageRank on the product graph, restarting at the client's liked items and
  attributes and at the catalogue nodes the request named or meant;
- **collaborative**: items that co-occur with the client's own in other clients' histories.

The union is checked against the hard constraints (what breaks one is dropped), and every remaining
candidate gets the catalogue-agnostic features the ranker (`backend/ranker.py`) orders by.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from backend.graphs import attribute_nodes, item_node
from backend.interaction_weights import POSITIVE_KINDS
from backend.understand import QueryGraph
from backend.verify import hard_violations

RRF_K = 60  # reciprocal-rank-fusion constant (Cormack et al.)
PAGERANK_ALPHA = 0.85
# 20 steps: on 40 val requests of the 50k-item demo the walk's top 60 items agree 99.3% with 30 steps'
# (95% at worst), each step costs ~2 ms there (a sparse product over 1.7M edges), and demo val NDCG@10
# moved -0.005 [-0.013, +0.003] (full) / +0.003 [-0.001, +0.008] (re-ranking) against 30: noise
PAGERANK_ITERATIONS = 20
PAGERANK_TOP = 1000  # items a walk hands on, best first
PER_SOURCE = {"dense": 100, "bm25": 100, "graph": 60, "collaborative": 40}
SOURCES = tuple(PER_SOURCE)
# Dense hits examined at most for one request (the hard constraints drop some; what `may_fit` cannot see,
# an exclusion such as "no leather", may drop many): bounds the scan on a large catalogue.
MAX_DENSE_SCAN = 10 * PER_SOURCE["dense"]
FEATURES = (
    "dense_sim", "dense_rr", "bm25", "bm25_rr", "graph", "graph_rr", "collaborative", "collaborative_rr",
    "n_sources", "rrf", "named", "meaning", "context", "taste", "dislike", "price_to_budget",
    "log_price_rel", "popularity", "owned", "rain_risk",
)


@dataclass
class Candidate:
    item: dict
    sources: dict[str, int] = field(default_factory=dict)  # source -> 1-based rank there
    scores: dict[str, float] = field(default_factory=dict)  # source -> raw score
    violations: list[str] = field(default_factory=list)
    features: np.ndarray | None = None
    score: float = 0.0

    @property
    def item_id(self) -> str:
        return self.item["item_id"]

    def provenance(self) -> list[str]:
        return [f"{s}#{r}" for s, r in sorted(self.sources.items(), key=lambda kv: kv[1])]


@dataclass
class ClientSignals:
    """What the client's preference graph says, as the candidate generator needs it."""

    preferences: dict[str, float] = field(default_factory=dict)  # attribute node -> signed weight
    liked: dict[str, float] = field(default_factory=dict)  # item id -> positive weight
    owned: set[str] = field(default_factory=set)  # items bought or wished for already


class CatalogueGraphs:
    """Per catalogue version: items by id, the product graph as a sparse walk matrix, the client–item
    matrix for collaborative neighbours, BM25 over item documents, item vectors and popularity."""

    def __init__(self, items: list[dict], graph, interactions: list[tuple[str, str, str]],
                 vectors: tuple[list[str], np.ndarray] | None = None):
        self.items = {it["item_id"]: it for it in items}
        self.ids = list(self.items)
        self.row_of = {item_id: j for j, item_id in enumerate(self.ids)}
        self.nodes = list(graph.nodes)
        self.node_index = {n: i for i, n in enumerate(self.nodes)}
        self.item_rows = np.array([self.node_index[item_node(i)] for i in self.ids if item_node(i) in self.node_index])
        self.item_ids = [i for i in self.ids if item_node(i) in self.node_index]
        adjacency = sp.csr_matrix(_adjacency(graph, self.node_index))
        degree = np.asarray(adjacency.sum(axis=0)).ravel()
        degree[degree == 0] = 1.0
        self.walk = (adjacency @ sp.diags(1.0 / degree)).tocsr()  # column-stochastic
        self._build_collaborative(interactions)
        self._build_bm25()
        self.item_nodes = {i: {node for _, node in attribute_nodes(it)} for i, it in self.items.items()}
        prices = [it["price"] for it in items if it.get("price")]
        self.median_price = float(np.median(prices)) if prices else 1.0
        self.vectors = None
        if vectors is not None and len(vectors[0]):
            order = {item_id: r for r, item_id in enumerate(vectors[0])}
            self.vectors = np.stack([vectors[1][order[i]] if i in order else np.zeros(vectors[1].shape[1], np.float32)
                                     for i in self.ids])  # (items, dim)
            self.has_vector = np.array([i in order for i in self.ids])
        self.prices = np.array([float(it["price"]) if it.get("price") is not None else np.nan
                                for it in self.items.values()])
        self._rows_of_node: dict[str, list[int]] | None = None

    def nearest(self, vector: np.ndarray, allowed: np.ndarray | None = None):
        """(item id, cosine similarity) of the items with a vector (and `allowed`, a boolean row mask),
        nearest first, at most `MAX_DENSE_SCAN`: an exact search over the vectors held in memory. Chroma's
        HNSW search is approximate, and its last hits changed from one process to the next (the same request
        ranked differently on a re-run); one matrix product is exact, repeatable and, at 50k items of 384
        dimensions, a few milliseconds. Computed when called (the caller's timing holds it), read lazily."""
        sims = self.vectors @ np.asarray(vector, dtype=np.float32)
        rows = np.flatnonzero(self.has_vector if allowed is None else self.has_vector & allowed)
        if len(rows) > MAX_DENSE_SCAN:
            rows = rows[np.argpartition(-sims[rows], MAX_DENSE_SCAN)[:MAX_DENSE_SCAN]]
        order = rows[np.lexsort((rows, -sims[rows]))]  # best first; ties by catalogue order
        return ((self.ids[j], float(sims[j])) for j in order)

    def may_fit(self, query: QueryGraph) -> np.ndarray | None:
        """A boolean row mask of the items that can meet the request's named categories or houses and its
        price cap (an item without a price passes, as in `hard_violations`), or None when it sets none of
        them. A pre-filter only: `hard_violations` still judges every candidate."""
        mask = None
        for named in (query.categories, query.houses):
            if named:
                rows = np.zeros(len(self.ids), dtype=bool)
                for node in named:
                    rows[self.rows_with(node)] = True
                mask = rows if mask is None else mask & rows
        if query.budget_max is not None:
            affordable = ~(self.prices > float(query.budget_max))  # NaN (no price) compares False
            mask = affordable if mask is None else mask & affordable
        return mask

    def rows_with(self, node: str) -> list[int]:
        """The rows of the items that have a graph node (an inverted index, built on first use)."""
        if self._rows_of_node is None:  # built whole, then published: a concurrent request never sees half
            rows_of_node: dict[str, list[int]] = {}
            for item_id, nodes in self.item_nodes.items():
                for n in nodes:
                    rows_of_node.setdefault(n, []).append(self.row_of[item_id])
            self._rows_of_node = rows_of_node
        return self._rows_of_node.get(node, [])

    def _build_collaborative(self, interactions: list[tuple[str, str, str]]) -> None:
        clients = sorted({c for c, _, _ in interactions})
        self.client_index = {c: i for i, c in enumerate(clients)}
        rows, cols, vals = [], [], []
        counts = np.zeros(len(self.ids))
        for client, item_id, kind in interactions:
            if item_id in self.row_of:
                counts[self.row_of[item_id]] += 1
            if kind in POSITIVE_KINDS and item_id in self.row_of:
                rows.append(self.client_index[client])
                cols.append(self.row_of[item_id])
                vals.append(POSITIVE_KINDS[kind])
        matrix = sp.csr_matrix((vals, (rows, cols)), shape=(max(len(clients), 1), len(self.ids)))
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
        norms[norms == 0] = 1.0
        self.normed = (matrix @ sp.diags(1.0 / norms)).tocsr()  # (clients, items), unit columns
        self.popularity = np.log1p(counts) / max(np.log1p(counts).max(), 1e-9)

    def _build_bm25(self) -> None:
        import bm25s

        from backend.index import item_document

        corpus = [item_document(self.items[i]) for i in self.ids]
        self.bm25 = bm25s.BM25()
        self.bm25.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False), show_progress=False)
        self.bm25_stopwords = set(bm25s.stopwords.STOPWORDS_EN)

    def bm25_scores(self, text: str) -> np.ndarray:
        """BM25 of the request's words (stop words and words no item has left out) for every item."""
        words = [w for w in re.findall(r"(?u)\b\w\w+\b", text.lower())
                 if w not in self.bm25_stopwords and w in self.bm25.vocab_dict]
        return np.asarray(self.bm25.get_scores(words)) if words else np.zeros(len(self.ids))

    def pagerank(self, seeds: dict[str, float]) -> list[tuple[str, float]]:
        """Personalised PageRank restarting at `seeds` (node -> weight); items, best first."""
        restart = np.zeros(len(self.nodes))
        for node, weight in seeds.items():
            if node in self.node_index and weight > 0:
                restart[self.node_index[node]] += weight
        if restart.sum() == 0:
            return []
        restart /= restart.sum()
        rank = restart.copy()
        for _ in range(PAGERANK_ITERATIONS):
            rank = (1 - PAGERANK_ALPHA) * restart + PAGERANK_ALPHA * (self.walk @ rank)
        scores = rank[self.item_rows]
        top = np.flatnonzero(scores > 0)
        if len(top) > PAGERANK_TOP:
            top = top[np.argpartition(-scores[top], PAGERANK_TOP)[:PAGERANK_TOP]]
        top = top[np.lexsort((top, -scores[top]))]  # best first; ties by catalogue order
        return [(self.item_ids[i], float(scores[i])) for i in top]

    def neighbours(self, liked: dict[str, float]) -> list[tuple[str, float]]:
        """Items most similar (cosine on the client–item matrix) to the client's liked items."""
        profile = np.zeros(len(self.ids))
        for item_id, weight in liked.items():
            if item_id in self.row_of and weight > 0:
                profile[self.row_of[item_id]] = weight
        if not profile.any() or self.normed.nnz == 0:
            return []
        scores = self.normed.T @ (self.normed @ profile)  # (items,)
        for item_id in liked:  # what they already have is not a recommendation
            if item_id in self.row_of:
                scores[self.row_of[item_id]] = 0.0
        top = np.argsort(-scores)[:200]
        return [(self.ids[j], float(scores[j])) for j in top if scores[j] > 0]


def _adjacency(graph, index: dict[str, int]):
    rows, cols = [], []
    for u, v in graph.edges():
        rows += [index[u], index[v]]
        cols += [index[v], index[u]]
    return sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(index), len(index)))


def chroma_filter(query: QueryGraph) -> dict | None:
    """The hard constraints Chroma can check itself: category (or group), house and price."""
    clauses = []
    cats = [{n.split("=", 1)[0]: n.split("=", 1)[1]} for n in query.categories]
    if cats:
        clauses.append(cats[0] if len(cats) == 1 else {"$or": cats})
    houses = [{"brand": n.split("=", 1)[1]} for n in query.houses]
    if houses:
        clauses.append(houses[0] if len(houses) == 1 else {"$or": houses})
    if query.budget_max is not None:
        clauses.append({"price": {"$lte": float(query.budget_max)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def wish_nodes(query: QueryGraph) -> dict[str, float]:
    """Every catalogue node the request named or meant, with its strongest weight x similarity."""
    nodes: dict[str, float] = {}
    for wish in query.wishes:
        for node, sim in wish.matches.items():
            nodes[node] = max(nodes.get(node, 0.0), wish.weight * sim)
    for node in query.categories + query.houses:
        nodes[node] = max(nodes.get(node, 0.0), 1.0)
    return nodes


def generate(query: QueryGraph, index, graphs: CatalogueGraphs, client: ClientSignals,
             rain_sensitive: frozenset[str] = frozenset()) -> tuple[list[Candidate], dict]:
    """Candidates for one request, from every source, hard constraints applied, features computed.

    Args:
        query (`QueryGraph`): the understood request (with its `vector`).
        index (`CatalogIndex`): the live Chroma collection.
        graphs (`CatalogueGraphs`): this catalogue version's graphs, BM25 and popularity.
        client (`ClientSignals`): the client's preferences, liked and owned items.
        rain_sensitive (`frozenset[str]`): materials that fear rain (world knowledge).

    Returns:
        `tuple[list[Candidate], dict]`: the fitting candidates in fused (RRF) order, and timings in ms.
    """
    timings, ranked = {}, {}
    started = time.perf_counter()
    if graphs.vectors is not None and query.vector is not None:
        ranked["dense"] = graphs.nearest(query.vector, graphs.may_fit(query))  # exact; judged below
    else:
        ids, sims = index.nearest(query.vector, PER_SOURCE["dense"], where=chroma_filter(query))
        ranked["dense"] = list(zip(ids, sims))
    timings["dense_ms"] = _ms(started)

    started = time.perf_counter()
    bm25 = graphs.bm25_scores(query.text)
    top = np.argsort(-bm25)[:PER_SOURCE["bm25"] * 3]
    ranked["bm25"] = [(graphs.ids[j], float(bm25[j])) for j in top if bm25[j] > 0]
    timings["bm25_ms"] = _ms(started)

    started = time.perf_counter()
    named = wish_nodes(query)
    seeds = {node: w for node, w in client.preferences.items() if w > 0}
    seeds.update({item_node(i): w for i, w in client.liked.items()})
    for node, weight in named.items():
        seeds[node] = seeds.get(node, 0.0) + 2.0 * weight
    ranked["graph"] = graphs.pagerank(seeds)
    timings["graph_ms"] = _ms(started)

    started = time.perf_counter()
    ranked["collaborative"] = graphs.neighbours(client.liked)
    timings["collaborative_ms"] = _ms(started)

    started = time.perf_counter()
    pool: dict[str, Candidate] = {}
    query_dict = query.to_dict()
    rejected: dict[str, list[str]] = {}
    for source, hits in ranked.items():
        rank = 0
        for item_id, score in hits:
            item = graphs.items.get(item_id)
            if item is None or item_id in rejected:
                continue
            if item_id not in pool:
                violations = hard_violations(item, query_dict, graphs.item_nodes.get(item_id))
                if violations:
                    rejected[item_id] = violations
                    continue
                pool[item_id] = Candidate(item)
            rank += 1
            if rank > PER_SOURCE[source]:
                break
            pool[item_id].sources[source] = rank
            pool[item_id].scores[source] = score
    candidates = list(pool.values())
    add_features(candidates, query, graphs, client, rain_sensitive, bm25)
    candidates.sort(key=lambda c: -c.features[FEATURES.index("rrf")])
    timings["fuse_ms"] = _ms(started)
    return candidates, timings


def add_features(candidates: list[Candidate], query: QueryGraph, graphs: CatalogueGraphs, client: ClientSignals,
                 rain_sensitive: frozenset[str], bm25: np.ndarray | None = None) -> None:
    """Fill each candidate's feature vector (order: FEATURES). Scores a source did not give are computed
    directly where they can be (dense similarity, BM25), so the ranker sees every candidate alike."""
    if not candidates:
        return
    bm25 = graphs.bm25_scores(query.text) if bm25 is None else bm25
    bm25_max = max(float(bm25.max()), 1e-9)
    graph_max = max([c.scores.get("graph", 0.0) for c in candidates] + [1e-12])
    collab_max = max([c.scores.get("collaborative", 0.0) for c in candidates] + [1e-12])
    by_source = {"named": [], "meaning": [], "context": []}
    for wish in query.wishes:
        by_source[wish.source].append(wish)
    wet_rain = query.wet and rain_sensitive
    for cand in candidates:
        row = graphs.row_of.get(cand.item_id)
        nodes = graphs.item_nodes.get(cand.item_id, set())
        dense = cand.scores.get("dense")
        if dense is None and graphs.vectors is not None and row is not None and query.vector is not None:
            dense = float(graphs.vectors[row] @ query.vector)
        price = cand.item.get("price")
        weights = [client.preferences[node] for node in nodes if node in client.preferences]
        taste, dislike = math.fsum(weights), math.fsum(w for w in weights if w < 0)  # fsum: any order, one sum
        f = {
            "dense_sim": dense or 0.0,
            "bm25": (float(bm25[row]) if row is not None else 0.0) / bm25_max,
            "graph": cand.scores.get("graph", 0.0) / graph_max,
            "collaborative": cand.scores.get("collaborative", 0.0) / collab_max,
            "n_sources": len(cand.sources),
            "rrf": sum(1.0 / (RRF_K + r) for r in cand.sources.values()),
            "taste": float(np.tanh(taste / 3)),
            "dislike": float(np.tanh(dislike / 3)),
            "price_to_budget": (price / query.budget_max) if price and query.budget_max else 0.0,
            "log_price_rel": float(np.log(price / graphs.median_price)) if price and price > 0 else 0.0,
            "popularity": float(graphs.popularity[row]) if row is not None else 0.0,
            "owned": float(cand.item_id in client.owned),
            "rain_risk": float(bool(wet_rain and any(n.split("=", 1)[1] in rain_sensitive for n in nodes))),
        }
        for source in SOURCES:
            f[f"{source}_rr" if source != "dense" else "dense_rr"] = 1.0 / cand.sources[source] \
                if source in cand.sources else 0.0
        for source, wishes in by_source.items():
            total = sum(w.weight for w in wishes)
            met = sum(w.weight * max((s for n, s in w.matches.items() if n in nodes), default=0.0) for w in wishes)
            f[source] = met / total if total else 0.0
        cand.features = np.array([f[name] for name in FEATURES], dtype=np.float32)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
