"""The Search tab's controls under the query: how many results, the minimum similarity, where (a watched
folder or any sub-folder), when (a capture-date range), which file types, and the order. They only
describe the request (`filters()`, `sort()`); the library applies them inside the search.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QDate, QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QWidget,
)

from irt_desktop.gui import icons
from irt_desktop.gui.folder_list import FolderListDelegate, FolderListModel, FolderRows
from irt_desktop.gui.settings import MAX_RESULTS, AppSettings
from irt_desktop.library.filters import FILE_TYPES, SearchFilter, SortKey, date_range, suffixes_for

if TYPE_CHECKING:
    from irt_desktop.library.filters import FolderCount
    from irt_desktop.library.records import Root

# The date edits' lowest date stands for "no limit" (shown as "any").
NO_DATE = QDate(1900, 1, 1)
SORTS: list[tuple[str, str, bool]] = [
    ("Most similar first", SortKey.SIMILARITY, False),
    ("Newest first", SortKey.TAKEN, False),
    ("Oldest first", SortKey.TAKEN, True),
    ("Name (A to Z)", SortKey.NAME, False),
    ("Largest first", SortKey.SIZE, False),
    ("Smallest first", SortKey.SIZE, True),
]


class AnyDateEdit(QDateEdit):
    """A date that may be "any": from "any", a step or the calendar starts at today, not at 1900."""

    def stepBy(self, steps: int) -> None:
        if self.date() <= NO_DATE:
            self.setDate(QDate.currentDate())
            return
        super().stepBy(steps)

    def focusNextPrevChild(self, next_: bool) -> bool:
        # Tab leaves the field (QDateEdit would walk its sections, and stay on "any" for ever); Left
        # and Right still move between year, month and day.
        return QWidget.focusNextPrevChild(self, next_)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show and self.date() <= NO_DATE:
            today = QDate.currentDate()
            self.calendarWidget().setCurrentPage(today.year(), today.month())
        return super().eventFilter(watched, event)


def _date_edit(name: str) -> QDateEdit:
    edit = AnyDateEdit()
    edit.setCalendarPopup(True)
    edit.setMinimumDate(NO_DATE)
    edit.setMaximumDate(QDate(2999, 12, 31))
    edit.setSpecialValueText("any")
    edit.setDate(NO_DATE)
    edit.setDisplayFormat("yyyy-MM-dd")
    edit.setAccessibleName(name)
    edit.calendarWidget().installEventFilter(edit)
    return edit


class SearchControls(QWidget):
    changed = Signal()

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.k_spin = QSpinBox()
        self.k_spin.setRange(1, MAX_RESULTS)
        self.k_spin.setSingleStep(10)
        self.k_spin.setValue(settings.result_count)
        self.k_spin.setAccessibleName("How many results")
        self.k_slider = QSlider(Qt.Orientation.Horizontal)
        self.k_slider.setRange(1, 500)
        self.k_slider.setValue(min(500, settings.result_count))
        self.k_slider.setAccessibleName("How many results")
        self.min_slider = QSlider(Qt.Orientation.Horizontal)
        self.min_slider.setRange(0, 100)
        self.min_slider.setValue(round(settings.min_similarity * 100))
        self.min_slider.setAccessibleName("Minimum similarity")
        self.min_label = QLabel()
        self.min_label.setMinimumWidth(36)
        self.folder_combo = QComboBox()
        self.folder_combo.setAccessibleName("Search in folder")
        self.folders = FolderListModel(self.folder_combo)
        self.folder_combo.setModel(self.folders)
        self.folder_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.folder_combo.setMinimumContentsLength(12)
        self.folder_combo.setMaxVisibleItems(20)
        self.folder_combo.setItemDelegate(FolderListDelegate(self.folder_combo))
        self.date_from = _date_edit("Taken from")
        self.date_to = _date_edit("Taken until")
        self.type_combo = QComboBox()
        self.type_combo.setAccessibleName("File type")
        self.type_combo.addItem("All types", None)
        for name, suffixes in FILE_TYPES.items():
            self.type_combo.addItem(name, name)
            self.type_combo.setItemData(
                self.type_combo.count() - 1, " ".join(suffixes), Qt.ItemDataRole.ToolTipRole
            )
        self.sort_combo = QComboBox()
        self.sort_combo.setAccessibleName("Sort results")
        for text, key, reverse in SORTS:
            self.sort_combo.addItem(text, (str(key), reverse))
        self.clear_button = QPushButton(icons.icon("clear"), "Clear filters")
        self.clear_button.setToolTip("Search everywhere again: all folders, any date, every type")
        self.clear_button.setEnabled(False)

        k_row = QHBoxLayout()
        k_row.addWidget(self.k_slider, 1)
        k_row.addWidget(self.k_spin)
        min_row = QHBoxLayout()
        min_row.addWidget(self.min_slider, 1)
        min_row.addWidget(self.min_label)
        date_row = QHBoxLayout()
        date_row.addWidget(self.date_from, 1)
        dash = QLabel("–")
        date_row.addWidget(dash)
        date_row.addWidget(self.date_to, 1)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        # In a narrow panel (a 1024-px window) a field too wide beside its label goes under it.
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        for text, buddy, field in (
            ("&Results:", self.k_slider, k_row),
            ("&Min. similarity:", self.min_slider, min_row),
            ("&In:", self.folder_combo, self.folder_combo),
            ("&Taken:", self.date_from, date_row),
            ("T&ype:", self.type_combo, self.type_combo),
            ("S&ort:", self.sort_combo, self.sort_combo),
        ):
            label = QLabel(text)
            label.setBuddy(buddy)
            form.addRow(label, field)
        form.addRow("", self.clear_button)
        self._update_min_label()
        self._connect()

    def _connect(self) -> None:
        self.k_slider.valueChanged.connect(self._on_k_slider)
        self.k_spin.valueChanged.connect(self._on_k_spin)
        self.min_slider.valueChanged.connect(self._on_min_changed)
        for combo in (self.folder_combo, self.type_combo, self.sort_combo):
            combo.currentIndexChanged.connect(self._on_filter_changed)
        for edit in (self.date_from, self.date_to):
            edit.dateChanged.connect(self._on_filter_changed)
        self.clear_button.clicked.connect(self.clear_filters)

    def tab_order(self) -> list[QWidget]:
        return [
            self.k_slider,
            self.k_spin,
            self.min_slider,
            self.folder_combo,
            self.date_from,
            self.date_to,
            self.type_combo,
            self.sort_combo,
            self.clear_button,
        ]

    # --- values -------------------------------------------------------------------------------------------
    def filters(self) -> SearchFilter:
        folder = self.folder_combo.currentData()
        lo, hi = date_range(self._date(self.date_from), self._date(self.date_to))
        kind = self.type_combo.currentData()
        return SearchFilter(
            folders=(folder,) if folder else (),
            taken_from=lo,
            taken_to=hi,
            types=suffixes_for([kind]) if kind else (),
        )

    def sort(self) -> tuple[str, bool]:
        key, reverse = self.sort_combo.currentData()
        return key, bool(reverse)

    def folder_text(self) -> str:
        """The chosen folder's name ('' for all folders), for the results header."""
        return self.folder_combo.currentText().strip() if self.folder_combo.currentData() else ""

    def filter_text(self) -> str:
        """The other filters in words ("taken 2021-04-01 – 2021-04-30, JPEG"), for the results header."""
        parts = []
        start, end = self._date(self.date_from), self._date(self.date_to)
        if start or end:
            a = start.strftime("%Y-%m-%d") if start else "…"
            b = end.strftime("%Y-%m-%d") if end else "…"
            parts.append(f"taken {a} – {b}")
        if self.type_combo.currentData():
            parts.append(self.type_combo.currentText())
        return ", ".join(parts)

    @staticmethod
    def _date(edit: QDateEdit) -> datetime | None:
        d = edit.date()
        if d <= NO_DATE:
            return None
        return datetime(d.year(), d.month(), d.day())

    def clear_filters(self) -> None:
        for w in (self.folder_combo, self.type_combo, self.date_from, self.date_to):
            w.blockSignals(True)
        self.folder_combo.setCurrentIndex(0)
        self.type_combo.setCurrentIndex(0)
        self.date_from.setDate(NO_DATE)
        self.date_to.setDate(NO_DATE)
        for w in (self.folder_combo, self.type_combo, self.date_from, self.date_to):
            w.blockSignals(False)
        self._on_filter_changed()

    # --- folders ------------------------------------------------------------------------------------------
    def set_roots(self, roots: list[Root]) -> bool:
        """The watched folders alone, until their sub-folders are known (set_folders); True if the
        folder chosen before is gone."""
        from irt_desktop.library.filters import FolderCount

        return self.set_folders(
            [FolderCount(str(r.path), r.id, r.n_images, 0, Path(r.path).name or str(r.path)) for r in roots]
        )

    def set_folders(self, folders: list[FolderCount] | FolderRows) -> bool:
        """Every folder with photos, a watched folder followed by its sub-folders, indented. True if the
        folder chosen before is no longer there (then "All folders" is chosen and the view says so;
        nothing is searched by itself)."""
        combo = self.folder_combo
        current = combo.currentData()
        combo.blockSignals(True)
        self.folders.set_folders(folders)
        found = self.folders.row_of(current)
        combo.setCurrentIndex(max(0, found))
        combo.blockSignals(False)
        gone = current is not None and found < 0
        self.clear_button.setEnabled(self.filters().active)
        return gone

    def select_folder(self, path: str, label: str = "") -> None:
        """Narrow to `path`; a folder not listed yet (just added) is listed first."""
        found = self.folders.row_of(str(path))
        if found < 0:
            self.folder_combo.blockSignals(True)
            found = self.folders.add_folder(str(path), label)
            self.folder_combo.blockSignals(False)
        self.folder_combo.setCurrentIndex(found)

    # --- slots --------------------------------------------------------------------------------------------
    def _on_k_slider(self, value: int) -> None:
        if self.k_spin.value() != value:
            self.k_spin.blockSignals(True)
            self.k_spin.setValue(value)
            self.k_spin.blockSignals(False)
        self.settings.result_count = value
        self.changed.emit()

    def _on_k_spin(self, value: int) -> None:
        self.k_slider.blockSignals(True)
        self.k_slider.setValue(min(value, self.k_slider.maximum()))
        self.k_slider.blockSignals(False)
        self.settings.result_count = value
        self.changed.emit()

    def _on_min_changed(self, value: int) -> None:
        self.settings.min_similarity = value / 100
        self._update_min_label()
        self.changed.emit()

    def _update_min_label(self) -> None:
        v = self.min_slider.value()
        self.min_label.setText("off" if v == 0 else f"{v / 100:.2f}")

    def _on_filter_changed(self, *_: object) -> None:
        self.clear_button.setEnabled(self.filters().active)
        self.changed.emit()
