"""Duplicates (exact and near, each kind trashed on its own after confirmation, undone action by
action), the first-run model flow (offline banner, import), settings, result actions and keyboard use
of the main window."""

from __future__ import annotations

import shutil
from pathlib import Path

from imagegen import photo
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QPalette
from test_gui_helpers import (
    WAIT_MS,
    build_window,
    install_model,
    make_photos,
    wait_indexed,
    wait_ready,
    wait_results,
)


def test_duplicates_exact_and_near_and_trash_after_confirmation(qtbot, main_window, tmp_path, monkeypatch):
    w = main_window
    folder = tmp_path / "Dups"
    make_photos(folder, 6)
    (folder / "copies").mkdir()
    shutil.copy2(folder / "photo_001.jpg", folder / "copies" / "photo_001 (copy).jpg")
    photo(3).save(folder / "photo_003_again.jpg", quality=60)  # same scene, re-encoded: a near duplicate
    wait_ready(qtbot, w)
    w.add_folders([folder])
    wait_indexed(qtbot, w, 8)

    w.duplicates_action.trigger()
    dv = w.duplicates_view
    assert w.tabs.currentWidget() is dv
    dv.slider.setValue(950)
    dv.find_button.click()
    qtbot.waitUntil(lambda: dv.report is not None, timeout=WAIT_MS)
    assert dv.exact_tree.topLevelItemCount() == 1
    exact = dv.exact_tree.topLevelItem(0)
    assert exact.childCount() == 2
    near_names = {
        Path(dv.near_tree.topLevelItem(i).child(j).data(0, Qt.ItemDataRole.UserRole + 1).path).name
        for i in range(dv.near_tree.topLevelItemCount())
        for j in range(dv.near_tree.topLevelItem(i).childCount())
    }
    assert {"photo_003.jpg", "photo_003_again.jpg"} <= near_names
    assert not any(b.isEnabled() for b in dv.trash_buttons.values())

    # Kinds apart: the exact copies' bulk action ticks no near copy; each kind has its own trash action.
    dv.check_all_but_best("exact")
    exact_checked = dv.checked_paths("exact")
    assert dv.checked_paths("near") == [] and len(exact_checked) == dv.exact_tree.topLevelItemCount()
    dv.check_all_but_best("near")
    near_checked = dv.checked_paths("near")
    assert len(near_checked) == dv.near_tree.topLevelItemCount()
    assert dv.trash_buttons["exact"].isEnabled() and dv.trash_buttons["near"].isEnabled()
    checked = exact_checked + near_checked

    # Declined: nothing moves.
    monkeypatch.setattr(dv, "confirm_trash", lambda kind: False)
    dv.trash_buttons["exact"].click()
    qtbot.wait(200)
    assert all(Path(p).exists() for p in checked)

    # Confirmed, one kind at a time: the files go to the (test's own) trash, never unlinked.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    asked = []
    monkeypatch.setattr(dv, "confirm_trash", lambda kind: asked.append(kind) or True)
    dv.trash_buttons["exact"].click()
    qtbot.waitUntil(lambda: not any(Path(p).exists() for p in exact_checked), timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: dv.exact_tree.topLevelItemCount() == 0 and dv.find_button.isEnabled(), timeout=WAIT_MS
    )
    assert all(Path(p).exists() for p in near_checked)  # the near copies' ticks did not ride along
    dv.trash_buttons["near"].click()
    qtbot.waitUntil(lambda: not any(Path(p).exists() for p in near_checked), timeout=WAIT_MS)
    assert asked == ["exact", "near"]
    trashed = {p.name for p in (tmp_path / "xdg").rglob("*") if p.is_file() and p.suffix == ".jpg"}
    assert {Path(p).name for p in checked} <= trashed
    # The lists refresh without the trashed files; undo puts each action back, rows and vectors included.
    qtbot.waitUntil(lambda: len(dv.undo_menu.actions()) == 2, timeout=WAIT_MS)
    dv.undo_button.click()
    qtbot.waitUntil(lambda: all(Path(p).exists() for p in near_checked), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(dv.undo_menu.actions()) == 1 and dv.undo_button.isEnabled(), timeout=WAIT_MS)
    dv.undo_button.click()
    qtbot.waitUntil(lambda: all(Path(p).exists() for p in checked), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: dv.exact_tree.topLevelItemCount() == 1, timeout=WAIT_MS)


