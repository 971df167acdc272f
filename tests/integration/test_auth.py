"""Accounts, sessions and the handlers' own role and ownership checks, called directly (as the API could)."""

import io
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from app import handlers_admin, handlers_associate, handlers_client, handlers_common
from app.auth import (COOKIE, LOGIN_COOKIE, AccessDenied, Actor, LoginLimiter, NotSignedIn, authenticate,
                      create_account, issue_session, login_token, read_session, seed_demo_accounts, set_active,
                      set_password)
from backend import service
from backend.importer import import_bundle
from backend.store import session
from backend.tables import (Account, AuditLog, CatalogVersion, Client, ClientNote, Conversation, Feedback, Message,
                            ReasoningStep, Shortlist, ShortlistItem)
from catalog.archive import MAX_ZIP_MEMBERS
from catalog.errors import ConciergeError
from tests.fixtures.servers import login_form, sign_in
from tests.fixtures.small import small_bundle

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"


def count(table) -> int:
    with session() as s:
        return s.exec(select(func.count()).select_from(table)).one()


def actor(username: str) -> Actor:
    with session() as s:
        return Actor.of(s.exec(select(Account).where(Account.username == username)).one())


@pytest.fixture
def world(settings):
    """The small bundle; two associates (c-1 with ann, c-2 with ben), a client account each, an admin,
    and one stored shortlist per client."""
    import_bundle(small_bundle(), progress=False)
    for name, role, client in (("ann", "associate", None), ("ben", "associate", None), ("root", "admin", None),
                               ("ada", "client", "c-1"), ("bo", "client", "c-2")):
        create_account(name, role, PASSWORD, client_id=client)
    with session() as s:
        accounts = {a.username: a.id for a in s.exec(select(Account)).all()}
        for client_id, associate in (("c-1", "ann"), ("c-2", "ben")):
            s.get(Client, client_id).associate_id = accounts[associate]
        ids = {}
        for client_id, items in (("c-1", ["i-tote", "i-scarf"]), ("c-2", ["i-watch", "i-boot"])):
            conversation = Conversation(client_id=client_id, title="first")
            s.add(conversation)
            s.flush()
            shortlist = Shortlist(client_id=client_id, conversation_id=conversation.id, request="something nice",
                                  query_graph={"text": "something nice"})
            s.add(shortlist)
            s.flush()
            s.add(Message(conversation_id=conversation.id, role="user", content="something nice"))
            for rank, item in enumerate(items, 1):
                s.add(ShortlistItem(shortlist_id=shortlist.id, item_id=item, rank=rank, justification="fits"))
            s.add(ReasoningStep(shortlist_id=shortlist.id, index=1, text="A leather piece suits her.",
                                verdict="consistent"))
            ids[client_id] = (conversation.id, shortlist.id)
    return {name: actor(name) for name in ("ann", "ben", "root", "ada", "bo")} | {"ids": ids}


# --- passwords, the limiter, sessions ----------------------------------------------------------

def test_passwords_are_argon2_hashes_and_wrong_ones_get_one_message(world):
    with session() as s:
        stored = s.exec(select(Account).where(Account.username == "ada")).one()
    assert stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash
    limiter = LoginLimiter(5, 300)
    assert authenticate("ADA ", PASSWORD, "1.2.3.4", limiter).username == "ada"
    for name in ("ada", "nobody"):  # a wrong password and an unknown user read the same
        with pytest.raises(ConciergeError, match="^wrong username or password$"):
            authenticate(name, "not it at all", "1.2.3.4", limiter)
    with pytest.raises(ConciergeError, match="enter your username"):
        authenticate("ada", "", "1.2.3.4", limiter)
    with pytest.raises(ConciergeError, match="at least 8"):
        create_account("eve", "admin", "short")


def test_wrong_passwords_are_rate_limited_then_forgiven(world):
    now = [1000.0]
    limiter = LoginLimiter(max_failures=3, window_s=300, clock=lambda: now[0])
    for _ in range(3):
        with pytest.raises(ConciergeError, match="wrong username or password"):
            authenticate("ada", "guess-guess", "10.0.0.1", limiter)
    with pytest.raises(ConciergeError, match="too many wrong passwords"):
        authenticate("ada", PASSWORD, "10.0.0.1", limiter)  # even the right password, from that address
    assert authenticate("ada", PASSWORD, "10.0.0.2", limiter).username == "ada"  # the owner, elsewhere
    now[0] += 301
    assert authenticate("ada", PASSWORD, "10.0.0.1", limiter).username == "ada"


