"""The results grid and what the user can do with the photos in it: open, show in folder, copy the path,
more like this, details; from the keyboard, the context menu or the Edit menu."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QMenu, QStyleOptionViewItem, QWidget

from irt_desktop.gui import formatting, icons, result_actions
from irt_desktop.gui.results_model import PathRole, ResultsModel

# More than this many photos opened (or folders shown) at once is a slip of the finger, not a wish.
MAX_OPEN, MAX_REVEAL = 20, 5


class ResultsView(QListView):
    """The thumbnail grid: virtualised (only visible rows are painted or loaded), keyboard first."""

    more_like_this = Signal(object)  # SearchHit
    status_message = Signal(str)

    def __init__(self, model: ResultsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("results")
        self.setAccessibleName("Search results")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setSpacing(0)
        self.setWrapping(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setDragEnabled(False)
        self.setModel(model)
        self.hits_model = model
        self.menu: QMenu | None = None
        self.open_action = self._act("&Open", "open", "Return", lambda: self.open_rows(self.selected_rows()))
        self.reveal_action = self._act("Show in &folder", "reveal", "Ctrl+Shift+R", self._reveal_selected)
        self.copy_action = self._act("&Copy path", "copy", QKeySequence.StandardKey.Copy, self._copy_selected)
        self.similar_action = self._act("&More like this", "similar", "Ctrl+M", self._more_like_selected)
        self.details_action = self._act("&Details…", "info", "Ctrl+I", self._details_selected)
        self.activated.connect(lambda index: self.open_rows([index.row()]))
        self.customContextMenuRequested.connect(self.show_context_menu)

    def _act(self, text: str, icon: str, shortcut: str | QKeySequence.StandardKey, slot) -> QAction:
        action = QAction(icons.icon(icon), text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    # --- layout -------------------------------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.justify()

    def justify(self) -> None:
        """Spread the columns over the full width instead of leaving a strip empty on the right: a grid
        as wide as the viewport allows, each card centred in its cell."""
        delegate = self.itemDelegate()
        if delegate is None or self.model() is None:
            return
        hint = delegate.sizeHint(QStyleOptionViewItem(), self.model().index(0, 0))
        width = self.viewport().width() - 1
        min_cell = hint.width() + 8
        columns = max(1, width // min_cell)
        grid = QSize(max(min_cell, width // columns), hint.height() + 8)
        if grid != self.gridSize():
            self.setGridSize(grid)

    def current_menu_point(self) -> QPoint:
        """Where a keyboard-opened context menu goes: under the current item."""
        index = self.currentIndex()
        rect = self.visualRect(index) if index.isValid() else self.viewport().rect()
        return rect.center()

    # --- actions ------------------------------------------------------------------------------------------
    def selected_rows(self) -> list[int]:
        rows = sorted({i.row() for i in self.selectionModel().selectedIndexes()})
        if not rows and self.currentIndex().isValid():
            rows = [self.currentIndex().row()]
        return rows

    def _paths(self, rows: list[int]) -> list[str]:
        return [self.hits_model.index(r).data(PathRole) for r in rows]

    def open_rows(self, rows: list[int]) -> None:
        for path in self._paths(rows)[:MAX_OPEN]:
            result_actions.open_file(path)

    def _reveal_selected(self) -> None:
        for path in self._paths(self.selected_rows())[:MAX_REVEAL]:
            result_actions.reveal_in_file_manager(path)

    def _copy_selected(self) -> None:
        paths = self._paths(self.selected_rows())
        if paths:
            result_actions.copy_paths(paths)
            self.status_message.emit(f"Copied {formatting.plural(len(paths), 'path')}")

    def _more_like_selected(self) -> None:
        rows = self.selected_rows()
        if rows:
            self.more_like_this.emit(self.hits_model.hit(rows[0]))

    def _details_selected(self) -> None:
        rows = self.selected_rows()
        if rows:
            result_actions.DetailsDialog(self.hits_model.hit(rows[0]), self).exec()

    def show_context_menu(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        if index.isValid() and not self.selectionModel().isSelected(index):
            self.setCurrentIndex(index)
        if not self.selected_rows():
            return
        menu = QMenu(self)
        for a in (self.open_action, self.reveal_action, self.copy_action):
            menu.addAction(a)
        menu.addSeparator()
        menu.addAction(self.similar_action)
        menu.addAction(self.details_action)
        menu.popup(self.viewport().mapToGlobal(pos))
        self.menu = menu

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Menu:
            self.show_context_menu(self.current_menu_point())
            return
        super().keyPressEvent(event)
