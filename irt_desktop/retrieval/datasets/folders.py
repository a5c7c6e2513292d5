"""The user's own labelled albums: every immediate sub-folder of a root is a class.

Images are found recursively inside each class folder (by file extension, `images.is_image_path`),
skipping hidden files and folders and NAS/OS junk folders; a class folder may be a symlink, but
symlinked folders inside it are not followed (no loops). Several roots can be combined: sub-folders
with the same name in different roots are the *same* class (names compare exactly, case-sensitively),
so an album spread over two disks is one class. Loose files directly in a root are ignored.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from irt_desktop.images import is_image_path
from irt_desktop.retrieval.datasets.base import DatasetError, ImageRecord, MissingDatasetFile, RetrievalSplit

JUNK_DIRS = frozenset({"@eaDir", "__MACOSX", "#recycle", "$RECYCLE.BIN", "System Volume Information"})


@dataclass
class FolderDataset:
    """`records[i].label` indexes `class_names` (sorted). `small_classes` have fewer than 2 images: they
    give no positive pair, but are kept as negatives and distractors."""

    records: list[ImageRecord]
    class_names: list[str]
    small_classes: list[str] = field(default_factory=list)

    def as_split(self) -> RetrievalSplit:
        return RetrievalSplit(list(self.records))


def _skip(name: str) -> bool:
    return name.startswith(".") or name in JUNK_DIRS


def _images_under(folder: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = [d for d in dirnames if not _skip(d)]
        found += [Path(dirpath, f) for f in filenames if not _skip(f) and is_image_path(f)]
    return found


def scan_class_folders(roots: str | Path | Sequence[str | Path]) -> FolderDataset:
    """Collect `(image, class)` from one or more roots; raises DatasetError if nothing is found."""
    roots = [Path(roots)] if isinstance(roots, (str, Path)) else [Path(r) for r in roots]
    by_class: dict[str, list[Path]] = {}
    for root in roots:
        if not root.is_dir():
            raise MissingDatasetFile(f"{root} not found: expected a folder whose sub-folders are the classes")
        for entry in os.scandir(root):
            if entry.is_dir() and not _skip(entry.name):
                images = _images_under(Path(entry.path))
                if images:
                    by_class.setdefault(entry.name, []).extend(images)
    if not by_class:
        raise DatasetError(
            f"no images in sub-folders of {', '.join(map(str, roots))}: each class is a sub-folder"
        )
    names = sorted(by_class)
    records = [ImageRecord(p, label) for label, n in enumerate(names) for p in sorted(set(by_class[n]))]
    return FolderDataset(records, names, [n for n in names if len(set(by_class[n])) < 2])


def _key(seed: int, text: str) -> bytes:
    # A hash, not an RNG stream: adding an image or class does not reshuffle the rest of the split.
    return hashlib.sha256(f"{seed}\0{text}".encode()).digest()


def _n_held(n: int, holdout: float) -> int:
    return min(max(round(holdout * n), 1), n - 1) if n >= 2 else 0


def split_folder_dataset(
    dataset: FolderDataset, *, by: Literal["class", "image"] = "class", holdout: float = 0.5, seed: int = 0
) -> tuple[RetrievalSplit, RetrievalSplit]:
    """(train, test), deterministic for a given seed.

    `by="class"`: a `holdout` fraction of the classes (at least one, never all) goes to test, as in the
    paper's CUB/SOP splits; test is then evaluated leave-one-out. `by="image"`: within every class with
    at least 2 images, that fraction of its images (at least one, never all) goes to test; single-image
    classes stay in train. Labels keep indexing `dataset.class_names`.
    """
    if not 0 < holdout < 1:
        raise ValueError(f"holdout must be in (0, 1), got {holdout}")
    if by == "class":
        n_test = _n_held(len(dataset.class_names), holdout)
        ranked = sorted(range(len(dataset.class_names)), key=lambda c: _key(seed, dataset.class_names[c]))
        test_classes = set(ranked[:n_test])
        test = [r for r in dataset.records if r.label in test_classes]
        train = [r for r in dataset.records if r.label not in test_classes]
        return RetrievalSplit(train), RetrievalSplit(test)
    if by != "image":
        raise ValueError(f"split by 'class' or 'image', got {by!r}")
    per_class: dict[int, list[ImageRecord]] = {}
    for r in dataset.records:
        per_class.setdefault(r.label, []).append(r)
    held: set[Path] = set()
    for recs in per_class.values():
        ranked_recs = sorted(recs, key=lambda r: _key(seed, str(r.path)))
        held.update(r.path for r in ranked_recs[: _n_held(len(recs), holdout)])
    train = [r for r in dataset.records if r.path not in held]
    test = [r for r in dataset.records if r.path in held]
    return RetrievalSplit(train), RetrievalSplit(test)
