"""The Duplicates tab: two kinds, two workflows. Exact copies (the same bytes) and near copies (the same
photo re-encoded, resized, cropped, rotated or mirrored) are listed and acted on separately: each list
has its own "check all but the keeper", and no action ever ticks a photo of the other kind.

Each group's suggested keeper comes first (library.keeper: originals over backups, more pixels, better
formats, earlier, larger, shorter path; the tooltip says why); a folder column and full-path tooltips
tell look-alike rows apart; Compare shows a group side by side (gui.compare_view). The threshold is the
one calibrated for the serving model on this library, shown with how it was derived; the user can move
it. Nothing is unlinked: checked files go to the system trash after a confirmation that names how many
files, how much space and which folders; the catalog drops them at once, the lists refresh, and Undo
puts the last batch back (file, catalog row and vector: nothing is re-embedded).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSlider,
    QSplitter,
    QStyledItemDelegate,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import formatting, icons, result_actions
from irt_desktop.gui.compare_view import CompareModel, CompareView
from irt_desktop.gui.library_client import LibraryClient
from irt_desktop.gui.settings import AppSettings
from irt_desktop.gui.tasks import TaskRunner
from irt_desktop.gui.thumbnails import ThumbnailLoader
from irt_desktop.library.keeper import keep_order, keep_reason
from irt_desktop.library.records import DuplicateGroup

if TYPE_CHECKING:
    from irt_desktop.library.records import DuplicateReport, ImageInfo
    from irt_desktop.library.trash import TrashResult

InfoRole = Qt.ItemDataRole.UserRole + 1
GroupRole = Qt.ItemDataRole.UserRole + 2
TREE_ICON = 72
SCALE = 10_000  # slider units per 1.0 of score: thresholds of small models sit at 0.99x
KINDS = ("exact", "near")
TITLES = {"exact": "Exact copies (same bytes)", "near": "Near copies (same photo, re-encoded or edited)"}
COLUMNS = ["Photo", "Folder", "Size", "Dimensions", "Date", "Match"]


def groups_of(report: DuplicateReport) -> list[DuplicateGroup]:
    """The report's groups; a report with only plain lists gets groups ordered by the keep rule."""
    if report.groups:
        return report.groups
    out = []
    for kind, lists in (("exact", report.exact), ("near", report.near)):
        for g in lists:
            ordered = keep_order(g)
            out.append(DuplicateGroup(kind, ordered, keep_reason(ordered), [1.0] * len(ordered)))
    return out


class _ElideLeft(QStyledItemDelegate):
    def initStyleOption(self, option, index) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideLeft


