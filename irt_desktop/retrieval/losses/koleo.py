"""KoLeo differential-entropy regulariser (Sablayrolles et al. 2019; PAPER.md, IRT_R)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class KoLeoLoss(nn.Module):
    """`-1/N * sum_i log(rho_i + eps)`, `rho_i = min_{j != i} ||z_i - z_j||` over the batch.

    `z` is L2-normalised here (idempotent for the model's already normalised descriptor), which lets the
    nearest neighbour be found by the largest inner product. The distance itself is then recomputed
    from the difference vector, so the value is exact and duplicates (rho = 0) stay finite.

    With `idx` (dataset indices), "j != i" means another image: rows with equal indices are two
    augmentations of one image, and they are not each other's neighbour. Otherwise the nearest neighbour
    of such a view is its twin, and KoLeo's strongest push (-log of the smallest distance) would drive
    the two views of one image apart, against the invariance the contrastive loss teaches. A row whose
    index is the only one in the batch has no neighbour and is left out of the mean.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, z: torch.Tensor, idx: torch.Tensor | None = None) -> torch.Tensor:
        n = z.shape[0]
        if idx is not None and idx.shape != (n,):
            raise ValueError(f"idx must be [{n}], got {tuple(idx.shape)}")
        if n < 2:
            # No neighbour to measure; a zero that still belongs to the graph keeps DDP and AMP happy.
            return z.sum() * 0.0
        with torch.autocast(z.device.type, enabled=False):
            z = F.normalize(z if z.dtype == torch.float64 else z.float(), dim=-1)
            with torch.no_grad():
                dots = z @ z.T
                dots.fill_diagonal_(-float("inf"))
                has_neighbour = None
                if idx is not None:
                    idx = idx.to(z.device)
                    same = idx[:, None] == idx[None, :]
                    dots.masked_fill_(same, -float("inf"))
                    has_neighbour = ~same.all(dim=1)
                nearest = dots.argmax(dim=1)
            rho = torch.linalg.vector_norm(z - z[nearest], dim=-1)
            logs = torch.log(rho + self.eps)
            if has_neighbour is not None:
                if not bool(has_neighbour.any()):
                    return z.sum() * 0.0
                logs = logs[has_neighbour]
            return -logs.mean()

    def extra_repr(self) -> str:
        return f"eps={self.eps}"
