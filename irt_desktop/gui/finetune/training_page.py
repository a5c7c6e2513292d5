"""Page 3 of the fine-tune wizard: the run, with live loss and held-out Recall@1 charts, ETA and stop.

The page plans and runs retrieval.training.finetune through the wizard's task runner and draws the
typed events it reports; it decides nothing about the run itself.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWizardPage,
)

from irt_desktop.gui import formatting, icons
from irt_desktop.gui.charts import LineChart, Series
from irt_desktop.gui.finetune.jobs import train_albums
from irt_desktop.gui.tasks import Task
from irt_desktop.gui.text_wrap import breakable

if TYPE_CHECKING:
    from irt_desktop.gui.finetune.wizard import FinetuneWizard

STAGES = {"pca": "Fitting PCA…", "save": "Saving the model…"}


class TrainingPage(QWizardPage):
    finished_training = Signal()

    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Training")
        self.setSubTitle(
            "The model learns from your albums; Recall@1 on the held-out photos is measured along the way."
        )
        self.stage = QLabel("Preparing…")
        self.stage.setAccessibleName("Training stage")
        self.stage.setWordWrap(True)
        self.stage.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A failure in full: word-wrapped, selectable, scrolling when long (a child's traceback).
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setAccessibleName("Error details")
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.details.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.details.setMaximumHeight(160)
        self.details.hide()
        self.start_over_button = QPushButton("Start &over…")
        self.start_over_button.setToolTip(
            "Train from the beginning; the earlier run's progress is kept aside"
        )
        self.start_over_button.clicked.connect(self.start_over)
        self.start_over_button.hide()
        self.bar = QProgressBar()
        self.bar.setAccessibleName("Training progress")
        self.numbers = QLabel("")
        self.numbers.setAccessibleName("Training figures")
        self.notes = QLabel("")
        self.notes.setObjectName("hint")
        self.notes.setWordWrap(True)
        self.notes.hide()
        self.loss_chart = LineChart("Loss", "iteration", "")
        self.recall_chart = LineChart("Held-out Recall@1", "iteration", "%")
        self.recall_chart.y_clamp = (0.0, 100.0)
        self.cancel_button = QPushButton(icons.icon("stop"), "&Stop training")
        self.cancel_button.clicked.connect(self.cancel)
        charts = QHBoxLayout()
        charts.addWidget(self.loss_chart, 3)
        charts.addWidget(self.recall_chart, 2)
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        row.addWidget(self.start_over_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stage)
        layout.addLayout(row)
        layout.addWidget(self.numbers)
        layout.addWidget(self.notes)
        layout.addWidget(self.details)
        layout.addLayout(charts, 1)
        self.task: Task | None = None
        self.done = False
        self.cancelled = False
        self.started_at = 0.0
        self._busy = False
        self._iterations = 0

    def initializePage(self) -> None:
        self.done = False
        self.cancelled = False
        self.w.state.result = None
        self.w.state.before = None
        self.w.state.after = None
        self.w.state.error = ""
        self.stage.setText("Preparing…")
        self.loss_chart.set_series(
            [Series("loss"), Series("contrastive", dashed=True), Series("KoLeo", dashed=True)]
        )
        self.recall_chart.set_series([Series("before", dashed=True), Series("during training", markers=True)])
        self.recall_chart.y_range = None
        self.notes.hide()
        self.details.hide()
        self.start_over_button.hide()
        self.numbers.setText("")
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("&Stop training")
        self.bar.setRange(0, 0)
        self.start()

    def start(self) -> None:
        st = self.w.state
        choices = st.run_choices(self.w.settings.bf16)
        start_over, st.start_over = st.start_over, False  # once: a retry resumes the run begun now
        dataset, base, device = st.dataset, st.base, st.device or None
        library_dir, models_dir = self.w.library_dir, self.w.models_dir
        library = getattr(self.w.client, "library", None)
        self._iterations = st.iterations
        self.started_at = time.monotonic()
        self._busy = True
        self.task = self.w.runner.run_with_progress(
            lambda progress, cancel: train_albums(
                choices, dataset, base, library_dir, models_dir, device, progress, cancel, library, start_over
            ),
            self._on_events,
            self._on_finished,
            self._on_failed,
            name="fine-tune",
            # The trainer watches the cancel event itself, finishes its step and saves a checkpoint.
            raise_on_cancel=False,
        )

    def _on_events(self, batch: list[Any]) -> None:
        from irt_desktop.retrieval.training.finetune import Baseline, Evaluating, Stage, Started, Step

        losses: list[tuple[float, float]] = []
        contr: list[tuple[float, float]] = []
        koleo: list[tuple[float, float]] = []
        for event in batch:
            if isinstance(event, Step):
                losses.append((event.iteration, event.loss))
                contr.append((event.iteration, event.loss_contrastive))
                koleo.append((event.iteration, event.loss_koleo))
                if event.eval:
                    self.recall_chart.add_points(
                        "during training", [(event.iteration, event.eval.get("R@1", math.nan))]
                    )
                self._show_step(event)
            elif isinstance(event, Started):
                self._iterations = event.iterations
                if event.notes:
                    self.notes.setText("\n".join(n[0].upper() + n[1:] + "." for n in event.notes))
                    self.notes.show()
            elif isinstance(event, Evaluating):
                self._show_evaluating(event)
            elif isinstance(event, Baseline):
                self.w.state.before = event.metrics
                r1 = event.metrics.get("R@1", math.nan)
                self.recall_chart.add_points("before", [(0, r1), (max(1, self._iterations), r1)])
            elif isinstance(event, Stage):
                self.stage.setText(STAGES.get(event.name, f"{event.name}…"))
                self.bar.setRange(0, 0)
        if losses:
            self.loss_chart.add_points("loss", losses)
            self.loss_chart.add_points("contrastive", contr)
            self.loss_chart.add_points("KoLeo", koleo)

    def _show_evaluating(self, event: Any) -> None:
        if event.which == "before":
            n = formatting.plural(event.total, "held-out photo")
            self.stage.setText(f"Measuring the current model on {n}…")
        else:
            self.stage.setText("Measuring the trained model…")
        if event.total:
            self.bar.setRange(0, event.total)
            self.bar.setValue(event.done)
        else:
            self.bar.setRange(0, 0)

    def _show_step(self, step: Any) -> None:
        self.bar.setRange(0, max(1, step.total))
        self.bar.setValue(step.iteration)
        self.stage.setText("Training…")
        self.numbers.setText(
            f"Iteration {formatting.count(step.iteration)} of {formatting.count(step.total)} · "
            f"loss {step.loss:.4f} · {formatting.rate(step.images_per_s)} · "
            f"{formatting.duration(step.eta_s)} left"
        )

    def _on_finished(self, result: Any) -> None:
        self._busy = False
        self.w.state.result = result
        self.cancel_button.setEnabled(False)
        self.bar.setRange(0, 1)
        elapsed = formatting.duration(time.monotonic() - self.started_at)
        if result is None or result.cancelled or result.bundle is None:
            self.cancelled = True
            self.stage.setText(
                f"Stopped after {elapsed}. Progress so far is kept: starting again with the same "
                "settings resumes from the last checkpoint."
            )
            self.bar.setValue(0)
        else:
            self.done = True
            self.bar.setValue(1)
            self.w.state.after = result.after
            self.stage.setText(f"Done in {elapsed}.")
            # Progress reaching the page is throttled, so the last step's own report may never have shown.
            last = result.last_step
            if last is not None:
                self.numbers.setText(
                    f"Iteration {formatting.count(last.iteration)} of {formatting.count(last.total)} · "
                    f"final loss {last.loss:.4f}"
                )
        self.completeChanged.emit()
        self.finished_training.emit()

    def _on_failed(self, exc: BaseException) -> None:
        self._busy = False
        self.done = False
        text = str(exc).strip() or type(exc).__name__
        self.w.state.error = text
        self.cancel_button.setEnabled(False)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        first, _, rest = text.partition("\n")
        # A checkpoint that cannot be resumed (another run's, or one past the iterations asked for):
        # starting over is the way on, and it keeps that checkpoint aside.
        checkpoint = type(exc).__name__ == "CheckpointError"
        if checkpoint:
            self.stage.setText(
                "Training failed: the progress saved under this name cannot be continued with these "
                "settings. Press Start over… to train from the beginning (that progress is kept aside), "
                "or go Back and choose another name. Details below."
            )
        else:
            self.stage.setText(breakable(f"Training failed: {first}"))
        if checkpoint or rest.strip() or len(first) > 200:
            self.details.setPlainText(text)
            self.details.show()
        self.start_over_button.setVisible(checkpoint)
        self.completeChanged.emit()
        self.finished_training.emit()

    def start_over(self) -> None:
        """Ask, then set the run's earlier progress aside and train from the beginning."""
        if self.running:
            return
        if not self.w.confirm(
            self,
            "Start over?",
            "Training starts again from the beginning. The earlier run's checkpoint is not deleted: its "
            "folder is renamed aside in the library's training folder, and models already installed "
            "stay installed.",
            "Start over",
        ):
            return
        self.w.state.start_over = True
        self.initializePage()

    def cancel(self) -> None:
        """Ask the run to stop after the current step; its answer (a stopped result) still arrives."""
        if self.running and self.task is not None:
            self.task.cancel_event.set()
            self.cancel_button.setEnabled(False)
            self.stage.setText("Stopping after the current step…")

    def stop(self, wait_ms: int) -> None:
        """At close: stop the run, drop its answer and wait until it saved its checkpoint."""
        if self.task is not None and not self.task.finished:
            self.task.cancel()
            self.task.wait(wait_ms / 1000)
        self._busy = False

    @property
    def running(self) -> bool:
        # Until the run's answer has been shown (the worker itself returns a moment earlier).
        return self._busy

    def isComplete(self) -> bool:
        return self.done

    def cleanupPage(self) -> None:
        self.cancel()
