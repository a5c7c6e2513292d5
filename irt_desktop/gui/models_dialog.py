"""Models… : every installed model with what it is (backbone, input size, dims, where its weights come
from and whether that was verified, a fine-tune's results), how far the library has indexed with it and
its size on disk; the model in use marked; activate (asking first, with what it costs), switch back,
rename, remove (asking first; never the model in use), import a weights file, download a starting point.

Every read and change runs through the ModelsViewModel on the client's task runner; the questions are
asked through `confirm` and `ask_title`, which tests replace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import formatting, icons
from irt_desktop.gui.banner import Banner
from irt_desktop.gui.models_view_model import (
    ModelsViewModel,
    activation_question,
    metrics_text,
    removal_question,
    removal_refusal,
)
from irt_desktop.retrieval.zoo import DEFAULT_CARD

if TYPE_CHECKING:
    from irt_desktop.gui.model_setup import ModelSetup
    from irt_desktop.library.model_store import InstalledModel
    from irt_desktop.library.models import ActivationCost

# (parent, title, text, yes button text) -> the user said yes.
Confirm = Callable[[QWidget, str, str, str], bool]
# (parent, current title) -> the new title, or None when cancelled.
AskTitle = Callable[[QWidget, str], "str | None"]

COLUMNS = ("Model", "Status", "Backbone", "Input", "Dims", "Origin", "Indexed", "On disk")
ORIGIN = COLUMNS.index("Origin")
ID_ROLE = Qt.ItemDataRole.UserRole + 1


def question_box(parent: QWidget | None, title: str, text: str, yes: str) -> tuple[QMessageBox, QPushButton]:
    """The confirmation box (not shown yet) and its yes button; Cancel is the default."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, parent)
    box.setWindowTitle("Models")
    box.setText(title)
    box.setInformativeText(text)
    ok = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return box, ok


def confirm_box(parent: QWidget, title: str, text: str, yes: str) -> bool:
    box, ok = question_box(parent, title, text, yes)
    box.exec()
    return box.clickedButton() is ok


def ask_title_box(parent: QWidget, current: str) -> str | None:
    text, ok = QInputDialog.getText(
        parent, "Rename model", "Title shown for this model:", QLineEdit.EchoMode.Normal, current
    )
    return text if ok else None


def ask_and_activate(
    parent: QWidget, vm: ModelsViewModel, model_id: str, confirm: Confirm = confirm_box
) -> None:
    """Estimate what switching to `model_id` costs, ask, and activate when the user agrees."""

    def asked(cost: ActivationCost) -> None:
        entry = vm.entry(model_id)
        if entry is None:
            return
        if entry.serving and vm.target is None:
            vm.message.emit(f"“{entry.title}” is already the model in use")
            return
        title, text = activation_question(entry, cost, vm.serving)
        yes = "Switch now" if cost.immediate else "Re-index and switch"
        if confirm(parent, title, text, yes):
            vm.activate(model_id)

    vm.cost(model_id, asked)


def status_text(entry: InstalledModel) -> str:
    if entry.serving:
        return "In use"
    if entry.target:
        return "Switching to it"
    if entry.previous:
        return "Used before"
    return ""


