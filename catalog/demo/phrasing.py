"""Putting a need into words.

Every query type has its own phrasing templates, split in two pools: `train` templates phrase
the queries of training clients, `heldout` templates phrase the queries of validation and test
clients. The small phrases inside a template (how a budget, an origin, an occasion or a season is
said) are split the same way, so a model cannot pass the held-out splits by memorising wording.

Templates are rendered from the facets only. A template id ("implicit:t3", "impossible:price:h1")
is returned beside the text and kept out of the bundle.
"""

from __future__ import annotations

import random
import re

from catalog.demo.houses import COUNTRY_ADJECTIVE, HOUSE_BY_NAME
from catalog.demo.places import PLACES
from catalog.demo.vocab import CATEGORIES, GROUP_PHRASE, MONTHS

POOLS = ("train", "heldout")

# ----------------------------------------------------------------------------------------------
# Small phrases, each split into (train, heldout)

OCCASION_WORDS = {
    "wedding": (("a wedding", "a friend's wedding"), ("a family wedding", "a wedding we are invited to")),
    "business dinner": (("client dinners", "a business dinner"),
                        ("dinners with clients", "a working dinner")),
    "business meeting": (("business meetings", "an important meeting"),
                         ("board meetings", "meetings with investors")),
    "office": (("the office", "work"), ("days at the office", "the working week")),
    "everyday": (("every day", "daily wear"), ("day-to-day life", "running around town")),
    "weekend": (("the weekend", "weekends away"), ("lazy Saturdays", "a long weekend")),
    "travel": (("travel", "a long trip"), ("a few days on the road", "flights and hotels")),
    "resort": (("a beach holiday", "a resort stay"), ("days by the sea", "a seaside holiday")),
    "cocktail": (("a cocktail party", "cocktails"), ("a cocktail reception", "drinks at an opening")),
    "evening": (("evenings out", "dinner out"), ("a night out", "a dinner date")),
    "garden party": (("a garden party", "a lunch in the garden"),
                     ("an afternoon party outdoors", "a lawn party")),
    "opera": (("the opera", "a night at the opera"),
              ("an opening night at the opera", "a premiere at the opera house")),
    "gala": (("a gala", "a black-tie gala"), ("a charity ball", "a black-tie dinner")),
}
WHEN_WORDS = (
    ("this {season}", "in {month}", "next {season}"),
    ("come {month}", "around {month}", "this {season_us}"),
)
SEASON_ONLY = (("It's for the {season}.", "For {season} wear."), ("To wear over the {season_us} months.",))
OCCASION_ONLY = (("It's for {occ}.", "Mostly for {occ}."),
                 ("The occasion: {occ}.", "Needed in time for {occ}."))
BUDGET_INLINE = ((" under €{b}", " for up to €{b}", " below €{b}"),
                 (" for no more than {b} euros", " capped at {b} euros", " within {b} euros"))
BUDGET_SENTENCE = (("My budget is €{b}.", "Up to €{b}.", "Nothing above €{b}, please."),
                   ("Spending limit: {b} euros.", "Keep it within {b} euros.", "{b} euros at the very most."))
ORIGIN_SENTENCE = (("Made in {country}, please.", "Ideally {adj} craftsmanship.", "It should be {adj}-made."),
                   ("Only {adj}-made pieces.", "Produced in {country} if at all possible."))
BRANDING_SENTENCE = {
    "discreet": (("Subtle branding, please.", "No visible logos."),
                 ("Logos kept to an absolute minimum.", "Understated, with no branding on show.")),
    "quiet": (("Nothing logo-heavy.", "A small logo at most."),
              ("Nothing that shouts the brand.", "Quiet branding is fine, loud is not.")),
    "logo": (("The logo should be visible.", "A statement logo is welcome."),
             ("Happy for the monogram to show.", "The more recognisable the house, the better.")),
}
MUST_NOT_SENTENCE = (("No {m}, please.", "Nothing in {m}."), ("{M} is out.", "Avoid {m}."))
COUNTRY_NAME = {"UK": "the UK", "USA": "the US", "UAE": "the UAE"}

# ----------------------------------------------------------------------------------------------
# Templates: type (and kind) -> pool -> [(voice, text)]; voice "first" speaks as the client,
# "assoc" as an associate speaking of the client.

