"""Indexing runs: scan (every root, or the paths the watcher reported), then embed what is pending,
finish a model switch once its target has embedded everything, purge long-deleted rows, save FAISS.

Threads: index() and update() may be called from any thread, one run at a time (a run lock makes a
second caller wait): in the GUI the one indexing worker, in the CLI its main or watch thread. That
thread alone runs the model for indexing; the decode pool never does. Safe to kill at any point and run
again: whole batches commit or none.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from irt_desktop.library.catalog import Catalog
from irt_desktop.library.errors import NoModelError
from irt_desktop.library.excludes import ExcludeRules
from irt_desktop.library.models import ModelRegistry
from irt_desktop.library.pipeline import EmbeddingPipeline, PipelineConfig, ProgressCallback
from irt_desktop.library.records import IndexProgress, IndexReport
from irt_desktop.library.scanner import Scanner, ScanOutcome, SeenCallback
from irt_desktop.library.vector_cache import SAVE_INTERVAL_S, VectorCache

# Soft-deleted rows keep their vectors this long, so a file moved away and back is not re-embedded.
DELETED_RETENTION_S = 30 * 24 * 3600


class Indexer:
    def __init__(
        self,
        catalog: Catalog,
        models: ModelRegistry,
        vectors: VectorCache,
        exclude_rules: Callable[[], ExcludeRules],
        config: PipelineConfig | None = None,
    ) -> None:
        self._catalog = catalog
        self._models = models
        self._vectors = vectors
        self._exclude_rules = exclude_rules
        # Read at the start of each embedding pass, so changing it (the CLI's --batch-size) applies next.
        self.config = config or PipelineConfig()
        self._run_lock = threading.Lock()
        # Catalogued images from which a full scan surveys in another process (None: never). The
        # window's library asks for it (Library's survey_in_child); a command line has no GUI thread to
        # spare and saves the ~0.35 s the process costs to start.
        self.survey_in_child_from: int | None = None

    def index(
        self,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        pause: threading.Event | None = None,
    ) -> IndexReport:
        """Scan every root, then embed whatever is pending."""
        with self._run_lock:
            started = time.monotonic()
            roots = self._catalog.root_rows()
            outcome = self._scanner().scan_roots(roots, cancel, _scan_progress(progress, started))
            return self._after_scan(outcome, started, progress, cancel, pause)

    def update(
        self,
        paths: Iterable[Path | str],
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        pause: threading.Event | None = None,
    ) -> IndexReport:
        """Re-check just these files or folders (what the watcher reports), then embed what is pending."""
        with self._run_lock:
            started = time.monotonic()
            roots = self._catalog.root_rows()
            outcome = self._scanner().scan_paths(roots, [os.fspath(p) for p in paths])
            return self._after_scan(outcome, started, progress, cancel, pause)

    def _scanner(self) -> Scanner:
        return Scanner(
            self._catalog,
            transaction=self._vectors.mutation,
            on_changes=self._vectors.apply_scan_changes,
            exclude=self._exclude_rules(),
            prepare=self._load_saved_indexes,
            survey_in_child_from=self.survey_in_child_from,
        )

    def _load_saved_indexes(self) -> None:
        """Before a scan changes rows: load the saved FAISS indexes (while they still match the catalog),
        so the scan's removals and restores reach them and the run saves them current. A run that only
        moves, copies or deletes would otherwise leave the files stale and the next search rebuilding."""
        for model_id in {self._models.serving, self._models.target} - {None}:
            if self._vectors.loaded(model_id) is None and self._vectors.path_for(model_id).is_file():
                with contextlib.suppress(NoModelError):
                    self._vectors.index_for(model_id)

    def _after_scan(
        self,
        outcome: ScanOutcome,
        started: float,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
        pause: threading.Event | None,
    ) -> IndexReport:
        report = IndexReport(scan=outcome.report)
        if cancel is not None and cancel.is_set():
            # Cancelled while scanning: what the scan committed stays; embedding waits for the next run.
            report.cancelled = True
        else:
            self._embed_pending(report, progress, cancel, pause)
        # Rows under a file system that is away (an unmounted drive) stay until it is back.
        self._catalog.purge_deleted_unless_away(time.time() - DELETED_RETENTION_S)
        if progress is not None:
            progress(IndexProgress(report.embedded, report.embedded, 0.0, 0.0, "", "save"))
        self._vectors.save()
        report.seconds = time.monotonic() - started
        report.pending = self._catalog.count_pending(self._models.indexing)
        if progress is not None:
            rate = report.images_per_s
            progress(IndexProgress(report.embedded, report.embedded, rate, 0.0, "", "done"))
        return report

    def _embed_pending(
        self,
        report: IndexReport,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
        pause: threading.Event | None,
    ) -> None:
        # Nothing to embed: do not load a model (an empty library must not demand one).
        if self._models.factory_ready and not self._catalog.count_pending(self._models.indexing):
            self._finish_switch(report)
            return
        if progress is not None:
            progress(IndexProgress(0, 0, 0.0, None, "", "load-model"))
        embedder = self._models.embedder(None)
        model_id = embedder.model_id
        report.model_id = model_id
        todo = self._catalog.pending_for(model_id)
        self._vectors.index_for(model_id)  # loaded (or rebuilt) before the first batch, not inside it
        last_save = time.monotonic()

        def on_commit(ids: np.ndarray, vectors: np.ndarray) -> None:
            self._vectors.add(model_id, ids, vectors)

        def on_progress(p: IndexProgress) -> None:
            nonlocal last_save
            if time.monotonic() - last_save > SAVE_INTERVAL_S:
                self._vectors.save()
                last_save = time.monotonic()
            if progress is not None:
                progress(p)

        pipeline = EmbeddingPipeline(
            self._catalog,
            embedder,
            model_id,
            self.config,
            on_commit=on_commit,
            transaction=self._vectors.mutation,
            refresh=lambda: self._models.embedder(model_id),
        )
        result = pipeline.run(todo, on_progress, cancel, pause)
        report.embedded += result.embedded
        report.failed += result.failed
        report.cancelled = result.cancelled
        if not result.cancelled:
            self._finish_switch(report)

    def _finish_switch(self, report: IndexReport) -> None:
        """The target model has a vector for every image: it serves searches from now on. The model it
        replaces keeps its vectors and FAISS file (off memory), so switching back is immediate; any
        older model's go (their bundles stay installed, so such a switch can still be undone)."""
        target, serving = self._models.target, self._models.serving
        if target is None or target == serving or self._catalog.count_pending(target):
            return
        self._vectors.index_for(target)  # ready before the switch, so the first search does not wait
        keep = {target, serving}
        older = [m for m in self._catalog.model_ids_with_vectors() if m not in keep]
        with self._vectors.mutation() as tx:
            self._catalog.set_serving_model(tx, target)
            self._catalog.set_previous_model(tx, serving)
            for model_id in older:
                self._vectors.discard(model_id)
        report.switched_model = True
        if serving:
            self._models.unload(serving)
            self._vectors.evict(serving)
        for model_id in older:
            self._models.unload(model_id)
            self._catalog.drop_model_vectors(model_id)


def _scan_progress(progress: ProgressCallback | None, started: float) -> SeenCallback | None:
    if progress is None:
        return None
    last = [0.0]

    def seen(n: int, path: str) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.2:
            last[0] = now
            progress(IndexProgress(n, 0, n / max(now - started, 1e-6), None, path, "scan"))

    return seen
