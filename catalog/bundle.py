"""The dataset bundle: read, validate and write the one exchange format.

A bundle is a directory (see ARCHITECTURE.md, "Dataset bundle"):

    manifest.json      {"name", "version", "currency", "created", "counts": {...}}
    items.jsonl        one item per line; `item_id` and `title` required
    clients.jsonl      one client per line; `client_id` required
    interactions.csv   client_id,item_id,timestamp,kind,value
    queries.jsonl      one evaluation query per line

Reading never stops at the first bad row: every bad row is reported as `file:line: reason`,
skipped and counted; good rows are kept. Only a directory that is not a bundle at all (no
items.jsonl) raises `ConciergeError`. A row with a value longer than the limits below, or an id
outside `ID_PATTERN`, is such a bad row.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from catalog.errors import ConciergeError
from catalog.prices import currency_code, read_price

BUNDLE_FILES = ("manifest.json", "items.jsonl", "clients.jsonl", "interactions.csv", "queries.jsonl")
INTERACTION_KINDS = ("purchase", "wishlist", "view", "return", "rating")
INTERACTION_COLUMNS = ("client_id", "item_id", "timestamp", "kind", "value")
SPLITS = ("train", "val", "test")

# --- Limits on imported fields (the README's "Import formats and limits" lists them) ---------------------
# A row over any of them is reported (file, line, reason) and skipped like any other bad row; it never
# replaces what is already stored. They keep one row from filling the store, the prompt or a page, and
# fit the SQL columns (ids are at most 64 characters there).
MAX_ID_CHARS = 64  # item_id, client_id, query_id
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/#+@-]*")  # no spaces, quotes, < > or & in an id
ID_CHARACTERS = "letters, digits and . _ : / # + @ -, starting with a letter or digit"
MAX_TITLE_CHARS = 300
MAX_LABEL_CHARS = 120  # brand, category
MAX_CURRENCY_CHARS = 8  # an ISO 4217 code (EUR) or a symbol (€, US$)
MAX_DESCRIPTION_CHARS = 5_000
MAX_ATTRIBUTES = 200  # attributes of one item (a CSV's unmapped columns become attributes)
MAX_ATTRIBUTE_KEY_CHARS = 64
MAX_ATTRIBUTE_VALUE_CHARS = 500  # each text value
MAX_ATTRIBUTE_VALUES = 50  # values in one attribute's list
MAX_CLIENT_NAME_CHARS = 200
MAX_NOTES = 200  # notes of one client
MAX_NOTE_CHARS = 2_000
MAX_QUERY_CHARS = 2_000


@dataclass
class Problem:
    """One bad row (or bad file) found while reading a bundle."""

    file: str
    line: int  # 1-based; 0 when the problem concerns the whole file
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class ValidationReport:
    """Every problem found, and how many rows of each file were kept or skipped."""

    problems: list[Problem] = field(default_factory=list)
    good: dict[str, int] = field(default_factory=dict)
    bad: dict[str, int] = field(default_factory=dict)

    def reject(self, file: str, line: int, reason: str) -> None:
        """Record a skipped row (or, with line 0, a problem with the whole file)."""
        self.problems.append(Problem(file, line, reason))
        self.bad[file] = self.bad.get(file, 0) + 1

    def accept(self, file: str) -> None:
        self.good[file] = self.good.get(file, 0) + 1

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def n_bad(self) -> int:
        return sum(self.bad.values())

    def summary(self) -> str:
        """One line per file: how many rows were kept and how many skipped."""
        files = sorted(set(self.good) | set(self.bad), key=_file_order)
        lines = [f"{name}: {self.good.get(name, 0)} good, {self.bad.get(name, 0)} bad" for name in files]
        verdict = "OK" if self.ok else f"{len(self.problems)} problem(s); bad rows were skipped"
        return "\n".join(lines + [verdict])

    def to_text(self, limit: int = 200) -> str:
        """The full report: each problem as `file:line: reason`, then the summary."""
        shown = [str(p) for p in self.problems[:limit]]
        if len(self.problems) > limit:
            shown.append(f"... and {len(self.problems) - limit} more")
        return "\n".join(shown + [self.summary()])


def _file_order(name: str) -> int:
    return BUNDLE_FILES.index(name) if name in BUNDLE_FILES else len(BUNDLE_FILES)


@dataclass
class Bundle:
    """The rows of a bundle, already validated."""

    manifest: dict = field(default_factory=dict)
    items: list[dict] = field(default_factory=list)
    clients: list[dict] = field(default_factory=list)
    interactions: list[dict] = field(default_factory=list)
    queries: list[dict] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.manifest.get("name") or "catalogue")

    def counts(self) -> dict[str, int]:
        return {
            "items": len(self.items),
            "clients": len(self.clients),
            "interactions": len(self.interactions),
            "queries": len(self.queries),
        }

    def digest(self) -> str:
        """A content hash of the rows (not the manifest), to tell whether a bundle changed."""
        h = hashlib.sha256()
        for rows in (self.items, self.clients, self.interactions, self.queries):
            for row in rows:
                h.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
                h.update(b"\n")
            h.update(b"\x1e")
        return h.hexdigest()[:16]


# ----------------------------------------------------------------------------------------------
# Reading


def read_lines(path: Path, report: ValidationReport) -> list[tuple[int, str]]:
    """Decode a text file line by line, reporting lines that are not UTF-8.

    Args:
        path (`Path`): the file.
        report (`ValidationReport`): where undecodable lines and empty files are reported.

    Returns:
        `list[tuple[int, str]]`: (1-based line number, text) for each non-blank decodable line.
    """
    name = path.name
    raw = path.read_bytes()
    if not raw.strip():
        report.reject(name, 0, "file is empty (0 rows); remove it or fill it")
        return []
    out = []
    for number, chunk in enumerate(raw.split(b"\n"), start=1):
        if number == 1 and chunk.startswith(b"\xef\xbb\xbf"):
            chunk = chunk[3:]  # a UTF-8 byte-order mark, as spreadsheet exports write it
        try:
            text = chunk.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as exc:
            report.reject(
                name, number, f"not valid UTF-8 (byte 0x{chunk[exc.start]:02x} at column {exc.start + 1}); "
                "re-save the file as UTF-8"
            )
            continue
        if text.strip():
            out.append((number, text))
    return out


def read_jsonl(path: Path, report: ValidationReport) -> list[tuple[int, dict]]:
    """Parse a JSON-lines file; lines that are not one JSON object are reported and skipped."""
    rows = []
    for number, text in read_lines(path, report):
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            report.reject(path.name, number, f"malformed JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(row, dict):
            report.reject(path.name, number, f"expected a JSON object, got {type(row).__name__}")
            continue
        rows.append((number, row))
    return rows


def parse_timestamp(value) -> str:
    """Normalise an ISO 8601 timestamp (or a Unix time) to `YYYY-MM-DDTHH:MM:SSZ` in UTC."""
    text = str(value).strip()
    if not text:
        raise ValueError("timestamp is empty")
    try:
        if text.replace(".", "", 1).isdigit():
            moment = datetime.fromtimestamp(float(text), tz=timezone.utc)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"timestamp {text!r} is neither ISO 8601 nor a Unix time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _require_id(row: dict, key: str) -> str:
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"missing required field {key!r}")
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ValueError(f"{key} must be a string, got {type(value).__name__}")
    return check_id(str(value).strip(), key)


def check_id(value: str, key: str) -> str:
    """`value` if it is a valid id (at most `MAX_ID_CHARS` of `ID_CHARACTERS`); else ValueError."""
    if len(value) > MAX_ID_CHARS:
        raise ValueError(f"{key} has {len(value):,} characters; the limit is {MAX_ID_CHARS}")
    if not ID_PATTERN.fullmatch(value):
        raise ValueError(f"{key} {_shown(value)} has a character an id may not hold; use {ID_CHARACTERS}")
    return value


def _shown(value: str, limit: int = 40) -> str:
    """A value quoted for a message, cut short."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _within(value: str, limit: int, what: str) -> str:
    """`value` if it has at most `limit` characters; else ValueError naming `what` and the limit."""
    if len(value) > limit:
        raise ValueError(f"{what} has {len(value):,} characters; the limit is {limit:,}")
    return value


