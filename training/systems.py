"""The systems the evaluation compares, each a small class with one method:

    rank(query: dict, candidates: list[str] | None, k: int) -> list[str]

`query` is a bundle query row; `candidates` is None on the whole-catalogue protocol (return the best
`k` item ids of the catalogue) or a fixed list on the re-ranking protocol (return those ids, best
first). An empty list means "nothing fits": only systems with `can_abstain = True` ever return one,
and only they can score on a request that nothing in the catalogue fits.

| system | what it reads | says nothing fits? |
| --- | --- | --- |
| `popularity` | interaction counts | no |
| `bm25` | query words vs item text (`bm25s`) | no |
| `embedding` | query vs item embeddings (Chroma, all-MiniLM-L6-v2) | no |
| `graph` | personalised PageRank on the item–attribute graph (backend `CatalogueGraphs`) | no |
| `als` | the client's history (`implicit` ALS); the query is ignored | no |
| `retrieval` | the serving candidate generator (`backend.retrieval.retrieve`) | yes (1) |
| `reasoner` | the base LLM, serving prompt, the given candidates (re-ranking only) | yes (1, 2) |
| `ranked-reasoner` | the same, the candidates listed in the serving ranker's order | yes (1, 2) |
| `rechead@DIR` | RPORec's scoring head on the base model's hidden states (re-ranking) | yes (1) |
| `pipeline` | `backend.service.recommend` end to end (whole catalogue only) | yes: `nothing_fits` |

(1) when the parsed request is impossible or no candidate meets its hard constraints, the rule of
`backend.service.recommend`. (2) The prompt itself offers the model no "nothing fits" answer.
The Rechead scores every candidate in one forward pass; `reasoner@DIR`, `ranked-reasoner@DIR` and
`pipeline@DIR` answer with the LoRA adapter in DIR.

Every system is built from an `EvalWorld`: the bundle's rows plus the settings of the scratch stores
it was imported into, which each system passes to the stores it reads.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from backend.interaction_weights import row_liking
from backend.store import get_engine
from backend.tables import ModelVersion
from backend.verify import hard_violations, reasoning_gates
from catalog.bundle import Bundle
from catalog.errors import ConciergeError

ALS_FACTORS = 64
ALS_ITERATIONS = 20
ALS_REGULARIZATION = 0.05
ALS_ALPHA = 10.0  # confidence = 1 + alpha * weight (Hu, Koren & Volinsky)
MAX_NGRAM = 6  # longest run of query words matched against attribute values and titles
# of each LLM completion kept in a query's notes, to see why an answer was not read
COMPLETION_CHARS = 400


@dataclass
class EvalWorld:
    """The bundle being evaluated, indexed for the systems.

    Args:
        bundle (`Bundle`): the rows.
        settings (`Settings`): the scratch stores' settings (`training.eval_stores.scratch_stores`).
        seed (`int`): seeds every random choice of the systems.
    """

    bundle: Bundle
    settings: object
    seed: int = 0
    items: dict[str, dict] = field(init=False)
    history: dict[str, list[dict]] = field(init=False)

    def __post_init__(self) -> None:
        self.items = {it["item_id"]: it for it in self.bundle.items}
        self.history = defaultdict(list)
        for row in self.bundle.interactions:
            self.history[row["client_id"]].append(row)

    @property
    def item_ids(self) -> list[str]:
        return list(self.items)


def order_candidates(scores: dict[str, float], candidates: list[str]) -> list[str]:
    """Candidates by descending score; unscored ones keep their given order after the scored
    ones."""
    position = {item: i for i, item in enumerate(candidates)}
    return sorted(candidates, key=lambda item: (-scores.get(item, -np.inf), position[item]))


def top_k(scores: np.ndarray, ids: list[str], candidates: list[str] | None, k: int) -> list[str]:
    """The best `k` ids by score over the catalogue, or every candidate by score."""
    if candidates is not None:
        return order_candidates(dict(zip(ids, scores.tolist())), candidates)
    order = np.argsort(-scores, kind="stable")[:k]
    return [ids[i] for i in order]


# ----------------------------------------------------------------------------------------------
# Non-personal baselines


class Popularity:
    """The items most clients interacted with (weighted by kind), the same list for everyone."""

    name, can_abstain, protocols = "popularity", False, ("full", "rerank")

    def __init__(self, world: EvalWorld):
        counts = Counter()
        for row in world.bundle.interactions:
            counts[row["item_id"]] += row_liking(row)
        self.ids = world.item_ids
        self.scores = np.array([counts.get(i, 0.0) for i in self.ids])

    def rank(self, query: dict, candidates: list[str] | None, k: int) -> list[str]:
        return top_k(self.scores, self.ids, candidates, k)


def item_text(item: dict) -> str:
    """Everything an item says in words: title, brand, category, attribute values, description."""
    values = []
    for value in item.get("attributes", {}).values():
        values.extend(str(v) for v in (value if isinstance(value, list) else [value])
                      if not _opaque(str(v)))
    parts = [item["title"], item.get("brand") or "", item.get("category") or "", " ".join(values),
             item.get("description") or ""]
    return " ".join(p for p in parts if p)


def _opaque(value: str) -> bool:
    """Freebase ids and item ids carry no words."""
    return bool(re.fullmatch(r"m\.[0-9a-z_]+|[a-z]{1,3}-\d+", value))


class BM25:
    """Okapi BM25 (`bm25s`, default k1 = 1.5, b = 0.75) of the request over each item's text."""

    name, can_abstain, protocols = "bm25", False, ("full", "rerank")

    def __init__(self, world: EvalWorld):
        import bm25s

        self.ids = world.item_ids
        corpus = [item_text(world.items[i]) for i in self.ids]
        self.retriever = bm25s.BM25()
        self.retriever.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False),
                             show_progress=False)
        self.stopwords = set(bm25s.stopwords.STOPWORDS_EN)

    def tokens(self, text: str) -> list[str]:
        """The request's words as bm25s tokenises them, stop words and unknown words left out."""
        words = re.findall(r"(?u)\b\w\w+\b", text.lower())
        return [w for w in words if w not in self.stopwords and w in self.retriever.vocab_dict]

    def rank(self, query: dict, candidates: list[str] | None, k: int) -> list[str]:
        words = self.tokens(query["text"])
        scores = self.retriever.get_scores(words) if words else np.zeros(len(self.ids))
        return top_k(np.asarray(scores), self.ids, candidates, k)


