"""The paper's benchmark (`irt-desktop --benchmark`) and the CPU smoke suite."""

from irt_desktop.retrieval.benchmark.catalog import DATASETS, BenchmarkDataset, parse_dataset_names
from irt_desktop.retrieval.benchmark.data_root import (
    DatasetPlace,
    benchmark_output_dir,
    dataset_places,
    default_data_root,
    linked_data_root,
)
from irt_desktop.retrieval.benchmark.report import BenchmarkResult, BenchmarkRow
from irt_desktop.retrieval.benchmark.runner import (
    TRAIN_CHOICES,
    BenchmarkProgress,
    default_bundle,
    model_variant,
    run_benchmark,
)
from irt_desktop.retrieval.benchmark.smoke import SCALES, run_smoke_suite
from irt_desktop.retrieval.benchmark.smoke_data import make_smoke_dataset
from irt_desktop.retrieval.benchmark.suite import SUITES, run_suite

__all__ = [
    "DATASETS",
    "SCALES",
    "SUITES",
    "TRAIN_CHOICES",
    "BenchmarkDataset",
    "BenchmarkProgress",
    "BenchmarkResult",
    "BenchmarkRow",
    "DatasetPlace",
    "benchmark_output_dir",
    "dataset_places",
    "default_bundle",
    "default_data_root",
    "linked_data_root",
    "make_smoke_dataset",
    "model_variant",
    "parse_dataset_names",
    "run_benchmark",
    "run_smoke_suite",
    "run_suite",
]
