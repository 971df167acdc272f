"""The live catalogue as the request path needs it, built once per catalogue version, and its ranker.

`live_catalogue()` loads everything derived from the catalogue version being served — items and their
vectors, the product graph, BM25, the collaborative matrix, the vocabulary embedded for request
understanding, and the learned ranker trained for this version — and keeps it until the next import.
`train_ranker(bundle)` fits that ranker on a bundle's train split (val for early stopping).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from sqlmodel import select
from tqdm.auto import tqdm

from backend import ranker as ranking
from backend.graphs import PreferenceEdge, preference_edges, product_graph, top_preferences
from backend.interaction_weights import FEEDBACK_KINDS, judged_item
from backend.served import active_index, active_version
from backend.verify import hard_violations
from catalog.prices import catalogue_currency
from backend.index import embed, embedding_name
from backend.knowledge import SEASONS, Knowledge, load_knowledge, negated
from backend.objects import (not_for_animals, priced_out, sold_elsewhere, unlike_objects, unmet_feature, unmet_flag,
                             unmet_measure, unmet_values)
from backend.retrieval import Candidate, CatalogueGraphs, ClientSignals, generate
from backend.settings import Settings, get_settings
from backend.store import get_engine, session
from backend.tables import Client, ClientNote, Feedback, Interaction, Shortlist
from backend.understand import NAMED_WEIGHT, QueryGraph, Wish, narrower_names, understand
from backend.vocabulary import CatalogueVocabulary, build_vocabulary, node_phrase, phrase_key, stem
from catalog.bundle import Bundle
from catalog.derive import fold
from catalog.errors import ConciergeError

log = logging.getLogger(__name__)
REFUSAL_MARGIN = 0.05  # below the 1st percentile of answerable train/val requests' best item similarity
REFUSAL_CALIBRATION = 100  # fewer answerable train/val requests: too few to set that floor (no refusal by meaning)
SUMMARY_LIKES, SUMMARY_DISLIKES = 3, 2  # preferences named in the prompt's client line


@dataclass
class LiveCatalogue:
    """Everything derived from one catalogue version."""

    collection: str
    digest: str  # the catalogue version's (`backend.importer.catalogue_digest`)
    index: object
    graphs: CatalogueGraphs
    vocabulary: CatalogueVocabulary
    knowledge: Knowledge
    ranker: ranking.Ranker
    currency: str | None
    concepts: dict | None = None  # `concept_attributes`, worked out on first use
    shop_kinds: object | None = None  # `backend.objects.shop_kinds`, worked out on first use

    @property
    def rain_sensitive(self) -> frozenset[str]:
        return self.knowledge.rain_sensitive()


_CACHE: dict[tuple, LiveCatalogue] = {}  # (collection, version id, ranker mtime, var dir) -> state; two kept
_BUILDING = threading.Lock()  # concurrent first requests build the state once, not once each


def _load(collection: str, digest: str, version_id: int, ranker_mtime: float,
          settings: Settings) -> LiveCatalogue:
    key = (collection, version_id, ranker_mtime, str(settings.var_dir), settings.database_url)
    found = _CACHE.get(key)
    if found is not None:
        return found
    with _BUILDING:
        if key not in _CACHE:
            while len(_CACHE) >= 2:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = _build(collection, digest, settings)
        return _CACHE[key]


def clear_cache() -> None:
    """Forget every live catalogue built so far (the next `live_catalogue` call builds it anew)."""
    _CACHE.clear()


def _build(collection: str, digest: str, settings: Settings) -> LiveCatalogue:
    engine = get_engine(settings.sql_url)
    index = active_index(settings, engine)
    items = index.items()
    with session(engine) as s:
        rows = s.exec(select(Interaction.client_id, Interaction.item_id, Interaction.kind)).all()
    graphs = CatalogueGraphs(items, product_graph(settings, engine), [tuple(r) for r in rows],
                             vectors=index.vectors())
    knowledge = load_knowledge()
    vocabulary = build_vocabulary(items, knowledge, lambda texts: embed(texts, settings))
    ranker = ranking.load(ranker_path(collection, settings))
    if ranking.is_stale(ranker.info, embedding_name(settings)):
        log.warning("the ranker of %s was trained by another engine version or embedding model; re-import the "
                    "catalogue (or `concierge seed-demo`) to retrain it on its train split", collection)
    return LiveCatalogue(collection, digest, index, graphs, vocabulary, knowledge, ranker,
                         catalogue_currency(items))


def ranker_path(collection: str, settings: Settings):
    return settings.ranker_dir / f"{collection}.txt"


def live_catalogue(settings: Settings | None = None) -> LiveCatalogue:
    """The served catalogue version's derived state (cached until the next import or ranker)."""
    settings = settings or get_settings()
    version = active_version(get_engine(settings.sql_url))
    if version is None:
        raise ConciergeError("the catalogue is empty; run `concierge seed-demo` or `concierge import PATH` first")
    path = ranker_path(version.collection, settings)
    mtime = path.stat().st_mtime if path.exists() else 0.0
    return _load(version.collection, version.digest, version.id, mtime, settings)


