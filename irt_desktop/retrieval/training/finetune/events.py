"""What a fine-tune run reports while it works, and what it returns.

Plain frozen dataclasses with no callables or open resources, so they cross a process boundary as they
are (training.finetune.child sends them over a multiprocessing queue). A consumer dispatches on the type:

    Started     once, first: the run's size and the plan's notes (e.g. a rounded batch)
    Evaluating  `done` of `total` held-out photos embedded ("before": the starting model, "after": the
                trained one; `total` 0 when the count is not known)
    Baseline    the starting model's Recall@K on the held-out photos (and each photo's rank of its match)
    Step        after each training iteration (with `eval` when the held-out photos were measured)
    Stage       a step of the end of the run: "pca" (fitting the projection), "save" (writing the bundle)
    Finished    once, last: the result, also returned by run_finetune
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from irt_desktop.retrieval.bundle import ModelBundle
    from irt_desktop.retrieval.training.finetune.compare import RecallComparison


@dataclass(frozen=True)
class Started:
    iterations: int
    batch_size: int
    train_images: int
    held_out_images: int
    device: str
    work_dir: str | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Evaluating:
    which: str  # "before" or "after"
    done: int
    total: int


@dataclass(frozen=True)
class Baseline:
    metrics: dict[str, float]
    ranks: tuple[int, ...] | None = None  # per held-out query: 0-based rank of its first match


@dataclass(frozen=True)
class Step:
    """After training iteration `iteration` of `total`: the losses of that step's global batch."""

    iteration: int
    total: int
    loss: float
    loss_contrastive: float
    loss_koleo: float
    images_per_s: float
    eta_s: float
    eval: dict[str, float] | None = None


@dataclass(frozen=True)
class Stage:
    name: str  # "pca" or "save"


@dataclass
class FinetuneResult:
    """`bundle` is None when the run was cancelled (its checkpoint is kept to resume from) and on DDP
    ranks other than 0, which do not write. `before` / `after`: Recall@K (percent) on the held-out
    photos of the starting and the trained model, where measured; `comparison`: Recall@1 of both with
    bootstrap confidence intervals (finetune.compare), where both were measured."""

    bundle: ModelBundle | None
    cancelled: bool
    before: dict[str, float] | None = None
    after: dict[str, float] | None = None
    history: list[Step] = field(default_factory=list)
    comparison: RecallComparison | None = None

    @property
    def last_step(self) -> Step | None:
        return self.history[-1] if self.history else None


@dataclass(frozen=True)
class Finished:
    result: FinetuneResult


FinetuneEvent = Started | Evaluating | Baseline | Step | Stage | Finished
