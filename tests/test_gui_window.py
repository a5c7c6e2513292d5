"""The main window's frame: indexing status (pause, cancel, resume), folder counts, the unreadable-files
dialog, Settings' focus, the theme's dark file dialogs and indicator contrast, and GUI words instead of
command lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from test_gui_helpers import WAIT_MS, build_window, make_photos, wait_indexed, wait_ready

from irt_desktop.gui.gui_words import gui_text, tells_to_type_a_command
from irt_desktop.gui.indexing_status import library_status_text, progress_text
from irt_desktop.gui.library_panel import root_summary
from irt_desktop.library.records import (
    Failure,
    FailureKind,
    IndexProgress,
    LibraryStatus,
    Root,
    RootStatus,
    Skipped,
)

GUI = Path(__file__).resolve().parent.parent / "irt_desktop" / "gui"


def _root(status=RootStatus.INDEXED, n_images=284, n_failed=3, n_pending=0) -> Root:
    return Root(1, Path("/photos/Trip"), True, False, False, status, n_images, n_failed, n_pending)


def test_unreadable_files_are_counted_apart_from_photos():
    assert root_summary(_root()) == "281 photos, 3 unreadable"
    status = LibraryStatus(284, 281, 0, 3, "m", [])
    assert library_status_text(status) == "Up to date · 281 photos · 3 unreadable"
    waiting = LibraryStatus(284, 120, 161, 3, "m", [])
    assert library_status_text(waiting).startswith("161 of 281 photos waiting")
    assert library_status_text(waiting, stopped=True).startswith("Indexing stopped · 161 of 281 photos")


def test_a_folder_being_indexed_says_how_far_it_is():
    first = _root(RootStatus.PENDING, n_images=284, n_failed=0, n_pending=164)
    assert root_summary(first, indexing=True) == "indexing: 120 of 284"
    assert root_summary(first, indexing=False) == "284 photos, 164 to index"
    scanning = _root(RootStatus.PENDING, n_images=0, n_failed=0, n_pending=0)
    assert root_summary(scanning, indexing=True) == "looking for photos…"
    assert root_summary(_root(), indexing=True) == "281 photos, 3 unreadable"


def test_paused_progress_has_no_rate_and_no_time_left():
    p = IndexProgress(120, 284, 5.5, 30.0, "/p/x.jpg", "embed")
    running = progress_text(p, paused=False)
    assert "/s" in running and "left" in running
    paused = progress_text(p, paused=True)
    assert paused == "Paused · 120 of 284 indexed"
    assert progress_text(IndexProgress(40, 0, 3.0, None, "", "scan"), paused=True).startswith("Paused")


def test_cancel_keeps_what_is_indexed_holds_until_resume_and_resumes(
    qtbot, themed_app, library_dir, gui_settings, tmp_path
):
    photos = make_photos(tmp_path / "Trip", 24)
    client, w = build_window(library_dir, gui_settings)
    qtbot.addWidget(w)
    w.show()
    client.start()
    wait_ready(qtbot, w)
    qtbot.waitUntil(lambda: not client.indexer.is_running, timeout=WAIT_MS)
    status = w.indexing_status
    # Paused first, so the pass scans the folder and then waits before its first batch.
    status.pause_button.setChecked(True)
    assert client.indexer.is_paused
    w.add_folders([photos[0].parent])
    qtbot.waitUntil(
        lambda: client.indexer.is_running and client.library.status().n_pending == 24, timeout=WAIT_MS
    )
    # The folder's line counts the first indexing while it runs, not "0 photos".
    folders = w.library_panel.list
    qtbot.waitUntil(
        lambda: folders.count() == 1 and "indexing: 0 of 24" in folders.item(0).text(), timeout=WAIT_MS
    )
    qtbot.waitUntil(lambda: status.label.text().startswith("Paused"), timeout=WAIT_MS)
    assert "/s" not in status.label.text() and "left" not in status.label.text()
    assert status.cancel_button.isVisible()

    finished = []
    client.index_finished.connect(lambda report, error: finished.append((report, error)))
    status.cancel_button.click()
    qtbot.waitUntil(lambda: bool(finished), timeout=WAIT_MS)
    report, error = finished[-1]
    assert error is None and report.cancelled
    assert client.indexer.is_stopped and not client.indexer.is_paused
    qtbot.waitUntil(lambda: status.label.text().startswith("Indexing stopped"), timeout=WAIT_MS)
    assert status.resume_button.isVisible() and w.resume_action.isEnabled()
    assert not w.cancel_action.isEnabled()

    # Stopped means stopped: a change the watcher reports waits for Resume.
    client.indexer.request_paths([str(photos[0])])
    qtbot.wait(600)
    assert not client.indexer.is_running and client.library.status().n_pending == 24

    status.resume_button.click()
    wait_indexed(qtbot, w, 24)
    assert client.library.status().n_pending == 0 and not client.indexer.is_stopped
    assert not status.resume_button.isVisible()
    w.close()


def test_the_unreadable_files_dialog_lists_reasons_and_opens_reveals_copies(qtbot, tmp_path, monkeypatch):
    from PySide6.QtGui import QGuiApplication

    from irt_desktop.gui import unreadable_dialog as ud

    bad = tmp_path / "Trip" / "broken.jpg"
    bad.parent.mkdir()
    bad.write_bytes(b"not a jpeg")
    failures = [
        Failure(1, bad, "cannot identify image file"),
        Failure(2, tmp_path / "Trip" / "locked.jpg", "permission denied", kind=FailureKind.TRANSIENT),
    ]
    dialog = ud.UnreadableFilesDialog(failures, None, [Skipped("/p/pipe.jpg", "not a regular file", 1)])
    qtbot.addWidget(dialog)
    dialog.show()
    assert "2 files could not be read" in dialog.summary.text() and "1 name left out" in dialog.summary.text()
    assert dialog.failed_group.childCount() == 2 and dialog.skipped_group.childCount() == 1
    row = dialog.failed_group.child(0)
    assert (row.text(0), row.text(1)) == ("broken.jpg", "cannot identify image file")
    assert row.text(2) == str(bad.parent)
    assert "tried again" in dialog.failed_group.child(1).text(1)
    assert dialog.skipped_group.child(0).text(1) == "not a regular file"

    opened, revealed = [], []
    monkeypatch.setattr(ud, "open_file", lambda p: opened.append(p) or True)
    monkeypatch.setattr(ud, "reveal_in_file_manager", lambda p: revealed.append(p) or True)
    dialog.tree.setCurrentItem(row)
    assert dialog.open_button.isEnabled() and dialog.reveal_button.isEnabled()
    dialog.open_button.click()
    dialog.reveal_button.click()
    dialog.copy_button.click()
    assert opened == [str(bad)] and revealed == [str(bad)]
    assert QGuiApplication.clipboard().text() == str(bad)
    # A file that is gone cannot be opened, but its folder can still be shown.
    dialog.tree.setCurrentItem(dialog.failed_group.child(1))
    assert not dialog.open_button.isEnabled() and dialog.reveal_button.isEnabled()
    monkeypatch.setattr(ud, "open_file", lambda p: False)
    dialog.tree.setCurrentItem(row)
    dialog.open_button.click()
    assert "Show in folder" in dialog.message.text()


def test_settings_opens_with_the_focus_away_from_the_library_folder(
    qtbot, themed_app, gui_settings, tmp_path
):
    from irt_desktop.gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(gui_settings, tmp_path / "library")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: dialog.focusWidget() is not None)
    assert dialog.focusWidget() is dialog.ok_button
    assert not dialog.library_edit.hasFocus()


def test_dark_mode_uses_qt_file_dialogs(qapp):
    from PySide6.QtCore import Qt

    from irt_desktop.gui.theme import apply_theme

    try:
        apply_theme(qapp, "dark")
        assert qapp.testAttribute(Qt.ApplicationAttribute.AA_DontUseNativeDialogs)
        apply_theme(qapp, "light")
        assert not qapp.testAttribute(Qt.ApplicationAttribute.AA_DontUseNativeDialogs)
    finally:
        apply_theme(qapp, "light")


@pytest.mark.parametrize("kind", ["check", "radio"])
def test_dark_mode_indicators_stand_out_from_the_background(qtbot, qapp, kind):
    """The unchecked box or ring must be visible on a dark base: its outline differs from the
    background by a clear margin of lightness (Fusion's own is a few levels)."""
    from PySide6.QtGui import QColor, QPalette
    from PySide6.QtWidgets import QCheckBox, QRadioButton

    from irt_desktop.gui.theme import apply_theme

    apply_theme(qapp, "dark")
    try:
        widget = QCheckBox("") if kind == "check" else QRadioButton("")
        qtbot.addWidget(widget)
        widget.resize(24, 24)
        widget.show()
        image = widget.grab().toImage()
        back = qapp.palette().color(QPalette.ColorRole.Window).lightness()
        brightest = max(
            QColor(image.pixel(x, y)).lightness() for x in range(image.width()) for y in range(image.height())
        )
        assert brightest - back > 90, (brightest, back)
    finally:
        apply_theme(qapp, "light")


def test_library_and_model_messages_are_put_in_gui_words(tmp_path):
    from irt_desktop.library.model_store import no_model_message

    messages = [
        no_model_message(tmp_path / "models"),
        no_model_message(tmp_path / "models", "Model m1 is not installed."),
        f"{tmp_path}/catalog.sqlite is damaged (quick_check: bad page): run `irt-desktop repair`",
        f"{tmp_path}/catalog.sqlite is missing but the library has backups: run `irt-desktop repair` "
        "to restore the newest",
        "model m1 is not usable: bad card (reinstall it, or see `irt-desktop models list`)",
        "Several models are installed in /x (a, b) and none is active; choose one "
        "(`irt-desktop index --model ID`, or Library.activate_model).",
        "no sound backup in /x/backups to restore; `irt-desktop repair --start-empty` keeps the damaged "
        "catalog aside and starts an empty one (folders must then be added again)",
        "photos added or changed since then are picked up by the next `irt-desktop index`; the vector index "
        "is rebuilt from the catalog",
        "the catalog is at schema version 9, newer than this irt-desktop understands (7); update irt-desktop "
        "or use another --library folder",
        "200 tensors of a ViT (12 blocks, width 384, patch 16) that matches no known model; name its timm "
        "architecture with --backbone",
    ]
    for message in messages:
        assert tells_to_type_a_command(message), message  # the check itself sees the command
        words = gui_text(message)
        assert not tells_to_type_a_command(words), words
    assert "File › Download default model" in gui_text(messages[0])
    assert "Repair…" in gui_text(messages[2]) and "damaged" in gui_text(messages[2])
    assert "Models…" in gui_text(messages[4])


def _user_strings(path: Path) -> list[tuple[int, str]]:
    """String literals of a module that read as sentences (docstrings and single tokens left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    out = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and " " in node.value.strip()
        ):
            out.append((node.lineno, node.value))
    return out


def test_no_gui_message_tells_the_user_to_type_a_command():
    found = [
        f"{path.relative_to(GUI.parent.parent)}:{line}: {text!r}"
        for path in sorted(GUI.rglob("*.py"))
        if path.name != "gui_words.py"
        for line, text in _user_strings(path)
        if tells_to_type_a_command(text)
    ]
    assert not found, "\n".join(found)


def test_a_damaged_catalog_is_repaired_from_the_banner(
    qtbot, themed_app, library_dir, gui_settings, tmp_path, monkeypatch
):
    from irt_desktop.gui import window_notices
    from irt_desktop.library import Library
    from irt_desktop.paths import LibraryLayout

    photos = make_photos(tmp_path / "Trip", 3)
    with Library.open(library_dir) as library:  # its close leaves a backup
        library.add_root(photos[0].parent)
    layout = LibraryLayout(library_dir)
    layout.catalog.write_bytes(b"\0garbage" * 4000)
    client, w = build_window(library_dir, gui_settings)
    qtbot.addWidget(w)
    w.show()
    client.start()
    qtbot.waitUntil(lambda: client.state == "failed", timeout=WAIT_MS)
    text = w.banner.text.text()
    assert not tells_to_type_a_command(text), text
    repair = next(b for b in w.banner.buttons() if b.text() == "Repair…")
    asked = []
    monkeypatch.setattr(window_notices, "confirm", lambda *a: asked.append(a[1]) or True)
    repair.click()
    qtbot.waitUntil(lambda: client.state == "ready", timeout=WAIT_MS)
    assert asked == ["Repair the library?"]
    assert list(library_dir.glob("catalog-damaged-*.sqlite"))  # kept aside, never deleted
    qtbot.waitUntil(lambda: [r.path for r in client.roots] == [photos[0].parent], timeout=WAIT_MS)
    w.close()


def test_panel_buttons_show_icons_only_when_the_panel_is_narrow(qtbot, themed_app):
    from PySide6.QtCore import Qt

    from irt_desktop.gui.library_panel import LibraryPanel

    panel = LibraryPanel()
    qtbot.addWidget(panel)
    panel.resize(180, 400)
    panel.show()
    icons_only, beside = Qt.ToolButtonStyle.ToolButtonIconOnly, Qt.ToolButtonStyle.ToolButtonTextBesideIcon
    qtbot.waitUntil(lambda: panel.add_button.toolButtonStyle() == icons_only)
    assert panel.add_button.toolTip() and panel.add_button.accessibleName() == "Add"
    panel.resize(420, 400)
    qtbot.waitUntil(lambda: panel.add_button.toolButtonStyle() == beside)
    assert panel.rescan_button.width() >= panel.rescan_button.sizeHint().width()


def test_the_window_is_gone_before_the_library_closes(qtbot, themed_app, library_dir, gui_settings):
    """Closing the library can take seconds (an hourly backup of a catalog of gigabytes): the user
    must not see a frozen window meanwhile."""
    client, w = build_window(library_dir, gui_settings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    visible_while_closing = []
    real_close = client.close

    def close(*args, **kwargs):
        visible_while_closing.append(w.isVisible())
        return real_close(*args, **kwargs)

    client.close = close
    w.close()
    assert visible_while_closing == [False]
