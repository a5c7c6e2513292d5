"""The status bar's live part: indexing progress (count, images/s, ETA), pause/resume, and the device."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from irt_desktop.gui import formatting, icons

PHASES = {
    "scan": "Looking for new photos",
    "load-model": "Loading the model",
    "embed": "Indexing",
    "save": "Saving",
    "done": "Finishing",
}


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

    def set_progress(self, p: Any) -> None:
        self._running = True
        self.bar.show()
        self.pause_button.show()
        total, done = int(getattr(p, "total", 0) or 0), int(getattr(p, "done", 0) or 0)
        phase = getattr(p, "phase", "embed")
        if total > 0 and phase == "embed":
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
            text = (
                f"{PHASES.get(phase, 'Indexing')} {formatting.count(done)} / {formatting.count(total)}"
                f" · {formatting.rate(getattr(p, 'images_per_s', None))}"
                f" · {formatting.duration(getattr(p, 'eta_s', None))} left"
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
