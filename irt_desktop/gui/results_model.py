"""The search results as a Qt list model, and the delegate that paints each as a thumbnail card.

The model holds the library's SearchHit objects as they are; thumbnails are asked for only when a row is
painted, so a QListView over thousands of hits stays cheap (only visible rows cost anything).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractListModel,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QUrl,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPixmap
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


def file_mime(paths: list) -> QMimeData:
    """What other applications take from a drag or a copy of photos: file URLs (file managers, mail,
    editors) and their paths as text (terminals, text fields)."""
    mime = QMimeData()
    unique = list(dict.fromkeys(str(p) for p in paths))
    mime.setUrls([QUrl.fromLocalFile(p) for p in unique])
    mime.setText("\n".join(unique))
    return mime


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

    def remove_ids(self, image_ids: set[int]) -> int:
        """Photos that left the library (or the results' folder): their tiles go; how many went."""
        keep = [h for h in self._hits if h.image_id not in image_ids]
        removed = len(self._hits) - len(keep)
        if removed:
            self.set_hits(keep)
        return removed

    def update_hits(self, changed: dict[int, SearchHit]) -> None:
        """Shown photos whose row changed (moved, renamed, edited): their tiles now say so."""
        for row, hit in enumerate(self._hits):
            new = changed.get(hit.image_id)
            if new is not None:
                self._hits[row] = new
        self.set_hits(self._hits)

    def rows_of(self, image_ids: set[int]) -> list[int]:
        return [row for row, h in enumerate(self._hits) if h.image_id in image_ids]

    # --- drag out ---------------------------------------------------------------------------------------
    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list", "text/plain"]

    def supportedDragActions(self) -> Qt.DropAction:
        # Never Move: a file manager that takes a move deletes the photo from its folder behind the
        # library's back. Moving is the batch action's job (asks first, can be undone).
        return Qt.DropAction.CopyAction | Qt.DropAction.LinkAction

    def mimeData(self, indexes) -> QMimeData:
        return file_mime([self._hits[i.row()].path for i in sorted(indexes, key=lambda i: i.row())])

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
            return f"{Path(path).name}, similarity {formatting.score(hit.score)}"
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
    """A card: the thumbnail fitted in a square, then the file name, then similarity and date. The view
    sets `cell_width` so the cards fill its width (no gutters); the square grows with it."""

    PADDING = 6

    # Thumbnails scaled to the card, kept: a smooth rescale of every visible thumbnail at every paint
    # was most of a frame while scrolling (about 10 ms a frame with 5,000 results).
    SCALED_KEEP = 600

    def __init__(self, thumb_size: int = 160, parent=None) -> None:
        super().__init__(parent)
        self.thumb_size = thumb_size
        self.cell_width = 0
        self._scaled: OrderedDict[tuple[int, int, int, float], QPixmap] = OrderedDict()

    def scaled(self, pixmap: QPixmap, box: QSize, ratio: float) -> QPixmap:
        """`pixmap` fitted in `box` (logical pixels) at the device's pixel ratio, smoothly, once."""
        key = (pixmap.cacheKey(), box.width(), box.height(), ratio)
        found = self._scaled.get(key)
        if found is not None:
            self._scaled.move_to_end(key)
            return found
        device = QSize(max(1, round(box.width() * ratio)), max(1, round(box.height() * ratio)))
        found = pixmap.scaled(
            device, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        found.setDevicePixelRatio(ratio)
        self._scaled[key] = found
        while len(self._scaled) > self.SCALED_KEEP:
            self._scaled.popitem(last=False)
        return found

    def card_width(self) -> int:
        return max(self.cell_width, self.thumb_size + 2 * self.PADDING)

    def min_width(self) -> int:
        return self.thumb_size + 2 * self.PADDING

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:
        line = QFontMetrics(option.font).height()
        side = self.card_width() - 2 * self.PADDING
        return QSize(self.card_width(), side + 2 * line + 4 * self.PADDING)

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
        side = max(16, rect.width() - 2 * p + 4)
        thumb_rect = QRect(rect.left() + p - 2, rect.top() + p - 2, side, side)
        pixmap = index.data(ThumbnailRole)
        if pixmap is not None and not pixmap.isNull():
            fitted = self.scaled(pixmap, thumb_rect.size(), painter.device().devicePixelRatioF())
            size = fitted.deviceIndependentSize().toSize()
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(thumb_rect.center())
            painter.drawPixmap(target.topLeft(), fitted)
        else:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.Mid).lighter(115))
            painter.drawRoundedRect(thumb_rect.adjusted(8, 8, -8, -8), 4, 4)

        text_color = palette.color(QPalette.ColorRole.Text)
        fm = QFontMetrics(option.font)
        line = fm.height()
        y = thumb_rect.bottom() + p
        # Drawn on the UI font's baseline rather than centred in a one-line box: a fallback font (CJK
        # names) sits lower and draws its underscore below the UI font's descent, which a box of one
        # line clips away ("写真_215.jpg" read "写真 215.jpg"); on a shared baseline nothing is clipped
        # and Latin and CJK names line up.
        name_rect = QRect(rect.left() + p, y, rect.width() - 2 * p, line)
        painter.setPen(text_color)
        name = index.data(Qt.ItemDataRole.DisplayRole) or ""
        painter.drawText(
            QPoint(name_rect.left(), name_rect.top() + fm.ascent()),
            fm.elidedText(name, Qt.TextElideMode.ElideMiddle, name_rect.width()),
        )
        meta_rect = QRect(name_rect.left(), y + line + 2, name_rect.width(), line + p)
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, option.font.pointSizeF() * 0.9))
        painter.setFont(small)
        score = index.data(ScoreRole)
        painter.setPen(palette.color(QPalette.ColorRole.Link))
        score_text = formatting.score(score) if score is not None else ""
        top_left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
        painter.drawText(meta_rect, top_left, score_text)
        date_text = formatting.date(index.data(DateRole))
        if date_text:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(
                meta_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop, date_text.split(" ")[0]
            )
        painter.restore()
