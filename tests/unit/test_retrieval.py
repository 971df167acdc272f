"""Candidate retrieval's graph walk, collaborative neighbours and fusion, on a hand-made catalogue."""

from backend.graphs import build_product_graph
from backend.index import Hit
from backend.intent import QueryGraph
from backend.retrieval import CatalogueGraphs, retrieve
from tests.fixtures.small import ITEMS

INTERACTIONS = [("c-1", "i-tote", "purchase"), ("c-1", "i-scarf", "purchase"), ("c-2", "i-tote", "purchase"),
                ("c-2", "i-watch", "wishlist"), ("c-3", "i-boot", "view")]


class FakeIndex:
    """Stands in for Chroma's ranking only; the item rows are the real fixtures."""

    def __init__(self, order):
        self.order = order

    def search(self, text, k=20, where=None):
        return [Hit(next(i for i in ITEMS if i["item_id"] == item_id), 0.5) for item_id in self.order][:k]


def graphs() -> CatalogueGraphs:
    return CatalogueGraphs(ITEMS, build_product_graph(ITEMS), INTERACTIONS)


def test_pagerank_walks_towards_the_seeded_attributes():
    ranked = [i for i, _ in graphs().pagerank({"material=silk": 1.0})]
    assert ranked[0] == "i-scarf"
    ranked = [i for i, _ in graphs().pagerank({"brand=aurel": 1.0})]
    assert set(ranked[:2]) == {"i-scarf", "i-tote"}
    assert graphs().pagerank({"unknown=node": 1.0}) == []


def test_neighbours_come_from_clients_who_share_purchases():
    ranked = [i for i, _ in graphs().neighbours({"i-tote": 1.0})]
    assert "i-tote" not in ranked  # what they have is not a recommendation
    assert set(ranked) == {"i-scarf", "i-watch"}  # bought beside the tote by c-1 and c-2
    assert graphs().neighbours({}) == []


def test_fitting_items_come_first_with_their_provenance():
    query = QueryGraph(text="something for summer", season=["summer"])
    cands, timings = retrieve(query, FakeIndex(["i-boot", "i-watch", "i-scarf", "i-tote"]), graphs(),
                              preferences={}, liked_items={"i-tote": 1.0})
    assert [c.item_id for c in cands][-1] == "i-boot" and cands[-1].violations == ["not for summer"]
    assert all(not c.violations for c in cands[:-1])
    assert cands[0].sources  # every candidate says where it came from
    assert set(timings) == {"semantic_ms", "graph_ms", "collaborative_ms", "fuse_ms"}


def test_the_clients_taste_orders_what_fits():
    query = QueryGraph(text="anything")
    index = FakeIndex(["i-watch", "i-scarf", "i-tote", "i-boot"])
    plain, _ = retrieve(query, index, graphs(), preferences={}, liked_items={})
    assert plain[0].item_id == "i-watch"
    tasteful, _ = retrieve(query, index, graphs(), preferences={"material=suede": 3.0}, liked_items={})
    assert tasteful[0].item_id == "i-boot"
