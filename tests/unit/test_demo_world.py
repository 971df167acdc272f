"""The demo world generator (catalog.demo): determinism, integrity, coherence, relevance, splits."""

from __future__ import annotations

import collections
import json
import re
import statistics
import time

import pytest

from catalog.demo import DemoWorld, generate_world
from catalog.demo.crafts import craft_fits
from catalog.demo.houses import HOUSE_BY_NAME
from catalog.demo.phrasing import POOLS, SEED_TEXT
from catalog.demo.places import CLIMATE_SEASONS, implied_context
from catalog.demo.queries import TYPE_SHARES
from catalog.demo.relevance import disliked, judge, taste_score
from catalog.demo.vocab import CATEGORIES, FORMALITY, MATERIALS, OCCASIONS, PALETTE_OF
from catalog.derive import CATEGORY_GROUPS
from catalog.errors import ConciergeError

SMALL = {"n_items": 200, "n_clients": 40, "n_queries": 150}
TYPES = set(TYPE_SHARES)
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture(scope="module")
def world() -> DemoWorld:
    return generate_world(seed=7, **SMALL)


@pytest.fixture(scope="module")
def full_world() -> tuple[DemoWorld, float]:
    start = time.perf_counter()
    built = generate_world(seed=7)
    return built, time.perf_counter() - start


@pytest.fixture(params=["small", "full"])
def each_world(request) -> DemoWorld:
    """The small world, then the full-size one (for the cheap checks worth running on both)."""
    if request.param == "small":
        return request.getfixturevalue("world")
    return request.getfixturevalue("full_world")[0]


def _dump(w: DemoWorld) -> str:
    rows = [w.items, w.clients, w.interactions, w.queries, w.houses, w.tastes]
    return json.dumps(rows, sort_keys=True, ensure_ascii=False)


def _items(w: DemoWorld) -> dict[str, dict]:
    return {i["item_id"]: i for i in w.items}


# ----------------------------------------------------------------------------------------------
# Determinism and arguments


def test_same_seed_gives_byte_identical_world(world):
    again = generate_world(seed=7, **SMALL)
    assert _dump(again) == _dump(world)
    assert again.template_ids == world.template_ids


def test_another_seed_gives_another_world(world):
    other = generate_world(seed=8, **SMALL)
    assert _dump(other) != _dump(world)
    assert [i["title"] for i in other.items] != [i["title"] for i in world.items]


def test_sizes_out_of_range_raise_a_concierge_error():
    with pytest.raises(ConciergeError, match="n_items"):
        generate_world(seed=1, n_items=2, n_clients=5, n_queries=5)


def test_requested_sizes_are_honoured(world):
    assert len(world.items) == SMALL["n_items"]
    assert len(world.clients) == SMALL["n_clients"]
    assert len(world.queries) == SMALL["n_queries"]
    assert set(world.tastes) == {c["client_id"] for c in world.clients}


# ----------------------------------------------------------------------------------------------
# Ids and references


def test_ids_are_unique_and_well_formed(each_world):
    for rows, key, pattern in (
        (each_world.items, "item_id", r"^dm-\d{6}$"),
        (each_world.clients, "client_id", r"^c-\d{4}$"),
        (each_world.queries, "query_id", r"^q-\d{5}$"),
    ):
        ids = [r[key] for r in rows]
        assert len(ids) == len(set(ids))
        assert all(re.match(pattern, i) for i in ids)


def test_interactions_reference_existing_clients_and_items(each_world):
    items, clients = set(_items(each_world)), {c["client_id"] for c in each_world.clients}
    assert each_world.interactions
    for row in each_world.interactions:
        assert set(row) == {"client_id", "item_id", "timestamp", "kind", "value"}
        assert row["client_id"] in clients and row["item_id"] in items
        assert row["kind"] in {"purchase", "wishlist", "view", "return", "rating"}
        assert ISO.match(row["timestamp"]) and "2023-01-01" <= row["timestamp"] <= "2026-09-30T23:59:59Z"
        assert isinstance(row["value"], float)
        assert 1.0 <= row["value"] <= 5.0 if row["kind"] == "rating" else row["value"] == 1.0


