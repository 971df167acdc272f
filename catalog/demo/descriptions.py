"""Product copy, written the way a house would write it.

A description is assembled from sentence pools: an opening that names the piece and its
materials, a craft sentence, then two of (a material sentence, a use sentence, a detail sentence,
a branding sentence) in random order, and usually a closing line in the house's voice. Every
sentence is filled from the item's own facts, so the copy never claims a material, season,
occasion or technique the attributes do not carry.
"""

from __future__ import annotations

import random

from catalog.demo.houses import House
from catalog.demo.vocab import CATEGORIES, MATERIALS

PLURAL_NOUNS = {
    "loafer", "pump", "sandal", "heeled sandal", "ankle boot", "knee boot", "sneaker", "espadrille",
    "mule", "oxford", "earring", "cufflinks", "trousers", "sunglasses", "optical frame",
}
SIZES = {"scarf": "90 x 90", "stole": "70 x 200", "pocket square": "33 x 33", "bow tie": "12 x 6"}
STONE_PLURAL = {"diamond": "diamonds", "pearl": "pearls", "sapphire": "sapphires", "ruby": "rubies"}

OCCASION_COPY = {
    "everyday": "every day", "weekend": "weekends", "travel": "travel", "resort": "resort days",
    "office": "the office", "business meeting": "meetings", "business dinner": "business dinners",
    "cocktail": "cocktails", "evening": "evenings out", "garden party": "garden parties",
    "wedding": "weddings", "opera": "the opera", "gala": "galas",
}
FORMALITY_ADJECTIVE = {
    "casual": ("easy and unfussy", "relaxed", "light-hearted"),
    "smart-casual": ("relaxed but polished", "effortless", "casually elegant"),
    "business": ("sharp and composed", "crisp", "assured"),
    "formal": ("quietly elegant", "refined", "graceful"),
    "black-tie": ("grand", "ceremonial", "resplendent"),
}

OPENINGS = (
    "The {model} {noun} {is} cut from {matter}.",
    "Meet the {model}: {a_noun} in {matter}.",
    "In {matter}, the {model} {noun} {is} {adjective}.",
    "{house} makes the {model} {noun} in {matter}.",
    "There is nothing superfluous about the {model} {noun}: {matter}, {adjective}.",
    "{Adjective} by design, the {model} {noun} {comes} in {matter}.",
    "The {model} {noun} pairs {matter} with a clean, {adjective} line.",
)
GROUP_OPENINGS = {
    "bags": ("The {model} {noun} holds its shape in {matter}.",
             "{A_adjective} {noun} in {matter}, the {model} carries the day's essentials."),
    "shoes": ("The {model} {noun} {are_built} on {a_adjective} last in {matter}.",),
    "watches": ("The {model} {noun} sets {a_dial} dial in {matter}.",),
    "jewellery": ("The {model} {noun} {is} worked in {matter}.",),
    "eyewear": ("The {model} {noun} {are_built} in {matter}, with {a_adjective} profile.",),
    "silk": ("The {model} {noun} {is} {matter}, light as a breath.",),
}

HOUSE_CRAFT = (
    "{Craft} {craft_is} the signature of {house}, {heritage}.",
    "The workshop in {city} still practises {craft}, as it has since {founded}.",
    "Finished with {craft}, the technique {house} has refined for {age} years.",
    "{Craft}, done by hand in {city}, give{s_craft} {it} {its} character.",
    "It carries the house's {craft}, the skill that made the name of {house}.",
)
GENERIC_CRAFT = (
    "Finished with {craft}.",
    "The details are done by hand: {craft}.",
    "{Craft} keep{s_craft} the finish clean and durable.",
    "{Craft}, by artisans who have done nothing else for years.",
)

MATERIAL_LINES = {
    "leather": ("The {main} is chosen hide by hide and softens with wear.",
                "Full-grain {main} that takes on a patina over the years."),
    "suede": ("Suede this fine prefers dry days; a protective spray keeps it looking new.",
              "The suede has a soft, deep nap that catches the light."),
    "exotic": ("Each {main} skin is unique, so no two pieces are alike.",
               "The {main} is sourced from certified farms and matched by hand."),
    "natural": ("{Main}, woven by hand, keeps {it} light for the warm months.",
                "Natural {main} with a sun-bleached texture, made for summer."),
    "linen": ("Linen breathes in the heat and creases in the best possible way.",
              "Washed linen, cool against the skin on the hottest days."),
    "cotton": ("Fine {main} with a crisp hand that softens over time.",
               "{Main} that is easy to care for and comfortable from morning to night."),
    "rainproof": ("{Main} that shrugs off rain and the wear of daily life.",
                  "Hard-wearing {main} that does not mind a shower."),
    "silk": ("{Main} with a fluid drape and a soft sheen.",
             "The {main} moves with you and catches the light."),
    "warm": ("{Main} soft and warm enough for the coldest months.",
             "Dense {main} that keeps out the chill from autumn into winter."),
    "velvet": ("Velvet with a deep pile that glows under evening light.",),
    "metal": ("Solid {main}, hallmarked and polished by hand.",
              "The {main} is cast, filed and polished in the house workshop."),
    "watch": ("The case is machined from {main} and finished by hand.",
              "A {main} case, brushed and polished in alternating surfaces."),
    "frame": ("Lightweight {main} that sits comfortably all day.",
              "The {main} is cut from a single block and polished for days."),
}

