"""What the client's chat can do: ask for a shortlist, list and reopen their own conversations."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import select

from app.auth import Actor, require
from app.handlers_common import clean_text, conversation_for, shortlist_view
from backend.settings import get_settings
from backend.store import session
from backend.tables import Conversation, Message, Shortlist
from catalog.errors import ConciergeError


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
    conversation = conversation_for(actor, conversation_id)
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
        conversation_id = conversation_for(actor, conversation_id).id
    else:
        conversation_id = None
    return recommend(actor.client_id, text, conversation_id=conversation_id, on_token=on_token)

