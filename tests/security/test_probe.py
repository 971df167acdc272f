"""The security and bad-input probe of issue 16, as a suite, against a live server (tests/security/conftest.py):
sign-in, cookie tampering, the role × endpoint matrix over every Gradio endpoint of every page, ownership, odd
inputs to every endpoint, bad chat input, bad uploads and error pages. Every answer is scanned for tracebacks,
secrets and missing frame headers; the counts go to docs/results/security.md (see conftest.py)."""

from __future__ import annotations

import base64
import io
import json
import re
import struct
import zipfile
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner, URLSafeSerializer, URLSafeTimedSerializer

from tests.security.conftest import ACCOUNTS, PASSWORD

pytestmark = pytest.mark.integration
INSIDER = {"client": "ada", "associate": "ann", "admin": "root"}  # one account per role
OUTSIDERS = {"anonymous": None, **INSIDER}
GENERIC = "on our side"  # in the messages of unexpected exceptions in handlers ("... went wrong on our side")


def _counts():
    from sqlmodel import func, select

    from backend.store import session
    from backend.tables import Account, CatalogVersion, Feedback

    with session() as s:
        return tuple(s.exec(select(func.count()).select_from(t)).one() for t in (Account, CatalogVersion, Feedback))


# --- sign-in -----------------------------------------------------------------------------------

def test_sign_in(world, probe):
    from app.auth import secret_key

    area = "sign-in"

    def form_of(address: str) -> tuple[dict, dict]:
        """The sign-in page's token field, and the nonce cookie it comes with."""
        page = probe.http("GET", "/login", headers={"X-Forwarded-For": address})
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return {"csrf_token": token}, {"concierge_login": page.cookies["concierge_login"]}

    def login(username, password, address, form=None, cookies=None, **fields):
        if form is None:
            form, cookies = form_of(address)
        return probe.http("POST", "/login", cookies, data={"username": username, "password": password, **form,
                                                           **fields},
                          headers={"X-Forwarded-For": address}, follow_redirects=False)

    wrong = [(name, "not the password") for name in ACCOUNTS] + [
        ("nobody", PASSWORD), ("admin' OR '1'='1", "' OR '1'='1"), ("root\x00", PASSWORD), ("ROOT ", "x" * 9),
        ("ü" * 10, PASSWORD), ("a" * 10_000, PASSWORD), ("", PASSWORD), ("root", ""), ("root", "p" * 10_000),
        ("root", PASSWORD + "\x00"), ("<script>alert(1)</script>", PASSWORD), ("root", PASSWORD.upper())]
    for i, (name, password) in enumerate(wrong):
        response = login(name, password, f"10.1.{i}.1")
        probe.expect(area, f"wrong credentials {name[:16]!r}", response.status_code == 401
                     and "concierge_session" not in response.headers.get("set-cookie", "")
                     and "<script>alert(1)" not in response.text, response.status_code)
    for _ in range(5):
        login("ann", "not the password", "10.2.0.1")
    probe.expect(area, "locked after 5 wrong passwords from one address",
                 login("ann", PASSWORD, "10.2.0.1").status_code == 429)
    probe.expect(area, "the owner, from elsewhere, is not locked out (D5)",
                 login("ann", PASSWORD, "10.2.0.2").status_code == 303)
    for i in range(20):
        login(f"user{i}", "not the password", "10.3.0.1")
    probe.expect(area, "an address guessing many usernames is stopped",
                 login("ben", PASSWORD, "10.3.0.1").status_code == 429)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "/admin/",
                   "http:/evil.example", "/%2F%2Fevil.example", "/client/..//evil.example", "\r\nSet-Cookie: x=1"):
        response = login("ada", PASSWORD, "10.4.0.1", next=target)
        location = response.headers.get("location", "")
        probe.expect(area, f"no open redirect to {target!r}", response.status_code == 303
                     and location.startswith("/") and not location.startswith(("//", "/\\"))
                     and "\n" not in location and (location.startswith("/client/") or location == "/client/"),
                     location)
    form, nonce = form_of("10.6.0.1")
    other_form, other_nonce = form_of("10.6.0.2")
    assert nonce != other_nonce

    class SignedIn1970(TimestampSigner):
        def get_timestamp(self) -> int:
            return 0

    def token(key: str, signer=TimestampSigner) -> dict:
        serializer = URLSafeTimedSerializer(key, salt="concierge-login-form", signer=signer)
        return {"csrf_token": serializer.dumps(nonce["concierge_login"])}

    forged_posts = {  # what: (form fields, cookies)
        "a cross-site post: no token, no nonce cookie": ({}, None), "a token without its cookie": (form, None),
        "no token": ({}, nonce), "another browser's token": (other_form, nonce),
        "a token signed with another key": (token("not-the-key"), nonce),
        "a token of 1970": (token(secret_key(), SignedIn1970), nonce),
        "a session token as the form token": ({"csrf_token": probe.cookies["ada"]}, nonce)}
    for what, (fields, cookies) in forged_posts.items():
        response = login("ada", PASSWORD, "10.6.0.1", fields, cookies)
        probe.expect(area, f"sign-in post refused: {what} (D11)", response.status_code == 403
                     and "concierge_session" not in response.headers.get("set-cookie", ""), response.status_code)
    flags = probe.http("GET", "/login").headers.get("set-cookie", "").lower()
    probe.expect(area, "the form's nonce cookie is HttpOnly, SameSite=Strict, for /login only",
                 "httponly" in flags and "samesite=strict" in flags and "path=/login" in flags, flags)
    signed_in = login("eve", PASSWORD, "10.5.0.1")
    cookie = signed_in.cookies.get("concierge_session", "")
    flags = signed_in.headers.get("set-cookie", "").lower()
    probe.expect(area, "the session cookie is HttpOnly and SameSite", "httponly" in flags and "samesite=lax" in flags)
    probe.expect(area, "GET /logout changes nothing", probe.http("GET", "/logout", cookie).status_code == 200
                 and probe.http("GET", "/associate/gradio_api/info", cookie).status_code == 200)
    probe.expect(area, "POST /logout ends the session on the server (D1)",
                 probe.http("POST", "/logout", cookie, follow_redirects=False).status_code == 303
                 and probe.http("GET", "/associate/gradio_api/info", cookie).status_code == 401)
    probe.check(area)


