"""Settings reach the open library (device, bf16, exclude patterns) without a reopen, and a photo copied
into a watched folder is indexed by the window's indexer: progress in the status bar, Pause holds it."""

from __future__ import annotations

import shutil
from pathlib import Path

from imagegen import save_photo
from test_gui_helpers import WAIT_MS, build_window, wait_indexed, wait_ready, wait_results


def test_settings_apply_to_the_open_library(qtbot, main_window, gui_settings, photo_files, monkeypatch):
    from PySide6.QtWidgets import QLabel

    import irt_desktop.device
    from irt_desktop.gui.settings_dialog import SettingsDialog

    monkeypatch.setattr(irt_desktop.device, "cpu_has_bf16", lambda: True)  # bf16 is a real choice here
    w = main_window
    wait_ready(qtbot, w)
    w.add_folders([photo_files[0].parent])
    wait_indexed(qtbot, w, len(photo_files))
    library = w.client.library
    assert (library.device, library.low_precision) == (None, True)

    dialog = SettingsDialog(gui_settings, w.client.library_dir, w)
    qtbot.addWidget(dialog)
    assert not any("not applied" in label.text().lower() for label in dialog.findChildren(QLabel))
    dialog.device_combo.setCurrentIndex(dialog.device_combo.findData("cpu"))
    dialog.bf16_check.setChecked(False)
    dialog.exclude_edit.setPlainText("photo_00*.jpg\n  \nPrivate/")
    dialog.accept()
    w.apply_settings(dialog.changed_keys)

    qtbot.waitUntil(lambda: (library.device, library.low_precision) == ("cpu", False), timeout=WAIT_MS)
    # Photos 000-009 leave the library; the same Library object serves throughout (no reopen).
    qtbot.waitUntil(
        lambda: sum(r.n_images for r in w.library_panel.roots()) == 14 and not w.client.indexer.is_running,
        timeout=WAIT_MS,
    )
    assert w.client.library is library and library.exclude_patterns == ["photo_00*.jpg", "Private/"]
    assert library.embedder().device == "cpu" and library.embedder().precision == "fp32"
    qtbot.waitUntil(lambda: w.device_label.text().endswith("fp32"), timeout=WAIT_MS)

    w.search_photos([photo_files[7]])
    hits = wait_results(qtbot, w.search_view)
    names = {Path(h.path).name for h in hits}
    assert len(hits) == 14 and not any(n.startswith("photo_00") for n in names)

    # bf16 back on: the next model the library loads tries it.
    gui_settings.bf16 = True
    w.apply_settings({"compute/bf16"})
    qtbot.waitUntil(lambda: library.low_precision is True, timeout=WAIT_MS)
    assert library.embedder().low_precision_check is not None


def test_a_photo_copied_into_a_watched_folder_is_indexed_with_progress_and_pause(
    qtbot, themed_app, library_dir, gui_settings, photo_files, tmp_path
):
    client, w = build_window(library_dir, gui_settings)
    client.watch_debounce_s = 0.3
    qtbot.addWidget(w)
    w.show()
    client.start()
    wait_ready(qtbot, w)
    folder = photo_files[0].parent
    w.add_folders([folder])
    wait_indexed(qtbot, w, len(photo_files))
    library = client.library
    qtbot.waitUntil(
        lambda: client.watcher is not None and len(client.watcher.watched_roots) == 1, timeout=WAIT_MS
    )

    texts: list[str] = []
    runs: list[object] = []
    # Connected after the status bar's own slot: records what it shows for each progress report.
    client.index_progress.connect(lambda p: texts.append(w.indexing_status.label.text()))
    client.index_finished.connect(lambda report, error: runs.append(report))

    outside = save_photo(tmp_path / "Downloads" / "visitor.jpg", 900, (96, 72), quality=92)
    copied = Path(shutil.copy2(outside, folder / "visitor.jpg"))
    qtbot.waitUntil(lambda: any(getattr(r, "embedded", 0) == 1 for r in runs), timeout=WAIT_MS)
    # An update of the one path, not a rescan of everything: the status bar counted one photo.
    assert any(t.startswith("Indexing 1 / 1") for t in texts), texts
    run = next(r for r in runs if r.embedded == 1)
    assert (run.scan.new, run.scan.seen, run.scan.unchanged) == (1, 1, 0)
    wait_indexed(qtbot, w, len(photo_files) + 1)
    w.search_photos([outside])
    hits = wait_results(qtbot, w.search_view)
    assert Path(hits[0].path) == copied and hits[0].score > 0.99

    # Paused: the watcher's change is scanned, and waits for Resume before it is embedded.
    w.indexing_status.pause_button.setChecked(True)
    assert client.indexer.is_paused
    texts.clear()
    later = Path(shutil.copy2(save_photo(tmp_path / "Downloads" / "later.jpg", 901, (96, 72)), folder))
    qtbot.waitUntil(lambda: library.status().n_pending == 1 and client.indexer.is_running, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: any(t.startswith("Paused") for t in texts), timeout=WAIT_MS)
    qtbot.wait(500)
    assert library.status().n_pending == 1 and client.indexer.is_running
    assert library.catalog.scalar("SELECT status FROM images WHERE path = ?", (str(later),)) == "pending"
    w.indexing_status.pause_button.setChecked(False)
    wait_indexed(qtbot, w, len(photo_files) + 2)
    assert library.status().n_pending == 0 and library.status().n_indexed == len(photo_files) + 2
    w.close()


def test_a_device_this_machine_lacks_opens_the_library_on_the_best_one(
    qtbot, themed_app, library_dir, gui_settings
):
    import torch

    missing = "mps" if not torch.backends.mps.is_available() else "cuda"
    gui_settings.device = missing
    client, w = build_window(library_dir, gui_settings)
    messages: list[str] = []
    client.message.connect(messages.append)
    qtbot.addWidget(w)
    w.show()
    client.start()
    wait_ready(qtbot, w)
    assert client.library.device is None and any(missing in m and "not available" in m for m in messages)
    w.close()


def test_the_dialog_edits_the_open_librarys_own_patterns(qtbot, themed_app, library_dir, gui_settings):
    from irt_desktop.gui.settings_dialog import SettingsDialog
    from irt_desktop.library import Library

    with Library.open(library_dir) as lib:  # as `irt-desktop index --exclude` leaves it
        lib.set_exclude_patterns(["Screenshots/"])
    gui_settings.exclude_patterns = ["*.tmp"]
    client, w = build_window(library_dir, gui_settings)
    qtbot.addWidget(w)
    w.show()
    client.start()
    wait_ready(qtbot, w)
    assert client.exclude_patterns == ["Screenshots/"] and client.library.exclude_patterns == ["Screenshots/"]
    dialog = SettingsDialog(gui_settings, client.library_dir, w, exclude_patterns=client.exclude_patterns)
    qtbot.addWidget(dialog)
    assert dialog.exclude_edit.toPlainText() == "Screenshots/"
    dialog.exclude_edit.setPlainText("Screenshots/\n*_draft.jpg")
    dialog.accept()
    assert "library/exclude_patterns" in dialog.changed_keys
    w.apply_settings(dialog.changed_keys)
    qtbot.waitUntil(lambda: client.exclude_patterns == ["Screenshots/", "*_draft.jpg"], timeout=WAIT_MS)
    assert client.library.exclude_patterns == ["Screenshots/", "*_draft.jpg"]
    w.close()
