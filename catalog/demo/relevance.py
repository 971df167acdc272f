"""Graded relevance: from a structured need, a client's hidden taste and the item facts.

The query's words play no part. A query is rendered from its need (`facets`); relevance is
computed from the same facets, so rephrasing a request never changes its answer.

1. Hard constraints filter. An item must match the category (or group) and house asked for; for
   every context (an occasion at a place in a season) it must be wearable in a season that suits
   the climate there (or, with no place, in the season named); it must serve every occasion, keep
   a formality level and a palette the need allows, stand up to rain when rain is likely and the
   piece is exposed to it, and respect the stated origin, branding, colours, materials, budget and
   must-nots. The client's own dislikes (a material, a colour, logo-forward branding) and the
   pieces they never wear exclude an item too.
2. A taste score ranks what is left: favourite house, palette, liked colours and materials,
   branding tolerance, price against the client's usual budget band, usual occasions and
   category groups. Items below a floor are dropped (a request led by taste alone has a higher
   floor: only what the client would love counts).
3. The best `MAX_RELEVANT` by score are kept and graded: 3 = ideal, 2 = good, 1 = acceptable.
"""

from __future__ import annotations

from catalog.demo.places import CLIMATE_SEASONS
from catalog.demo.vocab import CATEGORIES, MATERIALS

MAX_RELEVANT = 10
IDEAL_SCORE = 4.5  # grade 3 at or above
GOOD_SCORE = 2.5  # grade 2 at or above
ACCEPT_FLOOR = 0.5  # below this an item that meets the need is still not one to show
TASTE_FLOOR = 4.0  # a request led by taste alone keeps only pieces the client would love

# taste["branding"] (the loudest branding the client is happy with) -> item branding -> score
BRANDING_FIT = {
    "discreet": {"discreet": 1.0, "moderate": -0.5, "logo-forward": -2.0},
    "moderate": {"discreet": 0.3, "moderate": 0.5, "logo-forward": -1.0},
    "logo-forward": {"discreet": 0.0, "moderate": 0.3, "logo-forward": 1.0},
}


def empty_facets() -> dict:
    """A need with nothing asked: every key a query's `facets` carries, at its neutral value."""
    return {
        "category": None,
        "category_group": None,
        "house": None,
        "occasions": [],
        "season": [],
        "places": [],
        "contexts": [],
        "climate": [],
        "wet": False,
        "formality": None,
        "palette": None,
        "origin": None,
        "branding": None,
        "colour": None,
        "material": None,
        "budget_max": None,
        "must_not": {"materials": [], "colours": [], "branding": []},
        "taste_led": False,
        "wrong_fact": None,
        "impossible": None,
    }


def _overlap(values: list[str], others: list[str]) -> bool:
    return not set(values).isdisjoint(others)


def taste_score(item: dict, taste: dict) -> float:
    """How well an item suits a client, whatever the request.

    Args:
        item (`dict`): an item row.
        taste (`dict`): the client's hidden taste (see `clients.py`).

    Returns:
        `float`: roughly -5 (everything wrong) to 7.75 (everything right).
    """
    a = item["attributes"]
    score = 2.0 if item["brand"] in taste["favourite_houses"] else 0.0
    score += 1.0 if a["palette"] == taste["palette"] else 0.0
    score += 0.75 if _overlap(a["colour"], taste["colours"]) else 0.0
    score += 1.0 if _overlap(a["material"], taste["materials"]) else 0.0
    score += BRANDING_FIT[taste["branding"]][a["branding"]]
    low, high = taste["budget"]["min"], taste["budget"]["max"]
    price = item["price"]
    if price > high:
        score -= 1.0 if price <= 1.5 * high else 2.5
    elif price >= low:
        score += 1.0
    else:
        score -= 0.5
    score += 0.5 if _overlap(a["occasion"], taste["occasions"]) else 0.0
    score += 0.5 if a["category_group"] in taste["category_groups"] else 0.0
    return round(score, 3)


