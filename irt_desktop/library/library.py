"""The facade the GUI and the CLI use: one library folder, its catalog, vector indexes and model.

Threads: any thread may call any method. One indexing run (index/update) happens at a time; search,
status and friends run alongside it (per-thread SQLite connections in WAL mode, FAISS behind a lock).
Every change that touches both the catalog and an in-memory FAISS index happens under `_mutation()`:
the index lock, then the SQLite write transaction, so a saved index always matches the catalog rows
its header names, and an index loaded by another thread never misses a change.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from irt_desktop.library.catalog import CATALOG_FILE, Catalog
from irt_desktop.library.decode import Tensorizer
from irt_desktop.library.duplicates import find_duplicates
from irt_desktop.library.errors import LibraryError, NoModelError
from irt_desktop.library.excludes import ExcludeRules, normalize_patterns, parse_stored
from irt_desktop.library.model_store import bundle_for, default_bundle, install_bundle, no_model_message
from irt_desktop.library.pipeline import EmbeddingPipeline, PipelineConfig, ProgressCallback
from irt_desktop.library.records import (
    DuplicateReport,
    Failure,
    ImageInfo,
    IndexProgress,
    IndexReport,
    LibraryStatus,
    Root,
    SearchHit,
)
from irt_desktop.library.roots import add_root, canonical, list_roots, root_records
from irt_desktop.library.scanner import Scanner, ScanOutcome
from irt_desktop.library.search import Box, Query, load_query, search_vector
from irt_desktop.library.vector_index import EXACT_MAX, IndexFileError, VectorIndex
from irt_desktop.retrieval.bundle import ModelBundle
from irt_desktop.retrieval.embedder import Embedder

if TYPE_CHECKING:
    from irt_desktop.library.watcher import PathsCallback, Watcher

log = logging.getLogger(__name__)

SERVING = "model.serving"  # answers searches; its vector set is complete
TARGET = "model.target"  # being embedded after activate_model(); None when no switch is running
EXCLUDE = "scan.exclude"  # JSON list of the user's exclude patterns (irt_desktop.library.excludes)
# Soft-deleted rows keep their vectors this long, so a file moved away and back is not re-embedded.
DELETED_RETENTION_S = 30 * 24 * 3600
# A long run saves its FAISS index this often, so a crash costs a reload, not a rebuild.
SAVE_INTERVAL_S = 120.0
# Indexes up to this size are saved after every run (cheap: ~0.1 s per 100k vectors); larger ones at
# most every SAVE_INTERVAL_S and on close, so a watcher's small updates do not rewrite ~1 GB each time.
SAVE_ALWAYS_MAX = 200_000


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
    ) -> None:
        """`device` ('cpu', 'cuda', 'cuda:1', 'mps'; None or 'auto': the fastest there is, or $IRT_DEVICE)
        and `low_precision` (bf16/fp16 autocast where the hardware runs it natively and it keeps
        descriptors close to fp32) apply to the models the library loads from its bundles; an
        `embedder_factory` builds its embedder as it likes. `default_exclude_patterns` seed a library
        that has never had patterns set; one that has (even to none) keeps its own."""
        self._device = _checked_device(device)
        self._low_precision = bool(low_precision)
        self.path = Path(path).expanduser()
        for sub in ("", "vectors", "thumbnails", "models", "logs"):
            try:
                (self.path / sub).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LibraryError(f"cannot create the library folder {self.path / sub}: {exc}") from exc
        self.models_dir = self.path / "models"
        self.vectors_dir = self.path / "vectors"
        self.catalog = Catalog(self.path / CATALOG_FILE)
        self.pipeline_config = pipeline or PipelineConfig()
        self.exact_max = exact_max
        self._factory = embedder_factory
        self._factory_embedder: Embedder | None = None
        self._embedders: dict[str, Embedder] = {}
        self._embedder_lock = threading.Lock()
        self._indexes: dict[str, VectorIndex] = {}
        self._dirty: set[str] = set()
        self._saved_at: dict[str, float] = {}
        self._index_lock = threading.RLock()
        self._run_lock = threading.Lock()
        # Why the last index load fell back to a rebuild (for status/diagnostics and tests).
        self.last_rebuild_reason: str | None = None
        self._watchers: list[Watcher] = []
        if default_exclude_patterns is not None and self.catalog.setting(EXCLUDE) is None:
            self.set_exclude_patterns(default_exclude_patterns)
        self._exclude = ExcludeRules.of(parse_stored(self.catalog.setting(EXCLUDE)))

    @classmethod
    def open(
        cls,
        path: Path,
        embedder_factory: Callable[[], Embedder] | None = None,
        *,
        device: str | None = None,
        low_precision: bool = True,
        default_exclude_patterns: Sequence[str] | None = None,
        **kwargs,
    ) -> Library:
        return cls(
            path,
            embedder_factory,
            device=device,
            low_precision=low_precision,
            default_exclude_patterns=default_exclude_patterns,
            **kwargs,
        )

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for watcher in self._watchers:
            watcher.stop()
        with contextlib.suppress(Exception):
            self._save_indexes(only_dirty=True, force=True)
        self.catalog.close()

    # -- models ----------------------------------------------------------------------------------------

    @property
    def model_id(self) -> str | None:
        """The model whose vectors answer searches."""
        return self.catalog.setting(SERVING)

    @property
    def target_model_id(self) -> str | None:
        """The model being embedded by a switch in progress, else None."""
        return self.catalog.setting(TARGET)

    def activate_model(self, bundle: ModelBundle) -> None:
        """Use `bundle` from now on. With vectors of another model present, search keeps using those
        until index() has embedded every image with the new one; then it switches over."""
        installed = install_bundle(self.models_dir, bundle)
        self.catalog.register_model(installed.id, installed.card.name, _bundle_dim(installed), installed.path)
        self._adopt(installed.id)

    def _adopt(self, model_id: str) -> None:
        serving = self.model_id
        with self._index_lock, self.catalog.transaction() as conn:
            if serving is None or (serving == model_id):
                conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)", (SERVING, model_id))
                conn.execute("DELETE FROM settings WHERE key = ?", (TARGET,))
            else:
                conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)", (TARGET, model_id))

    def _embedder_for(self, model_id: str | None) -> Embedder:
        """The embedder for `model_id` (None: the model indexing should use), created on first use."""
        with self._embedder_lock:
            if self._factory is not None and self._factory_embedder is None:
                embedder = self._factory()
                if not embedder.model_id:
                    raise LibraryError("the embedder factory returned an embedder without a model id")
                self.catalog.register_model(embedder.model_id, embedder.model_id, embedder.dim, None)
                self._factory_embedder = embedder
                self._embedders[embedder.model_id] = embedder
                if self.target_model_id != embedder.model_id:
                    self._adopt(embedder.model_id)
            if model_id is None:
                model_id = self.target_model_id or self.model_id
            if model_id is None:
                bundle = default_bundle(self.models_dir)
                self.catalog.register_model(bundle.id, bundle.card.name, _bundle_dim(bundle), bundle.path)
                self._adopt(bundle.id)
                model_id = bundle.id
            if model_id not in self._embedders:
                bundle = bundle_for(self.models_dir, model_id)
                embedder = Embedder.from_bundle(
                    bundle, device=self._device, low_precision=self._low_precision
                )
                self.catalog.register_model(model_id, bundle.card.name, embedder.dim, bundle.path)
                self._embedders[model_id] = embedder
            return self._embedders[model_id]

    def embedder(self, model_id: str | None = None) -> Embedder:
        """The embedder indexing uses (or `model_id`'s), loaded with the library's inference options."""
        return self._embedder_for(model_id)

    @property
    def device(self) -> str | None:
        """The device asked for; None: automatic. `embedder().device` is the one in use."""
        return self._device

    @property
    def low_precision(self) -> bool:
        return self._low_precision

    def set_inference(self, device: str | None = None, low_precision: bool = True) -> None:
        """Change the device and precision of an open library without reopening it.

        The loaded models are dropped and rebuilt on their next use; a running indexing pass takes
        the new one at its next batch (EmbeddingPipeline's refresh), so nothing waits for it to end."""
        device = _checked_device(device)
        with self._embedder_lock:
            if (device, bool(low_precision)) == (self._device, self._low_precision):
                return
            self._device, self._low_precision = device, bool(low_precision)
            # A factory's embedder cannot be rebuilt from here: it stays as the factory made it.
            self._embedders = {k: e for k, e in self._embedders.items() if e is self._factory_embedder}

    # -- exclude patterns ------------------------------------------------------------------------------

    @property
    def exclude_patterns(self) -> list[str]:
        """Glob patterns of files and folders scans and the watcher skip (see library.excludes)."""
        return list(self._exclude_rules().patterns)

    @exclude_patterns.setter
    def exclude_patterns(self, patterns: Sequence[str]) -> None:
        self.set_exclude_patterns(patterns)

    def set_exclude_patterns(self, patterns: Sequence[str]) -> bool:
        """Store the patterns in the catalog (the CLI and the GUI share them). They take effect at the
        next scan: photos already indexed that now match leave search results then, as if deleted, and
        come back with their vectors if the pattern is removed again. True if the patterns changed."""
        if isinstance(patterns, str):
            raise TypeError("exclude patterns are a list of strings, not one string")
        kept = normalize_patterns(patterns)
        raw = self.catalog.setting(EXCLUDE)
        before = parse_stored(raw)
        if raw is not None and kept == before:
            return False
        # Stored even when empty: "none, on purpose" is not "never set" (default_exclude_patterns).
        self.catalog.set_setting(EXCLUDE, json.dumps(kept))
        self._exclude = ExcludeRules.of(kept)
        return kept != before

    def _exclude_rules(self) -> ExcludeRules:
        # Re-read: another process (the CLI beside the GUI) may have changed them.
        stored = parse_stored(self.catalog.setting(EXCLUDE))
        if tuple(stored) != self._exclude.patterns:
            self._exclude = ExcludeRules.of(stored)
        return self._exclude

    @property
    def exclude_rules(self) -> ExcludeRules:
        """The compiled patterns as of the last scan or change, without a catalog read (for the watcher's
        event threads, which have no SQLite connection of their own)."""
        return self._exclude

    # -- roots -----------------------------------------------------------------------------------------

    def roots(self) -> list[Root]:
        return root_records(self.catalog, self.target_model_id or self.model_id)

    def add_root(
        self, path: Path, *, recursive: bool = True, network: bool = False, follow_symlinks: bool = False
    ) -> Root:
        root_id = add_root(
            self.catalog, Path(path), recursive=recursive, network=network, follow_symlinks=follow_symlinks
        )
        for watcher in self._watchers:
            watcher.watch_new_roots()
        return next(r for r in self.roots() if r.id == root_id)

    def remove_root(self, root_id: int) -> None:
        """Forget a folder and everything indexed under it (the files themselves are not touched)."""
        with self._mutation() as conn:
            ids = np.asarray(
                [r[0] for r in conn.execute("SELECT id FROM images WHERE root_id = ?", (root_id,))], np.int64
            )
            conn.execute("DELETE FROM images WHERE root_id = ?", (root_id,))
            if not conn.execute("DELETE FROM roots WHERE id = ?", (root_id,)).rowcount:
                raise LibraryError(f"there is no folder with id {root_id}")
            self._remove_from_indexes(ids)

    # -- indexing --------------------------------------------------------------------------------------

    def index(
        self,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        pause: threading.Event | None = None,
    ) -> IndexReport:
        """Scan every root, then embed whatever is pending. Safe to kill at any point and run again."""
        with self._run_lock:
            started = time.monotonic()
            outcome = self._scanner().scan_roots(
                list_roots(self.catalog), cancel, _scan_progress(progress, started)
            )
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
            roots = [r for r in list_roots(self.catalog)]
            outcome = self._scanner().scan_paths(roots, [os.fspath(p) for p in paths])
            return self._after_scan(outcome, started, progress, cancel, pause)

    def _scanner(self) -> Scanner:
        return Scanner(
            self.catalog,
            transaction=self._mutation,
            on_changes=self._apply_scan_changes,
            exclude=self._exclude_rules(),
        )

    def _after_scan(
        self,
        outcome: ScanOutcome,
        started: float,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
        pause: threading.Event | None,
    ) -> IndexReport:
        report = IndexReport(scan=outcome.report)
        if not (cancel is not None and cancel.is_set()):
            self._embed_pending(report, progress, cancel, pause)
        self._purge_deleted()
        if progress is not None:
            progress(IndexProgress(report.embedded, report.embedded, 0.0, 0.0, "", "save"))
        self._save_indexes(only_dirty=True)
        report.seconds = time.monotonic() - started
        report.pending = self.catalog.count_pending(self.target_model_id or self.model_id)
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
        model_id = self.target_model_id or self.model_id
        factory_ready = self._factory is None or self._factory_embedder is not None
        # Nothing to embed: do not load a model (an empty library must not demand one).
        if factory_ready and not self.catalog.count_pending(model_id):
            self._finish_switch(report)
            return
        if progress is not None:
            progress(IndexProgress(0, 0, 0.0, None, "", "load-model"))
        embedder = self._embedder_for(None)
        model_id = embedder.model_id
        report.model_id = model_id
        todo = self.catalog.pending_for(model_id)
        vi = self._vector_index(model_id)
        last_save = time.monotonic()

        def on_commit(ids: np.ndarray, vectors: np.ndarray) -> None:
            vi.add(ids, vectors)
            self._dirty.add(model_id)

        def on_progress(p: IndexProgress) -> None:
            nonlocal last_save
            if time.monotonic() - last_save > SAVE_INTERVAL_S:
                self._save_indexes(only_dirty=True)
                last_save = time.monotonic()
            if progress is not None:
                progress(p)

        config = self.pipeline_config
        pipeline = EmbeddingPipeline(
            self.catalog,
            embedder,
            model_id,
            config,
            on_commit=on_commit,
            transaction=self._mutation,
            refresh=lambda: self._embedder_for(model_id),
        )
        result = pipeline.run(todo, on_progress, cancel, pause)
        report.embedded += result.embedded
        report.failed += result.failed
        report.cancelled = result.cancelled
        if not result.cancelled:
            self._finish_switch(report)

    def _finish_switch(self, report: IndexReport) -> None:
        target, serving = self.target_model_id, self.model_id
        if target is None or target == serving or self.catalog.count_pending(target):
            return
        self._vector_index(target)
        with self._mutation() as conn:
            conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)", (SERVING, target))
            conn.execute("DELETE FROM settings WHERE key = ?", (TARGET,))
            if serving:
                self._indexes.pop(serving, None)
        report.switched_model = True
        if serving:
            self._dirty.discard(serving)
            self._embedders.pop(serving, None)
            self.catalog.drop_model_vectors(serving)
            with contextlib.suppress(OSError):
                self._index_path(serving).unlink()

    def _purge_deleted(self) -> None:
        cutoff = time.time() - DELETED_RETENTION_S
        with self.catalog.transaction() as conn:
            conn.execute("DELETE FROM images WHERE status = 'deleted' AND deleted_at < ?", (cutoff,))

    # -- vector indexes --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _mutation(self) -> Iterator:
        with self._index_lock:
            try:
                with self.catalog.transaction() as conn:
                    yield conn
            except BaseException:
                # In-memory indexes may hold changes the catalog rolled back: reload them from the catalog.
                self._indexes.clear()
                self._dirty.clear()
                raise

    def _apply_scan_changes(self, removed: list[int], restored: list[int]) -> None:
        self._remove_from_indexes(np.asarray(removed, np.int64))
        if restored:
            for model_id, vi in self._indexes.items():
                found = self.catalog.vectors_for(model_id, restored)
                if found:
                    ids = np.fromiter(found, np.int64, len(found))
                    vi.add(ids, np.stack([found[int(i)] for i in ids]))
                    self._dirty.add(model_id)

    def _remove_from_indexes(self, ids: np.ndarray) -> None:
        if len(ids):
            for model_id, vi in self._indexes.items():
                if vi.remove(ids):
                    self._dirty.add(model_id)

    def _index_path(self, model_id: str) -> Path:
        return self.vectors_dir / f"{model_id}.faiss"

    def _vector_index(self, model_id: str) -> VectorIndex:
        """The model's FAISS index: the saved file when it matches the catalog, else rebuilt from it."""
        with self._index_lock:
            vi = self._indexes.get(model_id)
            if vi is not None:
                return vi
            dim = self.catalog.model_dim(model_id)
            if dim is None:
                raise NoModelError(no_model_message(self.models_dir, f"Model {model_id} is not registered."))
            conn = self.catalog.conn
            conn.execute("BEGIN")  # one snapshot for the state check and the rebuild read
            try:
                count, checksum = self.catalog.vector_state(model_id)
                try:
                    vi = VectorIndex.load(self._index_path(model_id), model_id, count, checksum)
                    if not vi.suits_size(count, self.exact_max):
                        raise IndexFileError(f"{vi.info.kind} index does not suit {count} vectors")
                    rebuilt = False
                except IndexFileError as exc:
                    self.last_rebuild_reason = str(exc)
                    log.info("rebuilding the vector index of %s: %s", model_id, exc)
                    ids, vectors = self.catalog.live_vectors(model_id, dim)
                    vi = VectorIndex.build(model_id, dim, ids, vectors, exact_max=self.exact_max)
                    rebuilt = True
            finally:
                conn.execute("COMMIT")
            self._indexes[model_id] = vi
            if rebuilt:
                self._save_index(model_id, vi)
            return vi

    def _save_index(self, model_id: str, vi: VectorIndex) -> None:
        with self._index_lock:
            count, checksum = self.catalog.vector_state(model_id)
            if count != vi.ntotal:
                # Should not happen; never write a file that claims to match the catalog when it does not.
                log.warning(
                    "not saving %s: %d vectors in memory, %d in the catalog", model_id, vi.ntotal, count
                )
                self._indexes.pop(model_id, None)
                return
            vi.save(self._index_path(model_id), count, checksum)
            self._dirty.discard(model_id)
            self._saved_at[model_id] = time.monotonic()

    def _save_indexes(self, only_dirty: bool = True, force: bool = False) -> None:
        with self._index_lock:
            for model_id, vi in list(self._indexes.items()):
                recent = time.monotonic() - self._saved_at.get(model_id, 0.0) < SAVE_INTERVAL_S
                if not force and vi.ntotal > SAVE_ALWAYS_MAX and recent:
                    continue
                if not only_dirty or model_id in self._dirty:
                    if not vi.suits_size(vi.ntotal, self.exact_max):
                        self._indexes.pop(model_id)
                        with contextlib.suppress(OSError):
                            self._index_path(model_id).unlink()
                        self._vector_index(model_id)
                        continue
                    self._save_index(model_id, vi)

    # -- search ----------------------------------------------------------------------------------------

    def search(
        self,
        query: Query,
        *,
        k: int = 50,
        roots: Sequence[int] | None = None,
        min_score: float | None = None,
        crop: Box | None = None,
        exclude_self: bool = False,
    ) -> list[SearchHit]:
        """Images most like `query` (a file, encoded bytes or a PIL image), best first.

        `exclude_self`: when the query is a file that is itself in the library, leave it out."""
        model_id = self._serving_model()
        embedder = self._embedder_for(model_id)
        im = load_query(query, min_side=Tensorizer(embedder.spec).resize, crop=crop)
        vector = self.embed_images([im], model_id)[0]
        exclude: list[int] = []
        if exclude_self and isinstance(query, str | os.PathLike):
            own = self.catalog.image_id_for_path(canonical(query))
            if own is not None:
                exclude.append(own)
        return search_vector(
            self.catalog,
            self._vector_index(model_id),
            vector,
            k=k,
            roots=roots,
            min_score=min_score,
            exclude=exclude,
        )

    def search_similar(
        self,
        image_id: int,
        *,
        k: int = 50,
        roots: Sequence[int] | None = None,
        min_score: float | None = None,
    ) -> list[SearchHit]:
        """'More like this' for a catalogued image, which is left out of its own results."""
        model_id = self._serving_model()
        found = self.catalog.vectors_for(model_id, [image_id])
        if image_id not in found:
            info = self.image(image_id)
            raise LibraryError(f"{info.path} is not indexed yet ({info.status})")
        return search_vector(
            self.catalog,
            self._vector_index(model_id),
            found[image_id],
            k=k,
            roots=roots,
            min_score=min_score,
            exclude=[image_id],
        )

    def embed_images(self, images: Sequence[Image.Image], model_id: str | None = None) -> np.ndarray:
        """Descriptors of in-memory images, preprocessed exactly as indexing does."""
        embedder = self._embedder_for(model_id or self._serving_model())
        tensorize = Tensorizer(embedder.spec)
        x = torch.from_numpy(np.stack([tensorize(im) for im in images]))
        return embedder.embed_tensor(x)

    def _serving_model(self) -> str:
        model_id = self.model_id
        if model_id is None:
            self._embedder_for(None)  # adopts the factory's or the only installed model, or raises
            model_id = self.model_id
        if model_id is None:
            raise NoModelError(no_model_message(self.models_dir))
        return model_id

    # -- reports ---------------------------------------------------------------------------------------

    def duplicates(self, threshold: float = 0.95) -> DuplicateReport:
        model_id = self.model_id
        vi = self._vector_index(model_id) if model_id else None
        return find_duplicates(self.catalog, vi, model_id, threshold)

    def failures(self) -> list[Failure]:
        return self.catalog.failures()

    def image(self, image_id: int) -> ImageInfo:
        info = self.catalog.image_infos([image_id]).get(image_id)
        if info is None:
            raise LibraryError(f"there is no image with id {image_id}")
        return info

    def status(self) -> LibraryStatus:
        serving, target = self.model_id, self.target_model_id
        counts = dict(
            self.catalog.conn.execute(
                "SELECT status, count(*) FROM images WHERE status != 'deleted' GROUP BY status"
            ).fetchall()
        )
        vi = self._indexes.get(serving) if serving else None
        return LibraryStatus(
            n_images=sum(counts.values()),
            n_indexed=self.catalog.count_vectors(serving) if serving else 0,
            n_pending=self.catalog.count_pending(target or serving),
            n_failed=counts.get("failed", 0),
            model_id=serving,
            roots=self.roots(),
            target_model_id=target,
            index_kind=None if vi is None else vi.info.kind,
        )

    # -- watching --------------------------------------------------------------------------------------

    def watch(
        self,
        on_change: Callable[[IndexReport], None] | None = None,
        *,
        on_paths: PathsCallback | None = None,
        **kwargs,
    ) -> Watcher:
        """A Watcher keeping the roots current: .start() (reconciliation scan first), .stop().

        Without `on_paths` it indexes what changed on its own thread (update()) and reports each run to
        `on_change`. With `on_paths` it indexes nothing: it hands each settled batch of changed paths
        (the roots themselves for reconciliation) to `on_paths`, for the caller's own indexing thread
        to pass to update() with its progress, cancel and pause."""
        from irt_desktop.library.watcher import Watcher

        watcher = Watcher(self, on_change=on_change, on_paths=on_paths, **kwargs)
        self._watchers.append(watcher)
        return watcher


def _checked_device(device: str | None) -> str | None:
    """None for automatic; a device torch cannot use here is refused now rather than at the first batch."""
    choice = (device or "").strip().lower()
    if choice in ("", "auto"):
        return None
    kind, _, index = choice.partition(":")
    if kind not in ("cpu", "cuda", "mps") or (index and (kind != "cuda" or not index.isdigit())):
        raise LibraryError(f"unknown device {device!r}: use cpu, cuda, cuda:N, mps or auto")
    from irt_desktop.device import best_device

    try:
        choice = best_device(choice)
    except RuntimeError as exc:
        raise LibraryError(f"cannot run on {device!r}: {exc}") from exc
    if index and int(index) >= torch.cuda.device_count():
        raise LibraryError(f"cannot run on {device!r}: torch sees {torch.cuda.device_count()} CUDA devices")
    return choice


def _bundle_dim(bundle: ModelBundle) -> int:
    spec = bundle.card.spec
    if spec.dims:
        return int(spec.dims)
    from irt_desktop.retrieval.model import IRT

    # The backbone's width, from a skeleton on the meta device: no memory, no weights loaded.
    with torch.device("meta"):
        return int(IRT(spec).dim)


def _scan_progress(progress: ProgressCallback | None, started: float):
    if progress is None:
        return None
    last = [0.0]

    def seen(n: int, path: str) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.2:
            last[0] = now
            progress(IndexProgress(n, 0, n / max(now - started, 1e-6), None, path, "scan"))

    return seen
