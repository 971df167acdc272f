"""Clients: a hidden taste each, and what the boutique knows of it.

A taste is drawn from one of seven style archetypes (quiet classic, bold modern, riviera,
collector, country heritage, minimalist, evening glamour; `data/archetypes.json`) with noise, so
that tastes are coherent without being identical. The client row shows only a partial, noisy view
of it: two to four notes an associate might have written, and a few stated preferences.
"""

from __future__ import annotations

import random

from catalog.demo.descriptions import join as join_words
from catalog.demo.houses import HOUSES, House
from catalog.demo.relevance import BRANDING_FIT
from catalog.demo.sampling import pick, pick_some
from catalog.demo.tables import load_table
from catalog.demo.vocab import CATEGORIES, COLOUR_POOLS, PALETTE_OF, PALETTES, TASTE_MATERIALS

# The seven style archetypes: facet -> value -> weight.
ARCHETYPES: dict[str, dict[str, dict[str, float]]] = load_table("archetypes")["archetypes"]

# Usual spend per piece, by wealth level (EUR).
BUDGET_BANDS = ((150, 1500), (400, 3500), (900, 8000), (2500, 20000), (6000, 60000))

FIRST_NAMES = {
    "she": (
        "Livia", "Camille", "Eleanor", "Isabel", "Chiara", "Aiko", "Margaux", "Beatrice", "Sofia", "Hélène",
        "Olivia", "Nadia", "Clara", "Yasmin", "Inès", "Valentina", "Harriet", "Mei", "Ottilie", "Lucia",
        "Amélie", "Rosalind", "Carmen", "Noor", "Greta", "Philippa", "Aurora", "Elodie", "Keiko", "Matilde",
        "Imogen", "Leonor", "Dalia", "Vivienne", "Ingrid", "Serena", "Tamsin", "Mireille", "Paloma", "Hana",
    ),
    "he": (
        "Lorenzo", "Julien", "Edward", "Mateo", "Hiroshi", "Alistair", "Tomás", "Étienne", "Karim", "Felix",
        "Giacomo", "Henry", "Rafael", "Kenji", "Laurent", "Oscar", "Dmitri", "Hugo", "Ambrose", "Nikolai",
        "Rupert", "Emilio", "Yusuf", "Benedikt", "Arthur", "Santiago", "Takeshi", "Gabriel", "Cosimo",
        "Louis",
    ),
}
SURNAMES = (
    "Marchetti", "Delacroix-Vey", "Ashworth", "Castellanos", "Morimoto", "Vantongeren", "Beaulieu",
    "Ferrante",
    "Hargreaves", "Okonkwo", "Lindqvist", "Rahimi", "Sauveterre", "Montalbano", "Whitcombe", "Albrecht",
    "Navarro-Ruiz", "Takeda", "Carrington", "Di Benedetto", "Laurentin", "Kowalczyk", "Fairbairn", "Haddad",
    "Ortolani", "Villeneuve", "Pemberton", "Iglesias", "Nakashima", "Sørensen", "Brancaleone", "Duval",
    "Everleigh", "Moreau-Lenoir", "Calloway", "Esposito", "Van Houten", "Abernathy", "Quarterman",
    "Yamaguchi",
    "Salvatori", "Thibodeau", "Galbraith", "Rinaldi", "Achterberg", "Monteverdi", "Lacoste-Bray", "Oyelaran",
)


def _favourite_houses(rng: random.Random, arche: dict, branding: str, groups: list[str]) -> list[str]:
    def weight(house: House) -> float:
        w = arche["countries"].get(house.country, 0.3)
        w *= 1.0 if BRANDING_FIT[branding][house.branding] >= 0 else 0.1
        return w * (0.05 + sum(house.groups.get(g, 0.0) for g in groups))

    return pick_some(rng, {h.name: weight(h) for h in HOUSES}, rng.randint(2, 3))


def _liked_colours(rng: random.Random, palette: str) -> list[str]:
    pool = COLOUR_POOLS["general"] | {"gold": 1.0, "silver": 1.0}
    main = {c: w for c, w in pool.items() if PALETTE_OF[c] == palette}
    other = {c: w for c, w in pool.items() if PALETTE_OF[c] != palette}
    return pick_some(rng, main, 2) + pick_some(rng, other, 1)


def _dislikes(rng: random.Random, taste: dict) -> dict[str, list[str]]:
    dislikes: dict[str, list[str]] = {"materials": [], "colours": [], "branding": []}
    if taste["branding"] == "discreet" and rng.random() < 0.7:
        dislikes["branding"].append("logo-forward")
    if rng.random() < 0.7:
        spare = [m for m in TASTE_MATERIALS if m not in taste["materials"]]
        dislikes["materials"].append(rng.choice(spare))
    if rng.random() < 0.6 or not any(dislikes.values()):
        pool = COLOUR_POOLS["general"]
        spare = [c for c in pool if c not in taste["colours"] and PALETTE_OF[c] != taste["palette"]]
        dislikes["colours"].append(rng.choice(spare))
    return dislikes


