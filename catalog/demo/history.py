"""Interaction histories drawn from hidden tastes.

A client browses widely (views lean only a little towards their taste), wishlists what they love
even above their budget, buys what they love within it, returns mostly what conflicts with their
taste (a disliked material or colour, a logo too loud, a price too high) and now and then rates a
purchase. Everything happens between the client's first visit and the end of 2025; queries come
later.
"""

from __future__ import annotations

import itertools
import math
import random
from datetime import datetime, timedelta

from catalog.demo.sampling import HISTORY_END, WINDOW_START, iso, moment

FIRST_VISIT_LATEST = datetime(2025, 6, 30, tzinfo=HISTORY_END.tzinfo)


def _draw(rng: random.Random, items: list[dict], weights: list[float], k: int, skip: set[str]) -> list[dict]:
    """Up to `k` distinct items, in proportion to `weights`, none of them in `skip`."""
    cum = list(itertools.accumulate(weights))
    chosen: list[dict] = []
    for item in rng.choices(items, cum_weights=cum, k=4 * k):
        if item["item_id"] not in skip:
            skip.add(item["item_id"])
            chosen.append(item)
            if len(chosen) == k:
                break
    return chosen


def _event(client_id: str, item: dict, when: datetime, kind: str, value: float = 1.0) -> dict:
    return {"client_id": client_id, "item_id": item["item_id"], "timestamp": iso(when), "kind": kind,
            "value": value}


def _rating(rng: random.Random, score: float, returned: bool) -> float:
    if returned:
        return float(rng.choice((1, 2)))
    return float(min(5, max(1, round(2.2 + 0.45 * score + rng.gauss(0, 0.6)))))


def client_history(
    rng: random.Random, client_id: str, taste: dict, items: list[dict], scores: dict[str, float],
    blocked: set[str]
) -> list[dict]:
    """One client's interactions, oldest first.

    Args:
        rng (`random.Random`): the generator.
        client_id (`str`): the client.
        taste (`dict`): the client's hidden taste.
        items (`list[dict]`): the catalogue.
        scores (`dict[str, float]`): the client's taste score of every item.
        blocked (`set[str]`): ids of the items the client dislikes outright (`relevance.disliked`).

    Returns:
        `list[dict]`: rows with client_id, item_id, timestamp, kind, value.
    """
    first = moment(rng, WINDOW_START, FIRST_VISIT_LATEST)
    last_purchase = HISTORY_END - timedelta(days=40)
    high = taste["budget"]["max"]
    bad = [i["item_id"] in blocked for i in items]
    s = [scores[i["item_id"]] for i in items]
    affordable = [1.0 if i["price"] <= 1.2 * high else 0.05 for i in items]
    buy_w = [0.02 if b else math.exp(0.9 * x) * a for b, x, a in zip(bad, s, affordable)]
    wish_w = [0.02 if b else math.exp(0.9 * x) for b, x in zip(bad, s)]
    view_w = [math.exp(0.35 * x) for x in s]
    conflict_w = [3.0 if b else (1.0 if x < 1.0 else 0.0) for b, x in zip(bad, s)]

    rows, seen = [], set()
    for item in _draw(rng, items, buy_w, rng.randint(3, 8), seen):
        when = moment(rng, first, last_purchase)
        rows.append(_event(client_id, item, when, "purchase"))
        if rng.random() < 0.06:  # a piece they liked, in the wrong size
            rows.append(_event(client_id, item, when + timedelta(days=rng.randint(3, 28)), "return"))
        elif rng.random() < 0.3:
            rating = _rating(rng, scores[item["item_id"]], returned=False)
            rows.append(_event(client_id, item, when + timedelta(days=rng.randint(7, 35)), "rating", rating))
    if any(conflict_w):
        for item in _draw(rng, items, conflict_w, rng.choice((0, 1, 1, 2)), seen):
            when = moment(rng, first, last_purchase)
            rows.append(_event(client_id, item, when, "purchase"))
            rows.append(_event(client_id, item, when + timedelta(days=rng.randint(3, 28)), "return"))
            if rng.random() < 0.4:
                rows.append(_event(client_id, item, when + timedelta(days=rng.randint(29, 38)), "rating",
                                   _rating(rng, scores[item["item_id"]], returned=True)))
    for item in _draw(rng, items, wish_w, rng.randint(2, 5), seen):
        rows.append(_event(client_id, item, moment(rng, first, HISTORY_END), "wishlist"))
    for item in _draw(rng, items, view_w, rng.randint(6, 18), seen):
        rows.append(_event(client_id, item, moment(rng, first, HISTORY_END), "view"))
    rows.sort(key=lambda r: (r["timestamp"], r["kind"], r["item_id"]))
    return rows
