"""Item attributes derived from the item's own text.

A plain retailer CSV often has only a title, a price and a description. `derive_attributes` reads
the title and description and fills the fields a product graph needs: brand, category and
category group, materials, colours, and a season hint. It only ever fills what is missing; what
the item already states is left untouched.

Matching is by whole words, case- and accent-insensitive ("Carre" finds "carré"), with hyphens
and spaces treated alike ("top handle" finds "top-handle"). Longer terms win over shorter ones at
the same place, so "white gold" is one material, not "white" + "gold", and "key ring" is a small
leather good, not a ring. Values are canonical vocabulary names, in order of first appearance.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

# ----------------------------------------------------------------------------------------------
# Vocabularies (module-level so that the importers, the product graph and the UI can reuse them)

CATEGORY_GROUPS = (
    "bags",
    "shoes",
    "silk",
    "jewellery",
    "watches",
    "ready-to-wear",
    "small-leather-goods",
    "eyewear",
)

# word as it appears in text -> (fine category, group). Fine categories are lowercase singular
# nouns ("loafer", not "loafers"); words that only exist in the plural keep it ("trousers").
# A trailing plural "s"/"es" in the text is accepted for every word.
CATEGORY_WORDS: dict[str, tuple[str, str]] = {
    # bags
    "bag": ("bag", "bags"),
    "handbag": ("bag", "bags"),
    "tote": ("tote", "bags"),
    "tote bag": ("tote", "bags"),
    "shopper": ("tote", "bags"),
    "shoulder bag": ("shoulder bag", "bags"),
    "clutch": ("clutch", "bags"),
    "clutch bag": ("clutch", "bags"),
    "minaudière": ("clutch", "bags"),
    "crossbody": ("crossbody", "bags"),
    "crossbody bag": ("crossbody", "bags"),
    "cross-body bag": ("crossbody", "bags"),
    "top-handle": ("top-handle bag", "bags"),
    "top-handle bag": ("top-handle bag", "bags"),
    "bucket bag": ("bucket bag", "bags"),
    "hobo bag": ("hobo bag", "bags"),
    "saddle bag": ("saddle bag", "bags"),
    "belt bag": ("belt bag", "bags"),
    "camera bag": ("camera bag", "bags"),
    "backpack": ("backpack", "bags"),
    "duffle bag": ("travel bag", "bags"),
    "weekender": ("travel bag", "bags"),
    # shoes
    "shoe": ("shoe", "shoes"),
    "loafer": ("loafer", "shoes"),
    "pump": ("pump", "shoes"),
    "slingback": ("pump", "shoes"),
    "sandal": ("sandal", "shoes"),
    "boot": ("boot", "shoes"),
    "ankle boot": ("boot", "shoes"),
    "sneaker": ("sneaker", "shoes"),
    "trainer": ("sneaker", "shoes"),
    "mule": ("mule", "shoes"),
    "espadrille": ("espadrille", "shoes"),
    "ballerina": ("ballet flat", "shoes"),
    "ballet flat": ("ballet flat", "shoes"),
    "derby": ("derby", "shoes"),
    "oxford": ("oxford", "shoes"),
    # silk
    "scarf": ("scarf", "silk"),
    "scarves": ("scarf", "silk"),
    "carré": ("scarf", "silk"),
    "stole": ("stole", "silk"),
    "shawl": ("stole", "silk"),
    "foulard": ("foulard", "silk"),
    "twilly": ("twilly", "silk"),
    "bandana": ("scarf", "silk"),
    # jewellery
    "jewellery": ("jewellery", "jewellery"),
    "jewelry": ("jewellery", "jewellery"),
    "necklace": ("necklace", "jewellery"),
    "choker": ("necklace", "jewellery"),
    "bracelet": ("bracelet", "jewellery"),
    "bangle": ("bracelet", "jewellery"),
    "earring": ("earring", "jewellery"),
    "ear cuff": ("earring", "jewellery"),
    "ring": ("ring", "jewellery"),
    "pendant": ("pendant", "jewellery"),
    "brooch": ("brooch", "jewellery"),
    # watches
    "watch": ("watch", "watches"),
    "wristwatch": ("watch", "watches"),
    "timepiece": ("watch", "watches"),
    "chronograph": ("chronograph", "watches"),
    # ready-to-wear
    "dress": ("dress", "ready-to-wear"),
    "gown": ("dress", "ready-to-wear"),
    "blazer": ("blazer", "ready-to-wear"),
    "coat": ("coat", "ready-to-wear"),
    "trench coat": ("coat", "ready-to-wear"),
    "jacket": ("jacket", "ready-to-wear"),
    "knit": ("knit", "ready-to-wear"),
    "knitwear": ("knit", "ready-to-wear"),
    "sweater": ("sweater", "ready-to-wear"),
    "jumper": ("sweater", "ready-to-wear"),
    "pullover": ("sweater", "ready-to-wear"),
    "cardigan": ("cardigan", "ready-to-wear"),
    "shirt": ("shirt", "ready-to-wear"),
    "t-shirt": ("t-shirt", "ready-to-wear"),
    "blouse": ("blouse", "ready-to-wear"),
    "trousers": ("trousers", "ready-to-wear"),
    "pants": ("trousers", "ready-to-wear"),
    "jeans": ("jeans", "ready-to-wear"),
    "shorts": ("shorts", "ready-to-wear"),
    "skirt": ("skirt", "ready-to-wear"),
    "jumpsuit": ("jumpsuit", "ready-to-wear"),
    # small leather goods
    "wallet": ("wallet", "small-leather-goods"),
    "card holder": ("card holder", "small-leather-goods"),
    "cardholder": ("card holder", "small-leather-goods"),
    "card case": ("card holder", "small-leather-goods"),
    "belt": ("belt", "small-leather-goods"),
    "key ring": ("key ring", "small-leather-goods"),
    "keyring": ("key ring", "small-leather-goods"),
    "key holder": ("key ring", "small-leather-goods"),
    "pouch": ("pouch", "small-leather-goods"),
    "passport holder": ("passport holder", "small-leather-goods"),
    # eyewear
    "sunglasses": ("sunglasses", "eyewear"),
    "optical": ("optical frame", "eyewear"),
    "optical frame": ("optical frame", "eyewear"),
    "frames": ("optical frame", "eyewear"),
    "glasses": ("optical frame", "eyewear"),
    "eyeglasses": ("optical frame", "eyewear"),
}

MATERIALS = (
    "leather", "calfskin", "lambskin", "goatskin", "patent leather", "nappa", "suede", "nubuck",
    "crocodile", "alligator", "ostrich", "python", "lizard", "faux leather",
    "canvas", "denim", "raffia", "straw", "linen", "cotton", "silk", "satin", "crepe", "chiffon",
    "organza", "tulle", "lace", "jersey", "velvet", "cashmere", "wool", "merino", "mohair",
    "alpaca", "tweed", "shearling", "fur", "faux fur", "nylon", "polyester", "viscose",
    "gold", "yellow gold", "white gold", "rose gold", "gold-plated", "silver", "sterling silver",
    "silver-plated", "platinum", "palladium", "brass", "metal", "diamond", "pearl",
    "mother-of-pearl", "sapphire", "ruby", "onyx", "malachite", "lapis lazuli", "enamel",
    "crystal", "steel", "titanium", "ceramic", "acetate", "resin", "rubber", "horn", "wood",
)

# Other spellings of a material, mapped to its name in MATERIALS.
MATERIAL_SYNONYMS: dict[str, str] = {
    "calf leather": "calfskin",
    "lamb leather": "lambskin",
    "goat leather": "goatskin",
    "nappa leather": "nappa",
    "vegan leather": "faux leather",
    "crêpe": "crepe",
    "crepe de chine": "silk",
    "silk twill": "silk",
    "stainless steel": "steel",
    "18k gold": "gold",
    "18-carat gold": "gold",
    "925 silver": "sterling silver",
    # "gold-tone hardware" is a colour of a base metal, not gold.
    "gold-tone": "metal",
    "silver-tone": "metal",
    "palladium-tone": "metal",
    "gold plated": "gold-plated",
    "silver plated": "silver-plated",
    # Phrases that contain a material word but name none; matched so that they are skipped.
    "lace-up": "",
    "calf-length": "",
    "mid-calf": "",
}

COLOURS = (
    "black", "white", "off-white", "ivory", "cream", "ecru", "beige", "sand", "taupe", "nude",
    "camel", "tan", "cognac", "brown", "chocolate", "burgundy", "red", "orange", "coral", "yellow",
    "pink", "blush", "fuchsia", "purple", "lilac", "green", "olive", "khaki", "emerald", "mint",
    "blue", "navy", "sky blue", "turquoise", "teal", "grey", "gold", "rose gold", "silver",
    "multicolour",
)

# Other spellings of a colour, mapped to its name in COLOURS.
COLOUR_SYNONYMS: dict[str, str] = {
    "gray": "grey",
    "bordeaux": "burgundy",
    "oxblood": "burgundy",
    "navy blue": "navy",
    "light blue": "sky blue",
    "powder blue": "sky blue",
    "dark brown": "brown",
    "multicolor": "multicolour",
    "multicoloured": "multicolour",
    "gold-tone": "gold",
    "yellow gold": "gold",
    "silver-tone": "silver",
    # White gold reads as silver; without this entry it would count as "white" and "gold".
    "white gold": "silver",
    # Phrases that contain a colour word but name none; matched so that they are skipped.
    "emerald-cut": "",
    "mint condition": "",
}

SEASONS = ("spring", "summer", "autumn", "winter")

# Material -> the seasons it suggests; used only when the item states no season.
SEASON_HINTS: dict[str, tuple[str, ...]] = {
    "linen": ("spring", "summer"),
    "raffia": ("spring", "summer"),
    "straw": ("spring", "summer"),
    "shearling": ("autumn", "winter"),
    "cashmere": ("autumn", "winter"),
    "tweed": ("autumn", "winter"),
    "wool": ("autumn", "winter"),
    "mohair": ("autumn", "winter"),
    "alpaca": ("autumn", "winter"),
    "fur": ("autumn", "winter"),
    "faux fur": ("autumn", "winter"),
}


# ----------------------------------------------------------------------------------------------
# Matching


def fold(text: str) -> str:
    """Lowercase and strip accents, so that "Carré" and "carre" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _term_pattern(term: str) -> str:
    # A space or a hyphen in a term matches any run of spaces and hyphens in the text.
    parts = re.split(r"[\s\-]+", fold(term).strip())
    return r"[\s\-]+".join(re.escape(p) for p in parts)