def test_first_run_offline_banner_then_import(qtbot, themed_app, gui_settings, tiny_bundle, tmp_path):
    from irt_desktop.gui.model_setup import ModelSetup
    from irt_desktop.retrieval.weights import WeightsUnavailable

    library = tmp_path / "fresh-library"
    photos = make_photos(tmp_path / "Photos", 6)

    def offline(card, models_dir, progress):
        progress(0, 0)
        raise WeightsUnavailable("The weights are not on this computer and the model hub cannot be reached.")

    imported = []

    def importer(path, card, models_dir):
        imported.append((path, card))
        install_model(models_dir.parent, tiny_bundle)
        return tiny_bundle

    client, window = build_window(library, gui_settings)
    window.model_setup = setup = ModelSetup(
        library, gui_settings, installer=offline, importer=importer, parent=window, runner=window.runner
    )
    setup.installed.connect(window._on_model_installed)
    setup.unavailable.connect(window._show_model_missing)
    qtbot.addWidget(window)
    window.show()
    client.start()

    # No model: the window is up, says what is missing, and offers the import; indexing waits.
    qtbot.waitUntil(lambda: client.state == "no_model", timeout=WAIT_MS)
    assert window.banner.isVisible()
    assert "No model installed" in window.banner.title.text()
    labels = [b.text() for b in window.banner.buttons()]
    assert "Import weights file…" in labels
    assert "waits" in window.indexing_status.label.text()
    window.add_folders([photos[0].parent])
    qtbot.waitUntil(lambda: window.library_panel.list.count() == 1, timeout=WAIT_MS)
    assert not client.indexer.is_running and window.client.roots[0].status == "pending"

    # Offline download: a clear message, within the fast offline probe.
    window.fetch_model()
    qtbot.waitUntil(lambda: "cannot be reached" in window.banner.text.text(), timeout=WAIT_MS)
    assert not setup.busy

    # Import a weights file: the library gets its model and indexes.
    setup.import_file(window, path=tmp_path / "model.safetensors", card_name="deit-s")
    qtbot.waitUntil(lambda: client.state == "ready", timeout=WAIT_MS)
    assert imported and imported[0][1] == "deit-s"
    wait_indexed(qtbot, window, 6)
    assert not window.banner.isVisible() or "installed" in window.banner.title.text().lower()
    window.close()


def test_settings_dialog_persists_and_applies(qtbot, main_window, gui_settings, monkeypatch):
    from irt_desktop.gui.settings_dialog import SettingsDialog

    w = main_window
    wait_ready(qtbot, w)
    dialog = SettingsDialog(gui_settings, w.client.library_dir, w)
    qtbot.addWidget(dialog)
    dialog.thumb_slider.setValue(224)
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    dialog.device_combo.setCurrentIndex(dialog.device_combo.findData("cpu"))
    dialog.bf16_check.setChecked(False)
    dialog.exclude_edit.setPlainText("*.tmp\nPrivate")
    dialog.accept()
    assert {"view/thumbnail_size", "view/theme", "compute/device", "compute/bf16"} <= dialog.changed_keys
    w.apply_settings(dialog.changed_keys)
    assert gui_settings.thumbnail_size == 224 and w.search_view.delegate.thumb_size == 224
    assert gui_settings.device == "cpu" and gui_settings.bf16 is False
    assert gui_settings.exclude_patterns == ["*.tmp", "Private"]
    assert QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128  # dark
    # Device, bf16 and patterns reach the open library; it is not reopened.
    library = w.client.library
    qtbot.waitUntil(
        lambda: (
            (library.device, library.low_precision, library.exclude_patterns)
            == ("cpu", False, ["*.tmp", "Private"])
        ),
        timeout=WAIT_MS,
    )
    assert w.client.state == "ready" and w.client.library is library
    gui_settings.sync()
    from PySide6.QtCore import QSettings

    again = QSettings(gui_settings.store.fileName(), QSettings.Format.IniFormat)
    assert int(again.value("view/thumbnail_size")) == 224


