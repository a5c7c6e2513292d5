"""The GUI's view of the library: one object on the GUI thread that forwards every request off it and
turns answers into signals.

The library's short calls (open, roots, search, duplicates, model activation, settings) run in the
"library" lane of the window's TaskRunner, one after another in the order asked, so a search is answered
while indexing goes on; `indexer` (gui.workers.IndexingWorker) owns indexing runs and the model they load.
The library's watcher only reports changed paths; the indexer indexes them, so watched changes show
progress in the status bar and wait while indexing is paused. Nothing here blocks the GUI thread except
`close()` at exit.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from irt_desktop.gui.library_open import (
    Opener,
    describe_device,
    inference_options,
    is_no_model_error,
    library_has_model,
    open_real_library,
)
from irt_desktop.gui.library_watch import LibraryWatch
from irt_desktop.gui.model_warmup import prepare_after_open
from irt_desktop.gui.search_model import SearchAnswer, SearchRequest, run_search
from irt_desktop.gui.settings import AppSettings
from irt_desktop.gui.tasks import Task, TaskRunner
from irt_desktop.gui.workers import IndexingWorker
from irt_desktop.paths import LibraryLayout

if TYPE_CHECKING:
    from irt_desktop.library import Library
    from irt_desktop.library.records import DuplicateReport, Failure, IndexReport, LibraryStatus, Root
    from irt_desktop.library.watcher import Watcher
    from irt_desktop.retrieval.bundle import ModelBundle

log = logging.getLogger(__name__)

OPENING, NO_MODEL, READY, FAILED, CLOSED = "opening", "no_model", "ready", "failed", "closed"
# The TaskRunner lane of every call that reads or changes the open library.
LIBRARY_LANE = "library"
# Seconds a changed path must stay quiet before the watcher reports it (tests shorten it).
WATCH_DEBOUNCE_S = 2.0
# Another process (`irt-desktop index`) holds the library's writer lock: try opening again this often.
BUSY_RETRY_MS = 5000

T = TypeVar("T")


class LibraryNotReady(RuntimeError):
    pass


class LibraryClient(QObject):
    state_changed = Signal(str)
    roots_changed = Signal(list)  # list[Root]
    status_changed = Signal(object)  # LibraryStatus
    index_started = Signal()
    index_progress = Signal(object)  # IndexProgress
    index_finished = Signal(object, object)  # IndexReport | None, exception | None
    paused_changed = Signal(bool)
    stopped_changed = Signal(bool)  # the user cancelled indexing (True) / resumed it (False)
    device_changed = Signal(str)
    model_changed = Signal(str)
    error = Signal(str, str)  # title, message
    message = Signal(str)

    def __init__(
        self,
        library_dir: Path,
        settings: AppSettings,
        opener: Opener | None = None,
        parent: QObject | None = None,
        *,
        runner: TaskRunner | None = None,
    ) -> None:
        """`runner`: the window's task runner (a new one by default). The client owns it: close() shuts
        it down after the library's last call."""
        super().__init__(parent)
        self.library_dir = Path(library_dir)
        self.layout = LibraryLayout(self.library_dir)
        self.settings = settings
        self.runner = runner if runner is not None else TaskRunner(parent=self)
        self._opener = opener or open_real_library
        self.library: Library | None = None
        self.state = CLOSED
        self.open_error: BaseException | None = None
        self.roots: list[Root] = []
        # The open library's exclude patterns (None: no library, or one without the option).
        self.exclude_patterns: list[str] | None = None
        self.watch_debounce_s = WATCH_DEBOUNCE_S
        # Set on the worker as soon as Library.open returns, so close() can close it even if the answer
        # never reaches the GUI thread.
        self._opened: Library | None = None
        self.indexer = IndexingWorker(self)
        self.indexer.run_started.connect(self.index_started)
        self.indexer.progress.connect(self.index_progress)
        self.indexer.run_finished.connect(self._on_index_finished)
        self.indexer.paused_changed.connect(self.paused_changed)
        self.indexer.stopped_changed.connect(self.stopped_changed)
        self._watch = LibraryWatch(self)
        self._watch.changed.connect(self._on_watched_paths)
        self._search: Task | None = None
        # While another process writes the library, opening is retried quietly until it is free.
        self._busy_retry = QTimer(self)
        self._busy_retry.setSingleShot(True)
        self._busy_retry.setInterval(BUSY_RETRY_MS)
        self._busy_retry.timeout.connect(self._retry_open)

    @property
    def watcher(self) -> Watcher | None:
        """The open library's watcher once it runs (it reports changes after the first pass)."""
        return self._watch.watcher

    # --- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the library off the GUI thread; indexing starts once it is open and has a model."""
        self._set_state(OPENING)
        self.run_in_lane(self._open, self._on_opened, self._on_open_failed, name="open library")
        self._refresh_device()

    def reopen(self) -> None:
        """After a model was installed or a setting changed what the library is built with."""
        self.indexer.cancel_current()

        def close_old() -> None:
            self.indexer.wait_idle()
            self.indexer.set_library(None)
            self._watch.stop()
            library = self.library or self._opened
            self.library = self._opened = None
            if library is not None:
                library.close()

        self.run_in_lane(
            close_old, on_error=lambda e: log.warning("closing the library: %s", e), name="close library"
        )
        self.start()

    def _open(self) -> tuple[Library, bool, list[str] | None]:
        library = self._opener(self.library_dir, self.settings)
        self._opened = library
        try:
            patterns = getattr(library, "exclude_patterns", None)
            has_model = library_has_model(library, self.library_dir)
            return library, has_model, None if patterns is None else list(patterns)
        except BaseException:
            library.close()
            raise

    def _on_opened(self, answer: tuple[Library, bool, list[str] | None]) -> None:
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
        if has_model:
            self._become_ready()
        else:
            # The library is usable for folders; indexing and search wait for a model.
            self._start_watcher_later()
            self._set_state(NO_MODEL)

    def _become_ready(self) -> None:
        self.indexer.set_library(self.library)
        prepare_after_open(self)  # the serving model loads now, in the lane, ahead of the first search
        self._set_state(READY)  # a search that waited for the library is queued now, behind the model
        # The watcher, then the startup pass, queue behind that first search: at 10^6 photos the
        # pass's walk (tens of seconds of Python) and the watcher's 10^4 inotify watches took the GIL
        # and the cores from it (the first result came after 30 s). The watcher still starts before
        # the pass scans, so a change made meanwhile is seen by one or the other.
        self._start_watcher_later(then=self.indexer.request)

    def check_model(self) -> None:
        """After a model was installed into this library's models folder."""

        def checked(has_model: bool) -> None:
            if has_model and self.state != READY:
                self._become_ready()
                self.refresh()

        self.submit(lambda lib: library_has_model(lib, self.library_dir), checked, name="check model")

    def _on_open_failed(self, exc: BaseException) -> None:
        same = self.state == FAILED and str(exc) == str(self.open_error)
        self.open_error = exc
        if self.state == CLOSED:
            return
        if not same:
            log.warning("library did not open: %s", exc)
            self._set_state(FAILED)
        if is_busy_error(exc):
            if not same:
                self.message.emit(f"{exc}: the library opens here as soon as it is free")
            self._busy_retry.start()

    def _retry_open(self) -> None:
        if self.state == FAILED and is_busy_error(self.open_error):
            self.run_in_lane(self._open, self._on_opened, self._on_open_failed, name="open library")

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    def _refresh_device(self) -> None:
        self.run_in_lane(
            lambda: describe_device(self.library or self._opened, self.settings),
            self.device_changed.emit,
            lambda exc: log.debug("no device description: %s", exc),
            name="device",
        )

    def set_inference(self, device: str, bf16: bool) -> None:
        """Settings changed the device or bf16: the open library reloads its model on next use (a running
        pass at its next batch); nothing is reopened. A closed library takes them when it opens."""

        def apply() -> None:
            library = self.library or self._opened
            if library is not None:
                library.set_inference(None if device == "auto" else device, bf16)

        self.run_in_lane(apply, lambda _: self._refresh_device(), name="change the device")

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

        self.run_in_lane(apply, applied, name="apply exclude patterns")

    def _start_watcher_later(self, then: Callable[[], None] | None = None) -> None:
        """Start the watcher in the library lane; `then()` on the GUI thread afterwards, watcher or not."""

        def failed(exc: BaseException) -> None:
            log.warning("no watcher: %s", exc)
            if then is not None:
                then()

        self.run_in_lane(
            lambda: self._watch.start(self.library, self.watch_debounce_s),
            (lambda _: then()) if then is not None else None,
            failed,
            name="watch",
        )

    def _on_watched_paths(self, paths: list[str]) -> None:
        if self.state != CLOSED:
            self.indexer.request_paths(paths)

    def close(self, timeout_ms: int = 15000) -> None:
        """At exit: stop indexing, let the running call finish, drop the rest, close the library.
        Blocks briefly."""
        if self.state != CLOSED or self.library is not None or self._opened is not None:
            self._set_state(CLOSED)
        self._busy_retry.stop()
        self.indexer.stop(timeout_ms)
        self.runner.shutdown(timeout_ms)
        self._watch.stop()
        library = self.library or self._opened
        self.library = self._opened = None
        if library is not None:
            try:
                library.close()
            except Exception as exc:
                log.warning("library close: %s", exc)

    # --- calls ----------------------------------------------------------------------------------------------
    def _lib(self) -> Library:
        if self.library is None:
            if self.open_error is not None:
                raise LibraryNotReady(str(self.open_error)) from self.open_error
            raise LibraryNotReady("the library is not open")
        return self.library

    def submit(
        self,
        fn: Callable[[Library], T],
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        name: str = "",
    ) -> Task:
        """Run `fn(library)` in the library lane; a failure without `on_error` is shown as an error."""
        return self.run_in_lane(lambda: fn(self._lib()), on_done, on_error, name=name)

    def run_in_lane(
        self,
        fn: Callable[[], T],
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        name: str = "",
    ) -> Task:
        """Run `fn()` in the library lane, open library or not (opening, closing, settings)."""
        return self.runner.run(
            fn, on_done, on_error or self._report_error(name), name=name, lane=LIBRARY_LANE
        )

    def _report_error(self, what: str) -> Callable[[BaseException], None]:
        def report(exc: BaseException) -> None:
            self.error.emit(what.capitalize() if what else "Error", _message(exc))

        return report

    def refresh(self) -> None:
        self.submit(
            lambda lib: (lib.roots(), lib.status()),
            self._on_refreshed,
            on_error=lambda exc: log.warning("refresh: %s", exc),
            name="refresh",
        )

    def _on_refreshed(self, answer: tuple[list[Root], LibraryStatus]) -> None:
        self.roots, status = answer
        self.roots_changed.emit(self.roots)
        self.status_changed.emit(status)

    def add_root(self, path: Path, recursive: bool = True, network: bool = False) -> None:
        def added(_: Root) -> None:
            self.message.emit(f"Watching {Path(path)}")
            self.refresh()
            self.indexer.resume_stopped()  # adding a folder asks for it to be indexed, even after a Cancel

        self.submit(
            lambda lib: lib.add_root(Path(path), recursive=recursive, network=network),
            added,
            name="add folder",
        )

    def remove_root(self, root_id: int) -> None:
        # The indexer must not be reading the root while it goes away: stop the pass, then remove.
        self.indexer.cancel_current()

        def remove(lib: Library) -> None:
            self.indexer.wait_idle()
            lib.remove_root(root_id)

        def removed(_: None) -> None:
            self.refresh()
            self.indexer.request()

        self.submit(remove, removed, name="remove folder")

    def rescan(self) -> None:
        if self.library is not None:
            self.indexer.resume_stopped()

    def cancel_indexing(self) -> None:
        """Stop after the batch being embedded; what is indexed stays, the rest waits for resume."""
        self.indexer.cancel_by_user()

    def resume_indexing(self) -> None:
        """After a Cancel (or to lift a pause): index what is left."""
        self.indexer.resume()
        if self.library is not None:
            self.indexer.resume_stopped()

    def pause_indexing(self, paused: bool) -> None:
        if paused:
            self.indexer.pause()
        else:
            self.indexer.resume()

    def _on_index_finished(self, report: IndexReport | None, error: BaseException | None) -> None:
        if error is not None and is_no_model_error(error):
            self.indexer.set_library(None)
            self._set_state(NO_MODEL)
        elif error is not None and self.state != CLOSED:
            self.error.emit("Indexing stopped", _message(error))
        if report is not None and report.switched_model:
            self.model_changed.emit(str(report.model_id or ""))
        self.index_finished.emit(report, error)
        if self.state == READY:
            self.refresh()

    def search(
        self,
        request: SearchRequest,
        on_done: Callable[[SearchAnswer], None],
        on_error: Callable[[BaseException], None],
    ) -> Task:
        """Newest wins: a search still queued when another arrives never runs, one still running is
        never answered."""
        if self._search is not None:
            self._search.cancel()
        self._search = self.submit(lambda lib: run_search(lib, request), on_done, on_error, name="search")
        return self._search

    def duplicates(
        self,
        threshold: float,
        on_done: Callable[[DuplicateReport], None],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> Task:
        return self.submit(
            lambda lib: lib.duplicates(threshold=threshold), on_done, on_error, name="find duplicates"
        )

    def failures(self, on_done: Callable[[list[Failure]], None]) -> Task:
        return self.submit(lambda lib: lib.failures(), on_done, name="list unreadable files")

    def activate_model(
        self, bundle: ModelBundle, on_done: Callable[[ModelBundle], None] | None = None
    ) -> Task:
        def activated(_: None) -> None:
            self.message.emit("Re-indexing with the new model; search keeps using the old one until done")
            self.indexer.request()
            self.refresh()
            if on_done is not None:
                on_done(bundle)

        return self.submit(lambda lib: lib.activate_model(bundle), activated, name="activate model")


def is_busy_error(exc: BaseException | None) -> bool:
    """True for the library's LibraryBusy (another process holds the writer lock); looked up, not
    imported, like library_open.is_no_model_error."""
    errors = sys.modules.get("irt_desktop.library.errors")
    return exc is not None and errors is not None and isinstance(exc, errors.LibraryBusy)


def _message(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
