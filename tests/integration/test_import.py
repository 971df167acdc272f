"""Importing into the real stores (Chroma + SQL): idempotent, all or nothing, searchable."""

from pathlib import Path

import pytest
from sqlmodel import func, select

from backend import importer
from backend.served import search_catalogue
from backend.graphs import product_graph
from backend.served import active_index, active_version
from backend.importer import import_bundle
from backend.index import chroma_client
from backend.store import get_engine, session
from backend.tables import CatalogVersion, Client, ClientNote, Interaction
from catalog.errors import ConciergeError
from tests.fixtures.small import random_ranking_groups, small_bundle

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def every_chroma(chroma_mode):
    """Each test here runs on the embedded store and on a Chroma server (when CI starts one)."""
    return chroma_mode


def sql_counts(settings) -> dict:
    with session(get_engine(settings.sql_url)) as s:
        return {table.__name__: s.exec(select(func.count()).select_from(table)).one()
                for table in (Client, Interaction, ClientNote, CatalogVersion)}


def collections(settings) -> list[str]:
    return sorted(c if isinstance(c, str) else c.name for c in chroma_client(settings).list_collections())


def test_import_fills_both_stores_and_reimport_changes_nothing(settings):
    result = import_bundle(small_bundle(), progress=False)
    assert result.changed and result.items_total == 4 and result.items_embedded == 4
    assert sql_counts(settings) == {"Client": 2, "Interaction": 3, "ClientNote": 1, "CatalogVersion": 1}
    assert len(active_index()) == 4
    before = (collections(settings), sql_counts(settings))

    again = import_bundle(small_bundle(), progress=False)
    assert not again.changed and "unchanged" in again.summary()
    assert (collections(settings), sql_counts(settings)) == before


def test_changed_items_are_upserted_and_only_they_are_embedded(settings):
    import_bundle(small_bundle(), progress=False)
    update = small_bundle()
    update.items = [dict(update.items[0], price=450.0),  # changed
                    update.items[1],  # same content
                    {"item_id": "i-new", "title": "Vell linen shirt", "price": 300.0}]  # new
    update.clients, update.interactions, update.queries = [], [], []
    result = import_bundle(update, progress=False)
    assert result.items_embedded == 2 and result.items_reused == 1 and result.items_total == 5
    index = active_index()
    assert [i["price"] for i in index.get(["i-scarf"])] == [450.0]
    assert index.get(["i-boot"])[0]["title"] == "Vell shearling ankle boot"  # untouched items stay
    assert index.get(["i-new"])[0]["attributes"]["material"] == ["linen"]  # derived from the title
    assert len(collections(settings)) == 1  # the replaced collection was dropped


def test_vectors_of_another_embedding_model_are_embedded_again_at_the_next_import(settings, monkeypatch):
    import numpy as np

    from backend import index as index_module

    import_bundle(small_bundle(), progress=False)
    first = active_index()
    assert first.embedding == index_module.embedding_name(settings)
    before = {i: np.asarray(v) for i, v in zip(*first.vectors())}
    monkeypatch.setattr(index_module, "embedding_name", lambda _settings: "another-model-0123")
    monkeypatch.setattr(index_module, "embed", lambda texts, *a, **k: np.full((len(texts), 384), 0.05, np.float32))
    monkeypatch.setattr(importer, "embed", index_module.embed)
    update = small_bundle()
    update.items = [dict(update.items[0], price=450.0), update.items[1]]  # one changed, one the same
    update.clients, update.interactions, update.queries = [], [], []
    result = import_bundle(update, progress=False)
    assert result.items_reused == 0 and result.items_embedded == result.items_total == len(small_bundle().items)
    second = active_index()
    assert second.embedding == "another-model-0123"
    after = {i: np.asarray(v) for i, v in zip(*second.vectors())}
    assert all(np.allclose(after[i], 0.05) and not np.allclose(before[i], 0.05) for i in before)


def test_an_import_interrupted_after_embedding_leaves_the_stores_as_they_were(settings, monkeypatch):
    import_bundle(small_bundle(), progress=False)
    live, counts, names = active_version(), sql_counts(settings), collections(settings)

    update = small_bundle("bigger")
    update.items.append({"item_id": "i-extra", "title": "Orsini gold ring", "price": 1500.0})
    update.clients.append({"client_id": "c-3", "name": "Cy", "notes": ["New."], "stated_preferences": {}})
    original = importer._fill_collection

    def interrupted(*args, **kwargs):
        original(*args, **kwargs)  # embed and write the new collection, then die (Ctrl-C)
        raise KeyboardInterrupt

    monkeypatch.setattr(importer, "_fill_collection", interrupted)
    with pytest.raises(KeyboardInterrupt):
        import_bundle(update, progress=False)
    assert active_version().collection == live.collection
    assert sql_counts(settings) == counts and collections(settings) == names
    assert len(active_index()) == 4


