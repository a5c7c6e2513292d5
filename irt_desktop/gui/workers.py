"""The GUI's dedicated worker threads; every short or one-off job goes through gui.tasks.TaskRunner.

- `IndexingWorker`: the one long-lived QThread that owns the model and indexing runs (Library.index for a
  full pass, Library.update for the paths the watcher reports), with pause, cancel, coalesced re-run
  requests and progress throttled to a rate the event loop can absorb. A pass the user cancels keeps
  what it committed, and indexing then stays stopped (watched changes wait) until the user resumes.
  It stays a thread of its own (ARCHITECTURE.md, Threads): a pass lasts minutes to hours and must never
  hold a pool thread that the library's short calls need, nor run beside a second copy of itself.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThread, Signal

from irt_desktop.gui.tasks import PROGRESS_INTERVAL_S, Cancelled, lower_current_thread_priority

if TYPE_CHECKING:
    from irt_desktop.library import Library
    from irt_desktop.library.records import IndexProgress

log = logging.getLogger(__name__)

__all__ = ["Cancelled", "IndexingWorker", "lower_current_thread_priority"]


class IndexingWorker(QThread):
    """Owns Library.index() and update(): runs when asked, once more if asked again meanwhile, until
    stopped. A full pass is run for request(); paths from request_paths() are re-checked by update(),
    unless a full pass that starts later covers them anyway."""

    run_started = Signal()
    progress = Signal(object)  # IndexProgress
    run_finished = Signal(object, object)  # IndexReport or None, exception or None
    paused_changed = Signal(bool)
    stopped_changed = Signal(bool)  # True: the user cancelled; nothing runs until resume_stopped()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("indexing")
        self._cond = threading.Condition()
        self._requested = False
        self._paths: dict[str, None] = {}  # ordered set: paths waiting for an update()
        self._stopping = False
        self._library: Library | None = None
        self.cancel_event = threading.Event()
        self.pause_event = threading.Event()
        self._running = threading.Event()
        self._last_emit = 0.0
        self._held = False  # the user cancelled: requests are kept, and wait for resume_stopped()

    def set_library(self, library: Library | None) -> None:
        with self._cond:
            if library is not self._library:
                self._paths.clear()  # they were the old library's
            self._library = library

    @property
    def is_running(self) -> bool:
        return self._running.is_set()

    @property
    def is_paused(self) -> bool:
        return self.pause_event.is_set()

    @property
    def is_stopped(self) -> bool:
        """The user cancelled indexing and has not resumed it."""
        return self._held

    def request(self) -> None:
        """Index (again) as soon as the library is there and the current run is over."""
        with self._cond:
            if self._stopping:
                return
            self._requested = True
            self._cond.notify_all()
        if not self.isRunning():
            self.start()

    def request_paths(self, paths: list[str]) -> None:
        """Re-check these files or folders (changes the watcher saw) when the current run is over."""
        with self._cond:
            if self._stopping or not paths:
                return
            self._paths.update(dict.fromkeys(paths))
            self._cond.notify_all()
        if not self.isRunning():
            self.start()

    def pause(self) -> None:
        if not self.pause_event.is_set():
            self.pause_event.set()
            self.paused_changed.emit(True)

    def resume(self) -> None:
        if self.pause_event.is_set():
            self.pause_event.clear()
            self.paused_changed.emit(False)

    def cancel_current(self) -> None:
        """Stop the running pass (it resumes from where it was on the next request)."""
        self.cancel_event.set()

    def cancel_by_user(self) -> None:
        """The user's Cancel: the running pass stops after the batch it is embedding (committed batches
        stay), a pause is lifted so it can notice, and no pass starts again, not even for the watcher's
        changes (they are kept), until resume_stopped()."""
        with self._cond:
            was_held, self._held = self._held, True
            self.cancel_event.set()
        self.resume()
        if not was_held:
            self.stopped_changed.emit(True)

    def resume_stopped(self) -> None:
        """Index again after a Cancel: a full pass, which also covers the changes kept meanwhile."""
        with self._cond:
            was_held, self._held = self._held, False
        if was_held:
            self.stopped_changed.emit(False)
        self.request()

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Called from another worker (never the GUI thread) before changing what indexing reads."""
        deadline = time.monotonic() + timeout_s
        while self._running.is_set():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def stop(self, timeout_ms: int = 30000) -> bool:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self.cancel_event.set()
        self.pause_event.clear()  # a paused run must be able to notice the cancel
        return self.wait(timeout_ms) if self.isRunning() else True

    def run(self) -> None:
        lower_current_thread_priority()
        while True:
            with self._cond:
                while not self._stopping and (
                    self._held or not ((self._requested or self._paths) and self._library is not None)
                ):
                    self._cond.wait()
                if self._stopping:
                    return
                full, self._requested = self._requested, False
                # A full pass scans after this point, so it also sees whatever these paths changed.
                paths = [] if full else list(self._paths)
                self._paths.clear()
                library = self._library
                self.cancel_event.clear()
                self._running.set()
            self.run_started.emit()
            report, error = None, None
            try:
                if full:
                    report = library.index(
                        progress=self._on_progress, cancel=self.cancel_event, pause=self.pause_event
                    )
                else:
                    report = library.update(
                        paths, progress=self._on_progress, cancel=self.cancel_event, pause=self.pause_event
                    )
            except BaseException as exc:
                log.warning("indexing failed: %s\n%s", exc, traceback.format_exc())
                error = exc
            finally:
                self._running.clear()
            self.run_finished.emit(report, error)

    def _on_progress(self, p: IndexProgress) -> None:
        # Emitting per image would flood the GUI's event queue; 10 updates a second read as live.
        now = time.monotonic()
        if now - self._last_emit >= PROGRESS_INTERVAL_S or p.done >= p.total:
            self._last_emit = now
            self.progress.emit(p)
