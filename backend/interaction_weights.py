"""What one interaction says about a client's taste: the one table of interaction weights.

Serving (the preference graph, `backend/graphs.py`; the collaborative source, `backend/retrieval.py`)
and training (the PAS reward's collaborative embedding, `training/rewards.py`; the popularity and ALS
baselines, `training/systems.py`) all read their weights here, so the reward and the serving path
agree on what a client likes.

- `interaction_weight(kind, value, age_days)`: signed, recency-decayed; the preference graph's edges.
- `liking(kind, value)` / `row_liking(row)`: the same weight at age 0, floored at 0 (returns and poor
  ratings say nothing positive); for matrices that need non-negative entries (ALS confidences, the
  PAS embedding, popularity counts).
- `POSITIVE_KINDS`: the collaborative source's co-occurrence weights, read without values or ages.
"""

from __future__ import annotations

# Signal of each interaction kind (ratings are mapped from 1..5 to -1..+1 instead, see `rating_weight`).
KIND_WEIGHT = {"purchase": 1.0, "wishlist": 0.6, "view": 0.15, "return": -1.0,
               # an associate's verdict on a shortlisted item, read as taste when `feedback_as_taste` is on:
               # accepted or put in by the associate like a wishlist, rejected half as strongly as a return
               "accept": 0.6, "replace": 0.6, "reject": -0.5}
FEEDBACK_KINDS = ("accept", "replace", "reject")
RATING_NEUTRAL = 3.0  # a 3 of 5 says neither like nor dislike
RATING_SPAN = 2.0  # 5 of 5 -> +1, 1 of 5 -> -1
HALF_LIFE_DAYS = 365.0  # an interaction a year old counts half
# The collaborative source sees kinds without values: a rating counts as a good one (4 of 5), and
# views are too weak a signal for co-occurrence.
TYPICAL_RATING = 4.0
CO_OCCURRENCE_KINDS = ("purchase", "wishlist", "rating")


def rating_weight(value: float) -> float:
    """A 1..5 rating as a signed weight in -1..+1."""
    return (float(value) - RATING_NEUTRAL) / RATING_SPAN


def interaction_weight(kind: str, value: float = 1.0, age_days: float = 0.0) -> float:
    """Signed weight of one interaction: kind (purchase > wishlist > view; return < 0) x recency decay.

    Args:
        kind (`str`): purchase, wishlist, view, return or rating (other kinds weigh 0).
        value (`float`): the rating for `kind="rating"`; ignored otherwise.
        age_days (`float`): how long ago, in days (negative ages count as 0).

    Returns:
        `float`: in -1..+1.
    """
    base = rating_weight(value) if kind == "rating" else KIND_WEIGHT.get(kind, 0.0)
    return base * 0.5 ** (max(age_days, 0.0) / HALF_LIFE_DAYS)


def liking(kind: str, value: float = 1.0) -> float:
    """How much one interaction says the client likes the item, without recency: 0 for returns and
    ratings of 3 or less.

    Args:
        kind (`str`): the interaction kind.
        value (`float`): the rating for `kind="rating"`.

    Returns:
        `float`: in 0..1.
    """
    return max(interaction_weight(kind, value), 0.0)


def row_liking(row: dict) -> float:
    """`liking` of a bundle interaction row (`kind`, optional `value`)."""
    return liking(row["kind"], float(row.get("value", 1.0)))


POSITIVE_KINDS = {kind: liking(kind, TYPICAL_RATING) for kind in CO_OCCURRENCE_KINDS}


def judged_item(row) -> str | None:
    """The item an associate's verdict (a `Feedback` row) is about: for a replacement the item put in, else
    the item judged (None for a verdict on the reasoning only)."""
    return row.replacement_item_id if row.kind == "replace" else row.item_id
