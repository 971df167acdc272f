"""The catalogue index: items, their text embeddings and flat metadata in Chroma.

Each import writes a *new* collection and the SQL store records which collection is live
(`CatalogVersion`), so a half-finished import is never served (see `backend/importer.py`).
Embeddings are computed here with all-MiniLM-L6-v2 from a local directory and passed to Chroma
explicitly: Chroma's own default embedding function would download a model at run time.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from backend.settings import Settings, get_settings
from catalog.errors import ConciergeError

# Metadata keys Chroma can filter on. Lists are stored as lists (filter with $contains).
SCALAR_ATTRIBUTES = ("category_group", "origin", "branding", "formality", "palette", "craft")
LIST_ATTRIBUTES = ("material", "colour", "season", "occasion")
PAGE = 1000  # rows per Chroma call; well under its max batch size
SMALL_BATCH = 8  # up to this many texts are embedded on one thread


@lru_cache(maxsize=2)
def load_embedder(path: str):
    """The sentence-transformers model from a local directory (never from a hub)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(path, device="cpu", local_files_only=True)
    model.max_seq_length = 128  # item documents are built to fit; longer requests are cut here
    return model


def embed(texts: list[str], settings: Settings | None = None, progress: bool = False) -> np.ndarray:
    """Embed texts with the configured model.

    Returns:
        `np.ndarray`: shape (len(texts), 384) for all-MiniLM-L6-v2, L2-normalised float32.
    """
    settings = settings or get_settings()
    model = load_embedder(settings.embedding_model_path)
    threads = torch.get_num_threads()
    if len(texts) <= SMALL_BATCH:
        # A request's few texts: one thread. Two threads meet at a barrier per op, and when the
        # other core is busy (a generation, a second request) a 10 ms query took 400+ ms here.
        torch.set_num_threads(1)
    try:
        return model.encode(texts, batch_size=settings.embedding_batch_size, normalize_embeddings=True,
                            show_progress_bar=progress, convert_to_numpy=True)
    finally:
        torch.set_num_threads(threads)


DESCRIPTION_WORDS = 16  # embedding cost grows with length; the facts come first, the copy is trimmed


def item_document(item: dict) -> str:
    """The text embedded (and searched by BM25) for an item: title, house, category, every short attribute
    value (whatever the catalogue calls its attributes), then the opening of its copy."""
    parts = [item["title"], item.get("brand") or "", item.get("category") or ""]
    for key, value in sorted((item.get("attributes") or {}).items()):
        values = [v for v in (value if isinstance(value, list) else [value])
                  if isinstance(v, str) and 0 < len(v) <= 48 or isinstance(v, bool)]
        if values:
            shown = [str(key).replace("_", " ") if v is True else v for v in values if v is not False]
            if shown:
                parts.append(f"{key}: {', '.join(map(str, shown))}")
    parts.append(" ".join((item.get("description") or "").split()[:DESCRIPTION_WORDS]))
    return ". ".join(p for p in parts if p)


