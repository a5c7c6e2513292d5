"""bench_scale's libraries, built once and cached: N small real JPEGs in a year / event tree, catalogued
by the library's own scan, embedded through the bulk path (export-manifest -> vectors -> import-vectors,
the route of an archive embedded on a cluster), broken files failed by a real indexing run.

    python tests/perf/scale_build.py --cache /tmp/irt-scale 100000

Files: 20 years x events of ~100 photos, `IMG_nnnnnnn.jpg`, mtimes on the event's day. Each file is one
of 512 generated photos (bench sizes: 160x120 at 10^5, 64x48 at 10^6) with a unique 16-byte trailer
after the JPEG's end marker, so every file decodes and every content hash differs; 10^4 of them are
broken (half truncated JPEGs, half not images) and end up in the failures list.

Vectors (384-d, unit length) have a realistic shape, not an isotropic one (see `Descriptors`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
sys.path[:0] = [str(HERE.parent), str(HERE.parents[1]), str(HERE.parents[2])]

DIM = 384
YEARS = 20
EVENT_SIZE = 100
N_BROKEN = 10_000
N_BASES = 512
TRAILER = b"irt-scale-bench"  # then the photo's index, 8 bytes


def photo_index(path: str) -> int:
    return int(Path(path).stem.split("_")[1])


def is_broken(i: int, n: int) -> bool:
    return n >= 4 * N_BROKEN and i % (n // N_BROKEN) == 7


def tree_path(root: Path, i: int, n: int) -> tuple[Path, float]:
    """(path, mtime) of photo i: year folders, event folders of EVENT_SIZE photos in each."""
    per_year = max(1, n // YEARS)
    year = 2005 + min(YEARS - 1, i // per_year)
    event = (i % per_year) // EVENT_SIZE
    day = (event * 7) % 360
    stamp = time.mktime((year, 1, 1, 12, 0, 0, 0, 0, -1)) + day * 86400 + (i % EVENT_SIZE) * 30
    return root / str(year) / f"{year}-event-{event:04d}" / f"IMG_{i:07d}.jpg", stamp


def make_files(root: Path, n: int) -> dict:
    from io import BytesIO

    from imagegen import photo

    marker = root / ".made.json"
    if marker.exists():
        return json.loads(marker.read_text())
    started = time.monotonic()
    side = (160, 120) if n <= 200_000 else (64, 48)
    bases = []
    for s in range(N_BASES):
        buf = BytesIO()
        photo(s, side).save(buf, "JPEG", quality=85)
        bases.append(buf.getvalue())
    total = 0
    made_dirs: set[Path] = set()
    for i in range(n):
        path, stamp = tree_path(root, i, n)
        if path.parent not in made_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            made_dirs.add(path.parent)
        data = bases[i % N_BASES] + TRAILER + i.to_bytes(8, "little")
        if is_broken(i, n):
            data = data[: len(data) // 3] if i % 2 else os.urandom(900)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (stamp, stamp))
        total += len(data)
    info = {
        "n": n,
        "folders": len(made_dirs),
        "bytes": total,
        "jpeg_side": side,
        "broken": sum(is_broken(i, n) for i in range(n)),
        "seconds": round(time.monotonic() - started, 1),
    }
    marker.write_text(json.dumps(info))
    return info


class Descriptors:
    """Unit 384-d descriptors shaped like a retrieval model's on a photo archive.

    - Spectrum: eigenvalues decay as a power law, lambda_i ~ i^-1 (a 1/f shape: the half of the
      variance in the top ~20 of 384 directions, 90 % in ~190). Not fitted to measured DeiT data (no
      trained weights are reachable here): chosen between the very concentrated spectrum of
      random-init DeiT-S (9 dims hold 90 %, bench_search) and an isotropic one, flatter than the
      former, because trained descriptors spread their variance over many more directions.
    - Not centred: a shared mean direction, so unrelated photos score ~0.3, as real descriptors do.
    - Events: the photos of one event folder share a centre (same place, same light, same people).
    - Bursts: every fourth photo is a near-duplicate of the one before it (a burst shot, a re-save).
    """

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        q, _ = np.linalg.qr(rng.standard_normal((DIM, DIM)))
        lam = 1.0 / np.arange(1, DIM + 1)
        lam /= lam.sum()
        self.shape = (q * np.sqrt(lam)).astype(np.float32)  # columns scaled: z -> shape @ z
        self.mean = rng.standard_normal(DIM).astype(np.float32)
        self.mean /= np.linalg.norm(self.mean)
        self.seed = seed

    def _normal(self, stream: int, i: int) -> np.ndarray:
        return np.random.default_rng([self.seed, stream, i]).standard_normal(DIM)

    def vectors(self, indices: np.ndarray) -> np.ndarray:
        """The descriptors of photos `indices` (deterministic per index)."""
        events = indices // EVENT_SIZE
        z_event = np.stack(
            [np.random.default_rng([self.seed, 1, int(e)]).standard_normal(DIM) for e in events]
        )
        own = np.where(indices % 4 == 3, indices - 1, indices)  # a burst shot starts from its predecessor
        z_photo = np.stack([self._normal(2, int(i)) for i in own])
        x = 0.55 * self.mean + (z_event.astype(np.float32) @ self.shape.T) * 0.85
        x += (z_photo.astype(np.float32) @ self.shape.T) * 0.65
        burst = indices % 4 == 3
        if burst.any():
            noise = np.stack([self._normal(3, int(i)) for i in indices[burst]]).astype(np.float32)
            x[burst] += (noise @ self.shape.T) * 0.12 + noise * 0.004
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def describe_vectors(n: int = 20_000) -> dict:
    """What the generated descriptors look like: PCA variance and the scores of pairs by kind."""
    gen = Descriptors()
    idx = np.arange(n, dtype=np.int64)
    x = gen.vectors(idx)
    c = x - x.mean(0)
    lam = np.linalg.eigvalsh(np.cov(c, rowvar=False))[::-1]
    share = np.cumsum(lam) / lam.sum()
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, n, 4000), rng.integers(0, n, 4000)
    other = (a // EVENT_SIZE) != (b // EVENT_SIZE)
    same = idx[(idx % 4 == 1)][:4000]
    burst = idx[(idx % 4 == 3)][:4000]
    return {
        "dims_50pct": int(np.searchsorted(share, 0.5) + 1),
        "dims_90pct": int(np.searchsorted(share, 0.9) + 1),
        "cos_unrelated_median": float(np.median(np.sum(x[a[other]] * x[b[other]], 1))),
        "cos_same_event_median": float(np.median(np.sum(x[same] * x[same + 1], 1))),
        "cos_burst_pair_median": float(np.median(np.sum(x[burst] * x[burst - 1], 1))),
    }


def write_vectors(manifest: Path, out: Path, model_id: str, n: int) -> dict:
    """What an embedding job would write for the manifest: the generated descriptor of each photo,
    null with the decoder's complaint for the broken files (import-vectors refuses those)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from irt_desktop.library.bulk_embed import iter_manifest, vectors_schema

    gen = Descriptors()
    schema = vectors_schema(DIM, model_id)
    rows = 0
    with pq.ParquetWriter(out, schema) as writer:
        for cols in iter_manifest(manifest):
            idx = np.asarray([photo_index(p) for p in cols["path"]], np.int64)
            broken = np.asarray([is_broken(int(i), n) for i in idx])
            vecs = gen.vectors(idx)
            flat = pa.array(vecs.reshape(-1), pa.float32())
            column = pa.FixedSizeListArray.from_arrays(flat, DIM, mask=pa.array(broken))
            m = len(idx)
            table = pa.Table.from_arrays(
                [
                    pa.array(cols["path"], pa.string()),
                    pa.array(cols["full_hash"], pa.string()),
                    pa.array([model_id] * m, pa.string()),
                    column,
                    pa.array(["cannot identify image file" if b else None for b in broken], pa.string()),
                    pa.array(cols["size"], pa.int64()),
                    pa.array(cols["mtime_ns"], pa.int64()),
                    pa.array(cols["quick_hash"], pa.string()),
                    pa.array([None if b else 160 for b in broken], pa.int32()),
                    pa.array([None if b else 120 for b in broken], pa.int32()),
                    pa.array([None] * m, pa.float64()),
                ],
                schema=schema,
            )
            writer.write_table(table)
            rows += m
    return {"rows": rows, "bytes": out.stat().st_size}


