"""The GUI's view of the library: one object on the GUI thread that forwards every request to the worker
threads and turns answers into signals.

Two long-lived workers share the Library: `ops` runs short calls in order (open, roots, search,
duplicates, model activation) and `indexer` owns indexing runs, so a search is answered while indexing
goes on. Nothing here blocks the GUI thread except `close()` at exit.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from irt_desktop.gui.query_view import Query, encode_png
from irt_desktop.gui.settings import AppSettings
from irt_desktop.gui.workers import IndexingWorker, Job, SerialWorker

log = logging.getLogger(__name__)

OPENING, NO_MODEL, READY, FAILED, CLOSED = "opening", "no_model", "ready", "failed", "closed"

Opener = Callable[[Path, AppSettings], Any]


class LibraryNotReady(RuntimeError):
    pass


@dataclass(frozen=True)
class SearchRequest:
    query: Query
    k: int = 50
    min_score: float | None = None
    roots: list[int] | None = None


@dataclass
class SearchAnswer:
    request: SearchRequest
    hits: list[Any]
    seconds: float
    # PNG bytes when the query was a decoded image: later searches reuse them instead of re-encoding.
    encoded: bytes | None = None


_ENV_DEVICE = os.environ.get("IRT_DEVICE")


def apply_device_setting(settings: AppSettings) -> None:
    """The library builds its embedders with best_device(), which honours $IRT_DEVICE: the Settings choice
    goes there (an explicit choice in the user's environment stays when Settings say automatic)."""
    if settings.device == "auto":
        if _ENV_DEVICE is None:
            os.environ.pop("IRT_DEVICE", None)
        else:
            os.environ["IRT_DEVICE"] = _ENV_DEVICE
    else:
        os.environ["IRT_DEVICE"] = settings.device


def open_real_library(library_dir: Path, settings: AppSettings) -> Any:
    import inspect

    from irt_desktop.library import Library

    apply_device_setting(settings)
    # Options newer library engines accept; passed only where the engine knows them.
    params = inspect.signature(Library.__init__).parameters
    kwargs: dict[str, Any] = {}
    if "low_precision" in params:
        kwargs["low_precision"] = settings.bf16
    if "exclude" in params:
        kwargs["exclude"] = settings.exclude_patterns
    return Library.open(library_dir, **kwargs)


def library_accepts(library: Any, option: str) -> bool:
    """Whether this library engine takes `option` (e.g. exclude=, low_precision=) when opened."""
    import inspect

    try:
        return option in inspect.signature(type(library).__init__).parameters
    except (TypeError, ValueError):
        return False


def library_has_model(library: Any) -> bool:
    """Whether indexing can run: a serving or target model, or one installed that it would adopt."""
    if getattr(library, "model_id", None) or getattr(library, "target_model_id", None):
        return True
    models_dir = getattr(library, "models_dir", None)
    if models_dir is None:
        return True  # not ours to judge (test doubles); indexing will say if it cannot run
    from irt_desktop.library.model_store import default_bundle

    try:
        default_bundle(Path(models_dir))
    except Exception as exc:
        if is_no_model_error(exc):
            return False
        raise
    return True


def is_no_model_error(exc: BaseException) -> bool:
    return type(exc).__name__ == "NoModelError"


class LibraryClient(QObject):
    state_changed = Signal(str)
    roots_changed = Signal(list)
    status_changed = Signal(object)  # LibraryStatus
    index_started = Signal()
    index_progress = Signal(object)  # IndexProgress
    index_finished = Signal(object, object)  # IndexReport | None, exception | None
    paused_changed = Signal(bool)
    device_changed = Signal(str)
    model_changed = Signal(str)
    error = Signal(str, str)  # title, message
    message = Signal(str)
    _watch_changed = Signal(object)  # from the watcher's thread

    def __init__(
        self,
        library_dir: Path,
        settings: AppSettings,
        opener: Opener | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.library_dir = Path(library_dir)
        self.settings = settings
        self._opener = opener or open_real_library
        self.library: Any = None
        self.state = CLOSED
        self.open_error: BaseException | None = None
        self.roots: list[Any] = []
        self.supports_exclude = False
        self.supports_low_precision = False
        self._opened: Any = None
        self.ops = SerialWorker("library-ops", self)
        self.indexer = IndexingWorker(self)
        self.indexer.run_started.connect(self.index_started)
        self.indexer.progress.connect(self.index_progress)
        self.indexer.run_finished.connect(self._on_index_finished)
        self.indexer.paused_changed.connect(self.paused_changed)
        self._watcher: Any = None
        self._watch_changed.connect(self._on_watch_changed)
        self._search_job: Job | None = None

    # --- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the library on the worker; indexing starts once it is open and has a model."""
        self._set_state(OPENING)
        self.ops.submit(self._open, self._on_opened, self._on_open_failed, name="open library")
        self.ops.submit(self._describe_device, self.device_changed.emit, lambda exc: None, name="device")

    def reopen(self) -> None:
        """After a model was installed or a setting changed what the library is built with."""
        self.indexer.cancel_current()

        def close_old() -> None:
            self.indexer.wait_idle()
            self.indexer.set_library(None)
            self._stop_watcher()
            library = self.library or self._opened
            self.library = self._opened = None
            if library is not None:
                library.close()

        self.ops.submit(close_old, name="close library")
        self.start()

    def _open(self) -> tuple[Any, bool]:
        library = self._opener(self.library_dir, self.settings)
        # Known here at once, so close() can close it even if the answer never reaches the GUI thread.
        self._opened = library
        try:
            return library, library_has_model(library)
        except BaseException:
            library.close()
            raise

    def _on_opened(self, answer: tuple[Any, bool]) -> None:
        library, has_model = answer
        if self.state == CLOSED:
            return
        self.library = library
        self.supports_exclude = library_accepts(library, "exclude")
        self.supports_low_precision = library_accepts(library, "low_precision")
        self.open_error = None
        self.refresh()
        self.ops.submit(
            self._start_watcher, name="watch", on_error=lambda e: log.warning("no watcher: %s", e)
        )
        if has_model:
            self._become_ready()
        else:
            # The library is usable for folders; indexing and search wait for a model.
            self._set_state(NO_MODEL)

    def _become_ready(self) -> None:
        self.indexer.set_library(self.library)
        self._set_state(READY)
        self.indexer.request()
        self.ops.submit(
            self._start_watcher, name="watch", on_error=lambda e: log.warning("no watcher: %s", e)
        )

    def check_model(self) -> None:
        """After a model was installed into this library's models folder."""

        def check(lib: Any) -> bool:
            return library_has_model(lib)

        def checked(has_model: bool) -> None:
            if has_model and self.state != READY:
                self._become_ready()
                self.refresh()

        self.submit(check, checked, name="check model")

    def _on_open_failed(self, exc: BaseException) -> None:
        self.open_error = exc
        log.warning("library did not open: %s", exc)
        self._set_state(FAILED)

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    def _describe_device(self) -> str:
        from irt_desktop.device import autocast_dtype, best_device, describe_device

        try:
            device = best_device(None if self.settings.device == "auto" else self.settings.device)
        except RuntimeError:
            device = best_device(None)
        text = describe_device(device)
        if device != "cpu":  # the CPU text already says whether it runs bf16
            low = autocast_dtype(device, self.settings.bf16)
            text += f" · {str(low).removeprefix('torch.') if low else 'fp32'}"
        return text

    def _start_watcher(self) -> None:
        library = self.library
        if library is None or self._watcher is not None or not hasattr(library, "watch"):
            return
        # The first pass is the indexer's (with progress and pause); the watcher only follows changes.
        watcher = library.watch(
            on_change=self._watch_changed.emit,
            reconcile=False,
            on_error=lambda exc: log.warning("watcher: %s", exc),
        )
        watcher.start()
        self._watcher = watcher

    def _on_watch_changed(self, report: Any) -> None:
        # The watcher has already indexed what changed (on its own thread); show the new state.
        if self.state == READY and (getattr(report, "embedded", 0) or getattr(report, "scan", None)):
            self.refresh()

    def _stop_watcher(self) -> None:
        if self._watcher is not None:
            try:
                self._watcher.stop()
            except Exception as exc:
                log.warning("watcher did not stop cleanly: %s", exc)
            self._watcher = None

    def close(self, timeout_ms: int = 15000) -> None:
        """At exit: stop indexing, finish the running call, close the library. Blocks briefly."""
        if self.state == CLOSED and self.library is None and self._opened is None:
            self.ops.stop(timeout_ms)
            self.indexer.stop(timeout_ms)
            return
        self._set_state(CLOSED)
        self.indexer.stop(timeout_ms)
        self.ops.stop(timeout_ms)
        self._stop_watcher()
        library = self.library or self._opened
        self.library = self._opened = None
        if library is not None:
            try:
                library.close()
            except Exception as exc:
                log.warning("library close: %s", exc)

    # --- calls ----------------------------------------------------------------------------------------------
    def _lib(self) -> Any:
        if self.library is None:
            if self.open_error is not None:
                raise LibraryNotReady(str(self.open_error)) from self.open_error
            raise LibraryNotReady("the library is not open")
        return self.library

    def submit(
        self,
        fn: Callable[[Any], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        name: str = "",
    ) -> Job:
        """Run `fn(library)` on the ops worker."""
        return self.ops.submit(
            lambda: fn(self._lib()), on_done, on_error or self._report_error(name), name=name
        )

    def run_in_worker(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        name: str = "",
    ) -> Job:
        """Run `fn()` on the ops worker, library or not (encoding, file checks)."""
        return self.ops.submit(fn, on_done, on_error or self._report_error(name), name=name)

    def _report_error(self, what: str) -> Callable[[BaseException], None]:
        def report(exc: BaseException) -> None:
            self.error.emit(what.capitalize() if what else "Error", _message(exc))

        return report

    def refresh(self) -> None:
        def fetch(lib: Any) -> tuple[list[Any], Any]:
            return lib.roots(), lib.status()

        self.submit(
            fetch, self._on_refreshed, on_error=lambda exc: log.warning("refresh: %s", exc), name="refresh"
        )

    def _on_refreshed(self, answer: tuple[list[Any], Any]) -> None:
        self.roots, status = answer
        self.roots_changed.emit(self.roots)
        self.status_changed.emit(status)

    def add_root(self, path: Path, recursive: bool = True, network: bool = False) -> None:
        def add(lib: Any) -> Any:
            return lib.add_root(Path(path), recursive=recursive, network=network)

        def added(root: Any) -> None:
            self.message.emit(f"Watching {Path(path)}")
            self.refresh()
            self.indexer.request()

        self.submit(add, added, name="add folder")

    def remove_root(self, root_id: int) -> None:
        # The indexer must not be reading the root while it goes away: stop the pass, then remove.
        self.indexer.cancel_current()

        def remove(lib: Any) -> None:
            self.indexer.wait_idle()
            lib.remove_root(root_id)

        def removed(_: Any) -> None:
            self.refresh()
            self.indexer.request()

        self.submit(remove, removed, name="remove folder")

    def rescan(self) -> None:
        if self.library is not None:
            self.indexer.request()

    def pause_indexing(self, paused: bool) -> None:
        if paused:
            self.indexer.pause()
        else:
            self.indexer.resume()

    def _on_index_finished(self, report: Any, error: BaseException | None) -> None:
        if error is not None and is_no_model_error(error):
            self.indexer.set_library(None)
            self._set_state(NO_MODEL)
        elif error is not None and self.state != CLOSED:
            self.error.emit("Indexing stopped", _message(error))
        if report is not None and getattr(report, "switched_model", False):
            self.model_changed.emit(str(getattr(report, "model_id", "")))
        self.index_finished.emit(report, error)
        if self.state == READY:
            self.refresh()

    def search(
        self,
        request: SearchRequest,
        on_done: Callable[[SearchAnswer], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        """Newest wins: a search still queued when another arrives is dropped unanswered."""
        if self._search_job is not None:
            self._search_job.cancelled = True

        def run(lib: Any) -> SearchAnswer:
            t0 = time.perf_counter()
            q = request.query
            encoded = None
            if q.image_id is not None and q.crop is None:
                hits = lib.search_similar(
                    q.image_id, k=request.k, roots=request.roots, min_score=request.min_score
                )
            else:
                source = q.source
                if isinstance(source, QImage):
                    source = encoded = encode_png(source)
                hits = lib.search(
                    source, k=request.k, roots=request.roots, min_score=request.min_score, crop=q.crop
                )
            return SearchAnswer(request, list(hits), time.perf_counter() - t0, encoded)

        self._search_job = self.submit(run, on_done, on_error, name="search")

    def duplicates(self, threshold: float, on_done: Callable[[Any], None], on_error=None) -> None:
        self.submit(
            lambda lib: lib.duplicates(threshold=threshold), on_done, on_error, name="find duplicates"
        )

    def failures(self, on_done: Callable[[list[Any]], None]) -> None:
        self.submit(lambda lib: lib.failures(), on_done, name="list unreadable files")

    def activate_model(self, bundle: Any, on_done: Callable[[Any], None] | None = None) -> None:
        def activate(lib: Any) -> None:
            lib.activate_model(bundle)

        def activated(_: Any) -> None:
            self.message.emit("Re-indexing with the new model; search keeps using the old one until done")
            self.indexer.request()
            self.refresh()
            if on_done is not None:
                on_done(bundle)

        self.submit(activate, activated, name="activate model")


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text
