"""Request understanding against a catalogue's own vocabulary (hand-made catalogues, a hashing embedder).

The embedder here is a real, deterministic bag-of-words hash (no model weights): phrases that share words
are similar. The shipped MiniLM is exercised by the integration tests."""

import hashlib

import numpy as np
import pytest

from backend.graphs import preference_graph
from backend.knowledge import load_knowledge, negated
from backend.understand import parse_budget, understand, wrong_fact_sentence
from backend.vocabulary import build_vocabulary, phrase_key, stem
from tests.fixtures.small import ITEMS as FASHION

BEAUTY = [
    {"item_id": "b1", "title": "Santal 33 Eau de Parfum", "brand": "Le Labo", "category": "Fragrance", "price": 220.0},
    {"item_id": "b2", "title": "Ultra Repair Cream", "brand": "First Aid Beauty", "category": "Skincare", "price": 38.0},
    {"item_id": "b3", "title": "Fresh Glow Serum", "brand": "Glowish", "category": "Skincare", "price": 45.0},
    {"item_id": "b4", "title": "Fresh Start Cleanser", "brand": "Cleanco", "category": "Skincare", "price": 25.0},
    {"item_id": "b5", "title": "Sugar Lip Treatment", "brand": "Fresh", "category": "Makeup", "price": 26.0},
    {"item_id": "b6", "title": "Fragrance-Free Moisturizer", "brand": "Cleanco", "category": "Skincare",
     "price": 30.0, "attributes": {"fragrance_free": True}},
]
LUXURY = FASHION + [
    {"item_id": "i-th", "title": "Vell Dora top-handle bag", "brand": "Vell", "category": "top-handle bag",
     "price": 3100.0, "attributes": {"occasion": ["wedding guest"], "material": ["calfskin"], "season": ["summer"]}},
]


def hash_embed(texts):
    """Unit vectors of hashed, stemmed words (384 dims)."""
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in phrase_key(text).split():
            out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % 384] += 1.0
        norm = np.linalg.norm(out[row])
        out[row] /= norm if norm else 1.0
    return out


K = load_knowledge()


def read(text, items):
    vocab = build_vocabulary(items, K, hash_embed)
    return understand(text, vocab, K, hash_embed)


@pytest.mark.parametrize("text, amount, currency", [
    ("a serum under $40", 40.0, "USD"), ("capped at 2,500 euros", 2500.0, "EUR"),
    ("900 pounds at the most", 900.0, "GBP"), ("budget 2.5k", 2500.0, None),
    ("around €1,000", 1150.0, "EUR"), ("around £80 tops", 80.0, "GBP"), ("about 80 pounds max", 80.0, "GBP"),
    ("budget £100-£120", 120.0, "GBP"), ("under 2-3k", 3000.0, None), ("under €50 to 2 people", 50.0, "EUR"),
    ("a scarf", None, None)])
def test_budget(text, amount, currency):
    value, code = parse_budget(text.lower(), K)
    assert value == pytest.approx(amount) if amount else value is None
    assert code == currency


def test_a_named_category_is_hard_its_head_noun_soft():
    q = read("a tote in cognac", LUXURY)
    assert q.categories == ["category=tote"] and not q.impossible
    q = read("a bag for a wedding", LUXURY)  # 'bag' names the group of the demo-style items
    assert "category_group=bags" in q.categories
    only_specific = [dict(i, attributes={k: v for k, v in i.get("attributes", {}).items() if k != "category_group"})
                     for i in LUXURY]
    q = read("a bag for a wedding", only_specific)
    assert q.categories == []  # 'bag' is only the head of 'top-handle bag': a soft wish, never a filter
    assert any("category=top-handle bag" in w.matches for w in q.wishes)
    assert any("occasion=wedding guest" in w.matches for w in q.wishes)  # 'wedding' ~ 'wedding guest'


def test_context_only_orders_it_never_filters():
    q = read("a bag for my summer wedding in Tuscany that also works for client dinners in Milan this fall",
             LUXURY)
    assert [c["place"] for c in q.contexts] == ["tuscany", "milan"]
    assert q.contexts[0]["climate"] == "hot" and q.contexts[1]["time"] == "evening"
    assert not q.must_not and q.budget_max is None and q.impossible is None
    assert any(w.source == "context" and "season=summer" in w.matches for w in q.wishes)


def test_houses_and_exclusions():
    q = read("something by Vell, no suede", LUXURY)
    assert q.houses == ["brand=vell"] and "material=suede" in q.must_not
    q = read("Shearling is out. A winter boot.", LUXURY)
    assert "material=shearling" in q.must_not
    q = read("another favourite: not the steel watch", LUXURY)
    assert "category=watch" in q.must_not


def test_a_brand_that_is_also_a_common_word_needs_a_capital():
    assert read("a fresh serum for dry skin", BEAUTY).houses == []
    assert read("a lip balm from Fresh", BEAUTY).houses == ["brand=fresh"]
    assert read("Le Labo Santal 33", BEAUTY).houses == ["brand=le labo"]


def test_a_short_house_name_never_starts_with_a_function_word():
    # "Makeup by Mario" minus its generic "makeup" would be "by mario", which took the words of
    # "made by Mario Badescu" (a Sephora train request refused as "nothing here is skincare by makeup by mario")
    items = BEAUTY + [
        {"item_id": "m1", "title": "Master Mattes Palette", "brand": "MAKEUP BY MARIO", "category": "Makeup",
         "price": 50.0},
        {"item_id": "m2", "title": "Drying Lotion", "brand": "Mario Badescu", "category": "Skincare", "price": 17.0}]
    assert read("a face mask, made by Mario Badescu", items).houses == ["brand=mario badescu"]
    assert read("a palette by Makeup by Mario", items).houses == ["brand=makeup by mario"]
    assert read("a cream from First Aid", items).houses == ["brand=first aid beauty"]  # suffix dropped: kept


def test_words_of_the_catalogues_titles_are_what_it_sells():
    q = read("Catalogue lookup: a moisturizer.", BEAUTY)
    assert q.sold == ["moisturizer"] and "lookup" in q.foreign  # what is asked for is sold here
    assert read("a surfboard, please", BEAUTY).sold == []
    assert read("Can you pick something he would love?", BEAUTY).vague  # asks for no kind of thing
    assert not read("a surfboard, please", BEAUTY).vague


def test_a_category_said_as_whom_it_is_for_is_not_what_is_asked():
    items = BEAUTY + [{"item_id": "m1", "title": "Beard Oil", "brand": "Cleanco", "category": "Men", "price": 20.0}]
    assert read("running shoes for men", items).impossible == "this catalogue has no running shoes"
    assert read("a beard oil for men", items).impossible is None
    assert read("Men: running shoes", items).impossible is None  # the category opens the request: asked for
    assert read("looking for men's running shoes", items).impossible  # 's: still whom they are for


def test_impossible_is_judged_against_this_catalogue():
    assert read("a sports car", LUXURY).impossible
    assert read("a perfume for my wife's birthday", LUXURY).impossible  # a fashion catalogue
    assert not read("a perfume for my wife's birthday, warm and woody", BEAUTY).impossible
    assert not read("a jet black scarf", LUXURY).impossible  # a modifier, not the object
    assert not read("something for the plane", LUXURY).impossible
    assert read("a sofa", BEAUTY).impossible


def test_language():
    assert read("Santal 33 eau de parfum 100ml", BEAUTY).language == "en"
    assert read("Je cherche un sac en cuir pour l'été, quelque chose d'élégant", LUXURY).language == "fr"
    assert read("東京の結婚式に合うバッグを探しています", LUXURY).language != "en"
    assert read("مرحبا أبحث عن حقيبة جلدية للعمل", LUXURY).language != "en"


def test_fragrance_free_is_not_fragrance():
    from backend.verify import hard_violations

    q = read("a moisturizer without fragrance", BEAUTY)
    assert "category=fragrance" in q.must_not or "fragrance" in q.must_not
    assert not hard_violations(BEAUTY[5], q.to_dict())
    assert hard_violations(BEAUTY[0], q.to_dict())


def test_negation_is_on_word_boundaries():
    assert not negated("another favourite navy", len("another favourite "))
    assert negated("no navy", 3)
    # a negated having ("never owned") is no ruling-out: the thing is what the client lacks
    assert not negated("i've never owned a real parka", len("i've never owned a real "))
    assert not negated("i don't have a belt", len("i don't have a "))
    assert negated("never a parka", len("never a "))
    graph = preference_graph("c", [], {}, notes=["Loves navy cashmere, another favourite."],
                             vocabulary={"colour": {"navy"}, "material": {"cashmere"}})
    assert graph.edges["client:c", "colour=navy"]["weight"] > 0


def test_wrong_fact_is_a_sentence():
    assert wrong_fact_sentence({"kind": "origin", "subject": "vell", "claimed": "Italy", "actual": "France"}) \
        == "Vell makes its pieces in France, not in Italy"
    q = read("a suede boot, suede is waterproof so it is fine in the rain", LUXURY)
    assert q.wrong_fact and q.wrong_fact["kind"] == "material"


def test_stem():
    assert [stem(w) for w in ("bags", "dresses", "accessories", "glass", "watch")] == \
        ["bag", "dress", "accessory", "glass", "watch"]


def test_a_category_and_a_value_said_as_one_thing_is_a_pairing():
    q = read("I need a tote in suede", LUXURY)
    assert q.pairings and q.pairings[0]["values"] == ["material=suede"]
    assert read("a suede ankle boot", LUXURY).pairings[0]["categories"] == ["category=ankle boot"]
    assert not read("a tote to go with my suede boots", LUXURY).pairings == [
        {"words": "tote suede", "categories": ["category=tote"], "values": ["material=suede"]}]
    # side by side, a value after the category is something else the request says ("a tote suede boots
    # would suit", "port after dinner"), not what the category is made of
    assert read("a tote suede boots would suit", LUXURY).pairings == []
    # a later clause that says what the thing just named must be ("It has to be ...") pairs it, that way only
    assert read("A tote, please. It has to be suede.", LUXURY).pairings == [
        {"words": "tote in suede", "categories": ["category=tote"], "values": ["material=suede"]}]
    assert read("A tote, please. It doesn't have to be suede.", LUXURY).pairings == []
    assert read("Suede, they say. It has to be a tote.", LUXURY).pairings == []
    assert [p["words"] for p in read("I need a tote and it has to be suede", LUXURY).pairings] == ["tote in suede"]


def test_values_in_a_fragment_of_their_own_after_the_thing_pair_it():
    lone = read("A tote for my trip, suede please. Up to 900.", LUXURY).pairings
    assert lone == [{"words": "tote in suede", "categories": ["category=tote"], "values": ["material=suede"]}]
    assert read("I want a tote? Suede or calfskin, up to 900.", LUXURY).pairings[0]["values"] == \
        ["material=suede", "material=calfskin"]  # either will do
    assert read("A tote, suede boots would suit it.", LUXURY).pairings == []  # the fragment names another thing
    assert read("A tote, no suede.", LUXURY).pairings == []  # ruled out, not asked for
    assert read("A tote. Suede is out.", LUXURY).pairings == []
    assert read("A tote, suede ideally.", LUXURY).pairings == []  # a wish, not a condition
    assert read("A tote? Suede or calfskin, doesn't matter.", LUXURY).pairings == []
    assert read("My tote is falling apart, suede please.", LUXURY).pairings == []  # a thing had


def test_a_category_said_as_a_purpose_orders_and_never_filters():
    items = BEAUTY + [{"item_id": "t1", "title": "Kabuki Brush", "brand": "Cleanco", "category": "Tools", "price": 30.0}]
    q = read("a brush for makeup", items)
    assert q.categories == [] and any("category=makeup" in w.matches for w in q.wishes)
    assert read("makeup, a brush", items).categories == ["category=makeup"]
    assert read("looking for makeup", items).categories == ["category=makeup"]  # the seeking verb's object


def test_a_pairing_holds_for_each_alternative_category():
    items = [{"item_id": "s1", "title": "Carre scarf", "brand": "Vell", "category": "scarf", "price": 400.0,
              "attributes": {"material": ["silk twill"]}},
             {"item_id": "s2", "title": "Long stole", "brand": "Vell", "category": "stole", "price": 600.0,
              "attributes": {"material": ["cashmere"]}}]
    either = read("a scarf or a stole in silk twill", items).pairings
    assert either and set(either[0]["categories"]) == {"category=stole", "category=scarf"}
    assert read("a stole in silk twill", items).pairings[0]["categories"] == ["category=stole"]
    assert read("a scarf and a stole in silk twill", items).pairings[0]["categories"] == ["category=stole"]


def test_looking_for_names_the_object_even_after_for():
    assert read("I'm looking for a sofa for the living room", LUXURY).impossible
    assert not read("I need something for the boat deck, a bag", LUXURY).impossible


