"""How one split's queries are worded: the `Wording` of a pool, and the train and val pools.

Each split has its own pool (train, val, test) and the three share no sentence template and no
small phrase: how an occasion, a season, a budget, an origin, a branding wish, a must-not, an item,
an out-of-catalogue thing or a wrong belief is said. What they do share are the world's own names,
which are slot values, not wording: categories, colours, materials, houses, crafts, places,
countries, months and seasons. The test pool lives apart, in `sealed_wording.py`.

Placeholders in templates: {item} / {item_cap} (the piece asked for), {budget} (an inline budget,
or nothing), {extras} (the constraints a template does not say itself), {ctx} / {ctx1} / {ctx2}
(contexts: "a wedding in Tuscany this summer"), {occ}, {when}, {place_to}, {place_in},
{house}, {claimed}, {claimed_adj}, {material} / {Material}, {thing}, {for_ctx}, and the client's
pronouns {pron} {Pron} {obj} {poss} {Poss_cap}.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


TRAIN = Wording(
    templates={
        "explicit": (
            ("first", "I'm looking for {item}{budget}. {extras}"),
            ("first", "Do you have {item}{budget}? {extras}"),
            ("assoc", "My client would like {item}{budget}. {extras}"),
            ("first", "Could you find me {item}? {extras}"),
            ("assoc", "{Pron} wants {item}{budget}. {extras}"),
            ("first", "Please show me {item}{budget}. {extras}"),
        ),
        "implicit": (
            ("first", "I need {item} for {ctx}. {extras}"),
            ("first", "What would you suggest for {ctx}? I'm thinking {item}. {extras}"),
            ("assoc", "My client has {ctx} and needs {item}. {extras}"),
            ("assoc", "{Pron} is going to {place_to} for {occ} {when}, and needs {item}. {extras}"),
            ("first", "Looking for {item}; it is for {ctx}. {extras}"),
            ("first", "Heading to {place_to} {when} for {occ}; can you suggest {item}? {extras}"),
        ),
        "multi_occasion": (
            ("first", "I need {item} that works for both {ctx1} and {ctx2}. {extras}"),
            ("first", "Is there {item} that can do {ctx1} as well as {ctx2}? {extras}"),
            ("assoc", "My client wants one piece for {ctx1} and {ctx2}: {item}. {extras}"),
            ("assoc", "{Pron} needs {item} for {ctx1} that will also work for {ctx2}. {extras}"),
            ("first", "Looking for {item} versatile enough for {ctx1} and {ctx2}. {extras}"),
            ("first", "Something for {ctx1} and later {ctx2}: {item}, ideally. {extras}"),
        ),
        "taste": (
            ("assoc", "Can you pick {item} {pron} would love{budget}? {extras}"),
            ("assoc", "{Poss_cap} birthday is coming up; {item} {pron} would adore{budget}. {extras}"),
            ("first", "Choose {item} for me, you know my taste. {extras}"),
            ("first", "I trust you: {item} in my style{budget}. {extras}"),
            ("assoc", "A gift for a loyal client: {item} that suits {obj}. {extras}"),
            ("first", "Surprise me with {item} I will love. {extras}"),
        ),
        "misinformed:origin": (
            ("first", "I'd like {item} from {house}; I love {claimed_adj} craftsmanship. {extras}"),
            ("first", "Do you have {item} by {house}, the {claimed_adj} house? {extras}"),
            ("assoc", "My client only buys {claimed_adj} labels like {house}. {Pron} wants {item}. {extras}"),
            ("first", "Show me {item} from {house}; nothing beats {claimed_adj} know-how. {extras}"),
        ),
        "misinformed:craft": (
            ("first", "I'm after {item} from {house}, with the {claimed} they are famous for. {extras}"),
            ("first", "Do you have {item} by {house}? I love their {claimed}. {extras}"),
            ("assoc", "My client wants {item} from {house} because of the {claimed}. {extras}"),
            ("assoc", "{Pron} collects {house} for its {claimed}; {item} next. {extras}"),
        ),
        "misinformed:material": (
            ("first", "I need {item} in {material} for {ctx}; {material} is {claimed}, right? {extras}"),
            ("first", "Since {material} is {claimed}, I'd like {item} in it for {ctx}. {extras}"),
            ("assoc",
             "My client wants {item} in {material} for {ctx}; {pron} says {material} is {claimed}. {extras}"),
            ("assoc",
             "{Pron} needs {item} for {ctx} and insists on {material}, as it is {claimed}. {extras}"),
        ),
        "impossible:out-of-catalogue": (
            ("first", "Do you sell {thing}?"),
            ("first", "I'm looking for {thing}."),
            ("assoc", "My client wants {thing} as a gift."),
            ("first", "Can you source {thing} for me?"),
        ),
        "impossible:price": (
            ("first", "I want {item}{budget}."),
            ("first", "Do you have {item}{budget}?"),
            ("assoc", "My client needs {item}{budget}."),
            ("first", "Find me {item}{budget}, please."),
        ),
        "impossible:house-range": (
            ("first", "I'd like {item} from {house}."),
            ("first", "Do you have {item} by {house}?"),
            ("assoc", "My client wants {item} made by {house}."),
            ("first", "Show me {item} from {house}, please."),
        ),
        "impossible:contradiction": (
            ("first", "I need {item}{for_ctx}."),
            ("first", "Do you have {item}{for_ctx}?"),
            ("assoc", "My client wants {item}{for_ctx}."),
            ("first", "Looking for {item}{for_ctx}."),
        ),
    },
    occasions={
        "wedding": ("a wedding", "a friend's wedding"),
        "business dinner": ("client dinners", "a business dinner"),
        "business meeting": ("business meetings", "an important meeting"),
        "office": ("the office", "work"),
        "everyday": ("every day", "daily wear"),
        "weekend": ("the weekend", "weekends away"),
        "travel": ("travel", "a long trip"),
        "resort": ("a beach holiday", "a resort stay"),
        "cocktail": ("a cocktail party", "cocktails"),
        "evening": ("evenings out", "dinner out"),
        "garden party": ("a garden party", "a lunch in the garden"),
        "opera": ("the opera", "a night at the opera"),
        "gala": ("a gala", "a black-tie gala"),
    },
    when=("this {season}", "in {month}", "next {season}"),
    season_only=("It's for the {season}.", "For {season} wear."),
    occasion_only=("It's for {occ}.", "Mostly for {occ}."),
    budget_inline=(" under €{b}", " for up to €{b}", " below €{b}"),
    budget_sentence=("My budget is €{b}.", "Up to €{b}.", "Nothing above €{b}, please."),
    amounts=("{digits}",),
    origin=("Made in {country}, please.", "Ideally {adj} craftsmanship.", "It should be {adj}-made."),
    branding={
        "discreet": ("Subtle branding, please.", "No visible logos."),
        "quiet": ("Nothing logo-heavy.", "A small logo at most."),
        "logo": ("The logo should be visible.", "A statement logo is welcome."),
    },
    must_not=("No {m}, please.", "Nothing in {m}."),
    # Colour before the noun, material after it: "a navy tote in calfskin".
    items={
        "adj:cm": "{head} {colour} {noun} in {material}", "adj:c": "{head} {colour} {noun}",
        "adj:m": "{base} in {material}",
        "cm": "{base} in {colour} {material}", "c": "{base} in {colour}", "m": "{base} in {material}",
    },
    groups=dict(GROUP_PHRASE),
    things={
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
    },
    claims={},
    trip="a trip to {place_to}",
    visit="a visit",
    season_fallback="the {season}",
    anytime="every day",
)

VAL = Wording(
    templates={
        "explicit": (
            ("first", "Any chance you carry {item}? {extras}"),
            ("assoc", "On behalf of a client: {item}{budget}. {extras}"),
            ("first", "Hunting for {item}{budget}. {extras}"),
        ),
        "implicit": (
            ("first", "Planning ahead for {ctx}: {item} would be ideal. {extras}"),
            ("assoc", "A client has {ctx} coming up. Could you pull together {item}? {extras}"),
            ("assoc", "{Pron} will be {place_in} {when} for {occ}. Ideas for {item}? {extras}"),
        ),
        "multi_occasion": (
            ("first", "Could {item} take me from {ctx1} to {ctx2}? {extras}"),
            ("assoc", "A client needs a single piece, {item}, that suits {ctx1} and also {ctx2}. {extras}"),
            ("first", "Double duty: {item} for {ctx1}, then {ctx2}. {extras}"),
            ("assoc", "Can {item} cover {ctx1} and {ctx2} for {obj}? {extras}"),
        ),
        "taste": (
            ("assoc", "What would {pron} fall for right now? {item_cap}, perhaps. {extras}"),
            ("first", "Going by what I have bought before, {item} I would enjoy? {extras}"),
            ("assoc", "Anniversary present for {obj}: {item} very much in {poss} taste. {extras}"),
        ),
        "misinformed:origin": (
            ("first", "Since {house} is {claimed_adj}, it should suit me: {item}, please. {extras}"),
            ("assoc",
             "{Pron} swears by {house} and everything {claimed_adj}. {item_cap} from them? {extras}"),
        ),
        "misinformed:craft": (
            ("first", "{house} and their {claimed}: {item} from them, please. {extras}"),
            ("assoc", "The {claimed} is why {pron} loves {house}. Find {obj} {item}. {extras}"),
        ),
        "misinformed:material": (
            ("first", "{Material} being {claimed}, {item} in it would be perfect for {ctx}. {extras}"),
            ("assoc",
             "{Material} is {claimed}, {pron} tells me, so {item} in {material} for {ctx}. {extras}"),
        ),
        "impossible:out-of-catalogue": (
            ("first", "Would the boutique have {thing}?"),
            ("assoc", "{Pron} has asked whether we can find {thing}."),
        ),
        "impossible:price": (
            ("first", "Is there {item}{budget} anywhere in the collection?"),
            ("assoc", "{Pron} insists on {item}{budget}."),
        ),
        "impossible:house-range": (
            ("assoc", "Does {house} make {item}? {Pron} would like one."),
            ("first", "Could we order {item} from {house}?"),
        ),
        "impossible:contradiction": (
            ("first", "Would {item}{for_ctx} be possible?"),
            ("assoc", "{Pron} has asked for {item}{for_ctx}."),
        ),
    },
    occasions={
        "wedding": ("a family wedding", "a wedding we are invited to"),
        "business dinner": ("dinners with clients", "a working dinner"),
        "business meeting": ("board meetings", "meetings with investors"),
        "office": ("days at the office", "the working week"),
        "everyday": ("day-to-day life", "running around town"),
        "weekend": ("lazy Saturdays", "a long weekend"),
        "travel": ("a few days on the road", "flights and hotels"),
        "resort": ("days by the sea", "a seaside holiday"),
        "cocktail": ("a cocktail reception", "drinks at an opening"),
        "evening": ("a night out", "a dinner date"),
        "garden party": ("an afternoon party outdoors", "a lawn party"),
        "opera": ("an opening night at the opera", "a premiere at the opera house"),
        "gala": ("a charity ball", "a black-tie dinner"),
    },
    when=("come {month}", "around {month}", "this {season_us}"),
    season_only=("To wear over the {season_us} months.",),
    occasion_only=("The occasion: {occ}.", "Needed in time for {occ}."),
    budget_inline=(" for no more than {b} euros", " capped at {b} euros", " within {b} euros"),
    budget_sentence=("Spending limit: {b} euros.", "Keep it within {b} euros.", "{b} euros at the very most."),
    amounts=("{digits}",),
    origin=("Only {adj}-made pieces.", "Produced in {country} if at all possible."),
    branding={
        "discreet": ("Logos kept to an absolute minimum.", "Understated, with no branding on show."),
        "quiet": ("Nothing that shouts the brand.", "Quiet branding is fine, loud is not."),
        "logo": ("Happy for the monogram to show.", "The more recognisable the house, the better."),
    },
    must_not=("{M} is out.", "Avoid {m}."),
    # Colour and material both after the noun: "a tote in navy calfskin".
    items={
        "adj:cm": "{base} in {colour} {material}", "adj:c": "{base} in {colour}", "adj:m": "{base} in {material}",
        "cm": "{base} in {colour} {material}", "c": "{base} in {colour}", "m": "{base} in {material}",
    },
    groups={
        "bags": "a bag of some kind",
        "shoes": "some shoes",
        "silk": "a silk square or a shawl",
        "jewellery": "some jewellery",
        "watches": "a timepiece",
        "ready-to-wear": "a piece of clothing",
        "small-leather-goods": "a leather accessory",
        "eyewear": "some eyewear",
    },
    things={
        "sports car": "a two-door coupé",
        "sofa": "a couch for the lounge",
        "vintage champagne": "a magnum of champagne",
        "set of golf clubs": "a full set of golf irons",
        "fragrance": "a perfume",
        "yacht charter": "a chartered yacht for a week",
        "grand piano": "a piano for the salon",
        "racing bicycle": "a road bike",
        "espresso machine": "a coffee machine",
        "smartphone": "the latest phone",
        "dog bed": "a bed for my dog",
        "tennis racket": "a racket for tennis lessons",
    },
    claims={
        "waterproof": "water-resistant",
        "fine in heavy rain": "made for rainy days",
        "rain-proof": "fine in a storm",
        "fine in a downpour": "good in wet weather",
        "cool enough for a heatwave": "cool on hot days",
        "breathable enough for high summer": "cool for the height of summer",
        "light enough for summer heat": "a summer-weight material",
        "warm enough for a snowy winter": "fine for the cold months",
        "fine in the snow": "good for snowy streets",
        "warm enough for winter evenings": "warm on winter nights",
    },
    trip="a stay {place_in}",
    visit="a stay",
    season_fallback="{season} days",
    anytime="any day of the week",
)
