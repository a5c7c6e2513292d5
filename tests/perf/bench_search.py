"""Search latency (single query, p50/p95) at 10k, 100k and 1M stored 384-d vectors, and recall@10 of
the index the library chooses against exact search.

    .venv/bin/python tests/perf/bench_search.py [--sizes 10000,100000,1000000] [--random]

What "real-looking" descriptors are here, honestly: no pretrained weights can be downloaded on this
machine, so descriptors come from a random-init DeiT-S (the production architecture, 224 px, CLS) run
on generated photo-like images, plus resized / re-encoded / cropped copies of some of them. Raw
random-init CLS outputs are degenerate (every pair has cosine ~0.99: one shared direction dominates),
so they are centred (the collection mean is subtracted) and re-normalised; what remains is the
network's real response to image content: an anisotropic spectrum, and copies of one photo sitting
much closer than unrelated photos. To reach 1M, new vectors are drawn from a Gaussian with the
empirical covariance of those descriptors, in bursts (a few shots of one scene, as cameras produce)
whose spread is the measured spread between a photo and its copies. Isotropic random vectors, the
hardest case for an IVF index, are reported with --random for comparison.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for imagegen

DIM = 384


def real_descriptors(cache: Path, n_base: int, n_aug: int) -> tuple[np.ndarray, np.ndarray]:
    """(base photos, their augmented copies) descriptors from a random-init DeiT-S; cached."""
    if cache.exists():
        z = np.load(cache)
        return z["base"], z["aug"]
    import io

    import torch
    from imagegen import photo
    from PIL import Image

    from irt_desktop.library.decode import Tensorizer
    from irt_desktop.retrieval.embedder import Embedder
    from irt_desktop.retrieval.model import IRT, ModelSpec

    torch.manual_seed(0)
    spec = ModelSpec()
    emb = Embedder(IRT(spec), model_id="deit-s-random", batch_size=32)
    tz = Tensorizer(spec)

    def variant(i: int) -> Image.Image:
        im = photo(i, (320, 240))
        w, h = im.size
        im = im.crop((w // 10, h // 10, w, h)).resize((w // 2, h // 2), Image.BICUBIC)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=70)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")

    def embed(images) -> np.ndarray:
        out = []
        for i in range(0, len(images), 32):
            out.append(emb.embed_tensor(torch.from_numpy(np.stack([tz(im) for im in images[i : i + 32]]))))
        return np.concatenate(out)

    t = time.perf_counter()
    base = embed([photo(i, (320, 240)) for i in range(n_base)])
    aug = embed([variant(i) for i in range(n_aug)])
    print(f"embedded {n_base + n_aug} generated photos with DeiT-S in {time.perf_counter() - t:.0f} s")
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, base=base, aug=aug)
    return base, aug


def normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


class Generator:
    """Draws descriptors shaped like the measured ones, in bursts of near-identical shots."""

    def __init__(self, base: np.ndarray, aug: np.ndarray, seed: int = 0, dims90: int | None = None) -> None:
        self.mean = base.mean(0)
        c = normalise(base - self.mean)
        ca = normalise(aug - self.mean)
        cov = np.cov(c, rowvar=False)
        if dims90 is not None:
            cov = _flatten_spectrum(cov, dims90)
        self.chol = np.linalg.cholesky(cov + 1e-6 * np.eye(DIM))
        diff = ca - c[: len(ca)]
        self.diff_chol = np.linalg.cholesky(np.cov(diff, rowvar=False) + 1e-7 * np.eye(DIM))
        self.rng = np.random.default_rng(seed)

    def centres(self, n: int) -> np.ndarray:
        return normalise(
            self.rng.standard_normal((n, DIM)).astype(np.float32) @ self.chol.T.astype(np.float32)
        )

    def shots(self, centres: np.ndarray) -> np.ndarray:
        noise = self.rng.standard_normal(centres.shape).astype(np.float32) @ self.diff_chol.T.astype(
            np.float32
        )
        return normalise(centres + noise)

    def collection(self, n: int, mean_burst: float = 3.0) -> np.ndarray:
        sizes = self.rng.geometric(1 / mean_burst, size=int(1.5 * n / mean_burst) + 16)
        owner = np.repeat(np.arange(len(sizes)), sizes)[:n]
        out = np.empty((n, DIM), np.float32)
        step = 200_000
        cents = self.centres(int(owner.max()) + 1)
        for i in range(0, n, step):
            out[i : i + step] = self.shots(cents[owner[i : i + step]])
        return out


def _flatten_spectrum(cov: np.ndarray, dims90: int) -> np.ndarray:
    """Same eigenvectors, power-law eigenvalues putting 90% of the variance in `dims90` dimensions.

    A random-init network concentrates its response in very few directions; trained descriptors spread
    it over many more (tens to a hundred dims), which makes nearest-neighbour search harder."""
    w, v = np.linalg.eigh(cov)
    v = v[:, ::-1]
    ranks = np.arange(1, DIM + 1, dtype=np.float64)
    lo, hi = 0.0, 8.0
    for _ in range(60):
        alpha = (lo + hi) / 2
        lam = ranks**-alpha
        if np.cumsum(lam)[dims90 - 1] / lam.sum() < 0.9:
            lo = alpha
        else:
            hi = alpha
    lam = ranks**-hi * (w.sum() / (ranks**-hi).sum())
    return (v * lam) @ v.T


def latency(index, queries: np.ndarray, k: int = 10) -> tuple[float, float]:
    import faiss

    # Raw FAISS references get the single-thread treatment VectorIndex.search gives single queries.
    faiss.omp_set_num_threads(1)
    try:
        return _latency(index, queries, k)
    finally:
        faiss.omp_set_num_threads(os.cpu_count() or 1)


def _latency(index, queries: np.ndarray, k: int) -> tuple[float, float]:
    for q in queries[:10]:
        index.search(q[None], k)
    ts = []
    for q in queries:
        t = time.perf_counter()
        index.search(q[None], k)
        ts.append(time.perf_counter() - t)
    ts = np.asarray(ts) * 1000
    return float(np.percentile(ts, 50)), float(np.percentile(ts, 95))


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f[:10]) & set(t[:10])) / 10 for f, t in zip(found, truth, strict=True)]))


def run_size(n: int, data: np.ndarray, queries: np.ndarray, label: str) -> None:
    import faiss

    from irt_desktop.library.vector_index import EXACT_MAX, VectorIndex

    x = data[:n]
    ids = np.arange(n, dtype=np.int64)
    flat = faiss.IndexFlatIP(DIM)
    flat.add(x)
    _, truth = flat.search(queries, 10)
    t = time.perf_counter()
    vi = VectorIndex.build("bench", DIM, ids, x)
    build = time.perf_counter() - t
    p50, p95 = latency(vi, queries)
    _, found = vi.search(queries, 10)
    info = vi.info
    kind = "exact fp16" if info.kind == "exact" else f"IVF{info.nlist} fp16 nprobe {info.nprobe}"
    print(
        f"{label:<6} n={n:>9,}  chosen {kind:<26} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  "
        f"recall@10 vs exact fp32 {recall_at_10(found, truth):.3f}  (built in {build:.1f} s)"
    )
    if n >= 100_000:
        p50f, p95f = latency(flat, queries[:100])
        print(f"{'':<6} n={n:>9,}  reference exact fp32 IndexFlatIP  p50 {p50f:6.2f} ms  p95 {p95f:6.2f} ms")
    if n > EXACT_MAX:
        ex = VectorIndex.build("bench", DIM, ids, x, exact_max=n)
        p50e, p95e = latency(ex, queries[:100])
        print(f"{'':<6} n={n:>9,}  reference exact fp16               p50 {p50e:6.2f} ms  p95 {p95e:6.2f} ms")
        del ex
    del flat, vi


def library_latency(n: int, data: np.ndarray, queries: np.ndarray) -> None:
    """search through the Library: FAISS plus the catalog rows of k=50 hits (per-thread SQLite)."""
    from irt_desktop.library import Library
    from irt_desktop.library.search import search_vector

    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(Path(tmp) / "lib")
        conn = lib.catalog.conn
        conn.execute("BEGIN")
        conn.execute("INSERT INTO roots(path, added_at) VALUES ('/photos', 0)")
        conn.execute("INSERT INTO models(id, name, dim, added_at) VALUES ('bench', 'bench', ?, 0)", (DIM,))
        conn.executemany(
            "INSERT INTO images(id, root_id, path, size, mtime_ns, status, width, height, added_at, "
            "updated_at) VALUES (?, 1, ?, 3000000, 0, 'ok', 4000, 3000, 0, 0)",
            ((i + 1, f"/photos/{i // 1000:04d}/IMG_{i:07d}.jpg") for i in range(n)),
        )
        conn.executemany(
            "INSERT INTO vectors(model_id, image_id, seq, vector) VALUES ('bench', ?, 1, ?)",
            ((i + 1, data[i].tobytes()) for i in range(n)),
        )
        conn.execute("INSERT INTO settings(key, value) VALUES ('model.serving', 'bench')")
        conn.execute("COMMIT")
        vi = lib.vector_cache.index_for("bench")
        for q in queries[:10]:
            search_vector(lib.catalog, vi, q, k=50)
        ts = []
        for q in queries[:200]:
            t = time.perf_counter()
            hits = search_vector(lib.catalog, vi, q, k=50)
            ts.append(time.perf_counter() - t)
        assert len(hits) == 50
        ts = np.asarray(ts) * 1000
        print(
            f"library search_vector k=50 at n={n:,} (FAISS + catalog rows): "
            f"p50 {np.percentile(ts, 50):.2f} ms  p95 {np.percentile(ts, 95):.2f} ms"
        )
        lib.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--n-base", type=int, default=1200)
    ap.add_argument("--n-aug", type=int, default=400)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--random", action="store_true", help="also isotropic random vectors (worst case)")
    ap.add_argument("--dims90", type=int, default=0, help="also a flatter spectrum: 90%% variance in N dims")
    ap.add_argument("--extra-size", type=int, default=1_000_000, help="size for the --dims90 / --random runs")
    ap.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "irt-bench-search" / "desc.npz"
    )
    args = ap.parse_args()
    import faiss

    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} OpenMP threads")
    base, aug = real_descriptors(args.cache, args.n_base, args.n_aug)
    raw = normalise(base)
    off = ~np.eye(len(raw), dtype=bool)
    c = normalise(base - base.mean(0))
    ca = normalise(aug - base.mean(0))
    print(
        f"random-init DeiT-S on generated photos: raw mean pair cosine {np.mean((raw @ raw.T)[off]):.3f}; "
        f"centred: unrelated pairs {np.mean((c @ c.T)[off]):.3f}, photo vs its copy "
        f"{np.mean(np.sum(c[: len(ca)] * ca, 1)):.3f}"
    )
    ev = np.linalg.eigvalsh(np.cov(c, rowvar=False))[::-1]
    dims90 = np.searchsorted(np.cumsum(ev) / ev.sum(), 0.9) + 1
    print(f"centred spectrum: {dims90} of {DIM} dims hold 90% of the variance")

    gen = Generator(base, aug)
    data = gen.collection(max(sizes))
    # Queries: half near-copies of stored photos (a resized copy from a phone), half unseen photos.
    rng = np.random.default_rng(1)
    nq = args.queries
    copies = gen.shots(data[rng.choice(max(sizes), nq // 2, replace=False)])
    fresh = gen.shots(gen.centres(nq - nq // 2))
    queries = np.ascontiguousarray(np.concatenate([copies, fresh]))
    for n in sizes:
        run_size(
            n,
            data,
            queries if n == max(sizes) else np.concatenate([gen.shots(data[: nq // 2]), fresh]),
            "shaped",
        )
    if 100_000 in sizes:
        library_latency(100_000, data, queries)
    if args.dims90:
        flat = Generator(base, aug, seed=4, dims90=args.dims90)
        fdata = flat.collection(args.extra_size)
        fq = np.concatenate(
            [
                flat.shots(fdata[rng.choice(args.extra_size, nq // 2, replace=False)]),
                flat.shots(flat.centres(nq - nq // 2)),
            ]
        )
        run_size(args.extra_size, fdata, np.ascontiguousarray(fq), f"flat{args.dims90}")
        del fdata
    if args.random:
        r = normalise(np.random.default_rng(2).standard_normal((args.extra_size, DIM)).astype(np.float32))
        rq = normalise(np.random.default_rng(3).standard_normal((nq, DIM)).astype(np.float32))
        run_size(args.extra_size, r, rq, "random")


if __name__ == "__main__":
    main()
