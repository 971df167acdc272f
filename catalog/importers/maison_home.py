"""Maison Home: a small hand-written luxury home & gifts catalogue (not fashion), as a bundle.

Everything in `data/maison_home.json` (the tables; its `_about` says what each holds) was written
by hand for evaluation, apart from the engine's authors: 100 items of fourteen invented houses
(candles and home fragrance, bone china and Limoges porcelain, crystal and Murano glass, Irish
linen, stationery, fountain pens, leather desk accessories, Scottish cashmere, tea, chocolate,
silver), priced in GBP, with attributes named the way such a shop names them ("scent family",
"burn time", "material", "room", "nib", "cocoa content", ...); 15 clients with notes, stated
preferences and short histories; and graded requests. This module reads the file and makes the
bundle.

Grades were assigned by hand from the item table: 3 = what the client asked for (every stated
condition, and their known taste where the request leans on it), 2 = a good alternative that misses
one soft wish (colour, size, the exact range), 1 = acceptable at a push (same need, a weaker fit).
A stated budget is a hard limit: nothing over it is graded. `impossible` requests (the shop does
not sell the thing, or only above the stated budget) have no relevant item. Each request's budget is
kept in `Request.max_price` (not in the bundle) so that the tests can check the grades against it.

Splits: `test` requests are worded naturally and differently from the `train` and `val` ones (which
the ranker learns from). Query types: product, gift, budget, brand, taste (the request leans on the
client's history or notes), impossible.

Write it with `python -m catalog.importers.maison_home --out DIR`; the committed copy lives in
`bench/bundles/maison-home/`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from catalog.bundle import Bundle, write_bundle
from catalog.commands import run_command

DATA_PATH = Path(__file__).parent / "data" / "maison_home.json"


def item(item_id: str, title: str, brand: str, category: str, price: float, description: str,
         attributes: dict) -> dict:
    return {"item_id": item_id, "title": title, "brand": brand, "category": category, "price": float(price),
            "currency": "GBP", "description": description, "attributes": attributes}


@dataclass
class Client:
    client_id: str
    name: str
    notes: list[str]
    stated_preferences: dict = field(default_factory=dict)
    history: list[tuple[str, str, str]] = field(default_factory=list)  # (timestamp, kind, item_id)


@dataclass
class Request:
    split: str
    client_id: str
    type: str
    text: str
    relevant: dict[str, int]
    timestamp: str
    max_price: float | None = None  # the budget the text states (checked by the tests, not written)


_DATA = json.loads(DATA_PATH.read_text(encoding="utf-8"))
ITEMS = [item(**row) for row in _DATA["items"]]
CLIENTS = [Client(**{**row, "history": [tuple(event) for event in row["history"]]}) for row in _DATA["clients"]]
TEST, IMPOSSIBLE, TRAIN, VAL = ([Request(**row) for row in _DATA["requests"][group]]
                                for group in ("test", "impossible", "train", "val"))


def maison_home_bundle() -> Bundle:
    """The catalogue, clients, histories and requests above, as a bundle."""
    clients = [{"client_id": c.client_id, "name": c.name, "notes": c.notes,
                "stated_preferences": c.stated_preferences} for c in CLIENTS]
    interactions = [{"client_id": c.client_id, "item_id": item_id, "timestamp": moment, "kind": kind, "value": 1.0}
                    for c in CLIENTS for moment, kind, item_id in c.history]
    interactions.sort(key=lambda r: (r["timestamp"], r["client_id"]))
    queries = []
    for split, requests in (("test", TEST + IMPOSSIBLE), ("train", TRAIN), ("val", VAL)):
        for number, r in enumerate(requests, start=1):
            queries.append({"query_id": f"mh-{split}-{number:02d}", "client_id": r.client_id, "text": r.text,
                            "timestamp": r.timestamp, "split": r.split, "type": r.type, "relevant": r.relevant})
    manifest = {"name": "maison-home", "version": "1", "currency": "GBP", "created": "2025-02-28T00:00:00Z",
                "source": "hand-written by catalog/importers/maison_home.py (invented houses and clients)"}
    return Bundle(manifest, ITEMS, clients, interactions, queries)


def add_arguments(parser):
    parser.add_argument("--out", required=True, help="bundle directory to write, e.g. bench/bundles/maison-home")
    return parser


def main(args) -> int:
    """Write the Maison Home bundle and print its counts. Returns the exit status."""
    bundle = maison_home_bundle()
    path = write_bundle(bundle, args.out)
    print(f"wrote {bundle.name} to {path}: {bundle.counts()}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(run_command(add_arguments, main, "python -m catalog.importers.maison_home"))
