"""Shared record types, errors and the torch Dataset that the benchmark readers feed."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms.functional import to_tensor

from irt_desktop.images import DEFAULT_MAX_PIXELS, open_image

Box = tuple[float, float, float, float]


class DatasetError(Exception):
    """A benchmark dataset is missing or malformed; the message says which file and what to do."""


class MissingDatasetFile(DatasetError, FileNotFoundError):
    """An expected file or folder is not there."""


class MalformedDatasetFile(DatasetError, ValueError):
    """A file is there but its content is not what the dataset's format says."""


@dataclass(frozen=True)
class ImageRecord:
    """One image: its path, an integer class label (-1 where there is none) and an optional crop box
    `(x0, y0, x1, y1)` in pixels of the decoded image.

    `apply_exif`: decode upright per the EXIF orientation (the default, as for photos), or as stored
    (False) for datasets whose annotations and reference code use the stored pixel grid and ignore
    EXIF: the revisited Oxford/Paris boxes.
    """

    path: Path
    label: int
    box: Box | None = None
    apply_exif: bool = True


@dataclass
class RetrievalSplit:
    records: list[ImageRecord]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def paths(self) -> list[Path]:
        return [r.path for r in self.records]

    @property
    def labels(self) -> np.ndarray:
        return np.array([r.label for r in self.records], dtype=np.int64)

    @property
    def num_classes(self) -> int:
        return len({r.label for r in self.records})


@dataclass
class CategoryBenchmark:
    """A category-level benchmark: `gallery is None` means leave-one-out within `query` (SOP, CUB);
    otherwise queries search the gallery only (In-Shop). Labels are the dataset's own class ids."""

    name: str
    train: RetrievalSplit
    query: RetrievalSplit
    gallery: RetrievalSplit | None
    recall_ks: tuple[int, ...]


def require_file(path: Path, what: str) -> Path:
    """`path` if it exists, else a MissingDatasetFile naming it and where the dataset comes from."""
    if not path.exists():
        raise MissingDatasetFile(f"{path} not found. {what}")
    return path


def read_rows(path: Path, n_fields: int, skip: int = 0) -> Iterator[tuple[int, list[str]]]:
    """(1-based line number, whitespace-separated fields) of each non-blank line after `skip` lines."""
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if lineno <= skip or not line.strip():
                continue
            fields = line.split()
            if len(fields) != n_fields:
                raise MalformedDatasetFile(
                    f"{path}, line {lineno}: expected {n_fields} fields, got {len(fields)}: {line.strip()!r}"
                )
            yield lineno, fields


def parse_int(text: str, path: Path, lineno: int) -> int:
    try:
        return int(text)
    except ValueError:
        raise MalformedDatasetFile(f"{path}, line {lineno}: expected an integer, got {text!r}") from None


class ImageDataset(Dataset):
    """Decodes records with `irt_desktop.images.open_image`; items are `(image, label, index)`.

    `index` is the position in `records`, the identity the cross-batch memory uses. Records with a
    box are decoded at full size and cropped before the transform; the others are decoded with
    `min_side` (JPEG draft mode) when given, i.e. the size the transform will resize to.
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
        img = open_image(rec.path, min_side=min_side, max_pixels=self.max_pixels, apply_exif=rec.apply_exif)
        if rec.box is not None:
            img = img.crop(rec.box)
        return self.transform(img), rec.label, index