def test_every_return_follows_a_purchase_of_the_same_item(world):
    bought = {}
    for row in sorted(world.interactions, key=lambda r: r["timestamp"]):
        key = (row["client_id"], row["item_id"])
        if row["kind"] == "purchase":
            bought[key] = row["timestamp"]
        if row["kind"] == "return":
            assert key in bought and bought[key] < row["timestamp"]


def test_queries_come_after_the_clients_history(each_world):
    last = collections.defaultdict(str)
    for row in each_world.interactions:
        last[row["client_id"]] = max(last[row["client_id"]], row["timestamp"])
    for q in each_world.queries:
        assert ISO.match(q["timestamp"]) and q["timestamp"] > last[q["client_id"]]
        assert q["timestamp"] <= "2026-09-30T23:59:59Z"


def test_relevant_items_exist_and_grades_are_1_to_3(each_world):
    items = _items(each_world)
    for q in each_world.queries:
        for item_id, grade in q["relevant"].items():
            assert item_id in items
            assert grade in (1, 2, 3)


def test_impossible_queries_have_no_answer_and_the_others_one_to_ten(each_world):
    assert any(q["type"] == "impossible" for q in each_world.queries)
    for q in each_world.queries:
        if q["type"] == "impossible":
            assert q["relevant"] == {}
        else:
            assert 1 <= len(q["relevant"]) <= 10, q


def test_query_rows_have_the_bundle_fields(each_world):
    for q in each_world.queries:
        assert set(q) == {"query_id", "client_id", "text", "timestamp", "split", "type", "relevant", "facets"}
        assert q["type"] in TYPES and q["split"] in {"train", "val", "test"}
        assert q["text"] and q["text"][0].isupper() and "{" not in q["text"] and "  " not in q["text"]


# ----------------------------------------------------------------------------------------------
# Relevance comes from the facets, the hidden taste and the item facts


def test_relevance_is_recomputed_from_facets_alone(world):
    for q in world.queries:
        recomputed = judge(q["facets"], world.tastes[q["client_id"]], world.items)
        assert recomputed == q["relevant"], q["query_id"]


def test_relevant_items_meet_the_need_and_avoid_the_clients_dislikes(world):
    items = _items(world)
    for q in world.queries:
        f, taste = q["facets"], world.tastes[q["client_id"]]
        for item_id in q["relevant"]:
            item = items[item_id]
            a = item["attributes"]
            assert not disliked(item, taste)
            assert f["category"] in (None, item["category"])
            assert f["budget_max"] is None or item["price"] <= f["budget_max"]
            assert all(o in a["occasion"] for o in f["occasions"])
            for context in f["contexts"]:
                if context["climate"]:
                    assert set(a["season"]) & set(CLIMATE_SEASONS[context["climate"]])
            if f["wet"] and CATEGORIES[item["category"]].exposed:
                assert all(MATERIALS[m].rain for m in a["material"])


def test_grades_follow_the_taste_score(world):
    for q in world.queries:
        taste = world.tastes[q["client_id"]]
        by_grade = collections.defaultdict(list)
        for item_id, grade in q["relevant"].items():
            by_grade[grade].append(taste_score(_items(world)[item_id], taste))
        grades = sorted(by_grade)
        for low, high in zip(grades, grades[1:]):
            assert max(by_grade[low]) < min(by_grade[high])


def test_misinformed_queries_are_graded_on_the_real_need(each_world):
    items = _items(each_world)
    misinformed = [q for q in each_world.queries if q["type"] == "misinformed"]
    assert misinformed
    for q in misinformed:
        wrong = q["facets"]["wrong_fact"]
        assert wrong and wrong["claimed"] != wrong["actual"]
        relevant = [items[i] for i in q["relevant"]]
        if wrong["kind"] == "material":
            # "waterproof suede": the real need is rain-proof shoes, so no suede is relevant.
            assert all(wrong["subject"] not in i["attributes"]["material"] for i in relevant)
        else:
            assert q["facets"]["origin"] is None
            assert all(i["brand"] == wrong["subject"] == q["facets"]["house"] for i in relevant)
            house = HOUSE_BY_NAME[wrong["subject"]]
            assert wrong["actual"] == (house.country if wrong["kind"] == "origin" else house.craft)