def test_pairings_and_kinds_are_checked_against_every_item():
    from types import SimpleNamespace

    from backend.live import kind_is_available, pairing_exists
    from backend.verify import item_nodes

    catalogue = SimpleNamespace(graphs=SimpleNamespace(
        item_nodes={i["item_id"]: set(item_nodes(i)) for i in LUXURY}, items={i["item_id"]: i for i in LUXURY}))
    assert pairing_exists({"categories": ["category=ankle boot"], "values": ["material=suede"]}, catalogue)
    assert not pairing_exists({"categories": ["category=tote"], "values": ["material=suede"]}, catalogue)
    loafer = {"item_id": "l1", "title": "Mocassino Driving Loafer - Tan", "brand": "Vell", "category": "loafers",
              "attributes": {"occasion": ["travel"]}}
    titled = SimpleNamespace(graphs=SimpleNamespace(item_nodes={"l1": set(item_nodes(loafer))}, items={"l1": loafer}))
    assert pairing_exists({"categories": ["category=loafers"], "values": ["occasion=driving"]}, titled)  # its title
    assert not pairing_exists({"categories": ["category=loafers"], "values": ["occasion=wedding"]}, titled)
    watch_by_vell = read("a timepiece by Vell", LUXURY)
    assert "category=watch" in watch_by_vell.kinds and watch_by_vell.houses == ["brand=vell"]
    assert not kind_is_available(watch_by_vell, catalogue)  # Vell makes no watch: refused, with the reason
    assert kind_is_available(read("a timepiece by Orsini", LUXURY), catalogue)


CYCLING = [
    {"item_id": "c1", "title": "Club Road Shoe", "brand": "Pedalis", "category": "Road Shoes", "price": 119.0},
    {"item_id": "c2", "title": "Terra Gravel Shoe", "brand": "Pedalis", "category": "Gravel Shoes", "price": 149.0},
    {"item_id": "c3", "title": "Thermal Jersey", "brand": "Maglia Nove", "category": "Jerseys", "price": 95.0},
    {"item_id": "c4", "title": "Tundra E", "brand": "Norrland", "category": "E-Bike", "price": 5600.0},
    {"item_id": "c5", "title": "Strada Disc", "brand": "Veloria", "category": "Road Bike", "price": 2400.0},
]


def test_a_hyphenated_request_word_names_a_hyphenated_category():
    assert read("an e-bike for my commute", CYCLING).categories == ["category=e-bike"]
    assert read("a top-handle bag", LUXURY).categories == ["category=top-handle bag"]


def test_a_head_word_of_several_categories_is_a_kind_the_house_or_budget_must_have():
    from types import SimpleNamespace

    from backend.live import kind_is_available
    from backend.verify import item_nodes

    catalogue = SimpleNamespace(graphs=SimpleNamespace(
        item_nodes={i["item_id"]: set(item_nodes(i)) for i in CYCLING}, items={i["item_id"]: i for i in CYCLING}))
    shoes = read("cycling shoes for less than €100", CYCLING)
    assert shoes.categories == [] and set(shoes.kinds) == {"category=road shoes", "category=gravel shoes"}
    assert not kind_is_available(shoes, catalogue)  # the cheapest shoe is 119: refused, with the reason
    assert kind_is_available(read("cycling shoes under €150", CYCLING), catalogue)
    assert not kind_is_available(read("Maglia Nove shoes", CYCLING), catalogue)
    # a word the catalogue also uses for other categories' items is no kind ("body": body lotion is skincare)
    beauty = [{"item_id": "s1", "title": "Shea Body Lotion", "brand": "Fresh", "category": "Skincare", "price": 30.0},
              {"item_id": "s2", "title": "Body Wash", "brand": "Glowish", "category": "Bath & Body", "price": 20.0},
              {"item_id": "s3", "title": "Glow Serum", "brand": "Glowish", "category": "Skincare", "price": 45.0}]
    assert read("a body lotion by Fresh", beauty).kinds == []
    # beside a category named word for word (a hard filter), the head word cannot be a second condition
    assert read("a road bike as well as shoes", CYCLING).kinds == []


def test_a_phrase_that_surely_means_a_category_is_checked_against_the_named_house():
    from types import SimpleNamespace

    from backend.live import MEANT_KIND_FLOOR, kind_is_available, meant_kind
    from backend.understand import QueryGraph, Wish
    from backend.verify import item_nodes

    catalogue = SimpleNamespace(graphs=SimpleNamespace(
        item_nodes={i["item_id"]: set(item_nodes(i)) for i in LUXURY}, items={i["item_id"]: i for i in LUXURY}))

    def asking(similarity, houses, categories=()):
        wish = Wish("carry-all", 0.7, "meaning", {"category=tote": similarity, "material=calfskin": 0.9})
        return QueryGraph(text="", houses=list(houses), categories=list(categories), wishes=[wish])

    sure = asking(MEANT_KIND_FLOOR + 0.05, ["brand=vell"])
    assert meant_kind(sure) == ("carry-all", "category=tote")  # the category, never the closer value
    assert not kind_is_available(sure, catalogue, [meant_kind(sure)[1]])  # Vell makes no tote
    assert kind_is_available(sure, catalogue, ["category=top-handle bag"])
    assert meant_kind(asking(MEANT_KIND_FLOOR - 0.05, ["brand=vell"])) is None  # a loose likeness: orders only
    assert meant_kind(asking(0.95, ["brand=vell"], ["category=tote"])) is None  # named: the named check decides


@pytest.mark.parametrize("text, amount, currency", [
    ("a ring for 30 euros", 30.0, "EUR"), ("trench coat for €60 please", 60.0, "EUR"),
    ("shoes, 20 dollars.", 20.0, "USD"), ("between €50 and €100", 100.0, "EUR"),
    ("something over €200", None, None), ("santal 33 eau de parfum 100ml", None, None)])
def test_an_amount_with_its_currency_is_a_budget(text, amount, currency):
    value, code = parse_budget(text, K)  # no cue: the price a shopper names is what they mean to spend
    assert value == pytest.approx(amount) if amount else value is None
    assert code == currency


def test_the_object_is_the_phrase_a_determiner_introduces():
    from backend.understand import object_phrases
    from backend.vocabulary import WORD

    def objects(text):
        low = text.lower()
        return object_phrases(low, [(m.group(), m.start(), m.end()) for m in WORD.finditer(low)], [], K)[0]

    assert objects("Would the boutique have a piano for the salon?") == ["piano"]
    assert objects("She has asked whether we can find a magnum of champagne.") == ["magnum of champagne"]
    assert objects("My client wants a set of golf clubs as a gift.") == ["set of golf clubs"]  # "as a gift": a role
    assert objects("I'm looking for a sofa for the living room.") == ["sofa"]
    assert objects("Show me a blue and white cake stand.") == ["blue and white cake stand"]
    assert objects("A little treat for myself.") == ["little treat"]  # kept whole, to be seen as vague
    assert objects("A statement logo is welcome.") == []  # a subject: said of the thing, not asked for


def test_objects_are_kept_only_when_the_catalogue_names_none_of_them():
    q = read("Could you source a lawnmower for the country house?", LUXURY)
    assert q.objects == ["lawnmower"] and q.object_vectors.shape == (1, 384) and not q.impossible
    assert read("A little treat for myself.", LUXURY).objects == []  # vague: names no kind of thing
    assert read("A gift for my wife who loves silk.", LUXURY).objects == []
    assert read("a leather tote for work", LUXURY).objects == []  # a category of this catalogue: named
    assert read("a riviera carryall", LUXURY).objects == ["riviera carryall"]
    assert read("a carryall like the riviera", LUXURY).objects == ["carryall"]
    assert "object_vectors" not in read("a riviera carryall", LUXURY).to_dict()
    assert read("She has a long trip in Tuscany this spring and needs something.", LUXURY).objects == []  # setting


def test_an_object_like_nothing_that_meets_the_hard_constraints_is_refused():
    from types import SimpleNamespace

    from backend.objects import OBJECT_FLOOR, unlike_objects
    from backend.understand import QueryGraph
    from backend.verify import item_nodes

    items = [{"item_id": "a", "title": "Holdall", "brand": "X", "price": 900.0},
             {"item_id": "b", "title": "Loafer", "brand": "Y", "price": 400.0}]
    catalogue = SimpleNamespace(
        graphs=SimpleNamespace(vectors=np.eye(3, dtype=np.float32)[:2], ids=["a", "b"],
                               items={i["item_id"]: i for i in items},
                               item_nodes={i["item_id"]: set(item_nodes(i)) for i in items}),
        vocabulary=SimpleNamespace(categories=set(), vectors=np.zeros((0, 3)), node_index={}))
    near_a = np.array([[0.9, OBJECT_FLOOR - 0.01, 0.0]], dtype=np.float32)  # like item a, not like item b

    def ask(**hard):
        return unlike_objects(QueryGraph(text="", objects=["carryall"], object_vectors=near_a, **hard), catalogue)

    assert ask() is None
    assert ask(houses=["brand=x"]) is None
    assert ask(houses=["brand=y"]) == "nothing here by y is like carryall"  # house Y makes nothing like it
    assert ask(budget_max=500.0) == "nothing here within 500 is like carryall"
    barely = np.array([[OBJECT_FLOOR + 0.05, OBJECT_FLOOR - 0.01, 0.0]], dtype=np.float32)  # a little like a
    assert unlike_objects(QueryGraph(text="", objects=["carryall"], object_vectors=barely, houses=["brand=y"]),
                          catalogue) is None  # only a little less like Y's items than the best: not a refusal
    assert unlike_objects(QueryGraph(text="", objects=["drone"], object_vectors=np.array([[0, 0, 1.0]])),
                          catalogue) == "this catalogue has nothing like drone"


RESORT = [  # a small catalogue of its own words: each item says its seasons and formality
    {"item_id": "r1", "title": "Palma slide", "brand": "Costa", "category": "slide", "price": 180.0,
     "attributes": {"season": ["spring", "summer"], "formality": "casual"}},
    {"item_id": "r2", "title": "Ibiza slide", "brand": "Costa", "category": "slide", "price": 210.0,
     "attributes": {"season": ["summer"], "formality": "smart-casual"}},
    {"item_id": "r3", "title": "Alpine parka", "brand": "Nordwand", "category": "parka", "price": 1400.0,
     "attributes": {"season": ["autumn", "winter"], "formality": "casual"}},
    {"item_id": "r4", "title": "Midnight dinner jacket", "brand": "Savile", "category": "dinner jacket",
     "price": 3200.0, "attributes": {"season": ["autumn", "winter", "spring"], "formality": "black-tie"}},
]


def conflict(text, items):
    from types import SimpleNamespace

    from backend.graphs import build_product_graph
    from backend.live import context_conflict
    from backend.retrieval import CatalogueGraphs

    vocab = build_vocabulary(items, K, hash_embed)
    graphs = CatalogueGraphs(items, build_product_graph(items), [])
    catalogue = SimpleNamespace(vocabulary=vocab, knowledge=K, graphs=graphs)
    return context_conflict(understand(text, vocab, K, hash_embed), catalogue)


def test_a_named_category_that_no_item_makes_for_the_stated_context_is_a_conflict():
    reason = conflict("a slide for January in St. Moritz", RESORT)
    assert reason and "season" in reason and "winter" in reason and "slide" in reason
    assert reason.endswith("each is summer or spring")  # what the slides here are for, most common first
    assert "formality" in conflict("a dinner jacket for a picnic", RESORT)
    assert conflict("a parka for January in St. Moritz", RESORT) is None  # a parka says winter
    assert conflict("a slide for a beach holiday in Ibiza in July", RESORT) is None
    assert conflict("something warm for January in St. Moritz", RESORT) is None  # no category named: it orders


def test_only_a_context_said_in_the_sentence_that_names_the_thing_can_conflict():
    assert "season" in conflict("Heading to St. Moritz. A slide for January there?", RESORT)
    assert conflict("A slide by Costa? Heading to St. Moritz in January.", RESORT) is None  # it only orders
    assert conflict("We fly to St. Moritz in January! Any slides?", RESORT) is None
    q = read("A slide by Costa? Heading to St. Moritz in January.", RESORT)
    assert [c["with_thing"] for c in q.contexts] == [False]
    assert any(w.source == "context" and "season=winter" in w.matches for w in q.wishes)
    assert all("with_thing" not in note for note in q.notes)


def test_a_context_conflict_needs_every_fitting_item_to_describe_the_attribute():
    undescribed = RESORT + [{"item_id": "r5", "title": "Plain slide", "brand": "Costa", "category": "slide",
                             "price": 90.0, "attributes": {"formality": "casual"}}]
    assert conflict("a slide for January in St. Moritz", undescribed) is None  # r5 says no season
    winter_slide = RESORT + [{"item_id": "r6", "title": "Shearling slide", "brand": "Nordwand", "category": "slide",
                              "price": 320.0, "attributes": {"season": ["winter"], "formality": "casual"}}]
    assert conflict("a slide for January in St. Moritz", winter_slide) is None
    assert "season" in conflict("a slide by Costa for January in St. Moritz", winter_slide)  # Costa's slides don't


def test_a_context_conflict_reads_only_values_the_knowledge_file_knows():
    year_round = RESORT + [{"item_id": "r7", "title": "Cork slide", "brand": "Costa", "category": "slide",
                            "price": 150.0, "attributes": {"season": ["all seasons"], "formality": "casual"}}]
    assert conflict("a slide for January in St. Moritz", year_round) is None  # "all seasons": not described
    fall = [dict(i, attributes={**i["attributes"], "season": ["fall" if s == "autumn" else s
                                                              for s in i["attributes"]["season"]]}) for i in RESORT]
    assert conflict("a parka for October in Paris", fall) is None  # "fall" is autumn
    assert conflict("a summer slide for January in St. Moritz", RESORT) is None  # it names summer itself
    assert "season" in conflict("a pair of boots for a July beach holiday in Ibiza", [
        {"item_id": "b1", "title": "Riding boot", "brand": "Nordwand", "category": "knee boot", "price": 900.0,
         "attributes": {"season": ["autumn", "winter"]}},
        {"item_id": "b2", "title": "Chelsea boot", "brand": "Nordwand", "category": "ankle boot", "price": 700.0,
         "attributes": {"season": ["autumn", "winter", "spring"]}}])  # "boots": both boot categories