def test_sessions_expire_and_end_when_the_account_changes(world, settings):
    with session() as s:
        ada = s.exec(select(Account).where(Account.username == "ada")).one()
    token = issue_session(ada, settings, now=10_000.0)
    assert read_session(token, settings, now=10_001.0) == world["ada"]
    with pytest.raises(NotSignedIn, match="expired"):
        read_session(token, settings, now=10_000.0 + settings.session_hours * 3600 + 1)
    with pytest.raises(NotSignedIn, match="not valid"):
        read_session(token[:-2] + ("AA" if not token.endswith("AA") else "BB"), settings)
    with pytest.raises(NotSignedIn):
        read_session(None, settings)
    fresh = issue_session(ada, settings)
    set_password("ada", "another long password")
    with pytest.raises(NotSignedIn, match="account changed"):
        read_session(fresh, settings)
    with session() as s:
        ada = s.exec(select(Account).where(Account.username == "ada")).one()
    token = issue_session(ada, settings)
    set_active("ada", False)
    with pytest.raises(NotSignedIn):
        read_session(token, settings)


def test_demo_accounts_are_seeded_once_and_the_associate_gets_the_unassigned_clients(settings):
    import_bundle(small_bundle(), progress=False)
    created = seed_demo_accounts()
    assert [(role, name) for role, name, _ in created] == [("admin", "admin"), ("associate", "associate"),
                                                           ("client", "client")]
    assert all(len(password) >= 12 for *_, password in created)
    assert seed_demo_accounts() is None
    associate = actor("associate")
    assert {c["client_id"] for c in handlers_associate.my_clients(associate)} == {"c-1", "c-2"}
    assert actor("client").client_id == "c-1"


# --- roles -------------------------------------------------------------------------------------

def test_every_handler_refuses_the_wrong_role(world):
    ada, ann, root = world["ada"], world["ann"], world["root"]
    conv, shortlist = world["ids"]["c-1"]
    refused = [
        lambda: handlers_associate.review_queue(ada), lambda: handlers_associate.review_shortlist(ada, shortlist),
        lambda: handlers_associate.judge_item(ada, shortlist, "i-tote", "reject", "no"),
        lambda: handlers_associate.flag_step(ada, shortlist, 1, "wrong"), lambda: handlers_associate.my_clients(ada),
        lambda: handlers_associate.add_client_note(ada, "c-1", "likes red"),
        lambda: handlers_admin.import_upload(ada, "x.csv"), lambda: handlers_admin.import_upload(ann, "x.csv"),
        lambda: handlers_admin.statistics(ann), lambda: handlers_admin.list_accounts(ann),
        lambda: handlers_admin.admin_create_account(ann, "zed", "admin", PASSWORD),
        lambda: handlers_admin.admin_set_active(ada, "root", False),
        lambda: handlers_admin.admin_reset_password(ann, "root", "x" * 9),
        lambda: handlers_admin.admin_assign(ann, "c-2", "ann"), lambda: handlers_admin.training_overview(ann),
        lambda: handlers_admin.audit_log(ada),
        lambda: handlers_client.client_conversations(ann), lambda: handlers_client.client_conversation(root, conv),
        lambda: handlers_client.client_ask(ann, "a bag"), lambda: handlers_client.client_ask(root, "a bag"),
    ]
    before = (count(Feedback), count(ClientNote), count(Account), count(Shortlist))
    for call in refused:
        with pytest.raises(AccessDenied):
            call()
    with pytest.raises(NotSignedIn):
        handlers_associate.review_queue(None)
    assert (count(Feedback), count(ClientNote), count(Account), count(Shortlist)) == before
    with session() as s:
        assert s.exec(select(Account).where(Account.username == "root")).one().active


# --- ownership ---------------------------------------------------------------------------------

def test_a_client_sees_and_continues_only_their_own_conversations(world, monkeypatch):
    ada, bo = world["ada"], world["bo"]
    ada_conv, ada_list = world["ids"]["c-1"]
    bo_conv, _ = world["ids"]["c-2"]
    assert [c["conversation_id"] for c in handlers_client.client_conversations(ada)] == [ada_conv]
    opened = handlers_client.client_conversation(ada, ada_conv)
    assert [i["item_id"] for i in opened["shortlists"][0]["items"]] == ["i-tote", "i-scarf"]
    assert opened["shortlists"][0]["items"][0]["title"] == "Aurel Campo leather tote"
    called = []
    monkeypatch.setattr(service, "recommend", lambda *a, **k: called.append(a))
    before = (count(Conversation), count(Message), count(Shortlist))
    with pytest.raises(AccessDenied, match="not one of yours"):
        handlers_client.client_conversation(bo, ada_conv)
    with pytest.raises(AccessDenied, match="not one of yours"):
        handlers_client.client_ask(bo, "something less formal", ada_conv)
    with pytest.raises(AccessDenied):
        handlers_client.client_ask(ada, "something less formal", 99999)
    with pytest.raises(AccessDenied):
        handlers_associate.client_profile(bo, "c-1")
    assert handlers_client.client_conversation(bo, bo_conv)["conversation_id"] == bo_conv
    assert not called and (count(Conversation), count(Message), count(Shortlist)) == before
    assert ada_list != world["ids"]["c-2"][1]


