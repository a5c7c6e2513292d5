"""The Duplicates tab's per-kind pane: a tree of groups (a folder column, full-path tooltips, thumbnails)
and that kind's own buttons. It draws gui.duplicates_model and forwards clicks; no logic of its own."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyledItemDelegate,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import icons
from irt_desktop.gui.duplicates_model import BULK, COLUMNS, EXPLAIN, TITLES, group_title, rows_of
from irt_desktop.gui.thumbnails import ThumbnailLoader
from irt_desktop.library.records import DuplicateGroup

InfoRole = Qt.ItemDataRole.UserRole + 1
GroupRole = Qt.ItemDataRole.UserRole + 2
TREE_ICON = 64


class _ElideMiddle(QStyledItemDelegate):
    def initStyleOption(self, option, index) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle


class GroupTree(QTreeWidget):
    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dupGroups")
        self.setAccessibleName(name)
        self.setHeaderLabels(COLUMNS)
        self.setIconSize(QSize(TREE_ICON, TREE_ICON))
        self.setUniformRowHeights(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column in (2, 3, 4, 5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setMinimumSectionSize(60)
        self.setColumnWidth(0, 250)
        # Folders are shown from the group's common folder on (duplicates_model.shown_folders): both
        # ends mean something, so a narrow column cuts the middle; the tooltip has the whole path.
        self._folder_delegate = _ElideMiddle(self)
        self.setItemDelegateForColumn(1, self._folder_delegate)


class KindPane(QWidget):
    """One kind's list and buttons. `check_toggled(image_id, checked)` when the user ticks a row."""

    check_toggled = Signal(int, bool)

    def __init__(self, kind: str, thumbnails: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.thumbnails = thumbnails
        self.items_by_path: dict[str, list[QTreeWidgetItem]] = {}
        self.tree = GroupTree(TITLES[kind])
        self.explain = QLabel(EXPLAIN[kind])
        self.explain.setObjectName("hint")
        self.explain.setWordWrap(True)
        self.check_button = QPushButton("Check all but the keeper")
        self.check_button.setToolTip(
            "Ticks every photo of this list except each group's keeper; this list only"
        )
        self.check_button.setVisible(BULK[kind])
        self.uncheck_button = QPushButton("Uncheck all")
        self.compare_button = QPushButton("Review one by one…" if kind == "lookalike" else "Compare…")
        self.compare_button.setToolTip(
            "Each group side by side, one after another: K keep, T trash, B keep only this one"
            if kind == "lookalike"
            else "Show the selected group side by side"
        )
        self.trash_button = QPushButton(icons.icon("trash"), "Move checked to trash…")
        self.trash_button.setEnabled(False)
        buttons = QHBoxLayout()
        for b in (self.check_button, self.uncheck_button, self.compare_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.trash_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.explain)
        lay.addWidget(self.tree, 1)
        lay.addLayout(buttons)
        self.tree.itemChanged.connect(self._on_item_changed)

    def fill(self, groups: list[DuplicateGroup], checked: set[int]) -> None:
        tree = self.tree
        tree.blockSignals(True)
        tree.clear()
        self.items_by_path.clear()
        for n, group in enumerate(groups, 1):
            top = QTreeWidgetItem([group_title(group, n), "", ""])
            top.setData(0, GroupRole, group)
            top.setToolTip(0, group.keep_reason)
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            tree.addTopLevelItem(top)
            for row in rows_of(group):
                item = QTreeWidgetItem(row.cells)
                path = str(row.info.path)
                if row.keeper:
                    bold = item.font(0)
                    bold.setBold(True)
                    item.setFont(0, bold)
                item.setToolTip(0, row.tooltip)
                item.setToolTip(1, row.folder)
                item.setData(0, InfoRole, row.info)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                state = Qt.CheckState.Checked if row.info.id in checked else Qt.CheckState.Unchecked
                item.setCheckState(0, state)
                pixmap = self.thumbnails.pixmap(path)
                item.setIcon(0, QIcon(pixmap) if pixmap is not None else icons.icon("image-open"))
                self.items_by_path.setdefault(path, []).append(item)
                top.addChild(item)
            top.setExpanded(True)
        tree.blockSignals(False)

    def sync_checks(self, checked: set[int]) -> None:
        """The model's ticks onto the rows (after a bulk action or a compare decision)."""
        self.tree.blockSignals(True)
        for item in self.children_items():
            info = item.data(0, InfoRole)
            item.setCheckState(0, Qt.CheckState.Checked if info.id in checked else Qt.CheckState.Unchecked)
        self.tree.blockSignals(False)

    def children_items(self) -> list[QTreeWidgetItem]:
        out = []
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            out.extend(top.child(j) for j in range(top.childCount()))
        return out

    def set_thumbnail(self, path: str) -> None:
        items = self.items_by_path.get(path)
        pixmap = self.thumbnails.pixmap(path) if items else None
        if pixmap is None:
            return
        self.tree.blockSignals(True)
        for item in items or ():
            item.setIcon(0, QIcon(pixmap))
        self.tree.blockSignals(False)

    def current_group_item(self) -> QTreeWidgetItem | None:
        item = self.tree.currentItem() or (
            self.tree.topLevelItem(0) if self.tree.topLevelItemCount() else None
        )
        return None if item is None else (item.parent() or item)

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        info = item.data(0, InfoRole)
        if info is not None and column == 0:
            self.check_toggled.emit(info.id, item.checkState(0) == Qt.CheckState.Checked)
