"""The lightbox's photo: drawn as the view model's Zoom says (gui.lightbox_model); the wheel zooms about
the pointer, a drag pans, a double-click toggles fit and 100 %."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPixmap, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from irt_desktop.gui.lightbox_model import LightboxModel

BACKDROP = QColor(30, 30, 30)


class PhotoCanvas(QWidget):
    """Paints the photo as the model's Zoom says; wheel zooms about the pointer, drag pans,
    double-click toggles fit and 100 %."""

    zoom_changed = Signal()

    def __init__(self, model: LightboxModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.pixmap: QPixmap | None = None
        # Size of the photo in the pixels the zoom counts in (the decoded image's).
        self.image_size: tuple[float, float] = (0.0, 0.0)
        self.message = ""
        self._drag_from: QPointF | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 180)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAccessibleName("Photo")

    def set_pixmap(self, pixmap: QPixmap | None, message: str = "") -> None:
        self.pixmap = pixmap
        self.message = message
        self.image_size = (float(pixmap.width()), float(pixmap.height())) if pixmap is not None else (0, 0)
        self.update()
        self.zoom_changed.emit()

    def view_size(self) -> tuple[float, float]:
        return (float(self.width()), float(self.height()))

    def sizeHint(self) -> QSize:
        return QSize(800, 600)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        # A neutral dark surround in either theme, as photo viewers have: it does not tint the photo.
        painter.fillRect(self.rect(), BACKDROP)
        if self.pixmap is None:
            painter.setPen(QColor("#b0b0b0"))
            painter.drawText(
                self.rect().adjusted(16, 16, -16, -16),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.message or "Loading…",
            )
            return
        x, y, w, h = self.model.zoom.target_rect(self.image_size, self.view_size())
        painter.setRenderHint(
            QPainter.RenderHint.SmoothPixmapTransform,
            self.model.zoom.effective(self.image_size, self.view_size()) < 2,
        )
        painter.drawPixmap(QRectF(x, y, w, h), self.pixmap, QRectF(self.pixmap.rect()))

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.pixmap is None:
            return
        anchor = (event.position().x(), event.position().y())
        if event.angleDelta().y() > 0:
            self.model.zoom.zoom_in(self.image_size, self.view_size(), anchor)
        elif event.angleDelta().y() < 0:
            self.model.zoom.zoom_out(self.image_size, self.view_size(), anchor)
        self._changed()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.model.zoom.can_pan(
            self.image_size, self.view_size()
        ):
            self._drag_from = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_from is not None:
            delta = event.position() - self._drag_from
            self._drag_from = event.position()
            self.model.zoom.pan(delta.x(), delta.y(), self.image_size, self.view_size())
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag_from = None
        self.unsetCursor()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        zoom = self.model.zoom
        if zoom.fit:
            zoom.set_scale(
                1.0, self.image_size, self.view_size(), (event.position().x(), event.position().y())
            )
        else:
            zoom.reset()
        self._changed()

    def resizeEvent(self, event) -> None:
        self.model.zoom.clamp(self.image_size, self.view_size())
        super().resizeEvent(event)
        self.zoom_changed.emit()

    def _changed(self) -> None:
        self.update()
        self.zoom_changed.emit()
