"""Decode-to-model-input throughput of irt_desktop.images, with and without JPEG draft mode.

Run by hand (not collected by pytest):

    python tests/perf/bench_decode.py [--seconds 3] [--workers N] [--images 4]

It writes a few 12-megapixel (4000x3000) photo-like JPEGs at quality 90 to a temporary folder, then times
the preprocessing a 224-pixel model needs - decode, resize the short side to 256, centre-crop 224 - on
one thread and on a thread pool with one worker per core (Pillow releases the GIL while decoding and
resizing, so threads scale). "draft" passes ``min_side=256`` so libjpeg decodes at a DCT scale; "full"
decodes every pixel first.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from irt_desktop.images import open_image

RESIZE = 256
CROP = 224
WIDTH, HEIGHT = 4000, 3000


def photo_like(seed: int) -> Image.Image:
    """Smooth shapes plus fine grain: compresses like a photo (a few MB at q90), unlike flat colour."""
    small = [Image.effect_noise((WIDTH // 40, HEIGHT // 40), 90 + 10 * c + seed) for c in range(3)]
    base = Image.merge("RGB", small).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    base = base.filter(ImageFilter.GaussianBlur(6))
    grain = Image.merge("RGB", [Image.effect_noise((WIDTH, HEIGHT), 18)] * 3)
    edges = Image.linear_gradient("L").resize((WIDTH, HEIGHT)).convert("RGB")
    return Image.blend(Image.blend(base, grain, 0.25), edges, 0.2)


def to_model_input(path: Path, *, draft: bool) -> tuple[int, int]:
    im = open_image(path, min_side=RESIZE if draft else None)
    scale = RESIZE / min(im.size)
    # Bilinear with antialiasing: what torchvision's Resize does on PIL images.
    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.BILINEAR)
    left, top = (im.width - CROP) // 2, (im.height - CROP) // 2
    im = im.crop((left, top, left + CROP, top + CROP))
    assert im.size == (CROP, CROP)
    return im.size


def measure(run: Callable[[Path], object], paths: list[Path], seconds: float, workers: int) -> float:
    """Images per second over at least ``seconds`` (and at least two rounds of every file)."""
    done = 0
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while True:
            batch = paths * max(workers, 1) * 2
            for _ in pool.map(run, batch):
                pass
            done += len(batch)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum time per configuration")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)) or os.cpu_count() or 1)
    parser.add_argument("--images", type=int, default=4, help="distinct JPEGs to cycle through")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_decode_") as tmp:
        paths = []
        for i in range(args.images):
            path = Path(tmp) / f"photo{i}.jpg"
            photo_like(i).save(path, quality=90)
            paths.append(path)
        mean_mb = sum(p.stat().st_size for p in paths) / len(paths) / 1e6
        with Image.open(paths[0]) as probe:
            size = probe.size
        print(f"Pillow {Image.__version__}; {args.images} JPEGs {size[0]}x{size[1]} q90 ({mean_mb:.1f} MB)")
        print(f"pipeline: decode -> short side {RESIZE} (bilinear) -> centre crop {CROP}")
        drafted = open_image(paths[0], min_side=RESIZE).size
        print(f"draft decode size: {drafted}; cores usable: {args.workers}")

        results: dict[tuple[str, int], float] = {}
        for workers in sorted({1, args.workers}):
            for mode in ("full", "draft"):
                run = functools.partial(to_model_input, draft=mode == "draft")
                run(paths[0])  # warm up
                results[mode, workers] = measure(run, paths, args.seconds, workers)
                ips = results[mode, workers]
                latency_ms = 1000 * workers / ips
                print(f"  {mode:5s} {workers:2d} thread(s): {ips:7.1f} images/s  ({latency_ms:6.1f} ms each)")

        for workers in sorted({1, args.workers}):
            ratio = results["draft", workers] / results["full", workers]
            print(f"draft / full speed-up on {workers} thread(s): {ratio:.2f}x")
        if args.workers > 1:
            for mode in ("full", "draft"):
                scaling = results[mode, args.workers] / results[mode, 1]
                print(f"{mode}: {args.workers} threads / 1 thread: {scaling:.2f}x")


if __name__ == "__main__":
    main()
