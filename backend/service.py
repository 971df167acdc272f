"""The serving path, end to end: `recommend(client_id, text, conversation_id=None) -> ShortlistResult`.

Each stage is a module with a typed hand-off; this module only wires them:

    understand (backend/understand.py)  text -> QueryGraph (hard constraints, soft wishes)
    client     (backend/live.py)        client id -> preference graph, signals, summary
    candidates (backend/retrieval.py)   QueryGraph + signals -> fitting Candidates with features
    rank       (backend/ranker.py)      Candidates -> ordered Candidates (LightGBM, or fusion)
    reason     (backend/reasoner.py)    the top candidates -> the model's steps and picks
    verify     (backend/verify.py)      steps -> verdicts
    persist    (below)                  everything stored for review

Only this client's data ever enters the prompt: the summary is built from their own profile and
history, so a request that asks for other clients' data has nothing to leak.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache

from sqlmodel import select

from backend.live import LiveCatalogue, client_context, live_catalogue, ranked_candidates, understand_request
from backend.fusion import fuse, fusion_for
from backend.reasoner import Generation, build_prompt, generate_reasoning, model_picks
from backend.retrieval import Candidate
from backend.settings import Settings, get_settings
from backend.store import get_engine, session
from backend.tables import Conversation, Message, ModelVersion, ReasoningStep, Shortlist, ShortlistItem
from backend.understand import QueryGraph, Wish, wrong_fact_sentence
from backend.verify import hard_violations, prompt_text, split_steps, verify_steps
from catalog.errors import ConciergeError

log = logging.getLogger(__name__)
SHORTLIST_MIN, SHORTLIST_TARGET, SHORTLIST_MAX = 3, 4, 5
FORCED_PICKS = 3  # the model's picks when they are read from its scores
REASONER_CANDIDATES = 8  # candidates shown to the LLM: enough choice, a prompt (~350 tokens) short enough for a CPU
# one generation at a time per process when the local model decodes alone (CONCIERGE_DECODE_BATCH=1);
# otherwise its decoding worker admits and batches generations itself (backend/decoding.py)
_llm_lock = threading.Lock()


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
    reasoning: dict = field(default_factory=dict)  # how the model's text ended; see `Reasoned`
    candidates: list[str] = field(default_factory=list)  # the ranker's order (top 50) the shortlist came from

    def to_dict(self) -> dict:
        return asdict(self)


def active_model_version(settings: Settings | None = None) -> ModelVersion | None:
    with session(get_engine((settings or get_settings()).sql_url)) as s:
        return s.exec(select(ModelVersion).where(ModelVersion.status == "active")).first()


def check_request(text: str, settings: Settings) -> str:
    text = (text or "").strip()
    if not text:
        raise ConciergeError("the request is empty; tell us what you are looking for")
    if len(text) > settings.max_request_chars:
        raise ConciergeError(f"the request has {len(text):,} characters; please keep it under "
                             f"{settings.max_request_chars:,} (CONCIERGE_MAX_REQUEST_CHARS)")
    return text


FOLLOW_UP_WISHES = {  # what a short follow-up asks of the previous shortlist, as a soft wish
    r"less formal|more casual|more relaxed": "casual",
    r"more formal|dressier|smarter": "formal",
    r"darker": "dark", r"lighter|brighter": "light",
}
CHEAPER = r"\b(cheaper|less expensive|lower price|more affordable)\b"


def refine(previous: dict, follow_up: QueryGraph, understood_wish) -> QueryGraph:
    """A follow-up ("something less formal", "in black", "cheaper") applied to the previous request.

    Args:
        previous (`dict`): the previous query graph (with `_last_max_price`, the dearest item shown).
        follow_up (`QueryGraph`): the follow-up read on its own.
        understood_wish (`callable`): phrase -> `Wish` matched to the catalogue (for "less formal").
    """
    if follow_up.categories or follow_up.impossible:
        return follow_up  # a new subject: a new request
    merged = QueryGraph.from_dict({k: v for k, v in previous.items() if not k.startswith("_")})
    merged.text = f"{previous['text']} — then: {follow_up.text}"
    merged.vector = follow_up.vector
    merged.houses = follow_up.houses or merged.houses
    if follow_up.budget_max is not None:
        merged.budget_max, merged.currency = follow_up.budget_max, follow_up.currency
    merged.must_not += [n for n in follow_up.must_not if n not in merged.must_not]
    merged.must_not_also += [n for n in follow_up.must_not_also if n not in merged.must_not_also]
    merged.wishes = [Wish(w.phrase, w.weight * 1.5, w.source, w.matches) for w in follow_up.wishes] + merged.wishes
    low = follow_up.text.lower()
    for pattern, phrase in FOLLOW_UP_WISHES.items():
        if re.search(pattern, low):
            merged.wishes.insert(0, understood_wish(phrase))
    if re.search(CHEAPER, low):
        merged.budget_max = (previous.get("_last_max_price") or merged.budget_max or 1000.0) * 0.7
    merged.notes = previous.get("notes", []) + [f"follow-up: {follow_up.text}"] + follow_up.notes
    return merged


def justify(item: dict, query: QueryGraph, preferences: dict[str, float]) -> str:
    """One line tying an item to the request and to the client, from catalogue facts only."""
    from backend.graphs import attribute_nodes

    nodes = {node for _, node in attribute_nodes(item)}
    met = []
    for wish in sorted(query.wishes, key=lambda w: -w.weight):
        hit = max(((s, n) for n, s in wish.matches.items() if n in nodes), default=None)
        if hit and hit[1].split("=", 1)[1] not in met:
            met.append(hit[1].split("=", 1)[1])
    facts = [f"{v}" for v in met[:3]]
    loved = [node.split("=", 1)[1] for node in nodes if preferences.get(node, 0) > 0.5
             and not node.startswith("category")][:2]
    tie = f"; echoes what you like ({', '.join(loved)})" if loved else ""
    return (", ".join(facts) + tie).strip("; ,") or item.get("category") or item["title"]


def nothing_fits_message(query: QueryGraph, catalogue: LiveCatalogue) -> str:
    """Why nothing fits: the thing asked for is not in this catalogue, or which hard constraint the
    closest pieces break."""
    if query.impossible:
        kinds = sorted({n.split("=", 1)[1] for n in catalogue.vocabulary.categories})[:6]
        return (f"Nothing in our catalogue fits: {query.impossible}"
                + (f" (we carry {', '.join(kinds)})" if kinds else "") + ".")
    closest = closest_pieces(query, catalogue)
    reasons: dict[str, int] = {}
    for _, broken in closest:
        for reason in broken:
            reasons[reason] = reasons.get(reason, 0) + 1
    common = "; ".join(r for r, _ in sorted(reasons.items(), key=lambda kv: -kv[1])[:3])
    names = ", ".join(item["title"] for item, _ in closest[:3])
    return ("Nothing in our catalogue meets every condition of this request"
            + (f" (the closest pieces — {names} — fail on: {common})" if common else "")
            + ". Could you relax one of them?")


def closest_pieces(query: QueryGraph, catalogue: LiveCatalogue, k: int = 5) -> list[tuple[dict, list[str]]]:
    """The items nearest to the request regardless of its hard constraints, with what each breaks."""
    ids, _ = catalogue.index.nearest(query.vector, k)
    items = [catalogue.graphs.items[i] for i in ids if i in catalogue.graphs.items]
    return [(item, hard_violations(item, query.to_dict())) for item in items]


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
        settings (`Settings`, *optional*): the stores and model settings to answer from (default:
            `get_settings()`; the evaluation passes its scratch stores').
        model (`ModelVersion`, *optional*): answer with this version instead of the active one (the evaluation
            of a candidate adapter; it need not be stored).

    Returns:
        `ShortlistResult`

    Raises:
        `ConciergeError`: empty or over-long request, unknown client or conversation, a request in a
        language the reasoner does not read, or an empty catalogue.
    """
    settings = settings or get_settings()
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    text = check_request(text, settings)
    catalogue = live_catalogue(settings)

    started = time.perf_counter()
    query = understand_stage(client_id, text, conversation_id, catalogue, settings)
    timings["intent_ms"] = _ms(started)

    started = time.perf_counter()
    client, _, signals, summary = client_context(client_id, catalogue, settings)
    timings["preferences_ms"] = _ms(started)

    started = time.perf_counter()
    ordered = ranked_candidates(query, catalogue, signals, timings, settings)
    timings["retrieval_ms"] = _ms(started)

    version = model if model is not None else active_model_version(settings)
    answer = (reason_stage(query, summary, ordered, catalogue.digest, settings, version, on_token, seed, timings)
              if ordered else None)
    if answer is None:
        message, chosen, picks = nothing_fits_message(query, catalogue), [], []
        completion, fallback, steps, handles, ranker, reasoning = "", False, [], {}, catalogue.ranker.kind, {}
        prompt = None
    else:
        chosen, picks, completion, fallback = answer.chosen, answer.picks, answer.completion, answer.fallback
        steps, handles, ranker, reasoning = answer.steps, answer.handles, answer.ranker, answer.reasoning
        prompt = answer.prompt
        message = answer_message(query, fallback, ranker)

    started = time.perf_counter()
    checks = verify_steps(steps, handles, query.to_dict(), signals.preferences, prompt)
    timings["verify_ms"] = _ms(started)
    timings["total_ms"] = _ms(t0)
    items = [{"item_id": c.item_id, "title": c.item["title"], "brand": c.item.get("brand"),
              "category": c.item.get("category"), "price": c.item.get("price"),
              "currency": c.item.get("currency") or catalogue.currency, "rank": rank,
              "justification": justify(c.item, query, signals.preferences), "provenance": c.provenance(),
              "picked_by": "model" if c in picks else ranker, "attributes": c.item.get("attributes", {})}
             for rank, c in enumerate(chosen, start=1)]
    reasoning = {**reasoning, "ranker": catalogue.ranker.label}  # which ranker ordered the candidates
    result = ShortlistResult(0, 0, client_id, text, items, [c.to_dict() for c in checks], query.to_dict(),
                             version.version if version else "base", fallback, not chosen, message, timings,
                             completion, reasoning, [c.item_id for c in ordered[:50]])
    persist_shortlist(result, conversation_id, result.candidates, settings)
    return result


