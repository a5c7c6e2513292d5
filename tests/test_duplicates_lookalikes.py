"""Look-alikes, the third kind: within a looser calibrated threshold but not a near copy; near groups are
folded into their keeper first, groups never chain, a turned match is never a look-alike; calibration
derives both thresholds (look-alike below near) and says how."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from imagegen import photo, save_photo
from test_library_support import SIZE

from irt_desktop.library.calibration import LOOKALIKE_TRANSFORMS, calibrate
from irt_desktop.library.duplicates import complete_linkage, lookalike_pairs, near_pairs
from irt_desktop.library.records import ImageInfo
from irt_desktop.library.vector_index import VectorIndex


def _unit(angle: float, z: float = 0.0) -> np.ndarray:
    v = np.array([np.cos(angle), np.sin(angle), z])
    return v / np.linalg.norm(v)


def _infos(ids) -> dict[int, ImageInfo]:
    return {i: ImageInfo(i, Path(f"/p/{i}.jpg"), 1, 1000 - i, 100, 100, None, "ok") for i in ids}


def test_near_copies_fold_into_their_keeper_and_lookalikes_never_chain():
    # 1 and 2: near copies (cos 0.999); 3: a look-alike of 1 (~0.95); 4: a look-alike of 3 but not of 1
    # (~0.82 to 1): a chain 1~3~4 that must not become one group; 5: far from all.
    vectors = np.stack([_unit(0.0), _unit(0.045), _unit(0.32), _unit(0.62), _unit(0.0, 50.0)]).astype(
        np.float32
    )
    ids = np.arange(1, 6, dtype=np.int64)
    near_t, look_t = 0.99, 0.9
    assert vectors[0] @ vectors[1] >= near_t > vectors[0] @ vectors[2] >= look_t > vectors[0] @ vectors[3]
    assert vectors[2] @ vectors[3] >= look_t
    vi = VectorIndex.build("m", 3, ids, vectors)
    found = near_pairs(vi, ids, vectors, look_t, lambda x: x, turned_threshold=near_t)
    infos = _infos(ids.tolist())
    near = complete_linkage({k: v for k, v in found.items() if v[0] >= near_t}, infos)
    assert [sorted(g) for g in near] == [[1, 2]]
    look = complete_linkage(lookalike_pairs(found, near), infos)
    # 2 is folded into its keeper 1: never a look-alike of anything on its own.
    assert all(2 not in g for g in look)
    # 3 joins 1 or 4, never both: complete linkage at the look-alike threshold.
    assert len(look) == 1 and 3 in look[0] and len(look[0]) == 2
    for g in look:
        for x in g:
            for y in g:
                assert x == y or float(vectors[x - 1] @ vectors[y - 1]) >= look_t


def test_a_turned_match_is_a_near_copy_never_a_lookalike():
    pairs = {(1, 2): (0.97, "rotated"), (1, 3): (0.95, "")}
    assert lookalike_pairs(pairs, []) == {(1, 3): (0.95, "")}


def test_calibration_derives_a_looser_lookalike_threshold(tiny_embedder):
    images = [photo(1000 + n, SIZE) for n in range(8)]
    stored = tiny_embedder.embed(images)

    def neighbours(vecs, k):
        scores = vecs @ stored.T
        order = np.argsort(-scores, axis=1)[:, :k]
        return np.take_along_axis(scores, order, 1), order.astype(np.int64)

    cal = calibrate(
        "tiny", [(i, im, stored[i]) for i, im in enumerate(images)], tiny_embedder.embed, neighbours
    )
    assert cal is not None and cal.lookalike_threshold is not None
    assert 0.5 <= cal.lookalike_threshold < cal.threshold
    assert len(cal.lookalike_scores) == len(images) * len(LOOKALIKE_TRANSFORMS)
    assert "second frames" in cal.lookalike_how and "percentile" in cal.lookalike_how
    # Second frames of a photo are further from it than its copies are, on average.
    assert np.mean(cal.lookalike_scores) < np.mean(cal.copy_scores)


def test_a_burst_is_a_lookalike_and_a_re_encode_a_near_copy(open_library, tmp_path):
    photos = tmp_path / "photos"
    for n in range(6):
        save_photo(photos / f"other_{n}.jpg", 1100 + n, SIZE, quality=92)
    shot = photo(1200, SIZE)
    shot.save(photos / "IMG_1.jpg", quality=95)
    shot.save(photos / "IMG_1 web.jpg", quality=60)
    LOOKALIKE_TRANSFORMS["reframed (80% window, moved aside)"](shot).save(photos / "IMG_2.jpg", quality=95)
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    dim = lib.vector_cache.index_for(lib.model_id).info.dim
    ids, vecs = lib.catalog.live_vectors(lib.model_id, dim)
    by_name = {lib.image(int(i)).path.name: vecs[n] for n, i in enumerate(ids)}
    s_copy = float(by_name["IMG_1.jpg"] @ by_name["IMG_1 web.jpg"])
    s_burst = float(by_name["IMG_1.jpg"] @ by_name["IMG_2.jpg"])
    assert s_copy > s_burst, (s_copy, s_burst)
    near_t, look_t = (s_copy + s_burst) / 2, s_burst - 1e-4
    report = lib.duplicates(near_t, lookalike_threshold=look_t, rotations=False)
    assert report.lookalike_threshold == look_t

    def group_of(kind, name):
        return next((g for g in report.of_kind(kind) if name in {m.path.name for m in g.members}), None)

    near = group_of("near", "IMG_1 web.jpg")
    assert near is not None and near.members[0].path.name == "IMG_1.jpg"
    look = group_of("lookalike", "IMG_2.jpg")
    assert look is not None and "IMG_1.jpg" in {m.path.name for m in look.members}
    # The near copy is folded into its keeper: it is not offered again as a look-alike.
    assert group_of("lookalike", "IMG_1 web.jpg") is None
    assert group_of("near", "IMG_2.jpg") is None


def test_calibrated_report_has_both_thresholds_and_kinds_apart(open_library, tmp_path):
    photos = tmp_path / "photos"
    for n in range(10):
        save_photo(photos / f"p{n}.jpg", 1300 + n, SIZE, quality=92)
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    report = lib.duplicates(rotations=False)
    cal = report.calibration
    assert cal is not None and report.lookalike_threshold == cal.lookalike_threshold < report.threshold
    near_copies = {m.id for g in report.of_kind("near") for m in g.members[1:]}
    assert not near_copies & {m.id for g in report.of_kind("lookalike") for m in g.members}
    # A calibration stored before look-alikes existed is derived again, not used without one.
    from dataclasses import replace

    from irt_desktop.library.calibration import SETTING, to_json

    old = replace(cal, lookalike_threshold=None, lookalike_scores=[], lookalike_how="")
    lib.catalog.set_setting(SETTING.format(model_id=lib.model_id), to_json(old))
    assert lib.duplicates(rotations=False).calibration.lookalike_threshold is not None
