"""The lightbox: one photo of the results at full resolution, with the results' order to walk through
(arrow keys), zoom and pan (wheel, drag, + - 0 1), its details and the result actions.

What is shown, zoom and navigation live in gui.lightbox_model; photos are decoded on the window's
TaskRunner (never on the GUI thread), the neighbours ahead of time so arrowing through feels immediate.
Actions that change the library (trash) are asked of the search view, which asks first and can undo.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import (
    QAction,
    QImage,
    QKeySequence,
    QPixmap,
)
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import formatting, icons, result_actions
from irt_desktop.gui.lightbox_model import MAX_SIDE, LightboxModel, PhotoDetails, detail_rows, read_details
from irt_desktop.gui.photo_canvas import PhotoCanvas
from irt_desktop.gui.tasks import Task, TaskRunner
from irt_desktop.gui.thumbnails import decode_scaled

CACHE_ITEMS = 4


@dataclass(frozen=True)
class QueryItem:
    """The query shown on its own (it may be image data that has no file)."""

    path: Path
    image: QImage | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None
    taken: Any = None
    score: float | None = None
    image_id: int | None = None


def _decode(path: str) -> tuple[QImage, tuple[int, int], PhotoDetails]:
    image, full = decode_scaled(path, MAX_SIDE)
    return image, full, read_details(path)


class Lightbox(QDialog):
    """`items`: the results (SearchHit) or a single QueryItem; `index`: the one to show first."""

    more_like_this = Signal(object)  # SearchHit
    trash_requested = Signal(list)  # [SearchHit]
    status_message = Signal(str)

    def __init__(
        self, items: list, index: int, runner: TaskRunner, parent: QWidget | None = None, *, title: str = ""
    ) -> None:
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window, True)
        self.setObjectName("lightbox")
        self.setAccessibleName("Photo viewer")
        self.model = LightboxModel(items, index)
        self.runner = runner
        self.is_query = bool(items) and isinstance(items[0], QueryItem)
        self._title = title
        self._cache: OrderedDict[str, tuple[QPixmap | QImage, PhotoDetails]] = OrderedDict()
        self._tasks: dict[str, Task | None] = {}
        self.details: PhotoDetails | None = None

        self.canvas = PhotoCanvas(self.model)
        self.canvas.zoom_changed.connect(self._update_zoom_label)
        self.prev_button = self._button("back", "Previous photo (Left)", lambda: self.go(-1))
        self.next_button = self._button("forward", "Next photo (Right)", lambda: self.go(1))
        self.position_label = QLabel()
        self.position_label.setObjectName("hint")
        self.name_label = QLabel()
        self.name_label.setTextFormat(Qt.TextFormat.PlainText)
        self.name_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.zoom_out_button = self._button("zoom-out", "Zoom out (-)", self.zoom_out)
        self.zoom_label = QLabel()
        self.zoom_label.setMinimumWidth(70)
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.zoom_in_button = self._button("zoom-in", "Zoom in (+)", self.zoom_in)
        self.fit_button = self._button("", "Fit the photo in the window (0)", self.fit, text="Fit")
        self.actual_button = self._button("", "Actual pixels, 100 % (1)", self.actual_size, text="1:1")

        top = QHBoxLayout()
        top.setContentsMargins(8, 6, 8, 6)
        for w in (self.prev_button, self.position_label, self.next_button):
            top.addWidget(w)
        top.addSpacing(8)
        top.addWidget(self.name_label, 1)
        for w in (
            self.zoom_out_button,
            self.zoom_label,
            self.zoom_in_button,
            self.fit_button,
            self.actual_button,
        ):
            top.addWidget(w)

        self.details_form = QFormLayout()
        self.details_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        details_box = QWidget()
        details_layout = QVBoxLayout(details_box)
        heading = QLabel("Details")
        heading.setObjectName("paneTitle")
        details_layout.addWidget(heading)
        details_layout.addLayout(self.details_form)
        details_layout.addStretch(1)
        self.details_area = QScrollArea()
        self.details_area.setWidget(details_box)
        self.details_area.setWidgetResizable(True)
        self.details_area.setMinimumWidth(220)
        self.details_area.setMaximumWidth(320)
        self.details_area.setFrameShape(QScrollArea.Shape.NoFrame)
        # Arrow keys walk the photos; the details never take them.
        self.details_area.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        self.similar_action = self._action("&More like this", "similar", "Ctrl+M", self._more_like_this)
        self.open_action = self._action("Open in &other app", "open", "Ctrl+Return", self._open_external)
        self.reveal_action = self._action("Show in &folder", "reveal", "Ctrl+Shift+R", self._reveal)
        self.copy_action = self._action("&Copy path", "copy", QKeySequence.StandardKey.Copy, self._copy)
        self.trash_action = self._action("Move to &trash…", "trash", "Delete", self._trash)
        actions = QHBoxLayout()
        actions.setContentsMargins(8, 4, 8, 8)
        for a in (
            self.similar_action,
            self.open_action,
            self.reveal_action,
            self.copy_action,
            self.trash_action,
        ):
            button = QToolButton()
            button.setDefaultAction(a)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            actions.addWidget(button)
        actions.addStretch(1)
        self.close_button = QToolButton()
        self.close_button.setText("Close")
        self.close_button.setToolTip("Back to the results (Esc)")
        self.close_button.clicked.connect(self.close)
        actions.addWidget(self.close_button)
        self.notice = QLabel()
        self.notice.setObjectName("hint")
        self.notice.setWordWrap(True)
        self.notice.hide()

        middle = QHBoxLayout()
        middle.setContentsMargins(0, 0, 0, 0)
        middle.addWidget(self.canvas, 1)
        middle.addWidget(self.details_area)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addLayout(middle, 1)
        layout.addWidget(self.notice)
        layout.addLayout(actions)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        if self.is_query:
            for a in (self.similar_action, self.trash_action):
                a.setEnabled(False)
        self.show_current()

    def _button(self, icon: str, tip: str, slot, text: str = "") -> QToolButton:
        button = QToolButton()
        if text:
            button.setText(text)
        else:
            button.setIcon(icons.icon(icon))
        button.setToolTip(tip)
        button.setAccessibleName(tip.split(" (")[0])
        button.setAutoRaise(True)
        button.clicked.connect(slot)
        return button

    def _action(self, text: str, icon: str, shortcut, slot) -> QAction:
        action = QAction(icons.icon(icon), text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    # --- showing ------------------------------------------------------------------------------------------
    @property
    def current(self) -> Any | None:
        return self.model.current

    def show_current(self) -> None:
        item = self.model.current
        self.prev_button.setEnabled(self.model.can_prev())
        self.next_button.setEnabled(self.model.can_next())
        self.position_label.setText("" if self.is_query else self.model.position_text())
        self.notice.hide()
        if item is None:
            self.canvas.set_pixmap(None, "No photos left in the results.")
            self.name_label.setText("")
            self._fill_details(None)
            return
        path = Path(item.path)
        self.name_label.setText(self._title or path.name)
        self.setWindowTitle(f"{self._title or path.name} — irt-desktop")
        if isinstance(item, QueryItem) and item.image is not None:
            self.details = PhotoDetails()
            self.canvas.set_pixmap(QPixmap.fromImage(item.image))
        else:
            self._load(str(path))
        self._fill_details(item)
        self._prefetch()

    def _load(self, key: str) -> None:
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            image, details = cached
            pixmap = image if isinstance(image, QPixmap) else QPixmap.fromImage(image)
            self._cache[key] = (pixmap, details)
            self.details = details
            self.canvas.set_pixmap(pixmap)
            return
        self.details = None
        self.canvas.set_pixmap(None, "Loading…")
        self._start(key)

    def _start(self, key: str) -> None:
        if key in self._tasks:
            return

        def done(answer: tuple[QImage, tuple[int, int], PhotoDetails]) -> None:
            self._tasks.pop(key, None)
            image, _full, details = answer
            self._remember(key, image, details)
            current = self.model.current
            if current is not None and str(current.path) == key:
                self.details = details
                self.canvas.set_pixmap(QPixmap.fromImage(image))
                self._fill_details(current)

        def failed(exc: BaseException) -> None:
            self._tasks.pop(key, None)
            current = self.model.current
            if current is not None and str(current.path) == key:
                reason = getattr(exc, "reason", None) or str(exc) or "cannot read this photo"
                self.canvas.set_pixmap(None, f"Cannot show {Path(key).name}: {reason}")

        self._tasks[key] = None  # taken; an answer that comes at once (inline runner) pops it again
        task = self.runner.run(lambda: _decode(key), done, failed, name="lightbox photo")
        if key in self._tasks:
            self._tasks[key] = task

    def _remember(self, key: str, image: QImage, details: PhotoDetails) -> None:
        self._cache[key] = (image, details)
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_ITEMS:
            self._cache.popitem(last=False)

    def _prefetch(self) -> None:
        for step in (1, -1):
            i = self.model.index + step
            if 0 <= i < len(self.model.items) and not isinstance(self.model.items[i], QueryItem):
                key = str(self.model.items[i].path)
                if key not in self._cache:
                    self._start(key)

    def _fill_details(self, item: Any | None) -> None:
        while self.details_form.rowCount():
            self.details_form.removeRow(0)
        if item is None:
            return
        for label, value in detail_rows(item, self.details, formatting):
            field = QLabel(value)
            field.setWordWrap(True)
            field.setTextFormat(Qt.TextFormat.PlainText)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            field.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            self.details_form.addRow(f"{label}:", field)

    def _update_zoom_label(self) -> None:
        has = self.canvas.pixmap is not None
        for b in (self.zoom_in_button, self.zoom_out_button, self.fit_button, self.actual_button):
            b.setEnabled(has)
        self.zoom_label.setText(
            self.model.zoom.label(self.canvas.image_size, self.canvas.view_size()) if has else ""
        )

    # --- navigation and zoom ------------------------------------------------------------------------------
    def go(self, step: int) -> None:
        if self.model.go(step):
            self.show_current()

    def zoom_in(self) -> None:
        self.model.zoom.zoom_in(self.canvas.image_size, self.canvas.view_size())
        self.canvas._changed()

    def zoom_out(self) -> None:
        self.model.zoom.zoom_out(self.canvas.image_size, self.canvas.view_size())
        self.canvas._changed()

    def fit(self) -> None:
        self.model.zoom.reset()
        self.canvas._changed()

    def actual_size(self) -> None:
        self.model.zoom.actual_size(self.canvas.image_size, self.canvas.view_size())
        self.canvas._changed()

    def keyPressEvent(self, event) -> None:
        key = event.key()
        steps = {
            Qt.Key.Key_Left: -1,
            Qt.Key.Key_Right: 1,
            Qt.Key.Key_PageUp: -1,
            Qt.Key.Key_PageDown: 1,
            Qt.Key.Key_Backspace: -1,
            Qt.Key.Key_Space: 1,
            Qt.Key.Key_Home: -len(self.model.items),
            Qt.Key.Key_End: len(self.model.items),
        }
        if key in steps and not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.go(steps[key])
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_in()
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.zoom_out()
        elif key == Qt.Key.Key_0:
            self.fit()
        elif key == Qt.Key.Key_1:
            self.actual_size()
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and self.model.zoom.can_pan(
            self.canvas.image_size, self.canvas.view_size()
        ):
            dy = 60 if key == Qt.Key.Key_Up else -60
            self.model.zoom.pan(0, dy, self.canvas.image_size, self.canvas.view_size())
            self.canvas.update()
        else:
            super().keyPressEvent(event)

    # --- actions ------------------------------------------------------------------------------------------
    def _more_like_this(self) -> None:
        item = self.model.current
        if item is not None and not self.is_query:
            self.more_like_this.emit(item)
            self.close()

    def _open_external(self) -> None:
        item = self.model.current
        if item is None:
            return
        if not result_actions.open_file(item.path):
            self.show_notice(result_actions.no_viewer_text(item.path))

    def _reveal(self) -> None:
        item = self.model.current
        if item is not None and not result_actions.reveal_in_file_manager(item.path):
            self.show_notice(f"No file manager could show {Path(item.path).parent}.")

    def _copy(self) -> None:
        item = self.model.current
        if item is not None:
            result_actions.copy_paths([item.path])
            self.show_notice(f"Copied the path of {Path(item.path).name}.")

    def _trash(self) -> None:
        item = self.model.current
        if item is not None and not self.is_query:
            self.trash_requested.emit([item])

    def show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))
        self.status_message.emit(text)

    def remove_ids(self, image_ids: set[int]) -> None:
        """Photos that left the results (trashed): the next one is shown."""
        self.model.remove_ids(set(image_ids))
        self.show_current()

    def closeEvent(self, event) -> None:
        for task in self._tasks.values():
            if task is not None:
                task.abandon()
        self._tasks.clear()
        self._cache.clear()
        super().closeEvent(event)