def understand_request(text: str, catalogue: LiveCatalogue, settings: Settings | None = None) -> QueryGraph:
    settings = settings or get_settings()
    query = understand(text, catalogue.vocabulary, catalogue.knowledge, lambda texts: embed(texts, settings))
    holding = [n for n in query.must_not if _holds_a_named_category(n, query.categories, catalogue.graphs)]
    if holding:  # "a tie in cashmere rather than silk": the demo's silk group holds every tie; the word says the
        query.must_not = [n for n in query.must_not if n not in holding]  # material, which no exclusion reads
        query.must_not_also = narrower_names(query.must_not, catalogue.knowledge)
        query.notes = [n for n in query.notes if not n.startswith("ruled out: ")] + (
            ["ruled out: " + ", ".join(n.split("=", 1)[-1] for n in query.must_not)] if query.must_not else [])
    narrowest = narrowest_categories(query.categories, catalogue.graphs)
    if narrowest != query.categories:  # the wider one still orders ("a silk scarf": silk ones first)
        query.wishes += [Wish(node.split("=", 1)[1], NAMED_WEIGHT, "named", {node: 1.0})
                         for node in query.categories if node not in narrowest]
        query.categories = narrowest
        query.notes = [("category: " + " or ".join(n.split("=", 1)[1] for n in narrowest))
                       if note.startswith("category: ") else note for note in query.notes]
    return query


def _holds_a_named_category(node: str, categories: list[str], graphs) -> bool:
    """Whether a category node holds every item of one of the named categories (or is one)."""
    if not node.startswith("category"):
        return False
    rows = set(graphs.rows_with(node))
    named = (set(graphs.rows_with(c)) for c in categories)
    return any(held and held <= rows for held in named)


def narrowest_categories(categories: list[str], graphs) -> list[str]:
    """The named categories less any that holds every item of another one named: "a silk tie" names the
    demo's group of silk goods and its ties, and asks for the ties (not a silk pocket square)."""
    rows = {node: set(graphs.rows_with(node)) for node in categories}
    return [node for node in categories
            if not any(other != node and rows[other] and rows[other] < rows[node] for other in categories)]


def client_context(client_id: str, catalogue: LiveCatalogue,
                   settings: Settings | None = None) -> tuple[Client, dict[str, PreferenceEdge], ClientSignals, str]:
    """This client's row, preference edges (`backend.graphs.as_graph` makes them a graph), signals for the
    candidate generator, and prompt summary, read from the SQL store of `settings` (default:
    `get_settings()`)."""
    settings = settings or get_settings()
    with session(get_engine(settings.sql_url)) as s:
        client = s.get(Client, client_id)
        if client is None:
            raise ConciergeError(f"unknown client {client_id!r}")
        rows = s.exec(select(Interaction).where(Interaction.client_id == client_id)).all()
        notes = [n.text for n in s.exec(select(ClientNote).where(ClientNote.client_id == client_id)).all()]
        verdicts = feedback_history(s, client_id) if settings.feedback_as_taste else []
    history = [{"item_id": r.item_id, "kind": r.kind, "value": r.value, "timestamp": _utc(r.timestamp)} for r in rows]
    history += verdicts
    edges, signals, items = client_signals(client_id, history, catalogue, client.stated_preferences, notes)
    return client, edges, signals, summarise_client(client, edges, history, items, catalogue.currency)


