"""The IRT objective: contrastive loss over the batch and the cross-batch memory, plus lambda x KoLeo."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from irt_desktop.retrieval.losses import ContrastiveLoss, CrossBatchMemory, KoLeoLoss


class LossTerms(NamedTuple):
    total: torch.Tensor
    contrastive: torch.Tensor
    koleo: torch.Tensor


class IRTObjective(nn.Module):
    """`L = L_contr(z, batch + memory) + lambda * L_KoLeo(z)` (PAPER.md "Loss"); lambda 0 is IRT_L."""

    def __init__(self, beta: float = 0.5, koleo_weight: float = 0.7) -> None:
        super().__init__()
        self.contrastive = ContrastiveLoss(beta)
        self.koleo = KoLeoLoss()
        self.koleo_weight = koleo_weight

    def forward(
        self, z: torch.Tensor, y: torch.Tensor, idx: torch.Tensor, memory: CrossBatchMemory | None = None
    ) -> LossTerms:
        refs = {}
        if memory is not None and len(memory) > 0:
            ref_z, ref_y, ref_idx = memory.get()
            refs = {"ref_z": ref_z, "ref_y": ref_y, "ref_idx": ref_idx}
        contr = self.contrastive(z, y, idx, **refs)
        if self.koleo_weight > 0:
            # With the indices, two views of one image in the batch are not pushed apart.
            koleo = self.koleo(z, idx)
            return LossTerms(contr + self.koleo_weight * koleo, contr, koleo)
        return LossTerms(contr, contr, contr.new_zeros(()))
