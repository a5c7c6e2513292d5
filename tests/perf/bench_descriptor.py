"""Descriptor throughput (issue 2 figures): DeiT-S at 224 and 160 px, fp32 and bf16, batch 1 and 32.

Run by hand: `.venv/bin/python tests/perf/bench_descriptor.py [--device cpu] [--seconds 8]`.
Random-init weights: throughput does not depend on the weights' values.
"""

from __future__ import annotations

import argparse
import time

import torch

from irt_desktop.device import autocast_dtype, best_device, describe_device
from irt_desktop.retrieval.embedder import Embedder
from irt_desktop.retrieval.model import IRT, ModelSpec


def images_per_second(embedder: Embedder, batch: int, seconds: float, low_precision: bool) -> float:
    size = embedder.spec.input_size
    x = torch.randn(batch, 3, size, size)
    dtype = embedder.autocast if low_precision else None
    embedder.embed_tensor(x, autocast=dtype)  # warm-up: first call pays for kernel selection
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        embedder.embed_tensor(x, autocast=dtype)
        done += batch
    if embedder.device.startswith("cuda"):
        torch.cuda.synchronize()
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default=None)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--backbone", default="deit_small_patch16_224")
    args = parser.parse_args()
    device = best_device(args.device)
    print(f"{args.backbone} on {describe_device(device)}, torch threads {torch.get_num_threads()}")
    low = autocast_dtype(device)
    print(f"{'size':>5} {'batch':>5} {'fp32 img/s':>11} {'low-prec img/s':>15} {'ratio':>6}")
    for size in (224, 160):
        torch.manual_seed(0)
        embedder = Embedder(IRT(ModelSpec(backbone=args.backbone, input_size=size)), device=device)
        for batch in (1, 32):
            fp32 = images_per_second(embedder, batch, args.seconds, low_precision=False)
            if low is not None:
                lp = images_per_second(embedder, batch, args.seconds, low_precision=True)
                print(f"{size:>5} {batch:>5} {fp32:>11.1f} {lp:>15.1f} {lp / fp32:>6.2f}  ({low})")
            else:
                print(f"{size:>5} {batch:>5} {fp32:>11.1f} {'n/a':>15}")


if __name__ == "__main__":
    main()
