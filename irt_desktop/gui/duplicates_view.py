"""The Duplicates tab: byte-identical copies and near-identical groups side by side, with a threshold.

Nothing is deleted here: checked files go to the system trash (QFile.moveToTrash) after the user has
confirmed a list of exactly what will move, and a file the OS cannot trash stays where it is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSlider,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import formatting, icons, result_actions
from irt_desktop.gui.library_client import LibraryClient
from irt_desktop.gui.settings import AppSettings
from irt_desktop.gui.tasks import TaskRunner
from irt_desktop.gui.thumbnails import ThumbnailLoader

if TYPE_CHECKING:
    from irt_desktop.library.records import DuplicateReport, ImageInfo

InfoRole = Qt.ItemDataRole.UserRole + 1
# "IMG_1 (1)", "IMG_1 copy", "IMG_1-copy 2", "Kopie von…": names file managers give to copies.
COPY_NAME = re.compile(r"(\(\d+\)$|[ _-]copy( \d+)?$|^copy of |^kopie|[ _-]kopie$)", re.IGNORECASE)
TREE_ICON = 72


def keep_order(group: list[ImageInfo]) -> list[ImageInfo]:
    """Best copy first: most pixels, then biggest file, then oldest, then shortest path."""

    def key(info: ImageInfo) -> tuple:
        pixels = (info.width or 0) * (info.height or 0)
        taken = info.taken.timestamp() if info.taken else float("inf")
        copy_name = bool(COPY_NAME.search(Path(info.path).stem))
        return (-pixels, -(info.size or 0), copy_name, taken, len(str(info.path)), str(info.path))

    return sorted(group, key=key)


def move_to_trash(paths: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Worker side (QFile is reentrant): (moved, [(path, why not)])."""
    import sys

    from PySide6.QtCore import QFile, QStandardPaths

    if sys.platform.startswith("linux"):
        # Qt's freedesktop trash needs $XDG_DATA_HOME to exist already (fresh accounts may lack it).
        data_home = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
        if data_home:
            Path(data_home).mkdir(parents=True, exist_ok=True)
    moved, failed = [], []
    for path in paths:
        if not Path(path).exists():
            failed.append((path, "no longer exists"))
            continue
        ok = QFile.moveToTrash(path)
        ok = ok[0] if isinstance(ok, tuple) else ok
        if ok:
            moved.append(path)
        else:
            failed.append((path, "the system trash refused it (no trash on this drive?)"))
    return moved, failed


class GroupTree(QTreeWidget):
    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dupGroups")
        self.setAccessibleName(name)
        self.setHeaderLabels(["Photo", "Size", "Dimensions", "Date"])
        self.setIconSize(QSize(TREE_ICON, TREE_ICON))
        self.setUniformRowHeights(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)