TEMPLATES: dict[str, dict[str, list[tuple[str, str]]]] = {
    "explicit": {
        "train": [
            ("first", "I'm looking for {item}{budget}. {extras}"),
            ("first", "Do you have {item}{budget}? {extras}"),
            ("assoc", "My client would like {item}{budget}. {extras}"),
            ("first", "Could you find me {item}? {extras}"),
            ("assoc", "{Pron} wants {item}{budget}. {extras}"),
            ("first", "Please show me {item}{budget}. {extras}"),
        ],
        "heldout": [
            ("first", "Any chance you carry {item}? {extras}"),
            ("assoc", "On behalf of a client: {item}{budget}. {extras}"),
            ("first", "Hunting for {item}{budget}. {extras}"),
        ],
    },
    "implicit": {
        "train": [
            ("first", "I need {item} for {ctx}. {extras}"),
            ("first", "What would you suggest for {ctx}? I'm thinking {item}. {extras}"),
            ("assoc", "My client has {ctx} and needs {item}. {extras}"),
            ("assoc", "{Pron} is going to {place_to} for {occ} {when}, and needs {item}. {extras}"),
            ("first", "Looking for {item}; it is for {ctx}. {extras}"),
            ("first", "Heading to {place_to} {when} for {occ}; can you suggest {item}? {extras}"),
        ],
        "heldout": [
            ("first", "Planning ahead for {ctx}: {item} would be ideal. {extras}"),
            ("assoc", "A client has {ctx} coming up. Could you pull together {item}? {extras}"),
            ("assoc", "{Pron} will be {place_in} {when} for {occ}. Ideas for {item}? {extras}"),
        ],
    },
    "multi_occasion": {
        "train": [
            ("first", "I need {item} that works for both {ctx1} and {ctx2}. {extras}"),
            ("first", "Is there {item} that can do {ctx1} as well as {ctx2}? {extras}"),
            ("assoc", "My client wants one piece for {ctx1} and {ctx2}: {item}. {extras}"),
            ("assoc", "{Pron} needs {item} for {ctx1} that will also work for {ctx2}. {extras}"),
            ("first", "Looking for {item} versatile enough for {ctx1} and {ctx2}. {extras}"),
            ("first", "Something for {ctx1} and later {ctx2}: {item}, ideally. {extras}"),
        ],
        "heldout": [
            ("first", "Could {item} take me from {ctx1} to {ctx2}? {extras}"),
            ("assoc", "A client needs a single piece, {item}, that suits {ctx1} and also {ctx2}. {extras}"),
            ("first", "Double duty: {item} for {ctx1}, then {ctx2}. {extras}"),
            ("assoc", "Can {item} cover {ctx1} and {ctx2} for {obj}? {extras}"),
        ],
    },
    "taste": {
        "train": [
            ("assoc", "Can you pick {item} {pron} would love{budget}? {extras}"),
            ("assoc", "{Poss_cap} birthday is coming up; {item} {pron} would adore{budget}. {extras}"),
            ("first", "Choose {item} for me, you know my taste. {extras}"),
            ("first", "I trust you: {item} in my style{budget}. {extras}"),
            ("assoc", "A gift for a loyal client: {item} that suits {obj}. {extras}"),
            ("first", "Surprise me with {item} I will love. {extras}"),
        ],
        "heldout": [
            ("assoc", "What would {pron} fall for right now? {item_cap}, perhaps. {extras}"),
            ("first", "Going by what I have bought before, {item} I would enjoy? {extras}"),
            ("assoc", "Anniversary present for {obj}: {item} very much in {poss} taste. {extras}"),
        ],
    },
    "misinformed:origin": {
        "train": [
            ("first", "I'd like {item} from {house}; I love {claimed_adj} craftsmanship. {extras}"),
            ("first", "Do you have {item} by {house}, the {claimed_adj} house? {extras}"),
            ("assoc", "My client only buys {claimed_adj} labels like {house}. {Pron} wants {item}. {extras}"),
            ("first", "Show me {item} from {house}; nothing beats {claimed_adj} know-how. {extras}"),
        ],
        "heldout": [
            ("first", "Since {house} is {claimed_adj}, it should suit me: {item}, please. {extras}"),
            ("assoc",
             "{Pron} swears by {house} and everything {claimed_adj}. {item_cap} from them? {extras}"),
        ],
    },
    "misinformed:craft": {
        "train": [
            ("first", "I'm after {item} from {house}, with the {claimed} they are famous for. {extras}"),
            ("first", "Do you have {item} by {house}? I love their {claimed}. {extras}"),
            ("assoc", "My client wants {item} from {house} because of the {claimed}. {extras}"),
            ("assoc", "{Pron} collects {house} for its {claimed}; {item} next. {extras}"),
        ],
        "heldout": [
            ("first", "{house} and their {claimed}: {item} from them, please. {extras}"),
            ("assoc", "The {claimed} is why {pron} loves {house}. Find {obj} {item}. {extras}"),
        ],
    },
    "misinformed:material": {
        "train": [
            ("first", "I need {item} in {material} for {ctx}; {material} is {claimed}, right? {extras}"),
            ("first", "Since {material} is {claimed}, I'd like {item} in it for {ctx}. {extras}"),
            ("assoc",
             "My client wants {item} in {material} for {ctx}; {pron} says {material} is {claimed}. {extras}"),
            ("assoc",
             "{Pron} needs {item} for {ctx} and insists on {material}, as it is {claimed}. {extras}"),
        ],
        "heldout": [
            ("first", "{Material} being {claimed}, {item} in it would be perfect for {ctx}. {extras}"),
            ("assoc",
             "{Material} is {claimed}, {pron} tells me, so {item} in {material} for {ctx}. {extras}"),
        ],
    },
    "impossible:out-of-catalogue": {
        "train": [
            ("first", "Do you sell {thing}?"),
            ("first", "I'm looking for {thing}."),
            ("assoc", "My client wants {thing} as a gift."),
            ("first", "Can you source {thing} for me?"),
        ],
        "heldout": [
            ("first", "Would the boutique have {thing}?"),
            ("assoc", "{Pron} has asked whether we can find {thing}."),
        ],
    },
    "impossible:price": {
        "train": [
            ("first", "I want {item}{budget}."),
            ("first", "Do you have {item}{budget}?"),
            ("assoc", "My client needs {item}{budget}."),
            ("first", "Find me {item}{budget}, please."),
        ],
        "heldout": [
            ("first", "Is there {item}{budget} anywhere in the collection?"),
            ("assoc", "{Pron} insists on {item}{budget}."),
        ],
    },
    "impossible:house-range": {
        "train": [
            ("first", "I'd like {item} from {house}."),
            ("first", "Do you have {item} by {house}?"),
            ("assoc", "My client wants {item} made by {house}."),
            ("first", "Show me {item} from {house}, please."),
        ],
        "heldout": [
            ("assoc", "Does {house} make {item}? {Pron} would like one."),
            ("first", "Could we order {item} from {house}?"),
        ],
    },
    "impossible:contradiction": {
        "train": [
            ("first", "I need {item}{for_ctx}."),
            ("first", "Do you have {item}{for_ctx}?"),
            ("assoc", "My client wants {item}{for_ctx}."),
            ("first", "Looking for {item}{for_ctx}."),
        ],
        "heldout": [
            ("first", "Would {item}{for_ctx} be possible?"),
            ("assoc", "{Pron} has asked for {item}{for_ctx}."),
        ],
    },
}

