"""The Search tab's right column: a header (what was found, where, how fast; the button that folds the
query panel away), the notice bars (new matches to refresh to, an action to undo) and the grid."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import icons
from irt_desktop.gui.results_model import ResultDelegate, ResultsModel
from irt_desktop.gui.results_view import ResultsView
from irt_desktop.gui.thumbnails import ThumbnailLoader


class NoticeBar(QFrame):
    """One line with a button (Refresh, Undo) and a way to dismiss it."""

    triggered = Signal()

    def __init__(self, button_text: str, name: str) -> None:
        super().__init__()
        self.setObjectName(f"{name}Notice")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.button = QPushButton(button_text)
        self.close_button = QToolButton()
        self.close_button.setIcon(icons.icon("clear"))
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAccessibleName("Dismiss")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        layout.addWidget(self.close_button)
        self.button.clicked.connect(self.triggered)
        self.button.clicked.connect(self.hide)
        self.close_button.clicked.connect(self.hide)
        self.hide()

    def show_notice(self, text: str) -> None:
        self.label.setText(text)
        self.setVisible(bool(text))


class ResultsPane(QWidget):
    def __init__(self, thumbnails: ThumbnailLoader, thumb_size: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ResultsModel(thumbnails, self)
        self.delegate = ResultDelegate(thumb_size, self)
        self.results = ResultsView(self.model)
        self.results.setItemDelegate(self.delegate)
        self.panel_button = QToolButton()
        self.panel_button.setIcon(icons.icon("panel"))
        self.panel_button.setCheckable(True)
        self.panel_button.setChecked(True)
        self.panel_button.setAutoRaise(True)
        self.panel_button.setToolTip("Show or hide the query and filters (Ctrl+Shift+H)")
        self.panel_button.setAccessibleName("Show the query panel")
        self.result_header = QLabel("Results appear here.")
        self.result_header.setObjectName("hint")
        self.result_header.setAccessibleName("Result summary")
        self.result_header.setWordWrap(True)
        # A long header wraps instead of widening the window.
        self.result_header.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        header_row = QHBoxLayout()
        header_row.addWidget(self.panel_button)
        header_row.addWidget(self.result_header, 1)
        self.live_bar = NoticeBar("Refresh", "live")
        self.undo_bar = NoticeBar("Undo", "undo")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 8, 8, 8)
        layout.addLayout(header_row)
        layout.addWidget(self.live_bar)
        layout.addWidget(self.undo_bar)
        layout.addWidget(self.results, 1)
