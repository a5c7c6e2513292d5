"""CUB-200-2011: `images.txt` + `image_class_labels.txt`; classes 1-100 train, 101-200 test (PAPER.md)."""

from __future__ import annotations

from pathlib import Path

from irt_desktop.retrieval.datasets.base import (
    CategoryBenchmark,
    ImageRecord,
    MalformedDatasetFile,
    RetrievalSplit,
    parse_int,
    read_rows,
    require_file,
)

SOURCE = (
    "CUB-200-2011 (Caltech-UCSD Birds, Wah et al. 2011) comes from the Caltech Vision Lab site "
    "(CUB_200_2011.tgz); point the root at the extracted CUB_200_2011 folder."
)
TRAIN_CLASSES = range(1, 101)


def load_cub(root: str | Path) -> CategoryBenchmark:
    """Labels are CUB's class ids (1-200); the test split is leave-one-out. Recall@1/2/4/8."""
    root = Path(root)
    images_txt = require_file(root / "images.txt", SOURCE)
    labels_txt = require_file(root / "image_class_labels.txt", SOURCE)
    labels = {fields[0]: parse_int(fields[1], labels_txt, n) for n, fields in read_rows(labels_txt, 2)}
    train, test = [], []
    for lineno, (image_id, rel) in read_rows(images_txt, 2):
        if image_id not in labels:
            raise MalformedDatasetFile(
                f"{images_txt}, line {lineno}: image id {image_id} has no class in {labels_txt}"
            )
        label = labels[image_id]
        (train if label in TRAIN_CLASSES else test).append(ImageRecord(root / "images" / rel, label))
    return CategoryBenchmark("cub", RetrievalSplit(train), RetrievalSplit(test), None, (1, 2, 4, 8))
