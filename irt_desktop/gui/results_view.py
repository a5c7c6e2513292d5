"""The results grid and what the user can do with the photos in it: view (the lightbox), open in another
app, show in folder, copy the path, more like this, details, and on a selection copy or move to a folder
or move to the trash; from the keyboard, the context menu or the Edit menu. Photos can be dragged out
to other applications (file URLs; always a copy)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QAction, QDrag, QKeyEvent, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QMenu,
    QStyle,
    QStyleOptionViewItem,
    QWidget,
)

from irt_desktop.gui import formatting, icons, result_actions
from irt_desktop.gui.results_model import PathRole, ResultsModel, ThumbnailRole

# More than this many photos opened (or folders shown) at once is a slip of the finger, not a wish.
MAX_OPEN, MAX_REVEAL = 20, 5
# Batch operations the view asks the search view to carry out (it asks first and can undo).
COPY_TO, MOVE_TO, TRASH = "copy", "move", "trash"


class ResultsView(QListView):
    """The thumbnail grid: virtualised (only visible rows are painted or loaded), keyboard first."""

    more_like_this = Signal(object)  # SearchHit
    status_message = Signal(str)
    view_requested = Signal(int)  # row: show it in the lightbox
    batch_requested = Signal(str, list)  # COPY_TO | MOVE_TO | TRASH, [SearchHit]

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
        # A wrapping grid never needs to scroll sideways; the cards are sized to the width instead.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setModel(model)
        self.hits_model = model
        self.menu: QMenu | None = None
        self.view_action = self._act("&View", "view", "Return", self._view_current)
        self.open_action = self._act(
            "&Open in other app", "open", "Ctrl+Return", lambda: self.open_rows(self.selected_rows())
        )
        self.reveal_action = self._act("Show in &folder", "reveal", "Ctrl+Shift+R", self._reveal_selected)
        self.copy_action = self._act("&Copy path", "copy", QKeySequence.StandardKey.Copy, self._copy_selected)
        self.copy_to_action = self._act(
            "Copy &to folder…", "copy", "Ctrl+Shift+C", lambda: self._batch(COPY_TO)
        )
        self.move_to_action = self._act(
            "Mo&ve to folder…", "move", "Ctrl+Shift+V", lambda: self._batch(MOVE_TO)
        )
        self.trash_action = self._act("Move to &trash…", "trash", "Delete", lambda: self._batch(TRASH))
        self.similar_action = self._act("&More like this", "similar", "Ctrl+M", self._more_like_selected)
        self.details_action = self._act("&Details…", "info", "Ctrl+I", self._details_selected)
        self.doubleClicked.connect(lambda index: self.view_requested.emit(index.row()))
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

    def usable_width(self) -> int:
        """The width the cards share: the scroll bar's room is always kept, so a list that grows long
        enough to need it does not reflow (or overflow sideways) when it appears."""
        extent = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        return max(1, self.width() - 2 * self.frameWidth() - extent - 1)

    def justify(self) -> None:
        """As many columns as fit at the chosen thumbnail size, the cards widened to share the full
        width exactly: no gutters, no empty strip on the right."""
        delegate = self.itemDelegate()
        if delegate is None or self.model() is None or not hasattr(delegate, "cell_width"):
            return
        width = self.usable_width()
        # The nearest whole number of columns: cards end up between ~0.8x and ~1.2x the chosen size,
        # rather than up to twice it in a narrow window.
        columns = max(1, round(width / delegate.min_width()))
        delegate.cell_width = width // columns
        option = QStyleOptionViewItem()
        option.font = self.font()
        hint = delegate.sizeHint(option, self.model().index(0, 0))
        grid = QSize(delegate.cell_width, hint.height())
        if grid != self.gridSize():
            self.setGridSize(grid)

    def columns(self) -> int:
        grid = self.gridSize().width()
        return max(1, self.usable_width() // grid) if grid > 0 else 1

    def current_menu_point(self) -> QPoint:
        """Where a keyboard-opened context menu goes: under the current item."""
        index = self.currentIndex()
        rect = self.visualRect(index) if index.isValid() else self.viewport().rect()
        return rect.center()

    # --- drag out -----------------------------------------------------------------------------------------
    def startDrag(self, supported_actions: Qt.DropAction) -> None:
        indexes = [i for i in self.selectedIndexes() if i.isValid()]
        if not indexes:
            return
        drag = QDrag(self)
        drag.setMimeData(self.hits_model.mimeData(indexes))
        pixmap = indexes[0].data(ThumbnailRole)
        if pixmap is not None and not pixmap.isNull():
            drag.setPixmap(pixmap.scaled(96, 96, Qt.AspectRatioMode.KeepAspectRatio))
        # Copy (or link) only: see ResultsModel.supportedDragActions.
        drag.exec(Qt.DropAction.CopyAction | Qt.DropAction.LinkAction, Qt.DropAction.CopyAction)

    # --- actions ------------------------------------------------------------------------------------------
    def selected_rows(self) -> list[int]:
        rows = sorted({i.row() for i in self.selectionModel().selectedIndexes()})
        if not rows and self.currentIndex().isValid():
            rows = [self.currentIndex().row()]
        return rows

    def selected_hits(self) -> list:
        return [self.hits_model.hit(r) for r in self.selected_rows()]

    def _paths(self, rows: list[int]) -> list[str]:
        return [self.hits_model.index(r).data(PathRole) for r in rows]

    def _view_current(self) -> None:
        index = self.currentIndex()
        rows = self.selected_rows()
        if index.isValid():
            self.view_requested.emit(index.row())
        elif rows:
            self.view_requested.emit(rows[0])

    def open_rows(self, rows: list[int]) -> None:
        paths = self._paths(rows)[:MAX_OPEN]
        failed = [p for p in paths if not result_actions.open_file(p)]
        if failed:
            self.status_message.emit(result_actions.no_viewer_text(failed[0]))

    def _reveal_selected(self) -> None:
        for path in self._paths(self.selected_rows())[:MAX_REVEAL]:
            result_actions.reveal_in_file_manager(path)

    def _copy_selected(self) -> None:
        paths = self._paths(self.selected_rows())
        if paths:
            result_actions.copy_paths(paths)
            self.status_message.emit(f"Copied {formatting.plural(len(paths), 'path')}")

    def _batch(self, op: str) -> None:
        hits = self.selected_hits()
        if hits:
            self.batch_requested.emit(op, hits)

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
        rows = self.selected_rows()
        if not rows:
            return
        n = len(rows)
        menu = QMenu(self)
        for a in (self.view_action, self.open_action, self.reveal_action, self.copy_action):
            menu.addAction(a)
        menu.addSeparator()
        self.copy_to_action.setText("Copy &to folder…" if n == 1 else f"Copy {n} photos &to folder…")
        self.move_to_action.setText("Mo&ve to folder…" if n == 1 else f"Mo&ve {n} photos to folder…")
        self.trash_action.setText("Move to &trash…" if n == 1 else f"Move {n} photos to the &trash…")
        for a in (self.copy_to_action, self.move_to_action, self.trash_action):
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
        if event.key() == Qt.Key.Key_Enter and not event.modifiers():
            self._view_current()  # the keypad's Enter, like Return
            return
        super().keyPressEvent(event)
