"""CUB-200-2011: `images.txt` + `image_class_labels.txt`; classes 1-100 train, 101-200 test (PAPER.md)."""

from __future__ import annotations

from pathlib import Path

from irt_desktop.retrieval.datasets.base import (
    CategoryBenchmark,
    ImageRecord,
    RetrievalSplit,
    parse_int,
    read_rows,
    require_file,
    require_image,
)
from irt_desktop.retrieval.datasets.protocol import ExpectedCounts, PartialDataset, check_counts

SOURCE = (
    "CUB-200-2011 (Caltech-UCSD Birds, Wah et al. 2011) comes from the Caltech Vision Lab site "
    "(CUB_200_2011.tgz); point the root at the extracted CUB_200_2011 folder."
)
TRAIN_CLASSES = range(1, 101)


def load_cub(
    root: str | Path,
    expected: ExpectedCounts | None = None,
    *,
    allow_partial: bool = False,
    check_images: bool = True,
) -> CategoryBenchmark:
    """Labels are CUB's class ids (1-200); the test split is leave-one-out. Recall@1/2/4/8.

    Both files must list the same image ids (PartialDataset otherwise, unless `allow_partial`: then the
    images with a class are used). `expected`: the counts to hold (protocol.PROTOCOL_COUNTS
    ["cub"] for the benchmark); a set that differs raises PartialDataset unless `allow_partial`."""
    root = Path(root)
    images_txt = require_file(root / "images.txt", SOURCE)
    labels_txt = require_file(root / "image_class_labels.txt", SOURCE)
    labels: dict[str, int] = {}
    for n, (image_id, label) in read_rows(labels_txt, 2):
        labels[image_id] = parse_int(label, labels_txt, n)
    train, test = [], []
    seen = set()
    unlabelled = []
    for lineno, (image_id, rel) in read_rows(images_txt, 2):
        seen.add(image_id)
        if image_id not in labels:
            unlabelled.append(
                f"{images_txt}, line {lineno}: image id {image_id} has no class in {labels_txt}"
            )
            continue
        label = labels[image_id]
        image = root / "images" / rel
        if check_images:
            require_image(image, images_txt, lineno)
        (train if label in TRAIN_CLASSES else test).append(ImageRecord(image, label))
    unlisted = [i for i in labels if i not in seen]
    mismatch = []
    if unlabelled:
        mismatch.append(f"{len(unlabelled):,} image(s) without a class, first {unlabelled[0]}")
    if unlisted:
        mismatch.append(
            f"{len(unlisted):,} class line(s) for images {images_txt.name} does not list, "
            f"first id {unlisted[0]}"
        )
    if mismatch and not allow_partial:
        raise PartialDataset(
            f"{root}: images.txt and image_class_labels.txt disagree ({'; '.join(mismatch)}): one of the two "
            "files is cut short (--allow-partial: use the images that have a class)"
        )
    train_split, test_split = RetrievalSplit(train), RetrievalSplit(test)
    partial = check_counts(
        root,
        expected,
        {"train": len(train_split), "test": len(test_split)},
        {"train": train_split.num_classes, "test": test_split.num_classes},
        allow_partial=allow_partial,
    )
    partial = "; ".join(p for p in (*mismatch, partial) if p)
    return CategoryBenchmark("cub", train_split, test_split, None, (1, 2, 4, 8), partial)
