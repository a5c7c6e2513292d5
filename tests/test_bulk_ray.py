"""The bulk path end to end: `index --scan-only` -> `export-manifest` -> examples/ray_embed.py on a local
Ray (ray.init(num_cpus=2)) -> `import-vectors`, against the same photos indexed here; and what
import-vectors refuses (another model's vectors, a file changed after it was embedded, a file gone).

Backend and precision are pinned the same on both sides: torch (conftest: IRT_BACKEND=torch), fp32.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
from imagegen import save_photo

from irt_desktop.cli import main
from irt_desktop.library import Library
from irt_desktop.library.hashing import full_hash_file

REPO = Path(__file__).resolve().parents[1]
N_PHOTOS = 240  # a few hundred: enough for top-10 lists to mean something, seconds to embed at 32 px


def _tree(root: Path, n: int) -> list[Path]:
    """Photos in year / event folders, as a camera archive is kept."""
    out = []
    for i in range(n):
        folder = root / f"{2019 + i % 3}" / f"event-{(i // 3) % 8:02d}"
        out.append(save_photo(folder / f"IMG_{i:04d}.jpg", 1000 + i, (96, 72), quality=90))
    return out


def _open(path: Path) -> Library:
    return Library.open(path, device="cpu", low_precision=False, backend="torch")


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _by_path(lib: Library) -> dict[str, np.ndarray]:
    model_id = lib.model_id
    ids, vectors = lib.catalog.live_vectors(model_id, lib.catalog.model_dim(model_id))
    infos = lib.catalog.image_infos(ids.tolist())
    return {str(infos[int(i)].path): v for i, v in zip(ids, vectors, strict=True)}


@pytest.fixture(scope="module")
def ray_embed():
    spec = importlib.util.spec_from_file_location("ray_embed", REPO / "examples" / "ray_embed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def scanned(tmp_path, tiny_bundle, capsys):
    """(photos folder, library folder, manifest) of a library that has catalogued but not embedded."""
    photos = tmp_path / "photos"
    _tree(photos, N_PHOTOS)
    lib_dir = tmp_path / "remote-lib"
    with _open(lib_dir) as lib:
        lib.activate_model(tiny_bundle)
    code, out, err = _cli(capsys, "--library", str(lib_dir), "index", "--scan-only", str(photos), "--json")
    assert code == 0, err
    assert json.loads(out)["pending"] == N_PHOTOS
    manifest = tmp_path / "manifest.parquet"
    code, out, err = _cli(capsys, "--library", str(lib_dir), "export-manifest", str(manifest), "--json")
    assert code == 0, err
    assert json.loads(out)["files"] == N_PHOTOS
    return photos, lib_dir, manifest


@pytest.mark.slow
def test_manifest_ray_import_round_trip_matches_local_indexing(
    tmp_path, tiny_bundle, scanned, ray_embed, capsys
):
    import pyarrow.parquet as pq
    import ray

    photos, lib_dir, manifest = scanned
    table = pq.read_table(manifest)
    assert set(table.column_names) >= {"path", "size", "mtime_ns", "quick_hash", "full_hash"}
    row = table.slice(0, 1).to_pylist()[0]
    assert row["full_hash"] == full_hash_file(row["path"])
    assert row["size"] == os.stat(row["path"]).st_size

    out = tmp_path / "vectors"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with _open(lib_dir) as lib:
            bundle = lib.models_dir / lib.model_id
        n = ray_embed.embed_manifest(
            manifest,
            out,
            bundle,
            workers=2,
            cpus_per_worker=0.5,
            batch_size=32,
            backend="torch",
            low_precision=False,
        )
    finally:
        ray.shutdown()
    assert n == N_PHOTOS

    code, out_text, err = _cli(capsys, "--library", str(lib_dir), "import-vectors", str(out), "--json")
    assert code == 0, err
    report = json.loads(out_text)
    assert report["imported"] == N_PHOTOS and report["refused"] == [] and report["pending"] == 0

    # The same photos indexed here, the ordinary way.
    with _open(tmp_path / "local-lib") as local:
        local.activate_model(tiny_bundle)
        local.add_root(photos)
        assert local.index().embedded == N_PHOTOS
        here = _by_path(local)
        with _open(lib_dir) as remote:
            there = _by_path(remote)
            assert there.keys() == here.keys()
            cos = np.array([float(here[p] @ there[p]) for p in here])
            assert cos.min() >= 0.9999, cos.min()
            for query in sorted(here)[:: N_PHOTOS // 8]:
                mine = {str(h.path) for h in local.search(Path(query), k=10)}
                theirs = {str(h.path) for h in remote.search(Path(query), k=10)}
                assert mine == theirs
            # Committed as indexing would: a rescan finds nothing to embed, and the rows carry what
            # decoding records (sizes, hashes, dimensions).
            again = remote.index()
            assert again.embedded == 0 and again.scan.unchanged == N_PHOTOS
            infos = remote.catalog.image_infos(list(range(1, N_PHOTOS + 1))).values()
            assert {(i.width, i.height) for i in infos} == {(96, 72)}


def _embed_here(manifest: Path, bundle: Path, out: Path) -> Path:
    """The embedding job's own code, in this process (the refusal tests need no cluster)."""
    import pyarrow.parquet as pq

    from irt_desktop.library.bulk_embed import ManifestEmbedder, iter_manifest

    embedder = ManifestEmbedder(bundle, backend="torch", device="cpu", low_precision=False)
    tables = [embedder.embed(cols["path"]) for cols in iter_manifest(manifest)]
    import pyarrow as pa

    pq.write_table(pa.concat_tables(tables), out)
    return out


