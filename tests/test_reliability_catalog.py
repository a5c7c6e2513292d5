"""Damaged catalogs (issue 15, item 5): refused with one line and exit 1, never a silent new library;
automatic backups; `irt-desktop repair` restores the newest sound one and the library searches again.
Also write failures as one line (item 6): a full disk, a catalog write refused by SQLite."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from test_library_cli import _run
from test_library_support import copy_query, make_tree

from irt_desktop.library import Library
from irt_desktop.library.errors import CatalogDamaged
from irt_desktop.library.health import BACKUP_KEEP, Backups, Storage, repair
from irt_desktop.paths import LibraryLayout


def _one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


@pytest.fixture
def indexed(tmp_path, tiny_bundle, capsys):
    """A library indexed through the CLI: (library folder, photos folder, a query copy of one photo)."""
    photos = tmp_path / "photos"
    make_tree(photos, n=6)
    lib = tmp_path / "lib"
    model = str(tiny_bundle.path)
    rc, _out, err = _run(capsys, "--library", str(lib), "index", str(photos), "--model", model)
    assert rc == 0, err
    query = copy_query(photos / "b" / "img_002.jpg", tmp_path / "query.jpg")
    return lib, photos, query


def _search(capsys, lib: Path, query: Path) -> tuple[int, list[dict], str]:
    rc, out, err = _run(capsys, "--library", str(lib), "search", str(query), "-k", "3", "--json")
    return rc, (json.loads(out) if rc == 0 else []), err


@pytest.mark.parametrize("damage", ["empty", "garbage", "foreign", "tables-missing"])
def test_a_damaged_or_foreign_catalog_is_refused_with_one_line(indexed, capsys, damage):
    lib, _photos, query = indexed
    catalog = LibraryLayout(lib).catalog
    for extra in ("-wal", "-shm"):
        Path(f"{catalog}{extra}").unlink(missing_ok=True)
    if damage == "empty":
        catalog.write_bytes(b"")
    elif damage == "garbage":
        catalog.write_bytes(os.urandom(8192))
    elif damage == "foreign":
        catalog.unlink()
        conn = sqlite3.connect(catalog)
        conn.execute("CREATE TABLE recipes (name TEXT)")
        conn.commit()
        conn.close()
    else:
        conn = sqlite3.connect(catalog)
        conn.execute("DROP TABLE vectors")
        conn.commit()
        conn.close()
    before = catalog.read_bytes()
    for argv in (["status"], ["search", str(query)], ["index"], ["duplicates"]):
        rc, _out, err = _run(capsys, "--library", str(lib), *argv)
        line = _one_line(err)
        assert rc == 1, (argv, err)
        assert str(catalog) in line, line
        if damage == "foreign":
            assert "not an irt-desktop catalog" in line
        else:
            assert "irt-desktop repair" in line
    assert catalog.read_bytes() == before  # refused, not rewritten into a new empty library
    with pytest.raises(CatalogDamaged):
        Library.open(lib)


def test_repair_restores_the_newest_backup_and_the_library_searches_again(indexed, capsys):
    lib, _photos, query = indexed
    rc, hits_before, err = _search(capsys, lib, query)
    assert rc == 0 and hits_before[0]["path"].endswith("img_002.jpg"), err
    layout = LibraryLayout(lib)
    (backup,) = Backups(layout).list()  # made when `index` closed the library
    assert backup.parent == lib / "backups" and backup.name.startswith("catalog-")

    layout.catalog.write_bytes(os.urandom(50_000))  # damaged
    rc, _, err = _search(capsys, lib, query)
    assert rc == 1 and "irt-desktop repair" in _one_line(err)

    rc, out, err = _run(capsys, "--library", str(lib), "repair")
    assert rc == 0, err
    assert "restored the backup" in out and "kept the damaged catalog as" in out
    (aside,) = lib.glob("catalog-damaged-*.sqlite")
    assert len(aside.read_bytes()) == 50_000  # kept, never deleted
    assert not list((lib / "vectors").glob("*.faiss"))  # the derived index is rebuilt from the catalog

    rc, hits_after, err = _search(capsys, lib, query)
    assert rc == 0, err
    assert [h["path"] for h in hits_after] == [h["path"] for h in hits_before]
    rc, out, err = _run(capsys, "--library", str(lib), "status", "--json")
    assert rc == 0 and json.loads(out)["n_indexed"] == 6

    # A sound catalog: repair says so and changes nothing.
    rc, out, err = _run(capsys, "--library", str(lib), "repair")
    assert rc == 0 and "nothing to repair" in out


def test_repair_without_a_backup_says_how_to_start_empty(tmp_path, capsys):
    lib = tmp_path / "lib"
    Library.open(lib).close()
    shutil.rmtree(lib / "backups")
    LibraryLayout(lib).catalog.write_bytes(b"")
    rc, out, err = _run(capsys, "--library", str(lib), "repair")
    assert rc == 1 and "--start-empty" in _one_line(err)
    assert LibraryLayout(lib).catalog.read_bytes() == b""  # nothing moved yet
    rc, out, err = _run(capsys, "--library", str(lib), "repair", "--start-empty")
    assert rc == 0 and "started an empty catalog" in out, err
    assert list(lib.glob("catalog-damaged-*.sqlite"))
    rc, out, err = _run(capsys, "--library", str(lib), "status")
    assert rc == 0 and "images: 0" in out


def test_a_missing_catalog_beside_backups_is_not_a_new_library(tmp_path, capsys):
    lib = tmp_path / "lib"
    with Library.open(lib) as library:
        library.add_root(tmp_path)
    for f in lib.glob("catalog.sqlite*"):
        f.unlink()
    rc, _, err = _run(capsys, "--library", str(lib), "index")
    assert rc == 1 and "is missing but the library has backups" in _one_line(err)
    assert not LibraryLayout(lib).catalog.exists()
    rc, out, err = _run(capsys, "--library", str(lib), "repair")
    assert rc == 0 and "restored the backup" in out
    with Library.open(lib, read_only=True) as library:
        assert [r.path for r in library.roots()] == [tmp_path]


def _corrupt_pages(catalog: Path) -> None:
    """Damage the file's later pages (its first page, the schema, stays readable)."""
    size = catalog.stat().st_size
    with open(catalog, "r+b") as f:
        f.seek(size // 2)
        f.write(b"\xde\xad\xbe\xef" * ((size - size // 2) // 4))


def test_quick_check_runs_after_an_unclean_shutdown(tmp_path):
    lib = tmp_path / "lib"
    layout = LibraryLayout(lib)
    with Library.open(lib) as library:
        library.add_root(tmp_path)
        assert layout.open_marker.exists()  # a writer is at work
    assert not layout.open_marker.exists()  # ... and closed cleanly
    conn = sqlite3.connect(layout.catalog)  # pages at the end of the file, which nothing at open reads
    conn.execute("CREATE TABLE filler (x TEXT)")
    conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 200,)] * 2000)
    conn.commit()
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    _corrupt_pages(layout.catalog)
    # A clean close before: only the cheap checks, which the damage does not reach.
    Library.open(lib, read_only=True).close()
    layout.open_marker.write_text("12345\n")  # as a writer killed with kill -9 leaves it
    with pytest.raises(CatalogDamaged, match="quick_check"):
        Library.open(lib)
    assert layout.open_marker.exists()  # still unchecked: the next writer checks again


def test_backups_are_throttled_kept_three_and_follow_the_umask(tmp_path):
    lib = tmp_path / "lib"
    layout = LibraryLayout(lib)
    old = os.umask(0o002)
    try:
        storage = Storage(layout)
        storage.catalog.set_setting("x", "1")
        storage.after_run()  # none yet: made now
        assert len(Backups(layout).list()) == 1
        storage.catalog.set_setting("x", "2")
        storage.after_run()  # the last one is not an hour old: none
        assert len(Backups(layout).list()) == 1
        for _ in range(BACKUP_KEEP + 2):
            time.sleep(1.05)  # names are per second
            assert Backups(layout).make(storage.catalog) is not None
        storage.close()  # changed, but the last backup is seconds old: none
    finally:
        os.umask(old)
    backups = Backups(layout).list()
    assert len(backups) == BACKUP_KEEP
    assert all(b.stat().st_mode & 0o777 == 0o664 for b in backups)
    assert not list(layout.backups.glob(".tmp-*"))
    conn = sqlite3.connect(backups[0])
    assert conn.execute("SELECT value FROM settings WHERE key = 'x'").fetchone() == ("2",)
    conn.close()


def test_a_close_backs_up_only_real_changes_and_at_most_hourly(tmp_path):
    """At 10^6 photos a backup is gigabytes: a session that changed nothing (a rescan that found nothing
    new commits empty transactions) makes none, and a changed one waits for the hourly cadence."""
    lib = tmp_path / "lib"
    layout = LibraryLayout(lib)
    storage = Storage(layout)
    storage.close()  # no backup yet: the first clean close makes one
    assert len(Backups(layout).list()) == 1

    storage = Storage(layout)
    with storage.catalog.transaction() as tx:
        tx.execute("UPDATE settings SET value = value WHERE key = 'no such key'")
    assert storage.catalog.commits == 0
    first = Backups(layout).list()[0]
    old = time.time() - 2 * 3600
    os.utime(first, (old, old))
    storage.close()  # nothing changed, however old the backup
    assert Backups(layout).list() == [first]

    storage = Storage(layout)
    storage.catalog.set_setting("x", "1")
    assert storage.catalog.commits == 1
    os.utime(first, (time.time(), time.time()))
    storage.close()  # changed, but the last backup is minutes old
    assert Backups(layout).list() == [first]

    storage = Storage(layout)
    storage.catalog.set_setting("x", "2")
    os.utime(first, (old, old))
    storage.close()  # changed, and the last backup is two hours old
    backups = Backups(layout).list()
    assert len(backups) == 2 and backups[1] == first
    conn = sqlite3.connect(backups[0])
    assert conn.execute("SELECT value FROM settings WHERE key = 'x'").fetchone() == ("2",)
    conn.close()


def test_a_backup_that_cannot_be_written_does_not_fail_the_close(tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    library = Library.open(lib)
    library.catalog.set_setting("x", "1")

    def full(target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(library.catalog, "backup_to", full)
    library.close()
    assert not LibraryLayout(lib).open_marker.exists()
    assert not list((lib / "backups").glob("*.sqlite"))


def test_repair_keeps_the_write_ahead_log_with_the_damaged_file(tmp_path):
    lib = tmp_path / "lib"
    layout = LibraryLayout(lib)
    Library.open(lib).close()
    layout.catalog.write_bytes(b"garbage" * 100)
    Path(f"{layout.catalog}-wal").write_bytes(b"a log that belongs to the damaged file")
    report = repair(layout)
    assert report.ok and report.kept_aside is not None
    assert Path(f"{report.kept_aside}-wal").read_bytes().startswith(b"a log")
    with Library.open(lib, read_only=True) as library:
        assert library.status().n_images == 0


# -- write failures as one line --------------------------------------------------------------------


def test_a_catalog_write_refused_for_a_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
    import irt_desktop.library.library as library_module

    def full_disk(self, *args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(library_module.Library, "index", full_disk)
    lib = tmp_path / "lib"
    with Library.open(lib) as library:
        library.add_root(tmp_path)
    rc, _, err = _run(capsys, "--library", str(lib), "index")
    assert rc == 1 and _one_line(err).startswith("irt-desktop: the disk is full: cannot write the catalog")


def test_a_faiss_file_that_cannot_be_saved_is_skipped(open_library, photos, monkeypatch, caplog):
    from irt_desktop.library.vector_index import VectorIndex

    def full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(VectorIndex, "save", full)
    lib = open_library()
    lib.add_root(photos)
    report = lib.index()  # the FAISS file is a cache: the run itself succeeds
    assert report.embedded == 12 and "could not save the vector index" in caplog.text


def _mount_tmpfs(target: Path, size: str) -> bool:
    target.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)],
                          capture_output=True)
    return done.returncode == 0


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_ends_index_with_one_line_and_harms_nothing(tmp_path, tiny_bundle, capsys):
    """A real full disk where the test may mount a small tmpfs (root); skipped elsewhere."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "8m"):
        pytest.skip("needs root to mount a small tmpfs")
    try:
        photos = tmp_path / "photos"
        make_tree(photos, n=6)
        lib = disk / "lib"
        rc, out, err = _run(
            capsys, "--library", str(lib), "index", str(photos), "--model", str(tiny_bundle.path)
        )
        assert rc == 0, err
        make_tree(photos, n=6, seed0=50)
        filler = _fill(disk)
        rc, out, err = _run(capsys, "--library", str(lib), "index")
        assert rc == 1 and "the disk is full" in _one_line(err), err
        filler.unlink()
        rc, out, err = _run(capsys, "--library", str(lib), "repair")
        assert rc == 0 and "nothing to repair" in out, err
        rc, out, err = _run(capsys, "--library", str(lib), "index", "--json")
        assert rc == 0 and json.loads(out)["pending"] == 0, err
        assert not list(lib.glob("**/.tmp-*"))
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_damage_found_while_reading_is_one_line(tmp_path, capsys):
    """Pages damaged behind a sound header and schema: found by the first read that reaches them."""
    lib = tmp_path / "lib"
    with Library.open(lib) as library:
        library.add_root(tmp_path)
        with library.catalog.transaction() as tx:  # several pages of settings, which status reads
            tx.executemany(
                "INSERT INTO settings(key, value) VALUES (?, ?)", [(f"f{i}", "x" * 200) for i in range(2000)]
            )
    _corrupt_pages(LibraryLayout(lib).catalog)
    rc, _, err = _run(capsys, "--library", str(lib), "status")
    assert rc == 1 and "irt-desktop repair" in _one_line(err), err


def test_a_rescan_that_finds_nothing_new_is_no_change_to_back_up(open_library, photos):
    """A rescan records when each root was walked, which file systems it saw and which names it skipped:
    bookkeeping a scan rebuilds, no reason for a backup of a catalog of gigabytes (at 10^6 photos every
    launch of the window made one an hour)."""
    (photos / "a" / "link.jpg").symlink_to(photos / "b" / "img_002.jpg")  # a skipped name to record
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    commits = lib.catalog.commits
    report = lib.index()
    assert report.scan.unchanged == 12 and report.scan.skipped_names == 1
    assert lib.catalog.commits == commits
    (photos / "a" / "img_000.jpg").unlink()
    lib.index()
    assert lib.catalog.commits > commits
