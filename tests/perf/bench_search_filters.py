"""Filtered search latency (single query, k=50, p50/p95) at 10^6 photos, and the folder list's cost.

    .venv/bin/python tests/perf/bench_search_filters.py [--n 1000000] [--queries 100]

A synthetic catalog (rows written straight into SQLite, random unit 384-d vectors: only the filter
machinery is measured here, not the model): photos in /photos/<year>/<album>/ (10 years, ~1000 per
album), capture dates spread over those years, 90 % JPEG, 8 % PNG, 2 % HEIC. Filters measured, from
unselective to very selective: none; file type PNG (8 %); one year (10 %); one month (~0.8 %); one
album (0.1 %); one album and PNG (~0.008 %).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

DIM = 384


def build(lib, n: int, rng: np.random.Generator) -> list[str]:
    conn = lib.catalog.conn
    conn.execute("BEGIN")
    conn.execute("INSERT INTO roots(path, added_at) VALUES ('/photos', 0)")
    conn.execute("INSERT INTO models(id, name, dim, added_at) VALUES ('bench', 'bench', ?, 0)", (DIM,))
    start = datetime(2015, 1, 1).timestamp()
    span = datetime(2025, 1, 1).timestamp() - start
    albums = []

    def rows():
        for i in range(n):
            year = 2015 + (i * 10) // n
            album = f"/photos/{year}/album_{i // 1000:04d}"
            if i % 1000 == 0:
                albums.append(album)
            r = i % 100
            suffix = ".jpg" if r < 90 else (".png" if r < 98 else ".heic")
            taken = start + span * (i / n) + float(rng.uniform(0, 3600))
            yield (i + 1, f"{album}/IMG_{i:07d}{suffix}", taken)

    conn.executemany(
        "INSERT INTO images(id, root_id, path, size, mtime_ns, status, width, height, exif_taken, added_at, "
        "updated_at) VALUES (?, 1, ?, 3000000, 0, 'ok', 4000, 3000, ?, 0, 0)",
        rows(),
    )
    for lo in range(0, n, 100_000):
        m = min(100_000, n - lo)
        v = rng.standard_normal((m, DIM)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        conn.executemany(
            "INSERT INTO vectors(model_id, image_id, seq, vector) VALUES ('bench', ?, 1, ?)",
            ((lo + j + 1, v[j].tobytes()) for j in range(m)),
        )
    conn.execute("INSERT INTO settings(key, value) VALUES ('model.serving', 'bench')")
    conn.execute("COMMIT")
    return albums


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=100)
    args = ap.parse_args()
    from irt_desktop.library import Library
    from irt_desktop.library.filters import SearchFilter, date_range
    from irt_desktop.library.search import search_vector

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(Path(tmp) / "lib")
        t = time.perf_counter()
        albums = build(lib, args.n, rng)
        print(f"catalog of {args.n:,} rows written in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        vi = lib.vector_cache.index_for("bench")
        print(f"index ({vi.info.kind}, nprobe {vi.info.nprobe}) built in {time.perf_counter() - t:.1f} s")
        year = next(a for a in albums if "/2019/" in a).rsplit("/", 1)[0]
        month = date_range(datetime(2019, 5, 1), datetime(2019, 5, 31))
        album = albums[len(albums) // 3]
        cases = {
            "no filter": SearchFilter(),
            "type PNG (8 %)": SearchFilter(types=(".png",)),
            "one year folder (10 %)": SearchFilter(folders=(year,)),
            "one month (0.8 %)": SearchFilter(taken_from=month[0], taken_to=month[1]),
            "one album (0.1 %)": SearchFilter(folders=(album,)),
            "album and PNG (0.008 %)": SearchFilter(folders=(album,), types=(".png",)),
        }
        queries = rng.standard_normal((args.queries, DIM)).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)

        def vectors_of(ids):
            return lib.catalog.vectors_for("bench", ids)

        for name, f in cases.items():
            for q in queries[:3]:
                search_vector(lib.catalog, vi, q, k=50, filters=f, vectors_of=vectors_of)
            ts, got = [], []
            for q in queries:
                t = time.perf_counter()
                hits = search_vector(lib.catalog, vi, q, k=50, filters=f, vectors_of=vectors_of)
                ts.append(time.perf_counter() - t)
                got.append(len(hits))
            ms = np.asarray(ts) * 1000
            print(
                f"{name:28s} p50 {np.percentile(ms, 50):7.1f} ms  p95 {np.percentile(ms, 95):7.1f} ms  "
                f"hits {min(got)}-{max(got)}"
            )
        t = time.perf_counter()
        folders = lib.image_folders()
        print(f"image_folders(): {len(folders):,} folders in {time.perf_counter() - t:.2f} s")
        lib.close()


if __name__ == "__main__":
    main()