class _Matcher:
    """Finds vocabulary terms in text: whole words, longest term first at each position.

    `terms` maps each spelling to its canonical value; a value of "" marks a phrase that is
    consumed but yields nothing ("lace-up" is not lace).
    """

    def __init__(self, terms: dict[str, str], plurals: bool):
        self.canonical = {fold(surface): value for surface, value in terms.items()}
        alternatives = sorted(terms, key=lambda t: len(fold(t)), reverse=True)
        body = "|".join(f"({_term_pattern(t)})" for t in alternatives)
        suffix = "(?:e?s)?" if plurals else ""
        self.surfaces = [fold(t) for t in alternatives]
        self.regex = re.compile(rf"(?<!\w)(?:{body}){suffix}(?!\w)")

    def find(self, text: str) -> list[str]:
        """Canonical values of the terms in `text`, in order of appearance, without repeats."""
        found: list[str] = []
        for value in self.all(text):
            if value not in found:
                found.append(value)
        return found

    def all(self, text: str) -> list[str]:
        """Canonical values of every term occurrence in `text`, in order, repeats included."""
        values = (self.canonical[self.surfaces[m.lastindex - 1]] for m in self.regex.finditer(fold(text)))
        return [v for v in values if v]


@lru_cache(maxsize=1)
def _matchers() -> dict[str, _Matcher]:
    return {
        "category": _Matcher({word: word for word in CATEGORY_WORDS}, plurals=True),
        "material": _Matcher({**{m: m for m in MATERIALS}, **MATERIAL_SYNONYMS}, plurals=True),
        "colour": _Matcher({**{c: c for c in COLOURS}, **COLOUR_SYNONYMS}, plurals=False),
    }


