"""Watching: changes on disk reach the catalog and the index without a manual scan.

The watcher only reports paths; these tests drive it as `index --watch` does, through the CLI's
WatchLoop (the watcher's reports queued, then indexed by library.update on the loop's own thread).
"""

from __future__ import annotations

import shutil
import threading
import time

from imagegen import photo, save_photo
from test_library_support import SIZE, is_indexed, make_tree, wait_for

from irt_desktop.commands.library import WatchLoop


def _paths(lib) -> set[str]:
    return {r[0] for r in lib.catalog.conn.execute("SELECT path FROM images WHERE status != 'deleted'")}


def test_watcher_follows_create_move_modify_delete(open_library, tmp_path):
    photos = tmp_path / "photos"
    make_tree(photos, n=6)
    lib = open_library()
    lib.add_root(photos)
    reports = []
    offline_added = save_photo(photos / "a" / "while_closed.jpg", 60, SIZE)  # reconciliation catches it
    watcher = WatchLoop(lib, on_report=reports.append, debounce_s=0.3)
    with watcher:
        wait_for(lambda: watcher.runs >= 1, what="reconciliation scan")
        assert is_indexed(lib, offline_added) and lib.status().n_indexed == 7

        new = save_photo(photos / "b" / "new.jpg", 61, SIZE)
        wait_for(lambda: is_indexed(lib, new), what="new photo indexed")
        assert lib.search(new, k=1)[0].path == new

        old_id = lib.catalog.image_id_for_path(str(new))
        moved = photos / "a" / "deeper" / "moved.jpg"
        shutil.move(new, moved)
        wait_for(lambda: str(moved) in _paths(lib) and str(new) not in _paths(lib), what="move")
        assert lib.catalog.image_id_for_path(str(moved)) == old_id  # kept its row and vector

        folder = photos / "a" / "deeper"
        folder.rename(photos / "renamed_folder")
        wait_for(lambda: str(photos / "renamed_folder" / "moved.jpg") in _paths(lib), what="folder move")
        assert lib.catalog.image_id_for_path(str(photos / "renamed_folder" / "moved.jpg")) == old_id

        target = photos / "b" / "img_002.jpg"
        before = lib.search(target, k=1)[0]
        save_photo(target, 62, SIZE)
        wait_for(
            lambda: lib.search(photo(62, SIZE), k=1)[0].path == target, what="modified photo re-embedded"
        )
        assert lib.catalog.image_id_for_path(str(target)) == before.image_id

        (photos / "a" / "img_000.jpg").unlink()
        wait_for(lambda: str(photos / "a" / "img_000.jpg") not in _paths(lib), what="delete")
        assert all(h.path.name != "img_000.jpg" for h in lib.search(target, k=50))
        # 7 at reconciliation, then the new and the modified photo; moves re-embed nothing.
        assert sum(r.embedded for r in reports) == 9


def test_a_file_being_copied_is_indexed_once_when_complete(open_library, tmp_path):
    photos = tmp_path / "photos"
    make_tree(photos, n=2)
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    reports = []
    source = save_photo(tmp_path / "src.jpg", 70, (640, 480), quality=95).read_bytes()
    dest = photos / "a" / "copying.jpg"
    with WatchLoop(lib, on_report=reports.append, debounce_s=0.5, reconcile=False) as watcher:
        time.sleep(0.3)
        with open(dest, "wb") as f:  # a slow copy: chunks with pauses shorter than the debounce time
            for i in range(0, len(source), 2048):
                f.write(source[i : i + 2048])
                f.flush()
                time.sleep(0.02)
        wait_for(lambda: is_indexed(lib, dest), what="copied photo indexed")
        wait_for(watcher.idle, what="watcher idle")
    assert sum(r.embedded for r in reports) == 1 and sum(r.failed for r in reports) == 0
    assert not lib.failures()


def test_polling_observer_for_network_roots(open_library, tmp_path):
    share = tmp_path / "share"
    make_tree(share, n=2)
    lib = open_library()
    lib.add_root(share, network=True)
    with WatchLoop(lib, debounce_s=0.2, poll_interval_s=0.2) as watcher:
        wait_for(lambda: watcher.runs >= 1, what="reconciliation scan")
        assert set(watcher.watched_roots.values()) == {"polling"}
        new = save_photo(share / "b" / "from_another_pc.jpg", 80, SIZE)
        wait_for(lambda: is_indexed(lib, new), what="polled photo indexed")


def test_offline_root_is_watched_when_it_comes_back(open_library, tmp_path):
    photos = tmp_path / "photos"
    make_tree(photos, n=2)
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    photos.rename(tmp_path / "away")
    errors: list[BaseException] = []
    with WatchLoop(lib, debounce_s=0.2, offline_retry_s=0.2, on_error=errors.append) as watcher:
        wait_for(lambda: watcher.runs >= 1, what="reconciliation scan")
        assert watcher.watched_roots == {} and lib.roots()[0].status == "offline"
        (tmp_path / "away").rename(photos)
        wait_for(lambda: lib.roots()[0].id in watcher.watched_roots, what="root watched again")
        wait_for(lambda: lib.roots()[0].status == "indexed", what="root online")
        new = save_photo(photos / "later.jpg", 81, SIZE)
        wait_for(lambda: is_indexed(lib, new), what="photo in the returned root indexed")
    assert not errors and lib.status().n_images == 3


def test_stop_is_prompt(open_library, photos):
    lib = open_library()
    lib.add_root(photos)
    watcher = WatchLoop(lib, debounce_s=0.2).start()
    wait_for(lambda: watcher.runs >= 1, what="reconciliation scan")
    t = time.monotonic()
    watcher.stop()
    names = {th.name for th in threading.enumerate()}
    assert time.monotonic() - t < 5 and not names & {"irt-watcher", "irt-watch-index"}


def test_native_watches_do_not_ask_for_opens_and_reads(open_library, tmp_path):
    """The library's own reads (decoding, thumbnails) must not reach the kernel's event queue: at 10^6
    photos unfiltered opens and read-only closes overflowed it, and each overflow re-walks the tree."""
    import sys

    import pytest

    if not sys.platform.startswith("linux"):
        pytest.skip("inotify masks exist on Linux only")
    from watchdog.observers.inotify_c import InotifyConstants

    photos = tmp_path / "photos"
    make_tree(photos, n=2)
    lib = open_library()
    lib.add_root(photos)
    with WatchLoop(lib, debounce_s=0.2) as loop:
        wait_for(lambda: loop.runs >= 1, what="reconciliation scan")
        assert set(loop.watched_roots.values()) == {"native"}
        observer, _watch = next(iter(loop.watcher._handles.values()))
        masks = [e.get_event_mask_from_filter() for e in observer.emitters]
        assert masks
        for mask in masks:
            assert not mask & InotifyConstants.IN_OPEN
            assert not mask & InotifyConstants.IN_CLOSE_NOWRITE
            assert mask & InotifyConstants.IN_CLOSE_WRITE and mask & InotifyConstants.IN_MOVE