def disliked(item: dict, taste: dict) -> bool:
    """Whether the item has something the client will not have (a material, colour, branding or category).

    Args:
        item (`dict`): an item row.
        taste (`dict`): the client's hidden taste.

    Returns:
        `bool`: True when the client would refuse it outright.
    """
    a, no = item["attributes"], taste["dislikes"]
    return (
        a["branding"] in no["branding"]
        or item["category"] in taste["avoid_categories"]
        or _overlap(a["material"], no["materials"])
        or _overlap(a["colour"], no["colours"])
    )


def season_fits(item_seasons: list[str], context: dict) -> bool:
    """Whether an item can be worn in one context (climate first, else the calendar season).

    Args:
        item_seasons (`list[str]`): the item's seasons.
        context (`dict`): one entry of `facets["contexts"]`.

    Returns:
        `bool`: True when a season of the item suits the context.
    """
    if context.get("climate"):
        return any(s in CLIMATE_SEASONS[context["climate"]] for s in item_seasons)
    if context.get("season"):
        return context["season"] in item_seasons
    return True


def weather_fits(item: dict, wet: bool) -> bool:
    """Rain rules out suede, raffia, silk and the like, for pieces that meet the weather.

    Args:
        item (`dict`): an item row.
        wet (`bool`): whether rain is likely in one of the need's contexts.

    Returns:
        `bool`: True when the piece is not exposed, or every material of it stands up to rain.
    """
    if not wet or not CATEGORIES[item["category"]].exposed:
        return True
    return all(MATERIALS[m].rain for m in item["attributes"]["material"])


def meets_need(item: dict, facets: dict) -> bool:
    """The hard constraints of the need alone (no taste).

    Args:
        item (`dict`): an item row.
        facets (`dict`): the structured need.

    Returns:
        `bool`: True when the item satisfies every stated and implied constraint.
    """
    a = item["attributes"]
    allowed = (
        (facets["category"] is None or item["category"] == facets["category"])
        and (facets["category_group"] is None or a["category_group"] == facets["category_group"])
        and (facets["house"] is None or item["brand"] == facets["house"])
        and all(season_fits(a["season"], c) for c in facets["contexts"])
        and all(o in a["occasion"] for o in facets["occasions"])
        and weather_fits(item, facets["wet"])
        and (facets["formality"] is None or a["formality"] in facets["formality"])
        and (facets["palette"] is None or a["palette"] in facets["palette"])
        and (facets["origin"] is None or a["origin"] == facets["origin"])
        and (facets["branding"] is None or a["branding"] in facets["branding"])
        and (facets["colour"] is None or any(c in facets["colour"] for c in a["colour"]))
        and (facets["material"] is None or any(m in facets["material"] for m in a["material"]))
        and (facets["budget_max"] is None or item["price"] <= facets["budget_max"])
    )
    if not allowed:
        return False
    no = facets["must_not"]
    return not (
        any(m in no["materials"] for m in a["material"])
        or any(c in no["colours"] for c in a["colour"])
        or a["branding"] in no["branding"]
    )


def grade(score: float) -> int:
    """3 = ideal, 2 = good, 1 = acceptable."""
    return 3 if score >= IDEAL_SCORE else 2 if score >= GOOD_SCORE else 1


def judge(
    facets: dict, taste: dict, items: list[dict], scores: dict[str, float] | None = None
) -> dict[str, int]:
    """The graded relevant set of a need for a client.

    Args:
        facets (`dict`): the structured need.
        taste (`dict`): the client's hidden taste.
        items (`list[dict]`): the items to consider (the catalogue, or any superset of the
            items of the asked category).
        scores (`dict[str, float] | None`): precomputed `taste_score` by item id, to save time.

    Returns:
        `dict[str, int]`: item id -> grade, best first, at most MAX_RELEVANT entries; empty when
        nothing in the catalogue meets the need.
    """
    floor = TASTE_FLOOR if facets["taste_led"] else ACCEPT_FLOOR
    ranked = []
    for item in items:
        if meets_need(item, facets) and not disliked(item, taste):
            score = scores[item["item_id"]] if scores is not None else taste_score(item, taste)
            if score >= floor:
                ranked.append((-score, item["item_id"]))
    ranked.sort()
    return {item_id: grade(-neg) for neg, item_id in ranked[:MAX_RELEVANT]}
