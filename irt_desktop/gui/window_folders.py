"""The main window's folder actions: add (dialog or drop), remove (asks first), filter the search to
one folder, and the list of files that could not be read. A mixin of MainWindow, which provides
`client`, `settings`, `tabs`, `search_view` and the status bar."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QMessageBox

from irt_desktop.gui.unreadable_dialog import UnreadableFilesDialog

if TYPE_CHECKING:
    from irt_desktop.library.records import Failure, Root, Skipped


class FolderActions:
    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos", self.settings.last_dir)
        if folder:
            self.settings.last_dir = folder
            self.add_folders([Path(folder)])

    def add_folders(self, folders: list[Path]) -> None:
        known = {Path(r.path) for r in self.client.roots}
        for folder in folders:
            if folder in known:
                self.statusBar().showMessage(f"{folder} is already in the library", 5000)
                continue
            self.client.add_root(folder)

    def remove_root(self, root: Root) -> None:
        answer = QMessageBox.question(
            self,
            "Stop watching this folder?",
            f"Remove {root.path} from the library?\n\nThe photos stay on disk; only their entries in the "
            "library are removed, and they no longer appear in searches.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.client.remove_root(root.id)

    def _filter_to_root(self, root: Root) -> None:
        self.tabs.setCurrentWidget(self.search_view)
        self.search_view.filter_to_root(root)

    def show_failures(self) -> None:
        def show(found: tuple[list[Failure], list[Skipped]]) -> None:
            self._failures_box = UnreadableFilesDialog(found[0], self, found[1])
            self._failures_box.open()

        self.client.submit(lambda lib: (lib.failures(), lib.skipped()), show, name="list unreadable files")
