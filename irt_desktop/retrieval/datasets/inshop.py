"""DeepFashion In-Shop: `list_eval_partition.txt`; queries search the gallery only (PAPER.md)."""

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
from irt_desktop.retrieval.datasets.protocol import ExpectedCounts, PartialDataset, check_counts

FILE = "list_eval_partition.txt"
HEADER = ["image_name", "item_id", "evaluation_status"]
SOURCE = (
    "In-Shop comes from the DeepFashion In-shop Clothes Retrieval Benchmark (Liu et al. 2016); point the "
    f"root at the folder holding {FILE} (or Eval/{FILE}) and the img/ folder."
)


def _item_label(item_id: str, path: Path, lineno: int) -> int:
    # "id_00000002" -> 2: one integer namespace shared by train, query and gallery.
    if not item_id.startswith("id_"):
        raise MalformedDatasetFile(
            f"{path}, line {lineno}: expected an item id like id_00000002, got {item_id!r}"
        )
    return parse_int(item_id[3:], path, lineno)


def load_inshop(
    root: str | Path,
    expected: ExpectedCounts | None = None,
    *,
    allow_partial: bool = False,
    check_images: bool = True,
) -> CategoryBenchmark:
    """Train / query / gallery; labels are the numeric part of `item_id`. Recall@1/10/20/30.

    The file's own count line must match its rows; `expected`: the counts to hold per split
    (protocol.PROTOCOL_COUNTS["inshop"] for the benchmark), else PartialDataset unless `allow_partial`."""
    root = Path(root)
    path = root / FILE
    if not path.exists() and (root / "Eval" / FILE).exists():
        path = root / "Eval" / FILE
    require_file(path, SOURCE)
    with path.open(encoding="utf-8", errors="replace") as f:
        count_line, header = f.readline().strip(), f.readline().split()
    if header != HEADER:
        raise MalformedDatasetFile(f"{path}, line 2: expected the header {' '.join(HEADER)!r}, got {header}")
    announced = parse_int(count_line, path, 1)
    splits: dict[str, list[ImageRecord]] = {"train": [], "query": [], "gallery": []}
    for lineno, (name, item_id, status) in read_rows(path, 3, skip=2):
        if status not in splits:
            raise MalformedDatasetFile(f"{path}, line {lineno}: unknown evaluation_status {status!r}")
        image = root / name
        if check_images:
            require_image(image, path, lineno)
        splits[status].append(ImageRecord(image, _item_label(item_id, path, lineno)))
    total = sum(map(len, splits.values()))
    cut = ""
    if total != announced:
        cut = f"line 1 announces {announced:,} images but the file lists {total:,}"
        if not allow_partial:
            raise PartialDataset(
                f"{path}: {cut}: it is cut short or was edited (--allow-partial: use it anyway)"
            )
    partial = check_counts(
        root, expected, {k: len(v) for k, v in splits.items()}, allow_partial=allow_partial
    )
    partial = "; ".join(p for p in (cut, partial) if p)
    train, query, gallery = (RetrievalSplit(splits[k]) for k in ("train", "query", "gallery"))
    return CategoryBenchmark("inshop", train, query, gallery, (1, 10, 20, 30), partial)
