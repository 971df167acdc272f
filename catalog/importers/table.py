"""A retailer's plain catalogue table (CSV or JSON lines) turned into a bundle.

A real retailer's export rarely uses the bundle's field names, so a mapping says which column
feeds which field (`--map title=Name,price=Price,brand=Maker`). Columns that the mapping does not
name are used as they are when their name already is a field name (`title`, `price`, ...), and
kept as attributes under their own name otherwise. Every row is then checked like a bundle row:
a bad row is reported as `file:line: reason`, skipped and counted. Finally the brand, category,
materials and colours that a row does not state are derived from its title and description
(`catalog.derive`).

Problems with the whole file (an unsupported suffix, a mapping that names a column the file does
not have, no title column) raise `ConciergeError` before any row is imported.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from pathlib import Path

from catalog.bundle import Bundle, ValidationReport, keep_unique, clean_item, read_jsonl, read_lines
from catalog.derive import derive_catalogue, fold
from catalog.errors import ConciergeError
from catalog.prices import catalogue_currency, header_currency

ITEM_FIELDS = ("item_id", "title", "brand", "category", "price", "currency", "description")
CSV_SUFFIXES = (".csv",)
JSONL_SUFFIXES = (".jsonl", ".json-lines")
DELIMITERS = (",", ";", "\t")

# Attributes that the bundle format holds as lists even when a row names a single value.
LIST_ATTRIBUTES = ("material", "colour", "season", "occasion")

# Common column names for an attribute, mapped to the bundle's name for it.
ATTRIBUTE_ALIASES = {
    "color": "colour",
    "colors": "colour",
    "colours": "colour",
    "materials": "material",
    "seasons": "season",
    "occasions": "occasion",
    "country_of_origin": "origin",
    "made_in": "origin",
}

MAP_EXAMPLE = "--map title=Name,price=Price,brand=Maker"

# ----------------------------------------------------------------------------------------------
# The mapping


def column_key(name: str) -> str:
    """A column or target name as a field or attribute key: "Item ID" -> "item_id"."""
    key = re.sub(r"[^0-9a-z]+", "_", fold(str(name))).strip("_")
    return ATTRIBUTE_ALIASES.get(key, key)


def parse_map(text: str | None) -> dict[str, str]:
    """Parse a column mapping written as `TARGET=COLUMN` pairs separated by commas.

    Args:
        text (`str | None`): e.g. "title=Name,price=Price,brand=Maker". Empty or None means no
            mapping.

    Returns:
        `dict[str, str]`: target field -> source column, e.g. {"title": "Name", ...}. Targets are
        normalised like column names ("Item ID" -> "item_id", "color" -> "colour").

    Raises:
        `ConciergeError`: when a pair is not `TARGET=COLUMN`, or a target is named twice.
    """
    if text is None or not text.strip():
        return {}
    mapping: dict[str, str] = {}
    for pair in text.split(","):
        if not pair.strip():
            continue  # a trailing or doubled comma is harmless
        target, sep, column = pair.partition("=")
        key, column = column_key(target), column.strip()
        if not sep or not key or not column:
            raise ConciergeError(
                f"--map: {pair.strip()!r} is not TARGET=COLUMN; write pairs separated by commas, "
                f"e.g. {MAP_EXAMPLE}"
            )
        if key in mapping:
            raise ConciergeError(f"--map names the target {key!r} twice ({mapping[key]!r} and {column!r}); "
                                 "keep one")
        mapping[key] = column
    return mapping


def _resolve_mapping(mapping: dict[str, str], columns: list[str], where: str) -> dict[str, str]:
    """Target -> the actual column name; a column may be matched ignoring case."""
    by_fold = {}
    for column in columns:
        by_fold.setdefault(column.casefold(), []).append(column)
    resolved = {}
    for target, source in mapping.items():
        if source in columns:
            resolved[column_key(target)] = source
        elif len(by_fold.get(source.casefold(), [])) == 1:
            resolved[column_key(target)] = by_fold[source.casefold()][0]
        else:
            raise ConciergeError(f"--map {target}={source}: column {source!r} is not in {where} "
                                 f"(columns: {_shown(columns)})")
    return resolved


def _plan(mapping: dict[str, str], columns: list[str], where: str) -> list[tuple[str, str]]:
    """(column, target) pairs: mapped columns first, then the unmapped ones by their own name.

    An unmapped column whose name is a target the mapping already fills is left out: the mapping
    is the user's explicit choice.
    """
    plan = list(_resolve_mapping(mapping, columns, where).items())
    plan = [(column, target) for target, column in plan]
    mapped_columns = {column for column, _ in plan}
    mapped_targets = {target for _, target in plan}
    implicit: dict[str, str] = {}
    for column in columns:
        key = column_key(column)
        if column in mapped_columns or not key or key == "attributes" or key in mapped_targets:
            continue
        if key in implicit:
            raise ConciergeError(f"columns {implicit[key]!r} and {column!r} of {where} both mean {key!r}; "
                                 f"choose one with --map {key}=COLUMN")
        implicit[key] = column
        plan.append((column, key))
    return plan


def _shown(columns: list[str], limit: int = 30) -> str:
    shown = ", ".join(columns[:limit])
    return shown + (f", ... ({len(columns) - limit} more)" if len(columns) > limit else "")


# ----------------------------------------------------------------------------------------------
# Reading rows


def _unquoted_count(text: str, char: str) -> int:
    count, quoted = 0, False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == char and not quoted:
            count += 1
    return count


def _sniff_delimiter(header: str) -> str:
    """The delimiter used most often in the header line; a comma when none is used."""
    counts = {d: _unquoted_count(header, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties go to the earlier, i.e. the comma
    return best if counts[best] else ","


def _ends_inside_quotes(text: str, delimiter: str) -> bool:
    """Whether a CSV record is cut inside a quoted field (a value spanning several lines).

    Follows the csv module's rules: a quote opens a field only at the field's start, and a
    doubled quote inside a quoted field is a literal quote.
    """
    quoted, at_field_start, i = False, True, 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == '"':
                if i + 1 < len(text) and text[i + 1] == '"':
                    i += 1
                else:
                    quoted = False
        elif ch == '"' and at_field_start:
            quoted = True
        at_field_start = not quoted and ch in (delimiter, "\n")
        i += 1
    return quoted


def _records(lines: list[tuple[int, str]], delimiter: str, name: str, report: ValidationReport):
    """Join lines into CSV records, each with the number of the line it starts on."""
    records, buffer, start = [], None, 0
    for number, text in lines:
        buffer, start = (text, number) if buffer is None else (f"{buffer}\n{text}", start)
        if not _ends_inside_quotes(buffer, delimiter):
            records.append((start, buffer))
            buffer = None
    if buffer is not None:
        report.reject(name, start, "a quoted value opened on this line is never closed; "
                      "check for a stray double quote")
    return records


def _read_csv(path: Path, report: ValidationReport) -> tuple[list[tuple[int, dict]], list[str]]:
    """Rows as {column: value} with their line numbers, and the header's columns in order."""
    lines = read_lines(path, report)
    if not lines:
        return [], []
    first_line = lines[0][0]
    if any(p.file == path.name and 0 < p.line < first_line for p in report.problems):
        raise ConciergeError(f"the header of {path.name} is not valid UTF-8; re-save the file as UTF-8 "
                             "(in Excel: CSV UTF-8)")
    delimiter = _sniff_delimiter(lines[0][1])
    records = _records(lines, delimiter, path.name, report)
    header = [h.strip() for h in next(csv.reader([records[0][1]], delimiter=delimiter))]
    named = [h for h in header if h]
    repeated = sorted({h for h in named if named.count(h) > 1})
    if repeated:
        raise ConciergeError(f"column {repeated[0]!r} appears more than once in the header of {path.name}; "
                             "rename one of them")
    rows = []
    for number, text in records[1:]:
        try:
            values = [v.strip() for v in next(csv.reader([text], delimiter=delimiter))]
        except csv.Error as exc:
            report.reject(path.name, number, f"unreadable CSV row ({exc})")
            continue
        while len(values) > len(header) and not values[-1]:
            values.pop()  # spreadsheets pad rows with empty trailing cells
        if len(values) != len(header):
            report.reject(path.name, number, f"expected {len(header)} columns, found {len(values)} "
                          "(a value containing the delimiter must be quoted)")
            continue
        rows.append((number, {h: v for h, v in zip(header, values) if h}))
    return rows, named


