"""Duplicate finding at scale: time and peak memory of the library's own duplicate path (the catalog's
vectors, a batched FAISS range search at the look-alike threshold, complete-linkage groups for near
copies, then for look-alikes with near groups folded into their keepers) over synthetic descriptors.

    PYTHONPATH=. .venv/bin/python tests/perf/bench_duplicates.py --sizes 10000 100000 --repeat 3
    PYTHONPATH=. .venv/bin/python tests/perf/bench_duplicates.py --mode vectors --sizes 1000000

Modes: `library` (default) writes the descriptors into a real catalog (rows and vectors, no photo
files) and times Library.reports.duplicates end to end, catalog reads included; `vectors` times the
same grouping code on in-memory vectors (what 1M needs: a million-row catalog takes long to write).
Calibration and rotated/mirrored queries are left out: both look at a fixed sample or only small
libraries, so they do not grow with the library.

Vectors: 384-d, unit norm, with a power-law eigen-spectrum (descriptors of real photos concentrate most
variance in a few dozen directions, which is what makes random non-copies score high) plus 1% planted
near copies (noise at the level of a JPEG re-encode) and 0.5% planted bursts (two more frames, noisier:
look-alikes). Each size runs in a fresh process so its peak RSS is its own; --repeat gives medians.

For other benchmarks (bench_scale): `time_duplicates(library, threshold, lookalike_threshold)` times one
library's real path; `time_duplicates_vectors(ids, vectors, threshold, lookalike_threshold)` the same
grouping on vectors; `synthetic(n)` and `thresholds_for(vectors, ...)` make the inputs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent)]

DIM = 384
MODEL = "bench-model"


def peak_rss_mb() -> float:
    """This process's peak resident memory since start, or since the last reset_peak_rss() (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def reset_peak_rss() -> None:
    """Start the peak over from now (Linux: writing 5 to clear_refs resets VmHWM), so a step's own peak
    is not hidden by what built its input."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def synthetic(n: int, seed: int = 0, dim: int = DIM) -> dict:
    """{'vectors': unit vectors, 'copies': (orig, copy) rows, 'bursts': (orig, frame) rows}."""
    rng = np.random.default_rng(seed)
    spectrum = np.sqrt((1.0 + np.arange(dim)) ** -0.8).astype(np.float32)
    x = np.empty((n, dim), np.float32)
    for start in range(0, n, 100_000):  # in slices: a million rows never needs two float64 copies
        stop = min(n, start + 100_000)
        x[start:stop] = rng.standard_normal((stop - start, dim), dtype=np.float32) * spectrum
    # A shared mean direction: real descriptors are not centred, so unrelated photos score well above 0.
    x += 0.6 * np.sqrt(float((spectrum**2).sum()) / dim) * rng.standard_normal(dim).astype(np.float32)
    n_copies, n_bursts = n // 100, n // 200
    chosen = rng.choice(n, n_copies * 2 + n_bursts * 3, replace=False)
    src, dst = chosen[:n_copies], chosen[n_copies : 2 * n_copies]
    b_src = chosen[2 * n_copies : 2 * n_copies + n_bursts]
    b_dst = chosen[2 * n_copies + n_bursts :].reshape(n_bursts, 2)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x[dst] = x[src] + 0.05 * rng.standard_normal((n_copies, dim), dtype=np.float32) * norms[src] / np.sqrt(
        dim
    )
    for k in range(2):
        noise = rng.standard_normal((n_bursts, dim), dtype=np.float32) * norms[b_src] / np.sqrt(dim)
        x[b_dst[:, k]] = x[b_src] + 0.8 * noise  # cos ~0.78: past chance, short of a copy
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    bursts = np.concatenate([np.stack([b_src, b_dst[:, k]], 1) for k in range(2)])
    return {"vectors": x, "copies": np.stack([src, dst], 1), "bursts": bursts}


def thresholds_for(data: dict) -> tuple[float, float]:
    """What calibration would find: near between planted copies and the nearest non-copy, look-alikes
    between planted bursts and the nearest non-copy (from samples)."""
    import faiss

    x = data["vectors"]
    sample = x[:: max(1, len(x) // 512)][:512]
    flat = faiss.IndexFlatIP(x.shape[1])
    for start in range(0, len(x), 200_000):
        flat.add(x[start : start + 200_000])
    scores, _ = flat.search(sample, 3)
    other_hi = float(np.quantile(scores[:, 1], 0.95))
    pair = lambda rows: np.einsum("ij,ij->i", x[rows[:, 0]], x[rows[:, 1]])  # noqa: E731
    copy_lo = float(np.quantile(pair(data["copies"][:512]), 0.05))
    burst_lo = float(np.quantile(pair(data["bursts"][:512]), 0.05))
    # The same rules as library.calibration: midpoints, the look-alike one never below the non-copies'
    # 95th percentile and always below the near-copy one.
    near = (copy_lo + other_hi) / 2
    look = float(min(max((burst_lo + other_hi) / 2, other_hi), near - 0.005))
    return round(near, 4), round(look, 4)


def _recall(pairs: dict, rows: np.ndarray, x: np.ndarray, threshold: float) -> float:
    """Of the planted pairs (rows, 0-based; ids are rows + 1) scoring >= threshold, how many were found."""
    planted = [(int(a) + 1, int(b) + 1) for a, b in rows if x[a] @ x[b] >= threshold]
    return round(sum(((min(a, b), max(a, b)) in pairs) for a, b in planted) / max(1, len(planted)), 4)


def time_duplicates_vectors(
    ids: np.ndarray, vectors: np.ndarray, threshold: float, lookalike_threshold: float | None = None
) -> dict:
    """The library's grouping code on vectors: one range search at the loosest threshold, complete
    linkage for near copies, then for look-alikes. Times and peak RSS (this process)."""
    from irt_desktop.library.duplicates import complete_linkage, lookalike_pairs, near_pairs
    from irt_desktop.library.records import ImageInfo

    rss_before = rss_mb()
    reset_peak_rss()
    t0 = time.perf_counter()
    loosest = threshold if lookalike_threshold is None else lookalike_threshold
    found = near_pairs(None, ids, vectors, loosest, lambda x: x, turned_threshold=threshold)
    t_pairs = time.perf_counter() - t0
    members = sorted({i for p in found for i in p})
    infos = {
        i: ImageInfo(i, Path(f"/photos/{i % 97}/img_{i}.jpg"), 1, 1000 + i % 13, 4000, 3000, None, "ok")
        for i in members
    }
    t1 = time.perf_counter()
    near = complete_linkage({k: v for k, v in found.items() if v[0] >= threshold}, infos)
    look = complete_linkage(lookalike_pairs(found, near), infos) if lookalike_threshold is not None else []
    t_groups = time.perf_counter() - t1
    return {
        "pairs": len(found),
        "near_groups": len(near),
        "lookalike_groups": len(look),
        "largest_group": max((len(g) for g in near + look), default=0),
        "range_search_s": round(t_pairs, 2),
        "grouping_s": round(t_groups, 2),
        "total_s": round(time.perf_counter() - t0, 2),
        "rss_before_mb": rss_before,  # the input vectors and the interpreter
        "peak_rss_mb": peak_rss_mb(),
        "_pairs": found,
    }


def time_duplicates(library, threshold: float, lookalike_threshold: float | None = None) -> dict:
    """One library's real duplicate path (catalog reads, exact groups, range search, both kinds' groups,
    the members' records) with explicit thresholds and no photo decoding. Times and peak RSS."""
    model_id = library.models.serving
    t0 = time.perf_counter()
    library.vector_cache.index_for(model_id)  # the serving index: loaded once for search anyway
    t_index = time.perf_counter() - t0
    rss_before = rss_mb()
    reset_peak_rss()
    t1 = time.perf_counter()
    report = library.reports.duplicates(
        threshold, embed=None, rotations=False, lookalike_threshold=lookalike_threshold
    )
    seconds = time.perf_counter() - t1
    return {
        "exact_groups": len(report.of_kind("exact")),
        "near_groups": len(report.of_kind("near")),
        "lookalike_groups": len(report.of_kind("lookalike")),
        "largest_group": max((len(g.members) for g in report.groups), default=0),
        "serving_index_s": round(t_index, 2),
        "total_s": round(seconds, 2),
        "rss_before_mb": rss_before,  # the serving index and the interpreter
        "peak_rss_mb": peak_rss_mb(),
        "_report": report,
    }


