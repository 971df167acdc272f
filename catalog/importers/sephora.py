"""Sephora's product table (a real beauty catalogue nobody here wrote) as an evaluation bundle.

The source is `../shared/data/sephora/product_info.csv` (5,504 products; see its README.md):
product_id, product_name, brand_id, brand_name, loves_count, rating, reviews, price_usd,
primary_category. It has no descriptions, no dates and no shoppers; the bundle adds only what an
evaluation needs and says so here.

Items: `item_id` = product_id, `title` = product_name, `brand` = brand_name, `price` = price_usd
(manifest currency USD), `category` = primary_category, and as attributes only the CSV's own numbers:
`rating` (float), `reviews` (int) and `loves_count` (int); rating and reviews are left out where the
CSV leaves them blank.

Popularity (the "crowd"): the popularity baseline counts interactions, so the real `loves_count` is
turned into interactions of `CROWD_SIZE` synthetic clients `crowd-01` .. `crowd-40` (marked
`"synthetic": true`, with no queries). A product with L loves gets

    n = min(CROWD_SIZE, floor(CROWD_PER_DECADE * log10(1 + L)))

interactions from n distinct crowd clients (which ones: a shuffle seeded by the product id): the
first ceil(n / 2) are `wishlist`, the rest `view`, so the popularity score (wishlist 0.6, view 0.2)
rises strictly with n. 0 loves -> none, 1,000 -> 12, 100,000 -> 20, 1,000,000 -> 24. Their timestamps
lie in 2022, before every query.

Queries: every request carries a `Need` kept in this module, never in the query row, and its
relevant items are computed from catalogue facts (the product name folded to lower case without
accents and hyphens, the category, the brand and the price):

- hard conditions: every `words` pattern appears in the name, the category is one of `categories`,
  the brand is one of `brands` (when named), min_price <= price <= max_price, and no `exclude`
  pattern appears. An item that misses any hard condition is not relevant.
- soft conditions: each `prefer` pattern in the name, and the brand among `prefer_brands`.
- grade = 3 - (soft conditions missed), at least 1: 3 meets everything, 2 misses one preference,
  1 misses two or more. At most `MAX_RELEVANT` items are kept, by grade and then loves_count.

Patterns are regular expressions matched as whole words (an optional plural `s`/`es` allowed).
Splits: `test` holds the natural requests written by hand (`TEST_NEEDS`) and the requests the
catalogue cannot answer (`IMPOSSIBLE_NEEDS`, type `impossible`, empty `relevant`: out of the
catalogue, or a brand + product + budget no product meets); `train` and `val` hold requests
generated mechanically from `PRODUCT_TYPES` with their own templates, sharing no wording with the
test requests. An answerable request that ends up with no relevant item is dropped (and counted in
the report); an "impossible" one that something meets is dropped too.

Clients: one client per query (`shopper-001` ..), with no history: each request is a cold start, so
the grades depend on the request alone, and no shopper's history can leak another split's answer.
Query type: `impossible`, else `gift` (a present for someone), `brand` (a house is named), `budget`
(a price limit) or `product`, the first that applies.
"""

from __future__ import annotations

import csv
import math
import random
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from catalog.bundle import Bundle, ValidationReport, clean_item, keep_unique, write_bundle
from catalog.commands import run_command
from catalog.errors import ConciergeError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CSV = (REPO_ROOT / ".." / "shared" / "data" / "sephora" / "product_info.csv").resolve()
CROWD_SIZE = 40
CROWD_PER_DECADE = 4  # crowd interactions per tenfold of loves_count
MAX_RELEVANT = 50
N_TRAIN, N_VAL = 240, 60
CROWD_START = datetime(2022, 1, 1, tzinfo=timezone.utc)
SPLIT_START = {"train": datetime(2023, 3, 1, 10, tzinfo=timezone.utc),
               "val": datetime(2023, 4, 1, 10, tzinfo=timezone.utc),
               "test": datetime(2023, 5, 1, 10, tzinfo=timezone.utc)}

MAKEUP, SKIN, FRAGRANCE, HAIR = "Makeup", "Skincare", "Fragrance", "Hair"
BATH, MINI, MEN, TOOLS = "Bath & Body", "Mini Size", "Men", "Tools & Brushes"
SCENT = r"eau de \w+|parfum|perfume|cologne|travel spray|rollerball|intense|extrait|fragrance mist"


