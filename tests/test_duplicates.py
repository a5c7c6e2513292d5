"""Duplicates you can trust, on generated libraries: the keep rule prefers originals, groups never chain,
rotated and mirrored copies are found, RAW + JPEG pairs are one photo, thresholds are calibrated per
model, trash is undone with the file bytes, the catalog row and its vector back (nothing re-embedded)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
from imagegen import photo, save_photo
from PIL import Image
from test_library_support import SIZE

from irt_desktop.library.duplicates import complete_linkage, near_pairs
from irt_desktop.library.keeper import copy_mark, keep_order, keep_reason
from irt_desktop.library.records import ImageInfo
from irt_desktop.library.vector_index import VectorIndex


def _info(i: int, path: str, w: int = 100, h: int = 100, size: int = 1000, taken: int = 1) -> ImageInfo:
    return ImageInfo(i, Path(path), 1, size, w, h, datetime(2020, 1, taken), "ok")


def _names(group) -> set[str]:
    return {m.path.name for m in group}


# -- the keep rule --------------------------------------------------------------------------------------


def test_keep_rule_in_order():
    album, backup = _info(1, "/p/Album/DSC 00031.jpg"), _info(2, "/p/Backup copy/DSC 00031 (edited).jpg")
    # Backup is shorter-pathed here on purpose: the copy-marking folder wins over the path length.
    short_backup = _info(3, "/Backup/DSC 00031.jpg")
    assert keep_order([short_backup, album])[0] is album
    assert keep_order([backup, album])[0] is album
    assert "backup/copy folder" in keep_reason([backup, album])
    for name in ("IMG_1 (1).jpg", "IMG_1 - Copy.jpg", "Kopie von IMG_1.jpg", "IMG_1 copy.jpg"):
        assert copy_mark(f"/p/{name}"), name
    for folder in ("Backup", "backups 2020", "Duplicates", "Export", ".thumbnails", "Lightroom Previews"):
        assert copy_mark(f"/p/{folder}/x.jpg"), folder
    assert copy_mark("/p/Holidays/IMG_1.jpg") is None
    # More pixels, then the better format, then earlier, then the larger file, then the shorter path.
    big, small = _info(1, "/p/a.jpg", 4000, 3000), _info(2, "/p/b.jpg", 1600, 1200, size=9999)
    assert keep_order([small, big])[0] is big and "more pixels" in keep_reason([small, big])
    heic, jpg = _info(1, "/p/a.heic"), _info(2, "/p/a.jpg")
    assert keep_order([jpg, heic])[0] is heic
    raw, jpg = _info(1, "/p/a.dng"), _info(2, "/p/a.jpg")
    assert keep_order([jpg, raw])[0] is raw
    early, late = _info(1, "/p/b.jpg", taken=1), _info(2, "/p/a.jpg", taken=5)
    assert keep_order([late, early])[0] is early and "taken earlier" in keep_reason([late, early])
    big_file, small_file = _info(1, "/p/b.jpg", size=2000), _info(2, "/p/a.jpg", size=1000)
    assert keep_order([small_file, big_file])[0] is big_file
    short, long = _info(1, "/p/a.jpg"), _info(2, "/p/deeper/a.jpg")
    assert keep_order([long, short])[0] is short and "shorter path" in keep_reason([long, short])
    # The user's pin beats everything: "always keep copies in this folder".
    assert keep_order([album, backup], ["/p/Backup copy"])[0] is backup


# -- groups that never chain ------------------------------------------------------------------------------


def test_a_chain_never_forms_one_group():
    # A~B and B~C score 0.95, A~C only ~0.80: with threshold 0.9 B joins one of them, never both.
    a = np.array([1.0, 0.0, 0.0])
    c = np.array([np.cos(0.64), np.sin(0.64), 0.0])
    b = np.array([np.cos(0.32), np.sin(0.32), 0.0])
    far = np.array([0.0, 0.0, 1.0])
    vectors = np.stack([a, b, c, far]).astype(np.float32)
    ids = np.arange(1, 5, dtype=np.int64)
    assert vectors[0] @ vectors[2] < 0.9 < vectors[0] @ vectors[1]
    vi = VectorIndex.build("m", 3, ids, vectors)
    pairs = near_pairs(vi, ids, vectors, 0.9, lambda x: x)
    assert (1, 3) not in pairs and (1, 2) in pairs and (2, 3) in pairs
    infos = {i: _info(i, f"/p/{name}.jpg") for i, name in zip(ids.tolist(), "abcd", strict=True)}
    groups = complete_linkage(pairs, infos)
    assert len(groups) == 1 and len(groups[0]) == 2
    for g in groups:
        for x in g:
            for y in g:
                assert x == y or float(vectors[x - 1] @ vectors[y - 1]) >= 0.9


def test_chain_in_a_library_never_forms_one_group(open_library, tmp_path):
    # The library path: the same vectors through the catalog and the reports room.
    lib = open_library()
    folder = tmp_path / "chain"
    for n in range(3):
        save_photo(folder / f"p{n}.jpg", n, SIZE, quality=92)
    lib.add_root(folder)
    lib.index()
    ids, vecs = lib.catalog.live_vectors(lib.model_id, lib.vector_cache.index_for(lib.model_id).info.dim)
    scores = vecs @ vecs.T
    # A threshold between the middle pair and the weakest pair: the strongest two pairs chain.
    order = sorted(((scores[i, j], i, j) for i in range(3) for j in range(i + 1, 3)), reverse=True)
    threshold = float((order[1][0] + order[2][0]) / 2)
    report = lib.duplicates(threshold, rotations=False)
    for g in report.near:
        for x in g:
            for y in g:
                i, j = int(np.searchsorted(ids, x.id)), int(np.searchsorted(ids, y.id))
                assert scores[i, j] >= threshold - 1e-4
    assert all(len(g) <= 2 for g in report.near)


# -- on a generated library ----------------------------------------------------------------------------


def _library_with_copies(open_library, tmp_path):
    photos = tmp_path / "photos"
    album, backup = photos / "Album", photos / "Backup copy"
    for n in range(10):
        save_photo(album / f"DSC {n:05d}.jpg", 100 + n, SIZE, quality=92)
    backup.mkdir(parents=True)
    # The backup copy sorts first by path and is shorter: the old rule kept it.
    shutil.copy2(album / "DSC 00003.jpg", backup / "DSC 00003.jpg")
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    return lib, photos


def test_original_in_album_is_kept_over_its_backup_copy(open_library, tmp_path):
    lib, photos = _library_with_copies(open_library, tmp_path)
    report = lib.duplicates(rotations=False)
    exact = report.of_kind("exact")
    assert len(exact) == 1
    assert exact[0].members[0].path == photos / "Album" / "DSC 00003.jpg"
    assert "backup/copy folder" in exact[0].keep_reason
    # The same groups, kinds and keepers from the CLI's JSON.
    assert report.calibration is not None and 0.5 <= report.threshold < 1
    assert report.threshold == report.calibration.threshold and "percentile" in report.calibration.how


def test_twelve_megapixel_original_is_kept_over_its_re_encode(open_library, tmp_path):
    photos = tmp_path / "photos"
    for n in range(6):
        save_photo(photos / f"other_{n}.jpg", 300 + n, SIZE, quality=92)
    original = photos / "Camera" / "IMG_0001.jpg"
    save_photo(original, 7, (4000, 3000), quality=95)
    web = photos / "Web" / "IMG_0001_web.jpg"
    web.parent.mkdir()
    with Image.open(original) as im:
        im.resize((1600, 1200), Image.LANCZOS).save(web, quality=80)
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    report = lib.duplicates(rotations=False)
    near = [g for g in report.of_kind("near") if {original.name, web.name} <= _names(g.members)]
    assert near, (report.threshold, report.calibration)
    assert near[0].members[0].path == original and "more pixels" in near[0].keep_reason


def test_rotated_and_mirrored_copies_are_near_copies(open_library, tmp_path):
    photos = tmp_path / "photos"
    for n in range(8):
        save_photo(photos / f"p{n}.jpg", 400 + n, SIZE, quality=92)
    base = photo(404, SIZE)
    base.transpose(Image.Transpose.ROTATE_90).save(photos / "p4 rotated.jpg", quality=92)
    base.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(photos / "p4 mirrored.jpg", quality=92)
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    report = lib.duplicates(rotations=True)
    assert report.rotations_checked
    groups = [g for g in report.of_kind("near") if "p4.jpg" in _names(g.members)]
    assert groups and {"p4 rotated.jpg", "p4 mirrored.jpg"} <= _names(groups[0].members), report.near
    assert groups[0].members[0].path.name == "p4.jpg"


def test_trash_then_undo_restores_bytes_row_and_vector(open_library, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    lib, photos = _library_with_copies(open_library, tmp_path)
    copy = photos / "Backup copy" / "DSC 00003.jpg"
    data = copy.read_bytes()
    report = lib.duplicates(rotations=False)
    victim = report.of_kind("exact")[0].members[1]
    assert victim.path == copy
    vector = lib.catalog.vectors_for(lib.model_id, [victim.id])[victim.id].copy()

    result = lib.trash([victim.id])
    assert [f.original for f in result.moved] == [str(copy)] and not copy.exists()
    record = Path(result.moved[0].info)
    assert record.suffix == ".trashinfo" and f"Path={copy}".replace(" ", "%20") in record.read_text()
    assert Path(result.moved[0].trashed).read_bytes() == data
    # Marked at once: out of search and of the duplicate lists, no rescan needed.
    assert lib.image(victim.id).status == "deleted"
    assert all(h.image_id != victim.id for h in lib.search(photos / "Album" / "DSC 00003.jpg", k=20))
    assert lib.duplicates(rotations=False).of_kind("exact") == []
    assert lib.index().scan.deleted == 0

    back = lib.restore(result)
    assert not back.failed and copy.read_bytes() == data and not record.exists()
    assert lib.image(victim.id).status == "ok"
    assert np.array_equal(lib.catalog.vectors_for(lib.model_id, [victim.id])[victim.id], vector)
    assert victim.id in {h.image_id for h in lib.search(copy, k=20)}
    # Nothing to embed again: the row came back with its vector.
    again = lib.index()
    assert again.embedded == 0 and again.scan.new == 0
    assert len(lib.duplicates(rotations=False).of_kind("exact")) == 1


def test_trash_refuses_where_there_is_no_trash(open_library, tmp_path, monkeypatch):
    from irt_desktop.library import trash

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    lib, _ = _library_with_copies(open_library, tmp_path)
    victim = lib.duplicates(rotations=False).of_kind("exact")[0].members[1]

    def no_trash(path):
        raise trash.TrashError("there is no trash on the drive at /mnt/share; nothing was moved")

    monkeypatch.setattr(trash, "trash_dir_for", no_trash)
    result = lib.trash([victim.id])
    assert not result.moved and "no trash" in result.failed[0][1] and victim.path.exists()
    assert lib.image(victim.id).status == "ok"


def test_freed_space_counts_hard_links_once(tmp_path):
    import os

    from irt_desktop.library.trash import freed_bytes

    a = tmp_path / "a.jpg"
    a.write_bytes(b"x" * 1000)
    os.link(a, tmp_path / "b.jpg")
    assert freed_bytes([a]) == 0  # another link keeps the bytes
    assert freed_bytes([a, tmp_path / "b.jpg"]) == 1000


def test_duplicates_json_has_kinds_groups_paths_and_keepers(open_library, tmp_path, capsys):
    from irt_desktop.cli import main

    lib, photos = _library_with_copies(open_library, tmp_path)
    calibrated = lib.duplicates(rotations=False).calibration  # stored in the catalog for the CLI
    lib.close()
    code = main(["--library", str(tmp_path / "library"), "duplicates", "--json", "--no-rotations"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    exact = [g for g in out["groups"] if g["kind"] == "exact"]
    assert len(exact) == 1
    keepers = [m for m in exact[0]["members"] if m["keep"]]
    assert [m["path"] for m in keepers] == [str(photos / "Album" / "DSC 00003.jpg")]
    assert out["calibration"]["how"] == calibrated.how and out["threshold"] == calibrated.threshold
    assert {"exact", "near"} <= set(out["kinds"])


# -- RAW -----------------------------------------------------------------------------------------------


def test_raw_and_its_camera_jpeg_are_one_photo_never_offered_for_trashing(open_library, tmp_path):
    from irt_desktop import raw

    photos = tmp_path / "photos"
    for n in range(6):
        save_photo(photos / f"other_{n}.jpg", 500 + n, SIZE, quality=92)
    shot = photo(9, SIZE)
    # A DNG is a TIFF container; without a camera's real RAW here, a TIFF-bodied .dng stands in (LibRaw
    # declines it and Pillow reads it, the path RAW files without rawpy take).
    (photos / "Camera").mkdir()
    shot.save(photos / "Camera" / "IMG_0009.dng", "TIFF")
    shot.save(photos / "Camera" / "IMG_0009.JPG", quality=92)
    shot.resize((80, 60)).save(photos / "Camera" / "IMG_0009 web.jpg", quality=80)
    assert raw.preview_source(str(photos / "Camera" / "IMG_0009.dng")) == str(
        photos / "Camera" / "IMG_0009.dng"
    )
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    assert lib.status().n_failed == 0 and lib.status().n_images == 9
    report = lib.duplicates(rotations=False)
    assert [sorted(m.path.name for m in p) for p in report.pairs] == [["IMG_0009.JPG", "IMG_0009.dng"]]
    for g in report.groups:
        names = _names(g.members)
        # Never both in one group: the pair is one member (the RAW, shown with its JPEG).
        assert not {"IMG_0009.JPG", "IMG_0009.dng"} <= names
        # And neither is a trash candidate against the other (the JPEG never appears on its own).
        assert "IMG_0009.JPG" not in names
    near = [g for g in report.of_kind("near") if "IMG_0009 web.jpg" in _names(g.members)]
    if near:  # the web copy is a near copy of the pair, which is kept
        assert near[0].members[0].path.name == "IMG_0009.dng"
        assert near[0].paired[0] == photos / "Camera" / "IMG_0009.JPG"


def test_raw_preview_hook_leaves_other_data_alone(tmp_path):
    import io

    from irt_desktop import raw
    from irt_desktop.images import IMAGE_EXTENSIONS, open_image

    assert raw.RAW_EXTENSIONS <= IMAGE_EXTENSIONS
    buf = io.BytesIO()
    photo(3).save(buf, "TIFF")
    data = buf.getvalue()
    assert raw.preview_source(data) is data  # a plain TIFF: LibRaw declines, Pillow decodes it
    assert open_image(data).size == (96, 72)
    jpeg = io.BytesIO()
    photo(3).save(jpeg, "JPEG")
    jpeg.seek(0)
    assert raw.preview_source(jpeg) is jpeg and jpeg.tell() == 0