def test_a_crash_inside_the_sql_transaction_rolls_everything_back(settings, monkeypatch):
    import_bundle(small_bundle(), progress=False)
    live, counts, names = active_version(), sql_counts(settings), collections(settings)
    update = small_bundle("bigger")
    update.items.append({"item_id": "i-extra", "title": "Orsini gold ring", "price": 1500.0})
    update.clients.append({"client_id": "c-3", "name": "Cy", "notes": ["New."], "stated_preferences": {}})

    real_sha256 = importer.hashlib.sha256

    def dies_on_the_new_note(data=b"", *args, **kwargs):
        if data == b"New.":  # hashing c-3's note: after c-3 was flushed, inside the transaction
            raise KeyboardInterrupt
        return real_sha256(data, *args, **kwargs)

    monkeypatch.setattr(importer.hashlib, "sha256", dies_on_the_new_note)
    with pytest.raises(KeyboardInterrupt):
        import_bundle(update, progress=False)
    monkeypatch.undo()
    assert active_version().collection == live.collection
    assert sql_counts(settings) == counts and collections(settings) == names


def test_interactions_of_clients_nobody_knows_are_skipped_and_reported(settings):
    bundle = small_bundle()
    bundle.clients = []  # a catalogue whose interactions name clients the store has never seen
    from catalog.bundle import ValidationReport

    report = ValidationReport()
    result = import_bundle(bundle, report, progress=False)
    assert result.interactions_added == 0
    assert str(report.problems[0]) == ("interactions.csv:0: client 'c-1' is neither in the bundle nor in the "
                                       "store; interaction skipped")


def test_nothing_to_import_is_a_clear_error(settings):
    bundle = small_bundle()
    bundle.items = []
    with pytest.raises(ConciergeError, match="no valid items to import"):
        import_bundle(bundle, progress=False)


def test_search_finds_the_right_item_and_filters_apply(settings):
    import_bundle(small_bundle(), progress=False)
    assert search_catalogue("silk scarf with lemons", k=2)[0]["item_id"] == "i-scarf"
    assert search_catalogue("warm boots for the mountains", k=1)[0]["item_id"] == "i-boot"
    cheap = search_catalogue("a bag", k=4, max_price=1000)
    assert cheap and all(r["price"] <= 1000 for r in cheap)
    assert [r["item_id"] for r in search_catalogue("anything", k=4, category="watches")] == ["i-watch"]
    with pytest.raises(ConciergeError, match="type what you are looking for"):
        search_catalogue("   ")
    with pytest.raises(ConciergeError, match="the limit is"):
        search_catalogue("x" * 20_000)


def test_product_graph_links_items_to_their_attributes_and_follows_imports(settings):
    import_bundle(small_bundle(), progress=False)
    graph = product_graph()
    assert graph.has_edge("item:i-scarf", "material=silk")
    assert graph.has_edge("item:i-tote", "brand=aurel") and graph.has_edge("item:i-scarf", "brand=aurel")
    assert graph.nodes["material=silk"]["kind"] == "attribute"
    update = small_bundle()
    update.items = [{"item_id": "i-ring", "title": "Orsini gold ring", "price": 1500.0}]
    import_bundle(update, progress=False)
    assert product_graph().has_edge("item:i-ring", "material=gold")


def test_rows_over_the_field_limits_are_reported_and_what_is_stored_is_kept(settings, tmp_path):
    """Issue 16, D9: an over-long re-import of a stored item is refused with its line, and the stored item stays."""
    from catalog.bundle import read_bundle, write_bundle

    import_bundle(small_bundle(), progress=False)
    update = small_bundle("update")
    update.items[0] = dict(update.items[0], title="x" * 1_000_000)  # i-scarf, stored above
    update.items.append({"item_id": "<img src=x onerror=alert(1)>", "title": "Probe scarf"})
    update.items.append({"item_id": "i-new", "title": "Vell linen shirt", "price": 300.0})
    update.interactions, update.queries = [], []
    bundle, report = read_bundle(write_bundle(update, tmp_path / "update"))
    assert [str(p) for p in report.problems] == [
        "items.jsonl:1: title has 1,000,000 characters; the limit is 300",
        "items.jsonl:5: item_id '<img src=x onerror=alert(1)>' has a character an id may not hold; use letters, "
        "digits and . _ : / # + @ -, starting with a letter or digit"]
    result = import_bundle(bundle, report, progress=False)
    index = active_index()
    assert result.items_total == 5  # the four stored items and the new one
    assert index.get(["i-scarf"])[0]["title"] == "Aurel Riviera silk scarf"
    assert index.get(["i-new"])[0]["title"] == "Vell linen shirt"
    assert not index.get(["<img src=x onerror=alert(1)>"])


