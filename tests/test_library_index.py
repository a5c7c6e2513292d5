"""Indexing a real folder tree: scan diffs, bad files, moves, deletes, offline roots, search, duplicates."""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from imagegen import save_photo
from test_library_support import SIZE, add_bad_files, copy_query, make_tree

from irt_desktop.library import IndexProgress, LibraryError, QueryError


def _ids(lib) -> dict[str, int]:
    return {
        str(r[1]): r[0]
        for r in lib.catalog.conn.execute("SELECT id, path FROM images WHERE status != 'deleted'")
    }


def test_index_nested_folders_and_bad_files(open_library, photos):
    truncated, garbage = add_bad_files(photos, photos / "a" / "img_000.jpg")
    (photos / "b" / "notes.txt").write_text("not a photo")
    lib = open_library()
    root = lib.add_root(photos)
    seen: list[IndexProgress] = []
    report = lib.index(progress=seen.append)

    assert report.scan.new == 14 and report.embedded == 12 and report.failed == 2 and report.pending == 0
    assert {p.phase for p in seen} >= {"embed", "done"}
    embed = [p for p in seen if p.phase == "embed"]
    assert embed[-1].done == embed[-1].total == 14 and embed[-1].images_per_s > 0
    failures = {f.path.name: f.reason for f in lib.failures()}
    assert set(failures) == {truncated.name, garbage.name}
    assert "truncated" in failures["truncated.jpg"] and "not a recognised image" in failures["random.jpg"]
    status = lib.status()
    assert (status.n_images, status.n_indexed, status.n_failed, status.n_pending) == (14, 12, 2, 0)
    assert [r.status for r in lib.roots()] == ["errors"] and lib.roots()[0].id == root.id
    info = lib.image(_ids(lib)[str(photos / "a" / "img_000.jpg")])
    assert (info.width, info.height) == SIZE and info.taken is not None

    # Nothing changed: nothing is re-read, and failed files are not retried.
    again = lib.index()
    assert (again.embedded, again.failed, again.scan.unchanged) == (0, 0, 14)
    # A failed file that changes is retried.
    save_photo(garbage, 99, SIZE, quality=90)
    fixed = lib.index()
    assert (fixed.scan.changed, fixed.embedded, fixed.failed) == (1, 1, 0)
    assert {f.path.name for f in lib.failures()} == {"truncated.jpg"}


def test_search_with_a_resized_reencoded_copy_finds_the_original_first(open_library, photos, tmp_path):
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    for name in ("a/img_000.jpg", "a/deeper/img_004.jpg", "b/img_008.jpg"):
        original = photos / name
        query = copy_query(original, tmp_path / f"query_{original.name}")
        hits = lib.search(query, k=3)
        assert hits[0].path == original, [(h.path.name, h.score) for h in hits]
        assert hits[0].score > 0.98 and hits[0].score > hits[1].score
        assert hits[0].size == original.stat().st_size and hits[0].width == SIZE[0]
        # The same query as bytes in memory (drop / paste) and as a PIL image.
        assert lib.search(query.read_bytes(), k=1)[0].path == original
        from PIL import Image

        with Image.open(query) as im:
            assert lib.search(im.convert("RGB"), k=1)[0].path == original


def test_search_options(open_library, photos, tmp_path):
    other = tmp_path / "other"
    make_tree(other, n=3, seed0=50)
    lib = open_library()
    r1 = lib.add_root(photos)
    r2 = lib.add_root(other)
    lib.index()
    target = photos / "b" / "img_002.jpg"
    assert [h.path for h in lib.search(target, k=1)] == [target]
    assert lib.search(target, k=1, exclude_self=True)[0].path != target
    assert len(lib.search(target, k=100)) == 15
    assert {h.root_id for h in lib.search(target, k=100, roots=[r2.id])} == {r2.id}
    assert len(lib.search(target, k=100, roots=[r2.id])) == 3
    assert all(h.path.is_relative_to(photos) for h in lib.search(target, k=5, roots=[r1.id]))
    high = lib.search(target, k=100, min_score=0.99)
    assert high and all(h.score >= 0.99 for h in high) and len(high) < 15
    # "More like this" leaves the image itself out.
    own = _ids(lib)[str(target)]
    similar = lib.search_similar(own, k=4)
    assert len(similar) == 4 and own not in {h.image_id for h in similar}
    # A crop box in the query's own pixels.
    assert lib.search(target, k=1, crop=(0, 0, 80, 60))
    with pytest.raises(QueryError):
        lib.search(target, crop=(0, 0, 500, 500))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\x00nope" * 10)
    with pytest.raises(QueryError, match="not a recognised image"):
        lib.search(bad)