def client_signals(client_id: str, history: list[dict], catalogue: LiveCatalogue, stated: dict | None = None,
                   notes: list[str] | None = None) -> tuple[dict[str, PreferenceEdge], ClientSignals, dict[str, dict]]:
    """The preference edges of a client's history (and stated preferences and notes; `as_graph` makes them a
    networkx graph), the signals the candidate generator reads from them (attribute preferences, liked
    items, owned items), and the catalogue rows of the history's items."""
    items = {i: catalogue.graphs.items[i] for i in {r["item_id"] for r in history} if i in catalogue.graphs.items}
    edges = preference_edges(history, items, stated or {}, notes or [],
                             vocabulary=catalogue.vocabulary.attribute_values)
    preferences = {v: e.weight for v, e in edges.items() if e.kind == "attribute"}
    liked = {v.removeprefix("item:"): e.weight for v, e in edges.items() if e.kind == "item" and e.weight > 0}
    owned = {r["item_id"] for r in history if r["kind"] == "purchase"}
    return edges, ClientSignals(preferences, liked, owned), items


def feedback_history(s, client_id: str) -> list[dict]:
    """Associates' verdicts on this client's shortlists as history rows (kind accept / replace / reject; a
    replacement counts for the item put in), oldest first."""
    rows = s.exec(select(Feedback).join(Shortlist, Shortlist.id == Feedback.shortlist_id)
                  .where(Shortlist.client_id == client_id, Feedback.kind.in_(FEEDBACK_KINDS))
                  .order_by(Feedback.id)).all()
    judged = [(judged_item(r), r) for r in rows]
    return [{"item_id": item, "kind": r.kind, "value": 1.0, "timestamp": _utc(r.created_at)}
            for item, r in judged if item]


def _utc(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite gives some columns back without their zone)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def summarise_client(client: Client, edges: dict[str, PreferenceEdge], history: list[dict],
                     items: dict[str, dict], currency: str | None = None) -> str:
    """The client in one short line for the prompt: strongest likes and dislikes, budget, last purchase."""
    likes, dislikes = top_preferences(edges, n=SUMMARY_LIKES)
    parts = []
    if likes:
        parts.append("likes " + ", ".join(node.split("=", 1)[1] for node, _ in likes))
    if dislikes:
        parts.append("avoids " + ", ".join(node.split("=", 1)[1] for node, _ in dislikes[:SUMMARY_DISLIKES]))
    budget = client.stated_preferences.get("budget_max")
    if budget:
        parts.append(f"spends up to {float(budget):,.0f}" + (f" {currency}" if currency else ""))
    bought = [items[r["item_id"]] for r in sorted(history, key=lambda r: r["timestamp"], reverse=True)
              if r["kind"] == "purchase" and r["item_id"] in items][:1]
    if bought:
        parts.append("last bought " + " ".join(p for p in (bought[0].get("brand"),
                                                            bought[0].get("category") or bought[0]["title"]) if p))
    return "; ".join(parts) or "new client, no history yet"


