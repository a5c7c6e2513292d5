"""The main window: library side, Search / Duplicates / Benchmark tabs, menus, banner and status bar.

It composes the views and connects them to the LibraryClient; the views hold their own behaviour. The
window's one TaskRunner is the client's (`self.runner`); every view that runs work gets it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import icons
from irt_desktop.gui.about import show_about
from irt_desktop.gui.banner import Banner
from irt_desktop.gui.duplicates_view import DuplicatesView
from irt_desktop.gui.indexing_status import (
    IndexingStatus,
    finished_text,
    library_status_text,
    model_tooltip,
)
from irt_desktop.gui.library_client import FAILED, NO_MODEL, OPENING, READY, LibraryClient
from irt_desktop.gui.library_panel import LibraryPanel, failures_box
from irt_desktop.gui.model_setup import ModelSetup, model_missing_text
from irt_desktop.gui.models_view_model import ModelsViewModel
from irt_desktop.gui.query import Query, read_mime
from irt_desktop.gui.search_view import SearchView
from irt_desktop.gui.settings import AppSettings
from irt_desktop.gui.thumbnails import ThumbnailCache, ThumbnailLoader
from irt_desktop.gui.window_menus import build_actions

if TYPE_CHECKING:
    from irt_desktop.library.model_store import InstalledModel
    from irt_desktop.library.records import Failure, IndexReport, LibraryStatus, Root, Skipped
    from irt_desktop.retrieval.bundle import ModelBundle

log = logging.getLogger(__name__)

DEFAULT_SIZE = (1280, 800)


class MainWindow(QMainWindow):
    library_switch_requested = Signal(Path)

    # Made by window_menus.build_actions.
    open_action: QAction
    paste_action: QAction
    add_folder_action: QAction
    rescan_action: QAction
    pause_action: QAction
    import_weights_action: QAction
    download_model_action: QAction
    models_action: QAction
    settings_action: QAction
    finetune_action: QAction
    duplicates_action: QAction
    benchmark_action: QAction
    quit_action: QAction
    focus_search_action: QAction
    focus_results_action: QAction
    focus_library_action: QAction
    toolbar: QToolBar

    def __init__(
        self,
        client: LibraryClient,
        settings: AppSettings,
        model_setup: ModelSetup | None = None,
        auto_fetch_model: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.runner = client.runner
        self.settings = settings
        self.auto_fetch_model = auto_fetch_model
        self.model_setup = model_setup or ModelSetup(
            client.library_dir, settings, parent=self, runner=self.runner
        )
        self.setWindowTitle("irt-desktop")
        self.setWindowIcon(icons.app_icon())
        self.setAcceptDrops(True)
        self._fetch_attempted = False
        self._wizard = None
        self._benchmark = None
        self._models_dialog = None
        # The installed models and the one in use (the status bar, Models…, the banner's "Use it…").
        self.model_manager = ModelsViewModel(client, parent=self)

        self.thumbnails = ThumbnailLoader(ThumbnailCache(client.layout.thumbnails), parent=self)

        self.library_panel = LibraryPanel()
        self.search_view = SearchView(client, settings, self.thumbnails, runner=self.runner)
        self.duplicates_view = DuplicatesView(client, settings, self.thumbnails, runner=self.runner)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.search_view, icons.icon("search"), "&Search")
        self.tabs.addTab(self.duplicates_view, icons.icon("duplicates"), "D&uplicates")
        self._benchmark_placeholder = QWidget()
        self.tabs.addTab(self._benchmark_placeholder, icons.icon("benchmark"), "&Benchmark")
        self.tabs.currentChanged.connect(self._on_tab_changed)

        self.banner = Banner()
        center = QWidget()
        center_layout = QVBoxLayout(center)
        center_layout.setContentsMargins(6, 6, 6, 0)
        center_layout.setSpacing(6)
        center_layout.addWidget(self.banner)
        center_layout.addWidget(self.tabs, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.library_panel)
        self.splitter.addWidget(center)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([270, 1010])
        self.splitter.setChildrenCollapsible(False)
        self.library_panel.setMinimumWidth(220)
        self.setCentralWidget(self.splitter)

        self.indexing_status = IndexingStatus()
        self.device_label = QLabel("Device: …")
        self.device_label.setAccessibleName("Compute device")
        self.model_button = QToolButton()
        self.model_button.setObjectName("modelStatus")
        self.model_button.setAutoRaise(True)
        self.model_button.setText("Model: …")
        self.model_button.setAccessibleName("Model in use")
        self.model_button.setToolTip("The model search uses; click to see and switch models")
        self.model_button.clicked.connect(self.open_models_dialog)
        # Permanent widgets stay put; transient messages (showMessage) use the free space on the left
        # instead of being painted over the indexing status.
        self.statusBar().addPermanentWidget(self.indexing_status)
        self.statusBar().addPermanentWidget(self.model_button)
        self.statusBar().addPermanentWidget(self.device_label)

        build_actions(self)
        self._connect()
        self.resize(*DEFAULT_SIZE)
        geometry, _ = settings.window_state()
        if geometry:
            self.restoreGeometry(QByteArray(geometry))
        self._on_state(client.state)

    # --- wiring -----------------------------------------------------------------------------------------
    def _connect(self) -> None:
        c = self.client
        c.state_changed.connect(self._on_state)
        c.roots_changed.connect(self.library_panel.set_roots)
        c.index_started.connect(self.indexing_status.set_running)
        c.index_progress.connect(self.indexing_status.set_progress)
        c.index_finished.connect(self._on_index_finished)
        c.paused_changed.connect(self._on_paused)
        c.device_changed.connect(lambda text: self.device_label.setText(f"Device: {text}"))
        c.error.connect(self._show_error)
        c.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        c.status_changed.connect(self._on_status)
        self.indexing_status.pause_toggled.connect(c.pause_indexing)
        lp = self.library_panel
        lp.add_requested.connect(self.add_folder_dialog)
        lp.folders_dropped.connect(self.add_folders)
        lp.remove_requested.connect(self.remove_root)
        lp.rescan_requested.connect(c.rescan)
        lp.problems_requested.connect(self.show_failures)
        lp.filter_requested.connect(self._filter_to_root)
        self.search_view.status_message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.search_view.folders_dropped.connect(self.add_folders)
        self.duplicates_view.status_message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        ms = self.model_setup
        ms.installed.connect(self._on_model_installed)
        ms.unavailable.connect(self._on_model_unavailable)
        ms.failed.connect(self._on_model_failed)
        mm = self.model_manager
        mm.active_changed.connect(self._on_active_model)
        mm.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        mm.failed.connect(self._on_manager_failed)

    # --- library state ------------------------------------------------------------------------------------
    def _on_state(self, state: str) -> None:
        ready = state == READY
        self.library_panel.set_enabled_actions(state in (READY, NO_MODEL))
        self.add_folder_action.setEnabled(state in (READY, NO_MODEL))
        self.rescan_action.setEnabled(ready)
        self.duplicates_view.setEnabled(ready)
        if state == OPENING:
            self.indexing_status.set_idle("Opening the library…")
        elif state == NO_MODEL:
            self.indexing_status.set_idle("Indexing waits for a model")
            self._show_model_missing(None)
            if self.auto_fetch_model and not self._fetch_attempted and not self.settings.model_fetch_declined:
                self._fetch_attempted = True
                # After the window has painted: the dialog must not be the first thing drawn.
                QTimer.singleShot(300, self.fetch_model)
        elif state == FAILED:
            error = self.client.open_error
            self.indexing_status.set_idle("The library could not be opened")
            self.banner.show_message(
                "The library could not be opened",
                f"{error}\n\nLibrary folder: {self.client.library_dir}",
                kind="error",
                actions=[("Settings…", self.open_settings), ("Try again", self.client.reopen)],
            )
        elif ready:
            self.banner.hide()

    def _show_model_missing(self, detail: str | None) -> None:
        self.banner.show_message(
            "No model installed — indexing is waiting",
            model_missing_text(detail),
            kind="warning",
            actions=[("Import weights file…", self.import_weights), ("Download", self.fetch_model)],
            dismiss=self.banner.hide,
        )

    def _restore_banner(self) -> None:
        """After a notice is dismissed: the banner the library's state calls for, if any."""
        state = self.client.state
        if state == NO_MODEL:
            self._show_model_missing(None)
        elif state == FAILED:
            self._on_state(FAILED)
        else:
            self.banner.hide()

    def fetch_model(self) -> None:
        self.model_setup.fetch_default(self)

    def import_weights(self) -> None:
        self.model_setup.import_file(self)

    def _dialog_shows_it(self) -> bool:
        """The Models dialog is open: it shows what the setup flows report itself."""
        return self._models_dialog is not None and self._models_dialog.isVisible()

    def _on_model_installed(self, bundle: ModelBundle) -> None:
        card = getattr(bundle, "card", None)
        title = (card.title or card.name) if card is not None else str(getattr(bundle, "id", bundle))
        model_id = str(getattr(bundle, "id", ""))
        self.model_manager.refresh()
        if self.client.state == NO_MODEL:
            # The library's first model: nothing serves that it would replace, so it is simply used.
            self.banner.show_message(
                "Model installed", f"{title} — indexing starts now.", kind="info", dismiss=self.banner.hide
            )
            if model_id:
                self.model_manager.activate(model_id)
            else:
                self.client.check_model()
        elif self.client.state == READY:
            if self._dialog_shows_it():
                return
            serving = self.model_manager.serving
            now = f"search keeps using “{serving.title}”" if serving is not None else "nothing changed"
            self.banner.show_message(
                f"Model installed: {title}",
                f"It is not in use yet: {now}. Switching to it re-indexes your photos; it asks first.",
                kind="info",
                actions=[
                    ("Use it…", lambda: self.ask_to_activate(model_id)),
                    ("Models…", self.open_models_dialog),
                ],
                dismiss=self._restore_banner,
            )
        else:
            self.client.reopen()

    def _on_model_failed(self, text: str) -> None:
        """A weights file that was refused, or a download that failed: said in plain words, the model in
        use and the banner's state left as they were, and dismissable."""
        if self._dialog_shows_it():
            return
        importing = self.model_setup.last_action == "import"
        title = "The weights file was not imported" if importing else "The model could not be downloaded"
        actions = [("Import another file…" if importing else "Import weights file…", self.import_weights)]
        if self.client.state == NO_MODEL:
            text += "\n\nIndexing waits for a model: import another weights file, or download one."
            actions.append(("Download", self.fetch_model))
        else:
            text += "\n\nThe model in use has not changed."
        self.banner.show_message(title, text, kind="error", actions=actions, dismiss=self._restore_banner)

    def _on_model_unavailable(self, text: str) -> None:
        if self._dialog_shows_it():
            return
        if self.client.state == NO_MODEL:
            self._show_model_missing(text)
            return
        self.banner.show_message(
            "The model hub cannot be reached",
            text,
            kind="warning",
            actions=[("Import weights file…", self.import_weights)],
            dismiss=self._restore_banner,
        )

    def _on_manager_failed(self, title: str, text: str) -> None:
        self.statusBar().showMessage(f"{title}: {text}", 10000)
        if not self._dialog_shows_it():
            self.banner.show_message(title, text, kind="error", dismiss=self._restore_banner)

    def _on_active_model(self, entry: InstalledModel | None) -> None:
        target = self.model_manager.target
        if entry is None:
            self.model_button.setText("Model: none")
            self.model_button.setToolTip("No model is in use yet; click to install or choose one")
            return
        text = f"Model: {_short(entry.title)}"
        tip = f"{entry.title}\n{entry.provenance_text}\n{entry.id}"
        if target is not None:
            text += f" → {_short(target.title, 24)}"
            tip += f"\n\nSwitching to {target.title}: search uses the current model until re-indexed."
        self.model_button.setText(text)
        self.model_button.setToolTip(tip + "\n\nClick to see and switch models.")

    def open_models_dialog(self) -> None:
        from irt_desktop.gui.models_dialog import ModelsDialog

        if self._models_dialog is None:
            self._models_dialog = ModelsDialog(self.model_manager, self.model_setup, self)
        else:
            self.model_manager.refresh()
        self._models_dialog.show()
        self._models_dialog.raise_()
        self._models_dialog.activateWindow()

    def ask_to_activate(self, model_id: str) -> None:
        from irt_desktop.gui.models_dialog import ask_and_activate

        if model_id:
            ask_and_activate(self, self.model_manager, model_id)

    def _on_status(self, status: LibraryStatus) -> None:
        self.device_label.setToolTip(model_tooltip(status))
        if self.client.state == READY and not self.client.indexer.is_running:
            self.indexing_status.set_idle(library_status_text(status))

    def _on_index_finished(self, report: IndexReport | None, error: BaseException | None) -> None:
        self.indexing_status.set_idle(finished_text(report, error))

    def _on_paused(self, paused: bool) -> None:
        self.indexing_status.set_paused(paused)
        self.pause_action.blockSignals(True)
        self.pause_action.setChecked(paused)
        self.pause_action.blockSignals(False)
        self.pause_action.setText("&Resume indexing" if paused else "&Pause indexing")

    def toggle_pause(self) -> None:
        self.client.pause_indexing(self.pause_action.isChecked())

    def _show_error(self, title: str, text: str) -> None:
        self.statusBar().showMessage(f"{title}: {text.splitlines()[0] if text else ''}", 10000)
        if title.lower().startswith(("add folder", "remove folder", "activate", "indexing")):
            # Errors arrive from workers at any time: shown without a nested event loop.
            box = QMessageBox(QMessageBox.Icon.Warning, title, text, parent=self)
            box.open()
            self._error_box = box

    # --- folders -----------------------------------------------------------------------------------------
    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos", self.settings.last_dir)
        if folder:
            self.settings.last_dir = folder
            self.add_folders([Path(folder)])

    def add_folders(self, folders: list[Path]) -> None:
        known = {Path(r.path) for r in self.client.roots}
        for folder in folders:
            if folder in known:
                self.statusBar().showMessage(f"{folder} is already in the library", 5000)
                continue
            self.client.add_root(folder)

    def remove_root(self, root: Root) -> None:
        answer = QMessageBox.question(
            self,
            "Stop watching this folder?",
            f"Remove {root.path} from the library?\n\nThe photos stay on disk; only their entries in the "
            "library are removed, and they no longer appear in searches.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.client.remove_root(root.id)

    def _filter_to_root(self, root: Root) -> None:
        self.tabs.setCurrentWidget(self.search_view)
        self.search_view.filter_to_root(root)

    def show_failures(self) -> None:
        def show(found: tuple[list[Failure], list[Skipped]]) -> None:
            self._failures_box = failures_box(found[0], self, found[1])
            self._failures_box.open()

        self.client.submit(lambda lib: (lib.failures(), lib.skipped()), show, name="list unreadable files")

    # --- drops and paste ----------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        content = read_mime(event.mimeData())
        if content.has_query or content.folders:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        content = read_mime(event.mimeData())
        if content.folders:
            self.add_folders(content.folders)
        if content.image_files:
            self.tabs.setCurrentWidget(self.search_view)
            self.search_view.set_query(Query(content.image_files[0], content.image_files[0].name))
        elif content.image is not None:
            self.tabs.setCurrentWidget(self.search_view)
            self.search_view.set_image_query(content.image, "dropped image")
        event.acceptProposedAction()

    def paste(self) -> None:
        focus = QApplication.focusWidget()
        # Text fields keep their own paste.
        if focus is not None and hasattr(focus, "paste") and focus is not self.search_view:
            focus.paste()
            return
        self.tabs.setCurrentWidget(self.search_view)
        self.search_view.paste()

    def present(self) -> None:
        """Bring the window to the front (a second launch handing over photos, "Open with")."""
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    def search_photos(self, photos: list[Path]) -> None:
        """Search by the first photo given on the command line or by "Open with"."""
        photos = [Path(p) for p in photos if Path(p).is_file()]
        if photos:
            self.tabs.setCurrentWidget(self.search_view)
            self.search_view.set_query(Query(photos[0].resolve(), photos[0].name))

    # --- dialogs ------------------------------------------------------------------------------------------
    def open_settings(self) -> None:
        from irt_desktop.gui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(
            self.settings, self.client.library_dir, self, exclude_patterns=self.client.exclude_patterns
        )
        if dialog.exec():
            self.apply_settings(dialog.changed_keys)

    def apply_settings(self, keys: set[str]) -> None:
        if "view/thumbnail_size" in keys:
            self.search_view.set_thumbnail_size(self.settings.thumbnail_size)
            self.duplicates_view.set_thumbnail_size(self.settings.thumbnail_size)
        if "view/theme" in keys:
            from irt_desktop.gui.theme import apply_theme

            apply_theme(QApplication.instance(), self.settings.theme)
        if (
            "library/path" in keys
            and self.settings.library_path
            and self.settings.library_path != self.client.library_dir
        ):
            self.library_switch_requested.emit(self.settings.library_path)
            return
        # Applied to the open library: no reopen, and an indexing pass under way carries on.
        if keys & {"compute/device", "compute/bf16"}:
            self.client.set_inference(self.settings.device, self.settings.bf16)
        if "library/exclude_patterns" in keys:
            self.client.set_exclude_patterns(self.settings.exclude_patterns)

    def open_finetune_wizard(self) -> None:
        from irt_desktop.gui.finetune import FinetuneWizard

        if self._wizard is None or not self._wizard.isVisible():
            self._wizard = FinetuneWizard(
                self.client, self.settings, self.thumbnails, self, models=self.model_manager
            )
        self._wizard.show()
        self._wizard.raise_()

    def _on_tab_changed(self, index: int) -> None:
        if index == 2 and self._benchmark is None:
            from irt_desktop.gui.benchmark_pane import BenchmarkPane

            self._benchmark = BenchmarkPane(self.client, self.settings, self, models=self.model_manager)
            self.tabs.blockSignals(True)
            self.tabs.removeTab(2)
            self.tabs.insertTab(2, self._benchmark, icons.icon("benchmark"), "&Benchmark")
            self.tabs.setCurrentIndex(2)
            self.tabs.blockSignals(False)
            self._benchmark_placeholder.deleteLater()

    @property
    def benchmark_pane(self):
        if self._benchmark is None:
            self.tabs.setCurrentIndex(2)
        return self._benchmark

    def show_about(self) -> None:
        show_about(self)

    # --- exit --------------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.set_window_state(bytes(self.saveGeometry().data()), bytes(self.saveState().data()))
        if self._models_dialog is not None:
            self._models_dialog.close()
        for child in (self._wizard, self._benchmark):
            if child is not None and hasattr(child, "shutdown"):
                child.shutdown()
        self.model_setup.shutdown()
        self.thumbnails.shutdown()
        self.client.close()
        self.settings.sync()
        super().closeEvent(event)


def _short(title: str, n: int = 40) -> str:
    return title if len(title) <= n else title[: n - 1] + "…"
