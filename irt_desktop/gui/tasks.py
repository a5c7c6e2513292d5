"""The GUI's one way to run work off the GUI thread (in the spirit of Picard's util/thread.py).

`TaskRunner.run(fn, on_done, on_error)` runs `fn()` on a QThreadPool thread and calls `on_done(result)`
or `on_error(exc)` on the GUI thread; `run_with_progress(fn, on_progress, ...)` gives `fn(progress,
cancel_event)` a progress callback whose reports reach the GUI thread in batches (at most every
`interval_s`, nothing dropped, so a chart keeps every point). `to_main(fn, *args)` posts any call to the
GUI thread.

Tasks that name the same `lane` run one after another in submission order (the library's short calls:
open, search, roots); others run side by side. A task's answer is dropped when the task was cancelled
or the runner shut down, so a view never hears from work it no longer wants and needs no bookkeeping of
its own. Tests inject an executor (`TaskRunner(executor=run_inline)`) to run jobs on the calling thread.

The model-owning indexing loop is not a task: it lives on its own long-lived thread (gui.workers), and
thumbnails have their own small pool (gui.thumbnails) so scrolling never queues behind a search.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThread, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

WORKER_NICE = 10
PROGRESS_INTERVAL_S = 0.1
# Threads of a runner's own pool. Most tasks wait on disk, the network or a lock rather than the CPU; a
# pool sized to the cores (2 on a small laptop) would let a weights download and a folder scan hold every
# thread while the library lane's next search waits for one.
MIN_POOL_THREADS = 6

Executor = Callable[[Callable[[], None]], None]


def lower_current_thread_priority() -> None:
    """Best effort: make the calling (worker) thread yield the CPU to the GUI thread.

    On a 2-core machine a busy embedder would otherwise compete with the GUI thread; Linux applies nice
    per thread, and the threads torch/OpenMP start from a worker inherit it."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICE)
    else:
        thread = QThread.currentThread()
        if thread is not None:
            with contextlib.suppress(RuntimeError):
                thread.setPriority(QThread.Priority.LowPriority)


def run_inline(job: Callable[[], None]) -> None:
    """An executor for tests: the job runs at once on the calling thread."""
    job()


class Cancelled(Exception):
    """Raised inside a task's progress callback to stop it once the user cancelled."""


class _MainPoster(QObject):
    """Lives on the GUI thread; a signal emitted from any thread runs the call there (queued)."""

    call = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.call.connect(self._run)

    @Slot(object)
    def _run(self, fn: Callable[[], None]) -> None:
        fn()


_poster: _MainPoster | None = None
_poster_lock = threading.Lock()


def _on_main_thread() -> bool:
    app = QCoreApplication.instance()
    return app is None or QThread.currentThread() is app.thread()


def to_main(fn: Callable[..., Any], *args: Any) -> None:
    """Call `fn(*args)` on the GUI thread: at once if already there, else queued behind its events."""
    if _on_main_thread():
        fn(*args)
        return
    _main_poster().call.emit(lambda: fn(*args))


def _main_poster() -> _MainPoster:
    global _poster
    with _poster_lock:
        if _poster is None:
            # Usually made by a TaskRunner on the GUI thread; if a worker asks first, hand it over there.
            poster = _MainPoster()
            app = QCoreApplication.instance()
            if app is not None and poster.thread() is not app.thread():
                poster.moveToThread(app.thread())
            _poster = poster
        return _poster