def test_a_coarse_formality_scale_is_read_with_one_step_of_slack():
    coarse = [{"item_id": f"s{n}", "title": f"Shirt {n}", "brand": "Costa", "category": "shirt", "price": 200.0,
               "attributes": {"formality": level}} for n, level in enumerate(["casual", "formal"])]
    casual_only = [coarse[0]]
    assert conflict("a shirt for a dinner", casual_only + [dict(coarse[1], category="tie")]) is None
    assert "formality" in conflict("a dinner jacket for a picnic", RESORT)  # black-tie: four steps from casual


def test_a_season_word_that_is_also_an_everyday_word_is_a_season_only_when_said_as_one():
    def seasons(text):
        return [ctx["season"] for ctx in read(text, RESORT).contexts]

    assert seasons("a slide that won't fall apart") == []
    assert seasons("a slide that may suit her") == []
    assert seasons("a slide for this fall") == ["autumn"] and seasons("a parka for late fall") == ["autumn"]
    assert seasons("a slide to wear in May") == ["spring"] and seasons("a slide for Fall") == ["autumn"]
    assert conflict("a slide that won't fall apart", RESORT) is None


def sold_elsewhere_reason(text, items, rule=None):
    """`backend.objects.sold_elsewhere` (or `rule`) on a small catalogue (hashing embedder: shared words are
    similar)."""
    from types import SimpleNamespace

    from backend.graphs import build_product_graph
    from backend.objects import sold_elsewhere
    from backend.retrieval import CatalogueGraphs

    vocab = build_vocabulary(items, K, hash_embed)
    docs = hash_embed([f"{i['title']} {i.get('category') or ''}" for i in items])
    graphs = CatalogueGraphs(items, build_product_graph(items), [], vectors=([i["item_id"] for i in items], docs))
    catalogue = SimpleNamespace(vocabulary=vocab, knowledge=K, graphs=graphs)
    return (rule or sold_elsewhere)(understand(text, vocab, K, hash_embed), catalogue, hash_embed)


WATCHES = RESORT + [{"item_id": "w1", "title": "Calatrava", "brand": "Genève", "category": "dress watch",
                     "price": 24000.0, "attributes": {"colour": ["blush"]}}]


def test_a_kind_no_category_title_or_item_here_is_refused_by_meaning():
    assert sold_elsewhere_reason("A mountain bike for my son's birthday", RESORT) == "this catalogue has no mountain bike"
    assert sold_elsewhere_reason("an umbrella for rainy days in London", RESORT) == "this catalogue has no umbrella"
    assert sold_elsewhere_reason("Dog food. For my puppy.", RESORT) == "this catalogue has no dog food"


def test_kinds_near_what_a_fashion_house_sells_are_kinds_of_their_own():
    assert sold_elsewhere_reason("A tie clip in silver", RESORT) == "this catalogue has no tie clip"
    assert sold_elsewhere_reason("Do you sell a watch winder?", WATCHES) == "this catalogue has no watch winder"
    assert sold_elsewhere_reason("a letter opener for my father", RESORT) == "this catalogue has no letter opener"


def test_a_category_named_beside_the_thing_asked_for_does_not_speak_for_it():
    # the parka is what the client has, the colour a property: neither is a thing asked for
    assert sold_elsewhere_reason("A tie clip to go with the parka I bought", RESORT) == "this catalogue has no tie clip"
    assert sold_elsewhere_reason("A tie clip for my father. Blush, say 300?", WATCHES) == \
        "this catalogue has no tie clip"
    assert sold_elsewhere_reason("A parka, and a tie clip to go with it", RESORT) is None  # the parka is asked for
    assert sold_elsewhere_reason("A beach parka big enough for towels and a novel.", RESORT) is None  # said first


def test_a_kind_this_catalogue_carries_under_any_name_is_not_refused():
    assert sold_elsewhere_reason("a parka for the Alps", RESORT) is None  # a title's word
    assert sold_elsewhere_reason("a timepiece for my father", WATCHES) is None  # a watch: a name of its kind
    assert sold_elsewhere_reason("a blush one, please", WATCHES) is None  # a colour of this catalogue
    assert sold_elsewhere_reason("No umbrella. A slide for the beach.", RESORT) is None  # a category named
    assert sold_elsewhere_reason("a mountain bike or a parka", RESORT) is None  # one of them is here
    assert sold_elsewhere_reason("a mountain bike", RESORT + [  # the kind by meaning, in its own words
        {"item_id": "v1", "title": "Col du Galibier", "brand": "Velo", "category": "mountain bikes", "price": 4000.0}]) \
        is None


def test_a_phrase_that_stands_before_one_describes_a_thing_named_elsewhere():
    asked = read("Do you sell umbrellas? I'd like a compact one with a strap", RESORT).asked
    assert "umbrellas" in asked and not any("compact" in phrase for phrase in asked)
    assert read("a slide, a blue one please", RESORT).asked == ["slide"]
    assert sold_elsewhere_reason("Do you have umbrellas? A sturdy one, please.", RESORT) == \
        "this catalogue has no umbrella (asked for: umbrellas)"


def test_a_request_is_read_with_two_embedding_calls_and_its_phrases_then_come_from_the_cache():
    calls = []

    def counting(texts):
        calls.append(list(texts))
        return hash_embed(texts)

    vocab = build_vocabulary(RESORT, K, hash_embed)
    q = understand("a discreet mountain bike and a warm parka for the Alps", vocab, K, counting)
    assert q.asked and len(calls) == 2  # the request; then every phrase at once (each call streams the model)
    assert set(q.asked) <= set(calls[1])
    calls.clear()
    understand("a discreet mountain bike and a warm parka for the Alps!", vocab, K, counting)
    assert len(calls) == 1  # only the request: its phrases were kept


def test_a_word_after_to_opens_no_object():
    from backend.understand import object_phrases
    from backend.vocabulary import WORD

    low = "i'd like to watch a film. comedies, ideally."
    asked, opening = object_phrases(low, [(m.group(), m.start(), m.end()) for m in WORD.finditer(low)], [], K)
    assert asked == ["film"] and opening == ["comedies"]  # "watch" is a verb here


def test_a_budget_written_in_words_is_read():
    assert parse_budget("a gold bracelet for under a hundred euros", K) == (100.0, "EUR")
    assert parse_budget("no more than two hundred pounds", K) == (200.0, "GBP")
    assert parse_budget("one or two scarves", K) == (None, None)
    assert parse_budget("dry shampoo for two dollars", K) == (2.0, "USD")  # text2num leaves "two" alone
    assert parse_budget("under one pound", K) == (1.0, "GBP")
    assert parse_budget("a tin that holds one pound of tea", K) == (None, None)  # a weight
    assert parse_budget("a road bike for no more than a grand", K)[0] == 1000.0  # a grand: a thousand
    assert parse_budget("under 1.5 grand, all in", K)[0] == 1500.0
    assert parse_budget("a grand cru chablis", K) == (None, None)  # "grand" qualifying a noun is no sum
    assert parse_budget("a grand piano lamp", K) == (None, None)


def priced_out_reason(text, items):
    from backend.objects import priced_out

    return judged_by(priced_out, text, items)


def judged_by(rule, text, items):
    """What one of `backend.objects`' refusal rules says of a request against a small catalogue."""
    from types import SimpleNamespace

    from backend.graphs import build_product_graph
    from backend.retrieval import CatalogueGraphs
    from backend.verify import item_nodes

    vocab = build_vocabulary(items, K, hash_embed)
    docs = hash_embed([f"{i['title']} {i.get('category') or ''}" for i in items])
    graphs = CatalogueGraphs(items, build_product_graph(items), [], vectors=([i["item_id"] for i in items], docs))
    graphs.item_nodes = {i["item_id"]: set(item_nodes(i)) for i in items}
    catalogue = SimpleNamespace(vocabulary=vocab, knowledge=K, graphs=graphs)
    return rule(understand(text, vocab, K, hash_embed), catalogue, hash_embed)


SILVER = [{"item_id": "s1", "title": "Sterling Silver Candlesticks, Pair", "brand": "Orrin", "category": "Tableware",
           "price": 650.0},
          {"item_id": "s2", "title": "Silver-Plated Candle Snuffer", "brand": "Orrin", "category": "Tableware",
           "price": 45.0},
          {"item_id": "c1", "title": "Fig Scented Candle", "brand": "Wren", "category": "Candles", "price": 30.0}]


def test_a_kind_named_only_in_titles_is_held_to_the_budget_and_house():
    assert priced_out_reason("sterling silver candlesticks under £20", SILVER) == \
        "nothing here within 20 is candlesticks"
    assert priced_out_reason("sterling silver candlesticks under £700", SILVER) is None
    assert priced_out_reason("candlesticks by Wren", SILVER) == "nothing here by wren is candlesticks"
    assert priced_out_reason("a little treat under £20", SILVER) is None  # vague: no kind of thing


IRONS = [{"item_id": f"f{n}", "title": f"Ceramic Flat Iron {n}", "brand": "Amika", "category": "Hair",
          "price": 120.0 + n} for n in range(5)] + \
        [{"item_id": "c1", "title": "Curling Iron", "brand": "Amika", "category": "Hair", "price": 79.0},
         {"item_id": "k1", "title": "Soy Candle", "brand": "Wren", "category": "Candles", "price": 30.0,
          "description": "A lightly scented candle."}] + \
        [{"item_id": f"k{n}", "title": f"Scented Candle {n}", "brand": "Verl", "category": "Candles", "price": 60.0}
         for n in range(2, 7)]


def test_the_last_two_words_name_a_narrower_kind_held_to_the_budget():
    assert priced_out_reason("a flat iron under $100", IRONS) == "nothing here within 100 is flat iron"
    assert priced_out_reason("a flat iron under $130", IRONS) is None
    assert priced_out_reason("an iron under $100", IRONS) is None  # the curling iron
    # the cheap candle says "scented" in its description, not its title: a scented candle is here
    assert priced_out_reason("a scented candle under $40", IRONS) is None
    assert priced_out_reason("a scented candle under $20", IRONS) == "nothing here within 20 is candle"


CREAMS = [{"item_id": f"h{n}", "title": f"Shea Hand Cream {n}", "brand": "Sel", "category": "Hand Care", "price": 20.0}
          for n in range(5)] + \
         [{"item_id": f"c{n}", "title": f"{part} Cream", "brand": "Sel", "category": category, "price": 40.0}
          for n, (part, category) in enumerate([("Face", "Moisturiser"), ("Eye", "Eye Care"), ("Body", "Body Care")])] + \
         [{"item_id": "v1", "title": "Velvet Hands Balm", "brand": "Clinic", "category": "Hand Care", "price": 25.0},
          {"item_id": "m1", "title": "Replica Jazz Club Eau de Toilette", "brand": "Maison Mare", "category": "Perfume",
           "price": 140.0}]


def test_a_house_is_held_to_a_two_word_kind_by_the_kinds_categories():
    assert priced_out_reason("Maison Mare Replica hand cream", CREAMS) == \
        "nothing here by maison mare is replica hand cream"
    assert priced_out_reason("a hand cream by Clinic", CREAMS) is None  # its hand balm: the kind in other words


LASHES = [{"item_id": f"m{n}", "title": f"Volume Mascara {n}", "brand": "Lash", "category": "Makeup", "price": 28.0}
          for n in range(5)] + \
         [{"item_id": f"s{n}", "title": f"Daily Sunscreen SPF {30 + n}", "brand": "Sol", "category": "Skincare",
           "price": 35.0} for n in range(5)] + \
         [{"item_id": f"j{n}", "title": f"Slim Jeans {n}", "brand": "Denim", "category": "Clothing", "price": 90.0}
          for n in range(5)]


def test_a_feature_said_after_with_or_has_is_held_to_the_kinds_titles():
    from backend.objects import unmet_feature

    assert judged_by(unmet_feature, "a mascara that has SPF in it", LASHES) == "nothing here that is mascara has spf"
    assert judged_by(unmet_feature, "a sunscreen with SPF, please", LASHES) is None  # the sunscreens say it
    assert judged_by(unmet_feature, "a mascara with no SPF", LASHES) is None  # not asked for
    assert judged_by(unmet_feature, "a mascara that goes with jeans", LASHES) is None  # worn with, no feature
    assert judged_by(unmet_feature, "a mascara with a volume effect", LASHES) is None  # the kind's own titles
    assert judged_by(unmet_feature, "a mascara with curl", LASHES) is None  # "curl": in too few titles to judge
    assert judged_by(unmet_feature, "my client has jeans night and needs a mascara", LASHES) is None  # not its
    assert judged_by(unmet_feature, "surprise me with jeans or a mascara", LASHES) is None  # given, no feature
    assert judged_by(unmet_feature, "any mascara which has SPF?", LASHES) == "nothing here that is mascara has spf"
    # "with" must follow the thing: the words after it say what it goes with, or someone's
    assert judged_by(unmet_feature, "a mascara that works with jeans", LASHES) is None
    assert judged_by(unmet_feature, "a mascara for my mum with jeans", LASHES) is None
    # the feature's first word is judged, and a hyphenated title says it too ("SPF-30")
    hyphen = LASHES + [{"item_id": f"t{n}", "title": f"Tinted Mascara SPF-{n}", "brand": "Sol", "category": "Makeup",
                        "price": 30.0} for n in range(2)]
    assert judged_by(unmet_feature, "a mascara with SPF protection", hyphen) is None
    assert judged_by(unmet_feature, "a mascara with SPF protection", LASHES) == "nothing here that is mascara has spf"


