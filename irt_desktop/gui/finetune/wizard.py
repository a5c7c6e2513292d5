"""The fine-tune wizard: teach the model the user's own albums (one class per sub-folder).

1. Folders (folders_page): classes with counts and samples, a warning for classes with fewer than 2 photos.
2. Settings (settings_page): starting model, recipe (IRT_R by default), iterations and batch sized to the
   photos and to this device's measured speed (finetune.plan.size_run), input size, held-out split, a
   model name no earlier run uses (a taken one is asked about: resume, start over, or another name).
3. Training (training_page): live loss and held-out Recall@1 charts, ETA, stop; a failure in full.
4. Result (result_page): Recall@1 before and after with bootstrap intervals (finetune.compare), and the
   warning they carry when the held-out photos cannot tell the models apart; keep the bundle;
   optionally activate it for the library (re-embedding runs in the background, search keeps working).

The job itself is retrieval.training.finetune, shared with `irt-desktop train`: the pages gather the
user's choices, hand them to it through the task runner and show what it reports. What the user chose is
remembered for the next opening (AppSettings.wizard_state).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMessageBox, QWidget, QWizard

from irt_desktop.gui.finetune.folders_page import FoldersPage
from irt_desktop.gui.finetune.naming import AskName, Confirm, ask_name_box, confirm_box
from irt_desktop.gui.finetune.result_page import ResultPage
from irt_desktop.gui.finetune.settings_page import SettingsPage
from irt_desktop.gui.finetune.training_page import TrainingPage
from irt_desktop.gui.library_client import LibraryClient
from irt_desktop.gui.models_view_model import ModelsViewModel
from irt_desktop.gui.settings import AppSettings
from irt_desktop.gui.tasks import TaskRunner
from irt_desktop.gui.thumbnails import ThumbnailLoader
from irt_desktop.paths import LibraryLayout

# How long closing the wizard waits for a stopped run to save its checkpoint.
STOP_WAIT_MS = 60_000


@dataclass
class WizardState:
    """What the pages decide and what the run reports, in one place. Retrieval objects are typed Any:
    importing their modules here would load torch before the wizard's first frame."""

    roots: list[Path] = field(default_factory=list)
    dataset: Any = None  # retrieval.datasets.FolderDataset
    usable: int = 0  # classes with at least 2 photos
    bundles: list[Any] = field(default_factory=list)
    recipes: list[str] = field(default_factory=list)
    default_recipe: str = ""
    device: str = ""
    device_text: str = ""
    serving_model: str | None = None
    base: Any = None  # retrieval.bundle.ModelBundle
    recipe: str = ""
    variant: str = "IRT_R"
    iterations: int = 1000
    batch_size: int = 64
    evaluations: int | None = None  # held-out measurements during training (None: the plan's)
    input_size: int = 224
    holdout: float = 0.3
    split_by: str = "class"
    name: str = ""
    resume: bool = True
    start_over: bool = False  # set the name's earlier run aside first (finetune.runs.set_aside)
    estimate_s: float = 0.0
    before: dict[str, float] | None = None
    after: dict[str, float] | None = None
    result: Any = None  # retrieval.training.finetune.FinetuneResult
    error: str = ""

    def run_choices(self, bf16: bool) -> dict[str, Any]:
        """The FinetuneSettings fields the run is planned with (the settings page checks the same plan
        for an earlier run under its name)."""
        return {
            "recipe": self.recipe or None,
            "variant": self.variant,
            "iterations": self.iterations,
            "batch_size": self.batch_size,
            "evaluations": self.evaluations,
            "input_size": self.input_size,
            "holdout": self.holdout,
            "split_by": self.split_by,
            "name": self.name,
            "precision": "auto" if bf16 else "fp32",
            "resume": self.resume,
        }


class FinetuneWizard(QWizard):
    model_ready = Signal(object, bool)  # bundle, activated

    def __init__(
        self,
        client: LibraryClient,
        settings: AppSettings,
        thumbnails: ThumbnailLoader,
        parent: QWidget | None = None,
        runner: TaskRunner | None = None,
        *,
        models: ModelsViewModel | None = None,
        ask_name: AskName = ask_name_box,
        confirm: Confirm = confirm_box,
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.settings = settings
        self.thumbnails = thumbnails
        # Told when a model was added or removed, so every list of models (the manager, the benchmark
        # pane) shows it.
        self.models = models
        self.ask_name = ask_name
        self.confirm = confirm
        self._owns_runner = runner is None
        self.runner = runner if runner is not None else TaskRunner(parent=self)
        self.state = WizardState()
        self.setWindowTitle("Fine-tune the model on your albums")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.folders_page = FoldersPage(self)
        self.settings_page = SettingsPage(self)
        self.training_page = TrainingPage(self)
        self.result_page = ResultPage(self)
        for page in (self.folders_page, self.settings_page, self.training_page, self.result_page):
            self.addPage(page)
        self.setButtonText(QWizard.WizardButton.FinishButton, "&Finish")
        self.model_ready.connect(lambda *_: self._models_changed())
        self.resize(900, 640)

    @property
    def library_dir(self) -> Path:
        return Path(self.client.library_dir)

    @property
    def models_dir(self) -> Path:
        return LibraryLayout(self.library_dir).models

    @property
    def work_root(self) -> Path:
        from irt_desktop.retrieval.training.finetune.plan import WORK_FOLDER

        return self.library_dir / WORK_FOLDER

    def remember(self, **values: Any) -> None:
        """Merge `values` into what the next opening of the wizard starts from."""
        self.settings.set_wizard_state({**self.settings.wizard_state(), **values})

    def remembered(self) -> dict[str, Any]:
        return self.settings.wizard_state()

    def finish_model(self, keep: bool, activate: bool) -> bool:
        bundle = getattr(self.state.result, "bundle", None)
        if bundle is None:
            return True
        if not keep:
            path = Path(bundle.path)
            # Only a bundle this run added: one with the same id existed before the run (a run that
            # reproduced a model already installed) is not this run's to remove.
            if path.parent == self.models_dir and bundle.id not in self.installed_before:
                shutil.rmtree(path, ignore_errors=True)
                self._models_changed()
            return True
        if activate:
            self.client.activate_model(bundle)
        self.model_ready.emit(bundle, activate)
        return True

    @property
    def installed_before(self) -> set[str]:
        """Ids of the models installed when the settings page listed them."""
        return {b.id for b in self.state.bundles}

    def _models_changed(self) -> None:
        if self.models is not None:
            self.models.refresh()

    def reject(self) -> None:
        if self.training_page.running:
            answer = QMessageBox.question(
                self,
                "Stop training?",
                "Training is still running. Stop it? Progress so far is kept and resumes next time.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.shutdown()
        super().reject()

    def shutdown(self) -> None:
        """Stop the run and wait for it to save its checkpoint; nothing reports to the pages after this.
        A runner handed in by the window is the window's to shut down."""
        self.training_page.stop(wait_ms=STOP_WAIT_MS)
        if self._owns_runner:
            self.runner.shutdown(STOP_WAIT_MS)
