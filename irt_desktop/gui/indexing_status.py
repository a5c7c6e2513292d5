"""The status bar's live part: indexing progress (count, images/s, ETA), pause/resume, and the device."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from irt_desktop.gui import formatting, icons

if TYPE_CHECKING:
    from irt_desktop.library.records import IndexProgress, IndexReport, LibraryStatus

PHASES = {
    "scan": "Looking for new photos",
    "load-model": "Loading the model",
    "embed": "Indexing",
    "save": "Saving",
    "done": "Finishing",
}


def library_status_text(status: LibraryStatus) -> str:
    """The idle line between passes, from the catalog's own counts (a pass's report knows only its own)."""
    n, pending, failed = status.n_images, status.n_pending, status.n_failed
    if pending:
        text = f"{formatting.count(pending)} of {formatting.plural(n, 'photo')} waiting to be indexed"
    else:
        text = f"Up to date · {formatting.plural(n, 'photo')}"
    if failed:
        text += f" · {formatting.count(failed)} unreadable"
    if status.target_model_id:
        text += " · switching model"
    return text


def finished_text(report: IndexReport | None, error: BaseException | None) -> str:
    """The line right after a pass; the refresh that follows replaces it with the counts."""
    if error is not None:
        return "Indexing stopped with an error"
    if report is not None and report.cancelled:
        return "Indexing interrupted"
    return "Up to date"


def model_tooltip(status: LibraryStatus) -> str:
    target = status.target_model_id
    return f"Model: {status.model_id or 'none'}" + (f"\nRe-indexing for {target}" if target else "")


class IndexingStatus(QWidget):
    pause_toggled = Signal(bool)  # True = pause

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.label = QLabel("Starting…")
        self.label.setAccessibleName("Indexing status")
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setAccessibleName("Indexing progress")
        self.bar.hide()
        self.pause_button = QToolButton()
        self.pause_button.setAutoRaise(True)
        self.pause_button.setCheckable(True)
        self.pause_button.setIcon(icons.icon("pause"))
        self.pause_button.setToolTip("Pause indexing")
        self.pause_button.setAccessibleName("Pause indexing")
        self.pause_button.toggled.connect(self._on_toggled)
        self.pause_button.hide()
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.pause_button)
        self._running = False

    def _on_toggled(self, paused: bool) -> None:
        self._show_paused(paused)
        self.pause_toggled.emit(paused)

    def _show_paused(self, paused: bool) -> None:
        self.pause_button.setIcon(icons.icon("play" if paused else "pause"))
        text = "Resume indexing" if paused else "Pause indexing"
        self.pause_button.setToolTip(text)
        self.pause_button.setAccessibleName(text)

    def set_paused(self, paused: bool) -> None:
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.blockSignals(False)
        self._show_paused(paused)
        if paused and self._running:
            self.label.setText("Indexing paused — " + self.label.text().split(" — ")[-1])

    def set_running(self) -> None:
        self._running = True
        self.bar.show()
        self.bar.setRange(0, 0)
        self.pause_button.show()
        self.label.setText("Looking for new photos…")

    def set_progress(self, p: IndexProgress) -> None:
        self._running = True
        self.bar.show()
        self.pause_button.show()
        total, done, phase = p.total, p.done, p.phase
        if total > 0 and phase == "embed":
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
            text = (
                f"{PHASES.get(phase, 'Indexing')} {formatting.count(done)} / {formatting.count(total)}"
                f" · {formatting.rate(p.images_per_s)}"
                f" · {formatting.duration(p.eta_s)} left"
            )
        else:
            self.bar.setRange(0, 0)
            text = PHASES.get(phase, "Working") + "…"
            if phase == "scan" and done:
                text = f"Looking for new photos… {formatting.count(done)} files seen"
        if self.pause_button.isChecked():
            text = "Indexing paused — " + text
        self.label.setText(text)

    def set_idle(self, text: str) -> None:
        self._running = False
        self.bar.hide()
        # A pause outlives the run: keep the way to resume in sight.
        self.pause_button.setVisible(self.pause_button.isChecked())
        self.label.setText(text)
