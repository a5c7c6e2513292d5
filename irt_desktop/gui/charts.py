"""Small QPainter charts (QtCharts is not part of PySide6-Essentials): a line chart for training curves
and Recall@K, and a grouped bar chart for before/after and ours/paper comparisons.

Colours come from a palette that reads on light and dark backgrounds; axes and text use the widget's
palette, so the charts follow the theme.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

LEGEND_SAMPLE = 26
SERIES_COLORS = ("#3d7be0", "#e0793d", "#2e9d4f", "#b04fc4", "#cf3b3b", "#16a3a3", "#8a8f98")


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not math.isfinite(lo) or not math.isfinite(hi):
        return [0.0, 1.0]
    if hi <= lo:
        # A flat series: a small band around it, not a scale that doubles its value.
        pad = max(abs(lo) * 0.05, 1e-3)
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    start = math.floor(lo / step) * step
    ticks = []
    v = start
    while v <= hi + step * 0.5 and len(ticks) < 50:
        ticks.append(round(v, 10))
        v += step
    return ticks


def tick_text(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v / 1000:g}k"
    if abs(v) >= 10 or float(v).is_integer():
        return f"{v:g}"
    return f"{v:.2g}" if abs(v) < 0.1 else f"{v:.2f}".rstrip("0").rstrip(".")


def paint_title(
    p: QPainter,
    widget: QWidget,
    title: str,
    rect: QRectF,
    top: float,
    line_h: float,
    colour: QColor,
    gap: float,
) -> float:
    """Draw a bold centred title line at `top` (nothing when empty); returns where the plot starts."""
    if not title:
        return top
    f = widget.font()
    f.setBold(True)
    p.setFont(f)
    p.setPen(colour)
    p.drawText(QRectF(rect.left(), top, rect.width(), line_h), Qt.AlignmentFlag.AlignHCenter, title)
    p.setFont(widget.font())
    return top + line_h + gap


@dataclass
class Series:
    name: str
    points: list[tuple[float, float]] = field(default_factory=list)
    color: str = ""
    dashed: bool = False
    markers: bool = False


class LineChart(QWidget):
    """Series of (x, y) points; `log_x` for Recall@K's K axis; empty text until there is data."""

    def __init__(
        self,
        title: str = "",
        x_label: str = "",
        y_label: str = "",
        log_x: bool = False,
        y_range: tuple[float, float] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.title = title
        self.x_label = x_label
        self.y_label = y_label
        self.log_x = log_x
        self.y_range = y_range
        # Bounds the automatic range never crosses (percentages: 0..100).
        self.y_clamp: tuple[float, float] | None = None
        self.empty_text = "No data yet"
        self.series: list[Series] = []
        self.setMinimumSize(240, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName(title or "Chart")

    def sizeHint(self) -> QSize:
        return QSize(420, 240)

    def clear(self) -> None:
        self.series.clear()
        self.update()

    def set_series(self, series: list[Series]) -> None:
        for i, s in enumerate(series):
            if not s.color:
                s.color = SERIES_COLORS[i % len(SERIES_COLORS)]
        self.series = series
        self._describe()
        self.update()

    def add_points(self, name: str, points: list[tuple[float, float]], **style) -> None:
        for s in self.series:
            if s.name == name:
                s.points.extend(points)
                break
        else:
            s = Series(name, list(points), **style)
            if not s.color:
                s.color = SERIES_COLORS[len(self.series) % len(SERIES_COLORS)]
            self.series.append(s)
        self._describe()
        self.update()

    def _describe(self) -> None:
        # Screen readers get the latest value of each series.
        parts = [f"{s.name} {s.points[-1][1]:.3g}" for s in self.series if s.points]
        self.setAccessibleDescription(", ".join(parts))

    def _x(self, v: float) -> float:
        return math.log10(max(v, 1e-9)) if self.log_x else v

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.WindowText)
        faint = pal.color(QPalette.ColorRole.Mid)
        fm = QFontMetrics(self.font())
        line_h = fm.height()
        rect = QRectF(self.rect()).adjusted(4, 4, -4, -4)
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base))
        top = rect.top()
        top = paint_title(p, self, self.title, rect, top, line_h, text, gap=2)
        pts = [pt for s in self.series for pt in s.points if math.isfinite(pt[1])]
        if not pts:
            p.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.empty_text)
            return
        xs = [self._x(x) for x, _ in pts]
        ys = [y for _, y in pts]
        x_lo, x_hi = min(xs), max(xs)
        if x_hi == x_lo:
            x_lo, x_hi = x_lo - 0.5, x_hi + 0.5
        y_lo, y_hi = self.y_range if self.y_range else (min(ys), max(ys))
        y_ticks = nice_ticks(y_lo, y_hi)
        if not self.y_range:
            y_lo, y_hi = y_ticks[0], y_ticks[-1]
            if self.y_clamp is not None:
                y_lo, y_hi = max(y_lo, self.y_clamp[0]), min(y_hi, self.y_clamp[1])
        y_ticks = [t for t in y_ticks if y_lo - 1e-9 <= t <= y_hi + 1e-9]
        if y_hi == y_lo:
            y_hi = y_lo + 1

        legend_rows = (
            self._legend_layout(fm, rect.width()) if (len(self.series) > 1 or self.series[0].name) else []
        )
        legend_h = (max(r for r, _ in legend_rows) + 1) * (line_h + 2) + 2 if legend_rows else 0
        left = rect.left() + max(fm.horizontalAdvance(tick_text(t)) for t in y_ticks) + 8
        if self.y_label:
            left += line_h
        bottom = rect.bottom() - line_h - 6 - (line_h if self.x_label else 0) - legend_h
        plot = QRectF(left, top + 4, rect.right() - left - 8, bottom - top - 4)
        if plot.width() < 20 or plot.height() < 20:
            return

        def map_pt(x: float, y: float) -> QPointF:
            fx = (self._x(x) - x_lo) / (x_hi - x_lo)
            fy = (y - y_lo) / (y_hi - y_lo)
            return QPointF(plot.left() + fx * plot.width(), plot.bottom() - fy * plot.height())

        # Grid and y ticks.
        p.setPen(QPen(faint, 1, Qt.PenStyle.DotLine))
        for t in y_ticks:
            y = map_pt(x_lo if not self.log_x else 10**x_lo, t).y()
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        p.setPen(text)
        for t in y_ticks:
            y = plot.bottom() - (t - y_lo) / (y_hi - y_lo) * plot.height()
            label = tick_text(t)
            p.drawText(
                QRectF(rect.left(), y - line_h / 2, left - rect.left() - 6, line_h),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                label,
            )
        # X ticks: the data's own x values on a log axis (K = 1, 10, 100...), round numbers otherwise.
        if self.log_x:
            x_ticks = sorted({x for x, _ in pts})
        else:
            x_ticks = [t for t in nice_ticks(x_lo, x_hi) if x_lo - 1e-9 <= t <= x_hi + 1e-9]
        last_right = -1e9
        for t in x_ticks:
            x = plot.left() + (self._x(t) - x_lo) / (x_hi - x_lo) * plot.width()
            label = tick_text(t)
            w = fm.horizontalAdvance(label)
            if x - w / 2 < last_right + 4:
                continue
            last_right = x + w / 2
            p.setPen(faint)
            p.drawLine(QPointF(x, plot.bottom()), QPointF(x, plot.bottom() + 3))
            p.setPen(text)
            p.drawText(
                QRectF(x - w / 2 - 2, plot.bottom() + 4, w + 4, line_h), Qt.AlignmentFlag.AlignCenter, label
            )
        p.setPen(QPen(faint, 1))
        p.drawLine(plot.bottomLeft(), plot.bottomRight())
        p.drawLine(plot.bottomLeft(), plot.topLeft())
        if self.x_label:
            p.setPen(text)
            p.drawText(
                QRectF(plot.left(), plot.bottom() + line_h + 4, plot.width(), line_h),
                Qt.AlignmentFlag.AlignHCenter,
                self.x_label,
            )
        if self.y_label:
            p.save()
            p.translate(rect.left() + line_h - 2, plot.center().y())
            p.rotate(-90)
            p.setPen(text)
            p.drawText(
                QRectF(-plot.height() / 2, -line_h, plot.height(), line_h),
                Qt.AlignmentFlag.AlignCenter,
                self.y_label,
            )
            p.restore()

        # Series.
        p.setClipRect(plot.adjusted(-4, -4, 4, 4))
        for s in self.series:
            finite = [(x, y) for x, y in s.points if math.isfinite(y)]
            if not finite:
                continue
            pen = QPen(QColor(s.color), 2)
            if s.dashed:
                pen.setStyle(Qt.PenStyle.DashLine)
            p.setPen(pen)
            path = QPainterPath()
            path.moveTo(map_pt(*finite[0]))
            for pt in finite[1:]:
                path.lineTo(map_pt(*pt))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(path)
            if s.markers or len(finite) == 1:
                p.setBrush(QColor(s.color))
                for pt in finite:
                    p.drawEllipse(map_pt(*pt), 3, 3)
        p.setClipping(False)

        # Legend, wrapped onto as many rows as the width needs.
        if legend_rows:
            top_y = rect.bottom() - legend_h + 2
            for s, (row, x_off) in zip(self.series, legend_rows, strict=False):
                x = rect.left() + x_off
                y = top_y + row * (line_h + 2)
                pen = QPen(QColor(s.color), 2.5, Qt.PenStyle.DashLine if s.dashed else Qt.PenStyle.SolidLine)
                p.setPen(pen)
                p.drawLine(QPointF(x, y + line_h / 2), QPointF(x + LEGEND_SAMPLE, y + line_h / 2))
                p.setPen(text)
                w = fm.horizontalAdvance(s.name)
                p.drawText(
                    QRectF(x + LEGEND_SAMPLE + 4, y, w + 4, line_h), Qt.AlignmentFlag.AlignVCenter, s.name
                )

    def _legend_layout(self, fm: QFontMetrics, width: float) -> list[tuple[int, float]]:
        """(row, x offset) of each series' legend entry."""
        out, row, x = [], 0, 0.0
        for s in self.series:
            w = LEGEND_SAMPLE + 4 + fm.horizontalAdvance(s.name) + 16
            if x > 0 and x + w > width:
                row, x = row + 1, 0.0
            out.append((row, x))
            x += w
        return out


