"""What each screen can do, as plain functions of the signed-in `Actor`.

The Gradio UIs are thin wrappers over these; every function checks the role *and* the ownership of
the data it touches itself, because Gradio handlers are reachable through the API as well as the
page. A refusal is an `AccessDenied`; a mistake the user can fix is a `ConciergeError` raised
before anything is stored.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlmodel import func, select

from app.auth import AccessDenied, Actor, assign_clients, create_account, require, set_active, set_password
from backend.settings import get_settings
from backend.store import session
from backend.tables import (Account, AuditLog, Client, ClientNote, Conversation, Feedback, Interaction, Message,
                            ModelVersion, ReasoningStep, Shortlist, ShortlistItem, TrainingJob)
from catalog.errors import ConciergeError

MAX_REASON = 1000
MAX_NOTE = 2000
UPLOAD_TYPES = (".zip", ".csv", ".jsonl")
ITEM_VERDICTS = ("accept", "reject")
STEP_FLAGS = ("flag_wrong", "flag_irrelevant")


# --- access ------------------------------------------------------------------------------------

def check_client_access(actor: Actor, client_id: str) -> Client:
    """The client row, if `actor` may see it: the client themself, their associate, or an admin."""
    require(actor, "client", "associate", "admin")
    with session() as s:
        client = s.get(Client, client_id)
    if actor.role == "client" and actor.client_id == client_id and client is not None:
        return client
    if actor.role == "associate" and client is not None and client.associate_id == actor.id:
        return client
    if actor.role == "admin" and client is not None:
        return client
    # the same message whether the client exists or not: nothing to learn by probing ids
    raise AccessDenied(f"client {client_id!r} is not one of yours")


MAX_ROW_ID = 2**63 - 1  # the largest id SQL stores (BIGINT): a larger number names no row


def whole_number(value, message: str) -> int:
    """`value` as sent by a form, Gradio or JSON (an int, an integral float, or digits) as an int.

    Raises:
        `ConciergeError` with `message`: nothing, text, a fraction, true / false, a list, infinity or NaN.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("#").isdecimal():
        try:
            return int(value.strip().lstrip("#"))
        except ValueError:  # more digits than Python converts
            raise ConciergeError(message) from None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ConciergeError(message)


def row_id(value, message: str) -> int | None:
    """A row id from `whole_number`, or None when no row can have it (below 1, beyond `MAX_ROW_ID`)."""
    number = whole_number(value, message)
    return number if 1 <= number <= MAX_ROW_ID else None


def _owned_row(actor: Actor, table, row, noun: str, name: str):
    """The row of `table` (a shortlist or a conversation) with id `row`, when `actor` may see its client.

    A row that does not exist and one of another client's give the same `AccessDenied` ("{name} is not
    one of yours"): nothing to learn by probing ids.
    """
    number = whole_number(row, f"choose a {noun} first (its number)")
    refusal = f"{name.format(number)} is not one of yours"
    with session() as s:
        found = s.get(table, number) if row_id(number, "") else None
    if found is None:
        raise AccessDenied(refusal)
    try:
        check_client_access(actor, found.client_id)
    except AccessDenied:
        raise AccessDenied(refusal) from None
    return found


def _shortlist_for(actor: Actor, shortlist_id) -> Shortlist:
    return _owned_row(actor, Shortlist, shortlist_id, "shortlist", "shortlist #{}")


def _conversation_for(actor: Actor, conversation_id) -> Conversation:
    return _owned_row(actor, Conversation, conversation_id, "conversation", "conversation {}")


def _catalogue_items() -> dict[str, dict]:
    """Items of the live catalogue by id ({} before any import)."""
    from backend.service import live_catalogue

    try:
        return live_catalogue().graphs.items
    except ConciergeError:
        return {}