@dataclass(frozen=True)
class Need:
    """A request and the catalogue facts that grade it (see the module docstring)."""

    text: str
    words: tuple[str, ...] = ()  # hard: each pattern must be in the product name
    categories: tuple[str, ...] = ()  # hard: the product's primary_category is one of these
    brands: tuple[str, ...] = ()  # hard when given: brand_name is one of these
    max_price: float | None = None  # hard
    min_price: float | None = None  # hard
    exclude: tuple[str, ...] = ()  # hard: none of these patterns in the name
    prefer: tuple[str, ...] = ()  # soft: each pattern in the name
    prefer_brands: tuple[str, ...] = ()  # soft: one soft condition, met by any of these brands
    gift: bool = False

    @property
    def type(self) -> str:
        if self.gift:
            return "gift"
        if self.brands:
            return "brand"
        return "budget" if self.max_price is not None else "product"


def need(text: str, words=(), categories=(), **conditions) -> Need:
    """A `Need` with its tuples written as plain strings where there is one ("serum" -> ("serum",))."""
    def as_tuple(value) -> tuple:
        return (value,) if isinstance(value, str) else tuple(value)

    conditions = {k: as_tuple(v) if k in ("brands", "exclude", "prefer", "prefer_brands") else v
                  for k, v in conditions.items()}
    return Need(text, as_tuple(words), as_tuple(categories), **conditions)


# ----------------------------------------------------------------------------------------------
# The natural requests of the test split (written by hand; their wording appears nowhere else)