def _read_jsonl_rows(path: Path, report: ValidationReport) -> tuple[list[tuple[int, dict]], list[str]]:
    """Rows of a JSON-lines file, and every key used by any row, in order of first use."""
    rows = read_jsonl(path, report)
    keys: dict[str, None] = {}
    for _, row in rows:
        keys.update(dict.fromkeys(str(k) for k in row))
    return rows, list(keys)


# ----------------------------------------------------------------------------------------------
# Rows to items


def stable_id(title: str, brand: str = "") -> str:
    """An item id derived from title and brand, the same on every import of the same row."""
    digest = hashlib.sha1(f"{title.strip()}|{brand.strip()}".encode()).hexdigest()
    return f"sku-{digest[:10]}"


def _is_empty(value) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def _attribute_value(key: str, value):
    if isinstance(value, str):
        if "|" in value or ";" in value:
            return [part.strip() for part in re.split(r"[|;]", value) if part.strip()]
        return [value] if key in LIST_ATTRIBUTES else value
    if key in LIST_ATTRIBUTES and not isinstance(value, list):
        return [value]
    return value


def _to_item(row: dict, plan: list[tuple[str, str]], make_id: bool) -> dict:
    """One table row as an item row, not yet checked. Raises ValueError for a bad row."""
    item: dict = {}
    nested = row.get("attributes") or {}
    if not isinstance(nested, dict):
        raise ValueError(f"attributes must be an object, got {type(nested).__name__}")
    attributes = dict(nested)
    for column, target in plan:
        value = row.get(column)
        if isinstance(value, str):
            value = value.strip()
        if _is_empty(value):
            continue
        if target in ITEM_FIELDS:
            item[target] = value
        else:
            attributes[target] = _attribute_value(target, value)
    if make_id:
        title, brand = (item.get(k) if isinstance(item.get(k), str) else "" for k in ("title", "brand"))
        item["item_id"] = stable_id(title, brand)
    item["attributes"] = attributes
    return item


