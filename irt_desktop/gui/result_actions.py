"""What the user can do with a found photo: open it, reveal it in the file manager, copy its path, and
see its details. "More like this" is a search, so it lives with the search view."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from irt_desktop.gui import formatting

if TYPE_CHECKING:
    from irt_desktop.library.records import ImageInfo, SearchHit


def open_file(path: Path | str) -> bool:
    """Hand the photo to the system's viewer; False when there is none to hand it to (Qt then only
    logs "Unable to detect a launcher"), so the caller can say so in the window."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def no_viewer_text(path: Path | str) -> str:
    kind = Path(path).suffix.lstrip(".").upper() or "image"
    return (
        f"No other application is set up to open {kind} files on this system, so {Path(path).name} "
        "stays here. Use Show in folder to open it from your file manager."
    )


def reveal_in_file_manager(path: Path | str) -> bool:
    """Show the file selected in its folder where the platform can, else open the folder."""
    path = Path(path)
    try:
        if sys.platform == "darwin":
            subprocess.Popen(["open", "-R", str(path)])
            return True
        if sys.platform == "win32":
            subprocess.Popen(["explorer", "/select,", str(path)])
            return True
        if _freedesktop_show_items(path):
            return True
    except OSError:
        pass
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))


def _freedesktop_show_items(path: Path) -> bool:
    """org.freedesktop.FileManager1.ShowItems: Nautilus, Dolphin, Nemo, Thunar... select the file."""
    try:
        from PySide6.QtDBus import QDBusConnection, QDBusInterface
    except ImportError:
        return False
    bus = QDBusConnection.sessionBus()
    if not bus.isConnected():
        return _dbus_send_fallback(path)
    iface = QDBusInterface(
        "org.freedesktop.FileManager1", "/org/freedesktop/FileManager1", "org.freedesktop.FileManager1", bus
    )
    if not iface.isValid():
        return False
    reply = iface.call("ShowItems", [QUrl.fromLocalFile(str(path)).toString()], "")
    return not reply.errorName()


def _dbus_send_fallback(path: Path) -> bool:
    tool = shutil.which("dbus-send")
    if not tool or not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return False
    uri = QUrl.fromLocalFile(str(path)).toString()
    subprocess.Popen(
        [
            tool,
            "--session",
            "--dest=org.freedesktop.FileManager1",
            "--type=method_call",
            "/org/freedesktop/FileManager1",
            "org.freedesktop.FileManager1.ShowItems",
            f"array:string:{uri}",
            "string:",
        ]
    )
    return True


def copy_paths(paths: list[Path | str]) -> None:
    QGuiApplication.clipboard().setText("\n".join(str(p) for p in paths))


class DetailsDialog(QDialog):
    """Path, folder, size, date, dimensions and similarity of one result."""

    def __init__(self, hit: SearchHit | ImageInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        path = Path(hit.path)
        self.setWindowTitle(f"Details — {path.name}")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        rows = [
            ("Name", path.name),
            ("Folder", str(path.parent)),
            ("Size", formatting.size(hit.size)),
            ("Dimensions", formatting.dimensions(hit.width, hit.height)),
            ("Date", formatting.date(hit.taken) or "unknown"),
        ]
        # An ImageInfo (the duplicates view) has no similarity.
        if getattr(hit, "score", None) is not None:
            rows.append(("Similarity", formatting.score(hit.score)))
        for label, value in rows:
            field = QLabel(value)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            field.setWordWrap(True)
            form.addRow(f"{label}:", field)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        open_button = buttons.addButton("Open", QDialogButtonBox.ButtonRole.ActionRole)
        reveal_button = buttons.addButton("Show in folder", QDialogButtonBox.ButtonRole.ActionRole)
        copy_button = buttons.addButton("Copy path", QDialogButtonBox.ButtonRole.ActionRole)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.hide()
        open_button.clicked.connect(lambda: open_file(path) or self._say(no_viewer_text(path)))
        reveal_button.clicked.connect(lambda: reveal_in_file_manager(path))
        copy_button.clicked.connect(lambda: copy_paths([path]))
        buttons.rejected.connect(self.reject)
        layout.addWidget(self.notice)
        layout.addWidget(buttons)
        self.resize(480, self.sizeHint().height())

    def _say(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.show()
