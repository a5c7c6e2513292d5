"""The main window's actions, menus and toolbar: one table of what the user can ask for and where.

`build_actions(window)` creates each QAction as a `*_action` attribute of the window (tests and scripted
screenshots trigger them by name) and lays out the menu bar and the toolbar from them.

Go > Back / Forward walk the Search tab's query history and Edit > Undo takes back the last trash, move
or copy: the same calls as the Back / Forward buttons, the Search tab's Undo bar and the Duplicates
tab's Undo button, enabled only when there is something to do, saying what (gui.window_undo).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QToolBar

from irt_desktop.gui import icons
from irt_desktop.gui.window_undo import build_go_and_undo

if TYPE_CHECKING:
    from irt_desktop.gui.main_window import MainWindow

Shortcut = str | QKeySequence.StandardKey | None


def make_action(
    window: MainWindow, text: str, icon: str | None, shortcut: Shortcut, slot: Callable, tip: str = ""
) -> QAction:
    action = QAction(icons.icon(icon) if icon else QIcon(), text, window)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setToolTip(tip)
        action.setStatusTip(tip)
    action.triggered.connect(slot)
    return action


def build_actions(w: MainWindow) -> None:
    sv = w.search_view
    act = make_action
    w.open_action = act(
        w,
        "&Open image…",
        "image-open",
        QKeySequence.StandardKey.Open,
        sv.open_image_dialog,
        "Search by a photo from disk",
    )
    w.paste_action = act(
        w,
        "&Paste image",
        "paste",
        QKeySequence.StandardKey.Paste,
        w.paste,
        "Search by the image on the clipboard",
    )
    w.add_folder_action = act(
        w, "&Add folder…", "folder-add", "Ctrl+Shift+O", w.add_folder_dialog, "Watch a folder of photos"
    )
    w.rescan_action = act(
        w, "&Rescan folders", "rescan", "F5", w.client.rescan, "Look for new and changed photos now"
    )
    w.pause_action = act(w, "&Pause indexing", "pause", "Ctrl+Shift+P", w.toggle_pause)
    w.pause_action.setCheckable(True)
    w.cancel_action = act(
        w,
        "&Cancel indexing",
        "stop",
        None,
        w.client.cancel_indexing,
        "Stop after the current batch; photos indexed so far stay searchable",
    )
    w.resume_action = act(
        w, "Resume &indexing", "play", None, w.client.resume_indexing, "Index the photos that are left"
    )
    w.cancel_action.setEnabled(False)  # while a pass runs (window_status)
    w.resume_action.setEnabled(False)  # after a Cancel
    w.import_weights_action = act(w, "&Import weights file…", "import", None, w.import_weights)
    w.download_model_action = act(w, "&Download default model", "download", None, w.fetch_model)
    w.models_action = act(
        w,
        "&Models…",
        None,
        "Ctrl+Shift+M",
        w.open_models_dialog,
        "See the installed models; switch, rename or remove them",
    )
    w.settings_action = act(
        w, "&Settings…", "settings", QKeySequence.StandardKey.Preferences, w.open_settings
    )
    if w.settings_action.shortcut().isEmpty():  # no platform default (Linux desktops)
        w.settings_action.setShortcut(QKeySequence("Ctrl+,"))
    w.finetune_action = act(
        w,
        "&Fine-tune model…",
        "finetune",
        "Ctrl+Shift+T",
        w.open_finetune_wizard,
        "Teach the model your own albums",
    )
    w.duplicates_action = act(
        w, "Find &duplicates", "duplicates", "Ctrl+D", lambda: w.tabs.setCurrentWidget(w.duplicates_view)
    )
    w.benchmark_action = act(w, "&Benchmark", "benchmark", "Ctrl+B", lambda: w.tabs.setCurrentIndex(2))
    w.quit_action = act(w, "&Quit", None, QKeySequence.StandardKey.Quit, w.close)
    w.focus_search_action = act(w, "Focus &query", None, "Ctrl+L", lambda: sv.query_view.setFocus())
    w.focus_results_action = act(w, "Focus r&esults", None, "Ctrl+R", lambda: sv.results.setFocus())
    w.focus_library_action = act(w, "Focus &folders", None, "Ctrl+1", lambda: w.library_panel.list.setFocus())
    about = act(w, "&About irt-desktop", None, None, w.show_about)
    build_go_and_undo(w)

    bar = w.menuBar()
    file_menu = bar.addMenu("&File")
    for a in (w.open_action, w.paste_action, w.add_folder_action):
        file_menu.addAction(a)
    file_menu.addSeparator()
    file_menu.addAction(w.models_action)
    file_menu.addAction(w.import_weights_action)
    file_menu.addAction(w.download_model_action)
    file_menu.addSeparator()
    file_menu.addAction(w.quit_action)
    edit_menu = bar.addMenu("&Edit")
    edit_menu.addAction(w.undo_action)
    edit_menu.aboutToShow.connect(w.go_and_undo.refresh_undo)  # a copy or move may have just ended
    edit_menu.addSeparator()
    edit_menu.addAction(sv.copy_action)
    edit_menu.addSeparator()
    edit_menu.addAction(w.settings_action)
    library_menu = bar.addMenu("&Library")
    for a in (w.rescan_action, w.pause_action, w.cancel_action, w.resume_action, w.duplicates_action):
        library_menu.addAction(a)
    view_menu = bar.addMenu("&View")
    for a in (w.focus_search_action, w.focus_results_action, w.focus_library_action):
        view_menu.addAction(a)
    go_menu = bar.addMenu("&Go")
    go_menu.addAction(w.back_action)
    go_menu.addAction(w.forward_action)
    tools_menu = bar.addMenu("&Tools")
    tools_menu.addAction(w.models_action)
    tools_menu.addAction(w.finetune_action)
    tools_menu.addAction(w.benchmark_action)
    bar.addMenu("&Help").addAction(about)

    toolbar = QToolBar("Main")
    toolbar.setObjectName("mainToolbar")
    toolbar.setMovable(False)
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    for a in (w.add_folder_action, w.open_action, w.paste_action):
        toolbar.addAction(a)
    toolbar.addSeparator()
    for a in (w.finetune_action, w.settings_action):
        toolbar.addAction(a)
    w.addToolBar(toolbar)
    w.toolbar = toolbar