# --- cookies -----------------------------------------------------------------------------------

def test_cookie_tampering(world, probe):
    from sqlmodel import select

    from app.auth import issue_session, secret_key
    from backend.store import session
    from backend.tables import Account

    area = "cookie tampering"
    with session() as s:
        root = s.exec(select(Account).where(Account.username == "root")).one()
    ada, admin = probe.cookies["ada"], probe.cookies["root"]
    claims = {"uid": root.id, "exp": 2**40, "pw": "x", "ep": root.session_epoch}
    B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    unsigned = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    tokens = {
        "none": None, "empty": "", "garbage": "garbage", "4 KB of A": "A" * 4000, "percent-encoded NUL": "%00",
        # the highest of the last character's 6 bits: its lowest bits may be base64 padding, which decodes the same
        "last character changed": ada[:-1] + B64URL[B64URL.index(ada[-1]) ^ 32],
        "middle character changed": ada[:10] + ("A" if ada[10] != "A" else "B") + ada[11:],
        "admin's claims, a client's signature": admin.rsplit(".", 1)[0] + "." + ada.rsplit(".", 1)[1],
        "signed with another key": URLSafeSerializer("not-the-key", salt="concierge-session").dumps(claims),
        "signed for another purpose": URLSafeSerializer(secret_key(), salt="something-else").dumps(claims),
        "claims without a signature": unsigned, "claims, empty signature": unsigned + ".",
        "expired": issue_session(root, now=0.0),
        "disabled, then re-enabled account (D10)": probe.cookies["dora"], "signed out (D1)": probe.cookies["eve"],
    }
    targets = [("GET", f"{page}/gradio_api/info") for page in ("/client", "/associate", "/admin", "/catalogue")]
    targets += [("POST", "/api/client/ask"), ("POST", "/admin/gradio_api/call/refresh"),
                ("POST", "/admin/gradio_api/upload")]
    for name, token in tokens.items():
        for method, path in targets:
            body = {"json": {"data": []}} if "call" in path else {"json": {"text": "a bag"}} if "ask" in path else {}
            status = probe.http(method, path, token if token is not None else None, **body).status_code
            probe.expect(area, f"{name} → {method} {path}", status == 401, status)
    probe.check(area)