@pytest.mark.parametrize("child", [False, True], ids=["survey-here", "survey-in-child"])
def test_rename_move_delete_modify_copy_through_the_scan(child, open_library, photos):
    lib = open_library(survey_in_child=child)
    lib.add_root(photos)
    lib.index()
    ids = _ids(lib)
    a0, a3, b2 = photos / "a" / "img_000.jpg", photos / "a" / "img_003.jpg", photos / "b" / "img_002.jpg"

    renamed = a0.with_name("renamed.jpg")
    a0.rename(renamed)
    moved = photos / "b" / "moved_here.jpg"
    shutil.move(a3, moved)
    report = lib.index()
    assert (report.scan.moved, report.scan.new, report.scan.deleted, report.embedded) == (2, 0, 0, 0)
    now = _ids(lib)
    assert now[str(renamed)] == ids[str(a0)] and now[str(moved)] == ids[str(a3)]
    assert lib.search(renamed, k=1)[0].path == renamed

    b2.unlink()
    report = lib.index()
    assert report.scan.deleted == 1
    assert str(b2) not in _ids(lib)
    assert all(h.path != b2 for h in lib.search(renamed, k=100))
    assert lib.status().n_images == 11

    save_photo(moved, 77, SIZE, quality=90)  # new content at the same path
    os.utime(moved, ns=(1, 1_000_000_000))
    report = lib.index()
    assert (report.scan.changed, report.embedded) == (1, 1)
    assert lib.search(moved, k=1)[0].path == moved and lib.search(moved, k=1)[0].score > 0.999

    copy = photos / "copy_of_renamed.jpg"
    shutil.copy2(renamed, copy)
    report = lib.index()
    assert (report.scan.copied, report.embedded) == (1, 0)
    dups = lib.duplicates(0.95)
    assert [sorted(i.path.name for i in g) for g in dups.exact] == [["copy_of_renamed.jpg", "renamed.jpg"]]
    # Exact copies are not repeated as near-duplicate groups.
    assert all({i.path.name for i in g} != {"copy_of_renamed.jpg", "renamed.jpg"} for g in dups.near)

    # A file moved away and back later keeps its vectors (soft delete keeps them for a while).
    outside = photos.parent / "outside.jpg"
    shutil.move(renamed, outside)
    assert lib.index().scan.deleted == 1
    shutil.move(outside, renamed)
    report = lib.index()
    assert (report.scan.moved, report.embedded) == (1, 0)
    assert _ids(lib)[str(renamed)] == ids[str(a0)]
    assert renamed in {h.path for h in lib.search(renamed, k=2)}  # tied with its copy


@pytest.mark.parametrize("child", [False, True], ids=["survey-here", "survey-in-child"])
def test_touch_keeps_the_vector(child, open_library, photos):
    lib = open_library(survey_in_child=child)
    lib.add_root(photos)
    lib.index()
    os.utime(photos / "a" / "img_000.jpg", ns=(5, 5_000_000_000))
    report = lib.index()
    assert (report.scan.changed, report.embedded) == (0, 0)


@pytest.mark.parametrize("child", [False, True], ids=["survey-here", "survey-in-child"])
def test_offline_root_loses_nothing(child, open_library, photos, tmp_path):
    lib = open_library(survey_in_child=child)
    lib.add_root(photos)
    lib.index()
    query = copy_query(photos / "a" / "img_000.jpg", tmp_path / "q.jpg")
    away = tmp_path / "unplugged"
    photos.rename(away)  # the drive is unplugged
    report = lib.index()
    assert report.scan.deleted == 0 and report.scan.offline_roots == [lib.roots()[0].id]
    assert lib.roots()[0].status == "offline" and lib.status().n_images == 12
    assert lib.search(query, k=1)[0].path == photos / "a" / "img_000.jpg"

    photos.mkdir()  # an empty mount point left behind looks the same
    report = lib.index()
    assert report.scan.deleted == 0 and lib.roots()[0].status == "offline"
    photos.rmdir()

    away.rename(photos)
    report = lib.index()
    assert (report.scan.deleted, report.embedded, report.scan.unchanged) == (0, 0, 12)
    assert lib.roots()[0].status == "indexed"


def test_unreadable_subfolder_keeps_its_rows(open_library, photos, monkeypatch):
    from irt_desktop.library import scanner

    lib = open_library()
    lib.add_root(photos)
    lib.index()
    real_scandir = os.scandir
    refused = str(photos / "b")

    def scandir(path):
        # chmod 000 does not stop root, so the refusal is simulated where the scanner lists folders.
        if os.fspath(path) == refused:
            raise PermissionError(13, "Permission denied", refused)
        return real_scandir(path)

    monkeypatch.setattr(scanner.os, "scandir", scandir)
    report = lib.index()
    assert (report.scan.deleted, report.scan.seen) == (0, 8)
    assert lib.status().n_images == 12


