"""The MovieLens-100k converter on a handmade ml-100k-format fixture (never the real download)."""

import zipfile
from pathlib import Path

import pytest

from catalog.bundle import read_bundle, write_bundle
from catalog.errors import ConciergeError
from catalog.importers.movielens import WHEEL_DIR, display_title, ensure_wheel, movielens_bundle

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ml100k"


@pytest.fixture(scope="module")
def bundle():
    return movielens_bundle(FIXTURE)[0]


def test_items_carry_genres_year_and_graph_relations(bundle):
    items = {it["item_id"]: it for it in bundle.items}
    assert len(items) == 6
    heat = items["ml-3"]
    assert heat["title"] == "Heat" and heat["category"] == "film"
    assert heat["attributes"]["genre"] == ["Action", "Crime", "Thriller"]
    assert heat["attributes"]["year"] == "1995" and heat["attributes"]["decade"] == "1990s"
    assert heat["attributes"]["director"] == ["m.dmann"]
    assert heat["attributes"]["actor"] == ["m.apacino", "m.adeniro"]
    assert heat["attributes"]["sequel"] == ["ml-4"]  # a film in the graph becomes its item id
    assert items["ml-1"]["attributes"]["language"] == ["English"]  # a known Freebase id gets its name
    assert items["ml-5"]["title"] == "The Wizard of Oz"
    assert "director" not in items["ml-6"]["attributes"]  # not linked to the graph


def test_leave_last_out_holds_out_the_last_liked_items():
    bundle = movielens_bundle(FIXTURE)[0]
    queries = {q["query_id"]: q for q in bundle.queries}
    assert set(queries) == {"u-1-test", "u-1-val", "u-2-test"}  # user 3 liked nothing
    assert queries["u-1-test"]["relevant"] == {"ml-5": 2}  # the last rating >= 4 (a 4)
    assert queries["u-1-val"]["relevant"] == {"ml-3": 2}
    assert queries["u-2-test"]["relevant"] == {"ml-3": 3}  # a 5
    history = {}
    for row in bundle.interactions:
        history.setdefault(row["client_id"], []).append(row["item_id"])
    assert history == {"u-1": ["ml-1", "ml-2"], "u-2": ["ml-6"], "u-3": ["ml-2", "ml-4"]}
    assert bundle.manifest["eval"] == {"exclude_seen": True}


def test_train_queries_take_one_more_liked_item_out_of_the_history():
    bundle = movielens_bundle(FIXTURE, train_queries=True)[0]
    train = [q for q in bundle.queries if q["split"] == "train"]
    assert [q["relevant"] for q in train] == [{"ml-1": 3}]
    assert not [r for r in bundle.interactions if r["client_id"] == "u-1"]


def test_requests_describe_the_target_without_its_title(bundle):
    items = {it["item_id"]: it for it in bundle.items}
    for query in bundle.queries:
        target = items[next(iter(query["relevant"]))]
        assert target["title"].lower() not in query["text"].lower()
        assert target["attributes"]["genre"][0].lower() in query["text"].lower()
        conditions = int(query["type"].removeprefix("conditions-"))
        assert 2 <= conditions <= 5
    again = movielens_bundle(FIXTURE)[0]
    assert [q["text"] for q in again.queries] == [q["text"] for q in bundle.queries]


def test_graph_facts_are_told_through_other_films():
    import random

    from catalog.importers.movielens import FilmIndex, graph_conditions

    bundle = movielens_bundle(FIXTURE)[0]
    films = FilmIndex.build(bundle.items)
    heat = next(it for it in bundle.items if it["item_id"] == "ml-3")
    said = graph_conditions(random.Random(0), heat, films)
    assert "by the director of GoldenEye" in said
    assert "starring someone from the cast of Casino" in said


def test_the_bundle_round_trips_through_the_bundle_reader(bundle, tmp_path):
    write_bundle(bundle, tmp_path / "ml")
    again, report = read_bundle(tmp_path / "ml")
    assert report.ok, report.to_text()
    assert again.counts() == bundle.counts()


def test_files_are_read_from_a_wheel_as_from_a_directory(tmp_path, bundle):
    wheel = tmp_path / "recbole-1.2.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path in FIXTURE.iterdir():
            archive.write(path, WHEEL_DIR + path.name)
    assert ensure_wheel(tmp_path, download=False) == wheel
    from_wheel = movielens_bundle(wheel)[0]
    assert from_wheel.counts() == bundle.counts()
    assert [q["text"] for q in from_wheel.queries] == [q["text"] for q in bundle.queries]


def test_missing_sources_raise_clear_errors(tmp_path):
    with pytest.raises(ConciergeError, match="no recbole wheel"):
        ensure_wheel(tmp_path, download=False)
    with pytest.raises(ConciergeError, match="lacks ml-100k.inter"):
        movielens_bundle(tmp_path)
    (tmp_path / "x.whl").write_text("not a zip")
    with pytest.raises(ConciergeError, match="neither"):
        movielens_bundle(tmp_path / "x.whl")


def test_display_title():
    assert display_title("Wizard of Oz, The") == "The Wizard of Oz"
    assert display_title("Boot, Das") == "Das Boot"
    assert display_title("Heat") == "Heat"
