"""What the GUI runs on, for `irt-desktop doctor` (which may not import PySide6 itself: gui/ owns Qt)."""

from __future__ import annotations


def qt_versions() -> str:
    """'PySide6 X (Qt Y)', or why Qt is not available."""
    try:
        import PySide6
        from PySide6 import QtCore
    except ImportError as exc:
        return f"not available ({exc})"
    return f"PySide6 {PySide6.__version__} (Qt {QtCore.qVersion()})"
