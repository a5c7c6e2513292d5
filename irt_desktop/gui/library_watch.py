"""The open library's watcher as the GUI uses it: it only reports settled changed paths, on the GUI
thread, and the client hands them to the indexer (progress in the status bar, Pause honoured, one model
in use). The first pass is the indexer's, so the watcher reconciles nothing itself.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    from irt_desktop.library import Library
    from irt_desktop.library.watcher import Watcher

log = logging.getLogger(__name__)


class LibraryWatch(QObject):
    """`start(library)` from the library lane, `stop()` before the library closes; `changed(paths)`."""

    changed = Signal(list)  # settled changed paths; emitted from the watcher's thread, received queued

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.watcher: Watcher | None = None

    def start(self, library: Library | None, debounce_s: float) -> None:
        if library is None or self.watcher is not None or not hasattr(library, "watch"):
            return
        watcher = library.watch(
            on_paths=self.changed.emit,
            reconcile=False,
            debounce_s=debounce_s,
            on_error=lambda exc: log.warning("watcher: %s", exc),
        )
        watcher.start()
        self.watcher = watcher

    def stop(self) -> None:
        if self.watcher is not None:
            try:
                self.watcher.stop()
            except Exception as exc:
                log.warning("watcher did not stop cleanly: %s", exc)
            self.watcher = None
