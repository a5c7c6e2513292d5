"""PCA reduction of descriptors (PAPER.md: fitted on training features, applied before L2 normalisation).

The fit is faiss's PCAMatrix; the result is kept as a plain affine map in torch buffers so that it is saved
in the bundle's safetensors and runs on the model's device with no faiss at inference time.
"""

from __future__ import annotations

import faiss
import numpy as np
import torch
from torch import nn


class PCAProjection(nn.Module):
    """y = A x + b with A `[out, in]` (rows are principal directions) and b = -A mean."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        if not 0 < out_dim <= in_dim:
            raise ValueError(f"PCA output dims must be in 1..{in_dim}, got {out_dim}")
        self.register_buffer("weight", torch.zeros(out_dim, in_dim))
        self.register_buffer("bias", torch.zeros(out_dim))

    @property
    def out_dim(self) -> int:
        return self.weight.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Always at least float32, also under bf16/fp16 autocast: in bf16 (8 mantissa bits) the centring
        (A x - A mean, two large nearly equal terms) and the small trailing components lose most of their
        digits, for a map that costs nothing next to the backbone."""
        dtype = x.dtype if x.dtype == torch.float64 else torch.float32
        with torch.autocast(x.device.type, enabled=False):
            return torch.nn.functional.linear(x.to(dtype), self.weight.to(dtype), self.bias.to(dtype))

    @classmethod
    def fit(cls, features: np.ndarray | torch.Tensor, out_dim: int) -> PCAProjection:
        """Fit on raw pooled features `[N, in_dim]` (not yet normalised); needs N > out_dim."""
        x = np.ascontiguousarray(torch.as_tensor(features).float().cpu().numpy())
        n, in_dim = x.shape
        if n <= out_dim:
            raise ValueError(f"PCA to {out_dim} dims needs more than {out_dim} training features, got {n}")
        pca = faiss.PCAMatrix(in_dim, out_dim)
        pca.train(x)
        module = cls(in_dim, out_dim)
        a = faiss.vector_to_array(pca.A).reshape(out_dim, in_dim)
        b = faiss.vector_to_array(pca.b)
        module.weight.copy_(torch.from_numpy(a.astype(np.float32)))
        module.bias.copy_(torch.from_numpy(b.astype(np.float32)))
        return module