def make_taste(rng: random.Random, pronoun: str) -> dict:
    """A client's hidden taste.

    Args:
        rng (`random.Random`): the generator.
        pronoun (`str`): "she" or "he" (decides the few pieces they never wear).

    Returns:
        `dict`: archetype, pronoun, favourite_houses, palette, colours, materials, branding (the
        loudest branding they are happy with), budget {"min", "max"}, occasions,
        category_groups, dislikes {"materials", "colours", "branding"} and avoid_categories.
    """
    archetype = rng.choice(sorted(ARCHETYPES))
    arche = ARCHETYPES[archetype]
    palette = pick(rng, arche["palettes"]) if rng.random() < 0.85 else rng.choice(PALETTES)
    branding = pick(rng, arche["branding"])
    groups = pick_some(rng, arche["groups"], rng.randint(2, 3))
    low, high = BUDGET_BANDS[int(pick(rng, arche["wealth"]))]
    stretch = rng.uniform(0.85, 1.2)
    other_side = "he" if pronoun == "she" else "she"
    taste = {
        "archetype": archetype,
        "pronoun": pronoun,
        "favourite_houses": _favourite_houses(rng, arche, branding, groups),
        "palette": palette,
        "colours": _liked_colours(rng, palette),
        "materials": pick_some(rng, arche["materials"], 2) + [rng.choice(TASTE_MATERIALS)],
        "branding": branding,
        "budget": {"min": float(round(low * stretch, -1)), "max": float(round(high * stretch, -1))},
        "occasions": pick_some(rng, arche["occasions"], 3),
        "category_groups": groups,
        "avoid_categories": sorted(name for name, cat in CATEGORIES.items() if cat.wearer == other_side),
    }
    taste["materials"] = list(dict.fromkeys(taste["materials"]))
    taste["dislikes"] = _dislikes(rng, taste)
    return taste


def client_name(rng: random.Random, pronoun: str, taken: set[str]) -> str:
    """An invented full name not used yet in this world.

    Args:
        rng (`random.Random`): the generator.
        pronoun (`str`): "she" or "he".
        taken (`set[str]`): names already used (updated in place).

    Returns:
        `str`: "First Last".
    """
    while True:
        name = f"{rng.choice(FIRST_NAMES[pronoun])} {rng.choice(SURNAMES)}"
        if name not in taken or len(taken) > 0.8 * len(FIRST_NAMES[pronoun]) * len(SURNAMES):
            taken.add(name)
            return name


# ----------------------------------------------------------------------------------------------
# What the boutique knows: associate notes and stated preferences

OCCASION_NOTE = {
    "everyday": "dresses for real life", "weekend": "spends weekends in the country",
    "travel": "travels constantly", "resort": "summers by the sea", "office": "is in the office most days",
    "business meeting": "has meetings all week", "business dinner": "hosts client dinners most weeks",
    "cocktail": "goes to a lot of cocktail parties", "evening": "is out most evenings",
    "garden party": "loves a garden party", "wedding": "has a string of weddings to attend",
    "opera": "has a box at the opera", "gala": "sits on two charity gala committees",
}
PALETTE_NOTE = {
    "light": "Drawn to pale, soft tones",
    "bright": "Loves colour; the brighter the better",
    "neutral": "Lives in neutrals",
    "dark": "Wears mostly dark colours",
}
BRANDING_NOTE = {
    "discreet": ("Prefers quiet pieces, nothing with a visible logo.", "Dislikes anything too loud."),
    "moderate": ("A small logo is fine; nothing shouty.", "Happy with a discreet house mark."),
    "logo-forward": ("Likes people to know the house; monograms welcome.", "Enjoys a statement logo."),
}
RETURN_REASON = {
    "branding": "too loud for {obj}",
    "material": "did not get on with the {thing}",
    "colour": "the {thing} was not for {obj}",
    "price": "felt it was not worth the price",
    "fit": "the fit was not right",
    "mind": "changed {pos} mind",
}
NOISE_NOTES = (
    "Said {sub} might try something bolder this year.",
    "Mentioned an interest in watches, but nothing came of it.",
    "Asked about the new season's colours.",
    "Might be open to a different house for the right piece.",
)


