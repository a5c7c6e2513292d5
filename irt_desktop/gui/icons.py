"""Icons drawn as SVG in resources/icons/ui, tinted at paint time with the current palette's text colour,
so they follow a switch between light and dark without rebuilding any widget.

Icon SVGs use the placeholder colour @COLOR@; status icons carry their own colours and are left alone.
"""

from __future__ import annotations

import functools

from PySide6.QtCore import QByteArray, QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QIconEngine, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

from irt_desktop.resources import data_path


@functools.cache
def _svg_text(name: str) -> str:
    return data_path("resources", "icons", "ui", f"{name}.svg").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=2048)
def _render(name: str, color: str, px: int) -> QPixmap:
    svg = _svg_text(name).replace("@COLOR@", color)
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    pixmap = QPixmap(px, px)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    renderer.render(painter, QRectF(0, 0, px, px))
    painter.end()
    return pixmap


def _color(mode: QIcon.Mode) -> str:
    palette = QGuiApplication.palette()
    if mode == QIcon.Mode.Disabled:
        return palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText).name()
    if mode == QIcon.Mode.Selected:
        return palette.color(QPalette.ColorRole.HighlightedText).name()
    return palette.color(QPalette.ColorRole.ButtonText).name()


class _TintedSvgEngine(QIconEngine):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return _render(self.name, _color(mode), max(1, min(size.width(), size.height())))

    def scaledPixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float) -> QPixmap:
        px = _render(self.name, _color(mode), max(1, round(min(size.width(), size.height()) * scale)))
        px = QPixmap(px)
        px.setDevicePixelRatio(scale)
        return px

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        scale = painter.device().devicePixelRatioF() if painter.device() else 1.0
        side = min(rect.width(), rect.height())
        px = _render(self.name, _color(mode), max(1, round(side * scale)))
        target = QRect(QPoint(0, 0), QSize(side, side))
        target.moveCenter(rect.center())
        painter.drawPixmap(target, px)

    def clone(self) -> QIconEngine:
        return _TintedSvgEngine(self.name)

    def key(self) -> str:
        return "irt-tinted-svg"

    def availableSizes(self, mode: QIcon.Mode = QIcon.Mode.Normal, state: QIcon.State = QIcon.State.Off):
        return [QSize(s, s) for s in (16, 20, 24, 32, 48, 64)]


def icon(name: str, color: QColor | str | None = None) -> QIcon:
    """The named UI icon, in the palette's text colour at paint time (or a fixed `color`)."""
    if name.startswith("status-") or name == "warning" or color is not None:
        svg_color = QColor(color).name() if color is not None else "#000000"
        result = QIcon()
        for px in (16, 20, 24, 32, 48, 64):
            result.addPixmap(_render(name, svg_color, px))
        return result
    return QIcon(_TintedSvgEngine(name))


def clear_cache() -> None:
    """After a theme switch: tinted pixmaps are rendered again in the new colours."""
    _render.cache_clear()


def app_icon() -> QIcon:
    result = QIcon(str(data_path("resources", "icons", "irt-desktop.svg")))
    try:
        hicolor = data_path("resources", "icons", "hicolor")
    except FileNotFoundError:
        return result
    for png in sorted(hicolor.glob("*/apps/irt-desktop.png")):
        result.addFile(str(png))
    return result
