"""The Search tab's "In:" box: "All folders", then every folder with photos, sub-folders indented.

A list model over the library's folder listing, not one QComboBox item per folder: at 10^4 folders
(a 10^6-photo archive) adding items one by one, each with an icon, a tip and a depth, held the GUI thread
for 230 ms, a visible stall in the results being scrolled. Here a new listing is one model reset, and
rows are drawn from the list as the popup shows them. The rows' texts are made by `folder_rows` in the
thread that lists the folders: made on the GUI thread, 10^4 labels and tips were the one frame over
50 ms left while scrolling a 10^6-photo library, the moment the listing arrived.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

from irt_desktop.gui import formatting, icons
from irt_desktop.library.gil import GilBreaks

if TYPE_CHECKING:
    from PySide6.QtGui import QIcon

    from irt_desktop.library.filters import FolderCount

ALL_FOLDERS = "All folders"
DEPTH_ROLE = Qt.ItemDataRole.UserRole + 1
_Index = QModelIndex | QPersistentModelIndex


@dataclass
class FolderRows:
    """What the model shows of a listing: (label, path, tooltip, depth) per folder, and each path's row."""

    rows: list[tuple[str, str, str, int]] = field(default_factory=list)
    row_of: dict[str, int] = field(default_factory=dict)


def folder_rows(folders: list[FolderCount]) -> FolderRows:
    """The rows for `folders`; pure, for any thread (the listing's own, at 10^4 folders, where it takes
    breaks so the GUI thread's paint is not held up: library/gil.py)."""
    pause = GilBreaks()
    rows = []
    for c in folders:
        pause()
        label = _base_name(c.path) if c.depth else c.name
        rows.append((label, c.path, f"{c.path}\n{formatting.plural(c.photos, 'photo')}", c.depth))
    return FolderRows(rows, {path: n + 1 for n, (_, path, _, _) in enumerate(rows)})


def _base_name(path: str) -> str:
    """Path(path).name for the catalog's folder strings (canonical: os.sep only), without building a
    Path for each of 10^4 folders."""
    return path.rstrip(os.sep).rpartition(os.sep)[2]


class FolderListModel(QAbstractListModel):
    """Row 0 is "All folders" (data None); the others are folders (data: the path)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        # (label, path, tooltip, depth) per folder row.
        self._rows: list[tuple[str, str, str, int]] = []
        self._row_of: dict[str, int] = {}
        self._icon: QIcon | None = None

    def set_folders(self, folders: list[FolderCount] | FolderRows) -> None:
        """A new listing, in one reset; FolderRows made off the GUI thread, or a short list to make here."""
        made = folders if isinstance(folders, FolderRows) else folder_rows(folders)
        self.beginResetModel()
        self._rows, self._row_of = made.rows, made.row_of
        self.endResetModel()

    def add_folder(self, path: str, label: str) -> int:
        """A folder not listed yet (just added): appended; its row."""
        row = self.rowCount()
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append((label or Path(path).name, path, path, 0))
        self._row_of[path] = row
        self.endInsertRows()
        return row

    def row_of(self, path: str | None) -> int:
        """The row showing `path` (0 for None: all folders), -1 if it is not listed."""
        return 0 if path is None else self._row_of.get(path, -1)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else 1 + len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = index.row()
        if not index.isValid() or not 0 <= row <= len(self._rows):
            return None
        if row == 0:
            return ALL_FOLDERS if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole) else None
        label, path, tip, depth = self._rows[row - 1]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return label
        if role == Qt.ItemDataRole.UserRole:
            return path
        if role == Qt.ItemDataRole.ToolTipRole:
            return tip
        if role == DEPTH_ROLE:
            return depth
        if role == Qt.ItemDataRole.DecorationRole:
            if self._icon is None:
                self._icon = icons.icon("folder")
            return self._icon
        return None


class FolderListDelegate(QStyledItemDelegate):
    """The folder list's popup: sub-folders indented under their parent (the closed box shows the
    chosen folder's name alone)."""

    INDENT = 16

    def initStyleOption(self, option: QStyleOptionViewItem, index) -> None:
        super().initStyleOption(option, index)
        depth = index.data(DEPTH_ROLE) or 0
        option.rect.adjust(self.INDENT * int(depth), 0, 0, 0)
