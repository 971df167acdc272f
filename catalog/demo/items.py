"""The catalogue: items drawn from the houses, coherent by construction.

An item starts from a house and a fine category. Its materials are drawn from the category's
table (weighted by what the house favours and by whether the house craft applies), and then
everything else follows from the vocabulary's rules: seasons are the category's narrowed by every
material, formality lies in the range both allow, occasions are those the category, formality
and seasons admit, colours come from the main material's pool, and the price is the category's
base price times the house tier and the material.
"""

from __future__ import annotations

import random

from catalog.demo.crafts import craft_fits, item_craft
from catalog.demo.descriptions import describe
from catalog.demo.houses import HOUSES, MODEL_NAMES, TIER_PRICE, House
from catalog.demo.sampling import allocate, nice_price, pick
from catalog.demo.vocab import (
    BRANDING,
    CATEGORIES,
    COLOUR_POOLS,
    FORMALITY,
    MATERIALS,
    METAL_COLOUR,
    OCCASIONS,
    PALETTE_OF,
    STONE_COLOUR,
    categories_in,
    formality_range,
    occasion_fits,
    seasons_of,
)

# How often each fine category appears within its group.
CATEGORY_WEIGHT = {
    "tote": 1.2, "shoulder bag": 1.3, "clutch": 0.8, "crossbody": 1.0, "top-handle bag": 1.0,
    "bucket bag": 0.7, "travel bag": 0.4,
    "loafer": 1.2, "pump": 1.0, "sandal": 0.8, "heeled sandal": 0.7, "ankle boot": 1.0, "knee boot": 0.5,
    "sneaker": 1.0, "espadrille": 0.6, "mule": 0.6, "oxford": 0.7,
    "scarf": 2.0, "stole": 1.0, "pocket square": 0.5, "tie": 0.8, "bow tie": 0.3,
    "necklace": 1.0, "bracelet": 1.0, "earring": 1.0, "ring": 1.0, "cufflinks": 0.4,
    "dress watch": 1.2, "chronograph": 1.0, "diving watch": 0.8, "jewellery watch": 0.5,
    "dress": 1.2, "evening gown": 0.5, "blazer": 1.0, "dinner jacket": 0.3, "coat": 1.0, "trench coat": 0.5,
    "knitwear": 1.2, "shirt": 1.0, "trousers": 0.9, "skirt": 0.6,
    "wallet": 1.0, "card holder": 1.2, "belt": 1.0, "passport holder": 0.4,
    "sunglasses": 1.5, "optical frame": 1.0,
}

# Pieces a house makes outside its country (a Paris label's sunglasses are made in Cadore).
MADE_ELSEWHERE = {"eyewear": "Italy", "shoes": "Italy", "watches": "Switzerland"}


def house_lines(rng: random.Random, house: House) -> list[str]:
    """The model-line names a house uses, borrowed from its country's language.

    Args:
        rng (`random.Random`): the generator.
        house (`House`): the house.

    Returns:
        `list[str]`: 6 to 10 names.
    """
    pool = MODEL_NAMES[house.country]
    return rng.sample(pool, k=min(len(pool), rng.randint(6, 10)))


def pick_category(rng: random.Random, house: House) -> str:
    """A fine category from the house's specialities.

    Args:
        rng (`random.Random`): the generator.
        house (`House`): the house.

    Returns:
        `str`: a key of CATEGORIES.
    """
    group = pick(rng, house.groups)
    names = house.categories.get(group) or tuple(categories_in(group))
    return pick(rng, {name: CATEGORY_WEIGHT[name] for name in names})


def pick_materials(rng: random.Random, house: House, category: str) -> list[str]:
    """Main material (and maybe a second one) that agree on at least one season and formality.

    Args:
        rng (`random.Random`): the generator.
        house (`House`): the house (its favoured materials and craft tilt the draw).
        category (`str`): the fine category.

    Returns:
        `list[str]`: the materials, main first.
    """
    cat = CATEGORIES[category]
    weights = {
        m: w * house.favours.get(m, 1.0) * (3.0 if craft_fits(house.craft, category, [m]) else 1.0)
        for m, w in cat.materials.items()
    }
    for _ in range(50):
        main, extra = pick(rng, weights), pick(rng, cat.extras)
        materials = [main] + ([extra] if extra and extra != main else [])
        low, high = formality_range(materials, category)
        if seasons_of(materials, category) and low <= high and _has_occasion(category, materials):
            return materials
    raise RuntimeError(f"no coherent materials for {category} at {house.name}")  # a vocabulary bug