def clean_item(row: dict) -> dict:
    """Check one item row and return it normalised. Raises ValueError with the reason."""
    item = dict(row)
    item["item_id"] = _require_id(row, "item_id")
    title = row.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ValueError("missing required field 'title'")
    item["title"] = _within(title.strip(), MAX_TITLE_CHARS, "title")
    for key, limit in (("brand", MAX_LABEL_CHARS), ("category", MAX_LABEL_CHARS),
                       ("description", MAX_DESCRIPTION_CHARS), ("currency", MAX_CURRENCY_CHARS)):
        if key in item and item[key] is not None:
            if not isinstance(item[key], str):
                raise ValueError(f"{key} must be a string, got {type(item[key]).__name__}")
            _within(item[key], limit, key)
    _clean_price(item)
    item["attributes"] = clean_attributes(row.get("attributes") or {})
    return item


def _clean_price(item: dict) -> None:
    """The price as a number, and the currency as an ISO 4217 code: the row's `currency`, else the one written
    with the price ("1.250 €" -> 1250.0 and "EUR"). A price written in another currency than the row's is bad."""
    price, written = read_price(item.get("price"))
    stated = currency_code(item.get("currency"))
    if written and stated and written != stated:
        raise ValueError(f"price {item['price']!r} is in {written} but the row's currency is {stated}")
    item.pop("price", None)
    item.pop("currency", None)
    if price is not None:
        item["price"] = price
    if stated or written:
        item["currency"] = stated or written