def test_a_comparison_ends_the_thing_asked_for():
    q = read("a teeth whitening kit cheaper than $15", SILVER)
    assert q.asked == ["teeth whitening kit"] and q.budget_max == 15.0
    assert read("a bigger candle than my last one", SILVER).asked == ["bigger candle"]  # said before the thing


LINENS = [{"item_id": "t1", "title": "Irish Linen Tablecloth, White", "brand": "Moor", "category": "Table Linen",
         "price": 180.0, "attributes": {"material": "linen", "colour": "white"}},
        {"item_id": "t2", "title": "Linen Napkins, Set of 4", "brand": "Moor", "category": "Table Linen", "price": 60.0,
         "attributes": {"material": "linen", "colour": "sage"}},
        {"item_id": "w1", "title": "Cashmere Throw, Charcoal", "brand": "Caird", "category": "Throws", "price": 420.0,
         "attributes": {"material": "cashmere", "colour": "charcoal"}},
        {"item_id": "w2", "title": "Lambswool Throw, Tartan", "brand": "Caird", "category": "Throws", "price": 150.0,
         "attributes": {"material": "lambswool", "colour": "red"}},
        {"item_id": "n1", "title": "Linen-Bound Notebook, Navy", "brand": "Hollis", "category": "Stationery",
         "price": 30.0, "attributes": {"cover": "linen bookcloth", "colour": "navy"}},
        {"item_id": "n2", "title": "Hand-Bound Journal, Tan", "brand": "Hollis", "category": "Stationery",
         "price": 90.0, "attributes": {"cover": "calf leather", "colour": "tan", "origin": "England"}},
        {"item_id": "d1", "title": "Cut-Crystal Decanter", "brand": "Aubrac", "category": "Glassware", "price": 300.0,
         "attributes": {"material": "full lead crystal", "origin": "France"}},
        {"item_id": "p1", "title": "Suede Desk Pad", "brand": "Hollis", "category": "Desk", "price": 80.0,
         "attributes": {"material": "suede"}}]


def test_a_property_no_item_of_the_kind_has_refuses_the_request():
    from backend.objects import unmet_values

    assert judged_by(unmet_values, "a cashmere tablecloth", LINENS) == "nothing here is cashmere tablecloth"
    assert judged_by(unmet_values, "a throw in linen", LINENS) == "nothing here is throw in linen"
    assert judged_by(unmet_values, "a decanter made in England", LINENS) == "nothing here is decanter made in england"
    assert judged_by(unmet_values, "a crystal throw for the sofa", LINENS) == "nothing here is crystal throw"
    # the kind is judged by its categories: the leather notebook is the "Hand-Bound Journal" here
    assert judged_by(unmet_values, "a leather notebook", LINENS) is None
    assert judged_by(unmet_values, "a cashmere throw", LINENS) is None
    assert judged_by(unmet_values, "a red throw", LINENS) is None  # a value of the kind
    assert judged_by(unmet_values, "a throw in the bedroom", LINENS) is None  # a setting, not a property
    assert judged_by(unmet_values, "a new throw", LINENS) is None  # no attribute value says "new"
    assert judged_by(unmet_values, "a cashmere tablecloth or a linen tablecloth", LINENS) is None  # one of them is here
    assert judged_by(unmet_values, "a throw, no linen", LINENS) is None  # negated: not asked for
    assert judged_by(unmet_values, "a suede throw", LINENS) == "nothing here is suede throw"
    # a wish that rests on a wrong belief is corrected, not refused
    assert judged_by(unmet_values, "a suede throw, suede is waterproof after all", LINENS) is None


def test_a_property_held_to_the_budget_and_house_refuses_when_none_of_the_kind_meets_them():
    from backend.objects import unmet_values

    # the leather notebook here is the 90 journal; the linen one is 30
    assert judged_by(unmet_values, "a leather notebook under £50", LINENS) == \
        "nothing here within 50 is leather notebook"
    assert judged_by(unmet_values, "a leather notebook under £100", LINENS) is None
    assert judged_by(unmet_values, "a linen notebook under £50", LINENS) is None
    assert judged_by(unmet_values, "a leather notebook by Moor", LINENS) == "nothing here by moor is leather notebook"
    assert judged_by(unmet_values, "a leather notebook by Hollis", LINENS) is None
    # a category named ("Throws") is `kind_is_available`'s to judge with the limits, and so is a request whose
    # other phrase names no kind here ("a blanket")
    assert judged_by(unmet_values, "a cashmere throw by Moor", LINENS) is None
    assert judged_by(unmet_values, "a leather notebook or a blanket under £50", LINENS) is None
    # without a property the budget is `priced_out`'s to judge, not this rule's
    assert judged_by(unmet_values, "a throw under £50", LINENS) is None
    # the budget's own words ask for nothing ("a thousand euros", "max"), and a kind's other name is looked for
    # in the titles too (a "jumper" here is a sweater)
    knits = [{"item_id": "k1", "title": "Harrow Cashmere Sweater", "brand": "Rutherford", "category": "Knitwear",
              "price": 1100.0, "attributes": {"material": "cashmere"}},
             {"item_id": "k2", "title": "Jardin Merino Sweater", "brand": "Ravenne", "category": "Knitwear",
              "price": 930.0, "attributes": {"material": "merino"}}]
    assert judged_by(unmet_values, "cashmere jumpers for less than a thousand euros?", knits) == \
        "nothing here within 1,000 is cashmere jumpers"
    assert judged_by(unmet_values, "a cashmere jumper, 1,000 max", knits) == \
        "nothing here within 1,000 is cashmere jumper"
    assert judged_by(unmet_values, "cashmere jumpers for less than 1,200 euros?", knits) is None


REFILLS = [{"item_id": "r1", "title": "Fig Diffuser Refill", "brand": "Verl", "category": "Home Fragrance",
            "price": 52.0, "attributes": {"scent family": "green", "colour": "clear"}},
           {"item_id": "r2", "title": "Fig Reed Diffuser", "brand": "Verl", "category": "Home Fragrance",
            "price": 78.0, "attributes": {"scent family": "green"}},
           {"item_id": "p1", "title": "Bottled Fountain Pen Ink, Midnight Blue", "brand": "Vale",
            "category": "Writing", "price": 18.0, "attributes": {"type": "ink", "colour": "blue"}}]


def test_a_compound_name_or_a_kind_value_is_no_property():
    from backend.objects import unmet_values

    # "ink" is what the bottle is (its `type`), and a title word of another thing: "ink refill" names no
    # refill of the diffusers; the glue stops before "for"
    assert judged_by(unmet_values, "an ink refill in blue for a fountain pen", REFILLS) is None
    assert judged_by(unmet_values, "a diffuser refill in blue for the hall", REFILLS) == \
        "nothing here is diffuser refill in blue"


def test_money_in_slang():
    assert parse_budget("tea towels, nothing over a tenner", K) == (10.0, "GBP")
    assert parse_budget("a card for a fiver", K) == (5.0, "GBP")
    assert parse_budget("the tenners of the world", K) == (None, None)
    assert parse_budget("a lip balm under a dollar", K) == (1.0, "USD")  # "a" is one after a cue
    assert parse_budget("a pound of tea for my mother", K) == (None, None)  # a weight
    assert parse_budget("nail polish for 50 cents", K) == (0.5, "USD")
    assert parse_budget("sweets under 80 pence", K) == (0.8, "GBP")


NAMED_HOUSES = [{"item_id": "h1", "title": "Aldwych Teapot", "brand": "Halden Porcelain", "category": "Tableware",
         "price": 120.0},
        {"item_id": "h2", "title": "Champagne Coupes, Pair", "brand": "Cristallerie d'Aubrac", "category": "Glassware",
         "price": 150.0},
        {"item_id": "h3", "title": "Porcelain Bud Vase", "brand": "Atelier Sevrine", "category": "Tableware",
         "price": 65.0},
        {"item_id": "h4", "title": "Linen Napkins, Set of 4", "brand": "Hollis & Fane", "category": "Table Linen",
         "price": 48.0},
        {"item_id": "h5", "title": "Cashmere Throw", "brand": "Quintana Madrid", "category": "Throws",
         "price": 300.0}]


def test_a_house_is_called_by_one_rare_word_of_its_name():
    assert read("Something from Aubrac for the champagne", NAMED_HOUSES).houses == ["brand=cristallerie d'aubrac"]
    assert read("Halden teapots?", NAMED_HOUSES).houses == ["brand=halden porcelain"]  # capitalised, even first
    assert read("a teapot by halden", NAMED_HOUSES).houses == ["brand=halden porcelain"]  # introduced
    assert read("a halden teapot", NAMED_HOUSES).houses == []  # neither: only a wish
    assert read("napkins from Hollis and Fane", NAMED_HOUSES).houses == ["brand=hollis & fane"]  # "&" said as "and"
    assert read("a throw for a winter in Madrid", NAMED_HOUSES).houses == []  # a place, never a house
    assert read("a Porcelain vase", NAMED_HOUSES).houses == []  # a word other houses' titles use
    assert read("a vase, Sevrine's", NAMED_HOUSES).houses == ["brand=atelier sevrine"]


def test_two_words_name_the_kind_where_the_last_alone_is_a_format():
    sprays = [{"item_id": f"{kind}{n}", "title": f"{name} Spray No. {n}", "brand": "Mistral", "category": category,
               "price": price + n} for n in range(5)
              for kind, name, category, price in (("s", "Setting", "Makeup", 15.0), ("h", "Hair", "Hair", 8.0),
                                                  ("b", "Body", "Bath", 6.0))]
    # "spray" spreads over three categories: no kind; "setting spray" is one, and starts at 15
    assert priced_out_reason("a setting spray under $10", sprays) == "nothing here within 10 is setting spray"
    assert priced_out_reason("a setting spray under $20", sprays) is None
    assert priced_out_reason("a spray under $5", sprays) is None
    # with a house, by the kind's category: the house may call it otherwise ("Fixing Mist"), not sell it elsewhere
    assert priced_out_reason("a setting spray by Mistral under $10", sprays) == \
        "nothing here by mistral and within 10 is setting spray"
    fixing = sprays + [{"item_id": "f", "title": "Fixing Mist", "brand": "Mistral", "category": "Makeup", "price": 9.0}]
    assert priced_out_reason("a setting spray by Mistral under $10", fixing) is None
    # titles with both words (apart) spread over many categories: no kind to judge the house by, no refusal
    spread = sprays + [{"item_id": f"x{n}", "title": f"Spray for Setting Curls {n}", "brand": "Other", "category": cat,
                        "price": 5.0} for n, cat in enumerate(["Tools", "Sets", "Travel", "Gifts", "Minis"])]
    assert priced_out_reason("a setting spray by Mistral under $10", spread) is None
    reworded = sprays + [{"item_id": "x", "title": "Setting Mist Spray", "brand": "Mistral", "category": "Makeup",
                          "price": 9.0}]  # both words, apart: a setting spray too
    assert priced_out_reason("a setting spray under $10", reworded) is None
    four = [i for i in sprays if i["item_id"] != "s0"]
    assert priced_out_reason("a setting spray under $10", four) is None  # 4 titles: too few to name a kind


def test_a_thing_mentioned_in_passing_is_not_asked_for():
    assert read("a laptop for the office", LUXURY).impossible == "this catalogue has no laptop"
    assert read("something to carry my laptop to the office", LUXURY).impossible is None  # owned
    assert read("a present for a friend who just bought a boat", LUXURY).impossible is None  # relative clause
    assert read("something elegant for a dinner where champagne will flow", LUXURY).impossible is None
    assert read("a present for a friend who just bought a boat", LUXURY).asked == []


def test_budgets_in_everyday_words():
    assert parse_budget("a diver's watch for under five grand?", K) == (5000.0, None)
    assert parse_budget("red lipstick, budget's eight bucks.", K) == (8.0, "USD")
    assert parse_budget("a gown, and i honestly cannot spend more than fifty euros", K) == (50.0, "EUR")
    assert parse_budget("my ceiling is €100", K) == (100.0, "EUR")
    assert parse_budget("happy to spend more than 500 euros", K) == (None, None)  # not negated: a floor
    assert parse_budget("i have 3 kids", K) == (None, None)
    assert parse_budget("i can’t spend more than €50", K) == (50.0, "EUR")  # a phone's apostrophe
    assert parse_budget("i'm not spending more than €100", K) == (100.0, "EUR")
    assert parse_budget("a pendant for a ceiling of 2.4 m", K) == (None, None)


def test_nice_is_a_place_only_when_capitalised():
    assert read("a scarf for a week in Nice", LUXURY).contexts
    assert not read("a nice scarf for my sister", LUXURY).contexts


def test_the_thing_a_purpose_acts_on_is_not_asked_for():
    assert read("something to carry the laptop in", LUXURY).impossible is None
    assert read("i'd like to buy a sofa", LUXURY).impossible == "this catalogue has no sofa"  # a seeking verb
    assert read("i'd like to purchase a sofa", LUXURY).impossible == "this catalogue has no sofa"


def test_a_request_that_also_asks_for_a_titled_thing_is_not_refused_for_another():
    home = LUXURY + [{"item_id": "g1", "title": "Cut-Crystal Whisky Tumblers, Pair", "brand": "Aubrac",
                      "category": "Glassware", "price": 120.0}]
    assert read("he drinks single malt every evening - a pair of crystal tumblers for him?", home).impossible \
        is None
    assert read("a bottle of single malt for him", home).impossible == "this catalogue has no single malt"


