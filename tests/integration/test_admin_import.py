"""The admin's catalogue upload, through the page's own queue as a browser uses it: it shows its progress."""

import json
import time

import httpx
import pytest

from app.auth import COOKIE, create_account
from app.main import create_app
from backend import importer
from backend.importer import import_bundle
from backend.settings import get_settings
from tests.fixtures.servers import serving, sign_in
from tests.fixtures.small import small_bundle

pytestmark = pytest.mark.integration
PASSWORD = "a long password for the admin"


def queue_run(web: httpx.Client, api_name: str, data: list, session_hash: str = "progress-test") -> list[dict]:
    """Run a page's event through Gradio's queue (POST queue/join, then read queue/data) as the browser does;
    returns every message the page received, the last one `process_completed`."""
    config = web.get("/config").json()
    fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name)
    joined = web.post("/gradio_api/queue/join", json={"data": data, "fn_index": fn_index,
                                                      "session_hash": session_hash})
    assert joined.status_code == 200, joined.text
    messages = []
    with web.stream("GET", "/gradio_api/queue/data", params={"session_hash": session_hash}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                messages.append(json.loads(line[5:]))
                if messages[-1].get("msg") == "process_completed":
                    break
    return messages


def test_the_catalogue_upload_shows_its_progress(settings, monkeypatch):
    """Issue 16: the upload ran behind a spinner (105 s for the demo, ~40 min at 50k items)."""
    import_bundle(small_bundle(), progress=False)
    create_account("root", "admin", PASSWORD)
    real_embed = importer.embed

    def slow_embed(texts, settings=None):  # slow enough for the page's progress updates to be sampled
        time.sleep(0.4)
        return real_embed(texts, settings)

    monkeypatch.setattr(importer, "embed", slow_embed)
    monkeypatch.setenv("CONCIERGE_EMBEDDING_BATCH_SIZE", "1")  # the importer embeds 4 texts per call
    get_settings.cache_clear()
    rows = "".join(json.dumps({"item_id": f"n-{i}", "title": f"Linen shirt no. {i}", "price": 100 + i}) + "\n"
                   for i in range(12))
    with serving(create_app()) as url:
        cookies = {COOKIE: sign_in(url, "root", PASSWORD).cookies[COOKIE]}
        with httpx.Client(base_url=f"{url}/admin", cookies=cookies, timeout=300) as web:
            stored = web.post("/gradio_api/upload", files={"files": ("spring.jsonl", rows.encode())})
            path = stored.json()[0]
            messages = queue_run(web, "import_catalogue", [{"path": path, "orig_name": "spring.jsonl",
                                                            "meta": {"_type": "gradio.FileData"}}, ""])
    units = [unit for m in messages if m.get("msg") == "progress" for unit in m["progress_data"]]
    embedding = [u for u in units if u["desc"] == "embed items"]
    assert embedding and {u["length"] for u in embedding} == {12} and {u["unit"] for u in embedding} == {"item"}
    assert any(u["index"] and u["index"] > 0 for u in embedding)  # the bar moved while the page waited
    assert any((u["desc"] or "").startswith("embedding and storing 12 items") for u in units)  # the stage
    report = messages[-1]["output"]["data"][0]
    assert messages[-1]["success"] and "16 items live (12 embedded" in report
