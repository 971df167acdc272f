"""Importing a retailer's plain CSV / JSON-lines catalogue (catalog.importers.table)."""

import hashlib
import json
import re

import pytest

from catalog.bundle import read_bundle, write_bundle
from catalog.errors import ConciergeError
from catalog.importers.table import parse_map, read_table, stable_id


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def problems(report):
    return [str(p) for p in report.problems]


# ----------------------------------------------------------------------------------------------
# parse_map


def test_parse_map_reads_target_column_pairs():
    expected = {"title": "Name", "price": "Price", "brand": "Maker"}
    assert parse_map("title=Name, price=Price ,brand=Maker,") == expected


def test_parse_map_normalises_targets():
    assert parse_map("Item ID=SKU,color=Farbe") == {"item_id": "SKU", "colour": "Farbe"}


@pytest.mark.parametrize("text", [None, "", "  "])
def test_parse_map_of_nothing_is_empty(text):
    assert parse_map(text) == {}


@pytest.mark.parametrize("text", ["title", "title=", "=Name", "title:Name"])
def test_parse_map_rejects_bad_syntax_showing_the_expected_form(text):
    with pytest.raises(ConciergeError) as err:
        parse_map(text)
    assert "is not TARGET=COLUMN" in str(err.value)
    assert "e.g. --map title=Name,price=Price,brand=Maker" in str(err.value)


def test_parse_map_rejects_a_target_named_twice():
    with pytest.raises(ConciergeError, match="names the target 'title' twice"):
        parse_map("title=Name,title=Label")


# ----------------------------------------------------------------------------------------------
# Good paths


def test_csv_with_a_map(tmp_path):
    path = write(tmp_path, "maison.csv",
                 "SKU,Name,Cost,Maker,Fabric\n"
                 "A1,Kelly 28 bag in black Togo calfskin,9500,Hermès,\n"
                 "A2,Twilly in silk,190,Hermès,silk|cotton\n")
    mapping = parse_map("item_id=SKU,title=Name,price=Cost,brand=Maker,material=Fabric")
    bundle, report = read_table(path, mapping)
    assert report.ok, report.to_text()
    assert bundle.manifest == {"name": "maison", "source": "table"}
    first, second = bundle.items
    assert first["item_id"] == "A1"
    assert first["title"] == "Kelly 28 bag in black Togo calfskin"
    assert first["price"] == 9500.0
    assert first["brand"] == "Hermès"
    assert first["attributes"]["material"] == ["calfskin"]  # empty cell -> derived from the title
    assert second["attributes"]["material"] == ["silk", "cotton"]  # stated, split on "|"
    assert report.good == {"maison.csv": 2}


def test_csv_whose_header_already_uses_field_names(tmp_path):
    path = write(tmp_path, "shop.csv",
                 "\ufeffitem_id,Title,Price,Currency,Origin,Colour\n"
                 "B1,Horsebit loafer,890,EUR,Italy,Black\n")
    bundle, report = read_table(path)
    assert report.ok, report.to_text()
    (item,) = bundle.items
    assert item["item_id"] == "B1"  # the byte-order mark does not stick to the first column name
    assert item["title"] == "Horsebit loafer"
    assert item["price"] == 890.0
    assert item["currency"] == "EUR"
    assert item["category"] == "loafer"
    assert item["attributes"]["origin"] == "Italy"
    assert item["attributes"]["colour"] == ["Black"]  # a list attribute, as the bundle format has it


