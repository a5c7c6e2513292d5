"""Text that must never widen the window: a label that elides to the room it gets, and the size policy
that keeps a word-wrapped message from asking for the width of its longest line.

A QLabel's minimum width is its whole text unless it wraps; in a status bar or a toolbar row that
minimum becomes the window's, and the window grows itself past the screen. These widgets keep a small
minimum and show the full text in a tooltip when it does not fit.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFontMetrics, QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

# Enough for a word and the ellipsis; a label asks for no more than this as its minimum.
MIN_ELIDED_PX = 48


class ElidedLabel(QLabel):
    """One line, elided (in the middle for paths, at the end otherwise) to the width it is given."""

    def __init__(
        self,
        text: str = "",
        parent: QWidget | None = None,
        mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
        max_hint_px: int = 0,
    ) -> None:
        """`max_hint_px`: cap on the preferred width (0: the whole text), so one long text does not
        take the room of its neighbours in a row."""
        super().__init__(parent)
        self._full = ""
        self._mode = mode
        self._max_hint = max_hint_px
        self._own_tip = ""
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = text or ""
        super().setText(self._full)
        self.updateGeometry()
        self._update_tip()
        self.update()

    def text(self) -> str:
        return self._full

    def setToolTip(self, tip: str) -> None:
        self._own_tip = tip or ""
        self._update_tip()

    def is_elided(self) -> bool:
        return QFontMetrics(self.font()).horizontalAdvance(self._full) > self.contentsRect().width()

    def _update_tip(self) -> None:
        tip = self._own_tip
        if self.is_elided() and self._full not in tip:
            tip = f"{self._full}\n\n{tip}" if tip else self._full
        super().setToolTip(tip)

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        if self._max_hint:
            hint.setWidth(min(hint.width(), self._max_hint))
        return hint

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        margins = self.contentsMargins()
        room = MIN_ELIDED_PX + margins.left() + margins.right() + 2 * self.margin()
        return QSize(min(hint.width(), room), hint.height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_tip()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = self.contentsRect().adjusted(self.margin(), 0, -self.margin(), 0)
        metrics = QFontMetrics(self.font())
        shown = metrics.elidedText(self._full, self._mode, max(0, rect.width()))
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect, int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), shown)


def wrapping(label: QLabel) -> QLabel:
    """A multi-line message: wraps at any width, and its minimum width does not come from its text (a
    long unbroken word, a path or a URL, is broken anywhere rather than widening the window)."""
    label.setWordWrap(True)
    policy = label.sizePolicy()
    policy.setHorizontalPolicy(QSizePolicy.Policy.Ignored)
    policy.setHeightForWidth(True)
    # The Ignored policy alone frees the width; an explicit minimum width would make layouts size the
    # label's height for that width (a form row a hundred lines tall).
    label.setSizePolicy(policy)
    return label
