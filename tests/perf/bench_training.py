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
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from irt_desktop.device import cpu_has_bf16, describe_device
from irt_desktop.retrieval.losses import CrossBatchMemory
from irt_desktop.retrieval.model import IRT, ModelSpec
from irt_desktop.retrieval.training.objective import IRTObjective


def measure(dtype: torch.dtype | None, args: argparse.Namespace) -> float:
    torch.manual_seed(0)
    model = IRT(ModelSpec(input_size=args.size)).to(args.device).train()
    objective = IRTObjective(0.5, 0.7)
    memory = CrossBatchMemory(4096, model.width).to(args.device)
    memory.enqueue(
        torch.nn.functional.normalize(torch.randn(4096, model.width), dim=1).to(args.device),
        torch.randint(0, 1000, (4096,)).to(args.device),
        torch.arange(10_000, 14_096).to(args.device),
    )
    opt = torch.optim.AdamW(model.parameters(), lr=3e-5, weight_decay=5e-4)
    x = torch.randn(args.batch, 3, args.size, args.size, device=args.device)
    y = torch.arange(args.batch, device=args.device) // 4
    idx = torch.arange(args.batch, device=args.device)
    ctx = (
        (lambda: torch.autocast(args.device.split(":")[0], dtype=dtype))
        if dtype is not None
        else contextlib.nullcontext
    )

    def step() -> None:
        with ctx():
            z = model(x)
        objective(z, y, idx, memory).total.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        memory.enqueue(z.detach(), y, idx)

    step()  # warm-up: allocations, oneDNN kernel selection
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    return args.batch * args.steps / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"device: {describe_device(args.device)}, torch threads {torch.get_num_threads()}, "
        f"torch {torch.__version__}"
    )
    print(f"DeiT-S at {args.size}px, batch {args.batch}, {args.steps} timed steps")
    fp32 = measure(None, args)
    print(f"fp32: {fp32:7.1f} images/s")
    low = torch.bfloat16
    if args.device == "cpu" and not cpu_has_bf16():
        print("bf16: this CPU has no native bf16 (AVX512-BF16/AMX); measured anyway, emulated")
    bf16 = measure(low, args)
    print(f"bf16: {bf16:7.1f} images/s  ({bf16 / fp32:.2f}x fp32)")


if __name__ == "__main__":
    main()
