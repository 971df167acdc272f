"""The SQL store: engine, schema migrations and sessions.

One function makes the engine (`get_engine`), one brings the schema to the newest migration
(`migrate`), and `session()` is the unit of work: it commits on success and rolls back on any
error, so a failed operation leaves nothing half-written.
"""

from __future__ import annotations

import threading
import uuid
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event, text
from sqlmodel import Session, create_engine

from backend.settings import get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get their directory created and foreign keys enforced."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")  # readers don't block the one writer
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def new_postgres_schema(url: str, prefix: str = "t") -> str:
    """A new, empty schema on a PostgreSQL server, so that tests and benchmarks touch no other data.

    Args:
        url (`str`): the server's URL.
        prefix (`str`, *optional*): the start of the schema's name; a random suffix follows.

    Returns:
        `str`: `url` with the new schema as its search path.
    """
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return f"{url}?options=-csearch_path%3D{schema}"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine) -> None:
    """Bring the database schema to the newest migration (a no-op when it is already there)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


_MIGRATING = threading.Lock()  # alembic's command API keeps global state: one migration at a time


@lru_cache(maxsize=4)
def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for the configured database, migrated on first use (threads that ask
    for it at the same moment, e.g. the first concurrent requests, migrate one after the other)."""
    engine = make_engine(url or get_settings().sql_url)
    with _MIGRATING:
        migrate(engine)
    return engine


@contextmanager
def session(engine: Engine | None = None) -> Iterator[Session]:
    """A unit of work: commits when the block ends normally, rolls back on any exception."""
    with Session(engine or get_engine(), expire_on_commit=False) as s:
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
