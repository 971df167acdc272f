"""A slow evaluation resumes from its journal: finished queries are not run again."""

from types import SimpleNamespace

from training.eval_journal import Journal, clear_journals, journal_key, journal_path
from training.eval_run import EvalConfig, run_system
from training.eval_stats import QueryRecord

QUERIES = [{"query_id": f"q{i}", "client_id": "c", "type": "t", "relevant": {f"i{i}": 1}} for i in range(4)]


class Counting:
    """A system that ranks the query's relevant item first, counting the queries it was asked."""

    def __init__(self, fail_at: str | None = None):
        self.asked, self.fail_at = [], fail_at

    def rank(self, query, candidates, k):
        if query["query_id"] == self.fail_at:
            raise KeyboardInterrupt  # the run stops here, as on Ctrl-C
        self.asked.append(query["query_id"])
        return list(query["relevant"]) + ["other"]


def run(tmp_path, system, spec="reasoner@nowhere"):
    config = EvalConfig(bundle="b", split="test", ks=[1], out=str(tmp_path), progress=False)
    world = SimpleNamespace(bundle=SimpleNamespace(digest=lambda: "d1"), item_ids=[])
    return run_system(system, spec, QUERIES, "full", world, config, {}, False)


def test_a_stopped_evaluation_continues_where_it_stopped(tmp_path):
    first = Counting(fail_at="q2")
    try:
        run(tmp_path, first)
    except KeyboardInterrupt:
        pass
    assert first.asked == ["q0", "q1"]
    second = Counting()
    records = run(tmp_path, second)
    assert second.asked == ["q2", "q3"]  # q0, q1 came from the journal
    assert [r.query_id for r in records] == ["q0", "q1", "q2", "q3"]
    assert all(r.scores["ndcg@1"] == 1.0 for r in records)
    clear_journals(tmp_path)
    assert not (tmp_path / "journal").exists()


def test_a_journal_of_another_run_is_started_over_and_a_cut_line_is_run_again(tmp_path):
    path = journal_path(tmp_path, "full", "reasoner@x")
    key = journal_key("d1", "test", "full", "reasoner@x", 0, [5], False)
    journal = Journal(path, key)
    journal.add(QueryRecord("q0", "t", {"ndcg@5": 1.0}, ["a"], 0.1))
    with path.open("a") as f:
        f.write('{"query_id": "q1", "ty')  # the line a crash cut off
    assert list(Journal(path, key).done) == ["q0"]
    other = journal_key("d1", "test", "full", "reasoner@x", 1, [5], False)  # another seed
    assert Journal(path, other).done == {}
    assert Journal(path, key).done == {}  # the other run's header replaced this one's records


def test_only_slow_systems_keep_a_journal(tmp_path):
    run(tmp_path, Counting(), spec="bm25")
    assert not (tmp_path / "journal").exists()


class Notes(Counting):
    """Keeps notes of its current query, as the LLM systems do, and waits so that queries overlap."""

    def __init__(self, barrier):
        super().__init__()
        self.barrier, self.last = barrier, {}

    def rank(self, query, candidates, k):
        self.last = {"query": query["query_id"]}
        self.barrier.wait(timeout=5)  # every thread is inside rank before any returns
        return super().rank(query, candidates, k)


def test_concurrent_queries_keep_their_own_notes_and_their_order(tmp_path):
    import threading

    config = EvalConfig(bundle="b", split="test", ks=[1], out=str(tmp_path), progress=False, concurrency=4)
    world = SimpleNamespace(bundle=SimpleNamespace(digest=lambda: "d1"), item_ids=[])
    system = Notes(threading.Barrier(4))
    records = run_system(system, "reasoner@x", QUERIES, "full", world, config, {}, False)
    assert [r.query_id for r in records] == ["q0", "q1", "q2", "q3"]
    assert [r.notes["query"] for r in records] == ["q0", "q1", "q2", "q3"]  # no thread's notes leaked
    assert all(r.scores["ndcg@1"] == 1.0 for r in records)
    assert len(Journal(journal_path(tmp_path, "full", "reasoner@x"),
                       journal_key("d1", "test", "full", "reasoner@x", 0, [1], False)).done) == 4


def test_only_the_chosen_queries_of_a_split_are_evaluated(tmp_path):
    import pytest

    from catalog.errors import ConciergeError
    from training.eval_cli import read_query_ids
    from training.eval_queries import only_queries

    listed = tmp_path / "ids.txt"
    listed.write_text("q2\n\nq0\n")
    assert [q["query_id"] for q in only_queries(QUERIES, read_query_ids(str(listed)), "test")] == ["q0", "q2"]
    assert only_queries(QUERIES, None, "test") == QUERIES
    with pytest.raises(ConciergeError, match="1 of the chosen queries are not in the test split"):
        only_queries(QUERIES, ["q1", "nope"], "test")
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(ConciergeError, match="lists no query ids"):
        read_query_ids(str(tmp_path / "empty.txt"))
