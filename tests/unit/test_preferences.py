"""The preference graph: signed, weighted, recency-decayed edges from history, statements and notes."""

from datetime import datetime, timedelta, timezone

import pytest

from backend.graphs import attribute_vocabulary, preference_graph, top_preferences
from backend.interaction_weights import interaction_weight
from tests.fixtures.small import ITEMS

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
BY_ID = {i["item_id"]: i for i in ITEMS}


def row(item_id, kind, days_ago=0, value=1.0):
    return {"item_id": item_id, "kind": kind, "value": value, "timestamp": NOW - timedelta(days=days_ago)}


def test_kinds_are_ordered_and_decay_with_age():
    assert interaction_weight("purchase", 1, 0) > interaction_weight("wishlist", 1, 0) > \
        interaction_weight("view", 1, 0) > 0 > interaction_weight("return", 1, 0)
    assert interaction_weight("purchase", 1, 365) == pytest.approx(0.5)
    assert interaction_weight("rating", 5, 0) == pytest.approx(1.0)
    assert interaction_weight("rating", 1, 0) == pytest.approx(-1.0)


def test_history_statements_and_notes_sign_the_edges():
    graph = preference_graph(
        "c-1", [row("i-tote", "purchase"), row("i-boot", "return", 30), row("i-scarf", "view", 400)], BY_ID,
        stated_preferences={"colours": ["cognac"], "avoid": ["suede"]},
        notes=["She returned the boots; she dislikes shearling.", "Loves Orsini watches."],
        now=NOW, vocabulary=attribute_vocabulary(ITEMS))
    weight = lambda node: graph.edges["client:c-1", node]["weight"]  # noqa: E731
    assert weight("item:i-tote") == pytest.approx(1.0)
    assert weight("item:i-boot") < 0 < weight("item:i-scarf") < weight("item:i-tote")
    assert weight("colour=cognac") > 1.0  # bought in cognac and said so
    assert weight("material=suede") < -1.0  # returned suede boots and said to avoid suede
    assert weight("material=shearling") < 0 and weight("brand=orsini") > 0
    assert "stated" in graph.edges["client:c-1", "colour=cognac"]["sources"]
    likes, dislikes = top_preferences(graph, n=3)
    assert likes[0][0] == "colour=cognac" and dislikes[0][0] == "material=suede"


def test_a_client_with_no_history_has_an_empty_graph():
    graph = preference_graph("c-9", [], BY_ID)
    assert list(graph.nodes) == ["client:c-9"] and top_preferences(graph) == ([], [])