class DuplicatesView(QWidget):
    status_message = Signal(str)

    def __init__(
        self,
        client: LibraryClient,
        settings: AppSettings,
        thumbnails: ThumbnailLoader,
        parent: QWidget | None = None,
        *,
        runner: TaskRunner | None = None,
    ) -> None:
        """`runner`: moves files to the trash (default: the client's)."""
        super().__init__(parent)
        self.client = client
        self.settings = settings
        self.thumbnails = thumbnails
        self.runner = runner if runner is not None else client.runner
        self._items_by_path: dict[str, list[QTreeWidgetItem]] = {}
        self.report: DuplicateReport | None = None

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(800, 1000)
        self.slider.setSingleStep(5)
        self.slider.setPageStep(10)
        self.slider.setValue(round(settings.duplicate_threshold * 1000))
        self.slider.setAccessibleName("Near-duplicate similarity threshold")
        self.threshold_label = QLabel()
        self.threshold_label.setMinimumWidth(40)
        self.find_button = QPushButton(icons.icon("search"), "&Find duplicates")
        self.summary = QLabel("Find exact copies and near-identical photos in the library.")
        self.summary.setObjectName("hint")
        top = QHBoxLayout()
        label = QLabel("Near-duplicate &threshold:")
        label.setBuddy(self.slider)
        top.addWidget(label)
        top.addWidget(self.slider, 1)
        top.addWidget(self.threshold_label)
        top.addWidget(self.find_button)

        self.exact_tree = GroupTree("Exact duplicates")
        self.near_tree = GroupTree("Near duplicates")
        self.exact_title = QLabel("Exact duplicates")
        self.near_title = QLabel("Near duplicates")
        for t in (self.exact_title, self.near_title):
            t.setObjectName("paneTitle")
        self.exact_title.setBuddy(self.exact_tree)
        self.near_title.setBuddy(self.near_tree)
        left, right = QWidget(), QWidget()
        for box, title, tree in (
            (left, self.exact_title, self.exact_tree),
            (right, self.near_title, self.near_tree),
        ):
            lay = QVBoxLayout(box)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.addWidget(title)
            lay.addWidget(tree, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setChildrenCollapsible(False)

        self.select_extra_button = QPushButton("Check all but the &best copy in each group")
        self.clear_checks_button = QPushButton("&Uncheck all")
        self.trash_button = QPushButton(icons.icon("trash"), "Move checked to &trash…")
        self.trash_button.setEnabled(False)
        bottom = QHBoxLayout()
        bottom.addWidget(self.select_extra_button)
        bottom.addWidget(self.clear_checks_button)
        bottom.addStretch(1)
        bottom.addWidget(self.trash_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)

        self.slider.valueChanged.connect(self._on_threshold)
        self.find_button.clicked.connect(self.find)
        self.select_extra_button.clicked.connect(self.check_all_but_best)
        self.clear_checks_button.clicked.connect(lambda: self._set_all_checks(False))
        self.trash_button.clicked.connect(self.trash_checked)
        for tree in (self.exact_tree, self.near_tree):
            tree.itemChanged.connect(lambda *_: self._update_trash_button())
            tree.itemActivated.connect(self._open_item)
        thumbnails.ready.connect(self._on_thumbnail)
        self._on_threshold(self.slider.value())

    @property
    def threshold(self) -> float:
        return self.slider.value() / 1000

    def _on_threshold(self, value: int) -> None:
        self.threshold_label.setText(f"{value / 1000:.3f}")
        self.settings.duplicate_threshold = value / 1000

    def find(self) -> None:
        self.find_button.setEnabled(False)
        self.summary.setText("Looking for duplicates…")
        self.client.duplicates(self.threshold, self.show_report, self._on_failed)

    def _on_failed(self, exc: BaseException) -> None:
        self.find_button.setEnabled(True)
        self.summary.setText(f"Could not look for duplicates: {exc}")

    def show_report(self, report: DuplicateReport) -> None:
        self.find_button.setEnabled(True)
        self.report = report
        self._items_by_path.clear()
        self._fill(self.exact_tree, report.exact, "Copy set")
        self._fill(self.near_tree, report.near, "Look-alikes")
        n_exact = sum(len(g) for g in report.exact)
        n_near = sum(len(g) for g in report.near)
        self.exact_title.setText(f"Exact duplicates — {formatting.plural(len(report.exact), 'group')}")
        self.near_title.setText(
            f"Near duplicates (≥ {report.threshold:.3f}) — {formatting.plural(len(report.near), 'group')}"
        )
        wasted = sum(sum(i.size or 0 for i in keep_order(g)[1:]) for g in report.exact)
        self.summary.setText(
            f"{formatting.plural(n_exact, 'file')} in exact copy sets "
            f"({formatting.size(wasted)} could be freed), "
            f"{formatting.plural(n_near, 'photo')} in near-duplicate groups. Check what to remove; nothing "
            "is deleted without asking."
            if report.exact or report.near
            else "No duplicates found at this threshold."
        )
        self._update_trash_button()

    def _fill(self, tree: QTreeWidget, groups: list[list[ImageInfo]], label: str) -> None:
        tree.blockSignals(True)
        tree.clear()
        for n, group in enumerate(groups, 1):
            ordered = keep_order(group)
            total = sum(i.size or 0 for i in ordered)
            top = QTreeWidgetItem(
                [f"{label} {n} · {formatting.plural(len(ordered), 'photo')}", formatting.size(total)]
            )
            top.setFirstColumnSpanned(False)
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            tree.addTopLevelItem(top)
            for rank, info in enumerate(ordered):
                path = str(info.path)
                item = QTreeWidgetItem(
                    [
                        Path(path).name,
                        formatting.size(info.size),
                        formatting.dimensions(info.width, info.height),
                        formatting.date(info.taken).split(" ")[0],
                    ]
                )
                item.setToolTip(0, path + ("\nSuggested copy to keep" if rank == 0 else ""))
                item.setToolTip(3, formatting.date(info.taken))
                if rank == 0:
                    bold = item.font(0)
                    bold.setBold(True)
                    item.setFont(0, bold)
                item.setData(0, InfoRole, info)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(0, Qt.CheckState.Unchecked)
                pixmap = self.thumbnails.pixmap(path)
                item.setIcon(0, QIcon(pixmap) if pixmap is not None else icons.icon("image-open"))
                self._items_by_path.setdefault(path, []).append(item)
                top.addChild(item)
            top.setExpanded(True)
        tree.blockSignals(False)

    def _on_thumbnail(self, path: str) -> None:
        items = self._items_by_path.get(path)
        if not items:
            return
        pixmap = self.thumbnails.pixmap(path)
        if pixmap is None:
            return
        for item in items:
            tree = item.treeWidget()
            if tree is not None:
                tree.blockSignals(True)
                item.setIcon(0, QIcon(pixmap))
                tree.blockSignals(False)

    def _children(self) -> list[QTreeWidgetItem]:
        out = []
        for tree in (self.exact_tree, self.near_tree):
            for i in range(tree.topLevelItemCount()):
                top = tree.topLevelItem(i)
                out.extend(top.child(j) for j in range(top.childCount()))
        return out

    def checked_paths(self) -> list[str]:
        seen: dict[str, None] = {}
        for item in self._children():
            if item.checkState(0) == Qt.CheckState.Checked:
                seen[str(item.data(0, InfoRole).path)] = None
        return list(seen)

    def check_all_but_best(self) -> None:
        for tree in (self.exact_tree, self.near_tree):
            tree.blockSignals(True)
            for i in range(tree.topLevelItemCount()):
                top = tree.topLevelItem(i)
                for j in range(top.childCount()):
                    top.child(j).setCheckState(0, Qt.CheckState.Checked if j > 0 else Qt.CheckState.Unchecked)
            tree.blockSignals(False)
        self._update_trash_button()

    def _set_all_checks(self, checked: bool) -> None:
        for tree in (self.exact_tree, self.near_tree):
            tree.blockSignals(True)
        for item in self._children():
            item.setCheckState(0, Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        for tree in (self.exact_tree, self.near_tree):
            tree.blockSignals(False)
        self._update_trash_button()

    def _update_trash_button(self) -> None:
        n = len(self.checked_paths())
        self.trash_button.setEnabled(n > 0)
        self.trash_button.setText(
            f"Move {formatting.plural(n, 'checked file')} to &trash…" if n else "Move checked to &trash…"
        )

    def _open_item(self, item: QTreeWidgetItem, column: int) -> None:
        info = item.data(0, InfoRole)
        if info is not None:
            result_actions.open_file(info.path)

    def confirm_trash(self, paths: list[str]) -> bool:
        """The explicit confirmation; a separate method so tests can answer it."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Move to trash?")
        box.setText(f"Move {formatting.plural(len(paths), 'file')} to the trash?")
        box.setInformativeText("They can be restored from the system trash. Nothing is deleted permanently.")
        box.setDetailedText("\n".join(paths))
        move = box.addButton("Move to Trash", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is move

    def trash_checked(self) -> None:
        paths = self.checked_paths()
        if not paths or not self.confirm_trash(paths):
            return
        self.trash_button.setEnabled(False)
        # Not in the library lane: trashing touches only the files, and the rescan after it is the indexer's.
        self.runner.run(lambda: move_to_trash(paths), self._on_trashed, self._on_trash_failed, name="trash")

    def _on_trashed(self, result: tuple[list[str], list[tuple[str, str]]]) -> None:
        moved, failed = result
        gone = set(moved)
        for item in self._children():
            if str(item.data(0, InfoRole).path) in gone:
                parent = item.parent()
                parent.removeChild(item)
        if failed:
            # Not modal: the answer arrives asynchronously and must not stall anything behind a dialog.
            box = QMessageBox(
                QMessageBox.Icon.Warning,
                "Some files were not moved",
                f"{formatting.plural(len(failed), 'file')} stay where they are.",
                parent=self,
            )
            box.setDetailedText("\n".join(f"{p}: {why}" for p, why in failed))
            box.open()
            self._failure_box = box
        self.status_message.emit(f"Moved {formatting.plural(len(moved), 'file')} to the trash")
        self._update_trash_button()
        if moved:
            self.client.rescan()

    def _on_trash_failed(self, exc: BaseException) -> None:
        self._update_trash_button()
        self.status_message.emit(f"Nothing was moved to the trash: {exc}")

    def set_thumbnail_size(self, size: int) -> None:
        pass  # the tree keeps a fixed small icon; the setting is about the results grid
