"""The banner's flows about the library's state and its models: no model yet, a model installed, a
weights file refused, the hub unreachable, the library not opening. Each notice names the buttons that
fix it; the library's own sentences, written for the command line, are put in GUI words first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox, QWidget

from irt_desktop.gui.gui_words import gui_text
from irt_desktop.gui.library_client import FAILED, NO_MODEL, READY
from irt_desktop.gui.library_open import is_damaged_error, repair_library
from irt_desktop.gui.model_setup import model_missing_text

if TYPE_CHECKING:
    from irt_desktop.gui.main_window import MainWindow
    from irt_desktop.retrieval.bundle import ModelBundle


class WindowNotices(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.banner = window.banner

    def connect(self) -> None:
        ms = self.window.model_setup
        ms.installed.connect(self.model_installed)
        ms.unavailable.connect(self.model_unavailable)
        ms.failed.connect(self.model_failed)
        self.window.model_manager.failed.connect(self.manager_failed)

    def _dialog_shows_it(self) -> bool:
        """The Models dialog is open: it shows what the setup flows report itself."""
        dialog = self.window._models_dialog
        return dialog is not None and dialog.isVisible()

    def library_failed(self) -> None:
        w = self.window
        error = w.client.open_error
        actions = [("Settings…", w.open_settings), ("Try again", w.client.reopen)]
        if is_damaged_error(error):
            actions.insert(0, ("Repair…", self.ask_repair))
        self.banner.show_message(
            "The library could not be opened",
            f"{gui_text(str(error))}\n\nLibrary folder: {w.client.library_dir}",
            kind="error",
            actions=actions,
        )

    def ask_repair(self, start_empty: bool = False) -> None:
        """Repair a damaged catalog (asks first; nothing is deleted), then open the library again."""
        w = self.window
        if start_empty:
            title = "Start with an empty catalog?"
            text = (
                "There is no sound backup to restore. The damaged catalog is kept aside, renamed "
                "catalog-damaged-<time>.sqlite, and an empty one is started: your photos are not touched, "
                "but the folders must be added again and every photo is indexed again."
            )
            button = "Start empty"
        else:
            title = "Repair the library?"
            text = (
                "The damaged catalog is kept aside, renamed catalog-damaged-<time>.sqlite (nothing is "
                "deleted), and the newest sound backup is restored. Photos added or changed since that "
                "backup are picked up by the next scan; the search index is rebuilt."
            )
            button = "Repair"
        if not confirm(w, title, text, button):
            return
        folder = w.client.library_dir
        w.client.run_in_lane(
            lambda: repair_library(folder, start_empty), self._repaired, self._repair_failed, name="repair"
        )

    def _repaired(self, answer: tuple[bool, list[str]]) -> None:
        ok, lines = answer
        text = gui_text("\n".join(lines))
        if ok:
            self.banner.show_message("The library was repaired", text, kind="info", dismiss=self.banner.hide)
            self.window.client.reopen()
            return
        self.banner.show_message(
            "The library could not be repaired",
            text,
            kind="error",
            actions=[
                ("Start empty…", lambda: self.ask_repair(True)),
                ("Settings…", self.window.open_settings),
            ],
        )

    def _repair_failed(self, exc: BaseException) -> None:
        self.banner.show_message(
            "The library could not be repaired",
            gui_text(str(exc) or type(exc).__name__),
            kind="error",
            actions=[("Try again", self.window.client.reopen), ("Settings…", self.window.open_settings)],
        )

    def model_missing(self, detail: str | None) -> None:
        w = self.window
        self.banner.show_message(
            "No model installed — indexing is waiting",
            model_missing_text(gui_text(detail) if detail else None),
            kind="warning",
            actions=[("Import weights file…", w.import_weights), ("Download", w.fetch_model)],
            dismiss=self.banner.hide,
        )

    def restore(self) -> None:
        """After a notice is dismissed: the banner the library's state calls for, if any."""
        state = self.window.client.state
        if state == NO_MODEL:
            self.model_missing(None)
        elif state == FAILED:
            self.library_failed()
        else:
            self.banner.hide()

    def model_installed(self, bundle: ModelBundle) -> None:
        w = self.window
        card = getattr(bundle, "card", None)
        title = (card.title or card.name) if card is not None else str(getattr(bundle, "id", bundle))
        model_id = str(getattr(bundle, "id", ""))
        w.model_manager.refresh()
        if w.client.state == NO_MODEL:
            # The library's first model: nothing serves that it would replace, so it is simply used.
            self.banner.show_message(
                "Model installed", f"{title} — indexing starts now.", kind="info", dismiss=self.banner.hide
            )
            if model_id:
                w.model_manager.activate(model_id)
            else:
                w.client.check_model()
        elif w.client.state == READY:
            if self._dialog_shows_it():
                return
            serving = w.model_manager.serving
            now = f"search keeps using “{serving.title}”" if serving is not None else "nothing changed"
            self.banner.show_message(
                f"Model installed: {title}",
                f"It is not in use yet: {now}. Switching to it re-indexes your photos; it asks first.",
                kind="info",
                actions=[
                    ("Use it…", lambda: w.ask_to_activate(model_id)),
                    ("Models…", w.open_models_dialog),
                ],
                dismiss=self.restore,
            )
        else:
            w.client.reopen()

    def model_failed(self, text: str) -> None:
        """A weights file that was refused, or a download that failed: said in plain words, the model in
        use and the banner's state left as they were, and dismissable."""
        if self._dialog_shows_it():
            return
        w = self.window
        importing = w.model_setup.last_action == "import"
        title = "The weights file was not imported" if importing else "The model could not be downloaded"
        actions = [("Import another file…" if importing else "Import weights file…", w.import_weights)]
        text = gui_text(text)
        if w.client.state == NO_MODEL:
            text += "\n\nIndexing waits for a model: import another weights file, or download one."
            actions.append(("Download", w.fetch_model))
        else:
            text += "\n\nThe model in use has not changed."
        self.banner.show_message(title, text, kind="error", actions=actions, dismiss=self.restore)

    def model_unavailable(self, text: str) -> None:
        if self._dialog_shows_it():
            return
        if self.window.client.state == NO_MODEL:
            self.model_missing(text)
            return
        self.banner.show_message(
            "The model hub cannot be reached",
            gui_text(text),
            kind="warning",
            actions=[("Import weights file…", self.window.import_weights)],
            dismiss=self.restore,
        )

    def manager_failed(self, title: str, text: str) -> None:
        text = gui_text(text)
        self.window.status.message(f"{title}: {text}", 10000)
        if not self._dialog_shows_it():
            self.banner.show_message(title, text, kind="error", dismiss=self.restore)


def confirm(parent: QWidget, title: str, text: str, button: str) -> bool:
    """Ask before a change to the library's files; `button` names what it does (Cancel is the default)."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=parent)
    go = box.addButton(button, QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(box.addButton(QMessageBox.StandardButton.Cancel))
    box.exec()
    return box.clickedButton() is go
