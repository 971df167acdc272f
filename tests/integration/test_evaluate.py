"""The evaluation harness end to end on a tiny demo world: real scratch stores (SQLite + Chroma),
every system (the LLM ones on one query), both protocols, the report files, and bad input."""

import json
import os

import pytest

from catalog.bundle import write_bundle
from catalog.demo.export import world_bundle
from catalog.errors import ConciergeError
from training.eval_queries import RERANK_SIZE, load_bundle, rerank_candidates, select_queries, subset
from training.eval_report import write_report
from training.eval_run import EvalConfig, evaluate
from training.eval_stores import scratch_stores
from training.metrics import metric_names

pytestmark = pytest.mark.integration
ALL = ["popularity", "bm25", "embedding", "graph", "als", "retrieval", "reasoner", "ranked-reasoner", "pipeline"]


def concierge_env() -> dict[str, str]:
    """The process's CONCIERGE_ variables (libraries such as torch add others of their own on import)."""
    return {key: value for key, value in os.environ.items() if key.startswith("CONCIERGE_")}


@pytest.fixture
def tiny(tmp_path):
    bundle = world_bundle(seed=3, n_items=60, n_clients=12, n_queries=40)
    bundle.manifest["name"] = "tiny world"
    return write_bundle(bundle, tmp_path / "tiny")


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Serving settings on a fresh var dir and SQLite file (the scratch stores are SQLite whatever the
    serving database is, so the PostgreSQL variant of the shared fixture would test nothing more)."""
    from backend.settings import get_settings
    from backend.store import get_engine

    monkeypatch.setenv("CONCIERGE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CONCIERGE_DATABASE_URL", f"sqlite:///{tmp_path / 'serving.db'}")
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.fixture
def llm_env(settings, base_model_dir, monkeypatch):
    """The serving settings of a test, with the shared base model and short answers."""
    monkeypatch.setenv("CONCIERGE_BASE_MODEL_DIR", str(base_model_dir))
    monkeypatch.setenv("CONCIERGE_MAX_NEW_TOKENS", "12")
    from backend.settings import get_settings

    get_settings.cache_clear()
    return get_settings()


def test_every_system_on_both_protocols_in_scratch_stores(tiny, llm_env, tmp_path, monkeypatch):
    from backend.served import active_version
    from backend.settings import get_settings
    from backend.store import get_engine
    from training.systems import Popularity

    original_rank = Popularity.rank

    def flaky(self, query, candidates, k):  # fails on one query: recorded, and the run goes on
        environments.append(concierge_env())
        if query["query_id"] == first_id:
            raise RuntimeError("boom")
        return original_rank(self, query, candidates, k)

    environments, before = [], concierge_env()

    queries = subset(select_queries(load_bundle(tiny), "test"), 6, 0)
    first_id = queries[0]["query_id"]
    monkeypatch.setattr(Popularity, "rank", flaky)
    config = EvalConfig(bundle=str(tiny), systems=ALL, ks=[5, 10], limit=6, llm_limit=1, progress=False,
                        resamples=200, compare=[("retrieval", "bm25")], threads=1)
    report = evaluate(config)

    full, rerank = report["results"]["full"], report["results"]["rerank"]
    assert "skipped" in full["reasoner"] and "skipped" in rerank["pipeline"]
    for protocol in (full, rerank):
        for name, result in protocol.items():
            if "skipped" in result:
                continue
            assert result["n"] == (1 if name in ("reasoner", "ranked-reasoner", "pipeline") else 6), name
            for metric in metric_names([5, 10]):
                interval = result["metrics"][metric]
                assert 0.0 <= interval["low"] <= interval["mean"] <= interval["high"] <= 1.0, (name, metric)
            assert result["seconds_per_query"]["mean"] > 0
    failed = full["popularity"]["failures"]
    assert [f["query_id"] for f in failed] == [first_id] and "boom" in failed[0]["error"]
    assert full["popularity"]["per_query"][0]["scores"]["ndcg@10"] == 0.0

    # re-ranking: every system ranks the query's own fixed 20 candidates
    bundle = load_bundle(tiny)
    ids = [it["item_id"] for it in bundle.items]
    by_id = {q["query_id"]: q for q in bundle.queries}
    for name, result in rerank.items():
        for row in result.get("per_query", []):
            fixed = rerank_candidates(by_id[row["query_id"]], ids, set(), RERANK_SIZE, 0)
            assert set(row["ranking"]) <= set(fixed) and len(row["ranking"]) == len(set(row["ranking"])), name
    # the ranked reasoner's picks, then the rest in the serving ranker's order
    by_ranker = {row["query_id"]: row["ranking"] for row in rerank["retrieval"]["per_query"]}
    for row in rerank["ranked-reasoner"]["per_query"]:
        picks = row["ranking"][:row["notes"]["picks"]]
        assert row["ranking"][len(picks):] == [i for i in by_ranker[row["query_id"]] if i not in picks]
    assert {row["metric"] for row in report["comparisons"]["full"]} == set(metric_names([5, 10]))

    # the scratch stores hold the bundle; the serving stores, settings and environment are as they were,
    # also while the systems ran (the scratch stores are handed to them as settings, never through the env)
    assert environments and all(env == before for env in environments) and concierge_env() == before
    assert get_settings().var_dir == llm_env.var_dir
    assert not (tmp_path / "serving.db").exists() and not (llm_env.var_dir / "chroma").exists()
    assert active_version(get_engine(llm_env.sql_url)) is None
    scratch = llm_env.var_dir / "eval" / "tiny-world"
    assert (scratch / "bundle.digest").is_file() and (scratch / "concierge.db").is_file()

    out = write_report(report, tmp_path / "out")
    assert json.loads((out / "results.json").read_text())["bundle"]["name"] == "tiny world"
    assert "| retrieval |" in (out / "results.md").read_text()
    assert (out / "ndcg.png").stat().st_size > 1000


def test_scratch_stores_are_reused_while_the_bundle_is_unchanged(tiny, settings):
    from backend.served import active_version
    from backend.settings import get_settings
    from backend.store import get_engine

    def collection(scratch) -> str:
        return active_version(get_engine(scratch.sql_url)).collection

    bundle, before = load_bundle(tiny), concierge_env()
    scratch = scratch_stores(bundle, progress=False)
    first = collection(scratch)
    assert scratch.var_dir == (settings.var_dir / "eval" / "tiny-world").resolve()
    assert scratch.sql_url == f"sqlite:///{scratch.var_dir / 'concierge.db'}"
    assert concierge_env() == before and get_settings().var_dir == settings.var_dir  # nothing process-wide
    assert collection(scratch_stores(bundle, progress=False)) == first
    bundle.items[0] = dict(bundle.items[0], title="A renamed piece")
    assert collection(scratch_stores(bundle, progress=False)) != first  # wiped and imported anew


def test_case_prompts_read_the_scratch_stores_they_are_given(tiny, settings):
    from training.data import build_case_prompt, cases_from_bundle
    from training.systems import EvalWorld, ServingRetrieval

    bundle = load_bundle(tiny)
    world = EvalWorld(bundle, scratch_stores(bundle, progress=False), seed=0)
    attributes = set(vars(world))
    case = next(c for c in cases_from_bundle(bundle, "train", 20, 0) if c.relevance and c.client_id)
    retrieval = ServingRetrieval(world)
    built = build_case_prompt(case, world, shown=8, retrieval=retrieval)
    assert len(built.handles) == 8 and {h["item_id"] for h in built.handles.values()} <= set(case.candidates)
    assert built.preferences  # the client's history came from the scratch store (the serving one is empty)
    assert build_case_prompt(case, world, shown=8) == built  # made without a retrieval: the same prompt
    assert set(vars(world)) == attributes  # nothing hung on the world

    # in the ranker's order: the case's candidates are the retrieval's order of the same items, and the
    # prompt lists them so, under the note that says it
    from backend.reasoner import RANKED_NOTE
    from training.data import in_ranker_order

    (ordered,) = in_ranker_order([case], world, retrieval)
    assert sorted(ordered.candidates) == sorted(case.candidates) and ordered.relevance == case.relevance
    assert ordered.candidates == retrieval.rank(case.as_query(), case.candidates, 20)
    ranked = build_case_prompt(ordered, world, retrieval=retrieval, order="ranker")
    assert [h["item_id"] for h in ranked.handles.values()] == ordered.candidates
    assert RANKED_NOTE in ranked.messages[-1]["content"]


def test_cross_fitted_order_ranks_each_case_by_a_ranker_that_never_saw_it(tiny, settings, monkeypatch):
    from dataclasses import replace

    from backend import ranker as ranking
    from backend.live import ranker_groups
    from training.data import cases_from_bundle, cross_fitted_rankers, fold_of, in_ranker_order
    from training.systems import EvalWorld, ServingRetrieval

    bundle = load_bundle(tiny)
    world = EvalWorld(bundle, scratch_stores(bundle, progress=False), seed=0)
    retrieval = ServingRetrieval(world)
    served = retrieval.catalogue
    groups, _ = ranker_groups(bundle, served, world.settings)
    fitted, real_train = [], ranking.train
    monkeypatch.setattr(ranking, "train", lambda train, val: fitted.append(train) or real_train(train, val))
    rankers = cross_fitted_rankers(world, served, 3)
    assert len(rankers) == len(fitted) == 3
    for fold, train in enumerate(fitted):  # every train query but the fold's own, in the same order
        expected = [relevant for qid, _, relevant in groups["train"] if fold_of(qid, 3) != fold]
        assert [relevant for _, relevant in train] == expected
    assert len({fold_of(qid, 3) for qid, _, _ in groups["train"]}) == 3  # the tiny world fills all folds

    cases = [c for c in cases_from_bundle(bundle, "train", 20, 0) if c.relevance][:6]
    ordered = in_ranker_order(cases, world, retrieval, folds=3)
    assert [sorted(o.candidates) for o in ordered] == [sorted(c.candidates) for c in cases]
    assert [o.relevance for o in ordered] == [c.relevance for c in cases]
    assert retrieval.catalogue is served  # the serving ranker is back for whatever comes next
    for case, got in zip(cases, ordered):  # each in its own fold's ranker's order
        retrieval.catalogue = replace(served, ranker=rankers[fold_of(case.case_id, 3)])
        assert got.candidates == retrieval.rank(case.as_query(), case.candidates, 20)


def test_bad_input_gets_clear_messages(tiny, tmp_path, settings):
    no_queries = world_bundle(seed=3, n_items=20, n_clients=3, n_queries=0)
    write_bundle(no_queries, tmp_path / "empty")
    with pytest.raises(ConciergeError, match="no queries"):
        evaluate(EvalConfig(bundle=str(tmp_path / "empty")))
    with pytest.raises(ConciergeError, match="split 'holdout' does not exist.*test"):
        evaluate(EvalConfig(bundle=str(tiny), split="holdout"))
    with pytest.raises(ConciergeError, match="unknown system 'magic'.*popularity"):
        evaluate(EvalConfig(bundle=str(tiny), systems=["bm25", "magic"]))
    with pytest.raises(ConciergeError, match="k=500 is larger than the catalogue"):
        evaluate(EvalConfig(bundle=str(tiny), ks=[5, 500]))
    with pytest.raises(ConciergeError, match="unknown protocol"):
        evaluate(EvalConfig(bundle=str(tiny), protocols=["sideways"]))


def test_candidate_lists_and_subsets_are_fixed_by_the_seed(tiny):
    bundle = load_bundle(tiny)
    ids = [it["item_id"] for it in bundle.items]
    query = next(q for q in bundle.queries if q["relevant"])
    excluded = {ids[0], ids[1]} - set(query["relevant"])
    first = rerank_candidates(query, ids, excluded, 20, seed=0)
    assert first == rerank_candidates(query, ids, excluded, 20, seed=0)
    assert first != rerank_candidates(query, ids, excluded, 20, seed=1)
    assert len(first) == len(set(first)) == 20 and set(query["relevant"]) <= set(first)
    assert not excluded & set(first)
    queries = select_queries(bundle, "test")
    assert subset(queries, 3, 0) == subset(queries, 3, 0) and len(subset(queries, 3, 0)) == 3
    assert subset(queries, None, 0) == queries


def test_a_model_version_is_evaluated_from_its_adapter_directory(tiny, llm_env, base_model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    adapter = tmp_path / "eval-test-v1"  # the adapter's name in the process-wide model: unique to this test
    model = AutoModelForCausalLM.from_pretrained(base_model_dir)
    get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"])).save_pretrained(adapter)
    config = EvalConfig(bundle=str(tiny), systems=[f"reasoner@{adapter}"], protocols=["rerank"],
                        limit=1, progress=False, resamples=50, threads=1)
    result = evaluate(config)["results"]["rerank"][f"reasoner@{adapter}"]
    assert result["n"] == 1 and not result["failures"]

    # the whole pipeline on the whole catalogue, answering with the same adapter (not a stored version)
    from backend.llm import adapter_name_for

    config = EvalConfig(bundle=str(tiny), systems=[f"pipeline@{adapter}"], protocols=["full"],
                        limit=1, progress=False, resamples=50, threads=1)
    result = evaluate(config)["results"]["full"][f"pipeline@{adapter}"]
    assert result["n"] == 1 and not result["failures"]
    assert result["per_query"][0]["notes"]["model_version"] == adapter_name_for(adapter)

    (tmp_path / "empty").mkdir()
    for system, protocol in (("reasoner", "rerank"), ("pipeline", "full")):
        with pytest.raises(ConciergeError, match="not a PEFT adapter"):
            evaluate(EvalConfig(bundle=str(tiny), systems=[f"{system}@{tmp_path / 'empty'}"],
                                protocols=[protocol], limit=1, progress=False))