def ranked_candidates(query: QueryGraph, catalogue: LiveCatalogue, signals: ClientSignals,
                      timings: dict | None = None, settings: Settings | None = None) -> list[Candidate]:
    """Candidates from every source that meet the hard constraints, ordered by the catalogue's ranker
    (none, with `query.impossible` saying why, when nothing here can fit)."""
    settings = settings or get_settings()
    if query.impossible:
        return []
    if query.kinds and query.limited and not kind_is_available(query, catalogue):
        query.impossible = ("nothing here is " + " or ".join(n.split("=", 1)[1] for n in query.kinds[:3])
                            + " " + " and ".join(query.limits()))
        return []
    meant = meant_kind(query, catalogue.knowledge.negations)
    if meant and query.limited and not kind_is_available(query, catalogue, [meant[1]]):
        query.impossible = f"nothing here {' and '.join(query.limits())} is {meant[0]}"
        return []
    valued = unmet_kind_value(query, catalogue)
    if valued:
        query.impossible = valued
        return []
    pairings = query.pairings + meant_pairings(query, meant, catalogue.knowledge.negations)
    missing = [p for p in pairings if not pairing_exists(p, catalogue)]
    if missing:
        query.impossible = f"nothing here is {missing[0]['words']}"
        return []
    if query.limited:  # "a beeswax candle by Wrenfield": sold here, by another house
        hard = query.to_dict()
        limited = [p for p in pairings if not pairing_exists(p, catalogue, hard)]
        if limited:
            query.impossible = f"nothing here {' and '.join(query.limits())} is {limited[0]['words']}"
            return []
    conflict = context_conflict(query, catalogue, meant) if settings.refuse_by_context else None
    if conflict:
        query.impossible = conflict
        return []
    embed_fn = lambda texts: embed(texts, settings)  # noqa: E731 - the kinds are embedded once per catalogue
    elsewhere = (not_for_animals(query, catalogue, embed_fn) or sold_elsewhere(query, catalogue, embed_fn)
                 or priced_out(query, catalogue, embed_fn) or unmet_values(query, catalogue, embed_fn)
                 or unmet_measure(query, catalogue, embed_fn) or unmet_flag(query, catalogue, embed_fn)
                 or unmet_feature(query, catalogue, embed_fn)) \
        if settings.refuse_by_kind else None
    if elsewhere:
        query.impossible = elsewhere
        return []
    # what is asked for is like nothing that meets the hard constraints
    unlike = unlike_objects(query, catalogue) if settings.refuse_by_object else None
    if unlike:
        query.impossible = unlike
        return []
    if _unlike_anything(query, catalogue):
        query.impossible = "nothing in this catalogue comes close to what was asked for"
        return []
    candidates, source_timings = generate(query, catalogue.index, catalogue.graphs, signals,
                                          catalogue.rain_sensitive)
    started = time.perf_counter()
    ordered = catalogue.ranker.order(candidates)
    if timings is not None:
        timings.update({f"retrieval_{k}": v for k, v in source_timings.items()})
        timings["rank_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return ordered


def named_anything(query: QueryGraph) -> bool:
    """Whether the request named any catalogue term word for word (a category, a house, a value)."""
    return bool(query.categories or query.houses or query.kinds or any(w.source == "named" for w in query.wishes))


MEANT_KIND_FLOOR = 0.8  # cosine (MiniLM) at which a phrase surely means a category ("small leather" ~
# "small-leather-goods" 0.86; the single word "leather" 0.76 does not); chosen on demo train/val
HEAD_KIND_FLOOR = 0.75  # the same for the last word of a noun phrase the request asks for ("a cashmere
# overcoat": "overcoat" ~ "coat" 0.77): a head noun names the kind of thing; chosen on demo train/val


def meant_kind(query: QueryGraph, negations: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """(phrase, category node) when the request names no category or kind word for word but one of its
    phrases surely means one of this catalogue's categories (a head noun of what it asks for need come less
    close); the best such match. Like a named kind, it only orders, unless the named house (or budget) has
    nothing of it or no item of it suits the request's context (`context_conflict`)."""
    if query.categories or query.kinds:
        return None
    heads = {p.split()[-1] for p in query.asked if p.split()[0] not in negations}  # "no leather" asks for none
    titled = {stem(word) for word in query.sold}  # "candlesticks": the titles name it, whatever it is near
    best = max(((v, w.phrase, n) for w in query.wishes if w.source == "meaning"
                and stem(w.phrase.split()[-1]) not in titled
                for n, v in w.matches.items() if n.startswith("category")
                and v >= (HEAD_KIND_FLOOR if w.phrase in heads else MEANT_KIND_FLOOR)), default=None)
    return (best[1], best[2]) if best else None


def named_kind_value(query: QueryGraph, catalogue: LiveCatalogue) -> str | None:
    """The node of a value of a kind attribute (`knowledge.kind_attribute_keys`: "type=fountain pen") that the
    request names word for word as the thing it asks for (a phrase of `query.asked` ends with it: "a fountain
    pen", not "fountain pen ink"), when it names no category. Like a named category, it only orders, unless
    nothing of it meets the request's house or budget."""
    if query.categories or query.kinds:
        return None
    negations, keys = catalogue.knowledge.negations, catalogue.knowledge.kind_attribute_keys
    asked = [f" {phrase_key(p)}" for p in query.asked if p.split() and p.split()[0] not in negations]
    for wish in (w for w in query.wishes if w.source == "named"):
        for node, strength in wish.matches.items():
            key, _, value = node.partition("=")
            if strength >= 1.0 and key.replace("_", " ") in keys and \
                    any(a.endswith(f" {phrase_key(value)}") for a in asked):
                return node
    return None


def unmet_kind_value(query: QueryGraph, catalogue: LiveCatalogue) -> str | None:
    """Why nothing here is the kind the request names by a kind attribute's value (`named_kind_value`) under
    its house or budget ("nothing here within 100 is fountain pen"), or None."""
    node = named_kind_value(query, catalogue) if query.limited else None
    if node and not kind_is_available(query, catalogue, [node]) and not _titled_alike(query, catalogue, node):
        return f"nothing here {' and '.join(query.limits())} is {node_phrase(node)}"
    return None


def _titled_alike(query: QueryGraph, catalogue: LiveCatalogue, node: str) -> bool:
    """Whether an item that states no value of `node`'s attribute, but whose title names the value word for
    word, meets the request's hard constraints (a catalogue may type only some of its pens)."""
    key, said, hard = node.split("=", 1)[0], f" {phrase_key(node_phrase(node))} ", query.to_dict()
    graphs = catalogue.graphs
    return any(not any(n.startswith(key + "=") for n in nodes)
               and said in f" {phrase_key(graphs.items[i].get('title', ''))} "
               and not hard_violations(graphs.items[i], hard, nodes) for i, nodes in graphs.item_nodes.items())


MEANT_GLUE = "in|of"  # "an overcoat in (pure) linen"


def meant_pairings(query: QueryGraph, meant: tuple[str, str] | None, negations: tuple[str, ...] = ()) -> list[dict]:
    """A value named word for word and said as one thing with the phrase that means a category (`meant`):
    "an overcoat in pure linen", "a linen overcoat". Like a named category's pairing ("a coat in linen"),
    the request asks for that combination; the categories are every one the phrase means (by
    `HEAD_KIND_FLOOR`), so a phrase near several ("jacket") is paired with each."""
    if not meant:
        return []
    phrase = meant[0]
    wish = next(w for w in query.wishes if w.source == "meaning" and w.phrase == phrase)
    categories = [n for n, v in wish.matches.items() if n.startswith("category") and v >= HEAD_KIND_FLOOR]
    low, out = fold(query.text), []
    for named in (w for w in query.wishes if w.source == "named"):
        values = [n for n, v in named.matches.items() if v >= 1.0 and not n.startswith(("category", "brand"))]
        said = rf"\b{re.escape(named.phrase)}\s+{re.escape(phrase)}\b|\b{re.escape(phrase)}\s+(?:{MEANT_GLUE})\s+" \
               rf"(?:\w+\s+)?{re.escape(named.phrase)}\b"
        if values and re.search(said, low) and not negated(low, low.find(named.phrase), negations):
            out.append({"words": f"{phrase} in {named.phrase}", "categories": categories, "values": values})
    return out


def best_similarity(query: QueryGraph, catalogue: LiveCatalogue) -> float:
    """The request's highest cosine similarity to any item of the catalogue."""
    if catalogue.graphs.vectors is None or query.vector is None or not len(catalogue.graphs.vectors):
        return 1.0
    return float((catalogue.graphs.vectors @ query.vector).max())


def _unlike_anything(query: QueryGraph, catalogue: LiveCatalogue) -> bool:
    """A request that names nothing of this catalogue (no term, and no word of its item titles: "Catalogue
    lookup: a conditioner" asks for what it sells), speaks of something it does not know (`foreign` words),
    asks for a kind of thing (a vague "pick something he would love" never is refused) and resembles its
    items less than the catalogue's own answerable train/val requests ever did (`refuse_below`, set when
    the ranker is trained)."""
    floor = (catalogue.ranker.info or {}).get("refuse_below")
    return bool(floor) and bool(query.foreign) and not named_anything(query) and not query.sold \
        and not query.vague and best_similarity(query, catalogue) < floor


def pairing_exists(pairing: dict, catalogue: LiveCatalogue, hard: dict | None = None) -> bool:
    """Whether some item is of one of `pairing`'s categories and has one of its values ("suede boots"), or a
    value of any attribute that holds one of them word for word ("herbal tea": a tea whose type is "herbal
    tisane", though "herbal" was read as a scent family) or a title that says it ("driving loafers": a "Driving
    Loafer" whose occasions are travel and weekend) — and, given the request's `hard` constraints, meets them
    ("a beeswax candle by Wrenfield": its candles are soy)."""
    cats, values = set(pairing["categories"]), set(pairing["values"])
    said = [f" {phrase_key(node_phrase(v))} " for v in values]
    graphs = catalogue.graphs
    return any(nodes & cats and (nodes & values or any(w in f" {phrase_key(node_phrase(n))} " for n in nodes
                                                       if not n.startswith(("category", "brand")) for w in said)
                                 or any(w in f" {phrase_key(graphs.items[i].get('title') or '')} " for w in said))
               and (hard is None or not hard_violations(graphs.items[i], hard, nodes))
               for i, nodes in graphs.item_nodes.items())


def context_conflict(query: QueryGraph, catalogue: LiveCatalogue,
                     meant: tuple[str, str] | None = None) -> str | None:
    """Why no item of the category the request names suits its context, judged by the catalogue's own
    attributes ("sandals for January in St. Moritz": every sandal here says its seasons, none says winter).
    The category is the one named word for word, else the categories a named head word stands for
    ("boots": ankle and knee boots), else `meant`, the one a phrase surely means (`meant_kind`, worked out
    once by the caller: "a ball gown").

    Each context the request sets (`QueryGraph.contexts`: occasion, place, season) implies item seasons
    and formality levels (the knowledge file). An attribute of the catalogue is read as a season or a
    formality when its values are the knowledge file's seasons (or their words: "fall") or formality
    levels; values it does not know ("all seasons") leave an item undescribed. Per attribute, when every
    item that meets the hard constraints describes it and none suits any context (or a value the request
    names itself: "a summer dress for a winter wedding" asks for both), nothing fits ("a beach holiday in
    Ibiza in July" is two contexts, only the second with a season: knee boots suit neither). Only a context
    said in the sentence that names the thing counts (`with_thing`: "Alpenfeld sunglasses? Heading to
    Zermatt in February" only orders). Formality allows one step of the ladder where the catalogue uses
    fewer of its levels than the file has. An attribute that some of those items leave undescribed only
    orders. A context that may be casual (the ladder's lowest level: a holiday, a weekend, a picnic) has no dress
    code: one step more formal than it still suits it ("a raffia bucket bag for holidays", every bucket bag here
    business), while "a dinner jacket for a picnic" does not. Off with `refuse_by_context`.
    """
    categories = query.categories or sorted({n for w in query.wishes if w.source == "named"
                                              for n in w.matches if n in catalogue.vocabulary.categories})
    categories = categories or ([meant[1]] if meant else [])
    contexts = [c for c in query.contexts if c.get("with_thing", True)]  # said of the thing, not beside it
    if not categories or not contexts:
        return None
    named = {n for w in query.wishes if w.source == "named" for n, sim in w.matches.items() if sim >= 1.0}
    rows = sorted({r for node in categories for r in catalogue.graphs.rows_with(node)})
    hard = {"categories": categories, "houses": query.houses, "budget_max": query.budget_max,
            "must_not": query.must_not, "must_not_also": query.must_not_also}
    ids = [catalogue.graphs.ids[r] for r in rows]
    fitting = [catalogue.graphs.item_nodes[i] for i in ids
               if not hard_violations(catalogue.graphs.items[i], hard, catalogue.graphs.item_nodes[i])]
    if not fitting:
        return None
    for concept, (ladder, field_name, attributes) in concept_attributes(catalogue).items():
        asked = {v for ctx in contexts for v in ctx.get(field_name) or []}
        # off duty (a context that may be casual): one step more still suits it ("a bucket bag for holidays")
        relaxed = {v for ctx in contexts if concept == "formality" and ladder[0] in (ctx.get(field_name) or [])
                   for v in ctx[field_name]}
        for attribute, levels in attributes.items():
            wanted = asked | {levels[n] for n in named if n in levels} | _levels_said(query.text, levels)
            described = [{levels[n] for n in nodes if n in levels} for nodes in fitting]
            if not asked or not all(described):
                continue
            used = {ladder.index(v) for v in levels.values()}
            slack = 1 if concept == "formality" and len(used) < len(ladder) else 0
            if not any(abs(ladder.index(have) - ladder.index(want)) <= slack + (want in relaxed)
                       for values in described for have in values for want in wanted):
                kind = " or ".join(n.split("=", 1)[1] for n in categories[:3])
                counts = Counter(v for values in described for v in values)  # ties by name: the same words each run
                common = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
                return (f"nothing here that is {kind} suits the {attribute} asked for "
                        f"({' or '.join(sorted(wanted))}); each is {' or '.join(v for v, _ in common)}")
    return None


def _levels_said(text: str, levels: dict[str, str]) -> set[str]:
    """The values of a concept's attribute that the request says word for word ("a bow tie for a black-tie
    dinner": black-tie, whatever the dinner implies)."""
    low = fold(text)
    return {v for v in levels.values()
            if re.search(r"(?<![\w-])" + r"[\s-]+".join(map(re.escape, re.split(r"[\s-]+", fold(v)))) + r"(?![\w-])",
                         low)}


def concept_attributes(catalogue: LiveCatalogue) -> dict[str, tuple[list[str], str, dict[str, dict[str, str]]]]:
    """Per concept of the knowledge file (season, formality): its ladder of values, the context field that
    asks for it, and the catalogue's attributes that hold it — attribute -> {node: the value it names},
    for attributes most of whose values the file knows ("fall" is autumn). Worked out once per catalogue
    version and kept on it (the request path only reads it)."""
    cached = getattr(catalogue, "concepts", None)
    if cached is not None:
        return cached
    knowledge = catalogue.knowledge
    words = {"season": {phrase_key(w): v for w, v in knowledge.season_words.items()},
             "formality": {phrase_key(v): v for v in knowledge.formality_ladder}}
    ladders = {"season": (list(SEASONS), "item_seasons"), "formality": (list(knowledge.formality_ladder), "formality")}
    out = {}
    for concept, (ladder, field_name) in ladders.items():
        attributes = {}
        for attribute, values in catalogue.vocabulary.attribute_values.items():
            known = {f"{attribute}={v}": words[concept][phrase_key(v)] for v in values
                     if words[concept].get(phrase_key(v)) in ladder}
            if known and len(known) * 2 >= len(values):
                attributes[attribute] = known
        out[concept] = (ladder, field_name, attributes)
    catalogue.concepts = out
    return out


def kind_is_available(query: QueryGraph, catalogue: LiveCatalogue, kinds: list[str] | None = None) -> bool:
    """Whether any item is of the kind the request names ("a timepiece"; or `kinds`) and meets its hard
    constraints: the kind itself only orders, but a kind that no item of the named house (or budget) has is
    a refusal."""
    wanted, hard = set(query.kinds if kinds is None else kinds), query.to_dict()
    return any(nodes & wanted and not hard_violations(catalogue.graphs.items[i], hard, nodes)
               for i, nodes in catalogue.graphs.item_nodes.items())


def train_ranker(bundle: Bundle, settings: Settings | None = None, progress: bool = False) -> dict:
    """Fit the live catalogue's ranker on `bundle`'s train queries (early stopping on val) and save it
    beside the catalogue version. The test split is never read.

    Returns:
        `dict`: what was trained (kind, query counts, feature gains).
    """
    settings = settings or get_settings()
    catalogue = live_catalogue(settings)
    started = time.perf_counter()
    groups, similarities = ranker_groups(bundle, catalogue, settings, progress)
    groups = {split: [(candidates, relevant) for _, candidates, relevant in rows] for split, rows in groups.items()}
    model = ranking.train(groups["train"], groups["val"])
    model.info["bundle"] = bundle.name  # which catalogue it learned (a later version of it may inherit it)
    model.info["embedding"] = embedding_name(settings)
    model.info["item_sample"] = item_sample(bundle)
    if len(similarities) >= REFUSAL_CALIBRATION:
        # below every answerable train/val request but the lowest 1%, with a margin: "nothing like it here"
        model.info["refuse_below"] = round(float(np.percentile(similarities, 1)) - REFUSAL_MARGIN, 4)
    model.info["seconds"] = round(time.perf_counter() - started, 1)
    ranking.save(model, ranker_path(catalogue.collection, settings))
    log.info("ranker for %s: %s", catalogue.collection, model.info)
    return model.info


def ranker_groups(bundle: Bundle, catalogue: LiveCatalogue, settings: Settings,
                  progress: bool = False) -> tuple[dict[str, list], list[float]]:
    """The serving generator's candidates (features computed) of a bundle's labelled train and val queries:
    per split, (query id, candidates, relevant item -> grade); and each query's best similarity with the
    catalogue. At most `ranking.MAX_TRAIN_QUERIES` train queries (a seeded sample). The test split is never
    read."""
    groups, similarities = {"train": [], "val": []}, []
    queries = [q for q in bundle.queries if q.get("split") in groups and q.get("relevant")]
    train = [q for q in queries if q["split"] == "train"]
    if len(train) > ranking.MAX_TRAIN_QUERIES:  # a seeded sample keeps an import's training to a minute or two
        kept = {q["query_id"] for q in random.Random(0).sample(train, ranking.MAX_TRAIN_QUERIES)}
        queries = [q for q in queries if q["split"] != "train" or q["query_id"] in kept]
    for q in tqdm(queries, desc="ranker: candidates of train/val queries", disable=not progress):
        query, candidates = labelled_candidates(q["text"], q.get("client_id"), catalogue, settings)
        groups[q["split"]].append((q["query_id"], candidates, {k: int(v) for k, v in q["relevant"].items()}))
        similarities.append(best_similarity(query, catalogue))
    return groups, similarities


def labelled_candidates(text: str, client_id: str | None, catalogue: LiveCatalogue,
                        settings: Settings) -> tuple[QueryGraph, list[Candidate]]:
    """The serving generator's candidates (features computed) of a request someone judged (a labelled bundle
    query, or a shortlist an associate reviewed), for training or scoring a ranker: the client's signals
    when the client is known, and no refusal (it was answerable: learn from its candidates anyway)."""
    try:
        _, _, signals, _ = client_context(client_id, catalogue, settings)
    except ConciergeError:
        signals = ClientSignals()
    query = understand_request(text, catalogue, settings)
    query.impossible = None
    candidates, _ = generate(query, catalogue.index, catalogue.graphs, signals, catalogue.rain_sensitive)
    return query, candidates


ITEM_SAMPLE = 200  # item ids a ranker records to recognise a later version of its catalogue


def item_sample(bundle: Bundle) -> list[str]:
    """A fixed sample of the bundle's item ids (the smallest by hash): two versions of one catalogue share
    most of it, two catalogues that happen to share a name (every `products.csv`) almost none."""
    return sample_of(str(item["item_id"]) for item in bundle.items)


def sample_of(ids) -> list[str]:
    """`item_sample` of any item ids (e.g. the served catalogue's)."""
    return sorted(ids, key=lambda i: hashlib.sha1(i.encode()).hexdigest())[:ITEM_SAMPLE]


def same_catalogue(info: dict, bundle: Bundle) -> bool:
    """Whether a ranker was trained on an earlier version of this catalogue: the same bundle name and at least
    half of its item sample still in the catalogue."""
    sample = info.get("item_sample") or []
    ids = {str(item["item_id"]) for item in bundle.items}
    return info.get("bundle") == bundle.name and bool(sample) and sum(i in ids for i in sample) >= len(sample) / 2


def prepare_ranker(bundle: Bundle, settings: Settings | None = None, progress: bool = False) -> dict:
    """After an import, unless this catalogue version has a ranker already (one trained by this engine,
    `backend.ranker.is_stale`, when the bundle can train another): train one on the bundle's train split,
    or, when the bundle brings no training queries, carry over the newest ranker of an earlier version of
    the *same* catalogue (`same_catalogue`: a re-import with new prices or items); else the catalogue is
    ranked by fusion. A ranker learned on another catalogue is not carried over: on the val splits of
    three of four bundles it ordered worse than fusion (NDCG@10 -0.06 to -0.19,
    `docs/results/ranker-transfer.md`), although its features are catalogue-agnostic."""
    settings = settings or get_settings()
    version = active_version(get_engine(settings.sql_url))
    if version is None:
        return {"kind": "none"}
    target = ranker_path(version.collection, settings)
    usable = sum(1 for q in bundle.queries if q.get("split") == "train" and q.get("relevant"))
    if target.exists() or target.with_suffix(".json").exists():
        info = ranking.load(target).info
        if not (ranking.is_stale(info, embedding_name(settings)) and usable >= ranking.MIN_TRAIN_QUERIES):
            return info  # this catalogue version has its ranker already (re-seeding)
        log.info("ranker of %s was trained by another engine or embedding model (%s): retraining", version.collection,
                 info.get("engine"))
    if usable >= ranking.MIN_TRAIN_QUERIES:
        return train_ranker(bundle, settings, progress)
    # each read once; `<collection>.job-<id>.txt` are a ranker job's candidates, served only once promoted
    infos = {p: _ranker_info(p) for p in settings.ranker_dir.glob("*.txt") if p != target and "." not in p.stem}
    earlier = sorted((p for p, info in infos.items()
                      if same_catalogue(info, bundle) and not ranking.is_stale(info, embedding_name(settings))),
                     key=lambda p: p.stat().st_mtime)
    if earlier:
        target.write_bytes(earlier[-1].read_bytes())
        info = infos[earlier[-1]]
        info["inherited_from"] = earlier[-1].stem
        info.pop("refuse_below", None)  # calibrated on the earlier version's requests, not on this bundle's
        target.with_suffix(".json").write_text(json.dumps(info, indent=1))
        return info
    return ranking.load(target).info or {"kind": "fusion"}


def ranker_is_stale(settings: Settings | None = None) -> bool:
    """Whether the served catalogue version's ranker was trained by another engine or embedding model
    (`ranking.is_stale`)."""
    settings = settings or get_settings()
    version = active_version(get_engine(settings.sql_url))
    return version is not None and ranking.is_stale(ranking.load(ranker_path(version.collection, settings)).info,
                                                    embedding_name(settings))


def _ranker_info(path) -> dict:
    """What a saved ranker was trained on (its `.json` beside it; empty when missing or unreadable)."""
    try:
        return json.loads(path.with_suffix(".json").read_text() or "{}")
    except (OSError, ValueError):
        return {}
