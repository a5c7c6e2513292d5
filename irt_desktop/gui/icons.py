"""Icons drawn as SVG in resources/icons/ui, tinted with the palette's text colour so they read in dark mode.

Icon SVGs use the placeholder colour @COLOR@; status icons carry their own colours and are left alone.
"""

from __future__ import annotations

import functools

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from irt_desktop.resources import data_path

_SIZES = (16, 20, 24, 32, 48, 64)


@functools.cache
def _svg_text(name: str) -> str:
    return data_path("resources", "icons", "ui", f"{name}.svg").read_text(encoding="utf-8")


def _render(svg: str, px: int) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    pixmap = QPixmap(px, px)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    renderer.render(painter, QRectF(0, 0, px, px))
    painter.end()
    return pixmap


_cache: dict[tuple[str, str], QIcon] = {}


def icon(name: str, color: QColor | str | None = None) -> QIcon:
    """The named UI icon in `color` (default: the application palette's button text)."""
    if color is None:
        app = QApplication.instance()
        palette = app.palette() if isinstance(app, QApplication) else QPalette()
        color = palette.color(QPalette.ColorRole.ButtonText)
    hex_color = QColor(color).name()
    key = (name, hex_color)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    svg = _svg_text(name).replace("@COLOR@", hex_color)
    result = QIcon()
    for px in _SIZES:
        result.addPixmap(_render(svg, px))
    _cache[key] = result
    return result


def clear_cache() -> None:
    """After a theme switch: icons are re-tinted on next use."""
    _cache.clear()


def app_icon() -> QIcon:
    result = QIcon(str(data_path("resources", "icons", "irt-desktop.svg")))
    try:
        hicolor = data_path("resources", "icons", "hicolor")
    except FileNotFoundError:
        return result
    for png in sorted(hicolor.glob("*/apps/irt-desktop.png")):
        result.addFile(str(png))
    return result
