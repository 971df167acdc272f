"""What the three Gradio UIs share: who is asking, errors as messages, small HTML renderers."""

from __future__ import annotations

import html
import logging
import string
from collections.abc import Callable

import gradio as gr

from app.auth import COOKIE, Actor, read_session
from catalog.errors import ConciergeError
from catalog.prices import format_price

log = logging.getLogger(__name__)
CSS = """
.cards {display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 12px;}
.card {border: 1px solid #d9d4c7; border-radius: 10px; padding: 12px 14px; background: #fffdf8;}
.card h4 {margin: 0 0 4px 0; font-size: 1.02em;}
.card .house {color: #6d5d3d; font-variant: small-caps; letter-spacing: .04em;}
.card .price {float: right; font-weight: 600;}
.card ul {margin: 6px 0; padding-left: 18px; font-size: .9em; color: #444;}
.card .why {font-style: italic; font-size: .92em; color: #333;}
.step {padding: 6px 8px; border-left: 4px solid #bbb; margin: 6px 0; background: #fafafa;}
.step.consistent {border-color: #2e7d32;} .step.inconsistent {border-color: #c62828;}
.verdict {font-weight: 600; font-size: .85em; margin-right: 6px;}
.problems {color: #c62828; font-size: .88em;}
"""
VERDICTS = {"consistent": "✓ consistent", "inconsistent": "✗ inconsistent", "unchecked": "? unchecked"}
ATTRIBUTE_KEYS = ("material", "colour", "origin", "branding", "occasion", "season")


def actor_from(request: gr.Request | None) -> Actor:
    """The signed-in account behind a Gradio call, from its session cookie (raises `NotSignedIn`)."""
    token = None
    if request is not None:
        raw = getattr(request, "request", None)
        if raw is not None:
            token = raw.cookies.get(COOKIE)
        else:
            token = (request.kwargs.get("cookies") or {}).get(COOKIE)
    return read_session(token)


def message_for(exc: BaseException) -> str:
    """A user-facing message: the project error's text, or a generic line (the details go to the log)."""
    if isinstance(exc, ConciergeError):
        return f"⚠️ {exc}"
    log.exception("handler failed", exc_info=exc)
    return "⚠️ Something went wrong on our side; please try again. (The details are in the server log.)"


def attempt(fn: Callable, *args, **kwargs):
    """`(value, None)` or `(None, message)`: never raises, never shows a traceback."""
    try:
        return fn(*args, **kwargs), None
    except Exception as exc:  # noqa: BLE001 - every error becomes a message
        return None, message_for(exc)


def esc(value) -> str:
    """`value` as literal text inside HTML (`gr.HTML`)."""
    return html.escape(str(value if value is not None else ""))


# Every ASCII punctuation mark may be backslash-escaped in (GitHub-flavoured) Markdown; &, < and > become entities.
_MARKDOWN_ESCAPES = {c: "\\" + c for c in string.punctuation} | {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def md_text(value) -> str:
    """`value` as literal text inside Markdown (`gr.Markdown`, chat messages): no link, image, emphasis, heading,
    list or HTML comes out of what a person typed. Runs of white space (line breaks too) become one space."""
    text = " ".join(str(value if value is not None else "").split())
    return "".join(_MARKDOWN_ESCAPES.get(c, c) for c in text)


def reasoning_note(reasoning: dict | None, fallback_used: bool) -> str:
    """How the model's answer came about, in one plain sentence ("" when it simply answered)."""
    reasoning = reasoning or {}
    notes = []
    if reasoning.get("ended") == "degenerate":
        notes.append(f"The model's text was stopped because it went in circles ({reasoning.get('problem')}).")
    elif reasoning.get("ended") == "limit":
        notes.append("The model's text reached its length limit.")
    if reasoning.get("answer") == "forced":
        notes.append("Its picks were read from its own scores of each candidate, not from a written answer.")
    elif fallback_used:
        notes.append("The model's own ranking could not be read, so the list follows our catalogue ranking.")
    fusion = reasoning.get("fusion") or {}
    if not fallback_used and fusion.get("source") == "untuned":
        notes.append("This model was not tuned on this catalogue, so the list follows our catalogue ranking; "
                     "the model's reasoning is shown as it wrote it.")
    return " ".join(notes)


def price_text(price, currency: str | None = None) -> str:
    """A price as the pages show it, in `currency` (the item's) or else the live catalogue's ("€1,250")."""
    if not currency and price not in (None, ""):
        from backend.served import live_currency

        currency = live_currency()
    return format_price(price, currency)


def attribute_text(value) -> str:
    """An attribute value as a page shows it: true and false as "yes" and "no", anything else as written."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def price_range(stats: dict) -> str:
    """The catalogue's cheapest and dearest price in its currency ("€95 – €7,800"), from `catalogue_stats`."""
    if stats.get("price_min") is None:
        return "no prices"
    currency = stats.get("currency")
    return f"{format_price(stats['price_min'], currency)} – {format_price(stats['price_max'], currency)}"


def cards_html(items: list[dict]) -> str:
    """The shortlist as cards: name, house, price, key attributes, justification."""
    if not items:
        return ""
    cards = []
    for item in items:
        attrs = item.get("attributes") or {}
        facts = []
        for key in ATTRIBUTE_KEYS:
            value = attrs.get(key)
            if value:
                values = value if isinstance(value, list) else [value]
                facts.append(f"<li>{esc(key)}: {esc(', '.join(map(attribute_text, values)))}</li>")
        facts += [f"<li>{esc(str(key).replace('_', ' '))}: yes</li>" for key, value in attrs.items() if value is True]
        cards.append(
            f'<div class="card" data-item="{esc(item["item_id"])}"><span class="price">'
            f'{esc(price_text(item.get("price"), item.get("currency")))}'
            f'</span><div class="house">{esc(item.get("brand") or "")}</div><h4>{esc(item.get("rank", ""))}. '
            f'{esc(item.get("title"))}</h4><ul>{"".join(facts[:5])}</ul>'
            f'<div class="why">{esc(item.get("justification", ""))}</div></div>')
    return f'<div class="cards">{"".join(cards)}</div>'


def steps_html(steps: list[dict], note: str = "") -> str:
    """The reasoning steps, each with the verifier's verdict and its problems."""
    if not steps:
        return f"<p>No reasoning steps were recorded for this answer.{esc(note)}</p>"
    parts = [f"<p>{esc(note)}</p>"] if note else []
    for step in steps:
        verdict = step.get("verdict", "unchecked")
        problems = step.get("problems") or []
        extra = f'<div class="problems">{esc("; ".join(problems))}</div>' if problems else ""
        parts.append(f'<div class="step {esc(verdict)}"><span class="verdict">{esc(VERDICTS.get(verdict, verdict))}'
                     f'</span>{esc(step["index"])}. {esc(step["text"])}{extra}</div>')
    return "".join(parts)


def header(actor: Actor, title: str) -> str:
    links = {"client": "", "associate": " · [Review queue](/associate/)", "admin":
             " · [Review queue](/associate/) · [Admin](/admin/)"}[actor.role]
    return (f"## {title}\nSigned in as **{md_text(actor.username)}** ({actor.role}){links} · "
            f"[Catalogue](/catalogue/) · [Sign out](/logout)")
