"""The GUI's view of the library: one object on the GUI thread that forwards every request to the worker
threads and turns answers into signals.

Two long-lived workers share the Library: `ops` runs short calls in order (open, roots, search,
duplicates, model activation, settings) and `indexer` owns indexing runs, so a search is answered while
indexing goes on. The library's watcher only reports changed paths; the indexer indexes them, so watched
changes show progress in the status bar and wait while indexing is paused. Nothing here blocks the GUI
thread except `close()` at exit.
"""

from __future__ import annotations

import logging
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


# Seconds a changed path must stay quiet before the watcher reports it (tests shorten it).
WATCH_DEBOUNCE_S = 2.0


def inference_options(settings: AppSettings) -> tuple[str | None, bool]:
    """(device, low_precision) for the library from Settings; None lets the library pick the device."""
    return (None if settings.device == "auto" else settings.device), settings.bf16


def open_real_library(library_dir: Path, settings: AppSettings) -> Any:
    from irt_desktop.library import Library, LibraryError

    device, low_precision = inference_options(settings)
    # Exclude patterns belong to the library (the CLI honours them too); the ones last saved in Settings
    # seed a library that has none yet, and the Settings dialog edits the open library's.
    options = {"low_precision": low_precision, "default_exclude_patterns": settings.exclude_patterns}
    try:
        return Library.open(library_dir, device=device, **options)
    except LibraryError:
        if device is None:
            raise
        # A device chosen on another machine (settings travel with the user) must not keep the library
        # shut: open it on the best device there is; the client says so.
        log.warning("device %r is not available; opening the library with the automatic choice", device)
        return Library.open(library_dir, device=None, **options)


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
    _watched_paths = Signal(list)  # settled changed paths, from the watcher's thread

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
        # The open library's exclude patterns (None: no library, or one without the option).
        self.exclude_patterns: list[str] | None = None
        self.watch_debounce_s = WATCH_DEBOUNCE_S
        self._opened: Any = None
        self.ops = SerialWorker("library-ops", self)
        self.indexer = IndexingWorker(self)
        self.indexer.run_started.connect(self.index_started)
        self.indexer.progress.connect(self.index_progress)
        self.indexer.run_finished.connect(self._on_index_finished)
        self.indexer.paused_changed.connect(self.paused_changed)
        self._watcher: Any = None
        self._watched_paths.connect(self._on_watched_paths)
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

    def _open(self) -> tuple[Any, bool, list[str] | None]:
        library = self._opener(self.library_dir, self.settings)
        # Known here at once, so close() can close it even if the answer never reaches the GUI thread.
        self._opened = library
        try:
            patterns = getattr(library, "exclude_patterns", None)
            return library, library_has_model(library), None if patterns is None else list(patterns)
        except BaseException:
            library.close()
            raise

    def _on_opened(self, answer: tuple[Any, bool, list[str] | None]) -> None:
        library, has_model, patterns = answer
        if self.state == CLOSED:
            return
        self.library = library
        self.exclude_patterns = patterns
        self.open_error = None
        wanted, _ = inference_options(self.settings)
        if wanted is not None and getattr(library, "device", wanted) is None:
            self.message.emit(
                f"The device chosen in Settings ({wanted}) is not available here; using the best one"
            )
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
        from irt_desktop.device import autocast_dtype, best_device, cpu_has_bf16, describe_device

        library = self.library or self._opened
        wanted, low_precision = inference_options(self.settings)
        if library is not None:
            wanted, low_precision = (
                getattr(library, "device", wanted),
                getattr(library, "low_precision", low_precision),
            )
        try:
            device = best_device(wanted)
        except RuntimeError:
            device = best_device(None)
        text = describe_device(device)
        if device == "cpu" and not cpu_has_bf16():
            return text  # "without bf16" already says it all
        low = autocast_dtype(device, low_precision)
        return f"{text} · {str(low).removeprefix('torch.') if low else 'fp32'}"

    def set_inference(self, device: str, bf16: bool) -> None:
        """Settings changed the device or bf16: the open library reloads its model on next use (a running
        pass at its next batch); nothing is reopened. A closed library takes them when it opens."""

        def apply() -> None:
            library = self.library or self._opened
            if library is not None:
                library.set_inference(None if device == "auto" else device, bf16)

        def applied(_: Any) -> None:
            self.ops.submit(self._describe_device, self.device_changed.emit, lambda exc: None, name="device")

        self.run_in_worker(apply, applied, name="change the device")

    def set_exclude_patterns(self, patterns: list[str]) -> None:
        """Apply Settings' exclude patterns: stored in the library, then a pass removes what they match."""

        def apply() -> tuple[bool, list[str] | None]:
            library = self.library or self._opened
            if library is None:
                return False, None
            return bool(library.set_exclude_patterns(list(patterns))), list(library.exclude_patterns)

        def applied(answer: tuple[bool, list[str] | None]) -> None:
            changed, now = answer
            if now is not None:
                self.exclude_patterns = now
            if changed and self.state == READY:
                self.message.emit("Exclude patterns changed: checking the folders again")
                self.indexer.request()

        self.run_in_worker(apply, applied, name="apply exclude patterns")

    def _start_watcher(self) -> None:
        library = self.library
        if library is None or self._watcher is not None or not hasattr(library, "watch"):
            return
        # The first pass is the indexer's; the watcher only reports what changes after it, and the
        # indexer indexes that too (progress in the status bar, Pause honoured, one model in use).
        watcher = library.watch(
            on_paths=self._watched_paths.emit,
            reconcile=False,
            debounce_s=self.watch_debounce_s,
            on_error=lambda exc: log.warning("watcher: %s", exc),
        )
        watcher.start()
        self._watcher = watcher

    def _on_watched_paths(self, paths: list[str]) -> None:
        if self.state != CLOSED:
            self.indexer.request_paths(paths)

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
