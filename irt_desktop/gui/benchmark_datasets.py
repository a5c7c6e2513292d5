"""The Benchmark tab's list of datasets: which to run, and where each would be read from (the data folder,
or a folder of its own), with the index file a missing one was expected to have."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import icons
from irt_desktop.gui.tasks import Task, TaskRunner

# Shown before the worker has looked at the folders (which needs the retrieval package, hence torch).
DATASET_TITLES = {
    "sop": "Stanford Online Products",
    "cub": "CUB-200-2011",
    "inshop": "In-Shop Clothes (DeepFashion)",
    "roxford": "Revisited Oxford5k",
    "rparis": "Revisited Paris6k",
}
NameRole = Qt.ItemDataRole.UserRole + 1
# Checks answer in the order asked, so the last folder typed is the one shown.
STATUS_LANE = "benchmark-status"


def dataset_status(data_root: str, overrides: dict[str, str]) -> dict[str, Any]:
    """Worker side: per dataset, where it would be read from and whether it is there (DatasetPlace)."""
    from irt_desktop.retrieval.benchmark import dataset_places

    return dataset_places(data_root, overrides)


class DatasetChooser(QWidget):
    """`overrides` maps a dataset to a folder of its own; `data_root()` gives the data folder typed."""

    def __init__(
        self,
        runner: TaskRunner,
        data_root: Callable[[], str],
        checked: Iterable[str],
        overrides: dict[str, str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self._data_root = data_root
        self.overrides: dict[str, str] = dict(overrides)
        # The last check of the folders (dataset -> DatasetPlace); empty until it answered.
        self.places: dict[str, Any] = {}
        self._places_for: tuple[str, dict[str, str]] | None = None
        self._asked_for: tuple[str, dict[str, str]] | None = None
        self._status_task: Task | None = None
        self.tree = QTreeWidget()
        self.tree.setAccessibleName("Datasets")
        self.tree.setHeaderLabels(["Dataset", "Folder"])
        self.tree.setRootIsDecorated(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setMinimumHeight(120)
        # Folder paths are long: elide them in the middle (the tooltip has the whole path).
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        chosen = set(checked)
        for name, title in DATASET_TITLES.items():
            item = QTreeWidgetItem([title, ""])
            item.setData(0, NameRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(0, Qt.CheckState.Checked if name in chosen else Qt.CheckState.Unchecked)
            self.tree.addTopLevelItem(item)
        self.folder_button = QPushButton("Dataset &folder…")
        self.folder_button.setToolTip("Read the selected dataset from a folder of its own")
        self.folder_button.clicked.connect(self._choose_folder)
        self.reset_folder_button = QPushButton("Use &data folder")
        self.reset_folder_button.clicked.connect(self._reset_folder)
        buttons = QHBoxLayout()
        buttons.addWidget(self.folder_button)
        buttons.addWidget(self.reset_folder_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)

    def _items(self) -> list[QTreeWidgetItem]:
        return [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]

    def selected(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, NameRole) if item is not None else None

    def checked(self) -> list[str]:
        return [it.data(0, NameRole) for it in self._items() if it.checkState(0) == Qt.CheckState.Checked]

    def places_are_for(self, root: str) -> bool:
        """Whether `places` describe the folders as chosen now (`root` and the datasets' own)."""
        return self._places_for == (root, self.overrides)

    def refresh(self) -> None:
        root, overrides = self._data_root(), dict(self.overrides)
        self._asked_for = (root, overrides)
        if self._status_task is not None:
            self._status_task.abandon()  # a check of the folders as they were
        self._status_task = self.runner.run(
            lambda: dataset_status(root, overrides), self._on_status, name="dataset status", lane=STATUS_LANE
        )

    def _on_status(self, places: dict[str, Any]) -> None:
        self.places = dict(places)
        self._places_for = self._asked_for
        for item in self._items():
            place = places.get(item.data(0, NameRole))
            if place is None:
                continue
            item.setText(1, place.describe())
            item.setIcon(0, icons.icon("status-indexed" if place.present else "status-offline"))
            item.setToolTip(1, place.describe())

    def _choose_folder(self) -> None:
        name = self.selected()
        if name is None:
            return
        title = f"Folder of {DATASET_TITLES[name]}"
        folder = QFileDialog.getExistingDirectory(self, title, self._data_root())
        if folder:
            self.overrides[name] = folder
            self.refresh()

    def _reset_folder(self) -> None:
        name = self.selected()
        if name is not None:
            self.overrides.pop(name, None)
            self.refresh()
