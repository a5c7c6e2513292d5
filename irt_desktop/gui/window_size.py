"""How large a top-level window may be: never larger than its screen's free area.

Qt sets a window's minimum to what its layout needs and grows the window to fit; one long label then
makes a window wider than the screen, and it stays so. Windows that use this hand the minimum to
`bound_minimum` instead, which caps it at the screen, and take their first size from `default_size`.
"""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication, QLayout, QWidget

# Share of the screen's free area a first window takes at most.
DEFAULT_SCREEN_SHARE = 0.9


def screen_room(widget: QWidget) -> QSize:
    screen = widget.screen() or QApplication.primaryScreen()
    return screen.availableGeometry().size() if screen is not None else QSize(1 << 14, 1 << 14)


def default_size(widget: QWidget, wanted: tuple[int, int]) -> QSize:
    """`wanted`, or less where the screen has less room."""
    room = screen_room(widget)
    return QSize(
        min(wanted[0], int(room.width() * DEFAULT_SCREEN_SHARE)),
        min(wanted[1], int(room.height() * DEFAULT_SCREEN_SHARE)),
    )


def free_the_minimum(widget: QWidget) -> None:
    """The layout no longer forces its minimum on the window (bound_minimum sets it instead)."""
    layout = widget.layout()
    if layout is not None:
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)


def bound_minimum(widget: QWidget) -> None:
    """The window's minimum: what its widgets need, capped at the screen's free area (frame included)."""
    need, room = widget.minimumSizeHint(), screen_room(widget)
    frame = widget.frameGeometry().size() - widget.geometry().size()
    bound = QSize(
        max(0, min(need.width(), room.width() - frame.width())),
        max(0, min(need.height(), room.height() - frame.height())),
    )
    if bound != widget.minimumSize():
        widget.setMinimumSize(bound)
