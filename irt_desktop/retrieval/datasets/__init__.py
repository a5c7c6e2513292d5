"""Benchmark dataset readers (SOP, CUB-200-2011, In-Shop, ROxford5k/RParis6k, SfM-120k), the protocol counts
they are checked against, and user class folders.

Importing the package loads no torch: ImageDataset (the torch Dataset over records) is loaded on first use.
"""

from typing import Any

from irt_desktop.retrieval.datasets.base import (
    CategoryBenchmark,
    DatasetError,
    ImageRecord,
    MalformedDatasetFile,
    MissingDatasetFile,
    RetrievalSplit,
    UnreadableDatasetImage,
)
from irt_desktop.retrieval.datasets.cub import load_cub
from irt_desktop.retrieval.datasets.folders import FolderDataset, scan_class_folders, split_folder_dataset
from irt_desktop.retrieval.datasets.inshop import load_inshop
from irt_desktop.retrieval.datasets.protocol import PROTOCOL_COUNTS, ExpectedCounts, PartialDataset
from irt_desktop.retrieval.datasets.revisited import RevisitedBenchmark, load_revisited
from irt_desktop.retrieval.datasets.safe_pickle import UnsafePickleError, safe_load
from irt_desktop.retrieval.datasets.sfm120k import SfMDataset, load_sfm120k
from irt_desktop.retrieval.datasets.sop import load_sop

__all__ = [
    "PROTOCOL_COUNTS",
    "CategoryBenchmark",
    "DatasetError",
    "ExpectedCounts",
    "FolderDataset",
    "ImageDataset",
    "ImageRecord",
    "MalformedDatasetFile",
    "MissingDatasetFile",
    "PartialDataset",
    "RetrievalSplit",
    "RevisitedBenchmark",
    "SfMDataset",
    "UnreadableDatasetImage",
    "UnsafePickleError",
    "load_cub",
    "load_inshop",
    "load_revisited",
    "load_sfm120k",
    "load_sop",
    "safe_load",
    "scan_class_folders",
    "split_folder_dataset",
]


def __getattr__(name: str) -> Any:
    if name == "ImageDataset":
        from irt_desktop.retrieval.datasets.image_dataset import ImageDataset

        return ImageDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
