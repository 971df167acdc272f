"""The scratch stores an evaluation reads: a bundle imported under `<var>/eval/<bundle name>/`.

SQLite + Chroma + graphs + rankers there, re-used while the bundle's digest is unchanged and wiped
when it changed. The serving stores are never touched: `scratch_stores` returns the scratch stores'
`Settings` (the serving settings with another var dir, database and Chroma path), and every system
is handed those settings and reads and writes only the stores they name; nothing process-wide
changes.
"""

from __future__ import annotations

import fcntl
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

from backend.model_files import materialise_base_model
from backend.settings import Settings, get_settings
from backend.store import get_engine
from catalog.bundle import Bundle


def safe_name(name: str) -> str:
    """A bundle name fit for a directory name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "bundle"


def scratch_settings(base: Settings, bundle: Bundle) -> Settings:
    """The settings of `bundle`'s scratch stores: `base` with its stores moved to
    `<var>/eval/<name>/` (a SQLite file, an embedded Chroma, graphs and rankers there) and the base
    model kept where `base` has it (shared with serving).

    Args:
        base (`Settings`): the serving settings.
        bundle (`Bundle`): the bundle evaluated.

    Returns:
        `Settings`: a new value; `base` is unchanged.
    """
    directory = (base.var_dir / "eval" / safe_name(bundle.name)).resolve()
    return base.model_copy(update={"var_dir": directory,
                                   "database_url": f"sqlite:///{directory / 'concierge.db'}",
                                   "chroma_path": directory / "chroma", "chroma_host": None,
                                   "base_model_dir": base.model_dir.resolve()})


def _wipe(directory: Path) -> None:
    """Delete a scratch directory, and the Chroma clients and SQL engines that may still hold it
    open (a cached engine would reconnect to a new, empty file without the schema)."""
    from backend.index import release_clients

    release_clients()
    get_engine.cache_clear()
    shutil.rmtree(directory, ignore_errors=True)


def scratch_stores(bundle: Bundle, needs_llm: bool = False, progress: bool = True,
                   settings: Settings | None = None) -> Settings:
    """Import `bundle` into its scratch stores under `<var>/eval/<name>/` (kept while its digest is
    unchanged) and return their settings, to hand to whatever should read them.

    Args:
        bundle (`Bundle`): the bundle.
        needs_llm (`bool`): materialise the base model first (in the serving var dir, shared).
        progress (`bool`): show the import's progress bars.
        settings (`Settings`, *optional*): the serving settings (default: `get_settings()`).

    Returns:
        `Settings`: the scratch settings (`scratch_settings`).
    """
    from backend import ranker as ranking
    from backend.importer import import_bundle
    from backend.live import prepare_ranker, ranker_is_stale

    base = settings or get_settings()
    if needs_llm:
        materialise_base_model(base)
    scratch = scratch_settings(base, bundle)
    directory = scratch.var_dir
    stamp = directory / "bundle.digest"
    with held(directory.with_name(directory.name + ".lock")):  # two evaluations: one builds
        if stamp.is_file() and stamp.read_text().strip() != bundle.digest():
            _wipe(directory)
        result = import_bundle(bundle, progress=progress, settings=scratch)
        directory.mkdir(parents=True, exist_ok=True)
        if result.changed or not stamp.is_file():
            print(f"scratch stores: {result.summary()} -> {directory}")
            print("ranker (train split, val for early stopping): "
                  f"{ranking.summary(prepare_ranker(bundle, scratch, progress))}")
        elif ranker_is_stale(scratch):  # engine or embedding model changed: its features moved
            info = prepare_ranker(bundle, scratch, progress)  # retrains if it has train queries
            done = ("kept (no train split to retrain it on)" if ranker_is_stale(scratch)
                    else "retrained")
            print(f"ranker trained by another engine or embedding model, {done}: "
                  f"{ranking.summary(info)}")
        stamp.write_text(bundle.digest())
    return scratch


@contextmanager
def held(lock: Path):
    """Hold an exclusive lock on the file `lock` for the block: two processes that evaluate one
    bundle build its scratch stores one after the other (at once, one deleted a Chroma collection
    the other was filling)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