TEST_NEEDS = [
    need("I need a hydrating serum, nothing over $60", "serum", SKIN, max_price=60,
         prefer=r"hydrat\w*|hyaluronic|moistur\w*|plump\w*"),
    need("looking for a good dry shampoo", "dry shampoo", (HAIR, MINI)),
    need("Which Dior eau de parfum would you suggest for my wife's birthday?", "eau de parfum", FRAGRANCE,
         brands="Dior", gift=True),
    need("spf moisturiser for every day, ideally under $40", (r"spf|sunscreen", r"moisturi[sz]\w*|cream|lotion"),
         (SKIN, MAKEUP), max_price=40),
    need("travel-size perfume I can keep in my handbag", (r"travel spray|rollerball|mini|purse spray", SCENT),
         (FRAGRANCE, MINI)),
    need("a present for my boyfriend, he's into woody colognes. $110 tops",
         (SCENT, r"wood\w*|cedar|vetiver|santal|sandalwood|oud|leather|tobacco|bois"), FRAGRANCE, max_price=110,
         gift=True),
    need("charlotte tilbury setting spray", "setting spray", (MAKEUP, MINI), brands="Charlotte Tilbury"),
    need("what's a nice candle that smells like fig or vanilla? under $80", "candle", FRAGRANCE, max_price=80,
         prefer=r"fig|vanilla"),
    need("I have curly hair that frizzes like crazy, is there a curl cream that actually works?",
         ("curl\\w*", r"cream|custard|souffle|butter|creme"), (HAIR, MINI), prefer=r"frizz|defin\w*"),
    need("retinol serum for someone who's never used retinol before", ("retinol", "serum"), (SKIN, MINI)),
    need("lip oil, max $30", "lip oil", (MAKEUP, SKIN, MINI), max_price=30),
    need("waterproof mascara for a wedding, I cry at everything", ("mascara", "waterproof"), (MAKEUP, MINI)),
    need("vitamin c serum under 50 bucks", ("vitamin c", "serum"), SKIN, max_price=50),
    need("Fenty foundation, my skin gets shiny by noon", "foundation", (MAKEUP, MINI),
         brands="Fenty Beauty by Rihanna", prefer=r"matte|oil free|long ?wear", exclude="brush"),
    need("a skincare gift set for my sister, $60 at most", r"set|kit|duo|trio|collection", SKIN, max_price=60,
         exclude=(r"set the stage", r"prep, set"), gift=True),
    need("Jo Malone cologne to give my mum on Mother's Day", "cologne", FRAGRANCE, brands="Jo Malone London",
         gift=True),
    need("really nourishing hair mask, my hair is bleached and fried", "mask", HAIR,
         prefer=r"repair\w*|bond|blond\w*|damage\w*|nourish\w*"),
    need("eye cream for dark circles that won't cost more than $45", ("eye", r"cream|gel|balm|serum"), SKIN,
         max_price=45, prefer=r"dark circles?|bright\w*|vitamin c|caffeine|depuff\w*"),
    need("a gentle face cleanser, my skin reacts to everything",
         r"cleanser|face wash|cleansing (?:balm|oil|milk|gel|foam|water)", SKIN,
         prefer=r"gentle|calm\w*|sensitive|sooth\w*|milk|cream\w*"),
    need("La Mer moisturizer", r"creme|cream|moisturi[sz]\w*", (SKIN, MINI), brands="La Mer"),
    need("beard oil for my dad", "beard", MEN, prefer="oil", gift=True),
    need("a bronzer for pale skin that won't go orange", "bronzer", (MAKEUP, MINI), exclude="brush"),
    need("perfume that smells like a day at the beach",
         (SCENT, r"beach|sea|ocean|salt|coconut|solar|sun|tropical|island|surf"), FRAGRANCE),
    need("reed diffuser for the living room", "diffuser", FRAGRANCE),
    need("heat protectant spray, I straighten my hair almost daily", r"heat|thermal", HAIR,
         prefer=r"spray|mist|protect\w*", exclude=r"brush|iron|dryer"),
    need("cheap setting powder, under $25 please", (r"setting|translucent|finishing|loose", "powder"),
         (MAKEUP, MINI), max_price=25),
    need("Kayali vanilla perfume", "vanilla", FRAGRANCE, brands="KAYALI"),
    need("is there a hair dryer brush like the drybar one?", (r"dryer|blow dry", "brush"), HAIR,
         prefer_brands="Drybar"),
    need("stocking stuffers under $20 for a teen who's obsessed with makeup", (), (MAKEUP, MINI), max_price=20,
         prefer=r"mini|set|gloss|lip", gift=True),
    need("a lipstick in a proper classic red", "lipstick", MAKEUP, prefer=r"red|ruby|cherry|scarlet"),
    need("my husband gets razor bumps every time he shaves, anything for that?", r"bump|ingrown|shave|shaving",
         (MEN, SKIN, BATH), prefer=r"bump|ingrown|cool\w*|sooth\w*|calm\w*"),
    need("lightweight body oil that gives a glow", "body oil", (BATH, SKIN), prefer=r"glow\w*|shimmer|dry|light\w*"),
    need("brow gel that actually holds all day", ("brow", "gel"), (MAKEUP, MINI)),
    need("something for breakouts, maybe salicylic acid, $35 or less",
         r"acne|salicylic|blemish\w*|breakout|bha|clarifying|spot treatment", SKIN, max_price=35,
         exclude=r"dark spots?"),
    need("self tanner that doesn't streak", r"self tan\w*|tanning|tanner|bronzing drops|glow drops", (SKIN, BATH)),
    need("aluminum-free deodorant", "deodorant", BATH, prefer=r"aluminum free|natural"),
    need("a discovery set so I can try a bunch of perfumes before committing",
         r"discovery|sampler|perfume set|coffret", FRAGRANCE),
    need("NARS blush", "blush", (MAKEUP, MINI), brands="NARS"),
    need("under-eye concealer that doesn't crease", "concealer", (MAKEUP, MINI), exclude="brush",
         prefer=r"crease\w*|creamy|brighten\w*|radiant|eye"),
    need("moroccanoil treatment oil", "moroccanoil treatment", (HAIR, MINI), brands="Moroccanoil"),
    need("eyeshadow palette with warm browns, under fifty dollars", ("palette", r"eye ?shadow"), (MAKEUP, MINI),
         max_price=50, prefer=r"nude\w*|brown|warm|bronze\w*|sunset|bare|naked|chocolate"),
    need("perfume for my 16 year old daughter, something sweet",
         (SCENT, r"sweet|vanilla|candy|sugar\w*|berry|cherry|pink|daisy|honey|cookie"), FRAGRANCE, gift=True),
    need("shampoo for thinning hair", ("shampoo", r"thin\w*|thicken\w*|dens\w*|volum\w*|fine|growth|fuller"),
         (HAIR, MINI, MEN)),
    need("purple shampoo so my blonde stops going brassy", ("shampoo", r"purple|blond\w*|violet|brass\w*"),
         (HAIR, MINI)),
    need("something relaxing to put in the bath", r"bath|soak|bath salt|bubble|epsom|tub", BATH),
    need("Clinique moisturizer", r"moisturi[sz]\w*|hydrator|moisture surge|dramatically different", (SKIN, MINI, MEN),
         brands="CLINIQUE", exclude="eye"),
    need("hand cream that isn't greasy", ("hand", r"cream|balm|lotion|salve"), (BATH, SKIN, MINI)),
    need("my lips are always chapped, lip mask or balm?", r"lip mask|lip balm|lip sleeping|lip treatment|lip butter",
         (SKIN, MAKEUP, MINI)),
    need("fresh citrusy eau de toilette for summer", r"eau de toilette|cologne", FRAGRANCE,
         prefer=r"citrus|lemon|bergamot|orange|grapefruit|lime|mandarin|neroli|fresh|yuzu"),
    need("skin tint with spf, light coverage", (r"tint|tinted", "spf"), (MAKEUP, SKIN, MINI)),
    need("a decent foundation brush", ("foundation", "brush"), (MAKEUP, TOOLS)),
    need("drunk elephant moisturiser", r"cream|moisturi[sz]\w*|lala", (SKIN, MINI), brands="Drunk Elephant"),
    need("a good flat iron", r"flat iron|straightening iron|straightener", (HAIR, TOOLS)),
    need("the most luxurious face cream you have, price doesn't matter", r"cream|creme|moisturi[sz]\w*", SKIN,
         min_price=150, exclude=r"eye|mask|body|hand|neck|set|duo"),
    need("an exfoliating toner, AHA or something like that", r"toner|tonic", SKIN,
         prefer=r"aha|bha|glycolic|lactic|exfoliat\w*|resurfac\w*|peel|succinic|azelaic"),
    need("black eyeliner that lasts through a long shift", r"eyeliner|eye liner|eye definer|kohl", MAKEUP,
         exclude="brush",
         prefer=r"waterproof|long wear\w*|black|24 ?hr|stay"),
    need("sheet masks for a pamper night", "sheet mask", SKIN),
    need("gift for my dad who never uses skincare, something simple for his face, less than $40",
         r"face|moisturi[sz]\w*|wash|cleanser|lotion|scrub", MEN, max_price=40,
         exclude=r"body|hair", gift=True),
    need("mini perfumes as bridesmaid gifts, about $30 each", (r"mini|travel spray|rollerball", SCENT),
         (FRAGRANCE, MINI), max_price=35, gift=True),
    need("a body scrub that smells amazing", (r"scrub|polish|exfoliat\w*", "body"), (BATH, SKIN), exclude="wash"),
    need("hair serum to tame flyaways", "serum", HAIR, prefer=r"frizz|smooth\w*|shine|flyaway|sleek|gloss\w*"),
    need("niacinamide serum for big pores", ("niacinamide", "serum"), SKIN, prefer=r"pores?|minimi[sz]\w*"),
    need("a little mini lip product to throw in my bag", ("lip", "mini"), (MAKEUP, SKIN, MINI), exclude="remover"),
    need("curling wand for beachy waves", r"curling|wand|waver", (HAIR, TOOLS), prefer=r"wave\w*|beach"),
    need("Hourglass blush", "blush", (MAKEUP, MINI), brands="Hourglass"),
    need("candle to bring to a housewarming", "candle", FRAGRANCE, gift=True, prefer=r"set|gift|home|trio|duo"),
    need("something gentle to take off waterproof makeup",
         r"cleansing (?:balm|oil)|makeup remov\w*|micellar|meltaway", (SKIN, MINI)),
    need("a gucci fragrance for her, not more than $120", SCENT, FRAGRANCE, brands="Gucci", max_price=120,
         gift=True),
    need("armani cologne for a guy", (SCENT, r"acqua di gio|aqua di gio|code|homme"), FRAGRANCE,
         brands="Armani Beauty"),
    need("shampoo and conditioner set for frizzy hair", ("shampoo", r"conditioner|duo|set"), (HAIR, MINI),
         prefer=r"frizz|smooth\w*"),
    need("face mask to make my skin glow before a big event, under $70", "mask", SKIN, max_price=70,
         exclude=r"eye|lip|hair|body|brush",
         prefer=r"glow\w*|radian\w*|bright\w*|illumin\w*"),
    need("peel pads for dull skin", r"pads?|peel", SKIN, prefer=r"glow\w*|radian\w*|bright\w*|dull\w*|resurfac\w*"),
    need("face sunscreen that won't leave a white cast", r"sunscreen|spf|uv", SKIN,
         prefer=r"invisible|sheer|clear|tinted|unseen|mineral free"),
    need("Chanel No. 5", "n ?°5|no ?5", FRAGRANCE, brands="CHANEL"),
    need("a long-lasting matte liquid lipstick", r"liquid lip\w*|lip (?:stain|paint|cream)", MAKEUP,
         prefer=r"matte|long wear\w*|lasting|stay"),
    need("something to calm a red, irritated face", r"calm\w*|sooth\w*|redness|cica\w*|centella|relief|sensitive",
         SKIN),
    need("body lotion under $30", r"body (?:lotion|cream|butter|moisturi[sz]\w*)", (BATH, SKIN, MINI), max_price=30),
]

