"""Side-by-side compare of one duplicate group: two or more photos up at full resolution with one zoom
for all, the differences (size, dimensions, date, camera, folder) highlighted, keep/trash per photo from
the keyboard (Left/Right choose, K keep, T or Delete trash, Space toggle, B keep only this one, Enter
apply, Esc cancel). In a one-by-one review (look-alikes) it says which group of how many, and Enter
applies and goes on to the next.

`CompareModel` is the Qt-free part (facts, differences, decisions), tested without a window; the dialog
draws it. Full-resolution previews are decoded by the task runner, never on the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QImageReader, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import formatting

if TYPE_CHECKING:
    from irt_desktop.gui.tasks import TaskRunner
    from irt_desktop.library.records import DuplicateGroup, ImageInfo

FIELDS = ("name", "folder", "size", "dimensions", "date", "camera")
PREVIEW_MAX_SIDE = 4096


def camera_of(path: Path) -> str:
    """EXIF make and model, or '' (worker side: it opens the file)."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            exif = im.getexif()
        return " ".join(str(exif.get(tag, "")).strip() for tag in (0x010F, 0x0110)).strip()
    except Exception:
        return ""


@dataclass
class CompareModel:
    """The group's photos, their facts, which facts differ, and what the user chose for each."""

    members: list[ImageInfo]
    keeper_id: int
    trash: dict[int, bool] = field(default_factory=dict)
    cameras: dict[int, str] = field(default_factory=dict)
    current: int = 0

    @classmethod
    def for_group(cls, group: DuplicateGroup, checked: set[int] | None = None) -> CompareModel:
        checked = checked or set()
        members = list(group.members)
        return cls(members, members[0].id, {m.id: m.id in checked for m in members})

    def facts(self, info: ImageInfo) -> dict[str, str]:
        return {
            "name": info.path.name,
            "folder": str(info.path.parent),
            "size": formatting.size(info.size),
            "dimensions": formatting.dimensions(info.width, info.height),
            "date": formatting.date(info.taken),
            "camera": self.cameras.get(info.id, ""),
        }

    def differing(self) -> set[str]:
        """The facts that are not the same for every photo (highlighted)."""
        rows = [self.facts(m) for m in self.members]
        return {f for f in FIELDS if len({r[f] for r in rows}) > 1}

    def move(self, step: int) -> None:
        self.current = (self.current + step) % len(self.members)

    def set_trash(self, trash: bool, index: int | None = None) -> None:
        info = self.members[self.current if index is None else index]
        self.trash[info.id] = trash
        if all(self.trash.get(m.id, False) for m in self.members):
            # Never every copy: the last one standing is kept.
            self.trash[info.id] = False

    def keep_only_current(self) -> None:
        """A burst's best frame: keep this one, trash the others of the group."""
        keep = self.members[self.current].id
        self.trash = {m.id: m.id != keep for m in self.members}

    def toggle(self) -> None:
        info = self.members[self.current]
        self.set_trash(not self.trash.get(info.id, False))

    def to_trash(self) -> set[int]:
        return {i for i, t in self.trash.items() if t}