def test_a_category_owned_is_mentioned_not_asked_for():
    q = read("a tote to go with his watch", LUXURY)
    assert "category=tote" in q.categories and "category=watch" not in q.categories
    assert "category=watch" in read("buy her watches", LUXURY).categories  # whom, not whose
    assert "category=tote" in read("a gift for her: totes", LUXURY).categories  # another phrase
    assert read("a laptop to go with his watch", LUXURY).impossible == "this catalogue has no laptop"
    q = read("a scarf to go with my husband's watch", LUXURY)  # someone's: "my husband's", "my mother's"
    assert "category=watch" not in q.categories and any("category=watch" in w.matches for w in q.wishes)
    q = read("My cognac Aurel tote is my favourite. Now a scarf", LUXURY)  # the owner word begins the phrase
    assert "category=tote" not in q.categories and "category=scarf" in q.categories
    assert "category=tote" in read("buy my wife a cognac tote", LUXURY).categories  # "a" opens another phrase


def test_the_house_of_a_thing_had_is_not_the_house_asked_for():
    q = read("He already owns the Vell ankle boot; I'd like a silk scarf, 500 max.", LUXURY)
    assert q.houses == [] and "category=scarf" in q.categories
    assert any("brand=vell" in w.matches for w in q.wishes)  # it still orders
    assert read("I have a suede boot from Vell and would love a scarf", LUXURY).houses == []
    # the request refers back to the house, or names no thing of it: the house is asked for
    assert read("I have a suede boot from Vell. Do they make a scarf too?", LUXURY).houses == ["brand=vell"]
    assert read("I love Vell, a scarf from them?", LUXURY).houses == ["brand=vell"]
    assert read("A Vell scarf to match his watch", LUXURY).houses == ["brand=vell"]  # "to match": no phrase
    assert read("I bought the Vell ankle boots last winter. A scarf, please?", LUXURY).houses == []  # words of a
    assert read("I love Vell. A scarf, please?", LUXURY).houses == ["brand=vell"]  # thing had follow it, or none


def test_a_value_of_a_thing_had_is_no_pairing_and_had_reaches_further():
    q = read("My cognac tote is falling apart, and now I want a scarf in cognac", LUXURY)
    assert [p["words"] for p in q.pairings] == ["scarf in cognac"]
    assert "category=tote" not in read("Bought a tote last month. A scarf to go with it?", LUXURY).categories
    assert "category=tote" in read("Got any totes? In cognac?", LUXURY).categories  # asks the shop
    q = read("We have the watch and the tote already. What's missing is a scarf", LUXURY)
    assert q.categories == ["category=scarf"]
    q = read("I want a scarf. I already have a tote from Aurel.", LUXURY)  # the thing had is said second
    assert q.categories == ["category=scarf"] and q.houses == []
    assert read("I carry the Aurel tote and want a scarf", LUXURY).categories == ["category=scarf"]
    q = read("I'm wearing my own cognac tote. Need a scarf in cognac to go with it", LUXURY)  # "my own": whose
    assert q.categories == ["category=scarf"] and [p["words"] for p in q.pairings] == ["scarf in cognac"]


def test_a_thing_the_one_asked_for_goes_with_is_mentioned_not_asked_for():
    q = read("a scarf please, to go with the tote I bought last month", LUXURY)
    assert "category=tote" not in q.categories and any("category=tote" in w.matches for w in q.wishes)
    assert "category=tote" not in read("a scarf to match the tote", LUXURY).categories
    assert read("a laptop to go with the tote", LUXURY).impossible == "this catalogue has no laptop"
    assert "category=tote" in read("a tote to go with everything", LUXURY).categories  # asked for, first


def test_a_thing_looked_at_is_asked_for_and_a_chrono_is_a_chronograph():
    items = [{"item_id": f"w{n}", "title": title, "brand": "Arolla", "category": category, "price": price}
             for n, (title, category, price) in enumerate([("Arolla Chronograph", "Chronograph", 5950.0),
                                                          ("Sils Dress Watch", "Dress Watch", 4800.0)])]
    q = read("I've been looking at chronos for a while now", items)
    assert q.kinds == ["category=chronograph"]


def test_white_tie_and_work_are_contexts_a_category_can_conflict_with():
    assert "formality" in conflict("a slide to wear with white tie", RESORT)  # the most formal dress code
    assert "formality" in conflict("a dinner jacket for work", RESORT)  # three levels used here: one step of slack
    assert conflict("a slide I can wear to work", RESORT) is None  # the Ibiza slide is smart-casual
    # every level used (no slack): a party may be black-tie (the knowledge file), a picnic may not
    every_level = RESORT + [{"item_id": f"f{n}", "title": f"{level} shirt", "brand": "Savile", "category": "shirt",
                             "price": 300.0, "attributes": {"season": ["spring"], "formality": level}}
                            for n, level in enumerate(["business", "formal"])]
    assert conflict("a dinner jacket for the Christmas party", every_level) is None  # a party: up to formal
    assert "formality" in conflict("a slide for a business meeting", every_level)  # a dress code
    assert "formality" in conflict("a dinner jacket for a picnic", every_level)  # black-tie: four steps
    smart = every_level + [{"item_id": "t1", "title": "Linen tote", "brand": "Costa", "category": "tote",
                            "price": 300.0, "attributes": {"season": ["summer"], "formality": "business"}}]
    assert conflict("a tote for holidays", smart) is None  # off duty: one step more formal still suits it
    assert "formality" in conflict("a tote for a picnic", smart)  # but not two
    assert "formality" in conflict("a dinner jacket for work", smart)  # a dress code: black-tie is two steps up


def test_a_value_said_with_a_phrase_that_means_a_category_is_a_pairing():
    from backend.live import HEAD_KIND_FLOOR, meant_pairings
    from backend.understand import QueryGraph, Wish

    def asking(text):
        wishes = [Wish("overcoat", 0.7, "meaning", {"category=coat": HEAD_KIND_FLOOR + 0.02,
                                                    "category=trench coat": HEAD_KIND_FLOOR - 0.08}),
                  Wish("linen", 1.0, "named", {"material=linen": 1.0})]
        return meant_pairings(QueryGraph(text=text, wishes=wishes), ("overcoat", "category=coat"), K.negations)

    for text in ("An overcoat in pure linen, please", "a linen overcoat"):
        assert asking(text) == [{"words": "overcoat in linen", "categories": ["category=coat"],
                                 "values": ["material=linen"]}], text
    assert asking("an overcoat, and a linen shirt for summer") == []  # said apart: two things
    assert asking("an overcoat, not in linen") == []


def test_a_thing_asked_for_without_a_determiner_after_a_verb_of_making_or_wanting():
    assert priced_out_reason("Does Wren make candlesticks?", SILVER) == "nothing here by wren is candlesticks"
    assert priced_out_reason("Does Orrin make candlesticks?", SILVER) is None
    assert "umbrellas" in read("do you sell umbrellas?", LUXURY).asked
    assert read("we need to find it by Friday", LUXURY).asked == []  # "need to", "find it": no thing


def test_a_phrase_the_titles_name_means_no_category_by_its_likeness():
    from backend.live import HEAD_KIND_FLOOR, meant_kind
    from backend.understand import QueryGraph, Wish

    wish = Wish("candlesticks", 0.7, "meaning", {"category=candles": HEAD_KIND_FLOOR + 0.01})
    query = QueryGraph(text="a pair of candlesticks by Orrin", asked=["candlesticks"], wishes=[wish])
    assert meant_kind(query) == ("candlesticks", "category=candles")  # near the candles by meaning ...
    query.sold = ["candlesticks"]
    assert meant_kind(query) is None  # ... but the titles here say what candlesticks are: Orrin's are silver


LIPS = [{"item_id": f"l{n}", "title": f"Velvet Lipstick {n}", "brand": "Rouge", "category": "Makeup",
         "price": 12.0 + n} for n in range(12)] + [
    {"item_id": "g1", "title": "Lipstick and Scent Gift Set", "brand": "Rouge", "category": "Fragrance", "price": 60.0},
    {"item_id": "m1", "title": "Mini Velvet Lipstick", "brand": "Rouge", "category": "Mini Size", "price": 9.0},
    {"item_id": "b1", "title": "Tinted Lip Balm", "brand": "Balmy", "category": "Makeup", "price": 8.0}]


def test_a_named_kind_is_held_to_a_budget_by_the_titles_that_name_it():
    assert priced_out_reason("Red lipstick, budget's eight bucks.", LIPS) == "nothing here within 8 is lipstick"
    assert priced_out_reason("a lipstick under $15", LIPS) is None
    assert priced_out_reason("a lipstick by Balmy", LIPS) is None  # a house's titles cannot judge a kind
    # three categories hold a titled lipstick, but most are in two: the word still names a kind here
    assert priced_out_reason("a lipstick under $5", LIPS) == "nothing here within 5 is lipstick"


SHOES = RESORT + [{"item_id": "k1", "title": "Court sneaker", "brand": "Costa", "category": "sneaker", "price": 300.0,
                   "attributes": {"season": ["summer"], "formality": "casual"}},
                  {"item_id": "k2", "title": "Opera pump", "brand": "Savile", "category": "pump", "price": 700.0,
                   "attributes": {"season": ["winter"], "formality": "black-tie"}}]
GLASS = [{"item_id": "f1", "title": "Champagne Flutes, Set of 6", "brand": "Aubrac", "category": "Glassware",
          "price": 165.0},
         {"item_id": "h1", "title": "Ceramic Flat Iron", "brand": "Sleek", "category": "Hair", "price": 120.0}]


def test_another_name_of_the_same_thing_means_its_categories_and_titles():
    assert read("trainers for the weekend", SHOES).kinds == ["category=sneaker"]  # not every shoe
    assert "formality" in conflict("trainers I can wear to a black tie gala", SHOES)  # the pump would not do
    assert read("a hair straightener", GLASS).impossible is None  # the titles say "flat iron"
    assert sold_elsewhere_reason("champagne glasses for a party", GLASS) is None  # ... and "champagne flutes"
    assert priced_out_reason("a straightener under $50", GLASS) == "nothing here within 50 is straightener"


def test_a_thing_for_an_animal_needs_a_catalogue_that_sells_for_animals():
    from backend.objects import not_for_animals

    assert read("shampoo for my golden retriever", GLASS).for_animal == "retriever"
    assert read("a candle for a dog lover", GLASS).for_animal is None  # a person
    assert read("a gift for a dog lover, nothing for the dog itself", GLASS).for_animal is None
    assert read("a linen shirt for the dog days of summer", GLASS).for_animal is None
    assert sold_elsewhere_reason("dry food for our dog", GLASS, not_for_animals) == \
        "this catalogue has nothing for a dog"
    pets = GLASS + [{"item_id": "d1", "title": "Leather Dog Collar", "brand": "Aubrac", "category": "Pets",
                     "price": 80.0}]
    assert sold_elsewhere_reason("a lead for my dog", pets, not_for_animals) is None


HOME = [{"item_id": "h1", "title": "Sterling Silver Candlesticks, Pair", "brand": "Orrin", "category": "Silver",
         "price": 650.0},
        {"item_id": "h2", "title": "Aldwych Teapot, 1.1 L", "brand": "Halden", "category": "Tableware", "price": 140.0},
        {"item_id": "h3", "title": "Linen Tea Towels, Set of 3", "brand": "Linfield", "category": "Table Linen",
         "price": 45.0},
        {"item_id": "h4", "title": "Earl Grey Loose Tea Caddy", "brand": "Orsay", "category": "Tea", "price": 22.0},
        {"item_id": "h5", "title": "Dark Chocolate Truffles", "brand": "Mirande", "category": "Chocolate",
         "price": 30.0},
        {"item_id": "h6", "title": "Cashmere Throw, Camel", "brand": "Caird", "category": "Throws", "price": 260.0,
         "attributes": {"colour": "brown"}}]


def test_a_category_word_before_a_thing_no_item_of_it_is_called_modifies_that_thing():
    teapot = read("a silver teapot by Orrin", HOME)
    assert teapot.categories == [] and teapot.houses == ["brand=orrin"]  # the teapot is tableware, not silver
    assert read("silver candlesticks by Orrin", HOME).categories == ["category=silver"]  # silver's own titles
    towel = read("a linen tea towel", HOME)
    assert towel.categories == [] and towel.pairings == []  # not "tea in linen"
    assert read("a tea caddy", HOME).categories == ["category=tea"]
    assert read("a chocolate brown cashmere throw", HOME).categories == ["category=throws"]  # "chocolate brown"
    assert read("dark chocolate truffles", HOME).categories == ["category=chocolate"]
    # a kind of thing the catalogue has no word for (`product_kinds`): the category word says what it is made of
    assert read("sterling silver cutlery for the dining room", HOME).impossible == "this catalogue has no cutlery"


def test_the_words_after_a_house_or_a_verb_of_offering_are_what_is_asked():
    assert "teapots" in read("Does Orrin do teapots?", HOME).asked
    assert "wine glasses" in read("Orsay wine glasses", HOME).asked  # the house's name says whose
    assert read("Orrin, under £100", HOME).asked == []  # a budget after the house is no thing
    assert "make" not in " ".join(read("Does Orrin make a teapot?", HOME).asked).split()


