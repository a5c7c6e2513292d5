"""The facade the GUI and the CLI use: one library folder, composed of rooms with one job each:
catalog (SQL), models (registry), vector_cache (FAISS), indexer, roots and excludes, searcher, reports.

Threads: any thread may call any method. One indexing run (index/update) happens at a time; search,
status and friends run alongside it (per-thread SQLite connections in WAL mode, FAISS behind a lock).
Every change that touches both the catalog and an in-memory FAISS index happens under the vector
cache's mutation: the index lock, then the SQLite write transaction.

Processes: a writer (the default) holds the library's writer lock from open to close, so one process
writes a library at a time (library/lock.py); `read_only=True` opens for search, status, duplicates and
reports without the lock, never creating, migrating or waiting (library/health.py).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from irt_desktop.library.catalog import Catalog
from irt_desktop.library.excludes import StoredExcludes
from irt_desktop.library.filters import FolderCount, SearchFilter, SortKey
from irt_desktop.library.health import Storage
from irt_desktop.library.indexer import Indexer
from irt_desktop.library.lock import Holder
from irt_desktop.library.models import ModelRegistry, checked_device
from irt_desktop.library.pipeline import PipelineConfig, ProgressCallback
from irt_desktop.library.records import (
    DuplicateReport,
    Failure,
    ImageInfo,
    ImageStatus,
    IndexReport,
    LibraryStatus,
    Root,
    SearchHit,
    Skipped,
)
from irt_desktop.library.reports import Reports
from irt_desktop.library.roots import Roots
from irt_desktop.library.scanner import SURVEY_IN_CHILD_FROM
from irt_desktop.library.search import Box, Query, Searcher
from irt_desktop.library.trash import (
    TrashAction,
    TrashedFile,
    TrashResult,
    restore_images,
    trash_history,
    trash_images,
)
from irt_desktop.library.vector_cache import VectorCache
from irt_desktop.library.vector_index import EXACT_MAX
from irt_desktop.library.watcher import PathsCallback, Watcher
from irt_desktop.paths import LibraryLayout
from irt_desktop.retrieval.bundle import ModelBundle

if TYPE_CHECKING:
    from irt_desktop.retrieval.serving import DescriptorModel as Embedder


class Library:
    def __init__(
        self,
        path: Path,
        embedder_factory: Callable[[], Embedder] | None = None,
        *,
        pipeline: PipelineConfig | None = None,
        exact_max: int = EXACT_MAX,
        device: str | None = None,
        low_precision: bool = True,
        default_exclude_patterns: Sequence[str] | None = None,
        backend: str | None = None,
        read_only: bool = False,
        wait_s: float = 0.0,
        role: str = "",
        on_wait: Callable[[Holder | None], None] | None = None,
        survey_in_child: bool = False,
    ) -> None:
        """`device` ('cpu', 'cuda', 'cuda:N', 'mps'; None or 'auto': the fastest, or $IRT_DEVICE),
        `low_precision` (bf16/fp16 where native and close to fp32) and `backend` ('auto', 'torch',
        'openvino'; None: $IRT_BACKEND or auto) apply to models loaded from bundles; `embedder_factory`
        builds its own embedder. `default_exclude_patterns`: StoredExcludes.

        A writer waits up to `wait_s` seconds (math.inf: as long as it takes; `on_wait(holder)` is told
        once) for another process's writer lock, then raises LibraryBusy; `role` ('gui', 'index', ...) is
        recorded with the lock. `read_only`: no lock, nothing created (NoLibrary where there is none).
        `survey_in_child`: a large library's full rescans walk and compare in a child process, off this
        process's GIL and cores (the window asks for it: library/survey_process.py).
        A damaged or foreign catalog raises CatalogDamaged; `irt-desktop repair` restores a backup."""
        device = checked_device(device)  # refused before anything is created on disk
        self.layout = LibraryLayout(Path(path))
        self.path = self.layout.root
        self.read_only = read_only
        self.models_dir = self.layout.models
        self.vectors_dir = self.layout.vectors
        self.storage = Storage(self.layout, read_only=read_only, wait_s=wait_s, role=role, on_wait=on_wait)
        try:
            self._compose(
                embedder_factory,
                pipeline,
                exact_max,
                default_exclude_patterns,
                device=device,
                low_precision=low_precision,
                backend=backend,
            )
        except BaseException:
            self.storage.close(backup=False)
            raise
        if survey_in_child:
            self.indexer.survey_in_child_from = SURVEY_IN_CHILD_FROM

    def _compose(
        self,
        embedder_factory: Callable[[], Embedder] | None,
        pipeline: PipelineConfig | None,
        exact_max: int,
        default_exclude_patterns: Sequence[str] | None,
        **inference: Any,
    ) -> None:
        self.catalog: Catalog = self.storage.catalog
        self.vector_cache = VectorCache(self.catalog, self.layout, exact_max, self.storage.lock)
        self.models = ModelRegistry(
            self.catalog,
            self.models_dir,
            self.vector_cache.mutation,
            embedder_factory,
            **inference,
        )
        self.excludes = StoredExcludes(self.catalog, default_exclude_patterns)
        self.indexer = Indexer(self.catalog, self.models, self.vector_cache, self.excludes.rules, pipeline)
        self.searcher = Searcher(self.catalog, self.models, self.vector_cache)
        self._roots = Roots(self.catalog, self.vector_cache)
        self.reports = Reports(self.catalog, self.models, self.vector_cache, self._roots)
        self._watchers: list[Watcher] = []

    @classmethod
    def open(
        cls, path: Path, embedder_factory: Callable[[], Embedder] | None = None, **kwargs: Any
    ) -> Library:
        """The library in `path` (created if need be); keyword options as for the constructor."""
        return cls(path, embedder_factory, **kwargs)

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the watchers, save the vector index, back up the catalog (a writer), release the lock."""
        for watcher in self._watchers:
            watcher.stop()
        with contextlib.suppress(Exception):
            self.vector_cache.save(force=True)
        self.storage.close()

    # -- models (library.models) -----------------------------------------------------------------------

    @property
    def model_id(self) -> str | None:
        """The model whose vectors answer searches."""
        return self.models.serving

    @property
    def target_model_id(self) -> str | None:
        """The model being embedded by a switch in progress, else None."""
        return self.models.target

    def activate_model(self, bundle: ModelBundle) -> None:
        """Use `bundle` from now on; search keeps the old vectors until index() has embedded them all."""
        self.models.activate(bundle)

    def embedder(self, model_id: str | None = None) -> Embedder:
        """The embedder indexing uses (or `model_id`'s), loaded with the library's inference options."""
        return self.models.embedder(model_id)

    @property
    def device(self) -> str | None:
        """The device asked for; None: automatic. `embedder().device` is the one in use."""
        return self.models.device

    @property
    def low_precision(self) -> bool:
        return self.models.low_precision

    def set_inference(
        self, device: str | None = None, low_precision: bool = True, backend: str | None = None
    ) -> None:
        """Change the device, precision or backend of an open library without reopening it."""
        self.models.set_inference(device, low_precision, backend)

    # -- what is watched (library.roots, library.excludes) ---------------------------------------------

    @property
    def exclude_patterns(self) -> list[str]:
        """Glob patterns of files and folders scans and the watcher skip (see library.excludes)."""
        return list(self.excludes.rules().patterns)

    def set_exclude_patterns(self, patterns: Sequence[str]) -> bool:
        """Store the patterns for the library (the CLI and the GUI share them); True if they changed."""
        return self.excludes.set(patterns)

    def roots(self) -> list[Root]:
        return self._roots.records(self.models.indexing)

    def add_root(
        self, path: Path, *, recursive: bool = True, network: bool = False, follow_symlinks: bool = False
    ) -> Root:
        root_id = self._roots.add(path, recursive=recursive, network=network, follow_symlinks=follow_symlinks)
        for watcher in self._watchers:
            watcher.watch_new_roots()
        return next(r for r in self.roots() if r.id == root_id)

    def remove_root(self, root_id: int) -> None:
        """Forget a folder and everything indexed under it (the files themselves are not touched)."""
        self._roots.remove(root_id)

    # -- indexing (library.indexer) --------------------------------------------------------------------

    @property
    def pipeline_config(self) -> PipelineConfig:
        return self.indexer.config

    def index(
        self,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        pause: threading.Event | None = None,
    ) -> IndexReport:
        """Scan every root, then embed whatever is pending. Safe to kill at any point and run again."""
        try:
            return self.indexer.index(progress, cancel, pause)
        finally:
            self.storage.after_run()

    def update(
        self,
        paths: Iterable[Path | str],
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        pause: threading.Event | None = None,
    ) -> IndexReport:
        """Re-check just these files or folders (what the watcher reports), then embed what is pending."""
        try:
            return self.indexer.update(paths, progress, cancel, pause)
        finally:
            self.storage.after_run()

    # -- search (library.search) -----------------------------------------------------------------------

    def search(
        self,
        query: Query,
        *,
        k: int = 50,
        roots: Sequence[int] | None = None,
        min_score: float | None = None,
        crop: Box | None = None,
        exclude_self: bool = False,
        filters: SearchFilter | None = None,
        sort: SortKey | str = SortKey.SIMILARITY,
        reverse: bool = False,
    ) -> list[SearchHit]:
        """The k images most like `query` (a file, encoded bytes or a PIL image) that pass `filters`,
        in `sort` order (best first by default)."""
        return self.searcher.search(
            query,
            k=k,
            roots=roots,
            min_score=min_score,
            crop=crop,
            exclude_self=exclude_self,
            filters=filters,
            sort=sort,
            reverse=reverse,
        )

    def search_similar(self, image_id: int, **options: Any) -> list[SearchHit]:
        """'More like this' for a catalogued image, which is left out of its own results; `options` as
        for search() less crop and exclude_self."""
        return self.searcher.similar(image_id, **options)

    def query_vector(
        self, query: Query | None = None, *, crop: Box | None = None, image_id: int | None = None
    ) -> np.ndarray:
        """The descriptor a search uses: `query` embedded (cropped), or a catalogued image's stored one."""
        if image_id is not None and query is None:
            return self.searcher.stored_vector(image_id)
        if query is None:
            raise TypeError("query_vector needs a query or an image_id")
        return self.searcher.query_vector(query, crop=crop)

    def search_by_vector(self, vector: np.ndarray, **options: Any) -> list[SearchHit]:
        """search() by a descriptor from query_vector(); `options` as for search() less crop and
        exclude_self, plus `exclude` (image ids to leave out)."""
        return self.searcher.by_vector(vector, **options)

    def image_folders(self) -> list[FolderCount]:
        """Every folder (watched ones and their sub-folders) that holds photos, for a folder filter."""
        return self.catalog.image_folders()

    def live_images(self, image_ids: Sequence[int]) -> dict[int, ImageInfo]:
        """The rows of those of `image_ids` still in the library (an open result list checks its own)."""
        infos = self.catalog.image_infos(list(image_ids))
        return {i: info for i, info in infos.items() if info.status != ImageStatus.DELETED}

    def embed_images(self, images: Sequence[Image.Image], model_id: str | None = None) -> np.ndarray:
        """Descriptors of in-memory images, preprocessed exactly as indexing does."""
        return self.searcher.embed(images, model_id)

    # -- reports (library.reports) ---------------------------------------------------------------------

    def status(self) -> LibraryStatus:
        return self.reports.status()

    def failures(self) -> list[Failure]:
        return self.reports.failures()

    def skipped(self) -> list[Skipped]:
        """Names the last scans left out, with why (not UTF-8, too long, unreadable, symlink, FIFO...)."""
        return self.catalog.skipped_files()

    def image(self, image_id: int) -> ImageInfo:
        return self.reports.image(image_id)

    def duplicates(
        self,
        threshold: float | None = None,
        *,
        keep_folders: Sequence[str] | None = None,
        rotations: bool | None = None,
        recalibrate: bool = False,
        lookalike_threshold: float | None = None,
    ) -> DuplicateReport:
        """Exact copies, near copies and look-alikes with suggested keepers; a threshold None: the one
        calibrated for the serving model on this library (see Reports.duplicates)."""
        embed = self.embed_images if self.models.serving else None
        return self.reports.duplicates(
            threshold,
            embed=embed,
            keep_folders=keep_folders,
            rotations=rotations,
            recalibrate=recalibrate,
            lookalike_threshold=lookalike_threshold,
        )

    def trash(self, image_ids: Sequence[int], label: str = "") -> TrashResult:
        """Move these photos to the system trash (never unlinked); the catalog drops them from search at
        once and journals the action (`label` names it in trash_history()); restore() undoes it."""
        return trash_images(self.catalog, self.vector_cache, list(image_ids), label)

    def restore(self, trashed: TrashResult | TrashAction | Sequence[TrashedFile]) -> TrashResult:
        """Undo trash(): the files back in place, their rows and vectors live again (not re-embedded)."""
        if isinstance(trashed, TrashAction):
            return restore_images(self.catalog, self.vector_cache, trashed.items, trashed.id)
        if isinstance(trashed, TrashResult):
            return restore_images(self.catalog, self.vector_cache, trashed.moved, trashed.action_id)
        return restore_images(self.catalog, self.vector_cache, list(trashed))

    def trash_history(self, limit: int = 10) -> list[TrashAction]:
        """The latest trash actions whose files are still in the trash, newest first: what undo offers,
        also after a restart (the journal is in the catalog)."""
        return trash_history(self.catalog, limit)

    # -- watching (library.watcher) --------------------------------------------------------------------

    def watch(self, *, on_paths: PathsCallback, **options: Any) -> Watcher:
        """A Watcher over this library's roots and exclude patterns (.start(), .stop(); close() stops
        it too); `options` as for Watcher: reconcile, debounce_s, poll_interval_s, offline_retry_s,
        on_error. It indexes nothing: each settled batch of changed paths (with `reconcile`, the roots
        themselves first) goes to `on_paths` on the watcher's thread, for the caller's indexing thread
        to pass to update() with its progress, cancel and pause. Roots added later are watched at once."""
        # The rules are asked on watchdog's event threads: from memory, no catalog read there.
        watcher = Watcher(self._roots.rows, lambda: self.excludes.rules(reread=False), on_paths, **options)
        self._watchers.append(watcher)
        return watcher
