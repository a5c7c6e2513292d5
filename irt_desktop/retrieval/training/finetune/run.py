"""Running a planned fine-tune: measure the starting model, train, measure the result, save the bundle.

`run_finetune(plan, on_event, cancel)` reports typed events (finetune.events) and returns a
FinetuneResult. `cancel` is anything with `is_set()` (a threading.Event, or a multiprocessing Event when
the run is in a child process): the trainer stops after the current step and keeps its checkpoint.
The speed probe the wizard's time estimate uses lives here too, with the same calling convention.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from irt_desktop.retrieval.bundle import ModelBundle
from irt_desktop.retrieval.training.evaluate import evaluate_bundle
from irt_desktop.retrieval.training.finetune.events import (
    Baseline,
    Evaluating,
    FinetuneEvent,
    FinetuneResult,
    Finished,
    Stage,
    Started,
    Step,
)
from irt_desktop.retrieval.training.finetune.plan import FinetunePlan
from irt_desktop.retrieval.training.trainer import Trainer, TrainProgress

OnEvent = Callable[[FinetuneEvent], None]


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


def run_finetune(
    plan: FinetunePlan, on_event: OnEvent | None = None, cancel: CancelFlag | None = None
) -> FinetuneResult:
    """Train as planned. Raises what the trainer raises (CheckpointError for a work folder holding
    another run's checkpoint, BundleError for a damaged starting model)."""
    emit = on_event or _ignore
    stop: Any = cancel if cancel is not None else threading.Event()
    cfg = plan.config
    emit(
        Started(
            iterations=cfg.iterations,
            batch_size=cfg.batch_size,
            train_images=len(plan.train),
            held_out_images=plan.held_out_images,
            device=plan.device,
            work_dir=str(plan.work_dir) if plan.work_dir is not None else None,
            notes=plan.notes,
        )
    )
    before = None
    if plan.baseline and plan.held_out is not None:
        emit(Evaluating("before", 0, plan.held_out_images))
        before = evaluate_bundle(
            plan.base,
            plan.held_out,
            cfg.recall_ks,
            device=cfg.device,
            num_workers=cfg.num_workers,
            progress=lambda done, total: emit(Evaluating("before", done, total)),
        )
        emit(Baseline(before))
        if stop.is_set():
            return _finished(emit, FinetuneResult(None, cancelled=True, before=before))
    trainer = Trainer(
        plan.base,
        plan.train,
        cfg,
        eval_split=plan.held_out,
        work_dir=plan.work_dir,
        models_dir=plan.models_dir,
        name=plan.name,
        data_name=plan.data_name,
        resume=plan.resume,
    )
    trained = trainer.run(progress=lambda p: emit(_event(p)), cancel=stop)
    history = [_step(h) for h in trained.history if h.phase == "train"]
    after = None
    if not trained.cancelled:
        # Without a final evaluation (nothing held out: None) the last periodic one is the best figure.
        after = trained.metrics or (history[-1].eval if history else None)
    return _finished(emit, FinetuneResult(trained.bundle, trained.cancelled, before, after, history))


def measure_speed(
    bundle: ModelBundle,
    input_size: int,
    device: str,
    batch: int = 8,
    *,
    on_event: OnEvent | None = None,
    cancel: CancelFlag | None = None,
) -> float:
    """Training images per second of `bundle`'s architecture at `input_size` on `device`, from a few
    optimiser steps on random data (a real run also decodes photos: the time it gives is a lower
    bound). Random weights: the speed does not depend on them, and nothing is read from disk."""
    import torch

    from irt_desktop.retrieval.model import IRT

    spec = dataclasses.replace(bundle.card.spec, input_size=input_size, dims=None)
    model = IRT(spec).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6)
    x = torch.randn(batch, 3, input_size, input_size, device=device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        model(x).sum().backward()
        opt.step()

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    step()  # warm-up: allocations, kernel selection
    sync()
    t0 = time.perf_counter()
    steps = 0
    for _ in range(2):
        if cancel is not None and cancel.is_set():
            break
        step()
        steps += 1
    sync()
    return max(steps, 1) * batch / max(time.perf_counter() - t0, 1e-6)


def _event(p: TrainProgress) -> FinetuneEvent:
    if p.phase == "train":
        return _step(p)
    if p.phase == "eval":
        return Evaluating("after", 0, 0)
    return Stage(p.phase)


def _step(p: TrainProgress) -> Step:
    return Step(
        iteration=p.iteration,
        total=p.total,
        loss=p.loss,
        loss_contrastive=p.loss_contrastive,
        loss_koleo=p.loss_koleo,
        images_per_s=p.images_per_s,
        eta_s=p.eta_s,
        eval=p.eval,
    )


def _finished(emit: OnEvent, result: FinetuneResult) -> FinetuneResult:
    emit(Finished(result))
    return result


def _ignore(event: FinetuneEvent) -> None:
    pass