def synthetic_library(path: Path, vectors: np.ndarray):
    """A real library whose catalog holds one row and one vector per descriptor (no photo files)."""
    from irt_desktop.library.library import Library

    lib = Library.open(path)
    now = time.time()
    cat = lib.catalog
    with cat.transaction() as tx:
        root = cat.insert_root(tx, str(path / "photos"), recursive=True, follow_symlinks=False, network=False)
    cat.register_model(MODEL, MODEL, vectors.shape[1], None)
    for start in range(0, len(vectors), 20_000):
        stop = min(len(vectors), start + 20_000)
        files = [
            (root, f"{path}/photos/{i % 997:03d}/img_{i:07d}.jpg", 2_000_000 + i, 0, f"q{i}")
            for i in range(start + 1, stop + 1)
        ]
        with cat.transaction() as tx:
            cat.insert_new_images(tx, files, now)
            cat.put_vectors(tx, MODEL, range(start + 1, stop + 1), vectors[start:stop], cat.next_seq(tx))
    with cat.transaction() as tx:
        cat.set_serving_model(tx, MODEL)
    lib.close()
    return Library.open(path)


def run(n: int, mode: str = "library") -> dict:
    data = synthetic(n)
    x = data["vectors"]
    near, look = thresholds_for(data)
    ids = np.arange(1, n + 1, dtype=np.int64)
    out = {"n": n, "mode": mode, "threshold": near, "lookalike_threshold": look}
    if mode == "vectors":
        r = time_duplicates_vectors(ids, x, near, look)
        pairs = r.pop("_pairs")
    else:
        with tempfile.TemporaryDirectory(prefix="bench-dups-") as tmp:
            t0 = time.perf_counter()
            lib = synthetic_library(Path(tmp) / "library", x)
            out["catalog_build_s"] = round(time.perf_counter() - t0, 1)
            del data["vectors"], x
            try:
                r = time_duplicates(lib, near, look)
            finally:
                lib.close()
        report = r.pop("_report")
        pairs = {}
        for g in report.groups:  # found = in one group, whichever kind
            for a in g.members:
                for b in g.members:
                    if a.id < b.id:
                        pairs[(a.id, b.id)] = (1.0, "")
        x = synthetic(n)["vectors"]
    out.update(r)
    out["copy_recall"] = _recall(pairs, data["copies"], x, near)
    out["burst_recall"] = _recall(pairs, data["bursts"], x, look)
    return out


