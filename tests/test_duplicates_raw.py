"""The real rawpy (LibRaw) path, on a hand-written but valid DNG (tests/dnggen.py: a JPEG preview in IFD0,
an RGGB mosaic in a SubIFD): LibRaw opens it and hands over the camera's preview, the library indexes
the RAW through it, and the RAW and its camera JPEG are one photo, never trashed against each other."""

from __future__ import annotations

import io

import rawpy
from dnggen import make_dng, save_dng
from imagegen import photo, save_photo
from PIL import Image
from test_library_support import SIZE

from irt_desktop import raw
from irt_desktop.images import open_image


def test_libraw_opens_the_dng_and_hands_over_its_jpeg_preview(tmp_path):
    shot = photo(31, (160, 120))
    path = save_dng(tmp_path / "IMG_0031.dng", shot)
    with rawpy.imread(str(path)) as r:
        assert r.raw_image.shape == (48, 64)  # LibRaw read the mosaic, not a TIFF strip
        assert r.extract_thumb().format == rawpy.ThumbFormat.JPEG
    preview = raw.preview_source(str(path))
    assert isinstance(preview, bytes) and preview[:2] == b"\xff\xd8"  # the preview, as JPEG bytes
    im = open_image(str(path), min_side=None)
    assert im.size == (160, 120)
    # The preview is the picture (a JPEG of it), not the developed 64x48 mosaic.
    diff = sum(
        abs(a - b) for a, b in zip(im.convert("L").tobytes(), shot.convert("L").tobytes(), strict=True)
    )
    assert diff / (160 * 120) < 8
    # Bytes work too (what the decode pipeline passes for files it read itself).
    assert Image.open(io.BytesIO(raw.preview_bytes(make_dng(shot)))).size == (160, 120)


def test_a_real_dng_and_its_camera_jpeg_are_one_photo(open_library, tmp_path):
    photos = tmp_path / "photos"
    for n in range(6):
        save_photo(photos / f"other_{n}.jpg", 3100 + n, SIZE, quality=92)
    shot = photo(3200, (160, 120))
    save_dng(photos / "Camera" / "IMG_3200.dng", shot)
    shot.save(photos / "Camera" / "IMG_3200.JPG", quality=92)
    shot.resize((80, 60)).save(photos / "Camera" / "IMG_3200 web.jpg", quality=70)
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    status = lib.status()
    assert status.n_failed == 0 and status.n_images == 9 and status.n_indexed == 9
    report = lib.duplicates(rotations=False)
    assert [sorted(m.path.name for m in p) for p in report.pairs] == [["IMG_3200.JPG", "IMG_3200.dng"]]
    for g in report.groups:
        names = {m.path.name for m in g.members}
        assert "IMG_3200.JPG" not in names  # folded into its RAW: never a candidate on its own
    # With a threshold low enough to take the web copy in, the pair is its keeper (the RAW first).
    ids, vecs = lib.catalog.live_vectors(lib.model_id, lib.vector_cache.index_for(lib.model_id).info.dim)
    row = {lib.image(int(i)).path.name: n for n, i in enumerate(ids)}
    score = float(vecs[row["IMG_3200.dng"]] @ vecs[row["IMG_3200 web.jpg"]])
    low = lib.duplicates(score - 1e-4, lookalike_threshold=None, rotations=False)
    near = next(g for g in low.of_kind("near") if "IMG_3200 web.jpg" in {m.path.name for m in g.members})
    assert near.members[0].path.name == "IMG_3200.dng"
    assert near.paired[0] == photos / "Camera" / "IMG_3200.JPG"
