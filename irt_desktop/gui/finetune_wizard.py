"""The fine-tune wizard: teach the model the user's own albums (one class per sub-folder).

1. Folders: pick one or more folders whose sub-folders are classes; classes with counts and samples,
   a warning for classes with fewer than 2 images.
2. Settings: starting model, recipe (IRT_R by default), iterations, input size, held-out split, model
   name, and a time estimate measured on this device.
3. Training on a worker thread: live loss and held-out Recall@1 charts, ETA, cancel.
4. Result: Recall@1 before and after on the held-out photos; keep the bundle; optionally activate it
   for the library (re-embedding runs in the background, search keeps working meanwhile).

Scanning, measuring, training and evaluation run on TaskThreads; the pages only show their reports.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from irt_desktop.gui import formatting, icons
from irt_desktop.gui.charts import BarChart, LineChart, Series
from irt_desktop.gui.library_client import LibraryClient
from irt_desktop.gui.settings import AppSettings
from irt_desktop.gui.thumbnails import ThumbnailLoader
from irt_desktop.gui.workers import TaskThread, run_task

log = logging.getLogger(__name__)

SAMPLES_PER_CLASS = 4
SAMPLE_ROWS = 300  # classes beyond this are listed without sample thumbnails
DEFAULT_RECIPE = "folders"
RECALL_KS = (1, 2, 4, 8)


@dataclass
class WizardState:
    """What the pages decide and what the worker reports, in one place."""

    roots: list[Path] = field(default_factory=list)
    dataset: Any = None  # retrieval.datasets.folders.FolderDataset
    bundles: list[Any] = field(default_factory=list)
    recipes: list[str] = field(default_factory=list)
    device: str = ""
    device_text: str = ""
    serving_model: str | None = None
    base: Any = None  # ModelBundle
    recipe: str = DEFAULT_RECIPE
    variant: str = "IRT_R"
    iterations: int = 1000
    batch_size: int = 64
    input_size: int = 224
    holdout: float = 0.3
    split_by: str = "class"
    name: str = ""
    before: dict[str, float] | None = None
    after: dict[str, float] | None = None
    result: Any = None  # TrainResult
    error: str = ""


def usable_classes(dataset: Any) -> int:
    counts: dict[int, int] = {}
    for r in dataset.records:
        counts[r.label] = counts.get(r.label, 0) + 1
    return sum(1 for n in counts.values() if n >= 2)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "my-model"


# --- worker-side functions (never run on the GUI thread) ----------------------------------------------


def scan_folders(roots: list[Path]) -> Any:
    from irt_desktop.retrieval.datasets.folders import scan_class_folders

    return scan_class_folders(roots)


def load_choices(models_dir: Path, client: LibraryClient) -> dict[str, Any]:
    from irt_desktop.device import best_device, describe_device
    from irt_desktop.retrieval.bundle import list_bundles
    from irt_desktop.retrieval.training import list_recipes

    library = client.library
    serving = None
    if library is not None:
        serving = getattr(library, "target_model_id", None) or getattr(library, "model_id", None)
    device = best_device(None)
    return {
        "bundles": list_bundles(models_dir),
        "recipes": list_recipes(),
        "serving": serving,
        "device": device,
        "device_text": describe_device(device),
    }


def recipe_defaults(name: str) -> dict[str, Any]:
    from irt_desktop.retrieval.training import TrainConfig

    cfg = TrainConfig.from_recipe(name)
    return {"iterations": cfg.iterations, "batch_size": cfg.batch_size, "koleo_weight": cfg.koleo_weight}


def measure_speed(bundle: Any, input_size: int, device: str, batch: int = 8) -> float:
    """Training images per second of `bundle`'s architecture at `input_size` on `device`, measured with
    a few optimiser steps on random data (the real run also decodes, so this is a lower bound on time)."""
    import dataclasses

    import torch

    from irt_desktop.retrieval.model import IRT

    spec = dataclasses.replace(bundle.card.spec, input_size=input_size, dims=None)
    model = IRT(spec).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6)
    x = torch.randn(batch, 3, input_size, input_size, device=device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        model(x).sum().backward()
        opt.step()

    step()  # warm-up: allocations, kernels
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    steps = 2
    for _ in range(steps):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return steps * batch / max(time.perf_counter() - t0, 1e-6)


def make_splits(dataset: Any, split_by: str, holdout: float) -> tuple[Any, Any]:
    from irt_desktop.retrieval.datasets.folders import split_folder_dataset

    return split_folder_dataset(dataset, by=split_by, holdout=holdout)


def num_workers_for(device: str) -> int:
    # DataLoader worker processes are forked; on small CPU-only machines decoding in-process is as fast.
    cores = os.cpu_count() or 1
    return 0 if device == "cpu" and cores <= 4 else 2


# --- widgets ------------------------------------------------------------------------------------------


class SampleStrip(QWidget):
    """A row of small thumbnails of one class."""

    def __init__(self, paths: list[str], thumbnails: ThumbnailLoader, size: int = 40) -> None:
        super().__init__()
        self.paths = paths
        self.thumbnails = thumbnails
        self.side = size
        self.setFixedSize(QSize(len(paths) * (size + 4), size + 4))
        thumbnails.ready.connect(self._on_ready)

    def _on_ready(self, path: str) -> None:
        if path in self.paths:
            self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        for i, path in enumerate(self.paths):
            x = i * (self.side + 4) + 2
            pixmap = self.thumbnails.pixmap(path)
            if pixmap is None:
                p.fillRect(x, 2, self.side, self.side, self.palette().color(QPalette.ColorRole.Mid))
                continue
            scaled = pixmap.scaled(
                self.side,
                self.side,
                Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                Qt.TransformationMode.SmoothTransformation,
            )
            sx, sy = (scaled.width() - self.side) // 2, (scaled.height() - self.side) // 2
            p.drawPixmap(x, 2, scaled, sx, sy, self.side, self.side)


class FoldersPage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Your albums")
        self.setSubTitle(
            "Choose a folder whose sub-folders are the classes to learn (one album, person, place or "
            "object per sub-folder). Several folders can be combined; sub-folders with the same name are "
            "one class."
        )
        self.folders = QListWidget()
        self.folders.setAccessibleName("Training folders")
        self.folders.setMaximumHeight(90)
        add = QPushButton(icons.icon("folder-add"), "&Add folder…")
        remove = QPushButton(icons.icon("remove"), "&Remove")
        add.clicked.connect(self.add_folder_dialog)
        remove.clicked.connect(self._remove_selected)
        buttons = QVBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.folders, 1)
        top.addLayout(buttons)

        self.classes = QTreeWidget()
        self.classes.setAccessibleName("Classes found")
        self.classes.setHeaderLabels(["Class", "Photos", "Examples"])
        self.classes.setRootIsDecorated(False)
        self.classes.setAlternatingRowColors(True)
        self.classes.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.classes.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.classes.header().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.classes.header().setStretchLastSection(False)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.warning = QLabel("")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #b36b00;")
        self.warning.hide()

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(self.classes, 1)
        layout.addWidget(self.warning)
        self._scan_task: TaskThread | None = None
        self._scanning = False

    def initializePage(self) -> None:
        if not self.w.state.roots:
            for r in self.w.settings.wizard_state().get("roots", []):
                if Path(r).is_dir():
                    self.add_folder(Path(r))

    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of albums", self.w.settings.last_dir)
        if folder:
            self.w.settings.last_dir = folder
            self.add_folder(Path(folder))

    def add_folder(self, folder: Path) -> None:
        if folder in self.w.state.roots:
            return
        self.w.state.roots.append(folder)
        self.folders.addItem(str(folder))
        self.rescan()

    def _remove_selected(self) -> None:
        row = self.folders.currentRow()
        if row >= 0:
            self.folders.takeItem(row)
            del self.w.state.roots[row]
            self.rescan()

    def rescan(self) -> None:
        self.w.state.dataset = None
        self.classes.clear()
        self.warning.hide()
        self.completeChanged.emit()
        if not self.w.state.roots:
            self.summary.setText("")
            return
        self._scanning = True
        self.summary.setText("Looking for photos…")
        roots = list(self.w.state.roots)
        self.w.track(
            run_task(self, lambda: scan_folders(roots), self._on_scanned, self._on_scan_failed, "scan")
        )

    def _on_scan_failed(self, exc: BaseException) -> None:
        self._scanning = False
        self.summary.setText(f"No classes found: {exc}")
        self.completeChanged.emit()

    def _on_scanned(self, dataset: Any) -> None:
        self._scanning = False
        self.w.state.dataset = dataset
        per_class: dict[int, list[str]] = {}
        for r in dataset.records:
            per_class.setdefault(r.label, []).append(str(r.path))
        for label, name in enumerate(dataset.class_names):
            paths = per_class.get(label, [])
            item = QTreeWidgetItem([name, formatting.count(len(paths)), ""])
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if len(paths) < 2:
                item.setIcon(0, icons.icon("warning"))
                item.setToolTip(0, "Fewer than 2 photos: this class cannot teach what makes two photos alike")
            self.classes.addTopLevelItem(item)
            if label < SAMPLE_ROWS:
                self.classes.setItemWidget(item, 2, SampleStrip(paths[:SAMPLES_PER_CLASS], self.w.thumbnails))
        n_usable = usable_classes(dataset)
        self.summary.setText(
            f"{formatting.plural(len(dataset.class_names), 'class', 'classes')}, "
            f"{formatting.plural(len(dataset.records), 'photo')}; "
            f"{formatting.count(n_usable)} usable for training (at least 2 photos)."
        )
        small = list(dataset.small_classes)
        if small:
            listed = ", ".join(small[:8]) + (" …" if len(small) > 8 else "")
            self.warning.setText(
                f"⚠ {formatting.plural(len(small), 'class', 'classes')} with fewer than 2 photos ({listed}): "
                "they are kept only as examples of what does not match."
            )
            self.warning.show()
        if n_usable < 2:
            self.warning.setText(
                self.warning.text() + "\nAt least 2 classes with 2 or more photos are needed."
            )
            self.warning.show()
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.w.state.dataset is not None and usable_classes(self.w.state.dataset) >= 2

    def validatePage(self) -> bool:
        self.w.settings.set_wizard_state(
            {**self.w.settings.wizard_state(), "roots": [str(r) for r in self.w.state.roots]}
        )
        return True


class SettingsPage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Training settings")
        self.setSubTitle(
            "The defaults follow the paper (IRT_R: contrastive loss with cross-batch memory "
            "and the KoLeo regulariser), sized for personal albums."
        )
        self.base_combo = QComboBox()
        self.base_combo.setAccessibleName("Starting model")
        self.recipe_combo = QComboBox()
        self.variant_combo = QComboBox()
        self.variant_combo.addItem("IRT_R — contrastive + KoLeo (recommended)", "IRT_R")
        self.variant_combo.addItem("IRT_L — contrastive only", "IRT_L")
        self.iterations = QSpinBox()
        self.iterations.setRange(1, 200_000)
        self.iterations.setSingleStep(100)
        self.iterations.setAccessibleName("Iterations")
        self.batch = QSpinBox()
        self.batch.setRange(8, 512)
        self.batch.setSingleStep(8)
        self.batch.setAccessibleName("Batch size")
        self.input_size = QSpinBox()
        self.input_size.setRange(32, 512)
        self.input_size.setSingleStep(16)
        self.input_size.setSuffix(" px")
        self.input_size.setAccessibleName("Input size")
        self.holdout = QSpinBox()
        self.holdout.setRange(5, 80)
        self.holdout.setSuffix(" %")
        self.holdout.setValue(30)
        self.holdout.setAccessibleName("Held-out share")
        for spin in (self.iterations, self.batch, self.input_size):
            spin.setMaximumWidth(160)
        self.split_by = QComboBox()
        self.split_by.addItem("of the classes (measures new albums)", "class")
        self.split_by.addItem("of the photos in every class", "image")
        self.name_edit = QLineEdit()
        self.name_edit.setAccessibleName("Name of the new model")
        self.device_label = QLabel("…")
        self.estimate_label = QLabel("")
        self.estimate_label.setWordWrap(True)
        held = QHBoxLayout()
        held.addWidget(self.holdout)
        held.addWidget(self.split_by, 1)

        def label(text: str, buddy: QWidget) -> QLabel:
            lab = QLabel(text)
            lab.setBuddy(buddy)
            return lab

        form = QFormLayout(self)
        form.addRow(label("Starting &model:", self.base_combo), self.base_combo)
        form.addRow(label("&Recipe:", self.recipe_combo), self.recipe_combo)
        form.addRow(label("&Variant:", self.variant_combo), self.variant_combo)
        form.addRow(label("&Iterations:", self.iterations), self.iterations)
        form.addRow(label("&Batch size:", self.batch), self.batch)
        form.addRow(label("Input si&ze:", self.input_size), self.input_size)
        form.addRow(label("&Hold out:", self.holdout), held)
        form.addRow(label("&Name:", self.name_edit), self.name_edit)
        form.addRow("Device:", self.device_label)
        form.addRow("Estimated time:", self.estimate_label)
        self._loaded = False
        self._speed: dict[tuple, float] = {}
        self._estimate_timer = QTimer(self)
        self._estimate_timer.setSingleShot(True)
        self._estimate_timer.setInterval(500)
        self._estimate_timer.timeout.connect(self._measure)
        for spin in (self.iterations, self.batch, self.input_size, self.holdout):
            spin.valueChanged.connect(self._update_estimate)
        self.split_by.currentIndexChanged.connect(self._update_estimate)
        self.base_combo.currentIndexChanged.connect(self._on_base_changed)
        self.recipe_combo.currentIndexChanged.connect(self._on_recipe_changed)

    def initializePage(self) -> None:
        dataset = self.w.state.dataset
        if dataset is not None and usable_classes(dataset) < 4:
            # Too few classes to hold whole ones out and still train: hold out photos instead.
            self.split_by.setCurrentIndex(1)
        if self._loaded:
            self._update_estimate()
            return
        self.base_combo.clear()
        self.base_combo.addItem("Loading…")
        self.base_combo.setEnabled(False)
        self.w.track(
            run_task(
                self,
                lambda: load_choices(self.w.models_dir, self.w.client),
                self._on_choices,
                self._on_choices_failed,
                "wizard choices",
            )
        )

    def _on_choices_failed(self, exc: BaseException) -> None:
        self.base_combo.clear()
        self.base_combo.addItem(f"No models: {exc}")
        self.completeChanged.emit()

    def _on_choices(self, choices: dict[str, Any]) -> None:
        st = self.w.state
        st.bundles, st.recipes = choices["bundles"], choices["recipes"]
        st.device, st.device_text = choices["device"], choices["device_text"]
        st.serving_model = choices["serving"]
        self.device_label.setText(st.device_text)
        self.base_combo.blockSignals(True)
        self.base_combo.clear()
        current = 0
        for i, b in enumerate(st.bundles):
            kind = b.card.provenance.get("kind", "")
            self.base_combo.addItem(
                f"{b.card.title or b.card.name} ({b.id}{', ' + kind if kind else ''})", b.id
            )
            if b.id == st.serving_model:
                current = i
                self.base_combo.setItemText(i, self.base_combo.itemText(i) + " — in use")
        self.base_combo.setEnabled(bool(st.bundles))
        if not st.bundles:
            self.base_combo.addItem("No model installed: install one first (File ▸ Download default model)")
        self.base_combo.setCurrentIndex(current)
        self.base_combo.blockSignals(False)
        self.recipe_combo.blockSignals(True)
        self.recipe_combo.clear()
        for r in st.recipes:
            self.recipe_combo.addItem(r, r)
        self.recipe_combo.setCurrentIndex(max(0, self.recipe_combo.findData(DEFAULT_RECIPE)))
        self.recipe_combo.blockSignals(False)
        self._loaded = True
        self._on_recipe_changed()
        self._on_base_changed()
        self.completeChanged.emit()

    def _on_recipe_changed(self) -> None:
        name = self.recipe_combo.currentData()
        if not name:
            return

        def apply(defaults: dict[str, Any]) -> None:
            self.iterations.setValue(int(defaults["iterations"]))
            self.batch.setValue(int(defaults["batch_size"]))
            self.variant_combo.setCurrentIndex(0 if defaults["koleo_weight"] > 0 else 1)

        self.w.track(run_task(self, lambda: recipe_defaults(name), apply, name="recipe"))

    def _on_base_changed(self) -> None:
        base = self.selected_base()
        if base is None:
            return
        self.input_size.setValue(int(base.card.spec.input_size))
        if not self.name_edit.isModified():
            roots = self.w.state.roots
            album = slug(roots[0].name) if roots else "albums"
            self.name_edit.setText(f"{base.card.name}-{album}")
        self._update_estimate()

    def selected_base(self) -> Any:
        bid = self.base_combo.currentData()
        return next((b for b in self.w.state.bundles if b.id == bid), None)

    def _update_estimate(self) -> None:
        base = self.selected_base()
        if base is None:
            return
        key = (base.id, self.input_size.value(), self.w.state.device)
        if key in self._speed:
            self._show_estimate(self._speed[key])
        else:
            self.estimate_label.setText("Measuring this device's speed…")
            self._estimate_timer.start()

    def _measure(self) -> None:
        base = self.selected_base()
        if base is None:
            return
        key = (base.id, self.input_size.value(), self.w.state.device)
        size, device = self.input_size.value(), self.w.state.device

        def done(speed: float) -> None:
            self._speed[key] = speed
            self._update_estimate()

        def failed(exc: BaseException) -> None:
            self.estimate_label.setText(f"Could not measure: {exc}")

        self.w.track(run_task(self, lambda: measure_speed(base, size, device), done, failed, "speed probe"))

    def _show_estimate(self, images_per_s: float) -> None:
        train_images = self.iterations.value() * self.batch.value()
        n = len(self.w.state.dataset.records) if self.w.state.dataset is not None else 0
        eval_share = self.holdout.value() / 100
        # Training steps, plus evaluating the held-out photos before, during (8 times) and after.
        seconds = train_images / images_per_s + 10 * n * eval_share / (3 * images_per_s)
        self.estimated_s = seconds
        self.estimate_label.setText(
            f"about {formatting.duration(seconds)} on this device "
            f"({images_per_s:.0f} training images/s measured; decoding adds to this on slow disks)"
        )

    def isComplete(self) -> bool:
        return self._loaded and self.selected_base() is not None and bool(self.name_edit.text().strip())

    def validatePage(self) -> bool:
        st = self.w.state
        st.base = self.selected_base()
        st.recipe = self.recipe_combo.currentData() or DEFAULT_RECIPE
        st.variant = self.variant_combo.currentData()
        st.iterations = self.iterations.value()
        st.batch_size = self.batch.value()
        st.input_size = self.input_size.value()
        st.holdout = self.holdout.value() / 100
        st.split_by = self.split_by.currentData()
        st.name = slug(self.name_edit.text())
        return st.base is not None


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
        layout.addLayout(charts, 1)
        self.task: TaskThread | None = None
        self.done = False
        self.cancelled = False
        self.started_at = 0.0

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
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("&Stop training")
        self.bar.setRange(0, 0)
        self.start()

    def start(self) -> None:
        st = self.w.state
        bf16 = self.w.settings.bf16
        models_dir = self.w.models_dir
        work_dir = self.w.work_dir / st.name

        def work(progress, cancel: threading.Event) -> Any:
            from irt_desktop.retrieval.training import TrainConfig, Trainer, evaluate_bundle

            device = st.device or None
            nw = num_workers_for(st.device or "cpu")
            train_split, test_split = make_splits(st.dataset, st.split_by, st.holdout)
            overrides: dict[str, Any] = {
                "iterations": st.iterations,
                "batch_size": st.batch_size,
                "eval_every": max(1, st.iterations // 8),
                "checkpoint_every": max(1, st.iterations // 4),
                "device": device,
                "num_workers": nw,
                "recall_ks": RECALL_KS,
                "dataset": "folders",
                "precision": "auto" if bf16 else "fp32",
            }
            if st.variant == "IRT_L":
                overrides["koleo_weight"] = 0.0
            if st.input_size != st.base.card.spec.input_size:
                overrides["input_size"] = st.input_size
            config = TrainConfig.from_recipe(st.recipe, **overrides)
            if config.batch_size % config.m_per_class:
                config = TrainConfig.from_dict(
                    {
                        **config.to_dict(),
                        "batch_size": config.batch_size // config.m_per_class * config.m_per_class,
                    }
                )
            progress(
                (
                    "stage",
                    f"Measuring the current model on {formatting.plural(len(test_split), 'held-out photo')}…",
                )
            )
            before = evaluate_bundle(
                st.base,
                test_split,
                RECALL_KS,
                device=device,
                num_workers=nw,
                progress=lambda d, t: progress(("eval", d, t)),
            )
            progress(("before", before))
            if cancel.is_set():
                return None
            progress(("stage", "Training…"))
            trainer = Trainer(
                st.base,
                train_split,
                config,
                eval_split=test_split,
                work_dir=work_dir,
                models_dir=models_dir,
                name=st.name,
                data_name="your albums",
            )
            return trainer.run(progress=progress, cancel=cancel)

        self.started_at = time.monotonic()
        task = TaskThread(work, parent=self, name="training", raise_on_cancel=False)
        task.progressed.connect(self._on_progress)
        task.succeeded.connect(self._on_finished)
        task.failed.connect(self._on_failed)
        task.cancelled.connect(lambda: self._on_finished(None))
        self.task = self.w.track(task)
        task.start()

    def _on_progress(self, batch: list[Any]) -> None:
        losses: list[tuple[float, float]] = []
        contr: list[tuple[float, float]] = []
        koleo: list[tuple[float, float]] = []
        last = None
        for item in batch:
            if isinstance(item, tuple):
                kind = item[0]
                if kind == "stage":
                    self.stage.setText(item[1])
                elif kind == "eval":
                    self.bar.setRange(0, item[2])
                    self.bar.setValue(item[1])
                elif kind == "before":
                    self.w.state.before = item[1]
                    r1 = item[1].get("R@1", math.nan)
                    self.recall_chart.add_points("before", [(0, r1), (max(1, self.w.state.iterations), r1)])
                continue
            last = item
            if item.phase == "train":
                losses.append((item.iteration, item.loss))
                contr.append((item.iteration, item.loss_contrastive))
                koleo.append((item.iteration, item.loss_koleo))
            if item.eval:
                self.recall_chart.add_points(
                    "during training", [(item.iteration, item.eval.get("R@1", math.nan))]
                )
        if losses:
            self.loss_chart.add_points("loss", losses)
            self.loss_chart.add_points("contrastive", contr)
            self.loss_chart.add_points("KoLeo", koleo)
        if last is not None:
            self.bar.setRange(0, max(1, last.total))
            self.bar.setValue(last.iteration)
            phases = {
                "pca": "Fitting PCA…",
                "eval": "Measuring the trained model…",
                "save": "Saving the model…",
            }
            if last.phase in phases:
                self.stage.setText(phases[last.phase])
                self.bar.setRange(0, 0)
            else:
                self.stage.setText("Training…")
                self.numbers.setText(
                    f"Iteration {formatting.count(last.iteration)} of {formatting.count(last.total)} · "
                    f"loss {last.loss:.4f} · {formatting.rate(last.images_per_s)} · "
                    f"{formatting.duration(last.eta_s)} left"
                )

    def _on_finished(self, result: Any) -> None:
        self.w.state.result = result
        self.cancel_button.setEnabled(False)
        self.bar.setRange(0, 1)
        elapsed = formatting.duration(time.monotonic() - self.started_at)
        if result is None or getattr(result, "cancelled", False) or getattr(result, "bundle", None) is None:
            self.cancelled = True
            self.stage.setText(
                f"Stopped after {elapsed}. Progress so far is kept: starting again with the same "
                "settings resumes from the last checkpoint."
            )
            self.bar.setValue(0)
        else:
            self.done = True
            self.bar.setValue(1)
            self.w.state.after = result.metrics or (result.history[-1].eval if result.history else None)
            self.stage.setText(f"Done in {elapsed}.")
            # Progress reaching the page is throttled, so the last step's own report may never have shown.
            trained = [h for h in result.history if h.phase == "train"]
            if trained:
                last = trained[-1]
                self.numbers.setText(
                    f"Iteration {formatting.count(last.iteration)} of {formatting.count(last.total)} · "
                    f"final loss {last.loss:.4f}"
                )
        self.completeChanged.emit()
        self.finished_training.emit()

    def _on_failed(self, exc: BaseException) -> None:
        self.w.state.error = str(exc) or type(exc).__name__
        self.cancel_button.setEnabled(False)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.stage.setText(f"Training failed: {self.w.state.error}")
        self.completeChanged.emit()
        self.finished_training.emit()

    def cancel(self) -> None:
        if self.task is not None and self.task.isRunning():
            self.task.cancel()
            self.cancel_button.setEnabled(False)
            self.stage.setText("Stopping after the current step…")

    @property
    def running(self) -> bool:
        return self.task is not None and self.task.isRunning()

    def isComplete(self) -> bool:
        return self.done

    def cleanupPage(self) -> None:
        self.cancel()


class ResultPage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Result")
        self.setSubTitle(
            "Recall@1: how often the first photo found for a held-out photo is from the same class."
        )
        self.before_label = QLabel("—")
        self.after_label = QLabel("—")
        for lab in (self.before_label, self.after_label):
            lab.setObjectName("bigNumber")
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.delta_label = QLabel("")
        self.delta_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        grid = QGridLayout()
        for col, text in enumerate(("Before", "After")):
            cap = QLabel(text)
            cap.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(cap, 0, col)
        grid.addWidget(self.before_label, 1, 0)
        grid.addWidget(self.after_label, 1, 1)
        grid.addWidget(self.delta_label, 2, 0, 1, 2)
        self.chart = BarChart("Recall@K on held-out photos", "")
        self.model_label = QLabel("")
        self.model_label.setWordWrap(True)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.keep_check = QCheckBox("&Keep this model (saved with the library's models)")
        self.keep_check.setChecked(True)
        self.activate_check = QCheckBox(
            "&Use it for my library now (re-indexes in the background; search keeps working)"
        )
        self.keep_check.toggled.connect(self.activate_check.setEnabled)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.model_label)
        layout.addWidget(self.keep_check)
        layout.addWidget(self.activate_check)

    def initializePage(self) -> None:
        st = self.w.state
        before, after = st.before or {}, st.after or {}
        b1, a1 = before.get("R@1"), after.get("R@1")
        self.before_label.setText("—" if b1 is None else f"{b1:.1f} %")
        self.after_label.setText("—" if a1 is None else f"{a1:.1f} %")
        if b1 is not None and a1 is not None:
            d = a1 - b1
            self.delta_label.setText(
                f"{d:+.1f} points"
                + (" — better" if d > 0 else " — not better; consider not activating it" if d < 0 else "")
            )
            if d <= 0:
                self.activate_check.setChecked(False)
        ks = [k for k in RECALL_KS if f"R@{k}" in before or f"R@{k}" in after]
        self.chart.set_data(
            [f"R@{k}" for k in ks],
            ["before", "after"],
            [[before.get(f"R@{k}"), after.get(f"R@{k}")] for k in ks],
        )
        bundle = getattr(st.result, "bundle", None)
        if bundle is not None:
            self.model_label.setText(f"New model: {bundle.card.title}\n{bundle.id} in {bundle.path.parent}")

    def validatePage(self) -> bool:
        return self.w.finish_model(self.keep_check.isChecked(), self.activate_check.isChecked())


class FinetuneWizard(QWizard):
    model_ready = Signal(object, bool)  # bundle, activated

    def __init__(
        self,
        client: LibraryClient,
        settings: AppSettings,
        thumbnails: ThumbnailLoader,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.settings = settings
        self.thumbnails = thumbnails
        self.state = WizardState()
        self._tasks: list[TaskThread] = []
        self.setWindowTitle("Fine-tune the model on your albums")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.folders_page = FoldersPage(self)
        self.settings_page = SettingsPage(self)
        self.training_page = TrainingPage(self)
        self.result_page = ResultPage(self)
        for page in (self.folders_page, self.settings_page, self.training_page, self.result_page):
            self.addPage(page)
        self.setButtonText(QWizard.WizardButton.FinishButton, "&Finish")
        self.resize(900, 640)

    @property
    def models_dir(self) -> Path:
        return self.client.library_dir / "models"

    @property
    def work_dir(self) -> Path:
        return self.client.library_dir / "training"

    def track(self, task: TaskThread) -> TaskThread:
        self._tasks = [t for t in self._tasks if _alive(t)]
        self._tasks.append(task)
        return task

    def finish_model(self, keep: bool, activate: bool) -> bool:
        bundle = getattr(self.state.result, "bundle", None)
        if bundle is None:
            return True
        if not keep:
            import shutil

            path = Path(bundle.path)
            if path.parent == self.models_dir:
                shutil.rmtree(path, ignore_errors=True)
            return True
        if activate:
            self.client.activate_model(bundle)
        self.model_ready.emit(bundle, activate)
        return True

    def reject(self) -> None:
        if self.training_page.running:
            answer = QMessageBox.question(
                self,
                "Stop training?",
                "Training is still running. Stop it? Progress so far is kept and resumes next time.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.shutdown()
        super().reject()

    def shutdown(self) -> None:
        """Stop what runs and wait for it: threads must not outlive the pages they report to."""
        for task in self._tasks:
            if _alive(task):
                task.cancel()
        for task in self._tasks:
            if _alive(task):
                task.wait(60_000)
        self._tasks.clear()


def _alive(task: TaskThread) -> bool:
    try:
        return task.isRunning()
    except RuntimeError:  # the C++ object is gone (deleteLater after finishing)
        return False