# --- the role × endpoint matrix ----------------------------------------------------------------

def _endpoints(probe, page: str, allowed: tuple[str, ...]) -> tuple[list[str], int]:
    """The page's named endpoints and how many functions it has, as an allowed role sees them."""
    insider = INSIDER[allowed[0]]
    info = probe.http("GET", f"{page}/gradio_api/info", insider).json()
    config = probe.http("GET", f"{page}/config", insider).json()
    return [name.lstrip("/") for name in info["named_endpoints"]], len(config["dependencies"])


def test_every_endpoint_of_every_page_refuses_the_roles_it_is_not_for(world, probe):
    from app.main import ROLE_PATHS

    area = "role × endpoint"
    for page, allowed in ROLE_PATHS.items():
        names, n_functions = _endpoints(probe, page, allowed)
        assert names and n_functions >= len(names)
        for role, who in OUTSIDERS.items():
            if role in allowed:
                continue
            refused = 401 if who is None else 403
            for name in names:
                status, _, _ = probe.call(page, name, [], who)
                probe.expect(area, f"{role} → {page} call/{name}", status == refused, status)
                status = probe.http("POST", f"{page}/gradio_api/run/{name}", who, json={"data": []}).status_code
                probe.expect(area, f"{role} → {page} run/{name}", status == refused, status)
            for fn in range(n_functions):
                status = probe.http("POST", f"{page}/gradio_api/queue/join", who,
                                    json={"data": [], "fn_index": fn, "session_hash": f"probe-{fn}"}).status_code
                probe.expect(area, f"{role} → {page} fn_index {fn}", status == refused, status)
            for method, path in (("GET", "/gradio_api/info"), ("GET", "/config"), ("POST", "/gradio_api/upload"),
                                 ("GET", "/gradio_api/queue/data?session_hash=probe-0"),
                                 ("GET", "/gradio_api/heartbeat/probe-0"), ("GET", "/gradio_api/file=x.png")):
                status = probe.http(method, page + path, who).status_code
                probe.expect(area, f"{role} → {method} {page}{path}", status == refused, status)
            status = probe.http("GET", f"{page}/", who, follow_redirects=False).status_code
            probe.expect(area, f"{role} → the page {page}/", status == (303 if who is None else 403), status)
    probe.check(area)


def test_allowed_roles_see_only_their_own_clients(world, probe):
    area = "ownership"
    (conv1, list1), (conv2, list2) = world.ids["c-1"], world.ids["c-2"]
    before = _counts()
    for who, page, name, data, other in (
            ("ann", "/associate", "open_shortlist", [list2], "PRIVATE2"),
            ("ben", "/associate", "open_shortlist", [list1], "PRIVATE1"),
            ("ann", "/associate", "open_shortlist", [10**30], "PRIVATE2"),
            ("ann", "/associate", "queue", ["c-2"], "PRIVATE2"),
            ("ada", "/client", "open_conversation", [conv2], "PRIVATE2"),
            ("bo", "/client", "open_conversation", [conv1], "PRIVATE1"),
            ("ada", "/client", "open_conversation", [10**30], "PRIVATE2")):
        _, event, payload = probe.call(page, name, data, who)
        leaked = other in (payload or "")
        world.cross_reads += leaked
        probe.expect(area, f"{who} → {page} {name}{data}", not leaked and (event == "error" or "not one of yours"
                                                                             in payload), payload)
    response = probe.http("POST", "/api/client/ask", "ada", json={"text": "a bag", "conversation_id": conv2})
    probe.expect(area, "ada → /api/client/ask in bo's conversation", response.status_code == 403)
    # the controls: the same calls for one's own data do show it, so a leak would have been seen
    for who, page, name, data, own in (("ann", "/associate", "open_shortlist", [list1], "PRIVATE1"),
                                       ("root", "/associate", "open_shortlist", [list2], "PRIVATE2")):
        _, event, payload = probe.call(page, name, data, who)
        probe.expect(area, f"control: {who} opens {data}", event == "complete" and own in payload, payload)
    world.damaged += _counts() != before
    probe.check(area)