class Embedding:
    """Cosine similarity of the request to each item in the Chroma index (all-MiniLM-L6-v2)."""

    name, can_abstain, protocols = "embedding", False, ("full", "rerank")

    def __init__(self, world: EvalWorld):
        from backend.served import active_index

        self.settings = world.settings
        self.index = active_index(world.settings, get_engine(world.settings.sql_url))
        self.vectors = self._all_vectors()

    def _all_vectors(self) -> dict[str, np.ndarray]:
        vectors = {}
        for page in self.index.pages(include=("embeddings",)):
            vectors.update(zip(page["ids"], np.asarray(page["embeddings"], dtype=np.float32)))
        return vectors

    def rank(self, query: dict, candidates: list[str] | None, k: int) -> list[str]:
        if candidates is None:  # Chroma's own nearest-neighbour search, as serving does it
            return [hit.item["item_id"]
                    for hit in self.index.search(query["text"], k=k, settings=self.settings)]
        from backend.index import embed

        vector = embed([query["text"]], self.settings)[0]  # (384,), unit length
        scores = {i: float(self.vectors[i] @ vector) for i in candidates if i in self.vectors}
        return order_candidates(scores, candidates)


# ----------------------------------------------------------------------------------------------
# Personal baselines


def attribute_graph(items: list[dict]):
    """The item–attribute graph over *every* attribute key an item has (the serving product graph
    keeps the luxury keys only), so the walk also works on catalogues such as MovieLens.

    Returns:
        `nx.Graph`: `item:<id>` nodes linked to `<key>=<value>` nodes.
    """
    import networkx as nx

    graph = nx.Graph()
    for item in items:
        node = f"item:{item['item_id']}"
        graph.add_node(node, kind="item")
        pairs = [(key, item[key]) for key in ("brand", "category") if item.get(key)]
        for key, value in item.get("attributes", {}).items():
            pairs.extend((key, v) for v in (value if isinstance(value, list) else [value])
                         if v not in (None, ""))
        for key, value in pairs:
            graph.add_edge(node, f"{key}={str(value).lower()}")
    return graph


