"""Contrastive loss over the batch and a cross-batch memory (PAPER.md Eq. 1, Wang et al. 2020)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn


class ContrastiveTerms(NamedTuple):
    """`loss = pos + neg`; both already carry the paper's 1/N factor, so they can be logged as they are."""

    loss: torch.Tensor
    pos: torch.Tensor
    neg: torch.Tensor


class ContrastiveLoss(nn.Module):
    """`1/N * sum_i [sum_{j: y_j=y_i} (1 - z_i.z_j) + sum_{j: y_j!=y_i} max(0, z_i.z_j - beta)]`.

    The reference set of each batch sample is the batch itself plus the memory (`ref_*`). The paper
    normalises by the batch size N only: the pair sums are *not* averaged, so the loss grows with the
    size of the reference set, as in the paper.

    A sample is never paired with itself: the batch diagonal is always excluded, and when dataset
    indices are given (`idx` for the batch, `ref_idx` for the memory) every pair whose two indices are
    equal is excluded, so a sample's own (older) entry in the memory is not its positive, and two
    augmentations of the same image in one batch are not a pair either.

    Inputs are expected L2-normalised (the model's descriptor is); similarities are computed in at least
    float32, also under bf16/fp16 autocast.
    """

    def __init__(self, beta: float = 0.5) -> None:
        super().__init__()
        self.beta = beta

    def forward(
        self,
        z: torch.Tensor,
        y: torch.Tensor,
        idx: torch.Tensor | None = None,
        ref_z: torch.Tensor | None = None,
        ref_y: torch.Tensor | None = None,
        ref_idx: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.terms(z, y, idx, ref_z, ref_y, ref_idx).loss

    def terms(
        self,
        z: torch.Tensor,
        y: torch.Tensor,
        idx: torch.Tensor | None = None,
        ref_z: torch.Tensor | None = None,
        ref_y: torch.Tensor | None = None,
        ref_idx: torch.Tensor | None = None,
    ) -> ContrastiveTerms:
        """Same as `forward`, with the positive and negative parts separately."""
        if (ref_z is None) != (ref_y is None):
            raise ValueError("ref_z and ref_y go together")
        if ref_idx is not None and idx is None:
            raise ValueError("ref_idx needs the batch's idx to exclude a sample's own memory entry")
        # Autocast would run the matmuls in bf16/fp16; a hinge at beta deserves float32.
        with torch.autocast(z.device.type, enabled=False):
            z = _at_least_float32(z)
            n = z.shape[0]
            eye = torch.eye(n, dtype=torch.bool, device=z.device)
            sims = [z @ z.T]
            same = [y[:, None] == y[None, :]]
            valid = [~eye if idx is None else (idx[:, None] != idx[None, :]) & ~eye]
            if ref_z is not None and ref_z.shape[0] > 0:
                # The memory holds detached descriptors: gradients reach z_i only.
                sims.append(z @ ref_z.detach().to(z.dtype).T)
                same.append(y[:, None] == ref_y[None, :])
                valid.append(
                    torch.ones_like(same[-1]) if ref_idx is None else idx[:, None] != ref_idx[None, :]
                )
            sim, same_t, valid_t = torch.cat(sims, 1), torch.cat(same, 1), torch.cat(valid, 1)
            zero = sim.new_zeros(())
            pos = torch.where(same_t & valid_t, 1.0 - sim, zero).sum() / n
            neg = torch.where(~same_t & valid_t, (sim - self.beta).clamp(min=0), zero).sum() / n
        return ContrastiveTerms(pos + neg, pos, neg)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


def _at_least_float32(z: torch.Tensor) -> torch.Tensor:
    return z if z.dtype in (torch.float32, torch.float64) else z.float()
