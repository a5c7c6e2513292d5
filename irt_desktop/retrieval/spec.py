"""The descriptor's definition as data: what decides which vector an image gets, and the preprocessing
sizes that follow from it. Torch-free (an import-linter contract holds it so): the OpenVINO serving
path, the decoder and the GUI read it without loading torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

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


# The field's test convention (PAPER.md): resize the short side to 256, centre-crop 224; scaled with size.
RESIZE_RATIO = 256 / 224


def resize_side(spec: ModelSpec) -> int:
    """Short side before the centre crop; also the size decoding must deliver at least."""
    return math.floor(spec.input_size * RESIZE_RATIO)
