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
)

HEADER = ["image_id", "class_id", "super_class_id", "path"]
SOURCE = (
    "Stanford Online Products (Song et al. 2016) comes from the Stanford CVGL site "
    "(Stanford_Online_Products.zip); point the root at the folder holding Ebay_train.txt."
)


def _read_split(root: Path, name: str) -> RetrievalSplit:
    path = require_file(root / name, SOURCE)
    with path.open(encoding="utf-8") as f:
        header = f.readline().split()
    if header != HEADER:
        raise MalformedDatasetFile(f"{path}, line 1: expected the header {' '.join(HEADER)!r}, got {header}")
    records = [
        ImageRecord(root / fields[3], parse_int(fields[1], path, lineno))
        for lineno, fields in read_rows(path, 4, skip=1)
    ]
    return RetrievalSplit(records)


def load_sop(root: str | Path) -> CategoryBenchmark:
    """Train and test splits; labels are SOP's `class_id`. Recall@1/10/100/1000."""
    root = Path(root)
    test = _read_split(root, "Ebay_test.txt")
    return CategoryBenchmark("sop", _read_split(root, "Ebay_train.txt"), test, None, (1, 10, 100, 1000))
