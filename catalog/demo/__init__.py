"""The demo world: a fictional luxury boutique, its clients and their requests, with graded answers.

    from catalog.demo import generate_world
    world = generate_world(seed=7)   # same seed -> the same world, byte for byte

The world
    Houses (`houses.py`): 38 invented maisons from Italy, France, the UK, Switzerland, Spain, Japan
    and Belgium, each with a heritage line, a signature craft, a branding style (discreet /
    moderate / logo-forward), a price tier (accessible-luxury / luxury / haute) and specialities
    (a watchmaker sells mostly watches, a silk house silk).
    Items (`items.py`, `vocab.py`, `crafts.py`, `descriptions.py`): bags, shoes, silk, jewellery,
    watches, ready-to-wear, small leather goods and eyewear. Attributes are coherent by
    construction: seasons follow the materials (linen and raffia are spring/summer; cashmere,
    wool and shearling autumn/winter), formality bounds the occasions (black-tie pieces serve only
    weddings, the opera and galas), the price is category x house tier x material, and the copy,
    written in the house's voice from several sentence pools, only states what the attributes hold.
    Clients (`clients.py`): a hidden taste each (favourite houses, palette, colours, materials,
    branding tolerance, budget band, usual occasions, category groups, dislikes), drawn from seven
    style archetypes; the client row shows only associate notes and stated preferences, a partial
    and slightly noisy view of it.
    Histories (`history.py`): views, wishlists, purchases, returns (mostly of pieces that clash
    with the taste) and ratings, from 2023 to the end of 2025.
    Places (`places.py`): destinations with a climate per season, a dress code and the occasions
    held there, so that "a summer wedding in Tuscany" implies hot, daytime, outdoor and formal.
    Queries (`needs.py`, `phrasing.py`, `queries.py`), in 2026, of six types: explicit, implicit,
    multi_occasion, taste, misinformed (a wrong fact about a house or a material) and impossible
    (nothing fits; `relevant` is empty). Clients are split 70/10/20 into train/val/test, and each
    split is worded from its own pool (`wording.py`: train and val; `sealed_wording.py`: test):
    no template and no small phrase is shared, and no test phrase appears under backend/
    (tests/unit/test_heldout.py). Tune on train and val only.
    Tables (`tables.py`): the longest hand-written tables (houses and model names, places,
    categories, style archetypes, the train and val wording) are JSON files in `data/`, each with
    an `_about` that says what it holds; the modules above read them into their own types.

How relevance is computed (`relevance.py`)
    Each query is first a structured need, `facets`: category or group, house, contexts (occasion,
    place, season, and what they imply: climate, rain, formality, palette), origin, branding,
    colours, materials, budget, must-nots, the wrong fact if any. The text is rendered from the
    facets; relevance is computed from the facets, the client's hidden taste and the item facts,
    never from the words. Hard constraints filter (including the client's own dislikes); a taste
    score ranks what remains; the best ten at most are kept and graded 3 (ideal), 2 (good) or
    1 (acceptable). A misinformed query is graded on the real need, ignoring the wrong fact.
"""

from catalog.demo.world import DemoWorld, generate_world

__all__ = ["DemoWorld", "generate_world"]
