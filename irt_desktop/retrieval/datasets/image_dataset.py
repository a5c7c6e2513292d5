"""The torch Dataset that decodes a benchmark's or the user's records for training and evaluation."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms.functional import to_tensor

from irt_desktop.images import DEFAULT_MAX_PIXELS, ImageError, open_image
from irt_desktop.retrieval.datasets.base import ImageRecord, RetrievalSplit, UnreadableDatasetImage


class ImageDataset(Dataset):
    """Decodes records with `irt_desktop.images.open_image`; items are `(image, label, index)`.

    `index` is the position in `records`, the identity the cross-batch memory uses. Records with a
    box are decoded at full size and cropped before the transform (a transform with `takes_full_side`
    is also told the longer side of the full image); the others are decoded with `min_side` (JPEG
    draft mode) when given, i.e. the size the transform will resize to, else at full size. An image
    that cannot be decoded raises UnreadableDatasetImage naming it.
    """

    def __init__(
        self,
        records: Sequence[ImageRecord] | RetrievalSplit,
        transform: Callable[[Image.Image], torch.Tensor] | None = None,
        *,
        min_side: int | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.records = list(records.records if isinstance(records, RetrievalSplit) else records)
        self.transform = transform or to_tensor
        self.min_side = min_side
        self.max_pixels = max_pixels

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        rec = self.records[index]
        min_side = None if rec.box is not None else self.min_side
        try:
            img = open_image(
                rec.path, min_side=min_side, max_pixels=self.max_pixels, apply_exif=rec.apply_exif
            )
        except ImageError as exc:
            raise UnreadableDatasetImage(f"{rec.path}: cannot be read ({exc})") from None
        if rec.box is None:
            return self.transform(img), rec.label, index
        # The crop keeps the scale of its full image where the transform asks for it (the revisited
        # protocol's queries: transforms.LandmarkTransform).
        full_side = max(img.size)
        img = img.crop(rec.box)
        if getattr(self.transform, "takes_full_side", False):
            return self.transform(img, full_side=full_side), rec.label, index
        return self.transform(img), rec.label, index
