"""Image -> tensor preprocessing. One eval transform serves indexing, querying and evaluation."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from PIL import Image
from timm.data import create_transform
from torchvision import transforms as T

from irt_desktop.retrieval.spec import RESIZE_RATIO, ModelSpec, resize_side

__all__ = ["RESIZE_RATIO", "LongestSideResize", "eval_transform", "landmark_transform", "resize_side",
           "train_transform"]


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


class LongestSideResize:
    """Resize (bicubic) so that the longer side is `size`, keeping the aspect ratio, each side rounded to
    a multiple of `multiple` (at least one), which a ViT's patch grid needs."""

    def __init__(self, size: int, multiple: int = 1) -> None:
        if size < 1 or multiple < 1:
            raise ValueError(f"size and multiple must be positive, got {size}, {multiple}")
        self.size, self.multiple = size, multiple

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        scale = self.size / max(width, height)
        m = self.multiple

        def side(n: int) -> int:
            # Half up (not Python's half-to-even): a 4:3 image at 224 gets 224 x 176, not 224 x 160.
            return max(m, math.floor(n * scale / m + 0.5) * m)

        return side(width), side(height)

    def __call__(self, img: Image.Image) -> Image.Image:
        size = self.output_size(*img.size)
        return img if size == img.size else img.resize(size, Image.Resampling.BICUBIC)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, multiple={self.multiple})"


def landmark_transform(spec: ModelSpec, patch_size: int) -> Callable[[Image.Image], torch.Tensor]:
    """Test preprocessing for ROxford5k / RParis6k: the longer side to the model's input size, aspect
    ratio kept (sides rounded to the patch size), no crop, the model's mean/std.

    PAPER.md does not state the landmark test preprocessing. The revisited protocol's reference code
    (revisitop, cirtorch) resizes the longer side and never crops, the database images being whole
    scenes and the queries already cut to their bbx: the category-level short-side resize and centre
    crop would throw away about a quarter of a 4:3 photo (and part of each query box). The longer side
    is the model's input size, the resolution the paper names for its landmark figures (224 px, 384 px
    for DeiT-B). The ViT takes the non-square patch grid with resampled position embeddings
    (model.create_backbone). Batches must then be grouped by shape (training.evaluate does).
    """
    return T.Compose(
        [
            LongestSideResize(spec.input_size, patch_size),
            T.ToTensor(),
            T.Normalize(spec.mean, spec.std),
        ]
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
