"""The files the library could not read, and the names its scans left out: a real list, each with its
reason, that the user can act on (open the file, show it in its folder, copy its path)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import formatting
from irt_desktop.gui.elide import wrapping
from irt_desktop.gui.result_actions import copy_paths, open_file, reveal_in_file_manager

if TYPE_CHECKING:
    from irt_desktop.library.records import Failure, Skipped

# A list longer than this is not shown; the count above it says how many there are.
MAX_LISTED = 2000
PathRole = Qt.ItemDataRole.UserRole + 1


def summary_text(n_failures: int, n_skipped: int) -> str:
    parts = []
    if n_failures or not n_skipped:
        parts.append(
            f"{formatting.plural(n_failures, 'file')} could not be read. "
            "They are tried again when they change."
        )
    if n_skipped:
        parts.append(f"{formatting.plural(n_skipped, 'name')} left out by the scan.")
    return " ".join(parts)


def failure_reason(f: Failure) -> str:
    reason = f.reason
    retry = getattr(f, "retry_at", None)
    if getattr(f, "kind", "permanent") == "transient":
        reason += f" (tried again {'at ' + formatting.date(retry) if retry else 'at the next scan'})"
    return reason


class UnreadableFilesDialog(QDialog):
    def __init__(
        self, failures: Sequence[Failure], parent: QWidget | None = None, skipped: Sequence[Skipped] = ()
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Unreadable files")
        self.summary = wrapping(QLabel(summary_text(len(failures), len(skipped))))
        self.tree = QTreeWidget()
        self.tree.setAccessibleName("Unreadable files")
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["File", "Why", "Folder"])
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        self.failed_group = self._group("Could not be read", len(failures))
        for f in failures[:MAX_LISTED]:
            self._row(self.failed_group, str(f.path), failure_reason(f))
        self.skipped_group = None
        if skipped:
            self.skipped_group = self._group("Left out by the scan", len(skipped))
            for s in skipped[:MAX_LISTED]:
                self._row(self.skipped_group, s.path, s.reason)
        self.tree.expandAll()
        # Names and reasons as wide as they need, within bounds; the folder takes what is left.
        for column, (low, high) in enumerate(((160, 280), (180, 380))):
            self.tree.resizeColumnToContents(column)
            self.tree.setColumnWidth(column, max(low, min(high, self.tree.columnWidth(column))))
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.tree.itemActivated.connect(lambda item, _col: self.open_selected() if item.parent() else None)

        self.message = wrapping(QLabel(""))
        self.message.setObjectName("hint")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.open_button = self._button(buttons, "&Open", "Open the file with the system's viewer")
        self.reveal_button = self._button(buttons, "Show in &folder", "Show the file in the file manager")
        self.copy_button = self._button(buttons, "&Copy path", "Copy the selected paths")
        self.open_button.clicked.connect(self.open_selected)
        self.reveal_button.clicked.connect(self.reveal_selected)
        self.copy_button.clicked.connect(self.copy_selected)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        first = self.failed_group.child(0) or (self.skipped_group.child(0) if self.skipped_group else None)
        if first is not None:
            self.tree.setCurrentItem(first)
        self._update_buttons()
        self.resize(820, 420)

    def _group(self, title: str, n: int) -> QTreeWidgetItem:
        item = QTreeWidgetItem(self.tree, [f"{title} ({formatting.count(n)})"])
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        font = item.font(0)
        font.setBold(True)
        item.setFont(0, font)
        item.setFirstColumnSpanned(True)
        return item

    def _row(self, group: QTreeWidgetItem, path: str, reason: str) -> None:
        p = Path(path)
        item = QTreeWidgetItem(group, [p.name or path, reason, str(p.parent)])
        item.setData(0, PathRole, path)
        item.setToolTip(0, path)
        item.setToolTip(1, reason)
        item.setToolTip(2, str(p.parent))

    @staticmethod
    def _button(box: QDialogButtonBox, text: str, tip: str) -> QPushButton:
        button = box.addButton(text, QDialogButtonBox.ButtonRole.ActionRole)
        button.setToolTip(tip)
        return button

    def selected_paths(self) -> list[str]:
        return [i.data(0, PathRole) for i in self.tree.selectedItems() if i.data(0, PathRole)]

    def _update_buttons(self) -> None:
        paths = self.selected_paths()
        one_file = len(paths) == 1 and Path(paths[0]).is_file()
        self.open_button.setEnabled(one_file)
        self.reveal_button.setEnabled(len(paths) == 1)
        self.copy_button.setEnabled(bool(paths))
        self.message.setText("")

    def open_selected(self) -> None:
        paths = self.selected_paths()
        if len(paths) == 1 and not open_file(paths[0]):
            self.message.setText(
                "No application here opens this file. Use Show in folder to find it in the file manager."
            )

    def reveal_selected(self) -> None:
        paths = self.selected_paths()
        if len(paths) == 1 and not reveal_in_file_manager(paths[0]):
            self.message.setText("No file manager could be started here; use Copy path instead.")

    def copy_selected(self) -> None:
        paths = self.selected_paths()
        if paths:
            copy_paths(paths)
            self.message.setText(f"Copied {formatting.plural(len(paths), 'path')}")
