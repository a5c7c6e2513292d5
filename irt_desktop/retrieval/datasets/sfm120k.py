"""SfM-120k (Radenovic et al. 2018), the landmark training set, in the cirtorch layout (PAPER.md):
`<root>/retrieval-SfM-120k.pkl` and the images under `<root>/ims/`.

The pickle maps "train" and "val" to `{"cids": image ids, "cluster": 3D-model id per image,
"qidxs" / "pidxs": query / positive image indices}`; an image lives at
`ims/<cid[-2:]>/<cid[-4:-2]>/<cid[-6:-4]>/<cid>` (cirtorch `cid2filename`, no extension). It is a
pickle a user downloads: read with the restricted unpickler of the gnd files (safe_pickle), never
plain pickle.load.

The trainer samples classes (m images per class per batch), so the class of an image is its cluster,
the 3D model it was reconstructed in; the query/positive pairs are kept (and checked) for reference.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from irt_desktop.retrieval.datasets.base import (
    ImageRecord,
    MalformedDatasetFile,
    RetrievalSplit,
    require_file,
    require_image,
)
from irt_desktop.retrieval.datasets.protocol import ExpectedCounts, check_counts
from irt_desktop.retrieval.datasets.safe_pickle import safe_load

NAME = "retrieval-SfM-120k"
DB_FILE = f"{NAME}.pkl"
SPLITS = ("train", "val")
SOURCE = (
    "SfM-120k (Radenovic et al. 2018) comes from the cnnimageretrieval-pytorch project "
    "(github.com/filipradenovic/cnnimageretrieval-pytorch), whose download puts retrieval-SfM-120k.pkl "
    "and ims/ in <data>/train/retrieval-SfM-120k/; point the root at that folder."
)


def cid2filename(cid: str, ims: Path) -> Path:
    """cirtorch's layout: `ims/<last 2>/<2 before>/<2 before>/<cid>`."""
    return ims / cid[-2:] / cid[-4:-2] / cid[-6:-4] / cid


@dataclass
class SfMDataset:
    """Training images labelled by cluster (`train`, `val`), the query/positive pairs per split
    (`[n, 2]` int64 image indices), and how many pairs join two clusters (0 in the published file)."""

    train: RetrievalSplit
    val: RetrievalSplit
    pairs: dict[str, np.ndarray]
    cross_cluster_pairs: dict[str, int] = field(default_factory=dict)
    partial: str = ""
    name: str = "sfm120k"

    @property
    def records(self) -> list[ImageRecord]:
        return self.train.records


def load_sfm120k(
    root: str | Path,
    expected: ExpectedCounts | None = None,
    *,
    allow_partial: bool = False,
    check_images: bool = True,
) -> SfMDataset:
    """Read the database and list the images; `expected` counts images per split ("train", "val") and
    clusters per split, PartialDataset when they differ unless `allow_partial`."""
    root = Path(root)
    path = require_file(root / DB_FILE, SOURCE)
    try:
        db = safe_load(path)
        parts = {s: db[s] for s in SPLITS}
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise MalformedDatasetFile(
            f"{path}: not an SfM-120k database with train and val parts, or cut short "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    ims = root / "ims"
    splits, pairs, crossing = {}, {}, {}
    for split, part in parts.items():
        splits[split], pairs[split], crossing[split] = _split(part, split, path, ims, check_images)
    partial = check_counts(
        path,
        expected,
        {s: len(splits[s]) for s in SPLITS},
        {s: splits[s].num_classes for s in SPLITS},
        allow_partial=allow_partial,
    )
    return SfMDataset(splits["train"], splits["val"], pairs, crossing, partial)


def _split(
    part: object, split: str, path: Path, ims: Path, check_images: bool
) -> tuple[RetrievalSplit, np.ndarray, int]:
    where = f"{path}: [{split!r}]"
    try:
        cids = [str(c) for c in part["cids"]]  # type: ignore[index]
        cluster = np.asarray(part["cluster"], dtype=np.int64).ravel()  # type: ignore[index]
        qidxs = np.asarray(part["qidxs"], dtype=np.int64).ravel()  # type: ignore[index]
        pidxs = np.asarray(part["pidxs"], dtype=np.int64).ravel()  # type: ignore[index]
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedDatasetFile(
            f"{where} needs cids, cluster, qidxs and pidxs lists ({type(exc).__name__}: {exc})"
        ) from exc
    if len(cluster) != len(cids):
        raise MalformedDatasetFile(f"{where}: {len(cids):,} cids but {len(cluster):,} cluster ids")
    if len(qidxs) != len(pidxs):
        raise MalformedDatasetFile(f"{where}: {len(qidxs):,} qidxs but {len(pidxs):,} pidxs")
    for key, idx in (("qidxs", qidxs), ("pidxs", pidxs)):
        if idx.size and (idx.min() < 0 or idx.max() >= len(cids)):
            raise MalformedDatasetFile(f"{where}[{key!r}] has an index outside cids (0..{len(cids) - 1})")
    bad = [i for i, c in enumerate(cids) if len(c) < 6]
    if bad:
        raise MalformedDatasetFile(f"{where}['cids'][{bad[0]}] = {cids[bad[0]]!r} is not an image id")
    records = []
    for i, (cid, label) in enumerate(zip(cids, cluster.tolist(), strict=True)):
        image = cid2filename(cid, ims)
        if check_images:
            require_image(image, path, None, f" ([{split!r}]['cids'][{i}])")
        records.append(ImageRecord(image, int(label)))
    pairs = np.stack([qidxs, pidxs], axis=1) if len(qidxs) else np.zeros((0, 2), np.int64)
    crossing = int(np.count_nonzero(cluster[qidxs] != cluster[pidxs])) if len(qidxs) else 0
    return RetrievalSplit(records), pairs, crossing
