"""Candidates (every source, hard constraints, features) and the ranker, on a hand-made catalogue."""

from pathlib import Path

import numpy as np

from backend import ranker as ranking
from backend.graphs import build_product_graph
from backend.retrieval import FEATURES, Candidate, CatalogueGraphs, ClientSignals, generate
from backend.understand import QueryGraph, Wish
from tests.fixtures.small import ITEMS, random_ranking_groups

ROOT = Path(__file__).resolve().parents[2]

INTERACTIONS = [("c-1", "i-tote", "purchase"), ("c-1", "i-scarf", "purchase"), ("c-2", "i-tote", "purchase"),
                ("c-2", "i-watch", "wishlist"), ("c-3", "i-boot", "view")]


class FakeIndex:
    """Stands in for Chroma's nearest-neighbour order only; the item rows are the real fixtures."""

    def __init__(self, order):
        self.order = order

    def nearest(self, vector, k, where=None):
        return self.order[:k], [0.9 - 0.1 * i for i in range(len(self.order[:k]))]


def graphs() -> CatalogueGraphs:
    return CatalogueGraphs(ITEMS, build_product_graph(ITEMS), INTERACTIONS)


def query(text="anything", **fields) -> QueryGraph:
    return QueryGraph(text=text, vector=np.zeros(384, dtype=np.float32), **fields)


def test_pagerank_walks_towards_the_seeded_attributes():
    ranked = [i for i, _ in graphs().pagerank({"material=silk": 1.0})]
    assert ranked[0] == "i-scarf"
    ranked = [i for i, _ in graphs().pagerank({"brand=aurel": 1.0})]
    assert set(ranked[:2]) == {"i-scarf", "i-tote"}
    assert graphs().pagerank({"unknown=node": 1.0}) == []


def test_neighbours_come_from_clients_who_share_purchases():
    ranked = [i for i, _ in graphs().neighbours({"i-tote": 1.0})]
    assert "i-tote" not in ranked  # what they have is not a recommendation
    assert set(ranked) == {"i-scarf", "i-watch"}
    assert graphs().neighbours({}) == []


def test_bm25_reads_the_items_own_words():
    scores = graphs().bm25_scores("a shearling boot")
    assert graphs().ids[int(np.argmax(scores))] == "i-boot"


def test_hard_constraints_drop_soft_wishes_do_not():
    index = FakeIndex(["i-boot", "i-watch", "i-scarf", "i-tote"])
    soft = query("something for summer", wishes=[Wish("summer", 0.5, "context", {"season=summer": 1.0})])
    cands, timings = generate(soft, index, graphs(), ClientSignals(liked={"i-tote": 1.0}))
    assert {c.item_id for c in cands} == {"i-boot", "i-watch", "i-scarf", "i-tote"}  # a wish never removes
    assert set(timings) == {"dense_ms", "bm25_ms", "graph_ms", "collaborative_ms", "fuse_ms"}
    assert all(c.sources and c.features.shape == (len(FEATURES),) for c in cands)
    summer = {c.item_id: c.features[FEATURES.index("context")] for c in cands}
    assert summer["i-scarf"] == 1.0 and summer["i-boot"] == 0.0
    hard, _ = generate(query("a bag under 3000", categories=["category_group=bags"], budget_max=3000.0),
                       index, graphs(), ClientSignals())
    assert [c.item_id for c in hard] == ["i-tote"]
    excluded, _ = generate(query("no suede", must_not=["material=suede"]), index, graphs(), ClientSignals())
    assert "i-boot" not in {c.item_id for c in excluded}


def test_fusion_puts_the_clients_taste_first_when_nothing_else_differs():
    index = FakeIndex(["i-watch", "i-scarf", "i-tote", "i-boot"])
    plain, _ = generate(query(), index, graphs(), ClientSignals())
    tasteful, _ = generate(query(), index, graphs(), ClientSignals(preferences={"material=suede": 3.0}))
    fusion = ranking.Ranker()
    assert fusion.kind == "fusion"
    assert fusion.order(plain)[0].item_id == "i-watch"
    assert fusion.order(tasteful)[0].item_id == "i-boot"


def test_lightgbm_learns_which_feature_marks_relevance(tmp_path):
    rng = np.random.default_rng(0)

    def group(n=30):
        cands = []
        for j in range(n):
            cand = Candidate({"item_id": f"x{j}", "title": "x"})
            cand.features = rng.random(len(FEATURES)).astype(np.float32)
            cands.append(cand)
        best = max(cands, key=lambda c: c.features[FEATURES.index("named")])
        return cands, {best.item_id: 3}

    trained = ranking.train([group() for _ in range(60)], [group() for _ in range(10)])
    assert trained.kind == "lightgbm" and trained.info["train_queries"] == 60
    cands, relevant = group()
    assert trained.order(cands)[0].item_id in relevant
    ranking.save(trained, tmp_path / "r.txt")
    assert ranking.load(tmp_path / "r.txt").order(cands)[0].item_id in relevant
    assert ranking.train([group() for _ in range(5)], []).kind == "fusion"  # too little to learn from
    assert ranking.load(tmp_path / "absent.txt").kind == "fusion"


