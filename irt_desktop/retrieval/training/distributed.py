"""DistributedDataParallel plumbing: the same Trainer runs alone or under `torchrun` unchanged.

Under torchrun (RANK / WORLD_SIZE / LOCAL_RANK in the environment) the process group is set up here:
NCCL on CUDA, gloo on CPU. Each rank trains on its slice of every global batch; descriptors, labels and
indices are gathered so that each rank's loss sees the whole global batch and every rank's memory
receives the same entries.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, preference: str | None) -> str:
        """Each rank on its own GPU (LOCAL_RANK) when the device is CUDA."""
        from irt_desktop.device import best_device

        device = best_device(preference)
        if self.enabled and device == "cuda":
            return f"cuda:{self.local_rank}"
        return device

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def all_gather(self, t: torch.Tensor) -> torch.Tensor:
        """Concatenate every rank's `t` (same shape on all ranks) along dim 0, in rank order; no gradient."""
        if not self.enabled:
            return t.detach()
        parts = [torch.empty_like(t) for _ in range(self.world_size)]
        dist.all_gather(parts, t.detach().contiguous())
        return torch.cat(parts)

    def broadcast_flag(self, flag: bool) -> bool:
        """True on every rank if it is true on any (a cancel seen by one rank stops all of them)."""
        if not self.enabled:
            return flag
        t = torch.tensor([int(flag)], device=_collective_device())
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())


def _collective_device() -> str:
    return f"cuda:{torch.cuda.current_device()}" if dist.get_backend() == "nccl" else "cpu"


def init_distributed(device_preference: str | None = None) -> DistContext:
    """The context of this process; joins (or creates) the process group when launched by torchrun."""
    if dist.is_available() and dist.is_initialized():
        return DistContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", 0))
    use_cuda = torch.cuda.is_available() and (device_preference or "auto").startswith(("auto", "cuda"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if use_cuda else "gloo", rank=rank, world_size=world)
    return DistContext(rank, world, local_rank)
