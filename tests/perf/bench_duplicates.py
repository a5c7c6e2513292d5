"""Duplicate finding at scale: time and peak memory of the near-copy search (batched FAISS range search,
then complete-linkage groups grown from keepers) over synthetic descriptors.

    PYTHONPATH=. .venv/bin/python tests/perf/bench_duplicates.py --sizes 10000 100000

Vectors: 384-d, unit norm, with a power-law eigen-spectrum (descriptors of real photos concentrate most
variance in a few dozen directions, which is what makes random non-copies score high) plus 1% planted
near copies (noise at the level of a JPEG re-encode) and 0.3% chains (A~B~C with A, C apart). Each size
runs in a fresh process so its peak RSS is its own. The million-photos bench (bench_scale) calls run().
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent)]

DIM = 384


def synthetic(n: int, seed: int = 0, dim: int = DIM) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unit vectors, planted originals, their near copies)."""
    rng = np.random.default_rng(seed)
    spectrum = (1.0 + np.arange(dim)) ** -0.8
    x = rng.standard_normal((n, dim), dtype=np.float32) * np.sqrt(spectrum).astype(np.float32)
    # A shared mean direction: real descriptors are not centred, so unrelated photos score well above 0.
    x += 0.6 * np.sqrt(spectrum.sum() / dim) * rng.standard_normal(dim).astype(np.float32)
    n_copies = n // 100
    src = rng.choice(n, n_copies, replace=False)
    dst = rng.choice(np.setdiff1d(np.arange(n), src), n_copies, replace=False)
    x[dst] = x[src] + 0.05 * rng.standard_normal((n_copies, dim), dtype=np.float32) * np.linalg.norm(
        x[src], axis=1, keepdims=True
    ) / np.sqrt(dim)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, src, dst


def run(n: int, threshold: float | None = None) -> dict:
    from irt_desktop.library.duplicates import complete_linkage, near_pairs
    from irt_desktop.library.records import ImageInfo
    from irt_desktop.library.vector_index import VectorIndex

    vectors, src, dst = synthetic(n)
    ids = np.arange(1, n + 1, dtype=np.int64)
    t0 = time.perf_counter()
    vi = VectorIndex.build("bench", DIM, ids, vectors)
    t_build = time.perf_counter() - t0
    if threshold is None:
        # What calibration would find: between planted copies and the nearest non-copy (from a sample).
        sample = vectors[:: max(1, n // 512)]
        scores, _ = vi.search(sample, 3)
        threshold = float(min(0.985, np.quantile(scores[:, 1], 0.95) + 0.01))
    t0 = time.perf_counter()
    pairs = near_pairs(vi, ids, vectors, threshold, lambda x: x)
    t_pairs = time.perf_counter() - t0
    # Recall: of the planted copy pairs scoring >= threshold, how many the pair search found.
    planted = [
        (int(a) + 1, int(b) + 1)
        for a, b in zip(src, dst, strict=True)
        if vectors[a] @ vectors[b] >= threshold
    ]
    recall = sum(((min(a, b), max(a, b)) in pairs) for a, b in planted) / max(1, len(planted))
    members = sorted({i for p in pairs for i in p})
    infos = {
        i: ImageInfo(i, Path(f"/photos/{i % 97}/img_{i}.jpg"), 1, 1000 + i % 13, 4000, 3000, None, "ok")
        for i in members
    }
    t0 = time.perf_counter()
    groups = complete_linkage(pairs, infos)
    t_groups = time.perf_counter() - t0
    return {
        "n": n,
        "kind": vi.info.kind,
        "threshold": round(threshold, 4),
        "pairs": len(pairs),
        "planted_recall": round(recall, 4),
        "groups": len(groups),
        "largest_group": max((len(g) for g in groups), default=0),
        "build_s": round(t_build, 2),
        "range_search_s": round(t_pairs, 2),
        "grouping_s": round(t_groups, 2),
        "total_s": round(t_build + t_pairs + t_groups, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run(args.one, args.threshold)))
        return 0
    results = []
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--one", str(n)]
        if args.threshold is not None:
            cmd += ["--threshold", str(args.threshold)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        r = results[-1]
        print(
            f"{r['n']:>8} vectors ({r['kind']}): {r['total_s']:6.1f} s (build {r['build_s']}, range search "
            f"{r['range_search_s']}, groups {r['grouping_s']}), peak RSS {r['peak_rss_mb']} MB, "
            f"threshold {r['threshold']}, {r['pairs']} pairs -> {r['groups']} groups "
            f"(largest {r['largest_group']}), planted-copy recall {r['planted_recall']}"
        )
    if args.out:
        args.out.write_text(json.dumps({"at": datetime.now().isoformat(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
