"""Getting a descriptor model into the library: download a starting point, or import a weights file.

Fetching a starting point's pretrained weights runs on the window's TaskRunner behind a progress dialog.
Offline, it says so within 2 s: the hub is probed (at most OFFLINE_PROBE_S, DNS included) before torch
is even imported, unless the weights are in the local Hugging Face cache already, and the message names
the import alternative. Importing a file (.safetensors or a DeiT .pth, read without unpickling code, its
backbone detected from the tensors unless the user names one) also runs there. Neither switches the
library to the new model: that is the model manager's, and it asks first.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QInputDialog, QProgressDialog, QWidget

from irt_desktop.gui import formatting
from irt_desktop.gui.gui_words import gui_text
from irt_desktop.gui.settings import AppSettings
from irt_desktop.gui.tasks import Task, TaskRunner
from irt_desktop.paths import LibraryLayout
from irt_desktop.retrieval.zoo import DEFAULT_CARD

if TYPE_CHECKING:
    from irt_desktop.retrieval.bundle import ModelBundle

WEIGHTS_FILTER = "Model weights (*.safetensors *.pth *.pt *.bin);;All files (*)"
# What the banner says while the library has no model; about the default card (DEFAULT_CARD), whose
# facts live in model/cards/ (reading them here would load torch before the window is up).
MODEL_MISSING_TEXT = (
    "Photos are not indexed and cannot be searched until a descriptor model is installed. "
    "irt-desktop downloads the DeiT-S weights (about 90 MB) once; without internet access, "
    "import the weights file (model.safetensors from "
    "huggingface.co/timm/deit_small_patch16_224.fb_in1k, "
    "or the official DeiT .pth) from another computer."
)

Installer = Callable[[str, Path, Callable[[int, int], None]], "ModelBundle"]
# (weights file, card name or None to detect the backbone from the tensors, models folder)
Importer = Callable[[Path, "str | None", Path], "ModelBundle"]
DETECT = "Detect from the file (recommended)"
# The whole offline check, name lookup included, answers within this long.
OFFLINE_PROBE_S = 1.5


class HubUnreachable(RuntimeError):
    """The model hub cannot be reached and the weights are not cached; the message says what to do."""


def model_missing_text(detail: str | None) -> str:
    """The banner's text: why nothing is indexed and how to fix it, after `detail` when there is one."""
    if not detail:
        return MODEL_MISSING_TEXT
    return detail if "import" in detail.lower() else f"{detail}\n\n{MODEL_MISSING_TEXT}"


def _default_install(card_name: str, models_dir: Path, progress: Callable[[int, int], None]) -> ModelBundle:
    from irt_desktop.retrieval.card import shipped_cards

    card = shipped_cards()[card_name]
    tag = str(card.weights.get("timm_tag", ""))
    if tag and not _in_hub_cache(tag) and not hub_reachable_soon():
        raise HubUnreachable(offline_text(card.title or card.name, tag))
    from irt_desktop.retrieval.weights import install_pretrained  # loads torch: after the fast check

    return install_pretrained(card, models_dir, progress=progress)


def offline_text(title: str, timm_tag: str) -> str:
    return (
        f"The weights of {title} are not on this computer and the model hub (huggingface.co) cannot be "
        "reached, so they cannot be downloaded now. Connect to the internet and try again, or download "
        f"model.safetensors from https://huggingface.co/timm/{timm_tag} on another computer and bring it "
        "in with Import weights file…"
    )


def _in_hub_cache(timm_tag: str) -> bool:
    from irt_desktop.library.model_store import weights_in_hub_cache

    return weights_in_hub_cache(timm_tag)


def hub_reachable_soon(timeout: float = OFFLINE_PROBE_S) -> bool:
    from irt_desktop.library.model_store import hub_reachable_soon as reachable

    return reachable(timeout)


def _default_import(path: Path, card_name: str | None, models_dir: Path) -> ModelBundle:
    from irt_desktop.retrieval.card import shipped_cards
    from irt_desktop.retrieval.weights import import_weights

    return import_weights(path, shipped_cards()[card_name] if card_name else None, models_dir)


def _card_titles() -> list[tuple[str, str]]:
    from irt_desktop.retrieval.card import shipped_cards

    return [(name, card.title or name) for name, card in shipped_cards().items()]


