"""What the three roles' handlers share: access checks, ids and text as forms send them, shortlist views.

The Gradio UIs are thin wrappers over the handlers (`app/handlers_client.py`,
`app/handlers_associate.py`, `app/handlers_admin.py`): plain functions of the signed-in `Actor`.
Every handler checks the role *and* the ownership of the data it touches itself, because Gradio
handlers are reachable through the API as well as the page. A refusal is an `AccessDenied`; a
mistake the user can fix is a `ConciergeError` raised before anything is stored.
"""

from __future__ import annotations

import re

from sqlmodel import select

from app.auth import AccessDenied, Actor, require
from backend.store import session
from backend.tables import Client, Conversation, Feedback, ReasoningStep, Shortlist, ShortlistItem
from catalog.errors import ConciergeError

MAX_REASON = 1000
MAX_NOTE = 2000


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


def shortlist_for(actor: Actor, shortlist_id) -> Shortlist:
    """The shortlist with id `shortlist_id`, when `actor` may see its client (else `AccessDenied`)."""
    return _owned_row(actor, Shortlist, shortlist_id, "shortlist", "shortlist #{}")


def conversation_for(actor: Actor, conversation_id) -> Conversation:
    """The conversation with id `conversation_id`, when `actor` may see its client (else `AccessDenied`)."""
    return _owned_row(actor, Conversation, conversation_id, "conversation", "conversation {}")


def catalogue_items() -> dict[str, dict]:
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


def checked_text(value: str | None, limit: int, what: str, required: bool = False) -> str:
    """A reason or a note as it will be stored: text, cleaned, stripped, at most `limit` characters.

    Raises:
        `ConciergeError`: not text, longer than `limit`, or empty when `required` ("please give {what}").
    """
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
    catalogue = catalogue_items()
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

