"""How one split's queries are worded: the `Wording` of a pool, and the train and val pools.

Each split has its own pool (train, val, test) and the three share no sentence template and no
small phrase: how an occasion, a season, a budget, an origin, a branding wish, a must-not, an item,
an out-of-catalogue thing or a wrong belief is said. What they do share are the world's own names,
which are slot values, not wording: categories, colours, materials, houses, crafts, places,
countries, months and seasons. The train and val pools are data, in `data/wording_train.json` and
`data/wording_val.json`; the test pool lives apart, in `sealed_wording.py`.

Placeholders in templates: {item} / {item_cap} (the piece asked for), {budget} (an inline budget,
or nothing), {extras} (the constraints a template does not say itself), {ctx} / {ctx1} / {ctx2}
(contexts: "a wedding in Tuscany this summer"), {occ}, {when}, {place_to}, {place_in},
{house}, {claimed}, {claimed_adj}, {material} / {Material}, {thing}, {for_ctx}, and the client's
pronouns {pron} {Pron} {obj} {poss} {Poss_cap}.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from catalog.demo.tables import load_table, tuples
from catalog.demo.vocab import GROUP_PHRASE

Templates = dict[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class Wording:
    """Everything one pool says in words; the facets say the same thing in every pool.

    templates: template key ("implicit", "impossible:price") -> (voice, frame) pairs; voice
        "first" speaks as the client, "assoc" as an associate speaking of the client.
    occasions: occasion -> ways of saying it.
    when: ways of saying a season ({season}, {season_us}, {month}).
    season_only, occasion_only: a sentence that states only a season / an occasion ({season}, {occ}).
    budget_inline: a budget inside a sentence ({b}); budget_sentence: a budget as a sentence ({b}).
    amounts: how a sum {b} is written: "{digits}" (2,500), "{euro}" (€2,500), "{k}" (2.5k),
        "{words}" (two thousand five hundred); a style a sum cannot take falls back to the first.
    origin: a sentence asking for a country of making ({country}, {adj}).
    branding: "discreet" / "quiet" / "logo" -> sentences.
    must_not: a sentence ruling a material out ({m}, {M}).
    items: how colour and material attach to a piece: "adj:cm" / "adj:c" / "adj:m" for a piece
        that takes adjectives ({head} "a" / "a pair of", {noun}), "cm" / "c" / "m" for any other
        ({base}); {colour}, {material}.
    groups: category group -> how a piece of the group is named when no category is asked.
    things: out-of-catalogue thing -> how it is asked for.
    claims: a wrong belief about a material (as the facets hold it) -> how it is said; a claim
        missing here is said as the facets hold it.
    trip: a place with no occasion ({place_to}, {place_in}); visit: the occasion of such a trip.
    season_fallback: a context with only a season ({season}); anytime: a context with nothing.
    places: optional other names of a place: place -> (after "in", after "to"), used half the time.
    """

    templates: Templates
    occasions: dict[str, tuple[str, ...]]
    when: tuple[str, ...]
    season_only: tuple[str, ...]
    occasion_only: tuple[str, ...]
    budget_inline: tuple[str, ...]
    budget_sentence: tuple[str, ...]
    amounts: tuple[str, ...]
    origin: tuple[str, ...]
    branding: dict[str, tuple[str, ...]]
    must_not: tuple[str, ...]
    items: dict[str, str]
    groups: dict[str, str]
    things: dict[str, str]
    claims: dict[str, str]
    trip: str
    visit: str
    season_fallback: str
    anytime: str
    places: dict[str, tuple[str, str]] = field(default_factory=dict)


def load_wording(name: str, **fields) -> Wording:
    """A pool's wording from `data/<name>.json`.

    Args:
        name (`str`): the file's name without `.json` ("wording_train", "wording_val").
        **fields: fields the file leaves out, given here.

    Returns:
        `Wording`: the pool.
    """
    table = load_table(name)
    return Wording(**{key: tuples(value) for key, value in table.items() if key != "_about"}, **fields)


TRAIN = load_wording("wording_train", groups=dict(GROUP_PHRASE))
VAL = load_wording("wording_val")