def is_unavailable(exc: BaseException) -> bool:
    """True for retrieval.weights.WeightsUnavailable (and the fast offline check's HubUnreachable).
    Looked up, never imported: an instance exists only once that module is loaded, and importing it from
    the GUI thread would load torch."""
    if isinstance(exc, HubUnreachable):
        return True
    weights = sys.modules.get("irt_desktop.retrieval.weights")
    return weights is not None and isinstance(exc, weights.WeightsUnavailable)


def failure_text(exc: BaseException, path: Path | None) -> str:
    """The one sentence retrieval.weights gives, naming the file when the sentence does not."""
    text = (str(exc) or type(exc).__name__).strip()
    # retrieval's sentences speak to the CLI; the import dialog's own words for the same choice:
    text = gui_text(text)  # the import dialog's own words for what retrieval says in options
    if path is not None and not text.startswith(path.name):
        text = f"{path.name}: {text}"
    return text


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
        installer: Installer | None = None,
        importer: Importer | None = None,
        parent: QObject | None = None,
        *,
        runner: TaskRunner | None = None,
    ) -> None:
        """`runner`: the window's task runner (a new one when used on its own)."""
        super().__init__(parent)
        self.library_dir = Path(library_dir)
        self.settings = settings
        self.runner = runner if runner is not None else TaskRunner(parent=self)
        self._installer = installer or _default_install
        self._importer = importer or _default_import
        self._busy = False
        self._task: Task | None = None
        self.dialog: QProgressDialog | None = None
        # "download" or "import": what the last flow was (what a failure message is about).
        self.last_action = "download"
        self._importing: Path | None = None

    @property
    def models_dir(self) -> Path:
        return LibraryLayout(self.library_dir).models

    @property
    def busy(self) -> bool:
        return self._busy

    def fetch_default(self, parent: QWidget | None, card_name: str = DEFAULT_CARD) -> None:
        if self.busy:
            return
        self.last_action, self._importing = "download", None
        dialog = QProgressDialog("Getting the model's weights…", "Cancel", 0, 0, parent)
        dialog.setWindowTitle("Downloading the model")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setMinimumWidth(420)
        self.dialog = dialog

        def work(progress: Callable[[Any], None], cancel: threading.Event) -> ModelBundle:
            return self._installer(card_name, self.models_dir, lambda done, total: progress((done, total)))

        self._start()
        task = self.runner.run_with_progress(
            work,
            self._on_download_progress,
            self._on_installed,
            self._on_failed,
            name="model download",
            on_cancelled=lambda: self._finish_task(None, "Download cancelled."),
        )
        # The download stops at its next progress report and still says so (cancel_event, not cancel()).
        dialog.canceled.connect(task.cancel_event.set)
        self._started(task, dialog)

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
            names = ["", *(n for n, _ in cards)]
            titles = [DETECT, *(t for _, t in cards)]
            title, ok = QInputDialog.getItem(
                parent, "Which model are these weights for?", "Backbone:", titles, 0, False
            )
            if not ok:
                return
            card_name = names[titles.index(title)]
        self.last_action, self._importing = "import", path
        wanted = card_name or None
        dialog = QProgressDialog(f"Importing {path.name}…", None, 0, 0, parent)
        dialog.setWindowTitle("Importing the model")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setCancelButton(None)
        self.dialog = dialog

        self._start()
        task = self.runner.run(
            lambda: self._importer(path, wanted, self.models_dir),
            self._on_installed,
            self._on_failed,
            name="model import",
        )
        self._started(task, dialog)

    def _start(self) -> None:
        self._busy = True
        self.busy_changed.emit(True)

    def _started(self, task: Task, dialog: QProgressDialog) -> None:
        # An inline executor (tests) has already finished the task and closed the dialog by now.
        if self._busy:
            self._task = task
            dialog.show()

    def _on_installed(self, bundle: ModelBundle) -> None:
        self._finish_task(bundle, None)

    def _on_failed(self, exc: BaseException) -> None:
        if is_unavailable(exc):
            self._finish_task(None, None)
            self.unavailable.emit(str(exc))
        else:
            self._finish_task(None, failure_text(exc, self._importing))

    def _finish_task(self, bundle: ModelBundle | None, error: str | None) -> None:
        self._task = None
        self._busy = False
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
        """At close: stop a download at its next report; whatever it still answers is dropped."""
        if self._task is not None:
            self._task.cancel()
            self._task.wait(5000)