USE_LINES = (
    "Made for {occasions}.",
    "A natural companion for {occasions}.",
    "Wear {it} for {occasions}; {it_is} at ease with each.",
    "{It_Moves} easily from {first} to {last}.",
    "Best worn {seasons}, for {occasions}.",
    "{Seasons_cap} {is_are_season} {its} season; {occasions} {is_are_occ} {its} natural setting.",
)

DETAIL_LINES = {
    "bags": ("Inside, a zipped pocket and a slot for cards.",
             "Fully lined, with room for a tablet and the day's essentials.",
             "A magnetic closure keeps things quick; the base stands on four small feet."),
    "shoes": ("A cushioned footbed makes long days easier.",
              "Half sizes are available in the shop.",
              "The sole is stitched, not glued, so it can be replaced."),
    "watches": ("Scratch-resistant crystal, front and back.",
                "Automatic movement with a {reserve}-hour power reserve.",
                "Water-resistant to {depth} metres."),
    "jewellery": ("Delivered in the house's lacquered box.",
                  "Made to order; allow {weeks} weeks.",
                  "Each piece is numbered and registered."),
    "silk": ("It measures {size} cm.",
             "Hems finished by hand; dry clean only.",
             "The print was first drawn in the house archive."),
    "ready-to-wear": ("Cut for a {fit} fit; true to size.",
                      "Alterations are offered in the shop.",
                      "Finished with horn buttons and French seams."),
    "small-leather-goods": ("Slim enough for an inside pocket.",
                            "{slots} card slots and a note compartment.",
                            "Edges sealed so it keeps its lines for years."),
    "eyewear": ("Spring hinges for a comfortable fit.",
                "Supplied with a leather case and a cleaning cloth.",
                "Lenses can be fitted to a prescription."),
}

BRANDING_LINES = {
    "discreet": ("No logo on the outside; the house mark is blind-stamped within.",
                 "The house name appears only where the wearer can see it.",
                 "Unbranded on the outside, as the house prefers."),
    "moderate": ("A small {house} plaque signs it.",
                 "The house initials are discreetly embossed.",
                 "A single engraved mark names the house."),
    "logo-forward": ("The {house} monogram runs across it, unmistakably.",
                     "The house emblem takes centre stage.",
                     "A bold {house} logo, worn with pride."),
}

CLOSINGS = {
    "lyrical": ("A piece to keep, and one day to pass on.",
                "Quiet poetry, made by hand.",
                "For days that deserve to be remembered.",
                "Meant to be lived in, season after season."),
    "precise": ("Built to last, and to be repaired rather than replaced.",
                "Every measure is checked twice before it leaves the workshop.",
                "Nothing added that is not needed.",
                "Serviceable for decades."),
    "understated": ("Understated, as it should be.",
                    "Those who know will recognise it.",
                    "Nothing more, nothing less.",
                    "Made to be noticed only up close."),
    "warm": ("Made with care by the same families for generations.",
             "From our workshop to your wardrobe.",
             "Come and try it on; we would love to see you.",
             "Made by people who still sign their work."),
    "bold": ("Made for those who like to be remembered.",
             "Never ordinary.",
             "Designed in {city} for people who set the tone.",
             "Confidence, cut to measure."),
}


