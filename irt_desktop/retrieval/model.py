"""The IRT descriptor: a timm ViT, token pooling, optional PCA, L2 normalisation (PAPER.md, Descriptor)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import timm
import torch
import torch.nn.functional as F
from torch import nn

from irt_desktop.retrieval.pca import PCAProjection
from irt_desktop.retrieval.pooling import TokenPool

# The spec is torch-free (retrieval.spec) so the OpenVINO path can read it without loading torch;
# it is re-exported here for the code that builds models from it.
from irt_desktop.retrieval.spec import IMAGENET_MEAN, IMAGENET_STD, ModelSpec

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "IRT", "ModelSpec", "create_backbone"]


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
