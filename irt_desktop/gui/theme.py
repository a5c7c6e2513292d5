"""Light and dark appearance: the Fusion style with our palettes plus resources/style.qss.

Fusion looks the same on every platform and honours a palette fully, which keeps screenshots and the
dark mode predictable; "system" follows the desktop's colour scheme where Qt can read it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from irt_desktop.gui import icons
from irt_desktop.resources import data_path

THEMES = ("system", "light", "dark")


def _palette(dark: bool) -> QPalette:
    p = QPalette()
    if dark:
        base, window, text, button = "#1e2126", "#272b31", "#e6e8eb", "#31363d"
        mid, highlight, link, disabled = "#454b54", "#3d7be0", "#7fb0ff", "#80868f"
        alt, tip = "#23272d", "#31363d"
    else:
        base, window, text, button = "#ffffff", "#f3f4f6", "#1d2024", "#fbfbfc"
        mid, highlight, link, disabled = "#c4c8ce", "#2f6fd6", "#1f5fc4", "#8d939b"
        alt, tip = "#f7f8fa", "#ffffe8"
    roles = QPalette.ColorRole
    p.setColor(roles.Window, QColor(window))
    p.setColor(roles.WindowText, QColor(text))
    p.setColor(roles.Base, QColor(base))
    p.setColor(roles.AlternateBase, QColor(alt))
    p.setColor(roles.Text, QColor(text))
    p.setColor(roles.Button, QColor(button))
    p.setColor(roles.ButtonText, QColor(text))
    p.setColor(roles.ToolTipBase, QColor(tip))
    p.setColor(roles.ToolTipText, QColor(text))
    p.setColor(roles.PlaceholderText, QColor(disabled))
    p.setColor(roles.Highlight, QColor(highlight))
    p.setColor(roles.HighlightedText, QColor("#ffffff"))
    p.setColor(roles.Link, QColor(link))
    p.setColor(roles.Mid, QColor(mid))
    p.setColor(roles.Midlight, QColor(mid).lighter(120))
    p.setColor(roles.Dark, QColor(mid).darker(130))
    p.setColor(roles.Light, QColor(button).lighter(115))
    p.setColor(roles.Shadow, QColor("#000000"))
    p.setColor(roles.BrightText, QColor("#ff6b6b"))
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(disabled))
    return p


def system_prefers_dark(app: QApplication) -> bool:
    hints = app.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    return scheme is not None and scheme() == Qt.ColorScheme.Dark


def is_dark(app: QApplication | None = None) -> bool:
    app = app or QApplication.instance()
    return bool(app and app.palette().color(QPalette.ColorRole.Window).lightness() < 128)


def apply_theme(app: QApplication, theme: str = "system") -> None:
    dark = theme == "dark" or (theme == "system" and system_prefers_dark(app))
    app.setStyle("Fusion")
    app.setPalette(_palette(dark))
    app.setStyleSheet(style_sheet())
    icons.clear_cache()


def style_sheet() -> str:
    try:
        return data_path("resources", "style.qss").read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
