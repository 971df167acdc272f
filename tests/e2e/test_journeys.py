"""One journey per role in a real browser against a real server (real SmolLM2 for the client's chat).

The client journey also measures, in the browser, the time from pressing Send to the first streamed
token on screen and to the full shortlist of cards, and writes it to docs/results/ui_latency.{json,md}.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone

import pytest
from sqlmodel import select

from backend.store import session
from backend.tables import Feedback, Shortlist, TrainingJob
from tests.e2e.conftest import ARTIFACTS, screenshot, sign_in

pytestmark = pytest.mark.e2e
SEED_REQUEST = ("I need a bag for my summer wedding in Tuscany that can also work for client dinners in Milan this fall. "
                "I prefer Italian craftsmanship and subtle branding.")
FOLLOW_UP = "Something a little less formal, please."

# Installed before pressing Send: the click time, the first streamed token, the first card (browser clock).
WATCH = r"""() => {
  window.__lat = {};
  const send = document.querySelector('#send');
  send.addEventListener('click', () => { window.__lat = {t0: performance.now()}; }, {capture: true});
  const seen = () => {
    const lat = window.__lat;
    if (lat.t0 === undefined) return;
    const status = document.querySelector('#chat-status');
    if (lat.first === undefined && status && status.innerText.includes('Thinking')) lat.first = performance.now();
    if (lat.cards === undefined && document.querySelector('#cards .card:not([data-old])')) lat.cards = performance.now();
    const number = status && status.innerText.match(/Shortlist #(\d+)/);
    if (lat.done === undefined && number && number[1] !== window.__prev) lat.done = performance.now();
  };
  new MutationObserver(seen).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def ask(page, text: str) -> dict:
    """Type a request, press Send, wait for the answer; returns the browser-measured latencies in ms
    (first token, answer complete, and cards shown when the answer has cards)."""
    page.evaluate("() => { document.querySelectorAll('#cards .card').forEach(c => c.setAttribute('data-old', '1'));"
                  " const m = document.querySelector('#chat-status').innerText.match(/Shortlist #(\\d+)/);"
                  " window.__prev = m ? m[1] : null; }")
    page.fill("#ask textarea", text)
    page.click("#send")
    try:
        page.wait_for_function("window.__lat && window.__lat.done !== undefined", timeout=150_000)
        page.wait_for_timeout(300)  # the cards arrive in the same update as the status
    except Exception:
        screenshot(page, "failed-ask")
        raise
    lat = page.evaluate("window.__lat")
    return {"first_token_ms": round(lat["first"] - lat["t0"]) if "first" in lat else None,
            "answer_ms": round(lat["done"] - lat["t0"]),
            "shortlist_ms": round(lat["cards"] - lat["t0"]) if "cards" in lat else None}


def test_client_asks_the_seed_request_and_gets_a_shortlist(server, page):
    base = server["url"]
    page.goto(f"{base}/client/")
    assert "/login" in page.url
    screenshot(page, "login")
    page.fill("#username", "client")
    page.fill("#password", "not the password")
    page.click("#sign-in")
    assert "Wrong username or password" in page.inner_text("#login-error")
    sign_in(page, base, "client", "/client/")
    page.evaluate(WATCH)

    page.click("#send")  # empty: a clear message, nothing stored
    page.wait_for_function("document.querySelector('#chat-status').innerText.includes('empty')")
    with session() as s:
        assert s.exec(select(Shortlist)).first() is None

    cold = ask(page, SEED_REQUEST)
    assert cold["shortlist_ms"] is not None
    cards = page.locator("#cards .card")
    assert 3 <= cards.count() <= 5
    first = cards.first.inner_text()
    assert "€" in first and first.strip()  # the demo world is priced in EUR
    assert "Shortlist #" in page.inner_text("#chat-status")
    page.click("#why-toggle button, #why-toggle .label-wrap")
    page.wait_for_selector("#why .step, #why p")
    screenshot(page, "client-chat")
    with session() as s:
        stored = s.exec(select(Shortlist)).all()
    assert len(stored) == 1 and stored[0].client_id == server["client_id"]
    assert stored[0].query_graph["categories"] == ["category_group=bags"]

    warm = ask(page, FOLLOW_UP)  # a follow-up refines the same conversation
    with session() as s:
        stored = s.exec(select(Shortlist).order_by(Shortlist.id)).all()
    assert len(stored) == 2 and stored[1].conversation_id == stored[0].conversation_id
    assert "then: " + FOLLOW_UP in stored[1].query_graph["text"]  # refined, not a new request
    assert page.locator("#conversations label").count() == 1

    page.click("#new-conversation")  # the same request again, in a new conversation, with everything loaded
    page.wait_for_function("!document.querySelector('#cards .card')")
    again = ask(page, SEED_REQUEST)
    assert again["shortlist_ms"] is not None
    with session() as s:
        stored = s.exec(select(Shortlist).order_by(Shortlist.id)).all()
    assert len(stored) == 3 and stored[2].conversation_id != stored[0].conversation_id
    page.wait_for_function("document.querySelectorAll('#conversations label').length === 2")
    write_latency([("first request (cold: model and catalogue loaded on demand)", SEED_REQUEST, cold),
                   ("follow-up in the same conversation", FOLLOW_UP, warm),
                   ("same request, new conversation (warm)", SEED_REQUEST, again)], stored)


def write_latency(runs: list[tuple[str, str, dict]], stored: list) -> None:
    from backend.settings import get_settings

    out = ARTIFACTS / "results"
    out.mkdir(parents=True, exist_ok=True)
    server_side = [{k: s.timings.get(k) for k in ("first_token_ms", "llm_ms", "total_ms", "llm_tokens_per_s",
                                                   "llm_completion_tokens")} for s in stored]
    data = {
        "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "what": "browser clock, from the click on Send to the first streamed token visible in the chat, to the "
                "answer complete, and to the first shortlist card visible (tests/e2e/test_journeys.py)",
        "machine": {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
                    "python": platform.python_version()},
        "model": "SmolLM2-135M-Instruct with the shipped adapter (models/reasoner-default), local transformers "
                 "backend, CPU",
        "max_new_tokens": get_settings().max_new_tokens,
        "world": "small demo world (160 items, 30 clients)",
        "requests": [{"kind": kind, "request": text, **lat, "nothing_fits": row.nothing_fits, "server": server}
                     for (kind, text, lat), row, server in zip(runs, stored, server_side)],
    }
    (out / "ui_latency.json").write_text(json.dumps(data, indent=2) + "\n")
    def cell(value) -> str:
        return "—" if value is None else f"{value:,.0f}"

    rows = "\n".join(f"| {r['kind']} | {cell(r['first_token_ms'])} | {cell(r['answer_ms'])} | "
                     f"{cell(r['shortlist_ms'])} | {cell(r['server'].get('first_token_ms'))} | "
                     f"{cell(r['server'].get('total_ms'))} |" for r in data["requests"])
    (out / "ui_latency.md").write_text(
        "# UI latency: Send → first token → shortlist\n\n"
        f"Measured {data['measured']} by `tests/e2e/test_journeys.py` in headless Chromium against a real server "
        f"({data['model']}, max_new_tokens {data['max_new_tokens']}, {data['world']}) on {data['machine']['cpus']} "
        f"CPU cores (1-minute load average {data['machine']['load_avg_1m']}; the machine is shared, so treat these "
        "as one sample, not a benchmark).\n\n"
        "| request | browser: first token (ms) | browser: answer complete (ms) | browser: cards shown (ms) | "
        "server: first token (ms) | server: total (ms) |\n| --- | ---: | ---: | ---: | ---: | ---: |\n" + rows + "\n\n"
        "An answer for which nothing in the small catalogue fits shows a message instead of cards and runs no "
        "model (no first-token or cards time).\n\n"
        "Server columns come from the stored shortlist's timings (first token is measured from the start of "
        "generation; total from the start of `recommend`).\n")


@pytest.fixture
def review_shortlist(server, monkeypatch):
    """A shortlist for one of the associate's clients, made by the real serving path with the LLM's text fixed
    (so it surely has steps to flag)."""
    from backend import service

    def generate(model, messages, settings, on_token, timings):
        handles = [line.split(":")[0] for line in messages[-1].content.splitlines()
                   if len(line.split(":")[0]) == 2 and line[:2].strip()]
        return service.Generation(f"1. {handles[0]} is Italian and discreet, right for Tuscany.\n2. {handles[1]} "
                                  f"also fits Milan dinners.\nANSWER: {handles[0]}, {handles[1]}", "answer")

    monkeypatch.setattr(service, "_generate", generate)
    client_id = server["world"].clients[1]["client_id"]
    return service.recommend(client_id, SEED_REQUEST, seed=1)


def test_associate_rejects_an_item_and_flags_a_step(server, page, review_shortlist):
    base = server["url"]
    sign_in(page, base, "associate", "/associate/")
    shortlist_id = review_shortlist.shortlist_id
    page.wait_for_function(f"document.querySelector('#queue').innerText.includes('{review_shortlist.client_id}')")
    page.fill("#pick-shortlist input", str(shortlist_id))
    page.click("#open-shortlist")
    page.wait_for_selector("#shortlist .card")
    page.wait_for_selector("#pref-graph img")
    assert "Preference graph" in page.inner_text("body")
    rejected = review_shortlist.items[1]["item_id"]
    page.locator("#fb-item label").nth(1).click()
    page.locator("#fb-verdict label", has_text="reject").click()
    page.fill("#fb-reason textarea", "too structured for a garden wedding")
    page.click("#fb-save")
    page.wait_for_function("document.querySelector('#review-status').innerText.includes('Saved: reject')")
    page.locator("#fb-step label").first.click()
    page.locator("#fb-flag label", has_text="irrelevant").click()
    page.fill("#fb-step-reason textarea", "the client never mentioned Milan")
    page.click("#fb-flag-save")
    page.wait_for_function("document.querySelector('#review-status').innerText.includes('flagged')")
    assert "reject" in page.inner_text("#feedback")
    screenshot(page, "associate-review")
    with session() as s:
        rows = s.exec(select(Feedback).where(Feedback.shortlist_id == shortlist_id).order_by(Feedback.id)).all()
    assert [(f.kind, f.item_id, f.step_index) for f in rows] == [("reject", rejected, None),
                                                                ("flag_irrelevant", None, 1)]
    assert rows[0].reason == "too structured for a garden wedding"

    page.goto(f"{base}/admin/")  # an associate is turned away from the admin console
    assert "This page is for admins" in page.inner_text("#denied")


def test_admin_uploads_a_small_catalogue_and_sees_its_report(server, page, tmp_path):
    base = server["url"]
    upload = tmp_path / "boutique.csv"
    upload.write_text("Name,Maker,Price,Notes\nLina silk twill scarf,Aurel,420,lemons\n"
                      "Campo suede tote,Aurel,2400,\n,Nobody,12,no title\n")
    sign_in(page, base, "admin", "/admin/")
    page.set_input_files("#upload input[type=file]", str(upload))
    page.wait_for_selector("#upload :text('boutique.csv')")
    page.fill("#mapping textarea", "title=Name,brand=Maker,price=Price,description=Notes")
    page.click("#import-button")
    page.wait_for_function("document.querySelector('#import-report textarea').value.includes('Validation report')",
                           timeout=120_000)
    report = page.input_value("#import-report textarea")
    assert "boutique.csv: 2 good, 1 bad" in report and "boutique.csv:4" in report
    screenshot(page, "admin-import")
    page.get_by_role("tab", name="Statistics").click()
    page.wait_for_function("document.querySelector('#stats').innerText.includes('boutique')")
    screenshot(page, "admin-statistics")
    page.get_by_role("tab", name="Accounts").click()
    page.wait_for_function("document.querySelector('#accounts').innerText.includes('associate')")
    screenshot(page, "admin-accounts")
    page.get_by_role("tab", name="Training").click()
    page.click("#train-ranker")  # retrain the ranker on the associates' verdicts (training/ranker_job.py)
    page.wait_for_function("/ranker job #\\d+|no associate feedback/.test(document.querySelector('#train-status')"
                           ".innerText)")
    status = page.inner_text("#train-status")
    with session() as s:
        unused = s.exec(select(Feedback).where(Feedback.used_by_job_id.is_(None))).all()
        queued = s.exec(select(TrainingJob).order_by(TrainingJob.id.desc())).first()
    if "Queued ranker job" in status:  # the associate journey's verdicts were there to learn from
        assert queued is not None and queued.config.get("kind") == "ranker" and f"#{queued.id}" in status
    else:
        assert not unused and "Nothing was queued" in status
    assert "Traceback" not in page.inner_text("body")