# ----------------------------------------------------------------------------------------------
# The importer


def read_table(
    path: str | os.PathLike, mapping: dict[str, str] | None = None
) -> tuple[Bundle, ValidationReport]:
    """Import a plain CSV or JSON-lines catalogue as a bundle.

    Args:
        path (`str | PathLike`): a `.csv` file (comma, semicolon or tab separated, UTF-8 with or
            without a byte-order mark) or a `.jsonl` / `.json-lines` file.
        mapping (`dict[str, str] | None`): target field -> source column, as `parse_map` returns.
            Targets `item_id`, `title`, `brand`, `category`, `price`, `currency`, `description`
            fill the item; any other target becomes an attribute.

    Returns:
        `tuple[Bundle, ValidationReport]`: a bundle named after the file holding the good items,
        with missing brand/category/material/colour/season derived from their text; and every
        bad row as `file:line: reason`.

    Raises:
        `ConciergeError`: when the file is missing, its type is not supported, it is UTF-16, its
        header is unreadable or repeats a column, it has no title column, or the mapping names a
        column the file does not have.
    """
    path = Path(path)
    if not path.is_file():
        raise ConciergeError(f"{path} does not exist or is not a file")
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES + JSONL_SUFFIXES:
        accepted = ", ".join(CSV_SUFFIXES + JSONL_SUFFIXES)
        raise ConciergeError(f"{path.name}: unsupported file type {suffix or '(no suffix)'!r}; "
                             f"a catalogue table must be one of {accepted}")
    with open(path, "rb") as f:
        if f.read(2) in (b"\xff\xfe", b"\xfe\xff"):
            raise ConciergeError(f"{path.name} is UTF-16 encoded; re-save it as UTF-8 (in Excel: CSV UTF-8)")

    report = ValidationReport()
    if suffix in CSV_SUFFIXES:
        rows, columns = _read_csv(path, report)
        where = f"the header of {path.name}"
    else:
        rows, columns = _read_jsonl_rows(path, report)
        where = f"any row of {path.name}"
    manifest = {"name": path.stem, "source": "table"}
    if not columns:
        return Bundle(manifest=manifest), report  # empty or unreadable: the report says why

    plan = _plan(mapping or {}, columns, where)
    targets = {target for _, target in plan}
    if "title" not in targets:
        raise ConciergeError(f"{path.name} has no title column (columns: {_shown(columns)}); "
                             f"name the column that holds the product name, e.g. --map title=Name")
    make_id = "item_id" not in targets
    # a currency named in the price column's header ("RRP GBP") holds for the rows that state none
    stated = header_currency(next((column for column, target in plan if target == "price"), None))

    def clean(row: dict) -> dict:
        item = _to_item(row, plan, make_id)
        if stated and "currency" not in item:
            item["currency"] = stated
        return clean_item(item)

    items = keep_unique(rows, "item_id", clean, path.name, report)
    # clean_item has checked that a stated brand is a string
    brands = sorted({item["brand"].strip() for item in items if item.get("brand")})
    items = derive_catalogue(items, brands)
    if currency := catalogue_currency(items):
        manifest["currency"] = currency
    return Bundle(manifest=manifest, items=items), report
