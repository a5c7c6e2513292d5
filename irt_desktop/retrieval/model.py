"""The IRT descriptor: a timm ViT, token pooling, optional PCA, L2 normalisation (PAPER.md, Descriptor)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import timm
import torch
import torch.nn.functional as F
from torch import nn

from irt_desktop.retrieval.pca import PCAProjection
from irt_desktop.retrieval.pooling import TokenPool

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelSpec:
    """Everything that decides which vector an image gets (and so is part of a bundle's id)."""

    backbone: str = "deit_small_patch16_224"
    pooling: str = "cls"
    input_size: int = 224
    # Output dims; None or the backbone width means no PCA.
    dims: int | None = None
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    # Overrides for timm.create_model (depth, embed_dim, patch_size...): how tests build tiny ViTs.
    backbone_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def with_dims(self, dims: int | None) -> ModelSpec:
        return replace(self, dims=dims)

    def to_dict(self) -> dict[str, Any]:
        return {
            "backbone": self.backbone,
            "pooling": self.pooling,
            "input_size": self.input_size,
            "dims": self.dims,
            "mean": list(self.mean),
            "std": list(self.std),
            "backbone_kwargs": dict(self.backbone_kwargs),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelSpec:
        known = {"backbone", "pooling", "input_size", "dims", "mean", "std", "backbone_kwargs"}
        unknown = set(d) - known - {"pca"}
        if unknown:
            raise ValueError(f"unknown model fields: {', '.join(sorted(unknown))}")
        return cls(
            backbone=str(d.get("backbone", cls.backbone)),
            pooling=str(d.get("pooling", cls.pooling)),
            input_size=int(d.get("input_size", cls.input_size)),
            dims=None if d.get("dims") in (None, 0) else int(d["dims"]),
            mean=tuple(float(v) for v in d.get("mean", IMAGENET_MEAN)),
            std=tuple(float(v) for v in d.get("std", IMAGENET_STD)),
            backbone_kwargs=dict(d.get("backbone_kwargs", {})),
        )


def create_backbone(spec: ModelSpec, state_dict: Mapping[str, torch.Tensor] | None = None) -> nn.Module:
    """A headless timm ViT at `spec.input_size`.

    With `state_dict`, timm's own pretrained path loads it, so its checkpoint filters apply: official DeiT
    `.pth` layouts are unwrapped and position embeddings are resampled to the input size.

    `dynamic_img_size`: the ViT also takes non-square inputs (any multiple of the patch size), resampling
    its position embeddings to the patch grid of each batch; landmark images are evaluated at their own
    aspect ratio (transforms.landmark_transform). At `input_size` x `input_size` the embeddings are used
    as they are, so square inputs give the same descriptors as without it, and the parameters (and so
    the bundle's state dict) are the same. Backbones that do not know the option are built without it.
    """
    kwargs: dict[str, Any] = {"dynamic_img_size": True}
    kwargs.update(spec.backbone_kwargs)
    kwargs.update(num_classes=0, img_size=spec.input_size)
    if state_dict is not None:
        kwargs.update(pretrained=True, pretrained_cfg_overlay={"state_dict": dict(state_dict)})
    try:
        return _create_model(spec.backbone, kwargs)
    except TypeError as exc:
        if "dynamic_img_size" not in str(exc) or "dynamic_img_size" in spec.backbone_kwargs:
            raise
        del kwargs["dynamic_img_size"]
        return _create_model(spec.backbone, kwargs)


def _create_model(name: str, kwargs: dict[str, Any]) -> nn.Module:
    try:
        return timm.create_model(name, **kwargs)
    except RuntimeError as exc:
        if "Unknown model" in str(exc):
            raise ValueError(f"timm has no model named {name!r}") from exc
        raise


class IRT(nn.Module):
    """Image -> L2-normalised descriptor; `features()` is the pooled vector before PCA and L2."""

    def __init__(self, spec: ModelSpec, backbone_state: Mapping[str, torch.Tensor] | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.backbone = create_backbone(spec, backbone_state)
        patch = self.backbone.patch_embed.patch_size[0] if hasattr(self.backbone, "patch_embed") else 1
        if spec.input_size % patch:
            raise ValueError(f"input size {spec.input_size} is not a multiple of the patch size {patch}")
        # Non-square inputs must have both sides a multiple of this (landmark_transform rounds to it).
        self.patch_size: int = int(patch)
        self.pool = TokenPool(spec.pooling, getattr(self.backbone, "num_prefix_tokens", 1))
        self.width: int = self.backbone.num_features
        self.pca: PCAProjection | None = None
        if spec.dims is not None and spec.dims != self.width:
            # The PCA buffers are filled by set_pca() or by loading a bundle's weights.
            self.pca = PCAProjection(self.width, spec.dims)

    @property
    def dim(self) -> int:
        return self.pca.out_dim if self.pca is not None else self.width

    def features(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.backbone.forward_features(images)
        if tokens.ndim != 3:
            raise ValueError(f"{self.spec.backbone} does not return a token sequence; IRT needs a ViT")
        return self.pool(tokens)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.features(images)
        if self.pca is not None:
            x = self.pca(x)  # in float32 whatever the autocast (see PCAProjection.forward)
        return F.normalize(x.float(), dim=-1)

    def set_pca(self, pca: PCAProjection | None) -> None:
        """Attach a fitted PCA (or remove it); the spec's dims follow."""
        self.pca = pca
        self.spec = self.spec.with_dims(None if pca is None else pca.out_dim)
