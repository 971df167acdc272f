"""Importing a bundle into the stores, all or nothing.

Order of work, chosen so an interruption at any point leaves the served catalogue as it was:

1. validate (bad rows were already skipped and counted by `catalog.bundle`);
2. build a *new* Chroma collection: the live items (copied with their embeddings) merged with the
   bundle's items, embedding only the items that are new or changed (upsert by `item_id`);
3. one SQL transaction: upsert clients, interactions and notes, and record a `CatalogVersion` row
   naming the new collection. Commit is the switch-over; before it nothing served has changed;
4. drop collections no version points at (leftovers of earlier interrupted imports included) and
   rebuild the product graph.

Re-importing an unchanged bundle finds the same digest and does nothing.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
from sqlalchemy import Engine
from sqlmodel import select
from tqdm.auto import tqdm

from backend.served import active_version
from backend.graphs import product_graph
from backend.index import CatalogIndex, chroma_client, content_hash, embed, item_document
from backend.settings import Settings, get_settings
from backend.store import get_engine, session
from backend.tables import CatalogVersion, Client, ClientNote, Interaction
from catalog.bundle import Bundle, ValidationReport
from catalog.derive import derive_catalogue
from catalog.errors import ConciergeError
from catalog.prices import currency_code

log = logging.getLogger(__name__)
COLLECTION_PREFIX = "items-"


@dataclass
class ImportResult:
    """What an import did."""

    name: str
    changed: bool
    collection: str
    items_total: int = 0
    items_embedded: int = 0
    items_reused: int = 0
    clients: int = 0
    interactions_added: int = 0
    notes_added: int = 0
    seconds: float = 0.0
    report: ValidationReport = field(default_factory=ValidationReport)

    def summary(self) -> str:
        if not self.changed:
            return f"{self.name}: unchanged (same content as the live catalogue); nothing to do"
        return (f"{self.name}: {self.items_total} items live ({self.items_embedded} embedded, "
                f"{self.items_reused} unchanged), {self.clients} clients, {self.interactions_added} new "
                f"interactions, {self.notes_added} new notes in {self.seconds:.1f} s")


def catalogue_digest(bundle: Bundle) -> str:
    """The digest of the catalogue version importing `bundle` makes (`CatalogVersion.digest`): the same
    bundle always gives the same digest, so whatever was chosen for one catalogue (an adapter's fusion
    weight) can be found again when it is served."""
    return hashlib.sha256(f"{bundle.digest()}|{len(bundle.items)}".encode()).hexdigest()[:16]


def import_bundle(bundle: Bundle, report: ValidationReport | None = None, settings: Settings | None = None,
                  engine: Engine | None = None, progress: bool = True) -> ImportResult:
    """Import a validated bundle into Chroma and SQL, all or nothing.

    Args:
        bundle (`Bundle`): the good rows (from `read_bundle` or `read_table`).
        report (`ValidationReport`, *optional*): the validation report; rows the store rejects
            (e.g. interactions of clients it does not know) are added to it.
        progress (`bool`): show progress bars on stderr. The bars (copying the live catalogue, embedding,
            storing) are tqdm's, which a Gradio handler with `gr.Progress(track_tqdm=True)` shows on the page
            whether or not they are drawn here.

    Returns:
        `ImportResult`: counts and timings.
    """
    settings = settings or get_settings()
    engine = engine or get_engine(settings.sql_url)
    report = report or ValidationReport()
    if not bundle.items:
        raise ConciergeError(f"{bundle.name}: no valid items to import\n{report.to_text()}")
    started = datetime.now(timezone.utc)
    brands = sorted({it["brand"] for it in bundle.items if it.get("brand")})
    currency = currency_code(bundle.manifest.get("currency"))  # the bundle's own, for items that state none
    items = derive_catalogue([it if it.get("currency") or not currency else {**it, "currency": currency}
                              for it in bundle.items], brands)
    digest = catalogue_digest(bundle)

    current = active_version(engine)
    if current is not None and current.digest == digest:
        return ImportResult(bundle.name, False, current.collection, current.n_items, report=report)

    client = chroma_client(settings)
    _drop_orphans(client, engine)
    name = f"{COLLECTION_PREFIX}{started.strftime('%Y%m%d%H%M%S%f')}-{digest[:8]}"
    staging = CatalogIndex.open(name, settings, create=True)
    try:
        result = _fill_collection(staging, current, items, settings, progress)
        result.name, result.collection = bundle.name, name
        counts = write_sql(bundle, items, report, engine, CatalogVersion(
            name=bundle.name, digest=digest, collection=name, n_items=len(staging), counts=bundle.counts()))
    except BaseException:
        client.delete_collection(name)  # Ctrl-C or an error: the live catalogue was never touched
        raise
    result.clients, result.interactions_added, result.notes_added = counts
    result.items_total = len(staging)
    result.report = report
    _drop_orphans(client, engine)
    product_graph(settings, engine, rebuild=True)  # the cached product graph, for the new version
    result.seconds = (datetime.now(timezone.utc) - started).total_seconds()
    return result


def _fill_collection(staging: CatalogIndex, current: CatalogVersion | None, items: list[dict],
                     settings: Settings, progress: bool) -> ImportResult:
    """Copy the live rows not replaced by `items`, then add `items`, embedding only what changed."""
    incoming = {it["item_id"]: it for it in items}
    reused: dict[str, list[float]] = {}
    re_embedded = 0
    if current is not None:
        live = CatalogIndex.open(current.collection, settings)
        same_model = live.embedding in (None, staging.embedding)  # None: recorded before models were
        for page in tqdm(list(live.pages(include=("metadatas", "embeddings", "documents"))),
                         desc="copy live catalogue", disable=not progress, unit="page"):
            keep = [i for i, item_id in enumerate(page["ids"]) if item_id not in incoming]
            for i, item_id in enumerate(page["ids"]):
                new = incoming.get(item_id)
                if same_model and new is not None and page["metadatas"][i].get("hash") == content_hash(new):
                    reused[item_id] = page["embeddings"][i]
            if keep:
                documents = [page["documents"][i] for i in keep]
                vectors = [page["embeddings"][i] for i in keep] if same_model else \
                    embed(documents, settings)  # another model's vectors: the stored text again
                re_embedded += 0 if same_model else len(keep)
                staging.add_raw([page["ids"][i] for i in keep], vectors, documents,
                                [page["metadatas"][i] for i in keep])
    todo = [it for it in items if it["item_id"] not in reused]
    vectors = np.zeros((len(items), 0), dtype=np.float32)
    if todo:
        fresh = iter(_embed_in_batches([item_document(it) for it in todo], settings, progress))
        vectors = np.stack([np.asarray(reused[it["item_id"]], dtype=np.float32) if it["item_id"] in reused
                            else next(fresh) for it in items])
    elif items:
        vectors = np.stack([np.asarray(reused[it["item_id"]], dtype=np.float32) for it in items])
    staging.add(items, vectors, progress)
    return ImportResult("", True, "", items_embedded=len(todo) + re_embedded, items_reused=len(reused))


def _embed_in_batches(texts: list[str], settings: Settings, progress: bool) -> list[np.ndarray]:
    out = []
    step = settings.embedding_batch_size * 4
    with tqdm(total=len(texts), desc="embed items", unit="item", disable=not progress) as bar:
        for start in range(0, len(texts), step):
            out.extend(embed(texts[start:start + step], settings))
            bar.update(min(step, len(texts) - start))
    return out


def write_sql(bundle: Bundle, items: list[dict], report: ValidationReport, engine: Engine,
              version: CatalogVersion) -> tuple[int, int, int]:
    """Upsert clients, interactions and notes, and record the version: one transaction.

    Returns:
        `tuple[int, int, int]`: clients written, interactions added, notes added.
    """
    n_interactions = n_notes = 0
    with session(engine) as s:
        known = set(s.exec(select(Client.client_id)).all())
        for row in bundle.clients:
            client = s.get(Client, row["client_id"])
            profile = {k: v for k, v in row.items()
                       if k not in ("client_id", "name", "notes", "stated_preferences")}
            if client is None:
                client = Client(client_id=row["client_id"], name=row["name"])
            client.name, client.profile = row["name"], profile
            client.stated_preferences = row["stated_preferences"]
            s.add(client)
            known.add(row["client_id"])
        s.flush()
        existing_notes = set(s.exec(select(ClientNote.client_id, ClientNote.text_hash)).all())
        for row in bundle.clients:
            for text in row["notes"]:
                key = (row["client_id"], hashlib.sha256(text.encode()).hexdigest())
                if key not in existing_notes:
                    s.add(ClientNote(client_id=key[0], text=text, text_hash=key[1], source="import"))
                    existing_notes.add(key)
                    n_notes += 1
        existing = {(c, i, k, t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t)
                    for c, i, k, t in s.exec(select(Interaction.client_id, Interaction.item_id,
                                                    Interaction.kind, Interaction.timestamp)).all()}
        for row in bundle.interactions:
            if row["client_id"] not in known:
                report.reject("interactions.csv", 0, f"client {row['client_id']!r} is neither in the bundle "
                              "nor in the store; interaction skipped")
                continue
            when = datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))
            key = (row["client_id"], row["item_id"], row["kind"], when)
            if key in existing:
                continue
            existing.add(key)
            s.add(Interaction(client_id=key[0], item_id=key[1], kind=key[2], timestamp=when, value=row["value"]))
            n_interactions += 1
        s.add(version)
    return len(bundle.clients), n_interactions, n_notes


def _drop_orphans(client, engine: Engine) -> None:
    """Delete item collections that no longer back the live catalogue."""
    live = active_version(engine)
    for col in client.list_collections():
        name = col if isinstance(col, str) else col.name
        if name.startswith(COLLECTION_PREFIX) and (live is None or name != live.collection):
            log.info("dropping stale collection %s", name)
            client.delete_collection(name)
