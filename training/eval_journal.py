"""Resumable evaluation: each query's record of a slow (LLM) system is appended to a journal as it
finishes, so an evaluation that stops — Ctrl-C, a machine handed back, a session's end — continues
where it stopped when the same command runs again.

    OUT/journal/<protocol>--<system>.jsonl
        first line: the key of what was run; then one record per query

The key holds everything the records depend on (bundle digest, split, protocol, system, seed,
cut-offs, exclusion, and the adapter's files' size and time); a journal with another key is started
over. The journal is removed once the report is written.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

from training.eval_stats import QueryRecord

JOURNAL_DIR = "journal"


def journal_path(out: str | Path, protocol: str, spec: str) -> Path:
    """Where the records of `spec` on `protocol` go under the output directory `out`."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", spec).strip("_")[:120]
    return Path(out) / JOURNAL_DIR / f"{protocol}--{slug}.jsonl"


def journal_key(bundle_digest: str, split: str, protocol: str, spec: str, seed: int, ks: list[int],
                exclude: bool) -> dict:
    """What a journal's records depend on; a `system@DIR` also by its directory's files."""
    key = {"bundle": bundle_digest, "split": split, "protocol": protocol, "system": spec,
           "seed": seed, "ks": list(ks), "exclude_seen": exclude}
    _, _, directory = spec.partition("@")
    if directory and Path(directory).is_dir():
        key["files"] = sorted((p.name, p.stat().st_size, int(p.stat().st_mtime))
                              for p in Path(directory).iterdir() if p.is_file())
        key["files"] = [list(f) for f in key["files"]]
    return key


class Journal:
    """Append-only records of one system on one protocol (see the module docstring)."""

    def __init__(self, path: Path, key: dict):
        self.path, self.key = path, key
        self.done: dict[str, QueryRecord] = {}
        lines = path.read_text().splitlines() if path.is_file() else []
        if lines and _loads(lines[0]) == {"key": key}:
            for line in lines[1:]:
                row = _loads(line)
                if row:  # a line cut by a crash is skipped; that query runs again
                    self.done[row["query_id"]] = QueryRecord(**row)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"key": key}) + "\n")

    def add(self, record: QueryRecord) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(asdict(record), default=str) + "\n")
        self.done[record.query_id] = record


def clear_journals(out: str | Path) -> None:
    """Remove the journals under `out` (the report holds everything they did)."""
    directory = Path(out) / JOURNAL_DIR
    if directory.is_dir():
        for path in directory.glob("*.jsonl"):
            path.unlink()
        directory.rmdir()


def _loads(line: str) -> dict | None:
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None
