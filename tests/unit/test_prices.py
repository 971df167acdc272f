"""Prices read as retailers write them (price-parser) and shown in their currency (babel): catalog/prices.py."""

import pytest

from catalog.prices import catalogue_currency, currency_code, format_price, header_currency, read_price


@pytest.mark.parametrize("text, expected", [
    ("1.250 €", (1250.0, "EUR")), ("1 250 EUR", (1250.0, "EUR")), ("2.400,00 €", (2400.0, "EUR")),
    ("US$ 1,200", (1200.0, "USD")), ("€1,250.00", (1250.0, "EUR")), ("CHF 980", (980.0, "CHF")),
    ("12,50", (12.5, None)), ("1,250", (1250.0, None)), ("1.250.000", (1250000.0, None)), ("0.500", (0.5, None)),
    ("1234.567", (1234.567, None)), ("9.99", (9.99, None)), ("1\u00a0250,00 €", (1250.0, "EUR")),
    ("kr 200", (200.0, "kr")), (420, (420.0, None)), (7.5, (7.5, None)), (None, (None, None)), ("  ", (None, None)),
])
def test_read_price(text, expected):
    assert read_price(text) == expected


@pytest.mark.parametrize("value, message", [
    ("-5", "must not be negative"), ("€ -5", "must not be negative"), (-1, "must not be negative"),
    ("NaN", "must be a finite number"), (float("inf"), "must be a finite number"), ("on request", "must be a number"),
    ("12 or 13", "must be a number"), ("1e3", "must be a number"), ("EUR", "must be a number"), (True, "a number"),
    ([12], "must be a number"),
])
def test_what_is_not_a_price_says_so(value, message):
    with pytest.raises(ValueError, match=message):
        read_price(value)


@pytest.mark.parametrize("written, code", [("€", "EUR"), ("eur", "EUR"), ("US$", "USD"), ("$", "USD"),
                                           ("£", "GBP"), ("Fr.", "CHF"), ("kr", "kr"), ("", None), (None, None)])
def test_currency_code(written, code):
    assert currency_code(written) == code


@pytest.mark.parametrize("price, currency, text", [
    (1250, "EUR", "€1,250"), (58, "GBP", "£58"), (35.5, "USD", "$35.50"), (980, "CHF", "CHF 980"),
    (12000, "JPY", "¥12,000"), (200, "kr", "kr 200"), (1200, None, "1,200"), (1250, "€", "€1,250"),
    (None, "EUR", "price on request"),
])
def test_format_price(price, currency, text):
    assert format_price(price, currency) == text


def test_the_catalogue_currency_is_the_one_most_items_use():
    items = [{"currency": "GBP"}, {"currency": "£"}, {"currency": "EUR"}, {}]
    assert catalogue_currency(items) == "GBP"
    assert catalogue_currency([{}, {"title": "x"}]) is None


@pytest.mark.parametrize("column, code", [("RRP GBP", "GBP"), ("Price (EUR)", "EUR"), ("Prix TTC €", "EUR"),
                                          ("US$ price", "USD"), ("Price CHF", "CHF"), ("Price £", "GBP")])
def test_a_price_columns_header_may_name_its_currency(column, code):
    assert header_currency(column) == code


@pytest.mark.parametrize("column", ["Price", "PRICE", "Price (all)", "Cost", "RRP", "", None])
def test_a_header_without_a_currency_names_none(column):
    assert header_currency(column) is None