def ngrams(text: str, longest: int = MAX_NGRAM) -> set[str]:
    """Every run of 1..`longest` consecutive words of `text`, lower-cased."""
    words = re.findall(r"[\w'&-]+", text.lower())
    return {" ".join(words[i:i + n]) for n in range(1, longest + 1)
            for i in range(len(words) - n + 1)}


class GraphPPR:
    """Personalised PageRank (backend `CatalogueGraphs.pagerank`) on the item–attribute graph.

    Restarts at the client's preference graph (`backend.graphs.preference_graph`: liked items and
    attribute values) and at the nodes the request names word for word (attribute values, and item
    titles, e.g. "by the director of Heat"), each side getting half of the restart mass.
    """

    name, can_abstain, protocols = "graph", False, ("full", "rerank")

    def __init__(self, world: EvalWorld):
        from backend.graphs import attribute_vocabulary
        from backend.retrieval import CatalogueGraphs

        self.world = world
        self.clients = {c["client_id"]: c for c in world.bundle.clients}
        graph = attribute_graph(world.bundle.items)
        self.graphs = CatalogueGraphs(world.bundle.items, graph, [])
        self.vocab = attribute_vocabulary(world.bundle.items)
        self.terms: dict[str, list[str]] = defaultdict(list)  # words -> nodes they name
        for node in graph.nodes:
            value = node.split("=", 1)[1] if "=" in node else ""
            if len(value) >= 3 and not _opaque(value):
                self.terms[value].append(node)
        for item in world.bundle.items:
            if len(item["title"]) >= 4:
                self.terms[item["title"].lower()].append(f"item:{item['item_id']}")

    def seeds(self, query: dict) -> dict[str, float]:
        """Restart weights: the client's positive preference edges, and the nodes the request
        names."""
        from backend.graphs import preference_graph

        client_id = query.get("client_id")
        history = self.world.history.get(client_id, [])
        rows = [dict(r, timestamp=datetime.fromisoformat(r["timestamp"])) for r in history]
        client = self.clients.get(client_id, {})
        graph = preference_graph(client_id or "?", rows, self.world.items,
                                 client.get("stated_preferences"),
                                 client.get("notes"), vocabulary=self.vocab)
        personal = {v: d["weight"] for _, v, d in graph.out_edges(data=True) if d["weight"] > 0}
        named = {node: 1.0 for term in ngrams(query["text"]) & self.terms.keys()
                 for node in self.terms[term]}
        return _balance(personal, named)

    def rank(self, query: dict, candidates: list[str] | None, k: int) -> list[str]:
        scored = dict(self.graphs.pagerank(self.seeds(query)))
        if candidates is not None:
            return order_candidates(scored, candidates)
        ranked = list(scored)[:k]
        return ranked + [i for i in self.world.item_ids if i not in scored][:k - len(ranked)]


def _balance(personal: dict[str, float], named: dict[str, float]) -> dict[str, float]:
    """Both seed sets scaled to the same total mass, then merged."""
    seeds: dict[str, float] = defaultdict(float)
    for part in (personal, named):
        total = sum(part.values())
        for node, weight in part.items():
            seeds[node] += weight / total if total else 0.0
    return dict(seeds)


