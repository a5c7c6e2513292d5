"""Revisited Oxford5k / Paris6k (Radenovic et al. 2018): `<root>/<name>/gnd_<name>.pkl` and `jpg/`."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from irt_desktop.retrieval.datasets.base import (
    Box,
    ImageRecord,
    MalformedDatasetFile,
    require_file,
    require_image,
)
from irt_desktop.retrieval.datasets.protocol import ExpectedCounts, check_counts
from irt_desktop.retrieval.datasets.safe_pickle import safe_load

NAMES = ("roxford5k", "rparis6k")
SOURCE = (
    "ROxford5k / RParis6k come from the revisitop project (Radenovic et al. 2018, "
    "github.com/filipradenovic/revisitop), which downloads gnd_{name}.pkl and the jpg/ images "
    "into <root>/{name}/."
)


@dataclass
class RevisitedBenchmark:
    """Database and query images (label -1; queries carry their crop box) and the per-query ground truth
    `gnd[q] = {"easy", "hard", "junk": int64 arrays of database indices, "bbx": box}`. Evaluate with
    `irt_desktop.retrieval.metrics.evaluate_revisited`."""

    name: str
    db: list[ImageRecord]
    queries: list[ImageRecord]
    gnd: list[dict[str, Any]]
    # What differs from the protocol's counts when a partial set was allowed; "" for the complete set.
    partial: str = ""

    @property
    def db_paths(self) -> list[Path]:
        return [r.path for r in self.db]

    @property
    def query_paths(self) -> list[Path]:
        return [r.path for r in self.queries]

    @property
    def query_boxes(self) -> list[Box]:
        return [r.box for r in self.queries]  # type: ignore[misc]


def load_revisited(
    root: str | Path,
    name: str,
    expected: ExpectedCounts | None = None,
    *,
    allow_partial: bool = False,
    check_images: bool = True,
) -> RevisitedBenchmark:
    """Read `<root>/<name>/gnd_<name>.pkl` (`root` may also be the `<name>` folder itself).

    `expected`: database and query counts to hold (protocol.PROTOCOL_COUNTS[name] for the benchmark);
    a set that differs raises PartialDataset unless `allow_partial`. `check_images`: every image of
    imlist and qimlist must be in jpg/."""
    if name not in NAMES:
        raise ValueError(f"unknown revisited dataset {name!r}; choose one of {', '.join(NAMES)}")
    root = Path(root)
    folder = root if (root / f"gnd_{name}.pkl").exists() else root / name
    path = require_file(folder / f"gnd_{name}.pkl", SOURCE.format(name=name))
    try:
        data = safe_load(path)
        imlist, qimlist, raw_gnd = list(data["imlist"]), list(data["qimlist"]), list(data["gnd"])
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise MalformedDatasetFile(
            f"{path}: not a revisited ground-truth file, or cut short ({type(exc).__name__}: {exc})"
        ) from exc
    if len(raw_gnd) != len(qimlist):
        raise MalformedDatasetFile(f"{path}: {len(qimlist)} queries but {len(raw_gnd)} gnd entries")
    gnd = [_clean_query(g, q, len(imlist), path) for q, g in enumerate(raw_gnd)]
    partial = check_counts(
        path, expected, {"database": len(imlist), "query": len(qimlist)}, allow_partial=allow_partial
    )
    jpg = folder / "jpg"
    if check_images:
        for key, names in (("imlist", imlist), ("qimlist", qimlist)):
            for i, n in enumerate(names):
                require_image(jpg / f"{n}.jpg", path, None, f" ({key}[{i}])")
    # As stored, EXIF ignored: the reference loaders (revisitop, cirtorch: PIL open + convert) do not turn
    # images, and `bbx` is given in the stored pixel grid, so turning a query would misplace its crop.
    db = [ImageRecord(jpg / f"{n}.jpg", -1, apply_exif=False) for n in imlist]
    queries = [
        ImageRecord(jpg / f"{n}.jpg", -1, g["bbx"], apply_exif=False)
        for n, g in zip(qimlist, gnd, strict=True)
    ]
    return RevisitedBenchmark(name, db, queries, gnd, partial)


def _clean_query(g: Any, q: int, n_db: int, path: Path) -> dict[str, Any]:
    """Lists or numpy arrays in, int64 arrays and a float box out; indices checked against imlist."""
    try:
        out: dict[str, Any] = {k: np.asarray(g[k], dtype=np.int64).ravel() for k in ("easy", "hard", "junk")}
        x0, y0, x1, y1 = (float(v) for v in np.asarray(g["bbx"]).ravel())
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedDatasetFile(
            f"{path}: gnd[{q}] needs easy/hard/junk index lists and a 4-number bbx"
        ) from exc
    for k in ("easy", "hard", "junk"):
        if out[k].size and (out[k].min() < 0 or out[k].max() >= n_db):
            raise MalformedDatasetFile(f"{path}: gnd[{q}]['{k}'] has an index outside imlist (0..{n_db - 1})")
    out["bbx"] = (x0, y0, x1, y1)
    return out
