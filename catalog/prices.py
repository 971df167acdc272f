"""Prices and currencies: read as retailers write them (`price-parser`), shown as people read them (`babel`).

    read_price("1.250 €")      -> (1250.0, "EUR")
    read_price("US$ 1,200")    -> (1200.0, "USD")
    format_price(1250, "EUR")  -> "€1,250"
    format_price(58, "GBP")    -> "£58"

Every place that shows a price (the UIs, the CLI) goes through `format_price`, with the item's currency or,
when an item does not say, the catalogue's (`catalogue_currency`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_currency, format_decimal, list_currencies
from price_parser import Price

DISPLAY_LOCALE = "en"  # the language of the UI
NO_PRICE = "price on request"

# Symbols as retailers write them -> ISO 4217. "$" alone is read as US dollars and "¥" as yen; a symbol not
# here (e.g. "kr", which is Swedish, Danish or Norwegian) is kept as written.
SYMBOLS = {"€": "EUR", "$": "USD", "US$": "USD", "USD$": "USD", "£": "GBP", "¥": "JPY", "円": "JPY", "A$": "AUD",
           "AU$": "AUD", "C$": "CAD", "CA$": "CAD", "HK$": "HKD", "S$": "SGD", "NZ$": "NZD", "R$": "BRL",
           "Fr.": "CHF", "SFr.": "CHF", "₹": "INR", "₩": "KRW", "₽": "RUB", "₺": "TRY", "zł": "PLN", "Kč": "CZK",
           "元": "CNY", "RMB": "CNY", "₪": "ILS", "฿": "THB", "₫": "VND", "₱": "PHP", "₦": "NGN"}
_NOT_FINITE = {"nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
# What may remain of a price once its currency is taken out: digits, group and decimal marks, a sign.
_NUMBER_ONLY = re.compile(r"[\d\s.,'’\u00a0\u202f\u2009+-]+")
_PLAIN_DECIMAL = re.compile(r"0\.\d+|\d{4,}\.\d+")  # "0.500", "1234.567": a decimal point, not a thousands dot


@lru_cache(maxsize=1)
def _iso_codes() -> frozenset[str]:
    return frozenset(list_currencies())


def currency_code(written: str | None) -> str | None:
    """The ISO 4217 code of a currency as written ("€" -> "EUR", "US$" -> "USD", "eur" -> "EUR").

    Returns:
        `str | None`: the code; the text as written when it is no known code or symbol; None for nothing.
    """
    text = (written or "").strip()
    if not text:
        return None
    if text.upper() in _iso_codes():
        return text.upper()
    return SYMBOLS.get(text, text)


def header_currency(column: str | None) -> str | None:
    """The currency a column's name states for its prices ("RRP GBP", "Price (EUR)", "Price £" -> the code), as
    retailers' exports often write it in the header rather than in each cell; None when the name states none.
    Only an upper-case ISO 4217 code or a currency symbol counts ("Price (all)" is no Albanian lek)."""
    for token in re.findall(r"[A-Z]{3}(?![A-Za-z])|(?<![A-Za-z])[A-Z]{1,3}\$|[^\w\s()\[\]{}/.,:;'\"-]", column or ""):
        code = currency_code(token)
        if code in _iso_codes():
            return code
    return None


def read_price(value) -> tuple[float | None, str | None]:
    """A price and the currency written with it, as a retailer's file states them.

    Args:
        value: a number, or text such as "1.250 €", "1 250 EUR", "2.400,00 €", "US$ 1,200", "12,50";
            None or "" for no price.

    Returns:
        `tuple[float | None, str | None]`: the amount (None for no price) and the ISO 4217 code of the
        currency written with it (None when none is written).

    Raises:
        `ValueError`: not a price (words, several numbers), not finite, or negative.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"price must be a number, got {value!r}")
    if isinstance(value, str):
        amount, currency = _read_text(value)
    else:
        amount, currency = float(value), None
    if math.isnan(amount) or math.isinf(amount):
        raise ValueError(f"price must be a finite number, got {value!r}")
    if amount < 0:
        raise ValueError(f"price must not be negative, got {value!r}")
    return amount, currency


def _read_text(value: str) -> tuple[float, str | None]:
    text = value.strip()
    if text.lower() in _NOT_FINITE:
        return float(text), None
    parsed = Price.fromstring(text)
    rest = text.replace(parsed.currency, " ", 1) if parsed.currency else text
    if parsed.amount is None or not _NUMBER_ONLY.fullmatch(rest) or not any(c.isdigit() for c in rest):
        raise ValueError(f"price must be a number, got {value!r}")
    number = rest.strip()
    amount = Decimal(number) if _PLAIN_DECIMAL.fullmatch(number) else parsed.amount
    sign = -1 if number.startswith("-") else 1  # price-parser drops the sign
    return sign * float(amount), currency_code(parsed.currency)


def format_price(price, currency: str | None = None, locale: str = DISPLAY_LOCALE) -> str:
    """A price as people read it: "€1,250", "£58", "$35.50", "CHF 980"; whole amounts without cents.

    Args:
        price: the amount (None or "" for no price).
        currency (`str | None`): an ISO 4217 code, or a symbol as written; None: the number alone.
        locale (`str`): the language the number is written in.

    Returns:
        `str`: the text; "price on request" when there is no price.
    """
    if price in (None, ""):
        return NO_PRICE
    amount = float(price)
    pattern = "#,##0" if amount == int(amount) else "#,##0.00"
    code = currency_code(currency)
    if code is None:
        return format_decimal(amount, format=pattern, locale=locale)
    if code not in _iso_codes():
        return f"{code} {format_decimal(amount, format=pattern, locale=locale)}"
    text = format_currency(amount, code, format="¤" + pattern, currency_digits=False, locale=locale)
    return re.sub(r"^([^\W\d_]{2,}\.?)(?=\d)", r"\1 ", text)  # "CHF980" -> "CHF 980"; "€980" stays


def catalogue_currency(items: list[dict]) -> str | None:
    """The currency most of a catalogue's items are priced in (None when none says)."""
    counts = Counter(code for item in items if (code := currency_code(item.get("currency"))))
    return counts.most_common(1)[0][0] if counts else None