class ALS:
    """Implicit-feedback matrix factorisation (`implicit` ALS) on the client–item interactions.

    The request is ignored: this is what the client's history alone predicts. A client without
    history gets the popularity order.
    """

    name, can_abstain, protocols = "als", False, ("full", "rerank")

    def __init__(self, world: EvalWorld):
        from implicit.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        self.ids = world.item_ids
        self.col = {item: j for j, item in enumerate(self.ids)}
        clients = sorted(world.history)
        self.row = {client: i for i, client in enumerate(clients)}
        matrix = self._matrix(world, clients)
        # implicit's own threads; a threaded BLAS underneath slows it
        with threadpool_limits(1, "blas"):
            self.model = AlternatingLeastSquares(factors=ALS_FACTORS,
                                                 regularization=ALS_REGULARIZATION,
                                                 iterations=ALS_ITERATIONS, random_state=world.seed,
                                                 calculate_training_loss=False)
            self.model.fit(matrix, show_progress=False)
        self.popular = Popularity(world)

    def _matrix(self, world: EvalWorld, clients: list[str]):
        """Confidence matrix (scipy CSR), shape (clients, items): 1 + alpha * summed interaction
        weight."""
        import scipy.sparse as sp

        weights: dict[tuple[int, int], float] = defaultdict(float)
        for client in clients:
            for row in world.history[client]:
                if row["item_id"] in self.col:
                    weights[(self.row[client], self.col[row["item_id"]])] += row_liking(row)
        cells = [(r, c, 1.0 + ALS_ALPHA * w) for (r, c), w in weights.items() if w > 0]
        rows, cols, values = zip(*cells) if cells else ((), (), ())
        return sp.csr_matrix((values, (rows, cols)), shape=(max(len(clients), 1), len(self.ids)),
                             dtype=np.float32)

    def rank(self, query: dict, candidates: list[str] | None, k: int) -> list[str]:
        row = self.row.get(query.get("client_id"))
        if row is None:
            return self.popular.rank(query, candidates, k)
        scores = np.asarray(self.model.item_factors @ self.model.user_factors[row])  # (items,)
        return top_k(scores, self.ids, candidates, k)


# ----------------------------------------------------------------------------------------------
# The serving path


class ServingRetrieval:
    """The serving candidate generator and ranker alone (`backend.live`): request understanding, the
    client's signals, every candidate source, the hard constraints, then the catalogue's learned
    ranker (LightGBM trained on the bundle's train split) or reciprocal-rank fusion without one.

    Whole catalogue: its ranked candidates. Re-ranking: the given candidates scored by the same
    ranker (features computed for each). Says nothing fits when the request is impossible or no
    candidate meets its hard constraints, the rule `backend.service.recommend` applies.
    """

    name, can_abstain, protocols = "retrieval", True, ("full", "rerank")

    def __init__(self, world: EvalWorld):
        from backend.live import live_catalogue

        self.settings = world.settings
        self.catalogue = live_catalogue(world.settings)
        self.last: dict = {}

    def context(self, query: dict):
        """(query graph, client signals, client summary) of one request."""
        from backend.live import client_context, understand_request
        from backend.retrieval import ClientSignals

        parsed = understand_request(query["text"], self.catalogue, self.settings)
        try:
            _, _, signals, summary = client_context(query["client_id"], self.catalogue,
                                                    self.settings)
        except ConciergeError:
            signals, summary = ClientSignals(), "new client, no history yet"
        return parsed, signals, summary

    def candidates(self, query: dict, given: list[str] | None, k: int):
        """(parsed request, client summary, ordered `Candidate`s); empty candidates mean nothing
        fits."""
        from backend.live import ranked_candidates

        parsed, signals, summary = self.context(query)
        pool = ranked_candidates(parsed, self.catalogue, signals, settings=self.settings)
        self.last = {"ranker": self.catalogue.ranker.kind, "abstained": not pool,
                     "impossible": parsed.impossible}
        if not pool:
            return parsed, summary, []
        if given is not None:
            pool = self._rescore(parsed, signals, pool, given)
        return parsed, summary, pool

    def _rescore(self, parsed, signals, pool, given: list[str]):
        """The given candidates ordered by the ranker (features computed for those the sources
        missed); those breaking a hard constraint go last."""
        from backend.retrieval import Candidate, add_features

        found = {c.item_id: c for c in pool}
        missing = [Candidate(self.catalogue.graphs.items[i]) for i in given if i not in found]
        add_features(missing, parsed, self.catalogue.graphs, signals, self.catalogue.rain_sensitive)
        for cand in missing:
            cand.violations = hard_violations(cand.item, parsed.to_dict())
        scored = self.catalogue.ranker.order([found[i] for i in given if i in found] + missing)
        return sorted(scored, key=lambda c: len(c.violations) > 0)

    def rank(self, query: dict, candidates: list[str] | None, k: int) -> list[str]:
        _, _, pool = self.candidates(query, candidates, k)
        ids = [c.item_id for c in pool]
        return ids if candidates is not None else ids[:k]


