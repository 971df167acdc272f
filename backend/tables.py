"""SQLModel tables of the SQL store (SQLite by default, PostgreSQL when configured).

The catalogue items themselves live in Chroma; SQL holds people, their histories and everything
the app and the learning loop record. The schema is created and changed only by the Alembic
migrations in `backend/migrations/`; `tests/integration/test_store.py` fails if these classes and the
migrations disagree.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

ROLES = ("client", "associate", "admin")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Account(SQLModel, table=True):
    """A person who logs in. A client account points at its client profile."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True, max_length=120)
    role: str = Field(max_length=16)  # one of ROLES
    password_hash: str = Field(max_length=255)
    client_id: str | None = Field(default=None, index=True, max_length=64)  # no FK: avoids a table cycle
    active: bool = True
    # Part of every session token: raising it (sign-out, disabling, a new password) ends all the account's
    # sessions for good, so re-enabling an account does not bring old cookies back.
    session_epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(default_factory=utcnow)


class Client(SQLModel, table=True):
    """A client profile; `associate_id` is the associate account that looks after them."""

    client_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    profile: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    stated_preferences: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    associate_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)


class Interaction(SQLModel, table=True):
    """One purchase, wishlist add, view, return or rating. Unique per (client, item, kind, time)."""

    __table_args__ = (UniqueConstraint("client_id", "item_id", "kind", "timestamp", name="uq_interaction"),)

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(foreign_key="client.client_id", index=True, max_length=64)
    item_id: str = Field(index=True, max_length=128)
    kind: str = Field(max_length=16)
    value: float = 1.0
    timestamp: datetime


class ClientNote(SQLModel, table=True):
    """A note about a client, written by an associate (or imported with the catalogue)."""

    __table_args__ = (UniqueConstraint("client_id", "text_hash", name="uq_client_note"),)

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(foreign_key="client.client_id", index=True, max_length=64)
    author_id: int | None = Field(default=None, foreign_key="account.id")
    text: str = Field(sa_column=Column(Text, nullable=False))
    text_hash: str = Field(max_length=64)  # makes re-importing the same note a no-op
    source: str = Field(default="associate", max_length=16)  # associate | import
    created_at: datetime = Field(default_factory=utcnow)


class Conversation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(foreign_key="client.client_id", index=True, max_length=64)
    title: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class Message(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    role: str = Field(max_length=16)  # user | assistant
    content: str = Field(sa_column=Column(Text, nullable=False))
    shortlist_id: int | None = Field(default=None, foreign_key="shortlist.id")
    created_at: datetime = Field(default_factory=utcnow)


class Shortlist(SQLModel, table=True):
    """One answer: the request, the query graph, the reasoning, and how it was produced."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(foreign_key="client.client_id", index=True, max_length=64)
    conversation_id: int | None = Field(default=None, foreign_key="conversation.id", index=True)
    request: str = Field(sa_column=Column(Text, nullable=False))
    query_graph: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    model_version: str = Field(default="base", max_length=64)
    fallback_used: bool = False
    nothing_fits: bool = False
    latency_ms: float = 0.0
    timings: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    candidates: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # how the model's text ended (answer | degenerate | end | limit), what was degenerate, and where the
    # picks came from (model: its ANSWER line; forced: its scores after "ANSWER:"; none: the ranker alone)
    reasoning: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}"))
    created_at: datetime = Field(default_factory=utcnow, index=True)


class ShortlistItem(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("shortlist_id", "rank", name="uq_shortlist_rank"),)

    id: int | None = Field(default=None, primary_key=True)
    shortlist_id: int = Field(foreign_key="shortlist.id", index=True)
    item_id: str = Field(max_length=128)
    rank: int
    justification: str = Field(default="", sa_column=Column(Text, nullable=False))
    provenance: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class ReasoningStep(SQLModel, table=True):
    """One numbered reasoning step and the verifier's verdict on it."""

    __table_args__ = (UniqueConstraint("shortlist_id", "index", name="uq_step_index"),)

    id: int | None = Field(default=None, primary_key=True)
    shortlist_id: int = Field(foreign_key="shortlist.id", index=True)
    index: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    verdict: str = Field(default="unchecked", max_length=16)  # consistent | inconsistent | unchecked
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Feedback(SQLModel, table=True):
    """An associate's (or a purchase's) judgement of one item or one step of a shortlist."""

    id: int | None = Field(default=None, primary_key=True)
    shortlist_id: int = Field(foreign_key="shortlist.id", index=True)
    author_id: int | None = Field(default=None, foreign_key="account.id")
    item_id: str | None = Field(default=None, max_length=128)
    step_index: int | None = None
    kind: str = Field(max_length=24)  # accept | reject | purchase | flag_wrong | flag_irrelevant | reorder | replace
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    new_rank: int | None = None
    replacement_item_id: str | None = Field(default=None, max_length=128)
    used_by_job_id: int | None = Field(default=None, foreign_key="trainingjob.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class TrainingJob(SQLModel, table=True):
    """A retraining run, taken by one worker at a time."""

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default="queued", max_length=16, index=True)  # queued|running|succeeded|failed|cancelled
    config: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    stage: str = Field(default="", max_length=32)
    progress: float = 0.0
    metrics: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    log_tail: str = Field(default="", sa_column=Column(Text, nullable=False))
    error: str = Field(default="", sa_column=Column(Text, nullable=False))
    worker_id: str | None = Field(default=None, max_length=64)
    heartbeat_at: datetime | None = None
    run_dir: str | None = Field(default=None, max_length=500)
    candidate_version: str | None = Field(default=None, max_length=64)
    created_by: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ModelVersion(SQLModel, table=True):
    """A servable model: the base model, or the base plus a LoRA adapter from a run."""

    version: str = Field(primary_key=True, max_length=64)
    status: str = Field(default="candidate", max_length=16)  # candidate | active | retired | rejected
    base_model: str = Field(max_length=500)
    adapter_path: str | None = Field(default=None, max_length=500)
    job_id: int | None = Field(default=None, foreign_key="trainingjob.id")
    evaluation: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    probes: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    promoted_at: datetime | None = None


class CatalogVersion(SQLModel, table=True):
    """One successful import. The newest row names the Chroma collection being served."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    digest: str = Field(max_length=64)
    collection: str = Field(max_length=128)
    n_items: int = 0
    counts: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class AuditLog(SQLModel, table=True):
    """Who did what administrative action, and why."""

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int | None = Field(default=None, foreign_key="account.id")
    action: str = Field(max_length=64)
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
