"""Mounts and remounts (issue 15, items 4 and 8): a drive that is unmounted, replaced or holding a stray
photo deletes nothing; rows deleted under an away drive outlive the retention; the watcher re-attaches
a root that went away and came back, or a sub-folder mount that was remounted.

Mounts are real where the test may mount (root in a container that allows it: `mount --bind`, tmpfs),
and faked otherwise: the folder stays a plain folder, the mount guard's probe (mounts.new_probe) says it
is a mount point with its own device id, and "mounting" hides what was in the folder as a real mount
does. The decision itself is also tested on its own with made-up identities.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from imagegen import save_photo
from test_library_support import SIZE, is_indexed, make_tree, wait_for

from irt_desktop.commands.library import WatchLoop
from irt_desktop.library import mounts
from irt_desktop.library.folders import MountRecord, canonical
from irt_desktop.library.indexer import DELETED_RETENTION_S
from irt_desktop.library.mounts import HOLD, KEEP, Identity, MountGuard, judge

# -- mounting, real or faked ----------------------------------------------------------------------------


def _can_mount(scratch: Path) -> bool:
    src, target = scratch / "src", scratch / "target"
    src.mkdir(parents=True)
    target.mkdir()
    try:
        ok = subprocess.run(["mount", "--bind", str(src), str(target)], capture_output=True).returncode == 0
    except OSError:
        return False
    if ok:
        subprocess.run(["umount", str(target)], capture_output=True)
    return ok


class RealMounts:
    kind = "real"

    def __init__(self) -> None:
        self.mounted: list[Path] = []

    def bind(self, src: Path, target: Path) -> None:
        subprocess.run(["mount", "--bind", str(src), str(target)], check=True)
        self.mounted.append(target)

    def other_fs(self, target: Path) -> None:
        """An empty file system of another device mounted at `target` (another card in the reader)."""
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "irt-test", str(target)], check=True)
        self.mounted.append(target)

    def unmount(self, target: Path) -> None:
        subprocess.run(["umount", str(target)], check=True)
        self.mounted.remove(target)

    def close(self) -> None:
        for target in reversed(self.mounted):
            subprocess.run(["umount", "-l", str(target)], capture_output=True)


class FakeMounts:
    """Plain folders the probe reports as mount points; mounting moves the folder's own entries aside
    (hidden, as under a real mount) and the source's in; unmounting moves them back."""

    kind = "fake"

    def __init__(self, monkeypatch: pytest.MonkeyPatch, scratch: Path) -> None:
        self.fake: dict[str, tuple[int, int]] = {}
        self.sources: dict[str, Path | None] = {}
        self.scratch = scratch
        self.ids = itertools.count(1)
        fake = self.fake

        class Probe(mounts.Probe):
            def mount_table(self) -> frozenset[str]:
                return super().mount_table() | frozenset(fake)

            def identity(self, path: str) -> Identity | None:
                if path in fake and os.path.isdir(path):
                    return Identity(*fake[path], True)
                return super().identity(path)

        monkeypatch.setattr(mounts, "new_probe", Probe)

    def _mount(self, target: Path, src: Path | None) -> None:
        n = next(self.ids)
        stash = self.scratch / f"under-{n}"
        stash.mkdir(parents=True)
        for entry in list(target.iterdir()):
            shutil.move(entry, stash / entry.name)
        if src is not None:
            for entry in list(src.iterdir()):
                shutil.move(entry, target / entry.name)
        key = canonical(target)
        self.fake[key] = (10_000 + n, 1_000 + n)
        self.sources[key] = src
        self._stashes = getattr(self, "_stashes", {})
        self._stashes[key] = stash

    def bind(self, src: Path, target: Path) -> None:
        self._mount(target, src)

    def other_fs(self, target: Path) -> None:
        self._mount(target, None)

    def unmount(self, target: Path) -> None:
        key = canonical(target)
        src, stash = self.sources.pop(key), self._stashes.pop(key)
        del self.fake[key]
        for entry in list(target.iterdir()):
            if src is None:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            else:
                shutil.move(entry, src / entry.name)
        for entry in list(stash.iterdir()):
            shutil.move(entry, target / entry.name)

    def close(self) -> None:
        pass


@pytest.fixture(params=["fake", "real"])
def mounter(request, tmp_path, monkeypatch):
    if request.param == "real":
        if not _can_mount(tmp_path / "can-mount"):
            pytest.skip("this machine does not let the tests mount (needs root and CAP_SYS_ADMIN)")
        m = RealMounts()
    else:
        m = FakeMounts(monkeypatch, tmp_path / "fake-mounts")
    yield m
    m.close()


