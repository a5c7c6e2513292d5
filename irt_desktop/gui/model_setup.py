"""First run: getting a descriptor model into the library.

Fetching the default model's pretrained weights runs on a TaskThread behind a progress dialog; offline,
retrieval.weights says so within about 2 s and the window explains how to import a weights file instead.
Importing a file (.safetensors or a DeiT .pth, read without unpickling code) also runs on a worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QInputDialog, QProgressDialog, QWidget

from irt_desktop.gui import formatting
from irt_desktop.gui.settings import AppSettings
from irt_desktop.gui.workers import TaskThread
from irt_desktop.retrieval.zoo import DEFAULT_CARD

WEIGHTS_FILTER = "Model weights (*.safetensors *.pth *.pt *.bin);;All files (*)"


def _default_install(card_name: str, models_dir: Path, progress: Callable[[int, int], None]) -> Any:
    from irt_desktop.retrieval.card import shipped_cards
    from irt_desktop.retrieval.weights import install_pretrained

    return install_pretrained(shipped_cards()[card_name], models_dir, progress=progress)


def _default_import(path: Path, card_name: str, models_dir: Path) -> Any:
    from irt_desktop.retrieval.card import shipped_cards
    from irt_desktop.retrieval.weights import import_weights

    return import_weights(path, shipped_cards()[card_name], models_dir)


def _card_titles() -> list[tuple[str, str]]:
    from irt_desktop.retrieval.card import shipped_cards

    return [(name, card.title or name) for name, card in shipped_cards().items()]


def is_unavailable(exc: BaseException) -> bool:
    return type(exc).__name__ == "WeightsUnavailable"


class ModelSetup(QObject):
    """Runs the install/import flows; the main window shows what they report."""

    installed = Signal(object)  # ModelBundle
    unavailable = Signal(str)  # offline / not downloadable: the message says what to do
    failed = Signal(str)
    busy_changed = Signal(bool)

    def __init__(
        self,
        library_dir: Path,
        settings: AppSettings,
        installer: Callable[[str, Path, Callable[[int, int], None]], Any] | None = None,
        importer: Callable[[Path, str, Path], Any] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.library_dir = Path(library_dir)
        self.settings = settings
        self._installer = installer or _default_install
        self._importer = importer or _default_import
        self._task: TaskThread | None = None
        self.dialog: QProgressDialog | None = None

    @property
    def models_dir(self) -> Path:
        from irt_desktop.paths import models_dir

        return models_dir(self.library_dir)

    @property
    def busy(self) -> bool:
        return self._task is not None

    def fetch_default(self, parent: QWidget | None, card_name: str = DEFAULT_CARD) -> None:
        if self.busy:
            return
        dialog = QProgressDialog("Getting the model's weights…", "Cancel", 0, 0, parent)
        dialog.setWindowTitle("Downloading the model")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setMinimumWidth(420)
        self.dialog = dialog

        def work(progress: Callable[[Any], None], cancel: threading.Event) -> Any:
            return self._installer(card_name, self.models_dir, lambda done, total: progress((done, total)))

        task = TaskThread(work, parent=self, name="model download")
        task.progressed.connect(self._on_download_progress)
        task.succeeded.connect(self._on_installed)
        task.failed.connect(self._on_failed)
        task.cancelled.connect(lambda: self._finish_task(None, "Download cancelled."))
        dialog.canceled.connect(task.cancel)
        self._start(task)
        dialog.show()

    def _on_download_progress(self, values: list[tuple[int, int]]) -> None:
        # A local: QProgressDialog.setValue() on a modal dialog runs the event loop, which may finish the
        # task and drop self.dialog under our feet.
        dialog = self.dialog
        if dialog is None or not values:
            return
        done, total = values[-1]
        if total > 0:
            text = f"Downloading the model's weights… {formatting.size(done)} of {formatting.size(total)}"
            dialog.setLabelText(text)
            dialog.setRange(0, 1000)
            dialog.setValue(round(1000 * done / total))
        else:
            dialog.setLabelText(f"Downloading the model's weights… {formatting.size(done)}")

    def import_file(
        self, parent: QWidget | None, path: Path | None = None, card_name: str | None = None
    ) -> None:
        if self.busy:
            return
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(
                parent, "Import model weights", self.settings.last_dir, WEIGHTS_FILTER
            )
            if not chosen:
                return
            path = Path(chosen)
            self.settings.last_dir = str(path.parent)
        if card_name is None:
            cards = _card_titles()
            names = [n for n, _ in cards]
            titles = [t for _, t in cards]
            default = names.index(DEFAULT_CARD) if DEFAULT_CARD in names else 0
            title, ok = QInputDialog.getItem(
                parent, "Which model are these weights for?", "Backbone:", titles, default, False
            )
            if not ok:
                return
            card_name = names[titles.index(title)]
        dialog = QProgressDialog(f"Importing {path.name}…", None, 0, 0, parent)
        dialog.setWindowTitle("Importing the model")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setCancelButton(None)
        self.dialog = dialog

        def work(progress: Callable[[Any], None], cancel: threading.Event) -> Any:
            return self._importer(path, card_name, self.models_dir)

        task = TaskThread(work, parent=self, name="model import")
        task.succeeded.connect(self._on_installed)
        task.failed.connect(self._on_failed)
        self._start(task)
        dialog.show()

    def _start(self, task: TaskThread) -> None:
        self._task = task
        self.busy_changed.emit(True)
        task.start()

    def _on_installed(self, bundle: Any) -> None:
        self._finish_task(bundle, None)

    def _on_failed(self, exc: BaseException) -> None:
        if is_unavailable(exc):
            self._finish_task(None, None)
            self.unavailable.emit(str(exc))
        else:
            self._finish_task(None, str(exc) or type(exc).__name__)

    def _finish_task(self, bundle: Any, error: str | None) -> None:
        if self._task is not None:
            self._task.wait(2000)
            self._task.deleteLater()
            self._task = None
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
        self.busy_changed.emit(False)
        if bundle is not None:
            self.installed.emit(bundle)
        elif error:
            self.failed.emit(error)

    def shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task.wait(5000)
