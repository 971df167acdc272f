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


def unlike_objects(query, catalogue) -> str | None:
    """Why nothing here is what the request asks for, or None when something may be.

    Args:
        query (`QueryGraph`): the request read, with `objects` and `object_vectors` (shape (objects, d)).
        catalogue (`LiveCatalogue`): item documents' vectors (`graphs.vectors`, shape (items, d)), items and
            their nodes, and the vocabulary's category vectors.

    Returns:
        `str | None`: the reason, naming the object and the hard constraints ("nothing here by vell is like
        a sofa"); None when an object comes within `OBJECT_FLOOR` of an allowed item or its category, or when
        the hard constraints alone leave nothing (that refusal names the closest pieces instead).
    """
    vectors = catalogue.graphs.vectors
    if not query.objects or query.object_vectors is None or vectors is None or not len(vectors):
        return None
    graphs, vocab = catalogue.graphs, catalogue.vocabulary
    constrained = bool(query.houses or query.budget_max is not None or query.must_not)
    hard = query.to_dict() if constrained else {}
    rows = [r for r, i in enumerate(graphs.ids)
            if not constrained or not hard_violations(graphs.items[i], hard, graphs.item_nodes.get(i))]
    if not rows:
        return None
    best = float((query.object_vectors @ vectors[rows].T).max())  # (objects, allowed items)
    categories = sorted({n for r in rows for n in graphs.item_nodes.get(graphs.ids[r], ()) if n in vocab.categories})
    if categories:
        rows_of = np.array([vocab.node_index[n] for n in categories])
        best = max(best, float((query.object_vectors @ vocab.vectors[rows_of].T).max()))  # (objects, categories)
    if best >= OBJECT_FLOOR:
        return None
    limits = ["by " + "/".join(n.split("=", 1)[1] for n in query.houses) if query.houses else "",
              f"within {query.budget_max:,.0f}" if query.budget_max is not None else ""]
    where = " ".join(p for p in limits if p)
    if where:
        return f"nothing here {where} is like {query.objects[0]}"
    return f"this catalogue has nothing like {query.objects[0]}"
