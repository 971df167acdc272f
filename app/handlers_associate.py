"""What the associate's review screen can do: their clients, the review queue, a client's profile,
and feedback on a shortlist (item verdicts, step flags, reorders, replacements, notes)."""

from __future__ import annotations

import hashlib

from sqlmodel import func, select

from app.auth import Actor, require
from app.handlers_common import (MAX_NOTE, MAX_REASON, catalogue_items, check_client_access, checked_text,
                                 shortlist_for, shortlist_view, whole_number)
from backend.store import session
from backend.tables import Client, ClientNote, Feedback, Interaction, ReasoningStep, Shortlist, ShortlistItem
from catalog.errors import ConciergeError

ITEM_VERDICTS = ("accept", "reject")
STEP_FLAGS = ("flag_wrong", "flag_irrelevant")


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
    items = catalogue_items()
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
    from backend.graphs import as_graph
    from backend.service import client_context, live_catalogue

    check_client_access(actor, client_id)
    _, edges, *_ = client_context(client_id, live_catalogue())
    return as_graph(client_id, edges)


def review_shortlist(actor: Actor, shortlist_id) -> dict:
    """Everything a reviewer needs about one shortlist."""
    require(actor, "associate", "admin")
    return shortlist_view(shortlist_for(actor, shortlist_id))


def _add_feedback(actor: Actor, **fields) -> Feedback:
    with session() as s:
        row = Feedback(author_id=actor.id, **fields)
        s.add(row)
    return row


def judge_item(actor: Actor, shortlist_id, item_id: str, verdict: str, reason: str = "") -> Feedback:
    """Accept or reject one item of a shortlist; a rejection needs a reason."""
    require(actor, "associate", "admin")
    shortlist = shortlist_for(actor, shortlist_id)
    if verdict not in ITEM_VERDICTS:
        raise ConciergeError(f"choose accept or reject, not {verdict!r}")
    reason = checked_text(reason, MAX_REASON, "a reason", required=verdict == "reject")
    _item_in(shortlist, item_id)
    return _add_feedback(actor, shortlist_id=shortlist.id, item_id=item_id, kind=verdict, reason=reason)


def flag_step(actor: Actor, shortlist_id, step_index, kind: str, reason: str = "") -> Feedback:
    """Flag one reasoning step as wrong or irrelevant."""
    require(actor, "associate", "admin")
    shortlist = shortlist_for(actor, shortlist_id)
    kind = {"wrong": "flag_wrong", "irrelevant": "flag_irrelevant"}.get(kind, kind)
    if kind not in STEP_FLAGS:
        raise ConciergeError("flag a step as wrong or as irrelevant")
    step_index = whole_number(step_index, "choose a step to flag")
    with session() as s:
        step = s.exec(select(ReasoningStep).where(ReasoningStep.shortlist_id == shortlist.id,
                                                  ReasoningStep.index == step_index)).first()
    if step is None:
        raise ConciergeError(f"shortlist #{shortlist.id} has no step {step_index}")
    reason = checked_text(reason, MAX_REASON, "the reason")
    return _add_feedback(actor, shortlist_id=shortlist.id, step_index=step_index, kind=kind, reason=reason)


def reorder_item(actor: Actor, shortlist_id, item_id: str, new_rank, reason: str = "") -> Feedback:
    """Say where an item should be in the list (1 = first)."""
    require(actor, "associate", "admin")
    shortlist = shortlist_for(actor, shortlist_id)
    n = len(_item_in(shortlist, item_id))
    new_rank = whole_number(new_rank, "give the new position as a whole number")
    if not 1 <= new_rank <= n:
        raise ConciergeError(f"the new position must be between 1 and {n}")
    reason = checked_text(reason, MAX_REASON, "the reason")
    return _add_feedback(actor, shortlist_id=shortlist.id, item_id=item_id, kind="reorder", new_rank=new_rank,
                         reason=reason)


def replace_item(actor: Actor, shortlist_id, item_id: str, replacement_item_id: str, reason: str = "") -> Feedback:
    """Say which catalogue item should have been shown instead of `item_id`."""
    require(actor, "associate", "admin")
    shortlist = shortlist_for(actor, shortlist_id)
    _item_in(shortlist, item_id)
    replacement_item_id = (replacement_item_id or "").strip()
    if replacement_item_id not in catalogue_items():
        raise ConciergeError(f"{replacement_item_id!r} is not in the catalogue; search the catalogue for its id")
    reason = checked_text(reason, MAX_REASON, "a reason", required=True)
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
    require(actor, "associate", "admin")
    check_client_access(actor, client_id)
    text = checked_text(text, MAX_NOTE, "the note", required=True)
    shortlist = shortlist_for(actor, shortlist_id) if shortlist_id not in (None, "") else None
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

