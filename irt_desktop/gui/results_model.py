"""The search results as a Qt list model, and the delegate that paints each as a thumbnail card.

The model holds the library's SearchHit objects as they are; thumbnails are asked for only when a row is
painted, so a QListView over thousands of hits stays cheap (only visible rows cost anything).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from irt_desktop.gui import formatting
from irt_desktop.gui.thumbnails import ThumbnailLoader

if TYPE_CHECKING:
    from irt_desktop.library.records import SearchHit

HitRole = Qt.ItemDataRole.UserRole + 1
PathRole = Qt.ItemDataRole.UserRole + 2
ScoreRole = Qt.ItemDataRole.UserRole + 3
ImageIdRole = Qt.ItemDataRole.UserRole + 4
DateRole = Qt.ItemDataRole.UserRole + 5
ThumbnailRole = Qt.ItemDataRole.UserRole + 6


def hit_path(hit: SearchHit) -> str:
    return str(hit.path)


class ResultsModel(QAbstractListModel):
    def __init__(self, thumbnails: ThumbnailLoader, parent=None) -> None:
        super().__init__(parent)
        self._hits: list[SearchHit] = []
        self._rows_by_path: dict[str, list[int]] = {}
        self.thumbnails = thumbnails
        thumbnails.ready.connect(self._on_thumbnail)

    def set_hits(self, hits: list[SearchHit]) -> None:
        self.beginResetModel()
        self._hits = list(hits)
        self._rows_by_path = {}
        for row, hit in enumerate(self._hits):
            self._rows_by_path.setdefault(hit_path(hit), []).append(row)
        self.endResetModel()

    def hits(self) -> list[SearchHit]:
        return list(self._hits)

    def hit(self, row: int) -> SearchHit:
        return self._hits[row]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._hits)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._hits):
            return None
        hit = self._hits[index.row()]
        path = hit_path(hit)
        if role == Qt.ItemDataRole.DisplayRole:
            return Path(path).name
        if role == Qt.ItemDataRole.ToolTipRole:
            taken = formatting.date(hit.taken)
            return (
                f"{path}\nsimilarity {formatting.score(hit.score)}"
                f"\n{formatting.dimensions(hit.width, hit.height)}, "
                f"{formatting.size(hit.size)}" + (f"\ntaken {taken}" if taken else "")
            )
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{Path(path).name}, similarity {hit.score:.2f}"
        if role == HitRole:
            return hit
        if role == PathRole:
            return path
        if role == ScoreRole:
            return float(hit.score)
        if role == ImageIdRole:
            return int(hit.image_id)
        if role == DateRole:
            return hit.taken
        if role == ThumbnailRole:
            return self.thumbnails.pixmap(path)
        return None

    def _on_thumbnail(self, path: str) -> None:
        for row in self._rows_by_path.get(path, ()):
            index = self.index(row)
            self.dataChanged.emit(index, index, [ThumbnailRole])


class ResultDelegate(QStyledItemDelegate):
    """A card: the thumbnail fitted in a square, then the file name, then similarity and date."""

    PADDING = 6

    def __init__(self, thumb_size: int = 160, parent=None) -> None:
        super().__init__(parent)
        self.thumb_size = thumb_size

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:
        line = QFontMetrics(option.font).height()
        return QSize(self.thumb_size + 2 * self.PADDING, self.thumb_size + 2 * line + 3 * self.PADDING)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        painter.save()
        palette = option.palette
        rect = option.rect.adjusted(2, 2, -2, -2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        focused = bool(option.state & QStyle.StateFlag.State_HasFocus)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if selected:
            fill = QColor(palette.color(QPalette.ColorRole.Highlight))
            fill.setAlpha(60)
            painter.setBrush(fill)
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 2))
        else:
            painter.setBrush(palette.color(QPalette.ColorRole.AlternateBase))
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.drawRoundedRect(rect, 6, 6)
        if focused and not selected:
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 1, Qt.PenStyle.DashLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(2, 2, -2, -2), 5, 5)

        p = self.PADDING
        thumb_rect = QRect(rect.left() + p - 2, rect.top() + p - 2, self.thumb_size, self.thumb_size)
        pixmap = index.data(ThumbnailRole)
        if pixmap is not None and not pixmap.isNull():
            scaled = pixmap.size().scaled(thumb_rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, scaled.width(), scaled.height())
            target.moveCenter(thumb_rect.center())
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawPixmap(target, pixmap)
        else:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.Mid).lighter(115))
            painter.drawRoundedRect(thumb_rect.adjusted(8, 8, -8, -8), 4, 4)

        text_color = palette.color(QPalette.ColorRole.Text)
        fm = QFontMetrics(option.font)
        line = fm.height()
        y = thumb_rect.bottom() + p
        name_rect = QRect(rect.left() + p, y, rect.width() - 2 * p, line)
        painter.setPen(text_color)
        painter.drawText(
            name_rect,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            fm.elidedText(
                index.data(Qt.ItemDataRole.DisplayRole) or "", Qt.TextElideMode.ElideMiddle, name_rect.width()
            ),
        )
        meta_rect = QRect(name_rect.left(), y + line, name_rect.width(), line)
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, option.font.pointSizeF() * 0.9))
        painter.setFont(small)
        score = index.data(ScoreRole)
        painter.setPen(palette.color(QPalette.ColorRole.Link))
        score_text = formatting.score(score) if score is not None else ""
        painter.drawText(meta_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, score_text)
        date_text = formatting.date(index.data(DateRole))
        if date_text:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(
                meta_rect,
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                date_text.split(" ")[0],
            )
        painter.restore()