# Requests this catalogue cannot meet: Sephora does not sell the thing, or no product meets the
# brand + product + budget together (each is checked against the catalogue when the bundle is built).
IMPOSSIBLE_NEEDS = [
    need("I need a new laptop for work", r"laptop|notebook computer"),
    need("a comfy three-seater sofa", r"sofa|couch"),
    need("a nice wristwatch for my anniversary", r"wrist ?watch|watch strap|chronograph"),
    need("running shoes, size 9", r"shoes?|sneakers?|trainers?"),
    need("a Gucci leather handbag", ("leather", r"handbag|tote|purse|bag")),
    need("a bottle of red wine for dinner tonight", r"wine|merlot|cabernet|pinot"),
    need("two tickets for the concert on Saturday", r"tickets?|concert"),
    need("a warm winter coat, down-filled", r"parka|down coat|winter coat|puffer"),
    need("a Montblanc fountain pen", r"fountain pen|ballpoint|rollerball pen"),
    need("a road bike for commuting", r"bike|bicycle"),
    need("a dog bed for my labrador", r"dog|pet bed"),
    need("a pair of sunglasses for my holiday", r"sunglass\w*|shades"),
    need("noise-cancelling headphones", r"headphones?|earbuds?"),
    need("a Dior eau de parfum under $5", "eau de parfum", FRAGRANCE, brands="Dior", max_price=5),
    need("La Mer face cream for $10 or less", r"creme|cream|moisturi[sz]\w*", (SKIN, MINI), brands="La Mer",
         max_price=10),
    need("a ghd flat iron under $30", r"flat iron|straighten\w*|styler", (HAIR, TOOLS), brands="ghd", max_price=30),
    need("CHANEL eau de parfum for less than ten dollars", "eau de parfum", FRAGRANCE, brands="CHANEL",
         max_price=10),
]


