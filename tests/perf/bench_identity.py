"""What content identity costs a scan: a rescan of unchanged files, and a move of N photos.

    .venv/bin/python tests/perf/bench_identity.py [--n 1000] [--size-mb 4] [--dir /tmp/bench-identity]

A rescan compares (path, size, mtime_ns) with the catalog and reads no file. A moved file is read twice
before its row may follow it: the quick hash (128 KiB) proposes the row, the full-content hash (the
whole file) must equal the one stored when the row was embedded. The files here are photo-sized blobs
(no decoding is involved in a scan); their rows are given hashes and vectors as indexing would.
Figures are printed with the page cache warm (just written or read) and cold (evicted with
posix_fadvise, where the OS has it), since the full hash's cost is reading the file. Hashing runs
on up to 8 threads (hashlib releases the GIL).
Also: what the full hash adds to decoding, where it is taken for every file (--decode-n 12-MP JPEGs).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for the 12-MP photo generator


def write_blobs(folder: Path, n: int, size: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    body = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes()
    paths = []
    for i in range(n):
        path = folder / f"sub{i % 10}" / f"IMG_{i:05d}.jpg"
        path.parent.mkdir(exist_ok=True)
        if not path.exists():
            # Distinct head and tail, as EXIF and entropy data make real photos distinct.
            tag = i.to_bytes(8, "little") * 64
            path.write_bytes(tag + body[len(tag) : -len(tag)] + tag)
        paths.append(path)
    return paths


def evict(paths: list[Path]) -> bool:
    if not hasattr(os, "posix_fadvise"):
        return False
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return True


def catalogue(libdir: Path, root: Path) -> tuple[object, object, object]:
    """A catalog where every blob is a row with hashes and a vector, as after indexing."""
    from irt_desktop.library.catalog import Catalog
    from irt_desktop.library.folders import RootRow
    from irt_desktop.library.hashing import full_hash_file, quick_hash_file
    from irt_desktop.library.scanner import Scanner

    shutil.rmtree(libdir, ignore_errors=True)
    libdir.mkdir(parents=True)
    catalog = Catalog(libdir / "catalog.sqlite")
    with catalog.transaction() as tx:
        root_id = catalog.insert_root(tx, str(root), recursive=True, follow_symlinks=False, network=False)
    scanner = Scanner(catalog)
    rows = lambda: [r for r in catalog.root_rows() if r.id == root_id]  # noqa: E731
    scanner.scan_roots(rows())
    catalog.register_model("m", "m", 4, None)
    under = catalog.images_under(root_id)
    with catalog.transaction() as tx:
        for path, row in under.items():
            catalog.mark_embedded(
                tx,
                row.id,
                size=row.size,
                mtime_ns=row.mtime_ns,
                quick_hash=quick_hash_file(path),
                full_hash=full_hash_file(path),
                width=1,
                height=1,
                exif_taken=None,
                at=time.time(),
            )
        ids = [r.id for r in under.values()]
        catalog.put_vectors(tx, "m", ids, np.ones((len(ids), 4), np.float32), catalog.next_seq(tx))
    assert isinstance(rows()[0], RootRow)
    return catalog, scanner, rows


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def count_reads(monkey: dict):
    from irt_desktop.library import identity

    counts = {"quick_hash_file": 0, "full_hash_file": 0}
    for name in counts:
        real = getattr(identity, name)
        monkey[name] = real

        def counted(path, real=real, name=name):
            counts[name] += 1
            return real(path)

        setattr(identity, name, counted)
    return counts


def bench_scans(args: argparse.Namespace) -> None:
    base = Path(args.dir)
    root = base / "photos"
    write_blobs(root / "album", args.n, int(args.size_mb * 1e6))
    catalog, scanner, rows = catalogue(base / "library", root)
    originals = {}
    counts = count_reads(originals)
    mb = args.n * args.size_mb
    from irt_desktop.library.identity import HASH_THREADS

    print(f"{args.n} files of {args.size_mb} MB ({mb / 1000:.1f} GB), hashed on {HASH_THREADS} threads")

    report, s = timed(lambda: scanner.scan_roots(rows()))
    print(
        f"  rescan, nothing changed:   {s * 1000:7.0f} ms   unchanged {report.report.unchanged}, "
        f"files read: quick {counts['quick_hash_file']}, full {counts['full_hash_file']}"
    )
    for cache in ("warm", "cold"):
        src, dst = (root / "album", root / "moved") if cache == "warm" else (root / "moved", root / "album")
        os.rename(src, dst)
        if cache == "cold" and not evict(list(dst.rglob("*.jpg"))):
            print("  (no posix_fadvise here: no cold-cache figure)")
            break
        for k in counts:
            counts[k] = 0
        report, s = timed(lambda: scanner.scan_roots(rows()))
        r = report.report
        assert r.moved == args.n and r.new == 0, r
        print(
            f"  move of {args.n} ({cache} cache): {s:7.2f} s    moved {r.moved}, read: quick "
            f"{counts['quick_hash_file']}, full {counts['full_hash_file']} ({mb / s:.0f} MB/s)"
        )
    from irt_desktop.library.hashing import quick_hash_file

    now = sorted(root.rglob("*.jpg"))
    evict(now)
    _, cold_quick = timed(lambda: [quick_hash_file(p) for p in now])
    _, warm_quick = timed(lambda: [quick_hash_file(p) for p in now])
    print(
        f"  for comparison, quick hashes alone (what a move cost before): {warm_quick:.2f} s warm, "
        f"{cold_quick:.2f} s cold"
    )
    catalog.close()


def bench_decode(args: argparse.Namespace) -> None:
    from bench_indexing import make_photos

    from irt_desktop.library.decode import Tensorizer, decode_file
    from irt_desktop.library.hashing import stream_hashes
    from irt_desktop.retrieval.spec import ModelSpec

    paths = make_photos(Path(args.dir) / "jpeg12mp", args.decode_n)
    tensorize = Tensorizer(ModelSpec())
    decode_file(0, str(paths[0]), tensorize)  # warm-up
    _, dec = timed(lambda: [decode_file(0, str(p), tensorize) for p in paths])

    def hashes() -> None:
        for p in paths:
            with open(p, "rb") as f:
                stream_hashes(f)

    _, hashed = timed(hashes)
    size = sum(p.stat().st_size for p in paths) / len(paths) / 1e6
    print(
        f"decoding {len(paths)} 12-MP JPEGs ({size:.1f} MB each), one thread: "
        f"{dec / len(paths) * 1000:.1f} ms per photo, of which both hashes "
        f"{hashed / len(paths) * 1000:.1f} ms ({hashed / dec:.0%})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--size-mb", type=float, default=4.0)
    ap.add_argument("--decode-n", type=int, default=20)
    ap.add_argument("--dir", default="/tmp/bench-identity")
    args = ap.parse_args()
    bench_scans(args)
    if args.decode_n:
        bench_decode(args)


if __name__ == "__main__":
    main()
