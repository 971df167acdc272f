"""The web app: a FastAPI root with a health check and the Gradio catalogue page.

The login, the chat and the consoles per role come later (issue 6); this first page shows the live
catalogue and searches it.
"""

from __future__ import annotations

import logging

import gradio as gr
from fastapi import FastAPI

from backend.catalogue import GROUPS, catalogue_stats, search_catalogue
from catalog.errors import ConciergeError

log = logging.getLogger(__name__)
COLUMNS = ["item_id", "title", "brand", "category", "price", "score"]


def stats_markdown() -> str:
    try:
        stats = catalogue_stats()
    except Exception:  # a broken store must not break the page
        log.exception("catalogue statistics failed")
        return "The catalogue could not be read; see the server log."
    if not stats["items"]:
        return "The catalogue is empty. Run `concierge seed-demo` or `concierge import PATH`."
    groups = ", ".join(f"{g} {n}" for g, n in stats["per_group"].items())
    return (f"**{stats['name']}** (version {stats['version']}, imported {stats['imported']}): "
            f"{stats['items']} items from {stats['houses']} houses, EUR {stats['price_min']:,.0f} – "
            f"{stats['price_max']:,.0f}.  \n{groups}")


def on_search(text: str, category: str, max_price):
    """Search handler: a table of hits and a status line. Errors become messages, never tracebacks."""
    try:
        price = float(max_price) if max_price not in (None, "") else None
        rows = search_catalogue(text, k=20, category=category or None, max_price=price)
    except ConciergeError as exc:
        return [], f"⚠️ {exc}"
    except Exception:
        log.exception("search failed")
        return [], "⚠️ The search failed on our side; please try again."
    if not rows:
        return [], "Nothing in the catalogue matches these filters."
    return [[r[c] for c in COLUMNS] for r in rows], f"{len(rows)} items, most similar first."


def build_catalogue_page() -> gr.Blocks:
    with gr.Blocks(title="Concierge — catalogue") as page:
        gr.Markdown("# Concierge — catalogue")
        stats = gr.Markdown()
        with gr.Row():
            text = gr.Textbox(label="Search the catalogue", placeholder="a light silk scarf for a summer wedding",
                              scale=4, elem_id="search-text")
            category = gr.Dropdown(choices=[""] + list(GROUPS), value="", label="Category", scale=1)
            max_price = gr.Number(label="Max price (EUR)", value=None, minimum=0, scale=1)
        button = gr.Button("Search", variant="primary", elem_id="search-button")
        status = gr.Markdown(elem_id="search-status")
        table = gr.Dataframe(headers=COLUMNS, interactive=False, elem_id="search-results")
        button.click(on_search, [text, category, max_price], [table, status])
        text.submit(on_search, [text, category, max_price], [table, status])
        page.load(stats_markdown, None, stats)
    return page


def create_app() -> FastAPI:
    api = FastAPI(title="Concierge")

    @api.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    return gr.mount_gradio_app(api, build_catalogue_page(), path="/")
