"""`index --watch`'s loop: the library's watcher reports changed paths, this loop's thread indexes them."""

from __future__ import annotations

import argparse
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """No command of its own: `index --watch` (index.py) runs the loop."""


@contextlib.contextmanager
def _signals_deferred():
    """SIGINT and SIGTERM wait until the block is done (main thread only; elsewhere a no-op)."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    old = {sig: signal.signal(sig, lambda n, _f: caught.append(n)) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


class WatchLoop:
    """`index --watch`: the library's watcher reports settled paths into a queue, and this loop's own
    thread indexes them with `library.update()` (batches that arrive during an update are merged into
    the next one). The watcher itself never indexes.

    `runs` counts finished updates; `idle()` is true when nothing is queued, reported or running."""

    def __init__(
        self,
        library,
        on_report: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        **watch_options: Any,
    ) -> None:
        self.library = library
        self.on_report = on_report
        self.on_error = on_error
        self.runs = 0
        self._queue: queue.Queue[list[str]] = queue.Queue()
        self._outstanding = 0  # batches reported and not yet indexed
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.watcher = library.watch(on_paths=self._receive, on_error=on_error, **watch_options)

    @property
    def watched_roots(self) -> dict[int, str]:
        return self.watcher.watched_roots

    def idle(self) -> bool:
        with self._lock:
            return self._outstanding == 0 and self.watcher.idle.is_set()

    def start(self) -> WatchLoop:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="irt-watch-index", daemon=True)
            self._thread.start()
            self.watcher.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop watching, let a running update end at its next batch, and save the FAISS index."""
        self._stop.set()  # also cancels a running update at its next batch
        self.watcher.stop(timeout)
        if self._thread is not None:
            self._queue.put([])  # wakes the loop
            self._thread.join(timeout)
            self._thread = None
            cache = getattr(self.library, "vector_cache", None)
            try:
                if cache is not None:
                    cache.save(force=True)
            except Exception as exc:  # reported, not raised: the caller is on its way out
                log.warning("could not save the vector index: %s", exc)
                if self.on_error is not None:
                    self.on_error(exc)

    def __enter__(self) -> WatchLoop:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _receive(self, paths: list[str]) -> None:  # on the watcher's thread
        with self._lock:
            self._outstanding += 1
        self._queue.put(list(paths))

    def _run(self) -> None:
        while not self._stop.is_set():
            items = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while True:  # merge what else arrived meanwhile: one update, one scan
                    items.append(self._queue.get_nowait())
            batch = sorted({p for item in items for p in item})
            try:
                if batch and not self._stop.is_set():
                    report = self.library.update(batch, cancel=self._stop)
                    self.runs += 1
                    if self.on_report is not None:
                        self.on_report(report)
            except Exception as exc:  # the loop must outlive one bad update
                log.exception("watched update failed")
                if self.on_error is not None:
                    self.on_error(exc)
            finally:
                with self._lock:
                    self._outstanding -= sum(1 for item in items if item)  # stop()'s wake-up is empty
