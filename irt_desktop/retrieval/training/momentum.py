"""Momentum (EMA) copy of the model whose outputs fill the memory (PAPER.md: In-Shop, m = 0.999).

Memory entries then drift slowly, as in MoCo, instead of mixing descriptors from many different
versions of a fast-changing model.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class MomentumEncoder(nn.Module):
    def __init__(self, model: nn.Module, momentum: float = 0.999) -> None:
        super().__init__()
        self.momentum = momentum
        self.model = copy.deepcopy(model).requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """theta_k <- m theta_k + (1 - m) theta_q, after every optimiser step."""
        for pk, pq in zip(self.model.parameters(), model.parameters(), strict=True):
            pk.mul_(self.momentum).add_(pq.detach(), alpha=1.0 - self.momentum)
        for bk, bq in zip(self.model.buffers(), model.buffers(), strict=True):
            bk.copy_(bq)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)
