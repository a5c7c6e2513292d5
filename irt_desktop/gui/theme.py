"""Light and dark appearance: the Fusion style with our palettes plus resources/style.qss.

Fusion looks the same on every platform and honours a palette fully, which keeps screenshots and the
dark mode predictable; "system" follows the desktop's colour scheme where Qt can read it.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleOption, QWidget

from irt_desktop.gui import icons
from irt_desktop.resources import data_path

THEMES = ("system", "light", "dark")
STYLE_SET = "irtContrastStyle"


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


class ContrastStyle(QProxyStyle):
    """Fusion, with check boxes (in forms and in list/tree rows) and radio buttons drawn with a border in
    the palette's text colour and a fill in its highlight colour: Fusion's own frame is nearly invisible
    on a dark base."""

    def drawPrimitive(
        self,
        element: QStyle.PrimitiveElement,
        option: QStyleOption,
        painter: QPainter,
        widget: QWidget | None = None,
    ) -> None:
        if element == QStyle.PrimitiveElement.PE_IndicatorRadioButton:
            self._draw_radio(option, painter)
            return
        if element not in (
            QStyle.PrimitiveElement.PE_IndicatorCheckBox,
            QStyle.PrimitiveElement.PE_IndicatorItemViewItemCheck,
        ):
            super().drawPrimitive(element, option, painter, widget)
            return
        pal = option.palette
        on = bool(option.state & QStyle.StateFlag.State_On)
        partial = bool(option.state & QStyle.StateFlag.State_NoChange)
        enabled = bool(option.state & QStyle.StateFlag.State_Enabled)
        side = min(option.rect.width(), option.rect.height()) - 2
        box = QRectF(
            option.rect.x() + (option.rect.width() - side) / 2,
            option.rect.y() + (option.rect.height() - side) / 2,
            side,
            side,
        )
        text = pal.color(QPalette.ColorRole.Text)
        accent = pal.color(QPalette.ColorRole.Highlight)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        border = QColor(text)
        border.setAlpha(230 if enabled else 110)
        painter.setPen(QPen(accent if on or partial else border, 1.6))
        painter.setBrush(accent if (on or partial) and enabled else pal.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(box.adjusted(0.8, 0.8, -0.8, -0.8), 3, 3)
        if on:
            tick = QPainterPath(QPointF(box.left() + side * 0.22, box.top() + side * 0.52))
            tick.lineTo(QPointF(box.left() + side * 0.42, box.top() + side * 0.72))
            tick.lineTo(QPointF(box.left() + side * 0.78, box.top() + side * 0.30))
            painter.setPen(
                QPen(QColor("#ffffff"), max(1.8, side / 8), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
            )
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(tick)
        elif partial:
            painter.setPen(QPen(QColor("#ffffff"), max(1.8, side / 8)))
            painter.drawLine(
                QPointF(box.left() + side * 0.25, box.center().y()),
                QPointF(box.right() - side * 0.25, box.center().y()),
            )
        painter.restore()

    @staticmethod
    def _draw_radio(option: QStyleOption, painter: QPainter) -> None:
        pal = option.palette
        on = bool(option.state & QStyle.StateFlag.State_On)
        enabled = bool(option.state & QStyle.StateFlag.State_Enabled)
        side = min(option.rect.width(), option.rect.height()) - 2
        ring = QRectF(
            option.rect.x() + (option.rect.width() - side) / 2,
            option.rect.y() + (option.rect.height() - side) / 2,
            side,
            side,
        ).adjusted(0.8, 0.8, -0.8, -0.8)
        border = QColor(pal.color(QPalette.ColorRole.Text))
        border.setAlpha(230 if enabled else 110)
        accent = pal.color(QPalette.ColorRole.Highlight)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(accent if on and enabled else border, 1.6))
        painter.setBrush(pal.color(QPalette.ColorRole.Base))
        painter.drawEllipse(ring)
        if on:
            dot = side * 0.26
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(accent if enabled else border)
            painter.drawEllipse(ring.center(), dot, dot)
        painter.restore()


def apply_theme(app: QApplication, theme: str = "system") -> None:
    """Style, palette and style sheet for `theme`. Dark also makes file dialogs Qt's own: a platform
    dialog (GTK's, for one) follows the desktop's theme, not ours, and would open light over a dark
    window; Qt's dialog takes the palette. Light keeps the platform's native dialogs."""
    dark = theme == "dark" or (theme == "system" and system_prefers_dark(app))
    app.setAttribute(Qt.ApplicationAttribute.AA_DontUseNativeDialogs, dark)
    if not app.property(STYLE_SET):
        # Once: replacing the application's style while a QWizard is open crashes Qt (the wizard keeps
        # the old one); a theme is the palette and the style sheet. (app.style() is the style sheet's
        # wrapper once a sheet is set, so the flag says whether ours is in place.)
        app.setStyle(ContrastStyle("Fusion"))
        app.setProperty(STYLE_SET, True)
    app.setPalette(_palette(dark))
    app.setStyleSheet(style_sheet())
    icons.clear_cache()


def style_sheet() -> str:
    try:
        return data_path("resources", "style.qss").read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