def test_odd_inputs_to_every_endpoint_get_a_message(world, probe):
    from app.main import ROLE_PATHS

    area = "odd inputs"
    before = _counts()
    for page, allowed in ROLE_PATHS.items():
        names, _ = _endpoints(probe, page, allowed)
        info = probe.http("GET", f"{page}/gradio_api/info", INSIDER[allowed[0]]).json()["named_endpoints"]
        for name in names:
            n = len(info["/" + name]["parameters"])
            for label, value in (("nothing", None), ("20k characters", "x" * 20_000), ("10**30", 10**30),
                                 ("a list", [1, {"a": "b"}])):
                _, event, payload = probe.call(page, name, [value] * n, INSIDER[allowed[0]])
                probe.expect(area, f"{page} {name}({label})", event in ("complete", "error")
                             and GENERIC not in (payload or ""), f"{event}: {(payload or '')[:200]}")
    world.damaged += _counts() != before
    probe.check(area)


# --- chat input --------------------------------------------------------------------------------

def test_bad_chat_input(world, probe):
    area = "chat input"
    conv1, _ = world.ids["c-1"]
    ask = "/api/client/ask"
    bodies = [  # (raw body, expected status, what the error says)
        ('{"text": 123}', 400, "must be text"), ('{"text": ["a"]}', 400, "must be text"),
        ('{"text": {}}', 400, "must be text"), ('{"text": null}', 400, "empty"), ('{"text": true}', 400, "text"),
        ('{"text": ""}', 400, "empty"), ('{"text": "   \\n\\t "}', 400, "empty"),
        ('{"text": "\\u202e\\u2066"}', 400, "empty"), ('{"text": "' + "x" * 2001 + '"}', 400, "keep it under"),
        ('{"text": "' + "x" * 70_000 + '"}', 400, "KiB"), ("[" * 50_000 + "]" * 50_000, 400, "JSON object"),
        ("not json", 400, "JSON object"), ("", 400, "JSON object"), ('"a bag"', 400, "JSON object"),
        ('{"text": "a bag", "conversation_id": 1e30}', 400, "conversation_id"),
        ('{"text": "a bag", "conversation_id": 1e400}', 400, "conversation_id"),
        ('{"text": "a bag", "conversation_id": NaN}', 400, "conversation_id"),
        ('{"text": "a bag", "conversation_id": -1}', 403, "not one of yours"),
        ('{"text": "a bag", "conversation_id": 0}', 403, "not one of yours"),
        ('{"text": "a bag", "conversation_id": 100000000000000000000000000000}', 403, "not one of yours"),
        ('{"text": "a bag", "conversation_id": "abc"}', 400, "conversation_id"),
        ('{"text": "a bag", "conversation_id": [1]}', 400, "conversation_id"),
        ('{"text": "a bag", "conversation_id": {"$gt": 0}}', 400, "conversation_id"),
        ('{"text": "a bag", "conversation_id": true}', 400, "conversation_id")]
    for raw, status, message in bodies:
        response = probe.http("POST", ask, "ada", content=raw, headers={"Content-Type": "application/json"})
        probe.expect(area, f"{raw[:50]!r}", response.status_code == status and message in response.json()["error"],
                     f"{response.status_code} {response.text[:150]}")
    for raw in (b"\xff\xfe\x00{", b'{"text": "caf\xe9"}'):
        response = probe.http("POST", ask, "ada", content=raw, headers={"Content-Type": "application/json"})
        probe.expect(area, f"undecodable {raw[:12]!r}", response.status_code == 400)
    accepted = ["a red silk scarf \u202egnidd\u202c for a wedding", "NUL\x00 and controls\x07 in a request",
                "[Sign in again](http://evil.example/login) ![p](http://127.0.0.1:9/p.png)",
                "<script>alert(1)</script> a bag", "'; DROP TABLE shortlist; -- a bag", "日本語のバッグ",
                "🧣" * 300]
    for text in accepted:
        response = probe.http("POST", ask, "ada", json={"text": text, "conversation_id": conv1})
        probe.expect(area, f"odd but valid text {text[:20]!r}", response.status_code == 200, response.text[:150])
    probe.expect(area, "no bidi control or NUL reaches what is stored",
                 world.seen and not any(c in t for t in world.seen for c in "\u202e\u202c\u2066\u2069\x00\x07"),
                 world.seen)
    for who, status in ((None, 401), ("ann", 403), ("root", 403), ("dora", 401)):
        response = probe.http("POST", ask, who, json={"text": "a bag"})
        probe.expect(area, f"{who or 'anonymous'} asks", response.status_code == status)
    for value in (None, "", "x" * 5000, 123, ["a"]):  # the chat page's own endpoint
        _, event, payload = probe.call("/client", "ask", [value, [], None], "ada")
        probe.expect(area, f"chat ask({str(value)[:12]!r})", event in ("complete", "error")
                     and GENERIC not in (payload or ""), payload)
    probe.check(area)