# Bidirectional embeddings, overrides and isolates reorder how the text around them reads (U+202A–U+202E,
# U+2066–U+2069); control characters other than tab and line breaks have no place in typed text (PostgreSQL
# refuses NUL).
_UNWANTED = re.compile("[\u202a-\u202e\u2066-\u2069\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str) -> str:
    """Text a person typed, as it is stored: without bidirectional controls and control characters."""
    return _UNWANTED.sub("", value)


def request_text(text) -> str:
    """A client's request as it will be stored: text, cleaned, not empty and not too long.

    Raises:
        `ConciergeError`: not a string, empty, or longer than `CONCIERGE_MAX_REQUEST_CHARS`.
    """
    from backend.service import check_request

    if text is None:
        text = ""
    if not isinstance(text, str):
        raise ConciergeError(f"the request must be text, not {type(text).__name__}; "
                             'send {"text": "what you are looking for"}')
    return check_request(clean_text(text), get_settings())


def _text(value: str | None, limit: int, what: str, required: bool = False) -> str:
    if value is not None and not isinstance(value, str):
        raise ConciergeError(f"{what} must be text")
    value = clean_text(value or "").strip()
    if required and not value:
        raise ConciergeError(f"please give {what}")
    if len(value) > limit:
        raise ConciergeError(f"{what} has {len(value):,} characters; keep it under {limit:,}")
    return value


# --- shortlists, as every screen shows them -----------------------------------------------------

def shortlist_view(shortlist: Shortlist) -> dict:
    """A stored shortlist with its items (catalogue facts joined in), steps and verdicts, and feedback."""
    catalogue = _catalogue_items()
    with session() as s:
        rows = s.exec(select(ShortlistItem).where(ShortlistItem.shortlist_id == shortlist.id)
                      .order_by(ShortlistItem.rank)).all()
        steps = s.exec(select(ReasoningStep).where(ReasoningStep.shortlist_id == shortlist.id)
                       .order_by(ReasoningStep.index)).all()
        feedback = s.exec(select(Feedback).where(Feedback.shortlist_id == shortlist.id)
                          .order_by(Feedback.id)).all()
    items = []
    for row in rows:
        item = catalogue.get(row.item_id, {})
        items.append({"item_id": row.item_id, "rank": row.rank, "title": item.get("title", row.item_id),
                      "brand": item.get("brand") or "", "price": item.get("price"), "currency": item.get("currency"),
                      "category": item.get("category") or "", "attributes": item.get("attributes", {}),
                      "justification": row.justification})
    return {
        "shortlist_id": shortlist.id, "client_id": shortlist.client_id, "conversation_id": shortlist.conversation_id,
        "request": shortlist.request, "query_graph": shortlist.query_graph, "created_at": shortlist.created_at,
        "model_version": shortlist.model_version, "fallback_used": shortlist.fallback_used,
        "nothing_fits": shortlist.nothing_fits, "items": items, "reasoning": shortlist.reasoning or {},
        "steps": [{"index": st.index, "text": st.text, "verdict": st.verdict,
                   "problems": st.detail.get("problems", []) + [f"not in the prompt: {u}"
                                                                for u in st.detail.get("ungrounded", [])]}
                  for st in steps],
        "feedback": [{"kind": f.kind, "item_id": f.item_id, "step_index": f.step_index, "reason": f.reason,
                      "new_rank": f.new_rank, "replacement_item_id": f.replacement_item_id,
                      "created_at": f.created_at} for f in feedback],
    }


# --- client ------------------------------------------------------------------------------------

def client_conversations(actor: Actor) -> list[dict]:
    """The signed-in client's conversations, newest first."""
    require(actor, "client")
    with session() as s:
        rows = s.exec(select(Conversation).where(Conversation.client_id == actor.client_id)
                      .order_by(Conversation.id.desc())).all()
    return [{"conversation_id": c.id, "title": c.title or f"Conversation {c.id}", "created_at": c.created_at}
            for c in rows]


def client_conversation(actor: Actor, conversation_id) -> dict:
    """One of the client's own conversations: its messages and its shortlists."""
    require(actor, "client")
    conversation = _conversation_for(actor, conversation_id)
    with session() as s:
        messages = s.exec(select(Message).where(Message.conversation_id == conversation.id)
                          .order_by(Message.id)).all()
        shortlists = s.exec(select(Shortlist).where(Shortlist.conversation_id == conversation.id)
                            .order_by(Shortlist.id)).all()
    return {"conversation_id": conversation.id, "title": conversation.title,
            "messages": [{"role": m.role, "content": m.content, "shortlist_id": m.shortlist_id} for m in messages],
            "shortlists": [shortlist_view(sl) for sl in shortlists]}


def client_ask(actor: Actor, text: str, conversation_id=None, on_token: Callable[[str], None] | None = None):
    """Ask for a shortlist (or refine the conversation's last one). Nothing is stored on bad input.

    Returns:
        `backend.service.ShortlistResult`
    """
    from backend.service import recommend

    require(actor, "client")
    text = request_text(text)
    if conversation_id not in (None, ""):
        conversation_id = _conversation_for(actor, conversation_id).id
    else:
        conversation_id = None
    return recommend(actor.client_id, text, conversation_id=conversation_id, on_token=on_token)


# --- associate ---------------------------------------------------------------------------------

def my_clients(actor: Actor) -> list[dict]:
    """Clients this associate looks after (an admin: all)."""
    require(actor, "associate", "admin")
    with session() as s:
        query = select(Client.client_id, Client.name).order_by(Client.client_id)
        if actor.role == "associate":
            query = query.where(Client.associate_id == actor.id)
        return [{"client_id": c, "name": n} for c, n in s.exec(query).all()]


def review_queue(actor: Actor, client_id: str | None = None, limit: int = 200) -> list[dict]:
    """Shortlists to review, newest first, of the associate's own clients (optionally one client)."""
    require(actor, "associate", "admin")
    if client_id:
        check_client_access(actor, client_id)
    with session() as s:
        query = (select(Shortlist, Client.name).join(Client, Client.client_id == Shortlist.client_id)
                 .order_by(Shortlist.id.desc()).limit(limit))
        if actor.role == "associate":
            query = query.where(Client.associate_id == actor.id)
        if client_id:
            query = query.where(Shortlist.client_id == client_id)
        rows = s.exec(query).all()
        counts = dict(s.exec(select(Feedback.shortlist_id, func.count()).where(
            Feedback.shortlist_id.in_([r[0].id for r in rows])).group_by(Feedback.shortlist_id)).all())
    return [{"shortlist_id": sl.id, "client_id": sl.client_id, "client": name,
             "created_at": sl.created_at, "request": sl.request, "feedback": counts.get(sl.id, 0)}
            for sl, name in rows]


def client_profile(actor: Actor, client_id: str) -> dict:
    """Profile, stated preferences, notes, recent history and strongest tastes of one client."""
    from backend.graphs import top_preferences

    require(actor, "associate", "admin", "client")
    client = check_client_access(actor, client_id)
    graph = client_preference_graph(actor, client_id)
    likes, dislikes = top_preferences(graph, n=8)
    items = _catalogue_items()
    with session() as s:
        notes = s.exec(select(ClientNote).where(ClientNote.client_id == client_id).order_by(ClientNote.id)).all()
        history = s.exec(select(Interaction).where(Interaction.client_id == client_id)
                         .order_by(Interaction.timestamp.desc()).limit(10)).all()
    return {"client_id": client.client_id, "name": client.name, "profile": client.profile,
            "stated_preferences": client.stated_preferences,
            "notes": [{"text": n.text, "source": n.source, "created_at": n.created_at} for n in notes],
            "history": [{"kind": h.kind, "item_id": h.item_id, "title": items.get(h.item_id, {}).get("title", ""),
                         "timestamp": h.timestamp} for h in history],
            "likes": likes, "dislikes": dislikes}


def client_preference_graph(actor: Actor, client_id: str):
    """The client's preference graph (networkx), for the profile and its picture."""
    from backend.service import client_context, live_catalogue

    check_client_access(actor, client_id)
    _, graph, *_ = client_context(client_id, live_catalogue())
    return graph


def review_shortlist(actor: Actor, shortlist_id) -> dict:
    """Everything a reviewer needs about one shortlist."""
    require(actor, "associate", "admin")
    return shortlist_view(_shortlist_for(actor, shortlist_id))


def _add_feedback(actor: Actor, **fields) -> Feedback:
    with session() as s:
        row = Feedback(author_id=actor.id, **fields)
        s.add(row)
    return row


def judge_item(actor: Actor, shortlist_id, item_id: str, verdict: str, reason: str = "") -> Feedback:
    """Accept or reject one item of a shortlist; a rejection needs a reason."""
    require(actor, "associate", "admin")
    shortlist = _shortlist_for(actor, shortlist_id)
    if verdict not in ITEM_VERDICTS:
        raise ConciergeError(f"choose accept or reject, not {verdict!r}")
    reason = _text(reason, MAX_REASON, "a reason", required=verdict == "reject")
    _item_in(shortlist, item_id)
    return _add_feedback(actor, shortlist_id=shortlist.id, item_id=item_id, kind=verdict, reason=reason)


def flag_step(actor: Actor, shortlist_id, step_index, kind: str, reason: str = "") -> Feedback:
    """Flag one reasoning step as wrong or irrelevant."""
    require(actor, "associate", "admin")
    shortlist = _shortlist_for(actor, shortlist_id)
    kind = {"wrong": "flag_wrong", "irrelevant": "flag_irrelevant"}.get(kind, kind)
    if kind not in STEP_FLAGS:
        raise ConciergeError("flag a step as wrong or as irrelevant")
    step_index = whole_number(step_index, "choose a step to flag")
    with session() as s:
        step = s.exec(select(ReasoningStep).where(ReasoningStep.shortlist_id == shortlist.id,
                                                  ReasoningStep.index == step_index)).first()
    if step is None:
        raise ConciergeError(f"shortlist #{shortlist.id} has no step {step_index}")
    reason = _text(reason, MAX_REASON, "the reason")
    return _add_feedback(actor, shortlist_id=shortlist.id, step_index=step_index, kind=kind, reason=reason)


def reorder_item(actor: Actor, shortlist_id, item_id: str, new_rank, reason: str = "") -> Feedback:
    """Say where an item should be in the list (1 = first)."""
    require(actor, "associate", "admin")
    shortlist = _shortlist_for(actor, shortlist_id)
    n = len(_item_in(shortlist, item_id))
    new_rank = whole_number(new_rank, "give the new position as a whole number")
    if not 1 <= new_rank <= n:
        raise ConciergeError(f"the new position must be between 1 and {n}")
    reason = _text(reason, MAX_REASON, "the reason")
    return _add_feedback(actor, shortlist_id=shortlist.id, item_id=item_id, kind="reorder", new_rank=new_rank,
                         reason=reason)


def replace_item(actor: Actor, shortlist_id, item_id: str, replacement_item_id: str, reason: str = "") -> Feedback:
    """Say which catalogue item should have been shown instead of `item_id`."""
    require(actor, "associate", "admin")
    shortlist = _shortlist_for(actor, shortlist_id)
    _item_in(shortlist, item_id)
    replacement_item_id = (replacement_item_id or "").strip()
    if replacement_item_id not in _catalogue_items():
        raise ConciergeError(f"{replacement_item_id!r} is not in the catalogue; search the catalogue for its id")
    reason = _text(reason, MAX_REASON, "a reason", required=True)
    return _add_feedback(actor, shortlist_id=shortlist.id, item_id=item_id, kind="replace",
                         replacement_item_id=replacement_item_id, reason=reason)


def _item_in(shortlist: Shortlist, item_id: str) -> list[str]:
    with session() as s:
        ids = list(s.exec(select(ShortlistItem.item_id).where(ShortlistItem.shortlist_id == shortlist.id)).all())
    if item_id not in ids:
        raise ConciergeError(f"choose one of the items of shortlist #{shortlist.id}")
    return ids


def add_client_note(actor: Actor, client_id: str, text: str, shortlist_id=None) -> ClientNote:
    """A note about one of the associate's clients (it feeds their preference graph).

    When written while reviewing a shortlist, it is also recorded as feedback on that shortlist.
    """
    import hashlib

    require(actor, "associate", "admin")
    check_client_access(actor, client_id)
    text = _text(text, MAX_NOTE, "the note", required=True)
    shortlist = _shortlist_for(actor, shortlist_id) if shortlist_id not in (None, "") else None
    if shortlist is not None and shortlist.client_id != client_id:
        raise ConciergeError(f"shortlist #{shortlist.id} is not about client {client_id}")
    digest = hashlib.sha256(text.encode()).hexdigest()
    with session() as s:
        if s.exec(select(ClientNote).where(ClientNote.client_id == client_id,
                                           ClientNote.text_hash == digest)).first():
            raise ConciergeError("this note is already on the client's profile")
        note = ClientNote(client_id=client_id, author_id=actor.id, text=text, text_hash=digest, source="associate")
        s.add(note)
        if shortlist is not None:
            s.add(Feedback(shortlist_id=shortlist.id, author_id=actor.id, kind="note", reason=text))
    return note


# --- admin -------------------------------------------------------------------------------------

def import_upload(actor: Actor, path: str | None, mapping: str | None = None,
                  stage: Callable[[str], None] | None = None):
    """Import an uploaded catalogue: a bundle as .zip, or a .csv / .jsonl table with a column mapping.

    Args:
        stage (`callable`, *optional*): told what the import is doing now ("embedding and storing 1,204
            items", ...), for a progress display; the importer's own tqdm bars count the items.

    Returns:
        `(ImportResult, ValidationReport)`

    Raises:
        `ConciergeError`: no file, wrong type, too large, unsafe or damaged archive, or no valid item; nothing
        changes. Every refusal is written to the audit log (`catalogue_import_rejected`) with its reason.
    """
    require(actor, "admin")
    name = Path(path).name if path else ""
    try:
        result, report = _import_file(path, mapping, stage or (lambda text: None))
    except Exception as exc:
        reason = str(exc) if isinstance(exc, ConciergeError) else "an error on our side (see the server log)"
        with session() as s:
            s.add(AuditLog(actor_id=actor.id, action="catalogue_import_rejected",
                           detail={"file": name[:200], "reason": reason[:1000]}))
        raise
    with session() as s:
        s.add(AuditLog(actor_id=actor.id, action="catalogue_import",
                       detail={"file": name, "items": result.items_total, "changed": result.changed,
                               "bad_rows": report.n_bad}))
    return result, report


def _import_file(path: str | None, mapping: str | None, stage: Callable[[str], None]):
    """`import_upload`'s work: check the file, read it (unpacking a .zip), import it, prepare its ranker."""
    from backend.importer import import_bundle
    from backend.live import prepare_ranker
    from catalog.archive import read_bundle_archive
    from catalog.importers.table import parse_map, read_table

    if not path:
        raise ConciergeError("choose a file to upload first")
    source = Path(path)
    suffix = source.suffix.lower()
    if suffix not in UPLOAD_TYPES:
        raise ConciergeError(f"{source.name}: upload a bundle as .zip, or a catalogue as .csv or .jsonl")
    limit = get_settings().max_upload_mb * 1024 * 1024
    size = source.stat().st_size
    if size > limit:
        raise ConciergeError(f"{source.name} is {size / 2**20:.1f} MiB; the limit is "
                             f"{get_settings().max_upload_mb} MiB (CONCIERGE_MAX_UPLOAD_MB)")
    if size == 0:
        raise ConciergeError(f"{source.name} is empty")
    stage(f"reading and checking {source.name}")
    if suffix == ".zip":
        if (mapping or "").strip():
            raise ConciergeError("a column mapping applies to a .csv or .jsonl file, not to a .zip bundle")
        bundle, report = read_bundle_archive(source, limit * 10)
    else:
        bundle, report = read_table(source, parse_map(mapping))
    if not bundle.items:
        if not report.problems:
            raise ConciergeError(f"{source.name} has no item rows (only a header?); nothing to import")
        raise ConciergeError(f"{source.name} has no valid item; every item row was refused:\n"
                             f"{report.to_text(limit=20)}")
    stage(f"embedding and storing {len(bundle.items):,} items")
    result = import_bundle(bundle, report, progress=False)
    stage("preparing the new version's ranker")
    prepare_ranker(bundle)
    return result, report


def statistics(actor: Actor) -> dict:
    """Catalogue, shortlist and feedback counts."""
    from backend.catalogue import catalogue_stats

    require(actor, "admin")
    try:
        catalogue = catalogue_stats()
    except ConciergeError as exc:
        catalogue = {"items": 0, "error": str(exc)}
    with session() as s:
        feedback = dict(s.exec(select(Feedback.kind, func.count()).group_by(Feedback.kind)).all())
        shortlists = s.exec(select(func.count()).select_from(Shortlist)).one()
        fallbacks = s.exec(select(func.count()).select_from(Shortlist).where(Shortlist.fallback_used)).one()
        reviewed = s.exec(select(func.count(func.distinct(Feedback.shortlist_id)))).one()
        accounts = dict(s.exec(select(Account.role, func.count()).group_by(Account.role)).all())
        clients = s.exec(select(func.count()).select_from(Client)).one()
    return {"catalogue": catalogue, "feedback": feedback, "shortlists": shortlists,
            "shortlists_reviewed": reviewed, "fallbacks": fallbacks, "accounts": accounts, "clients": clients}


def list_accounts(actor: Actor) -> list[dict]:
    require(actor, "admin")
    with session() as s:
        rows = s.exec(select(Account).order_by(Account.role, Account.username)).all()
        assigned = Counter(s.exec(select(Client.associate_id).where(Client.associate_id.is_not(None))).all())
    return [{"username": a.username, "role": a.role, "client_id": a.client_id or "", "active": a.active,
             "clients_assigned": assigned.get(a.id, 0) if a.role == "associate" else "",
             "created_at": a.created_at} for a in rows]


def admin_create_account(actor: Actor, username: str, role: str, password: str, client_id: str | None = None):
    require(actor, "admin")
    return create_account(username, role, password, client_id=client_id, actor_id=actor.id)


def admin_set_active(actor: Actor, username: str, active: bool) -> None:
    require(actor, "admin")
    set_active((username or "").strip().lower(), active, actor_id=actor.id)


def admin_reset_password(actor: Actor, username: str, password: str) -> None:
    require(actor, "admin")
    set_password((username or "").strip().lower(), password, actor_id=actor.id)


def admin_assign(actor: Actor, client_ids: str, associate: str) -> int:
    require(actor, "admin")
    ids = [c.strip() for c in (client_ids or "").replace(";", ",").split(",") if c.strip()]
    if not ids:
        raise ConciergeError("give one or more client ids, separated by commas")
    return assign_clients(ids, (associate or "").strip().lower(), actor_id=actor.id)


def training_overview(actor: Actor) -> dict:
    """Training jobs (newest first) and model versions as stored."""
    require(actor, "admin")
    with session() as s:
        jobs = s.exec(select(TrainingJob).order_by(TrainingJob.id.desc()).limit(50)).all()
        versions = s.exec(select(ModelVersion).order_by(ModelVersion.created_at.desc())).all()
    return {"jobs": [{"id": j.id, "status": j.status, "stage": j.stage, "progress": j.progress,
                      "created_at": j.created_at, "finished_at": j.finished_at,
                      "candidate_version": j.candidate_version or "", "error": (j.error or "")[:200]} for j in jobs],
            "versions": [{"version": v.version, "status": v.status, "job_id": v.job_id, "created_at": v.created_at,
                          "promoted_at": v.promoted_at} for v in versions]}


# --- admin: retraining, watching, comparing, promoting ------------------------------------------

# What the form may ask for: (low, high) inclusive. Wide enough for a GPU run, narrow enough to catch typos.
TRAINING_LIMITS = {"max_steps": (1, 5000), "max_cases": (1, 100_000), "learning_rate": (1e-7, 1e-2),
                   "feedback_share": (0.01, 1.0), "eval_limit": (1, 1000), "probes_limit": (1, 500)}
STEP_STAGES = ("sft", "grpo")  # the stages that take optimiser steps: max steps and learning rate apply to them


def _number(value, name: str, label: str, kind=int):
    low, high = TRAINING_LIMITS[name]
    try:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError
        number = float(value)
        if kind is int:
            if number != int(number):
                raise ValueError
            number = int(number)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
        raise ConciergeError(f"{label} must be {'a whole number' if kind is int else 'a number'} "
                             f"between {low:g} and {high:g}") from None
    if not low <= number <= high:
        raise ConciergeError(f"{label} is {number:g}; it must be between {low:g} and {high:g}")
    return number


def training_job_config(stages, max_steps, max_cases, learning_rate, feedback_share, eval_limit,
                        probes_limit) -> dict:
    """The job config (`training.pipeline`'s keys) from the admin's form, checked.

    Raises:
        `ConciergeError`: a stage that does not exist, no stage, or a number out of its range.
    """
    from training.config import STAGES

    chosen = [s for s in STAGES if s in set(stages or [])]  # in the order they run
    unknown = sorted(set(stages or []) - set(STAGES))
    if unknown:
        raise ConciergeError(f"unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}")
    if not chosen:
        raise ConciergeError(f"choose at least one stage ({', '.join(STAGES)})")
    if not any(s in chosen for s in STEP_STAGES):
        raise ConciergeError("add sft or grpo: only they produce an adapter the gate can evaluate")
    steps = _number(max_steps, "max_steps", "max steps")
    cases = _number(max_cases, "max_cases", "cases")
    rate = _number(learning_rate, "learning_rate", "the learning rate", float)
    share = _number(feedback_share, "feedback_share", "the feedback share", float)
    overrides: dict = {"stages": chosen, "data": {"max_cases": cases}}
    for stage in STEP_STAGES:
        if stage in chosen:
            overrides[stage] = {"max_steps": steps, "learning_rate": rate}
    return {"overrides": overrides, "feedback_share": share,
            "eval": {"limit": _number(eval_limit, "eval_limit", "eval queries")},
            "probes": {"limit": _number(probes_limit, "probes_limit", "probes")}}


def start_training(actor: Actor, stages, max_steps, max_cases, learning_rate, feedback_share, eval_limit,
                   probes_limit) -> TrainingJob:
    """Queue a retraining run for `concierge worker` (one at a time: refused while another is queued or running).

    Returns:
        `TrainingJob`: the queued row.

    Raises:
        `ConciergeError`: a bad form value, a config the training code rejects, or a job already active.
    """
    from training import jobs
    from training.pipeline import job_train_config

    require(actor, "admin")
    config = training_job_config(stages, max_steps, max_cases, learning_rate, feedback_share, eval_limit,
                                 probes_limit)
    job_train_config(config, [])  # the training code's own checks, before anything is stored
    with session() as s:
        busy = s.exec(select(TrainingJob.id, TrainingJob.status).where(TrainingJob.status.in_(jobs.ACTIVE))).first()
    if busy is not None:
        raise ConciergeError(f"job {busy[0]} is already {busy[1]}; wait for it to finish or cancel it first")
    job = jobs.enqueue(config, created_by=actor.id)
    with session() as s:
        s.add(AuditLog(actor_id=actor.id, action="training_enqueued", detail={"job_id": job.id, "config": config}))
    return job


def _job_id(job_id) -> int:
    number = whole_number(job_id, "choose a training job first (its number)")
    if row_id(number, "") is None:
        raise ConciergeError(f"no training job {number}")  # as training.jobs says it for an id it lacks
    return number


def training_job(actor: Actor, job_id) -> dict:
    """One job as the watch panel shows it: status, stage, progress, log tail, and its metric curves.

    Returns:
        `dict`: the job's fields, `curves` (the rows of its run's metrics.jsonl) and `gate` (the verdict
        recorded at the end, if any).
    """
    from training import jobs
    from training.train import METRICS_FILE, read_metrics

    require(actor, "admin")
    job = jobs.get_job(_job_id(job_id))
    metrics = dict(job.metrics or {})
    run_dir = Path(metrics.get("run_dir") or get_settings().var_dir / "runs" / f"job-{job.id}")
    try:
        curves = read_metrics(run_dir / METRICS_FILE)
    except (OSError, ValueError):  # a line half-written by the worker: show what was there last time
        curves = []
    return {"id": job.id, "status": job.status, "stage": job.stage, "progress": job.progress,
            "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at,
            "log_tail": job.log_tail, "error": job.error, "candidate_version": job.candidate_version or "",
            "config": job.config, "metrics": metrics, "gate": metrics.get("gate"), "curves": curves,
            "running": job.status in jobs.ACTIVE}


def cancel_training(actor: Actor, job_id, confirmed: bool = False) -> TrainingJob:
    """Cancel a queued or running job; `confirmed` must be set (the console asks first)."""
    from training import jobs

    require(actor, "admin")
    job_id = _job_id(job_id)
    if not confirmed:
        raise ConciergeError(f"tick the confirmation to cancel job {job_id}")
    job = jobs.cancel(job_id, actor_id=actor.id)
    with session() as s:
        s.add(AuditLog(actor_id=actor.id, action="training_cancelled", detail={"job_id": job_id}))
    return job


def _metric(evaluation: dict, key: str) -> dict | None:
    value = (evaluation.get("metrics") or {}).get(key)
    return value if isinstance(value, dict) else ({"mean": value} if isinstance(value, (int, float)) else None)


def compare_versions(actor: Actor) -> list[dict]:
    """Every model version with its evaluation and probe numbers and the gate's verdict against the active one.

    Returns:
        `list[dict]`: version, status, job_id, n, ndcg@5 (mean, low, high), recall@5, hit@1, the two probe
        scores, and `gate` ("active", "passes", or "refused") with its `reasons`.
    """
    from training.registry import GATE_METRIC, PROBE_KEYS, check_gate

    require(actor, "admin")
    with session() as s:
        versions = s.exec(select(ModelVersion).order_by(ModelVersion.created_at.desc())).all()
    active = next((v for v in versions if v.status == "active"), None)
    rows = []
    for v in versions:
        evaluation, probes = v.evaluation or {}, v.probes or {}
        if active is None:
            gate, reasons = "no active version", []
        elif v.version == active.version:
            gate, reasons = "active", []
        else:
            verdict = check_gate(v, active)
            gate, reasons = ("passes" if verdict.passed else "refused"), verdict.reasons
        rows.append({"version": v.version, "status": v.status, "job_id": v.job_id, "n": evaluation.get("n"),
                     GATE_METRIC: _metric(evaluation, GATE_METRIC), "recall@5": _metric(evaluation, "recall@5"),
                     "hit@1": _metric(evaluation, "hit@1"),
                     **{k: probes.get(k) for k in PROBE_KEYS}, "reasoning": evaluation.get("reasoning"),
                     "gate": gate, "reasons": reasons,
                     "created_at": v.created_at, "promoted_at": v.promoted_at})
    return rows


def _version_name(version) -> str:
    name = version.strip() if isinstance(version, str) else ""
    if not name:
        raise ConciergeError("choose a model version first")
    return name


def promote_version(actor: Actor, version, reason: str):
    """Promote a candidate through the gate against the active version (the reason goes to the audit log).

    Returns:
        `training.registry.GateResult`: `passed`, and the reasons when refused (the active version stays).
    """
    from training import registry

    require(actor, "admin")
    name = _version_name(version)
    reason = _text(reason, MAX_REASON, "a reason for the promotion", required=True)
    return registry.promote(name, reason, actor_id=actor.id)


def rollback_version(actor: Actor, version, reason: str) -> ModelVersion:
    """Make an earlier version active again (no gate: it served before); the reason goes to the audit log."""
    from training import registry

    require(actor, "admin")
    name = _version_name(version)
    reason = _text(reason, MAX_REASON, "a reason for the rollback", required=True)
    return registry.rollback(name, reason, actor_id=actor.id)


def audit_log(actor: Actor, limit: int = 100) -> list[dict]:
    require(actor, "admin")
    with session() as s:
        rows = s.exec(select(AuditLog, Account.username).join(Account, Account.id == AuditLog.actor_id, isouter=True)
                      .order_by(AuditLog.id.desc()).limit(limit)).all()
    return [{"when": a.created_at, "who": who or "system", "action": a.action, "detail": a.detail,
             "reason": a.reason} for a, who in rows]
