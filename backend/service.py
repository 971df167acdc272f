"""The serving path, end to end: `recommend(client_id, text, conversation_id=None) -> ShortlistResult`.

intent (query graph) -> this client's preference graph -> candidates (Chroma + personalised PageRank
+ collaborative neighbours) -> reasoner (LLM steps + answer block) -> step verifier -> a shortlist of
3–5 items, each with a one-line justification, persisted with the steps, verdicts, provenance,
model version and the time of every stage.

Only this client's data ever enters the prompt: the summary is built from their own profile and
history, so a request that asks for other clients' data has nothing to leak.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache

from sqlmodel import select

from backend.graphs import attribute_vocabulary, preference_graph, product_graph, top_preferences
from backend.importer import active_index, active_version
from backend.intent import QueryGraph, Vocabulary, build_vocabulary, parse_request
from backend.reasoner import build_prompt, parse_answer
from backend.retrieval import Candidate, CatalogueGraphs, retrieve
from backend.settings import Settings, get_settings
from backend.store import session
from backend.tables import (Client, ClientNote, Conversation, Interaction, Message, ModelVersion, ReasoningStep,
                            Shortlist, ShortlistItem)
from backend.verify import split_steps, verify_steps
from catalog.errors import ConciergeError

log = logging.getLogger(__name__)
SHORTLIST_MIN, SHORTLIST_TARGET, SHORTLIST_MAX = 3, 4, 5
REASONER_CANDIDATES = 12  # candidates shown to the LLM: enough choice, a prompt short enough for a CPU
_llm_lock = threading.Lock()  # one generation at a time per process; requests queue here


@dataclass
class ShortlistResult:
    """What `recommend` returns (and what `concierge recommend --json` prints)."""

    shortlist_id: int
    conversation_id: int
    client_id: str
    request: str
    items: list[dict]  # item_id, title, brand, category, price, rank, justification, provenance
    steps: list[dict]  # index, text, verdict, problems, support
    query_graph: dict
    model_version: str
    fallback_used: bool
    nothing_fits: bool
    message: str
    timings: dict = field(default_factory=dict)
    completion: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Catalogue:
    """Everything derived from one catalogue version, built once and cached."""

    collection: str
    index: object
    graphs: CatalogueGraphs
    vocabulary: Vocabulary
    attr_vocab: dict[str, set[str]]
    rain_sensitive: frozenset[str]


@lru_cache(maxsize=2)
def _catalogue(collection: str, interactions_marker: int) -> Catalogue:
    from catalog.demo.vocab import MATERIALS as MATERIAL_FACTS

    index = active_index()
    items = index.items()
    with session() as s:
        rows = s.exec(select(Interaction.client_id, Interaction.item_id, Interaction.kind)).all()
    graphs = CatalogueGraphs(items, product_graph(), [tuple(r) for r in rows])
    rain = frozenset(name for name, facts in MATERIAL_FACTS.items() if not facts.rain)
    return Catalogue(collection, index, graphs, build_vocabulary(items), attribute_vocabulary(items), rain)


def live_catalogue() -> Catalogue:
    version = active_version()
    if version is None:
        raise ConciergeError("the catalogue is empty; run `concierge seed-demo` or `concierge import PATH` first")
    return _catalogue(version.collection, version.id)


def active_model_version() -> ModelVersion | None:
    with session() as s:
        return s.exec(select(ModelVersion).where(ModelVersion.status == "active")).first()


def check_request(text: str, settings: Settings) -> str:
    text = (text or "").strip()
    if not text:
        raise ConciergeError("the request is empty; tell us what you are looking for")
    if len(text) > settings.max_request_chars:
        raise ConciergeError(f"the request has {len(text):,} characters; please keep it under "
                             f"{settings.max_request_chars:,} (CONCIERGE_MAX_REQUEST_CHARS)")
    return text


def client_context(client_id: str, catalogue: Catalogue):
    """This client's row, preference graph and a compact summary for the prompt."""
    with session() as s:
        client = s.get(Client, client_id)
        if client is None:
            raise ConciergeError(f"unknown client {client_id!r}")
        rows = s.exec(select(Interaction).where(Interaction.client_id == client_id)).all()
        notes = [n.text for n in s.exec(select(ClientNote).where(ClientNote.client_id == client_id)).all()]
    history = [{"item_id": r.item_id, "kind": r.kind, "value": r.value, "timestamp": r.timestamp} for r in rows]
    items = {i: catalogue.graphs.items[i] for i in {r["item_id"] for r in history} if i in catalogue.graphs.items}
    graph = preference_graph(client_id, history, items, client.stated_preferences, notes,
                             vocabulary=catalogue.attr_vocab)
    preferences = {v: d["weight"] for _, v, d in graph.out_edges(data=True) if graph.nodes[v]["kind"] == "attribute"}
    liked = {v.removeprefix("item:"): d["weight"] for _, v, d in graph.out_edges(data=True)
             if graph.nodes[v]["kind"] == "item" and d["weight"] > 0}
    return client, graph, preferences, liked, summarise_client(client, graph, history, items)