def load_preview(path: str) -> QImage:
    """Worker side (QImageReader is reentrant): the photo upright, capped at PREVIEW_MAX_SIDE."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > PREVIEW_MAX_SIDE:
        size.scale(PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE, Qt.AspectRatioMode.KeepAspectRatio)
        reader.setScaledSize(size)
    image = reader.read()
    if image.isNull():
        try:
            from irt_desktop.images import open_image

            im = open_image(path, min_side=None)
            im.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE))
            data = im.convert("RGB").tobytes()
            image = QImage(data, im.width, im.height, 3 * im.width, QImage.Format.Format_RGB888).copy()
        except Exception:
            pass
    return image


class _Pane(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("comparePane")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.scroll = QScrollArea()
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image = QLabel("Loading…")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scroll.setWidget(self.image)
        self.scroll.setWidgetResizable(False)
        self.facts = QLabel()
        self.facts.setTextFormat(Qt.TextFormat.RichText)
        self.facts.setWordWrap(True)
        self.verdict = QLabel()
        self.verdict.setTextFormat(Qt.TextFormat.RichText)
        lay = QVBoxLayout(self)
        lay.addWidget(self.verdict)
        lay.addWidget(self.scroll, 1)
        lay.addWidget(self.facts)
        self.source: QImage | None = None


class CompareView(QDialog):
    """The compare dialog; `decided` carries the ids to trash when the user applies."""

    decided = Signal(object)

    def __init__(
        self,
        model: CompareModel,
        runner: TaskRunner | None = None,
        parent: QWidget | None = None,
        *,
        position: tuple[int, int] | None = None,
    ) -> None:
        """`position`: (n, of) in a one-by-one review; Enter then applies and moves on."""
        super().__init__(parent)
        self.position = position
        title = "Compare side by side"
        if position is not None:
            title = f"Review look-alikes: group {position[0]} of {position[1]}"
        self.setWindowTitle(title)
        self.model = model
        self.runner = runner
        self.zoom = 0.0  # 0: fit
        self.panes: list[_Pane] = []
        row = QHBoxLayout()
        for _ in model.members:
            pane = _Pane()
            self.panes.append(pane)
            row.addWidget(pane, 1)
        for pane in self.panes:
            for bar in (pane.scroll.horizontalScrollBar(), pane.scroll.verticalScrollBar()):
                bar.valueChanged.connect(self._sync_scroll)
        self.fit_button = QPushButton("&Fit")
        self.actual_button = QPushButton("&100%")
        self.zoom_in = QPushButton("Zoom &in")
        self.zoom_out = QPushButton("Zoom &out")
        self.fit_button.clicked.connect(lambda: self.set_zoom(0.0))
        self.actual_button.clicked.connect(lambda: self.set_zoom(1.0))
        self.zoom_in.clicked.connect(lambda: self.set_zoom((self.zoom or self._fit_scale()) * 1.5))
        self.zoom_out.clicked.connect(lambda: self.set_zoom((self.zoom or self._fit_scale()) / 1.5))
        self.help = QLabel(
            "←/→ choose · K keep · T or Del trash · Space toggle · B keep only this · Enter apply"
        )
        self.help.setWordWrap(True)
        self.help.setObjectName("hint")
        tools = QHBoxLayout()
        for b in (self.fit_button, self.actual_button, self.zoom_in, self.zoom_out):
            b.setAutoDefault(False)
            tools.addWidget(b)
        # The hint takes the row's free width (wrapping only when the dialog is narrow).
        self.help.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        tools.addWidget(self.help, 1)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        last = position is None or position[0] >= position[1]
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(
            "&Apply choices" if last else "&Apply, next group"
        )
        buttons.accepted.connect(self.apply)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(tools)
        lay.addLayout(row, 1)
        lay.addWidget(buttons)
        # Large enough to compare, never larger than the screen (a 1024x700 laptop panel included).
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        w, h = 1200, 760
        if screen is not None and screen.width() > 0:
            w, h = min(w, int(screen.width() * 0.95)), min(h, int(screen.height() * 0.9))
        self.resize(w, h)
        self.setMinimumSize(640, 420)
        # The photo the keys act on: a highlighted frame, in either theme's highlight colour.
        self.setStyleSheet(
            "QFrame#comparePane { border: 1px solid palette(mid); border-radius: 4px; }"
            'QFrame#comparePane[current="true"] { border: 3px solid palette(highlight); }'
        )
        self.refresh()
        self._load()

    # -- previews and zoom -----------------------------------------------------------------------------

    def _load(self) -> None:
        for n, info in enumerate(self.model.members):
            path = str(info.path)
            if self.runner is None:
                self._loaded(n, (load_preview(path), camera_of(info.path)))
            else:
                self.runner.run(
                    lambda p=path, i=info: (load_preview(p), camera_of(i.path)),
                    lambda result, n=n: self._loaded(n, result),
                    lambda exc, n=n: self.panes[n].image.setText(f"Cannot show it: {exc}"),
                    name="compare preview",
                )

    def _loaded(self, n: int, result: tuple[QImage, str]) -> None:
        image, camera = result
        pane = self.panes[n]
        if image.isNull():
            pane.image.setText("Cannot decode this photo")
        else:
            pane.source = image
        self.model.cameras[self.model.members[n].id] = camera
        self.set_zoom(self.zoom)
        self.refresh()

    def _fit_scale(self) -> float:
        scales = []
        for pane in self.panes:
            if pane.source is not None:
                vp = pane.scroll.viewport().size()
                scales.append(min(vp.width() / pane.source.width(), vp.height() / pane.source.height()))
        return min(scales) if scales else 1.0

    def set_zoom(self, zoom: float) -> None:
        """One zoom for every photo (0: fit); each is shown at the same scale of its own pixels."""
        self.zoom = max(0.0, min(zoom, 8.0))
        scale = self.zoom or self._fit_scale()
        for pane in self.panes:
            if pane.source is None:
                continue
            w, h = max(1, round(pane.source.width() * scale)), max(1, round(pane.source.height() * scale))
            pane.image.setPixmap(
                QPixmap.fromImage(pane.source).scaled(
                    w, h, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
            )
            pane.image.resize(w, h)

    def _sync_scroll(self, value: int) -> None:
        bar = self.sender()
        for pane in self.panes:
            for other in (pane.scroll.horizontalScrollBar(), pane.scroll.verticalScrollBar()):
                if other is not bar and other.orientation() == bar.orientation() and other.maximum():
                    fraction = value / bar.maximum() if bar.maximum() else 0
                    other.blockSignals(True)
                    other.setValue(round(fraction * other.maximum()))
                    other.blockSignals(False)

    # -- facts and choices -----------------------------------------------------------------------------

    def refresh(self) -> None:
        differing = self.model.differing()
        for n, (pane, info) in enumerate(zip(self.panes, self.model.members, strict=True)):
            facts = self.model.facts(info)
            lines = []
            for f in FIELDS:
                value = facts[f] or "—"
                text = f"<b>{f}:</b> {value}"
                lines.append(
                    f"<span style='background:#f2c94c;color:#1d2024'>{text}</span>"
                    if f in differing
                    else text
                )
            pane.facts.setText("<br>".join(lines))
            pane.facts.setToolTip(str(info.path))
            trash = self.model.trash.get(info.id, False)
            keeper = " (suggested keeper)" if info.id == self.model.keeper_id else ""
            # Fixed colours on both themes: red-on-white reads in light and dark alike.
            verdict = (
                "<span style='background:#c0392b;color:#ffffff'>&nbsp;🗑 Trash&nbsp;</span>"
                if trash
                else "<b>✔ Keep</b>"
            )
            pane.verdict.setText(verdict + keeper)
            current = n == self.model.current
            if pane.property("current") != current:
                pane.setProperty("current", current)
                pane.style().unpolish(pane)  # the [current] rule of the stylesheet applies anew
                pane.style().polish(pane)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self.model.move(-1 if key == Qt.Key.Key_Left else 1)
        elif key == Qt.Key.Key_K:
            self.model.set_trash(False)
        elif key in (Qt.Key.Key_T, Qt.Key.Key_Delete):
            self.model.set_trash(True)
        elif key == Qt.Key.Key_Space:
            self.model.toggle()
        elif key == Qt.Key.Key_B:
            self.model.keep_only_current()
        elif key == Qt.Key.Key_Plus:
            self.set_zoom((self.zoom or self._fit_scale()) * 1.5)
        elif key == Qt.Key.Key_Minus:
            self.set_zoom((self.zoom or self._fit_scale()) / 1.5)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.apply()
            return
        else:
            super().keyPressEvent(event)
            return
        self.refresh()

    def apply(self) -> None:
        self.decided.emit(self.model.to_trash())
        self.accept()
