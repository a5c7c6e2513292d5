"""Nothing silent, nothing blocking, nothing stale (issue 15, items 9, 10, 11 and SIGTERM of 15).

Skipped names (not UTF-8, longer than PATH_MAX, an unreadable folder, symlinks not followed, a FIFO named
like a photo) are counted and listed by the library and `status --failures`; a FIFO blocks neither
`index` nor `search`; `index --follow-symlinks` follows links without looping; a run that only moves,
copies or deletes leaves the saved FAISS file current; SIGTERM stops `index --watch` with exit 130 and
a saved index that matches the catalog.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from imagegen import save_photo
from test_library_support import SIZE, make_tree, wait_for

from irt_desktop.cli import main
from irt_desktop.library import Library, QueryError
from irt_desktop.library.vector_index import MAGIC
from irt_desktop.library.walk import NOT_UTF8, SYMLINK, TOO_LONG, UNREADABLE


def _in_thread(fn, timeout: float = 60.0):
    """fn() on a daemon thread: (finished, result or exception). A blocked open() cannot hang the test."""
    box: list = []

    def run() -> None:
        try:
            box.append(fn())
        except BaseException as exc:  # handed back to the test
            box.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    return (not t.is_alive()), (box[0] if box else None)


def _deep_photo(top: Path, data: bytes) -> str:
    """A photo whose path is longer than PATH_MAX, made with relative (dir_fd) calls."""
    fd = os.open(top, os.O_RDONLY)
    first = None
    try:
        for i in range(24):  # 24 x 200 characters: past Linux's 4096
            name = f"{i:02d}" + "d" * 198
            first = first or name
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        out = os.open("deep.jpg", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(out, data)
        os.close(out)
    finally:
        os.close(fd)
    return str(top / first)


@pytest.mark.skipif(sys.platform != "linux", reason="non-UTF-8 names and FIFOs as Linux has them")
def test_skipped_names_are_counted_listed_and_shown(open_library, tmp_path, monkeypatch, capsys):
    photos = tmp_path / "photos"
    make_tree(photos, n=3)
    data = (photos / "a" / "img_000.jpg").read_bytes()
    raw = os.fsencode(photos)
    with open(raw + b"/a/caf\xe9.jpg", "wb") as f:  # Latin-1 on a UTF-8 system
        f.write(data)
    os.mkdir(raw + b"/dossier_\xff")
    with open(raw + b"/dossier_\xff/x.jpg", "wb") as f:
        f.write(data)
    _deep_photo(photos, data)
    save_photo(photos / "locked" / "hidden_by_permissions.jpg", 7, SIZE)
    (photos / "b" / "link.jpg").symlink_to(photos / "a" / "img_000.jpg")
    save_photo(tmp_path / "elsewhere" / "far.jpg", 8, SIZE)
    (photos / "linked_folder").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    os.mkfifo(photos / "a" / "pipe.jpg")
    (photos / "a" / "notes.txt").symlink_to(photos / "a" / "img_000.jpg")  # not photo-named: no word

    real_scandir = os.scandir
    locked = str(photos / "locked")

    def scandir(path):  # chmod 000 does not stop root: refused where the walk lists folders
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    lib = open_library()
    lib.add_root(photos)
    done, report = _in_thread(lib.index)
    assert done, "index hung (the FIFO was opened?)"
    assert not isinstance(report, BaseException), report
    assert report.embedded == 3 and report.scan.skipped_names == 7

    reasons = {s.path: s.reason for s in lib.skipped()}
    a = str(photos / "a")
    assert reasons[a + "/caf\\xe9.jpg"] == NOT_UTF8
    assert reasons[str(photos) + "/dossier_\\xff"] == NOT_UTF8
    assert [r for p, r in reasons.items() if "ddd" in p] == [TOO_LONG]
    assert reasons[locked].startswith(UNREADABLE) and "Permission denied" in reasons[locked]
    assert reasons[str(photos / "b" / "link.jpg")] == SYMLINK
    assert reasons[str(photos / "linked_folder")] == SYMLINK
    assert reasons[str(photos / "a" / "pipe.jpg")] == "not a regular file (a FIFO)"
    assert lib.roots()[0].n_skipped == 7 and lib.status().n_failed == 0

    # `status --failures` lists them, as text and JSON (the library is closed first: one writer).
    library = str(lib.path)
    lib.close()
    assert main(["--library", library, "status", "--failures"]) == 0
    out = capsys.readouterr().out
    assert "skipped: 7 names" in out and f"  skipped: {photos / 'a' / 'pipe.jpg'}: not a regular file" in out
    assert main(["--library", library, "status", "--failures", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["skipped"]
    assert len(listed) == 7 and {"path", "reason", "root_id"} <= set(listed[0])

    # Searching by the FIFO is refused on its type, without opening it.
    lib = open_library(Path(library))
    done, result = _in_thread(lambda: lib.search(photos / "a" / "pipe.jpg", k=1), timeout=30)
    assert done, "search hung on a FIFO"
    assert isinstance(result, QueryError) and "not a regular file (a FIFO)" in str(result)

    # What is fixed leaves the list at the next scan.
    (photos / "b" / "link.jpg").unlink()
    (photos / "a" / "pipe.jpg").unlink()
    monkeypatch.setattr(os, "scandir", real_scandir)
    report = lib.index()
    assert report.scan.skipped_names == 4 and report.embedded == 1  # locked/ is readable now
    assert len(lib.skipped()) == 4
    shutil.rmtree(photos / ("00" + "d" * 198))


@pytest.mark.skipif(sys.platform != "linux", reason="FIFOs as Linux has them")
def test_a_fifo_named_like_a_photo_blocks_neither_index_nor_search_cli(tmp_path, tiny_bundle, capsys):
    photos = tmp_path / "photos"
    make_tree(photos, n=2)
    os.mkfifo(photos / "a" / "x.jpg")
    lib = str(tmp_path / "lib")
    args = ["--library", lib, "index", str(photos), "--model", str(tiny_bundle.path), "--json"]
    done, code = _in_thread(lambda: main(args))
    assert done and code == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["seen"], report["skipped_names"]) == (2, 1)
    done, code = _in_thread(lambda: main(["--library", lib, "search", str(photos / "a" / "x.jpg")]))
    assert done and code == 2
    assert "not a regular file (a FIFO)" in capsys.readouterr().err


def test_index_follow_symlinks(tmp_path, tiny_bundle, capsys):
    photos = tmp_path / "photos"
    make_tree(photos, n=3)
    save_photo(tmp_path / "elsewhere" / "far.jpg", 9, SIZE)
    (photos / "b" / "far.jpg").symlink_to(tmp_path / "elsewhere" / "far.jpg")
    (photos / "a" / "loop").symlink_to(photos, target_is_directory=True)
    lib = str(tmp_path / "lib")
    base = ["--library", lib, "index", str(photos), "--model", str(tiny_bundle.path), "--json"]
    assert main(base) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["seen"], report["skipped_names"]) == (3, 2)  # the link and the folder link

    done, code = _in_thread(lambda: main([*base, "--follow-symlinks"]))
    assert done and code == 0, "a symlink loop must end"
    report = json.loads(capsys.readouterr().out)
    assert (report["seen"], report["new"], report["skipped_names"]) == (4, 1, 0)
    assert main(["--library", lib, "status", "--json"]) == 0
    capsys.readouterr()
    with Library.open(Path(lib)) as library:
        assert library.roots()[0].follow_symlinks and library.skipped() == []


# -- the saved FAISS file after a run that embeds nothing ----------------------------------------------


def _header(path: Path) -> dict:
    data = path.read_bytes()
    assert data[: len(MAGIC)] == MAGIC
    (n,) = struct.unpack("<I", data[len(MAGIC) : len(MAGIC) + 4])
    return json.loads(data[len(MAGIC) + 4 : len(MAGIC) + 4 + n])


def _assert_current(lib: Library) -> None:
    count, checksum = lib.catalog.vector_state(lib.model_id)
    header = _header(lib.vector_cache.path_for(lib.model_id))
    assert (header["count"], header["checksum"]) == (count, checksum)


def test_runs_that_only_move_copy_or_delete_keep_the_saved_index_current(tmp_path, tiny_bundle):
    photos = tmp_path / "photos"
    make_tree(photos, n=6)
    libdir = tmp_path / "lib"
    with Library.open(libdir, device="cpu", low_precision=False) as lib:
        lib.activate_model(tiny_bundle)
        lib.add_root(photos)
        assert lib.index().embedded == 6
        _assert_current(lib)

    def run(change) -> None:
        change()
        # A bundle-served library, as the CLI opens it: nothing pending, so no model is loaded.
        with Library.open(libdir, device="cpu", low_precision=False) as lib:
            report = lib.index()
            assert report.embedded == 0
            _assert_current(lib)  # saved by the run itself, not only at close
        with Library.open(libdir, device="cpu", low_precision=False) as lib:
            lib.search(photos / "b" / "img_002.jpg", k=3)
            assert lib.vector_cache.last_rebuild_reason is None

    outside = tmp_path / "outside.jpg"
    run(lambda: (photos / "a" / "img_000.jpg").rename(outside))  # deleted
    run(lambda: outside.rename(photos / "b" / "img_000_back.jpg"))  # moved back in: revived
    run(lambda: shutil.copy2(photos / "b" / "img_002.jpg", photos / "a" / "copy.jpg"))  # copied
    run(lambda: (photos / "a" / "img_003.jpg").unlink())  # deleted


# -- SIGTERM to index --watch ---------------------------------------------------------------------------


def test_sigterm_stops_index_watch_and_leaves_the_index_saved(tmp_path, tiny_bundle):
    photos = tmp_path / "photos"
    make_tree(photos, n=3)
    libdir = tmp_path / "lib"
    command = ["index", str(photos), "--watch", "--model", str(tiny_bundle.path), "--device", "cpu"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "irt_desktop", "--library", str(libdir), *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=lambda: out.extend(iter(proc.stdout.readline, "")), daemon=True),
        threading.Thread(target=lambda: err.extend(iter(proc.stderr.readline, "")), daemon=True),
    ]
    for r in readers:
        r.start()
    try:
        wait_for(lambda: any("watching" in line for line in err) or proc.poll() is not None, 120, "watching")
        assert proc.poll() is None, "".join(err)
        save_photo(photos / "new.jpg", 34, SIZE)
        wait_for(lambda: any("embedded 1" in line for line in out[1:]), 60, "the new photo indexed")
        (photos / "a" / "img_000.jpg").unlink()
        wait_for(lambda: any("deleted 1" in line for line in out[1:]), 60, "the deletion seen")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGTERM)  # a second one while it stops must not cut the save short
        proc.wait(60)
    for r in readers:
        r.join(5)
    assert proc.returncode == 130, "".join(err)
    assert "interrupted" in "".join(err) and "Traceback" not in "".join(err)
    with Library.open(libdir, device="cpu", low_precision=False) as lib:
        _assert_current(lib)
        assert lib.status().n_indexed == 3
        lib.search(photos / "new.jpg", k=1)
        assert lib.vector_cache.last_rebuild_reason is None


@pytest.mark.skipif(sys.platform != "linux", reason="non-UTF-8 names as Linux has them")
def test_a_non_utf8_path_from_the_watcher_is_skipped_not_an_error(open_library, tmp_path):
    photos = tmp_path / "photos"
    make_tree(photos, n=2)
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    bad = os.fsencode(photos / "a") + b"/r\xe9sum\xe9.jpg"
    shutil.copyfile(photos / "a" / "img_000.jpg", bad)
    report = lib.update([os.fsdecode(bad)])  # as watchdog reports it: surrogate escapes
    assert report.scan.skipped_names == 1 and report.scan.deleted == 0
    assert [s.reason for s in lib.skipped()] == [NOT_UTF8]


def test_the_unreadable_files_box_lists_skipped_names(qtbot):
    from PySide6.QtWidgets import QWidget

    from irt_desktop.gui.library_panel import LibraryPanel
    from irt_desktop.gui.unreadable_dialog import UnreadableFilesDialog
    from irt_desktop.library.records import Failure, Root, RootStatus, Skipped

    parent = QWidget()
    qtbot.addWidget(parent)
    failed = [Failure(1, Path("/p/bad.jpg"), "truncated")]
    box = UnreadableFilesDialog(failed, parent, [Skipped("/p/pipe.jpg", "not a regular file", 1)])
    assert "1 name left out" in box.summary.text()
    skipped = box.skipped_group.child(0)
    assert (skipped.text(0), skipped.text(1)) == ("pipe.jpg", "not a regular file")
    panel = LibraryPanel()
    qtbot.addWidget(panel)
    panel.set_roots([Root(1, Path("/p"), True, False, False, RootStatus.INDEXED, 5, 0, 0, n_skipped=2)])
    assert not panel.problems_button.isHidden() and "2 skipped names" in panel.problems_button.text()
