"""Associates' verdicts read as the client's taste (`CONCIERGE_FEEDBACK_AS_TASTE`): which rows, which items, which
weights, and that they reach the preference graph."""

from datetime import datetime, timezone

from backend.graphs import preference_graph
from backend.interaction_weights import FEEDBACK_KINDS, interaction_weight
from backend.live import feedback_history
from backend.store import get_engine, session
from backend.tables import Client, Feedback, Shortlist


def test_verdicts_on_a_clients_shortlists_become_history_rows(tmp_path):
    engine = get_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with session(engine) as s:
        s.add_all([Client(client_id="c1", name="Ines"), Client(client_id="c2", name="Other")])
        s.flush()
        mine, theirs = Shortlist(client_id="c1", request="a bag"), Shortlist(client_id="c2", request="a scarf")
        s.add_all([mine, theirs])
        s.flush()
        s.add_all([Feedback(shortlist_id=mine.id, item_id="i1", kind="accept"),
                   Feedback(shortlist_id=mine.id, item_id="i2", kind="reject", reason="too loud"),
                   Feedback(shortlist_id=mine.id, item_id="i2", kind="replace", replacement_item_id="i9",
                            reason="she would rather"),
                   Feedback(shortlist_id=mine.id, step_index=0, kind="flag_wrong"),  # a step, not a taste
                   Feedback(shortlist_id=theirs.id, item_id="i5", kind="accept")])  # another client's
    with session(engine) as s:
        rows = feedback_history(s, "c1")
    assert [(r["item_id"], r["kind"]) for r in rows] == [("i1", "accept"), ("i2", "reject"), ("i9", "replace")]
    assert all(r["timestamp"].tzinfo is not None for r in rows)  # comparable with the interactions' times


def test_verdict_weights_reach_the_preference_graph():
    assert set(FEEDBACK_KINDS) == {"accept", "replace", "reject"}
    assert interaction_weight("accept") > 0 and interaction_weight("replace") > 0 > interaction_weight("reject")
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    items = {"i1": {"item_id": "i1", "attributes": {"colour": "navy"}},
             "i2": {"item_id": "i2", "attributes": {"colour": "fuchsia"}}}
    history = [{"item_id": "i1", "kind": "accept", "value": 1.0, "timestamp": now},
               {"item_id": "i2", "kind": "reject", "value": 1.0, "timestamp": now}]
    graph = preference_graph("c1", history, items, {}, [])
    weights = {v: d["weight"] for _, v, d in graph.out_edges(data=True)}
    assert weights["item:i1"] > 0 > weights["item:i2"]


def test_preference_edges_and_their_graph_keep_what_the_graph_always_held():
    from backend.graphs import as_graph, preference_edges, top_preferences

    items = {"a": {"item_id": "a", "brand": "Vell", "attributes": {"material": ["suede"]}},
             "b": {"item_id": "b", "brand": "Orsini", "attributes": {"material": ["steel"]}}}
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    history = [{"item_id": "a", "kind": "purchase", "value": 1.0, "timestamp": now},
               {"item_id": "b", "kind": "reject", "value": 1.0, "timestamp": now},
               {"item_id": "a", "kind": "view", "value": 1.0, "timestamp": now}]
    args = (history, items, {"avoid": ["steel"]}, ["she loves suede; never anything by orsini."])
    vocabulary = {"material": {"suede", "steel"}, "brand": {"vell", "orsini"}}
    # what the networkx-only implementation (before 2026-12-02) built for this client, in its order
    before = [("item:a", "item", 1.15, ["purchase", "view"]), ("brand=vell", "attribute", 1.725, ["purchase", "view"]),
              ("material=suede", "attribute", 2.475, ["purchase", "view", "note"]),
              ("item:b", "item", -0.5, ["reject"]), ("brand=orsini", "attribute", -1.5, ["reject", "note"]),
              ("material=steel", "attribute", -2.25, ["reject", "stated"])]
    edges = preference_edges(*args, vocabulary=vocabulary)
    assert [(v, e.kind, round(e.weight, 6), e.sources) for v, e in edges.items()] == before
    graph = preference_graph("c1", *args, vocabulary=vocabulary)
    assert [(v, graph.nodes[v]["kind"], round(d["weight"], 6), d["sources"])
            for _, v, d in graph.out_edges(data=True)] == before
    assert graph.nodes["client:c1"]["kind"] == "client" and graph.number_of_nodes() == len(before) + 1
    assert top_preferences(graph) == top_preferences(edges)
    as_graph("c1", edges).edges["client:c1", "item:a"]["sources"].append("changed")
    assert edges["item:a"].sources == ["purchase", "view"]  # the graph holds copies
