"""Stanford Online Products: `Ebay_train.txt` / `Ebay_test.txt` (PAPER.md); test is leave-one-out."""

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
    require_image,
)
from irt_desktop.retrieval.datasets.protocol import ExpectedCounts, check_counts

HEADER = ["image_id", "class_id", "super_class_id", "path"]
SOURCE = (
    "Stanford Online Products (Song et al. 2016) comes from the Stanford CVGL site "
    "(Stanford_Online_Products.zip); point the root at the folder holding Ebay_train.txt."
)


def _read_split(root: Path, name: str, check_images: bool) -> RetrievalSplit:
    path = require_file(root / name, SOURCE)
    with path.open(encoding="utf-8", errors="replace") as f:
        header = f.readline().split()
    if header != HEADER:
        raise MalformedDatasetFile(f"{path}, line 1: expected the header {' '.join(HEADER)!r}, got {header}")
    records = []
    for lineno, fields in read_rows(path, 4, skip=1):
        image = root / fields[3]
        if check_images:
            require_image(image, path, lineno)
        records.append(ImageRecord(image, parse_int(fields[1], path, lineno)))
    return RetrievalSplit(records)


def load_sop(
    root: str | Path,
    expected: ExpectedCounts | None = None,
    *,
    allow_partial: bool = False,
    check_images: bool = True,
) -> CategoryBenchmark:
    """Train and test splits; labels are SOP's `class_id`. Recall@1/10/100/1000.

    `expected`: the counts to hold (protocol.PROTOCOL_COUNTS["sop"] for the benchmark); a set that
    differs raises PartialDataset unless `allow_partial`. `check_images`: every listed image must exist."""
    root = Path(root)
    train = _read_split(root, "Ebay_train.txt", check_images)
    test = _read_split(root, "Ebay_test.txt", check_images)
    partial = check_counts(
        root,
        expected,
        {"train": len(train), "test": len(test)},
        {"train": train.num_classes, "test": test.num_classes},
        allow_partial=allow_partial,
    )
    return CategoryBenchmark("sop", train, test, None, (1, 10, 100, 1000), partial)
