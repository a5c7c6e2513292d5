"""The results column of the Benchmark tab: our figures beside the paper's in a table, Recall@K as a chart,
the run's notes (missing datasets named), and the report exported as Markdown or JSON."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QBrush, QColor, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import icons
from irt_desktop.gui.benchmark_jobs import gui_words
from irt_desktop.gui.charts import LineChart, Series
from irt_desktop.gui.settings import AppSettings
from irt_desktop.gui.text_wrap import breakable

COLUMNS = ["Dataset", "Variant", "Dims", "Metric", "Ours", "Paper", "Diff"]
COLOURS = ("#3d7be0", "#e0793d", "#2e9d4f", "#b04fc4", "#cf3b3b", "#16a3a3")
GOOD, BAD = "#2e9d4f", "#cf3b3b"
# Within half a point of the paper counts as reproduced.
TOLERANCE = 0.5
PLACEHOLDER_NOTE = "Our figures appear next to the paper's (El-Nouby et al. 2021)."


class BenchmarkResults(QWidget):
    """Shows one BenchmarkResult (retrieval.benchmark.report); `result` is None until one is shown."""

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.result: Any = None
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setAccessibleName("Results: ours beside the paper's")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(44)
        # The variant says what the model is ("unverified", "IRT_L from random init"): it gets the room.
        for col in range(len(COLUMNS)):
            mode = (
                QHeaderView.ResizeMode.Stretch
                if COLUMNS[col] == "Variant"
                else QHeaderView.ResizeMode.ResizeToContents
            )
            header.setSectionResizeMode(col, mode)
        self.chart = LineChart("Recall@K", "K", "%", log_x=True)
        self.chart.y_clamp = (0.0, 100.0)
        self.chart.empty_text = "Recall@K appears here after a run"
        self.notes = QLabel(PLACEHOLDER_NOTE)
        self.notes.setObjectName("hint")
        self.notes.setWordWrap(True)
        self.notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_button = QPushButton(icons.icon("export"), "E&xport report…")
        self.export_button.setEnabled(False)
        self.open_button = QPushButton(icons.icon("reveal"), "Open output folder")
        self.open_button.setEnabled(False)
        out_row = QHBoxLayout()
        out_row.addStretch(1)
        out_row.addWidget(self.open_button)
        out_row.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 8, 8, 8)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.chart)
        split.setSizes([300, 260])
        layout.addWidget(split, 1)
        # Notes grow with the datasets run: they scroll rather than push the buttons off a small screen.
        notes_area = QScrollArea()
        notes_area.setWidget(self.notes)
        notes_area.setWidgetResizable(True)
        notes_area.setFrameShape(QFrame.Shape.NoFrame)
        notes_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        notes_area.setMaximumHeight(140)
        notes_area.setMinimumHeight(48)
        self.notes_area = notes_area
        layout.addWidget(notes_area)
        layout.addLayout(out_row)
        self.export_button.clicked.connect(self.export_dialog)
        self.open_button.clicked.connect(self._open_output)

    def clear(self) -> None:
        self.table.setRowCount(0)
        self.chart.clear()
        self.notes.setText("")
        self.export_button.setEnabled(False)

    def show_result(self, result: Any) -> None:
        self.result = result
        rows = list(result.rows)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            diff = row.diff
            cells = [
                row.dataset,
                row.variant,
                str(row.dims or ""),
                row.metric,
                _num(row.ours),
                _num(row.paper),
                _num(diff, signed=True),
            ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c >= 4:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if c == 6 and diff is not None:
                    item.setForeground(QBrush(QColor(GOOD if diff >= -TOLERANCE else BAD)))
                self.table.setItem(r, c, item)
        self.chart.set_series(_recall_series(rows))
        notes = list(getattr(result, "notes", []))
        for name, msg in getattr(result, "missing", {}).items():
            lines = msg.splitlines()
            notes.append(f"{name}: not found — {lines[-2] if len(lines) > 1 else msg}")
        text = "\n".join(notes) if notes else "Figures in percent; paper: El-Nouby et al. 2021."
        self.notes.setText(breakable(gui_words(text)))
        self.export_button.setEnabled(True)
        self.open_button.setEnabled(result.out_dir is not None)

    def export_dialog(self) -> None:
        if self.result is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export benchmark report",
            str(Path(self.settings.last_dir) / "irt-benchmark.md"),
            "Markdown report (*.md);;JSON results (*.json)",
        )
        if path:
            self.export(Path(path))

    def export(self, path: Path) -> None:
        if path.suffix.lower() == ".json" and self.result.out_dir is not None:
            shutil.copyfile(Path(self.result.out_dir) / "results.json", path)
        else:
            path.write_text(self.result.report_md or self.result.render_markdown(), encoding="utf-8")
        self.settings.last_dir = str(path.parent)

    def _open_output(self) -> None:
        if self.result is not None and self.result.out_dir is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.result.out_dir)))


def _recall_series(rows: list[Any]) -> list[Series]:
    """One line of ours and one of the paper's per category dataset and variant (landmark mAP stays in
    the table: it has no K)."""
    by_dataset: dict[str, list[Any]] = {}
    for row in rows:
        if row.metric.startswith("R@"):
            by_dataset.setdefault(f"{row.dataset} {row.variant}".strip(), []).append(row)
    series: list[Series] = []
    for i, (name, ds_rows) in enumerate(by_dataset.items()):
        color = COLOURS[i % len(COLOURS)]
        ours = sorted((float(x.metric[2:]), x.ours) for x in ds_rows)
        series.append(Series(f"{name} (ours)", ours, color=color, markers=True))
        paper = sorted((float(x.metric[2:]), x.paper) for x in ds_rows if x.paper is not None)
        if paper:
            series.append(Series(f"{name} (paper)", paper, color=color, dashed=True))
    return series


def _num(v: float | None, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:+.1f}" if signed else f"{v:.1f}"