def _pronouns(pronoun: str) -> dict[str, str]:
    return {"sub": pronoun, "Sub": pronoun.capitalize(), "obj": "her" if pronoun == "she" else "him",
            "pos": "her" if pronoun == "she" else "his"}


def _season_label(timestamp: str) -> str:
    month, year = int(timestamp[5:7]), timestamp[:4]
    season = ("winter", "winter", "spring", "spring", "spring", "summer", "summer", "summer",
              "autumn", "autumn", "autumn", "winter")[month - 1]
    return f"{season} {year}"


def _return_note(rng: random.Random, taste: dict, item: dict, when: str) -> str:
    p = _pronouns(taste["pronoun"])
    a, no = item["attributes"], taste["dislikes"]
    if a["branding"] in no["branding"] or BRANDING_FIT[taste["branding"]][a["branding"]] < 0:
        reason = RETURN_REASON["branding"].format(**p)
    elif any(m in no["materials"] for m in a["material"]):
        thing = next(m for m in a["material"] if m in no["materials"])
        reason = RETURN_REASON["material"].format(thing=thing, **p)
    elif any(c in no["colours"] for c in a["colour"]):
        thing = next(c for c in a["colour"] if c in no["colours"])
        reason = RETURN_REASON["colour"].format(thing=thing, **p)
    elif item["price"] > taste["budget"]["max"]:
        reason = RETURN_REASON["price"]
    elif CATEGORIES[item["category"]].group in ("shoes", "ready-to-wear"):
        reason = RETURN_REASON["fit"]
    else:
        reason = RETURN_REASON["mind"].format(**p)
    noun = CATEGORIES[item["category"]].noun.lower()
    return f"Returned the {item['brand']} {noun} in {_season_label(when)}; {reason}."


def client_notes(rng: random.Random, taste: dict, returns: list[tuple[dict, str]]) -> list[str]:
    """Two to four associate notes: true to the taste, but partial and sometimes a little off.

    Args:
        rng (`random.Random`): the generator.
        taste (`dict`): the hidden taste.
        returns (`list[tuple[dict, str]]`): (item, timestamp) of the client's returns.

    Returns:
        `list[str]`: the notes.
    """
    p = _pronouns(taste["pronoun"])
    low, high = taste["budget"]["min"], taste["budget"]["max"]
    liked = [c for c in taste["colours"] if PALETTE_OF[c] == taste["palette"]] or taste["colours"][:1]
    pool = [
        rng.choice(BRANDING_NOTE[taste["branding"]]),
        f"{PALETTE_NOTE[taste['palette']]}: {', '.join(liked)}.",
        f"Loyal to {taste['favourite_houses'][0]}"
        + (f"; also buys {taste['favourite_houses'][1]}." if len(taste["favourite_houses"]) > 1 else "."),
        f"Loves {join_words(taste['materials'][:2])}.",
        f"Usually spends between €{low:,.0f} and €{high:,.0f} a piece.",
        f"{p['Sub']} {OCCASION_NOTE[taste['occasions'][0]]}.",
    ]
    if taste["dislikes"]["materials"]:
        pool.append(f"Will not wear {taste['dislikes']['materials'][0]}.")
    if taste["dislikes"]["colours"]:
        pool.append(f"Not a fan of {taste['dislikes']['colours'][0]}.")
    notes = rng.sample(pool, k=rng.randint(2, 3))
    if returns and rng.random() < 0.7:
        notes.append(_return_note(rng, taste, *rng.choice(returns)))
    if rng.random() < 0.15:
        notes[rng.randrange(len(notes))] = rng.choice(NOISE_NOTES).format(**p)
    return notes[:4]


def stated_preferences(rng: random.Random, taste: dict) -> dict:
    """What the client has told the boutique: a partial, sometimes rounded, view of the taste.

    Args:
        rng (`random.Random`): the generator.
        taste (`dict`): the hidden taste.

    Returns:
        `dict`: some of colours, materials, houses, occasions, avoid, budget_max.
    """
    options = {
        "colours": lambda: taste["colours"][: rng.randint(1, 2)],
        "materials": lambda: taste["materials"][:1],
        "houses": lambda: taste["favourite_houses"][:1],
        "occasions": lambda: taste["occasions"][:2],
        "avoid": lambda: (taste["dislikes"]["materials"] + taste["dislikes"]["colours"]
                          + taste["dislikes"]["branding"])[:2],
        "budget_max": lambda: float(round(taste["budget"]["max"] * rng.uniform(0.85, 1.15), -2)),
    }
    keys = [k for k in options if rng.random() < 0.45] or [rng.choice(sorted(options))]
    stated = {k: options[k]() for k in options if k in keys}
    stated = {k: v for k, v in stated.items() if v}
    return stated or {"colours": taste["colours"][:1]}

