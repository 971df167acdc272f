"""Structured needs: what a client asks for, before it is put into words.

A need is a `facets` dict (see `relevance.empty_facets`). Most needs are anchored: an item the
client would plausibly want is drawn first (weighted by their taste), and a need it satisfies is
built around it (its category, one of its occasions at a place and season where it works, its
colour...). The anchor only guarantees that the need can be met; the relevant set is computed
afterwards from the facets alone, over the whole catalogue.

One sampler per query type:
    explicit        constraints stated outright (category, colour, material, budget, origin...)
    implicit        a place and a season that imply climate, formality and palette
    multi_occasion  one piece for two occasions (possibly two places and seasons)
    taste           "something she would love": only the history can tell
    misinformed     a wrong fact about a house or a material; the real need ignores it
    impossible      out of the catalogue, or a need nothing can meet
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field

from catalog.demo.houses import HOUSE_BY_NAME, HOUSES
from catalog.demo.places import PLACES, implied_context
from catalog.demo.relevance import TASTE_FLOOR, disliked, empty_facets, meets_need
from catalog.demo.sampling import nice_budget
from catalog.demo.vocab import CATEGORIES, MATERIALS, SEASONS
from catalog.derive import CATEGORY_GROUPS

# ----------------------------------------------------------------------------------------------
# The catalogue and the client, as the samplers see them


class Catalogue:
    """The items with the indexes the samplers and the judge need."""

    def __init__(self, items: list[dict]):
        self.items = items
        self.by_id = {i["item_id"]: i for i in items}
        self.by_category: dict[str, list[dict]] = {}
        self.by_group: dict[str, list[dict]] = {}
        self.by_house: dict[str, list[dict]] = {}
        for item in items:
            self.by_category.setdefault(item["category"], []).append(item)
            self.by_group.setdefault(item["attributes"]["category_group"], []).append(item)
            self.by_house.setdefault(item["brand"], []).append(item)

    def candidates(self, facets: dict) -> list[dict]:
        """The smallest index slice that holds every item that could meet the need.

        Args:
            facets (`dict`): the need.

        Returns:
            `list[dict]`: the items of the asked category, else house, else group, else all.
        """
        if facets["category"] is not None:
            return self.by_category.get(facets["category"], [])
        if facets["house"] is not None:
            return self.by_house.get(facets["house"], [])
        if facets["category_group"] is not None:
            return self.by_group.get(facets["category_group"], [])
        return self.items


@dataclass
class Shopper:
    """A client as the samplers see them: hidden taste and a taste score for every item."""

    client_id: str
    taste: dict
    scores: dict[str, float]
    items: list[dict] = field(default_factory=list)  # the items they do not dislike
    cum_weights: list[float] = field(default_factory=list)

    @classmethod
    def build(
        cls, client_id: str, taste: dict, scores: dict[str, float], catalogue: Catalogue, blocked: set[str]
    ) -> "Shopper":
        """The client, with `blocked` (the ids of the items they dislike) left out of their draws."""
        items = [i for i in catalogue.items if i["item_id"] not in blocked]
        weights = [math.exp(0.8 * scores[i["item_id"]]) for i in items]
        return cls(client_id, taste, scores, items, list(itertools.accumulate(weights)))

    def anchor(self, rng: random.Random, accept=lambda item: True, tries: int = 40) -> dict | None:
        """An item the client would plausibly want, drawn by taste, that `accept` admits.

        Args:
            rng (`random.Random`): the generator.
            accept (`Callable[[dict], bool]`): a filter on the item drawn.
            tries (`int`): how many draws before giving up.

        Returns:
            `dict | None`: the item, or None when no draw was accepted.
        """
        for item in rng.choices(self.items, cum_weights=self.cum_weights, k=tries):
            if accept(item):
                return item
        return None

    def anchor_in(self, rng: random.Random, pool: list[dict]) -> dict | None:
        """An item of `pool` (not disliked) drawn by taste.

        Args:
            rng (`random.Random`): the generator.
            pool (`list[dict]`): the items to draw from.

        Returns:
            `dict | None`: the item, or None when the client dislikes the whole pool.
        """
        pool = [i for i in pool if not disliked(i, self.taste)]
        if not pool:
            return None
        weights = [math.exp(0.8 * self.scores[i["item_id"]]) for i in pool]
        return rng.choices(pool, weights=weights, k=1)[0]


# ----------------------------------------------------------------------------------------------
# Building facets


def _intersect(lists: list[list[str] | None]) -> list[str] | None:
    given = [set(x) for x in lists if x is not None]
    if not given:
        return None
    first = next(x for x in lists if x is not None)
    return [v for v in first if all(v in g for g in given)]


def assemble(contexts: list[dict], **stated) -> dict:
    """Facets from contexts (occasion, place, season) and stated constraints.

    Args:
        contexts (`list[dict]`): outputs of `places.implied_context`.
        **stated: facet values to set (category, colour, budget_max, ...); `must_not` is merged.

    Returns:
        `dict`: the facets. Formality and palette are the intersection over contexts (an empty
        list means the contexts contradict each other).
    """
    facets = empty_facets()
    facets["contexts"] = contexts
    facets["occasions"] = list(dict.fromkeys(c["occasion"] for c in contexts if c["occasion"]))
    facets["season"] = list(dict.fromkeys(c["season"] for c in contexts if c["season"]))
    facets["places"] = list(dict.fromkeys(c["place"] for c in contexts if c["place"]))
    facets["climate"] = [c["climate"] for c in contexts if c["climate"]]
    facets["wet"] = any(c["wet"] for c in contexts)
    facets["formality"] = _intersect([c["formality"] for c in contexts])
    facets["palette"] = _intersect([c["palette"] for c in contexts])
    colours = [col for c in contexts for col in c["must_not_colours"]]
    facets["must_not"]["colours"] = list(dict.fromkeys(colours))
    for key, value in stated.items():
        if key == "must_not":
            for kind, values in value.items():
                facets["must_not"][kind] = list(dict.fromkeys(facets["must_not"][kind] + values))
        else:
            facets[key] = value
    return facets


def plausible(occasion: str | None, place: str | None, season: str | None) -> bool:
    """Whether a person would say it (no resort holiday in a cold place, no garden party in winter).

    Args:
        occasion (`str | None`): a name from OCCASIONS.
        place (`str | None`): a key of PLACES.
        season (`str | None`): the calendar season.

    Returns:
        `bool`: False for combinations nobody would ask for.
    """
    if place is None or season is None:
        return True
    climate, wet = PLACES[place].climate[season]
    if occasion == "resort":
        return climate in ("hot", "warm")
    if occasion == "garden party":
        return season in ("spring", "summer") and not wet
    return True


def context_for(rng: random.Random, occasion: str, anchor: dict, **stated) -> dict | None:
    """A place and season where `occasion` happens and `anchor` still fits, as a context.

    Args:
        rng (`random.Random`): the generator.
        occasion (`str`): the occasion.
        anchor (`dict`): the item that must fit.
        **stated: other facets that will be asked too (checked together).

    Returns:
        `dict | None`: a context, or None when no place and season work.
    """
    places = [p for p, spec in PLACES.items() if occasion in spec.occasions]
    rng.shuffle(places)
    for place in places[:8]:
        seasons = ["spring", "summer", "autumn", "winter"]
        rng.shuffle(seasons)
        for season in seasons:
            if not plausible(occasion, place, season):
                continue
            context = implied_context(occasion, place, season)
            if meets_need(anchor, assemble([context], **stated)):
                return context
    return None


def _category_or_group(rng: random.Random, anchor: dict, p_category: float) -> dict:
    if rng.random() < p_category:
        return {"category": anchor["category"]}
    return {"category_group": anchor["attributes"]["category_group"]}


def _budget_over(rng: random.Random, price: float) -> int:
    return nice_budget(price * rng.uniform(1.0, 1.5))


BRANDING_ASKS = {
    "discreet": ["discreet"],
    "moderate": ["discreet", "moderate"],
    "logo-forward": ["logo-forward"],
}


def _branding_ask(branding: str) -> list[str]:
    # "subtle branding" admits discreet only; "nothing loud" also a small mark; "logo" the loud ones.
    return BRANDING_ASKS[branding]


# ----------------------------------------------------------------------------------------------
# One sampler per type


def explicit_need(rng: random.Random, shopper: Shopper, catalogue: Catalogue) -> dict | None:
    """Constraints stated outright, built around an anchor item."""
    anchor = shopper.anchor(rng)
    if anchor is None:
        return None
    a = anchor["attributes"]
    stated = _category_or_group(rng, anchor, 0.75)
    contexts = []
    options = ["colour", "material", "budget", "origin", "branding", "season", "occasion", "must_not"]
    for option in rng.sample(options, k=rng.randint(2, 4)):
        if option == "colour":
            stated["colour"] = [a["colour"][0]]
        elif option == "material" and CATEGORIES[anchor["category"]].group not in ("watches",):
            stated["material"] = [a["material"][0]]
        elif option == "budget":
            stated["budget_max"] = _budget_over(rng, anchor["price"])
        elif option == "origin":
            stated["origin"] = a["origin"]
        elif option == "branding":
            stated["branding"] = _branding_ask(a["branding"])
        elif option == "season" and len(a["season"]) < 4:
            contexts.append(implied_context(None, None, rng.choice(a["season"])))
        elif option == "occasion":
            contexts.append(implied_context(rng.choice(a["occasion"]), None, None))
        elif option == "must_not":
            no = shopper.taste["dislikes"]
            if no["materials"]:
                stated["must_not"] = {"materials": no["materials"][:1]}
            elif no["branding"]:
                stated["must_not"] = {"branding": no["branding"][:1]}
    facets = assemble(contexts, **stated)
    return facets if meets_need(anchor, facets) else None


def implicit_need(rng: random.Random, shopper: Shopper, catalogue: Catalogue) -> dict | None:
    """An occasion at a place in a season; climate, formality and palette are left unsaid."""
    anchor = shopper.anchor(rng)
    if anchor is None:
        return None
    stated = _category_or_group(rng, anchor, 0.65)
    if rng.random() < 0.2:
        stated["origin"] = anchor["attributes"]["origin"]
    if rng.random() < 0.15:
        stated["branding"] = _branding_ask(anchor["attributes"]["branding"])
    if rng.random() < 0.3:
        stated["budget_max"] = _budget_over(rng, anchor["price"])
    context = context_for(rng, rng.choice(anchor["attributes"]["occasion"]), anchor, **stated)
    return assemble([context], **stated) if context else None


def multi_occasion_need(rng: random.Random, shopper: Shopper, catalogue: Catalogue) -> dict | None:
    """One piece for two occasions, each perhaps at its own place and season."""
    anchor = shopper.anchor(rng, lambda i: len(i["attributes"]["occasion"]) >= 2)
    if anchor is None:
        return None
    first, second = rng.sample(anchor["attributes"]["occasion"], k=2)
    stated = _category_or_group(rng, anchor, 0.6)
    if rng.random() < 0.2:
        stated["budget_max"] = _budget_over(rng, anchor["price"])
    contexts = []
    for occasion in (first, second):
        if rng.random() < 0.6:
            context = context_for(rng, occasion, anchor, **stated)
            if context is None:
                return None
        else:
            context = implied_context(occasion, None, None)
        contexts.append(context)
    facets = assemble(contexts, **stated)
    return facets if meets_need(anchor, facets) else None


def taste_need(rng: random.Random, shopper: Shopper, catalogue: Catalogue) -> dict | None:
    """A request only the history can answer ("something she would love")."""
    anchor = shopper.anchor(rng, lambda i: shopper.scores[i["item_id"]] >= TASTE_FLOOR)
    if anchor is None:
        return None
    roll = rng.random()
    stated: dict = {"taste_led": True}
    if roll < 0.55:
        stated["category_group"] = anchor["attributes"]["category_group"]
    elif roll < 0.85:
        stated["category"] = anchor["category"]
    if rng.random() < 0.3:
        stated["budget_max"] = _budget_over(rng, anchor["price"])
    contexts = []
    if rng.random() < 0.25:
        contexts.append(implied_context(rng.choice(anchor["attributes"]["occasion"]), None, None))
    facets = assemble(contexts, **stated)
    return facets if meets_need(anchor, facets) else None


# (material, wrong claim, the condition it fails, categories where someone would ask it of)
MISBELIEFS = (
    ("suede", "waterproof", "wet", ("loafer", "ankle boot", "knee boot", "sneaker", "tote", "shoulder bag",
                                   "crossbody", "bucket bag")),
    ("lambskin", "fine in heavy rain", "wet", ("shoulder bag", "top-handle bag", "clutch", "pump")),
    ("silk satin", "rain-proof", "wet", ("pump", "clutch", "mule", "heeled sandal")),
    ("raffia", "fine in a downpour", "wet", ("tote", "bucket bag", "crossbody")),
    ("cashmere", "cool enough for a heatwave", "hot", ("knitwear", "stole", "blazer", "dress")),
    ("wool", "breathable enough for high summer", "hot", ("blazer", "trousers", "dress", "knitwear")),
    ("velvet", "light enough for summer heat", "hot",
     ("blazer", "loafer", "clutch", "dress", "evening gown")),
    ("linen", "warm enough for a snowy winter", "cold", ("blazer", "trousers", "dress", "knitwear")),
    ("raffia", "fine in the snow", "cold", ("tote", "bucket bag")),
    ("silk chiffon", "warm enough for winter evenings", "cold", ("dress", "stole", "evening gown")),
)
MATERIAL_TRUTH = {
    "wet": "{material} marks and stains in the rain",
    "hot": "{material} is a warm, cold-weather material",
    "cold": "{material} is a light, warm-weather material",
}


def _survives(item: dict, condition: str) -> bool:
    """Whether an item can face the condition at all (rain-proof, summer-weight, winter-weight)."""
    if condition == "wet":
        return all(MATERIALS[m].rain for m in item["attributes"]["material"])
    return ("summer" if condition == "hot" else "winter") in item["attributes"]["season"]


def _condition_holds(condition: str, place: str, season: str) -> bool:
    climate, wet = PLACES[place].climate[season]
    return wet if condition == "wet" else climate == condition


def misinformed_need(rng: random.Random, shopper: Shopper, catalogue: Catalogue) -> dict | None:
    """A request that carries a wrong fact; the facets hold the real need and the wrong fact apart."""
    kind = rng.choice(("origin", "craft", "material", "material"))
    if kind == "material":
        return _misbelief_need(rng, shopper, catalogue)
    anchor = shopper.anchor(rng)
    if anchor is None:
        return None
    house = HOUSE_BY_NAME[anchor["brand"]]
    stated = _category_or_group(rng, anchor, 0.6) | {"house": house.name}
    if kind == "origin":
        claimed = rng.choice(sorted({h.country for h in HOUSES} - {house.country}))
        stated["wrong_fact"] = {"kind": "origin", "subject": house.name, "claimed": claimed,
                                "actual": house.country}
    else:
        # A plausible mix-up: the craft of another house in the same trade.
        neighbours = {h.craft for h in HOUSES if h.craft != house.craft and set(h.groups) & set(house.groups)}
        others = sorted(neighbours or {h.craft for h in HOUSES if h.craft != house.craft})
        stated["wrong_fact"] = {"kind": "craft", "subject": house.name, "claimed": rng.choice(others),
                                "actual": house.craft}
    if rng.random() < 0.25:
        stated["budget_max"] = _budget_over(rng, anchor["price"])
    facets = assemble([], **stated)
    return facets if meets_need(anchor, facets) else None


def _misbelief_need(rng: random.Random, shopper: Shopper, catalogue: Catalogue) -> dict | None:
    material, claim, condition, categories = rng.choice(MISBELIEFS)
    pool = [
        i for c in categories if c not in shopper.taste["avoid_categories"]
        for i in catalogue.by_category.get(c, []) if _survives(i, condition)
    ]
    anchor = shopper.anchor_in(rng, pool)
    if anchor is None:
        return None
    stated = {
        "category": anchor["category"],
        "wrong_fact": {"kind": "material", "subject": material, "claimed": claim,
                       "actual": MATERIAL_TRUTH[condition].format(material=material)},
    }
    spots = [(p, s) for p in PLACES for s in SEASONS if _condition_holds(condition, p, s)]
    rng.shuffle(spots)
    for place, season in spots[:12]:
        held_there = [o for o in PLACES[place].occasions if plausible(o, place, season)]
        occasions = [o for o in held_there if o in anchor["attributes"]["occasion"]]
        occasion = rng.choice(occasions) if occasions and rng.random() < 0.6 else None
        facets = assemble([implied_context(occasion, place, season)], **stated)
        if meets_need(anchor, facets):
            return facets
    return None


OUT_OF_CATALOGUE = (
    "sports car", "sofa", "vintage champagne", "set of golf clubs", "fragrance", "yacht charter",
    "grand piano", "racing bicycle", "espresso machine", "smartphone", "dog bed", "tennis racket",
)
# (category, material, budget in EUR): a real piece at a price nobody sells it for
UNDERPRICED = (
    ("evening gown", "silk satin", 50), ("necklace", "diamond", 100), ("dress watch", "yellow gold", 300),
    ("tote", "crocodile", 200), ("coat", "cashmere", 150), ("jewellery watch", "diamond", 500),
    ("ring", "platinum", 80), ("knitwear", "cashmere", 40), ("top-handle bag", "ostrich", 150),
)
# (category, occasion, place, season, material): combinations that cannot exist
CONTRADICTIONS = (
    ("coat", None, None, None, "linen"),
    ("sandal", "weekend", "St. Moritz", "winter", None),
    ("sneaker", "gala", None, None, None),
    ("evening gown", "office", None, None, None),
    ("espadrille", "weekend", "the Scottish Highlands", "winter", None),
    ("knee boot", "resort", "Ibiza", "summer", None),
)


def impossible_need(rng: random.Random, shopper: Shopper, catalogue: Catalogue) -> dict | None:
    """Something nothing in the catalogue can satisfy; the sampler checks that nothing does."""
    kind = rng.choice(("out-of-catalogue", "out-of-catalogue", "price", "house-range", "contradiction"))
    if kind == "out-of-catalogue":
        facets = assemble([], category=rng.choice(OUT_OF_CATALOGUE))
    elif kind == "price":
        category, material, budget = rng.choice(UNDERPRICED)
        facets = assemble([], category=category, material=[material], budget_max=budget)
    elif kind == "house-range":
        house = rng.choice(HOUSES)
        made = {i["attributes"]["category_group"] for i in catalogue.by_house.get(house.name, [])}
        groups = sorted(set(CATEGORY_GROUPS) - made)
        if not groups:
            return None
        facets = assemble([], house=house.name, category_group=rng.choice(groups))
    else:
        category, occasion, place, season, material = rng.choice(CONTRADICTIONS)
        contexts = [implied_context(occasion, place, season)] if occasion else []
        facets = assemble(contexts, category=category, material=[material] if material else None)
    facets["impossible"] = kind
    if any(meets_need(item, facets) for item in catalogue.candidates(facets)):
        return None
    return facets


SAMPLERS = {
    "explicit": explicit_need,
    "implicit": implicit_need,
    "multi_occasion": multi_occasion_need,
    "taste": taste_need,
    "misinformed": misinformed_need,
    "impossible": impossible_need,
}


def seed_request_need() -> dict:
    """The seed's own example, as facets.

    "I need a bag for my summer wedding in Tuscany that can also work for client dinners in
    Milan this fall. I prefer Italian craftsmanship and subtle branding."
    """
    contexts = [
        implied_context("wedding", "Tuscany", "summer"),
        implied_context("business dinner", "Milan", "autumn"),
    ]
    return assemble(contexts, category_group="bags", origin="Italy", branding=["discreet"])