def summarise_client(client: Client, graph, history: list[dict], items: dict[str, dict]) -> str:
    likes, dislikes = top_preferences(graph, n=5)
    parts = []
    if likes:
        parts.append("likes " + ", ".join(node.split("=", 1)[1] for node, _ in likes))
    if dislikes:
        parts.append("avoids " + ", ".join(node.split("=", 1)[1] for node, _ in dislikes))
    budget = client.stated_preferences.get("budget_max")
    if budget:
        parts.append(f"usually spends up to EUR {float(budget):,.0f}")
    bought = [items[r["item_id"]] for r in sorted(history, key=lambda r: r["timestamp"], reverse=True)
              if r["kind"] == "purchase" and r["item_id"] in items][:2]
    if bought:
        parts.append("recently bought " + "; ".join(f"{i.get('brand', '')} {i.get('category', '')}".strip()
                                                    for i in bought))
    return "; ".join(parts) or "new client, no history yet"


def refine(previous: dict, follow_up: QueryGraph) -> QueryGraph:
    """A follow-up ("something less formal", "in black", "cheaper") applied to the previous request."""
    from catalog.demo.vocab import FORMALITY

    if follow_up.category or follow_up.category_group or follow_up.impossible:
        return follow_up  # a new subject: a new request
    merged = QueryGraph.from_dict({k: v for k, v in previous.items() if not k.startswith("_")})
    merged.text = f"{previous['text']} — then: {follow_up.text}"
    for key in ("house", "origin", "branding", "colour", "material", "budget_max", "wrong_fact"):
        if getattr(follow_up, key) is not None:
            setattr(merged, key, getattr(follow_up, key))
    for key, values in follow_up.must_not.items():
        merged.must_not[key] = sorted(set(merged.must_not.get(key, [])) | set(values))
    if follow_up.contexts:
        merged.contexts, merged.occasions = follow_up.contexts, follow_up.occasions
        merged.formality, merged.palette, merged.season = follow_up.formality, follow_up.palette, follow_up.season
    low = follow_up.text.lower()
    levels = merged.formality or list(FORMALITY)
    if re.search(r"less formal|more casual|more relaxed|more formal|dressier", low) and merged.occasions:
        # the occasions set the old formality; asking to change it makes them wishes, not conditions
        merged.preferred["occasion"] = merged.occasions
        merged.occasions = []
    if "less formal" in low or "more casual" in low or "more relaxed" in low:
        low_i = max(FORMALITY.index(levels[0]) - 1, 0)
        merged.formality = list(FORMALITY[low_i:FORMALITY.index(levels[0])]) or [FORMALITY[0]]
    elif "more formal" in low or "dressier" in low:
        high_i = min(FORMALITY.index(levels[-1]) + 1, len(FORMALITY) - 1)
        merged.formality = list(FORMALITY[FORMALITY.index(levels[-1]) + 1:high_i + 1]) or [FORMALITY[-1]]
    if any(w in low for w in ("cheaper", "less expensive", "lower price", "more affordable")):
        merged.budget_max = (previous.get("_last_max_price") or merged.budget_max or 5000.0) * 0.7
    merged.notes = previous.get("notes", []) + [f"follow-up: {follow_up.text}"] + follow_up.notes
    return merged


