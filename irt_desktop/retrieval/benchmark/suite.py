"""One benchmark run, named as the command line and the GUI's Benchmark tab both name it: the paper's
datasets (each from the data root or a folder of its own), or the generated smoke suite at a scale."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from irt_desktop.retrieval.benchmark.data_root import linked_data_root
from irt_desktop.retrieval.benchmark.report import BenchmarkResult
from irt_desktop.retrieval.benchmark.runner import BenchmarkProgress, run_benchmark
from irt_desktop.retrieval.benchmark.smoke import SCALES, run_smoke_suite
from irt_desktop.retrieval.bundle import ModelBundle

PAPER = "paper"
SUITES = (PAPER, *(f"smoke-{scale}" for scale in SCALES))


def run_suite(
    suite: str,
    out_dir: Path,
    *,
    datasets: Sequence[str] = (),
    data_root: Path | str | None = None,
    dataset_folders: Mapping[str, Path | str] | None = None,
    model: ModelBundle | None = None,
    train: str = "none",
    dims: int | None = None,
    device: str | None = None,
    iterations: int | None = None,
    models_dir: Path | None = None,
    num_workers: int | None = None,
    progress: Callable[[BenchmarkProgress], None] | None = None,
    cancel: threading.Event | None = None,
    fast: bool = False,
    allow_partial: bool = False,
    multiscale: bool = False,
    seeds: Sequence[int] | None = None,
    pooling: str | None = None,
) -> BenchmarkResult:
    """`suite` is "paper" (run_benchmark on `datasets`) or "smoke-<scale>" (run_smoke_suite; it ignores
    the dataset and model choices, and always runs fast). `dataset_folders` gives datasets a folder of
    their own, seen by the run through links in `out_dir`. `num_workers` None: loader_workers_for(device).
    `fast`, `allow_partial`, `multiscale`, `seeds`, `pooling`: as for run_benchmark."""
    if suite not in SUITES:
        raise ValueError(f"unknown benchmark suite {suite!r}; choose one of {', '.join(SUITES)}")
    if num_workers is None:
        from irt_desktop.device import best_device
        from irt_desktop.retrieval.training.data import loader_workers_for

        num_workers = loader_workers_for(best_device(device))
    if suite != PAPER:
        return run_smoke_suite(
            out_dir,
            device=device,
            scale=suite.removeprefix("smoke-"),
            iterations=iterations,
            progress=progress,
            cancel=cancel,
            num_workers=num_workers,
        )
    return run_benchmark(
        list(datasets),
        linked_data_root(out_dir, data_root, dataset_folders, datasets),
        model=model,
        train=train,
        dims=dims,
        device=device,
        out_dir=out_dir,
        progress=progress,
        cancel=cancel,
        models_dir=models_dir,
        iterations=iterations,
        num_workers=num_workers,
        fast=fast,
        allow_partial=allow_partial,
        multiscale=multiscale,
        seeds=seeds,
        pooling=pooling,
    )