def understand_stage(client_id: str, text: str, conversation_id: int | None, catalogue: LiveCatalogue,
                     settings: Settings) -> QueryGraph:
    """The request (or follow-up) as a query graph; refuses a language the reasoner does not read."""
    query = understand_request(text, catalogue, settings)
    if query.language != "en":
        raise ConciergeError("Concierge reads requests in English for now; please write your request in English")
    previous = _previous_query(client_id, conversation_id, catalogue.graphs.items, settings)
    if previous is not None:
        def wish(phrase: str) -> Wish:
            return next((w for w in understand_request(phrase, catalogue, settings).wishes),
                        Wish(phrase, 0.5, "meaning"))
        query = refine(previous, query, wish)
    return query


@dataclass
class Reasoned:
    """The reason stage's outcome: the shortlist and how the model's answer shaped it."""

    chosen: list[Candidate]  # the shortlist, best first
    picks: list[Candidate]  # what the model picked (its ANSWER line, or its scores when that was missing)
    completion: str
    steps: list[str]
    handles: dict[str, dict]
    ranker: str  # what ordered the candidates besides the model: ranker | rechead
    reasoning: dict  # ended (answer | degenerate | end | limit), problem, answer (model | forced | none)
    prompt: str = ""  # the text the model was shown (what its steps may rely on)

    @property
    def fallback(self) -> bool:
        return not self.picks


