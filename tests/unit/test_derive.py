"""Attributes derived from an item's title and description (catalog.derive)."""

import copy

import pytest

from catalog.derive import (
    CATEGORY_GROUPS,
    CATEGORY_WORDS,
    COLOURS,
    MATERIALS,
    derive_attributes,
    derive_catalogue,
    derive_vocabulary,
    find_brand,
    find_category,
    find_colours,
    find_materials,
)

BRANDS = ["Saint Laurent", "Laurent", "Hermès", "Gucci"]


# ----------------------------------------------------------------------------------------------
# Brand


def test_brand_is_the_longest_known_brand_in_the_title():
    item = derive_attributes({"title": "Saint Laurent Kate chain wallet"}, BRANDS)
    assert item["brand"] == "Saint Laurent"


def test_brand_is_matched_ignoring_case_and_accents_and_spelled_as_known():
    assert find_brand("HERMES Kelly 28", BRANDS) == "Hermès"
    assert find_brand("Silk carré by gucci", BRANDS) == "Gucci"


def test_brand_must_be_a_whole_word():
    assert find_brand("Guccione leather belt", BRANDS) is None


def test_no_brand_is_added_when_none_is_named():
    item = derive_attributes({"title": "Black leather tote"}, BRANDS)
    assert "brand" not in item


def test_brand_comes_from_the_title_only():
    item = derive_attributes({"title": "Leather tote", "description": "In the spirit of Gucci."}, BRANDS)
    assert "brand" not in item


# ----------------------------------------------------------------------------------------------
# Category


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Black calfskin shoulder bag", ("shoulder bag", "bags")),
        ("Horsebit loafers", ("loafer", "shoes")),
        ("Silk twill carré 90", ("scarf", "silk")),
        ("Diamond pendant necklace", ("necklace", "jewellery")),
        ("Steel chronograph", ("chronograph", "watches")),
        ("Double-breasted wool coat", ("coat", "ready-to-wear")),
        ("Leather key ring", ("key ring", "small-leather-goods")),
        ("Calfskin card holder", ("card holder", "small-leather-goods")),
        ("Cat-eye acetate sunglasses", ("sunglasses", "eyewear")),
        ("Top handle bag", ("top-handle bag", "bags")),
        ("Tote Bags", ("tote", "bags")),
    ],
)
def test_category_and_group_from_title(title, expected):
    item = derive_attributes({"title": title})
    assert (item["category"], item["attributes"]["category_group"]) == expected


def test_the_last_category_word_of_a_title_wins():
    # the head noun of an English product title comes last
    assert find_category("Dress watch") == ("watch", "watches")
    assert find_category("Shirt dress") == ("dress", "ready-to-wear")


def test_category_falls_back_to_the_first_one_in_the_description():
    item = derive_attributes({"title": "The Jackie 1961",
                              "description": "A hobo bag with room for a wallet."})
    assert item["category"] == "hobo bag"
    assert item["attributes"]["category_group"] == "bags"


def test_no_category_when_the_text_names_none():
    item = derive_attributes({"title": "The Jackie 1961"})
    assert "category" not in item
    assert "category_group" not in item["attributes"]


def test_category_words_map_to_known_groups():
    assert {group for _, group in CATEGORY_WORDS.values()} == set(CATEGORY_GROUPS)


# ----------------------------------------------------------------------------------------------
# Materials and colours


def test_white_gold_is_one_material_and_plain_gold_another():
    assert find_materials("18k white gold ring set with diamonds") == ["white gold", "diamond"]
    assert find_materials("Gold and white enamel bracelet") == ["gold", "enamel"]


def test_materials_in_order_of_appearance_without_repeats():
    text = "Suede loafers with a leather sole. Suede upper, leather lining."
    assert find_materials(text) == ["suede", "leather"]


def test_material_words_inside_other_words_or_phrases_are_not_materials():
    assert find_materials("Lace-up boots, calf-length") == []
    assert find_materials("Silken finish") == []
    assert find_materials("Black bag with gold-tone hardware") == ["metal"]


def test_colours_whole_words_multi_word_first():
    assert find_colours("Sky blue and navy blue silk, with a black trim") == ["sky blue", "navy", "black"]
    assert find_colours("Sandals in tan") == ["tan"]  # "sand" is not found inside "Sandals"
    assert find_colours("Grey / gray flannel") == ["grey"]


def test_derive_fills_material_colour_and_season_lists():
    item = derive_attributes({"title": "Navy linen blazer", "description": "Unlined, in Irish linen."})
    assert item["attributes"]["material"] == ["linen"]
    assert item["attributes"]["colour"] == ["navy"]
    assert item["attributes"]["season"] == ["spring", "summer"]


