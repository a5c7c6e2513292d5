"""Running a planned fine-tune: measure the starting model, train, measure the result, save the bundle.

`run_finetune(plan, on_event, cancel)` reports typed events (finetune.events) and returns a
FinetuneResult. `cancel` is anything with `is_set()` (a threading.Event, or a multiprocessing Event when
the run is in a child process): the trainer stops after the current step and keeps its checkpoint.
The cost probe the wizard's time estimate uses (measure_cost) lives here too, with the same calling
convention.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from irt_desktop.retrieval.bundle import ModelBundle
from irt_desktop.retrieval.training.evaluate import evaluate_bundle
from irt_desktop.retrieval.training.finetune.compare import compare_recall
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
from irt_desktop.retrieval.training.finetune.plan import DeviceCost, FinetunePlan
from irt_desktop.retrieval.training.finetune.runs import record_run
from irt_desktop.retrieval.training.trainer import Trainer, TrainProgress

OnEvent = Callable[[FinetuneEvent], None]
# The probe: timed training steps after one warm-up, and photos decoded to time decoding.
PROBE_STEPS = 2
DECODE_SAMPLE = 8


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
    if plan.work_dir is not None:
        record_run(plan)
    before, before_ranks = None, None
    if plan.baseline and plan.held_out is not None:
        emit(Evaluating("before", 0, plan.held_out_images))
        info: dict[str, Any] = {}
        before = evaluate_bundle(
            plan.base,
            plan.held_out,
            cfg.recall_ks,
            device=cfg.device,
            num_workers=cfg.num_workers,
            progress=lambda done, total: emit(Evaluating("before", done, total)),
            info=info,
        )
        before_ranks = tuple(int(r) for r in info["ranks"]) if "ranks" in info else None
        emit(Baseline(before, before_ranks))
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
    after, comparison = None, None
    if not trained.cancelled:
        # Without a final evaluation (nothing held out: None) the last periodic one is the best figure.
        after = trained.metrics or (history[-1].eval if history else None)
        if before_ranks is not None and trained.ranks is not None:
            comparison = compare_recall(before_ranks, trained.ranks, k=1)
    result = FinetuneResult(trained.bundle, trained.cancelled, before, after, history, comparison)
    return _finished(emit, result)


def measure_cost(
    bundle: ModelBundle,
    input_size: int,
    device: str,
    batch: int = 8,
    *,
    precision: str = "auto",
    sample: Sequence[str | Path] = (),
    on_event: OnEvent | None = None,
    cancel: CancelFlag | None = None,
) -> DeviceCost:
    """What one image costs on `device` for `bundle`'s architecture at `input_size`, timed: a few
    optimiser steps and a forward pass on random data at `precision` (as the run's: "auto" is bf16
    autocast where the device runs it), and the decoding and augmentation of up to 8 of the `sample`
    photos (the user's own: their size is what decoding costs). Random weights: the speed does not
    depend on them, and no model file is read."""
    import torch

    from irt_desktop.device import autocast_dtype
    from irt_desktop.retrieval.model import IRT

    t_setup = time.perf_counter()
    spec = dataclasses.replace(bundle.card.spec, input_size=input_size, dims=None)
    model = IRT(spec).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6)
    x = torch.randn(batch, 3, input_size, input_size, device=device)
    lowered = {"bf16": torch.bfloat16, "fp16": torch.float16}
    amp = autocast_dtype(device) if precision == "auto" else lowered.get(precision)

    def autocast() -> contextlib.AbstractContextManager:
        if amp is None:
            return contextlib.nullcontext()
        return torch.autocast(device.split(":")[0], dtype=amp)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with autocast():
            z = model(x)
        z.float().sum().backward()
        opt.step()

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    step()  # warm-up: allocations, kernel selection
    sync()
    setup_s = time.perf_counter() - t_setup
    t0 = time.perf_counter()
    steps = 0
    for _ in range(PROBE_STEPS):
        if cancel is not None and cancel.is_set():
            break
        step()
        steps += 1
    sync()
    train_s = (time.perf_counter() - t0) / (max(steps, 1) * batch)
    model.eval()
    with torch.inference_mode(), autocast():
        model(x)
        sync()
        t0 = time.perf_counter()
        model(x)
        sync()
    eval_s = (time.perf_counter() - t0) / batch
    return DeviceCost(
        train_s=train_s,
        eval_s=eval_s,
        decode_s=_decode_cost(spec, sample),
        setup_s=setup_s,
        how=f"timed on {device}: {steps} training steps of {batch} images",
    )


def measure_speed(
    bundle: ModelBundle,
    input_size: int,
    device: str,
    batch: int = 8,
    *,
    on_event: OnEvent | None = None,
    cancel: CancelFlag | None = None,
) -> float:
    """Training images per second of `bundle`'s architecture at `input_size` on `device` (decoding not
    counted): measure_cost's training figure."""
    return measure_cost(bundle, input_size, device, batch, precision="fp32", cancel=cancel).images_per_s


def _decode_cost(spec: Any, sample: Sequence[str | Path]) -> float:
    """Seconds to decode and augment one of `sample` as training does (JPEG draft decoding near the
    size it is resized to); 0.0 without a sample."""
    from irt_desktop.retrieval.datasets import ImageRecord
    from irt_desktop.retrieval.datasets.image_dataset import ImageDataset
    from irt_desktop.retrieval.transforms import resize_side, train_transform

    paths = list(sample)[:DECODE_SAMPLE]
    if not paths:
        return 0.0
    data = ImageDataset(
        [ImageRecord(Path(p), 0) for p in paths], train_transform(spec), min_side=resize_side(spec)
    )
    t0 = time.perf_counter()
    done = 0
    for i in range(len(data)):
        try:
            data[i]
        except Exception:  # an unreadable photo is the run's to report; it costs nothing to skip here
            continue
        done += 1
    return (time.perf_counter() - t0) / max(done, 1)


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
