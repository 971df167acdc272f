"""The first page on a real uvicorn server: health check, the page itself, and search through Gradio's API."""

import httpx
import pytest

from app.main import create_app, on_search
from backend.importer import import_bundle
from tests.fixtures.servers import serving, sign_in
from tests.fixtures.small import small_bundle

pytestmark = pytest.mark.integration


@pytest.fixture
def server(settings):
    import_bundle(small_bundle(), progress=False)
    with serving(create_app()) as url:
        yield url


def test_server_answers_health_page_and_search(server):
    from app.auth import COOKIE, create_account

    assert httpx.get(f"{server}/healthz").json() == {"status": "ok"}
    page = httpx.get(f"{server}/", follow_redirects=True)
    assert page.status_code == 200 and "Sign in" in page.text  # everything else needs a session
    create_account("ann", "associate", "a long password")
    signed_in = sign_in(server, "ann", "a long password")
    cookie = signed_in.cookies[COOKIE]

    from gradio_client import Client

    client = Client(server + "/catalogue/", verbose=False, headers={"Cookie": f"{COOKIE}={cookie}"})
    table, status = client.predict("silk scarf with lemons", "", None, api_name="/search")
    assert table["data"][0][0] == "i-scarf" and "most similar first" in status


def test_search_handler_turns_bad_input_into_messages(settings):
    import_bundle(small_bundle(), progress=False)
    assert on_search("", "", None) == ([], "⚠️ type what you are looking for")
    rows, status = on_search("y" * 5000, "", None)
    assert rows == [] and "the limit is 2000" in status
    rows, status = on_search("a bag", "", -3)
    assert rows == [] and "must not be negative" in status
    rows, status = on_search("a bag", "watches", 10)
    assert rows == [] and status == "Nothing in the catalogue matches these filters."


def test_search_before_any_import_says_what_to_do(settings):
    rows, status = on_search("a bag", "", None)
    assert rows == [] and "concierge seed-demo" in status


def test_prices_are_shown_in_the_catalogues_currency(settings):
    """Issue 16: the pages printed "EUR" whatever the catalogue's currency."""
    from app.main import catalogue_heading
    from app.ui_common import cards_html
    from backend.served import active_index

    bundle = small_bundle()
    bundle.manifest["currency"] = "GBP"  # the items state none: they take the bundle's
    import_bundle(bundle, progress=False)
    assert active_index().get(["i-scarf"])[0]["currency"] == "GBP"
    stats, label = catalogue_heading()
    assert "£420 – £7\\,800" in stats and "EUR" not in stats
    assert label["label"] == "Max price (GBP)"
    rows, _ = on_search("silk scarf with lemons", "", None)
    assert rows[0][:1] + rows[0][4:5] == ["i-scarf", "£420"]
    # a shortlist's items do not carry their currency: the card shows the catalogue's
    assert '<span class="price">£420</span>' in cards_html([{"item_id": "i-scarf", "title": "Scarf", "price": 420.0}])