@lru_cache(maxsize=64)
def _brand_matcher(brands: tuple[str, ...]) -> _Matcher | None:
    terms, seen = {}, set()
    for brand in brands:
        name = brand.strip()
        if name and fold(name) not in seen:  # "GUCCI" and "Gucci" are one brand: the first wins
            seen.add(fold(name))
            terms[name] = name
    return _Matcher(terms, plurals=False) if terms else None


def find_brand(title: str, brands: Iterable[str]) -> str | None:
    """The longest known brand named in `title` (whole words, case-insensitive), or None.

    Args:
        title (`str`): the item title.
        brands (`Iterable[str]`): the brands known, spelled as they should be returned.

    Returns:
        `str | None`: the brand as spelled in `brands`.
    """
    matcher = _brand_matcher(tuple(sorted(set(brands))))
    if matcher is None:
        return None
    found = matcher.find(title)
    return max(found, key=len) if found else None


def find_category(title: str, description: str = "") -> tuple[str, str] | None:
    """The fine category and its group named in the title, else in the description.

    In a title the head noun comes last ("Dress watch" is a watch, "Shirt dress" a dress), so the
    last category word of the title wins. In prose the first mention is the subject ("A tote with
    room for a wallet"), so in the description the first one wins.

    Returns:
        `tuple[str, str] | None`: (category, group), e.g. ("loafer", "shoes").
    """
    matcher = _matchers()["category"]
    in_title = matcher.all(title)
    if in_title:
        return CATEGORY_WORDS[in_title[-1]]
    in_description = matcher.all(description)
    return CATEGORY_WORDS[in_description[0]] if in_description else None


