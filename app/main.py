"""The web app: a FastAPI root with the sign-in page, a health check, and one Gradio UI per role.

    /login              plain HTML form with a token against cross-site forgery; a signed session cookie
                        (app/auth.py)
    /logout             POST ends the session on the server; GET shows a page whose button posts
    /client/            the client's chat                     (clients)
    /associate/         the review console                    (associates, admins)
    /admin/             the admin console                     (admins)
    /catalogue/         catalogue search                      (anyone signed in)
    /api/client/ask     POST {"text", "conversation_id"?} -> the shortlist as JSON (clients; for scripts
                        and bench/load.py); 503 + Retry-After when too many shortlists are waiting
    /healthz            liveness

`RoleGate` refuses every request under a role's path (the page, its API, its uploads) without a
session of that role; each handler then checks the role and the data's owner again itself. Only a page
with a file input takes uploads (the admin console), one file of at most CONCIERGE_MAX_UPLOAD_MB per request.
"""

from __future__ import annotations

import html
import json
import logging
import os
from urllib.parse import quote

import gradio as gr
from fastapi import FastAPI, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from gradio.route_utils import FnIndexInferError
from starlette.routing import Mount

from app.admission import Admission, Busy
from app.auth import (COOKIE, LOGIN_COOKIE, LOGIN_FORM_S, AccessDenied, FormRefused, LoginLimiter, NotSignedIn,
                      authenticate, check_login_token, issue_session, login_nonce, login_token, read_session, require,
                      sign_out)
from app.handlers_client import client_ask, request_text
from app.handlers_common import whole_number
from app.ui_admin import build_admin_ui
from app.ui_associate import build_associate_ui
from app.ui_client import build_client_ui
from app.ui_common import CSS, actor_from, attempt, md_text, price_range, price_text
from backend.served import catalogue_stats, category_choices, live_currency, search_catalogue
from backend.settings import get_settings
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
    return (f"**{md_text(stats['name'])}** (version {stats['version']}, imported {stats['imported']}): "
            f"{stats['items']} items from {stats['houses']} houses, {md_text(price_range(stats))}.  \n{groups}")


def catalogue_heading() -> tuple[str, dict]:
    """What the catalogue page shows of the live catalogue: its statistics, and the max-price box's label."""
    return stats_markdown(), max_price_label()


def max_price_label() -> dict:
    """The max-price box's label, in the live catalogue's currency."""
    currency = live_currency()
    return gr.update(label=f"Max price ({currency})" if currency else "Max price")


def on_search(text: str, category: str, max_price):
    """Search handler: a table of hits and a status line. Errors become messages, never tracebacks."""
    try:
        if not isinstance(text, str) or not isinstance(category or "", str):
            raise ConciergeError("type what you are looking for, and choose a category from the list")
        try:
            price = float(max_price) if max_price not in (None, "") else None
        except (TypeError, ValueError):
            raise ConciergeError("the max price must be a number") from None
        rows = search_catalogue(text, k=20, category=category or None, max_price=price)
    except ConciergeError as exc:
        return [], f"⚠️ {exc}"
    except Exception:
        log.exception("search failed")
        return [], "⚠️ The search failed on our side; please try again."
    if not rows:
        return [], "Nothing in the catalogue matches these filters."

    rows = [{**r, "price": price_text(r["price"], r["currency"])} for r in rows]
    return [[r[c] for c in COLUMNS] for r in rows], f"{len(rows)} items, most similar first."


def on_search_page(text: str, category: str, max_price, request: gr.Request):
    """The page's search: anyone signed in (checked here too, not only by the gate)."""
    _, error = attempt(actor_from, request)
    if error:
        return [], error
    return on_search(text, category, max_price)


