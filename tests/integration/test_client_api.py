"""POST /api/client/ask on a real uvicorn server: clients only, their own conversations, checked input,
and 503 + Retry-After (not an error) when the shortlists' queue is full. The model is replaced by a stub:
what is tested is the endpoint and its queue, not the shortlist (tests/integration/test_service.py)."""

import threading
import time

import httpx
import pytest
import uvicorn
from sqlmodel import select

from app.admission import Admission
from app.auth import COOKIE, create_account
from app.main import create_app
from backend.service import ShortlistResult
from backend.store import session
from backend.tables import Client, Conversation
from tests.fixtures.servers import free_port, sign_in

pytestmark = pytest.mark.integration
PASSWORD = "a long password"


@pytest.fixture
def server(settings, monkeypatch):
    with session() as s:
        s.add(Client(client_id="c-1", name="Ada"))
        s.add(Client(client_id="c-2", name="Bo"))
        s.flush()
        s.add(Conversation(client_id="c-2", title="Bo's"))
    for name, role, client in (("ada", "client", "c-1"), ("ann", "associate", None)):
        create_account(name, role, PASSWORD, client_id=client)
    release, calls = threading.Event(), []

    def fake_recommend(client_id, text, conversation_id=None, on_token=None):
        calls.append((client_id, text, conversation_id))
        release.wait(10)
        return ShortlistResult(7, conversation_id or 1, client_id, text, [{"item_id": "i-tote", "rank": 1}], [],
                               {}, "base", False, False, "Here is what I would suggest.", {"total_ms": 1.0}, "raw")

    monkeypatch.setattr("backend.service.recommend", fake_recommend)
    admission = Admission(limit=1, max_waiting=1, max_wait_s=30)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(admission=admission), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.1)
    url = f"http://127.0.0.1:{port}"
    yield {"url": url, "release": release, "calls": calls, "admission": admission}
    release.set()
    srv.should_exit = True
    thread.join(timeout=10)


def cookie(url: str, username: str) -> dict:
    response = sign_in(url, username, PASSWORD)
    return {COOKIE: response.cookies[COOKIE]}


def test_the_json_endpoint_is_for_clients_and_checks_what_it_is_sent(server):
    url, ask = server["url"], f"{server['url']}/api/client/ask"
    assert httpx.post(ask, json={"text": "a bag"}).status_code == 401
    refused = httpx.post(ask, json={"text": "a bag"}, cookies=cookie(url, "ann"))
    assert refused.status_code == 403 and "clients only" in refused.json()["error"]
    ada = cookie(url, "ada")
    for body, message in (({"text": "  "}, "the request is empty"), (["a bag"], "send a JSON object"),
                          ({"text": "x" * 5000}, "please keep it under 2,000")):
        response = httpx.post(ask, json=body, cookies=ada)
        assert response.status_code == 400 and message in response.json()["error"]
    odd_bodies = [  # issue 16, D7: each was a 500
        ('{"text": 123}', "the request must be text, not int"), ('{"text": ["a"]}', "must be text, not list"),
        ('{"text": {}}', "must be text, not dict"), ('{"text": true}', "must be text, not bool"),
        ('{"text": "a bag", "conversation_id": 1e30}', "conversation_id must be null or the whole number"),
        ('{"text": "a bag", "conversation_id": 1e400}', "not Infinity"),
        ('{"text": "a bag", "conversation_id": NaN}', "not NaN"),
        ('{"text": "a bag", "conversation_id": [1]}', "conversation_id must be"),
        ('{"text": "a bag", "conversation_id": "x1"}', "conversation_id must be"),
        ('{"text": "a bag", "conversation_id": true}', "conversation_id must be"),
        ("[" * 100_000 + "]" * 100_000, "send a JSON object"), (b"\xff\xfe{", "send a JSON object"),
        ('{"text": "' + "x" * 70_000 + '"}', "under 64 KiB")]
    for raw, message in odd_bodies:
        response = httpx.post(ask, content=raw, cookies=ada, headers={"Content-Type": "application/json"})
        assert response.status_code == 400 and message in response.json()["error"], (raw[:60], response.text)
    far = httpx.post(ask, json={"text": "a bag", "conversation_id": 10**30}, cookies=ada)
    assert far.status_code == 403 and "not one of yours" in far.json()["error"]
    with session() as s:
        others = s.exec(select(Conversation.id).where(Conversation.client_id == "c-2")).one()
    response = httpx.post(ask, json={"text": "a bag", "conversation_id": others}, cookies=ada)
    assert response.status_code == 403 and "not one of yours" in response.json()["error"]
    assert server["calls"] == []  # nothing reached the model
    server["release"].set()
    response = httpx.post(ask, json={"text": "a bag for Milan"}, cookies=ada)
    assert response.status_code == 200
    body = response.json()
    assert body["client_id"] == "c-1" and body["items"][0]["item_id"] == "i-tote" and "completion" not in body
    assert server["calls"] == [("c-1", "a bag for Milan", None)]


def test_a_full_queue_answers_busy_with_retry_after_and_then_serves_everyone(server):
    url, ask, admission = server["url"], f"{server['url']}/api/client/ask", server["admission"]
    ada = cookie(url, "ada")
    results = []

    def send(text):
        results.append(httpx.post(ask, json={"text": text}, cookies=ada, timeout=30).status_code)

    first = threading.Thread(target=send, args=("first",))
    first.start()
    deadline = time.time() + 10
    while admission.running < 1 and time.time() < deadline:
        time.sleep(0.02)
    second = threading.Thread(target=send, args=("second",))
    second.start()
    while admission.waiting < 1 and time.time() < deadline:
        time.sleep(0.02)
    busy = httpx.post(ask, json={"text": "third"}, cookies=ada)
    assert busy.status_code == 503 and busy.json()["busy"] and int(busy.headers["Retry-After"]) > 0
    assert "please retry" in busy.json()["error"]
    server["release"].set()
    first.join(15)
    second.join(15)
    assert results == [200, 200] and [c[1] for c in server["calls"]] == ["first", "second"]