def justify(item: dict, query: QueryGraph, preferences: dict[str, float]) -> str:
    """One line tying an item to the request and to the client, from catalogue facts only."""
    a = item.get("attributes", {})
    facts = []
    if a.get("origin"):
        facts.append(f"made in {a['origin']}")
    if a.get("material"):
        facts.append("/".join(a["material"][:2]))
    wanted = list(query.occasions) + list(query.preferred.get("occasion", []))
    fits = [o for o in dict.fromkeys(wanted) if o in (a.get("occasion") or [])]
    if fits:
        facts.append("for " + " and ".join(fits))
    elif a.get("season"):
        facts.append("for " + "/".join(a["season"][:2]))
    if a.get("branding"):
        facts.append(f"{a['branding']} branding")
    from backend.graphs import attribute_nodes

    loved = [node.split("=", 1)[1] for relation, node in attribute_nodes(item)
             if relation in ("brand", "colour", "material", "palette", "craft") and preferences.get(node, 0) > 0.5]
    tie = f"; echoes what you like ({', '.join(loved[:2])})" if loved else ""
    return (", ".join(facts) + tie).strip(", ") or item["title"]


def nothing_fits_message(query: QueryGraph, candidates: list[Candidate]) -> str:
    if query.impossible:
        return f"Nothing in our catalogue fits: {query.impossible}."
    reasons = {}
    for cand in candidates[:20]:
        for v in cand.violations:
            reasons[v.split(" (")[0]] = reasons.get(v.split(" (")[0], 0) + 1
    common = ", ".join(r for r, _ in sorted(reasons.items(), key=lambda kv: -kv[1])[:3])
    return ("Nothing in our catalogue meets every condition of this request"
            + (f" (the closest pieces fail on: {common})" if common else "") + ". Could you relax one of them?")