MEASURED = [{"item_id": "d1", "title": "Fig Reed Diffuser, 200 ml", "brand": "Verl", "category": "Home Fragrance",
         "price": 60.0, "attributes": {"duration": "3 months", "capacity": "200 ml"}},
        {"item_id": "d2", "title": "Amber Reed Diffuser Refill", "brand": "Verl", "category": "Home Fragrance",
         "price": 30.0, "attributes": {"duration": "6 weeks"}},
        {"item_id": "c1", "title": "Fig Scented Candle", "brand": "Verl", "category": "Candles", "price": 58.0,
         "attributes": {"burn time": "45 h", "wicks": 1}},
        {"item_id": "c2", "title": "Three-Wick Scented Candle", "brand": "Verl", "category": "Candles",
         "price": 120.0, "attributes": {"burn time": "90 h", "wicks": 3}},
        {"item_id": "s1", "title": "Daily Sunscreen SPF 30", "brand": "Sol", "category": "Skincare", "price": 30.0},
        {"item_id": "s2", "title": "Mineral Sunscreen SPF 50", "brand": "Sol", "category": "Skincare", "price": 34.0},
        {"item_id": "b1", "title": "Tinted Lip Balm SPF 15", "brand": "Sol", "category": "Skincare", "price": 12.0},
        {"item_id": "g1", "title": "Champagne Coupes, Pair", "brand": "Aubrac", "category": "Glassware",
         "price": 140.0, "attributes": {"dishwasher safe": "no"}},
        {"item_id": "g2", "title": "Crystal Tumblers, Set of 2", "brand": "Aubrac", "category": "Glassware",
         "price": 90.0, "attributes": {"dishwasher safe": "yes"}},
        {"item_id": "t1", "title": "Ceremonial Matcha", "brand": "Orsay", "category": "Tea", "price": 45.0,
         "attributes": {"caffeine": "yes"}},
        {"item_id": "t2", "title": "Chamomile Tisane", "brand": "Orsay", "category": "Tea", "price": 18.0,
         "attributes": {"caffeine": "no"}}]


def test_a_number_no_item_of_the_kind_reaches_refuses_the_request():
    from backend.objects import unmet_measure

    assert judged_by(unmet_measure, "sunscreen with SPF 100 for a ski trip", MEASURED) == \
        "nothing here that is sunscreen has spf 100"
    assert judged_by(unmet_measure, "a lip balm with SPF 30", MEASURED) == "nothing here that is lip balm has spf 30"
    assert judged_by(unmet_measure, "a reed diffuser that lasts at least six months", MEASURED) == \
        "nothing here that is reed diffuser has 6 months"
    assert judged_by(unmet_measure, "a candle that burns 100 hours or more", MEASURED) is not None
    # met: a number reached (plainly said numbers allow 10% below), units of one dimension compared
    assert judged_by(unmet_measure, "a sunscreen with SPF 45", MEASURED) is None
    assert judged_by(unmet_measure, "a reed diffuser that lasts at least 8 weeks", MEASURED) is None  # 3 months
    assert judged_by(unmet_measure, "a 3-wick candle", MEASURED) is None
    # numbers of something else: an age, an anniversary, a budget
    assert judged_by(unmet_measure, "a candle for my 30 year old sister", MEASURED) is None
    assert judged_by(unmet_measure, "a candle for our 10 year anniversary", MEASURED) is None
    assert judged_by(unmet_measure, "a candle under 20 pounds", MEASURED) is None


def test_a_number_is_judged_on_the_items_of_a_category_named_word_for_word():
    from backend.objects import unmet_measure

    lights = [{"item_id": "l1", "title": "Beam 1200", "brand": "Lumora", "category": "Front Lights", "price": 119.0,
               "description": "1200-lumen front light with a road-shaped beam"},
              {"item_id": "l2", "title": "Mini Rear", "brand": "Lumora", "category": "Rear Lights", "price": 24.0,
               "description": "Tiny 20-lumen rear light"}]
    assert read("Do you have a 2000 lumen front light?", lights).categories == ["category=front lights"]
    assert judged_by(unmet_measure, "Do you have a 2000 lumen front light?", lights) == \
        "nothing here that is front lights has 2000 lumen"
    assert judged_by(unmet_measure, "Do you have a 1000 lumen front light?", lights) is None


def test_a_sum_of_money_is_no_measure():
    from backend.measures import money_words, stated_numbers

    def said(text):
        return [s.said for s in stated_numbers(text, K, money_words(K), frozenset({"light"}))]

    assert said("a hair styling tool, budget cap 190 usd") == []  # "cap 190" was read as a measure
    assert said("a 2000 lumen light under 300 dollars") == ["2000 lumen"]
    assert said("a light, budget 250") == []


def test_a_number_said_of_a_person_is_no_measure_of_the_thing():
    from backend.knowledge import load_knowledge
    from backend.measures import stated_numbers

    def lengths(text):
        return [s.said for s in stated_numbers(text, load_knowledge(), kind_words=frozenset({"bike"}))]

    assert lengths("i'm 1.60 m and need a small road bike") == []
    assert lengths("she is 1.75 m tall, a bike for her") == []
    assert lengths("my son is 130 cm, a bike for him") == []
    assert lengths("a bike that is 160 cm") == ["160 cm"]  # said of the thing: still read


def test_a_yes_no_attribute_the_kind_never_has_refuses_the_request():
    from backend.objects import unmet_flag

    assert judged_by(unmet_flag, "dishwasher-safe champagne coupes", MEASURED) == \
        "nothing here that is champagne coupes is dishwasher-safe"
    assert judged_by(unmet_flag, "caffeine-free matcha", MEASURED) == "nothing here that is matcha is caffeine-free"
    assert judged_by(unmet_flag, "matcha without caffeine", MEASURED) is not None
    assert judged_by(unmet_flag, "champagne coupes that are not dishwasher safe", MEASURED) is None
    assert judged_by(unmet_flag, "a caffeine-free tisane", MEASURED) is None
    assert judged_by(unmet_flag, "dishwasher safe tumblers", MEASURED) is None
    assert judged_by(unmet_flag, "a scented candle", MEASURED) is None  # no such attribute said


def test_a_number_a_unit_follows_is_no_budget():
    assert parse_budget("a reed diffuser that lasts about three months", K) == (None, None)
    assert parse_budget("delivered within 2 days please", K) == (None, None)
    assert parse_budget("under 100 for a scarf", K) == (100.0, None)
    assert parse_budget("around 300 ideally", K) == (345.0, None)
    assert parse_budget("under 50 per person", K) == (50.0, None)


def test_a_country_no_item_of_the_kind_is_made_in_refuses_the_request():
    from backend.objects import unmet_values

    assert judged_by(unmet_values, "a decanter made in Japan", LINENS) == "nothing here is decanter made in japan"
    assert judged_by(unmet_values, "a decanter made in France", LINENS) is None
    assert judged_by(unmet_values, "a throw made in Japan", LINENS) is None  # no throw says where it is made


PENS = [{"item_id": f"p{n}", "title": f"Heritage Fountain Pen {n}", "brand": "Calder", "category": "Writing",
         "price": 145.0 + n, "attributes": {"type": "fountain pen"}} for n in range(3)] + \
       [{"item_id": "i1", "title": "Bottled Fountain Pen Ink", "brand": "Calder", "category": "Writing",
         "price": 18.0, "attributes": {"type": "ink"}},
        {"item_id": "r1", "title": "Rollerball Pen", "brand": "Calder", "category": "Writing", "price": 40.0,
         "attributes": {"type": "rollerball"}}]


def kind_value_reason(text, items):
    from backend.live import unmet_kind_value

    return judged_by(lambda query, catalogue, embed_fn: unmet_kind_value(query, catalogue), text, items)


def test_a_kind_attributes_value_named_as_the_thing_asked_is_held_to_the_budget():
    assert kind_value_reason("a fountain pen for no more than £100", PENS) == "nothing here within 100 is fountain pen"
    assert kind_value_reason("a fountain pen under £150", PENS) is None
    assert kind_value_reason("fountain pen ink under £20", PENS) is None  # the ink is asked for, and is here
    # an untyped item titled with the value may be of the kind: no refusal on the typed items alone
    untyped = PENS + [{"item_id": "u1", "title": "Student Fountain Pen", "brand": "Calder", "category": "Writing",
                       "price": 25.0}]
    assert kind_value_reason("a fountain pen for no more than £100", untyped) is None


def test_a_pairing_is_held_to_the_named_house_and_budget():
    from types import SimpleNamespace

    from backend.live import pairing_exists
    from backend.verify import item_nodes

    candles = [{"item_id": "w1", "title": "Fig Candle", "brand": "Wren", "category": "Candles", "price": 40.0,
                "attributes": {"wax": "soy"}},
               {"item_id": "v1", "title": "Pillar Candle", "brand": "Verl", "category": "Candles", "price": 55.0,
                "attributes": {"wax": "beeswax"}}]
    catalogue = SimpleNamespace(graphs=SimpleNamespace(
        item_nodes={i["item_id"]: set(item_nodes(i)) for i in candles}, items={i["item_id"]: i for i in candles}))
    by_wren = read("a beeswax candle by Wren", candles)
    assert by_wren.pairings and pairing_exists(by_wren.pairings[0], catalogue)  # beeswax candles are here
    assert not pairing_exists(by_wren.pairings[0], catalogue, by_wren.to_dict())  # but none by Wren
    assert pairing_exists(read("a beeswax candle by Verl", candles).pairings[0], catalogue,
                          read("a beeswax candle by Verl", candles).to_dict())
    cheap = read("a beeswax candle under £50", candles)
    assert not pairing_exists(cheap.pairings[0], catalogue, cheap.to_dict())


def test_a_request_is_limited_by_a_house_or_a_budget_and_says_so():
    candles = [{"item_id": "w1", "title": "Fig Candle", "brand": "Wren", "category": "Candles", "price": 40.0,
                "attributes": {}}]
    for text, limited, words in (("a candle by Wren", True, ["by wren"]), ("a candle under £50", True, ["within 50"]),
                                 ("a candle by Wren under £50", True, ["by wren", "within 50"]),
                                 ("a candle", False, [])):
        query = read(text, candles)
        assert (query.limited, query.limits()) == (limited, words), text
        assert query.hard  # the category alone is a hard constraint


SPIRITS = [{"item_id": f"s{n}", "title": title, "brand": brand, "category": category, "price": price}
           for n, (title, brand, category, price) in enumerate([
               ("London Dry Gin", "Thornbury", "Gin", 38.0), ("Navy Strength Gin", "Thornbury", "Gin", 42.0),
               ("Spiced Rum", "Casavieja", "Rum", 35.0), ("Islay Single Malt", "Kilbrannan", "Whisky", 52.0),
               ("Champagne Flutes, Pair", "Aubrac", "Glassware", 60.0)])]


def test_a_distinct_sort_of_a_kind_the_shop_carries_is_not_carried():
    # vodka is a drink, like the gin and rum sold here, but no other sort stands in for it (`distinct_sorts`)
    assert read("good vodka for martinis?", SPIRITS).impossible == "this catalogue has no vodka"
    assert read("a craft beer for a barbecue", SPIRITS).impossible == "this catalogue has no beer"
    assert read("a bottle of gin for martinis", SPIRITS).impossible is None  # the sort itself is sold
    assert read("a single malt for my father", SPIRITS).impossible is None  # titled so
    assert read("a nice whiskey for my father", SPIRITS).impossible is None  # another name of "whisky"
    assert read("a bottle of champagne", SPIRITS).impossible is None  # a title word here ("Champagne Flutes")


def test_a_distinct_sort_not_carried_still_holds_its_kind_under_a_house():
    # the request also asks for a thing the titles name ("flutes"), so it is not refused as "no vodka"; the sort
    # still orders by its kind (the drinks here), as a kind name did before the sort was told apart
    query = read("vodka by Thornbury, and some flutes", SPIRITS)
    assert query.impossible is None and {"category=gin", "category=rum"} <= set(query.kinds)


def test_a_kind_name_followed_by_another_kind_name_only_says_which_sort():
    from backend.understand import kind_categories, named_categories

    items = [{"item_id": f"w{n}", "title": title, "brand": brand, "category": category, "price": price}
             for n, (title, brand, category, price) in enumerate([
                 ("Maloja Dress Watch", "Leman", "Dress Watch", 6050.0), ("Lucerna Dress", "Donati", "Dress", 1400.0),
                 ("Riva Shirt Dress", "Donati", "Shirt Dress", 900.0), ("Oxford Shirt", "Halloran", "Shirt", 300.0),
                 ("Linen Tea Towel", "Wren", "Tea Towels", 18.0)])]
    vocab = build_vocabulary(items, K, hash_embed)
    # "dress watch" is a watch and "shirt dress" a dress: the first word only says which sort
    assert named_categories("dress", vocab, K) == ["category=dress", "category=shirt dress"]
    assert named_categories("shirt", vocab, K) == ["category=shirt"]
    assert named_categories("watch", vocab, K) == ["category=dress watch"]
    assert "category=dress watch" not in kind_categories("clothing", vocab, K)
    # so a sweater by a watchmaker is a kind that house does not make
    from types import SimpleNamespace

    from backend.live import kind_is_available
    from backend.verify import item_nodes

    catalogue = SimpleNamespace(graphs=SimpleNamespace(
        item_nodes={i["item_id"]: set(item_nodes(i)) for i in items}, items={i["item_id"]: i for i in items}))
    assert not kind_is_available(read("a sweater by Leman", items), catalogue)
    assert kind_is_available(read("a sweater by Donati", items), catalogue)