def test_season_hint_from_winter_materials():
    item = derive_attributes({"title": "Cashmere and wool cardigan"})
    assert item["attributes"]["season"] == ["autumn", "winter"]


def test_vocabularies_are_lowercase_and_without_repeats():
    for vocabulary in (MATERIALS, COLOURS):
        assert len(set(vocabulary)) == len(vocabulary)
        assert all(term == term.lower() for term in vocabulary)


# ----------------------------------------------------------------------------------------------
# Never overwrite


def test_stated_values_are_never_overwritten():
    item = {
        "title": "Gucci black leather loafers",
        "brand": "Maison X",
        "category": "Moccasins",
        "description": "Linen lined.",
        "attributes": {"material": ["Calf"], "colour": "Noir", "season": ["all"], "category_group": "shoes"},
    }
    derived = derive_attributes(item, BRANDS)
    assert derived["brand"] == "Maison X"
    assert derived["category"] == "Moccasins"
    assert derived["attributes"] == item["attributes"]


def test_the_input_item_is_not_modified():
    item = {"title": "Gucci black leather loafers", "attributes": {"origin": "Italy"}}
    before = copy.deepcopy(item)
    derived = derive_attributes(item, BRANDS)
    assert item == before
    assert derived is not item and derived["attributes"] is not item["attributes"]
    assert derived["attributes"]["origin"] == "Italy"


def test_group_is_filled_from_a_stated_category():
    def group(category):
        return derive_attributes({"title": "Kelly", "category": category})["attributes"]["category_group"]

    assert group("Bags") == "bags"
    assert group("Loafers") == "shoes"
    assert group("Small leather goods") == "small-leather-goods"


def test_category_from_text_that_contradicts_a_stated_group_is_not_added():
    item = derive_attributes({"title": "Dress watch", "attributes": {"category_group": "ready-to-wear"}})
    assert "category" not in item
    assert item["attributes"]["category_group"] == "ready-to-wear"


def test_a_catalogue_the_category_words_do_not_describe_keeps_its_own_categories():
    # a cycling shop: three of seven items carry a fashion word, and its "Pumps" are bike pumps
    shop = [{"title": "Track Floor Pump", "category": "Pumps"}, {"title": "Club Road Shoe", "category": "Road Shoes"},
            {"title": "Strada Disc", "category": "Road Bike"}, {"title": "Tundra E", "category": "E-Bike"},
            {"title": "Aero 50 wheelset", "category": "Road Wheels"}, {"title": "Frame bag"},
            {"title": "Tubeless sealant"}]
    derived = derive_catalogue(shop)
    assert all("category_group" not in item["attributes"] for item in derived)
    assert [item.get("category") for item in derived] == [item.get("category") for item in shop]


def test_a_fashion_catalogue_gets_categories_and_groups_from_the_category_words():
    house = [{"title": "Kelly", "category": "Bags"}, {"title": "Oran", "category": "Sandals"},
             {"title": "Silk twill scarf"}, {"title": "Pumps in red", "category": "Pumps"}, {"title": "Gift card"}]
    derived = derive_catalogue(house)
    assert [item["attributes"].get("category_group") for item in derived] == [
        "bags", "shoes", "silk", "shoes", None]
    assert derived[2]["category"] == "scarf"


def test_empty_values_count_as_missing():
    item = derive_attributes({"title": "Gucci red pumps", "brand": " ", "attributes": {"colour": []}}, BRANDS)
    assert item["brand"] == "Gucci"
    assert item["attributes"]["colour"] == ["red"]


# ----------------------------------------------------------------------------------------------
# Vocabulary


def test_vocabulary_lists_distinct_values_of_every_attribute():
    items = [
        {"title": "a", "brand": "Gucci", "category": "loafer",
         "attributes": {"material": ["suede", "leather"], "origin": "Italy", "category_group": "shoes"}},
        {"title": "b", "brand": "Celine", "attributes": {"material": ["leather"], "origin": "France"}},
        {"title": "c", "attributes": {"colour": [], "occasion": ["evening"]}},
    ]
    assert derive_vocabulary(items) == {
        "brand": ["Celine", "Gucci"],
        "category": ["loafer"],
        "category_group": ["shoes"],
        "material": ["leather", "suede"],
        "occasion": ["evening"],
        "origin": ["France", "Italy"],
    }


def test_vocabulary_of_no_items_is_empty():
    assert derive_vocabulary([]) == {}
