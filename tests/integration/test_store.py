"""The SQL store on a real database: migrations equal the tables, and a failed unit of work rolls back."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel, select

from backend.store import get_engine, migrate, session
from backend.tables import Client, Interaction

pytestmark = pytest.mark.integration


def test_migrations_build_exactly_the_declared_tables(settings):
    engine = get_engine(settings.sql_url)
    migrate(engine)  # a second upgrade is a no-op
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    assert diff == [], f"tables and migrations disagree; write a migration: {diff}"


def test_a_failed_unit_of_work_leaves_nothing(settings):
    engine = get_engine(settings.sql_url)
    with session(engine) as s:
        s.add(Client(client_id="c-1", name="Ada"))
    with pytest.raises(RuntimeError):
        with session(engine) as s:
            s.add(Client(client_id="c-2", name="Bo"))
            s.flush()
            raise RuntimeError("crash half-way")
    with session(engine) as s:
        assert [c.client_id for c in s.exec(select(Client)).all()] == ["c-1"]


def test_interactions_keep_their_utc_time_and_reject_orphans(settings):
    from datetime import datetime, timezone

    from sqlalchemy.exc import IntegrityError

    engine = get_engine(settings.sql_url)
    when = datetime(2025, 3, 1, 10, tzinfo=timezone.utc)
    with session(engine) as s:
        s.add(Client(client_id="c-1", name="Ada"))
        s.flush()
        s.add(Interaction(client_id="c-1", item_id="i-1", kind="purchase", timestamp=when))
    with session(engine) as s:
        assert s.exec(select(Interaction)).one().timestamp == when
    with pytest.raises(IntegrityError):
        with session(engine) as s:
            s.add(Interaction(client_id="c-404", item_id="i-1", kind="view", timestamp=when))