def recommend(client_id: str, text: str, conversation_id: int | None = None,
              on_token: Callable[[str], None] | None = None, seed: int | None = None,
              settings: Settings | None = None, model: ModelVersion | None = None) -> ShortlistResult:
    """A reasoned shortlist for a client's request, persisted.

    Args:
        client_id (`str`): whose request it is.
        text (`str`): the request, or a follow-up to the previous one in `conversation_id`.
        conversation_id (`int`, *optional*): continue this conversation (must be this client's).
        on_token (`callable`, *optional*): called with each streamed piece of the model's text.
        seed (`int`, *optional*): fixes the candidate shuffle (tests, evaluation).
        model (`ModelVersion`, *optional*): answer with this version instead of the active one (the evaluation
            of a candidate adapter; it need not be stored).

    Returns:
        `ShortlistResult`

    Raises:
        `ConciergeError`: empty or over-long request, unknown client or conversation, a request not
        in English, or an empty catalogue.
    """
    settings = settings or get_settings()
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    text = check_request(text, settings)
    catalogue = live_catalogue()

    started = time.perf_counter()
    query = parse_request(text, catalogue.vocabulary)
    if query.language != "en":
        raise ConciergeError("Concierge reads requests in English for now; please write your request in English")
    previous = _previous_query(client_id, conversation_id, catalogue.graphs.items)
    if previous is not None:
        query = refine(previous, query)
    timings["intent_ms"] = _ms(started)

    started = time.perf_counter()
    client, _, preferences, liked, summary = client_context(client_id, catalogue)
    timings["preferences_ms"] = _ms(started)

    started = time.perf_counter()
    candidates, retrieval_timings = retrieve(query, catalogue.index, catalogue.graphs, preferences, liked,
                                             rain_sensitive=catalogue.rain_sensitive)
    timings["retrieval_ms"] = _ms(started)
    timings.update({f"retrieval_{k}": v for k, v in retrieval_timings.items()})
    fitting = [c for c in candidates if not c.violations]

    version = model if model is not None else active_model_version()
    model_version = version.version if version else "base"
    completion, fallback, parsed_steps, picks = "", False, [], []
    ranker = "retrieval"  # what orders the items the model did not pick
    handles: dict[str, dict] = {}
    if query.impossible or not fitting:
        message = nothing_fits_message(query, candidates)
        chosen: list[Candidate] = []
    else:
        started = time.perf_counter()
        rng = random.Random(seed)
        shown = fitting[:REASONER_CANDIDATES]
        messages, handles = build_prompt(query.text, query.to_dict(), summary, [c.item for c in shown], rng)
        timings["prompt_ms"] = _ms(started)
        completion = _generate(messages, settings, version, on_token, timings)
        started = time.perf_counter()
        parsed = parse_answer(completion, handles)
        timings["parse_ms"] = _ms(started)
        parsed_steps = parsed.steps
        by_id = {c.item_id: c for c in fitting}
        picks = [by_id[handles[h]["item_id"]] for h in parsed.picks]
        fallback = not picks
        chosen = list(picks)
        order = fitting
        if settings.rechead_dir is not None:  # the Rechead's order over what the model was shown
            started = time.perf_counter()
            order, ranker = rechead_order(settings, messages, handles, shown, fitting), "rechead"
            timings["rechead_ms"] = _ms(started)
        for cand in order:  # fill up
            if len(chosen) >= max(SHORTLIST_TARGET, min(len(picks), SHORTLIST_MAX)):
                break
            if cand not in chosen:
                chosen.append(cand)
        chosen = chosen[:SHORTLIST_MAX]
        ranked_by = "our catalogue search" if ranker == "retrieval" else "our recommendation scorer"
        message = ("Here is what I would suggest." if not fallback else
                   f"Here is what I would suggest (ranked by {ranked_by}: the model's answer could "
                   "not be read).")
        if query.wrong_fact:
            message = f"A small correction: {query.wrong_fact}. " + message
        if query.injection:
            message = "I can only help with your own request and your own profile. " + message

    started = time.perf_counter()
    steps = split_steps(completion) if not parsed_steps and completion else parsed_steps
    checks = verify_steps(steps, handles, query.to_dict(), preferences, catalogue.rain_sensitive)
    timings["verify_ms"] = _ms(started)
    timings["total_ms"] = _ms(t0)

    items = [{"item_id": c.item_id, "title": c.item["title"], "brand": c.item.get("brand"),
              "category": c.item.get("category"), "price": c.item.get("price"), "rank": rank,
              "justification": justify(c.item, query, preferences), "provenance": c.provenance(),
              "picked_by": "model" if c in picks else ranker,
              "attributes": c.item.get("attributes", {})}
             for rank, c in enumerate(chosen, start=1)]
    result = ShortlistResult(0, 0, client_id, text, items, [c.to_dict() for c in checks], query.to_dict(),
                             model_version, fallback, not chosen, message, timings, completion)
    _persist(result, conversation_id, [c.item_id for c in candidates])
    return result


@lru_cache(maxsize=2)
def _rechead(path: str):
    from backend.rechead import load_head

    return load_head(path)[0]


def rechead_order(settings: Settings, messages, handles: dict[str, dict], shown: list[Candidate],
                  fitting: list[Candidate]) -> list[Candidate]:
    """The candidates the model was shown, best first by the Rechead (`settings.rechead_dir`, one forward
    pass of the base model over the prompt), then the other fitting ones in retrieval order."""
    from backend.llm import chat_model
    from backend.rechead import rank_on_shared

    ranked = rank_on_shared(_rechead(str(settings.rechead_dir)), chat_model(settings).shared, messages, list(handles))
    by_id = {c.item_id: c for c in shown}
    first = [by_id[handles[h]["item_id"]] for h, _ in ranked]
    return first + [c for c in fitting if c not in first]


