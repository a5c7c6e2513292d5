"""Where the benchmark datasets are: the default data root, which datasets are present under a root (or
in a folder of their own), what file was expected for each missing one, and the per-run data root that
gathers datasets kept in different places. `irt-desktop benchmark`, `train --dataset` and the GUI's
benchmark pane all ask here."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from irt_desktop.retrieval.benchmark.catalog import DATASETS

DATA_ENV = "IRT_DATA"
# Under the library folder: the datasets when $IRT_DATA is not set, and one folder per benchmark run.
DATASETS_FOLDER = "datasets"
BENCHMARKS_FOLDER = "benchmarks"
# The per-run data root of links (linked_data_root), inside the run's output folder.
LINKS_FOLDER = "data"


def default_data_root(library: Path) -> Path:
    """$IRT_DATA if set, else the library's datasets folder."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else Path(library) / DATASETS_FOLDER


def benchmark_output_dir(library: Path, label: str = "", when: datetime | None = None) -> Path:
    """A new folder for one run's results: LIBRARY/benchmarks/<time>[-<label>]."""
    stamp = (when or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return Path(library) / BENCHMARKS_FOLDER / (f"{stamp}-{label}" if label else stamp)


@dataclass(frozen=True)
class DatasetPlace:
    """Where one dataset would be read from. `folder` is None when there is neither a data root nor a
    folder of its own; `missing` is the index file expected there and not found."""

    name: str
    title: str
    folder: Path | None
    missing: Path | None
    own_folder: bool = False  # chosen for this dataset rather than found under the data root

    @property
    def present(self) -> bool:
        return self.folder is not None and self.missing is None

    def describe(self) -> str:
        """One line for a list of datasets."""
        if self.folder is None:
            return "choose a data folder"
        if self.missing is not None:
            return f"not found: expected {self.missing}"
        return str(self.folder)


def dataset_places(
    data_root: Path | str | None,
    overrides: Mapping[str, Path | str] | None = None,
    names: Iterable[str] | None = None,
) -> dict[str, DatasetPlace]:
    """Per dataset (every one, or `names`), where it would be read from and whether it is there.
    `overrides` gives datasets a folder of their own; an empty `data_root` means none was chosen."""
    overrides = overrides or {}
    root = Path(data_root).expanduser() if data_root else None
    places = {}
    for name in names if names is not None else DATASETS:
        ds = DATASETS[name]
        own = overrides.get(name)
        folder = Path(own).expanduser() if own else ds.locate(root) if root is not None else None
        missing = ds.missing_file(folder) if folder is not None else None
        places[name] = DatasetPlace(name, ds.title, folder, missing, own_folder=bool(own))
    return places


def linked_data_root(
    out_dir: Path,
    data_root: Path | str | None,
    overrides: Mapping[str, Path | str] | None,
    names: Iterable[str],
) -> Path:
    """The data root a run reads: `data_root` itself, or, when some dataset has a folder of its own, a
    folder of links in `out_dir`, one per dataset under its documented name (the runner only knows the
    layout under one root)."""
    names = list(names)
    places = dataset_places(data_root, overrides, names)
    if not any(p.own_folder for p in places.values()):
        return Path(data_root or "").expanduser()
    farm = Path(out_dir) / LINKS_FOLDER
    farm.mkdir(parents=True, exist_ok=True)
    for name, place in places.items():
        if place.folder is None or not place.folder.exists():
            continue
        link = farm / DATASETS[name].folders[0]
        if link.is_symlink() or link.exists():
            continue
        try:
            os.symlink(place.folder, link, target_is_directory=True)
        except OSError as exc:
            raise RuntimeError(
                f"cannot link {place.folder} as {link} ({exc}); put the dataset in the data folder as "
                f"{DATASETS[name].folders[0]}/ instead"
            ) from exc
    return farm