# ----------------------------------------------------------------------------------------------
# The generated requests of the train and val splits (mechanical wording; never the test's)


@dataclass(frozen=True)
class ProductType:
    """A kind of product the generator can ask for: its label, the name patterns and categories."""

    label: str
    words: tuple[str, ...]
    categories: tuple[str, ...]
    qualities: tuple[tuple[str, str], ...] = ()  # (adjective, name pattern): a soft condition


PRODUCT_TYPES = [
    ProductType("face serum", ("serum",), (SKIN,), (("hydrating", r"hydrat\w*|hyaluronic"),
                                                     ("brightening", r"bright\w*|vitamin c"))),
    ProductType("face moisturizer", (r"moisturi[sz]\w*|cream",), (SKIN,), (("rich", r"rich|intense|barrier"),
                                                                           ("oil-free", r"oil free|gel"))),
    ProductType("facial cleanser", (r"cleanser|face wash",), (SKIN,), (("foaming", r"foam\w*"),)),
    ProductType("toner", ("toner",), (SKIN,)),
    ProductType("eye cream", ("eye", "cream"), (SKIN,)),
    ProductType("face mask", ("mask",), (SKIN,), (("overnight", r"overnight|sleeping|night"),)),
    ProductType("sunscreen", (r"sunscreen|spf",), (SKIN,), (("mineral", "mineral"),)),
    ProductType("lipstick", ("lipstick",), (MAKEUP,), (("matte", "matte"),)),
    ProductType("lip gloss", ("lip gloss|gloss",), (MAKEUP,)),
    ProductType("mascara", ("mascara",), (MAKEUP, MINI), (("volumizing", r"volum\w*"),)),
    ProductType("foundation", ("foundation",), (MAKEUP,), (("matte", "matte"),)),
    ProductType("concealer", ("concealer",), (MAKEUP,)),
    ProductType("face primer", ("primer",), (MAKEUP,)),
    ProductType("highlighter", (r"highlighter|highlighting",), (MAKEUP,)),
    ProductType("blush", ("blush",), (MAKEUP,)),
    ProductType("eyeliner", (r"eyeliner|eye liner|eye definer|kohl",), (MAKEUP,)),
    ProductType("eyebrow product", ("brow",), (MAKEUP,)),
    ProductType("eau de parfum", ("eau de parfum",), (FRAGRANCE,)),
    ProductType("eau de toilette", ("eau de toilette",), (FRAGRANCE,)),
    ProductType("fragrance travel spray", ("travel spray",), (FRAGRANCE, MINI)),
    ProductType("scented candle", ("candle",), (FRAGRANCE,)),
    ProductType("shampoo", ("shampoo",), (HAIR,), (("volumizing", r"volum\w*"),)),
    ProductType("conditioner", ("conditioner",), (HAIR,)),
    ProductType("hair mask", ("mask",), (HAIR,)),
    ProductType("hair oil", (r"oil",), (HAIR,)),
    ProductType("hair styling tool", (r"dryer|iron|straighten\w*|curling|styler",), (HAIR, TOOLS)),
    ProductType("body lotion", (r"body (?:lotion|cream|butter)",), (BATH,)),
    ProductType("shower gel", (r"body wash|shower gel",), (BATH,)),
    ProductType("men's grooming product", (), (MEN,)),
    ProductType("mini size product", (), (MINI,)),
]