def clean_attributes(attributes) -> dict:
    """Check an item's attributes: an object of strings, numbers, true / false, or lists of them, within the
    limits. A boolean stays one (`"fragrance_free": true`): the graph reads it as `fragrance_free=true`, the
    embedded text as "fragrance free", the pages as "yes"."""
    if not isinstance(attributes, dict):
        raise ValueError(f"attributes must be an object, got {type(attributes).__name__}")
    if len(attributes) > MAX_ATTRIBUTES:
        raise ValueError(f"the item has {len(attributes):,} attributes; the limit is {MAX_ATTRIBUTES}")
    for key, value in attributes.items():
        _within(str(key), MAX_ATTRIBUTE_KEY_CHARS, f"attribute name {_shown(str(key))}")
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, (str, int, float, bool)) for v in values):
            raise ValueError(f"attribute {key!r} must be a string, a number, true or false, or a list of them")
        if len(values) > MAX_ATTRIBUTE_VALUES:
            raise ValueError(f"attribute {key!r} has {len(values):,} values; the limit is {MAX_ATTRIBUTE_VALUES}")
        for v in values:
            if isinstance(v, str):
                _within(v, MAX_ATTRIBUTE_VALUE_CHARS, f"a value of attribute {key!r}")
    return attributes


def clean_client(row: dict) -> dict:
    client = dict(row)
    client["client_id"] = _require_id(row, "client_id")
    notes = row.get("notes") or []
    if isinstance(notes, str):
        notes = [notes]
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise ValueError("notes must be a list of strings")
    if len(notes) > MAX_NOTES:
        raise ValueError(f"the client has {len(notes):,} notes; the limit is {MAX_NOTES}")
    for note in notes:
        _within(note, MAX_NOTE_CHARS, "a note")
    client["notes"] = notes
    prefs = row.get("stated_preferences") or {}
    if not isinstance(prefs, dict):
        raise ValueError("stated_preferences must be an object")
    client["stated_preferences"] = prefs
    client["name"] = _within(str(row.get("name") or client["client_id"]), MAX_CLIENT_NAME_CHARS, "name")
    return client