def test_of_two_named_categories_one_holding_the_other_the_narrower_is_asked_for():
    from types import SimpleNamespace

    from backend.live import narrowest_categories

    rows = {"category_group=silk": [0, 1, 2], "category=tie": [0, 1], "category=pocket square": [2],
            "category=scarf": [3]}
    graphs = SimpleNamespace(rows_with=lambda node: rows.get(node, []))
    # "a silk tie": the ties, not every silk piece
    assert narrowest_categories(["category_group=silk", "category=tie"], graphs) == ["category=tie"]
    # two categories that do not hold one another are both asked for ("a tie or a scarf")
    assert narrowest_categories(["category=tie", "category=scarf"], graphs) == ["category=tie", "category=scarf"]
    assert narrowest_categories(["category=tie"], graphs) == ["category=tie"]


def test_a_kind_filed_under_another_name_is_read_from_the_titles():
    items = [{"item_id": f"k{n}", "title": title, "brand": brand, "category": category, "price": price}
             for n, (title, brand, category, price) in enumerate([
                 ("Harrow Cashmere Sweater", "Rutherford", "Knitwear", 1100.0),
                 ("Jardin Merino Sweater", "Ravenne", "Knitwear", 930.0), ("Camel Coat", "Ravenne", "Coat", 2400.0),
                 ("Silk Dress", "Donati", "Dress", 1400.0)])]
    # the sweaters are knitwear here, a category no name of clothing names: the titles say where they are
    assert read("a sweater for my brother", items).kinds == ["category=knitwear"]
    assert read("a jumper for my brother", items).kinds == ["category=knitwear"]  # another name of a sweater
    beauty = [{"item_id": f"m{n}", "title": title, "brand": brand, "category": category, "price": price}
              for n, (title, brand, category, price) in enumerate([
                  ("Rouge Lipstick", "Glowish", "Makeup", 30.0), ("Volume Mascara", "Glowish", "Makeup", 25.0),
                  ("Perfume and Lipstick Gift Set", "Maison Verre", "Fragrance", 120.0)])]
    # where a category of the kind holds the things titled so, the kind's categories stand
    assert read("a lipstick by Maison Verre", beauty).kinds == ["category=makeup"]


def test_a_long_phrase_that_ends_in_ones_describes_a_thing_named_elsewhere():
    # "ones" ends the phrase one word past the longest object read: it stands in for the towels
    assert read("bath towels: a set of big fluffy white ones for the guest room", LINENS).asked == ["bath towels"]
    assert read("bath towels: a set of white ones for the guest room", LINENS).asked == ["bath towels"]


def test_a_category_named_by_another_name_of_a_thing_is_that_thing_not_its_head_word():
    from backend.objects import unmet_values
    from backend.understand import named_categories, other_things_names

    items = [{"item_id": f"j{n}", "title": title, "brand": brand, "category": category, "price": price,
              "attributes": {"material": [material]}}
             for n, (title, brand, category, material, price) in enumerate([
                 ("Fenwick Dinner Jacket", "Halloran", "Dinner Jacket", "wool", 4000.0),
                 ("Portico Blazer", "Bruschi", "Blazer", "tweed", 2350.0),
                 ("Loggia Coat", "Bruschi", "Coat", "cashmere", 4250.0),
                 ("Crystal Champagne Flutes", "Wren", "Champagne Flutes", "crystal", 90.0)])]
    vocab = build_vocabulary(items, K, hash_embed)
    # a dinner jacket is a tuxedo (`kind_synonyms`): a bare "jacket" is any jacket, not the black-tie ones alone
    assert named_categories("jacket", vocab, K) == []
    assert named_categories("dinner jacket", vocab, K) == ["category=dinner jacket"]
    assert named_categories("flutes", vocab, K) == ["category=champagne flutes"]  # its own name holds the word
    assert other_things_names("jacket", K) == ("dinner jacket",)
    query = read("a tweed jacket for weekends in the country", items)
    assert {"category=blazer", "category=coat", "category=dinner jacket"} <= set(query.kinds)
    # and the titles' "Dinner Jacket" does not make the jackets here all black-tie ones: a tweed one may be here
    assert judged_by(unmet_values, "a tweed jacket for weekends in the country", items) is None
    # a phrase that says the other name is about that thing
    assert judged_by(unmet_values, "a tweed dinner jacket", items) == "nothing here is tweed dinner jacket"
    assert read("a tuxedo for a gala", items).kinds == ["category=dinner jacket"]


def test_a_category_that_joins_several_things_holds_the_asked_one_only_where_its_title_says_so():
    from backend.objects import unmet_values

    items = [{"item_id": f"t{n}", "title": title, "brand": "Caird", "category": category, "price": price,
              "attributes": {"material": [material]}}
             for n, (title, category, material, price) in enumerate([
                 ("Cashmere Throw, Oatmeal", "Throws & Cushions", "cashmere", 395.0),
                 ("Lambswool Throw, Tartan", "Throws & Cushions", "lambswool", 145.0),
                 ("Cashmere Cushion Cover", "Throws & Cushions", "cashmere", 120.0),
                 ("Leather Journal", "Notebooks", "leather", 60.0), ("Linen Notebook", "Notebooks", "linen", 20.0)])]
    # the cashmere under 250 here is a cushion cover: no cashmere throw is within the budget
    assert judged_by(unmet_values, "a cashmere throw for the sofa, max £250", items) == \
        "nothing here within 250 is cashmere throw"
    assert judged_by(unmet_values, "a cashmere throw for the sofa", items) is None
    # two things joined by "or": either will do, the words before the first going with a bare second one
    blankets = items + [{"item_id": "t9", "title": "Cashmere Travel Blanket", "brand": "Caird",
                         "category": "Throws & Cushions", "price": 260.0, "attributes": {"material": ["cashmere"]}}]
    assert judged_by(unmet_values, "a cashmere throw or blanket for the sofa, max £250", blankets) == \
        "nothing here within 250 is cashmere throw"
    assert judged_by(unmet_values, "a cashmere throw or blanket for the sofa, max £300", blankets) is None
    assert judged_by(unmet_values, "a cashmere throw or cushion for the sofa, max £250", blankets) is None
    # a category of one thing holds it whatever the titles call it: the leather notebook is the journal
    assert judged_by(unmet_values, "a leather notebook under £100", items) is None


def test_a_trench_coat_is_a_raincoat_no_other_clothing_stands_in_for():
    tailoring = [{"item_id": f"a{n}", "title": title, "brand": "Vellani", "category": category, "price": price}
                 for n, (title, category, price) in enumerate([
                     ("Single-Breasted Blazer", "Tailored Blazers", 1190.0),
                     ("Cashmere Crewneck", "Cashmere Knitwear", 690.0), ("Silk Day Dress", "Day Dresses", 980.0)])]
    assert read("Do you have trench coats? A classic beige belted one.", tailoring).impossible == \
        "this catalogue has no trench coats"
    outerwear = tailoring + [{"item_id": "a9", "title": "Thornbury Trench Coat", "brand": "Kingsley",
                              "category": "Trench Coat", "price": 1350.0}]
    assert read("Do you have trench coats? A classic beige belted one.", outerwear).impossible is None
    assert read("a raincoat for London in April", outerwear).kinds == ["category=trench coat"]


def test_a_property_said_in_a_clause_after_the_thing_is_what_it_must_be():
    from backend.objects import unmet_values

    items = [{"item_id": f"d{n}", "title": title, "brand": brand, "category": category, "price": price,
              "attributes": {"origin": [origin], "material": [material]}}
             for n, (title, brand, category, origin, material, price) in enumerate([
                 ("Abysse Diving Watch", "Leman", "Diving Watch", "Switzerland", "steel", 7200.0),
                 ("Fondale Titanium Diving Watch", "Leman", "Diving Watch", "Switzerland", "titanium", 8400.0),
                 ("Seta Tie", "Lariane", "Tie", "Italy", "silk", 190.0)])]
    assert judged_by(unmet_values, "Is there a diving watch that's made in Italy rather than Switzerland?", items) \
        == "nothing here is diving watch that's made in italy"
    assert judged_by(unmet_values, "Is there a diving watch that's made in Switzerland?", items) is None
    assert judged_by(unmet_values, "a diving watch which is in titanium", items) is None
    # a property named alone elsewhere in the request is no other thing asked for
    assert judged_by(unmet_values, "Any diving watches made in Italy? I find titanium too light.", items) \
        == "nothing here is diving watches made in italy"


def test_a_category_name_less_its_last_kind_word_is_a_shorthand_for_it():
    items = [{"item_id": f"h{n}", "title": title, "brand": "Casa Varenna", "category": category, "price": price}
             for n, (title, category, price) in enumerate([
                 ("Brera Top-Handle Bag, Mini", "Top-Handle Bags", 1850.0), ("Lido Tote", "Totes", 990.0),
                 ("Evening Clutch", "Clutches", 1200.0), ("Silk Day Dress", "Day Dresses", 980.0)])]
    # "a top handle" is the top-handle bags; a two-word name keeps its whole ("a day" names no dress)
    assert read("a Casa Varenna top handle for 1500 max", items).categories == ["category=top-handle bags"]
    assert read("something for a day at the races", items).categories == []


def test_a_thing_someone_already_has_is_mentioned_not_asked_for():
    items = [{"item_id": f"k{n}", "title": title, "brand": brand, "category": category, "price": 300.0}
             for n, (title, brand, category) in enumerate([
                 ("Kawase Bifold Wallet", "Kawase", "Wallets"), ("Kawase Leather Belt", "Kawase", "Belts"),
                 ("Alpen Court Trainer", "Alpenfeld", "Trainers"), ("Silk Tie", "Seterie", "Ties")])]
    # the wallet is had, the trainers asked for (Kawase makes none of those)
    assert read("I've got a Kawase wallet and love it. Are there Kawase trainers too?", items).categories == \
        ["category=trainers"]
    assert read("My husband only wears Seterie ties; a belt to go with them?", items).categories == \
        ["category=belts"]
    # asking whether the shop has it is not having it; "have" followed by a purpose or a second clause neither
    assert read("Do you have a Kawase wallet?", items).categories == ["category=wallets"]
    assert read("Have you got trainers by Alpenfeld?", items).categories == ["category=trainers"]
    assert read("I have 300 to spend on a wallet", items).categories == ["category=wallets"]
    assert read("I have a silk tie and need a belt", items).categories == ["category=belts"]
    # a thing had that is all the request names stays what it asks about
    assert read("I already own a Kawase wallet, is there one in black?", items).categories == ["category=wallets"]


def test_a_property_of_a_kind_its_two_words_name_by_another_name_or_after_what_the_shop_has():
    from backend.objects import unmet_values

    items = [{"item_id": f"w{n}", "title": title, "brand": "Leman", "category": category, "price": 5000.0 + n,
              "attributes": {"origin": [origin]}}
             for n, (title, category, origin) in enumerate(
                 [(f"Abysse {n} Diving Watch", "Diving Watch", "Switzerland") for n in range(5)]
                 + [("Rivage Dress Watch", "Dress Watch", "Italy"), ("Orbe Chronograph Watch", "Chronograph", "Italy"),
                    ("Marea Jewellery Watch", "Jewellery Watch", "France"), ("Seta Dress", "Dress", "France"),
                    ("Lino Dress", "Dress", "Italy"), ("Court Trainer", "Trainers", "UK")])]
    # "watch" alone is spread over four categories; "dive watch" is another name of the diving watches
    assert judged_by(unmet_values, "Is there a dive watch that's made in Italy?", items) \
        == "nothing here is dive watch that's made in italy"
    assert judged_by(unmet_values, "a dive watch made in Switzerland", items) is None
    # "made in the UK"; a clause after what the shop has
    assert judged_by(unmet_values, "Can you show me the dresses you have that are made in the UK?", items) \
        == "nothing here is dresses you have that are made in the uk"
    assert judged_by(unmet_values, "the dresses you have that are made in France", items) is None
    # the titles say "Trainer": another name of sneakers, plural in the knowledge file
    assert judged_by(unmet_values, "Sneakers that are actually made in Spain?", items) \
        == "nothing here is sneakers that are actually made in spain"


def test_ruling_out_a_group_that_holds_the_named_category_rules_nothing_out():
    from types import SimpleNamespace

    from backend.live import _holds_a_named_category

    rows = {"category_group=silk": [0, 1, 2], "category=tie": [0, 1], "category=scarf": [3]}
    graphs = SimpleNamespace(rows_with=lambda node: rows.get(node, []))
    # "a tie in cashmere rather than silk": the silk group holds every tie, so the word says the material
    assert _holds_a_named_category("category_group=silk", ["category=tie"], graphs)
    assert not _holds_a_named_category("category=tie", ["category=scarf"], graphs)  # "a scarf, no ties"
    assert not _holds_a_named_category("material=silk", ["category=tie"], graphs)


def test_a_house_said_with_its_possessive_and_one_of_their_things():
    items = [{"item_id": f"t{n}", "title": title, "brand": brand, "category": category, "price": 400.0}
             for n, (title, brand, category) in enumerate([
                 ("Kaze Sneakers", "Tomonari", "Sneakers"), ("Kaze Coat", "Tomonari", "Coats"),
                 ("Duomo Loafers", "Aldobrandi", "Loafers"), ("Arno Blazer", "Halden", "Blazers")])]
    q = read("I love Tomonari's sneakers. Do they make loafers as well?", items)
    assert q.houses == ["brand=tomonari"] and q.categories == ["category=loafers"]
    assert read("looking for men's sneakers", items).houses == []  # a possessive that names no house
    # "one of their blazers" asks for the house's blazers; "their" alone still says whose
    assert read("Does Halden do tailoring? I'd love one of their blazers.", items).categories == ["category=blazers"]
    assert read("a coat to go with their blazers", items).categories == ["category=coats"]


