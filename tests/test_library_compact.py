"""`irt-desktop repair --compact` (library/compact.py): a catalog made on 4 KB pages is rewritten on 16 KB
pages only when asked with --yes, after saying what it costs; the old one becomes the newest backup; the
library searches the same afterwards without rebuilding its index; any failure leaves the catalog as it
was."""

from __future__ import annotations

import json
import sqlite3
from collections import namedtuple
from pathlib import Path

import pytest
from test_library_cli import _run
from test_library_support import copy_query, make_tree

from irt_desktop.library import compact as compact_room
from irt_desktop.library.catalog import base as catalog_base
from irt_desktop.library.errors import CatalogDamaged
from irt_desktop.library.health import Backups
from irt_desktop.paths import LibraryLayout


def _page_size(catalog: Path) -> int:
    conn = sqlite3.connect(f"{catalog.as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def old_library(tmp_path, tiny_bundle, capsys, monkeypatch):
    """A library indexed through the CLI on a catalog made as before 16 KB pages (4 KB ones)."""
    monkeypatch.setattr(catalog_base, "PAGE_SIZE", 4096)
    photos = tmp_path / "photos"
    make_tree(photos, n=9)
    lib = tmp_path / "lib"
    model = str(tiny_bundle.path)
    rc, _out, err = _run(capsys, "--library", str(lib), "index", str(photos), "--model", model)
    assert rc == 0, err
    monkeypatch.undo()
    assert _page_size(LibraryLayout(lib).catalog) == 4096
    return lib, copy_query(photos / "b" / "img_002.jpg", tmp_path / "query.jpg")


def _search(capsys, lib: Path, query: Path) -> list[str]:
    rc, out, err = _run(capsys, "--library", str(lib), "search", str(query), "-k", "5", "--json")
    assert rc == 0, err
    return [h["path"] for h in json.loads(out)]


def test_compacting_says_what_it_costs_first_then_keeps_the_old_catalog_as_a_backup(old_library, capsys):
    lib, query = old_library
    layout = LibraryLayout(lib)
    hits = _search(capsys, lib, query)
    before = layout.catalog.read_bytes()
    backups_before = Backups(layout).list()

    rc, out, err = _run(capsys, "--library", str(lib), "doctor")
    assert "4 KB pages" in out and "`irt-desktop repair --compact` would shrink it" in out
    rc, out, err = _run(capsys, "--library", str(lib), "repair", "--compact")
    assert rc == 0, err
    assert "4 KB pages" in out and "free (" in out and "--compact --yes" in out
    assert layout.catalog.read_bytes() == before and Backups(layout).list() == backups_before  # asked only

    faiss = next((lib / "vectors").glob("*.faiss"))
    faiss_stamp = faiss.stat().st_mtime_ns
    rc, out, err = _run(capsys, "--library", str(lib), "repair", "--compact", "--yes")
    assert rc == 0, err
    assert "compacted the catalog" in out
    assert _page_size(layout.catalog) == catalog_base.PAGE_SIZE
    kept = Backups(layout).list()[0]
    assert kept not in backups_before and str(kept) in out
    assert kept.read_bytes()[:100] == before[:100] and _page_size(kept) == 4096  # the catalog as it was

    assert _search(capsys, lib, query) == hits
    assert faiss.stat().st_mtime_ns == faiss_stamp  # the saved index still matches: not rebuilt
    rc, out, err = _run(capsys, "--library", str(lib), "status", "--json")
    assert rc == 0 and json.loads(out)["n_indexed"] == 9

    rc, out, err = _run(capsys, "--library", str(lib), "repair", "--compact", "--yes")
    assert rc == 0 and "compact already: nothing to do" in out
    rc, out, err = _run(capsys, "--library", str(lib), "doctor")
    assert "16 KB pages" in out and "would shrink" not in out


def test_without_room_for_the_copy_it_refuses_in_one_line(old_library, capsys, monkeypatch):
    lib, _ = old_library
    before = LibraryLayout(lib).catalog.read_bytes()
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(compact_room.shutil, "disk_usage", lambda _: usage(10**9, 10**9 - 1000, 1000))
    rc, _out, err = _run(capsys, "--library", str(lib), "repair", "--compact", "--yes")
    assert rc == 1 and err.count("\n") == 1 and "needs up to" in err and "Traceback" not in err
    assert LibraryLayout(lib).catalog.read_bytes() == before


@pytest.mark.parametrize("fault", ["copy-differs", "new-catalog-does-not-open"])
def test_a_failure_leaves_the_catalog_as_it_was(old_library, capsys, monkeypatch, fault):
    lib, query = old_library
    layout = LibraryLayout(lib)
    hits = _search(capsys, lib, query)
    before = layout.catalog.read_bytes()
    backups_before = Backups(layout).list()
    if fault == "copy-differs":
        real = compact_room.table_counts
        monkeypatch.setattr(
            compact_room, "table_counts", lambda p: real(p) | ({"images": -1} if p != layout.catalog else {})
        )
    else:

        def refuses(path):
            raise CatalogDamaged(f"{path} is damaged")

        monkeypatch.setattr(compact_room, "Catalog", refuses)
    plan = compact_room.plan_compaction(layout)
    with pytest.raises(CatalogDamaged):
        compact_room.compact(layout, plan)
    assert layout.catalog.read_bytes() == before
    assert Backups(layout).list() == backups_before
    assert not [p for p in lib.iterdir() if p.name.startswith(".tmp") or p.name.endswith(".sqlite.tmp")]
    monkeypatch.undo()
    assert _search(capsys, lib, query) == hits


def test_compacting_waits_for_no_one_while_the_app_holds_the_library(old_library, capsys):
    from test_reliability_lock import Holder

    lib, _ = old_library
    holder = Holder(lib, role="gui", command="irt-desktop")
    try:
        rc, _out, err = _run(capsys, "--library", str(lib), "repair", "--compact", "--yes")
    finally:
        holder.release()
    assert rc == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert "library in use by pid" in err, err
    assert _page_size(LibraryLayout(lib).catalog) == 4096