def test_a_summer_wedding_in_tuscany_implies_heat_daylight_and_formality():
    context = implied_context("wedding", "Tuscany", "summer")
    assert (context["climate"], context["time"], context["setting"]) == ("hot", "daytime", "outdoor")
    assert context["formality"] == ["formal", "black-tie"]
    assert "dark" not in context["palette"]
    milan = implied_context("business dinner", "Milan", "autumn")
    assert milan["time"] == "evening" and milan["formality"] == ["formal"]
    assert milan["palette"] == ["dark", "neutral"]


def test_the_seed_request_is_asked_and_answered(each_world):
    seeds = [q for q in each_world.queries if q["text"] == SEED_TEXT]
    assert len(seeds) == 1
    q = seeds[0]
    assert q["type"] == "multi_occasion" and q["relevant"]
    assert q["facets"]["places"] == ["Tuscany", "Milan"] and q["facets"]["origin"] == "Italy"
    for item_id in q["relevant"]:
        a = _items(each_world)[item_id]["attributes"]
        assert a["category_group"] == "bags" and a["origin"] == "Italy" and a["branding"] == "discreet"
        assert "summer" in a["season"] and {"wedding", "business dinner"} <= set(a["occasion"])
        assert a["formality"] == "formal" and a["palette"] == "neutral"


# ----------------------------------------------------------------------------------------------
# Splits and held-out phrasing


def test_splits_are_by_client_and_test_clients_never_train(each_world):
    split_of = {}
    for q in each_world.queries:
        assert split_of.setdefault(q["client_id"], q["split"]) == q["split"]
    train = {c for c, s in split_of.items() if s == "train"}
    test = {c for c, s in split_of.items() if s == "test"}
    assert train and test and not (train & test)


def test_each_split_is_phrased_only_with_its_own_pool(each_world):
    used = collections.defaultdict(set)
    for q in each_world.queries:
        template = each_world.template_ids[q["query_id"]]
        if template == "seed:example":
            assert q["split"] != "test"  # the engine's worked example is never a test query
            continue
        assert re.fullmatch(rf"[a-z:_-]+:{q['split']}\d+", template), (q["split"], template)
        used[q["split"]].add(template)
    assert used["train"] and used["val"] and used["test"]
    assert not (used["train"] & used["val"]) and not (used["train"] & used["test"]) and not (used["val"] & used["test"])


def _fragments(frame: str) -> list[str]:
    """The literal runs of a template that are at least three words long."""
    parts = (p.strip(" .,;:?!") for p in re.split(r"\{[^}]+\}", frame))
    return [p.lower() for p in parts if len(p.split()) >= 3]


def _pool_wording(pool: str) -> set[str]:
    """Every template fragment and small phrase of three words or more of one pool."""
    w = POOLS[pool]
    frames = [frame for pairs in w.templates.values() for _, frame in pairs]
    frames += [*w.when, *w.season_only, *w.occasion_only, *w.budget_inline, *w.budget_sentence, *w.origin,
               *w.must_not, *w.items.values(), *w.groups.values(), *w.things.values(), *w.claims.values(),
               w.trip, w.visit, w.season_fallback, w.anytime]
    frames += [phrase for phrases in w.occasions.values() for phrase in phrases]
    frames += [phrase for phrases in w.branding.values() for phrase in phrases]
    frames += [name for names in w.places.values() for name in names]
    return {frag for frame in frames for frag in _fragments(frame)}


