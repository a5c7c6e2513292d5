"""Image -> tensor preprocessing. One eval transform serves indexing, querying and evaluation."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from PIL import Image
from timm.data import create_transform
from torchvision import transforms as T

from irt_desktop.retrieval.model import ModelSpec

# The field's test convention (PAPER.md): resize the short side to 256, centre-crop 224; scaled with size.
RESIZE_RATIO = 256 / 224


def resize_side(spec: ModelSpec) -> int:
    """Short side before the centre crop; also the size decoding must deliver at least."""
    return math.floor(spec.input_size * RESIZE_RATIO)


def eval_transform(spec: ModelSpec) -> Callable[[Image.Image], torch.Tensor]:
    """Resize short side to input*256/224 (bicubic), centre crop, ImageNet mean/std, as timm does for DeiT."""
    return create_transform(
        input_size=spec.input_size,
        is_training=False,
        interpolation="bicubic",
        crop_pct=1 / RESIZE_RATIO,
        mean=spec.mean,
        std=spec.std,
    )


def train_transform(spec: ModelSpec) -> Callable[[Image.Image], torch.Tensor]:
    """PAPER.md: resize to 256x256 (aspect not kept), random crop 224, horizontal flip; scaled with size."""
    side = resize_side(spec)
    return T.Compose(
        [
            T.Resize((side, side), interpolation=T.InterpolationMode.BICUBIC),
            T.RandomCrop(spec.input_size),
            T.RandomHorizontalFlip(),
            T.ToTensor(),
            T.Normalize(spec.mean, spec.std),
        ]
    )
