"""The status bar's live part: indexing progress (count, images/s, ETA), pause / resume and cancel.

What it says is honest about the state: while paused there is no rate and no time left (nothing is
moving), only how far the pass got; after a Cancel it says indexing is stopped and offers Resume.
Counts of photos never include the files that could not be read (those are counted apart).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QToolButton, QWidget

from irt_desktop.gui import formatting, icons
from irt_desktop.gui.elide import ElidedLabel

if TYPE_CHECKING:
    from irt_desktop.library.records import IndexProgress, IndexReport, LibraryStatus

PHASES = {
    "scan": "Looking for new photos",
    "load-model": "Loading the model",
    "embed": "Indexing",
    "save": "Saving",
    "done": "Finishing",
}
# The label asks for at most this much of the status bar; longer texts elide (tooltip: all of it).
LABEL_HINT_PX = 420


def readable_photos(n_images: int, n_failed: int) -> int:
    """The library's counts include the files it could not read; a "photo" is one it can show."""
    return max(0, int(n_images) - int(n_failed or 0))


def library_status_text(status: LibraryStatus, stopped: bool = False) -> str:
    """The idle line between passes, from the catalog's own counts (a pass's report knows only its own).
    `stopped`: the user cancelled indexing and has not resumed it."""
    n = readable_photos(status.n_images, status.n_failed)
    pending, failed = status.n_pending, status.n_failed
    if pending:
        waiting = f"{formatting.count(pending)} of {formatting.plural(n, 'photo')}"
        text = f"{waiting} waiting to be indexed"
        if stopped:
            text = f"Indexing stopped · {waiting} not indexed yet"
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
        return "Indexing stopped"
    return "Up to date"


def model_tooltip(status: LibraryStatus) -> str:
    target = status.target_model_id
    return f"Model: {status.model_id or 'none'}" + (f"\nRe-indexing for {target}" if target else "")


def progress_text(p: IndexProgress, paused: bool) -> str:
    """One progress report in words. Paused: how far it got, and nothing about speed or time left."""
    total, done, phase = p.total, p.done, p.phase
    if paused:
        if total > 0 and phase == "embed":
            return f"Paused · {formatting.count(done)} of {formatting.count(total)} indexed"
        if phase == "scan":
            return "Paused · still looking for new photos; indexing waits"
        return "Paused"
    if total > 0 and phase == "embed":
        return (
            f"{PHASES['embed']} {formatting.count(done)} / {formatting.count(total)}"
            f" · {formatting.rate(p.images_per_s)}"
            f" · {formatting.duration(p.eta_s)} left"
        )
    if phase == "scan" and done:
        return f"Looking for new photos… {formatting.count(done)} files seen"
    return PHASES.get(phase, "Working") + "…"


class IndexingStatus(QWidget):
    pause_toggled = Signal(bool)  # True = pause
    cancel_requested = Signal()
    resume_requested = Signal()  # after a Cancel: index what is left

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.label = ElidedLabel("Starting…", max_hint_px=LABEL_HINT_PX)
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
        self.cancel_button = QToolButton()
        self.cancel_button.setAutoRaise(True)
        self.cancel_button.setIcon(icons.icon("stop"))
        self.cancel_button.setToolTip(
            "Stop indexing after the current batch. Photos indexed so far stay searchable; "
            "Resume (or Rescan) indexes the rest."
        )
        self.cancel_button.setAccessibleName("Cancel indexing")
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.cancel_button.hide()
        self.resume_button = QToolButton()
        self.resume_button.setAutoRaise(True)
        self.resume_button.setIcon(icons.icon("play"))
        self.resume_button.setText("Resume")
        self.resume_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.resume_button.setToolTip("Index the photos that are left")
        self.resume_button.setAccessibleName("Resume indexing")
        self.resume_button.clicked.connect(self.resume_requested)
        self.resume_button.hide()
        layout.addWidget(self.label, 1)
        layout.addWidget(self.bar)
        for b in (self.pause_button, self.cancel_button, self.resume_button):
            layout.addWidget(b)
        self._running = False
        self._stopped = False
        self._last: IndexProgress | None = None

    @property
    def stopped(self) -> bool:
        return self._stopped

    def _on_toggled(self, paused: bool) -> None:
        self._show_paused(paused)
        self.pause_toggled.emit(paused)

    def _show_paused(self, paused: bool) -> None:
        self.pause_button.setIcon(icons.icon("play" if paused else "pause"))
        text = "Resume indexing" if paused else "Pause indexing"
        self.pause_button.setToolTip(text)
        self.pause_button.setAccessibleName(text)
        if self._running and self._last is not None:
            self.label.setText(progress_text(self._last, paused))
        elif self._running and paused:
            self.label.setText("Paused")

    def set_paused(self, paused: bool) -> None:
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.blockSignals(False)
        self._show_paused(paused)

    def set_stopped(self, stopped: bool) -> None:
        """The user cancelled (True) or resumed (False): the way back stays in sight while stopped."""
        self._stopped = stopped
        self.resume_button.setVisible(stopped)
        if stopped:
            self.cancel_button.hide()
            if self._running:
                self.label.setText("Stopping after the current batch…")

    def set_running(self) -> None:
        self._running = True
        self._last = None
        self.bar.show()
        self.bar.setRange(0, 0)
        self.pause_button.show()
        self.cancel_button.show()
        self.resume_button.hide()
        self.label.setText("Paused" if self.pause_button.isChecked() else "Looking for new photos…")

    def set_progress(self, p: IndexProgress) -> None:
        if self._stopped:
            return  # the pass is winding down after a Cancel: its last reports are not news
        self._running = True
        self._last = p
        self.bar.show()
        self.pause_button.show()
        self.cancel_button.show()
        if p.total > 0 and p.phase == "embed":
            self.bar.setRange(0, p.total)
            self.bar.setValue(min(p.done, p.total))
        else:
            self.bar.setRange(0, 0)
        self.label.setText(progress_text(p, self.pause_button.isChecked()))

    def set_idle(self, text: str) -> None:
        self._running = False
        self._last = None
        self.bar.hide()
        self.cancel_button.hide()
        # A pause outlives the run: keep the way to resume in sight.
        self.pause_button.setVisible(self.pause_button.isChecked())
        self.resume_button.setVisible(self._stopped)
        self.label.setText(text)
