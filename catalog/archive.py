"""A bundle sent as one `.zip` file: unpacked safely, then read like a bundle directory.

The admin page's upload and `concierge validate` / `concierge import` go through `read_bundle_archive`,
so a `.zip` is accepted (or refused, with the same reason) the same way everywhere.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path

from catalog.bundle import Bundle, ValidationReport, read_bundle
from catalog.errors import ConciergeError

MAX_ZIP_MEMBERS = 10_000  # a bundle has five files; thousands of entries are a mistake or an attack


def read_bundle_archive(archive: Path, max_bytes: int) -> tuple[Bundle, ValidationReport]:
    """Read and validate a bundle zipped into one file.

    Args:
        archive (`Path`): the `.zip`; the bundle's files at its top level or in one folder.
        max_bytes (`int`): the most the archive may unpack to.

    Returns:
        `tuple[Bundle, ValidationReport]`: as `read_bundle`; a bundle whose manifest has no name is named after
        its folder in the archive, or after the archive.

    Raises:
        `ConciergeError`: not a zip, damaged, encrypted, an unknown compression, an unsafe path, too large, too
        many files, or no items.jsonl inside.
    """
    with tempfile.TemporaryDirectory(prefix="concierge-bundle-") as tmp:
        into = Path(tmp) / archive.stem  # the bundle's name when its files are at the archive's top level
        into.mkdir()
        return read_bundle(unpack(archive, into, max_bytes))


def unpack(archive: Path, into: Path, max_bytes: int) -> Path:
    """Extract a bundle .zip safely (no paths outside `into`, bounded size and entries); returns the bundle
    directory. A damaged archive (bad CRC, cut short, unknown compression, a password) says so."""
    if not zipfile.is_zipfile(archive):
        raise ConciergeError(f"{archive.name} is not a valid .zip archive")
    try:
        _extract(archive, into, max_bytes)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ConciergeError(f"{archive.name} is damaged ({exc}); make the .zip again and upload it again") from None
    except NotImplementedError as exc:  # e.g. "That compression method is not supported"
        raise ConciergeError(f"{archive.name} uses a compression this server cannot read ({exc}); zip it with "
                             f"the usual (deflate) compression") from None
    except RuntimeError as exc:  # "File ... is encrypted, password required for extraction"
        raise ConciergeError(f"{archive.name} cannot be read ({exc}); upload it without a password") from None
    roots = sorted({p.parent for p in into.rglob("items.jsonl")}, key=lambda p: len(p.parts))
    if not roots:
        raise ConciergeError(f"{archive.name} holds no items.jsonl; a bundle has manifest.json and items.jsonl "
                             "(and optionally clients.jsonl, interactions.csv, queries.jsonl)")
    return roots[0]


def _extract(archive: Path, into: Path, max_bytes: int) -> None:
    with zipfile.ZipFile(archive) as zf:
        members = [m for m in zf.infolist() if not m.is_dir() and "__MACOSX" not in m.filename]
        if len(members) > MAX_ZIP_MEMBERS:
            raise ConciergeError(f"{archive.name} holds {len(members):,} files; a bundle has a handful "
                                 f"(at most {MAX_ZIP_MEMBERS:,})")
        # the declared sizes bound what is written: zipfile stops at them and checks each file's CRC
        if sum(m.file_size for m in members) > max_bytes:
            raise ConciergeError(f"{archive.name} unpacks to more than {max_bytes / 2**20:.0f} MiB")
        for member in members:
            target = (into / member.filename).resolve()
            if not target.is_relative_to(into.resolve()):
                raise ConciergeError(f"{archive.name} contains an unsafe path: {member.filename}")
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