@pytest.mark.parametrize("size", ["world", "full_world"])
def test_no_split_contains_another_splits_wording(size, request):
    built = request.getfixturevalue(size)
    queries = (built[0] if isinstance(built, tuple) else built).queries
    wording = {pool: _pool_wording(pool) for pool in POOLS}
    assert all(len(fragments) > 40 for fragments in wording.values())
    for q in queries:
        if q["text"] == SEED_TEXT:
            continue
        text = q["text"].lower()
        for pool, fragments in wording.items():
            if pool != q["split"]:
                assert not any(frag in text for frag in fragments), (pool, q["text"])


def test_every_type_has_six_templates_in_both_voices_and_every_pool_has_some():
    per_type, voices = collections.Counter(), collections.defaultdict(set)
    keys = {pool: set(wording.templates) for pool, wording in POOLS.items()}
    assert keys["train"] == keys["val"] == keys["test"]
    for pool, wording in POOLS.items():
        for key, pairs in wording.templates.items():
            assert pairs, (pool, key)
            qtype = key.split(":")[0]
            per_type[qtype] += len(pairs)
            voices[qtype] |= {voice for voice, _ in pairs}
    assert set(per_type) == TYPES
    assert all(n >= 6 for n in per_type.values())
    assert all(v == {"first", "assoc"} for v in voices.values())


# ----------------------------------------------------------------------------------------------
# Items are coherent


def test_item_rows_have_the_bundle_fields(each_world):
    for item in each_world.items:
        assert set(item) == {"item_id", "title", "brand", "category", "price", "currency", "description",
                             "attributes"}
        assert set(item["attributes"]) == {
            "category_group", "material", "colour", "palette", "season", "occasion", "formality", "branding",
            "origin", "craft",
        }
        assert item["currency"] == "EUR" and isinstance(item["price"], float) and item["price"] > 0
        assert item["title"].startswith(item["brand"] + " ")
        assert item["title"].endswith(CATEGORIES[item["category"]].noun)


def test_seasons_follow_the_materials(each_world):
    for item in each_world.items:
        a = item["attributes"]
        assert a["season"]
        if set(a["material"]) & {"linen", "raffia", "jute", "silk chiffon"}:
            assert set(a["season"]) <= {"spring", "summer"}, item
        if set(a["material"]) & {"shearling", "cashmere", "wool", "tweed", "velvet"}:
            assert set(a["season"]) <= {"autumn", "winter"}, item
        if item["category"] in ("sandal", "heeled sandal", "espadrille"):
            assert "suede" not in a["material"] and set(a["season"]) <= {"spring", "summer"}


def test_formality_bounds_the_occasions(each_world):
    for item in each_world.items:
        a = item["attributes"]
        level = FORMALITY.index(a["formality"])
        assert a["occasion"]
        for occasion in a["occasion"]:
            low, high = OCCASIONS[occasion].formality
            assert low <= level <= high
            assert occasion in CATEGORIES[item["category"]].occasions
        if a["formality"] == "black-tie":
            assert set(a["occasion"]) <= {"wedding", "opera", "gala"}
        for material in a["material"]:
            m_low, m_high = MATERIALS[material].formality
            assert m_low <= level <= m_high


def test_colours_palette_group_origin_and_craft_agree(each_world):
    countries = {h["country"] for h in each_world.houses}
    for item in each_world.items:
        a = item["attributes"]
        assert a["palette"] == PALETTE_OF[a["colour"][0]]
        assert a["category_group"] == CATEGORIES[item["category"]].group
        assert a["origin"] in countries
        if a["craft"] == HOUSE_BY_NAME[item["brand"]].craft:
            assert craft_fits(a["craft"], item["category"], a["material"])


def test_descriptions_state_the_material_and_the_craft_and_vary(each_world):
    for item in each_world.items:
        text = item["description"].lower()
        assert item["attributes"]["material"][0] in text
        assert item["attributes"]["craft"].lower() in text
    openings = collections.Counter(i["description"].split(" ", 3)[:3][0] for i in each_world.items)
    assert len({i["description"] for i in each_world.items}) == len(each_world.items)
    assert len(openings) >= 4


