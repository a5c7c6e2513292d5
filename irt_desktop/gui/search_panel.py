"""The Search tab's left column: the query (its picture, where a region is drawn), Back / Forward through
earlier queries with their pictures in the buttons' menus, open / paste, and the search controls."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import icons
from irt_desktop.gui.history import QueryHistory
from irt_desktop.gui.query_view import QueryView
from irt_desktop.gui.search_controls import SearchControls
from irt_desktop.gui.settings import AppSettings
from irt_desktop.gui.tasks import TaskRunner

MENU_ENTRIES = 15


class QueryPanel(QWidget):
    history_requested = Signal(int)  # an entry picked from the Back or Forward menu
    history_shown = Signal(object)  # the QueryHistory the buttons now show (the window's Go menu follows)

    def __init__(self, settings: AppSettings, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("searchPanel")
        self.query_view = QueryView(runner=runner)
        self.query_label = QLabel("No query yet")
        self.query_label.setWordWrap(True)
        self.query_label.setObjectName("hint")
        self.query_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.back_button = self._history_button("back", "Back to the previous query (Alt+Left)")
        self.forward_button = self._history_button("forward", "Forward to the next query (Alt+Right)")
        self.open_button = QPushButton(icons.icon("image-open"), "&Open image…")
        self.open_button.setToolTip("Search by a photo from disk (Ctrl+O)")
        self.paste_button = QPushButton(icons.icon("paste"), "&Paste")
        self.paste_button.setToolTip("Search by the image or file on the clipboard (Ctrl+V)")
        self.clear_region_button = QPushButton(icons.icon("crop"), "&Whole image")
        self.clear_region_button.setToolTip(
            "Forget the region and search by the whole image (Esc on the image)"
        )
        self.clear_region_button.setEnabled(False)
        self.view_query_button = QToolButton()
        self.view_query_button.setIcon(icons.icon("view"))
        self.view_query_button.setToolTip("Show the query photo large")
        self.view_query_button.setAccessibleName("Show the query photo large")
        self.view_query_button.setAutoRaise(True)
        self.view_query_button.setEnabled(False)
        self.controls = SearchControls(settings)

        query_buttons = QHBoxLayout()
        query_buttons.addWidget(self.open_button)
        query_buttons.addWidget(self.paste_button)
        region_row = QHBoxLayout()
        region_row.addWidget(self.clear_region_button, 1)
        region_row.addWidget(self.view_query_button)
        title_row = QHBoxLayout()
        title = QLabel("Search by example")
        title.setObjectName("paneTitle")
        title_row.addWidget(title, 1)
        title_row.addWidget(self.back_button)
        title_row.addWidget(self.forward_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(title_row)
        layout.addWidget(self.query_view, 1)
        layout.addWidget(self.query_label)
        layout.addLayout(region_row)
        layout.addLayout(query_buttons)
        layout.addSpacing(6)
        # The filters scroll rather than set the panel's minimum height: with every control shown they
        # need ~180 px, which at 1024x700 under a banner left the tab taller than the window.
        self.controls_area = QScrollArea()
        self.controls_area.setWidget(self.controls)
        self.controls_area.setWidgetResizable(True)
        self.controls_area.setFrameShape(QFrame.Shape.NoFrame)
        self.controls_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.controls_area.setMinimumHeight(60)
        self.controls_area.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        layout.addWidget(self.controls_area)
        self.setMinimumWidth(250)

    def _history_button(self, icon: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setIcon(icons.icon(icon))
        button.setToolTip(tip)
        button.setProperty("default_tip", tip)
        button.setAccessibleName(tip.split(" (")[0])
        button.setAutoRaise(True)
        # A click goes one step; holding the button (or its arrow) lists the steps, with pictures.
        button.setPopupMode(QToolButton.ToolButtonPopupMode.DelayedPopup)
        button.setMenu(QMenu(button))
        return button

    def show_history(self, history: QueryHistory) -> None:
        for button, can, entries, word in (
            (self.back_button, history.can_back(), history.back_entries(), "Back"),
            (self.forward_button, history.can_forward(), history.forward_entries(), "Forward"),
        ):
            button.setEnabled(can)
            menu = button.menu()
            menu.clear()
            for index, entry in entries[:MENU_ENTRIES]:
                action = menu.addAction(entry.query.describe())
                if isinstance(entry.thumb, QIcon):
                    action.setIcon(entry.thumb)
                action.triggered.connect(lambda _=False, i=index: self.history_requested.emit(i))
            tip = button.property("default_tip")
            if entries:
                tip = f"{word} to {entries[0][1].query.describe()} ({tip.rsplit('(', 1)[-1]}"
            button.setToolTip(tip)
        self.history_shown.emit(history)