@pytest.mark.parametrize("child", [False, True], ids=["survey-here", "survey-in-child"])
def test_junk_hidden_and_symlink_loops_are_skipped(child, open_library, tmp_path):
    root = tmp_path / "photos"
    make_tree(root, n=3)
    for junk in ("@eaDir/img.jpg", ".hidden/img.jpg", "a/._img_000.jpg", "a/.secret.jpg"):
        save_photo(root / junk, 5, SIZE)
    for name in ("Thumbs.db", ".DS_Store", "a/desktop.ini"):
        (root / name).write_bytes(b"junk")
    save_photo(root / "System Volume Information" / "x.jpg", 6, SIZE)
    (root / "a" / "loop").symlink_to(root, target_is_directory=True)
    (root / "b" / "link.jpg").symlink_to(root / "a" / "img_000.jpg")
    lib = open_library(survey_in_child=child)
    lib.add_root(root)
    assert lib.index().scan.seen == 3
    # Following symlinks is a per-root choice; loops still end.
    lib2 = open_library(tmp_path / "lib2", survey_in_child=child)
    lib2.add_root(root, follow_symlinks=True)
    report = lib2.index()
    assert report.scan.seen == 4


def test_overlapping_roots_are_folded(open_library, photos):
    lib = open_library()
    a = lib.add_root(photos / "a")
    lib.index()
    ids = _ids(lib)
    assert lib.add_root(photos / "a").id == a.id
    assert lib.add_root(photos / "a" / "deeper").id == a.id
    assert lib.add_root(photos / "a" / ".." / "a").id == a.id
    parent = lib.add_root(photos)
    assert [r.id for r in lib.roots()] == [parent.id]
    report = lib.index()
    assert report.embedded == 4 and report.scan.new == 4  # only b/ is new
    assert all(_ids(lib)[p] == i for p, i in ids.items())
    with pytest.raises(LibraryError):
        lib.add_root(photos / "nope")


def test_remove_root_forgets_its_images(open_library, photos, tmp_path):
    other = tmp_path / "other"
    make_tree(other, n=3, seed0=40)
    lib = open_library()
    r1, r2 = lib.add_root(photos), lib.add_root(other)
    lib.index()
    lib.remove_root(r2.id)
    assert [r.id for r in lib.roots()] == [r1.id] and lib.status().n_images == 12
    assert all(h.root_id == r1.id for h in lib.search(other / "a" / "img_040.jpg", k=50))
    with pytest.raises(LibraryError):
        lib.remove_root(r2.id)


def test_cancel_and_pause_then_resume(open_library, photos):
    lib = open_library()
    lib.add_root(photos)
    cancel = threading.Event()

    def progress(p: IndexProgress) -> None:
        if p.phase == "embed" and p.done >= 4:
            cancel.set()

    report = lib.index(progress=progress, cancel=cancel)
    assert report.cancelled and report.embedded == 4 and report.pending == 8
    assert lib.status().n_indexed == 4
    pause = threading.Event()
    pause.set()
    threading.Timer(0.3, pause.clear).start()
    report = lib.index(pause=pause)
    assert (report.embedded, report.pending, report.cancelled) == (8, 0, False)


def test_search_while_indexing_from_another_thread(open_library, tmp_path):
    root = tmp_path / "photos"
    make_tree(root, n=24)
    lib = open_library()
    lib.add_root(root)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            lib.index()
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    query = root / "a" / "img_000.jpg"
    while t.is_alive():
        lib.search(query, k=5)
        lib.status()
    t.join()
    assert not errors
    assert lib.search(query, k=1)[0].path == query and lib.status().n_indexed == 24


def test_empty_library_needs_no_model(tmp_path):
    from irt_desktop.library import Library, NoModelError

    with Library.open(tmp_path / "lib") as lib:
        assert lib.index().embedded == 0 and lib.status().model_id is None
        empty = tmp_path / "empty"
        empty.mkdir()
        lib.add_root(empty)
        lib.index()
        save_photo(empty / "x.jpg", 1, SIZE)
        with pytest.raises(NoModelError, match="models install deit-s"):
            lib.index()
        with pytest.raises(NoModelError):
            lib.search(empty / "x.jpg")


def test_exact_duplicates_are_confirmed_by_full_content(open_library, tmp_path):
    root = tmp_path / "photos"
    make_tree(root, n=2)
    head, tail = os.urandom(70_000), os.urandom(70_000)
    # Same size, head and tail (so the same quick hash), different middle: not duplicates.
    (root / "a" / "x1.jpg").write_bytes(head + b"\x01" * 50_000 + tail)
    (root / "a" / "x2.jpg").write_bytes(head + b"\x02" * 50_000 + tail)
    shutil.copy2(root / "a" / "img_000.jpg", root / "a" / "same.jpg")
    lib = open_library()
    lib.add_root(root)
    lib.index()
    quick = lib.catalog.conn.execute(
        "SELECT count(DISTINCT quick_hash) FROM images WHERE path LIKE '%x_.jpg'"
    ).fetchone()[0]
    assert quick == 1
    groups = lib.duplicates().exact
    assert [sorted(i.path.name for i in g) for g in groups] == [["img_000.jpg", "same.jpg"]]
