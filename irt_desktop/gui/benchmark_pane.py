"""The Benchmark tab: the same code as `irt-desktop --benchmark`, on a worker thread, with our figures
beside the paper's in a table and a Recall@K chart, and the report exported as Markdown or JSON.

Datasets live under one data folder in their documented layout; a dataset kept elsewhere can be given
its own folder, which the run sees through a link in its output folder. Choices are remembered.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QBrush, QColor, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import formatting, icons
from irt_desktop.gui.charts import LineChart, Series
from irt_desktop.gui.library_client import LibraryClient
from irt_desktop.gui.settings import AppSettings
from irt_desktop.gui.workers import TaskThread, run_task

log = logging.getLogger(__name__)

# Shown before the worker has listed the catalog (which needs the retrieval package, hence torch).
DATASET_TITLES = {
    "sop": "Stanford Online Products",
    "cub": "CUB-200-2011",
    "inshop": "In-Shop Clothes (DeepFashion)",
    "roxford": "Revisited Oxford5k",
    "rparis": "Revisited Paris6k",
}
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
FolderRole = Qt.ItemDataRole.UserRole + 1


def dataset_status(data_root: str, overrides: dict[str, str]) -> dict[str, tuple[str, bool]]:
    """Worker side: per dataset, (folder it would be read from, whether that folder exists)."""
    from irt_desktop.retrieval.benchmark import DATASETS

    out = {}
    for name, ds in DATASETS.items():
        if overrides.get(name):
            folder = Path(overrides[name])
        elif data_root:
            folder = ds.locate(Path(data_root))
        else:
            out[name] = ("", False)
            continue
        out[name] = (str(folder), folder.is_dir())
    return out


def list_models(models_dir: Path) -> list[tuple[str, str]]:
    from irt_desktop.retrieval.bundle import list_bundles

    return [(b.id, f"{b.card.title or b.card.name} ({b.id})") for b in list_bundles(models_dir)]


def data_root_for(out_dir: Path, data_root: str, overrides: dict[str, str], names: list[str]) -> Path:
    """The data root the run reads: the chosen folder, or (when some dataset lives elsewhere) a folder of
    links, one per dataset under its documented name."""
    from irt_desktop.retrieval.benchmark import DATASETS

    wanted = {n: overrides[n] for n in names if overrides.get(n)}
    if not wanted:
        return Path(data_root)
    farm = out_dir / "data"
    farm.mkdir(parents=True, exist_ok=True)
    for name in names:
        ds = DATASETS[name]
        source = Path(wanted[name]) if name in wanted else ds.locate(Path(data_root)) if data_root else None
        if source is None or not source.exists():
            continue
        link = farm / ds.folders[0]
        if link.is_symlink() or link.exists():
            continue
        try:
            os.symlink(source, link, target_is_directory=True)
        except OSError as exc:
            raise RuntimeError(
                f"cannot link {source} as {link} ({exc}); put the dataset in the data folder as "
                f"{ds.folders[0]}/ instead"
            ) from exc
    return farm


class BenchmarkPane(QWidget):
    def __init__(self, client: LibraryClient, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.settings = settings
        self.result: Any = None
        self.task: TaskThread | None = None
        self._busy = False
        self._helpers: list[TaskThread] = []
        state = settings.benchmark_state()
        self.overrides: dict[str, str] = dict(state.get("overrides", {}))

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

        self.datasets = QTreeWidget()
        self.datasets.setAccessibleName("Datasets")
        self.datasets.setHeaderLabels(["Dataset", "Folder"])
        self.datasets.setRootIsDecorated(False)
        self.datasets.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.datasets.setMinimumHeight(150)
        chosen = set(state.get("datasets", ["cub"]))
        for name, title in DATASET_TITLES.items():
            item = QTreeWidgetItem([title, ""])
            item.setData(0, FolderRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(0, Qt.CheckState.Checked if name in chosen else Qt.CheckState.Unchecked)
            self.datasets.addTopLevelItem(item)
        self.folder_button = QPushButton("Dataset &folder…")
        self.folder_button.setToolTip("Read the selected dataset from a folder of its own")
        self.folder_button.clicked.connect(self._choose_dataset_folder)
        self.reset_folder_button = QPushButton("Use &data folder")
        self.reset_folder_button.clicked.connect(self._reset_dataset_folder)
        ds_buttons = QHBoxLayout()
        ds_buttons.addWidget(self.folder_button)
        ds_buttons.addWidget(self.reset_folder_button)
        ds_buttons.addStretch(1)

        self.model_combo = QComboBox()
        self.model_combo.setAccessibleName("Model")
        self.model_combo.addItem("DeiT-S off the shelf (IRT_O; downloaded if needed)", "")
        self._wanted_model = state.get("model", "")
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
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.stop_button)

        def label(text: str, buddy: QWidget) -> QLabel:
            lab = QLabel(text)
            lab.setBuddy(buddy)
            return lab

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
        lv.addLayout(form)
        self.datasets_label = label("Data&sets:", self.datasets)
        lv.addWidget(self.datasets_label)
        lv.addWidget(self.datasets, 1)
        lv.addLayout(ds_buttons)
        lv.addLayout(run_row)
        lv.addWidget(self.progress)
        lv.addWidget(self.progress_label)
        left.setMinimumWidth(330)

        # --- results column ---------------------------------------------------------------------------
        self.table = QTableWidget(0, 7)
        self.table.setAccessibleName("Results: ours beside the paper's")
        self.table.setHorizontalHeaderLabels(
            ["Dataset", "Variant", "Dims", "Metric", "Ours", "Paper", "Diff"]
        )
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.chart = LineChart("Recall@K", "K", "%", log_x=True)
        self.chart.y_clamp = (0.0, 100.0)
        self.chart.empty_text = "Recall@K appears here after a run"
        self.notes = QLabel("Our figures appear next to the paper's (El-Nouby et al. 2021).")
        self.notes.setObjectName("hint")
        self.notes.setWordWrap(True)
        self.notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_button = QPushButton(icons.icon("export"), "E&xport report…")
        self.export_button.setEnabled(False)
        self.open_button = QPushButton(icons.icon("reveal"), "Open output folder")
        self.open_button.setEnabled(False)
        out_row = QHBoxLayout()
        out_row.addStretch(1)
        out_row.addWidget(self.open_button)
        out_row.addWidget(self.export_button)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(4, 8, 8, 8)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.chart)
        split.setSizes([300, 260])
        rv.addWidget(split, 1)
        rv.addWidget(self.notes)
        rv.addLayout(out_row)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([380, 800])
        splitter.setChildrenCollapsible(False)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(splitter)

        self.run_button.clicked.connect(self.run)
        self.stop_button.clicked.connect(self.stop)
        self.export_button.clicked.connect(self.export_dialog)
        self.open_button.clicked.connect(self._open_output)
        self.suite_combo.currentIndexChanged.connect(self._on_suite)
        self.root_edit.editingFinished.connect(self.refresh_datasets)
        self._on_suite()
        self.refresh_datasets()
        self._helper(lambda: list_models(client.library_dir / "models"), self._on_models, "list models")

    # --- choices --------------------------------------------------------------------------------------------
    def _helper(self, fn, on_done, name: str) -> None:
        self._helpers = [t for t in self._helpers if _alive(t)]
        self._helpers.append(run_task(self, fn, on_done, name=name))

    def _on_models(self, models: list[tuple[str, str]]) -> None:
        for model_id, text in models:
            self.model_combo.addItem(text, model_id)
        found = self.model_combo.findData(self._wanted_model)
        if found >= 0:
            self.model_combo.setCurrentIndex(found)

    def _on_suite(self) -> None:
        paper = self.suite_combo.currentData() == "paper"
        for w in (
            self.root_edit,
            self.datasets,
            self.folder_button,
            self.reset_folder_button,
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

    def selected_dataset(self) -> str | None:
        item = self.datasets.currentItem()
        return item.data(0, FolderRole) if item is not None else None

    def _choose_dataset_folder(self) -> None:
        name = self.selected_dataset()
        if name is None:
            return
        folder = QFileDialog.getExistingDirectory(
            self, f"Folder of {DATASET_TITLES[name]}", self.root_edit.text()
        )
        if folder:
            self.overrides[name] = folder
            self.refresh_datasets()

    def _reset_dataset_folder(self) -> None:
        name = self.selected_dataset()
        if name is not None:
            self.overrides.pop(name, None)
            self.refresh_datasets()

    def refresh_datasets(self) -> None:
        root, overrides = self.root_edit.text().strip(), dict(self.overrides)
        self._helper(lambda: dataset_status(root, overrides), self._on_status, "dataset status")

    def _on_status(self, status: dict[str, tuple[str, bool]]) -> None:
        for i in range(self.datasets.topLevelItemCount()):
            item = self.datasets.topLevelItem(i)
            folder, found = status.get(item.data(0, FolderRole), ("", False))
            item.setText(
                1, (folder if found else f"not found ({folder})" if folder else "choose a data folder")
            )
            item.setIcon(0, icons.icon("status-indexed" if found else "status-offline"))
            item.setToolTip(1, folder)

    def checked_datasets(self) -> list[str]:
        out = []
        for i in range(self.datasets.topLevelItemCount()):
            item = self.datasets.topLevelItem(i)
            if item.checkState(0) == Qt.CheckState.Checked:
                out.append(item.data(0, FolderRole))
        return out

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
        self.remember()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out_dir = self.client.library_dir / "benchmarks" / f"{stamp}-{suite}"
        data_root, overrides = self.root_edit.text().strip(), dict(self.overrides)
        model_id = self.model_combo.currentData() or ""
        train = self.train_combo.currentData()
        dims = self.dims_combo.currentData() or None
        models_dir = self.client.library_dir / "models"

        def work(progress, cancel: threading.Event) -> Any:
            from irt_desktop.device import best_device

            device = best_device(None)
            nw = 0 if device == "cpu" and (os.cpu_count() or 1) <= 4 else 2
            if suite.startswith("smoke"):
                from irt_desktop.retrieval.benchmark import run_smoke_suite

                return run_smoke_suite(
                    out_dir,
                    device=device,
                    scale=suite.split("-")[1],
                    progress=progress,
                    cancel=cancel,
                    num_workers=nw,
                )
            from irt_desktop.retrieval.benchmark import run_benchmark
            from irt_desktop.retrieval.bundle import find_bundle

            model = find_bundle(models_dir, model_id) if model_id else None
            root = data_root_for(out_dir, data_root, overrides, names)
            return run_benchmark(
                names,
                root,
                model=model,
                train=train,
                dims=dims,
                device=device,
                out_dir=out_dir,
                progress=progress,
                cancel=cancel,
                num_workers=nw,
            )

        self.table.setRowCount(0)
        self.chart.clear()
        self.notes.setText("")
        self.progress.setRange(0, 0)
        self.progress_label.setText("Starting…")
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.export_button.setEnabled(False)
        self.started = time.monotonic()
        self._busy = True
        task = TaskThread(work, parent=self, name="benchmark", raise_on_cancel=False)
        task.progressed.connect(self._on_progress)
        task.succeeded.connect(self._on_result)
        task.failed.connect(self._on_failed)
        task.cancelled.connect(lambda: self._on_failed(RuntimeError("cancelled")))
        self.task = task
        task.start()

    def stop(self) -> None:
        if self.running and self.task is not None:
            self.task.cancel()
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
        self.progress_label.setText(f"{p.dataset}: {stage}{count}{eta}{loss}{message}")

    def _finish_run(self) -> None:
        self._busy = False
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.progress.setRange(0, 1)

    def _on_failed(self, exc: BaseException) -> None:
        self._finish_run()
        self.progress.setValue(0)
        self.progress_label.setText(f"Benchmark stopped: {exc}")

    def _on_result(self, result: Any) -> None:
        self._finish_run()
        self.progress.setValue(1)
        self.show_result(result)
        took = formatting.duration(time.monotonic() - self.started)
        state = "stopped early (partial figures)" if result.cancelled else f"finished in {took}"
        verdict = "" if result.passed is None else (" — PASS" if result.passed else " — FAIL")
        self.progress_label.setText(f"Benchmark {state}{verdict}. Results in {result.out_dir}")

    def show_result(self, result: Any) -> None:
        self.result = result
        rows = list(result.rows)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            diff = row.diff
            cells = [
                row.dataset,
                row.variant,
                str(row.dims or ""),
                row.metric,
                _num(row.ours),
                _num(row.paper),
                _num(diff, signed=True),
            ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c >= 4:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if c == 6 and diff is not None:
                    item.setForeground(QBrush(QColor("#2e9d4f" if diff >= -0.5 else "#cf3b3b")))
                self.table.setItem(r, c, item)
        series: list[Series] = []
        by_dataset: dict[str, list[Any]] = {}
        for row in rows:
            if row.metric.startswith("R@"):
                by_dataset.setdefault(f"{row.dataset} {row.variant}".strip(), []).append(row)
        for i, (name, ds_rows) in enumerate(by_dataset.items()):
            color = ("#3d7be0", "#e0793d", "#2e9d4f", "#b04fc4", "#cf3b3b", "#16a3a3")[i % 6]
            ours = sorted((float(x.metric[2:]), x.ours) for x in ds_rows)
            series.append(Series(f"{name} (ours)", ours, color=color, markers=True))
            paper = sorted((float(x.metric[2:]), x.paper) for x in ds_rows if x.paper is not None)
            if paper:
                series.append(Series(f"{name} (paper)", paper, color=color, dashed=True))
        self.chart.set_series(series)
        notes = list(getattr(result, "notes", []))
        missing = getattr(result, "missing", {})
        if missing:
            notes += [
                f"{name}: not found — {msg.splitlines()[-2] if len(msg.splitlines()) > 1 else msg}"
                for name, msg in missing.items()
            ]
        self.notes.setText("\n".join(notes) if notes else "Figures in percent; paper: El-Nouby et al. 2021.")
        self.export_button.setEnabled(True)
        self.open_button.setEnabled(result.out_dir is not None)

    def export_dialog(self) -> None:
        if self.result is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export benchmark report",
            str(Path(self.settings.last_dir) / "irt-benchmark.md"),
            "Markdown report (*.md);;JSON results (*.json)",
        )
        if path:
            self.export(Path(path))

    def export(self, path: Path) -> None:
        if path.suffix.lower() == ".json" and self.result.out_dir is not None:
            shutil.copyfile(Path(self.result.out_dir) / "results.json", path)
        else:
            path.write_text(self.result.report_md or self.result.render_markdown(), encoding="utf-8")
        self.settings.last_dir = str(path.parent)

    def _open_output(self) -> None:
        if self.result is not None and self.result.out_dir is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.result.out_dir)))

    def shutdown(self) -> None:
        if self.task is not None and _alive(self.task):
            self.task.cancel()
            self.task.wait(60_000)
        for t in self._helpers:
            if _alive(t):
                t.wait(10_000)


def _num(v: float | None, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:+.1f}" if signed else f"{v:.1f}"


def _alive(task: TaskThread) -> bool:
    try:
        return task.isRunning()
    except RuntimeError:
        return False