class Reasoner:
    """The LLM reasoner zero-shot over the given candidates: the serving prompt
    (`backend.reasoner.build_prompt`: request, its parse, the client summary, the candidates under
    shuffled handles) and the serving parser (`parse_answer`). The ranking is the model's picks,
    then the other candidates in the order they were given (the fallback order; `picks` = 0 in a
    query's notes means the whole list is that fallback).

    Re-ranking protocol only: on the whole catalogue the reasoner over the serving candidates is
    what `pipeline` measures. Says nothing fits where `retrieval` does (no model call then).
    """

    name, can_abstain, protocols = "reasoner", True, ("rerank",)
    refusal = "the reasoner re-ranks given candidates; use `pipeline` on the whole catalogue"
    order = "shuffled"  # how the prompt lists the candidates (`reasoner_prompt`)

    def __init__(self, world: EvalWorld, adapter: str | None = None):
        from backend.llm import adapter_name_for, chat_model

        self.seed = world.seed
        self.retrieval = ServingRetrieval(world)
        path = Path(adapter).resolve() if adapter else None
        self.model = chat_model(world.settings, adapter=adapter_name_for(path) if path else None,
                                adapter_path=path)
        self.last: dict = {}

    def rank(self, query: dict, candidates: list[str] | None, k: int) -> list[str]:
        from backend.reasoner import generate_reasoning, model_picks

        messages, handles, pool = rerank_prompt(self, query, candidates)
        parsed_query, signals, _ = self.retrieval.context(query)
        self.last = {"picks": 0, "answer_found": False, "abstained": not pool}
        if not pool:
            return []
        generation = generate_reasoning(self.model, messages, self.model.max_new_tokens)
        parsed, order, answer = model_picks(self.model, messages, handles, generation.text)
        picks = [handles[h]["item_id"] for h in order]
        self.last |= {"picks": len(picks), "answer_found": parsed.answer_found,
                      "fallback": "ranker's order" if self.order == "ranker" else "given order",
                      "answer": answer, "ended": generation.ended, "problem": generation.problem,
                      "gates": reasoning_gates(parsed.steps, handles, parsed_query.to_dict(),
                                               signals.preferences, messages),
                      "completion": generation.text[:COMPLETION_CHARS],
                      "completion_tokens": generation.stats.get("completion_tokens")}
        rest = [c.item_id for c in pool] if self.order == "ranker" else candidates
        return picks + [i for i in rest if i not in picks]


class RankedReasoner(Reasoner):
    """The reasoner shown the candidates in the serving ranker's order, best first (the prompt says
    so); its picks go first, then the rest in the ranker's order. What it adds to the ranker is
    measured against `retrieval`, which ranks the same candidates alone (issue 15, after
    ablation-150-p4.md)."""

    name = "ranked-reasoner"
    order = "ranker"
    refusal = ("the ranked reasoner re-ranks given candidates; use `pipeline` on the whole "
               "catalogue")


