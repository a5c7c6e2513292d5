"""Page 4 of the fine-tune wizard: Recall@K before and after on the held-out photos; keep, activate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QVBoxLayout, QWizardPage

from irt_desktop.gui.charts import BarChart

if TYPE_CHECKING:
    from irt_desktop.gui.finetune.wizard import FinetuneWizard


def recall_ks(*metrics: dict[str, float]) -> list[int]:
    """The K of every "R@K" in `metrics`, in order (whichever the recipe measured)."""
    return sorted({int(key[2:]) for m in metrics for key in m if key.startswith("R@") and key[2:].isdigit()})


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
        for lab in (self.before_label, self.after_label):
            lab.setObjectName("bigNumber")
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.delta_label = QLabel("")
        self.delta_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        grid = QGridLayout()
        for col, text in enumerate(("Before", "After")):
            cap = QLabel(text)
            cap.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(cap, 0, col)
        grid.addWidget(self.before_label, 1, 0)
        grid.addWidget(self.after_label, 1, 1)
        grid.addWidget(self.delta_label, 2, 0, 1, 2)
        self.chart = BarChart("Recall@K on held-out photos", "")
        self.model_label = QLabel("")
        self.model_label.setWordWrap(True)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.keep_check = QCheckBox("&Keep this model (saved with the library's models)")
        self.keep_check.setChecked(True)
        self.activate_check = QCheckBox(
            "&Use it for my library now (re-indexes in the background; search keeps working)"
        )
        self.keep_check.toggled.connect(self.activate_check.setEnabled)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.model_label)
        layout.addWidget(self.keep_check)
        layout.addWidget(self.activate_check)

    def initializePage(self) -> None:
        st = self.w.state
        before, after = st.before or {}, st.after or {}
        b1, a1 = before.get("R@1"), after.get("R@1")
        self.before_label.setText("—" if b1 is None else f"{b1:.1f} %")
        self.after_label.setText("—" if a1 is None else f"{a1:.1f} %")
        if b1 is not None and a1 is not None:
            d = a1 - b1
            self.delta_label.setText(
                f"{d:+.1f} points"
                + (" — better" if d > 0 else " — not better; consider not activating it" if d < 0 else "")
            )
            if d <= 0:
                self.activate_check.setChecked(False)
        ks = recall_ks(before, after)
        self.chart.set_data(
            [f"R@{k}" for k in ks],
            ["before", "after"],
            [[before.get(f"R@{k}"), after.get(f"R@{k}")] for k in ks],
        )
        bundle = getattr(st.result, "bundle", None)
        if bundle is not None:
            self.model_label.setText(f"New model: {bundle.card.title}\n{bundle.id} in {bundle.path.parent}")

    def validatePage(self) -> bool:
        return self.w.finish_model(self.keep_check.isChecked(), self.activate_check.isChecked())
