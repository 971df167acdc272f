"""The client's chat: streamed reasoning, the shortlist as cards, "why these?", past conversations."""

from __future__ import annotations

import queue
import threading
import time

import gradio as gr

from app import handlers_client
from app.ui_common import (actor_from, attempt, cards_html, header, md_text, message_for, reasoning_note,
                           steps_html)
from backend.settings import get_settings

STREAMING = "Thinking…"  # the status line while the model's reasoning streams in
EXAMPLE = ("I need a bag for my summer wedding in Tuscany that can also work for client dinners in Milan this fall. "
           "I prefer Italian craftsmanship and subtle branding.")


def _conversation_choices(actor) -> list[tuple[str, int]]:
    rows, _ = attempt(handlers_client.client_conversations, actor)
    return [(f"{r['created_at']:%d %b %H:%M} · {r['title'][:60]}", r["conversation_id"]) for r in rows or []]


def _why_html(view: dict) -> str:
    return steps_html(view.get("steps", []), reasoning_note(view.get("reasoning"), view.get("fallback_used", False)))


def thought(text: str, done: bool, reasoning: dict | None = None) -> dict:
    """The model's reasoning as Gradio's collapsible thought message: pending while it streams, done after.

    The text is the model's (which may echo the client's words), so it is shown as literal text."""
    title = "Thinking…" if not done else "How I chose"
    if done and (reasoning or {}).get("ended") == "degenerate":
        title = "How I chose (stopped: it went in circles)"
    lines = "\n\n".join(md_text(line) for line in text.splitlines() if line.strip())
    return {"role": "assistant", "content": lines or "…",
            "metadata": {"title": title, "status": "done" if done else "pending"}}


def on_load(request: gr.Request):
    """Header and the list of past conversations."""
    actor, error = attempt(actor_from, request)
    if error:
        return error, gr.update(choices=[], value=None)
    return header(actor, "Concierge"), gr.update(choices=_conversation_choices(actor), value=None)


def on_open(conversation_id, request: gr.Request):
    """Show a past conversation: its messages, and the cards and reasoning of its latest shortlist."""
    if conversation_id in (None, ""):
        return [], "", "", None, ""
    actor, error = attempt(actor_from, request)
    data, error = (None, error) if error else attempt(handlers_client.client_conversation, actor, conversation_id)
    if error:
        return [], "", "", None, error
    history = [{"role": m["role"], "content": md_text(m["content"]) if m["role"] == "user" else m["content"]}
               for m in data["messages"]]
    last = data["shortlists"][-1] if data["shortlists"] else None
    return (history, cards_html(last["items"]) if last else "", _why_html(last) if last else "",
            data["conversation_id"], "")


def on_new():
    return [], "", "", None, "", gr.update(value=None)


def on_ask(text, history, conversation_id, request: gr.Request):
    """Stream the model's reasoning into the chat, then show the shortlist.

    Yields:
        (chat, textbox, status, cards, why, conversation id, conversation list)
    """
    history = list(history or [])
    keep = gr.update()
    actor, error = attempt(actor_from, request)
    if not error:
        text, error = attempt(handlers_client.request_text, text)  # nothing is stored for a bad request
    if error:
        yield history, gr.update(), error, keep, keep, conversation_id, keep
        return
    history = history + [{"role": "user", "content": md_text(text)}, thought("", done=False)]
    yield history, "", "", keep, keep, conversation_id, keep

    tokens: queue.Queue = queue.Queue()
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["result"] = handlers_client.client_ask(actor, text, conversation_id, on_token=tokens.put)
        except Exception as exc:  # noqa: BLE001 - shown as a message below
            outcome["error"] = message_for(exc)
        finally:
            tokens.put(None)

    threading.Thread(target=work, daemon=True, name="concierge-ask").start()
    streamed, done, last_yield = "", False, 0.0
    while not done:
        piece = tokens.get()
        pending = [piece]
        while not tokens.empty():  # drain what is already there: one update per batch of tokens
            pending.append(tokens.get_nowait())
        done = None in pending
        streamed += "".join(p for p in pending if p)
        if streamed and (done or time.monotonic() - last_yield > 0.05):
            history[-1] = thought(streamed, done=False)
            last_yield = time.monotonic()
            yield history, "", STREAMING, keep, keep, conversation_id, keep
    if "error" in outcome:
        history = history[:-2]
        yield history, text, outcome["error"], keep, keep, conversation_id, keep
        return
    result = outcome["result"]
    answer = {"role": "assistant", "content": result.message}
    history[-1:] = [thought(streamed, True, result.reasoning), answer] if streamed else [answer]
    view = {"steps": result.steps, "fallback_used": result.fallback_used, "reasoning": result.reasoning}
    items = [{**item, "brand": item.get("brand") or ""} for item in result.items]
    choices = _conversation_choices(actor)
    status = f"Shortlist #{result.shortlist_id} · " + (f"{len(items)} pieces" if items else "nothing fits yet")
    yield (history, "", status, cards_html(items),
           _why_html(view), result.conversation_id, gr.update(choices=choices, value=result.conversation_id))


def build_client_ui() -> gr.Blocks:
    with gr.Blocks(title="Concierge — your shortlist") as page:
        top = gr.Markdown(elem_id="header")
        conversation = gr.State(None)
        with gr.Row():
            with gr.Column(scale=1, min_width=220):
                past = gr.Radio(label="Your conversations", choices=[], elem_id="conversations")
                new = gr.Button("New conversation", elem_id="new-conversation")
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Concierge", elem_id="chat", height=360)
                with gr.Row():
                    ask = gr.Textbox(label="Your request (or a follow-up: “less formal”, “in black”, “cheaper”)",
                                     placeholder=EXAMPLE, lines=2, scale=5, elem_id="ask")
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
                status = gr.Markdown(elem_id="chat-status")
                cards = gr.HTML(elem_id="cards")
                with gr.Accordion("Why these?", open=False, elem_id="why-toggle"):
                    why = gr.HTML(elem_id="why")
        outputs = [chat, ask, status, cards, why, conversation, past]
        # Shortlists queue in Gradio's queue, a few at a time (the model generates one at a time anyway)
        send.click(on_ask, [ask, chat, conversation], outputs, api_name="ask",
                   concurrency_limit=get_settings().shortlists_at_once,
                   concurrency_id="shortlist")
        ask.submit(on_ask, [ask, chat, conversation], outputs, api_name=False, concurrency_id="shortlist")
        past.input(on_open, [past], [chat, cards, why, conversation, status], api_name="open_conversation")
        new.click(on_new, None, [chat, cards, why, conversation, status, past], api_name=False)
        page.load(on_load, None, [top, past], api_name=False)
    return page