def reason_stage(query: QueryGraph, summary: str, ordered: list[Candidate], digest: str, settings: Settings,
                 version: ModelVersion | None, on_token, seed: int | None, timings: dict) -> Reasoned:
    """The model reasons over the ranker's top candidates; the shortlist fuses its picks with the ranker's
    order with the share this adapter earned on this catalogue (`digest`) on its val split, else 0
    (`backend.fusion`), so the model can lift a candidate but not wreck the order. When its text ends
    without a usable ANSWER line (degenerate, cut, or malformed), the local model's own scores of each
    handle after "ANSWER:" stand in for the picks ("forced")."""
    started = time.perf_counter()
    rng = random.Random(seed)
    shown = ordered[:REASONER_CANDIDATES]
    messages, handles = build_prompt(query.text, query, summary, [c.item for c in shown], rng)
    timings["prompt_ms"] = _ms(started)
    model = _chat_model(settings, version)
    generation = _generate(model, messages, settings, on_token, timings)
    started = time.perf_counter()
    parsed, order, answer = model_picks(model, messages, handles, generation.text, FORCED_PICKS)
    timings["parse_ms"] = _ms(started)
    by_id = {c.item_id: c for c in shown}
    picks = [by_id[handles[h]["item_id"]] for h in order]
    ranked, ranker = ordered, "ranker"
    if settings.rechead_dir is not None:  # the Rechead's order over what the model was shown
        started = time.perf_counter()
        ranked, ranker = rechead_order(settings, messages, handles, shown, ordered), "rechead"
        timings["rechead_ms"] = _ms(started)
    top = {c.item_id: c for c in ranked[:len(shown)]}
    fusion = fusion_for(settings.model_weight, settings.fusion_k, version.adapter_path if version else None,
                        digest)
    fused = [top[i] for i in fuse([c.item_id for c in picks], list(top), fusion.model_weight, fusion.k)]
    fused += ranked[len(shown):]
    size = max(SHORTLIST_TARGET, min(len(picks), SHORTLIST_MAX))
    steps = parsed.steps or (split_steps(generation.text) if generation.text else [])
    reasoning = {"ended": generation.ended, "problem": generation.problem, "answer": answer,
                 "picks": [c.item_id for c in picks], "fusion": fusion.to_dict()}
    return Reasoned(fused[:size], picks, generation.text, steps, handles, ranker, reasoning, prompt_text(messages))