# ----------------------------------------------------------------------------------------------
# Clients and histories


def test_clients_show_a_partial_view_of_a_complete_hidden_taste(world):
    keys = {"favourite_houses", "palette", "colours", "materials", "branding", "budget", "occasions",
            "category_groups", "dislikes", "avoid_categories", "pronoun", "archetype"}
    for client in world.clients:
        assert set(client) == {"client_id", "name", "notes", "stated_preferences"}
        assert 2 <= len(client["notes"]) <= 4 and all(isinstance(n, str) and n for n in client["notes"])
        assert client["stated_preferences"]
        taste = world.tastes[client["client_id"]]
        assert keys <= set(taste)
        assert taste["budget"]["min"] < taste["budget"]["max"]
        assert all(h in HOUSE_BY_NAME for h in taste["favourite_houses"])
        assert "tastes" not in json.dumps(client)
    assert len({c["name"] for c in world.clients}) == len(world.clients)


def test_histories_are_drawn_from_the_tastes(world):
    items = _items(world)
    bought, everything, returns_clash = [], [], []
    for row in world.interactions:
        taste = world.tastes[row["client_id"]]
        score = taste_score(items[row["item_id"]], taste)
        if row["kind"] == "purchase":
            bought.append(score)
        if row["kind"] == "return":
            returns_clash.append(disliked(items[row["item_id"]], taste) or score < 1.0)
    for taste in world.tastes.values():
        everything.extend(taste_score(i, taste) for i in world.items)
    assert statistics.mean(bought) > statistics.mean(everything) + 1.0
    assert returns_clash and sum(returns_clash) / len(returns_clash) >= 0.6


# ----------------------------------------------------------------------------------------------
# Full size


def test_full_size_world_counts_and_shares(full_world):
    w, seconds = full_world
    types = collections.Counter(q["type"] for q in w.queries)
    sizes = collections.Counter(len(q["relevant"]) for q in w.queries)
    print(f"\nfull-size demo world generated in {seconds:.1f} s: {w.counts()}")
    print("query types:", dict(sorted(types.items())))
    print("relevant-set sizes:", dict(sorted(sizes.items())))

    assert len(w.items) >= 1500 and len(w.clients) >= 400 and len(w.queries) >= 3000
    assert len(w.houses) >= 30
    for house in w.houses:
        assert all(house[k] for k in ("name", "country", "heritage", "craft", "branding", "price_tier"))
    assert len({h["country"] for h in w.houses}) >= 6
    assert len({i["brand"] for i in w.items}) >= 30
    assert {i["attributes"]["category_group"] for i in w.items} == set(CATEGORY_GROUPS)
    assert set(types) == TYPES
    for qtype, share in TYPE_SHARES.items():
        assert abs(types[qtype] / len(w.queries) - share) < 0.02
    split_of = {q["client_id"]: q["split"] for q in w.queries}
    client_shares = collections.Counter(split_of.values())
    assert 0.65 <= client_shares["train"] / len(split_of) <= 0.75
    assert 0.15 <= client_shares["test"] / len(split_of) <= 0.25


def test_full_size_houses_specialise_and_prices_follow_the_tier(full_world):
    w, _ = full_world
    groups = collections.defaultdict(collections.Counter)
    prices = collections.defaultdict(list)
    for item in w.items:
        groups[item["brand"]][item["attributes"]["category_group"]] += 1
        # price over (category base x main material): what is left is the house tier (and noise)
        base = CATEGORIES[item["category"]].price * MATERIALS[item["attributes"]["material"][0]].price
        prices[HOUSE_BY_NAME[item["brand"]].price_tier].append(item["price"] / base)
    assert groups["Aubert Vallorbe"]["watches"] == sum(groups["Aubert Vallorbe"].values())
    assert groups["Carré Lenoir"]["silk"] > 0.7 * sum(groups["Carré Lenoir"].values())
    tiers = {tier: statistics.median(p) for tier, p in prices.items()}
    assert tiers["accessible-luxury"] < tiers["luxury"] < tiers["haute"]
