"""The catalog's intent-named methods, each doing what its name says, on a real temporary catalog."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from irt_desktop.library.catalog import Catalog
from irt_desktop.library.records import ImageStatus

DIM = 4


@pytest.fixture
def catalog(tmp_path):
    cat = Catalog(tmp_path / "catalog.sqlite")
    yield cat
    cat.close()


def _root(cat: Catalog, path: str = "/photos", recursive: bool = True) -> int:
    with cat.transaction() as tx:
        return cat.insert_root(tx, path, recursive=recursive, follow_symlinks=False, network=False)


def _images(cat: Catalog, root_id: int, *names: str, size: int = 100, quick: str | None = None) -> list[int]:
    with cat.transaction() as tx:
        cat.insert_new_images(tx, [(root_id, f"/photos/{n}", size, 1, quick) for n in names], at=1.0)
    under = cat.images_under(root_id)
    return [under[f"/photos/{n}"].id for n in names]


def _embed(cat: Catalog, model: str, ids: list[int], value: float = 1.0, quick: str | None = None) -> None:
    cat.register_model(model, model, DIM, None)
    vectors = np.full((len(ids), DIM), value, np.float32)
    with cat.transaction() as tx:
        for i in ids:
            assert cat.mark_embedded(
                tx, i, size=100, mtime_ns=1, quick_hash=quick, width=8, height=6, exif_taken=None, at=2.0
            )
        cat.put_vectors(tx, model, ids, vectors, cat.next_seq(tx))


def _status(cat: Catalog, image_id: int) -> ImageStatus:
    return cat.image_infos([image_id])[image_id].status


def test_settings_and_serving_model(catalog):
    assert catalog.setting("x") is None and catalog.setting("x", "d") == "d"
    catalog.set_setting("x", "1")
    assert catalog.setting("x") == "1"
    catalog.set_setting("x", None)
    assert catalog.setting("x") is None

    with catalog.transaction() as tx:
        catalog.set_serving_model(tx, "a")
    assert (catalog.serving_model(), catalog.target_model()) == ("a", None)
    with catalog.transaction() as tx:
        catalog.set_target_model(tx, "b")
    assert (catalog.serving_model(), catalog.target_model()) == ("a", "b")
    with catalog.transaction() as tx:
        catalog.set_serving_model(tx, "b")  # the switch is over
    assert (catalog.serving_model(), catalog.target_model()) == ("b", None)

    assert catalog.stored_exclude_patterns() is None  # never set
    catalog.store_exclude_patterns([])
    assert catalog.stored_exclude_patterns() == []  # set to none, on purpose
    catalog.store_exclude_patterns(["*.tmp", "Private"])
    assert catalog.stored_exclude_patterns() == ["*.tmp", "Private"]

    assert catalog.model_dim("m") is None
    catalog.register_model("m", "tiny", DIM, None)
    catalog.register_model("m", "tiny", 99, None)  # registering again keeps the dimension
    assert catalog.model_dim("m") == DIM


def test_transaction_rolls_back_and_snapshot_reads_one_state(catalog):
    with pytest.raises(RuntimeError), catalog.transaction() as tx:
        catalog.insert_root(tx, "/gone", recursive=True, follow_symlinks=False, network=False)
        raise RuntimeError("abort")
    assert catalog.root_rows() == []

    root = _root(catalog)
    with catalog.snapshot():
        before = len(catalog.images_under(root))
        writer = threading.Thread(target=_images, args=(catalog, root, "late.jpg"))
        writer.start()
        writer.join()
        assert len(catalog.images_under(root)) == before == 0  # still the snapshot's state
    assert len(catalog.images_under(root)) == 1


def test_roots(catalog):
    outer = _root(catalog, "/photos", recursive=False)
    inner = _root(catalog, "/photos/2020")
    assert [r.path for r in catalog.root_rows()] == ["/photos", "/photos/2020"]
    with catalog.transaction() as tx:
        catalog.make_root_recursive(tx, outer)
    assert catalog.root_rows()[0].recursive
    with catalog.transaction() as tx:
        catalog.insert_new_images(tx, [(inner, "/photos/2020/a.jpg", 1, 1, None)], at=1.0)
        catalog.merge_root_into(tx, inner, outer)
    assert [r.id for r in catalog.root_rows()] == [outer] and len(catalog.images_under(outer)) == 1

    catalog.set_root_online(outer, False)
    assert not catalog.root_rows()[0].online
    catalog.record_scan(online=[outer], scanned=[], at=5.0)
    assert catalog.root_rows()[0].online and catalog.root_rows()[0].scanned_at is None
    catalog.record_scan(online=[], scanned=[outer], at=6.0)
    assert catalog.root_rows()[0].scanned_at == 6.0

    ids = _images(catalog, outer, "b.jpg", "c.jpg")
    _embed(catalog, "m", ids[:1])
    with catalog.transaction() as tx:
        catalog.mark_failed(tx, ids[1], "bad", size=0, mtime_ns=0, quick_hash=None, at=3.0)
    assert catalog.root_status_counts() == {
        outer: {ImageStatus.PENDING: 1, ImageStatus.OK: 1, ImageStatus.FAILED: 1}
    }
    assert catalog.root_pending_counts("m") == {outer: 1}  # the failed one is not pending

    with catalog.transaction() as tx:
        removed = catalog.delete_root(tx, outer)
        assert catalog.delete_root(tx, 12345) is None
    assert len(removed) == 3 and set(ids) <= set(removed)
    assert catalog.root_rows() == [] and catalog.count_vectors("m") == 0


def test_scan_writes(catalog):
    root = _root(catalog)
    a, b = _images(catalog, root, "a.jpg", "b.jpg", quick="q1")
    _embed(catalog, "m", [a], quick="q1")
    assert catalog.images_under(root)["/photos/a.jpg"].status == ImageStatus.OK
    assert set(catalog.images_under(root, "/photos/a.jpg")) == {"/photos/a.jpg"}
    assert catalog.sizes_with_hash([100, 200]) == {100}
    assert catalog.image_path(a) == "/photos/a.jpg" and catalog.image_path(999) is None

    with catalog.transaction() as tx:
        catalog.touch_image(tx, a, 50, at=3.0)
        catalog.move_image(tx, b, "/photos/sub/b.jpg", root, 7, at=3.0)
    assert catalog.images_under(root)["/photos/a.jpg"].mtime_ns == 50
    assert (
        catalog.image_id_for_path("/photos/sub/b.jpg") == b
        and catalog.image_id_for_path("/photos/b.jpg") is None
    )

    with catalog.transaction() as tx:
        assert catalog.images_by_hash(tx, "q1", 100) == [(a, ImageStatus.OK), (b, ImageStatus.PENDING)]
        copy = catalog.copy_image(tx, a, "/photos/copy.jpg", root, 9, at=4.0)
        assert catalog.has_vectors(tx, copy)
    assert _status(catalog, copy) == ImageStatus.OK and np.array_equal(
        catalog.vectors_for("m", [copy])[copy], catalog.vectors_for("m", [a])[a]
    )

    with catalog.transaction() as tx:
        catalog.mark_deleted(tx, [a], at=10.0)
        assert catalog.images_by_hash(tx, "q1", 100)[0] == (a, ImageStatus.DELETED)  # deleted first
    assert _status(catalog, a) == ImageStatus.DELETED and catalog.image_id_for_path("/photos/a.jpg") is None
    with catalog.transaction() as tx:
        catalog.revive_image(tx, a, 11, at=12.0, path="/photos/back.jpg")
        catalog.revive_image(tx, b, 11, at=12.0)  # no vectors: pending again
    assert _status(catalog, a) == ImageStatus.OK and catalog.image_id_for_path("/photos/back.jpg") == a
    assert _status(catalog, b) == ImageStatus.PENDING

    with catalog.transaction() as tx:
        catalog.reset_image(tx, a, 555, 12, at=13.0)
    row = catalog.images_under(root)["/photos/back.jpg"]
    assert (row.status, row.size, row.quick_hash) == (ImageStatus.PENDING, 555, None)
    assert catalog.vectors_for("m", [a]) == {}

    with catalog.transaction() as tx:
        catalog.mark_deleted(tx, [b], at=100.0)
    assert catalog.purge_deleted_before(50.0) == 0 and catalog.purge_deleted_before(101.0) == 1
    assert catalog.image_infos([b]) == {}


def test_embedding_results_and_reads(catalog):
    root = _root(catalog)
    a, b, c = _images(catalog, root, "a.jpg", "b.jpg", "c.jpg")
    assert catalog.count_pending(None) == 3 and catalog.count_pending("m") == 3
    assert catalog.pending_for("m") == [(a, "/photos/a.jpg"), (b, "/photos/b.jpg"), (c, "/photos/c.jpg")]
    _embed(catalog, "m", [a, b])
    info = catalog.image_infos([a])[a]
    assert (info.status, info.width, info.height) == (ImageStatus.OK, 8, 6)
    with catalog.transaction() as tx:
        catalog.mark_failed(tx, c, "truncated", size=0, mtime_ns=0, quick_hash="qq", at=3.0)
        catalog.mark_deleted(tx, [b], at=4.0)
        # A row removed meanwhile is not brought back by a late result.
        assert not catalog.mark_embedded(
            tx, b, size=1, mtime_ns=1, quick_hash=None, width=1, height=1, exif_taken=None, at=5.0
        )
    assert catalog.image_infos([c])[c].size == 100  # a size of 0 (unreadable) kept the stored one
    assert [(f.image_id, f.reason) for f in catalog.failures()] == [(c, "truncated")]
    assert catalog.status_counts() == {ImageStatus.OK: 1, ImageStatus.FAILED: 1}
    assert catalog.count_pending("m") == 0 and catalog.pending_for("other") == [(a, "/photos/a.jpg")]


def test_exact_duplicate_candidates_and_full_hashes(catalog):
    root = _root(catalog)
    a, b = _images(catalog, root, "a.jpg", "b.jpg", quick="same")
    (c,) = _images(catalog, root, "c.jpg", quick="other")
    assert catalog.images_sharing_quick_hash() == [
        (a, "/photos/a.jpg", 100, None),
        (b, "/photos/b.jpg", 100, None),
    ]
    catalog.set_full_hashes([(a, "f1"), (b, "f2")])
    assert [r[3] for r in catalog.images_sharing_quick_hash()] == ["f1", "f2"]
    assert c not in {r[0] for r in catalog.images_sharing_quick_hash()}


def test_vectors(catalog):
    root = _root(catalog)
    a, b = _images(catalog, root, "a.jpg", "b.jpg")
    assert catalog.vector_state("m") == catalog.vector_state("m") and catalog.vector_state("m")[0] == 0
    _embed(catalog, "m", [a, b], value=0.5)
    ids, vectors = catalog.live_vectors("m", DIM)
    assert ids.tolist() == [a, b] and vectors.shape == (2, DIM) and float(vectors[0, 0]) == 0.5
    state = catalog.vector_state("m")
    _embed(catalog, "m", [a], value=0.25)  # rewritten: a new generation, so a new checksum
    assert catalog.vector_state("m")[0] == 2 and catalog.vector_state("m") != state
    with catalog.transaction() as tx:
        first, second = catalog.next_seq(tx), catalog.next_seq(tx)
        catalog.mark_deleted(tx, [b], at=1.0)
    assert second == first + 1
    assert catalog.count_vectors("m") == 1 and catalog.live_vectors("m", DIM)[0].tolist() == [a]
    assert set(catalog.vectors_for("m", [a, b])) == {a, b}  # deleted rows keep theirs for a while
    _embed(catalog, "n", [a])
    assert sorted(catalog.model_ids_with_vectors()) == ["m", "n"]
    catalog.drop_model_vectors("m")
    assert catalog.model_ids_with_vectors() == ["n"] and catalog.count_vectors("m") == 0