def test_keyboard_and_result_actions(qtbot, main_window, photo_files, monkeypatch):
    from irt_desktop.gui import result_actions

    w = main_window
    sv = w.search_view
    wait_ready(qtbot, w)
    w.add_folders([photo_files[0].parent])
    wait_indexed(qtbot, w, len(photo_files))
    w.search_photos([photo_files[5]])
    wait_results(qtbot, sv)

    # Every main control is reachable with Tab from the query area.
    sv.query_view.setFocus()
    seen = set()
    for _ in range(40):
        qtbot.keyClick(QGuiApplication.focusObject(), Qt.Key.Key_Tab)
        seen.add(QGuiApplication.focusObject())
    for widget in (sv.open_button, sv.paste_button, sv.k_spin, sv.min_slider, sv.folder_combo, sv.results):
        assert widget in seen, widget
    assert w.library_panel.list in seen

    # Results: Return shows the photo in the lightbox, Ctrl+Return hands it to another app, Ctrl+C
    # copies the path, Ctrl+M searches for more like it.
    opened = []
    monkeypatch.setattr(result_actions, "open_file", lambda p: opened.append(Path(p)) or True)
    w.focus_results_action.trigger()
    assert sv.results.hasFocus()
    first = sv.model.hit(0)
    qtbot.keyClick(sv.results, Qt.Key.Key_Return)
    assert sv.lightbox is not None and sv.lightbox.current == first
    sv.lightbox.close()
    sv.results.setFocus()
    qtbot.keyClick(sv.results, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert opened == [Path(first.path)]
    qtbot.keyClick(sv.results, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == str(first.path)
    previous = sv.last_answer
    qtbot.keyClick(sv.results, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    wait_results(qtbot, sv, previous)
    assert sv.query.image_id == first.image_id

    # Arrow keys move through the grid; the Menu key opens the context menu there.
    qtbot.keyClick(sv.results, Qt.Key.Key_Right)
    assert sv.results.currentIndex().row() == 1
    sv.results.show_context_menu(sv.results.current_menu_point())
    assert [a.text() for a in sv.results.menu.actions() if a.text()][:4] == [
        "&View",
        "&Open in other app",
        "Show in &folder",
        "&Copy path",
    ]
    sv.results.menu.close()


def test_layouts_at_common_sizes_and_dark(qtbot, main_window, photo_files):
    from irt_desktop.gui.theme import apply_theme

    w = main_window
    wait_ready(qtbot, w)
    for width, height in ((1280, 800), (1920, 1080)):
        w.resize(width, height)
        qtbot.wait(50)
        # Nothing is squeezed below its minimum; the results grid gets most of the width.
        assert w.search_view.query_view.width() >= 220
        assert w.search_view.results.width() >= width * 0.45
        assert w.library_panel.width() >= 220
        assert w.statusBar().isVisible()
    apply_theme(QGuiApplication.instance(), "dark")
    text = QGuiApplication.palette().color(QPalette.ColorRole.WindowText)
    window = QGuiApplication.palette().color(QPalette.ColorRole.Window)
    assert abs(text.lightness() - window.lightness()) > 120  # readable contrast
    apply_theme(QGuiApplication.instance(), "light")


def test_first_run_download_with_progress_dialog(qtbot, themed_app, gui_settings, tiny_bundle, tmp_path):
    """Online first run: the default model is fetched behind a progress dialog, then indexing starts."""
    import threading

    from irt_desktop.gui.model_setup import ModelSetup

    library = tmp_path / "fresh"
    go = threading.Event()
    seen = []

    def installer(card, models_dir, progress):
        seen.append(card)
        for done in range(0, 101, 20):
            progress(done * 1000, 100_000)
            go.wait(5) if done == 40 else None
        install_model(models_dir.parent, tiny_bundle)
        return tiny_bundle

    client, window = build_window(library, gui_settings)
    window.auto_fetch_model = True
    window.model_setup = setup = ModelSetup(
        library, gui_settings, installer=installer, parent=window, runner=window.runner
    )
    setup.installed.connect(window._on_model_installed)
    qtbot.addWidget(window)
    window.show()
    client.start()
    qtbot.waitUntil(lambda: setup.dialog is not None and setup.dialog.maximum() == 1000, timeout=WAIT_MS)
    assert "of" in setup.dialog.labelText()  # "... 40.0 KB of 97.7 KB"
    go.set()
    qtbot.waitUntil(lambda: client.state == "ready", timeout=WAIT_MS)
    assert seen == ["deit-s"] and setup.dialog is None
    window.close()