def clean_query(row: dict, item_ids: set[str], client_ids: set[str] | None) -> dict:
    query = dict(row)
    query["query_id"] = _require_id(row, "query_id")
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("missing required field 'text'")
    _within(text, MAX_QUERY_CHARS, "text")
    client_id = row.get("client_id")
    if client_id is not None:
        client_id = str(client_id)
        if client_ids is not None and client_id not in client_ids:
            raise ValueError(f"unknown client_id {client_id!r} (not in clients.jsonl)")
        query["client_id"] = client_id
    split = row.get("split", "test")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    query["split"] = split
    relevant = row.get("relevant") or {}
    if not isinstance(relevant, dict):
        raise ValueError("relevant must be an object {item_id: grade}")
    for item_id, grade in relevant.items():
        if item_id not in item_ids:
            raise ValueError(f"relevant item {item_id!r} is not in items.jsonl")
        if not isinstance(grade, int) or isinstance(grade, bool) or not 1 <= grade <= 3:
            raise ValueError(f"grade of {item_id!r} must be an integer 1..3, got {grade!r}")
    query["relevant"] = relevant
    if "timestamp" in row and row["timestamp"] not in (None, ""):
        query["timestamp"] = parse_timestamp(row["timestamp"])
    return query


def clean_interaction(row: dict, item_ids: set[str], client_ids: set[str] | None) -> dict:
    client_id = (row.get("client_id") or "").strip()
    item_id = (row.get("item_id") or "").strip()
    if not client_id:
        raise ValueError("missing client_id")
    if not item_id:
        raise ValueError("missing item_id")
    if client_ids is not None and client_id not in client_ids:
        raise ValueError(f"unknown client_id {client_id!r} (not in clients.jsonl)")
    if item_id not in item_ids:
        raise ValueError(f"unknown item_id {item_id!r} (not in items.jsonl)")
    kind = (row.get("kind") or "").strip().lower()
    if kind not in INTERACTION_KINDS:
        raise ValueError(f"kind must be one of {'|'.join(INTERACTION_KINDS)}, got {kind!r}")
    raw_value = (row.get("value") or "").strip()
    try:
        value = float(raw_value) if raw_value else 1.0
    except ValueError:
        raise ValueError(f"value must be a number, got {raw_value!r}") from None
    return {
        "client_id": client_id,
        "item_id": item_id,
        "timestamp": parse_timestamp(row.get("timestamp") or ""),
        "kind": kind,
        "value": value,
    }


def keep_unique(rows, key, clean, file, report) -> list[dict]:
    """Clean each row, skipping invalid ones and later duplicates of an id."""
    kept, first_line = [], {}
    for number, row in rows:
        try:
            row = clean(row)
        except ValueError as exc:
            report.reject(file, number, str(exc))
            continue
        ident = row[key]
        if ident in first_line:
            report.reject(file, number, f"duplicate {key} {ident!r} (first on line {first_line[ident]})")
            continue
        first_line[ident] = number
        report.accept(file)
        kept.append(row)
    return kept


def read_interactions(path: Path, item_ids, client_ids, report: ValidationReport) -> list[dict]:
    lines = read_lines(path, report)
    if not lines:
        return []
    header = [h.strip().lower() for h in next(csv.reader([lines[0][1]]))]
    missing = [c for c in INTERACTION_COLUMNS[:4] if c not in header]
    if missing:
        report.reject(path.name, lines[0][0], f"header lacks column(s) {', '.join(missing)}; "
                      f"expected {','.join(INTERACTION_COLUMNS)}")
        return []
    kept = []
    for number, text in lines[1:]:
        values = next(csv.reader([text]))
        if len(values) != len(header):
            report.reject(path.name, number, f"expected {len(header)} columns, found {len(values)}")
            continue
        try:
            kept.append(clean_interaction(dict(zip(header, values)), item_ids, client_ids))
        except ValueError as exc:
            report.reject(path.name, number, str(exc))
            continue
        report.accept(path.name)
    return kept


