"""The security probe's world: one real server over the small bundle, an account per role (two associates, two
clients, an admin, a disabled and a signed-out account), their session cookies, and `Probe`, which sends the
requests, scans every answer for tracebacks, secrets and missing frame headers, and counts what was tried and
what was refused (or handled) as expected.

The counts go to docs/results/security.md only when asked (CONCIERGE_SECURITY_WRITE_DOCS=1); otherwise to a
scratch directory, so that a test run leaves the working tree as it was.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from tests.fixtures.servers import gradio_call, serving, sign_in

ROOT = Path(__file__).resolve().parents[2]
WRITE_DOCS = os.environ.get("CONCIERGE_SECURITY_WRITE_DOCS") == "1"
PASSWORD = "a long password for the probe"
ACCOUNTS = {  # username: (role, client profile)
    "root": ("admin", None), "ann": ("associate", None), "ben": ("associate", None),
    "ada": ("client", "c-1"), "bo": ("client", "c-2"), "dora": ("associate", None), "eve": ("associate", None)}
TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'File "/', ".py\", line", "site-packages/")
AREAS = {  # area: what it probes (the report's first column)
    "sign-in": "wrong and odd credentials, lock-out per (username, address) and per address, open redirects, "
               "forged sign-in posts (no, foreign, forged or expired form token), sign-out",
    "cookie tampering": "forged, re-signed, truncated, expired, disabled and signed-out session cookies on every "
                        "page's API",
    "role × endpoint": "every Gradio endpoint of every page (named, and every fn_index) with each role the page "
                       "refuses, and anonymously",
    "ownership": "allowed roles asking for another client's conversation, shortlist or queue",
    "odd inputs": "every endpoint a role may call, with empty, huge, wrongly typed and out-of-range inputs",
    "chat input": "POST /api/client/ask and the chat with wrong types, sizes, encodings, controls and ids",
    "uploads": "traversal names, zip bombs (size, entries, lying headers), damaged, encrypted and nested "
               "archives, wrong encodings and types, over-size files, rows over the field limits and HTML ids, "
               "server paths in FileData, uploads to pages without a file input",
    "error pages": "unknown paths and endpoints, wrong methods, malformed bodies, server files through "
                   "gradio_api/file=",
}


@dataclass
class Probe:
    """Sends requests as a given account, scans each answer, and keeps the tally."""

    url: str
    cookies: dict[str, str]
    secrets: list[str]
    rows: list[tuple[str, str, bool, str]] = field(default_factory=list)  # area, what, as expected, detail
    leaks: list[tuple[str, str]] = field(default_factory=list)  # what, what was found
    responses: int = 0
    with_headers: int = 0  # plain HTTP answers, whose headers are checked too

    def cookie(self, who: str | dict | None) -> dict:
        if who is None:
            return {}
        if isinstance(who, dict):
            return who  # the cookies themselves
        return {"concierge_session": self.cookies.get(who, who)}  # a known account, or a raw token

    def http(self, method: str, path: str, who: str | None = None, **kw) -> httpx.Response:
        response = httpx.request(method, self.url + path, cookies=self.cookie(who), timeout=60, **kw)
        self.scan(f"{method} {path}", response.text, response.headers)
        return response

    def call(self, page: str, api_name: str, data: list, who: str | None = None):
        """A Gradio endpoint over HTTP: `(status, event, payload)` (see `tests.fixtures.servers.gradio_call`)."""
        status, event, payload = gradio_call(self.url + page, api_name, data, self.cookie(who))
        self.scan(f"{page} {api_name}", payload or "")
        return status, event, payload

    def scan(self, what: str, text: str, headers=None) -> None:
        self.responses += 1
        for marker in TRACEBACK_MARKERS:
            if marker in text:
                self.leaks.append((what, f"traceback ({marker})"))
        for secret in self.secrets:
            if secret and secret in text:
                self.leaks.append((what, "a secret"))
        if headers is not None:
            self.with_headers += 1
            if headers.get("x-frame-options") != "DENY" or "frame-ancestors 'none'" not in headers.get(
                    "content-security-policy", ""):
                self.leaks.append((what, "framable: no X-Frame-Options DENY / frame-ancestors 'none'"))

    def expect(self, area: str, what: str, ok, detail: str = "") -> bool:
        self.rows.append((area, what, bool(ok), str(detail)[:300]))
        return bool(ok)

    def check(self, area: str) -> None:
        """Fail the test if any probe of `area` went otherwise than expected, or anything leaked so far."""
        wrong = [(what, detail) for a, what, ok, detail in self.rows if a == area and not ok]
        assert not wrong, f"{len(wrong)} {area} probe(s) went otherwise than expected: {wrong[:10]}"
        assert not self.leaks, f"answers that leak: {self.leaks[:10]}"

    def report(self, seconds: float, damaged: int, cross_reads: int) -> str:
        tried, fine = Counter(), Counter()
        for area, _, ok, _ in self.rows:
            tried[area] += 1
            fine[area] += ok
        lines = ["# Security probe", "",
                 f"Written by `tests/security/` (`CONCIERGE_SECURITY_WRITE_DOCS=1 pytest tests/security`; a plain "
                 f"run writes to a scratch directory) on {time.strftime('%Y-%m-%d')}: the probes of issue 16 "
                 f"against a live uvicorn server over the small test bundle, sent in {seconds:.0f} s. Each probe "
                 f"is one request or one Gradio call whose answer must be the expected refusal, or a clean "
                 f"message for input that is merely odd; the suite fails otherwise.", "",
                 "| area | what is probed | tried | as expected | otherwise |", "| --- | --- | ---: | ---: | ---: |"]
        for area, what in AREAS.items():
            lines.append(f"| {area} | {what} | {tried[area]} | {fine[area]} | {tried[area] - fine[area]} |")
        total = sum(tried.values())
        lines += [f"| **all** | | **{total}** | **{sum(fine.values())}** | **{total - sum(fine.values())}** |", "",
                  f"Over all {self.responses} answers: {sum('traceback' in k for _, k in self.leaks)} with a "
                  f"traceback, {sum(k == 'a secret' for _, k in self.leaks)} holding a secret (the signing key, a "
                  f"password or a password hash); of the {self.with_headers} plain HTTP answers, "
                  f"{sum('framable' in k for _, k in self.leaks)} without `X-Frame-Options: DENY` and "
                  f"`frame-ancestors 'none'`. {cross_reads} cross-client or cross-role reads; {damaged} probes after "
                  f"which accounts, catalogue versions or feedback had changed although the request was refused.",
                  ""]
        return "\n".join(lines)


def _fake_recommend(seen: list):
    """Stands in for `backend.service.recommend`: what is probed is the edge, not the model."""

    def recommend(client_id, text, conversation_id=None, on_token=None):
        seen.append(text)
        if on_token:
            on_token("thinking")
        fields = dict(shortlist_id=1, conversation_id=conversation_id or 1, client_id=client_id, request=text,
                      items=[], steps=[], query_graph={}, model_version="base", fallback_used=False,
                      nothing_fits=True, message="Nothing fits yet.", timings={}, reasoning={})
        return SimpleNamespace(**fields, to_dict=lambda: dict(fields))

    return recommend


@pytest.fixture(scope="package")
def world(tmp_path_factory):
    """The live server and everything the probes need to know about it."""
    from sqlmodel import select

    from app.auth import LoginLimiter, create_account, secret_key, set_active
    from app.main import create_app
    from backend import settings as settings_module
    from backend.importer import import_bundle
    from backend.store import get_engine, session
    from backend.tables import Account, Client, Conversation, Message, ReasoningStep, Shortlist, ShortlistItem
    from tests.fixtures.small import small_bundle

    var = tmp_path_factory.mktemp("security") / "var"
    patch = pytest.MonkeyPatch()
    patch.setenv("CONCIERGE_VAR_DIR", str(var))
    patch.setenv("CONCIERGE_DATABASE_URL", f"sqlite:///{var / 'concierge.db'}")
    patch.setenv("CONCIERGE_MAX_UPLOAD_MB", "1")  # bombs and over-size files stay small and fast
    settings_module.get_settings.cache_clear()
    get_engine.cache_clear()
    import_bundle(small_bundle(), progress=False)
    for name, (role, client_id) in ACCOUNTS.items():
        create_account(name, role, PASSWORD, client_id=client_id)
    ids = {}
    with session() as s:
        accounts = {a.username: a.id for a in s.exec(select(Account)).all()}
        for client_id, associate in (("c-1", "ann"), ("c-2", "ben")):
            s.get(Client, client_id).associate_id = accounts[associate]
            conversation = Conversation(client_id=client_id, title=f"{client_id}'s private conversation")
            s.add(conversation)
            s.flush()
            shortlist = Shortlist(client_id=client_id, conversation_id=conversation.id,
                                  request=f"PRIVATE{client_id[2:]} a silk scarf", query_graph={})
            s.add(shortlist)
            s.flush()
            s.add(Message(conversation_id=conversation.id, role="user", content=f"PRIVATE{client_id[2:]} a silk scarf"))
            s.add(ShortlistItem(shortlist_id=shortlist.id, item_id="i-scarf", rank=1, justification="fits"))
            s.add(ReasoningStep(shortlist_id=shortlist.id, index=1, text="Silk suits her.", verdict="consistent"))
            ids[client_id] = (conversation.id, shortlist.id)
    seen: list[str] = []
    patch.setattr("backend.service.recommend", _fake_recommend(seen))
    with serving(create_app(limiter=LoginLimiter(5, 300))) as url:
        cookies = {}
        for name in ACCOUNTS:
            response = sign_in(url, name, PASSWORD)
            cookies[name] = response.cookies["concierge_session"]
        set_active("dora", False)
        set_active("dora", True)  # re-enabled: her old cookie must stay dead
        httpx.post(f"{url}/logout", cookies={"concierge_session": cookies["eve"]})
        with session() as s:
            hashes = [a.password_hash for a in s.exec(select(Account)).all()]
        probe = Probe(url, cookies, [secret_key(), PASSWORD, *hashes, "$argon2id$"])
        yield SimpleNamespace(url=url, probe=probe, ids=ids, accounts=accounts, seen=seen, var=var)
    patch.undo()
    settings_module.get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.fixture(scope="package")
def probe(world):
    """The tally; written out when the package's tests are done."""
    started = time.monotonic()
    world.cross_reads, world.damaged = 0, 0
    yield world.probe
    out = ROOT / "docs" / "results" if WRITE_DOCS else Path(os.environ.get("TMPDIR", "/tmp")) / "concierge-security"
    out.mkdir(parents=True, exist_ok=True)
    (out / "security.md").write_text(world.probe.report(time.monotonic() - started, world.damaged, world.cross_reads))