# --- error pages -------------------------------------------------------------------------------

def test_error_pages_are_clean(world, probe):
    area = "error pages"
    var = Path(world.var)
    requests = [  # (method, path, who, extra, accepted statuses)
        ("GET", "/nope", None, {}, {404}), ("GET", "/admin/nope", "root", {}, {404}),
        ("GET", "/client/gradio_api/nope", "ada", {}, {404}), ("PUT", "/login", None, {}, {405}),
        ("DELETE", "/api/client/ask", "ada", {}, {405}), ("GET", "/api/client/ask", "ada", {}, {405}),
        ("POST", "/admin/gradio_api/call/refresh", "root", {"json": {"data": "not a list"}}, {422}),
        ("POST", "/admin/gradio_api/call/refresh", "root", {"content": b"{{{"}, {422}),
        ("POST", "/admin/gradio_api/queue/join", "root", {"json": {}}, {422}),
        ("POST", "/admin/gradio_api/call/nonexistent", "root", {"json": {"data": []}}, {404}),
        ("POST", "/admin/gradio_api/run/nonexistent", "root", {"json": {"data": []}}, {404}),
        ("POST", "/catalogue/gradio_api/queue/join", "ada", {"json": {"data": [], "fn_index": 999,
                                                                       "session_hash": "x"}}, {404}),
        ("GET", "/admin/gradio_api/file=/etc/passwd", "root", {}, {403}),
        ("GET", "/admin/gradio_api/file=../../../../etc/passwd", "root", {}, {403, 404}),  # 404: httpx drops ..
        ("GET", "/client/gradio_api/file=/proc/self/environ", "ada", {}, {403}),
        ("GET", f"/admin/gradio_api/file={var / 'secret_key'}", "root", {}, {403}),
        ("GET", f"/admin/gradio_api/file={var / 'concierge.db'}", "root", {}, {403}),
        ("GET", "/catalogue/gradio_api/file=http://127.0.0.1:9/x.png", "ada", {}, {403, 404}),
        ("GET", "/login?next=" + "x" * 10_000, None, {}, {200}),
        ("POST", "/login", None, {"content": b"\xff" * 100,
                                  "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, {400, 403}),
        ("POST", "/login", None, {"content": b"--x\r\n", "headers": {"Content-Type": "multipart/form-data"}},
         {400, 403, 422}),
        ("GET", "/healthz", None, {}, {200}), ("HEAD", "/login", None, {}, {200, 405})]
    for method, path, who, extra, accepted in requests:
        response = probe.http(method, path, who, follow_redirects=False, **extra)
        probe.expect(area, f"{method} {path[:60]}", response.status_code in accepted, response.status_code)
    probe.check(area)


# --- uploads -----------------------------------------------------------------------------------

def _zip(files: dict[str, bytes | str], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _patched(data: bytes, member: str, *, size: int | None = None, flags: int | None = None,
             method: int | None = None) -> bytes:
    """The archive with `member`'s headers (local and central) saying another size, flags or compression."""
    data, name = bytearray(data), member.encode()
    for signature, name_at, fields in ((b"PK\x03\x04", 26, {"flags": 6, "method": 8, "size": 22}),
                                       (b"PK\x01\x02", 28, {"flags": 8, "method": 10, "size": 24})):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            length = struct.unpack_from("<H", data, start + name_at)[0]
            offset = 30 if signature == b"PK\x03\x04" else 46
            if data[start + offset:start + offset + length] == name:
                for key, value, fmt in (("size", size, "<I"), ("flags", flags, "<H"), ("method", method, "<H")):
                    if value is not None:
                        struct.pack_into(fmt, data, start + fields[key], value)
            start += 4
    return bytes(data)


MANIFEST = '{"name": "probe", "version": "1"}'
ITEM = '{"item_id": "p-1", "title": "Probe silk scarf", "price": 100}\n'


def test_bad_uploads(world, probe, tmp_path):
    from gradio.utils import get_upload_folder

    area = "uploads"
    folder = Path(get_upload_folder()).resolve()

    def upload(name: str, data: bytes, who="root", page="/admin"):
        return probe.http("POST", f"{page}/gradio_api/upload", who,
                          files={"files": (name, data, "application/octet-stream")})

    def refused(what: str, name: str, data: bytes, message: str | None) -> None:
        """Upload, then import: refused with `message` (any of its |-separated forms) and nothing changed; or,
        for `message` None, imported with its report or refused with a reason, never an error of ours."""
        before = _counts()
        stored = upload(name, data)
        if stored.status_code != 200:
            probe.expect(area, what, False, stored.text)
            return
        path = stored.json()[0]
        _, event, payload = probe.call("/admin", "import_catalogue", [{"path": path, "orig_name": name,
                                                                       "meta": {"_type": "gradio.FileData"}}, ""],
                                       "root")
        payload = payload or ""
        inside = Path(path).resolve().is_relative_to(folder)
        if message is None:
            probe.expect(area, what, inside and event == "complete" and GENERIC not in payload and (
                "Validation report" in payload or "Nothing was imported" in payload), payload)
            return
        changed = _counts()[:2] != before[:2]
        world.damaged += changed
        said = any(m in payload for m in message.split("|"))
        probe.expect(area, what, inside and said and not changed and (event == "error" or (
            event == "complete" and "Nothing was imported" in payload)), payload)

    secret = tmp_path / "secret.csv"
    secret.write_text("title,price\nSECRET-ROW silk scarf,420\n")
    bomb = _zip({"b/manifest.json": MANIFEST, "b/items.jsonl": b"\0" * (11 * 2**20)})
    long_items = ITEM * 20_000
    lying = _patched(_zip({"b/manifest.json": MANIFEST, "b/items.jsonl": long_items}), "b/items.jsonl", size=64)
    inner = _zip({"b/manifest.json": MANIFEST, "b/items.jsonl": ITEM})
    good_zip = _zip({"b/manifest.json": MANIFEST, "b/items.jsonl": ITEM * 50})
    damaged = bytearray(good_zip)
    damaged[damaged.index(b"b/items.jsonl") + 30] ^= 0xFF
    symlink = zipfile.ZipInfo("b/items.jsonl")
    symlink.external_attr = 0o120777 << 16  # a symbolic link to /etc/passwd, in an archive
    linked = io.BytesIO()
    with zipfile.ZipFile(linked, "w") as zf:
        zf.writestr("b/manifest.json", MANIFEST)
        zf.writestr(symlink, "/etc/passwd")
    cases = [  # (what, file name, content, what the refusal says)
        ("traversal in the upload's name", "../../../tmp/evil-probe.csv", b"title,price\n", "no item rows"),
        ("backslash traversal in the name", "..\\..\\evil-probe.csv", b"title,price\n", "no item rows"),
        ("absolute name", "/etc/evil-probe.csv", b"title,price\n", "no item rows"),
        ("traversal inside the zip", "slip.zip", _zip({"../../evil-probe/items.jsonl": ITEM}), "unsafe path"),
        ("absolute path inside the zip", "abs.zip", _zip({"/tmp/evil-probe-abs/items.jsonl": "x"}), ""),
        ("zip bomb: 11 MiB of zeros", "bomb.zip", bomb, "unpacks to more than 10 MiB"),
        ("zip bomb: a header that lies about the size", "lying.zip", lying, "is damaged"),
        ("zip bomb: 10,001 entries", "many.zip", _zip({f"b/{i}": "" for i in range(10_001)}), "10,001 files"),
        ("a zip inside the zip", "nested.zip", _zip({"inner.zip": inner}), "holds no items.jsonl"),
        ("damaged zip (bad CRC, D8)", "damaged.zip", bytes(damaged), "is damaged (Bad CRC-32"),
        ("cut-short zip", "short.zip", good_zip[:len(good_zip) // 2], "not a valid .zip"),
        ("encrypted zip", "locked.zip", _patched(good_zip, "b/items.jsonl", flags=1), "without a password"),
        ("unknown compression", "aes.zip", _patched(good_zip, "b/items.jsonl", method=99), "cannot read"),
        ("symlink inside the zip", "link.zip", linked.getvalue(), "no valid item"),
        ("a .zip that is not one", "fake.zip", b"PK not really", "not a valid .zip"),
        ("header-only CSV (D12)", "header.csv", b"title,price\n", "no item rows"),
        ("a 400 KB description (D9)", "long.jsonl", json.dumps({"item_id": "p-2", "title": "Probe scarf",
                                                                 "description": "d" * 400_000}).encode(),
         "description has 400,000 characters; the limit is 5,000"),
        ("an HTML item_id (D9)", "html.jsonl", b'{"item_id": "<img src=x onerror=alert(1)>", "title": "Probe"}\n',
         "has a character an id may not hold"),
        ("UTF-16 CSV", "utf16.csv", "title,price\n,1\n".encode("utf-16"), ""),
        ("binary garbage as .csv", "garbage.csv", bytes(range(256)) * 40, ""),
        ("JSONL with a BOM and no valid row", "bom.jsonl", "\ufeff{\"price\": 1}\n".encode(), ""),
        ("JSONL of arrays", "arrays.jsonl", b"[1, 2]\n[3]\n", ""),
        ("a zip named .jsonl", "zip.jsonl", good_zip, ""),
        ("empty file", "empty.csv", b"", "is empty"),
        ("executable", "tool.exe", b"MZ\x90\x00", "upload a bundle as .zip|Invalid file type"),
        ("HTML", "page.html", b"<script>alert(1)</script>", "upload a bundle as .zip|Invalid file type"),
        ("no extension", "catalogue", b"title\nA bag\n", "upload a bundle as .zip|Invalid file type"),
        # odd but perhaps importable: imported with a report, or refused with a reason
        ("CSV with NUL bytes", "nul.csv", b"title,price\n\x00\x00,1\n", None),
        ("Latin-1 CSV", "latin1.csv", "title,price\nÉcharpe en soie,420\n".encode("latin-1"), None),
        ("CSV with a UTF-8 BOM", "bom.csv", "\ufefftitle,price\nSilk scarf,420\n".encode(), None)]
    for what, name, data, message in cases:
        refused(what, name, data, message)
    probe.expect(area, "nothing was written outside the upload folder",
                 not any(Path(p).exists() for p in ("/tmp/evil-probe.csv", "/etc/evil-probe.csv", "/evil-probe.csv",
                                                    "/tmp/evil-probe-abs", "/evil-probe")))
    over = upload("big.csv", b"title\n" + b"x" * (2 * 2**20))
    probe.expect(area, "over-size upload (2 MiB, limit 1 MiB)", over.status_code == 413, over.status_code)
    chunked = probe.http("POST", "/admin/gradio_api/upload", "root", content=iter([b"--x\r\n"] * 3),
                         headers={"Content-Type": "multipart/form-data; boundary=x"})
    probe.expect(area, "upload without a Content-Length", chunked.status_code == 411, chunked.status_code)
    for who, page in (("ada", "/client"), ("ada", "/catalogue"), ("ann", "/associate"), ("ann", "/catalogue"),
                      ("root", "/associate"), ("root", "/catalogue")):
        status = upload("a.csv", b"title\nA bag\n", who, page).status_code
        probe.expect(area, f"{who} uploads to {page}, which has no file input (D6)", status == 403, status)
    planted = folder / "planted-by-probe" / "planted.csv"
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text("title,price\nPLANTED-ROW silk scarf,420\n")
    for what, path in (("a server file", str(secret)), ("/etc/passwd", "/etc/passwd"),
                       ("out of the upload folder by ..", f"{folder}/../../../../{secret}"),
                       ("a URL", "http://127.0.0.1:9/x.csv"), ("a file in the folder nobody uploaded", str(planted))):
        before = _counts()
        _, event, payload = probe.call("/admin", "import_catalogue", [{"path": path, "meta": {
            "_type": "gradio.FileData"}}, ""], "root")
        payload = payload or ""
        changed = _counts()[:2] != before[:2]
        world.damaged += changed
        probe.expect(area, f"FileData naming {what} (D4)", (event == "error" or "only files uploaded here" in payload)
                     and "SECRET-ROW" not in payload and "PLANTED-ROW" not in payload and "root:" not in payload
                     and not changed, payload)
    planted.unlink()
    probe.check(area)
