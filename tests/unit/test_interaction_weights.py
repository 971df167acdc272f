"""One table of interaction weights: the serving path and the reward agree on what a client likes."""

from datetime import datetime, timezone

import networkx as nx
import numpy as np
import pytest

from backend.graphs import item_node, preference_graph
from backend.interaction_weights import (
    POSITIVE_KINDS,
    TYPICAL_RATING,
    interaction_weight,
    liking,
    row_liking,
)
from backend.retrieval import CatalogueGraphs
from catalog.bundle import Bundle
from training.rewards import CollaborativeEmbedding
from training.systems import EvalWorld, Popularity

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
CASES = [("purchase", 1.0), ("wishlist", 1.0), ("view", 1.0), ("return", 1.0),
         ("rating", 1.0), ("rating", 3.0), ("rating", 4.0), ("rating", 5.0)]


def serving_weight(kind: str, value: float) -> float:
    """The weight of the client -> item edge the preference graph draws for one fresh interaction."""
    row = {"item_id": "i", "kind": kind, "value": value, "timestamp": NOW}
    graph = preference_graph("c", [row], {}, now=NOW)
    return graph.edges["client:c", item_node("i")]["weight"]


def test_hand_computed_weights():
    assert [interaction_weight(kind, value) for kind, value in CASES] == pytest.approx(
        [1.0, 0.6, 0.15, -1.0, -1.0, 0.0, 0.5, 1.0])
    assert [liking(kind, value) for kind, value in CASES] == pytest.approx(
        [1.0, 0.6, 0.15, 0.0, 0.0, 0.0, 0.5, 1.0])
    assert interaction_weight("purchase", 1.0, 730) == pytest.approx(0.25)  # two half-lives
    assert interaction_weight("unknown-kind") == 0.0
    assert row_liking({"kind": "wishlist"}) == pytest.approx(0.6)


@pytest.mark.parametrize("kind,value", CASES)
def test_reward_and_serving_read_the_same_weight(kind, value):
    expected = max(serving_weight(kind, value), 0.0)
    # PAS: one client, one item -> the SVD of the 1x1 matrix [w] gives E(i) = sqrt(w), |E(i)|^2 = w
    embedding = CollaborativeEmbedding([{"client_id": "c", "item_id": "i", "kind": kind, "value": value}])
    assert float(np.sum(embedding.vector("i") ** 2)) == pytest.approx(expected)
    # the popularity baseline counts the same weight
    world = EvalWorld(Bundle(items=[{"item_id": "i", "title": "I"}],
                             interactions=[{"client_id": "c", "item_id": "i", "kind": kind, "value": value}]),
                      settings=None)
    assert Popularity(world).scores.tolist() == pytest.approx([expected])


def test_collaborative_source_weighs_kinds_as_serving_does():
    assert POSITIVE_KINDS == pytest.approx({"purchase": serving_weight("purchase", 1.0),
                                            "wishlist": serving_weight("wishlist", 1.0),
                                            "rating": serving_weight("rating", TYPICAL_RATING)})
    items = [{"item_id": "a", "title": "Silk scarf"}, {"item_id": "b", "title": "Leather tote"}]
    graph = nx.Graph()
    graph.add_nodes_from(item_node(i["item_id"]) for i in items)
    graphs = CatalogueGraphs(items, graph, [("c", "a", "wishlist"), ("c", "b", "view")])
    column_a = graphs.normed[:, graphs.row_of["a"]].toarray().ravel()
    assert column_a.tolist() == pytest.approx([1.0])  # unit column: the wishlist counts
    assert graphs.normed[:, graphs.row_of["b"]].nnz == 0  # a view alone is no co-occurrence evidence
