"""A real server on a free loopback port (uvicorn in a thread) over a small world in a temporary var/,
and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fixtures.servers import serving

CHROMIUM = "/usr/bin/chromium"
PASSWORDS = {"admin": "admin-pass-e2e", "associate": "associate-pass-e2e", "client": "client-pass-e2e"}
ROOT = Path(__file__).resolve().parents[2]
# The screenshots and the browser latency go to docs/ only when asked (CONCIERGE_E2E_WRITE_DOCS=1, e.g. before
# a release); otherwise to a scratch directory, so that a test run leaves the working tree as it was.
WRITE_DOCS = os.environ.get("CONCIERGE_E2E_WRITE_DOCS") == "1"
ARTIFACTS = ROOT / "docs" if WRITE_DOCS else Path(os.environ.get("TMPDIR", "/tmp")) / f"concierge-e2e-{os.getpid()}"
SCREENSHOTS = ARTIFACTS / "screenshots"


@pytest.fixture(scope="module")
def server(tmp_path_factory, small_world, base_model_dir):
    """The whole app over the small world; one account per role (the associate looks after every client)."""
    from app.auth import assign_clients, create_account
    from app.main import create_app
    from backend import settings as settings_module
    from backend.importer import import_bundle
    from backend.store import get_engine

    var = tmp_path_factory.mktemp("e2e") / "var"
    patch = pytest.MonkeyPatch()
    patch.setenv("CONCIERGE_VAR_DIR", str(var))
    patch.setenv("CONCIERGE_DATABASE_URL", f"sqlite:///{var / 'concierge.db'}")
    patch.setenv("CONCIERGE_BASE_MODEL_DIR", str(base_model_dir))
    patch.delenv("CONCIERGE_MAX_NEW_TOKENS", raising=False)
    settings_module.get_settings.cache_clear()
    get_engine.cache_clear()
    import_bundle(small_world, progress=False)
    from training.registry import ensure_base_version, install_shipped

    ensure_base_version(base_model_dir)
    install_shipped(base_model=base_model_dir)  # the tuned reasoner answers, as after `make run`
    client_id = small_world.clients[0]["client_id"]
    create_account("admin", "admin", PASSWORDS["admin"])
    create_account("associate", "associate", PASSWORDS["associate"])
    create_account("client", "client", PASSWORDS["client"], client_id=client_id)
    assign_clients([c["client_id"] for c in small_world.clients], "associate")

    with serving(create_app()) as url:
        yield {"url": url, "client_id": client_id, "var": var, "world": small_world}
    patch.undo()
    settings_module.get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(60_000)
    yield context.new_page()
    context.close()


def sign_in(page, base: str, role: str, path: str) -> None:
    page.goto(f"{base}{path}")
    page.fill("#username", role)
    page.fill("#password", PASSWORDS[role])
    page.click("#sign-in")
    page.wait_for_selector("#header")
    page.wait_for_function("document.querySelector('#header').innerText.includes('Signed in as')")


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
