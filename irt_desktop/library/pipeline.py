"""Embedding what is pending: decode on a thread pool, embed in batches, one transaction per batch.

Crash safety comes from the batch transaction: a batch's vectors and its rows' status commit together,
so after a kill the catalog holds whole batches only, and the next run picks up the rest (pending =
no vector from the target model yet). A cancel is seen between images: the batch being embedded when it
comes is committed, the images decoded for the next one are dropped (they stay pending), and a paused
run notices it at once. A file whose decode kills the process is caught by the markers
of library.decoding, so it cannot stop every later run at the same place.

Memory: decoded pixels are bounded by `memory_budget` (library.budget), decodes wait for room rather
than start; the tensors waiting for the model (the prefetch window) take at most a quarter of it.

Threads: `run()` on the indexing thread, which alone runs the model; the decode pool only reads and
decodes files, and never touches the catalog or the embedder.

CPU sharing (measured in tests/perf/bench_indexing.py): on a CPU-only machine decoding and the model
compete for the same cores. Decoding runs ahead of the model by at most `prefetch` images; the decode
threads run at a lower scheduling priority where the OS allows it, so the model's threads, which wait
for each other at every layer, are not preempted mid-batch, and decoding fills the gaps the model leaves.
Eager torch on a CPU is the exception (`PipelineConfig.overlap_decode`): its OpenMP threads still lost
more to the decode threads than the overlap won, so there a batch is decoded on every core, then
embedded on every core (+10-15 % images per CPU-second in bench_indexing, same rounds).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from irt_desktop.images import DEFAULT_MAX_PIXELS
from irt_desktop.library.budget import MemoryBudget
from irt_desktop.library.catalog import Catalog, Tx
from irt_desktop.library.decode import DEFAULT_MAX_FILE_BYTES, Decoded, Tensorizer
from irt_desktop.library.decoding import (
    DEFAULT_MEMORY_BUDGET,
    DecodeStage,
    next_retry,
    settle_leftovers,
    suspects_last,
)
from irt_desktop.library.records import FailureKind, IndexProgress

if TYPE_CHECKING:
    from irt_desktop.retrieval.serving import DescriptorModel as Embedder

ProgressCallback = Callable[[IndexProgress], None]
# Called inside each batch's transaction with the ids and vectors it commits.
CommitHook = Callable[[np.ndarray, np.ndarray], None]


@dataclass
class PipelineConfig:
    batch_size: int = 32
    decode_workers: int = 0  # 0: chosen from the device and the core count
    prefetch_batches: int = 2
    # Decode the next batch while the model embeds this one. None: yes, except for eager torch on a
    # CPU, whose OpenMP threads stall at every layer when a decode thread takes one of their cores;
    # there decoding a batch on all cores, then embedding it on all cores, is faster.
    overlap_decode: bool | None = None
    # Lower the decode threads' priority (Linux: per-thread nice) so the model keeps its cores.
    nice_decoders: bool = True
    # Bytes of decoded pixels all decodes together may hold (default 1.5 GB); a file that needs more
    # alone is failed, and a decode that needs over a quarter of it runs alone.
    memory_budget: int = DEFAULT_MEMORY_BUDGET
    # Per-file caps, both checked before any pixel is decoded.
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS

    def overlaps(self, embedder: object) -> bool:
        if self.overlap_decode is not None:
            return self.overlap_decode
        return not (getattr(embedder, "backend", "") == "torch" and getattr(embedder, "device", "") == "cpu")

    def workers_for(self, device: str) -> int:
        if self.decode_workers > 0:
            return self.decode_workers
        return max(1, os.cpu_count() or 1)


@dataclass
class PipelineResult:
    embedded: int = 0
    failed: int = 0
    cancelled: bool = False


def _lower_priority() -> None:
    if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class EmbeddingPipeline:
    def __init__(
        self,
        catalog: Catalog,
        embedder: Embedder,
        model_id: str,
        config: PipelineConfig | None = None,
        on_commit: CommitHook | None = None,
        transaction: Callable[[], contextlib.AbstractContextManager[Tx]] | None = None,
        refresh: Callable[[], Embedder] | None = None,
    ) -> None:
        """`refresh`, asked before every batch, returns the embedder to use from then on: the library
        swaps in one with another device or precision without stopping a long run."""
        self.catalog = catalog
        self._refresh = refresh
        self._transaction = transaction or catalog.transaction
        self.embedder = embedder
        self.model_id = model_id
        self.config = config or PipelineConfig(batch_size=embedder.batch_size)
        self.on_commit = on_commit
        self.tensorize = Tensorizer(embedder.spec)

    def run(
        self,
        todo: Sequence[tuple[int, str]],
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        pause: threading.Event | None = None,
    ) -> PipelineResult:
        result = PipelineResult()
        if not todo:
            return result
        crashed = set(settle_leftovers(self.catalog, self._transaction))
        result.failed += len(crashed)
        items = suspects_last(self.catalog, [t for t in todo if t[0] not in crashed])
        total = len(items)
        if not total:
            return result
        cfg = self.config
        batch_size = max(1, cfg.batch_size)
        workers = cfg.workers_for(self.embedder.device)
        window, decode_budget = self._window(workers, batch_size)
        overlap = cfg.overlaps(self.embedder)
        if not overlap:
            window = min(window, batch_size)
        started = time.monotonic()
        done = 0
        initializer = _lower_priority if cfg.nice_decoders and self.embedder.device == "cpu" else None
        pending = deque(items)
        inflight: deque[Future[Decoded]] = deque()
        batch: list[Decoded] = []
        current = ""

        def report(phase: str = "embed") -> None:
            if progress is None:
                return
            elapsed = time.monotonic() - started
            rate = done / elapsed if elapsed > 0 and done else 0.0
            eta = (total - done) / rate if rate > 0 else None
            progress(IndexProgress(done, total, rate, eta, current, phase))

        def stopped() -> bool:
            while pause is not None and pause.is_set() and not (cancel is not None and cancel.is_set()):
                time.sleep(0.05)
            return cancel is not None and cancel.is_set()

        budget = MemoryBudget(decode_budget)
        # The markers' connection closes after the pool, whose running decodes end their markers first.
        with (
            contextlib.closing(self.catalog.decode_marks(os.getpid())) as marks,
            ThreadPoolExecutor(workers, thread_name_prefix="irt-decode", initializer=initializer) as pool,
        ):
            stage = DecodeStage(
                self.tensorize, budget, marks, max_pixels=cfg.max_pixels, max_bytes=cfg.max_file_bytes
            )

            def refill() -> None:
                while len(inflight) < window and pending:
                    if pending[0][2] and (inflight or batch):
                        # A suspect starts only once all before it is committed: if it kills the
                        # process, nothing else is lost.
                        return
                    inflight.append(pool.submit(stage.decode, *pending.popleft()))

            refill()
            try:
                while inflight:
                    if stopped():
                        result.cancelled = True
                        break
                    batch.append(inflight.popleft().result())
                    if overlap:
                        refill()
                    if len(batch) >= batch_size or not inflight:
                        current = items[min(done + len(batch), total) - 1][1]
                        self._commit(batch, result)
                        done += len(batch)
                        batch.clear()
                        report()
                        refill()
            finally:
                for f in inflight:
                    f.cancel()
        return result

    def _window(self, workers: int, batch_size: int) -> tuple[int, int]:
        """(images decoded ahead of the model, bytes left for decoding): the decoded tensors waiting
        for the model take at most a quarter of the memory budget."""
        cfg = self.config
        tensor = self.tensorize.tensor_bytes
        window = max(workers, batch_size * max(1, cfg.prefetch_batches))
        window = min(window, max(batch_size, cfg.memory_budget // 4 // tensor))
        return window, max(cfg.memory_budget - window * tensor, cfg.memory_budget // 2)

    def _current_embedder(self) -> Embedder:
        if self._refresh is not None:
            embedder = self._refresh()
            if embedder is not self.embedder:
                if embedder.model_id != self.model_id or embedder.dim != self.embedder.dim:
                    raise RuntimeError(f"the embedder for {self.model_id} was replaced by another model's")
                self.embedder = embedder
        return self.embedder

    def _commit(self, batch: list[Decoded], result: PipelineResult) -> None:
        good = [d for d in batch if d.tensor is not None]
        self._current_embedder()
        vectors = np.zeros((0, self.embedder.dim), np.float32)
        if good:
            vectors = self.embedder.embed_array(np.stack([d.tensor for d in good]))
        now = time.time()
        catalog = self.catalog
        transient = [d.image_id for d in batch if d.tensor is None and d.kind == FailureKind.TRANSIENT]
        failed_before = catalog.failed_attempts(transient) if transient else {}
        with self._transaction() as tx:
            seq = catalog.next_seq(tx)
            kept_ids, kept_vecs = [], []
            for d, v in zip(good, vectors, strict=True):
                # The row may have been removed (its root removed) while we were decoding it.
                if catalog.mark_embedded(
                    tx,
                    d.image_id,
                    size=d.size,
                    mtime_ns=d.mtime_ns,
                    quick_hash=d.quick_hash,
                    full_hash=d.full_hash,
                    width=d.width,
                    height=d.height,
                    exif_taken=d.exif_taken,
                    at=now,
                ):
                    kept_ids.append(d.image_id)
                    kept_vecs.append(v)
            for d in batch:
                if d.tensor is None:
                    catalog.mark_failed(
                        tx,
                        d.image_id,
                        d.error,
                        size=d.size,
                        mtime_ns=d.mtime_ns,
                        quick_hash=d.quick_hash,
                        full_hash=d.full_hash,
                        at=now,
                        kind=d.kind or FailureKind.PERMANENT,
                        retry_at=next_retry(failed_before.get(d.image_id, 0), now),
                    )
                    result.failed += 1
            ids = np.asarray(kept_ids, np.int64)
            vecs = np.asarray(kept_vecs, np.float32).reshape(len(kept_ids), self.embedder.dim)
            catalog.put_vectors(tx, self.model_id, ids, vecs, seq)
            if self.on_commit is not None and len(ids):
                self.on_commit(ids, vecs)
        result.embedded += len(kept_ids)
