"""A message strip above the main view: what is wrong or missing, and the buttons that fix it.

A message shown with `dismiss` gets a Dismiss button; pressing it calls `dismiss` (which restores
whatever the strip said before, or hides it) instead of leaving a notice nobody can get rid of.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import icons
from irt_desktop.gui.elide import wrapping

# Lines of message the banner shows before its text scrolls.
MAX_TEXT_LINES = 5
MIN_TEXT_LINES = 2


class _TextArea(QScrollArea):
    """The message's scroll area: asks for the text's height (up to a cap) and gives up to a floor."""

    def __init__(self) -> None:
        super().__init__()
        self._preferred = 0

    def set_heights(self, minimum: int, preferred: int) -> None:
        self._preferred = preferred
        self.setMinimumHeight(minimum)
        self.setMaximumHeight(preferred)
        self.updateGeometry()

    def sizeHint(self) -> QSize:
        return QSize(super().sizeHint().width(), self._preferred)


class Banner(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setProperty("kind", "info")
        self.setAccessibleName("Notice")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        self._icon = QLabel()
        self._icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self._icon.setPixmap(icons.icon("warning").pixmap(20, 20))
        layout.addWidget(self._icon)
        text_box = QVBoxLayout()
        text_box.setSpacing(2)
        # Both wrap at any width: a long message (a path, a list of files) makes the banner taller,
        # never the window wider.
        self.title = wrapping(QLabel())
        self.title.setStyleSheet("font-weight: 600;")
        self.text = wrapping(QLabel())
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        # A long message scrolls inside the banner past MAX_TEXT_LINES, so the tabs below keep their
        # room on a small screen.
        self.text_area = _TextArea()
        self.text_area.setObjectName("bannerText")
        self.text_area.setFrameShape(QFrame.Shape.NoFrame)
        self.text_area.setWidgetResizable(True)
        self.text_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.text_area.setWidget(self.text)
        self.text_area.viewport().setAutoFillBackground(False)
        self.text.setAutoFillBackground(False)
        text_box.addWidget(self.title)
        text_box.addWidget(self.text_area)
        layout.addLayout(text_box, 1)
        self._buttons = QHBoxLayout()
        layout.addLayout(self._buttons)
        self.dismissable = False
        self.hide()

    def show_message(
        self,
        title: str,
        text: str = "",
        kind: str = "warning",
        actions: list[tuple[str, Callable[[], None]]] | None = None,
        dismiss: Callable[[], None] | None = None,
    ) -> None:
        """`dismiss`: what the Dismiss button does (None: no such button; `Banner.hide` to just hide)."""
        self.setProperty("kind", kind)
        self.style().unpolish(self)
        self.style().polish(self)
        self.title.setText(title)
        self.text.setText(text)
        self.text_area.setVisible(bool(text))
        self._fit_text()
        while self._buttons.count():
            item = self._buttons.takeAt(0)
            if item.widget():
                # Hidden now: deleteLater waits for the event loop, and the old buttons would show.
                item.widget().hide()
                item.widget().deleteLater()
        for label, callback in actions or []:
            button = QPushButton(label)
            button.clicked.connect(callback)
            self._buttons.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
        self.dismissable = dismiss is not None
        if dismiss is not None:
            button = QPushButton("Dismiss")
            button.setObjectName("bannerDismiss")
            button.setAccessibleName("Dismiss this notice")
            button.clicked.connect(dismiss)
            self._buttons.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
        self.show()

    def _fit_text(self) -> None:
        """The text area as tall as the text, up to MAX_TEXT_LINES lines (then it scrolls)."""
        width = max(1, self.text_area.viewport().width())
        lines = self.text.fontMetrics().lineSpacing()
        wanted = self.text.heightForWidth(width) if self.text.text() else 0
        # Up to MAX_TEXT_LINES when there is room; down to MIN_TEXT_LINES (scrolling) on a small screen.
        self.text_area.set_heights(
            min(wanted, MIN_TEXT_LINES * lines) + 2, min(wanted, MAX_TEXT_LINES * lines) + 2
        )

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_text()

    def dismiss_button(self) -> QPushButton | None:
        return next((b for b in self.buttons() if b.objectName() == "bannerDismiss"), None)

    def buttons(self) -> list[QPushButton]:
        return [self._buttons.itemAt(i).widget() for i in range(self._buttons.count())]