def bundle(cache: Path):
    from irt_desktop.retrieval.bundle import list_bundles
    from irt_desktop.retrieval.spec import ModelSpec
    from irt_desktop.retrieval.weights import random_init_bundle

    folder = cache / "bundles"
    found = [b for b in list_bundles(folder)] if folder.is_dir() else []
    return found[0] if found else random_init_bundle(ModelSpec(), "deit-s-224", folder)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(cache: Path, n: int) -> dict:
    """The library of `n` photos under `cache` (made once; the marker says what it took)."""
    from irt_desktop.library import Library
    from irt_desktop.library.bulk import export_manifest, import_vectors, scan

    work = cache / f"n{n}"
    marker = work / "built.json"
    if marker.exists():
        return json.loads(marker.read_text())
    work.mkdir(parents=True, exist_ok=True)
    steps: dict[str, object] = {"n": n}
    t = time.monotonic()
    steps["files"] = make_files(work / "photos", n)
    b = bundle(cache)
    lib_dir = work / "library"
    with Library.open(lib_dir, device="cpu") as lib:
        lib.activate_model(b)
        lib.add_root(work / "photos")
        t = time.monotonic()
        s = scan(lib)
        steps["scan_new_s"] = round(time.monotonic() - t, 1)
        steps["scan"] = {"seen": s.seen, "new": s.new}
        t = time.monotonic()
        e = export_manifest(lib, work / "manifest.parquet")
        steps["export_s"] = round(time.monotonic() - t, 1)
        steps["export"] = {"files": e.exported, "hashed": e.hashed, "unreadable": len(e.unreadable)}
        t = time.monotonic()
        steps["vectors"] = write_vectors(work / "manifest.parquet", work / "vectors.parquet", lib.model_id, n)
        steps["write_vectors_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        r = import_vectors(lib, work / "vectors.parquet")
        steps["import_s"] = round(time.monotonic() - t, 1)
        steps["import"] = {"imported": r.imported, "refused": len(r.refused), "pending": r.pending}
        steps["rss_after_import_mb"] = round(rss_mb())
        t = time.monotonic()
        rep = lib.index()  # the broken files: decoded for real, failed as indexing records them
        steps["index_broken_s"] = round(time.monotonic() - t, 1)
        steps["index_broken"] = {"failed": rep.failed, "embedded": rep.embedded}
        st = lib.status()
        steps["status"] = {"n_images": st.n_images, "n_indexed": st.n_indexed, "n_failed": st.n_failed}
        steps["model_id"] = lib.model_id
    steps["vectors_shape"] = describe_vectors()
    steps["library"] = str(lib_dir)
    steps["photos"] = str(work / "photos")
    steps["peak_rss_mb"] = round(rss_mb())
    marker.write_text(json.dumps(steps, indent=2))
    return steps


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/irt-scale"))
    ap.add_argument("--describe", action="store_true", help="only print what the vectors look like")
    args = ap.parse_args()
    if args.describe:
        print(json.dumps(describe_vectors(args.n), indent=2))
        return 0
    os.environ.setdefault("IRT_BACKEND", "torch")  # the broken files' run loads the model: no compile
    t = time.monotonic()
    steps = build(args.cache, args.n)
    print(json.dumps(steps, indent=2))
    print(f"built in {time.monotonic() - t:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
