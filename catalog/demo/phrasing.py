"""Putting a need into words.

Each split has its own wording pool: `train` phrases the queries of training clients, `val` those
of validation clients and `test` those of test clients. The pools share no sentence template and
no small phrase (how a budget, an origin, an occasion, a season, a piece or a wrong belief is said),
so a model, or a parser tuned on train and val, cannot pass the test split by knowing its wording.
The train and val pools are in `wording.py`, the test pool in `sealed_wording.py`.

Templates are rendered from the facets only. A template id ("implicit:train3",
"impossible:price:test1") is returned beside the text and kept out of the bundle.
"""

from __future__ import annotations

import random
import re

from catalog.demo.houses import COUNTRY_ADJECTIVE, HOUSE_BY_NAME
from catalog.demo.places import PLACES
from catalog.demo.sealed_wording import TEST
from catalog.demo.vocab import CATEGORIES, MONTHS
from catalog.demo.wording import TRAIN, VAL, Wording

POOLS: dict[str, Wording] = {"train": TRAIN, "val": VAL, "test": TEST}
COUNTRY_NAME = {"UK": "the UK", "USA": "the US", "UAE": "the UAE"}

SEED_TEXT = (
    "I need a bag for my summer wedding in Tuscany that can also work for client dinners in Milan "
    "this fall. I prefer Italian craftsmanship and subtle branding."
)
SEED_TEMPLATE = "seed:example"


def template_key(qtype: str, facets: dict) -> str:
    """The `Wording.templates` key of a need: its type, and for two types its kind."""
    if qtype == "misinformed":
        return f"misinformed:{facets['wrong_fact']['kind']}"
    if qtype == "impossible":
        return f"impossible:{facets['impossible']}"
    return qtype


# ----------------------------------------------------------------------------------------------
# Phrase builders


def _us(season: str) -> str:
    return "fall" if season == "autumn" else season


def _place_in(place: str) -> str:
    return f"{PLACES[place].prep} {place}"


def _place_to(place: str) -> str:
    return ("the " + place) if PLACES[place].prep == "on the" else place


def place_names(rng: random.Random, place: str, wording: Wording) -> tuple[str, str]:
    """A place as said after "in" and after "to": its name, or half the time the pool's other name."""
    if place in wording.places and rng.random() < 0.5:
        return wording.places[place]
    return _place_in(place), _place_to(place)