def test_import_refuses_another_models_vectors(tmp_path, scanned, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    _, lib_dir, manifest = scanned
    with _open(lib_dir) as lib:
        bundle = lib.models_dir / lib.model_id
    vectors = _embed_here(manifest, bundle, tmp_path / "v.parquet")
    t = pq.read_table(vectors)
    t = t.set_column(t.schema.get_field_index("bundle_id"), "bundle_id", pa.array(["other-model"] * len(t)))
    pq.write_table(t, vectors)

    code, out, err = _cli(capsys, "--library", str(lib_dir), "import-vectors", str(vectors))
    assert code == 1, out + err
    assert f"{N_PHOTOS} vectors from model other-model" in out
    assert out.count("refused:") == 1  # one line for the lot, not one per file
    with _open(lib_dir) as lib:
        assert lib.status().n_pending == N_PHOTOS and lib.status().n_indexed == 0


def test_import_refuses_changed_and_missing_files_and_keeps_the_rest(tmp_path, scanned, capsys):
    photos, lib_dir, manifest = scanned
    with _open(lib_dir) as lib:
        bundle = lib.models_dir / lib.model_id
    vectors = _embed_here(manifest, bundle, tmp_path / "v.parquet")
    files = sorted(photos.rglob("*.jpg"))
    changed, gone = files[0], files[1]
    save_photo(changed, 7, (96, 72), quality=60)  # new content after the embedding job read it
    gone.unlink()

    code, out, err = _cli(capsys, "--library", str(lib_dir), "import-vectors", str(vectors), "--json")
    assert code == 0, err
    report = json.loads(out)
    reasons = {r["path"]: r["reason"] for r in report["refused"]}
    assert reasons.keys() == {str(changed), str(gone)}
    assert "content hash differs" in reasons[str(changed)]
    assert "gone" in reasons[str(gone)]
    assert report["imported"] == N_PHOTOS - 2 and report["pending"] == 2

    # Importing the same file again changes nothing and refuses nothing new.
    code, out, err = _cli(capsys, "--library", str(lib_dir), "import-vectors", str(vectors), "--json")
    again = json.loads(out)
    assert again["imported"] == 0 and again["already_indexed"] == N_PHOTOS - 2
    with _open(lib_dir) as lib:
        vi = lib.vector_cache.index_for(lib.model_id)
        assert vi.ntotal == N_PHOTOS - 2


def test_import_of_a_manifest_says_to_embed_it_first(scanned, capsys):
    _, lib_dir, manifest = scanned
    code, _out, err = _cli(capsys, "--library", str(lib_dir), "import-vectors", str(manifest))
    assert code == 2 and "embed it first" in err and "Traceback" not in err