def test_empty_and_overlong_messages_are_refused_and_nothing_is_stored(world, settings):
    before = (count(Conversation), count(Message), count(Shortlist))
    for text, message in (("", "the request is empty"), ("   \n ", "the request is empty"),
                          ("a" * (settings.max_request_chars + 1), "please keep it under")):
        with pytest.raises(ConciergeError, match=message):
            handlers_client.client_ask(world["ada"], text)
    assert (count(Conversation), count(Message), count(Shortlist)) == before


def test_an_associate_reviews_only_the_clients_assigned_to_them(world):
    ann, ben, root = world["ann"], world["ben"], world["root"]
    _, ann_list = world["ids"]["c-1"]
    _, ben_list = world["ids"]["c-2"]
    assert [r["shortlist_id"] for r in handlers_associate.review_queue(ann)] == [ann_list]
    assert {r["shortlist_id"] for r in handlers_associate.review_queue(root)} == {ann_list, ben_list}
    assert [r["shortlist_id"] for r in handlers_associate.review_queue(root)] == [ben_list, ann_list]  # newest first
    assert handlers_associate.review_queue(ann, "c-1")[0]["client_id"] == "c-1"
    before = (count(Feedback), count(ClientNote))
    for call in (lambda: handlers_associate.review_queue(ann, "c-2"),
                 lambda: handlers_associate.review_shortlist(ann, ben_list),
                 lambda: handlers_associate.judge_item(ann, ben_list, "i-watch", "reject", "no"),
                 lambda: handlers_associate.flag_step(ann, ben_list, 1, "wrong"),
                 lambda: handlers_associate.reorder_item(ann, ben_list, "i-watch", 2),
                 lambda: handlers_associate.replace_item(ann, ben_list, "i-watch", "i-scarf", "better"),
                 lambda: handlers_associate.add_client_note(ann, "c-2", "likes steel"),
                 lambda: handlers_associate.client_profile(ann, "c-2"),
                 lambda: handlers_associate.client_preference_graph(ann, "c-2"),
                 lambda: handlers_associate.review_shortlist(ann, 424242)):
        with pytest.raises(AccessDenied):
            call()
    assert (count(Feedback), count(ClientNote)) == before


def test_feedback_is_validated_and_saved(world):
    ann = world["ann"]
    _, shortlist = world["ids"]["c-1"]
    with pytest.raises(ConciergeError, match="give a reason"):
        handlers_associate.judge_item(ann, shortlist, "i-tote", "reject", "  ")
    with pytest.raises(ConciergeError, match="choose one of the items"):
        handlers_associate.judge_item(ann, shortlist, "i-watch", "accept")
    with pytest.raises(ConciergeError, match="no step 7"):
        handlers_associate.flag_step(ann, shortlist, 7, "wrong")
    with pytest.raises(ConciergeError, match="not in the catalogue"):
        handlers_associate.replace_item(ann, shortlist, "i-tote", "i-nope", "better")
    with pytest.raises(ConciergeError, match="between 1 and 2"):
        handlers_associate.reorder_item(ann, shortlist, "i-tote", 5)
    assert count(Feedback) == 0
    handlers_associate.judge_item(ann, shortlist, "i-tote", "reject", "too structured for a garden wedding")
    handlers_associate.judge_item(ann, shortlist, "i-scarf", "accept")
    handlers_associate.flag_step(ann, shortlist, 1, "irrelevant", "her history says nothing of leather")
    handlers_associate.reorder_item(ann, shortlist, "i-scarf", 1)
    handlers_associate.replace_item(ann, shortlist, "i-tote", "i-boot", "she asked for something warmer")
    handlers_associate.add_client_note(ann, "c-1", "Prefers soft, unstructured bags.", shortlist)
    with pytest.raises(ConciergeError, match="already on the client's profile"):
        handlers_associate.add_client_note(ann, "c-1", "Prefers soft, unstructured bags.")
    with session() as s:
        rows = s.exec(select(Feedback).order_by(Feedback.id)).all()
        note = s.exec(select(ClientNote).where(ClientNote.source == "associate")).one()
    assert [(f.kind, f.item_id, f.step_index) for f in rows] == [
        ("reject", "i-tote", None), ("accept", "i-scarf", None), ("flag_irrelevant", None, 1),
        ("reorder", "i-scarf", None), ("replace", "i-tote", None), ("note", None, None)]
    assert all(f.author_id == ann.id and f.shortlist_id == shortlist for f in rows)
    assert rows[3].new_rank == 1 and rows[4].replacement_item_id == "i-boot"
    assert note.author_id == ann.id and note.client_id == "c-1"
    view = handlers_associate.review_shortlist(ann, shortlist)
    assert len(view["feedback"]) == 6 and view["steps"][0]["verdict"] == "consistent"
    assert handlers_admin.statistics(world["root"])["feedback"]["reject"] == 1


