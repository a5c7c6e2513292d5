"""Page 3 of the fine-tune wizard: the run, with live loss and held-out Recall@1 charts, ETA and stop.

The page plans and runs retrieval.training.finetune through the wizard's task runner and draws the
typed events it reports; it decides nothing about the run itself.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWizardPage

from irt_desktop.gui import formatting, icons
from irt_desktop.gui.charts import LineChart, Series
from irt_desktop.gui.tasks import Task

if TYPE_CHECKING:
    from irt_desktop.gui.finetune.wizard import FinetuneWizard

STAGES = {"pca": "Fitting PCA…", "save": "Saving the model…"}


def train_albums(
    choices: dict[str, Any],
    dataset: Any,
    base: Any,
    library_dir: Path,
    models_dir: Path,
    device: str | None,
    progress: Any,
    cancel: threading.Event,
) -> Any:
    """Worker side: plan the run from the wizard's choices, then run it; None if stopped before an answer."""
    from irt_desktop.retrieval.training.finetune import (
        FinetuneSettings,
        default_work_root,
        plan_finetune,
        run_finetune,
    )

    plan = plan_finetune(
        dataset,
        FinetuneSettings(**choices),
        base=base,
        models_dir=models_dir,
        device=device,
        work_root=default_work_root(library_dir),
    )
    try:
        # In this process for now; finetune.run_finetune_in_child takes the same arguments.
        return run_finetune(plan, progress, cancel)
    except Exception:
        if cancel.is_set():  # failed while stopping (e.g. mid-evaluation): a stop, not a failure
            return None
        raise


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
        layout = QVBoxLayout(self)
        layout.addWidget(self.stage)
        layout.addLayout(row)
        layout.addWidget(self.numbers)
        layout.addWidget(self.notes)
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
        self.loss_chart.set_series(
            [Series("loss"), Series("contrastive", dashed=True), Series("KoLeo", dashed=True)]
        )
        self.recall_chart.set_series([Series("before", dashed=True), Series("during training", markers=True)])
        self.recall_chart.y_range = None
        self.notes.hide()
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("&Stop training")
        self.bar.setRange(0, 0)
        self.start()

    def start(self) -> None:
        st = self.w.state
        choices = {
            "recipe": st.recipe or None,
            "variant": st.variant,
            "iterations": st.iterations,
            "batch_size": st.batch_size,
            "input_size": st.input_size,
            "holdout": st.holdout,
            "split_by": st.split_by,
            "name": st.name,
            "precision": "auto" if self.w.settings.bf16 else "fp32",
        }
        dataset, base, device = st.dataset, st.base, st.device or None
        library_dir, models_dir = self.w.library_dir, self.w.models_dir
        self._iterations = st.iterations
        self.started_at = time.monotonic()
        self._busy = True
        self.task = self.w.runner.run_with_progress(
            lambda progress, cancel: train_albums(
                choices, dataset, base, library_dir, models_dir, device, progress, cancel
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
        self.w.state.error = str(exc) or type(exc).__name__
        self.cancel_button.setEnabled(False)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.stage.setText(f"Training failed: {self.w.state.error}")
        self.completeChanged.emit()
        self.finished_training.emit()

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
