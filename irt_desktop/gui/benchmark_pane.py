"""The Benchmark tab: the same code as `irt-desktop --benchmark`, run through the task runner, with our
figures beside the paper's (benchmark_results) and the report exported as Markdown or JSON.

Datasets live under one data folder in their documented layout; a dataset kept elsewhere can be given
its own folder, which the run sees through a link in its output folder (retrieval.benchmark.data_root
decides both). Choices are remembered.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import formatting, icons
from irt_desktop.gui.banner import Banner
from irt_desktop.gui.benchmark_datasets import DatasetChooser
from irt_desktop.gui.benchmark_jobs import (
    DOWNLOAD_ENTRY,
    NothingToRun,
    failure_text,
    list_models,
    missing_text,
    run_pane_suite,
    unmeasured,
)
from irt_desktop.gui.benchmark_results import BenchmarkResults
from irt_desktop.gui.library_client import LibraryClient
from irt_desktop.gui.models_view_model import ModelsViewModel
from irt_desktop.gui.settings import AppSettings
from irt_desktop.gui.tasks import Task, TaskRunner
from irt_desktop.gui.text_wrap import breakable
from irt_desktop.paths import LibraryLayout

log = logging.getLogger(__name__)

SUITES = (
    ("paper", "Paper datasets"),
    ("smoke-quick", "Smoke test, quick (generated data, seconds: checks the plumbing)"),
    ("smoke-full", "Smoke test, full (generated data, minutes: checks that training learns)"),
)
TRAIN_MODES = (
    ("none", "Evaluate only"),
    ("irt_l", "Train IRT_L per recipe, then evaluate"),
    ("irt_r", "Train IRT_R per recipe, then evaluate"),
)
STAGES = {
    "load": "reading",
    "train": "training",
    "pca": "fitting PCA",
    "embed": "embedding",
    "done": "done",
    "eval": "evaluating",
    "save": "saving",
}
# How long closing waits for a stopped run to come back.
STOP_WAIT_MS = 60_000


class BenchmarkPane(QWidget):
    def __init__(
        self,
        client: LibraryClient,
        settings: AppSettings,
        parent: QWidget | None = None,
        runner: TaskRunner | None = None,
        *,
        models: ModelsViewModel | None = None,
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.settings = settings
        self._owns_runner = runner is None
        self.runner = runner if runner is not None else TaskRunner(parent=self)
        self.task: Task | None = None
        self._busy = False
        self.started = 0.0
        state = settings.benchmark_state()

        # --- settings column ------------------------------------------------------------------------------
        self.suite_combo = QComboBox()
        for key, text in SUITES:
            self.suite_combo.addItem(text, key)
        self.suite_combo.setCurrentIndex(max(0, self.suite_combo.findData(state.get("suite", "paper"))))
        self.root_edit = QLineEdit(state.get("data_root", ""))
        self.root_edit.setPlaceholderText("Folder holding sop/, cub/, inshop/, roxford5k/, rparis6k/")
        self.root_edit.setAccessibleName("Data folder")
        browse = QPushButton("&Browse…")
        browse.clicked.connect(self._browse_root)
        root_row = QHBoxLayout()
        root_row.addWidget(self.root_edit, 1)
        root_row.addWidget(browse)

        self.chooser = DatasetChooser(
            self.runner,
            lambda: self.root_edit.text().strip(),
            state.get("datasets", ["cub"]),
            state.get("overrides", {}),
        )
        self.datasets = self.chooser.tree

        self.model_combo = QComboBox()
        self.model_combo.setAccessibleName("Model")
        self.model_combo.addItem("Looking for installed models…", "")
        self._wanted_model = state.get("model", "")
        self.default_model: tuple[str, str, bool] | None = None  # (id, words, verified)
        self.train_combo = QComboBox()
        for key, text in TRAIN_MODES:
            self.train_combo.addItem(text, key)
        self.train_combo.setCurrentIndex(max(0, self.train_combo.findData(state.get("train", "none"))))
        self.dims_combo = QComboBox()
        self.dims_combo.addItem("Full (384 for DeiT-S)", 0)
        self.dims_combo.addItem("128 (PCA)", 128)
        self.dims_combo.setCurrentIndex(max(0, self.dims_combo.findData(state.get("dims", 0))))

        self.run_button = QPushButton(icons.icon("play"), "&Run benchmark")
        self.stop_button = QPushButton(icons.icon("stop"), "S&top")
        self.stop_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Benchmark progress")
        self.progress_label = QLabel("")
        self.progress_label.setWordWrap(True)
        self.progress_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner = Banner()
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.stop_button)

        def label(text: str, buddy: QWidget) -> QLabel:
            lab = QLabel(text)
            lab.setBuddy(buddy)
            return lab

        for combo in (self.suite_combo, self.model_combo, self.train_combo, self.dims_combo):
            # Long entries (model titles, suite descriptions) must not widen the column past a small
            # screen: the list that drops down shows them whole.
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(16)
            combo.view().setMinimumWidth(360)
        form = QFormLayout()
        form.addRow(label("S&uite:", self.suite_combo), self.suite_combo)
        form.addRow(label("Data &folder:", self.root_edit), root_row)
        form.addRow(label("&Model:", self.model_combo), self.model_combo)
        form.addRow(label("&Training:", self.train_combo), self.train_combo)
        form.addRow(label("D&escriptor:", self.dims_combo), self.dims_combo)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(8, 8, 8, 8)
        title = QLabel("Benchmark")
        title.setObjectName("paneTitle")
        lv.addWidget(title)
        # At the top, where it is seen without scrolling: what stopped the last run, or what it missed.
        lv.addWidget(self.banner)
        lv.addLayout(form)
        self.datasets_label = label("Data&sets:", self.datasets)
        lv.addWidget(self.datasets_label)
        lv.addWidget(self.chooser, 1)
        lv.addLayout(run_row)
        lv.addWidget(self.progress)
        lv.addWidget(self.progress_label)
        left.setMinimumWidth(300)

        self.results = BenchmarkResults(settings)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        # The settings column scrolls rather than squeeze a long message on a small screen.
        left_scroll = QScrollArea()
        left_scroll.setWidget(left)
        left_scroll.setWidgetResizable(True)
        left_scroll.setFrameShape(QFrame.Shape.NoFrame)
        left_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left_scroll.setMinimumWidth(left.minimumWidth() + 16)
        splitter.addWidget(left_scroll)
        splitter.addWidget(self.results)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([380, 800])
        splitter.setChildrenCollapsible(False)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(splitter)

        self.run_button.clicked.connect(self.run)
        self.stop_button.clicked.connect(self.stop)
        self.suite_combo.currentIndexChanged.connect(self._on_suite)
        self.root_edit.editingFinished.connect(self.refresh_datasets)
        self._on_suite()
        self.refresh_datasets()
        self.models = models
        if models is not None:
            # Installed, removed, fine-tuned: the list follows the model manager's.
            models.models_changed.connect(lambda _entries: self.refresh_models())
        self.refresh_models()

    @property
    def result(self) -> Any:
        """The last run's BenchmarkResult, None before one finished."""
        return self.results.result

    # --- choices --------------------------------------------------------------------------------------------
    def refresh_models(self) -> None:
        """Re-read the installed models (off the GUI thread), keeping the current choice."""
        models_dir = LibraryLayout(self.client.library_dir).models
        self.runner.run(lambda: list_models(models_dir), self._on_models, name="list models")

    def _on_models(self, listed: dict[str, Any]) -> None:
        loaded = self.default_model is not None or self.model_combo.itemText(0) == DOWNLOAD_ENTRY
        # The default entry follows what is installed (a verified DeiT-S added becomes the default);
        # a model the user picked stays picked.
        current = (self.model_combo.currentData() or "") if loaded else self._wanted_model
        if loaded and self.model_combo.currentIndex() == 0:
            current = ""
        default = listed["default"]
        self.default_model = default
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        if default is None:
            self.model_combo.addItem(DOWNLOAD_ENTRY, "")
        else:
            model_id, words, _verified = default  # the words say which
            self.model_combo.addItem(f"{words} ({model_id})", model_id)
        for model_id, text in listed["models"]:
            if default is None or model_id != default[0]:
                self.model_combo.addItem(text, model_id)
        found = self.model_combo.findData(current) if current else 0
        self.model_combo.setCurrentIndex(max(0, found))
        self.model_combo.blockSignals(False)

    def _on_suite(self) -> None:
        paper = self.suite_combo.currentData() == "paper"
        for w in (
            self.root_edit,
            self.chooser,
            self.model_combo,
            self.train_combo,
            self.dims_combo,
            self.datasets_label,
        ):
            w.setEnabled(paper)

    def _browse_root(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Benchmark data folder", self.root_edit.text() or self.settings.last_dir
        )
        if folder:
            self.root_edit.setText(folder)
            self.refresh_datasets()

    @property
    def overrides(self) -> dict[str, str]:
        """Datasets read from a folder of their own rather than from under the data folder."""
        return self.chooser.overrides

    def refresh_datasets(self) -> None:
        self.chooser.refresh()

    def checked_datasets(self) -> list[str]:
        return self.chooser.checked()

    def remember(self) -> None:
        self.settings.set_benchmark_state(
            {
                "suite": self.suite_combo.currentData(),
                "data_root": self.root_edit.text().strip(),
                "datasets": self.checked_datasets(),
                "overrides": self.overrides,
                "model": self.model_combo.currentData() or "",
                "train": self.train_combo.currentData(),
                "dims": self.dims_combo.currentData(),
            }
        )

    # --- running --------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        # Until the run's answer has been handled (the thread itself ends a moment later).
        return self._busy

    def run(self) -> None:
        if self.running:
            return
        suite = self.suite_combo.currentData()
        names = self.checked_datasets()
        if suite == "paper" and not names:
            QMessageBox.information(self, "Benchmark", "Tick at least one dataset.")
            return
        self.banner.hide()
        fresh = self.chooser.places_are_for(self.root_edit.text().strip())
        missing = missing_text(names, self.chooser.places) if suite == "paper" and fresh else ""
        if missing:
            self._nothing_to_run(missing)
            return
        self.remember()
        library_dir = self.client.library_dir
        choices = {
            "suite": suite,
            "datasets": names,
            "data_root": self.root_edit.text().strip(),
            "dataset_folders": dict(self.overrides),
            "model": self.model_combo.currentData() or "",
            "train": self.train_combo.currentData(),
            "dims": self.dims_combo.currentData() or None,
        }
        self.results.clear()
        self.progress.setRange(0, 0)
        self.progress_label.setText("Starting…")
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.started = time.monotonic()
        self._busy = True
        self.task = self.runner.run_with_progress(
            lambda progress, cancel: run_pane_suite(library_dir, choices, progress, cancel),
            self._on_progress,
            self._on_result,
            self._on_failed,
            name="benchmark",
            # run_benchmark watches the cancel event itself and returns the figures it has so far.
            raise_on_cancel=False,
        )

    def stop(self) -> None:
        if self.running and self.task is not None:
            self.task.cancel_event.set()
            self.stop_button.setEnabled(False)
            self.progress_label.setText("Stopping…")

    def _on_progress(self, batch: list[Any]) -> None:
        p = batch[-1]
        stage = STAGES.get(p.stage, p.stage)
        if p.total:
            self.progress.setRange(0, p.total)
            self.progress.setValue(min(p.done, p.total))
            count = f" {formatting.count(p.done)} / {formatting.count(p.total)}"
        else:
            self.progress.setRange(0, 0)
            count = ""
        eta = f" · {formatting.duration(p.eta_s)} left" if p.eta_s else ""
        loss = (
            f" · loss {p.train.loss:.3f}"
            if getattr(p, "train", None) is not None and p.stage == "train"
            else ""
        )
        message = f" — {p.message}" if p.message else ""
        self.progress_label.setText(breakable(f"{p.dataset}: {stage}{count}{eta}{loss}{message}"))

    def _finish_run(self) -> None:
        self._busy = False
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.progress.setRange(0, 1)

    def _nothing_to_run(self, missing: str) -> None:
        """Nothing to measure: a failure to fix, not a run that "finished"."""
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress_label.setText("Benchmark not run: no ticked dataset was found.")
        self._say("Nothing to benchmark", missing, "error")

    def _on_failed(self, exc: BaseException) -> None:
        self._finish_run()
        if isinstance(exc, NothingToRun):
            self._nothing_to_run(str(exc))
            return
        self.progress.setValue(0)
        self.progress_label.setText("Benchmark stopped.")
        self._say("The benchmark failed", failure_text(exc), "error")

    def _on_result(self, result: Any) -> None:
        if result is None:
            self._finish_run()
            self.progress.setValue(0)
            self.progress_label.setText("Benchmark stopped.")
            return
        self._finish_run()
        self.show_result(result)
        took = formatting.duration(time.monotonic() - self.started)
        problems = unmeasured(result)
        if problems and not result.rows:
            self.progress.setValue(0)
            self.progress_label.setText(
                breakable(f"Benchmark failed: nothing was measured. Output in {result.out_dir}")
            )
            self._say("Nothing was measured", problems, "error")
            return
        self.progress.setValue(1)
        state = "stopped early (partial figures)" if result.cancelled else f"finished in {took}"
        verdict = "" if result.passed is None else (" — PASS" if result.passed else " — FAIL")
        self.progress_label.setText(breakable(f"Benchmark {state}{verdict}. Results in {result.out_dir}"))
        if problems:
            n = len(result.missing) + len(result.failed)
            title = f"{formatting.plural(n, 'dataset')} could not be measured"
            self._say(title, problems, "warning")

    def _say(self, title: str, text: str, kind: str) -> None:
        """A message above the run's progress that stays until dismissed or the next run."""
        self.banner.show_message(title, breakable(text), kind=kind, dismiss=self.banner.hide)

    def show_result(self, result: Any) -> None:
        self.results.show_result(result)

    def export(self, path: Path) -> None:
        self.results.export(path)

    def shutdown(self) -> None:
        """Stop a run and wait for it; nothing reports to the pane after this. A runner handed in by the
        window is the window's to shut down."""
        if self.task is not None and not self.task.finished:
            self.task.cancel()
            self.task.wait(STOP_WAIT_MS / 1000)
        if self._owns_runner:
            self.runner.shutdown(STOP_WAIT_MS)
