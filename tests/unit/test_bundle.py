"""The bundle format: round trip, and a precise report for every kind of bad row."""

import json

import pytest

from catalog.bundle import read_bundle, validate_bundle, write_bundle
from catalog.errors import ConciergeError
from tests.fixtures.small import small_bundle


@pytest.fixture
def bundle_dir(tmp_path):
    return write_bundle(small_bundle(), tmp_path / "small")


def append(path, text: str | bytes) -> None:
    with open(path, "ab") as f:
        f.write(text if isinstance(text, bytes) else text.encode())


def item_line(**fields) -> str:
    return json.dumps({"item_id": "i-new", "title": "New thing", **fields}, ensure_ascii=False) + "\n"


def test_round_trip_keeps_every_row(bundle_dir):
    bundle, report = read_bundle(bundle_dir)
    assert report.ok, report.to_text()
    assert bundle.counts() == {"items": 4, "clients": 2, "interactions": 3, "queries": 2}
    assert bundle.digest() == small_bundle().digest()
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    assert manifest["counts"]["items"] == 4 and manifest["name"] == "small"


def test_write_replaces_a_previous_bundle_whole(bundle_dir):
    smaller = small_bundle()
    smaller.items = smaller.items[:1]
    smaller.interactions, smaller.queries = [], []
    write_bundle(smaller, bundle_dir)
    assert not (bundle_dir / "interactions.csv").exists()
    assert read_bundle(bundle_dir)[0].counts()["items"] == 1


@pytest.mark.parametrize("line, reason", [
    ("{not json\n", "items.jsonl:5: malformed JSON"),
    ('["a list"]\n', "items.jsonl:5: expected a JSON object, got list"),
    (json.dumps({"title": "No id"}) + "\n", "items.jsonl:5: missing required field 'item_id'"),
    (json.dumps({"item_id": "x"}) + "\n", "items.jsonl:5: missing required field 'title'"),
    (item_line(price=-5), "items.jsonl:5: price must not be negative, got -5"),
    (item_line(price="cheap"), "items.jsonl:5: price must be a number, got 'cheap'"),
    (item_line(price=float("nan")).replace("NaN", '"NaN"'), "items.jsonl:5: price must be a finite number"),
    (item_line(attributes=["silk"]), "items.jsonl:5: attributes must be an object, got list"),
    (json.dumps({"item_id": "i-tote", "title": "Again"}) + "\n",
     "items.jsonl:5: duplicate item_id 'i-tote' (first on line 2)"),
])
def test_bad_item_rows_are_reported_skipped_and_counted(bundle_dir, line, reason):
    append(bundle_dir / "items.jsonl", line)  # four good rows, then this one on line 5
    bundle, report = read_bundle(bundle_dir)
    texts = [str(p) for p in report.problems]
    assert any(t.startswith(reason) for t in texts), texts
    assert report.bad["items.jsonl"] == 1 and report.good["items.jsonl"] == 4
    assert len(bundle.items) == 4  # the good rows are all kept
    assert "items.jsonl: 4 good, 1 bad" in report.summary()


# Issue 16, D9: a 1 MB title, a 2 MB description, a 200 KB attribute value and an HTML item_id were imported.
@pytest.mark.parametrize("line, reason", [
    (item_line(title="x" * 1_000_000), "items.jsonl:5: title has 1,000,000 characters; the limit is 300"),
    (item_line(description="d" * 2_000_000),
     "items.jsonl:5: description has 2,000,000 characters; the limit is 5,000"),
    (item_line(attributes={"care": "c" * 200_000}),
     "items.jsonl:5: a value of attribute 'care' has 200,000 characters; the limit is 500"),
    (item_line(attributes={"notes": ["fig", "n" * 501]}),
     "items.jsonl:5: a value of attribute 'notes' has 501 characters; the limit is 500"),
    (item_line(attributes={"notes": ["fig"] * 51}), "items.jsonl:5: attribute 'notes' has 51 values; the limit is 50"),
    (item_line(attributes={f"k{i}": "v" for i in range(201)}), "items.jsonl:5: the item has 201 attributes"),
    (item_line(attributes={"k" * 65: "v"}), "items.jsonl:5: attribute name 'kkkkk"),
    (item_line(brand="b" * 121), "items.jsonl:5: brand has 121 characters; the limit is 120"),
    (json.dumps({"item_id": "<img src=x onerror=alert(1)>", "title": "Probe"}) + "\n",
     "items.jsonl:5: item_id '<img src=x onerror=alert(1)>' has a character an id may not hold; use letters"),
    (json.dumps({"item_id": "a b", "title": "Probe"}) + "\n", "items.jsonl:5: item_id 'a b' has a character"),
    (json.dumps({"item_id": "i" * 65, "title": "Probe"}) + "\n", "items.jsonl:5: item_id has 65 characters; the "
     "limit is 64"),
])
def test_rows_over_the_field_limits_are_reported_skipped_and_counted(bundle_dir, line, reason):
    test_bad_item_rows_are_reported_skipped_and_counted(bundle_dir, line, reason)


