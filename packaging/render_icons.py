"""Render resources/icons/irt-desktop.svg to the PNG sizes desktops and installers ask for.

Run after editing the SVG: `.venv/bin/python packaging/render_icons.py`. The PNGs are committed so that
packaging needs no SVG renderer.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"


def render(svg: Path, size: int, out: Path) -> None:
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"cannot render {svg}")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(out)):
        raise SystemExit(f"cannot write {out}")


def main() -> int:
    _app = QGuiApplication(sys.argv)
    svg = ICONS / "irt-desktop.svg"
    for size in SIZES:
        render(svg, size, ICONS / "hicolor" / f"{size}x{size}" / "apps" / "irt-desktop.png")
    # Windows and macOS want one multi-size file; Pillow writes both from the largest PNG.
    from PIL import Image

    packaging = Path(__file__).resolve().parent
    with Image.open(ICONS / "hicolor" / "512x512" / "apps" / "irt-desktop.png") as big:
        big.save(packaging / "windows" / "irt-desktop.ico", sizes=[(s, s) for s in SIZES if s <= 256])
        big.save(packaging / "macos" / "irt-desktop.icns")
    print(f"rendered {len(SIZES)} sizes under {ICONS / 'hicolor'}, plus .ico and .icns")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