def reasoner_prompt(retrieval: ServingRetrieval, query: dict, candidates: list[str], seed: int,
                    order: str = "shuffled"):
    """The serving prompt of one re-ranking query, as the `reasoner` system sends it (training
    builds its prompts here too, so the model is trained on exactly what it is evaluated on).

    Args:
        retrieval (`ServingRetrieval`): parses the request and reads the client's context.
        query (`dict`): a query row (`query_id`, `client_id`, `text`).
        candidates (`list[str]`): the item ids shown, in the protocol's order (the prompt shuffles
            them, or lists them in the ranker's order: `order`).
        seed (`int`): with the query id, seeds the handles and their order.
        order (`str`): `shuffled` (the serving prompt: the candidates in a seeded random order) or
            `ranker` (listed in the serving ranker's order, best first, and the prompt says so).

    Returns:
        `tuple`: (LangChain messages, handle -> item, the retrieval's pool); an empty pool means the
        retrieval says nothing fits (the messages are still built).
    """
    from backend.reasoner import build_prompt

    parsed, summary, pool = retrieval.candidates(query, candidates, len(candidates))
    ids = [c.item_id for c in pool] if order == "ranker" and pool else candidates
    shown = [retrieval.catalogue.graphs.items[i] for i in ids]
    rng = random.Random(f"{seed}/{query['query_id']}")
    messages, handles = build_prompt(query["text"], parsed, summary, shown, rng,
                                     keep_order=order == "ranker")
    return messages, handles, pool


def rerank_prompt(system: Reasoner | Rechead, query: dict, candidates: list[str] | None):
    """`reasoner_prompt` for a system that only re-ranks given candidates.

    Args:
        system (`Reasoner | Rechead`): its `retrieval` and `seed` build the prompt; its `refusal` is
            the error's message when no candidates are given.
        query (`dict`): a query row.
        candidates (`list[str] | None`): the item ids given; None in the whole-catalogue protocol.

    Returns:
        `tuple`: what `reasoner_prompt` returns.

    Raises:
        `ConciergeError`: no candidates are given.
    """
    if candidates is None:
        raise ConciergeError(system.refusal)
    return reasoner_prompt(system.retrieval, query, candidates, system.seed,
                           getattr(system, "order", "shuffled"))


class Rechead:
    """RPORec's scoring head alone (`rechead@HEAD_DIR`, from `concierge train --stages rechead`):
    one forward pass of the base model over the serving prompt, the head scores every candidate,
    best first. No text is generated. Re-ranking protocol only; says nothing fits where `retrieval`
    does."""

    name, can_abstain, protocols = "rechead", True, ("rerank",)
    refusal = "the Rechead re-ranks given candidates; use the re-ranking protocol"

    def __init__(self, world: EvalWorld, head_dir: str):
        from backend.llm import chat_model
        from backend.rechead import load_head

        self.seed = world.seed
        self.retrieval = ServingRetrieval(world)
        self.head, self.meta = load_head(head_dir)
        self.shared = chat_model(world.settings).shared
        self.last: dict = {}

    def rank(self, query: dict, candidates: list[str] | None, k: int) -> list[str]:
        from backend.rechead import rank_on_shared

        messages, handles, pool = rerank_prompt(self, query, candidates)
        if not pool:
            return []
        ranked = rank_on_shared(self.head, self.shared, messages, list(handles))
        return [handles[h]["item_id"] for h, _ in ranked]