def read_bundle(path: str | os.PathLike) -> tuple[Bundle, ValidationReport]:
    """Read and validate a bundle directory.

    Args:
        path (`str | PathLike`): the bundle directory.

    Returns:
        `tuple[Bundle, ValidationReport]`: the good rows, and every problem found.

    Raises:
        `ConciergeError`: when `path` is not a bundle directory at all.
    """
    root = Path(path)
    if not root.exists():
        raise ConciergeError(f"{root} does not exist")
    if not root.is_dir():
        raise ConciergeError(f"{root} is a file, not a bundle directory; for a plain CSV or JSONL catalogue "
                             "use `concierge import FILE --map ...`")
    if not (root / "items.jsonl").is_file():
        present = ", ".join(sorted(p.name for p in root.iterdir())[:8]) or "nothing"
        raise ConciergeError(f"{root} is not a bundle: it has no items.jsonl (found: {present}); "
                             f"a bundle holds {', '.join(BUNDLE_FILES)}")
    report = ValidationReport()
    manifest = read_manifest(root, report)

    items = keep_unique(read_jsonl(root / "items.jsonl", report), "item_id", clean_item, "items.jsonl", report)
    item_ids = {item["item_id"] for item in items}

    clients, client_ids = [], None
    if (root / "clients.jsonl").is_file():
        clients = keep_unique(read_jsonl(root / "clients.jsonl", report), "client_id", clean_client,
                               "clients.jsonl", report)
        client_ids = {c["client_id"] for c in clients}

    interactions = []
    if (root / "interactions.csv").is_file():
        interactions = read_interactions(root / "interactions.csv", item_ids, client_ids, report)

    queries = []
    if (root / "queries.jsonl").is_file():
        queries = keep_unique(read_jsonl(root / "queries.jsonl", report), "query_id",
                               lambda r: clean_query(r, item_ids, client_ids), "queries.jsonl", report)

    manifest.setdefault("name", root.name)
    bundle = Bundle(manifest, items, clients, interactions, queries)
    return bundle, report


def read_manifest(root: Path, report: ValidationReport) -> dict:
    path = root / "manifest.json"
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        report.reject("manifest.json", 0, f"unreadable manifest ({exc}); the directory name is used instead")
        return {}
    if not isinstance(manifest, dict):
        report.reject("manifest.json", 0, "manifest must be a JSON object")
        return {}
    return manifest


def validate_bundle(path: str | os.PathLike) -> ValidationReport:
    """Check a bundle and return the report (rows are read, nothing is stored)."""
    return read_bundle(path)[1]


# ----------------------------------------------------------------------------------------------
# Writing


def write_bundle(bundle: Bundle, path: str | os.PathLike) -> Path:
    """Write a bundle directory; the directory appears whole or not at all.

    Args:
        bundle (`Bundle`): the rows to write. The manifest gets its counts filled in.
        path (`str | PathLike`): the target directory, replaced if it exists.

    Returns:
        `Path`: the written directory.
    """
    root = Path(path)
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
    try:
        manifest = {
            "name": bundle.name,
            "version": bundle.manifest.get("version", "1"),
            "currency": bundle.manifest.get("currency", "EUR"),
            "created": bundle.manifest.get("created") or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **{k: v for k, v in bundle.manifest.items() if k not in ("counts",)},
            "counts": bundle.counts(),
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                               encoding="utf-8")
        _write_jsonl(staging / "items.jsonl", bundle.items)
        if bundle.clients:
            _write_jsonl(staging / "clients.jsonl", bundle.clients)
        if bundle.interactions:
            with open(staging / "interactions.csv", "w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=INTERACTION_COLUMNS, extrasaction="ignore",
                                        lineterminator="\n")
                writer.writeheader()
                writer.writerows(bundle.interactions)
        if bundle.queries:
            _write_jsonl(staging / "queries.jsonl", bundle.queries)
        if root.exists():
            shutil.rmtree(root)
        staging.rename(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return root


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
