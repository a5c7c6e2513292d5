"""What keeps a 10^6-photo library within memory and time (issue 16), said as behaviour, not timings:
the FAISS file is streamed both ways (never held whole as bytes beside the index), the catalog's
vector reads fill one array, the saved-state checksum is summed inside SQLite, IVF calibration does not
copy the collection, and status counts with queries rather than rows."""

from __future__ import annotations

import hashlib
import json
import struct

import faiss
import numpy as np
import pytest

from irt_desktop.library.vector_index import MAGIC, VectorIndex


def _unit(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_index_file_is_streamed_both_ways_and_keeps_its_format(tmp_path, monkeypatch):
    x = _unit(500)
    ids = np.arange(10, 510, dtype=np.int64)
    vi = VectorIndex.build("m", 32, ids, x)
    # A file as the earlier, whole-bytes writer made it: the streamed reader must take it.
    payload = faiss.serialize_index(vi._index).tobytes()
    header = json.dumps(
        {
            "kind": "exact",
            "dim": 32,
            "model_id": "m",
            "nlist": 0,
            "nprobe": 0,
            "trained_on": 0,
            "recall_at_10": None,
            "count": 500,
            "checksum": "c",
            "payload_blake2b": hashlib.blake2b(payload, digest_size=16).hexdigest(),
        }
    ).encode()
    old = tmp_path / "old.faiss"
    old.write_bytes(MAGIC + struct.pack("<I", len(header)) + header + payload)

    def refuse(*a, **k):
        raise AssertionError("the whole index was held as bytes")

    monkeypatch.setattr(faiss, "serialize_index", refuse)
    monkeypatch.setattr(faiss, "deserialize_index", refuse)
    monkeypatch.setattr(type(old), "read_bytes", refuse)
    loaded = VectorIndex.load(old, "m", 500, "c")
    assert loaded.ntotal == 500
    new = tmp_path / "new.faiss"
    loaded.save(new, 500, "c")
    monkeypatch.undo()
    # Byte for byte what the earlier writer wrote for the same index and catalog state.
    assert new.read_bytes() == old.read_bytes()
    _, found = VectorIndex.load(new, "m", 500, "c").search(x[:5], 1)
    assert found[:, 0].tolist() == ids[:5].tolist()


def test_ivf_calibration_does_not_copy_the_collection_into_a_flat_index(monkeypatch):
    x = _unit(6000, seed=1)
    ids = np.arange(6000, dtype=np.int64)

    def refuse(self, *a, **k):
        raise AssertionError("an exact flat index was filled with the collection")

    monkeypatch.setattr(faiss.IndexFlatIP, "add", refuse)
    vi = VectorIndex.build("m", 32, ids, x, exact_max=1000)
    assert vi.info.recall_at_10 is not None and vi.ntotal == 6000


@pytest.fixture
def catalog_with_vectors(tmp_path):
    from irt_desktop.library.catalog import Catalog

    cat = Catalog(tmp_path / "catalog.sqlite")
    with cat.transaction() as tx:
        root = cat.insert_root(tx, str(tmp_path), recursive=True, follow_symlinks=False, network=False)
        cat.insert_new_images(
            tx, [(root, str(tmp_path / f"{i}.jpg"), 100 + i, 1, None) for i in range(10)], 1.0
        )
    cat.register_model("m", "m", 4, None)
    x = np.arange(40, dtype=np.float32).reshape(10, 4)
    with cat.transaction() as tx:
        ids = [r[0] for r in tx.execute("SELECT id FROM images ORDER BY id")]
        cat.put_vectors(tx, "m", ids[:6], x[:6], cat.next_seq(tx))
        cat.put_vectors(tx, "m", ids[6:], x[6:], cat.next_seq(tx))
        cat.mark_deleted(tx, [ids[2]], 2.0)  # its vector stays, but it is not live
    yield cat, ids, x
    cat.close()


def _mix_reference(pairs: list[tuple[int, int]], mix) -> int:
    (by_id, by_seq, add, prime), rounds = mix
    total = 0
    for image_id, seq in pairs:
        x = (image_id * by_id + seq * by_seq + add) % prime
        for mult, add_r, prime_r in rounds:
            x = (x * mult + add_r) % prime_r
        total += x
    return total


def _live_pairs(cat) -> list[tuple[int, int]]:
    return cat.conn.execute(
        "SELECT v.image_id, v.seq FROM vectors v JOIN images i ON i.id = v.image_id "
        "WHERE v.model_id = 'm' AND i.status != 'deleted' ORDER BY v.image_id"
    ).fetchall()


def test_vector_state_is_summed_inside_sqlite_as_the_python_reference_mixes(catalog_with_vectors):
    from irt_desktop.library.catalog.vectors import STATE_KIND, STATE_MIXES

    cat = catalog_with_vectors[0]
    pairs = _live_pairs(cat)
    a, b = (_mix_reference(pairs, mix) for mix in STATE_MIXES)
    expected = f"{STATE_KIND}:{a:x}:{b:x}:{max(seq for _, seq in pairs):x}"
    assert cat.vector_state("m") == (9, expected)
    assert max(a, b) < 2**63  # summed as SQLite integers, never floats


def test_vector_state_tells_apart_sets_that_linear_sums_confuse(catalog_with_vectors):
    """One batch (one seq): photos 0 and 5 deleted, or 1 and 4 instead, keeps the count and the sum of
    ids equal; the saved index of the first state would serve deleted photos under the second."""
    cat, ids, _ = catalog_with_vectors
    assert ids[:6] == list(range(ids[0], ids[0] + 6))  # one batch, consecutive ids
    with cat.transaction() as tx:
        cat.mark_deleted(tx, [ids[0], ids[5]], 3.0)
    before, before_sum = cat.vector_state("m"), sum(i for i, _ in _live_pairs(cat))
    with cat.transaction() as tx:
        tx.execute("UPDATE images SET status = 'ok', deleted_at = NULL WHERE id IN (?, ?)", (ids[0], ids[5]))
        cat.mark_deleted(tx, [ids[1], ids[4]], 4.0)
    after, after_sum = cat.vector_state("m"), sum(i for i, _ in _live_pairs(cat))
    assert before[0] == after[0] and before_sum == after_sum  # what a linear checksum would see
    assert before != after


def test_legacy_vector_state_is_the_one_pass_digest_in_slices(catalog_with_vectors, monkeypatch):
    import irt_desktop.library.catalog.vectors as vectors

    cat = catalog_with_vectors[0]
    expected = hashlib.blake2b(np.asarray(_live_pairs(cat), np.int64).tobytes(), digest_size=16).hexdigest()
    monkeypatch.setattr(vectors, "STATE_SLICE", 3)  # several slices, the last one short
    assert cat.legacy_vector_state("m") == (9, expected)


def test_a_file_saved_with_the_legacy_state_is_loaded_not_rebuilt_and_saved_again(
    catalog_with_vectors, tmp_path, monkeypatch
):
    """At 10^6 a rebuild is minutes of IVF training: an upgrade must not cost one."""
    from irt_desktop.library.vector_cache import VectorCache
    from irt_desktop.paths import LibraryLayout

    cat = catalog_with_vectors[0]
    layout = LibraryLayout(tmp_path / "lib")
    built = VectorCache(cat, layout).index_for("m")
    path = layout.index_file("m")
    built.save(path, *cat.legacy_vector_state("m"))

    def no_rebuild(*args, **kwargs):
        raise AssertionError("rebuilt instead of loaded")

    monkeypatch.setattr(VectorIndex, "build", no_rebuild)
    cache = VectorCache(cat, layout)
    assert cache.index_for("m").ntotal == 9 and cache.last_rebuild_reason is None
    cache.save(force=True)
    assert VectorIndex.saved_checksum(path) == cat.vector_state("m")[1]
    again = VectorCache(cat, layout)
    assert again.index_for("m").ntotal == 9 and again.last_rebuild_reason is None


def test_live_vectors_fill_one_array_sized_by_a_count(catalog_with_vectors):
    cat, ids, x = catalog_with_vectors
    got_ids, got = cat.live_vectors("m", 4)
    live = [i for n, i in enumerate(ids) if n != 2]
    assert got_ids.tolist() == live
    assert np.array_equal(got, np.delete(x, 2, axis=0))
    assert got.flags.c_contiguous and got.dtype == np.float32


def test_count_vectors_leaves_out_deleted_rows_without_joining_every_vector(catalog_with_vectors):
    cat, ids, _ = catalog_with_vectors
    joined = cat.scalar(
        "SELECT count(*) FROM vectors v JOIN images i ON i.id = v.image_id "
        "WHERE v.model_id = 'm' AND i.status != 'deleted'"
    )
    assert cat.count_vectors("m") == joined == 9
    cat.register_model("other", "other", 4, None)
    with cat.transaction() as tx:
        cat.put_vectors(tx, "other", ids[:3], np.zeros((3, 4), np.float32), cat.next_seq(tx))
    assert cat.count_vectors("m") == 9 and cat.count_vectors("other") == 2
    plan = " ".join(
        str(r[-1])
        for r in cat.conn.execute("EXPLAIN QUERY PLAN SELECT count(*) FROM vectors WHERE model_id = 'm'")
    )
    assert "COVERING INDEX vectors_state" in plan  # not the table, whose pages hold the BLOBs


def test_status_reads_counts_not_rows(open_library, photos):
    """Every statement status() runs over images or vectors is a count; the totals are the folders'."""
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    statements: list[str] = []
    lib.catalog.conn.set_trace_callback(statements.append)
    try:
        st = lib.status()
    finally:
        lib.catalog.conn.set_trace_callback(None)
    over_rows = [s for s in statements if ("images" in s or "vectors" in s) and "count(" not in s.lower()]
    assert over_rows == []
    # No statement reads vectors through the table itself (its pages hold the BLOBs, ~8 rows a page).
    for sql in statements:
        if sql.lstrip().upper().startswith("SELECT") and "vectors" in sql:
            plan = " | ".join(str(r[-1]) for r in lib.catalog.conn.execute("EXPLAIN QUERY PLAN " + sql))
            assert "USING PRIMARY KEY" not in plan and "SCAN v " not in plan + " ", (sql, plan)
    assert st.n_images == 12 == st.n_indexed and st.n_pending == 0
    assert st.n_images == sum(r.n_images for r in st.roots)


def test_adding_new_ids_does_not_scan_the_index_but_replacing_still_replaces(tmp_path, monkeypatch):
    x = _unit(300, seed=2)
    vi = VectorIndex.build("m", 32, np.arange(100), x[:100])
    vi.save(tmp_path / "m.faiss", 100, "c")
    selector = faiss.IDSelectorBatch
    removals = []

    def counted(ids):
        removals.append(len(ids))
        return selector(ids)

    monkeypatch.setattr(faiss, "IDSelectorBatch", counted)  # built only to remove ids
    for fresh in (vi, VectorIndex.load(tmp_path / "m.faiss", "m", 100, "c")):  # max id known, and not
        removals.clear()
        fresh.add(np.arange(100, 200), x[100:200])  # new photos: nothing to replace
        assert removals == [] and fresh.ntotal == 200
        fresh.add(np.arange(150, 250), x[200:300])  # 150..199 again: replaced, never stored twice
        assert removals == [100] and fresh.ntotal == 250
        assert sorted(fresh.ids().tolist()) == list(range(250))
        _, found = fresh.search(x[250], 1)
        assert found[0, 0] == 200  # ids 150..249 now hold x[200..299]


def test_new_catalogs_keep_a_vector_in_its_page(tmp_path):
    """No overflow page per vector: the file grows by about a vector's bytes per vector, not 3x."""
    from irt_desktop.library.catalog import Catalog

    cat = Catalog(tmp_path / "catalog.sqlite")
    assert cat.scalar("PRAGMA page_size") == 16384
    n, dim = 3000, 384
    with cat.transaction() as tx:
        root = cat.insert_root(tx, str(tmp_path), recursive=True, follow_symlinks=False, network=False)
        cat.insert_new_images(tx, [(root, f"/p/{i}.jpg", 1, 1, None) for i in range(n)], 1.0)
    cat.register_model("m", "m", dim, None)
    before = cat.scalar("PRAGMA page_count") * 16384
    with cat.transaction() as tx:
        ids = [r[0] for r in tx.execute("SELECT id FROM images")]
        cat.put_vectors(tx, "m", ids, _unit(n, dim), cat.next_seq(tx))
    cat.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    grown = cat.scalar("PRAGMA page_count") * 16384 - before
    assert grown / n < 1.5 * 4 * dim  # 4 KB pages: ~4.7 KB a vector (one overflow page each)
    cat.close()


def test_pending_is_counted_exactly_without_a_probe_per_image(catalog_with_vectors, tmp_path):
    cat, ids, _ = catalog_with_vectors
    with cat.transaction() as tx:
        root = tx.execute("SELECT id FROM roots").fetchone()[0]
        cat.insert_new_images(tx, [(root, str(tmp_path / f"new{i}.jpg"), 1, 1, None) for i in range(3)], 1.0)
        cat.mark_failed(tx, ids[4], "bad", size=1, mtime_ns=1, quick_hash=None, at=2.0)  # keeps its vector
        tx.execute("DELETE FROM vectors WHERE image_id = ?", (ids[5],))  # ok, but no vector: pending
    probed = cat.scalar(
        "SELECT count(*) FROM images i WHERE status IN ('pending', 'ok') AND NOT EXISTS "
        "(SELECT 1 FROM vectors v WHERE v.model_id = 'm' AND v.image_id = i.id)"
    )
    assert cat.count_pending("m") == probed == 4
    assert cat.count_pending(None) == 11
    assert cat.root_pending_counts("m") == {root: 4}
    with cat.transaction() as tx:
        tx.execute("DELETE FROM images WHERE status = 'pending' OR id = ?", (ids[5],))
    assert cat.count_pending("m") == 0 and cat.root_pending_counts("m") == {}
    assert cat.vectors_of_images_with_status("m", ("failed",)) == 1


def test_a_scan_holds_off_the_cyclic_collector_and_gives_it_back(tmp_path, monkeypatch):
    """At 10^6 files the scan's maps made CPython run full collections of 50-230 ms with the GIL held
    (GUI stalls mid-scroll); it pauses the collector for its duration, shared by nested holders."""
    import gc

    import irt_desktop.library.survey as survey
    from irt_desktop.library import Library
    from irt_desktop.library.bulk import scan
    from irt_desktop.library.gc_pause import cyclic_gc_paused

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        (photos / f"{i}.jpg").write_bytes(b"\xff\xd8" + bytes([i]) * 100)
    during: list[bool] = []
    real_walk = survey.walk

    def walk(*args, **kwargs):
        during.append(gc.isenabled())
        return real_walk(*args, **kwargs)

    monkeypatch.setattr(survey, "walk", walk)
    assert gc.isenabled()
    with Library.open(tmp_path / "lib") as lib:
        lib.add_root(photos)
        with cyclic_gc_paused():
            scan(lib)
            assert not gc.isenabled()  # the outer holder still holds it
        assert gc.isenabled()
        scan(lib)
    assert during == [False, False] and gc.isenabled()


def test_a_whole_root_scan_reads_its_rows_without_hashes_and_a_move_still_keeps_its_row(
    open_library, photos, monkeypatch
):
    """At 10^6 rows the content hashes were ~180 MB of the scan's map; only the rows found changed or
    missing need them, and those are read by id."""
    import shutil

    from irt_desktop.library.catalog import Catalog

    asked: list[bool] = []
    real = Catalog.images_under

    def images_under(self, root_id, region=None, hashes=True):
        asked.append(hashes)
        return real(self, root_id, region, hashes)

    monkeypatch.setattr(Catalog, "images_under", images_under)
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    ids = dict(lib.catalog.conn.execute("SELECT path, id FROM images").fetchall())
    shutil.move(photos / "b", photos / "a" / "b_moved")
    report = lib.index()
    assert asked == [False, False]
    assert (report.scan.moved, report.scan.new, report.embedded) == (4, 0, 0)
    now = dict(lib.catalog.conn.execute("SELECT path, id FROM images WHERE status != 'deleted'").fetchall())
    assert sorted(now.values()) == sorted(ids.values())
