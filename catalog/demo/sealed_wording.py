"""The test split's wording, sealed.

Written to share no template and no small phrase with the train and val pools (`wording.py`), and
no phrase with any rule of the engine: tests/unit/test_heldout.py fails when one of its phrases
appears in a file under backend/, and measures how many test requests hold words that no file
there contains. Whoever tunes the request reader tunes it on train and val; reading this file, or
writing its words into backend/, makes the test split worthless as a measure.
"""

from __future__ import annotations

from catalog.demo.wording import Wording

TEST = Wording(
    templates={
        "explicit": (
            ("first", "I've got my eye on {item}{budget}. {extras}"),
            ("first", "Would it be possible to see {item}{budget}? {extras}"),
            ("assoc", "A regular of mine is after {item}{budget}. {extras}"),
            ("assoc", "{Pron} has asked me to track down {item}{budget}. {extras}"),
            ("first", "What I have in mind is {item}. {extras}"),
        ),
        "implicit": (
            ("first", "With {ctx} on the horizon, I could use {item}. {extras}"),
            ("assoc", "{Pron} is preparing for {ctx}; could we kit {obj} out with {item}? {extras}"),
            ("first", "Getting ready for {ctx}. Would {item} make sense? {extras}"),
            ("assoc", "{Pron} flies to {place_to} {when} for {occ}, so {pron}'ll want {item}. {extras}"),
            ("first", "I'll be spending time {place_in} {when} for {occ}; {item} would help. {extras}"),
        ),
        "multi_occasion": (
            ("first", "Do you stock {item} that would see me through {ctx1}, with {ctx2} to follow? {extras}"),
            ("first", "My calendar has {ctx1} and, not long after, {ctx2}. I'd rather buy just one thing: "
                      "{item}. {extras}"),
            ("assoc", "{Pron} wants a single purchase, {item}, equally suited to {ctx1} and {ctx2}. {extras}"),
            ("assoc", "One piece has to serve {obj} twice over, for {ctx1} first and {ctx2} later: "
                      "{item}. {extras}"),
        ),
        "taste": (
            ("assoc", "You know what {pron} likes better than I do; find {item} {pron}'d be thrilled "
                      "with{budget}. {extras}"),
            ("first", "Judging by my past purchases, could you pick out {item} to suit me? {extras}"),
            ("assoc", "I want to thank {obj} for years of loyalty with {item} chosen to match what {pron} "
                      "usually buys. {extras}"),
            ("first", "Treat me to {item} that feels like me. {extras}"),
        ),
        "misinformed:origin": (
            ("first", "With {house} being {claimed_adj} through and through, {item} from them is exactly what I "
                      "want. {extras}"),
            ("assoc", "{Pron} adores {house}, that wonderful {claimed_adj} maison; {item} of theirs, "
                      "if we can. {extras}"),
        ),
        "misinformed:craft": (
            ("first", "Nobody does {claimed} quite like {house}; I'd love {item} of theirs. {extras}"),
            ("assoc", "It was the {claimed} at {house} that won {obj} over. Next on {poss} list: {item} "
                      "by them. {extras}"),
        ),
        "misinformed:material": (
            ("first", "For {ctx} I'm set on {item} in {material}; after all, {material} is {claimed}. {extras}"),
            ("assoc", "{Pron} believes {material} is {claimed}, so {pron} wants {item} made of it for {ctx}. "
                      "{extras}"),
        ),
        "impossible:out-of-catalogue": (
            ("first", "Might you be able to get hold of {thing}?"),
            ("assoc", "A regular of mine hopes we can arrange {thing}."),
        ),
        "impossible:price": (
            ("first", "I'm hoping to get {item}{budget}."),
            ("assoc", "{Pron} has set {poss} heart on {item}{budget}."),
        ),
        "impossible:house-range": (
            ("first", "Is {item} by {house} something you could get for me?"),
            ("assoc", "{Pron} has {poss} heart set on {item} by {house}."),
        ),
        "impossible:contradiction": (
            ("first", "Have you got {item}{for_ctx}?"),
            ("assoc", "{Pron} would like me to find {item}{for_ctx}."),
        ),
    },
    occasions={
        "wedding": ("my cousin's big day", "the nuptials of old friends"),
        "business dinner": ("entertaining clients over supper", "a corporate supper"),
        "business meeting": ("a boardroom presentation", "negotiations with a supplier"),
        "office": ("the nine-to-five", "long days at a desk"),
        "everyday": ("errands and school runs", "plain ordinary days"),
        "weekend": ("days off", "leisurely Sundays"),
        "travel": ("a journey abroad", "a fortnight of touring"),
        "resort": ("a sunshine getaway", "lounging by the pool"),
        "cocktail": ("an aperitivo gathering", "sundowner drinks"),
        "evening": ("a night on the town", "a candlelit meal out"),
        "garden party": ("an alfresco luncheon", "an open-air tea party"),
        "opera": ("an evening of Verdi", "a night of Puccini"),
        "gala": ("a white-tie benefit", "a fundraising banquet"),
    },
    when=("early in {month}", "towards the end of {month}", "during {month}", "when {season} comes round"),
    season_only=("It has to work once {season} arrives.", "Intended for {season}."),
    occasion_only=("It's meant for {occ}.", "The plan is to wear it for {occ}."),
    budget_inline=(" that doesn't go past {b}", " for {b}, not a cent more", " with a ceiling of {b}"),
    budget_sentence=("The spend can't go beyond {b}.", "Anything past {b} is too much.", "Let's not spend over {b}."),
    amounts=("{euro}", "{k}", "{words} euros", "{digits} euros"),
    origin=("The workshop should be in {country}.", "It must come from {adj} artisans.",
            "Something manufactured in {country}."),
    branding={
        "discreet": ("Nobody should be able to tell who made it.", "Please keep the maker's mark hidden."),
        "quiet": ("A hint of the label is fine, but nothing flashy.", "The insignia may show a little, no more."),
        "logo": ("People should recognise the maker at a glance.", "Let the insignia be front and centre."),
    },
    must_not=("{M} would be a dealbreaker.", "Keep {m} out of it."),
    # Material before the noun, colour after it: "a calfskin tote done in navy".
    items={
        "adj:cm": "{head} {material} {noun} done in {colour}", "adj:c": "{base} done in {colour}",
        "adj:m": "{head} {material} {noun}",
        "cm": "{base} made of {material}, done in {colour}", "c": "{base} done in {colour}",
        "m": "{base} made of {material}",
    },
    groups={
        "bags": "a handbag",
        "shoes": "some footwear",
        "silk": "a neckerchief or a long wrap",
        "jewellery": "a jewel",
        "watches": "a wristwatch",
        "ready-to-wear": "a garment",
        "small-leather-goods": "a little leather accessory",
        "eyewear": "new specs or shades",
    },
    things={
        "sports car": "a roadster with a soft top",
        "sofa": "a settee for our drawing room",
        "vintage champagne": "a case of well-aged Bordeaux",
        "set of golf clubs": "a set of irons and a putter",
        "fragrance": "an eau de parfum",
        "yacht charter": "a crewed schooner to hire for a week",
        "grand piano": "a concert grand for our music room",
        "racing bicycle": "a lightweight bike for hill climbs",
        "espresso machine": "a barista-style coffee maker",
        "smartphone": "a new mobile handset",
        "dog bed": "a cushion for my spaniel to sleep on",
        "tennis racket": "a new racquet for the club courts",
    },
    claims={
        "waterproof": "impervious to a soaking",
        "fine in heavy rain": "happy in a cloudburst",
        "rain-proof": "unfazed by a drenching",
        "fine in a downpour": "fine when it's pouring",
        "cool enough for a heatwave": "comfortable when it's scorching",
        "breathable enough for high summer": "airy enough for sweltering days",
        "light enough for summer heat": "perfect for baking-hot afternoons",
        "warm enough for a snowy winter": "toasty enough for sub-zero weather",
        "fine in the snow": "fine for trudging through slush",
        "warm enough for winter evenings": "snug enough for frosty nights",
    },
    trip="some time away {place_in}",
    visit="some sightseeing",
    season_fallback="{season} outings",
    anytime="all year round",
    places={
        "Tuscany": ("in the Tuscan hills", "the Tuscan hills"),
        "Rome": ("in the Eternal City", "the Eternal City"),
        "New York": ("in Manhattan", "Manhattan"),
        "Venice": ("in the lagoon city", "the lagoon city"),
        "Paris": ("in the City of Light", "the City of Light"),
        "St. Moritz": ("in the Engadin", "the Engadin"),
        "Courchevel": ("in the Three Valleys", "the Three Valleys"),
        "Marrakech": ("in the Red City", "the Red City"),
    },
)