def _card(folder: Path, n: int = 24, seed0: int = 100) -> list[Path]:
    return [save_photo(folder / f"c_{i:03d}.jpg", seed0 + i, SIZE) for i in range(n)]


def _live(lib) -> set[str]:
    return {r[0] for r in lib.catalog.conn.execute("SELECT path FROM images WHERE status != 'deleted'")}


def _row(lib, path: Path):
    sql = "SELECT status, deleted_at FROM images WHERE path = ?"
    return lib.catalog.conn.execute(sql, (str(path),)).fetchone()


def _library_with_card(open_library, tmp_path, mounter):
    photos = tmp_path / "photos"
    make_tree(photos, n=3)
    card = photos / "card"
    card.mkdir()
    src = tmp_path / "card-src"
    _card(src)
    mounter.bind(src, card)
    lib = open_library()
    lib.add_root(photos)
    report = lib.index()
    assert (report.embedded, report.scan.held) == (27, [])
    return lib, photos, card, src


# -- the scan: nothing deleted under a drive that is not there ------------------------------------------


def test_an_unmounted_mount_point_with_a_stray_photo_deletes_nothing(open_library, tmp_path, mounter):
    lib, _, card, src = _library_with_card(open_library, tmp_path, mounter)
    mounter.unmount(card)
    stray = save_photo(card / "stray.jpg", 999, SIZE)  # written into the bare mount-point folder

    report = lib.index()
    assert report.scan.deleted == 0 and report.scan.held == [str(card)]
    assert {str(card / f"c_{i:03d}.jpg") for i in range(24)} <= _live(lib) and is_indexed(lib, stray)

    # The card comes back, one photo deleted on it meanwhile: now deletions are believed.
    (src / "c_000.jpg").unlink()
    mounter.bind(src, card)  # hides the stray photo, as a real mount does
    report = lib.index()
    assert report.scan.held == [] and report.scan.deleted == 2  # c_000, and the hidden stray
    assert str(card / "c_000.jpg") not in _live(lib) and str(card / "c_001.jpg") in _live(lib)
    assert report.embedded == 0  # nothing re-embedded


def test_another_file_system_with_a_stray_photo_deletes_nothing(open_library, tmp_path, mounter):
    lib, _, card, _ = _library_with_card(open_library, tmp_path, mounter)
    mounter.unmount(card)
    mounter.other_fs(card)  # another card in the reader: another device, one photo on it
    save_photo(card / "IMG_0001.jpg", 998, SIZE)
    report = lib.index()
    assert report.scan.deleted == 0 and report.scan.held == [str(card)] and report.scan.new == 1
    assert len(_live(lib)) == 28


def test_a_folder_that_became_a_mount_point_deletes_nothing(open_library, tmp_path, mounter):
    """The catalog knows the folder as a plain one; a drive mounted over it hides its photos."""
    photos = tmp_path / "photos"
    make_tree(photos, n=3)
    _card(photos / "card")
    lib = open_library()
    lib.add_root(photos)
    assert lib.index().embedded == 27
    empty = tmp_path / "empty-src"
    empty.mkdir()
    save_photo(empty / "stray.jpg", 997, SIZE)
    mounter.bind(empty, photos / "card")
    report = lib.index()
    assert report.scan.deleted == 0 and report.scan.held == [str(photos / "card")]


def test_a_remount_with_the_photos_on_it_is_the_same_drive(open_library, tmp_path, mounter):
    """Network and FUSE mounts get a new device id on each mount: with the photos there it is the same."""
    lib, _, card, src = _library_with_card(open_library, tmp_path, mounter)
    mounter.unmount(card)
    (src / "c_003.jpg").unlink()
    mounter.bind(src, card)
    report = lib.index()
    assert report.scan.held == [] and report.scan.deleted == 1 and report.embedded == 0