def test_fields_at_the_limits_are_kept(bundle_dir):
    from catalog import bundle as limits

    append(bundle_dir / "items.jsonl", item_line(
        item_id="Sku.9_a:b/c#d+e@f-" + "9" * (limits.MAX_ID_CHARS - 18), title="t" * limits.MAX_TITLE_CHARS,
        description="d" * limits.MAX_DESCRIPTION_CHARS,
        attributes={"k" * limits.MAX_ATTRIBUTE_KEY_CHARS: ["v" * limits.MAX_ATTRIBUTE_VALUE_CHARS]
                    * limits.MAX_ATTRIBUTE_VALUES}))
    bundle, report = read_bundle(bundle_dir)
    assert report.ok, report.to_text()
    assert len(bundle.items) == 5


def test_client_and_query_fields_have_limits_too(bundle_dir):
    append(bundle_dir / "clients.jsonl",
           json.dumps({"client_id": "c-3", "name": "n" * 201}) + "\n" +
           json.dumps({"client_id": "c-4", "notes": ["x" * 2001]}) + "\n" +
           json.dumps({"client_id": "c 5"}) + "\n")
    append(bundle_dir / "queries.jsonl", json.dumps({"query_id": "q-3", "text": "q" * 2001}) + "\n")
    _, report = read_bundle(bundle_dir)
    assert [str(p) for p in report.problems] == [
        "clients.jsonl:3: name has 201 characters; the limit is 200",
        "clients.jsonl:4: a note has 2,001 characters; the limit is 2,000",
        "clients.jsonl:5: client_id 'c 5' has a character an id may not hold; use letters, digits and . _ : / # + @ -, "
        "starting with a letter or digit",
        "queries.jsonl:3: text has 2,001 characters; the limit is 2,000",
    ]


def test_boolean_attributes_are_kept_and_read(bundle_dir):
    """Issue 16: `"fragrance_free": true` was refused; real catalogues have such flags."""
    from backend.graphs import attribute_nodes
    from backend.index import item_document

    append(bundle_dir / "items.jsonl", item_line(attributes={"fragrance_free": True, "vegan": False,
                                                              "claims": ["clean", True]}))
    bundle, report = read_bundle(bundle_dir)
    assert report.ok, report.to_text()
    item = bundle.items[-1]
    assert item["attributes"] == {"fragrance_free": True, "vegan": False, "claims": ["clean", True]}
    assert {"fragrance_free=true", "vegan=false"} <= {node for _, node in attribute_nodes(item)}
    assert "fragrance_free: fragrance free" in item_document(item)


def test_cards_show_a_true_flag_as_yes():
    from app.ui_common import cards_html

    html = cards_html([{"item_id": "i-1", "title": "Balm", "price": None, "rank": 1,
                        "attributes": {"fragrance_free": True, "vegan": False, "colour": ["pink", True]}}])
    assert "<li>fragrance free: yes</li>" in html and "<li>colour: pink, yes</li>" in html and "vegan" not in html


def test_non_utf8_line_is_reported_with_its_byte(bundle_dir):
    append(bundle_dir / "items.jsonl", item_line(title="Caf\u00e9").encode("latin-1"))
    _, report = read_bundle(bundle_dir)
    assert [str(p) for p in report.problems] == [
        "items.jsonl:5: not valid UTF-8 (byte 0xe9 at column 35); re-save the file as UTF-8"]


def test_interactions_with_unknown_ids_kind_or_time_are_rejected(bundle_dir):
    append(bundle_dir / "interactions.csv", "c-404,i-tote,2025-01-01T00:00:00Z,purchase,1\n"
                                            "c-1,i-404,2025-01-01T00:00:00Z,purchase,1\n"
                                            "c-1,i-tote,2025-01-01T00:00:00Z,stole,1\n"
                                            "c-1,i-tote,yesterday,view,1\n"
                                            "c-1,i-tote,2025-01-01T00:00:00Z,rating,five\n"
                                            "c-1,i-tote\n")
    bundle, report = read_bundle(bundle_dir)
    assert [str(p) for p in report.problems] == [
        "interactions.csv:5: unknown client_id 'c-404' (not in clients.jsonl)",
        "interactions.csv:6: unknown item_id 'i-404' (not in items.jsonl)",
        "interactions.csv:7: kind must be one of purchase|wishlist|view|return|rating, got 'stole'",
        "interactions.csv:8: timestamp 'yesterday' is neither ISO 8601 nor a Unix time",
        "interactions.csv:9: value must be a number, got 'five'",
        "interactions.csv:10: expected 5 columns, found 2",
    ]
    assert len(bundle.interactions) == 3


