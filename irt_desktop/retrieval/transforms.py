"""Image -> tensor preprocessing. One eval transform serves indexing, querying and evaluation."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from PIL import Image
from timm.data import create_transform
from torchvision import transforms as T

from irt_desktop.retrieval.spec import RESIZE_RATIO, ModelSpec, resize_side

__all__ = [
    "RESIZE_RATIO",
    "LandmarkTransform",
    "LongestSideResize",
    "eval_transform",
    "landmark_transform",
    "resize_side",
    "train_transform",
]


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


class LandmarkTransform:
    """Test preprocessing for ROxford5k / RParis6k, as the revisited protocol's reference loader does it
    (cirtorch `ImagesFromList`, PAPER.md "Landmark test preprocessing"), then what a ViT needs.

    1. Scale. A database image is shrunk so that its longer side is `size`; a query, already cut to its
       bbx, by the same factor as its full image would be: the crop gets the longer side
       `size x max(crop side) / max(full side)`. Objects in queries and in the database are at one scale.
       Neither is ever enlarged. Both are PIL `thumbnail` with LANCZOS (cirtorch's ANTIALIAS), so the
       sides are floored and the aspect ratio kept as Pillow keeps it.
    2. Tensor: ToTensor, the model's mean/std.
    3. `scale` != 1 (multi-scale descriptors): the tensor is resized by that factor, bilinear without
       corner alignment, as cirtorch's `extract_ms` does (sides floored).
    4. Padding. A ViT's patch grid needs both sides a multiple of `multiple` (the patch size): the tensor
       is padded at the bottom and right with zeros, i.e. with the mean colour, up to the next multiple.
       The scale stays exactly the reference's; a border of less than one patch is added.

    `size` is the model's input size, the resolution the paper names for its landmark figures (224 px,
    384 px for DeiT-B). Called with `full_side` by ImageDataset for records with a box.
    """

    takes_full_side = True

    def __init__(
        self,
        size: int,
        multiple: int = 1,
        mean: tuple[float, float, float] = (0.485, 0.456, 0.406),
        std: tuple[float, float, float] = (0.229, 0.224, 0.225),
        scale: float = 1.0,
    ) -> None:
        if size < 1 or multiple < 1 or not 0 < scale <= 1:
            raise ValueError(
                f"size and multiple must be positive and scale in (0, 1], got {size}, {multiple}, {scale}"
            )
        self.size, self.multiple, self.scale = size, multiple, scale
        self.normalize = T.Normalize(mean, std)

    def target_side(self, longer_side: int, full_side: int | None = None) -> float:
        """The thumbnail bound of an image (or a crop of a `full_side` image) whose longer side is
        `longer_side`."""
        return self.size if full_side is None else self.size * longer_side / full_side

    def resize(self, img: Image.Image, full_side: int | None = None) -> Image.Image:
        """Step 1: the PIL image at the reference scale (a copy; never enlarged)."""
        bound = self.target_side(max(img.size), full_side)
        out = img.copy()
        out.thumbnail((bound, bound), Image.Resampling.LANCZOS)
        return out

    def __call__(self, img: Image.Image, full_side: int | None = None) -> torch.Tensor:
        x = self.normalize(T.functional.to_tensor(self.resize(img, full_side)))
        if self.scale != 1:
            x = torch.nn.functional.interpolate(
                x[None], scale_factor=self.scale, mode="bilinear", align_corners=False
            )[0]
        m = self.multiple
        h, w = x.shape[-2:]
        pad_h, pad_w = -h % m, -w % m
        if pad_h or pad_w:
            x = torch.nn.functional.pad(x, (0, pad_w, 0, pad_h))
        return x

    def describe(self) -> str:
        """What this transform does, in the report's words."""
        scale = f", then resized x{self.scale:.4g} (bilinear)" if self.scale != 1 else ""
        return (
            f"database images shrunk to {self.size} px on the longer side, never enlarged; each query cut "
            f"to its bbx and shrunk by its full image's factor (longer side {self.size} x crop / full "
            f"image, never enlarged): cirtorch ImagesFromList, PIL thumbnail (LANCZOS, Pillow's reducing "
            f"gap 2){scale}; sides "
            f"padded with the mean colour up to a multiple of {self.multiple} px (the patch grid); EXIF "
            "orientation ignored (boxes are in the stored pixel grid)"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, multiple={self.multiple}, scale={self.scale})"


def landmark_transform(spec: ModelSpec, patch_size: int, scale: float = 1.0) -> LandmarkTransform:
    """The ROxford5k / RParis6k test preprocessing for a model (see LandmarkTransform).

    PAPER.md does not state it beyond the reference loader; the category-level short-side resize and
    centre crop would throw away about a quarter of a 4:3 photo (and part of each query box). The ViT
    takes the non-square patch grid with resampled position embeddings (model.create_backbone); batches
    are grouped by shape (training.evaluate does)."""
    return LandmarkTransform(spec.input_size, patch_size, spec.mean, spec.std, scale)


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