def answer_message(query: QueryGraph, fallback: bool, ranker: str) -> str:
    ranked_by = "our catalogue ranking" if ranker != "rechead" else "our recommendation scorer"
    message = ("Here is what I would suggest." if not fallback else
               f"Here is what I would suggest (ranked by {ranked_by}: the model's answer could not be read).")
    if query.wrong_fact:
        message = f"A small correction: {wrong_fact_sentence(query.wrong_fact)}. " + message
    if query.injection:
        message = "I can only help with your own request and your own profile. " + message
    return message


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


def _chat_model(settings: Settings, version: ModelVersion | None):
    """The chat model answering for `version` (the base model when it has no adapter)."""
    from backend.llm import adapter_name_for, chat_model

    adapter = version.version if version and version.adapter_path else None
    if adapter and settings.llm_backend == "local":
        # in this process the adapter is keyed by its directory and content: a version name reused by
        # another store (another test, a rebuilt registry) can never pick up a stale adapter
        adapter = adapter_name_for(version.adapter_path)
    return chat_model(settings, adapter=adapter, adapter_path=version.adapter_path if adapter else None)


def _generate(model, messages, settings: Settings, on_token, timings: dict) -> Generation:
    """Run the LLM once, streaming (under the process's generation lock when the local model decodes one
    answer at a time); records queue, first-token and generation times and the model's token counts."""
    started = time.perf_counter()
    first: list[float] = []

    def piece(text: str) -> None:
        if not first:
            first.append(time.perf_counter())
        if on_token is not None:
            on_token(text)

    alone = settings.llm_backend == "local" and settings.decode_batch == 1
    with _llm_lock if alone else contextlib.nullcontext():
        timings["queue_ms"] = _ms(started)
        started = time.perf_counter()
        generation = generate_reasoning(model, messages, settings.max_new_tokens, piece)
    if "queued_s" in generation.stats:  # waited for the decoding worker to take it in
        timings["queue_ms"] += round(generation.stats["queued_s"] * 1000, 2)
    if first:
        timings["first_token_ms"] = round((first[0] - started) * 1000, 1)
    timings["llm_ms"] = _ms(started)
    for key in ("prompt_tokens", "completion_tokens", "prefill_s", "decode_s", "tokens_per_s"):
        if key in generation.stats:
            timings[f"llm_{key}"] = generation.stats[key]
    return generation


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _previous_query(client_id: str, conversation_id: int | None, items: dict[str, dict],
                    settings: Settings | None = None) -> dict | None:
    if conversation_id is None:
        return None
    with session(get_engine((settings or get_settings()).sql_url)) as s:
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


def persist_shortlist(result: ShortlistResult, conversation_id: int | None, candidate_ids: list[str],
                      settings: Settings | None = None) -> None:
    """Store a shortlist (and its conversation turn, new or continued); fills `result.shortlist_id`."""
    with session(get_engine((settings or get_settings()).sql_url)) as s:
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
                              candidates=candidate_ids, reasoning=result.reasoning)
        s.add(shortlist)
        s.flush()
        for item in result.items:
            s.add(ShortlistItem(shortlist_id=shortlist.id, item_id=item["item_id"], rank=item["rank"],
                                justification=item["justification"], provenance=item["provenance"]))
        for step in result.steps:
            s.add(ReasoningStep(shortlist_id=shortlist.id, index=step["index"], text=step["text"],
                                verdict=step["verdict"], detail={k: step[k] for k in
                                                                 ("items", "attributes", "problems", "support",
                                                                                  "ungrounded")}))
        s.add(Message(conversation_id=conversation_id, role="assistant", content=result.message,
                      shortlist_id=shortlist.id))
    result.shortlist_id, result.conversation_id = shortlist.id, conversation_id