class Task:
    """A handle on submitted work: cancel it, or ask whether it finished."""

    def __init__(self, name: str, raise_on_cancel: bool) -> None:
        self.name = name
        self.cancel_event = threading.Event()
        self._raise_on_cancel = raise_on_cancel
        self._dropped = False
        self._finished = threading.Event()

    def cancel(self) -> None:
        """Ask the work to stop (it sees `cancel_event`, or its next progress report raises) and drop
        whatever it still answers, so no callback of this task runs after this call."""
        self._dropped = True
        self.cancel_event.set()

    def abandon(self) -> None:
        """Drop the answer but let the work run to its end (a newer search replaced this one)."""
        self._dropped = True

    @property
    def dropped(self) -> bool:
        return self._dropped

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the work returned (for shutdown and tests; never on the GUI thread mid-session)."""
        return self._finished.wait(timeout_s)


class _Runnable(QRunnable):
    def __init__(self, job: Callable[[], None]) -> None:
        super().__init__()
        self._job = job
        self.setAutoDelete(True)

    def run(self) -> None:
        lower_current_thread_priority()
        self._job()


class TaskRunner(QObject):
    """Runs the GUI's background work; one per window (views share it)."""

    def __init__(
        self,
        pool: QThreadPool | None = None,
        *,
        executor: Executor | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        if pool is None:
            pool = QThreadPool(self)
            pool.setMaxThreadCount(max(MIN_POOL_THREADS, pool.maxThreadCount()))
            # Threads never expire: the library keeps state per thread until it closes (the catalog's
            # SQLite connection), so a thread retired after an idle spell and born again for the next
            # search would leave one more open connection behind each time.
            pool.setExpiryTimeout(-1)
        self._pool = pool
        self._executor = executor
        self._lock = threading.Lock()
        self._lanes: dict[str, deque[tuple[Task, Callable[[], None]]]] = {}
        self._busy_lanes: set[str] = set()
        self._closed = False
        _main_poster()

    @property
    def closed(self) -> bool:
        return self._closed

    def run(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        *,
        name: str = "",
        lane: str | None = None,
    ) -> Task:
        """`fn()` off the GUI thread; `on_done(result)` or `on_error(exc)` on it (a failure without
        `on_error` is logged)."""
        return self.run_with_progress(
            lambda progress, cancel: fn(), None, on_done, on_error, name=name or _name(fn), lane=lane
        )

    def run_with_progress(
        self,
        fn: Callable[[Callable[[Any], None], threading.Event], Any],
        on_progress: Callable[[list[Any]], None] | None,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        *,
        name: str = "",
        lane: str | None = None,
        on_cancelled: Callable[[], None] | None = None,
        raise_on_cancel: bool = True,
        interval_s: float = PROGRESS_INTERVAL_S,
    ) -> Task:
        """`fn(progress, cancel_event)` off the GUI thread. `on_progress(batch)` receives every object
        reported since the last delivery. After `task.cancel()` nothing more is delivered; a job that
        winds down by itself on `cancel_event` (the trainer saves its checkpoint) passes
        `raise_on_cancel=False` and its end is reported to `on_cancelled` when it stopped because of a
        cancel requested through the event without dropping (`task.cancel_event.set()`)."""
        task = Task(name or _name(fn), raise_on_cancel)
        if self._closed:
            task._dropped = True
            task._finished.set()
            return task
        buffer: list[Any] = []
        last = [0.0]

        def deliver(callback: Callable[..., None] | None, *args: Any) -> None:
            if callback is None:
                return

            def call() -> None:
                if not task._dropped and not self._closed:
                    callback(*args)

            to_main(call)

        def flush() -> None:
            if buffer:
                batch = buffer[:]
                buffer.clear()
                deliver(on_progress, batch)

        def progress(value: Any) -> None:
            if task.cancel_event.is_set() and task._raise_on_cancel:
                raise Cancelled()
            if on_progress is None:
                return
            buffer.append(value)
            now = time.monotonic()
            if now - last[0] >= interval_s:
                last[0] = now
                flush()

        def job() -> None:
            started = time.monotonic()
            try:
                if task._dropped or self._closed:
                    return
                try:
                    result = fn(progress, task.cancel_event)
                except Cancelled:
                    flush()
                    deliver(on_cancelled)
                except BaseException as exc:  # delivered to the GUI: a pool thread must not die
                    log.debug("task %s failed:\n%s", task.name, traceback.format_exc())
                    flush()
                    if task.cancel_event.is_set():
                        deliver(on_cancelled)
                    elif on_error is not None:
                        deliver(on_error, exc)
                    else:
                        log.warning("%s failed: %s", task.name, exc)
                else:
                    flush()
                    if task.cancel_event.is_set() and on_cancelled is not None:
                        deliver(on_cancelled)
                    else:
                        deliver(on_done, result)
            finally:
                # Which call a slow lane waited behind (IRT_LOG_LEVEL=DEBUG).
                log.debug("task %r (lane %s) ran %.3f s", task.name, lane, time.monotonic() - started)
                task._finished.set()
                if lane is not None:
                    self._lane_next(lane)

        if lane is None:
            self._submit(job)
        else:
            with self._lock:
                self._lanes.setdefault(lane, deque()).append((task, job))
                start = lane not in self._busy_lanes
                if start:
                    self._busy_lanes.add(lane)
            if start:
                self._lane_next(lane)
        return task

    def pending(self, lane: str) -> int:
        """Tasks of `lane` not yet finished (queued plus running)."""
        with self._lock:
            return len(self._lanes.get(lane, ())) + (1 if lane in self._busy_lanes else 0)

    def _lane_next(self, lane: str) -> None:
        """Start the lane's next job, or mark the lane idle when none is queued."""
        with self._lock:
            queue = self._lanes.get(lane)
            if not queue:
                self._busy_lanes.discard(lane)
                return
            _, job = queue.popleft()
        self._submit(job)

    def _submit(self, job: Callable[[], None]) -> None:
        if self._executor is not None:
            self._executor(job)
        else:
            self._pool.start(_Runnable(job))

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """At close: drop every queued task and every answer still to come, then wait for running
        work to return. True if it all returned within the timeout."""
        self._closed = True
        with self._lock:
            queued = [task for queue in self._lanes.values() for task, _ in queue]
            for queue in self._lanes.values():
                queue.clear()
        for task in queued:  # never started: finished as far as anyone waiting on them is concerned
            task._dropped = True
            task._finished.set()
        return self._pool.waitForDone(timeout_ms)


def _name(fn: Any) -> str:
    return getattr(fn, "__name__", "task")