class Pipeline:
    """The full serving pipeline, `backend.service.recommend` (retrieval, LLM, fill-up,
    persistence): its 3-5 item shortlist, or nothing when it says nothing fits. Whole-catalogue
    protocol only: it chooses its own candidates."""

    name, can_abstain, protocols = "pipeline", True, ("full",)

    def __init__(self, world: EvalWorld, adapter: str | None = None):
        self.seed, self.settings = world.seed, world.settings
        self.last: dict = {}
        self.model = None  # the active version of the scratch store (the base model there)
        if adapter:  # `pipeline@DIR`: the same pipeline answering with a run's LoRA adapter
            from backend.llm import check_adapter_dir, adapter_name_for

            path = Path(adapter).resolve()
            check_adapter_dir(path)  # fail before the first query, not inside each one
            self.model = ModelVersion(version=adapter_name_for(path), status="candidate",
                                      base_model="base", adapter_path=str(path))

    def rank(self, query: dict, candidates: list[str] | None, k: int) -> list[str]:
        from backend.service import REASONER_CANDIDATES, recommend

        result = recommend(query["client_id"], query["text"], seed=self.seed,
                           settings=self.settings, model=self.model)
        steps = result.steps
        self.last = {"fallback_used": result.fallback_used, "nothing_fits": result.nothing_fits,
                     "model_version": result.model_version,
                     "picked_by_model": sum(1 for it in result.items
                                            if it.get("picked_by") == "model"),
                     "answer": result.reasoning.get("answer"),
                     "ended": result.reasoning.get("ended"),
                     "problem": result.reasoning.get("problem"),
                     "completion_tokens": result.timings.get("llm_completion_tokens"),
                     "model_picks": result.reasoning.get("picks", []),
                     "ranker_order": result.candidates[:REASONER_CANDIDATES],
                     "gates": {"steps": len(steps),
                               "consistent": sum(s["verdict"] == "consistent" for s in steps),
                               "inconsistent": sum(s["verdict"] == "inconsistent" for s in steps),
                               "ungrounded": sum(bool(s.get("ungrounded")) for s in steps)},
                     "steps": [{"text": s["text"][:COMPLETION_CHARS], "verdict": s["verdict"],
                                "problems": s["problems"]}
                               for s in steps]}
        return [] if result.nothing_fits else [it["item_id"] for it in result.items][:k]


SYSTEMS = {cls.name: cls for cls in (Popularity, BM25, Embedding, GraphPPR, ALS, ServingRetrieval,
                                     Reasoner, RankedReasoner, Rechead, Pipeline)}
SLOW = {"reasoner", "ranked-reasoner", "pipeline", "rechead"}  # systems that run the LLM per query
WITH_PATH = {"reasoner": "an adapter directory", "ranked-reasoner": "an adapter directory",
             "pipeline": "an adapter directory",
             "rechead": "a Rechead directory (required)"}


def system_kind(spec: str) -> str:
    """The class name part of a system spec (`reasoner@runs/x/adapter` -> `reasoner`)."""
    return spec.split("@", 1)[0]


def check_systems(specs: list[str]) -> None:
    """Raise a ConciergeError naming the known systems when a spec is not one of them."""
    for spec in specs:
        kind = system_kind(spec)
        if kind not in SYSTEMS:
            raise ConciergeError(f"unknown system {spec!r}; choose from {', '.join(SYSTEMS)} "
                                 "(`reasoner@DIR` / `ranked-reasoner@DIR` answer with the LoRA "
                                 "adapter in DIR)")
        if "@" in spec and kind not in WITH_PATH:
            raise ConciergeError(f"{spec!r}: only the reasoner and the pipeline "
                                 "(`reasoner@ADAPTER_DIR`, `pipeline@ADAPTER_DIR`) and the Rechead "
                                 "(`rechead@HEAD_DIR`) take a directory")
        if kind == "rechead" and "@" not in spec:
            raise ConciergeError("the Rechead needs its directory: `rechead@var/runs/RUN/rechead`")


def make_system(spec: str, world: EvalWorld):
    """Build the system named by `spec` (a key of SYSTEMS, or `reasoner@ADAPTER_DIR`)."""
    check_systems([spec])
    kind, _, adapter = spec.partition("@")
    if kind in ("reasoner", "ranked-reasoner") and adapter:
        return SYSTEMS[kind](world, adapter=adapter)
    if kind == "pipeline" and adapter:
        return Pipeline(world, adapter=adapter)
    if kind == "rechead":
        return Rechead(world, adapter)
    return SYSTEMS[kind](world)