THINGS = {
    "sports car": "a sports car",
    "sofa": "a sofa for the living room",
    "vintage champagne": "some vintage champagne",
    "set of golf clubs": "a set of golf clubs",
    "fragrance": "a fragrance",
    "yacht charter": "a yacht charter",
    "grand piano": "a grand piano",
    "racing bicycle": "a racing bicycle",
    "espresso machine": "an espresso machine",
    "smartphone": "a new smartphone",
    "dog bed": "a dog bed",
    "tennis racket": "a tennis racket",
}

SEED_TEXT = (
    "I need a bag for my summer wedding in Tuscany that can also work for client dinners in Milan "
    "this fall. I prefer Italian craftsmanship and subtle branding."
)
SEED_TEMPLATE = "seed:example"


def template_key(qtype: str, facets: dict) -> str:
    """The TEMPLATES key of a need: its type, and for two types its kind."""
    if qtype == "misinformed":
        return f"misinformed:{facets['wrong_fact']['kind']}"
    if qtype == "impossible":
        return f"impossible:{facets['impossible']}"
    return qtype


# ----------------------------------------------------------------------------------------------
# Phrase builders


def _us(season: str) -> str:
    return "fall" if season == "autumn" else season


def _money(amount: float) -> str:
    return f"{amount:,.0f}"