def test_rows_under_an_unmounted_drive_outlive_the_retention(open_library, tmp_path, mounter):
    lib, photos, card, src = _library_with_card(open_library, tmp_path, mounter)
    (card / "c_001.jpg").unlink()  # deleted on the card while it was mounted: a real deletion
    (photos / "a" / "img_000.jpg").unlink()  # and one on the main drive
    assert lib.index().scan.deleted == 2
    long_ago = time.time() - DELETED_RETENTION_S - 86400
    with lib.catalog.transaction() as tx:
        tx.execute("UPDATE images SET deleted_at = ? WHERE status = 'deleted'", (long_ago,))

    mounter.unmount(card)
    report = lib.index()  # the run purges rows deleted before the retention...
    assert report.scan.deleted == 0 and report.scan.held == [str(card)]
    assert _row(lib, photos / "a" / "img_000.jpg") is None  # ...on the main drive
    assert _row(lib, card / "c_001.jpg")[0] == "deleted"  # but not under the drive that is away
    assert {str(card / f"c_{i:03d}.jpg") for i in range(2, 24)} <= _live(lib)

    mounter.bind(src, card)
    report = lib.index()
    assert report.scan.held == [] and _row(lib, card / "c_001.jpg") is None  # back: purged as usual
    assert report.embedded == 0


# -- the decision, with made-up identities -----------------------------------------------------------


def _counts(n: int):
    return lambda strict: n


@pytest.mark.parametrize(
    ("rec", "now", "present", "catalogued", "expected"),
    [
        # unreachable
        (MountRecord("/m", 5, 2, True), None, 0, 300, HOLD),
        # unmounted: a plain folder of the parent's device now, empty or with a stray photo
        (MountRecord("/m", 5, 2, True), Identity(1, 77, False), 0, 300, HOLD),
        (MountRecord("/m", 5, 2, True), Identity(1, 77, False), 1, 300, HOLD),
        # another file system mounted there, one photo on it
        (MountRecord("/m", 5, 2, True), Identity(9, 2, True), 1, 300, HOLD),
        # the same one remounted with a new device id, the photos on it
        (MountRecord("/m", 5, 2, True), Identity(9, 2, True), 290, 300, KEEP),
        # no longer a mount point, but the photos are there (copied off the drive): believed
        (MountRecord("/m", 5, 2, True), Identity(1, 77, False), 300, 300, KEEP),
        # the same file system, far fewer photos: held...
        (MountRecord("/m", 5, 2, True), Identity(5, 2, True), 3, 300, HOLD),
        # ...unless there were few to begin with, or only some went
        (MountRecord("/m", 5, 2, True), Identity(5, 2, True), 0, 10, KEEP),
        (MountRecord("/m", 5, 2, True), Identity(5, 2, True), 100, 300, KEEP),
        # a plain folder (the root) losing most photos is the user's doing
        (MountRecord("/r", 1, 2, False), Identity(1, 2, False), 3, 300, KEEP),
        # a plain folder that became a mount point holding little of what was there
        (MountRecord("/r/sub", 1, 0, False), Identity(7, 2, True), 1, 300, HOLD),
        # only part of it looked at (the watcher's paths): the identity decides
        (MountRecord("/m", 5, 2, True), Identity(5, 2, True), None, 300, KEEP),
        (MountRecord("/m", 5, 2, True), Identity(1, 3, False), None, 300, HOLD),
    ],
)
def test_judge(rec, now, present, catalogued, expected):
    assert judge(rec, now, present, _counts(catalogued), at=1000.0) == expected


def test_a_far_emptier_mount_is_believed_after_a_week():
    rec = MountRecord("/m", 5, 2, True, away_since=0.0)
    assert judge(rec, Identity(5, 2, True), 3, _counts(300), at=3600.0) == HOLD
    assert judge(rec, Identity(5, 2, True), 3, _counts(300), at=mounts.HOLD_RELEASE_S + 1) == KEEP


def test_the_guard_with_a_fake_probe():
    class Probe(mounts.Probe):
        def __init__(self, ids):
            super().__init__()
            self.ids = ids

        def mount_table(self):
            return frozenset(p for p, i in self.ids.items() if i and i.mount)

        def identity(self, path):
            return self.ids.get(path)

    files = [f"/r/a/{i}.jpg" for i in range(5)] + [f"/r/m/{i}.jpg" for i in range(30)]
    first = MountGuard("/r", [], probe=Probe({"/r": Identity(1, 2, False), "/r/m": Identity(5, 2, True)}))
    seen = first.check(files, files, regions=None, at=1.0)
    assert seen.held == [] and {r.path for r in seen.keep} == {"/r", "/r/m"}

    unmounted = Probe({"/r": Identity(1, 2, False), "/r/m": Identity(1, 40, False)})
    second = MountGuard("/r", seen.keep, probe=unmounted)
    result = second.check([*files[:5], "/r/m/stray.jpg"], files, regions=None, at=2.0)
    assert result.held == ["/r/m"]
    assert [r.away_since for r in result.keep if r.path == "/r/m"] == [2.0]
    # The watcher's view of one file under it: held as well.
    partial = MountGuard("/r", result.keep, probe=unmounted).check([], files, regions=["/r/m/3.jpg"], at=3.0)
    assert partial.held == ["/r/m"] and partial.keep == []


