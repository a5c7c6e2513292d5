"""The main window: library side, Search / Duplicates / Benchmark tabs, menus, banner and status bar.

It composes the views and connects them to the LibraryClient; the views hold their own behaviour, the
status bar is window_status's, the banner's model and library notices window_notices', the menus
window_menus'. The window's one TaskRunner is the client's (`self.runner`); every view that runs work
gets it.

Size: the window never makes itself larger than its screen. Its minimum follows what the widgets need
but is capped at the screen's free area (Qt would otherwise grow a window past the screen to fit one
long label), and the first size is the default one only where the screen has room for it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from irt_desktop.gui import icons
from irt_desktop.gui.about import show_about
from irt_desktop.gui.banner import Banner
from irt_desktop.gui.duplicates_view import DuplicatesView
from irt_desktop.gui.gui_words import gui_text
from irt_desktop.gui.library_client import FAILED, NO_MODEL, OPENING, READY, LibraryClient
from irt_desktop.gui.library_panel import LibraryPanel
from irt_desktop.gui.model_setup import ModelSetup
from irt_desktop.gui.models_view_model import ModelsViewModel
from irt_desktop.gui.query import Query, read_mime
from irt_desktop.gui.search_view import SearchView
from irt_desktop.gui.settings import AppSettings
from irt_desktop.gui.thumbnails import ThumbnailCache, ThumbnailLoader
from irt_desktop.gui.window_folders import FolderActions
from irt_desktop.gui.window_menus import build_actions
from irt_desktop.gui.window_notices import WindowNotices
from irt_desktop.gui.window_size import bound_minimum, default_size, free_the_minimum
from irt_desktop.gui.window_status import WindowStatus

if TYPE_CHECKING:
    from irt_desktop.retrieval.bundle import ModelBundle

log = logging.getLogger(__name__)

DEFAULT_SIZE = (1280, 800)
LIBRARY_PANEL_PX = 270


class MainWindow(FolderActions, QMainWindow):
    library_switch_requested = Signal(Path)

    # Made by window_menus.build_actions.
    open_action: QAction
    paste_action: QAction
    add_folder_action: QAction
    rescan_action: QAction
    pause_action: QAction
    cancel_action: QAction
    resume_action: QAction
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
        self.notices = WindowNotices(self)
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
        self.splitter.setSizes([LIBRARY_PANEL_PX, DEFAULT_SIZE[0] - LIBRARY_PANEL_PX])
        # The folder list can be dragged shut (and back) to give a small screen's width to the tabs.
        self.splitter.setCollapsible(0, True)
        self.splitter.setCollapsible(1, False)
        self.library_panel.setMinimumWidth(200)
        self.setCentralWidget(self.splitter)

        self.status = WindowStatus(self)
        self.indexing_status = self.status.indexing
        self.device_label = self.status.device_label
        self.model_button = self.status.model_button

        build_actions(self)
        self._connect()
        free_the_minimum(self)  # event() bounds it by the screen instead
        self.resize(default_size(self, DEFAULT_SIZE))
        geometry, _ = settings.window_state()
        if geometry:
            self.restoreGeometry(QByteArray(geometry))
        self._on_state(client.state)

    # --- wiring -----------------------------------------------------------------------------------------
    def _connect(self) -> None:
        c = self.client
        c.state_changed.connect(self._on_state)
        c.roots_changed.connect(self.library_panel.set_roots)
        c.error.connect(self._show_error)
        c.message.connect(lambda text: self.status.message(text, 6000))
        self.status.connect()
        self.notices.connect()
        lp = self.library_panel
        lp.add_requested.connect(self.add_folder_dialog)
        lp.folders_dropped.connect(self.add_folders)
        lp.remove_requested.connect(self.remove_root)
        lp.rescan_requested.connect(c.rescan)
        lp.problems_requested.connect(self.show_failures)
        lp.filter_requested.connect(self._filter_to_root)
        self.search_view.status_message.connect(lambda text: self.status.message(text))
        self.search_view.folders_dropped.connect(self.add_folders)
        self.duplicates_view.status_message.connect(lambda text: self.status.message(text))
        self.model_manager.message.connect(lambda text: self.status.message(text))

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() in (QEvent.Type.LayoutRequest, QEvent.Type.Show):
            bound_minimum(self)
        return handled

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
            self.notices.model_missing(None)
            if self.auto_fetch_model and not self._fetch_attempted and not self.settings.model_fetch_declined:
                self._fetch_attempted = True
                # After the window has painted: the dialog must not be the first thing drawn.
                QTimer.singleShot(300, self.fetch_model)
        elif state == FAILED:
            self.indexing_status.set_idle("The library could not be opened")
            self.notices.library_failed()
        elif ready:
            self.banner.hide()

    # Kept by name: tests and scripted screenshots drive these flows directly.
    def _show_model_missing(self, detail: str | None) -> None:
        self.notices.model_missing(detail)

    def _on_model_installed(self, bundle: ModelBundle) -> None:
        self.notices.model_installed(bundle)

    def fetch_model(self) -> None:
        self.model_setup.fetch_default(self)

    def import_weights(self) -> None:
        self.model_setup.import_file(self)

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

    def toggle_pause(self) -> None:
        self.client.pause_indexing(self.pause_action.isChecked())

    def _show_error(self, title: str, text: str) -> None:
        text = gui_text(text)
        self.status.message(f"{title}: {text}", 10000)
        if title.lower().startswith(("add folder", "remove folder", "activate", "indexing")):
            # Errors arrive from workers at any time: shown without a nested event loop.
            box = QMessageBox(QMessageBox.Icon.Warning, title, text, parent=self)
            box.open()
            self._error_box = box

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
        # Closing the library may take seconds (the hourly catalog backup is 13 s at 10^6 photos, the
        # FAISS file is written): the window goes first instead of standing frozen meanwhile.
        self.hide()
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

