"""What a training run reports and returns, and the identity of its data (what a checkpoint is checked
against before it is resumed). Torch-free: the fine-tune planner and the processes that receive a run's
reports import it without loading torch."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from irt_desktop.retrieval.bundle import ModelBundle
from irt_desktop.retrieval.datasets import CategoryBenchmark, FolderDataset, ImageRecord, RetrievalSplit

TrainData = RetrievalSplit | CategoryBenchmark | FolderDataset | Sequence[ImageRecord]
# What evaluation measures Recall@K on (training.evaluate).
EvalSplit = RetrievalSplit | CategoryBenchmark


@dataclass
class TrainProgress:
    """One report: after training iteration `iteration` of `total` (losses of that step's global batch),
    or a `phase` after training ("pca", "save"). `eval` holds Recall@K in percent when evaluated."""

    iteration: int
    total: int
    loss: float
    loss_contrastive: float
    loss_koleo: float
    images_per_s: float
    eta_s: float
    eval: dict[str, float] | None = None
    phase: str = "train"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    """`bundle` is None when cancelled (a checkpoint to resume from is left in work_dir if there is one)
    and on DDP ranks other than 0, which do not write."""

    bundle: ModelBundle | None
    history: list[TrainProgress]
    cancelled: bool
    metrics: dict[str, float] | None = None
    # Of the final evaluation: each held-out query's 0-based rank of its first match.
    ranks: tuple[int, ...] | None = None


def as_records(data: TrainData) -> list[ImageRecord]:
    if isinstance(data, CategoryBenchmark):
        return list(data.train.records)
    if isinstance(data, RetrievalSplit | FolderDataset):
        return list(data.records)
    return list(data)


def data_fingerprint(records: Sequence[ImageRecord]) -> str:
    h = hashlib.sha256()
    for r in records:
        h.update(f"{r.path}\0{r.label}\0{r.box}\n".encode())
    return h.hexdigest()[:16]
