"""The demo world's hand-written tables, kept as data in `catalog/demo/data/*.json`.

Each file's `_about` says what it holds; the module that reads a file turns its rows into that
module's types (`House`, `Place`, `Category`, `Wording`). JSON has no tuples, so a list in a file
stands for a tuple where the type asks for one.
"""

from __future__ import annotations

import json
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"


def load_table(name: str) -> dict:
    """The tables of `data/<name>.json`.

    Args:
        name (`str`): the file's name without `.json` ("houses", "places", ...).

    Returns:
        `dict`: the file's top-level object.
    """
    return json.loads((DATA_DIR / f"{name}.json").read_text(encoding="utf-8"))


def tuples(value):
    """`value` with every list in it, at any depth, made a tuple (dicts stay dicts)."""
    if isinstance(value, list):
        return tuple(tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: tuples(v) for k, v in value.items()}
    return value
