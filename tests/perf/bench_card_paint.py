"""What drawing the result cards' thumbnails costs per viewport: scaled smoothly at every paint (how the
delegate drew them before) against the delegate's kept, already-scaled pixmaps.

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. python tests/perf/bench_card_paint.py [--rounds 5]

30 cards (a 1366x768 window's grid) of 320x240 thumbnails into a 172 px square, in one QPainter; the
two ways alternated, medians of the rounds.
"""

from __future__ import annotations

import argparse
import statistics
import time

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QApplication

from irt_desktop.gui.results_model import ResultDelegate

BOX = QRect(0, 0, 172, 172)


def rescaled_each_paint(painter: QPainter, pixmap: QPixmap, _: ResultDelegate) -> None:
    size = pixmap.size().scaled(BOX.size(), Qt.AspectRatioMode.KeepAspectRatio)
    target = QRect(0, 0, size.width(), size.height())
    target.moveCenter(BOX.center())
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    painter.drawPixmap(target, pixmap)


def kept_scaled(painter: QPainter, pixmap: QPixmap, delegate: ResultDelegate) -> None:
    fitted = delegate.scaled(pixmap, BOX.size(), painter.device().devicePixelRatioF())
    size = fitted.deviceIndependentSize().toSize()
    target = QRect(0, 0, size.width(), size.height())
    target.moveCenter(BOX.center())
    painter.drawPixmap(target.topLeft(), fitted)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=20, help="viewports painted per round")
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])  # noqa: F841 (pixmaps need the application)
    delegate = ResultDelegate(160)
    image = QImage(QSize(1200, 800), QImage.Format.Format_ARGB32_Premultiplied)
    thumbs = []
    for i in range(30):
        pixmap = QPixmap(320, 240)
        pixmap.fill(QColor(i * 8, 100, 200))
        thumbs.append(pixmap)
    times: dict[str, list[float]] = {"rescaled at every paint": [], "kept scaled": []}
    for _ in range(args.rounds):
        for name, draw in (("rescaled at every paint", rescaled_each_paint), ("kept scaled", kept_scaled)):
            painter = QPainter(image)
            t = time.perf_counter()
            for _ in range(args.repeats):
                for pixmap in thumbs:
                    draw(painter, pixmap, delegate)
            painter.end()
            times[name].append((time.perf_counter() - t) / args.repeats * 1e3)
    for name, values in times.items():
        print(f"{name:24s}: {statistics.median(values):.2f} ms per 30 cards (median of {args.rounds})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
