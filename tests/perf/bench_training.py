"""Training-step throughput (images/s) of the IRT objective on DeiT-S, fp32 vs bf16 autocast.

Run by hand (not collected by pytest):

    python tests/perf/bench_training.py [--batch 16] [--size 224] [--steps 5] [--device cpu]

One step is what the Trainer does per batch: forward, contrastive loss against a cross-batch memory
(4,096 entries) + 0.7 KoLeo, backward, AdamW update, enqueue. Inputs are synthetic tensors, so image
decoding is not measured (see bench_decode.py for that). Random weights: speed does not depend on them.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from irt_desktop.device import cpu_has_bf16, describe_device
from irt_desktop.retrieval.losses import CrossBatchMemory
from irt_desktop.retrieval.model import IRT, ModelSpec
from irt_desktop.retrieval.training.objective import IRTObjective


class Setup:
    """One model + optimiser + memory, stepping at a given autocast dtype (None: fp32)."""

    def __init__(self, dtype: torch.dtype | None, args: argparse.Namespace) -> None:
        torch.manual_seed(0)
        dev = args.device
        self.dtype, self.device = dtype, dev
        self.model = IRT(ModelSpec(input_size=args.size)).to(dev).train()
        self.objective = IRTObjective(0.5, 0.7)
        self.memory = CrossBatchMemory(4096, self.model.width).to(dev)
        self.memory.enqueue(
            torch.nn.functional.normalize(torch.randn(4096, self.model.width), dim=1).to(dev),
            torch.randint(0, 1000, (4096,)).to(dev),
            torch.arange(10_000, 14_096).to(dev),
        )
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=3e-5, weight_decay=5e-4)
        self.x = torch.randn(args.batch, 3, args.size, args.size, device=dev)
        self.y = torch.arange(args.batch, device=dev) // 4
        self.idx = torch.arange(args.batch, device=dev)

    def step(self) -> float:
        """Seconds for one training step."""
        t0 = time.perf_counter()
        ctx = (
            torch.autocast(self.device.split(":")[0], dtype=self.dtype)
            if self.dtype is not None
            else contextlib.nullcontext()
        )
        with ctx:
            z = self.model(self.x)
        self.objective(z, self.y, self.idx, self.memory).total.backward()
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.memory.enqueue(z.detach(), self.y, self.idx)
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--steps", type=int, default=6, help="timed steps per precision (after one warm-up)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"device: {describe_device(args.device)}, torch threads {torch.get_num_threads()}, "
        f"torch {torch.__version__}"
    )
    print(
        f"DeiT-S at {args.size}px, batch {args.batch}, {args.steps} timed steps each, fp32 and bf16 "
        "alternating"
    )
    if args.device == "cpu" and not cpu_has_bf16():
        print("note: this CPU has no native bf16 (AVX512-BF16/AMX): bf16 is emulated")
    setups = {"fp32": Setup(None, args), "bf16": Setup(torch.bfloat16, args)}
    for s in setups.values():
        s.step()  # warm-up: allocations, oneDNN kernel selection
    times: dict[str, list[float]] = {k: [] for k in setups}
    # Alternating steps: on a shared or throttling machine both see the same conditions.
    for _ in range(args.steps):
        for name, s in setups.items():
            times[name].append(s.step())
    rate = {k: args.batch / statistics.median(v) for k, v in times.items()}
    for name, r in rate.items():
        best = args.batch / min(times[name])
        print(f"{name}: {r:7.1f} images/s (median step; best step {best:.1f})")
    print(f"bf16 / fp32: {rate['bf16'] / rate['fp32']:.2f}x")


if __name__ == "__main__":
    main()
