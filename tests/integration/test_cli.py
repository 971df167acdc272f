"""The `concierge` command as a user runs it: exit codes and messages, never a traceback."""

import subprocess
import sys

import pytest

from catalog.bundle import write_bundle
from tests.fixtures.small import small_bundle

pytestmark = pytest.mark.integration


def concierge(*args, env=None):
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture
def env(settings, monkeypatch):
    import os

    return dict(os.environ)


@pytest.mark.one_store
def test_validate_exit_status_follows_the_report(tmp_path, env):
    bundle = write_bundle(small_bundle(), tmp_path / "b")
    ok = concierge("validate", str(bundle), env=env)
    assert ok.returncode == 0 and "items.jsonl: 4 good, 0 bad" in ok.stdout
    with open(bundle / "items.jsonl", "a") as f:
        f.write('{"item_id": "x", "title": "y", "price": "-1"}\n')
    bad = concierge("validate", str(bundle), env=env)
    assert bad.returncode == 1
    assert "items.jsonl:5: price must not be negative, got '-1'" in bad.stdout


@pytest.mark.one_store
def test_validate_out_turns_a_retailers_table_into_a_bundle_of_its_good_rows(tmp_path, env):
    from catalog.bundle import read_bundle

    table = tmp_path / "items.csv"
    table.write_text("SKU,Product Name,Maker,RRP GBP\n"
                     "c-1,Grand Cru Chablis 2019,Domaine Vireux,64\n"
                     "c-2,Vintage Port 1997,Quinta do Lobo,not a price\n"
                     "c-3,Crystal Decanter,Atelier Verre,180\n")
    out = tmp_path / "cellar"
    done = concierge("validate", str(table), "--map", "item_id=SKU,title=Product Name,brand=Maker,price=RRP GBP",
                     "--out", str(out), env=env)
    assert done.returncode == 1  # the bad row is still reported, and left out of the bundle
    assert "wrote 2 good item(s) as a bundle" in done.stdout
    bundle, report = read_bundle(out)
    assert report.ok and bundle.name == "cellar"
    assert [(i["item_id"], i["brand"], i["price"]) for i in bundle.items] == [
        ("c-1", "Domaine Vireux", 64.0), ("c-3", "Atelier Verre", 180.0)]


@pytest.mark.one_store
def test_validate_and_import_take_a_zipped_bundle_as_the_admin_page_does(tmp_path, env):
    """Issue 16, D12: `concierge validate` refused a .zip that the admin page accepts."""
    import zipfile

    bundle = write_bundle(small_bundle(), tmp_path / "b")
    with open(bundle / "items.jsonl", "a") as f:
        f.write('{"item_id": "x", "title": "y", "price": "-1"}\n')
    archive = tmp_path / "b.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in bundle.iterdir():
            zf.write(path, f"b/{path.name}")
    checked = concierge("validate", str(archive), env=env)
    assert checked.returncode == 1, checked.stderr
    assert "items.jsonl:5: price must not be negative, got '-1'" in checked.stdout
    assert "items.jsonl: 4 good, 1 bad" in checked.stdout
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(archive.read_bytes()[:200])
    refused = concierge("validate", str(damaged), env=env)
    assert refused.returncode == 2 and "damaged.zip is not a valid .zip archive" in refused.stderr
    mapped = concierge("validate", str(archive), "--map", "title=Name", env=env)
    assert mapped.returncode == 2 and "--map applies to a CSV or JSONL file" in mapped.stderr


@pytest.mark.one_store  # a missing path fails before any store is opened
@pytest.mark.parametrize("args, message", [
    (["import", "/nonexistent/bundle"], "error: /nonexistent/bundle does not exist"),
    (["validate", "."], "is not a bundle: it has no items.jsonl"),
])
def test_bad_paths_get_one_line_errors(args, message, env):
    result = concierge(*args, env=env)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_import_then_search_and_a_csv_with_a_missing_mapped_column(tmp_path, env):
    bundle = write_bundle(small_bundle(), tmp_path / "b")
    first = concierge("import", str(bundle), "--quiet", env=env)
    assert first.returncode == 0, first.stderr
    assert "4 items live (4 embedded, 0 unchanged), 2 clients, 3 new interactions" in first.stdout
    assert "unchanged" in concierge("import", str(bundle), "--quiet", env=env).stdout
    found = concierge("search", "warm boots for winter", "-k", "1", env=env)
    assert found.returncode == 0 and "i-boot" in found.stdout

    table = tmp_path / "shop.csv"
    table.write_text("Name,Cost\nSilk scarf,200\n")
    wrong = concierge("import", str(table), "--map", "title=Name,price=Price", env=env)
    assert wrong.returncode == 2 and "column 'Price' is not in the header" in wrong.stderr
    right = concierge("import", str(table), "--map", "title=Name,price=Cost", "--quiet", env=env)
    assert right.returncode == 0 and "5 items live" in right.stdout, right.stderr
