"""Shared record types and errors of the benchmark readers and the user's class folders.

Torch-free, so a process that only scans folders and plans (the fine-tune wizard where OpenVINO serves)
loads no torch: the torch Dataset that decodes these records is datasets.image_dataset.ImageDataset,
still importable from here and from the package (loaded on first use).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

Box = tuple[float, float, float, float]


class DatasetError(Exception):
    """A benchmark dataset is missing or malformed; the message says which file and what to do."""


class MissingDatasetFile(DatasetError, FileNotFoundError):
    """An expected file or folder is not there."""


class MalformedDatasetFile(DatasetError, ValueError):
    """A file is there but its content is not what the dataset's format says."""


class UnreadableDatasetImage(DatasetError):
    """An image a dataset lists cannot be decoded; the message names it."""


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
    # What differs from the protocol's counts when a partial set was allowed; "" for the complete set.
    partial: str = ""


def require_file(path: Path, what: str) -> Path:
    """`path` if it exists, else a MissingDatasetFile naming it and where the dataset comes from."""
    if not path.exists():
        raise MissingDatasetFile(f"{path} not found. {what}")
    return path


def read_rows(path: Path, n_fields: int, skip: int = 0) -> Iterator[tuple[int, list[str]]]:
    """(1-based line number, whitespace-separated fields) of each non-blank line after `skip` lines.

    A file that does not end with a newline has its last line flagged in any error about it: a list cut
    mid-line most often shows there."""
    try:
        with path.open(encoding="utf-8") as f:
            lines = f.readlines()
    except UnicodeDecodeError as exc:
        raise MalformedDatasetFile(f"{path}: not a text file ({exc})") from None
    for lineno, line in enumerate(lines, start=1):
        if lineno <= skip or not line.strip():
            continue
        fields = line.split()
        if len(fields) != n_fields:
            raise MalformedDatasetFile(
                f"{path}, line {lineno}: expected {n_fields} fields, got {len(fields)}: {line.strip()!r}"
                + cut_short_hint(lines, lineno)
            )
        yield lineno, fields


def cut_short_hint(lines: Sequence[str], lineno: int) -> str:
    """ " (the last line has no newline: the file may be cut short)" for the unterminated last line."""
    if lineno == len(lines) and lines and not lines[-1].endswith("\n"):
        return " (the last line has no newline: the file may be cut short)"
    return ""


def require_image(path: Path, listed_in: Path, lineno: int | None, hint: str = "") -> Path:
    """`path` if it is a file, else MalformedDatasetFile naming the list (and line) that names it."""
    if not path.is_file():
        where = f"{listed_in}, line {lineno}" if lineno is not None else str(listed_in)
        raise MalformedDatasetFile(f"{where}: the image {path} is not there{hint}")
    return path


def parse_int(text: str, path: Path, lineno: int) -> int:
    try:
        return int(text)
    except ValueError:
        raise MalformedDatasetFile(f"{path}, line {lineno}: expected an integer, got {text!r}") from None


def __getattr__(name: str) -> Any:
    if name == "ImageDataset":
        from irt_desktop.retrieval.datasets.image_dataset import ImageDataset

        return ImageDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
