"""The window's Go > Back / Forward and Edit > Undo.

Back and Forward are the Search tab's history (SearchView.go_back / go_forward, what its buttons call):
enabled when the history has somewhere to go, from any tab (the Search tab comes to the front).

Undo follows the tab in front: on the Duplicates tab it puts back the latest trash action of the
catalog's journal (DuplicatesView.undo, its Undo button's call, also after a restart); elsewhere it takes
back the Search tab's last copy, move or trash (BatchActions.undo, its Undo bar's call). Its text says
what it will undo ("Undo Move 12 photos to Trash"); with nothing to undo it is disabled.

The Search tab's own Back / Forward / Undo actions keep working when it is used alone, but in the window
their keys are these actions' only: two actions on one key are ambiguous to Qt and neither would fire.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

from irt_desktop.gui import icons
from irt_desktop.gui.batch_actions import Undo, photos_text
from irt_desktop.gui.history import QueryHistory
from irt_desktop.gui.results_view import COPY_TO, MOVE_TO, TRASH

if TYPE_CHECKING:
    from irt_desktop.gui.main_window import MainWindow

NOTHING_TO_UNDO = "&Undo"


# Some platforms bind Back / Forward to Backspace / Shift+Backspace too: window-wide, those would take
# the key from the query picture (Backspace forgets the region) and from any view that is not a text field.
EDITING_KEYS = (QKeySequence("Backspace"), QKeySequence("Shift+Backspace"))


def shortcuts(standard: QKeySequence.StandardKey, *extra: str) -> list[QKeySequence]:
    """The platform's keys for `standard` first (the menu shows the first), then `extra`, each once."""
    out: list[QKeySequence] = []
    for key in [*QKeySequence.keyBindings(standard), *(QKeySequence(e) for e in extra)]:
        if not key.isEmpty() and key not in out and key not in EDITING_KEYS:
            out.append(key)
    return out


def batch_undo_text(last: Undo) -> str:
    """What undoing the Search tab's last batch action does, in the words it was asked in."""
    n = photos_text(len(last.hits))
    if last.op == TRASH:
        return f"&Undo Move {n} to Trash"
    folder = getattr(last.result, "folder", None)
    where = f" to {folder.name}" if folder is not None else ""
    verb = {MOVE_TO: "Move", COPY_TO: "Copy"}.get(last.op, last.op.capitalize())
    return f"&Undo {verb} {n}{where}"


class GoAndUndo(QObject):
    """Keeps the window's back_action, forward_action and undo_action in step with the views."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.w = window
        sv, dv = window.search_view, window.duplicates_view

        def action(text: str, icon: str, keys: list[QKeySequence], slot: Callable[[], None]) -> QAction:
            a = QAction(icons.icon(icon), text, window)
            a.setShortcuts(keys)
            a.triggered.connect(lambda _checked=False: slot())
            return a

        standard = QKeySequence.StandardKey
        window.back_action = action("&Back", "back", shortcuts(standard.Back, "Alt+Left"), self.back)
        window.forward_action = action(
            "&Forward", "forward", shortcuts(standard.Forward, "Alt+Right"), self.forward
        )
        window.undo_action = action(NOTHING_TO_UNDO, "undo", shortcuts(standard.Undo), self.undo)
        for own in (sv.back_action, sv.forward_action, sv.undo_action):
            own.setShortcut(QKeySequence())

        sv.panel.history_shown.connect(self.show_history)
        sv.batch.undo_changed.connect(lambda _text: self.refresh_undo())
        sv.batch.finished.connect(lambda *_: self.refresh_undo())
        sv.batch.undone.connect(lambda *_: self.refresh_undo())
        dv.undo_changed.connect(self.refresh_undo)
        window.tabs.currentChanged.connect(lambda _index: self.refresh_undo())
        self.show_history(sv.state.history)
        self.refresh_undo()

    # --- Back / Forward -------------------------------------------------------------------------------
    def show_history(self, history: QueryHistory) -> None:
        for a, can, entries, word in (
            (self.w.back_action, history.can_back(), history.back_entries(), "Back"),
            (self.w.forward_action, history.can_forward(), history.forward_entries(), "Forward"),
        ):
            a.setEnabled(can)
            tip = f"{word} to {entries[0][1].query.describe()}" if entries else f"{word}: no other query"
            a.setToolTip(tip)
            a.setStatusTip(tip)

    def back(self) -> None:
        self._on_search_tab(self.w.search_view.go_back)

    def forward(self) -> None:
        self._on_search_tab(self.w.search_view.go_forward)

    def _on_search_tab(self, step: Callable[[], None]) -> None:
        self.w.tabs.setCurrentWidget(self.w.search_view)
        step()

    # --- Undo -----------------------------------------------------------------------------------------
    def undo_offer(self) -> tuple[str, Callable[[], None]] | None:
        """(menu text, the call that undoes it) for the tab in front; None when nothing can be undone."""
        w = self.w
        if w.tabs.currentWidget() is w.duplicates_view:
            text = w.duplicates_view.undo_text()
            return (text, w.duplicates_view.undo) if text else None
        batch = w.search_view.batch
        if batch.last is None or batch.busy:
            return None
        return batch_undo_text(batch.last), batch.undo

    def refresh_undo(self) -> None:
        offer = self.undo_offer()
        self.w.undo_action.setText(offer[0] if offer else NOTHING_TO_UNDO)
        self.w.undo_action.setEnabled(offer is not None)

    def undo(self) -> None:
        # Asked again now: the state may have moved on since the menu was drawn (a batch still running).
        offer = self.undo_offer()
        if offer is not None:
            offer[1]()
        self.refresh_undo()


def build_go_and_undo(window: MainWindow) -> GoAndUndo:
    window.go_and_undo = GoAndUndo(window)
    return window.go_and_undo