def test_interactions_header_must_name_the_columns(bundle_dir):
    (bundle_dir / "interactions.csv").write_text("who,what\nc-1,i-tote\n")
    _, report = read_bundle(bundle_dir)
    assert str(report.problems[0]).startswith("interactions.csv:1: header lacks column(s) client_id, item_id, "
                                              "timestamp, kind")


def test_queries_with_unknown_items_or_bad_grades_are_rejected(bundle_dir):
    append(bundle_dir / "queries.jsonl",
           json.dumps({"query_id": "q-3", "client_id": "c-1", "text": "x", "relevant": {"i-404": 2}}) + "\n" +
           json.dumps({"query_id": "q-4", "client_id": "c-1", "text": "x", "relevant": {"i-tote": 7}}) + "\n" +
           json.dumps({"query_id": "q-5", "client_id": "c-1", "text": "x", "split": "dev"}) + "\n")
    _, report = read_bundle(bundle_dir)
    assert [str(p) for p in report.problems] == [
        "queries.jsonl:3: relevant item 'i-404' is not in items.jsonl",
        "queries.jsonl:4: grade of 'i-tote' must be an integer 1..3, got 7",
        "queries.jsonl:5: split must be one of train, val, test, got 'dev'",
    ]


def test_empty_file_is_reported(bundle_dir):
    (bundle_dir / "clients.jsonl").write_bytes(b"")
    bundle, report = read_bundle(bundle_dir)
    assert "clients.jsonl:0: file is empty (0 rows); remove it or fill it" in [str(p) for p in report.problems]
    # with no clients, the interactions that name them are rejected too, and nothing else breaks
    assert len(bundle.items) == 4


def test_validate_returns_the_report(bundle_dir):
    assert validate_bundle(bundle_dir).ok
    append(bundle_dir / "items.jsonl", "oops\n")
    assert not validate_bundle(bundle_dir).ok


def test_a_directory_that_is_not_a_bundle_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ConciergeError, match=r"is not a bundle: it has no items.jsonl \(found: notes.txt\)"):
        read_bundle(tmp_path)
    with pytest.raises(ConciergeError, match="is a file, not a bundle directory"):
        read_bundle(tmp_path / "notes.txt")
    with pytest.raises(ConciergeError, match="does not exist"):
        read_bundle(tmp_path / "missing")


def test_a_broken_manifest_is_reported_and_the_rows_still_read(bundle_dir):
    (bundle_dir / "manifest.json").write_text("{broken")
    bundle, report = read_bundle(bundle_dir)
    assert str(report.problems[0]).startswith("manifest.json:0: unreadable manifest")
    assert bundle.name == "small" and len(bundle.items) == 4


@pytest.mark.parametrize("text, price", [("1,250.00", 1250.0), ("12,50", 12.5), ("980", 980.0), (" 7 ", 7.0),
                                         ("2.400,00", 2400.0), ("1.250.000", 1250000.0), ("€ 1 250", 1250.0),
                                         ("2400 EUR", 2400.0), ("1,250", 1250.0), ("0.500", 0.5), ("35.0", 35.0)])
def test_prices_written_as_text_are_read_as_people_mean_them(text, price):
    from catalog.prices import read_price

    assert read_price(text)[0] == price


def test_a_price_written_with_its_currency_gives_the_item_its_currency(bundle_dir):
    """Issue 16: "1.250 €" was read as 1.25, and the currency of "2.400,00 €" was lost."""
    append(bundle_dir / "items.jsonl", item_line(item_id="i-a", price="1.250 €") + item_line(item_id="i-b",
           price="2.400,00 €", currency="eur") + item_line(item_id="i-c", price="US$ 1,200", currency="GBP"))
    bundle, report = read_bundle(bundle_dir)
    assert [(i["price"], i["currency"]) for i in bundle.items[4:]] == [(1250.0, "EUR"), (2400.0, "EUR")]
    assert [str(p) for p in report.problems] == [
        "items.jsonl:7: price 'US$ 1,200' is in USD but the row's currency is GBP"]