def _place_in(place: str) -> str:
    return f"{PLACES[place].prep} {place}"


def _place_to(place: str) -> str:
    return ("the " + place) if PLACES[place].prep == "on the" else place


def when_phrase(rng: random.Random, season: str, pool: int) -> str:
    """How a season is said ('this summer', 'in August', 'come October', 'this fall')."""
    month = rng.choice(MONTHS[season])
    return rng.choice(WHEN_WORDS[pool]).format(season=season, season_us=_us(season), month=month)


def occasion_phrase(rng: random.Random, occasion: str, pool: int) -> str:
    """How an occasion is said, from the pool's own words."""
    return rng.choice(OCCASION_WORDS[occasion][pool])


def context_phrase(rng: random.Random, context: dict, pool: int) -> str:
    """One context as words: 'a wedding in Tuscany this summer', 'a trip to London in November'.

    Args:
        rng (`random.Random`): the generator.
        context (`dict`): one entry of `facets["contexts"]`.
        pool (`int`): 0 for train wording, 1 for held-out wording.

    Returns:
        `str`: the phrase, without a leading preposition.
    """
    occ = occasion_phrase(rng, context["occasion"], pool) if context["occasion"] else None
    when = when_phrase(rng, context["season"], pool) if context["season"] else ""
    if context["place"]:
        where = _place_in(context["place"])
        head = occ or f"a trip to {_place_to(context['place'])}"
        if occ is None:
            return f"{head} {when}".strip()
        return f"{head} {where} {when}".strip() if rng.random() < 0.6 else f"{head} {when} {where}".strip()
    if occ:
        return f"{occ} {when}".strip()
    return f"the {context['season']}" if context["season"] else "every day"


def item_phrase(facets: dict, pool: int) -> str:
    """The piece asked for, with its colour and material when stated.

    Train phrasing puts the colour before the noun and the material after it ("a navy tote in
    calfskin"); held-out phrasing puts both after it ("a tote in navy calfskin").

    Args:
        facets (`dict`): the need.
        pool (`int`): 0 for train wording, 1 for held-out wording.

    Returns:
        `str`: a noun phrase with its article ("something" when no category or group is asked).
    """
    if facets["category"] in CATEGORIES:
        base = CATEGORIES[facets["category"]].phrase
    elif facets["category_group"]:
        base = GROUP_PHRASE[facets["category_group"]]
    else:
        base = "something"
    colour = " or ".join(facets["colour"]) if facets["colour"] else ""
    material = " or ".join(facets["material"]) if facets["material"] else ""
    fits_adjective = base.startswith(("a ", "an ")) and base not in GROUP_PHRASE.values()
    if pool == 0 and colour and fits_adjective:
        if base.startswith("a pair of "):
            base = f"a pair of {colour} {base[len('a pair of '):]}"
        else:
            noun = base.split(" ", 1)[1]
            base = f"{'an' if colour[0] in 'aeiou' else 'a'} {colour} {noun}"
        colour = ""
    tail = " ".join(x for x in (colour, material) if x)
    return f"{base} in {tail}" if tail else base


def _sentence(rng: random.Random, pair: tuple, pool: int, **values) -> str:
    return rng.choice(pair[pool]).format(**values)