def _has_occasion(category: str, materials: list[str]) -> bool:
    seasons = seasons_of(materials, category)
    low, high = formality_range(materials, category)
    return any(occasion_fits(o, category, f, seasons) for o in OCCASIONS for f in range(low, high + 1))


def pick_occasions(rng: random.Random, category: str, formality: int, seasons: list[str]) -> list[str]:
    """The occasions an item is sold for: most of those it can serve, at most six.

    Args:
        rng (`random.Random`): the generator.
        category (`str`): the fine category.
        formality (`int`): the item's formality index.
        seasons (`list[str]`): the item's seasons.

    Returns:
        `list[str]`: occasions in vocabulary order (never empty).
    """
    fitting = [o for o in OCCASIONS if occasion_fits(o, category, formality, seasons)]
    kept = [o for o in fitting if rng.random() < 0.8] or [rng.choice(fitting)]
    while len(kept) > 6:
        kept.remove(rng.choice(kept))
    return kept


def pick_colours(rng: random.Random, category: str, materials: list[str], formality: int) -> list[str]:
    """Colours, main first: metals and stones give their own, other materials their pool, and a
    black-tie piece the evening pool.

    Args:
        rng (`random.Random`): the generator.
        category (`str`): the fine category.
        materials (`list[str]`): materials, main first.
        formality (`int`): the item's formality index.

    Returns:
        `list[str]`: one or two colours.
    """
    group, main = CATEGORIES[category].group, materials[0]
    if group == "jewellery":
        stone = STONE_COLOUR.get(materials[1]) if len(materials) > 1 else None
        colours = [METAL_COLOUR[main]] + ([stone] if stone else [])
    elif group == "watches":
        colours = [pick(rng, COLOUR_POOLS["dial"]), METAL_COLOUR[main]]
    else:
        pool = "evening" if FORMALITY[formality] == "black-tie" else MATERIALS[main].colours
        colours = [pick(rng, COLOUR_POOLS[pool])]
        if group in ("bags", "shoes", "silk") and rng.random() < 0.2:
            colours.append(pick(rng, COLOUR_POOLS["general"]))
    return list(dict.fromkeys(colours))


def pick_branding(rng: random.Random, house: House) -> str:
    """Mostly the house's own branding style, sometimes the neighbouring one.

    Args:
        rng (`random.Random`): the generator.
        house (`House`): the house.

    Returns:
        `str`: discreet, moderate or logo-forward.
    """
    level = BRANDING.index(house.branding)
    if rng.random() < 0.75:
        return house.branding
    return BRANDING[rng.choice([n for n in (level - 1, level + 1) if 0 <= n < len(BRANDING)])]


def pick_origin(rng: random.Random, house: House, category: str) -> str:
    """Where a piece is made: the house's country, unless it is outside the house's specialities
    (a Paris couture house's sunglasses are made in Italy, its watches in Switzerland).

    Args:
        rng (`random.Random`): the generator.
        house (`House`): the house.
        category (`str`): the fine category.

    Returns:
        `str`: the country of origin.
    """
    group = CATEGORIES[category].group
    elsewhere = MADE_ELSEWHERE.get(group)
    if elsewhere and elsewhere != house.country and house.groups.get(group, 0) < 0.3 and rng.random() < 0.7:
        return elsewhere
    return house.country


def price_of(rng: random.Random, house: House, category: str, materials: list[str]) -> float:
    """List price in EUR: category base x house tier x main material (x stone), with a little spread.

    Args:
        rng (`random.Random`): the generator.
        house (`House`): the house.
        category (`str`): the fine category.
        materials (`list[str]`): materials, main first.

    Returns:
        `float`: a rounded price.
    """
    value = CATEGORIES[category].price * TIER_PRICE[house.price_tier] * MATERIALS[materials[0]].price
    for extra in materials[1:]:
        if MATERIALS[extra].kind == "stone":
            value *= MATERIALS[extra].price
    return nice_price(value * rng.uniform(0.85, 1.25))


