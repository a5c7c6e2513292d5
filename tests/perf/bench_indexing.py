"""Indexing throughput on 12-megapixel JPEGs: model alone (M), decoding alone (D), end to end (E).

    .venv/bin/python tests/perf/bench_indexing.py [--n 500] [--batch-size 32] [--variants]

On a CPU the two stages share the cores, so the best possible end-to-end rate is 1/(1/M + 1/D); on a
GPU machine it is min(M, D). The model is DeiT-S (random init: speed does not depend on the weights) at
224 px with the precision the Embedder picks (bf16 autocast where the CPU has native bf16).
The photos are generated once into --cache: photo-like colour fields with sensor-like grain, so their
JPEG size (and with it the entropy-decoding cost, which draft mode cannot skip) is that of real 12-MP
camera files (~3-5 MB), not of smooth synthetic images that would decode unrealistically fast.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for imagegen

W, H = 4000, 3000
N_BASES = 20


def make_photos(folder: Path, n: int) -> list[Path]:
    from imagegen import photo
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"IMG_{i:04d}.jpg" for i in range(n)]
    todo = [p for p in paths if not p.exists()]
    if not todo:
        return paths
    print(f"generating {len(todo)} 12-MP JPEGs in {folder} (once)...", flush=True)
    rng = np.random.default_rng(0)
    bases = []
    for b in range(N_BASES):
        arr = np.asarray(photo(1000 + b, (W, H)), dtype=np.int16)
        arr += rng.normal(0, 7, arr.shape).astype(np.int16)  # sensor grain
        bases.append(np.clip(arr, 0, 255).astype(np.uint8))

    def write(i_path: tuple[int, Path]) -> None:
        i, path = i_path
        r = np.random.default_rng(i)
        arr = np.roll(bases[i % N_BASES], int(r.integers(0, W)), axis=1)
        if i % 2:
            arr = arr[:, ::-1]
        im = Image.fromarray(np.ascontiguousarray(arr))
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = f"2023:05:{1 + i % 28:02d} 12:{i % 60:02d}:00"
        tmp = path.with_suffix(".part")
        im.save(tmp, "JPEG", quality=int(r.integers(86, 95)), exif=exif.tobytes())
        os.replace(tmp, path)

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(write, [(int(p.stem[4:]), p) for p in todo]))
    return paths


def bench_model(embedder, batch_size: int, n_batches: int = 6) -> float:
    import torch

    x = torch.randn(batch_size, 3, 224, 224)
    embedder.embed_tensor(x)  # warm-up (allocations, oneDNN kernel selection)
    t = time.perf_counter()
    for _ in range(n_batches):
        embedder.embed_tensor(x)
    return n_batches * batch_size / (time.perf_counter() - t)


def bench_decode(paths: list[Path], spec, workers: int) -> float:
    from irt_desktop.library.decode import Tensorizer, decode_file

    tensorize = Tensorizer(spec)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda p: decode_file(0, str(p), tensorize), paths[:8]))  # warm-up
        t = time.perf_counter()
        out = list(pool.map(lambda p: decode_file(0, str(p), tensorize), paths))
        dt = time.perf_counter() - t
    bad = [d.error for d in out if d.error]
    assert not bad, bad[:3]
    return len(paths) / dt


def bench_end_to_end(paths: list[Path], embedder, config) -> tuple[float, float]:
    from irt_desktop.library import Library

    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(Path(tmp) / "lib", lambda: embedder, pipeline=config)
        lib.add_root(paths[0].parent)
        report = lib.index()
        lib.close()
    assert report.embedded == len(paths), report
    return report.embedded / report.seconds, report.seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "irt-bench-12mp")
    ap.add_argument("--variants", action="store_true", help="also time other decode-thread settings")
    args = ap.parse_args()

    import torch

    from irt_desktop.device import describe_device
    from irt_desktop.library import PipelineConfig
    from irt_desktop.retrieval.embedder import Embedder
    from irt_desktop.retrieval.model import IRT, ModelSpec

    paths = make_photos(args.cache / f"n{args.n}", args.n)
    sizes = [p.stat().st_size for p in paths]
    torch.manual_seed(0)
    spec = ModelSpec()  # DeiT-S, CLS, 224 px
    embedder = Embedder(IRT(spec), model_id="deit-s-random", batch_size=args.batch_size)
    cores = os.cpu_count() or 1
    print(
        f"device: {embedder.device} ({describe_device(embedder.device)}), precision {embedder.precision}, "
        f"torch threads {torch.get_num_threads()}"
    )
    print(f"{len(paths)} JPEGs {W}x{H}, {np.mean(sizes) / 1e6:.1f} MB on average; batch {args.batch_size}")

    m = bench_model(embedder, args.batch_size)
    print(f"M  model only          : {m:6.1f} images/s")
    d = bench_decode(paths, spec, cores)
    print(f"D  decode only ({cores} thr) : {d:6.1f} images/s")
    ideal = 1 / (1 / m + 1 / d) if embedder.device == "cpu" else min(m, d)
    print(f"   ideal {'1/(1/M+1/D)' if embedder.device == 'cpu' else 'min(M, D)'} : {ideal:6.1f} images/s")

    default = PipelineConfig(batch_size=args.batch_size)
    e, secs = bench_end_to_end(paths, embedder, default)
    print(f"E  end to end (default): {e:6.1f} images/s  ({secs:.1f} s)  E/ideal = {e / ideal:.2f}")
    if args.variants:
        for label, cfg in [
            ("1 decode thread, niced", PipelineConfig(batch_size=args.batch_size, decode_workers=1)),
            (f"{cores} threads, not niced", PipelineConfig(batch_size=args.batch_size, nice_decoders=False)),
            ("prefetch 1 batch", PipelineConfig(batch_size=args.batch_size, prefetch_batches=1)),
        ]:
            ev, secs = bench_end_to_end(paths, embedder, cfg)
            print(f"E  {label:<20}: {ev:6.1f} images/s  ({secs:.1f} s)  E/ideal = {ev / ideal:.2f}")


if __name__ == "__main__":
    main()
