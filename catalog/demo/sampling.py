"""Small, deterministic drawing helpers shared by the generators.

Everything takes an explicit `random.Random`; nothing touches the global random state, and
weights are always read in a fixed order so that the same seed gives the same world.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

WINDOW_START = datetime(2023, 1, 1, tzinfo=timezone.utc)
HISTORY_END = datetime(2025, 12, 31, 20, 0, tzinfo=timezone.utc)
QUERY_START = datetime(2026, 1, 5, tzinfo=timezone.utc)
WINDOW_END = datetime(2026, 9, 30, 20, 0, tzinfo=timezone.utc)


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    """One key of `weights`, drawn with probability proportional to its weight.

    Args:
        rng (`random.Random`): the generator.
        weights (`dict[str, float]`): key -> non-negative weight (dict order is the draw order).

    Returns:
        `str`: the key drawn.
    """
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys], k=1)[0]


def pick_some(rng: random.Random, weights: dict[str, float], k: int) -> list[str]:
    """Up to `k` distinct keys, drawn without replacement in proportion to their weights.

    Args:
        rng (`random.Random`): the generator.
        weights (`dict[str, float]`): key -> weight; keys with weight 0 are never drawn.
        k (`int`): how many keys to draw.

    Returns:
        `list[str]`: the keys, in the order drawn.
    """
    left = {key: w for key, w in weights.items() if w > 0}
    chosen = []
    while left and len(chosen) < k:
        key = pick(rng, left)
        chosen.append(key)
        del left[key]
    return chosen


def allocate(total: int, weights: list[float]) -> list[int]:
    """Split `total` into integer parts proportional to `weights` (largest remainder).

    Args:
        total (`int`): what to split.
        weights (`list[float]`): one weight per part.

    Returns:
        `list[int]`: parts that sum to `total`.
    """
    norm = sum(weights)
    exact = [total * w / norm for w in weights]
    parts = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def nice_price(value: float) -> float:
    """Round a price the way a price list would (to 10, 50 or 100 euros).

    Args:
        value (`float`): a raw price in EUR.

    Returns:
        `float`: the listed price.
    """
    step = 10 if value < 1000 else 50 if value < 10000 else 100
    return float(max(step, round(value / step) * step))


def nice_budget(value: float) -> int:
    """Round a budget up to a figure a person would say (e.g. 2,500 rather than 2,431).

    Args:
        value (`float`): the least the budget must cover.

    Returns:
        `int`: the budget in EUR.
    """
    step = 50 if value < 500 else 100 if value < 2000 else 500 if value < 10000 else 1000
    return int(-(-value // step) * step)


def moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment between `start` and `end`, during opening hours (09:00-20:00), on a 5-minute grid.

    Args:
        rng (`random.Random`): the generator.
        start (`datetime`): earliest day.
        end (`datetime`): latest day.

    Returns:
        `datetime`: an aware UTC datetime.
    """
    days = max(0, (end - start).days)
    day = start.replace(hour=0, minute=0, second=0) + timedelta(days=rng.randint(0, days))
    return day + timedelta(minutes=9 * 60 + 5 * rng.randint(0, 11 * 12 - 1))


def iso(when: datetime) -> str:
    """An aware datetime as `YYYY-MM-DDTHH:MM:SSZ`."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
