"""Persistence: the FAISS cache against the catalog, schema migrations, model switches."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from imagegen import TINY_SPEC
from test_library_support import copy_query, make_tree

from irt_desktop.library import Library, NoModelError, PipelineConfig, SchemaTooNew
from irt_desktop.library.schema import SCHEMA_VERSION, migrate
from irt_desktop.library.vector_index import IndexFileError, VectorIndex


def _faiss_file(lib: Library):
    return lib.vectors_dir / f"{lib.model_id}.faiss"


def _consistent(lib: Library) -> None:
    vi = lib.vector_cache.index_for(lib.model_id)
    count, _ = lib.catalog.vector_state(lib.model_id)
    ok = lib.catalog.scalar("SELECT count(*) FROM images WHERE status = 'ok'")
    assert vi.ntotal == count == ok
    assert sorted(vi.ids().tolist()) == [
        r[0] for r in lib.catalog.conn.execute("SELECT id FROM images WHERE status = 'ok' ORDER BY id")
    ]


def test_faiss_file_is_reused_and_rebuilt_when_missing_corrupt_or_stale(open_library, photos, tmp_path):
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    path = _faiss_file(lib)
    assert path.is_file()
    lib.close()
    query = copy_query(photos / "a" / "img_000.jpg", tmp_path / "q.jpg")

    lib = open_library()
    assert lib.search(query, k=1)[0].path == photos / "a" / "img_000.jpg"
    assert lib.vector_cache.last_rebuild_reason is None  # loaded as saved
    lib.close()

    path.unlink()
    lib = open_library()
    assert lib.search(query, k=1)[0].path == photos / "a" / "img_000.jpg"
    assert "missing" in lib.vector_cache.last_rebuild_reason and path.is_file()
    lib.close()

    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    lib = open_library()
    assert lib.search(query, k=1)[0].path == photos / "a" / "img_000.jpg"
    assert "damaged" in lib.vector_cache.last_rebuild_reason
    lib.close()

    path.write_bytes(b"garbage")
    lib = open_library()
    lib.search(query, k=1)
    assert "not an irt-desktop index" in lib.vector_cache.last_rebuild_reason
    lib.close()

    # The catalog changed behind the saved file (as after a crash between a batch and the save).
    saved = path.read_bytes()
    lib = open_library()
    (photos / "b" / "img_002.jpg").unlink()
    lib.index()
    lib.close()
    path.write_bytes(saved)
    lib = open_library()
    hits = lib.search(query, k=100)
    assert "stale" in lib.vector_cache.last_rebuild_reason and len(hits) == 11
    _consistent(lib)


def test_non_ascii_library_and_photo_paths(open_library, tmp_path):
    photos = tmp_path / "Fotos d'été" / "東京"
    make_tree(photos, n=4)
    (photos / "a" / "img_000.jpg").rename(photos / "a" / "ça_va_写真.jpg")
    lib = open_library(tmp_path / "bibliothèque ü" / "写真")
    lib.add_root(photos.parent)
    assert lib.index().embedded == 4
    assert _faiss_file(lib).is_file()
    lib.close()
    lib = open_library(tmp_path / "bibliothèque ü" / "写真")
    assert lib.search(photos / "a" / "ça_va_写真.jpg", k=1)[0].path.name == "ça_va_写真.jpg"
    assert lib.vector_cache.last_rebuild_reason is None


def test_ivf_index_for_large_collections_meets_recall(tmp_path):
    rng = np.random.default_rng(0)
    # Clustered unit vectors: groups of similar photos, as a real collection has.
    centres = rng.standard_normal((300, 32)).astype(np.float32)
    x = centres[rng.integers(0, 300, 20_000)] + 0.35 * rng.standard_normal((20_000, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.arange(100, 20_100, dtype=np.int64)
    vi = VectorIndex.build("m", 32, ids, x, exact_max=5_000)
    assert vi.info.kind == "ivf" and vi.info.recall_at_10 >= 0.95 and vi.ntotal == 20_000
    assert vi.search(x[:1], 1)[1][0][0] == 100
    path = tmp_path / "ivf.faiss"
    vi.save(path, 20_000, "sum")
    back = VectorIndex.load(path, "m", 20_000, "sum")
    assert back.info.kind == "ivf" and back.info.nprobe == vi.info.nprobe
    assert np.array_equal(np.sort(back.ids()), ids)
    back.add(ids[:10], x[:10])  # replacing never duplicates
    assert back.ntotal == 20_000
    with pytest.raises(IndexFileError, match="stale"):
        VectorIndex.load(path, "m", 19_999, "sum")
    with pytest.raises(IndexFileError, match="belongs to model"):
        VectorIndex.load(path, "other", 20_000, "sum")


def test_library_switches_to_ivf_when_it_grows(open_library, photos):
    lib = open_library(exact_max=8)
    lib.add_root(photos)
    lib.index()
    vi = lib.vector_cache.index_for(lib.model_id)
    assert vi.info.kind == "ivf" and vi.ntotal == 12
    assert lib.search(photos / "a" / "img_000.jpg", k=1)[0].path == photos / "a" / "img_000.jpg"


def test_migration_from_schema_version_1(open_library, photos, tmp_path):
    libdir = tmp_path / "library"
    libdir.mkdir()
    conn = sqlite3.connect(libdir / "catalog.sqlite", isolation_level=None)
    migrate(conn, target=1)
    conn.execute("INSERT INTO roots(path, added_at) VALUES (?, 0)", (str(photos),))
    conn.execute(
        "INSERT INTO images(root_id, path, size, mtime_ns, status, added_at, updated_at) "
        "VALUES (1, ?, 1, 1, 'pending', 0, 0)",
        (str(photos / "a" / "img_000.jpg"),),
    )
    conn.close()
    lib = open_library(libdir)
    assert lib.catalog.scalar("PRAGMA user_version") == SCHEMA_VERSION >= 4
    columns = {r[1] for r in lib.catalog.conn.execute("PRAGMA table_info(images)")}
    assert {"full_hash", "failure_kind", "attempts", "retry_at", "unfinished"} <= columns
    assert [r.path for r in lib.roots()] == [photos]
    report = lib.index()
    assert report.scan.changed == 1 and report.scan.new == 11 and report.embedded == 12
    assert lib.catalog.scalar("SELECT id FROM images WHERE path LIKE '%img_000.jpg'") == 1


def test_newer_schema_is_refused(tmp_path):
    libdir = tmp_path / "library"
    Library.open(libdir).close()
    conn = sqlite3.connect(libdir / "catalog.sqlite")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(SchemaTooNew, match="newer"):
        Library.open(libdir)


def test_model_switch_keeps_serving_the_old_model_until_complete(photos, tmp_path, tiny_bundle):
    import threading

    from irt_desktop.retrieval.weights import random_init_bundle

    other = random_init_bundle(TINY_SPEC, "tiny-b", tmp_path / "elsewhere", seed=1)
    lib = Library.open(tmp_path / "library", pipeline=PipelineConfig(batch_size=4))
    with pytest.raises(NoModelError, match="models install"):
        lib.add_root(photos) and lib.index()
    lib.activate_model(tiny_bundle)  # copied into the library's models/
    assert (lib.path / "models" / tiny_bundle.id / "card.toml").is_file()
    lib.index()
    old = lib.model_id
    query = copy_query(photos / "a" / "img_000.jpg", tmp_path / "q.jpg")
    before = lib.search(query, k=3)

    lib.activate_model(other)
    assert (lib.model_id, lib.target_model_id) == (old, other.id)
    cancel = threading.Event()
    report = lib.index(progress=lambda p: p.phase == "embed" and p.done >= 4 and cancel.set(), cancel=cancel)
    assert report.cancelled and not report.switched_model
    status = lib.status()
    assert (status.model_id, status.target_model_id, status.n_pending, status.n_indexed) == (
        old,
        other.id,
        8,
        12,
    )
    assert [h.image_id for h in lib.search(query, k=3)] == [h.image_id for h in before]

    lib.close()  # a restart in the middle of the switch changes nothing
    lib = Library.open(tmp_path / "library", pipeline=PipelineConfig(batch_size=4))
    assert (lib.model_id, lib.target_model_id) == (old, other.id)
    report = lib.index()
    assert report.switched_model and report.embedded == 8
    assert (lib.model_id, lib.target_model_id) == (other.id, None)
    # The replaced model keeps its vectors and FAISS file, so switching back is immediate.
    assert sorted(lib.catalog.model_ids_with_vectors()) == sorted([other.id, old])
    assert lib.catalog.previous_model() == old
    assert (lib.vectors_dir / f"{old}.faiss").exists()
    assert lib.search(query, k=1)[0].path == photos / "a" / "img_000.jpg"
    _consistent(lib)
    lib.close()


def test_single_installed_model_is_adopted(photos, tmp_path, tiny_bundle):
    import shutil

    libdir = tmp_path / "library"
    shutil.copytree(tiny_bundle.path, libdir / "models" / tiny_bundle.id)
    with Library.open(libdir) as lib:
        lib.add_root(photos)
        assert lib.index().embedded == 12 and lib.model_id == tiny_bundle.id


def test_ivf_that_cannot_reach_the_recall_floor_falls_back_to_exact(monkeypatch):
    from irt_desktop.library import vector_index

    monkeypatch.setattr(vector_index, "NPROBE_STEPS", (1,))
    x = np.random.default_rng(0).standard_normal((12_000, 64)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    vi = VectorIndex.build("m", 64, np.arange(12_000, dtype=np.int64), x, exact_max=1_000)
    assert vi.info.kind == "exact" and vi.info.recall_at_10 < 0.95 and vi.ntotal == 12_000
    assert vi.suits_size(12_000, exact_max=1_000)