def _generate(messages, settings: Settings, version: ModelVersion | None, on_token, timings: dict) -> str:
    """Run the LLM once, streaming; records first-token and total generation time."""
    from backend.llm import adapter_name_for, chat_model

    adapter = version.version if version and version.adapter_path else None
    if adapter and settings.llm_backend == "local":
        # in this process the adapter is keyed by its directory and content: a version name reused by
        # another store (another test, a rebuilt registry) can never pick up a stale adapter
        adapter = adapter_name_for(version.adapter_path)
    model = chat_model(settings, adapter=adapter, adapter_path=version.adapter_path if adapter else None)
    started = time.perf_counter()
    pieces, metadata = [], {}
    with _llm_lock:
        timings["queue_ms"] = _ms(started)
        started = time.perf_counter()
        for chunk in model.stream(messages):
            if chunk.content:
                if not pieces:
                    timings["first_token_ms"] = _ms(started)
                pieces.append(chunk.content)
                if on_token is not None:
                    on_token(chunk.content)
            metadata.update(getattr(chunk, "response_metadata", None) or {})
    timings["llm_ms"] = _ms(started)
    stats = getattr(model, "last_stats", None) or metadata
    for key in ("prompt_tokens", "completion_tokens", "prefill_s", "decode_s", "tokens_per_s"):
        if key in stats:
            timings[f"llm_{key}"] = stats[key]
    return "".join(pieces)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _previous_query(client_id: str, conversation_id: int | None, items: dict[str, dict]) -> dict | None:
    if conversation_id is None:
        return None
    with session() as s:
        conversation = s.get(Conversation, conversation_id)
        if conversation is None or conversation.client_id != client_id:
            raise ConciergeError(f"conversation {conversation_id} does not exist for this client")
        last = s.exec(select(Shortlist).where(Shortlist.conversation_id == conversation_id)
                      .order_by(Shortlist.id.desc())).first()
        if last is None:
            return None
        shown = s.exec(select(ShortlistItem.item_id).where(ShortlistItem.shortlist_id == last.id)).all()
    prices = [items[i]["price"] for i in shown if i in items and items[i].get("price") is not None]
    data = dict(last.query_graph)
    data["_last_max_price"] = max(prices) if prices else None  # "cheaper" means cheaper than these
    return data


def _persist(result: ShortlistResult, conversation_id: int | None, candidate_ids: list[str]) -> None:
    with session() as s:
        if conversation_id is None:
            conversation = Conversation(client_id=result.client_id, title=result.request[:80])
            s.add(conversation)
            s.flush()
            conversation_id = conversation.id
        s.add(Message(conversation_id=conversation_id, role="user", content=result.request))
        shortlist = Shortlist(client_id=result.client_id, conversation_id=conversation_id, request=result.request,
                              query_graph=result.query_graph, model_version=result.model_version,
                              fallback_used=result.fallback_used, nothing_fits=result.nothing_fits,
                              latency_ms=result.timings.get("total_ms", 0.0), timings=result.timings,
                              candidates=candidate_ids)
        s.add(shortlist)
        s.flush()
        for item in result.items:
            s.add(ShortlistItem(shortlist_id=shortlist.id, item_id=item["item_id"], rank=item["rank"],
                                justification=item["justification"], provenance=item["provenance"]))
        for step in result.steps:
            s.add(ReasoningStep(shortlist_id=shortlist.id, index=step["index"], text=step["text"],
                                verdict=step["verdict"], detail={k: step[k] for k in
                                                                 ("items", "attributes", "problems", "support")}))
        s.add(Message(conversation_id=conversation_id, role="assistant", content=result.message,
                      shortlist_id=shortlist.id))
    result.shortlist_id, result.conversation_id = shortlist.id, conversation_id