def extras(rng: random.Random, facets: dict, pool: int, budget_inline: bool, contexts_in_text: bool) -> str:
    """Stated constraints not carried by the template itself, as short sentences in random order.

    Args:
        rng (`random.Random`): the generator.
        facets (`dict`): the need.
        pool (`int`): 0 for train wording, 1 for held-out wording.
        budget_inline (`bool`): the template already says the budget.
        contexts_in_text (`bool`): the template already says the occasions, places and seasons.

    Returns:
        `str`: zero or more sentences.
    """
    out = []
    if facets["budget_max"] is not None and not budget_inline:
        out.append(_sentence(rng, BUDGET_SENTENCE, pool, b=_money(facets["budget_max"])))
    if facets["origin"]:
        country = facets["origin"]
        out.append(_sentence(rng, ORIGIN_SENTENCE, pool, country=COUNTRY_NAME.get(country, country),
                             adj=COUNTRY_ADJECTIVE[country]))
    if facets["branding"]:
        key = "logo" if "logo-forward" in facets["branding"] else "quiet"
        key = "discreet" if facets["branding"] == ["discreet"] else key
        out.append(rng.choice(BRANDING_SENTENCE[key][pool]))
    no = facets["must_not"]
    for material in no["materials"]:
        out.append(_sentence(rng, MUST_NOT_SENTENCE, pool, m=material, M=material.capitalize()))
    if "logo-forward" in no["branding"]:
        out.append(rng.choice(BRANDING_SENTENCE["quiet"][pool]))
    if not contexts_in_text:
        for context in facets["contexts"]:
            if context["occasion"]:
                occasion = occasion_phrase(rng, context["occasion"], pool)
                out.append(_sentence(rng, OCCASION_ONLY, pool, occ=occasion))
            elif context["season"]:
                season = context["season"]
                out.append(_sentence(rng, SEASON_ONLY, pool, season=season, season_us=_us(season)))
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


def render(rng: random.Random, qtype: str, facets: dict, pronoun: str, pool_name: str) -> tuple[str, str]:
    """Put a need into words with a template from the given pool.

    Args:
        rng (`random.Random`): the generator.
        qtype (`str`): the query type.
        facets (`dict`): the need.
        pronoun (`str`): the client's pronoun ("she"/"he"), for associate-voiced templates.
        pool_name (`str`): "train" or "heldout".

    Returns:
        `tuple[str, str]`: (text, template id).
    """
    pool = POOLS.index(pool_name)
    key = template_key(qtype, facets)
    templates = TEMPLATES[key][pool_name]
    index = rng.randrange(len(templates))
    _, frame = templates[index]
    values = _pronoun_fields(pronoun)
    item = item_phrase(facets, pool)
    values |= {"item": item, "item_cap": item[0].upper() + item[1:]}
    inline = "{budget}" in frame
    values["budget"] = (
        rng.choice(BUDGET_INLINE[pool]).format(b=_money(facets["budget_max"]))
        if inline and facets["budget_max"] is not None else ""
    )
    contexts = facets["contexts"]
    framed = qtype in ("implicit", "multi_occasion") or key == "misinformed:material"
    if qtype == "implicit" or key == "misinformed:material":
        context = contexts[0]
        values |= {
            "ctx": context_phrase(rng, context, pool),
            "occ": occasion_phrase(rng, context["occasion"], pool) if context["occasion"] else "a visit",
            "when": when_phrase(rng, context["season"], pool) if context["season"] else "",
            "place_to": _place_to(context["place"]) if context["place"] else "",
            "place_in": _place_in(context["place"]) if context["place"] else "",
        }
    if qtype == "multi_occasion":
        values["ctx1"] = context_phrase(rng, contexts[0], pool)
        values["ctx2"] = context_phrase(rng, contexts[1], pool)
    wrong = facets["wrong_fact"] or {}
    if wrong:
        values |= {
            "house": facets["house"] or "",
            "claimed": wrong["claimed"],
            "claimed_adj": COUNTRY_ADJECTIVE.get(wrong["claimed"], wrong["claimed"]),
            "material": wrong["subject"],
            "Material": wrong["subject"].capitalize(),
        }
    if qtype == "impossible":
        values |= {"thing": THINGS.get(facets["category"], ""), "house": facets["house"] or ""}
        values["for_ctx"] = f" for {context_phrase(rng, contexts[0], pool)}" if contexts else ""
    values["extras"] = "" if qtype == "impossible" else extras(rng, facets, pool, inline, framed)
    if facets["house"] and facets["house"] in HOUSE_BY_NAME:
        values["house"] = facets["house"]
    return tidy(frame.format(**values)), f"{key}:{'th'[pool]}{index + 1}"