OPENERS = ("Searching for", "Product wanted:", "Item request:", "Catalogue lookup:")
BRAND_PARTS = (" (brand: {})", ", made by {}")
PRICE_PARTS = (", price ceiling {} USD", ", budget cap {} USD")
QUALITY_PARTS = (", preferably {}", ", {} if possible")


def generated_needs(products: list[dict], count: int, seed: str) -> list[Need]:
    """`count` requests put together mechanically: a product type, and now and then a brand that makes
    it, a price ceiling and a quality, each in a fixed phrase. No two ask for the same thing.

    Args:
        products (`list[dict]`): the products (see `read_products`).
        count (`int`): how many requests to return.
        seed (`str`): seeds the choices.

    Returns:
        `list[Need]`: requests with distinct conditions, each met by at least one product.
    """
    rng = random.Random(seed)
    of_kind = {kind.label: meeting(products, Need("", kind.words, kind.categories)) for kind in PRODUCT_TYPES}
    needs, asked = [], set()
    for _ in range(100 * count):
        if len(needs) == count:
            break
        kind = rng.choice(PRODUCT_TYPES)
        matching = of_kind[kind.label]
        if not matching:
            continue
        label = kind.label if rng.random() < 0.5 else f"{'an' if kind.label[0] in 'aeiou' else 'a'} {kind.label}"
        text, extra = f"{rng.choice(OPENERS)} {label}", {}
        if rng.random() < 0.45:
            extra["brands"] = (rng.choice(sorted({p["brand"] for p in matching if p["brand"]})),)
            text += rng.choice(BRAND_PARTS).format(extra["brands"][0])
        if rng.random() < 0.45:
            prices = [p["price"] for p in matching if not extra.get("brands") or p["brand"] in extra["brands"]]
            extra["max_price"] = float(5 * math.ceil(rng.choice(prices) / 5))
            text += rng.choice(PRICE_PARTS).format(int(extra["max_price"]))
        if kind.qualities and rng.random() < 0.35:
            adjective, words = rng.choice(kind.qualities)
            extra["prefer"] = (words,)
            text += rng.choice(QUALITY_PARTS).format(adjective)
        spec = Need(text.rstrip(".") + ".", kind.words, kind.categories, **extra)
        key = (kind.label, spec.brands, spec.max_price, spec.prefer)
        if key not in asked:
            asked.add(key)
            needs.append(spec)
    return needs


# ----------------------------------------------------------------------------------------------
# Grading