class BarChart(QWidget):
    """Groups of bars (e.g. R@1 before / after, or ours / paper per dataset), values labelled."""

    def __init__(self, title: str = "", unit: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.unit = unit
        self.groups: list[str] = []
        self.bar_names: list[str] = []
        self.values: list[list[float | None]] = []
        self.setMinimumSize(200, 160)
        self.setAccessibleName(title or "Bar chart")

    def sizeHint(self) -> QSize:
        return QSize(360, 220)

    def set_data(self, groups: list[str], bar_names: list[str], values: list[list[float | None]]) -> None:
        self.groups, self.bar_names, self.values = groups, bar_names, values
        self.setAccessibleDescription(
            "; ".join(
                f"{g}: "
                + ", ".join(f"{n} {v:.1f}" for n, v in zip(bar_names, vals, strict=False) if v is not None)
                for g, vals in zip(groups, values, strict=False)
            )
        )
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.WindowText)
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base))
        fm = QFontMetrics(self.font())
        lh = fm.height()
        rect = QRectF(self.rect()).adjusted(8, 6, -8, -6)
        top = rect.top()
        top = paint_title(p, self, self.title, rect, top, lh, text, gap=4)
        vals = [v for row in self.values for v in row if v is not None]
        if not vals:
            p.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, "No data yet")
            return
        hi = max(max(vals), 1e-9)
        legend_h = lh + 4 if len(self.bar_names) > 1 else 0
        plot = QRectF(rect.left(), top + lh, rect.width(), rect.bottom() - top - 2 * lh - 6 - legend_h)
        n_groups = len(self.groups)
        group_w = plot.width() / max(1, n_groups)
        n_bars = max(1, len(self.bar_names))
        bar_w = min(56.0, group_w * 0.8 / n_bars)
        for gi, (g, row) in enumerate(zip(self.groups, self.values, strict=False)):
            gx = plot.left() + gi * group_w + (group_w - bar_w * n_bars) / 2
            for bi, v in enumerate(row):
                if v is None:
                    continue
                h = plot.height() * v / hi
                r = QRectF(gx + bi * bar_w + 2, plot.bottom() - h, bar_w - 4, h)
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(QColor(SERIES_COLORS[bi % len(SERIES_COLORS)]))
                p.drawRoundedRect(r, 3, 3)
                p.setPen(text)
                label = f"{v:.1f}{self.unit}"
                p.drawText(
                    QRectF(r.left() - 20, r.top() - lh - 1, r.width() + 40, lh),
                    Qt.AlignmentFlag.AlignCenter,
                    label,
                )
            p.setPen(text)
            p.drawText(
                QRectF(plot.left() + gi * group_w, plot.bottom() + 3, group_w, lh),
                Qt.AlignmentFlag.AlignCenter,
                fm.elidedText(g, Qt.TextElideMode.ElideRight, int(group_w)),
            )
        p.setPen(QPen(pal.color(QPalette.ColorRole.Mid), 1))
        p.drawLine(plot.bottomLeft(), plot.bottomRight())
        if legend_h:
            x = plot.left()
            y = rect.bottom() - lh
            for bi, name in enumerate(self.bar_names):
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(QColor(SERIES_COLORS[bi % len(SERIES_COLORS)]))
                p.drawRoundedRect(QRectF(x, y + 3, 12, lh - 6), 2, 2)
                p.setPen(text)
                w = fm.horizontalAdvance(name)
                p.drawText(QRectF(x + 16, y, w + 4, lh), Qt.AlignmentFlag.AlignVCenter, name)
                x += 16 + w + 16
