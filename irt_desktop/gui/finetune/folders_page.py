"""Page 1 of the fine-tune wizard: the folders whose sub-folders are the classes to learn."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from irt_desktop.gui import formatting, icons
from irt_desktop.gui.tasks import Task
from irt_desktop.gui.text_wrap import breakable
from irt_desktop.gui.thumbnails import ThumbnailLoader

if TYPE_CHECKING:
    from irt_desktop.gui.finetune.wizard import FinetuneWizard

SAMPLES_PER_CLASS = 4
SAMPLE_ROWS = 300  # classes beyond this are listed without sample thumbnails


def scan_albums(roots: list[Path]) -> tuple[Any, int]:
    """Worker side: the classes under `roots` and how many of them can teach (at least 2 photos)."""
    from irt_desktop.retrieval.datasets import scan_class_folders
    from irt_desktop.retrieval.training.finetune import usable_classes

    dataset = scan_class_folders(roots)
    return dataset, usable_classes(dataset)


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
        header = self.classes.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
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
        self._scan: Task | None = None

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
        if self._scan is not None:
            self._scan.abandon()  # a scan of the folders as they were: its answer is stale
        self.w.state.dataset = None
        self.w.state.usable = 0
        self.classes.clear()
        self.warning.setText("")
        self.warning.hide()
        self.completeChanged.emit()
        if not self.w.state.roots:
            self.summary.setText("")
            return
        self.summary.setText("Looking for photos…")
        roots = list(self.w.state.roots)
        self._scan = self.w.runner.run(
            lambda: scan_albums(roots), self._on_scanned, self._on_scan_failed, name="scan albums"
        )

    def _on_scan_failed(self, exc: BaseException) -> None:
        self.summary.setText(breakable(f"No classes found: {exc}"))
        self.completeChanged.emit()

    def _on_scanned(self, answer: tuple[Any, int]) -> None:
        dataset, n_usable = answer
        self.w.state.dataset, self.w.state.usable = dataset, n_usable
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
        return self.w.state.dataset is not None and self.w.state.usable >= 2

    def validatePage(self) -> bool:
        self.w.settings.set_wizard_state(
            {**self.w.settings.wizard_state(), "roots": [str(r) for r in self.w.state.roots]}
        )
        return True