def test_a_property_word_counts_only_for_an_attribute_the_kind_has():
    from backend.objects import unmet_values

    items = [{"item_id": "g1", "title": "Murano Tumblers, Set of 6, Assorted Colours", "brand": "Sereni",
              "category": "Glassware", "price": 140.0, "attributes": {"colour": ["amber", "teal"]}},
             {"item_id": "g2", "title": "Crystal Tumblers, Pair", "brand": "Aubrac", "category": "Glassware",
              "price": 120.0, "attributes": {"colour": ["clear"]}},
             {"item_id": "e1", "title": "Evening Tea Blend", "brand": "Dane", "category": "Tea", "price": 18.0,
              "attributes": {"caffeine": ["mixed"]}},
             {"item_id": "c1", "title": "Nuit Clutch", "brand": "Olmedo", "category": "Clutches", "price": 900.0,
              "attributes": {"material": ["satin"]}},
             {"item_id": "b1", "title": "Playa Basket Bag", "brand": "Olmedo", "category": "Totes", "price": 500.0,
              "attributes": {"material": ["raffia"]}}]
    # "mixed" is a value of the teas' caffeine, which no tumbler says
    assert judged_by(unmet_values, "Sereni tumblers in mixed colours", items) is None
    assert judged_by(unmet_values, "a clutch woven in raffia", items) == "nothing here is clutch woven in raffia"
    assert judged_by(unmet_values, "a clutch that is really woven in satin", items) is None


def test_a_noun_phrase_ends_at_a_price_verb_and_a_sentence_opening_with_we_is_no_thing():
    from backend.objects import priced_out

    items = [{"item_id": f"l{n}", "title": f"Irish Linen Tablecloth, {size}", "brand": "Linfield",
              "category": "Table Dressing", "price": price} for n, (size, price) in enumerate([("150 cm", 135.0), ("180 cm", 165.0)])] + \
            [{"item_id": "n1", "title": "Linen Napkins, Set of 4", "brand": "Linfield",
              "category": "Table Dressing", "price": 58.0}]
    text = "We host Sunday lunch for the family. Is there a linen tablecloth costing no more than £100?"
    assert judged_by(priced_out, text, items) == "nothing here within 100 is tablecloth"
    assert judged_by(priced_out, "a linen tablecloth costing no more than £150", items) is None
    assert judged_by(priced_out, "Linen tablecloth for six. Budget £100-£120.", items) == \
        "nothing here within 120 is tablecloth"  # "Budget" opens a sentence but is no thing
    items.append({"item_id": "c1", "title": "Cashmere Throw", "brand": "Caird", "category": "Throws", "price": 390.0})
    text = "We have a Caird throw on every sofa. Do they make a tablecloth?"
    assert read(text, items).asked == ["tablecloth"]  # no "make"
    assert read("As the evenings get colder I want a tablecloth.", items).asked == ["tablecloth"]  # no "evenings"
    assert read("Tablecloth for under 150? Going to Rome for a week.", items).asked == ["tablecloth"]  # no "going"
    low = "a gift for my partner, he doesn't drink tea"
    assert negated(low, low.index("tea"), K.negations)
    assert judged_by(priced_out, text, items) == "nothing here by caird is tablecloth"


PEARLS = [{"item_id": "p1", "title": "Akoya Pearl Studs", "brand": "Lunaria", "category": "Fine Jewellery",
           "price": 690.0},
          {"item_id": "p2", "title": "Gold Chain Necklace", "brand": "Lunaria", "category": "Fine Jewellery",
           "price": 1200.0}]


def test_gifts_received_lengths_of_time_and_things_a_purpose_carries_are_not_asked_for():
    q = read("My father gave me a Vell ankle boot last year; now I'd like a silk scarf", LUXURY)
    assert "category=scarf" in q.categories and q.houses == []  # a gift received is had
    assert "category=scarf" in read("I want to give her a scarf", LUXURY).categories  # giving, not given
    assert "category=tote" in read("She gave me the idea: a tote", LUXURY).categories  # no thing after it
    assert read("ten days in Capri in August! a silk scarf please", LUXURY).asked == ["silk scarf"]
    assert read("a tote to carry two laptops", LUXURY).asked == ["tote"]  # what the tote carries
    assert read("a tote, and we want to buy two laptops", LUXURY).asked == ["tote", "two laptops"]
    low = "summer evenings without socks: suede loafers"
    assert not negated(low, low.index("suede"), K.negations)  # a colon ends what "without" rules out
    assert negated("no socks or suede", 12, K.negations)
    assert priced_out_reason("pearl stud earrings, 700 max per pair", PEARLS) is None  # studs are earrings
    assert priced_out_reason("pearl earrings under 500", PEARLS) == "nothing here within 500 is earrings"


def test_a_material_is_held_by_its_narrower_names():
    from backend.objects import unmet_values

    goods = [{"item_id": "c1", "title": "Ponte Card Holder", "brand": "Vellani", "category": "card holder",
              "price": 310.0, "description": "Black grained calfskin, hand-stitched.",
              "attributes": {"material": "grained calfskin", "colour": "black"}},
             {"item_id": "c2", "title": "Riva Wallet", "brand": "Vellani", "category": "wallet", "price": 420.0,
              "attributes": {"material": "leather", "colour": "tan"}},
             {"item_id": "c3", "title": "Canvas Tote", "brand": "Vellani", "category": "tote", "price": 200.0,
              "attributes": {"material": "canvas", "colour": "black"}}]
    assert judged_by(unmet_values, "a black leather card holder", goods) is None  # calfskin is leather
    assert judged_by(unmet_values, "a leather tote", goods) == "nothing here is leather tote"
    assert judged_by(unmet_values, "a calfskin wallet", goods) == "nothing here is calfskin wallet"  # not the other way
    from backend.verify import hard_violations

    vegan = read("a card holder for my vegan sister, no leather please", goods)
    assert vegan.must_not == ["material=leather"] and "calfskin" in vegan.must_not_also  # and what it rules out
    assert hard_violations(goods[0], vegan.to_dict()) == ["calfskin, which was ruled out"]
    assert not any("ruled out" in reason for reason in hard_violations(goods[2], vegan.to_dict()))  # canvas
    assert read("no calfskin please", goods).must_not_also == []  # a narrower name rules out no wider one


def test_a_range_an_item_states_holds_the_numbers_inside_it():
    from backend.measures import item_numbers
    from backend.objects import unmet_measure

    blazers = [{"item_id": "b1", "title": "Navy Barathea Blazer", "brand": "Halden", "category": "Blazers",
                "price": 1190.0, "attributes": {"size range": "UK 6-18", "colour": "navy"}}]
    assert item_numbers(blazers[0], K) == {"uk": [6.0, 18.0]}  # the end in the unit of the start
    assert judged_by(unmet_measure, "a navy blazer, UK 12", blazers) is None
    assert judged_by(unmet_measure, "a navy blazer, UK 24", blazers) == "nothing here that is blazers has uk 24"
    shoes = [{"item_id": "s1", "title": "Road Shoe", "brand": "Maglia", "category": "Shoes", "price": 300.0,
              "attributes": {"sizes": "EU 39-47"}}]
    assert judged_by(unmet_measure, "cycling shoes in EU 49?", shoes) == "nothing here that is cycling shoes has eu 49"


ORIGINS = [{"item_id": "w1", "title": "Orbe Dress Watch", "brand": "Brugger", "category": "dress watch",
            "price": 4200.0, "attributes": {"origin": "Switzerland", "material": "steel", "category_group": "watches"}},
           {"item_id": "w2", "title": "Rhone Diving Watch", "brand": "Leman", "category": "diving watch",
            "price": 3900.0, "attributes": {"origin": "Switzerland", "material": "titanium",
                                                  "category_group": "watches"}},
           {"item_id": "w3", "title": "Jura Chronograph", "brand": "Leman", "category": "chronograph", "price": 5100.0,
            "attributes": {"origin": "Switzerland", "category_group": "watches"}},
           {"item_id": "w4", "title": "Alpine Field Watch", "brand": "Leman", "category": "field watch",
            "price": 2100.0, "attributes": {"origin": "Switzerland", "category_group": "watches"}},
           {"item_id": "p1", "title": "Heritage Fountain Pen", "brand": "Clerk", "category": "Writing Instruments",
            "price": 240.0, "attributes": {"origin": "UK"}},
           {"item_id": "t1", "title": "Sencha Green Tea, 100 g", "brand": "Hoshi", "category": "Tea", "price": 24.0,
            "attributes": {"origin": "Japan", "tea type": "green tea"}},
           {"item_id": "t2", "title": "Earl Grey, Loose Tea Caddy", "brand": "Hoshi", "category": "Tea", "price": 21.0,
            "attributes": {"origin": "China", "tea type": "black tea"}},
           {"item_id": "t3", "title": "Linen Tea Towels", "brand": "Caird", "category": "Table Linen", "price": 30.0},
           {"item_id": "t4", "title": "Chocolate & Tea Hamper", "brand": "Cacao", "category": "Chocolate",
            "price": 90.0},
           {"item_id": "g1", "title": "Murano Tumblers, Set of 6", "brand": "Vetri", "category": "Glassware",
            "price": 180.0, "attributes": {"origin": "Italy"}},
           {"item_id": "c1", "title": "Cashmere Throw, Oatmeal", "brand": "Caird", "category": "Throws",
            "price": 390.0, "attributes": {"origin": "Scotland"}},
           {"item_id": "k1", "title": "Figuier Scented Candle", "brand": "Verlaine", "category": "Candles", "price": 58.0,
            "description": "Fig leaf and Italian bergamot.", "attributes": {"origin": "France"}},
           {"item_id": "k2", "title": "Murano Candle Holder", "brand": "Vetri", "category": "Glassware", "price": 85.0,
            "attributes": {"origin": "Italy"}}]


@pytest.mark.parametrize("text, refused", [
    ("a dress watch made in Japan", True), ("a Japanese-made dress watch", True), ("a dress watch from Japan", True),
    ("Is there an Italian-made fountain pen?", True), ("Loose tea from Korea, please", True), ("loose tea from China", False),
    ("green tea from Japan", False), ("a Swiss-made dress watch", False), ("a dress watch from Brugger", False),
    ("a fountain pen, my father was from Italy", False), ("a throw made in the UK", False),
    ("a British-made throw", False), ("a throw made in Italy", True),
    ("any dress watches made in Japan?", True), ("dress watches made in Switzerland?", False),
    ("a scented candle made in Italy", True), ("a candle made in France", False)])  # said where it is made
def test_an_origin_said_as_an_adjective_or_after_from_is_a_property(text, refused):
    from backend.objects import unmet_values

    assert (judged_by(unmet_values, text, ORIGINS) is not None) == refused


def test_a_word_naming_an_attribute_is_no_value_of_it():
    from backend.objects import unmet_values

    shoes = [{"item_id": "s1", "title": "Pedalis Carbon Race Road Shoe", "brand": "Pedalis", "category": "Road Shoes",
              "price": 349.0, "description": "Stiff full-carbon sole.",
              "attributes": {"sizes": "EU 38-47", "colour": "black", "material": "full carbon sole"}},
             {"item_id": "s2", "title": "Gravel Boot", "brand": "Pedalis", "category": "Gravel Boots", "price": 199.0,
              "attributes": {"sizes": "One size", "colour": "grey", "material": "nylon sole"}}]
    assert judged_by(unmet_values, "Carbon-soled road shoes in size 47?", shoes) is None  # "size" says which
    assert judged_by(unmet_values, "road shoes in grey", shoes) == "nothing here is road shoes in grey"


def test_lists_refusals_of_a_thing_and_plural_forms():
    assert stem("scarves") == "scarf" and stem("sleeves") == "sleeve"
    text = "Packing list:\n- white sneakers (have)\n- cognac tote (NEED, under 4000)"
    assert [p["words"] for p in read(text, LUXURY).pairings] == ["cognac tote"]  # the sneakers are had
    assert read("He refuses to take a tote. Is there a scarf?", LUXURY).asked == ["scarf"]  # ruled out, not asked


def test_a_country_said_by_another_of_its_words_is_no_wrong_fact():
    throws = [{"item_id": f"c{n}", "title": f"Cashmere Throw {n}", "brand": "Caird", "category": "Throws",
               "price": 390.0, "attributes": {"origin": "Scotland"}} for n in range(3)]
    assert read("Is there a Caird throw? I'm Scottish and it would be a nice touch", throws).wrong_fact is None
    assert read("the Italian house Caird: a throw", throws).wrong_fact["claimed"] == "Italy"


def test_titles_holding_a_name_are_found_through_the_word_index_in_title_order():
    from collections import Counter

    from backend.objects import ShopKinds

    titles = {"a": " navi dinner jacket ", "b": " jacket dinner ", "c": " dinner jacket wool ", "d": " scarf "}
    kinds = ShopKinds([], np.zeros((0, 384)), np.zeros(0, bool), set(), titles, {}, set(), {}, {}, Counter())
    names = [" dinner jacket ", " scarf "]
    assert kinds.titled(names) == [i for i, text in titles.items() if any(n in text for n in names)] == ["a", "c", "d"]
    assert kinds.titled([" tie "]) == [] and kinds.titled([" jacket dinner "]) == ["b"]
