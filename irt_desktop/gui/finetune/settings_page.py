"""Page 2 of the fine-tune wizard: the run's settings, sized to the photos and to this device.

Iterations and batch follow finetune.plan.size_run (about 20 passes over the photos, cut to the 15-min
budget at the cost a probe times on this device) until the user sets one; "Use suggested size" goes back
to the sizing. The estimate shown is the same cost model at the values in the form. The name proposed
is one no installed model and no earlier run uses; a taken one is asked about on Next (naming).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
    QWizardPage,
)

from irt_desktop.gui.finetune.estimate import estimate_lines
from irt_desktop.gui.finetune.jobs import load_choices, probe_cost
from irt_desktop.gui.finetune.naming import CANCEL, RENAME, resolve_taken_name
from irt_desktop.gui.tasks import Task

if TYPE_CHECKING:
    from irt_desktop.gui.finetune.wizard import FinetuneWizard

# Recipe defaults arrive in the order asked; cost probes run one at a time (each builds a model).
SETTINGS_LANE = "finetune-settings"
PROBE_LANE = "finetune-probe"


class SettingsPage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Training settings")
        self.setSubTitle(
            "The defaults follow the paper (IRT_R: contrastive loss with cross-batch memory and the "
            "KoLeo regulariser), sized to your photos and to this computer's speed."
        )
        self.base_combo = QComboBox()
        self.base_combo.setAccessibleName("Starting model")
        self.recipe_combo = QComboBox()
        self.variant_combo = QComboBox()
        self.variant_combo.addItem("IRT_R — contrastive + KoLeo (recommended)", "IRT_R")
        self.variant_combo.addItem("IRT_L — contrastive only", "IRT_L")
        for combo in (self.base_combo, self.recipe_combo, self.variant_combo):
            # Long model titles must not widen the wizard past a small screen.
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(24)
        self.iterations = QSpinBox()
        self.iterations.setRange(1, 200_000)
        self.iterations.setSingleStep(10)
        self.iterations.setAccessibleName("Iterations")
        self.batch = QSpinBox()
        self.batch.setRange(8, 512)
        self.batch.setSingleStep(4)
        self.batch.setAccessibleName("Batch size")
        self.suggest_button = QPushButton("Use &suggested size")
        self.suggest_button.setToolTip("Iterations and batch sized to your photos and this computer")
        self.suggest_button.clicked.connect(self.use_suggested)
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
            spin.setMinimumWidth(110)
            spin.setMaximumWidth(160)
        self.split_by = QComboBox()
        self.split_by.addItem("of the classes (measures new albums)", "class")
        self.split_by.addItem("of the photos in every class", "image")
        self.name_edit = QLineEdit()
        self.name_edit.setAccessibleName("Name of the new model")
        self.device_label = QLabel("…")
        self.device_label.setWordWrap(True)
        self.estimate_label = QLabel("")
        self.estimate_label.setWordWrap(True)
        self.estimate_label.setAccessibleName("Estimated time")
        held = QHBoxLayout()
        held.addWidget(self.holdout)
        held.addWidget(self.split_by, 1)
        size_row = QHBoxLayout()
        size_row.addWidget(self.iterations)
        size_row.addWidget(self.suggest_button)
        size_row.addStretch(1)

        def label(text: str, buddy: QWidget) -> QLabel:
            lab = QLabel(text)
            lab.setBuddy(buddy)
            return lab

        form = QFormLayout(self)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow(label("Starting &model:", self.base_combo), self.base_combo)
        form.addRow(label("&Recipe:", self.recipe_combo), self.recipe_combo)
        form.addRow(label("&Variant:", self.variant_combo), self.variant_combo)
        form.addRow(label("&Iterations:", self.iterations), size_row)
        form.addRow(label("&Batch size:", self.batch), self.batch)
        form.addRow(label("Input si&ze:", self.input_size), self.input_size)
        form.addRow(label("&Hold out:", self.holdout), held)
        form.addRow(label("&Name:", self.name_edit), self.name_edit)
        form.addRow("Device:", self.device_label)
        form.addRow("Estimated time:", self.estimate_label)
        self._loaded = False
        self._costs: dict[tuple, Any] = {}
        self._probe_failed: dict[tuple, str] = {}
        self._probing: tuple | None = None
        self._recipe: dict[str, Any] = {"m_per_class": 1, "batch_size": 64, "iterations": 1000}
        self._recipe_task: Task | None = None
        self._restored = False
        # Iterations and batch follow the sizing until the user sets one of them.
        self.auto_size = True
        self._setting = False
        self.suggested: Any = None  # finetune.RunSize
        # The recipe's defaults overwrite the form when they arrive: not complete until they have, or a
        # value the user typed meanwhile would be lost.
        self._defaults_pending = False
        self.estimated_s = 0.0
        self._probe_timer = QTimer(self)
        self._probe_timer.setSingleShot(True)
        self._probe_timer.setInterval(500)
        self._probe_timer.timeout.connect(self.refresh)
        for spin in (self.iterations, self.batch):
            spin.valueChanged.connect(self._on_size_edited)
        self.holdout.valueChanged.connect(self.refresh)
        self.input_size.valueChanged.connect(self._probe_timer.start)
        self.split_by.currentIndexChanged.connect(self.refresh)
        self.base_combo.currentIndexChanged.connect(self._on_base_changed)
        self.recipe_combo.currentIndexChanged.connect(self._on_recipe_changed)

    # --- choices -------------------------------------------------------------------------------------
    def initializePage(self) -> None:
        remembered = self.w.remembered()
        if self.w.state.dataset is not None and self.w.state.usable < 4:
            # Too few classes to hold whole ones out and still train: hold out photos instead.
            self.split_by.setCurrentIndex(1)
        elif not self._restored and remembered.get("split_by") in ("class", "image"):
            self.split_by.setCurrentIndex(max(0, self.split_by.findData(remembered["split_by"])))
        if not self._restored and isinstance(remembered.get("holdout"), int):
            self.holdout.setValue(int(remembered["holdout"]))
        if self._loaded:
            self._propose_name()
            self.refresh()
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
        st, remembered = self.w.state, self.w.remembered()
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
        wanted = self.base_combo.findData(remembered.get("base"))
        self.base_combo.setEnabled(bool(st.bundles))
        if not st.bundles:
            self.base_combo.addItem("No model installed: add one in File ▸ Models…")
        self.base_combo.setCurrentIndex(wanted if wanted >= 0 else current)
        self.base_combo.blockSignals(False)
        self.recipe_combo.blockSignals(True)
        self.recipe_combo.clear()
        for r in st.recipes:
            self.recipe_combo.addItem(r, r)
        recipe = self.recipe_combo.findData(remembered.get("recipe") or st.default_recipe)
        if recipe < 0:
            recipe = self.recipe_combo.findData(st.default_recipe)
        self.recipe_combo.setCurrentIndex(max(0, recipe))
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
            self._recipe = defaults
            remembered = self.w.remembered()
            variant = "IRT_R" if defaults["koleo_weight"] > 0 else "IRT_L"
            if not self._restored:
                self._restored = True
                variant = remembered.get("variant") or variant
                iterations, batch = remembered.get("iterations"), remembered.get("batch_size")
                if isinstance(iterations, int) or isinstance(batch, int):
                    # The user's own size last time: kept, and the estimate says what it costs.
                    self._set_size(
                        iterations if isinstance(iterations, int) else int(defaults["iterations"]),
                        batch if isinstance(batch, int) else int(defaults["batch_size"]),
                    )
                    self.auto_size = False
            self.variant_combo.setCurrentIndex(max(0, self.variant_combo.findData(variant)))
            self.refresh()
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
        self.input_size.blockSignals(True)
        self.input_size.setValue(int(base.card.spec.input_size))
        self.input_size.blockSignals(False)
        self._propose_name()
        self.refresh()

    def _propose_name(self) -> None:
        """A name no installed model and no earlier run uses (unless the user typed one)."""
        base = self.selected_base()
        if base is None or self.name_edit.isModified():
            return
        # Loaded on the worker with the choices, so these imports cost nothing here.
        from irt_desktop.retrieval.training.finetune import model_slug, unique_name

        roots = self.w.state.roots
        album = model_slug(roots[0].name) if roots else "albums"
        stem = self.w.remembered().get("name_stem") or f"{base.card.name}-{album}"
        self.name_edit.setText(unique_name(model_slug(stem), self.w.models_dir, self.w.work_root))

    def selected_base(self) -> Any:
        bid = self.base_combo.currentData()
        return next((b for b in self.w.state.bundles if b.id == bid), None)

    # --- size and estimate ---------------------------------------------------------------------------
    def _on_size_edited(self) -> None:
        if self._setting:
            return  # the sizing itself: refresh() is already under way
        self.auto_size = False
        self.refresh()

    def use_suggested(self) -> None:
        self.auto_size = True
        self.refresh()

    def _set_size(self, iterations: int, batch: int) -> None:
        self._setting = True
        try:
            self.iterations.setValue(iterations)
            self.batch.setValue(batch)
        finally:
            self._setting = False

    @property
    def precision(self) -> str:
        return "auto" if self.w.settings.bf16 else "fp32"

    def _cost_key(self, base: Any) -> tuple:
        return (base.id, self.input_size.value(), self.w.state.device, self.precision)

    def counts(self) -> tuple[int, int, int]:
        """(training photos, their classes with 2 photos or more, held-out photos) of the split chosen."""
        from irt_desktop.retrieval.training.finetune import split_counts

        dataset = self.w.state.dataset
        if dataset is None:
            return 0, 0, 0
        return split_counts(dataset, self.holdout.value() / 100, self.split_by.currentData())

    def refresh(self) -> None:
        """Size the run (while the user has not) and show the estimate, timing this device first."""
        base = self.selected_base()
        if base is None or self._defaults_pending:
            return
        key = self._cost_key(base)
        cost = self._costs.get(key)
        if cost is None and key in self._probe_failed:
            self.estimate_label.setText(f"Could not time this computer ({self._probe_failed[key]}).")
            self.suggested = None
            self.completeChanged.emit()
            return
        if cost is None:
            self.estimate_label.setText("Timing a few training steps on this computer…")
            self._measure(base, key)
            self.completeChanged.emit()
            return
        from irt_desktop.retrieval.training.finetune import size_run

        train, classes, held = self.counts()
        self.suggested = size_run(
            train,
            classes,
            held,
            cost,
            m_per_class=int(self._recipe["m_per_class"]),
            max_batch=int(self._recipe["batch_size"]),
            max_iterations=int(self._recipe["iterations"]),
        )
        if self.auto_size:
            self._set_size(self.suggested.iterations, self.suggested.batch_size)
        self._show_estimate(cost, train, held)
        self.completeChanged.emit()

    def _measure(self, base: Any, key: tuple) -> None:
        if self._probing == key:
            return
        self._probing = key
        size, device, precision = self.input_size.value(), self.w.state.device, self.precision
        library = getattr(self.w.client, "library", None)
        records = list(getattr(self.w.state.dataset, "records", []))
        step = max(1, len(records) // 8)
        sample = tuple(str(r.path) for r in records[::step][:8])

        def done(cost: Any) -> None:
            self._probing = None
            self._costs[key] = cost
            self.refresh()

        def failed(exc: BaseException) -> None:
            self._probing = None
            self._probe_failed[key] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.refresh()

        self.w.runner.run(
            lambda: probe_cost(base, size, device, precision, sample, library),
            done,
            failed,
            name="cost probe",
            lane=PROBE_LANE,
        )

    def _show_estimate(self, cost: Any, train: int, held: int) -> None:
        self.estimated_s, lines = estimate_lines(
            cost,
            self.iterations.value(),
            self.batch.value(),
            int(self._recipe["m_per_class"]),
            train,
            held,
            self.suggested,
            self.auto_size,
        )
        self.estimate_label.setText("\n".join(lines))

    # --- leaving the page ----------------------------------------------------------------------------
    def isComplete(self) -> bool:
        sized = not self.auto_size or self.suggested is not None or bool(self._probe_failed)
        return (
            self._loaded
            and not self._defaults_pending
            and self.selected_base() is not None
            and bool(self.name_edit.text().strip())
            and sized
        )

    def validatePage(self) -> bool:
        from irt_desktop.retrieval.training.finetune import model_slug

        st = self.w.state
        st.base = self.selected_base()
        if st.base is None:
            return False
        st.recipe = self.recipe_combo.currentData() or st.default_recipe
        st.variant = self.variant_combo.currentData()
        st.iterations = self.iterations.value()
        st.batch_size = self.batch.value()
        st.evaluations = self.suggested.evaluations if self.suggested is not None else None
        st.input_size = self.input_size.value()
        st.holdout = self.holdout.value() / 100
        st.split_by = self.split_by.currentData()
        st.name = model_slug(self.name_edit.text())
        st.estimate_s = self.estimated_s
        st.resume, st.start_over = True, False
        if not self._check_name():
            return False
        self.w.remember(
            base=st.base.id,
            recipe=st.recipe,
            variant=st.variant,
            iterations=None if self.auto_size else st.iterations,
            batch_size=None if self.auto_size else st.batch_size,
            holdout=self.holdout.value(),
            split_by=st.split_by,
            name_stem=st.name if self.name_edit.isModified() else None,
        )
        return True

    def _check_name(self) -> bool:
        """Ask what to do when the name is taken; False to stay on the page."""
        answer = resolve_taken_name(self.w, self)
        if answer == RENAME:
            self.name_edit.setText(self.w.state.name)
        return answer != CANCEL