_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    tail = _ONES[rest] if rest < 20 else _TENS[rest // 10] + (f"-{_ONES[rest % 10]}" if rest % 10 else "")
    if not hundreds:
        return tail
    return f"{_ONES[hundreds]} hundred" + (f" and {tail}" if rest else "")


def in_words(n: int) -> str:
    """A whole number below a million in English words: 2300 -> 'two thousand three hundred'."""
    thousands, rest = divmod(n, 1000)
    if not thousands:
        return _below_thousand(rest)
    head = f"{_below_thousand(thousands)} thousand"
    if not rest:
        return head
    return f"{head} and {_below_thousand(rest)}" if rest < 100 else f"{head} {_below_thousand(rest)}"


def amount(rng: random.Random, value: float, wording: Wording) -> str:
    """A sum as the pool writes it ("2,500", "€2,500", "2.5k", "two thousand five hundred euros").

    Args:
        rng (`random.Random`): the generator.
        value (`float`): the sum in EUR.
        wording (`Wording`): the pool; a style the sum cannot take falls back to its first style.

    Returns:
        `str`: the sum in words or figures.
    """
    whole = int(value)
    forms = {"digits": f"{value:,.0f}", "euro": f"€{value:,.0f}"}
    if whole == value and whole >= 1000 and whole % 100 == 0:
        forms["k"] = f"{whole / 1000:g}k"
    if whole == value and 0 < whole < 1_000_000:
        forms["words"] = in_words(whole)
    style = rng.choice(wording.amounts)
    try:
        return style.format(**forms)
    except KeyError:
        return wording.amounts[0].format(**forms)


def when_phrase(rng: random.Random, season: str, wording: Wording) -> str:
    """How a season is said ('this summer', 'in August', 'come October', 'this fall')."""
    month = rng.choice(MONTHS[season])
    return rng.choice(wording.when).format(season=season, season_us=_us(season), month=month)


def occasion_phrase(rng: random.Random, occasion: str, wording: Wording) -> str:
    """How an occasion is said, from the pool's own words."""
    return rng.choice(wording.occasions[occasion])


def context_phrase(rng: random.Random, context: dict, wording: Wording) -> str:
    """One context as words: 'a wedding in Tuscany this summer', 'a trip to London in November'.

    Args:
        rng (`random.Random`): the generator.
        context (`dict`): one entry of `facets["contexts"]`.
        wording (`Wording`): the pool.

    Returns:
        `str`: the phrase, without a leading preposition.
    """
    occ = occasion_phrase(rng, context["occasion"], wording) if context["occasion"] else None
    when = when_phrase(rng, context["season"], wording) if context["season"] else ""
    if context["place"]:
        where, to = place_names(rng, context["place"], wording)
        if occ is None:
            return f"{wording.trip.format(place_in=where, place_to=to)} {when}".strip()
        return f"{occ} {where} {when}".strip() if rng.random() < 0.6 else f"{occ} {when} {where}".strip()
    if occ:
        return f"{occ} {when}".strip()
    return wording.season_fallback.format(season=context["season"]) if context["season"] else wording.anytime


def _head_and_noun(base: str) -> tuple[str, str]:
    """'a pair of loafers' -> ('a pair of', 'loafers'); 'an evening gown' -> ('a', 'evening gown')."""
    if base.startswith("a pair of "):
        return "a pair of", base[len("a pair of "):]
    return "a", base.split(" ", 1)[1]


def _article(phrase: str) -> str:
    """The leading 'a' / 'an' agreeing with the word after it ('a ivory tote' -> 'an ivory tote')."""
    match = re.match(r"an? (\w)", phrase)
    if not match or phrase.startswith("a pair of "):
        return phrase
    rest = phrase.split(" ", 1)[1]
    return ("an " if match.group(1) in "aeiou" else "a ") + rest


def item_phrase(facets: dict, wording: Wording) -> str:
    """The piece asked for, with its colour and material when stated, as the pool attaches them.

    Train puts the colour before the noun and the material after it ("a navy tote in calfskin");
    val puts both after it ("a tote in navy calfskin"); test has a construction of its own.

    Args:
        facets (`dict`): the need.
        wording (`Wording`): the pool.

    Returns:
        `str`: a noun phrase with its article ("something" when no category or group is asked).
    """
    if facets["category"] in CATEGORIES:
        base = CATEGORIES[facets["category"]].phrase
    elif facets["category_group"]:
        base = wording.groups[facets["category_group"]]
    else:
        base = "something"
    colour = " or ".join(facets["colour"]) if facets["colour"] else ""
    material = " or ".join(facets["material"]) if facets["material"] else ""
    if not (colour or material):
        return base
    takes_adjectives = base.startswith(("a ", "an ")) and base not in wording.groups.values()
    key = ("adj:" if takes_adjectives else "") + ("c" if colour else "") + ("m" if material else "")
    head, noun = _head_and_noun(base) if takes_adjectives else ("", "")
    if material and noun.split(" ", 1)[0] == material.split(" ", 1)[0] and " " in noun:
        noun = noun.split(" ", 1)[1]  # "a silk scarf" in silk twill: the material names the silk
    phrase = wording.items[key].format(base=base, head=head, noun=noun, colour=colour, material=material)
    return _article(phrase)


def extras(rng: random.Random, facets: dict, wording: Wording, budget_inline: bool, contexts_in_text: bool) -> str:
    """Stated constraints not carried by the template itself, as short sentences in random order.

    Args:
        rng (`random.Random`): the generator.
        facets (`dict`): the need.
        wording (`Wording`): the pool.
        budget_inline (`bool`): the template already says the budget.
        contexts_in_text (`bool`): the template already says the occasions, places and seasons.

    Returns:
        `str`: zero or more sentences.
    """
    out = []
    if facets["budget_max"] is not None and not budget_inline:
        out.append(rng.choice(wording.budget_sentence).format(b=amount(rng, facets["budget_max"], wording)))
    if facets["origin"]:
        country = facets["origin"]
        out.append(rng.choice(wording.origin).format(country=COUNTRY_NAME.get(country, country),
                                                     adj=COUNTRY_ADJECTIVE[country]))
    if facets["branding"]:
        key = "logo" if "logo-forward" in facets["branding"] else "quiet"
        key = "discreet" if facets["branding"] == ["discreet"] else key
        out.append(rng.choice(wording.branding[key]))
    no = facets["must_not"]
    for material in no["materials"]:
        out.append(rng.choice(wording.must_not).format(m=material, M=material.capitalize()))
    if "logo-forward" in no["branding"]:
        out.append(rng.choice(wording.branding["quiet"]))
    if not contexts_in_text:
        for context in facets["contexts"]:
            if context["occasion"]:
                occasion = occasion_phrase(rng, context["occasion"], wording)
                out.append(rng.choice(wording.occasion_only).format(occ=occasion))
            elif context["season"]:
                season = context["season"]
                out.append(rng.choice(wording.season_only).format(season=season, season_us=_us(season)))
    rng.shuffle(out)
    return " ".join(out)


def _pronoun_fields(pronoun: str) -> dict[str, str]:
    obj = "her" if pronoun == "she" else "him"
    poss = "her" if pronoun == "she" else "his"
    return {"pron": pronoun, "Pron": pronoun.capitalize(), "obj": obj, "poss": poss,
            "Poss_cap": poss.capitalize()}


def tidy(text: str) -> str:
    """Collapse spaces, fix spaces before punctuation, capitalise the first letter."""
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([.,;:?!])", r"\1", text)
    text = text.replace("..", ".").replace("?.", "?")
    return text[0].upper() + text[1:]


def _context_fields(rng: random.Random, context: dict, wording: Wording) -> dict[str, str]:
    """The placeholders of a one-context template: {ctx}, {occ}, {when}, {place_to}, {place_in}."""
    where, to = place_names(rng, context["place"], wording) if context["place"] else ("", "")
    return {
        "ctx": context_phrase(rng, context, wording),
        "occ": occasion_phrase(rng, context["occasion"], wording) if context["occasion"] else wording.visit,
        "when": when_phrase(rng, context["season"], wording) if context["season"] else "",
        "place_to": to,
        "place_in": where,
    }


def render(rng: random.Random, qtype: str, facets: dict, pronoun: str, pool_name: str) -> tuple[str, str]:
    """Put a need into words with a template from the given pool.

    Args:
        rng (`random.Random`): the generator.
        qtype (`str`): the query type.
        facets (`dict`): the need.
        pronoun (`str`): the client's pronoun ("she"/"he"), for associate-voiced templates.
        pool_name (`str`): "train", "val" or "test".

    Returns:
        `tuple[str, str]`: (text, template id).
    """
    wording = POOLS[pool_name]
    key = template_key(qtype, facets)
    templates = wording.templates[key]
    index = rng.randrange(len(templates))
    _, frame = templates[index]
    values = _pronoun_fields(pronoun)
    item = item_phrase(facets, wording)
    values |= {"item": item, "item_cap": item[0].upper() + item[1:]}
    inline = "{budget}" in frame
    values["budget"] = (
        rng.choice(wording.budget_inline).format(b=amount(rng, facets["budget_max"], wording))
        if inline and facets["budget_max"] is not None else ""
    )
    contexts = facets["contexts"]
    framed = qtype in ("implicit", "multi_occasion") or key == "misinformed:material"
    if qtype == "implicit" or key == "misinformed:material":
        values |= _context_fields(rng, contexts[0], wording)
    if qtype == "multi_occasion":
        values["ctx1"] = context_phrase(rng, contexts[0], wording)
        values["ctx2"] = context_phrase(rng, contexts[1], wording)
    wrong = facets["wrong_fact"] or {}
    if wrong:
        values |= {
            "house": facets["house"] or "",
            "claimed": wording.claims.get(wrong["claimed"], wrong["claimed"]),
            "claimed_adj": COUNTRY_ADJECTIVE.get(wrong["claimed"], wrong["claimed"]),
            "material": wrong["subject"],
            "Material": wrong["subject"].capitalize(),
        }
    if qtype == "impossible":
        values |= {"thing": wording.things.get(facets["category"], ""), "house": facets["house"] or ""}
        values["for_ctx"] = f" for {context_phrase(rng, contexts[0], wording)}" if contexts else ""
    values["extras"] = "" if qtype == "impossible" else extras(rng, facets, wording, inline, framed)
    if facets["house"] and facets["house"] in HOUSE_BY_NAME:
        values["house"] = facets["house"]
    return tidy(frame.format(**values)), f"{key}:{pool_name}{index + 1}"
