"""Page 2 of the fine-tune wizard: the run's settings, with a time estimate measured on this device."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
    QWizardPage,
)

from irt_desktop.gui import formatting
from irt_desktop.gui.library_client import LibraryClient
from irt_desktop.gui.tasks import Task

if TYPE_CHECKING:
    from irt_desktop.gui.finetune.wizard import FinetuneWizard

# Recipe defaults arrive in the order asked; speed probes run one at a time (each loads a model).
SETTINGS_LANE = "finetune-settings"
PROBE_LANE = "finetune-probe"
# Held-out photos are embedded before, during (8 times) and after training.
EVALUATIONS = 10


def load_choices(models_dir: Path, client: LibraryClient) -> dict[str, Any]:
    """Worker side: the installed models, the recipes, the device and the library's serving model."""
    from irt_desktop.device import best_device, describe_device
    from irt_desktop.retrieval.bundle import list_bundles
    from irt_desktop.retrieval.training import list_recipes
    from irt_desktop.retrieval.training.finetune import DEFAULT_RECIPE

    library = client.library
    serving = None
    if library is not None:
        serving = getattr(library, "target_model_id", None) or getattr(library, "model_id", None)
    device = best_device(None)
    return {
        "bundles": list_bundles(models_dir),
        "recipes": list_recipes(),
        "default_recipe": DEFAULT_RECIPE,
        "serving": serving,
        "device": device,
        "device_text": describe_device(device),
    }


