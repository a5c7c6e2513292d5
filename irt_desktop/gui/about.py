"""What the GUI runs on and says about itself: the About box, and for `irt-desktop doctor` (which may not
import PySide6 itself: gui/ owns Qt) the Qt version. Qt is imported inside the functions, so doctor can
ask even where PySide6 is missing."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget


def qt_versions() -> str:
    """'PySide6 X (Qt Y)', or why Qt is not available."""
    try:
        import PySide6
        from PySide6 import QtCore
    except ImportError as exc:
        return f"not available ({exc})"
    return f"PySide6 {PySide6.__version__} (Qt {QtCore.qVersion()})"


def show_about(parent: QWidget) -> None:
    from PySide6.QtWidgets import QMessageBox

    from irt_desktop import __version__

    QMessageBox.about(
        parent,
        "About irt-desktop",
        f"<b>irt-desktop {__version__}</b><p>Search your photos by example image with IRT "
        "vision-transformer descriptors (El-Nouby et al., <i>Training Vision Transformers for Image "
        "Retrieval</i>, 2021). Everything runs on this computer.</p>",
    )