def test_dense_source_is_an_exact_search_over_the_vectors_in_memory():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(4, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [it["item_id"] for it in ITEMS]
    g = CatalogueGraphs(ITEMS, build_product_graph(ITEMS), INTERACTIONS, vectors=(ids[:3], vectors[:3]))
    q = vectors[2] + 0.5 * vectors[0]  # nearest the third item, then the first
    hits = list(g.nearest(q))
    assert [i for i, _ in hits] == sorted(ids[:3], key=lambda i: -float(vectors[ids.index(i)] @ q))
    assert hits[0][0] == ids[2] and np.isclose(hits[0][1], float(vectors[2] @ q))
    assert ids[3] not in {i for i, _ in hits}  # an item Chroma holds no vector for is never a dense hit
    # the pre-filter keeps what the named category, house and price cap allow (no price: allowed)
    bags = g.may_fit(query(categories=["category_group=bags"]))
    assert [g.ids[j] for j in np.flatnonzero(bags)] == ["i-tote"]
    cheap = g.may_fit(query(budget_max=1000.0))
    assert [g.ids[j] for j in np.flatnonzero(cheap)] == ["i-scarf", "i-boot"]
    assert g.may_fit(query()) is None
    # generate() uses it when the vectors are in memory, whatever the index says
    cands, _ = generate(QueryGraph(text="x", vector=q),
                        FakeIndex(["i-watch"]), g, ClientSignals())
    dense = sorted((c.sources["dense"], c.item_id) for c in cands if "dense" in c.sources)
    assert [i for _, i in dense] == [i for i, _ in hits]


def test_a_ranker_records_the_engine_that_computed_its_features(tmp_path):
    trained = ranking.train(random_ranking_groups(30, seed=2), [])
    assert trained.info["engine"] == ranking.engine_digest() and not ranking.is_stale(trained.info)
    ranking.save(trained, tmp_path / "r.txt")
    assert not ranking.is_stale(ranking.load(tmp_path / "r.txt").info)
    assert ranking.is_stale({**trained.info, "engine": "an older engine"})
    assert ranking.is_stale({k: v for k, v in trained.info.items() if k != "engine"})  # trained before digests
    assert not ranking.is_stale({"kind": "fusion"})  # fusion learned nothing
    embedded = {**trained.info, "embedding": "all-MiniLM-L6-v2"}
    assert not ranking.is_stale(embedded, "all-MiniLM-L6-v2") and not ranking.is_stale(trained.info, "any")
    assert ranking.is_stale(embedded, "bge-small-en")  # its similarity features came from another model


def test_the_engine_digest_ignores_comments_and_docstrings():
    code = 'def f(x):\n    return x + 1\n'
    documented = '"""A module."""\n\n\ndef f(x):  # adds one\n    """One more than x."""\n    return x + 1\n'
    assert ranking._code_only(code) == ranking._code_only(documented)
    assert ranking._code_only(code) != ranking._code_only(code.replace("+ 1", "+ 2"))
    assert all((ROOT / name).is_file() for name in ranking.FEATURE_SOURCES)  # nothing listed has moved


def test_a_ranker_learned_on_few_verdicts_corrects_fusion_instead_of_replacing_it(tmp_path):
    """Verdicts that carry nothing learnable (the relevant candidate's features are noise): boosted from
    fusion (`FEEDBACK_PRIOR`), the ranker still puts fusion's first candidate first; learnt from scratch it
    does not. The prior is kept with the saved model."""
    noise = random_ranking_groups(40, seed=3)
    fusion = ranking.Ranker()
    boosted = ranking.train(noise, [], prior=ranking.FEEDBACK_PRIOR)
    scratch = ranking.train(noise, [])
    assert boosted.info["fusion_prior"] == ranking.FEEDBACK_PRIOR and "fusion_prior" not in scratch.info
    fresh = [cands for cands, _ in random_ranking_groups(50, seed=4)]

    def agrees(ranker):
        return np.mean([ranker.order(list(c))[0].item_id == fusion.order(list(c))[0].item_id for c in fresh])

    assert agrees(boosted) >= 0.8 > 0.5 >= agrees(scratch)
    ranking.save(boosted, tmp_path / "r.txt")
    loaded = ranking.load(tmp_path / "r.txt")
    matrix = np.stack([c.features for c in fresh[0]])
    assert np.allclose(loaded.scores(matrix),
                       loaded.booster.predict(matrix) + ranking.FEEDBACK_PRIOR * ranking.fallback_scores(matrix))
    assert ranking.Ranker(None, {"version": "job-3"}).label == "job-3" and fusion.label == "fusion"