class ModelsDialog(QDialog):
    def __init__(
        self,
        vm: ModelsViewModel,
        model_setup: ModelSetup | None = None,
        parent: QWidget | None = None,
        *,
        confirm: Confirm = confirm_box,
        ask_title: AskTitle = ask_title_box,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.setObjectName("modelsDialog")
        self.vm = vm
        self.model_setup = model_setup
        self.confirm = confirm
        self.ask_title = ask_title
        self._installed_id: str | None = None

        self.banner = Banner()
        intro = QLabel(
            "The model turns every photo into the descriptor search compares. Switching re-indexes the "
            "library in the background; search keeps using the current model until that is done."
        )
        intro.setWordWrap(True)
        intro.setObjectName("hint")

        self.tree = QTreeWidget()
        self.tree.setObjectName("modelsTable")
        self.tree.setAccessibleName("Installed models")
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.headerItem().setToolTip(COLUMNS.index("Indexed"), "Photos indexed with this model")
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setMinimumHeight(150)
        self.tree.currentItemChanged.connect(lambda *_: self._show_selected())
        self.tree.itemDoubleClicked.connect(lambda *_: self.activate_selected())

        self.details = QLabel()
        self.details.setObjectName("modelDetails")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details.setMinimumHeight(96)

        self.activate_button = QPushButton(icons.icon("play"), "&Use this model…")
        self.back_button = QPushButton("Switch &back")
        self.rename_button = QPushButton("Re&name…")
        self.remove_button = QPushButton(icons.icon("trash"), "&Remove…")
        self.activate_button.clicked.connect(self.activate_selected)
        self.back_button.clicked.connect(self.switch_back)
        self.rename_button.clicked.connect(self.rename_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        actions = QHBoxLayout()
        for b in (self.activate_button, self.back_button, self.rename_button, self.remove_button):
            actions.addWidget(b)
        actions.addStretch(1)

        self.import_button = QPushButton(icons.icon("import"), "&Import weights file…")
        self.download_combo = QComboBox()
        self.download_combo.setAccessibleName("Starting point to download")
        self.download_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.download_button = QPushButton(icons.icon("download"), "&Download")
        self.close_button = QPushButton("Close")
        self.import_button.clicked.connect(self.import_file)
        self.download_button.clicked.connect(self.download)
        self.close_button.clicked.connect(self.accept)
        add = QHBoxLayout()
        add.addWidget(self.import_button)
        add.addSpacing(12)
        add.addWidget(QLabel("Starting point:"))
        add.addWidget(self.download_combo)
        add.addWidget(self.download_button)
        add.addStretch(1)
        add.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(intro)
        layout.addWidget(self.tree, 1)
        layout.addLayout(actions)
        layout.addWidget(self.details)
        layout.addSpacing(4)
        layout.addLayout(add)
        self.resize(980, 540)

        vm.models_changed.connect(self._fill)
        vm.message.connect(self._on_message)
        vm.failed.connect(self._on_failed)
        vm.busy_changed.connect(lambda _busy: self._update_buttons())
        if model_setup is not None:
            model_setup.installed.connect(self._on_installed)
            model_setup.failed.connect(self._on_setup_failed)
            model_setup.unavailable.connect(self._on_unavailable)
            model_setup.busy_changed.connect(lambda _busy: self._update_buttons())
        self._fill(vm.entries)
        vm.refresh()

    # --- the list ---------------------------------------------------------------------------------------
    def _fill(self, entries: list[InstalledModel]) -> None:
        selected = self.selected_id()
        self.tree.blockSignals(True)
        self.tree.clear()
        bold = QFont(self.tree.font())
        bold.setBold(True)
        for e in entries:
            dims = formatting.count(e.dims) if e.dims else (f"{e.width} (full)" if e.width else "full")
            item = QTreeWidgetItem(
                [
                    e.title,
                    status_text(e),
                    e.backbone,
                    f"{e.input_size} px",
                    dims,
                    e.origin,
                    formatting.count(e.vectors),
                    formatting.size(e.disk_bytes),
                ]
            )
            item.setData(0, ID_ROLE, e.id)
            item.setToolTip(0, f"{e.title}\n{e.id}")
            item.setToolTip(ORIGIN, f"{e.provenance}\n{e.provenance_text}")
            for col in (3, 4, 6, 7):
                item.setTextAlignment(col, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if e.serving:
                item.setIcon(0, icons.icon("status-indexed"))
                for col in range(len(COLUMNS)):
                    item.setFont(col, bold)
            elif e.target:
                item.setIcon(0, icons.icon("status-pending"))
            if not e.verified and not e.origin.endswith("from verified weights"):
                item.setIcon(ORIGIN, icons.icon("warning"))
            self.tree.addTopLevelItem(item)
        self.tree.blockSignals(False)
        wanted = selected or (self.vm.serving.id if self.vm.serving else None)
        if self._installed_id and any(e.id == self._installed_id for e in entries):
            wanted, self._installed_id = self._installed_id, None
        for i in range(self.tree.topLevelItemCount()):
            if self.tree.topLevelItem(i).data(0, ID_ROLE) == wanted:
                self.tree.setCurrentItem(self.tree.topLevelItem(i))
                break
        else:
            if self.tree.topLevelItemCount():
                self.tree.setCurrentItem(self.tree.topLevelItem(0))
        self._fill_downloads()
        self._show_selected()

    def _fill_downloads(self) -> None:
        current = self.download_combo.currentData()
        self.download_combo.clear()
        installed = {e.name for e in self.vm.entries if e.kind == "pretrained" and e.verified}
        for name, title in self.vm.starting_points:
            label = title + ("  (installed)" if name in installed else "")
            self.download_combo.addItem(label, name)
        index = self.download_combo.findData(current or DEFAULT_CARD)
        if index >= 0:
            self.download_combo.setCurrentIndex(index)

    def selected_id(self) -> str | None:
        item = self.tree.currentItem()
        return None if item is None else item.data(0, ID_ROLE)

    def selected(self) -> InstalledModel | None:
        model_id = self.selected_id()
        return None if model_id is None else self.vm.entry(model_id)

    def select(self, model_id: str) -> bool:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, ID_ROLE) == model_id:
                self.tree.setCurrentItem(item)
                return True
        return False

    def _show_selected(self) -> None:
        e = self.selected()
        if e is None:
            self.details.setText(
                "No model is installed yet. Download a starting point, or import a weights file."
                if not self.vm.entries
                else ""
            )
        else:
            self.details.setText(details_html(e))
        self._update_buttons()

    def _update_buttons(self) -> None:
        e = self.selected()
        busy = self.vm.busy or (self.model_setup is not None and self.model_setup.busy)
        in_use = e is not None and e.serving and self.vm.target is None
        self.activate_button.setEnabled(e is not None and not in_use and not busy)
        self.activate_button.setToolTip(
            "This is the model in use" if in_use else "Switch search to this model (asks first)"
        )
        previous = self.vm.previous
        self.back_button.setEnabled(previous is not None and not busy)
        self.back_button.setText(
            f"Switch &back to “{_short(previous.title)}”" if previous is not None else "Switch &back"
        )
        self.rename_button.setEnabled(e is not None and not busy)
        refusal = removal_refusal(e) if e is not None else None
        self.remove_button.setEnabled(e is not None and refusal is None and not busy)
        self.remove_button.setToolTip(refusal or "Move this model to the trash (asks first)")
        can_fetch = self.model_setup is not None and not busy
        self.import_button.setEnabled(can_fetch)
        self.download_button.setEnabled(can_fetch and self.download_combo.count() > 0)

    # --- actions ----------------------------------------------------------------------------------------
    def activate_selected(self) -> None:
        e = self.selected()
        if e is not None and not self.vm.busy:
            ask_and_activate(self, self.vm, e.id, self.confirm)

    def switch_back(self) -> None:
        previous = self.vm.previous
        if previous is not None and not self.vm.busy:
            ask_and_activate(self, self.vm, previous.id, self.confirm)

    def rename_selected(self) -> None:
        e = self.selected()
        if e is None:
            return
        title = self.ask_title(self, e.title)
        if title is not None and title.strip() and title.strip() != e.title:
            self.vm.rename(e.id, title)

    def remove_selected(self) -> None:
        e = self.selected()
        if e is None:
            return
        refusal = removal_refusal(e)
        if refusal is not None:
            self._notice("This model cannot be removed", refusal, "warning")
            return
        title, text = removal_question(e)
        if self.confirm(self, title, text, "Move to trash"):
            self.vm.remove(e.id)

    def import_file(self) -> None:
        if self.model_setup is not None:
            self.model_setup.import_file(self)

    def download(self) -> None:
        name = self.download_combo.currentData()
        if self.model_setup is not None and name:
            self.model_setup.fetch_default(self, name)

    # --- what happened ------------------------------------------------------------------------------------
    def _notice(self, title: str, text: str, kind: str, actions=None) -> None:
        self.banner.show_message(title, text, kind=kind, actions=actions, dismiss=self.banner.hide)

    def _on_message(self, text: str) -> None:
        self._notice(text, "", "info")

    def _on_failed(self, title: str, text: str) -> None:
        self._notice(title, text, "error")

    def _on_installed(self, bundle: object) -> None:
        model_id = getattr(bundle, "id", "")
        card = getattr(bundle, "card", None)
        title = (card.title or card.name) if card is not None else model_id
        self._notice(
            f"Installed “{title}”",
            "It is not in use yet: select it and choose Use this model… to switch to it.",
            "info",
        )
        self._installed_id = model_id  # selected once the list has it
        self.vm.refresh()

    def _on_setup_failed(self, text: str) -> None:
        what = self.model_setup.last_action if self.model_setup is not None else "import"
        title = "The weights file was not imported" if what == "import" else "The model was not installed"
        self._notice(title, f"{text}\n\nThe model in use has not changed.", "error")

    def _on_unavailable(self, text: str) -> None:
        self._notice(
            "The model hub cannot be reached",
            text,
            "warning",
            actions=[("Import weights file…", self.import_file)],
        )


def _short(title: str, n: int = 28) -> str:
    return title if len(title) <= n else title[: n - 1] + "…"


def details_html(e: InstalledModel) -> str:
    from html import escape

    rows = [
        f"<b>{escape(e.title)}</b> &nbsp;<span style='color:gray'>{escape(e.id)}</span>",
        escape(e.provenance_text),
    ]
    facts = [
        e.backbone,
        f"{e.input_size} px input",
        f"{e.dims}-d descriptor (PCA)" if e.dims else (f"{e.width}-d descriptor" if e.width else ""),
        f"{formatting.plural(e.vectors, 'photo')} indexed with it",
        f"{formatting.size(e.disk_bytes)} on disk",
    ]
    rows.append(escape(" · ".join(f for f in facts if f)))
    metrics = metrics_text(e.metrics)
    if metrics:
        rows.append(f"Held-out results of its fine-tune: {escape(metrics)}")
    standing = {
        "In use": "Search uses this model.",
        "Switching to it": "The library is being re-indexed with it; search switches when that is done.",
        "Used before": "Used before the current model: its vectors are kept, so switching back is quick.",
    }.get(status_text(e))
    if standing:
        rows.append(f"<i>{escape(standing)}</i>")
    return "<br>".join(rows)
