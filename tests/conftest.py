"""Shared fixtures: an isolated var/ directory and a database (SQLite, and PostgreSQL when CI starts one)."""

from __future__ import annotations

import os
import uuid

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

POSTGRES_URL = os.environ.get("CONCIERGE_TEST_POSTGRES_URL")
CHROMA_SERVER = os.environ.get("CONCIERGE_TEST_CHROMA_SERVER")  # host:port of a `chroma run` server
CHROMA_MODES = ["embedded", pytest.param("server", marks=pytest.mark.skipif(
    not CHROMA_SERVER, reason="CONCIERGE_TEST_CHROMA_SERVER is not set (.ci/run starts a Chroma server)"))]
DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.skipif(
    not POSTGRES_URL, reason="CONCIERGE_TEST_POSTGRES_URL is not set (.ci/run starts a PostgreSQL server)"))]


def pytest_collection_modifyitems(config, items):
    """Tests marked `one_store` run on SQLite and the embedded Chroma store only: what they check does not
    depend on the store, and each PostgreSQL or Chroma-server run of such a test costs 20-60 s of the
    suite's budget."""
    def elsewhere(item) -> bool:
        params = getattr(item, "callspec", None) and item.callspec.params
        return bool(params) and (params.get("db_url") == "postgres" or params.get("chroma_mode") == "server")

    once = [item for item in items if item.get_closest_marker("one_store") and elsewhere(item)]
    if once:
        config.hook.pytest_deselected(items=once)
        dropped = set(once)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture(params=DATABASES)
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'concierge.db'}"
    from backend.store import new_postgres_schema

    return new_postgres_schema(POSTGRES_URL)


@pytest.fixture
def settings(tmp_path, db_url, monkeypatch):
    """Settings pointing every store at a fresh temporary directory / schema."""
    from backend import settings as settings_module
    from backend.store import get_engine

    monkeypatch.setenv("CONCIERGE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CONCIERGE_DATABASE_URL", db_url)
    settings_module.get_settings.cache_clear()
    get_engine.cache_clear()
    yield settings_module.get_settings()
    settings_module.get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.fixture(scope="session")
def base_model_dir():
    """SmolLM2-135M-Instruct materialised once (var/models/base, shared with `make run`)."""
    from backend.model_files import materialise_base_model
    from backend.settings import Settings

    return materialise_base_model(Settings(var_dir="var"))


@pytest.fixture(scope="session")
def small_world():
    """A small demo world (same generator as the full one), as a bundle."""
    from catalog.demo.export import world_bundle

    return world_bundle(seed=7, n_items=160, n_clients=30, n_queries=60)


@pytest.fixture(params=CHROMA_MODES)
def chroma_mode(request, monkeypatch) -> str:
    """Run a test against the embedded Chroma store and, when CI starts one, a Chroma server (a fresh
    database on it per test). Request it before `settings`."""
    if request.param == "server":
        host, port = CHROMA_SERVER.rsplit(":", 1)
        monkeypatch.setenv("CONCIERGE_CHROMA_HOST", host)
        monkeypatch.setenv("CONCIERGE_CHROMA_PORT", port)
        monkeypatch.setenv("CONCIERGE_CHROMA_DATABASE", f"t_{uuid.uuid4().hex[:12]}")
    return request.param