def _median_of(results: list[dict]) -> dict:
    out = dict(results[0])
    for key in ("total_s", "range_search_s", "grouping_s", "peak_rss_mb"):
        if key in out:
            out[key] = round(statistics.median(r[key] for r in results), 2)
    out["runs_total_s"] = [r["total_s"] for r in results]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--mode", choices=("library", "vectors"), default="library")
    ap.add_argument("--repeat", type=int, default=1, help="runs per size (fresh processes); medians shown")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run(args.one, args.mode)))
        return 0
    results = []
    for n in args.sizes:
        runs = []
        for _ in range(args.repeat):
            cmd = [sys.executable, __file__, "--one", str(n), "--mode", args.mode]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
        r = _median_of(runs)
        results.append(r)
        print(
            f"{r['n']:>8} photos ({r['mode']}): median {r['total_s']:6.1f} s of {r['runs_total_s']}, "
            f"peak RSS {r['peak_rss_mb']} MB (from {r['rss_before_mb']} MB before); "
            f"thresholds near {r['threshold']} / look-alike "
            f"{r['lookalike_threshold']}; groups: {r.get('exact_groups', 0)} exact, {r['near_groups']} near, "
            f"{r['lookalike_groups']} look-alike (largest {r['largest_group']}); planted-copy recall "
            f"{r['copy_recall']}, planted-burst recall {r['burst_recall']}"
            + (
                f"; range search {r['range_search_s']} s, grouping {r['grouping_s']} s"
                if "grouping_s" in r
                else ""
            )
        )
    if args.out:
        args.out.write_text(json.dumps({"at": datetime.now().isoformat(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