# --- admin: uploads and accounts ---------------------------------------------------------------

def _zip(tmp_path, files: dict[str, str], name="bundle.zip"):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        for inner, text in files.items():
            zf.writestr(inner, text)
    return path


def test_bad_uploads_are_refused_and_change_nothing(world, tmp_path, monkeypatch):
    from backend.settings import get_settings

    root = world["root"]
    versions = count(CatalogVersion)
    (tmp_path / "notes.txt").write_text("title\nA bag\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "fake.zip").write_text("not a zip at all")
    slip = _zip(tmp_path, {"../../evil/items.jsonl": '{"item_id": "x", "title": "x"}\n'}, "slip.zip")
    nothing = _zip(tmp_path, {"readme.md": "hello"}, "nothing.zip")
    for path, message in ((tmp_path / "notes.txt", "upload a bundle as .zip"), (tmp_path / "empty.csv", "is empty"),
                          (tmp_path / "fake.zip", "not a valid .zip"), (slip, "unsafe path"),
                          (nothing, "holds no items.jsonl"), (None, "choose a file")):
        with pytest.raises(ConciergeError, match=message):
            handlers_admin.import_upload(root, str(path) if path else None)
    big = tmp_path / "big.csv"
    big.write_text("title\n" + "A very long product title that repeats\n" * 30_000)
    monkeypatch.setenv("CONCIERGE_MAX_UPLOAD_MB", "1")
    get_settings.cache_clear()
    with pytest.raises(ConciergeError, match="the limit is 1 MiB"):
        handlers_admin.import_upload(root, str(big))
    assert count(CatalogVersion) == versions


def test_an_admin_imports_a_table_and_a_zipped_bundle_with_their_reports(world, tmp_path):
    root = world["root"]
    table = tmp_path / "shop.csv"
    table.write_text("Name,Maker,Price\nLina silk scarf,Aurel,420\n,Nobody,12\n")
    result, report = handlers_admin.import_upload(root, str(table), "title=Name,brand=Maker,price=Price")
    assert result.changed and report.good["shop.csv"] == 1 and report.bad["shop.csv"] == 1
    assert "shop.csv:3" in report.to_text()
    bundle = _zip(tmp_path, {"cat/manifest.json": '{"name": "zipped", "version": "1"}',
                             "cat/items.jsonl": '{"item_id": "z-1", "title": "Zeta cashmere wrap", "price": 900}\n'
                                                'not json\n'})
    result, report = handlers_admin.import_upload(root, str(bundle))
    assert result.name == "zipped" and report.n_bad == 1
    with session() as s:
        actions = [a.action for a in s.exec(select(AuditLog).where(AuditLog.action == "catalogue_import")).all()]
    assert actions == ["catalogue_import", "catalogue_import"]
    assert "z-1" in handlers_common.catalogue_items()


def test_an_admin_manages_accounts_with_an_audit_trail(world):
    root = world["root"]
    handlers_admin.admin_create_account(root, "cara", "associate", PASSWORD)
    assert handlers_admin.admin_assign(root, "c-1, c-2", "cara") == 2
    assert {c["client_id"] for c in handlers_associate.my_clients(actor("cara"))} == {"c-1", "c-2"}
    assert handlers_associate.review_queue(world["ann"]) == []
    with pytest.raises(ConciergeError, match="taken"):
        handlers_admin.admin_create_account(root, "cara", "admin", PASSWORD)
    with pytest.raises(ConciergeError, match="already has an account"):
        handlers_admin.admin_create_account(root, "ada2", "client", PASSWORD, "c-1")
    with pytest.raises(ConciergeError, match="cannot disable your own"):
        handlers_admin.admin_set_active(root, "root", False)
    handlers_admin.admin_set_active(root, "cara", False)
    with pytest.raises(ConciergeError, match="disabled"):
        authenticate("cara", PASSWORD, "1.1.1.1", LoginLimiter(5, 60))
    rows = {r["username"]: r for r in handlers_admin.list_accounts(root)}
    assert rows["cara"]["active"] is False and rows["cara"]["clients_assigned"] == 2
    assert [a["action"] for a in handlers_admin.audit_log(root)][:3] == ["account_disable", "clients_assign",
                                                                  "account_create"]


# --- over HTTP: the gate in front of the UIs ---------------------------------------------------

def test_the_gate_signs_in_redirects_and_refuses_over_http(world, settings):
    from app.main import create_app

    app = create_app(limiter=LoginLimiter(3, 300))
    with TestClient(app, follow_redirects=False) as web:
        assert web.get("/healthz").json() == {"status": "ok"}
        page = web.get("/client/")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/client/"
        assert web.post("/associate/gradio_api/info").status_code == 401
        form = login_form(web)  # the sign-in page's token (and its nonce cookie, kept by `web`)
        wrong = web.post("/login", data={"username": "ada", "password": "nope-nope", **form})
        assert wrong.status_code == 401 and "Wrong username or password." in wrong.text
        assert "Traceback" not in wrong.text and COOKIE not in wrong.headers.get("set-cookie", "")
        ok = web.post("/login", data={"username": "ada", "password": PASSWORD, "next": "/admin/", **form})
        assert ok.status_code == 303 and ok.headers["location"] == "/client/"  # no admin page for a client
        assert "httponly" in ok.headers["set-cookie"].lower()
        assert web.get("/client/").status_code == 200
        denied = web.get("/admin/")
        assert denied.status_code == 403 and "This page is for admins" in denied.text
        assert web.post("/associate/gradio_api/call/judge_item", json={"data": []}).status_code == 403
        assert web.get("/").headers["location"] == "/client/"
        web.get("/logout")
        web.cookies.clear()
        assert web.get("/client/").status_code == 303
        with session() as s:
            ada = s.exec(select(Account).where(Account.username == "ada")).one()
        web.cookies.set(COOKIE, issue_session(ada, settings, now=0.0))  # expired long ago
        assert web.get("/client/").status_code == 303
        web.cookies.clear()
        form = login_form(web)
        for _ in range(3):
            web.post("/login", data={"username": "bo", "password": "nope-nope", **form})
        locked = web.post("/login", data={"username": "bo", "password": PASSWORD, **form})
        assert locked.status_code == 429 and "Too many wrong passwords" in locked.text


def test_a_client_cookie_cannot_reach_another_clients_data_through_the_gradio_api(world, settings):
    """The UI wrapper reads the session itself: even a valid cookie only ever acts as its own account."""
    from types import SimpleNamespace

    from app import ui_associate, ui_client

    _, ann_list = world["ids"]["c-1"]
    with session() as s:
        accounts = {a.username: a for a in s.exec(select(Account)).all()}

    def request(username):
        return SimpleNamespace(request=SimpleNamespace(cookies={COOKIE: issue_session(accounts[username], settings)}))

    bo_conv = world["ids"]["c-2"][0]
    history, *_, status = ui_client.on_open(world["ids"]["c-1"][0], request("bo"))
    assert history == [] and "not one of yours" in status
    assert ui_client.on_open(bo_conv, request("bo"))[3] == bo_conv
    feedback, status = ui_associate.on_judge(ann_list, "i-tote", "reject", "no", request("ben"))
    assert "not one of yours" in status and count(Feedback) == 0
    _, status = ui_associate.on_judge(ann_list, "i-tote", "reject", "no", SimpleNamespace(request=None, kwargs={}))
    assert "sign in" in status and count(Feedback) == 0
    _, status = ui_associate.on_judge(ann_list, "i-tote", "reject", "fine", request("ann"))
    assert status.startswith("Saved") and count(Feedback) == 1


def test_accounts_command_creates_lists_and_resets(settings, capsys):
    from app.cli import main

    import_bundle(small_bundle(), progress=False)
    assert main(["accounts", "seed-demo"]) == 0
    printed = capsys.readouterr().out
    assert "admin" in printed and "password" in printed
    assert main(["accounts", "seed-demo"]) == 0 and "already exist" in capsys.readouterr().out
    assert main(["accounts", "create", "cleo", "--role", "client", "--client", "c-2", "--password", PASSWORD]) == 0
    assert main(["accounts", "create", "cleo", "--role", "admin"]) == 2  # taken: a message, not a traceback
    assert "taken" in capsys.readouterr().err
    assert main(["accounts", "set-password", "cleo"]) == 0
    new = capsys.readouterr().out.rsplit(" ", 1)[-1].strip()
    assert authenticate("cleo", new, "1.1.1.1", LoginLimiter(5, 60)).client_id == "c-2"
    assert main(["accounts", "disable", "cleo"]) == 0 and main(["accounts", "list"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("cleo")][-1]
    assert "disabled" in listed and "c-2" in listed


# --- sign-out and re-enabled accounts (issue 16: D1, D10) ----------------------------------------

def _signed_in(web, username: str) -> str:
    web.cookies.clear()
    response = web.post("/login", data={"username": username, "password": PASSWORD, **login_form(web)})
    assert response.status_code == 303
    return response.cookies[COOKIE]


def _with(web, cookie: str | None):
    """The test client carrying exactly this session cookie (or none)."""
    web.cookies.clear()
    if cookie:
        web.cookies.set(COOKIE, cookie)
    return web


def test_signing_out_ends_the_session_on_the_server(world):
    from app.main import create_app

    with TestClient(create_app(limiter=LoginLimiter(3, 300)), follow_redirects=False) as web:
        old = _signed_in(web, "ada")
        page = _with(web, old).get("/logout")  # the link in the UIs: a page whose button posts; nothing ends yet
        assert page.status_code == 200 and 'method="post" action="/logout"' in page.text
        assert _with(web, old).get("/client/").status_code == 200
        out = _with(web, old).post("/logout")
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert _with(web, old).get("/client/").status_code == 303  # the saved cookie is refused
        assert _with(web, old).get("/client/gradio_api/info").status_code == 401
        assert _with(web, None).post("/logout").status_code == 303  # never signed in: no error
        assert _with(web, None).get("/logout").headers.get("location") == "/login"
        assert _with(web, _signed_in(web, "ada")).get("/client/").status_code == 200


def test_re_enabling_an_account_does_not_bring_back_its_old_sessions(world):
    from app.main import create_app

    with TestClient(create_app(limiter=LoginLimiter(3, 300)), follow_redirects=False) as web:
        old = _signed_in(web, "ada")
        handlers_admin.admin_set_active(world["root"], "ada", False)
        assert _with(web, old).get("/client/").status_code == 303
        handlers_admin.admin_set_active(world["root"], "ada", True)
        assert _with(web, old).get("/client/").status_code == 303
        assert _with(web, old).get("/client/gradio_api/info").status_code == 401
        assert _with(web, _signed_in(web, "ada")).get("/client/").status_code == 200


# --- what people typed is shown as text (issue 16: D2, D12) --------------------------------------

INJECTION = "[Sign in again](http://evil.example/login) ![p](http://127.0.0.1:9/pixel.png) a red silk scarf"


def _rendered(markdown: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").render(markdown)


def test_the_associate_console_shows_a_clients_markdown_as_text_through_the_gradio_api(world):
    from gradio_client import Client as GradioClient

    from app.main import create_app
    from tests.fixtures.servers import serving

    _, shortlist = world["ids"]["c-1"]
    with session() as s:
        s.get(Shortlist, shortlist).request = INJECTION
    handlers_associate.add_client_note(world["ann"], "c-1",
                                       "<img src=x onerror=alert(1)> **loud** [x](javascript:alert(1))")
    handlers_associate.judge_item(world["ann"], shortlist, "i-tote", "reject", "see ![p](http://127.0.0.1:9/p.png)")
    with serving(create_app(limiter=LoginLimiter(3, 300))) as url:
        cookie = sign_in(url, "ann", PASSWORD).cookies[COOKIE]
        client = GradioClient(url + "/associate/", verbose=False, headers={"Cookie": f"{COOKIE}={cookie}"})
        profile, _, request, *_, feedback, status = client.predict(shortlist, api_name="/open_shortlist")
    assert status == ""
    for markdown in (request, profile, feedback):
        html = _rendered(markdown)
        assert "<a " not in html and "<img" not in html and "<strong>loud" not in html, html
    assert "[Sign in again](http://evil.example/login)" in _rendered(request)  # shown, as the client typed it
    assert "&lt;img src=x onerror=alert(1)&gt;" in _rendered(profile)


def test_bidi_controls_are_removed_from_what_is_stored(world, monkeypatch):
    sent = []
    monkeypatch.setattr(service, "recommend", lambda client_id, text, **kw: sent.append(text))
    handlers_client.client_ask(world["ada"], "a scarf \u202egnidd\u202c\u2066ew\u2069 please\x00")
    assert sent == ["a scarf gniddew please"]
    handlers_associate.add_client_note(world["ann"], "c-1", "likes \u202ered\u202c")
    with session() as s:
        assert s.exec(select(ClientNote.text).where(ClientNote.source == "associate")).one() == "likes red"
    with pytest.raises(ConciergeError, match="the request is empty"):
        handlers_client.client_ask(world["ada"], "\u202e\u202c")


def test_huge_and_odd_ids_get_a_clear_message_through_the_gradio_api(world):
    """Issue 16, D7: a number beyond what SQL stores, or no number at all, is "not found" / "invalid", never
    "something went wrong"."""
    from gradio_client import Client as GradioClient

    from app.main import create_app
    from tests.fixtures.servers import serving

    with serving(create_app(limiter=LoginLimiter(3, 300))) as url:
        def client(page, username):
            cookie = sign_in(url, username, PASSWORD).cookies[COOKIE]
            return GradioClient(f"{url}/{page}/", verbose=False, headers={"Cookie": f"{COOKIE}={cookie}"})

        associate, admin = client("associate", "ann"), client("admin", "root")
        for number, message in ((10**30, "is not one of yours"), (-5, "is not one of yours")):
            *_, status = associate.predict(number, api_name="/open_shortlist")
            assert message in status, status
        for job, message in ((10**30, f"no training job {10**30}"), (0, "no training job 0"),
                             ("many", "choose a training job first")):
            status, _ = admin.predict(job, True, api_name="/cancel_training")
            assert message in status and "went wrong" not in status, status
    for version in (10**30, [1, {"a": "b"}], None):  # a Dropdown that takes custom values passes these through
        with pytest.raises(ConciergeError, match="choose a model version first"):
            handlers_admin.promote_version(world["root"], version, "a reason")
    from app.main import on_search
    assert on_search(10**30, "", None)[1] == "⚠️ type what you are looking for, and choose a category from the list"
    assert on_search("a bag", "", [1]) == ([], "⚠️ the max price must be a number")
    assert handlers_common.whole_number(2.0, "x") == 2 and handlers_common.row_id(2**63, "x") is None
    for bad in (float("inf"), float("nan"), 1.5, True, "1e3", [1], None, "9" * 5000):
        with pytest.raises(ConciergeError, match="^x$"):
            handlers_common.whole_number(bad, "x")


@pytest.mark.one_store  # which files are read, whatever the stores
def test_the_catalogue_import_reads_only_files_uploaded_to_the_admin_page(world, tmp_path):
    """Issue 16, D4: a FileData naming any server file was imported and echoed; now only uploads are read."""
    from gradio.utils import get_upload_folder
    from gradio_client import Client as GradioClient
    from gradio_client import handle_file

    from app.main import create_app
    from tests.fixtures.servers import gradio_call, serving

    secret = tmp_path / "secret.csv"
    secret.write_text("title,price\nSECRET-ROW-42 silk scarf,420\n")
    planted = Path(get_upload_folder()) / "planted-by-test" / "planted.csv"  # in Gradio's folder, not uploaded
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text("title,price\nPLANTED-ROW-43 silk scarf,420\n")
    versions = count(CatalogVersion)
    with serving(create_app(limiter=LoginLimiter(3, 300))) as url:
        cookies = {COOKIE: sign_in(url, "root", PASSWORD).cookies[COOKIE]}
        for path in (str(secret), f"{get_upload_folder()}/../../{secret}", str(planted)):
            status, event, payload = gradio_call(f"{url}/admin", "import_catalogue",
                                                 [{"path": path, "meta": {"_type": "gradio.FileData"}}, ""], cookies)
            assert "SECRET-ROW" not in (payload or "") and "PLANTED-ROW" not in (payload or "")
            assert event == "error" or "only files uploaded here are imported" in payload, (path, event, payload)
        assert count(CatalogVersion) == versions
        admin = GradioClient(f"{url}/admin/", verbose=False, headers={"Cookie": f"{COOKIE}={cookies[COOKIE]}"})
        uploaded = tmp_path / "shop.csv"
        uploaded.write_text("title,price\nLina silk scarf,420\n")
        report = admin.predict(handle_file(str(uploaded)), "", api_name="/import_catalogue")
    assert "Validation report" in report and count(CatalogVersion) == versions + 1
    planted.unlink(missing_ok=True)  # the admin page may have swept it already


def test_pages_without_a_file_input_refuse_uploads_and_the_admin_page_caps_them(world, monkeypatch):
    """Issue 16, D6: /client and /catalogue stored any file, of any type, up to 50 MB each, any number."""
    from backend.settings import get_settings

    monkeypatch.setenv("CONCIERGE_MAX_UPLOAD_MB", "1")
    get_settings.cache_clear()
    from app.main import create_app

    with TestClient(create_app(limiter=LoginLimiter(3, 300)), follow_redirects=False) as web:
        files = {"files": ("note.csv", b"title\nA bag\n", "text/csv")}
        for username, pages in (("ada", ("/client", "/catalogue")), ("ann", ("/associate", "/catalogue")),
                                ("root", ("/associate", "/catalogue"))):
            _with(web, _signed_in(web, username))
            for page in pages:
                for path in (f"{page}/gradio_api/upload", f"{page}//gradio_api//upload/"):
                    refused = web.post(path, files=files)
                    assert refused.status_code == 403 and "takes no uploads" in refused.json()["error"], path
        _with(web, _signed_in(web, "root"))
        stored = web.post("/admin/gradio_api/upload", files=files)
        assert stored.status_code == 200 and stored.json()[0].endswith("note.csv")
        big = {"files": ("big.csv", b"x" * (2 * 2**20), "text/csv")}
        too_big = web.post("/admin/gradio_api/upload", files=big)
        assert too_big.status_code == 413 and "the limit is 1 MiB" in too_big.json()["error"]


def test_a_damaged_zip_or_an_empty_table_says_why_and_every_refusal_is_audited(world, tmp_path):
    """Issue 16: D8 (a bad CRC got the generic message), D12 (a header-only CSV said "OK"; refusals were not
    in the audit log)."""
    root = world["root"]
    versions = count(CatalogVersion)
    good = _zip(tmp_path, {"b/manifest.json": '{"name": "z", "version": "1"}',
                           "b/items.jsonl": '{"item_id": "z-1", "title": "Zeta cashmere wrap", "price": 900}\n' * 40})
    data = bytearray(good.read_bytes())
    data[data.index(b"items.jsonl") + 40] ^= 0xFF  # a byte of the compressed items
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(data))
    many = _zip(tmp_path, {f"b/{i}.txt": "" for i in range(MAX_ZIP_MEMBERS + 1)}, "many.zip")
    header_only = tmp_path / "header.csv"
    header_only.write_text("title,price\n")
    all_bad = tmp_path / "bad.csv"
    all_bad.write_text("title,price\n,12\n")
    for path, message in ((damaged, "damaged.zip is damaged (Bad CRC-32 for file 'b/items.jsonl')"),
                          (many, "holds 10,001 files"), (header_only, "has no item rows (only a header?)"),
                          (all_bad, "has no valid item; every item row was refused:\nbad.csv:2")):
        with pytest.raises(ConciergeError) as refused:
            handlers_admin.import_upload(root, str(path))
        assert message in str(refused.value) and "OK" not in str(refused.value).split()
    assert count(CatalogVersion) == versions
    with session() as s:
        rejected = s.exec(select(AuditLog).where(AuditLog.action == "catalogue_import_rejected")
                          .order_by(AuditLog.id)).all()
    assert [r.detail["file"] for r in rejected] == ["damaged.zip", "many.zip", "header.csv", "bad.csv"]
    assert all(r.actor_id == root.id and r.detail["reason"] for r in rejected)


def test_the_sign_in_form_refuses_a_post_that_did_not_come_from_it(world, monkeypatch):
    """Issue 16, D11: the sign-in form had no CSRF token: any site could post it and sign a visitor in to an
    account of its choosing."""
    from app import auth
    from app.main import create_app

    credentials = {"username": "ada", "password": PASSWORD}
    with TestClient(create_app(limiter=LoginLimiter(3, 300)), follow_redirects=False) as web:
        page = web.get("/login")
        flags = page.headers["set-cookie"].lower()
        assert LOGIN_COOKIE in flags and "httponly" in flags and "samesite=strict" in flags and "path=/login" in flags
        assert page.headers["cache-control"] == "no-store"
        form = login_form(web)  # a second open form: the same nonce, so the first one stays valid too
        nonce = web.cookies[LOGIN_COOKIE]
        another = login_token("n" * 43)
        forged = auth.URLSafeTimedSerializer("not-the-key", salt="concierge-login-form").dumps(nonce)
        for what, fields, cookie in (("a cross-site post: no token, no cookie", {}, None),
                                     ("no token", {}, nonce), ("an empty token", {"csrf_token": ""}, nonce),
                                     ("a token for another nonce", {"csrf_token": another}, nonce),
                                     ("a token signed with another key", {"csrf_token": forged}, nonce),
                                     ("the right token without its cookie", form, None),
                                     ("the right token, another cookie", form, "m" * 43)):
            web.cookies.clear()
            if cookie:
                web.cookies.set(LOGIN_COOKIE, cookie, path="/login")
            refused = web.post("/login", data={**credentials, **fields})
            assert refused.status_code == 403, what
            assert "did not come from this site" in refused.text and COOKIE not in refused.cookies, what
        web.cookies.clear()
        web.cookies.set(LOGIN_COOKIE, nonce, path="/login")
        monkeypatch.setattr(auth, "LOGIN_FORM_S", -1)
        assert web.post("/login", data={**credentials, **form}).status_code == 403  # an expired form
        monkeypatch.undo()
        ok = web.post("/login", data={**credentials, **form})  # 8 refusals counted no wrong password (limit 3)
        assert ok.status_code == 303 and ok.cookies[COOKIE]


def test_no_page_can_be_framed_and_unknown_gradio_endpoints_get_a_json_404(world):
    """Issue 16, D11: no X-Frame-Options / frame-ancestors anywhere; an unknown api_name or fn_index was a
    plain-text 500."""
    from app.main import create_app

    with TestClient(create_app(limiter=LoginLimiter(3, 300)), follow_redirects=False) as web:
        seen = [web.get("/healthz"), web.get("/login"), web.get("/client/"), web.post("/api/client/ask", json={}),
                web.post("/login", data={"username": "root", "password": "wrong-wrong", **login_form(web)}),
                web.post("/login", data={"username": "root", "password": PASSWORD})]
        _with(web, _signed_in(web, "root"))
        seen += [web.get("/admin/"), web.get("/admin/gradio_api/info"), web.get("/client/"), web.get("/nowhere"),
                 web.post("/client/gradio_api/upload", files={"files": ("a.csv", b"x")})]
        for page in ("/admin", "/associate", "/catalogue"):
            for path, body in (("/gradio_api/call/nonexistent", {"data": []}), ("/gradio_api/run/nonexistent",
                               {"data": []}), ("/gradio_api/queue/join", {"data": [], "fn_index": 999,
                                                                          "session_hash": "abc"})):
                unknown = web.post(page + path, json=body)
                assert unknown.status_code == 404 and "no such endpoint" in unknown.json()["error"], (page, path)
                seen.append(unknown)
    for response in seen:
        assert response.headers["x-frame-options"] == "DENY", response.url
        assert response.headers["content-security-policy"] == "frame-ancestors 'none'", response.url