class SettingsPage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Training settings")
        self.setSubTitle(
            "The defaults follow the paper (IRT_R: contrastive loss with cross-batch memory "
            "and the KoLeo regulariser), sized for personal albums."
        )
        self.base_combo = QComboBox()
        self.base_combo.setAccessibleName("Starting model")
        self.recipe_combo = QComboBox()
        self.variant_combo = QComboBox()
        self.variant_combo.addItem("IRT_R — contrastive + KoLeo (recommended)", "IRT_R")
        self.variant_combo.addItem("IRT_L — contrastive only", "IRT_L")
        self.iterations = QSpinBox()
        self.iterations.setRange(1, 200_000)
        self.iterations.setSingleStep(100)
        self.iterations.setAccessibleName("Iterations")
        self.batch = QSpinBox()
        self.batch.setRange(8, 512)
        self.batch.setSingleStep(8)
        self.batch.setAccessibleName("Batch size")
        self.input_size = QSpinBox()
        self.input_size.setRange(32, 512)
        self.input_size.setSingleStep(16)
        self.input_size.setSuffix(" px")
        self.input_size.setAccessibleName("Input size")
        self.holdout = QSpinBox()
        self.holdout.setRange(5, 80)
        self.holdout.setSuffix(" %")
        self.holdout.setValue(30)
        self.holdout.setAccessibleName("Held-out share")
        for spin in (self.iterations, self.batch, self.input_size):
            spin.setMaximumWidth(160)
        self.split_by = QComboBox()
        self.split_by.addItem("of the classes (measures new albums)", "class")
        self.split_by.addItem("of the photos in every class", "image")
        self.name_edit = QLineEdit()
        self.name_edit.setAccessibleName("Name of the new model")
        self.device_label = QLabel("…")
        self.estimate_label = QLabel("")
        self.estimate_label.setWordWrap(True)
        held = QHBoxLayout()
        held.addWidget(self.holdout)
        held.addWidget(self.split_by, 1)

        def label(text: str, buddy: QWidget) -> QLabel:
            lab = QLabel(text)
            lab.setBuddy(buddy)
            return lab

        form = QFormLayout(self)
        form.addRow(label("Starting &model:", self.base_combo), self.base_combo)
        form.addRow(label("&Recipe:", self.recipe_combo), self.recipe_combo)
        form.addRow(label("&Variant:", self.variant_combo), self.variant_combo)
        form.addRow(label("&Iterations:", self.iterations), self.iterations)
        form.addRow(label("&Batch size:", self.batch), self.batch)
        form.addRow(label("Input si&ze:", self.input_size), self.input_size)
        form.addRow(label("&Hold out:", self.holdout), held)
        form.addRow(label("&Name:", self.name_edit), self.name_edit)
        form.addRow("Device:", self.device_label)
        form.addRow("Estimated time:", self.estimate_label)
        self._loaded = False
        self._speed: dict[tuple, float] = {}
        self._m_per_class = 1
        self._recipe_task: Task | None = None
        # The recipe's defaults overwrite the form when they arrive: not complete until they have, or a
        # value the user typed meanwhile would be lost.
        self._defaults_pending = False
        self.estimated_s = 0.0
        self._estimate_timer = QTimer(self)
        self._estimate_timer.setSingleShot(True)
        self._estimate_timer.setInterval(500)
        self._estimate_timer.timeout.connect(self._measure)
        for spin in (self.iterations, self.batch, self.input_size, self.holdout):
            spin.valueChanged.connect(self._update_estimate)
        self.split_by.currentIndexChanged.connect(self._update_estimate)
        self.base_combo.currentIndexChanged.connect(self._on_base_changed)
        self.recipe_combo.currentIndexChanged.connect(self._on_recipe_changed)

    def initializePage(self) -> None:
        if self.w.state.dataset is not None and self.w.state.usable < 4:
            # Too few classes to hold whole ones out and still train: hold out photos instead.
            self.split_by.setCurrentIndex(1)
        if self._loaded:
            self._update_estimate()
            return
        self.base_combo.clear()
        self.base_combo.addItem("Loading…")
        self.base_combo.setEnabled(False)
        models_dir, client = self.w.models_dir, self.w.client
        self.w.runner.run(
            lambda: load_choices(models_dir, client),
            self._on_choices,
            self._on_choices_failed,
            name="wizard choices",
            lane=SETTINGS_LANE,
        )

    def _on_choices_failed(self, exc: BaseException) -> None:
        self.base_combo.clear()
        self.base_combo.addItem(f"No models: {exc}")
        self.completeChanged.emit()

    def _on_choices(self, choices: dict[str, Any]) -> None:
        st = self.w.state
        st.bundles, st.recipes = choices["bundles"], choices["recipes"]
        st.default_recipe = choices["default_recipe"]
        st.device, st.device_text = choices["device"], choices["device_text"]
        st.serving_model = choices["serving"]
        self.device_label.setText(st.device_text)
        self.base_combo.blockSignals(True)
        self.base_combo.clear()
        current = 0
        for i, b in enumerate(st.bundles):
            kind = b.card.provenance.get("kind", "")
            self.base_combo.addItem(
                f"{b.card.title or b.card.name} ({b.id}{', ' + kind if kind else ''})", b.id
            )
            if b.id == st.serving_model:
                current = i
                self.base_combo.setItemText(i, self.base_combo.itemText(i) + " — in use")
        self.base_combo.setEnabled(bool(st.bundles))
        if not st.bundles:
            self.base_combo.addItem("No model installed: install one first (File ▸ Download default model)")
        self.base_combo.setCurrentIndex(current)
        self.base_combo.blockSignals(False)
        self.recipe_combo.blockSignals(True)
        self.recipe_combo.clear()
        for r in st.recipes:
            self.recipe_combo.addItem(r, r)
        self.recipe_combo.setCurrentIndex(max(0, self.recipe_combo.findData(st.default_recipe)))
        self.recipe_combo.blockSignals(False)
        self._loaded = True
        self._on_recipe_changed()
        self._on_base_changed()
        self.completeChanged.emit()

    def _on_recipe_changed(self) -> None:
        name = self.recipe_combo.currentData()
        if not name:
            return

        def apply(defaults: dict[str, Any]) -> None:
            self._defaults_pending = False
            self._m_per_class = int(defaults["m_per_class"])
            self.iterations.setValue(int(defaults["iterations"]))
            self.batch.setValue(int(defaults["batch_size"]))
            self.variant_combo.setCurrentIndex(0 if defaults["koleo_weight"] > 0 else 1)
            self._update_estimate()
            self.completeChanged.emit()

        def failed(exc: BaseException) -> None:
            self._defaults_pending = False
            self.estimate_label.setText(f"Could not read the recipe {name}: {exc}")
            self.completeChanged.emit()

        def defaults() -> dict[str, Any]:
            from irt_desktop.retrieval.training.finetune import recipe_defaults

            return recipe_defaults(name)

        if self._recipe_task is not None:
            self._recipe_task.abandon()  # the user picked another recipe since
        self._defaults_pending = True
        self.completeChanged.emit()
        self._recipe_task = self.w.runner.run(
            defaults, apply, failed, name="recipe defaults", lane=SETTINGS_LANE
        )

    def _on_base_changed(self) -> None:
        base = self.selected_base()
        if base is None:
            return
        self.input_size.setValue(int(base.card.spec.input_size))
        if not self.name_edit.isModified():
            # Loaded on the worker with the choices, so this import costs nothing here.
            from irt_desktop.retrieval.training.finetune import model_slug

            roots = self.w.state.roots
            album = model_slug(roots[0].name) if roots else "albums"
            self.name_edit.setText(f"{base.card.name}-{album}")
        self._update_estimate()

    def selected_base(self) -> Any:
        bid = self.base_combo.currentData()
        return next((b for b in self.w.state.bundles if b.id == bid), None)

    def _speed_key(self, base: Any) -> tuple:
        return (base.id, self.input_size.value(), self.w.state.device)

    def _update_estimate(self) -> None:
        base = self.selected_base()
        if base is None:
            return
        key = self._speed_key(base)
        if key in self._speed:
            self._show_estimate(self._speed[key])
        else:
            self.estimate_label.setText("Measuring this device's speed…")
            self._estimate_timer.start()

    def _measure(self) -> None:
        base = self.selected_base()
        if base is None:
            return
        key = self._speed_key(base)
        size, device = self.input_size.value(), self.w.state.device

        def probe() -> float:
            # In this process for now; finetune.measure_speed_in_child runs it beside the GUI instead.
            from irt_desktop.retrieval.training.finetune import measure_speed

            return measure_speed(base, size, device)

        def done(speed: float) -> None:
            self._speed[key] = speed
            self._update_estimate()

        def failed(exc: BaseException) -> None:
            self.estimate_label.setText(f"Could not measure: {exc}")

        self.w.runner.run(probe, done, failed, name="speed probe", lane=PROBE_LANE)

    def _show_estimate(self, images_per_s: float) -> None:
        from irt_desktop.retrieval.training.finetune import estimate_seconds, round_batch

        batch, note = round_batch(self.batch.value(), self._m_per_class)
        n = len(self.w.state.dataset.records) if self.w.state.dataset is not None else 0
        held_out = round(n * self.holdout.value() / 100)
        seconds = estimate_seconds(self.iterations.value() * batch, EVALUATIONS * held_out, images_per_s)
        self.estimated_s = seconds
        self.estimate_label.setText(
            f"about {formatting.duration(seconds)} on this device "
            f"({images_per_s:.0f} training images/s measured; decoding adds to this on slow disks)"
            + (f"\n{note[0].upper()}{note[1:]}." if note else "")
        )

    def isComplete(self) -> bool:
        return (
            self._loaded
            and not self._defaults_pending
            and self.selected_base() is not None
            and bool(self.name_edit.text().strip())
        )

    def validatePage(self) -> bool:
        from irt_desktop.retrieval.training.finetune import model_slug

        st = self.w.state
        st.base = self.selected_base()
        st.recipe = self.recipe_combo.currentData() or st.default_recipe
        st.variant = self.variant_combo.currentData()
        st.iterations = self.iterations.value()
        st.batch_size = self.batch.value()
        st.input_size = self.input_size.value()
        st.holdout = self.holdout.value() / 100
        st.split_by = self.split_by.currentData()
        st.name = model_slug(self.name_edit.text())
        return st.base is not None