def find_materials(text: str) -> list[str]:
    """Materials named in `text`, canonical names from MATERIALS, in order of appearance."""
    return _matchers()["material"].find(text)


def find_colours(text: str) -> list[str]:
    """Colours named in `text`, canonical names from COLOURS, in order of appearance."""
    return _matchers()["colour"].find(text)


def seasons_for(materials: Iterable[str]) -> list[str]:
    """Seasons suggested by materials, in calendar order; empty when none is suggested."""
    hinted = {season for m in materials for season in SEASON_HINTS.get(m, ())}
    return [s for s in SEASONS if s in hinted]


def group_of(category: str) -> str | None:
    """The group of a stated category ("Loafers" -> "shoes", "Jewellery" -> "jewellery")."""
    key = fold(category).strip().replace(" ", "-")
    for group in CATEGORY_GROUPS:
        if key == group or key + "s" == group:
            return group
    found = find_category(category)
    return found[1] if found else None


# ----------------------------------------------------------------------------------------------
# Items


def _stated(value) -> bool:
    if value is None:
        return False
    if isinstance(value, str | list | tuple | dict):
        return bool(value) and not (isinstance(value, str) and not value.strip())
    return True


def derive_attributes(item: dict, brands: Iterable[str] = (), categories: bool = True) -> dict:
    """Fill an item's missing brand, category and attributes from its title and description.

    Args:
        item (`dict`): an item row (`title` and optionally `description`, `brand`, `category`,
            `attributes`). It is not modified.
        brands (`Iterable[str]`): known brand names; the brand is looked up in the title only.
        categories (`bool`): fill the category and its group from CATEGORY_WORDS; off for a
            catalogue those words do not describe (`derive_catalogue`).

    Returns:
        `dict`: a new item. Fields and attributes the item already states are kept as they are;
        missing ones are added when the text names them: `brand`, `category`,
        `attributes["category_group"]`, `attributes["material"]` (list),
        `attributes["colour"]` (list) and `attributes["season"]` (list, from materials).
    """
    out = copy.deepcopy(item)
    attributes = out.get("attributes")
    attributes = dict(attributes) if isinstance(attributes, dict) else {}
    title = out.get("title") if isinstance(out.get("title"), str) else ""
    description = out.get("description") if isinstance(out.get("description"), str) else ""
    text = f"{title}\n{description}"

    if not _stated(out.get("brand")):
        brand = find_brand(title, brands)
        if brand:
            out["brand"] = brand

    if categories:
        _derive_category(out, attributes, title, description)

    if not _stated(attributes.get("material")):
        materials = find_materials(text)
        if materials:
            attributes["material"] = materials
    if not _stated(attributes.get("colour")):
        colours = find_colours(text)
        if colours:
            attributes["colour"] = colours
    if not _stated(attributes.get("season")):
        stated = attributes.get("material") or []
        seasons = seasons_for(fold(str(m)) for m in (stated if isinstance(stated, list) else [stated]))
        if seasons:
            attributes["season"] = seasons

    out["attributes"] = attributes
    return out


