"""The first requests of a fresh process may open the stores at the same moment (8 shortlists at once): the SQL
engine is migrated one thread at a time and Chroma's client is opened once, without errors."""

import threading

from sqlalchemy import inspect

from backend.store import get_engine


def at_once(call, n: int = 8) -> tuple[list, list]:
    """Run `call` in n threads released together: (results, errors)."""
    results, errors = [], []
    start = threading.Barrier(n)

    def run():
        start.wait()
        try:
            results.append(call())
        except Exception as error:  # what these tests are about: a store opened from two threads at once
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_concurrent_first_calls_migrate_without_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    get_engine.cache_clear()
    engines, errors = at_once(lambda: get_engine(url))
    get_engine.cache_clear()
    assert errors == []
    assert "shortlist" in inspect(engines[0]).get_table_names()


def test_concurrent_first_opens_of_chroma_share_one_client(tmp_path):
    from backend.index import chroma_client, release_clients
    from backend.settings import Settings

    settings = Settings(var_dir=tmp_path / "var")
    release_clients()
    clients, errors = at_once(lambda: chroma_client(settings))
    try:
        assert errors == []
        assert len({id(c) for c in clients}) == 1
    finally:
        release_clients()