def build_catalogue_page() -> gr.Blocks:
    with gr.Blocks(title="Concierge — catalogue") as page:
        gr.Markdown("# Concierge — catalogue\n[Back](/) · [Sign out](/logout)")
        stats = gr.Markdown()
        with gr.Row():
            text = gr.Textbox(label="Search the catalogue", placeholder="a light silk scarf for a summer wedding",
                              scale=4, elem_id="search-text")
            category = gr.Dropdown(choices=[""] + category_choices()[0], value="", label="Category", scale=1,
                                       allow_custom_value=True)
            max_price = gr.Number(label="Max price", value=None, minimum=0, scale=1)
        button = gr.Button("Search", variant="primary", elem_id="search-button")
        status = gr.Markdown(elem_id="search-status")
        table = gr.Dataframe(headers=COLUMNS, interactive=False, elem_id="search-results")
        button.click(on_search_page, [text, category, max_price], [table, status], api_name="search")
        text.submit(on_search_page, [text, category, max_price], [table, status], api_name=False)
        page.load(catalogue_heading, None, [stats, max_price])
    return page


ROLE_PATHS = {"/client": ("client",), "/associate": ("associate", "admin"), "/admin": ("admin",),
              "/catalogue": ("client", "associate", "admin")}
HOME = {"client": "/client/", "associate": "/associate/", "admin": "/admin/"}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;background:#f6f3ec;display:flex;justify-content:center;
padding-top:10vh;color:#222}} main{{background:#fff;padding:28px 32px;border-radius:12px;min-width:320px;
box-shadow:0 2px 12px #0001}} h1{{font-weight:500;margin-top:0}} label{{display:block;margin:12px 0 4px}}
input{{width:100%;padding:8px;box-sizing:border-box;font-size:1em}} button{{margin-top:18px;padding:9px 18px;
font-size:1em;background:#3b2f1e;color:#fff;border:0;border-radius:6px;cursor:pointer}}
.error{{color:#b00020;margin:8px 0}}</style></head><body><main>{body}</main></body></html>""", status_code=status,
                        headers=SECURITY_HEADERS)  # also on the error page, which is sent outside the middleware


def _login_form(request: Request, error: str = "", next_path: str = "", username: str = "",
                status: int = 200) -> HTMLResponse:
    """The sign-in page; its form carries a token for the browser's sign-in nonce (set or renewed here)."""
    settings = get_settings()
    nonce = login_nonce(request.cookies.get(LOGIN_COOKIE))
    message = f'<p class="error" id="login-error">{html.escape(error)}</p>' if error else ""
    response = _page("Concierge — sign in", f"""<h1>Concierge</h1>{message}
<form method="post" action="/login"><input type="hidden" name="next" value="{html.escape(next_path)}">
<input type="hidden" name="csrf_token" value="{html.escape(login_token(nonce, settings))}">
<label for="username">Username</label><input id="username" name="username" autocomplete="username"
 value="{html.escape(username)}" autofocus>
<label for="password">Password</label><input id="password" name="password" type="password"
 autocomplete="current-password"><button type="submit" id="sign-in">Sign in</button></form>""", status)
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=LOGIN_FORM_S, httponly=True, samesite="strict",
                        secure=settings.cookie_secure, path="/login")
    response.headers["cache-control"] = "no-store"
    return response


def _safe_next(path: str | None, role: str) -> str:
    """Only a local path of a UI this role may open; anything else goes to the role's home."""
    if path and path.startswith("/") and not path.startswith("//"):
        prefix = "/" + path.strip("/").split("/")[0]
        if role in ROLE_PATHS.get(prefix, ()):
            return path
    return HOME[role]


# Components through which a page takes files; a page without one (interactive) refuses uploads.
UPLOAD_COMPONENTS = (gr.File, gr.Files, gr.UploadButton, gr.MultimodalTextbox, gr.Image, gr.ImageEditor,
                     gr.ImageSlider, gr.Audio, gr.Video, gr.Gallery, gr.Model3D)
UPLOAD_PATH = "/gradio_api/upload"


def takes_uploads(blocks: gr.Blocks) -> bool:
    """Whether any component of the page can send a file (an upload input that is not read-only)."""
    return any(isinstance(block, UPLOAD_COMPONENTS) and getattr(block, "interactive", None) is not False
               for block in blocks.blocks.values())


# Sent with every response: no page of Concierge may be shown inside another site's frame.
SECURITY_HEADERS = {"x-frame-options": "DENY", "content-security-policy": "frame-ancestors 'none'"}


class SecurityHeaders:
    """ASGI middleware: adds `SECURITY_HEADERS` to every HTTP response (a CSP already set gets frame-ancestors
    appended)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                replaced = (b"x-frame-options", b"content-security-policy")
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in replaced]
                csp = b"; ".join(v for k, v in message.get("headers", []) if k.lower() == replaced[1])
                if b"frame-ancestors" not in csp:
                    csp = b"; ".join(filter(None, [csp, SECURITY_HEADERS["content-security-policy"].encode()]))
                headers += [(replaced[0], SECURITY_HEADERS["x-frame-options"].encode()), (replaced[1], csp)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _unknown_endpoint(request: Request, exc: Exception) -> JSONResponse:
    """A Gradio page asked for an api_name or fn_index it does not have (Gradio answers a plain-text 500)."""
    log.warning("unknown Gradio endpoint on %s: %r", request.url.path, exc)
    return JSONResponse({"error": "this page has no such endpoint; see its /gradio_api/info"}, status_code=404)


def _gradio_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s", request.url.path, exc_info=exc)
    return JSONResponse({"error": "something went wrong on our side; the details are in the server log"},
                        status_code=500)


class RoleGate:
    """ASGI middleware: requests under a role's path need a valid session of one of its roles; a page's
    upload endpoint takes at most `upload_limits[page]` bytes per request, and nothing on a page without one."""

    def __init__(self, app, upload_limits: dict[str, int] | None = None):
        self.app = app
        self.upload_limits = upload_limits or {}

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        prefix = "/" + path.strip("/").split("/")[0] if path.strip("/") else "/"
        roles = ROLE_PATHS.get(prefix)
        if roles is None:
            return await self.app(scope, receive, send)
        request = Request(scope)
        page = scope["type"] == "http" and request.method == "GET" and path.rstrip("/") == prefix
        try:
            actor = read_session(request.cookies.get(COOKIE))
        except NotSignedIn as exc:
            if page:
                response = RedirectResponse(f"/login?next={quote(path)}", status_code=303)
            else:
                response = JSONResponse({"error": str(exc)}, status_code=401)
            return await self._send(response, scope, receive, send)
        except Exception:  # a broken store must not show a traceback
            log.exception("session check failed")
            return await self._send(_page("Concierge", "<p>Sign-in is unavailable right now.</p>", 503),
                                    scope, receive, send)
        if actor.role not in roles:
            text = f"This page is for {' and '.join(r + 's' for r in roles)}; you are signed in as " \
                   f"{actor.username} ({actor.role})."
            if page:
                body = (f'<h1>Not allowed</h1><p id="denied">{html.escape(text)}</p>'
                        f'<p><a href="{HOME[actor.role]}">Go to your page</a></p>'
                        '<form method="post" action="/logout">'
                        '<button type="submit" id="sign-out">Sign out</button></form>')
                response = _page("Concierge — not allowed", body, 403)
            else:
                response = JSONResponse({"error": text}, status_code=403)
            return await self._send(response, scope, receive, send)
        refusal = self._upload_refusal(prefix, path, request)
        if refusal is not None:
            return await self._send(refusal, scope, receive, send)
        return await self.app(scope, receive, send)

    def _upload_refusal(self, prefix: str, path: str, request: Request) -> JSONResponse | None:
        """A refusal for an upload this page does not take (none at all, too large, or of unknown size)."""
        rest = "/" + "/".join(part for part in path[len(prefix):].split("/") if part)
        if rest != UPLOAD_PATH:
            return None
        limit = self.upload_limits.get(prefix)
        if limit is None:
            return JSONResponse({"error": "this page takes no uploads"}, status_code=403)
        size = request.headers.get("content-length", "")
        if not size.isdecimal():
            return JSONResponse({"error": "send the upload with its Content-Length"}, status_code=411)
        if int(size) > limit:
            return JSONResponse({"error": f"the upload is {int(size) / 2**20:.1f} MiB; the limit is "
                                          f"{limit // 2**20} MiB"}, status_code=413)
        return None

    @staticmethod
    async def _send(response, scope, receive, send):
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await response(scope, receive, send)


MAX_ASK_BYTES = 64 * 1024  # a request is at most a few thousand characters: a larger body is refused
ASK_USAGE = 'send a JSON object: {"text": "your request", "conversation_id": null}'


def _too_big(size: int) -> ConciergeError:
    return ConciergeError(f"the body has {size:,} bytes; {ASK_USAGE}, under {MAX_ASK_BYTES // 1024} KiB")


def _ask_body(raw: bytes) -> tuple[str, int | None]:
    """`(text, conversation_id)` from the body of POST /api/client/ask, every type and range checked.

    Raises:
        `ConciergeError`: not a JSON object, `text` not a string (or empty, or too long), `conversation_id`
        neither null nor a whole number.
    """
    if len(raw) > MAX_ASK_BYTES:
        raise _too_big(len(raw))
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: [[[[...]]]] nested beyond Python's limit
        body = None
    if not isinstance(body, dict):
        raise ConciergeError(ASK_USAGE)
    text = request_text(body.get("text"))
    conversation_id = body.get("conversation_id")
    if conversation_id is not None:
        if isinstance(conversation_id, float) or not isinstance(conversation_id, (int, str)):
            raise ConciergeError(f"conversation_id must be null or the whole number of one of your "
                                 f"conversations, not {json.dumps(conversation_id)[:40]}")
        conversation_id = whole_number(conversation_id, "conversation_id must be null or the whole "
                                       "number of one of your conversations")
    return text, conversation_id


async def api_client_ask(request: Request, admission: Admission) -> JSONResponse:
    """A shortlist for the signed-in client, as JSON; the same checks as the chat (`handlers_client.client_ask`).

    Waits for a turn in `admission` without holding a thread; answers 503 with Retry-After when busy.
    """
    try:
        actor = require(read_session(request.cookies.get(COOKIE)), "client")
        declared = request.headers.get("content-length", "")
        if declared.isdecimal() and int(declared) > MAX_ASK_BYTES:
            raise _too_big(int(declared))  # before reading it
        text, conversation_id = _ask_body(await request.body())  # refused before it queues
        async with admission.slot():
            result = await run_in_threadpool(client_ask, actor, text, conversation_id)
    except NotSignedIn as exc:
        return JSONResponse({"error": str(exc)}, status_code=401)
    except AccessDenied as exc:
        return JSONResponse({"error": str(exc)}, status_code=403)
    except Busy as exc:
        return JSONResponse({"error": str(exc), "busy": True}, status_code=503,
                            headers={"Retry-After": str(exc.retry_after_s)})
    except ConciergeError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    shortlist = result.to_dict()
    shortlist.pop("completion", None)  # the raw model text: the steps carry what a reader needs
    return JSONResponse(jsonable_encoder(shortlist))


def create_app(limiter: LoginLimiter | None = None, admission: Admission | None = None) -> FastAPI:
    """The whole web app. `limiter` is the wrong-password limiter, `admission` the shortlists' queue (tests
    pass their own)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    settings = get_settings()
    limiter = limiter or LoginLimiter(settings.login_max_failures, settings.login_lockout_s)
    api = FastAPI(title="Concierge", docs_url=None, redoc_url=None, openapi_url=None)

    @api.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    admission = admission or Admission()

    @api.post("/api/client/ask", include_in_schema=False)
    async def client_ask(request: Request) -> JSONResponse:
        return await api_client_ask(request, admission)

    @api.get("/", include_in_schema=False)
    def root(request: Request):
        try:
            actor = read_session(request.cookies.get(COOKIE))
        except ConciergeError:
            return RedirectResponse("/login", status_code=303)
        return RedirectResponse(HOME[actor.role], status_code=303)

    @api.get("/login", include_in_schema=False)
    def login_page(request: Request, next: str = ""):  # noqa: A002 - the query parameter's name
        try:
            actor = read_session(request.cookies.get(COOKIE))
            return RedirectResponse(_safe_next(next, actor.role), status_code=303)
        except ConciergeError:
            return _login_form(request, next_path=next)

    @api.post("/login", include_in_schema=False)
    def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form(""),  # noqa: A002
              csrf_token: str = Form("")):
        address = request.client.host if request.client else "?"
        try:
            check_login_token(csrf_token, request.cookies.get(LOGIN_COOKIE), settings)  # before any password
            account = authenticate(username, password, address, limiter)
        except FormRefused as exc:
            return _login_form(request, str(exc).capitalize() + ".", next, username, 403)
        except ConciergeError as exc:
            status = 429 if "too many" in str(exc) else 401
            return _login_form(request, str(exc).capitalize() + ".", next, username, status)
        response = RedirectResponse(_safe_next(next, account.role), status_code=303)
        response.set_cookie(COOKIE, issue_session(account, settings), max_age=int(settings.session_hours * 3600),
                            httponly=True, samesite="lax", secure=settings.cookie_secure, path="/")
        return response

    @api.get("/logout", include_in_schema=False)
    def logout_page(request: Request):
        """The UIs' "Sign out" link: a button that posts (a GET must not change anything)."""
        try:
            read_session(request.cookies.get(COOKIE))
        except ConciergeError:
            return RedirectResponse("/login", status_code=303)
        return _page("Concierge — sign out", '<h1>Sign out?</h1><form method="post" action="/logout">'
                     '<button type="submit" id="sign-out">Sign out</button></form>')

    @api.post("/logout", include_in_schema=False)
    def logout(request: Request):
        sign_out(request.cookies.get(COOKIE))  # the cookie stops working everywhere, not only here
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @api.exception_handler(Exception)
    async def on_error(request: Request, exc: Exception):  # no traceback ever reaches a page
        log.exception("unhandled error on %s", request.url.path)
        return _page("Concierge — error", "<h1>Something went wrong</h1><p>Please try again; the details are in "
                     "the server log.</p>", 500)

    common = dict(css=CSS, footer_links=[], max_file_size=f"{settings.max_upload_mb}mb", show_error=False)
    pages = {"/client": build_client_ui(), "/associate": build_associate_ui(), "/admin": build_admin_ui(),
             "/catalogue": build_catalogue_page()}
    for path, blocks in pages.items():
        gr.mount_gradio_app(api, blocks, path=path, **common)
        # Gradio checks that a file named in an API call was uploaded (not any server path) only once it counts
        # itself launched, which a mounted app never does; the import handler checks it again itself.
        blocks.has_launched = True
        gradio_app = next(r.app for r in api.routes if isinstance(r, Mount) and r.path == path)
        gradio_app.add_exception_handler(FnIndexInferError, _unknown_endpoint)
        gradio_app.add_exception_handler(KeyError, _unknown_endpoint)  # POST queue/join with an unknown fn_index
        gradio_app.add_exception_handler(Exception, _gradio_error)
    # one file per upload request, plus room for the multipart envelope
    limits = {path: settings.max_upload_mb * 2**20 + 64 * 1024
              for path, blocks in pages.items() if takes_uploads(blocks)}
    api.add_middleware(RoleGate, upload_limits=limits)
    api.add_middleware(SecurityHeaders)  # added last: outermost, so the gate's own answers carry the headers
    return api
