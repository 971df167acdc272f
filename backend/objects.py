"""What a request asks for, judged by meaning against the catalogue: "a piano" of a fashion house.

Request understanding (`backend/understand.py`) keeps the noun phrases a request asks for when it names none
of the catalogue's categories (`QueryGraph.objects`, embedded with the catalogue's model). Here each is compared
with the items that meet the request's hard constraints — their embedded documents and their categories — and
the request is refused when none comes close: the catalogue (or the named house, or the budget) has nothing of
that kind. No word list decides it; the catalogue's own items do.
"""

from __future__ import annotations

import numpy as np

from backend.verify import hard_violations

# Cosine (all-MiniLM-L6-v2) below which an object is like nothing the catalogue has. Chosen on the demo's
# train/val requests and hand-written probes for three catalogues (fashion, beauty, home): every answerable
# object seen scored >= 0.48 ("a pair of kicks"), about 85% of the impossible ones < 0.45.
OBJECT_FLOOR = 0.45
# Under a house, budget or exclusion, fewer items remain and every similarity drops: the request is refused there
# only when the object is like something of the whole catalogue by this much more than anything allowed ("a small
# leather piece" of a watchmaker, while the catalogue's card holders score 0.79), else only by the floor itself.
CONSTRAINED_MARGIN = 0.15


def unlike_objects(query, catalogue) -> str | None:
    """Why nothing here is what the request asks for, or None when something may be.

    Args:
        query (`QueryGraph`): the request read, with `objects` and `object_vectors` (shape (objects, d)).
        catalogue (`LiveCatalogue`): item documents' vectors (`graphs.vectors`, shape (items, d)), items and
            their nodes, and the vocabulary's category vectors.

    Returns:
        `str | None`: the reason, naming the object and the hard constraints ("nothing here by vell is like
        a sofa"); None when an object comes within `OBJECT_FLOOR` of an item or its category (of an allowed
        one, or of any by less than `CONSTRAINED_MARGIN` more), or when the hard constraints alone leave
        nothing (that refusal names the closest pieces instead). The serving path asks only when
        `settings.refuse_by_object` is on.
    """
    graphs = catalogue.graphs
    if not query.objects or query.object_vectors is None or graphs.vectors is None or not len(graphs.vectors):
        return None
    best = _best_similarity(query.object_vectors, list(range(len(graphs.ids))), catalogue)
    if query.houses or query.budget_max is not None or query.must_not:
        hard = query.to_dict()
        rows = [r for r, i in enumerate(graphs.ids)
                if not hard_violations(graphs.items[i], hard, graphs.item_nodes.get(i))]
        if not rows:
            return None
        allowed = _best_similarity(query.object_vectors, rows, catalogue)
        if best >= OBJECT_FLOOR and (allowed >= OBJECT_FLOOR or best - allowed < CONSTRAINED_MARGIN):
            return None
    elif best >= OBJECT_FLOOR:
        return None
    where = " ".join(query.limits())
    if where:
        return f"nothing here {where} is like {query.objects[0]}"
    return f"this catalogue has nothing like {query.objects[0]}"


def _best_similarity(object_vectors: np.ndarray, rows: list[int], catalogue) -> float:
    """The highest cosine of any object with the items at `rows` (their documents) or their categories."""
    graphs, vocab = catalogue.graphs, catalogue.vocabulary
    best = float((object_vectors @ graphs.vectors[rows].T).max())  # (objects, items)
    categories = sorted({n for r in rows for n in graphs.item_nodes.get(graphs.ids[r], ()) if n in vocab.categories})
    if categories:
        at = np.array([vocab.node_index[n] for n in categories])
        best = max(best, float((object_vectors @ vocab.vectors[at].T).max()))  # (objects, categories)
    return best