def test_jsonl(tmp_path):
    rows = [
        {"item_id": "C1", "title": "Saint Laurent Kate bag", "brand": "Saint Laurent", "price": 2300},
        {"item_id": "C2", "title": "Saint Laurent ivory silk blouse", "attributes": {"origin": "France"}},
    ]
    path = write(tmp_path, "feed.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    bundle, report = read_table(path)
    assert report.ok, report.to_text()
    assert [i["item_id"] for i in bundle.items] == ["C1", "C2"]
    blouse = bundle.items[1]
    assert blouse["brand"] == "Saint Laurent"  # derived: a brand other rows of the file state
    assert blouse["category"] == "blouse"
    assert blouse["attributes"] == {"origin": "France", "category_group": "ready-to-wear",
                                    "material": ["silk"], "colour": ["ivory"]}


def test_json_lines_suffix_and_mapped_keys(tmp_path):
    path = write(tmp_path, "feed.json-lines", '{"ref": "D1", "label": "Pearl earrings", "eur": "450"}\n')
    bundle, report = read_table(path, {"item_id": "ref", "title": "label", "price": "eur"})
    assert report.ok, report.to_text()
    assert bundle.items[0]["item_id"] == "D1"
    assert bundle.items[0]["price"] == 450.0
    assert bundle.items[0]["attributes"]["material"] == ["pearl"]


def test_semicolon_delimiter(tmp_path):
    path = write(tmp_path, "fr.csv",
                 "title;price;brand;care\n"
                 'Foulard en soie;"1,250";Hermès;"dry clean; no iron"\n')
    bundle, report = read_table(path)
    assert report.ok, report.to_text()
    (item,) = bundle.items
    assert item["title"] == "Foulard en soie"
    assert item["price"] == 1250.0
    assert item["category"] == "foulard"
    assert item["attributes"]["care"] == ["dry clean", "no iron"]


def test_a_quoted_value_may_span_lines(tmp_path):
    path = write(tmp_path, "shop.csv",
                 'item_id,title,description\n'
                 'E1,Silk scarf,"Hand-rolled edges.\nSays ""Paris"" on the corner."\n'
                 'E2,Wool coat,\n')
    bundle, report = read_table(path)
    assert report.ok, report.to_text()
    assert bundle.items[0]["description"] == 'Hand-rolled edges.\nSays "Paris" on the corner.'
    assert bundle.items[1]["item_id"] == "E2"


def test_stable_ids_when_the_file_has_no_id_column(tmp_path):
    path = write(tmp_path, "shop.csv", "title,brand\nKelly bag,Hermès\nBirkin bag,Hermès\n")
    bundle, _ = read_table(path)
    kelly = "sku-" + hashlib.sha1("Kelly bag|Hermès".encode()).hexdigest()[:10]
    assert [i["item_id"] for i in bundle.items] == [kelly, stable_id("Birkin bag", "Hermès")]
    assert kelly != stable_id("Kelly bag", "")


def test_price_with_a_currency_symbol(tmp_path):
    path = write(tmp_path, "shop.csv", "title,price\nBelt,\"€1,250.00\"\nWallet,CHF 980\n")
    bundle, report = read_table(path)
    assert report.ok, report.to_text()
    assert [(i["price"], i["currency"]) for i in bundle.items] == [(1250.0, "EUR"), (980.0, "CHF")]


@pytest.mark.parametrize("price, expected", [
    ("1.250 €", (1250.0, "EUR")),  # issue 16: read as 1.25
    ("1 250 EUR", (1250.0, "EUR")),  # issue 16: the currency was lost
    ("2.400,00 €", (2400.0, "EUR")),  # issue 16: the currency was lost
    ("US$ 1,200", (1200.0, "USD")),  # issue 16: refused
    ("1\u202f250,50 €", (1250.5, "EUR")), ("£58", (58.0, "GBP")), ("¥12,000", (12000.0, "JPY")),
    ("CHF 1'250.00", (1250.0, "CHF")), ("1.250,- €", (1250.0, "EUR")), ("A$ 300", (300.0, "AUD")),
])
def test_prices_as_retailers_write_them_keep_their_currency(tmp_path, price, expected):
    path = write(tmp_path, "shop.csv", f'title;price\nBelt;"{price}"\n')
    bundle, report = read_table(path)
    assert report.ok, report.to_text()
    assert (bundle.items[0]["price"], bundle.items[0].get("currency")) == expected


@pytest.mark.parametrize("price, reason", [
    ("€ -5", "price must not be negative, got '€ -5'"), ("12 or 13", "price must be a number, got '12 or 13'"),
    ("£1.5k", "price must be a number, got '£1.5k'"), ("EUR", "price must be a number, got 'EUR'"),
])
def test_what_is_not_one_price_is_reported(tmp_path, price, reason):
    path = write(tmp_path, "shop.csv", f'title;price\nBelt;"{price}"\nScarf;200\n')
    bundle, report = read_table(path)
    assert problems(report) == [f"shop.csv:2: {reason}"] and len(bundle.items) == 1


def test_imported_bundle_round_trips_through_the_bundle_format(tmp_path):
    path = write(tmp_path, "shop.csv", "title,price,material\nCashmere stole,700,cashmere\n")
    bundle, _ = read_table(path)
    again, report = read_bundle(write_bundle(bundle, tmp_path / "out"))
    assert report.ok, report.to_text()
    assert again.items == bundle.items


# ----------------------------------------------------------------------------------------------
# Bad rows: reported with file, line and reason; skipped and counted; the others kept


def test_malformed_json_line(tmp_path):
    path = write(tmp_path, "feed.jsonl",
                 '{"item_id": "A1", "title": "Tote"}\n'
                 '{"item_id": "A2", "title": "x"\n'
                 '{"item_id": "A3", "title": "Clutch"}\n')
    bundle, report = read_table(path)
    assert problems(report) == ["feed.jsonl:2: malformed JSON (Expecting ',' delimiter at column 31)"]
    assert [i["item_id"] for i in bundle.items] == ["A1", "A3"]


def test_jsonl_attributes_that_are_not_an_object(tmp_path):
    path = write(tmp_path, "feed.jsonl", '{"title": "Tote", "attributes": "leather"}\n{"title": "Clutch"}\n')
    bundle, report = read_table(path)
    assert problems(report) == ["feed.jsonl:1: attributes must be an object, got str"]
    assert [i["title"] for i in bundle.items] == ["Clutch"]


def test_missing_title(tmp_path):
    path = write(tmp_path, "shop.csv", "item_id,title,price\nA1,Tote,100\nA2,,200\n")
    bundle, report = read_table(path)
    assert problems(report) == ["shop.csv:3: missing required field 'title'"]
    assert [i["item_id"] for i in bundle.items] == ["A1"]
    assert (report.good, report.bad) == ({"shop.csv": 1}, {"shop.csv": 1})


def test_negative_price(tmp_path):
    path = write(tmp_path, "shop.csv", "item_id,title,price\nA1,Tote,-5\nA2,Clutch,200\n")
    bundle, report = read_table(path)
    assert problems(report) == ["shop.csv:2: price must not be negative, got '-5'"]
    assert [i["item_id"] for i in bundle.items] == ["A2"]


def test_non_numeric_price(tmp_path):
    path = write(tmp_path, "shop.csv", "item_id,title,price\nA1,Tote,on request\nA2,Clutch,200\n")
    _, report = read_table(path)
    assert problems(report) == ["shop.csv:2: price must be a number, got 'on request'"]


def test_duplicate_id(tmp_path):
    path = write(tmp_path, "shop.csv", "item_id,title\nA1,Tote\nA2,Clutch\nA1,Other tote\n")
    bundle, report = read_table(path)
    assert problems(report) == ["shop.csv:4: duplicate item_id 'A1' (first on line 2)"]
    assert [i["title"] for i in bundle.items] == ["Tote", "Clutch"]


def test_duplicate_generated_id(tmp_path):
    path = write(tmp_path, "shop.csv", "title,brand,price\nKelly bag,Hermès,9000\nKelly bag,Hermès,9500\n")
    bundle, report = read_table(path)
    generated = stable_id("Kelly bag", "Hermès")
    assert problems(report) == [f"shop.csv:3: duplicate item_id '{generated}' (first on line 2)"]
    assert len(bundle.items) == 1


def test_latin1_encoded_line_in_a_csv(tmp_path):
    text = "item_id,title,price\nA1,Tote,100\n".encode() + "A2,Crème scarf,300\n".encode("latin-1")
    bundle, report = read_table(write(tmp_path, "shop.csv", text))
    assert problems(report) == [
        "shop.csv:3: not valid UTF-8 (byte 0xe8 at column 6); re-save the file as UTF-8"
    ]
    assert [i["item_id"] for i in bundle.items] == ["A1"]


def test_row_with_the_wrong_number_of_columns(tmp_path):
    path = write(tmp_path, "shop.csv", "item_id,title,price\nA1,Tote,1,200\nA2,Clutch,300,,\n")
    bundle, report = read_table(path)
    assert problems(report) == [
        "shop.csv:2: expected 3 columns, found 4 (a value containing the delimiter must be quoted)"
    ]
    assert [i["item_id"] for i in bundle.items] == ["A2"]  # empty trailing cells are tolerated


def test_unclosed_quote(tmp_path):
    path = write(tmp_path, "shop.csv", 'item_id,title\nA1,Tote\nA2,"Clutch\nA3,Belt\n')
    bundle, report = read_table(path)
    assert problems(report) == [
        "shop.csv:3: a quoted value opened on this line is never closed; check for a stray double quote"
    ]
    assert [i["item_id"] for i in bundle.items] == ["A1"]


def test_zero_byte_file(tmp_path):
    bundle, report = read_table(write(tmp_path, "shop.csv", b""), parse_map("title=Name"))
    assert problems(report) == ["shop.csv:0: file is empty (0 rows); remove it or fill it"]
    assert bundle.items == []


# ----------------------------------------------------------------------------------------------
# Whole-file problems: ConciergeError before any row is imported


def test_mapping_names_a_column_missing_from_the_header(tmp_path):
    path = write(tmp_path, "shop.csv", "Name,Cost,Maker\nTote,100,Hermès\n")
    with pytest.raises(ConciergeError) as err:
        read_table(path, parse_map("title=Name,price=Price"))
    assert str(err.value) == (
        "--map price=Price: column 'Price' is not in the header of shop.csv (columns: Name, Cost, Maker)"
    )


def test_mapping_matches_a_column_ignoring_case(tmp_path):
    path = write(tmp_path, "shop.csv", "Name,Cost\nTote,100\n")
    bundle, _ = read_table(path, parse_map("title=name,price=COST"))
    assert (bundle.items[0]["title"], bundle.items[0]["price"]) == ("Tote", 100.0)


def test_the_mapping_wins_over_a_column_named_like_its_target(tmp_path):
    path = write(tmp_path, "shop.csv", "Name,title,price\nKelly 28,internal label,100\n")
    bundle, _ = read_table(path, parse_map("title=Name"))
    (item,) = bundle.items
    assert item["title"] == "Kelly 28"
    assert "title" not in item["attributes"]


def test_two_unmapped_columns_meaning_the_same_attribute(tmp_path):
    path = write(tmp_path, "shop.csv", "title,Color,Colour\nTote,Black,Noir\n")
    with pytest.raises(ConciergeError) as err:
        read_table(path)
    assert str(err.value) == ("columns 'Color' and 'Colour' of the header of shop.csv both mean 'colour'; "
                              "choose one with --map colour=COLUMN")
    bundle, _ = read_table(path, parse_map("colour=Colour"))
    assert bundle.items[0]["attributes"]["colour"] == ["Noir"]


def test_mapping_names_a_key_no_jsonl_row_has(tmp_path):
    path = write(tmp_path, "feed.jsonl", '{"label": "Tote"}\n')
    expected = "--map title=name: column 'name' is not in any row of feed.jsonl (columns: label)"
    with pytest.raises(ConciergeError, match=re.escape(expected)):
        read_table(path, {"title": "name"})


def test_unsupported_suffix(tmp_path):
    path = write(tmp_path, "catalogue.xlsx", b"PK\x03\x04")
    with pytest.raises(ConciergeError) as err:
        read_table(path)
    assert str(err.value) == (
        "catalogue.xlsx: unsupported file type '.xlsx'; "
        "a catalogue table must be one of .csv, .jsonl, .json-lines"
    )


def test_no_title_column(tmp_path):
    path = write(tmp_path, "shop.csv", "Name,Cost\nTote,100\n")
    with pytest.raises(ConciergeError, match=r"shop.csv has no title column \(columns: Name, Cost\)"):
        read_table(path)


def test_header_column_repeated(tmp_path):
    path = write(tmp_path, "shop.csv", "title,price,price\nTote,1,2\n")
    expected = "column 'price' appears more than once in the header of shop.csv"
    with pytest.raises(ConciergeError, match=expected):
        read_table(path)


def test_utf16_file(tmp_path):
    path = write(tmp_path, "shop.csv", "title\nTote\n", encoding="utf-16")
    with pytest.raises(ConciergeError, match="shop.csv is UTF-16 encoded; re-save it as UTF-8"):
        read_table(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConciergeError, match="does not exist"):
        read_table(tmp_path / "nope.csv")


def test_a_currency_in_the_price_columns_header_holds_for_rows_that_state_none(tmp_path):
    path = write(tmp_path, "cellar.csv",
                 "SKU,Product Name,RRP GBP,Currency\n"
                 "c1,Brut Reserve NV,42.00,\n"
                 "c2,Vintage Port 1997,95.00,EUR\n"
                 "c3,Crystal Decanter,180.00,\n")
    bundle, report = read_table(path, parse_map("item_id=SKU,title=Product Name,price=RRP GBP"))
    assert report.ok, report.to_text()
    assert [i["currency"] for i in bundle.items] == ["GBP", "EUR", "GBP"]  # a row's own currency wins
    assert bundle.manifest["currency"] == "GBP"
    plain = write(tmp_path, "plain.csv", "Name,Price\nScarf,190\n")
    bundle, _ = read_table(plain, parse_map("title=Name"))
    assert "currency" not in bundle.items[0] and "currency" not in bundle.manifest