def build_item(
    rng: random.Random, house: House, category: str, model: str, fixed: dict | None = None
) -> dict:
    """One coherent item (without its id).

    Args:
        rng (`random.Random`): the generator.
        house (`House`): the house that makes it.
        category (`str`): the fine category.
        model (`str`): the model-line name.
        fixed (`dict | None`): attributes to impose instead of drawing them (`material`,
            `colour`, `formality`, `occasion`, `branding`); used for the signature pieces.

    Returns:
        `dict`: an item row without `item_id`.
    """
    fixed = fixed or {}
    materials = fixed.get("material") or pick_materials(rng, house, category)
    seasons = seasons_of(materials, category)
    low, high = formality_range(materials, category)
    levels = [
        f for f in range(low, high + 1) if any(occasion_fits(o, category, f, seasons) for o in OCCASIONS)
    ]
    formality = FORMALITY.index(fixed["formality"]) if "formality" in fixed else rng.choice(levels)
    occasions = fixed.get("occasion") or pick_occasions(rng, category, formality, seasons)
    colours = fixed.get("colour") or pick_colours(rng, category, materials, formality)
    cat = CATEGORIES[category]
    item = {
        "title": f"{house.name} {model} {cat.noun}",
        "brand": house.name,
        "category": category,
        "price": price_of(rng, house, category, materials),
        "currency": "EUR",
        "description": "",
        "attributes": {
            "category_group": cat.group,
            "material": list(materials),
            "colour": list(colours),
            "palette": PALETTE_OF[colours[0]],
            "season": seasons,
            "occasion": list(occasions),
            "formality": FORMALITY[formality],
            "branding": fixed.get("branding") or pick_branding(rng, house),
            "origin": pick_origin(rng, house, category),
            "craft": item_craft(house.craft, category, materials),
        },
    }
    item["description"] = describe(rng, item, house, model)
    return item


def signature_pieces(rng: random.Random) -> list[dict]:
    """Classic Italian bags that answer the world's seed request.

    The seed request ("a bag for my summer wedding in Tuscany that can also work for client
    dinners in Milan this fall; Italian craftsmanship and subtle branding") must have answers in
    every world, however small, so the catalogue always carries a few formal, neutral, discreet
    leather bags from Italian saddlers and leather weavers.

    Args:
        rng (`random.Random`): the generator.

    Returns:
        `list[dict]`: three item rows without ids.
    """
    specs = (
        ("Casa Vellani", "top-handle bag", ["calfskin"], ["taupe"]),
        ("Casa Vellani", "shoulder bag", ["calfskin"], ["cognac"]),
        ("Ruffo Intrecci", "top-handle bag", ["lambskin"], ["camel"]),
    )
    houses = {h.name: h for h in HOUSES}
    pieces = []
    for name, category, materials, colours in specs:
        house = houses[name]
        fixed = {
            "material": materials, "colour": colours, "formality": "formal", "branding": "discreet",
            "occasion": ["business dinner", "cocktail", "evening", "wedding"],
        }
        pieces.append(build_item(rng, house, category, rng.choice(MODEL_NAMES[house.country]), fixed))
    return pieces


def generate_items(rng: random.Random, n_items: int) -> list[dict]:
    """The whole catalogue, shuffled, with ids `dm-000001`...

    Args:
        rng (`random.Random`): the generator.
        n_items (`int`): how many items (at least 3: the signature pieces).

    Returns:
        `list[dict]`: item rows.
    """
    items = signature_pieces(rng)
    counts = allocate(max(0, n_items - len(items)), [h.size for h in HOUSES])
    for house, count in zip(HOUSES, counts):
        lines = house_lines(rng, house)
        for _ in range(count):
            items.append(build_item(rng, house, pick_category(rng, house), rng.choice(lines)))
    rng.shuffle(items)
    return [{"item_id": f"dm-{i:06d}", **item} for i, item in enumerate(items[:n_items], start=1)]

