"""The library side of the main window: watched folders with their status, add / remove / rescan.

A folder's line counts photos it can show; unreadable files are counted apart. While a pass runs, a
folder with photos left to index says how far it is ("indexing: 120 of 284") instead of a total that
the first indexing has not reached yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import formatting, icons
from irt_desktop.gui.elide import wrapping
from irt_desktop.gui.indexing_status import readable_photos

if TYPE_CHECKING:
    from irt_desktop.library.records import Root

STATUS_TEXT = {
    "indexed": "Indexed",
    "pending": "Indexing pending",
    "offline": "Offline (not reachable)",
    "errors": "Indexed, some files unreadable",
}

RootRole = Qt.ItemDataRole.UserRole + 1

def root_summary(root: Root, indexing: bool = False) -> str:
    """`indexing`: a pass is running, so a folder with photos left says how far it has got."""
    photos = readable_photos(root.n_images, root.n_failed)
    pending = min(int(root.n_pending or 0), photos)
    if indexing and root.status != "offline" and pending:
        parts = [f"indexing: {formatting.count(photos - pending)} of {formatting.count(photos)}"]
    elif indexing and root.status == "pending" and not root.n_images:
        parts = ["looking for photos…"]
    else:
        parts = [formatting.plural(photos, "photo")]
        if pending:
            parts.append(f"{formatting.count(pending)} to index")
    if root.n_failed:
        parts.append(f"{formatting.count(root.n_failed)} unreadable")
    if root.status == "offline":
        parts.append("offline")
    return ", ".join(parts)


class LibraryPanel(QWidget):
    add_requested = Signal()
    folders_dropped = Signal(list)
    remove_requested = Signal(object)  # Root
    rescan_requested = Signal()
    problems_requested = Signal()
    filter_requested = Signal(object)  # Root: search only in this folder

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 4, 8)
        self._indexing = False
        title = QLabel("Folders")
        title.setObjectName("paneTitle")
        layout.addWidget(title)
        self.list = QListWidget()
        self.list.setObjectName("roots")
        self.list.setAccessibleName("Watched folders")
        self.list.setIconSize(QSize(16, 16))
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(False)
        self.list.setSpacing(2)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self.list.itemActivated.connect(lambda item: self.filter_requested.emit(item.data(RootRole)))
        title.setBuddy(self.list)
        layout.addWidget(self.list, 1)
        self.empty_hint = QLabel("No folders yet.\nAdd one, or drop a folder here.")
        self.empty_hint.setObjectName("hint")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        wrapping(self.empty_hint)
        layout.addWidget(self.empty_hint)

        buttons = QHBoxLayout()
        self.add_button = _tool_button("folder-add", "&Add…")
        self.add_button.setToolTip("Add a folder to watch (Ctrl+Shift+O)")
        self.remove_button = _tool_button("remove", "&Remove")
        self.remove_button.setToolTip("Stop watching the selected folder (photos stay on disk)")
        self.rescan_button = _tool_button("rescan", "Re&scan")
        self.rescan_button.setToolTip(
            f"Look for new and changed photos now ({QKeySequence('F5').toString()})"
        )
        buttons.setSpacing(4)
        self._buttons_row = buttons
        for b in (self.add_button, self.remove_button, self.rescan_button):
            # A narrow panel shows the buttons' icons only (resizeEvent) rather than widen the window.
            # Ignored: a tool button's minimum is its whole text, which would become the panel's.
            b.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            b.setMinimumWidth(32)
            b.setAccessibleName(b.text().replace("&", "").rstrip("…"))
            buttons.addWidget(b)
        layout.addLayout(buttons)
        self.totals = wrapping(QLabel(""))
        self.totals.setObjectName("hint")
        layout.addWidget(self.totals)
        self.problems_button = QPushButton(icons.icon("info"), "Show unreadable files…")
        self.problems_button.setFlat(True)
        self.problems_button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.problems_button.hide()
        layout.addWidget(self.problems_button)

        self.add_button.clicked.connect(self.add_requested)
        self.remove_button.clicked.connect(self._remove_selected)
        self.rescan_button.clicked.connect(self.rescan_requested)
        self.problems_button.clicked.connect(self.problems_requested)
        self._roots: list[Root] = []
        self._update_buttons()

    def set_indexing(self, running: bool) -> None:
        """A pass started or ended: the folders' lines say how far it is, or their totals."""
        if running != self._indexing:
            self._indexing = running
            self.set_roots(self._roots)

    def set_roots(self, roots: list[Root]) -> None:
        selected = self.selected_root()
        selected_id = selected.id if selected is not None else None
        self._roots = list(roots)
        self.list.clear()
        for root in self._roots:
            summary = root_summary(root, self._indexing)
            path = Path(root.path)
            item = QListWidgetItem(
                icons.icon(f"status-{root.status}") if root.status in STATUS_TEXT else icons.icon("folder"),
                f"{path.name or str(path)}\n{summary}",
            )
            item.setData(RootRole, root)
            flags = []
            if root.network:
                flags.append("network folder")
            if not root.recursive:
                flags.append("top level only")
            item.setToolTip(
                f"{path}\n{STATUS_TEXT.get(root.status, root.status)}"
                + (f" ({', '.join(flags)})" if flags else "")
            )
            item.setData(
                Qt.ItemDataRole.AccessibleTextRole,
                f"{path.name}, {STATUS_TEXT.get(root.status, root.status)}, {summary}",
            )
            self.list.addItem(item)
            if root.id == selected_id:
                item.setSelected(True)
        self.empty_hint.setVisible(not self._roots)
        n_images = sum(readable_photos(r.n_images, r.n_failed) for r in self._roots)
        n_failed = sum(int(r.n_failed) for r in self._roots)
        self.totals.setText(
            f"{formatting.plural(n_images, 'photo')} in {formatting.plural(len(self._roots), 'folder')}"
            if self._roots
            else ""
        )
        n_skipped = sum(int(getattr(r, "n_skipped", 0) or 0) for r in self._roots)
        self.problems_button.setVisible(n_failed + n_skipped > 0)
        problems = [formatting.plural(n_failed, "unreadable file")] if n_failed else []
        if n_skipped:
            problems.append(formatting.plural(n_skipped, "skipped name"))
        self.problems_button.setText(f"Show {', '.join(problems)}…")
        self.problems_button.setToolTip("The files that could not be read and the names the scans left out")
        self._update_buttons()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        buttons = (self.add_button, self.remove_button, self.rescan_button)
        beside = Qt.ToolButtonStyle.ToolButtonTextBesideIcon
        gaps = self._buttons_row.spacing() * (len(buttons) - 1)
        need = sum(_hint_with_style(b, beside) for b in buttons) + gaps
        margins = self.layout().contentsMargins()
        room = self.width() - margins.left() - margins.right()
        style = beside if room >= need else Qt.ToolButtonStyle.ToolButtonIconOnly
        for b in buttons:
            b.setToolButtonStyle(style)

    def roots(self) -> list[Root]:
        return list(self._roots)

    def selected_root(self) -> Root | None:
        items = self.list.selectedItems()
        return items[0].data(RootRole) if items else None

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.selected_root() is not None)

    def _remove_selected(self) -> None:
        root = self.selected_root()
        if root is not None:
            self.remove_requested.emit(root)

    def set_enabled_actions(self, enabled: bool) -> None:
        for b in (self.add_button, self.rescan_button):
            b.setEnabled(enabled)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(u.isLocalFile() and Path(u.toLocalFile()).is_dir() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        folders = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        folders = [f for f in folders if f.is_dir()]
        if folders:
            self.folders_dropped.emit(folders)
            event.acceptProposedAction()


def _tool_button(icon: str, text: str) -> QToolButton:
    button = QToolButton()
    button.setIcon(icons.icon(icon))
    button.setText(text)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    return button


def _hint_with_style(button: QToolButton, style: Qt.ToolButtonStyle) -> int:
    if button.toolButtonStyle() == style:
        return button.sizeHint().width()
    old = button.toolButtonStyle()
    button.setToolButtonStyle(style)
    width = button.sizeHint().width()
    button.setToolButtonStyle(old)
    return width
