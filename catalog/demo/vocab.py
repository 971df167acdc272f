"""The controlled vocabulary of the demo world: seasons, formality, occasions, colours, materials
and the categories a luxury house sells.

Every rule that keeps an item coherent is data, here or, for the categories (the longest table),
in `data/categories.json`: a material's seasons, whether it survives rain, the formality it can
carry and what it does to the price; a category's group, seasons, occasions and base price.
`items.py` draws items from these tables and `relevance.py` judges items against them, so the two
can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog.demo.tables import load_table, tuples

SEASONS = ("spring", "summer", "autumn", "winter")
FORMALITY = ("casual", "smart-casual", "business", "formal", "black-tie")
BRANDING = ("discreet", "moderate", "logo-forward")
PALETTES = ("light", "bright", "neutral", "dark")
PRICE_TIERS = ("accessible-luxury", "luxury", "haute")

MONTHS = {
    "spring": ("March", "April", "May"),
    "summer": ("June", "July", "August"),
    "autumn": ("September", "October", "November"),
    "winter": ("December", "January", "February"),
}

# ----------------------------------------------------------------------------------------------
# Occasions


@dataclass(frozen=True)
class Occasion:
    """What an occasion asks of an item.

    formality: the lowest and highest acceptable level, as indices into FORMALITY.
    evening: whether it happens after dark (an evening in autumn asks for a darker palette).
    seasons: the item must be wearable in one of these (a resort asks for summer pieces).
    outdoor: whether it usually happens outside.
    """

    formality: tuple[int, int]
    evening: bool = False
    seasons: tuple[str, ...] = SEASONS
    outdoor: bool = False


OCCASIONS: dict[str, Occasion] = {
    "everyday": Occasion((0, 1)),
    "weekend": Occasion((0, 1), outdoor=True),
    "travel": Occasion((0, 2)),
    "resort": Occasion((0, 1), seasons=("summer",), outdoor=True),
    "office": Occasion((1, 2)),
    "business meeting": Occasion((2, 3)),
    "business dinner": Occasion((2, 3), evening=True),
    "cocktail": Occasion((2, 3), evening=True),
    "evening": Occasion((1, 3), evening=True),
    "garden party": Occasion((1, 3), seasons=("spring", "summer"), outdoor=True),
    "wedding": Occasion((3, 4)),
    "opera": Occasion((3, 4), evening=True),
    "gala": Occasion((4, 4), evening=True),
}

# ----------------------------------------------------------------------------------------------
# Colours and palettes

PALETTE_OF: dict[str, str] = {
    # light
    "ivory": "light", "white": "light", "cream": "light", "blush": "light", "sky blue": "light",
    "silver": "light", "rose gold": "light",
    # bright
    "red": "bright", "fuchsia": "bright", "emerald": "bright", "coral": "bright",
    "turquoise": "bright", "orange": "bright", "yellow": "bright", "blue": "bright",
    "multicolour": "bright",
    # neutral
    "beige": "neutral", "camel": "neutral", "taupe": "neutral", "grey": "neutral",
    "cognac": "neutral", "tan": "neutral", "sand": "neutral", "gold": "neutral",
    "tortoiseshell": "neutral",
    # dark
    "black": "dark", "navy": "dark", "burgundy": "dark", "chocolate": "dark", "olive": "dark",
    "brown": "dark",
}

# Colour pools, each colour with a weight. A material names the pool its colours come from.
COLOUR_POOLS: dict[str, dict[str, float]] = {
    "general": {
        "black": 5, "navy": 3, "burgundy": 2, "chocolate": 2, "olive": 1,
        "beige": 2, "camel": 3, "taupe": 2, "grey": 2, "cognac": 3, "tan": 2, "sand": 1,
        "ivory": 2, "white": 1.5, "cream": 1.5, "blush": 1.5, "sky blue": 1,
        "red": 1.5, "fuchsia": 1, "emerald": 1, "coral": 1, "turquoise": 0.7, "orange": 0.7,
        "yellow": 0.5, "blue": 1,
    },
    "natural": {"sand": 4, "ivory": 2, "tan": 2, "black": 1.5, "cream": 1},
    "suede": {"taupe": 3, "cognac": 2, "chocolate": 2, "sand": 2, "navy": 1.5, "black": 2,
              "olive": 1, "burgundy": 1, "blush": 0.8},
    "shearling": {"cream": 3, "chocolate": 2, "camel": 3, "black": 2, "sand": 1},
    "tweed": {"grey": 3, "chocolate": 2, "olive": 2, "camel": 2, "navy": 2},
    "knit": {"camel": 3, "grey": 3, "navy": 2, "black": 2, "cream": 2, "ivory": 1.5,
             "burgundy": 1.5, "olive": 1, "blush": 1, "sky blue": 1, "red": 0.6},
    "summer": {"ivory": 3, "white": 3, "sand": 2, "sky blue": 2, "blush": 2, "beige": 2,
               "coral": 1.2, "turquoise": 1, "yellow": 1, "navy": 1.5, "black": 1, "emerald": 0.8},
    "evening": {"black": 5, "navy": 2, "burgundy": 2, "emerald": 1.5, "red": 1.5, "ivory": 1,
                "gold": 1, "silver": 1, "blush": 1, "fuchsia": 0.8, "chocolate": 0.6},
    "print": {"multicolour": 4, "navy": 1.5, "red": 1.5, "emerald": 1, "coral": 1, "blue": 1,
              "ivory": 1, "fuchsia": 1, "camel": 1, "black": 1},
    "metal": {},  # jewellery and watch cases take their colour from the metal itself
    "dial": {"black": 3, "white": 3, "silver": 2, "blue": 2, "navy": 1, "grey": 1.5, "emerald": 0.8,
             "chocolate": 0.6, "gold": 0.7},
    "acetate": {"black": 4, "tortoiseshell": 4, "tan": 1.5, "cream": 1, "burgundy": 1, "olive": 1,
                "navy": 1, "blush": 0.7},
    "titanium": {"gold": 3, "silver": 3, "black": 2, "rose gold": 1},
}

METAL_COLOUR = {
    "yellow gold": "gold",
    "white gold": "silver",
    "rose gold": "rose gold",
    "platinum": "silver",
    "sterling silver": "silver",
    "stainless steel": "silver",
    "titanium": "grey",
    "ceramic": "black",
}
STONE_COLOUR = {"pearl": "ivory", "sapphire": "blue", "ruby": "red", "diamond": None}

# ----------------------------------------------------------------------------------------------
# Materials


@dataclass(frozen=True)
class Material:
    """What a material allows.

    kind: leather, exotic, natural, textile, silk, metal, stone, frame.
    seasons: the seasons it can be worn in.
    rain: whether it shrugs off rain (suede, raffia and silk do not).
    formality: lowest and highest formality it can carry (jute is never black-tie).
    price: multiplier on the category's base price when it is the main material.
    colours: the colour pool it is dyed or found in.
    """

    kind: str
    seasons: tuple[str, ...] = SEASONS
    rain: bool = False
    formality: tuple[int, int] = (0, 4)
    price: float = 1.0
    colours: str = "general"


SPRING_SUMMER = ("spring", "summer")
AUTUMN_WINTER = ("autumn", "winter")

MATERIALS: dict[str, Material] = {
    # leathers
    "calfskin": Material("leather", rain=True),
    "grained calfskin": Material("leather", rain=True, formality=(0, 3)),
    "lambskin": Material("leather", formality=(1, 4), price=1.15),
    "suede": Material("leather", seasons=("spring", "autumn", "winter"), formality=(0, 3), colours="suede"),
    "patent leather": Material("leather", rain=True, formality=(1, 4), price=1.05, colours="evening"),
    "crocodile": Material("exotic", formality=(1, 4), price=3.4),
    "ostrich": Material("exotic", formality=(1, 3), price=2.3),
    "alligator leather": Material("exotic", formality=(2, 4), price=3.0, colours="evening"),
    "shearling": Material("leather", seasons=AUTUMN_WINTER, formality=(0, 2), price=1.5, colours="shearling"),
    # plant fibres
    "raffia": Material("natural", seasons=SPRING_SUMMER, formality=(0, 3), price=0.6, colours="natural"),
    "jute": Material("natural", seasons=SPRING_SUMMER, formality=(0, 1), price=0.5, colours="natural"),
    "linen": Material("textile", seasons=SPRING_SUMMER, formality=(0, 3), price=0.75, colours="summer"),
    "cotton": Material("textile", formality=(0, 3), price=0.6),
    "cotton gabardine": Material("textile", rain=True, formality=(1, 3), price=0.85),
    "canvas": Material("textile", rain=True, formality=(0, 2), price=0.7),
    "nylon": Material("textile", rain=True, formality=(0, 2), price=0.65),
    # silks
    "silk twill": Material("silk", price=1.0, colours="print"),
    "silk satin": Material("silk", formality=(2, 4), price=1.2, colours="evening"),
    "silk chiffon": Material("silk", seasons=SPRING_SUMMER, formality=(1, 4), price=1.1, colours="summer"),
    "silk crepe": Material("silk", formality=(1, 4), price=1.1),
    # animal fibres
    "cashmere": Material("textile", seasons=AUTUMN_WINTER, price=1.6, colours="knit"),
    "wool": Material("textile", seasons=AUTUMN_WINTER, rain=True, price=1.0, colours="knit"),
    "tweed": Material("textile", seasons=AUTUMN_WINTER, rain=True, formality=(0, 2), colours="tweed"),
    "velvet": Material("textile", seasons=AUTUMN_WINTER, formality=(2, 4), price=1.15, colours="evening"),
    # metals (jewellery, watch cases)
    "yellow gold": Material("metal", rain=True, colours="metal"),
    "white gold": Material("metal", rain=True, price=1.05, colours="metal"),
    "rose gold": Material("metal", rain=True, colours="metal"),
    "platinum": Material("metal", rain=True, formality=(2, 4), price=1.4, colours="metal"),
    "sterling silver": Material("metal", rain=True, formality=(0, 2), price=0.22, colours="metal"),
    "stainless steel": Material("metal", rain=True, formality=(0, 3), price=0.55, colours="dial"),
    "titanium": Material("metal", rain=True, formality=(0, 2), price=0.65, colours="titanium"),
    "ceramic": Material("metal", rain=True, formality=(1, 3), price=0.75, colours="dial"),
    "rubber": Material("textile", rain=True, formality=(0, 2), price=0.5, colours="dial"),
    # stones
    "diamond": Material("stone", rain=True, formality=(2, 4), price=1.9, colours="metal"),
    "pearl": Material("stone", rain=True, formality=(1, 4), price=1.1, colours="metal"),
    "sapphire": Material("stone", rain=True, formality=(2, 4), price=1.6, colours="metal"),
    "ruby": Material("stone", rain=True, formality=(2, 4), price=1.7, colours="metal"),
    # frames
    "acetate": Material("frame", rain=True, formality=(0, 3), colours="acetate"),
}

# Materials a client may love or hate (the rest are too technical to hold an opinion about).
TASTE_MATERIALS = (
    "calfskin", "lambskin", "suede", "patent leather", "crocodile", "ostrich", "shearling",
    "raffia", "linen", "cotton", "canvas", "nylon", "silk twill", "silk satin", "silk chiffon",
    "cashmere", "wool", "tweed", "velvet", "yellow gold", "white gold", "rose gold", "platinum",
    "sterling silver", "stainless steel", "titanium", "diamond", "pearl", "acetate",
)

# ----------------------------------------------------------------------------------------------
# Categories


@dataclass(frozen=True)
class Category:
    """A fine category a house can sell.

    group: one of `catalog.derive.CATEGORY_GROUPS`.
    noun: the noun used in titles ("Shoulder Bag", "Loafers").
    phrase: how a client names one ("a shoulder bag", "a pair of loafers").
    price: base price in EUR for the `luxury` tier in the category's default material.
    formality: lowest and highest formality level the category can take.
    seasons: the seasons it can be worn in at most (materials narrow this further).
    occasions: the occasions it can serve at most (formality and seasons narrow this further).
    materials: main materials with weights.
    extras: second materials (trims, linings, stones, straps) with weights; "" means none.
    exposed: whether weather matters (a bag or a shoe in the rain; not a ring).
    wearer: "any", or "she"/"he" for the few pieces sold on one side of the floor.
    """

    group: str
    noun: str
    phrase: str
    price: float
    formality: tuple[int, int]
    seasons: tuple[str, ...]
    occasions: tuple[str, ...]
    materials: dict[str, float]
    extras: dict[str, float]
    exposed: bool = True
    wearer: str = "any"


def _category(row: dict, shared_extras: dict[str, dict[str, float]]) -> Category:
    """A row of `categories.json` as a `Category`; an `extras` that is a name is one of the shared tables
    (one dict, shared by every category that names it)."""
    extras = shared_extras[row["extras"]] if isinstance(row["extras"], str) else row["extras"]
    return Category(**{**tuples(row), "extras": extras})


_CATEGORY_TABLES = load_table("categories")
CATEGORIES: dict[str, Category] = {key: _category(row, _CATEGORY_TABLES["extras"])
                                   for key, row in _CATEGORY_TABLES["categories"].items()}

GROUP_PHRASE = {
    "bags": "a bag",
    "shoes": "a pair of shoes",
    "silk": "a scarf or a stole",
    "jewellery": "a piece of jewellery",
    "watches": "a watch",
    "ready-to-wear": "something to wear",
    "small-leather-goods": "a small leather piece",
    "eyewear": "a pair of glasses",
}


def categories_in(group: str) -> list[str]:
    """Fine categories of a group, in table order.

    Args:
        group (`str`): a name from `catalog.derive.CATEGORY_GROUPS`.

    Returns:
        `list[str]`: the fine categories whose group it is.
    """
    return [name for name, cat in CATEGORIES.items() if cat.group == group]


def seasons_of(materials: list[str], category: str) -> list[str]:
    """The seasons an item can be worn in: the category's, narrowed by every material.

    Args:
        materials (`list[str]`): the item's materials.
        category (`str`): the item's fine category.

    Returns:
        `list[str]`: seasons in calendar order (empty when the materials contradict each other).
    """
    allowed = set(CATEGORIES[category].seasons)
    for material in materials:
        allowed &= set(MATERIALS[material].seasons)
    return [s for s in SEASONS if s in allowed]


def formality_range(materials: list[str], category: str) -> tuple[int, int]:
    """The formality levels an item can take: the category's, narrowed by every material.

    Args:
        materials (`list[str]`): the item's materials.
        category (`str`): the item's fine category.

    Returns:
        `tuple[int, int]`: (low, high) indices into FORMALITY; low > high when impossible.
    """
    low, high = CATEGORIES[category].formality
    for material in materials:
        m_low, m_high = MATERIALS[material].formality
        low, high = max(low, m_low), min(high, m_high)
    return low, high


def occasion_fits(occasion: str, category: str, formality: int, seasons: list[str]) -> bool:
    """Whether an item of this category, formality and seasons can serve the occasion.

    Args:
        occasion (`str`): a name from OCCASIONS.
        category (`str`): the item's fine category.
        formality (`int`): the item's formality index.
        seasons (`list[str]`): the item's seasons.

    Returns:
        `bool`: True when the category allows it, the formality is in range and a season fits.
    """
    spec = OCCASIONS[occasion]
    low, high = spec.formality
    return (
        occasion in CATEGORIES[category].occasions
        and low <= formality <= high
        and any(s in spec.seasons for s in seasons)
    )