def fold(text: str) -> str:
    """Lower case, accents dropped, hyphens and curly quotes made plain: 'Crème-Rich' -> 'creme rich'."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.lower().replace("-", " ").replace("\u2019", "'").replace("\u2018", "'")


@lru_cache(maxsize=None)
def pattern(words: str) -> re.Pattern:
    """`words` (a regular expression) as whole words of a folded name, a plural `s` / `es` allowed."""
    return re.compile(rf"(?<!\w)(?:{words})(?:s|es)?(?!\w)")


def has(name: str, words: str) -> bool:
    """Whether the folded `name` holds `words` (see `pattern`)."""
    return bool(pattern(words).search(name))


def meeting(products: list[dict], spec: Need) -> list[dict]:
    """The products that meet every hard condition of `spec`, cheapest checks first."""
    kept = [p for p in products
            if (not spec.categories or p["category"] in spec.categories)
            and (not spec.brands or p["brand"] in spec.brands)
            and (spec.max_price is None or p["price"] <= spec.max_price)
            and (spec.min_price is None or p["price"] >= spec.min_price)]
    for words in spec.words:
        kept = [p for p in kept if pattern(words).search(p["folded"])]
    for words in spec.exclude:
        kept = [p for p in kept if not pattern(words).search(p["folded"])]
    return kept


def soft_grade(product: dict, spec: Need) -> int:
    """3 - soft conditions missed, at least 1, for a product that meets the hard ones."""
    missed = sum(not has(product["folded"], words) for words in spec.prefer)
    missed += bool(spec.prefer_brands) and product["brand"] not in spec.prefer_brands
    return max(1, 3 - missed)


def grade(product: dict, spec: Need) -> int:
    """0 (not relevant), or the grade of the module docstring."""
    return soft_grade(product, spec) if meeting([product], spec) else 0


def relevant_items(products: list[dict], spec: Need) -> dict[str, int]:
    """item_id -> grade for the `MAX_RELEVANT` best products (by grade, then loves_count)."""
    graded = [(soft_grade(p, spec), p) for p in meeting(products, spec)]
    graded.sort(key=lambda gp: (-gp[0], -gp[1]["loves"], gp[1]["item_id"]))
    return {p["item_id"]: g for g, p in graded[:MAX_RELEVANT]}


# ----------------------------------------------------------------------------------------------
# Items, crowd, queries


def read_products(path: str | Path, report: ValidationReport) -> list[dict]:
    """The CSV's products as bundle items plus the fields grading needs (`folded`, `loves`).

    Args:
        path (`str | Path`): Sephora's `product_info.csv`.
        report (`ValidationReport`): where rows the bundle reader would reject are reported.

    Returns:
        `list[dict]`: one row per valid product, in file order.
    """
    path = Path(path)
    if not path.is_file():
        raise ConciergeError(f"{path} does not exist; pass --csv with Sephora's product_info.csv")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    missing = {"product_id", "product_name", "brand_name", "price_usd", "primary_category", "loves_count"} - set(
        rows[0] if rows else {})
    if missing:
        raise ConciergeError(f"{path} lacks column(s) {', '.join(sorted(missing))}; is it product_info.csv?")
    items = keep_unique(list(enumerate((product_item(row) for row in rows), start=2)), "item_id", clean_item,
                        path.name, report)
    return [{**item, "folded": fold(item["title"]), "loves": item["attributes"].get("loves_count", 0)}
            for item in items]


def product_item(row: dict) -> dict:
    """One CSV row as a bundle item (the CSV's numbers become attributes; blanks are left out)."""
    attributes = {}
    for key, kind in (("rating", float), ("reviews", int), ("loves_count", int)):
        value = (row.get(key) or "").strip()
        try:
            attributes[key] = kind(float(value)) if value else None
        except ValueError:
            attributes[key] = None
    return {"item_id": (row.get("product_id") or "").strip(), "title": (row.get("product_name") or "").strip(),
            "brand": (row.get("brand_name") or "").strip() or None, "price": (row.get("price_usd") or "").strip(),
            "category": (row.get("primary_category") or "").strip() or None,
            "attributes": {k: v for k, v in attributes.items() if v is not None}}


def crowd_clients() -> list[dict]:
    return [{"client_id": f"crowd-{i:02d}", "name": f"Crowd {i:02d}", "notes": [], "stated_preferences": {},
             "synthetic": True} for i in range(1, CROWD_SIZE + 1)]


def crowd_size(loves: int) -> int:
    """How many crowd clients interact with a product that has `loves` loves."""
    return min(CROWD_SIZE, int(CROWD_PER_DECADE * math.log10(1 + max(loves, 0))))


def crowd_interactions(products: list[dict]) -> list[dict]:
    """Wishlists then views from distinct crowd clients, as many as `crowd_size(loves_count)`, at minutes
    of 2022 drawn per product."""
    ids = [c["client_id"] for c in crowd_clients()]
    days = [(CROWD_START + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(365)]
    rows = []
    for product in products:
        rng = random.Random(f"sephora/crowd/{product['item_id']}")
        n = crowd_size(product["loves"])
        for rank, client_id in enumerate(rng.sample(ids, n)):
            offset = rng.randrange(365 * 24 * 60)  # minutes into 2022
            day, hour, minute = offset // 1440, offset // 60 % 24, offset % 60
            rows.append({"client_id": client_id, "item_id": product["item_id"],
                         "timestamp": f"{days[day]}T{hour:02d}:{minute:02d}:00Z",
                         "kind": "wishlist" if rank < (n + 1) // 2 else "view", "value": 1.0})
    rows.sort(key=lambda r: (r["timestamp"], r["client_id"], r["item_id"]))
    return rows


def make_queries(products: list[dict], report: ValidationReport) -> list[dict]:
    """Graded query rows of every split, each with its own shopper; unanswerable ones are reported."""
    generated = generated_needs(products, N_TRAIN + N_VAL, "sephora/generated")  # one pool: val never repeats train
    planned = ([("test", n, False) for n in TEST_NEEDS] + [("test", n, True) for n in IMPOSSIBLE_NEEDS]
               + [("train", n, False) for n in generated[:N_TRAIN]] + [("val", n, False) for n in generated[N_TRAIN:]])
    queries, seen = [], {"train": 0, "val": 0, "test": 0}
    for split, spec, impossible in planned:
        relevant = relevant_items(products, spec)
        if bool(relevant) == impossible:
            why = "something meets it" if impossible else "no product meets it"
            report.reject("queries", 0, f"{split} request {spec.text!r} dropped: {why}")
            continue
        moment = SPLIT_START[split] + timedelta(hours=3 * seen[split], minutes=13 * (seen[split] % 5))
        seen[split] += 1
        queries.append({"query_id": f"sephora-{split}-{seen[split]:03d}", "client_id": "",
                        "text": spec.text, "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "split": split,
                        "type": "impossible" if impossible else spec.type, "relevant": relevant})
    for number, query in enumerate(queries, start=1):
        query["client_id"] = f"shopper-{number:03d}"
    return queries


def sephora_bundle(csv_path: str | Path = DEFAULT_CSV) -> tuple[Bundle, ValidationReport]:
    """Sephora's catalogue with crowd popularity and graded requests, as a bundle.

    Args:
        csv_path (`str | Path`): Sephora's `product_info.csv`.

    Returns:
        `tuple[Bundle, ValidationReport]`: the bundle, and the CSV rows and requests left out.
    """
    report = ValidationReport()
    products = read_products(csv_path, report)
    queries = make_queries(products, report)
    shoppers = [{"client_id": q["client_id"], "name": f"Shopper {q['client_id'].removeprefix('shopper-')}",
                 "notes": [], "stated_preferences": {}} for q in queries]
    items = [{k: v for k, v in p.items() if k not in ("folded", "loves")} for p in products]
    manifest = {"name": "sephora", "version": "1", "currency": "USD", "created": "2023-03-01T00:00:00Z",
                "source": "Sephora product_info.csv (khnmehwish/skincare on GitHub); crowd interactions from "
                          "loves_count and graded requests by catalog/importers/sephora.py"}
    return Bundle(manifest, items, crowd_clients() + shoppers, crowd_interactions(products), queries), report


# ----------------------------------------------------------------------------------------------
# Command line


def add_arguments(parser):
    parser.add_argument("--out", required=True, help="bundle directory to write, e.g. var/bundles/sephora")
    parser.add_argument("--csv", default=str(DEFAULT_CSV),
                        help="Sephora's product_info.csv (default: ../shared/data/sephora/product_info.csv)")
    return parser


def main(args) -> int:
    """Write the Sephora bundle and print its counts. Returns the exit status."""
    bundle, report = sephora_bundle(args.csv)
    path = write_bundle(bundle, args.out)
    print(f"wrote {bundle.name} to {path}: {bundle.counts()}" + ("" if report.ok else f"\n{report.to_text(limit=20)}"))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(run_command(add_arguments, main, "python -m catalog.importers.sephora"))
