"""A bundle as one .zip (catalog.archive): read like the directory it holds, refused with a reason otherwise."""

import zipfile

import pytest

from catalog.archive import read_bundle_archive
from catalog.bundle import read_bundle, write_bundle
from catalog.errors import ConciergeError
from tests.fixtures.small import small_bundle

MiB = 2**20


def zipped(directory, archive, folder: str = "") -> object:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(directory.iterdir()):
            zf.write(path, f"{folder}{path.name}")
    return archive


@pytest.mark.parametrize("folder", ["", "small/", "exports/2026/small/"])
def test_a_zipped_bundle_reads_as_its_directory(tmp_path, folder):
    directory = write_bundle(small_bundle(), tmp_path / "small")
    expected, expected_report = read_bundle(directory)
    bundle, report = read_bundle_archive(zipped(directory, tmp_path / "upload.zip", folder), 10 * MiB)
    assert bundle.digest() == expected.digest() and bundle.name == "small"
    assert report.to_text() == expected_report.to_text()


def test_a_bundle_without_a_name_is_named_after_its_archive(tmp_path):
    directory = write_bundle(small_bundle(), tmp_path / "small")
    (directory / "manifest.json").unlink()
    bundle, _ = read_bundle_archive(zipped(directory, tmp_path / "spring-catalogue.zip"), 10 * MiB)
    assert bundle.name == "spring-catalogue"


def test_bad_rows_inside_a_zip_are_reported_with_their_line(tmp_path):
    directory = write_bundle(small_bundle(), tmp_path / "small")
    with open(directory / "items.jsonl", "a") as f:
        f.write('{"item_id": "x", "title": "y", "price": "-1"}\n')
    _, report = read_bundle_archive(zipped(directory, tmp_path / "b.zip"), 10 * MiB)
    assert [str(p) for p in report.problems] == ["items.jsonl:5: price must not be negative, got '-1'"]


@pytest.mark.parametrize("members, message", [
    ({"../evil/items.jsonl": "{}"}, "contains an unsafe path: ../evil/items.jsonl"),
    ({"notes.txt": "hello"}, "holds no items.jsonl"),
    ({"items.jsonl": "x" * (2 * MiB)}, "unpacks to more than 1 MiB"),
])
def test_unsafe_or_wrong_archives_are_refused(tmp_path, members, message):
    archive = tmp_path / "b.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    with pytest.raises(ConciergeError, match=message):
        read_bundle_archive(archive, MiB)
    assert not (tmp_path / "evil").exists()


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"PK not really")
    with pytest.raises(ConciergeError, match="fake.zip is not a valid .zip archive"):
        read_bundle_archive(fake, MiB)
