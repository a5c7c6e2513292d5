"""How a benchmark run reports where it is (BenchmarkProgress with an ETA per stage) and how it is
stopped (BenchmarkCancelled, raised at the next report after the cancel event is set)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from irt_desktop.retrieval.training import TrainProgress


@dataclass
class BenchmarkProgress:
    """Where a benchmark run is: `stage` of `dataset` ("load", "train", "pca", "embed", "done"),
    `done` of `total` units (iterations or images), with the stage's estimated time left."""

    dataset: str
    stage: str
    done: int
    total: int
    eta_s: float | None
    message: str = ""
    train: TrainProgress | None = None


class BenchmarkCancelled(Exception):
    pass


class _Reporter:
    """Turns per-stage counts into BenchmarkProgress with an ETA, and raises when cancelled."""

    def __init__(
        self, progress: Callable[[BenchmarkProgress], None] | None, cancel: threading.Event | None
    ) -> None:
        self.progress, self.cancel = progress, cancel or threading.Event()
        self.t0 = time.monotonic()

    def check(self) -> None:
        if self.cancel.is_set():
            raise BenchmarkCancelled

    def stage(self, dataset: str, stage: str, message: str = "", total: int = 0) -> None:
        self.check()
        self.t0 = time.monotonic()
        if self.progress:
            self.progress(BenchmarkProgress(dataset, stage, 0, total, None, message))

    def counter(self, dataset: str, stage: str, message: str = "") -> Callable[[int, int], None]:
        self.stage(dataset, stage, message)

        def report(done: int, total: int) -> None:
            self.check()
            elapsed = time.monotonic() - self.t0
            eta = elapsed / done * (total - done) if done else None
            if self.progress:
                self.progress(BenchmarkProgress(dataset, stage, done, total, eta, message))

        return report

    def training(self, dataset: str) -> Callable[[TrainProgress], None]:
        def report(p: TrainProgress) -> None:
            if self.progress:
                stage = "train" if p.phase == "train" else p.phase
                self.progress(BenchmarkProgress(dataset, stage, p.iteration, p.total, p.eta_s, "", p))

        return report
