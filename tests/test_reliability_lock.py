"""One writer per library (issue 15, items 6, 7, 12, 16): the writer lock, two indexers, readers beside a
writer (and in a read-only folder), the GUI's hand-over, crash leftovers, created-file modes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_library_support import copy_query, make_tree, wait_for

from irt_desktop.cli import main
from irt_desktop.library import Library
from irt_desktop.library.errors import LibraryBusy, NoLibrary
from irt_desktop.library.health import remove_leftovers
from irt_desktop.library.lock import WriterLock
from irt_desktop.paths import LibraryLayout

HOLDER = textwrap.dedent(
    """
    import sqlite3, sys
    from pathlib import Path
    from irt_desktop.library.lock import WriterLock

    folder, role, command, mode = sys.argv[1:5]
    lock = WriterLock(Path(folder), role=role, command=command)
    lock.acquire()
    if mode == "tx":  # and an open write transaction, as an indexer mid-batch has
        conn = sqlite3.connect(Path(folder) / "catalog.sqlite", isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES ('held', 'yes')")
    print("held", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    """
)


class Holder:
    """Another process holding a library's writer lock (and maybe a write transaction)."""

    def __init__(self, folder: Path, role="index", command="irt-desktop index /photos", mode="lock"):
        folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(folder), role, command, mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "held"
        self.pid = self.proc.pid

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(30)

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(30)


@pytest.fixture
def holders():
    made: list[Holder] = []

    def make(*args, **kwargs) -> Holder:
        holder = Holder(*args, **kwargs)
        made.append(holder)
        return holder

    yield make
    for h in made:
        if h.proc.poll() is None:
            h.kill()


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def indexed(tmp_path, tiny_bundle, capsys):
    photos = tmp_path / "photos"
    make_tree(photos, n=6)
    lib = tmp_path / "lib"
    rc, _, err = _run(capsys, "--library", str(lib), "index", str(photos), "--model", str(tiny_bundle.path))
    assert rc == 0, err
    return lib, photos, copy_query(photos / "b" / "img_002.jpg", tmp_path / "query.jpg")


# -- the lock itself -------------------------------------------------------------------------------


def test_the_lock_names_its_holder_and_dies_with_it(tmp_path, holders):
    lib = tmp_path / "lib"
    holder = holders(lib)
    lock = WriterLock(lib, role="index")
    with pytest.raises(LibraryBusy) as busy:
        lock.acquire()
    assert str(busy.value) == f"library in use by pid {holder.pid} (irt-desktop index /photos)"
    assert busy.value.holder.pid == holder.pid and not busy.value.holder.is_gui
    assert not lock.try_acquire()
    with lock.if_free() as free:
        assert not free
    holder.kill()  # kill -9: the operating system releases the lock; no stale lock to remove
    lock.acquire()
    assert lock.holder().pid == os.getpid()
    lock.release()
    assert lock.holder() is None  # the record goes with the holder


def test_one_process_shares_its_holding_and_waiting_works(tmp_path, holders):
    lib = tmp_path / "lib"
    lib.mkdir()
    a, b = WriterLock(lib), WriterLock(lib)
    a.acquire()
    b.acquire()  # the same process: joins (the GUI reopening its library)
    assert a.first and not b.first and not a.sole_holder()
    a.release()
    assert b.held and b.sole_holder()
    b.release()

    holder = holders(lib)
    waited = []
    started = time.monotonic()
    with pytest.raises(LibraryBusy):
        a.acquire(wait_s=0.6, on_wait=waited.append)
    assert time.monotonic() - started >= 0.5 and [h.pid for h in waited] == [holder.pid]
    holder.release()
    a.acquire(wait_s=5)
    a.release()


def test_index_refuses_or_waits_while_another_process_writes(indexed, holders, capsys, tmp_path):
    lib, _photos, _query = indexed
    holder = holders(lib)
    rc, _, err = _run(capsys, "--library", str(lib), "index")
    assert rc == 1
    assert err == f"irt-desktop: library in use by pid {holder.pid} (irt-desktop index /photos)\n"

    # --wait: blocks until the holder is done, then runs.
    import threading

    proc = subprocess.Popen(
        [sys.executable, "-m", "irt_desktop", "--library", str(lib), "index", "--wait", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        wait_for(lambda: proc.poll() is not None or any("waiting" in x for x in lines), 120, "waiting")
        assert proc.poll() is None, lines
        holder.release()
        out = proc.stdout.read()
        proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(10)
    assert proc.returncode == 0, lines
    assert lines[0] == (
        f"irt-desktop: library in use by pid {holder.pid} (irt-desktop index /photos); "
        "waiting for it to finish\n"
    )
    assert json.loads(out)["embedded"] == 0  # all done by the first run


def test_two_indexers_never_embed_a_photo_twice(tmp_path, tiny_bundle):
    photos = tmp_path / "photos"
    make_tree(photos, n=24)
    lib = tmp_path / "lib"

    def start(*extra: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "irt_desktop", "--library", str(lib), "index", str(photos),
             "--model", str(tiny_bundle.path), "--batch-size", "2", "--json", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    first, second, third = start(), start("--wait"), start()
    results = [(*p.communicate(timeout=300), p.returncode) for p in (first, second, third)]
    embedded = 0
    for out, err, rc in results:
        if rc == 0:
            embedded += json.loads(out)["embedded"]
        else:
            assert rc == 1 and err.count("\n") == 1 and "library in use by pid" in err, err
    assert results[1][2] == 0  # the one that waited ran after the other
    assert embedded == 24  # every photo embedded exactly once, whoever did it
    with Library.open(lib, read_only=True) as library:
        status = library.status()
        assert (status.n_images, status.n_indexed) == (24, 24)
        assert library.catalog.scalar("SELECT count(*) FROM vectors") == 24


# -- readers ---------------------------------------------------------------------------------------


def test_readers_answer_while_a_writer_holds_the_lock_and_a_transaction(indexed, holders, capsys):
    lib, _photos, query = indexed
    for f in (lib / "vectors").glob("*.faiss"):
        f.unlink()  # the reader has to rebuild the index: it must not save it while the writer works
    holders(lib, mode="tx")
    for argv in (["search", str(query), "-k", "2"], ["status"], ["duplicates"], ["models", "list"]):
        started = time.monotonic()
        rc, out, err = _run(capsys, "--library", str(lib), *argv)
        assert rc == 0, (argv, err)
        assert time.monotonic() - started < 10, argv  # no waiting on the writer's busy timeout
    rc, out, err = _run(capsys, "--library", str(lib), "search", str(query), "-k", "1")
    assert out.strip().endswith("img_002.jpg")
    assert not list((lib / "vectors").glob("*")), "a reader wrote a cache while the writer held the lock"


def test_a_reader_saves_the_caches_when_nobody_writes(indexed, capsys):
    lib, _photos, query = indexed
    for f in (lib / "vectors").glob("*.faiss"):
        f.unlink()
    rc, _, err = _run(capsys, "--library", str(lib), "search", str(query))
    assert rc == 0, err
    assert list((lib / "vectors").glob("*.faiss"))  # the lock was free: the rebuilt index was kept
    assert not (lib / "library.lock").read_bytes()  # and released again


def test_a_reader_never_creates_a_library(tmp_path):
    with pytest.raises(NoLibrary, match="no library at"):
        Library.open(tmp_path / "typo", read_only=True)
    assert not (tmp_path / "typo").exists()


def _bind_read_only(source: Path, target: Path) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    target.mkdir()
    if subprocess.run(["mount", "--bind", str(source), str(target)], capture_output=True).returncode:
        return False
    if subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], capture_output=True).returncode:
        subprocess.run(["umount", str(target)])
        return False
    return True


def test_search_and_status_work_in_a_read_only_library_folder(indexed, capsys, tmp_path):
    lib, _photos, query = indexed
    for f in (lib / "vectors").glob("*.faiss"):
        f.unlink()  # and the index has to be rebuilt, in memory only
    ro = tmp_path / "ro-lib"
    if not _bind_read_only(lib, ro):
        pytest.skip("needs root to bind-mount a folder read-only")
    try:
        assert not os.access(ro, os.W_OK)
        rc, out, err = _run(capsys, "--library", str(ro), "search", str(query), "-k", "1")
        assert rc == 0 and out.strip().endswith("img_002.jpg"), err
        rc, out, err = _run(capsys, "--library", str(ro), "status")
        assert rc == 0 and "indexed 6" in out, err
        rc, out, err = _run(capsys, "--library", str(ro), "duplicates")
        assert rc == 0, err
        rc, out, err = _run(capsys, "--library", str(ro), "index")
        assert rc == 1 and err.count("\n") == 1, err
        assert err.strip() == f"irt-desktop: cannot write to the library folder {ro}: the folder is read-only"
    finally:
        subprocess.run(["umount", str(ro)], check=False)


# -- the GUI holds the lock; `index FOLDER` hands over ----------------------------------------------


def test_index_hands_its_folder_to_the_window_that_holds_the_library(qtbot, tmp_path):
    from irt_desktop.gui.single_instance import InstanceServer

    lib = tmp_path / "lib"
    lib.mkdir()
    new_folder = tmp_path / "More photos"
    make_tree(new_folder, n=1)
    lock = WriterLock(lib, role="gui", command="irt-desktop")
    lock.acquire()
    server = InstanceServer(lib)
    assert server.listen()
    received: list = []
    server.folders_received.connect(lambda *a: received.append(a))
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "irt_desktop", "--library", str(lib), "index", str(new_folder),
             "--no-recursive"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=120_000)  # our event loop answers it
        out, err = proc.communicate()
        assert proc.returncode == 0, err
        assert out.strip() == (
            f"the library is open in irt-desktop (pid {os.getpid()}): handed it {new_folder} to index"
        )
        assert received == [([new_folder], False, False)]
        assert not LibraryLayout(lib).catalog.exists()  # the CLI wrote nothing itself
    finally:
        server.close()
        lock.release()


def test_the_desktop_application_holds_the_library_while_it_is_open(tmp_path, gui_settings, holders):
    from irt_desktop.gui.library_open import open_real_library

    library = open_real_library(tmp_path / "lib", gui_settings)
    try:
        holder = WriterLock(tmp_path / "lib").holder()
        assert holder.pid == os.getpid() and holder.is_gui
    finally:
        library.close()
    other = holders(tmp_path / "lib")
    with pytest.raises(LibraryBusy, match=f"pid {other.pid}"):
        open_real_library(tmp_path / "lib", gui_settings)


def test_the_window_opens_the_library_once_the_other_writer_is_done(qtbot, tmp_path, gui_settings):
    from irt_desktop.gui.library_client import FAILED, NO_MODEL, LibraryClient
    from irt_desktop.gui.library_open import open_real_library

    calls = []

    def opener(path, settings):
        calls.append(path)
        if len(calls) < 3:
            raise LibraryBusy("library in use by pid 1 (irt-desktop index /photos)")
        return open_real_library(path, settings)

    client = LibraryClient(tmp_path / "lib", gui_settings, opener=opener)
    client._busy_retry.setInterval(50)
    states: list[str] = []
    client.state_changed.connect(states.append)
    client.start()
    qtbot.waitUntil(lambda: client.state == NO_MODEL, timeout=60_000)
    assert len(calls) == 3 and states.count(FAILED) == 1  # retried quietly, the banner shown once
    client.close()


# -- leftovers and file modes ----------------------------------------------------------------------


def test_leftovers_of_gone_writers_are_removed_by_the_next_lock_holder(tmp_path):
    lib = tmp_path / "lib"
    Library.open(lib).close()
    layout = LibraryLayout(lib)
    alive = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        dead_pid = _a_dead_pid()
        old = time.time() - 60
        made = {
            "dead faiss": layout.vectors / f".tmp-{dead_pid}-abc.faiss",
            "old-style faiss": layout.vectors / ".tmp-x1y2.faiss",
            "dead bundle": layout.models / f".bundle-{dead_pid}-abc",
            "dead install": layout.models / f".install-{dead_pid}-abc",
            "live bundle": layout.models / f".bundle-{alive.pid}-abc",
            "own install": layout.models / f".install-{os.getpid()}-abc",
            "dead backup": layout.backups / f".tmp-{dead_pid}-abc.sqlite",
        }
        for name, path in made.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            if "bundle" in name or "install" in name:
                path.mkdir()
                (path / "model.safetensors").write_bytes(b"x" * 1000)
            else:
                path.write_bytes(b"x")
            os.utime(path, (old, old))
        newer = layout.vectors / f".tmp-{dead_pid}-new.faiss"  # written after the lock was taken
        newer.write_bytes(b"x")
        os.utime(newer, (time.time() + 60, time.time() + 60))

        Library.open(lib, read_only=True).close()  # a reader removes nothing
        assert all(p.exists() for p in made.values())

        Library.open(lib).close()  # a writer, taking the lock
        gone = {name for name, path in made.items() if not path.exists()}
        assert gone == {"dead faiss", "old-style faiss", "dead bundle", "dead install", "dead backup"}
        assert newer.exists()
        assert remove_leftovers(layout, since=time.time() + 120) == [newer]
    finally:
        alive.stdin.close()
        alive.wait(10)


def _a_dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_created_files_follow_the_umask(tmp_path, tiny_bundle, tiny_embedder, photos):
    from irt_desktop.library.model_store import install_bundle
    from irt_desktop.retrieval.bundle import save_bundle

    old = os.umask(0o002)
    try:
        lib = Library.open(tmp_path / "lib", lambda: tiny_embedder)
        lib.add_root(photos)
        lib.index()
        lib.close()
        models = tmp_path / "lib" / "models"
        installed = install_bundle(models, tiny_bundle)
        saved = save_bundle(tiny_bundle.load_model(), tiny_bundle.card, tmp_path / "saved")
    finally:
        os.umask(old)
    (faiss_file,) = (tmp_path / "lib" / "vectors").glob("*.faiss")
    files = [faiss_file, *Path(installed.path).iterdir(), *Path(saved.path).iterdir()]
    files += list((tmp_path / "lib" / "backups").glob("*.sqlite"))
    assert {oct(f.stat().st_mode & 0o777) for f in files} == {oct(0o664)}, files
    assert {oct(d.stat().st_mode & 0o777) for d in (Path(installed.path), Path(saved.path))} == {oct(0o775)}


def test_index_without_folders_while_the_app_holds_the_library_says_so(tmp_path, capsys):
    lib = tmp_path / "lib"
    lib.mkdir()
    lock = WriterLock(lib, role="gui", command="irt-desktop")
    lock.acquire()
    try:
        # This process holds it, so another process must ask: run the CLI as one.
        done = subprocess.run(
            [sys.executable, "-m", "irt_desktop", "--library", str(lib), "index"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        lock.release()
    assert done.returncode == 1
    assert done.stderr == (
        f"irt-desktop: library in use by pid {os.getpid()} (irt-desktop): the desktop application has it "
        "open and keeps it indexed (`irt-desktop index FOLDER` hands it new folders)\n"
    )