# -- the watcher: re-attached without a restart ---------------------------------------------------------


def _watch(lib, **options):
    options = {"debounce_s": 0.2, "offline_retry_s": 0.2, "reconcile": False, **options}
    return WatchLoop(lib, **options)


def test_a_root_renamed_away_and_back_is_reattached(open_library, tmp_path):
    photos = tmp_path / "photos"
    make_tree(photos, n=4)
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    errors: list[BaseException] = []
    with _watch(lib, on_error=errors.append) as loop:
        away = tmp_path / "away"
        photos.rename(away)  # unplugged, or renamed by the user
        wait_for(lambda: lib.roots()[0].status == "offline", what="the root seen gone")
        wait_for(lambda: loop.watched_roots == {}, what="the root no longer watched")
        new = [save_photo(away / "b" / f"while_away_{i}.jpg", 40 + i, SIZE) for i in range(3)]
        (away / "a" / "img_000.jpg").unlink()
        away.rename(photos)
        back = [photos / "b" / p.name for p in new]
        wait_for(lambda: all(is_indexed(lib, p) for p in back), what="photos added while away indexed")
        wait_for(lambda: str(photos / "a" / "img_000.jpg") not in _live(lib), what="the deletion seen")
        assert lib.roots()[0].status == "indexed" and lib.roots()[0].id in loop.watched_roots
        later = save_photo(photos / "a" / "after.jpg", 50, SIZE)  # and it is watched again
        wait_for(lambda: is_indexed(lib, later), what="a photo added after the return")
    assert not errors and lib.status().n_images == 7


def test_a_new_folder_in_the_roots_place_is_watched(open_library, tmp_path):
    photos = tmp_path / "photos"
    make_tree(photos, n=3)
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    with _watch(lib, offline_retry_s=0.3) as loop:
        photos.rename(tmp_path / "old")
        photos.mkdir()  # quickly: the watcher may never see the root missing, only another folder
        shutil.copy2(tmp_path / "old" / "a" / "img_000.jpg", photos / "kept.jpg")
        wait_for(lambda: str(photos / "kept.jpg") in _live(lib), what="the new folder rescanned")
        wait_for(lambda: len(_live(lib)) == 1, what="the old folder's photos gone from the root")
        later = save_photo(photos / "later.jpg", 51, SIZE)
        wait_for(lambda: is_indexed(lib, later), what="the new folder's events")
        assert lib.roots()[0].id in loop.watched_roots


def test_a_remounted_sub_folder_mount_is_rescanned(open_library, tmp_path):
    if not _can_mount(tmp_path / "can-mount"):
        pytest.skip("this machine does not let the tests mount (needs root and CAP_SYS_ADMIN)")
    real = RealMounts()
    try:
        photos = tmp_path / "photos"
        make_tree(photos, n=3)
        card = photos / "card"
        card.mkdir()
        src1, src2 = tmp_path / "card1", tmp_path / "card2"
        first = _card(src1, n=6)
        real.bind(src1, card)
        lib = open_library()
        lib.add_root(photos)
        assert lib.index().embedded == 9
        with _watch(lib, offline_retry_s=5.0) as loop:  # the mount table's own event, not the timer
            real.unmount(card)
            time.sleep(1.0)
            assert len(_live(lib)) == 9  # the bare mount point deleted nothing
            # The card comes back with one photo gone and two new ones (the same files, another folder).
            src2.mkdir()
            for p in first[1:]:
                shutil.copy2(p, src2 / p.name)
            for i in range(2):
                save_photo(src2 / f"new_{i}.jpg", 300 + i, SIZE)
            real.bind(src2, card)
            wait_for(lambda: is_indexed(lib, card / "new_0.jpg"), what="the remounted card rescanned")
            wait_for(lambda: str(card / "c_000.jpg") not in _live(lib), what="its deletion seen")
            later = save_photo(card / "after.jpg", 60, SIZE)  # the new mount is watched
            wait_for(lambda: is_indexed(lib, later), what="an event on the remounted card")
            assert loop.runs >= 2
    finally:
        real.close()
