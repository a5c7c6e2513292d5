"""The IRT trainer: fine-tune a bundle's ViT with the paper's objective and save the result as a bundle.

One optimisation step, whatever the number of processes (DDP) or micro-batches (gradient accumulation),
computes the gradient of the loss of the whole global batch: every rank gathers the descriptors of the
global batch (detached), puts its own micro-batch's live descriptors in their place, and backpropagates
the full loss. Each row's gradient then comes from exactly one (rank, micro-batch), and the sum over
them is the gradient of the one-batch loss; accumulation costs one extra no-grad forward pass.
The memory receives the whole global batch once per step, identically on every rank.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from irt_desktop.device import autocast_dtype
from irt_desktop.retrieval.bundle import ModelBundle, save_bundle
from irt_desktop.retrieval.datasets import ImageRecord
from irt_desktop.retrieval.losses import CrossBatchMemory
from irt_desktop.retrieval.model import IRT
from irt_desktop.retrieval.pca import PCAProjection
from irt_desktop.retrieval.training.checkpoint import (
    CheckpointError,
    load_checkpoint,
    prefixed,
    save_checkpoint,
    unprefixed,
)
from irt_desktop.retrieval.training.config import TrainConfig
from irt_desktop.retrieval.training.data import train_dataset, train_loader
from irt_desktop.retrieval.training.distributed import DistContext, init_distributed
from irt_desktop.retrieval.training.evaluate import EvalSplit, evaluate_model, extract_features
from irt_desktop.retrieval.training.momentum import MomentumEncoder
from irt_desktop.retrieval.training.objective import IRTObjective, LossTerms
from irt_desktop.retrieval.training.progress import (
    TrainData,
    TrainProgress,
    TrainResult,
    as_records,
    data_fingerprint,
)
from irt_desktop.retrieval.training.sampler import MicroBatches, MPerClassSampler
from irt_desktop.retrieval.training.trained_card import trained_card

CHECKPOINT_DIR = "checkpoint"

# What a run reports, returns and is identified by lives in training.progress, the bundle's card in
# training.trained_card; they are named here too, where callers have always found them.
__all__ = [
    "CHECKPOINT_DIR",
    "ImageRecord",
    "TrainData",
    "TrainProgress",
    "TrainResult",
    "Trainer",
    "as_records",
    "data_fingerprint",
]


class Trainer:
    """Fine-tunes `bundle` on `train` with `config`; `run()` returns the new bundle.

    `work_dir` holds the checkpoint (resumed automatically when it matches this run's settings, data
    and starting model); without one, nothing is checkpointed. `models_dir` (here or in `run()`) is
    where the trained bundle is saved.
    """

    def __init__(
        self,
        bundle: ModelBundle,
        train: TrainData,
        config: TrainConfig,
        *,
        eval_split: EvalSplit | None = None,
        work_dir: Path | None = None,
        models_dir: Path | None = None,
        name: str | None = None,
        data_name: str | None = None,
        resume: bool = True,
    ) -> None:
        self.base = bundle
        self.records = as_records(train)
        if not self.records:
            raise ValueError("the training set is empty")
        self.config = config
        self.eval_split = eval_split
        self.work_dir = Path(work_dir) if work_dir is not None else None
        self.models_dir = Path(models_dir) if models_dir is not None else None
        self.name = name
        self.data_name = data_name or config.dataset or "custom"
        self.resume = resume

    # -- public -------------------------------------------------------------------------------------------

    def run(
        self,
        progress: Callable[[TrainProgress], None] | None = None,
        cancel: threading.Event | None = None,
        models_dir: Path | None = None,
    ) -> TrainResult:
        models_dir = Path(models_dir) if models_dir is not None else self.models_dir
        ctx = init_distributed(self.config.device)
        if models_dir is None and ctx.is_main:
            raise ValueError("Trainer needs a models_dir to save the trained bundle in")
        run = _Run(self, ctx, progress or (lambda p: None), cancel or threading.Event())
        return run.execute(models_dir)


class _Run:
    """State of one `Trainer.run()` call."""

    def __init__(
        self,
        trainer: Trainer,
        ctx: DistContext,
        progress: Callable[[TrainProgress], None],
        cancel: threading.Event,
    ) -> None:
        self.t, self.ctx, self.progress, self.cancel = trainer, ctx, progress, cancel
        cfg = trainer.config
        self.cfg = cfg
        self.device = ctx.device(cfg.device)
        torch.manual_seed(cfg.seed)
        self.model = self._build_model()
        self.model.train()
        self.net: torch.nn.Module = self.model
        if ctx.enabled:
            on_gpu = self.device.startswith("cuda")
            self.net = DistributedDataParallel(self.model, device_ids=[self.device] if on_gpu else None)
        self.objective = IRTObjective(cfg.beta, cfg.koleo_weight)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.amp_dtype = self._amp_dtype()
        self.scaler = torch.amp.GradScaler(self.device.split(":")[0], enabled=self.amp_dtype == torch.float16)
        mem_size = cfg.resolved_memory_size(len(trainer.records))
        self.memory = CrossBatchMemory(mem_size, self.model.width).to(self.device) if mem_size > 0 else None
        self.key_encoder = (
            MomentumEncoder(self.model, cfg.momentum).to(self.device) if cfg.momentum is not None else None
        )
        self.sampler = MPerClassSampler(
            [r.label for r in trainer.records], cfg.m_per_class, cfg.batch_size, cfg.seed
        )
        if self.sampler.batch_size % (ctx.world_size * cfg.grad_accum):
            raise ValueError(
                f"the batch of {self.sampler.batch_size} images cannot be split over "
                f"{ctx.world_size} process(es) x {cfg.grad_accum} micro-batch(es)"
            )
        self.history: list[TrainProgress] = []
        self.start = 0
        self._done = 0
        self.fingerprint = data_fingerprint(trainer.records)

    # -- setup --------------------------------------------------------------------------------------------

    def _build_model(self) -> IRT:
        model = self.t.base.load_model()
        # Training works on the full-width descriptor; a PCA is (re)fitted afterwards if asked for.
        model.set_pca(None)
        size = self.cfg.input_size
        if size is not None and size != model.spec.input_size:
            # timm's pretrained path resamples the position embeddings to the new grid.
            model = IRT(replace(model.spec, input_size=size), backbone_state=model.backbone.state_dict())
        return model.to(self.device)

    def _amp_dtype(self) -> torch.dtype | None:
        p = self.cfg.precision
        if p == "auto":
            return autocast_dtype(self.device)
        return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[p]

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.split(":")[0], dtype=self.amp_dtype)

    @property
    def precision(self) -> str:
        return "fp32" if self.amp_dtype is None else str(self.amp_dtype).removeprefix("torch.")

    # -- checkpoints --------------------------------------------------------------------------------------

    @property
    def checkpoint_dir(self) -> Path | None:
        return self.t.work_dir / CHECKPOINT_DIR if self.t.work_dir is not None else None

    def _identity(self) -> dict[str, Any]:
        return {
            "trajectory": self.cfg.trajectory(),
            "data": self.fingerprint,
            "base_model": self.t.base.id,
            "world_size": self.ctx.world_size,
        }

    def _save_checkpoint(self, iteration: int) -> None:
        if self.checkpoint_dir is None or not self.ctx.is_main:
            return
        tensors = prefixed("model", self.model.state_dict())
        if self.memory is not None:
            tensors |= prefixed("memory", self.memory.state_dict())
        if self.key_encoder is not None:
            tensors |= prefixed("key", self.key_encoder.model.state_dict())
        state = {
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": torch.get_rng_state(),
        }
        meta = {
            **self._identity(),
            "config": self.cfg.to_dict(),
            "history": [h.to_dict() for h in self.history],
        }
        save_checkpoint(self.checkpoint_dir, iteration, tensors, state, meta)

    def _try_resume(self) -> None:
        if self.checkpoint_dir is None or not self.t.resume:
            return
        ckpt = load_checkpoint(self.checkpoint_dir)
        if ckpt is None:
            return
        mine = self._identity()
        theirs = {k: ckpt.meta.get(k) for k in mine}
        if theirs != mine:
            differ = ", ".join(k for k in mine if theirs[k] != mine[k])
            raise CheckpointError(
                f"{self.checkpoint_dir} holds a checkpoint of a different run ({differ} differ); "
                "use another work folder, or start over without resuming"
            )
        if ckpt.iteration > self.cfg.iterations:
            raise CheckpointError(
                f"{self.checkpoint_dir} holds a run already trained for {ckpt.iteration} iterations, more "
                f"than the {self.cfg.iterations} asked for; ask for at least {ckpt.iteration}, or start over"
            )
        self.model.load_state_dict(unprefixed("model", ckpt.tensors))
        if self.memory is not None:
            self.memory.load_state_dict(unprefixed("memory", ckpt.tensors))
        if self.key_encoder is not None:
            self.key_encoder.model.load_state_dict(unprefixed("key", ckpt.tensors))
        self.optimizer.load_state_dict(ckpt.state["optimizer"])
        if ckpt.state.get("scaler"):
            self.scaler.load_state_dict(ckpt.state["scaler"])
        torch.set_rng_state(ckpt.state["rng"])
        self.history = [TrainProgress(**h) for h in ckpt.meta.get("history", [])]
        self.start = ckpt.iteration

    # -- training -----------------------------------------------------------------------------------------

    def execute(self, models_dir: Path | None) -> TrainResult:
        self._try_resume()
        total = self.cfg.iterations
        cancelled = False
        if self.start < total:
            cancelled = self._train(total)
        if cancelled:
            self._save_checkpoint(self._done)
            return TrainResult(None, self.history, cancelled=True)
        if self.start < total:
            self._save_checkpoint(total)
        return self._finish(models_dir, total)

    def _train(self, total: int) -> bool:
        cfg, ctx = self.cfg, self.ctx
        dataset = train_dataset(self.t.records, self.model.spec)
        batches = MicroBatches(
            self.sampler, self.start, total, chunks=cfg.grad_accum, rank=ctx.rank, world_size=ctx.world_size
        )
        loader = iter(train_loader(dataset, batches, cfg.num_workers, self.device.startswith("cuda")))
        self._done = self.start
        step_time: float | None = None
        for k in range(self.start, total):
            if ctx.broadcast_flag(self.cancel.is_set()):
                return True
            t0 = time.perf_counter()
            micro = [next(loader) for _ in range(cfg.grad_accum)]
            terms = self._step(micro, use_memory=k >= cfg.memory_start)
            self._done = k + 1
            dt = time.perf_counter() - t0
            # A short moving average: the first steps include warm-up and worker start.
            step_time = dt if step_time is None else 0.9 * step_time + 0.1 * dt
            report = TrainProgress(
                iteration=k + 1,
                total=total,
                loss=float(terms.total),
                loss_contrastive=float(terms.contrastive),
                loss_koleo=float(terms.koleo),
                images_per_s=self.sampler.batch_size / step_time,
                eta_s=step_time * (total - k - 1),
            )
            if (
                self.t.eval_split is not None
                and cfg.eval_every
                and (k + 1) % cfg.eval_every == 0
                and k + 1 < total
            ):
                report.eval = self._evaluate()
            self.history.append(report)
            self.progress(report)
            if cfg.checkpoint_every and (k + 1) % cfg.checkpoint_every == 0 and k + 1 < total:
                self._save_checkpoint(k + 1)
        return False

    def _step(
        self, micro: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], use_memory: bool
    ) -> LossTerms:
        ctx, dev = self.ctx, self.device
        memory = self.memory if use_memory else None
        xs = [x.to(dev, non_blocking=True) for x, _, _ in micro]
        y = ctx.all_gather(torch.cat([m[1] for m in micro]).to(dev))
        idx = ctx.all_gather(torch.cat([m[2] for m in micro]).to(dev))
        n_local = sum(len(x) for x in xs)
        offset = ctx.rank * n_local
        if len(xs) == 1:
            with self._autocast():
                z = self.net(xs[0])
            batch_z = ctx.all_gather(z)
            terms = self._backward(_splice(batch_z, z, offset), y, idx, memory)
        else:
            with torch.no_grad(), self._autocast():
                local = torch.cat([self.model(x) for x in xs])
            batch_z = ctx.all_gather(local)
            start = offset
            for j, x in enumerate(xs):
                last = j == len(xs) - 1
                sync = contextlib.nullcontext() if last or not ctx.enabled else self.net.no_sync()
                with sync:
                    with self._autocast():
                        z = self.net(x)
                    terms = self._backward(_splice(batch_z, z, start), y, idx, memory)
                start += len(x)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        if self.key_encoder is not None:
            self.key_encoder.update(self.model)
        if memory is not None:
            keys = batch_z
            if self.key_encoder is not None:
                with self._autocast():
                    keys = ctx.all_gather(torch.cat([self.key_encoder(x) for x in xs]))
            memory.enqueue(keys.float(), y, idx)
        return terms

    def _backward(
        self, z: torch.Tensor, y: torch.Tensor, idx: torch.Tensor, memory: CrossBatchMemory | None
    ) -> LossTerms:
        terms = self.objective(z, y, idx, memory)
        # DDP averages gradients over ranks; each rank holds a disjoint part of the sum, so undo the mean.
        self.scaler.scale(terms.total * self.ctx.world_size).backward()
        return LossTerms(*(t.detach() for t in terms))

    # -- evaluation and output ----------------------------------------------------------------------------

    def _evaluate(self) -> dict[str, float] | None:
        result = None
        if self.ctx.is_main:
            result = evaluate_model(
                self.model,
                self.t.eval_split,
                self.cfg.recall_ks,
                device=self.device,
                num_workers=self.cfg.num_workers,
            )
            self.model.train()
        self.ctx.barrier()
        return result

    def _finish(self, models_dir: Path | None, total: int) -> TrainResult:
        if not self.ctx.is_main:
            self.ctx.barrier()
            return TrainResult(None, self.history, cancelled=False)
        model = self.model.eval()
        last = self.history[-1] if self.history else None
        pca_info = None
        if self.cfg.pca_dims:
            self._phase("pca", total, last)
            feats = extract_features(
                model, self.t.records, device=self.device, raw=True, num_workers=self.cfg.num_workers
            )
            model.set_pca(PCAProjection.fit(feats, self.cfg.pca_dims).to(self.device))
            pca_info = {"dims": self.cfg.pca_dims, "fitted_on": f"{len(feats)} training images"}
        metrics, info = None, {}
        if self.t.eval_split is not None:
            self._phase("eval", total, last)
            metrics = evaluate_model(
                model,
                self.t.eval_split,
                self.cfg.recall_ks,
                device=self.device,
                num_workers=self.cfg.num_workers,
                info=info,
            )
            if self.history:
                self.history[-1].eval = metrics
        self._phase("save", total, last, metrics)
        bundle = save_bundle(model.to("cpu"), trained_card(self, total, metrics, pca_info), models_dir)
        self.ctx.barrier()
        ranks = tuple(int(r) for r in info["ranks"]) if "ranks" in info else None
        return TrainResult(bundle, self.history, cancelled=False, metrics=metrics, ranks=ranks)

    def _phase(self, phase: str, total: int, last: TrainProgress | None, eval: dict | None = None) -> None:
        nan = math.nan
        self.progress(
            TrainProgress(
                total,
                total,
                last.loss if last else nan,
                last.loss_contrastive if last else nan,
                last.loss_koleo if last else nan,
                0.0,
                0.0,
                eval,
                phase,
            )
        )

def _splice(batch: torch.Tensor, rows: torch.Tensor, start: int) -> torch.Tensor:
    """`batch` with rows `start..start+len(rows)` replaced by `rows` (which carry the gradient)."""
    return torch.cat([batch[:start], rows, batch[start + len(rows) :]])
