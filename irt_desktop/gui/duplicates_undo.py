"""The Duplicates tab's trash and undo: the per-kind confirmation (how many files, how much space, which
folders), the move to the trash in the library lane, and Undo of any of the last several actions from
the catalog's trash journal (so also after a restart). A mixin of DuplicatesView: it uses the view's
model, client, panes and undo button, and its `undo_changed` signal (the window's Edit > Undo follows)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox

from irt_desktop.gui import formatting
from irt_desktop.gui.duplicates_model import history_label, history_tooltip

if TYPE_CHECKING:
    from irt_desktop.library.trash import TrashAction, TrashResult

HISTORY = 10  # trash actions offered for undo


def trash_undo_text(action: TrashAction) -> str:
    """What Edit > Undo says it will undo: the action as it was asked for ("Move 3 exact copies to
    Trash"); a trash from the Search tab has no label and counts photos."""
    what = action.label or formatting.plural(len(action.items), "photo")
    return f"&Undo Move {what} to Trash"


class TrashUndo:
    # -- trash and undo ----------------------------------------------------------------------------------

    def describe(self, kind: str) -> tuple[str, str]:
        return self.model.describe(kind)

    def confirm_trash(self, kind: str) -> bool:
        """The explicit confirmation; a separate method so tests can answer it."""
        head, folders = self.describe(kind)
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Move to trash?")
        box.setText(head)
        box.setInformativeText(
            folders + "\n\nYou can undo this here (also after a restart), or restore them "
            "from the system trash."
        )
        box.setDetailedText("\n".join(self.checked_paths(kind)))
        move = box.addButton("Move to Trash", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is move

    def trash_checked(self, kind: str) -> None:
        infos = self.model.checked_infos(kind)
        if not infos or not self.confirm_trash(kind):
            return
        self.trash_buttons[kind].setEnabled(False)
        ids = [i.id for i in infos]
        label = self.model.noun(kind, len(ids))
        self.client.submit(
            lambda lib: lib.trash(ids, label=label),
            lambda result, k=kind: self._on_trashed(k, result),
            self._on_trash_failed,
            name="trash",
        )

    def _on_trashed(self, kind: str, result: TrashResult) -> None:
        gone = {f.image_id for f in result.moved}
        self.model.checked[kind] -= gone
        if result.failed:
            # Not modal: the answer arrives asynchronously and must not stall anything behind a dialog.
            box = QMessageBox(
                QMessageBox.Icon.Warning,
                "Some files were not moved",
                f"{formatting.plural(len(result.failed), 'file')} stay where they are.",
                parent=self,
            )
            box.setDetailedText("\n".join(f"{p}: {why}" for p, why in result.failed))
            box.open()
            self._failure_box = box
        self.status_message.emit(
            f"Moved {formatting.plural(len(result.moved), 'file')} to the trash "
            f"({formatting.size(result.freed)} freed once it is emptied)"
        )
        self._update_trash_buttons()
        if result.moved:
            self.find()  # the lists, totals and undo history as they are now

    def _on_trash_failed(self, exc: BaseException) -> None:
        self._update_trash_buttons()
        self.status_message.emit(f"Nothing was moved to the trash: {exc}")

    def refresh_history(self) -> None:
        self.client.submit(
            lambda lib: lib.trash_history(HISTORY), self._show_history, lambda _e: None, name="trash history"
        )

    def _show_history(self, history: list[TrashAction]) -> None:
        self.model.history = list(history)
        self.undo_menu.clear()
        for action in history:
            entry = QAction(history_label(action), self.undo_menu)
            entry.setToolTip(history_tooltip(action))
            entry.triggered.connect(lambda _=False, a=action: self.undo(a))
            self.undo_menu.addAction(entry)
        self.undo_menu.setToolTipsVisible(True)
        self.undo_button.setEnabled(bool(history))
        if history:
            self.undo_button.setText(f"&Undo: put back {formatting.plural(len(history[0].items), 'file')}")
            self.undo_button.setToolTip(history_tooltip(history[0]))
        else:
            self.undo_button.setText("&Undo trash")
            self.undo_button.setToolTip("Nothing to put back")
        self.undo_changed.emit()

    def undo_text(self) -> str:
        """The menu text of undoing the latest action; "" when there is none, or an undo is under way."""
        if not self.model.history or not self.undo_button.isEnabled():
            return ""
        return trash_undo_text(self.model.history[0])

    def undo(self, action: TrashAction | None = None) -> None:
        """Put back `action` (default: the latest) from the trash."""
        action = action or (self.model.history[0] if self.model.history else None)
        if action is None:
            return
        self.undo_button.setEnabled(False)
        self.undo_changed.emit()
        self.client.submit(
            lambda lib: lib.restore(action), self._on_restored, self._on_undo_failed, name="undo"
        )

    def _on_restored(self, result: TrashResult) -> None:
        msg = f"Put back {formatting.plural(len(result.moved), 'file')}"
        if result.failed:
            msg += "; " + "; ".join(f"{p}: {why}" for p, why in result.failed)
        self.status_message.emit(msg)
        self.find()

    def _on_undo_failed(self, exc: BaseException) -> None:
        self.undo_button.setEnabled(True)
        self.undo_changed.emit()
        self.status_message.emit(f"Could not undo: {exc}")
