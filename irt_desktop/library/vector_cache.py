"""The in-memory FAISS indexes, one per model: loaded from `vectors/<model-id>.faiss` when that file
matches the catalog, else rebuilt from it; kept in step with every catalog change; saved when dirty.

Threads: any thread may call any method. All state sits behind one re-entrant lock, the index lock.
Every change that touches both the catalog and an in-memory index happens under `mutation()`: the index
lock, then the SQLite write transaction, never the other way round. So a saved index always matches
the catalog rows its header names, and an index loaded by another thread never misses a change.

Files: only a holder of the library's writer lock writes `vectors/*.faiss`. A writer holds it anyway; a
reader (search beside a running indexer) saves a rebuilt index only if it can take the lock without
waiting, and otherwise keeps it in memory for its own use. A save that fails (disk full, read-only) is
logged and skipped: the file is a cache, rebuilt from the catalog the next time.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from irt_desktop.library.catalog import Catalog, Tx
from irt_desktop.library.catalog.vectors import STATE_KIND
from irt_desktop.library.errors import NoModelError
from irt_desktop.library.lock import WriterLock
from irt_desktop.library.model_store import no_model_message
from irt_desktop.library.vector_index import EXACT_MAX, IndexFileError, VectorIndex
from irt_desktop.paths import LibraryLayout

log = logging.getLogger(__name__)

# A long run saves its FAISS index this often, so a crash costs a reload, not a rebuild.
SAVE_INTERVAL_S = 120.0
# Indexes up to this size are saved after every run (cheap: ~0.1 s per 100k vectors); larger ones at
# most every SAVE_INTERVAL_S and on close, so a watcher's small updates do not rewrite ~1 GB each time.
SAVE_ALWAYS_MAX = 200_000


class VectorCache:
    def __init__(
        self,
        catalog: Catalog,
        layout: LibraryLayout,
        exact_max: int = EXACT_MAX,
        writer_lock: WriterLock | None = None,
    ) -> None:
        self._catalog = catalog
        self._layout = layout
        self._writer_lock = writer_lock
        self.exact_max = exact_max
        self._indexes: dict[str, VectorIndex] = {}
        self._dirty: set[str] = set()
        self._saved_at: dict[str, float] = {}
        self._lock = threading.RLock()
        # Why the last index load fell back to a rebuild (for status/diagnostics and tests).
        self.last_rebuild_reason: str | None = None

    @contextlib.contextmanager
    def mutation(self) -> Iterator[Tx]:
        """The index lock, then a catalog write transaction: change both, or neither."""
        with self._lock:
            try:
                with self._catalog.transaction() as tx:
                    yield tx
            except BaseException:
                # In-memory indexes may hold changes the catalog rolled back: reload them from the catalog.
                self._indexes.clear()
                self._dirty.clear()
                raise

    def path_for(self, model_id: str) -> Path:
        return self._layout.index_file(model_id)

    def loaded(self, model_id: str) -> VectorIndex | None:
        """The model's index if it is in memory already (never loads one)."""
        with self._lock:
            return self._indexes.get(model_id)

    def index_for(self, model_id: str) -> VectorIndex:
        """The model's FAISS index: the saved file when it matches the catalog, else rebuilt from it."""
        with self._lock:
            vi = self._indexes.get(model_id)
            if vi is not None:
                return vi
            dim = self._catalog.model_dim(model_id)
            if dim is None:
                raise NoModelError(
                    no_model_message(self._layout.models, f"Model {model_id} is not registered.")
                )
            path = self.path_for(model_id)
            with self._catalog.snapshot():  # one state for the check and the rebuild read
                # A file saved before the aggregate state names the older digest: checked against that
                # once, then saved again (marked dirty) instead of rebuilt.
                saved = VectorIndex.saved_checksum(path)
                legacy = saved is not None and not saved.startswith(f"{STATE_KIND}:")
                state = self._catalog.legacy_vector_state if legacy else self._catalog.vector_state
                count, checksum = state(model_id)
                try:
                    vi = VectorIndex.load(path, model_id, count, checksum)
                    if not vi.suits_size(count, self.exact_max):
                        raise IndexFileError(f"{vi.info.kind} index does not suit {count} vectors")
                    rebuilt = False
                except IndexFileError as exc:
                    self.last_rebuild_reason = str(exc)
                    log.info("rebuilding the vector index of %s: %s", model_id, exc)
                    ids, vectors = self._catalog.live_vectors(model_id, dim)
                    vi = VectorIndex.build(model_id, dim, ids, vectors, exact_max=self.exact_max)
                    rebuilt = True
            self._indexes[model_id] = vi
            if rebuilt:
                self._save(model_id, vi)
            elif legacy:
                self._dirty.add(model_id)
            return vi

    # -- changes (call inside mutation(), with the catalog change they mirror) --------------------------

    def add(self, model_id: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        with self._lock:
            self.index_for(model_id).add(ids, vectors)
            self._dirty.add(model_id)

    def remove(self, ids: np.ndarray) -> None:
        """Take these image ids out of every loaded index."""
        if not len(ids):
            return
        with self._lock:
            for model_id, vi in self._indexes.items():
                if vi.remove(ids):
                    self._dirty.add(model_id)

    def apply_scan_changes(self, removed: Sequence[int], restored: Sequence[int]) -> None:
        """A scan made `removed` unsearchable and `restored` searchable again with stored vectors."""
        with self._lock:
            self.remove(np.asarray(removed, np.int64))
            if not restored:
                return
            for model_id, vi in self._indexes.items():
                found = self._catalog.vectors_for(model_id, restored)
                if found:
                    ids = np.fromiter(found, np.int64, len(found))
                    vi.add(ids, np.stack([found[int(i)] for i in ids]))
                    self._dirty.add(model_id)

    def evict(self, model_id: str) -> None:
        """Drop the model's index from memory but keep its file (saved first if it changed): a model
        that no longer serves, kept so that switching back to it is immediate."""
        with self._lock:
            vi = self._indexes.get(model_id)
            if vi is None:
                return
            if model_id in self._dirty:
                with contextlib.suppress(OSError):
                    self._save(model_id, vi)
            self._indexes.pop(model_id, None)
            self._dirty.discard(model_id)

    def discard(self, model_id: str) -> None:
        """Forget the model's index: from memory now, from disk too (its model was replaced)."""
        with self._lock:
            self._indexes.pop(model_id, None)
            self._dirty.discard(model_id)
            with contextlib.suppress(OSError):
                self.path_for(model_id).unlink()

    # -- saving ----------------------------------------------------------------------------------------

    def save(self, force: bool = False) -> None:
        """Write the indexes that changed; large ones at most every SAVE_INTERVAL_S unless `force`."""
        with self._lock:
            for model_id, vi in list(self._indexes.items()):
                recent = time.monotonic() - self._saved_at.get(model_id, 0.0) < SAVE_INTERVAL_S
                if model_id not in self._dirty or (not force and vi.ntotal > SAVE_ALWAYS_MAX and recent):
                    continue
                if not vi.suits_size(vi.ntotal, self.exact_max):
                    # Outgrown (or shrunk out of) its kind: rebuilt, and saved as such, from the catalog.
                    self._indexes.pop(model_id)
                    with self._may_write() as ok:
                        if ok:
                            with contextlib.suppress(OSError):
                                self.path_for(model_id).unlink()
                    self.index_for(model_id)
                    continue
                self._save(model_id, vi)

    @contextlib.contextmanager
    def _may_write(self) -> Iterator[bool]:
        if self._writer_lock is None:
            yield True
            return
        with self._writer_lock.if_free() as ok:
            yield ok

    def _save(self, model_id: str, vi: VectorIndex) -> None:
        with self._lock, self._may_write() as ok:
            if not ok:
                log.debug("not saving the index of %s: another process holds the writer lock", model_id)
                return
            count, checksum = self._catalog.vector_state(model_id)
            if count != vi.ntotal:
                # Should not happen; never write a file that claims to match the catalog when it does not.
                log.warning(
                    "not saving %s: %d vectors in memory, %d in the catalog", model_id, vi.ntotal, count
                )
                self._indexes.pop(model_id, None)
                return
            try:
                vi.save(self.path_for(model_id), count, checksum)
            except OSError as exc:
                log.warning("could not save the vector index %s: %s", self.path_for(model_id), exc)
                return
            self._dirty.discard(model_id)
            self._saved_at[model_id] = time.monotonic()