class GroupTree(QTreeWidget):
    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dupGroups")
        self.setAccessibleName(name)
        self.setHeaderLabels(COLUMNS)
        self.setIconSize(QSize(TREE_ICON, TREE_ICON))
        self.setUniformRowHeights(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        for column in (2, 3, 4, 5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setMinimumSectionSize(60)
        self.setColumnWidth(0, 270)
        self.setColumnWidth(1, 140)
        # Long folders keep their meaningful end ("…/Backup copy"); the tooltip has the whole path.
        self._folder_delegate = _ElideLeft(self)
        self.setItemDelegateForColumn(1, self._folder_delegate)


class DuplicatesView(QWidget):
    status_message = Signal(str)

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
        self._items_by_path: dict[str, list[QTreeWidgetItem]] = {}
        self.report: DuplicateReport | None = None
        self.last_trash: TrashResult | None = None
        self.keep_folders: list[str] | None = None
        self.user_threshold = False  # the user moved the slider: use theirs, not the calibrated one
        self.compare: CompareView | None = None

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(5000, SCALE)
        self.slider.setSingleStep(5)
        self.slider.setPageStep(50)
        self.slider.setValue(round(settings.duplicate_threshold * SCALE))
        self.slider.setAccessibleName("Near-copy similarity threshold")
        self.threshold_label = QLabel()
        self.threshold_label.setMinimumWidth(50)
        self.calibration_label = QLabel("Calibrated for this model when you first look.")
        self.calibration_label.setObjectName("hint")
        self.reset_button = QPushButton("Use &calibrated")
        self.reset_button.setEnabled(False)
        self.find_button = QPushButton(icons.icon("search"), "&Find duplicates")
        self.summary = QLabel("Find exact copies and near copies of the same photo in the library.")
        self.summary.setObjectName("hint")
        self.summary.setWordWrap(True)
        top = QHBoxLayout()
        label = QLabel("Near-copy &threshold:")
        label.setBuddy(self.slider)
        top.addWidget(label)
        top.addWidget(self.slider, 1)
        top.addWidget(self.threshold_label)
        top.addWidget(self.reset_button)
        top.addWidget(self.find_button)

        self.trees: dict[str, GroupTree] = {}
        self.titles: dict[str, QLabel] = {}
        self.check_buttons: dict[str, QPushButton] = {}
        self.uncheck_buttons: dict[str, QPushButton] = {}
        self.compare_buttons: dict[str, QPushButton] = {}
        splitter = QSplitter(Qt.Orientation.Horizontal)
        for kind, key in (("exact", "x"), ("near", "n")):
            tree = GroupTree(TITLES[kind])
            title = QLabel(TITLES[kind])
            title.setObjectName("paneTitle")
            title.setBuddy(tree)
            check = QPushButton(f"Check all but the keeper ({'e&xact' if key == 'x' else '&near'} only)")
            check.setToolTip(f"Ticks every photo of this list except each group's keeper; {kind} copies only")
            uncheck = QPushButton("Uncheck")
            compare = QPushButton("Co&mpare…" if kind == "near" else "Compare…")
            compare.setToolTip("Show the selected group side by side")
            buttons = QHBoxLayout()
            for b in (check, uncheck, compare):
                buttons.addWidget(b)
            buttons.addStretch(1)
            box = QWidget()
            lay = QVBoxLayout(box)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.addWidget(title)
            lay.addWidget(tree, 1)
            lay.addLayout(buttons)
            splitter.addWidget(box)
            self.trees[kind], self.titles[kind] = tree, title
            self.check_buttons[kind], self.uncheck_buttons[kind] = check, uncheck
            self.compare_buttons[kind] = compare
            check.clicked.connect(lambda _=False, k=kind: self.check_all_but_best(k))
            uncheck.clicked.connect(lambda _=False, k=kind: self._set_checks(k, False))
            compare.clicked.connect(lambda _=False, k=kind: self.compare_selected(k))
            tree.itemChanged.connect(lambda *_: self._update_trash_button())
            tree.itemActivated.connect(self._open_item)
        splitter.setChildrenCollapsible(False)
        # Compatibility names: the exact and near lists.
        self.exact_tree, self.near_tree = self.trees["exact"], self.trees["near"]

        self.pin_button = QPushButton("Always &keep copies in this folder")
        self.pin_button.setToolTip("The selected photo's folder wins the keep rule from now on")
        self.undo_button = QPushButton("&Undo last trash")
        self.undo_button.setEnabled(False)
        self.trash_button = QPushButton(icons.icon("trash"), "Move checked to &trash…")
        self.trash_button.setEnabled(False)
        bottom = QHBoxLayout()
        bottom.addWidget(self.pin_button)
        bottom.addStretch(1)
        bottom.addWidget(self.undo_button)
        bottom.addWidget(self.trash_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(top)
        layout.addWidget(self.calibration_label)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)

        self.slider.valueChanged.connect(self._on_threshold)
        self.slider.sliderMoved.connect(self._on_user_threshold)
        self.slider.actionTriggered.connect(lambda _action: self._on_user_threshold())
        self.reset_button.clicked.connect(self.use_calibrated)
        self.find_button.clicked.connect(self.find)
        self.trash_button.clicked.connect(self.trash_checked)
        self.undo_button.clicked.connect(self.undo)
        self.pin_button.clicked.connect(self.pin_selected_folder)
        thumbnails.ready.connect(self._on_thumbnail)
        self._on_threshold(self.slider.value())

    # -- threshold ---------------------------------------------------------------------------------------

    @property
    def threshold(self) -> float:
        return self.slider.value() / SCALE

    def _on_threshold(self, value: int) -> None:
        self.threshold_label.setText(f"{value / SCALE:.4f}")
        self.settings.duplicate_threshold = value / SCALE

    def _on_user_threshold(self, *_: object) -> None:
        self.user_threshold = True
        self.reset_button.setEnabled(True)

    def set_threshold(self, value: float, *, by_user: bool = True) -> None:
        self.slider.setValue(round(value * SCALE))
        if by_user:
            self._on_user_threshold()

    def use_calibrated(self) -> None:
        self.user_threshold = False
        self.reset_button.setEnabled(False)
        self.find()

    # -- finding -----------------------------------------------------------------------------------------

    def find(self) -> None:
        self.find_button.setEnabled(False)
        self.summary.setText("Looking for duplicates… (the first time, the threshold is calibrated)")
        threshold = self.threshold if self.user_threshold else None
        keep = self.keep_folders
        self.client.submit(
            lambda lib: lib.duplicates(threshold, keep_folders=keep),
            self.show_report,
            self._on_failed,
            name="find duplicates",
        )

    def _on_failed(self, exc: BaseException) -> None:
        self.find_button.setEnabled(True)
        self.summary.setText(f"Could not look for duplicates: {exc}")

    def show_report(self, report: DuplicateReport) -> None:
        self.find_button.setEnabled(True)
        self.report = report
        self.keep_folders = list(report.keep_folders)
        self.slider.blockSignals(True)
        self.slider.setValue(round(report.threshold * SCALE))
        self.slider.blockSignals(False)
        self._on_threshold(self.slider.value())
        cal = report.calibration
        if cal is not None:
            self.calibration_label.setText(
                f"Calibrated threshold for this model on this library: {cal.threshold:.4f}"
                + ("" if not self.user_threshold else f" (you chose {report.threshold:.4f})")
            )
            self.calibration_label.setToolTip(f"How it was derived: {cal.how}")
        self._items_by_path.clear()
        groups = groups_of(report)
        for kind in KINDS:
            self._fill(self.trees[kind], [g for g in groups if g.kind == kind], kind)
        n_exact = [g for g in groups if g.kind == "exact"]
        n_near = [g for g in groups if g.kind == "near"]
        self.titles["exact"].setText(f"{TITLES['exact']} — {formatting.plural(len(n_exact), 'group')}")
        self.titles["near"].setText(
            f"{TITLES['near']} (≥ {report.threshold:.4f}) — {formatting.plural(len(n_near), 'group')}"
        )
        wasted = sum(sum(i.size or 0 for i in g.members[1:]) for g in n_exact)
        rotations = "" if report.rotations_checked else " Rotated and mirrored copies were not looked for."
        pairs = (
            f" {formatting.plural(len(report.pairs), 'RAW + JPEG pair')} kept together."
            if report.pairs
            else ""
        )
        self.summary.setText(
            (
                f"{formatting.plural(sum(len(g.members) for g in n_exact), 'file')} in exact copy sets "
                f"({formatting.size(wasted)} could be freed), "
                f"{formatting.plural(sum(len(g.members) for g in n_near), 'photo')} in near-copy groups. "
                "Check what to remove in each list; nothing is deleted without asking."
                if groups
                else "No duplicates found at this threshold."
            )
            + pairs
            + rotations
        )
        self._update_trash_button()

    def _fill(self, tree: QTreeWidget, groups: list[DuplicateGroup], kind: str) -> None:
        tree.blockSignals(True)
        tree.clear()
        label = "Copy set" if kind == "exact" else "Near copies"
        for n, group in enumerate(groups, 1):
            total = sum(i.size or 0 for i in group.members)
            top = QTreeWidgetItem(
                [
                    f"{label} {n} · {formatting.plural(len(group.members), 'photo')}",
                    "",
                    formatting.size(total),
                ]
            )
            top.setData(0, GroupRole, group)
            top.setToolTip(0, group.keep_reason)
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            tree.addTopLevelItem(top)
            for rank, info in enumerate(group.members):
                path = str(info.path)
                paired = group.paired[rank] if rank < len(group.paired) else None
                score = group.scores[rank] if rank < len(group.scores) else 1.0
                how = group.how[rank] if rank < len(group.how) else ""
                name = Path(path).name + (f" + {Path(paired).name}" if paired else "")
                match = "keeper" if rank == 0 else ("same bytes" if kind == "exact" else f"{score:.4f}")
                if how:
                    match += f" ({how})"
                item = QTreeWidgetItem(
                    [
                        name,
                        str(Path(path).parent),
                        formatting.size(info.size),
                        formatting.dimensions(info.width, info.height),
                        formatting.date(info.taken).split(" ")[0],
                        match,
                    ]
                )
                tip = path
                if paired:
                    tip += f"\nShown with its camera JPEG {paired}: one photo, never trashed against it"
                if rank == 0:
                    tip += "\nSuggested copy to keep.\n" + group.keep_reason
                    bold = item.font(0)
                    bold.setBold(True)
                    item.setFont(0, bold)
                item.setToolTip(0, tip)
                item.setToolTip(1, str(Path(path).parent))
                item.setToolTip(4, formatting.date(info.taken))
                item.setData(0, InfoRole, info)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(0, Qt.CheckState.Unchecked)
                pixmap = self.thumbnails.pixmap(path)
                item.setIcon(0, QIcon(pixmap) if pixmap is not None else icons.icon("image-open"))
                self._items_by_path.setdefault(path, []).append(item)
                top.addChild(item)
            top.setExpanded(True)
        tree.blockSignals(False)

    def _on_thumbnail(self, path: str) -> None:
        items = self._items_by_path.get(path)
        pixmap = self.thumbnails.pixmap(path) if items else None
        if pixmap is None:
            return
        for item in items or ():
            tree = item.treeWidget()
            if tree is not None:
                tree.blockSignals(True)
                item.setIcon(0, QIcon(pixmap))
                tree.blockSignals(False)

    # -- checks ------------------------------------------------------------------------------------------

    def _children(self, kind: str | None = None) -> list[QTreeWidgetItem]:
        out = []
        for k in KINDS if kind is None else (kind,):
            tree = self.trees[k]
            for i in range(tree.topLevelItemCount()):
                top = tree.topLevelItem(i)
                out.extend(top.child(j) for j in range(top.childCount()))
        return out

    def checked_infos(self, kind: str | None = None) -> list[ImageInfo]:
        seen: dict[str, ImageInfo] = {}
        for item in self._children(kind):
            if item.checkState(0) == Qt.CheckState.Checked:
                info = item.data(0, InfoRole)
                seen.setdefault(str(info.path), info)
        return list(seen.values())

    def checked_paths(self, kind: str | None = None) -> list[str]:
        return [str(i.path) for i in self.checked_infos(kind)]

    def check_all_but_best(self, kind: str = "exact") -> None:
        """Tick every photo of `kind`'s list except each group's keeper; the other list is left alone."""
        tree = self.trees[kind]
        tree.blockSignals(True)
        for i in range(tree.topLevelItemCount()):
            top = tree.topLevelItem(i)
            for j in range(top.childCount()):
                top.child(j).setCheckState(0, Qt.CheckState.Checked if j > 0 else Qt.CheckState.Unchecked)
        tree.blockSignals(False)
        self._update_trash_button()

    def _set_checks(self, kind: str | None, checked: bool) -> None:
        for k in KINDS if kind is None else (kind,):
            self.trees[k].blockSignals(True)
        for item in self._children(kind):
            item.setCheckState(0, Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        for k in KINDS:
            self.trees[k].blockSignals(False)
        self._update_trash_button()

    def _update_trash_button(self) -> None:
        n = len(self.checked_paths())
        self.trash_button.setEnabled(n > 0)
        self.trash_button.setText(
            f"Move {formatting.plural(n, 'checked file')} to &trash…" if n else "Move checked to &trash…"
        )

    def _open_item(self, item: QTreeWidgetItem, column: int) -> None:
        info = item.data(0, InfoRole)
        if info is not None:
            result_actions.open_file(info.path)
        elif item.data(0, GroupRole) is not None:
            self.compare_group(item)

    # -- compare -----------------------------------------------------------------------------------------

    def compare_selected(self, kind: str) -> None:
        tree = self.trees[kind]
        item = tree.currentItem() or (tree.topLevelItem(0) if tree.topLevelItemCount() else None)
        if item is None:
            return
        self.compare_group(item.parent() or item)

    def compare_group(self, top: QTreeWidgetItem) -> CompareView | None:
        group = top.data(0, GroupRole)
        if group is None:
            return None
        checked = {
            top.child(j).data(0, InfoRole).id
            for j in range(top.childCount())
            if top.child(j).checkState(0) == Qt.CheckState.Checked
        }
        view = CompareView(CompareModel.for_group(group, checked), self.runner, self)
        view.decided.connect(lambda ids, t=top: self._apply_decisions(t, ids))
        self.compare = view
        view.open()
        return view

    def _apply_decisions(self, top: QTreeWidgetItem, trash_ids: set[int]) -> None:
        tree = top.treeWidget()
        if tree is None:
            return
        tree.blockSignals(True)
        for j in range(top.childCount()):
            child = top.child(j)
            state = (
                Qt.CheckState.Checked if child.data(0, InfoRole).id in trash_ids else Qt.CheckState.Unchecked
            )
            child.setCheckState(0, state)
        tree.blockSignals(False)
        self._update_trash_button()

    # -- keep folders ------------------------------------------------------------------------------------

    def pin_selected_folder(self) -> None:
        """Always keep the copies in the selected photo's folder (stored in the library)."""
        for tree in sorted(self.trees.values(), key=lambda t: not t.hasFocus()):
            item = tree.currentItem()
            info = item.data(0, InfoRole) if item is not None else None
            if info is not None:
                folder = str(Path(info.path).parent)
                self.keep_folders = [*(self.keep_folders or []), folder]
                self.status_message.emit(f"Copies in {folder} are kept from now on")
                self.find()
                return
        self.status_message.emit("Select a photo in the folder whose copies you want to keep")

    # -- trash and undo ----------------------------------------------------------------------------------

    def describe(self, infos: list[ImageInfo]) -> tuple[str, str]:
        """(headline, details) of a trash confirmation: how many files, how much space, which folders."""
        from irt_desktop.library.trash import freed_bytes

        paths = [str(i.path) for i in infos]
        folders = sorted({str(Path(p).parent) for p in paths})
        freed = freed_bytes(paths)
        head = (
            f"Move {formatting.plural(len(paths), 'file')} ({formatting.size(freed)} freed once the trash is "
            f"emptied) from {formatting.plural(len(folders), 'folder')} to the trash?"
        )
        return head, "Folders:\n" + "\n".join(folders)

    def confirm_trash(self, paths: list[str]) -> bool:
        """The explicit confirmation; a separate method so tests can answer it."""
        infos = self.checked_infos()
        head, folders = self.describe(infos)
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Move to trash?")
        box.setText(head)
        box.setInformativeText(folders + "\n\nYou can undo this here, or restore them from the system trash.")
        box.setDetailedText("\n".join(paths))
        move = box.addButton("Move to Trash", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is move

    def trash_checked(self) -> None:
        infos = self.checked_infos()
        paths = [str(i.path) for i in infos]
        if not paths or not self.confirm_trash(paths):
            return
        self.trash_button.setEnabled(False)
        ids = [i.id for i in infos]
        self.client.submit(lambda lib: lib.trash(ids), self._on_trashed, self._on_trash_failed, name="trash")

    def _on_trashed(self, result: TrashResult) -> None:
        gone = {f.original for f in result.moved}
        for item in self._children():
            if str(item.data(0, InfoRole).path) in gone:
                item.parent().removeChild(item)
        if result.failed:
            # Not modal: the answer arrives asynchronously and must not stall anything behind a dialog.
            box = QMessageBox(
                QMessageBox.Icon.Warning,
                "Some files were not moved",
                f"{formatting.plural(len(result.failed), 'file')} stay where they are.",
                parent=self,
            )
            box.setDetailedText("\n".join(f"{p}: {why}" for p, why in result.failed))
            box.open()
            self._failure_box = box
        if result.moved:
            self.last_trash = result
            self.undo_button.setEnabled(True)
            self.undo_button.setText(f"&Undo: put back {formatting.plural(len(result.moved), 'file')}")
            self.undo_button.setToolTip("Back from the trash: " + ", ".join(result.folders))
        self.status_message.emit(
            f"Moved {formatting.plural(len(result.moved), 'file')} to the trash "
            f"({formatting.size(result.freed)} freed once it is emptied)"
        )
        self._update_trash_button()
        if result.moved:
            self.find()  # the lists and totals as they are now

    def _on_trash_failed(self, exc: BaseException) -> None:
        self._update_trash_button()
        self.status_message.emit(f"Nothing was moved to the trash: {exc}")

    def undo(self) -> None:
        last = self.last_trash
        if last is None:
            return
        self.undo_button.setEnabled(False)
        self.client.submit(
            lambda lib: lib.restore(last), self._on_restored, self._on_undo_failed, name="undo"
        )

    def _on_restored(self, result: TrashResult) -> None:
        self.last_trash = None
        self.undo_button.setText("&Undo last trash")
        msg = f"Put back {formatting.plural(len(result.moved), 'file')}"
        if result.failed:
            msg += "; " + "; ".join(f"{p}: {why}" for p, why in result.failed)
        self.status_message.emit(msg)
        self.find()

    def _on_undo_failed(self, exc: BaseException) -> None:
        self.undo_button.setEnabled(True)
        self.status_message.emit(f"Could not undo: {exc}")

    def set_thumbnail_size(self, size: int) -> None:
        pass  # the tree keeps a fixed small icon; the setting is about the results grid
