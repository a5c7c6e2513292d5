"""How a ViT's output tokens become one vector (PAPER.md: CLS by default; mean, max, GeM in the ablation)."""

from __future__ import annotations

import torch
from torch import nn

POOLINGS = ("cls", "mean", "max", "gem")


class TokenPool(nn.Module):
    """Pool `[B, T, C]` tokens into `[B, C]`.

    `num_prefix_tokens` separates CLS (and, for distilled DeiTs, the distillation token) from the patch
    tokens. `cls` reads token 0 only: the distillation token is never mixed in, unlike timm's distilled
    head, which averages the two.
    """

    def __init__(self, kind: str = "cls", num_prefix_tokens: int = 1, gem_p: float = 3.0) -> None:
        super().__init__()
        if kind not in POOLINGS:
            raise ValueError(f"unknown pooling {kind!r}; choose one of {', '.join(POOLINGS)}")
        self.kind = kind
        self.num_prefix_tokens = num_prefix_tokens
        self.gem_p = gem_p

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.kind == "cls":
            return tokens[:, 0]
        patches = tokens[:, self.num_prefix_tokens :]
        if self.kind == "mean":
            return patches.mean(dim=1)
        if self.kind == "max":
            return patches.amax(dim=1)
        # GeM is defined on non-negative activations; ViT tokens are signed, so clamp as the CNN version does.
        return patches.clamp(min=1e-6).pow(self.gem_p).mean(dim=1).pow(1.0 / self.gem_p)

    def extra_repr(self) -> str:
        return f"kind={self.kind}, num_prefix_tokens={self.num_prefix_tokens}"