@pytest.mark.one_store  # ranker files and their records, whatever the stores
def test_a_ranker_is_carried_over_only_to_a_later_version_of_the_same_catalogue(settings):
    from backend import ranker as ranking
    from backend.live import item_sample, prepare_ranker, ranker_path

    import_bundle(small_bundle("boutique"), progress=False)
    trained = ranking.train(random_ranking_groups(30), [])
    trained.info.update(bundle="boutique", item_sample=item_sample(small_bundle("boutique")))  # as train_ranker
    ranking.save(trained, ranker_path(active_version().collection, settings))

    update = small_bundle("boutique")  # the same catalogue, one price changed: a new version
    update.items[0]["price"] = 450.0
    import_bundle(update, progress=False)
    inherited = prepare_ranker(update, settings)
    assert inherited["kind"] == "lightgbm" and inherited["bundle"] == "boutique" and inherited["inherited_from"]

    other = small_bundle("another-shop")  # another retailer's catalogue: fusion, not the boutique's ranker
    other.items[1]["price"] = 999.0
    import_bundle(other, progress=False)
    assert prepare_ranker(other, settings)["kind"] == "fusion"
    assert not ranker_path(active_version().collection, settings).exists()  # no booster copied

    namesake = small_bundle("boutique")  # another shop whose file has the same name: other items
    for n, item in enumerate(namesake.items):
        item["item_id"] = f"elsewhere-{n}"
    namesake.clients, namesake.interactions, namesake.queries = [], [], []
    import_bundle(namesake, progress=False)
    assert prepare_ranker(namesake, settings)["kind"] == "fusion"

    stale = small_bundle("boutique")  # its own next version, but the ranker predates this engine
    stale.items[0]["price"] = 470.0
    ranking.save(ranking.Ranker(trained.booster, {**trained.info, "engine": "an older engine"}),
                 settings.ranker_dir / "zz-older.txt")
    for path in settings.ranker_dir.glob("items-*.txt"):
        path.unlink()  # only the stale one is left to inherit
    import_bundle(stale, progress=False)
    assert prepare_ranker(stale, settings)["kind"] == "fusion"  # a stale ranker is not carried over


@pytest.mark.one_store  # ranker files and their records, whatever the stores
def test_a_ranker_trained_by_another_engine_is_retrained_when_the_bundle_can_train_one(settings):
    from backend import ranker as ranking
    from backend.live import embedding_name, prepare_ranker, ranker_is_stale, ranker_path

    bundle = small_bundle("boutique")
    wanted = [("a silk scarf", "i-scarf"), ("a leather tote for the office", "i-tote"),
              ("a shearling boot", "i-boot"), ("a steel watch", "i-watch")]
    bundle.queries = [{"query_id": f"t-{n}", "client_id": "c-1", "text": text, "split": split, "type": "explicit",
                       "relevant": {item: 3}}
                      for n, (split, (text, item)) in enumerate((s, w) for s in ["train"] * 6 + ["val"] for w in wanted)]
    import_bundle(bundle, progress=False)
    fresh = prepare_ranker(bundle, settings)
    assert fresh["kind"] == "lightgbm" and fresh["engine"] == ranking.engine_digest() and not ranker_is_stale(settings)
    target = ranker_path(active_version().collection, settings)
    old = ranking.load(target)
    ranking.save(ranking.Ranker(old.booster, {**old.info, "engine": "an older engine"}), target)
    assert ranker_is_stale(settings)
    assert prepare_ranker(bundle, settings)["engine"] == ranking.engine_digest()  # retrained in place
    assert not ranker_is_stale(settings)
    old = ranking.load(target)
    assert old.info["embedding"] == embedding_name(settings) and embedding_name(settings).startswith(
        Path(settings.embedding_model_path).name + "-")
    ranking.save(ranking.Ranker(old.booster, {**old.info, "embedding": "another-model"}), target)
    assert ranker_is_stale(settings)  # its similarity features came from another embedding model
    assert prepare_ranker(bundle, settings)["embedding"] == old.info["embedding"]  # retrained
    assert not ranker_is_stale(settings)
    bundle.queries = []  # nothing to retrain on: the stale ranker is kept (better than nothing, and logged)
    ranking.save(ranking.Ranker(old.booster, {**old.info, "engine": "an older engine"}), target)
    assert prepare_ranker(bundle, settings)["engine"] == "an older engine"