# The share of a catalogue's items that CATEGORY_WORDS must recognise (by the stated category, else
# the title) before those words may file its items: a fashion house's catalogue scores ~0.97, a
# cycling shop 0.24 (its "Pumps" are bike pumps, not shoes), wine, beauty, films and homeware < 0.05.
CATEGORY_WORDS_SHARE = 0.5


def speaks_category_words(items: list[dict]) -> bool:
    """Whether CATEGORY_WORDS describe this catalogue: they name at least CATEGORY_WORDS_SHARE of
    its items' categories (the stated one, else the title's)."""
    if not items:
        return False
    named = sum(1 for item in items
                if find_category(str(item.get("category") or "")) or find_category(str(item.get("title") or "")))
    return named >= CATEGORY_WORDS_SHARE * len(items)


def derive_catalogue(items: list[dict], brands: Iterable[str] = ()) -> list[dict]:
    """`derive_attributes` for every item of one catalogue, with categories and groups taken
    from CATEGORY_WORDS only when those words describe the catalogue (`speaks_category_words`)."""
    categories = speaks_category_words(items)
    return [derive_attributes(item, brands, categories) for item in items]


def _derive_category(out: dict, attributes: dict, title: str, description: str) -> None:
    stated_category = out.get("category") if _stated(out.get("category")) else None
    stated_group = attributes.get("category_group") if _stated(attributes.get("category_group")) else None
    if stated_category and stated_group:
        return
    if stated_category:
        group = group_of(str(stated_category))
        if group:
            attributes["category_group"] = group
        return
    found = find_category(title, description)
    if found is None:
        return
    category, group = found
    # A category from text that contradicts a stated group is more likely a misreading than news.
    if stated_group and group_of(str(stated_group)) != group:
        return
    out["category"] = category
    if not stated_group:
        attributes["category_group"] = group


# ----------------------------------------------------------------------------------------------
# Vocabulary

_TOP_LEVEL_KEYS = ("brand", "category")


def derive_vocabulary(items: list[dict]) -> dict[str, list[str]]:
    """The distinct values of every attribute used in a catalogue.

    Args:
        items (`list[dict]`): item rows.

    Returns:
        `dict[str, list[str]]`: attribute name -> its distinct values (as strings), sorted
        case-insensitively. Covers `brand`, `category` and every key of `attributes`
        (material, colour, origin, season, category_group, ...); keys with no value are left out.
    """
    values: dict[str, set[str]] = {}
    for item in items:
        pairs = [(key, item.get(key)) for key in _TOP_LEVEL_KEYS]
        attributes = item.get("attributes")
        if isinstance(attributes, dict):
            pairs += list(attributes.items())
        for key, value in pairs:
            for v in value if isinstance(value, list | tuple) else [value]:
                if _stated(v) and not isinstance(v, dict | list):
                    values.setdefault(key, set()).add(str(v).strip())
    return {key: sorted(found, key=lambda v: (v.casefold(), v)) for key, found in sorted(values.items())}
