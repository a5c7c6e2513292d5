"""The query area: takes an image (drop, paste, file dialog), shows it, and lets the user drag a rectangle
on it to search by that region only (as ROxford queries are cropped to their box).

The preview is decoded by the window's TaskRunner; the crop is reported in the full-size upright image's
pixels, which is what Library.search(crop=...) expects, whatever size the preview is drawn at.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from irt_desktop.gui.query import Crop, read_mime
from irt_desktop.gui.tasks import Task, TaskRunner
from irt_desktop.gui.thumbnails import decode_scaled

PREVIEW_MAX_SIDE = 1024
MIN_REGION_PX = 8
HANDLE_PX = 8


def _decode_preview(source: Path | bytes) -> tuple[QImage, tuple[int, int]]:
    return decode_scaled(str(source) if isinstance(source, Path) else source, PREVIEW_MAX_SIDE)


class QueryView(QWidget):
    """Shows the query image; drag on it to choose a region, drag inside the region to move it, drag a
    corner to resize; arrow keys move it, Shift+arrows resize it, Escape or Delete clears it."""

    region_changed = Signal(object)  # crop tuple or None, on release
    files_dropped = Signal(list)  # image files
    image_dropped = Signal(QImage)  # decoded image data (browser drag)
    folders_dropped = Signal(list)
    remote_dropped = Signal(list)
    preview_failed = Signal(str)
    preview_ready = Signal()  # the picture is shown (a file decoded, or image data given)

    def __init__(self, parent: QWidget | None = None, runner: TaskRunner | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(220, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Query image")
        self.setAccessibleDescription(
            "Drop a photo here, paste one, or open one; drag a rectangle to search by a region"
        )
        self._runner = runner if runner is not None else TaskRunner(parent=self)
        # The preview being decoded; a newer image abandons it, so a slow decode never replaces a later one.
        self._preview: Task | None = None
        self._pixmap: QPixmap | None = None
        self._full_size: tuple[int, int] | None = None
        self._loading = False
        self._error = ""
        self._drag_hover = False
        # Region in full-image pixels as floats; the on-screen rectangle is derived from it.
        self._region: QRectF | None = None
        self._drag_mode: str | None = None  # 'new' | 'move' | 'resize'
        self._drag_anchor = QPointF()
        self._drag_start_region: QRectF | None = None
        self._drag_corner = 0

    # --- content --------------------------------------------------------------------------------------
    def load(self, source: Path | bytes, crop: Crop | None = None) -> None:
        """Show `source` (decoded off the GUI thread); `crop` pre-selects a region."""
        self._forget_preview()
        self._loading = True
        self._error = ""
        self._pixmap = None
        self._full_size = None
        self._region = QRectF(crop[0], crop[1], crop[2] - crop[0], crop[3] - crop[1]) if crop else None
        self.update()
        self._preview = self._runner.run(
            lambda: _decode_preview(source), self._on_preview, self._on_preview_failed, name="preview"
        )

    def show_image(self, image: QImage) -> None:
        """Already decoded data (clipboard, browser): shown at once, region cleared."""
        self._forget_preview()
        self._loading = False
        self._error = ""
        self._full_size = (image.width(), image.height())
        preview = image
        if max(image.width(), image.height()) > PREVIEW_MAX_SIDE:
            preview = image.scaled(
                PREVIEW_MAX_SIDE,
                PREVIEW_MAX_SIDE,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        self._pixmap = QPixmap.fromImage(preview)
        self._region = None
        self.update()
        self.preview_ready.emit()

    def clear(self) -> None:
        self._forget_preview()
        self._pixmap = None
        self._full_size = None
        self._region = None
        self._loading = False
        self._error = ""
        self.update()

    def _forget_preview(self) -> None:
        if self._preview is not None:
            self._preview.abandon()
            self._preview = None

    def _on_preview(self, answer: tuple[QImage, tuple[int, int]]) -> None:
        image, full = answer
        self._preview = None
        self._loading = False
        self._pixmap = QPixmap.fromImage(image)
        self._full_size = (int(full[0]), int(full[1]))
        if self._region is not None:
            self._region = self._clamped(self._region)
        self.update()
        self.preview_ready.emit()

    def _on_preview_failed(self, exc: BaseException) -> None:
        self._preview = None
        self._loading = False
        self._error = getattr(exc, "reason", None) or str(exc) or "cannot read this image"
        self.preview_failed.emit(self._error)
        self.update()

    def thumbnail(self, side: int = 48) -> QPixmap | None:
        """The query as a small picture (its region only, when one is chosen): for the history menu."""
        if self._pixmap is None or self._full_size is None:
            return None
        pixmap = self._pixmap
        if self._region is not None:
            s = pixmap.width() / self._full_size[0]
            r = self._region.normalized()
            pixmap = pixmap.copy(
                QRect(
                    round(r.left() * s),
                    round(r.top() * s),
                    max(1, round(r.width() * s)),
                    max(1, round(r.height() * s)),
                )
            )
        return pixmap.scaled(
            side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )

    @property
    def pixmap(self) -> QPixmap | None:
        return self._pixmap

    @property
    def has_image(self) -> bool:
        return self._pixmap is not None

    @property
    def full_size(self) -> tuple[int, int] | None:
        return self._full_size

    def region(self) -> Crop | None:
        if self._region is None or self._full_size is None:
            return None
        r = self._region.normalized()
        return (round(r.left()), round(r.top()), round(r.right()), round(r.bottom()))

    def set_region(self, crop: Crop | None, notify: bool = True) -> None:
        if crop is None:
            self._region = None
        else:
            self._region = self._clamped(QRectF(crop[0], crop[1], crop[2] - crop[0], crop[3] - crop[1]))
        self.update()
        if notify:
            self.region_changed.emit(self.region())

    # --- geometry ----------------------------------------------------------------------------------------
    def _image_rect(self) -> QRectF:
        """Where the image is drawn in widget coordinates (fitted, centred)."""
        if self._full_size is None:
            return QRectF()
        area = QRectF(self.rect()).adjusted(8, 8, -8, -8)
        w, h = self._full_size
        scale = min(area.width() / w, area.height() / h)
        size = QSize(max(1, round(w * scale)), max(1, round(h * scale)))
        rect = QRectF(0, 0, size.width(), size.height())
        rect.moveCenter(area.center())
        return rect

    def _scale(self) -> float:
        rect = self._image_rect()
        return rect.width() / self._full_size[0] if self._full_size else 1.0

    def _to_image(self, p: QPointF) -> QPointF:
        rect = self._image_rect()
        s = self._scale()
        x = min(max((p.x() - rect.left()) / s, 0.0), float(self._full_size[0]))
        y = min(max((p.y() - rect.top()) / s, 0.0), float(self._full_size[1]))
        return QPointF(x, y)

    def _to_widget(self, r: QRectF) -> QRectF:
        rect = self._image_rect()
        s = self._scale()
        return QRectF(rect.left() + r.left() * s, rect.top() + r.top() * s, r.width() * s, r.height() * s)

    def _clamped(self, r: QRectF) -> QRectF:
        if self._full_size is None:
            return r
        w, h = self._full_size
        r = r.normalized()
        return QRectF(
            QPointF(max(0.0, r.left()), max(0.0, r.top())), QPointF(min(w, r.right()), min(h, r.bottom()))
        )

    def _corner_at(self, pos: QPointF) -> int:
        """1..4 for the region corner under the pointer (TL, TR, BR, BL), 0 for none."""
        if self._region is None:
            return 0
        r = self._to_widget(self._region.normalized())
        corners = [r.topLeft(), r.topRight(), r.bottomRight(), r.bottomLeft()]
        for i, c in enumerate(corners, 1):
            if abs(c.x() - pos.x()) <= HANDLE_PX and abs(c.y() - pos.y()) <= HANDLE_PX:
                return i
        return 0

    # --- mouse and keys ------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._full_size is None:
            return super().mousePressEvent(event)
        pos = event.position()
        corner = self._corner_at(pos)
        self._drag_start_region = QRectF(self._region.normalized()) if self._region is not None else None
        self._drag_anchor = self._to_image(pos)
        if corner:
            self._drag_mode, self._drag_corner = "resize", corner
        elif self._region is not None and self._to_widget(self._region.normalized()).contains(pos):
            self._drag_mode = "move"
        elif self._image_rect().contains(pos):
            self._drag_mode = "new"
            self._region = QRectF(self._drag_anchor, self._drag_anchor)
        else:
            self._drag_mode = None
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if self._drag_mode is None:
            corner = self._corner_at(pos)
            if corner in (1, 3):
                self.setCursor(Qt.CursorShape.SizeFDiagCursor)
            elif corner in (2, 4):
                self.setCursor(Qt.CursorShape.SizeBDiagCursor)
            elif self._region is not None and self._to_widget(self._region.normalized()).contains(pos):
                self.setCursor(Qt.CursorShape.SizeAllCursor)
            elif self._image_rect().contains(pos):
                self.setCursor(Qt.CursorShape.CrossCursor)
            else:
                self.unsetCursor()
            return
        point = self._to_image(pos)
        if self._drag_mode == "new":
            self._region = QRectF(self._drag_anchor, point)
        elif self._drag_mode == "move" and self._drag_start_region is not None:
            self._region = self._moved(self._drag_start_region, point - self._drag_anchor)
        elif self._drag_mode == "resize" and self._drag_start_region is not None:
            r = QRectF(self._drag_start_region)
            setters = {1: r.setTopLeft, 2: r.setTopRight, 3: r.setBottomRight, 4: r.setBottomLeft}
            setters[self._drag_corner](point)
            self._region = r
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._drag_mode is None:
            return super().mouseReleaseEvent(event)
        self._drag_mode = None
        if self._region is not None:
            r = self._region.normalized()
            if r.width() < MIN_REGION_PX or r.height() < MIN_REGION_PX:
                # A click, not a drag: a click means "whole image" again.
                self._region = None
            else:
                self._region = self._clamped(r)
        self.update()
        self.region_changed.emit(self.region())

    def _moved(self, r: QRectF, delta: QPointF) -> QRectF:
        w, h = self._full_size
        dx = min(max(delta.x(), -r.left()), w - r.right())
        dy = min(max(delta.y(), -r.top()), h - r.bottom())
        return r.translated(dx, dy)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Escape, Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self._region is not None:
            self.set_region(None)
            return
        arrows = {
            Qt.Key.Key_Left: (-1, 0),
            Qt.Key.Key_Right: (1, 0),
            Qt.Key.Key_Up: (0, -1),
            Qt.Key.Key_Down: (0, 1),
        }
        if key in arrows and self._full_size is not None:
            step = max(1.0, min(self._full_size) / 50)
            dx, dy = (v * step for v in arrows[key])
            if self._region is None:
                # Keyboard users start from a centred half-size region.
                w, h = self._full_size
                self._region = QRectF(w / 4, h / 4, w / 2, h / 2)
            elif event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                r = self._region.normalized()
                r.setRight(max(r.left() + MIN_REGION_PX, r.right() + dx))
                r.setBottom(max(r.top() + MIN_REGION_PX, r.bottom() + dy))
                self._region = self._clamped(r)
            else:
                self._region = self._moved(self._region.normalized(), QPointF(dx, dy))
            self.update()
            self.region_changed.emit(self.region())
            return
        super().keyPressEvent(event)

    # --- drag and drop -----------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        content = read_mime(event.mimeData())
        if content.has_query or content.folders or content.remote_urls:
            self._drag_hover = True
            self.update()
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        self._drag_hover = False
        self.update()

    def dropEvent(self, event: QDropEvent) -> None:
        self._drag_hover = False
        self.update()
        content = read_mime(event.mimeData())
        if content.image_files:
            self.files_dropped.emit(content.image_files)
        elif content.image is not None:
            self.image_dropped.emit(content.image)
        elif content.folders:
            self.folders_dropped.emit(content.folders)
        elif content.remote_urls:
            self.remote_dropped.emit(content.remote_urls)
        else:
            event.ignore()
            return
        event.acceptProposedAction()

    # --- painting ------------------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        frame = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        highlight = palette.color(QPalette.ColorRole.Highlight)
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        pen = QPen(
            highlight if (self._drag_hover or self.hasFocus()) else palette.color(QPalette.ColorRole.Mid)
        )
        pen.setWidth(2 if self._drag_hover or self.hasFocus() else 1)
        if self._pixmap is None:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawRoundedRect(frame, 8, 8)

        if self._pixmap is None:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            if self._loading:
                text = "Loading…"
            elif self._error:
                text = f"Cannot show this image:\n{self._error}"
            else:
                text = "Drop a photo here\nor paste one (Ctrl+V)\nor open one (Ctrl+O)"
            painter.drawText(
                frame.adjusted(12, 12, -12, -12),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                text,
            )
            return

        target = self._image_rect()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(target, self._pixmap, QRectF(self._pixmap.rect()))
        if self._region is None:
            return
        r = self._to_widget(self._region.normalized())
        # Dim everything outside the region so what will be searched stands out.
        outside = QPainterPath()
        outside.addRect(target)
        inner = QPainterPath()
        inner.addRect(r)
        painter.fillPath(outside.subtracted(inner), QColor(0, 0, 0, 110))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor("#ffffff"), 3))
        painter.drawRect(r)
        painter.setPen(QPen(highlight, 1.5, Qt.PenStyle.DashLine))
        painter.drawRect(r)
        painter.setPen(QPen(QColor("#ffffff"), 1))
        painter.setBrush(highlight)
        for c in (r.topLeft(), r.topRight(), r.bottomRight(), r.bottomLeft()):
            painter.drawRect(QRectF(c.x() - HANDLE_PX / 2, c.y() - HANDLE_PX / 2, HANDLE_PX, HANDLE_PX))

    def sizeHint(self) -> QSize:
        return QSize(360, 260)

    # Where an image pixel is on screen: how tests and scripted screenshots aim the mouse.
    def widget_point(self, x: float, y: float) -> QPoint:
        rect = self._image_rect()
        s = self._scale()
        return QPoint(round(rect.left() + x * s), round(rect.top() + y * s))

    def widget_region(self) -> QRect | None:
        return None if self._region is None else self._to_widget(self._region.normalized()).toRect()