def join(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def article(word: str) -> str:
    """'a' or 'an' for the word that follows."""
    return "an" if word[0].lower() in "aeiou" else "a"


def season_phrase(seasons: list[str]) -> str:
    """How copy names a set of seasons ('all year round', 'in the warm months', ...)."""
    if len(seasons) == 4:
        return "all year round"
    if seasons == ["spring", "summer"]:
        return "in the warm months"
    if seasons == ["autumn", "winter"]:
        return "in the colder months"
    return "in " + join(seasons)


def matter(category: str, materials: list[str], colours: list[str]) -> str:
    """The material phrase of an item: colour, main material and its second material.

    Args:
        category (`str`): the fine category.
        materials (`list[str]`): materials, main first.
        colours (`list[str]`): colours, main first.

    Returns:
        `str`: e.g. "cognac calfskin with suede trim", "rose gold set with diamonds".
    """
    group, main = CATEGORIES[category].group, materials[0]
    extra = materials[1] if len(materials) > 1 else None
    if group == "jewellery":
        return main + (f" set with {STONE_PLURAL[extra]}" if extra else "")
    if group == "watches" and extra is None:
        return f"a {main} case on a matching bracelet"
    if group == "watches":
        strap = {"stainless steel": "a steel bracelet", "diamond": "a diamond-set bezel"}.get(
            extra, f"{article(extra)} {extra} strap")
        return f"a {main} case with {strap}"
    text = f"{colours[0]} {main}"
    if extra == "jute":
        return text + " on a braided jute sole"
    if extra == "silk satin":
        return text + " with silk satin lapels"
    if extra:
        return text + f" with {extra} trim"
    return text


def material_line(rng: random.Random, category: str, materials: list[str]) -> str:
    """A sentence about the main material that only states what the material really does.

    Args:
        rng (`random.Random`): the generator.
        category (`str`): the fine category.
        materials (`list[str]`): materials, main first.

    Returns:
        `str`: the sentence, with `{main}`/`{Main}`/`{it}` slots still to fill.
    """
    main = materials[0]
    spec = MATERIALS[main]
    group = CATEGORIES[category].group
    if group == "watches":
        key = "watch"
    elif group == "eyewear":
        key = "frame"
    elif main in ("suede", "linen", "velvet"):
        key = main
    elif main in ("cashmere", "wool", "tweed", "shearling"):
        key = "warm"
    elif spec.kind in ("exotic", "natural", "silk", "metal", "leather"):
        key = spec.kind
    elif spec.rain:
        key = "rainproof"
    else:
        key = "cotton"
    return rng.choice(MATERIAL_LINES[key])


def _grammar(category: str) -> dict[str, str]:
    plural = category in PLURAL_NOUNS
    return {
        "is": "are" if plural else "is",
        "comes": "come" if plural else "comes",
        "are_built": "are built" if plural else "is built",
        "it": "them" if plural else "it",
        "its": "their" if plural else "its",
        "it_is": "they are" if plural else "it is",
        "It_Moves": "They move" if plural else "It moves",
    }


def _fields(rng: random.Random, item: dict, house: House, model: str) -> dict[str, str]:
    a, category = item["attributes"], item["category"]
    cat = CATEGORIES[category]
    occasions = [OCCASION_COPY[o] for o in a["occasion"]][:4]
    adjective = rng.choice(FORMALITY_ADJECTIVE[a["formality"]])
    noun = cat.noun.lower()
    seasons = season_phrase(a["season"])
    fields = {
        "model": model, "noun": noun, "house": house.name, "city": house.city,
        "heritage": house.heritage, "founded": str(house.founded), "age": str(2026 - house.founded),
        "matter": matter(category, a["material"], a["colour"]),
        "a_noun": cat.phrase,
        "adjective": adjective, "Adjective": adjective[0].upper() + adjective[1:],
        "craft": a["craft"], "Craft": a["craft"][0].upper() + a["craft"][1:],
        "s_craft": "" if a["craft"].endswith("s") else "s",
        "craft_is": "are" if a["craft"].endswith("s") else "is",
        "main": a["material"][0], "Main": a["material"][0][0].upper() + a["material"][0][1:],
        "occasions": join(occasions), "first": occasions[0], "last": occasions[-1],
        "seasons": seasons,
        "Seasons_cap": (join(a["season"]) if len(a["season"]) < 4 else "Every season").capitalize(),
        "is_are_season": "are" if 1 < len(a["season"]) < 4 else "is",
        "is_are_occ": "are" if len(occasions) > 1 or occasions[0].endswith("s") else "is",
        "a_dial": f"{article(a['colour'][0])} {a['colour'][0]}",
        "a_adjective": f"{article(adjective)} {adjective}",
        "A_adjective": f"{article(adjective).capitalize()} {adjective}",
        "reserve": str(rng.choice((42, 48, 60, 70))),
        "depth": "300" if category == "diving watch" else str(rng.choice((30, 50, 100))),
        "weeks": str(rng.choice((4, 6, 8))),
        "size": SIZES.get(category, "8 x 150"),
        "fit": rng.choice(("relaxed", "tailored", "slim", "straight")),
        "slots": str(rng.choice((4, 6, 8))),
    }
    fields.update(_grammar(category))
    return fields


def describe(rng: random.Random, item: dict, house: House, model: str) -> str:
    """Write an item's description in its house's voice.

    Args:
        rng (`random.Random`): the generator.
        item (`dict`): the item row, with `category` and `attributes` already set.
        house (`House`): the house that makes it.
        model (`str`): the model-line name ("Cortile").

    Returns:
        `str`: three to six sentences of product copy.
    """
    a, group = item["attributes"], CATEGORIES[item["category"]].group
    f = _fields(rng, item, house, model)
    openings = OPENINGS + GROUP_OPENINGS.get(group, ())
    craft_pool = HOUSE_CRAFT if a["craft"] == house.craft else GENERIC_CRAFT
    use_lines = USE_LINES if len(a["occasion"]) > 1 else [u for u in USE_LINES if "{first}" not in u]
    middle = [
        material_line(rng, item["category"], a["material"]),
        rng.choice(use_lines),
        rng.choice(DETAIL_LINES[group]),
        rng.choice(BRANDING_LINES[a["branding"]]),
    ]
    rng.shuffle(middle)
    sentences = [rng.choice(openings), rng.choice(craft_pool)] + middle[:2]
    if rng.random() < 0.85:
        sentences.append(rng.choice(CLOSINGS[house.voice]))
    text = " ".join(s.format(**f) for s in sentences)
    return text[0].upper() + text[1:]

