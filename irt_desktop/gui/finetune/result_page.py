"""Page 4 of the fine-tune wizard: Recall@K before and after on the held-out photos; keep, activate.

Recall@1 is shown with its bootstrap confidence interval (finetune.compare). When the interval of the
change holds zero (too few held-out photos, or both models at 100 %), the page says so, and so does the
choice to use the model for the library: it stays offered, not ticked, with the reason beside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QVBoxLayout, QWizardPage

from irt_desktop.gui.banner import Banner
from irt_desktop.gui.charts import BarChart
from irt_desktop.gui.text_wrap import breakable

if TYPE_CHECKING:
    from irt_desktop.gui.finetune.wizard import FinetuneWizard

ACTIVATE_TEXT = "&Use it for my library now"
ACTIVATE_HINT = "Re-indexes in the background; search keeps working meanwhile."


def recall_ks(*metrics: dict[str, float]) -> list[int]:
    """The K of every "R@K" in `metrics`, in order (whichever the recipe measured)."""
    return sorted({int(key[2:]) for m in metrics for key in m if key.startswith("R@") and key[2:].isdigit()})


def interval_text(interval: Any, level: float) -> str:
    return f"{level:.0%} interval {interval.low:.1f} – {interval.high:.1f} %"


class ResultPage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard) -> None:
        super().__init__()
        self.w = wizard
        self.setTitle("Result")
        self.setSubTitle(
            "Recall@1: how often the first photo found for a held-out photo is from the same class."
        )
        self.before_label = QLabel("—")
        self.after_label = QLabel("—")
        self.before_ci = QLabel("")
        self.after_ci = QLabel("")
        for lab in (self.before_label, self.after_label):
            lab.setObjectName("bigNumber")
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
        for lab in (self.before_ci, self.after_ci):
            lab.setObjectName("hint")
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.delta_label = QLabel("")
        self.delta_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.delta_label.setWordWrap(True)
        self.delta_label.setAccessibleName("Change in Recall@1")
        grid = QGridLayout()
        for col, text in enumerate(("Before", "After")):
            cap = QLabel(text)
            cap.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(cap, 0, col)
        grid.addWidget(self.before_label, 1, 0)
        grid.addWidget(self.after_label, 1, 1)
        grid.addWidget(self.before_ci, 2, 0)
        grid.addWidget(self.after_ci, 2, 1)
        grid.addWidget(self.delta_label, 3, 0, 1, 2)
        self.warning = Banner()
        self.warning.setAccessibleName("What the held-out photos can show")
        self.chart = BarChart("Recall@K on held-out photos", "")
        self.model_label = QLabel("")
        self.model_label.setWordWrap(True)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.keep_check = QCheckBox("&Keep this model (saved with the library's models)")
        self.activate_check = QCheckBox(ACTIVATE_TEXT)
        self.activate_hint = QLabel(ACTIVATE_HINT)
        self.activate_hint.setObjectName("hint")
        self.activate_hint.setWordWrap(True)
        self.activate_hint.setIndent(24)  # under the check box's text, not its box
        self.keep_check.toggled.connect(self.activate_check.setEnabled)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.warning)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.model_label)
        layout.addWidget(self.keep_check)
        layout.addWidget(self.activate_check)
        layout.addWidget(self.activate_hint)

    @property
    def comparison(self) -> Any:
        return getattr(self.w.state.result, "comparison", None)

    def initializePage(self) -> None:
        st = self.w.state
        # Always offered as kept: a preference remembered from last time must not drop a new model.
        self.keep_check.setChecked(True)
        before, after = st.before or {}, st.after or {}
        b1, a1 = before.get("R@1"), after.get("R@1")
        self.before_label.setText("—" if b1 is None else f"{b1:.1f} %")
        self.after_label.setText("—" if a1 is None else f"{a1:.1f} %")
        cmp = self.comparison
        warning = cmp.warning() if cmp is not None else ""
        if cmp is not None:
            self.before_ci.setText(interval_text(cmp.before, cmp.level))
            self.after_ci.setText(interval_text(cmp.after, cmp.level))
            d = cmp.diff
            self.delta_label.setText(
                f"Change: {d.value:+.1f} points ({cmp.level:.0%} interval {d.low:+.1f} to {d.high:+.1f}, "
                f"{cmp.n} held-out photos, {cmp.resamples} bootstrap resamples)"
                + (" — better" if cmp.verdict == "better" else "")
            )
        elif b1 is not None and a1 is not None:
            self.before_ci.setText("")
            self.after_ci.setText("")
            self.delta_label.setText(f"Change: {a1 - b1:+.1f} points")
            warning = "Without the per-photo results no interval can be drawn: the change may be chance."
        else:
            self.delta_label.setText("Nothing was held out, so the model could not be measured.")
            warning = "No photo was held out: there is no evidence that the new model is better."
        if warning:
            self.warning.show_message("The test cannot show that the new model is better", warning)
            self.activate_check.setText(ACTIVATE_TEXT + " (not recommended on this evidence)")
            self.activate_hint.setText(f"{warning} {ACTIVATE_HINT}")
        else:
            self.warning.hide()
            self.activate_check.setText(ACTIVATE_TEXT)
            self.activate_hint.setText(ACTIVATE_HINT)
        # Ticked only when the held-out photos show the new model is better; offered either way.
        self.activate_check.setChecked(not warning)
        self.activate_check.setEnabled(self.keep_check.isChecked())
        ks = recall_ks(before, after)
        self.chart.set_data(
            [f"R@{k}" for k in ks],
            ["before", "after"],
            [[before.get(f"R@{k}"), after.get(f"R@{k}")] for k in ks],
        )
        bundle = getattr(st.result, "bundle", None)
        if bundle is not None:
            self.model_label.setText(
                breakable(f"New model: {bundle.card.title}\n{bundle.id} in {bundle.path.parent}")
            )

    def validatePage(self) -> bool:
        return self.w.finish_model(self.keep_check.isChecked(), self.activate_check.isChecked())