def content_hash(item: dict) -> str:
    return hashlib.sha1(json.dumps(item, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def item_metadata(item: dict) -> dict:
    """Flat metadata for Chroma filters, plus the whole item as JSON to read it back exactly."""
    attrs = item.get("attributes", {})
    meta = {"title": item["title"], "json": json.dumps(item, ensure_ascii=False), "hash": content_hash(item)}
    for key in ("brand", "category"):
        if item.get(key):
            meta[key] = str(item[key]).lower()
    if item.get("price") is not None:
        meta["price"] = float(item["price"])
    for key in SCALAR_ATTRIBUTES:
        value = attrs.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if value not in (None, ""):
            meta[key] = str(value).lower()
    for key in LIST_ATTRIBUTES:
        value = attrs.get(key)
        values = [str(v).lower() for v in (value if isinstance(value, list) else [value] if value else [])]
        if values:
            meta[key] = values
    return meta


def chroma_client(settings: Settings | None = None):
    """The embedded PersistentClient, or an HttpClient when a Chroma server is configured."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = settings or get_settings()
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        _ensure_server_database(settings.chroma_host, settings.chroma_port, settings.chroma_database)
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port,
                                   database=settings.chroma_database, settings=chroma_settings)
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    with _OPENING:  # Chroma's first open of a path is not safe from two threads at once
        return _persistent_client(str(settings.chroma_dir.resolve()))


@lru_cache(maxsize=16)
def _ensure_server_database(host: str, port: int, database: str) -> None:
    """Create `database` on the Chroma server unless it exists (once per process)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    admin = chromadb.AdminClient(ChromaSettings(chroma_api_impl="chromadb.api.fastapi.FastAPI",
                                                chroma_server_host=host, chroma_server_http_port=port,
                                                anonymized_telemetry=False))
    try:
        admin.get_database(database)
    except Exception:  # chromadb raises NotFoundError (its class moved between releases)
        admin.create_database(database)


_OPENING = threading.Lock()


@lru_cache(maxsize=4)
def _persistent_client(path: str):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(path=path, settings=ChromaSettings(anonymized_telemetry=False))


def release_clients() -> None:
    """Forget the embedded Chroma clients this process holds (ours and chromadb's own cache), so that a
    store directory can be deleted and the next `chroma_client` opens it anew."""
    from chromadb.api.client import SharedSystemClient

    _persistent_client.cache_clear()
    SharedSystemClient.clear_system_cache()


@dataclass
class Hit:
    item: dict
    score: float  # cosine similarity, higher is closer


def embedding_name(settings: Settings) -> str:
    """Which embedding model this is: its directory's name and a digest of its config files and weight file
    sizes (the shipped model's directory is just `model`). Recorded with each Chroma collection (vectors
    of another model are re-embedded at the next import) and each ranker (its similarity features are
    stale under another model: `backend.ranker.is_stale`)."""
    return _model_fingerprint(settings.embedding_model_path)


@lru_cache(maxsize=8)
def _model_fingerprint(path: str) -> str:
    root = Path(path)
    digest = hashlib.sha256()
    for name in ("config.json", "modules.json", "sentence_bert_config.json"):
        if (root / name).is_file():
            digest.update(name.encode() + (root / name).read_bytes())
    for weights in sorted([*root.glob("*.safetensors"), *root.glob("*.bin")]):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return f"{root.name}-{digest.hexdigest()[:12]}"


class CatalogIndex:
    """One Chroma collection of catalogue items."""

    def __init__(self, collection):
        self.collection = collection

    @classmethod
    def open(cls, name: str, settings: Settings | None = None, create: bool = False) -> "CatalogIndex":
        """Open a collection, or create it (recording the embedding model its vectors will come from)."""
        client = chroma_client(settings)
        if create:
            collection = client.get_or_create_collection(
                name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}},
                metadata={"embedding": embedding_name(settings or get_settings())})
        else:
            collection = client.get_collection(name, embedding_function=None)
        return cls(collection)

    @property
    def embedding(self) -> str | None:
        """The embedding model recorded when the collection was created (None: made before models were
        recorded)."""
        return (self.collection.metadata or {}).get("embedding")

    def __len__(self) -> int:
        return self.collection.count()

    def add(self, items: list[dict], embeddings: np.ndarray, progress: bool = False) -> None:
        """Add items with precomputed embeddings (one row per item); `progress`: a progress bar on stderr (the
        bar is counted by a Gradio handler's `gr.Progress(track_tqdm=True)` either way)."""
        with tqdm(total=len(items), desc="store items", unit="item", disable=not progress) as bar:
            for start in range(0, len(items), PAGE):
                chunk = items[start:start + PAGE]
                self.collection.upsert(
                    ids=[it["item_id"] for it in chunk],
                    embeddings=embeddings[start:start + PAGE],
                    documents=[item_document(it) for it in chunk],
                    metadatas=[item_metadata(it) for it in chunk],
                )
                bar.update(len(chunk))

    def add_raw(self, ids, embeddings, documents, metadatas) -> None:
        """Add rows copied from another collection (no re-embedding)."""
        for start in range(0, len(ids), PAGE):
            end = start + PAGE
            self.collection.upsert(ids=ids[start:end], embeddings=embeddings[start:end],
                                   documents=documents[start:end], metadatas=metadatas[start:end])

    def pages(self, include=("metadatas",)) -> Iterator[dict]:
        """Every row, a page at a time (Chroma `get` results)."""
        total = self.collection.count()
        for offset in range(0, total, PAGE):
            yield self.collection.get(include=list(include), limit=PAGE, offset=offset)

    def items(self) -> list[dict]:
        """Every item, as imported."""
        return [json.loads(m["json"]) for page in self.pages() for m in page["metadatas"]]

    def get(self, item_ids: list[str]) -> list[dict]:
        """Items by id, in the order asked; unknown ids are left out."""
        if not item_ids:
            return []
        found = self.collection.get(ids=list(item_ids), include=["metadatas"])
        by_id = {i: json.loads(m["json"]) for i, m in zip(found["ids"], found["metadatas"])}
        return [by_id[i] for i in item_ids if i in by_id]

    def nearest(self, vector: np.ndarray, k: int, where: dict | None = None) -> tuple[list[str], list[float]]:
        """Ids and cosine similarities of the `k` items nearest to an embedding, optionally filtered."""
        n = len(self)
        if n == 0:
            return [], []
        result = self.collection.query(query_embeddings=np.asarray(vector, dtype=np.float32)[None, :],
                                       n_results=min(k, n), where=where or None, include=["distances"])
        return list(result["ids"][0]), [1.0 - d for d in result["distances"][0]]

    def vectors(self) -> tuple[list[str], np.ndarray]:
        """Every item id and its embedding (rows unit length), in one pass."""
        ids, rows = [], []
        for page in self.pages(include=("embeddings",)):
            ids += list(page["ids"])
            rows.append(np.asarray(page["embeddings"], dtype=np.float32))
        return ids, (np.concatenate(rows) if rows else np.zeros((0, 384), dtype=np.float32))

    def search(self, text: str, k: int = 20, where: dict | None = None,
               settings: Settings | None = None) -> list[Hit]:
        """Semantic search, optionally restricted by a Chroma metadata filter.

        Args:
            text (`str`): the query text.
            k (`int`): how many hits at most.
            where (`dict`, *optional*): a Chroma filter, e.g. `{"price": {"$lte": 3000}}`.

        Returns:
            `list[Hit]`: best first.
        """
        if not text or not text.strip():
            raise ConciergeError("the search text is empty; type what you are looking for")
        n = len(self)
        if n == 0:
            return []
        vector = embed([text], settings)
        result = self.collection.query(query_embeddings=vector, n_results=min(k, n), where=where or None,
                                       include=["metadatas", "distances"])
        return [Hit(json.loads(m["json"]), 1.0 - d)
                for m, d in zip(result["metadatas"][0], result["distances"][0])]
