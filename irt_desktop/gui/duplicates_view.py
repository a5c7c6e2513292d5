"""The Duplicates tab: three kinds, three workflows (exact copies, near copies, look-alikes), each on its
own page with its own actions; no action ever ticks or trashes a photo of another kind. The logic and
the words live in gui.duplicates_model (Qt-free); the per-kind panes in gui.duplicates_panes.

The thresholds are the ones calibrated for the serving model on this library, shown with how they were
derived (the tooltip has the score distributions); the user can move them (both are remembered, also
after a restart: gui.settings), go back to the calibrated ones, or recalibrate (either forgets them).
Nothing is unlinked: checked files go to the system trash after a confirmation that names how many
files, how much space and which folders; the catalog drops them at once, the lists refresh, and Undo
puts back any of the last several actions, also after a restart (the catalog's trash journal): file,
catalog row and vector, nothing re-embedded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSlider,
    QTabWidget,
    QToolButton,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import icons, result_actions
from irt_desktop.gui.compare_view import CompareModel, CompareView
from irt_desktop.gui.duplicates_model import (
    KINDS,
    DuplicatesModel,
    calibration_details,
    calibration_text,
)
from irt_desktop.gui.duplicates_panes import GroupRole, InfoRole, KindPane
from irt_desktop.gui.duplicates_undo import TrashUndo
from irt_desktop.gui.library_client import LibraryClient
from irt_desktop.gui.settings import AppSettings
from irt_desktop.gui.tasks import TaskRunner
from irt_desktop.gui.thumbnails import ThumbnailLoader
from irt_desktop.library.trash import freed_bytes

if TYPE_CHECKING:
    from irt_desktop.library.records import DuplicateReport, ImageInfo

SCALE = 10_000  # slider units per 1.0 of score: thresholds of small models sit at 0.99x


def _slider(name: str, value: float) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(5000, SCALE)
    s.setSingleStep(5)
    s.setPageStep(50)
    s.setValue(round(value * SCALE))
    s.setAccessibleName(name)
    s.setMinimumWidth(120)
    return s


class DuplicatesView(TrashUndo, QWidget):
    status_message = Signal(str)
    undo_changed = Signal()  # what undo_text() says changed

    def __init__(
        self,
        client: LibraryClient,
        settings: AppSettings,
        thumbnails: ThumbnailLoader,
        parent: QWidget | None = None,
        *,
        runner: TaskRunner | None = None,
    ) -> None:
        """`runner`: decodes compare previews (default: the client's); library calls go to its lane."""
        super().__init__(parent)
        self.client = client
        self.settings = settings
        self.thumbnails = thumbnails
        self.runner = runner if runner is not None else client.runner
        self.model = DuplicatesModel(freed_bytes)
        self.keep_folders: list[str] | None = None
        # The user moved a slider (in this session or an earlier one): theirs, not the calibrated ones.
        self.user_threshold = settings.duplicate_thresholds_chosen
        self.compare: CompareView | None = None
        self._review: tuple[str, int] | None = None  # (kind, group index) of a one-by-one review

        self.slider = _slider("Near-copy similarity threshold", settings.duplicate_threshold)
        look = settings.lookalike_threshold
        self.look_slider = _slider(
            "Look-alike similarity threshold", settings.duplicate_threshold - 0.03 if look is None else look
        )
        self.threshold_label, self.look_label = QLabel(), QLabel()
        for lab in (self.threshold_label, self.look_label):
            lab.setMinimumWidth(50)
        self.calibration_label = QLabel(
            "Your thresholds from last time; “Use calibrated” goes back to the model's."
            if self.user_threshold
            else "Thresholds are calibrated for this model when you first look."
        )
        self.calibration_label.setObjectName("hint")
        self.calibration_label.setWordWrap(True)
        self.reset_button = QPushButton("Use &calibrated")
        self.reset_button.setEnabled(self.user_threshold)
        self.recalibrate_button = QPushButton("&Recalibrate")
        self.recalibrate_button.setToolTip(
            "Derive both thresholds again from this library's photos and the serving model"
        )
        self.find_button = QPushButton(icons.icon("search"), "&Find duplicates")
        self.summary = QLabel(self.model.summary())
        self.summary.setObjectName("hint")
        self.summary.setWordWrap(True)

        grid = QGridLayout()
        near_label, look_label = QLabel("Near copies &≥"), QLabel("&Look-alikes ≥")
        near_label.setBuddy(self.slider)
        look_label.setBuddy(self.look_slider)
        for col, widget in enumerate(
            (near_label, self.slider, self.threshold_label, look_label, self.look_slider, self.look_label)
        ):
            grid.addWidget(widget, 0, col)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(4, 1)
        row2 = QHBoxLayout()
        row2.addWidget(self.calibration_label, 1)
        for b in (self.reset_button, self.recalibrate_button, self.find_button):
            row2.addWidget(b)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("duplicateKinds")
        self.panes: dict[str, KindPane] = {}
        for kind in KINDS:
            pane = KindPane(kind, thumbnails)
            self.panes[kind] = pane
            self.tabs.addTab(pane, self.model.tab_title(kind))
            pane.check_button.clicked.connect(lambda _=False, k=kind: self.check_all_but_best(k))
            pane.uncheck_button.clicked.connect(lambda _=False, k=kind: self.uncheck(k))
            pane.compare_button.clicked.connect(lambda _=False, k=kind: self.compare_selected(k))
            pane.trash_button.clicked.connect(lambda _=False, k=kind: self.trash_checked(k))
            pane.check_toggled.connect(lambda image_id, on, k=kind: self._on_toggled(k, image_id, on))
            pane.tree.itemActivated.connect(lambda item, _col, k=kind: self._open_item(k, item))
        self.trees = {k: p.tree for k, p in self.panes.items()}
        self.check_buttons = {k: p.check_button for k, p in self.panes.items()}
        self.uncheck_buttons = {k: p.uncheck_button for k, p in self.panes.items()}
        self.compare_buttons = {k: p.compare_button for k, p in self.panes.items()}
        self.trash_buttons = {k: p.trash_button for k, p in self.panes.items()}
        self.exact_tree, self.near_tree, self.lookalike_tree = (self.trees[k] for k in KINDS)

        self.pin_button = QPushButton("Always &keep copies in this folder")
        self.pin_button.setToolTip("The selected photo's folder wins the keep rule from now on")
        self.undo_button = QToolButton()
        self.undo_button.setText("&Undo trash")
        self.undo_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.undo_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.undo_menu = QMenu(self.undo_button)
        self.undo_button.setMenu(self.undo_menu)
        self.undo_button.setEnabled(False)
        self.undo_button.clicked.connect(lambda: self.undo())
        bottom = QHBoxLayout()
        bottom.addWidget(self.pin_button)
        bottom.addStretch(1)
        bottom.addWidget(self.undo_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(grid)
        layout.addLayout(row2)
        layout.addWidget(self.summary)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)

        for s in (self.slider, self.look_slider):
            s.valueChanged.connect(self._on_threshold)
            s.sliderMoved.connect(self._on_user_threshold)
            s.actionTriggered.connect(lambda _action: self._on_user_threshold())
        self.reset_button.clicked.connect(self.use_calibrated)
        self.recalibrate_button.clicked.connect(self.recalibrate)
        self.find_button.clicked.connect(lambda: self.find())
        self.pin_button.clicked.connect(self.pin_selected_folder)
        thumbnails.ready.connect(self._on_thumbnail)
        self._on_threshold()

    # -- thresholds --------------------------------------------------------------------------------------

    @property
    def threshold(self) -> float:
        return self.slider.value() / SCALE

    @property
    def lookalike_threshold(self) -> float:
        return self.look_slider.value() / SCALE

    def _on_threshold(self, *_: object) -> None:
        # A look-alike is never a near copy: its threshold stays below the near-copy one.
        if self.look_slider.value() >= self.slider.value():
            self.look_slider.blockSignals(True)
            self.look_slider.setValue(self.slider.value() - 5)
            self.look_slider.blockSignals(False)
        self.threshold_label.setText(f"{self.threshold:.4f}")
        self.look_label.setText(f"{self.lookalike_threshold:.4f}")
        self._remember_thresholds()

    def _on_user_threshold(self, *_: object) -> None:
        self.user_threshold = True
        self.reset_button.setEnabled(True)
        self._remember_thresholds()

    def _remember_thresholds(self) -> None:
        # Both or neither: the look-alike one is kept below the near one, so alone it could be wrong.
        if self.user_threshold:
            self.settings.duplicate_threshold = self.threshold
            self.settings.lookalike_threshold = self.lookalike_threshold
            self.settings.duplicate_thresholds_chosen = True

    def set_threshold(self, value: float, *, by_user: bool = True, lookalike: float | None = None) -> None:
        self.slider.setValue(round(value * SCALE))
        if lookalike is not None:
            self.look_slider.setValue(round(lookalike * SCALE))
        if by_user:
            self._on_user_threshold()

    def use_calibrated(self) -> None:
        self._forget_thresholds()
        self.find()

    def recalibrate(self) -> None:
        self._forget_thresholds()
        self.find(recalibrate=True)

    def _forget_thresholds(self) -> None:
        self.user_threshold = False
        self.reset_button.setEnabled(False)
        self.settings.forget_duplicate_thresholds()

    # -- finding -----------------------------------------------------------------------------------------

    def find(self, *, recalibrate: bool = False) -> None:
        self.find_button.setEnabled(False)
        self.recalibrate_button.setEnabled(False)
        self.summary.setText(
            "Calibrating the thresholds on your photos, then looking for duplicates…"
            if recalibrate
            else "Looking for duplicates… (the first time, the thresholds are calibrated)"
        )
        near = self.threshold if self.user_threshold else None
        look = self.lookalike_threshold if self.user_threshold else None
        keep = self.keep_folders
        self.client.submit(
            lambda lib: lib.duplicates(
                near, keep_folders=keep, lookalike_threshold=look, recalibrate=recalibrate
            ),
            self.show_report,
            self._on_failed,
            name="find duplicates",
        )

    def _on_failed(self, exc: BaseException) -> None:
        self.find_button.setEnabled(True)
        self.recalibrate_button.setEnabled(True)
        self.summary.setText(f"Could not look for duplicates: {exc}")

    @property
    def report(self) -> DuplicateReport | None:
        return self.model.report

    def show_report(self, report: DuplicateReport) -> None:
        self.find_button.setEnabled(True)
        self.recalibrate_button.setEnabled(True)
        self.model.set_report(report)
        self.keep_folders = list(report.keep_folders)
        for s, value in ((self.slider, report.threshold), (self.look_slider, report.lookalike_threshold)):
            if value is not None:
                s.blockSignals(True)
                s.setValue(round(value * SCALE))
                s.blockSignals(False)
        self._on_threshold()
        cal = report.calibration
        self.calibration_label.setText(
            calibration_text(cal, report.threshold, report.lookalike_threshold, self.user_threshold)
        )
        self.calibration_label.setToolTip(calibration_details(cal))
        for n, kind in enumerate(KINDS):
            self.panes[kind].fill(self.model.groups[kind], self.model.checked[kind])
            self.tabs.setTabText(n, self.model.tab_title(kind))
        self.summary.setText(self.model.summary())
        self._update_trash_buttons()
        self.refresh_history()

    def _on_thumbnail(self, path: str) -> None:
        for pane in self.panes.values():
            pane.set_thumbnail(path)

    # -- checks, one kind at a time ----------------------------------------------------------------------

    def checked_infos(self, kind: str | None = None) -> list[ImageInfo]:
        out: dict[int, ImageInfo] = {}
        for k in KINDS if kind is None else (kind,):
            out.update((i.id, i) for i in self.model.checked_infos(k))
        return list(out.values())

    def checked_paths(self, kind: str | None = None) -> list[str]:
        return [str(i.path) for i in self.checked_infos(kind)]

    def check_all_but_best(self, kind: str = "exact") -> None:
        """Tick every photo of `kind`'s list except each group's keeper; the other lists are left alone."""
        self.model.check_all_but_keeper(kind)
        self.panes[kind].sync_checks(self.model.checked[kind])
        self._update_trash_buttons()

    def uncheck(self, kind: str) -> None:
        self.model.clear(kind)
        self.panes[kind].sync_checks(set())
        self._update_trash_buttons()

    def _on_toggled(self, kind: str, image_id: int, on: bool) -> None:
        self.model.set_checked(kind, image_id, on)
        self._update_trash_buttons()

    def _update_trash_buttons(self) -> None:
        for kind, pane in self.panes.items():
            pane.trash_button.setEnabled(bool(self.model.checked[kind]))
            pane.trash_button.setText(self.model.trash_label(kind))

    def _open_item(self, kind: str, item: QTreeWidgetItem) -> None:
        info = item.data(0, InfoRole)
        if info is not None:
            result_actions.open_file(info.path)
        elif item.data(0, GroupRole) is not None:
            self.compare_group(item, kind)

    # -- compare and the one-by-one review ---------------------------------------------------------------

    def compare_selected(self, kind: str) -> CompareView | None:
        top = self.panes[kind].current_group_item()
        if top is None:
            return None
        if kind == "lookalike":
            self._review = (kind, self.panes[kind].tree.indexOfTopLevelItem(top))
        return self.compare_group(top, kind)

    def compare_group(self, top: QTreeWidgetItem, kind: str | None = None) -> CompareView | None:
        group = top.data(0, GroupRole)
        if group is None:
            return None
        kind = kind or group.kind
        position = None
        if self._review is not None and self._review[0] == kind:
            position = (self._review[1] + 1, len(self.model.groups[kind]))
        model = CompareModel.for_group(group, self.model.checked[kind])
        view = CompareView(model, self.runner, self, position=position)
        view.decided.connect(lambda ids, g=group, k=kind: self._apply_decisions(k, g, ids))
        view.rejected.connect(self._end_review)
        self.compare = view
        view.open()
        return view

    def _apply_decisions(self, kind: str, group, trash_ids: set[int]) -> None:
        self.model.decide(kind, group, trash_ids)
        self.panes[kind].sync_checks(self.model.checked[kind])
        self._update_trash_buttons()
        if self._review is not None and self._review[0] == kind:
            n = self._review[1] + 1
            tree = self.panes[kind].tree
            if n < tree.topLevelItemCount():
                self._review = (kind, n)
                tree.setCurrentItem(tree.topLevelItem(n))
                self.compare_group(tree.topLevelItem(n), kind)
                return
            self._end_review()
            self.status_message.emit(
                f"Reviewed every look-alike group: {self.model.noun(kind, len(self.model.checked[kind]))} "
                "checked for the trash"
            )

    def _end_review(self) -> None:
        self._review = None

    # -- keep folders ------------------------------------------------------------------------------------

    def pin_selected_folder(self) -> None:
        """Always keep the copies in the selected photo's folder (stored in the library)."""
        current = self.tabs.currentWidget()
        for pane in sorted(self.panes.values(), key=lambda p: p is not current):
            item = pane.tree.currentItem()
            info = item.data(0, InfoRole) if item is not None else None
            if info is not None:
                folder = str(Path(info.path).parent)
                self.keep_folders = [*(self.keep_folders or []), folder]
                self.status_message.emit(f"Copies in {folder} are kept from now on")
                self.find()
                return
        self.status_message.emit("Select a photo in the folder whose copies you want to keep")

    def set_thumbnail_size(self, size: int) -> None:
        pass  # the tree keeps a fixed small icon; the setting is about the results grid
