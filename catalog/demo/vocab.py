"""The controlled vocabulary of the demo world: seasons, formality, occasions, colours, materials
and the categories a luxury house sells.

Every rule that keeps an item coherent lives here as data: a material's seasons, whether it
survives rain, the formality it can carry and what it does to the price; a category's group,
seasons, occasions and base price. `items.py` draws items from these tables and `relevance.py`
judges items against them, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

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


LEATHER_TRIMS = {"": 6, "calfskin": 1.5, "suede": 0.6}
CANVAS_TRIMS = {"": 2, "calfskin": 3}
NO_EXTRAS = {"": 1}
STONES = {"": 5, "diamond": 2.5, "pearl": 1.5, "sapphire": 0.8, "ruby": 0.6}

CATEGORIES: dict[str, Category] = {
    # bags
    "tote": Category(
        "bags", "Tote", "a tote", 2300, (0, 2), SEASONS,
        ("everyday", "weekend", "travel", "office", "business meeting", "resort"),
        {"calfskin": 3, "grained calfskin": 3, "canvas": 2, "raffia": 1.5, "nylon": 1, "suede": 1,
         "crocodile": 0.3},
        {"": 5, "calfskin": 2}),
    "shoulder bag": Category(
        "bags", "Shoulder Bag", "a shoulder bag", 2800, (1, 3), SEASONS,
        ("everyday", "office", "business meeting", "business dinner", "evening", "cocktail", "wedding",
         "weekend"),
        {"calfskin": 3, "lambskin": 2, "grained calfskin": 2, "suede": 1, "crocodile": 0.4, "ostrich": 0.3,
         "raffia": 0.6, "patent leather": 0.5},
        LEATHER_TRIMS),
    "clutch": Category(
        "bags", "Clutch", "a clutch", 1700, (2, 4), SEASONS,
        ("evening", "cocktail", "wedding", "gala", "opera", "business dinner"),
        {"lambskin": 2, "silk satin": 2, "velvet": 1, "crocodile": 0.5, "raffia": 0.8, "patent leather": 1,
         "calfskin": 1},
        NO_EXTRAS),
    "crossbody": Category(
        "bags", "Crossbody Bag", "a crossbody bag", 2000, (0, 2), SEASONS,
        ("everyday", "weekend", "travel", "resort", "office", "evening"),
        {"calfskin": 3, "grained calfskin": 2, "nylon": 1.5, "canvas": 1.2, "raffia": 0.7, "suede": 0.8},
        LEATHER_TRIMS),
    "top-handle bag": Category(
        "bags", "Top-Handle Bag", "a top-handle bag", 3300, (1, 3), SEASONS,
        ("office", "business meeting", "business dinner", "wedding", "garden party", "cocktail", "evening",
         "opera"),
        {"calfskin": 3, "grained calfskin": 2, "lambskin": 1, "crocodile": 0.6, "ostrich": 0.4, "suede": 0.6,
         "raffia": 0.4},
        LEATHER_TRIMS),
    "bucket bag": Category(
        "bags", "Bucket Bag", "a bucket bag", 2200, (0, 2), SEASONS,
        ("everyday", "weekend", "travel", "resort", "garden party", "office"),
        {"calfskin": 2, "suede": 1.5, "raffia": 1.2, "canvas": 1, "grained calfskin": 1},
        {"": 4, "calfskin": 2}),
    "travel bag": Category(
        "bags", "Weekender", "a weekender", 3400, (0, 2), SEASONS, ("travel", "weekend"),
        {"calfskin": 2, "canvas": 2, "nylon": 2, "grained calfskin": 1.5},
        CANVAS_TRIMS),
    # shoes
    "loafer": Category(
        "shoes", "Loafers", "a pair of loafers", 780, (0, 3), SEASONS,
        ("everyday", "office", "business meeting", "weekend", "travel", "business dinner", "evening"),
        {"calfskin": 3, "suede": 2, "patent leather": 0.5, "velvet": 0.6, "crocodile": 0.2},
        NO_EXTRAS),
    "pump": Category(
        "shoes", "Pumps", "a pair of pumps", 750, (2, 4), SEASONS,
        ("office", "business meeting", "business dinner", "cocktail", "evening", "wedding", "gala", "opera"),
        {"patent leather": 2, "calfskin": 2, "suede": 2, "silk satin": 1.5, "velvet": 0.6},
        NO_EXTRAS, wearer="she"),
    "sandal": Category(
        "shoes", "Sandals", "a pair of sandals", 650, (0, 1), SPRING_SUMMER,
        ("resort", "weekend", "everyday", "travel"),
        {"calfskin": 3, "raffia": 1},
        NO_EXTRAS),
    "heeled sandal": Category(
        "shoes", "Heeled Sandals", "a pair of heeled sandals", 820, (2, 4), SPRING_SUMMER,
        ("wedding", "cocktail", "evening", "gala", "garden party", "opera"),
        {"lambskin": 2, "silk satin": 2, "patent leather": 1, "raffia": 0.6},
        NO_EXTRAS, wearer="she"),
    "ankle boot": Category(
        "shoes", "Ankle Boots", "a pair of ankle boots", 1150, (0, 3), ("spring", "autumn", "winter"),
        ("everyday", "office", "weekend", "travel", "evening", "business dinner"),
        {"calfskin": 3, "suede": 2, "shearling": 0.6, "grained calfskin": 1},
        NO_EXTRAS),
    "knee boot": Category(
        "shoes", "Knee-High Boots", "a pair of knee-high boots", 1600, (1, 3), AUTUMN_WINTER,
        ("everyday", "office", "evening", "business dinner", "weekend"),
        {"calfskin": 3, "suede": 2},
        NO_EXTRAS, wearer="she"),
    "sneaker": Category(
        "shoes", "Sneakers", "a pair of sneakers", 620, (0, 1), SEASONS,
        ("everyday", "weekend", "travel", "resort", "office"),
        {"calfskin": 3, "suede": 1.5, "canvas": 1.5, "nylon": 1},
        {"": 3, "suede": 1}),
    "espadrille": Category(
        "shoes", "Espadrilles", "a pair of espadrilles", 420, (0, 1), SPRING_SUMMER,
        ("resort", "weekend", "everyday", "travel"),
        {"canvas": 2, "linen": 1.5, "calfskin": 1, "raffia": 0.8},
        {"jute": 1}),
    "mule": Category(
        "shoes", "Mules", "a pair of mules", 690, (0, 3), ("spring", "summer", "autumn"),
        ("everyday", "office", "weekend", "evening", "resort", "cocktail"),
        {"calfskin": 2, "raffia": 1, "suede": 1, "silk satin": 1},
        NO_EXTRAS, wearer="she"),
    "oxford": Category(
        "shoes", "Oxfords", "a pair of oxfords", 950, (2, 4), SEASONS,
        ("office", "business meeting", "business dinner", "wedding", "gala", "opera"),
        {"calfskin": 4, "patent leather": 1, "suede": 0.6},
        NO_EXTRAS),
    # silk and scarves
    "scarf": Category(
        "silk", "Silk Scarf", "a silk scarf", 420, (0, 3), SEASONS,
        ("everyday", "office", "travel", "weekend", "evening", "garden party", "cocktail", "resort"),
        {"silk twill": 4, "silk chiffon": 1.2},
        NO_EXTRAS, exposed=False),
    "stole": Category(
        "silk", "Stole", "a stole", 890, (1, 4), SEASONS,
        ("evening", "wedding", "opera", "gala", "travel", "cocktail"),
        {"cashmere": 2.5, "silk chiffon": 1.2, "silk crepe": 1, "wool": 1, "silk satin": 0.6},
        NO_EXTRAS, exposed=False),
    "pocket square": Category(
        "silk", "Pocket Square", "a pocket square", 170, (2, 4), SEASONS,
        ("office", "business meeting", "business dinner", "wedding", "gala", "opera", "cocktail"),
        {"silk twill": 3, "linen": 1, "silk satin": 1},
        NO_EXTRAS, exposed=False, wearer="he"),
    "tie": Category(
        "silk", "Tie", "a tie", 210, (2, 3), SEASONS,
        ("office", "business meeting", "business dinner", "wedding", "opera"),
        {"silk twill": 3, "silk crepe": 1, "wool": 1, "cashmere": 0.5},
        NO_EXTRAS, exposed=False, wearer="he"),
    "bow tie": Category(
        "silk", "Bow Tie", "a bow tie", 190, (4, 4), SEASONS, ("gala", "opera", "wedding"),
        {"silk satin": 3, "velvet": 1},
        NO_EXTRAS, exposed=False, wearer="he"),
    # jewellery
    "necklace": Category(
        "jewellery", "Necklace", "a necklace", 4200, (0, 4), SEASONS,
        ("everyday", "office", "evening", "cocktail", "wedding", "gala", "opera", "business dinner"),
        {"yellow gold": 3, "white gold": 2, "rose gold": 1.5, "platinum": 0.7, "sterling silver": 1.5},
        STONES, exposed=False),
    "bracelet": Category(
        "jewellery", "Bracelet", "a bracelet", 3600, (0, 4), SEASONS,
        ("everyday", "office", "evening", "cocktail", "wedding", "gala", "opera", "weekend"),
        {"yellow gold": 3, "white gold": 2, "rose gold": 1.5, "platinum": 0.5, "sterling silver": 1.5},
        STONES, exposed=False),
    "earring": Category(
        "jewellery", "Earrings", "a pair of earrings", 2900, (0, 4), SEASONS,
        ("everyday", "office", "evening", "cocktail", "wedding", "gala", "opera"),
        {"yellow gold": 3, "white gold": 2, "rose gold": 1.5, "platinum": 0.6, "sterling silver": 1.2},
        STONES, exposed=False),
    "ring": Category(
        "jewellery", "Ring", "a ring", 3100, (0, 4), SEASONS,
        ("everyday", "office", "evening", "cocktail", "wedding", "gala", "opera"),
        {"yellow gold": 3, "white gold": 2, "rose gold": 1.2, "platinum": 1, "sterling silver": 1},
        STONES, exposed=False),
    "cufflinks": Category(
        "jewellery", "Cufflinks", "a pair of cufflinks", 1200, (2, 4), SEASONS,
        ("office", "business meeting", "business dinner", "wedding", "gala", "opera"),
        {"yellow gold": 2, "white gold": 1.5, "sterling silver": 2, "platinum": 0.5},
        {"": 4, "sapphire": 0.6, "diamond": 0.4}, exposed=False, wearer="he"),
    # watches
    "dress watch": Category(
        "watches", "Dress Watch", "a dress watch", 9800, (2, 4), SEASONS,
        ("office", "business meeting", "business dinner", "wedding", "gala", "opera", "evening"),
        {"yellow gold": 1.5, "rose gold": 1.5, "white gold": 1, "stainless steel": 1.5, "platinum": 0.5},
        {"alligator leather": 3, "calfskin": 1.5}, exposed=False),
    "chronograph": Category(
        "watches", "Chronograph", "a chronograph", 12500, (1, 3), SEASONS,
        ("office", "business meeting", "travel", "weekend", "everyday", "business dinner"),
        {"stainless steel": 3, "titanium": 1, "ceramic": 1, "yellow gold": 0.5, "rose gold": 0.4},
        {"calfskin": 2, "stainless steel": 2, "rubber": 1}, exposed=False),
    "diving watch": Category(
        "watches", "Diving Watch", "a diving watch", 8400, (0, 2), SEASONS,
        ("resort", "travel", "weekend", "everyday", "office"),
        {"stainless steel": 3, "titanium": 2, "ceramic": 1, "yellow gold": 0.3},
        {"rubber": 2, "stainless steel": 2}, exposed=False),
    "jewellery watch": Category(
        "watches", "Jewellery Watch", "a jewellery watch", 21000, (3, 4), SEASONS,
        ("evening", "cocktail", "wedding", "gala", "opera"),
        {"white gold": 2, "rose gold": 1.5, "yellow gold": 1},
        {"diamond": 3, "silk satin": 1}, exposed=False),
    # ready-to-wear
    "dress": Category(
        "ready-to-wear", "Dress", "a dress", 2600, (0, 3), SEASONS,
        ("everyday", "office", "weekend", "resort", "garden party", "wedding", "cocktail", "evening",
         "business dinner"),
        {"silk crepe": 2, "silk chiffon": 1.5, "linen": 1.5, "cotton": 1.2, "wool": 1, "cashmere": 0.5,
         "velvet": 0.5},
        NO_EXTRAS, exposed=False, wearer="she"),
    "evening gown": Category(
        "ready-to-wear", "Evening Gown", "an evening gown", 6800, (3, 4), SEASONS,
        ("gala", "opera", "wedding"),
        {"silk satin": 2, "silk chiffon": 1.5, "silk crepe": 1.5, "velvet": 1},
        NO_EXTRAS, exposed=False, wearer="she"),
    "blazer": Category(
        "ready-to-wear", "Blazer", "a blazer", 2400, (1, 3), SEASONS,
        ("office", "business meeting", "business dinner", "evening", "travel", "weekend"),
        {"wool": 3, "linen": 1.5, "cotton": 1, "tweed": 1, "velvet": 0.7, "cashmere": 0.8},
        NO_EXTRAS, exposed=False),
    "dinner jacket": Category(
        "ready-to-wear", "Dinner Jacket", "a dinner jacket", 3900, (4, 4), SEASONS,
        ("gala", "opera", "wedding"),
        {"wool": 2, "velvet": 1, "silk crepe": 1},
        {"silk satin": 1}, exposed=False),
    "coat": Category(
        "ready-to-wear", "Coat", "a coat", 3600, (1, 3), AUTUMN_WINTER,
        ("everyday", "office", "business meeting", "business dinner", "evening", "travel", "opera"),
        {"wool": 3, "cashmere": 2, "shearling": 1, "tweed": 1},
        NO_EXTRAS),
    "trench coat": Category(
        "ready-to-wear", "Trench Coat", "a trench coat", 2900, (1, 3), ("spring", "autumn"),
        ("everyday", "office", "business meeting", "travel", "weekend"),
        {"cotton gabardine": 4, "nylon": 0.6},
        NO_EXTRAS),
    "knitwear": Category(
        "ready-to-wear", "Sweater", "a sweater", 1250, (0, 2), SEASONS,
        ("everyday", "weekend", "travel", "office"),
        {"cashmere": 3, "wool": 2, "cotton": 1, "linen": 0.8},
        NO_EXTRAS, exposed=False),
    "shirt": Category(
        "ready-to-wear", "Shirt", "a shirt", 620, (1, 3), SEASONS,
        ("office", "business meeting", "business dinner", "weekend", "everyday", "evening"),
        {"cotton": 3, "linen": 1.5, "silk crepe": 1.5},
        NO_EXTRAS, exposed=False),
    "trousers": Category(
        "ready-to-wear", "Trousers", "a pair of trousers", 890, (0, 3), SEASONS,
        ("office", "business meeting", "business dinner", "weekend", "travel", "everyday", "evening"),
        {"wool": 3, "linen": 1.5, "cotton": 1.5},
        NO_EXTRAS, exposed=False),
    "skirt": Category(
        "ready-to-wear", "Skirt", "a skirt", 1100, (1, 3), SEASONS,
        ("office", "evening", "cocktail", "business dinner", "garden party"),
        {"wool": 2, "silk crepe": 1.5, "silk chiffon": 1, "lambskin": 0.7, "linen": 0.7},
        NO_EXTRAS, exposed=False, wearer="she"),
    # small leather goods
    "wallet": Category(
        "small-leather-goods", "Wallet", "a wallet", 690, (0, 3), SEASONS,
        ("everyday", "office", "travel", "business meeting"),
        {"calfskin": 3, "grained calfskin": 3, "crocodile": 0.4, "canvas": 1},
        NO_EXTRAS, exposed=False),
    "card holder": Category(
        "small-leather-goods", "Card Holder", "a card holder", 360, (0, 3), SEASONS,
        ("everyday", "office", "travel", "business meeting"),
        {"calfskin": 3, "grained calfskin": 3, "crocodile": 0.4, "canvas": 0.8, "lambskin": 0.8},
        NO_EXTRAS, exposed=False),
    "belt": Category(
        "small-leather-goods", "Belt", "a belt", 520, (0, 3), SEASONS,
        ("everyday", "office", "weekend", "business meeting", "business dinner"),
        {"calfskin": 4, "suede": 1, "crocodile": 0.4},
        NO_EXTRAS, exposed=False),
    "passport holder": Category(
        "small-leather-goods", "Passport Holder", "a passport holder", 450, (0, 2), SEASONS, ("travel",),
        {"calfskin": 2, "grained calfskin": 2, "canvas": 1},
        NO_EXTRAS, exposed=False),
    # eyewear
    "sunglasses": Category(
        "eyewear", "Sunglasses", "a pair of sunglasses", 420, (0, 2), ("spring", "summer", "autumn"),
        ("resort", "travel", "weekend", "everyday", "garden party"),
        {"acetate": 3, "titanium": 1.5},
        NO_EXTRAS, exposed=False),
    "optical frame": Category(
        "eyewear", "Optical Frames", "a pair of optical frames", 460, (0, 3), SEASONS,
        ("office", "everyday", "business meeting", "travel"),
        {"acetate": 3, "titanium": 1.5},
        NO_EXTRAS, exposed=False),
}

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
