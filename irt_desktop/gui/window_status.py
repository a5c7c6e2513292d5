"""The main window's status bar and what feeds it: indexing (progress, pause, cancel, resume), the model
in use, the compute device; and, while a pass runs, the library panel's folder counts kept current.

Nothing here may widen the window: the texts elide to the room they get, and the full text is in the
tooltip.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QToolButton

from irt_desktop.gui.elide import ElidedLabel
from irt_desktop.gui.indexing_status import IndexingStatus, finished_text, library_status_text, model_tooltip
from irt_desktop.gui.library_client import READY

if TYPE_CHECKING:
    from irt_desktop.gui.main_window import MainWindow
    from irt_desktop.library.model_store import InstalledModel
    from irt_desktop.library.records import IndexProgress, IndexReport, LibraryStatus

# While a pass runs, the folder list is re-read at most this often (a count over the catalog each time)...
ROOTS_REFRESH_S = 2.0
# ...and never more than this share of the time: a large catalog's counts take longer.
ROOTS_REFRESH_SHARE = 0.1
MODEL_TEXT_PX = 300
DEVICE_HINT_PX = 320


class WindowStatus(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        bar = window.statusBar()
        self.indexing = IndexingStatus()
        self.device_label = ElidedLabel("Device: …", max_hint_px=DEVICE_HINT_PX)
        self.device_label.setAccessibleName("Compute device")
        self.model_button = QToolButton()
        self.model_button.setObjectName("modelStatus")
        self.model_button.setAutoRaise(True)
        self.model_button.setText("Model: …")
        self.model_button.setAccessibleName("Model in use")
        self.model_button.setToolTip("The model search uses; click to see and switch models")
        # Permanent widgets stay put; transient messages (showMessage) use the free space on the left
        # instead of being painted over the indexing status.
        bar.addPermanentWidget(self.indexing)
        bar.addPermanentWidget(self.model_button)
        bar.addPermanentWidget(self.device_label)
        self._refresh_started = 0.0
        self._refresh_cost = 0.0
        self._refreshing = False
        # Ticks while a pass runs (paused too: a pause right after the scan must show what it found).
        self._roots_timer = QTimer(self)
        self._roots_timer.setInterval(int(ROOTS_REFRESH_S * 1000))
        self._roots_timer.timeout.connect(self._refresh_roots_now_and_then)

    def connect(self) -> None:
        w, c = self.window, self.window.client
        c.index_started.connect(self._on_started)
        c.index_progress.connect(self._on_progress)
        c.index_finished.connect(self._on_finished)
        c.paused_changed.connect(self._on_paused)
        c.stopped_changed.connect(self._on_stopped)
        c.device_changed.connect(lambda text: self.device_label.setText(f"Device: {text}"))
        c.status_changed.connect(self._on_status)
        c.roots_changed.connect(self._on_roots)
        self.indexing.pause_toggled.connect(c.pause_indexing)
        self.indexing.cancel_requested.connect(c.cancel_indexing)
        self.indexing.resume_requested.connect(c.resume_indexing)
        self.model_button.clicked.connect(w.open_models_dialog)
        w.model_manager.active_changed.connect(self.show_model)

    def message(self, text: str, ms: int = 8000) -> None:
        """A passing message: the first line only (the rest is for the dialog or banner that has it)."""
        first = text.strip().splitlines()[0] if text.strip() else ""
        self.window.statusBar().showMessage(first, ms)

    # --- indexing -------------------------------------------------------------------------------------
    def _on_started(self) -> None:
        self.indexing.set_running()
        self.window.library_panel.set_indexing(True)
        self.window.cancel_action.setEnabled(True)
        self._roots_timer.start()

    def _on_progress(self, p: IndexProgress) -> None:
        self.indexing.set_progress(p)
        if p.phase == "load-model":
            # The scan has just committed what it found: the folders can say how far indexing is.
            self._refresh_roots_now_and_then(force=True)

    def _refresh_roots_now_and_then(self, force: bool = False) -> None:
        """The folder list during a pass (a first indexing would otherwise read "0 photos" until the
        end): re-read every ROOTS_REFRESH_S, spaced further apart when the counts take long."""
        now = time.monotonic()
        wait = max(ROOTS_REFRESH_S, self._refresh_cost / ROOTS_REFRESH_SHARE) * 0.9
        if self._refreshing or (not force and now - self._refresh_started < wait):
            return
        client = self.window.client
        if client.state != READY:
            return
        self._refreshing = True
        self._refresh_started = now
        client.refresh()

    def _on_roots(self, _roots: list) -> None:
        if self._refreshing:
            self._refreshing = False
            self._refresh_cost = time.monotonic() - self._refresh_started

    def _on_finished(self, report: IndexReport | None, error: BaseException | None) -> None:
        self.indexing.set_idle(finished_text(report, error))
        self.window.library_panel.set_indexing(False)
        self.window.cancel_action.setEnabled(False)
        self._roots_timer.stop()

    def _on_paused(self, paused: bool) -> None:
        self.indexing.set_paused(paused)
        action = self.window.pause_action
        action.blockSignals(True)
        action.setChecked(paused)
        action.blockSignals(False)
        action.setText("&Resume indexing" if paused else "&Pause indexing")

    def _on_stopped(self, stopped: bool) -> None:
        self.indexing.set_stopped(stopped)
        w = self.window
        w.cancel_action.setEnabled(not stopped and w.client.indexer.is_running)
        w.resume_action.setEnabled(stopped)

    def _on_status(self, status: LibraryStatus) -> None:
        self.device_label.setToolTip(model_tooltip(status))
        client = self.window.client
        if client.state == READY and not client.indexer.is_running:
            self.indexing.set_idle(library_status_text(status, stopped=client.indexer.is_stopped))

    # --- model ----------------------------------------------------------------------------------------
    def show_model(self, entry: InstalledModel | None) -> None:
        target = self.window.model_manager.target
        button = self.model_button
        if entry is None:
            button.setText("Model: none")
            button.setToolTip("No model is in use yet; click to install or choose one")
            return
        text = f"Model: {entry.title}"
        tip = f"{entry.title}\n{entry.provenance_text}\n{entry.id}"
        if target is not None:
            text += f" → {target.title}"
            tip += f"\n\nSwitching to {target.title}: search uses the current model until re-indexed."
        metrics = QFontMetrics(button.font())
        button.setText(metrics.elidedText(text, Qt.TextElideMode.ElideMiddle, MODEL_TEXT_PX))
        button.setToolTip(tip + "\n\nClick to see and switch models.")
