"""Cross-batch memory (XBM, Wang et al. 2020): a FIFO queue of past descriptors for the contrastive loss."""

from __future__ import annotations

import torch
from torch import nn


class CrossBatchMemory(nn.Module):
    """FIFO of (detached descriptor, label, dataset index), `size` entries of `dim` floats.

    A module with buffers so that `.to(device)` moves it and its `state_dict()` is plain tensors
    (safetensors-friendly) for resuming a run. Enqueue after computing the loss of the step, so the
    memory holds past batches; the loss excludes a sample's own entry by dataset index.
    """

    feats: torch.Tensor
    labels: torch.Tensor
    indices: torch.Tensor
    ptr: torch.Tensor
    filled: torch.Tensor

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        if size < 1 or dim < 1:
            raise ValueError(f"memory size and dim must be positive, got {size}, {dim}")
        self.size, self.dim = size, dim
        self.register_buffer("feats", torch.zeros(size, dim))
        self.register_buffer("labels", torch.full((size,), -1, dtype=torch.long))
        self.register_buffer("indices", torch.full((size,), -1, dtype=torch.long))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))

    def __len__(self) -> int:
        return int(self.filled)

    @torch.no_grad()
    def enqueue(self, z: torch.Tensor, y: torch.Tensor, idx: torch.Tensor) -> None:
        """Append a batch of any size, overwriting the oldest entries; only the newest `size` are kept."""
        if not (z.shape[0] == y.shape[0] == idx.shape[0]) or z.shape[1:] != (self.dim,):
            raise ValueError(
                f"expected z [B, {self.dim}], y [B], idx [B]; got {z.shape}, {y.shape}, {idx.shape}"
            )
        z, y, idx = z[-self.size :], y[-self.size :], idx[-self.size :]
        b = z.shape[0]
        start = int(self.ptr)
        pos = (start + torch.arange(b, device=self.feats.device)) % self.size
        self.feats[pos] = z.detach().to(self.feats)
        self.labels[pos] = y.to(self.labels)
        self.indices[pos] = idx.to(self.indices)
        self.ptr.fill_((start + b) % self.size)
        self.filled.fill_(min(int(self.filled) + b, self.size))

    def get(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(descriptors, labels, dataset indices) of the filled part, in no particular order."""
        # Filling starts at slot 0 and is contiguous, so the filled part is a prefix.
        n = int(self.filled)
        return self.feats[:n], self.labels[:n], self.indices[:n]

    @torch.no_grad()
    def reset(self) -> None:
        self.ptr.zero_()
        self.filled.zero_()
        self.labels.fill_(-1)
        self.indices.fill_(-1)

    def extra_repr(self) -> str:
        return f"size={self.size}, dim={self.dim}"
