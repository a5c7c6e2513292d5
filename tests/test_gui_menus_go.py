"""The window's Go > Back / Forward and Edit > Undo: in the menu bar with the platform's keys, enabled only
when there is somewhere to go or something to undo (and saying what), doing what the Search tab's buttons
and Undo bar and the Duplicates tab's Undo button do."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMenu
from test_gui_helpers import WAIT_MS, make_photos, wait_indexed, wait_ready, wait_results

from irt_desktop.gui import batch_actions
from irt_desktop.gui.batch_actions import Undo
from irt_desktop.gui.duplicates_undo import trash_undo_text
from irt_desktop.gui.query import Query
from irt_desktop.gui.results_view import COPY_TO, MOVE_TO, TRASH
from irt_desktop.gui.window_undo import batch_undo_text, shortcuts
from irt_desktop.library.file_ops import TransferResult
from irt_desktop.library.trash import TrashAction, TrashedFile, TrashResult


def _menu(window, title: str) -> QMenu:
    for action in window.menuBar().actions():
        if action.menu() is not None and action.text().replace("&", "") == title:
            return action.menu()
    raise AssertionError(f"no {title} menu in {[a.text() for a in window.menuBar().actions()]}")


def _active(qtbot, window) -> None:
    window.activateWindow()  # shortcuts reach the active window only
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)


def test_undo_says_what_it_undoes():
    hits = [object()] * 12  # only counted
    assert batch_undo_text(Undo(TRASH, "", TrashResult(), hits)) == "&Undo Move 12 photos to Trash"
    moved = TransferResult("move", Path("/home/me/Elsewhere"))
    assert batch_undo_text(Undo(MOVE_TO, "", moved, hits[:1])) == "&Undo Move 1 photo to Elsewhere"
    copied = TransferResult("copy", Path("/home/me/Best"))
    assert batch_undo_text(Undo(COPY_TO, "", copied, hits[:3])) == "&Undo Copy 3 photos to Best"
    files = [TrashedFile(f"/p/{n}.jpg", f"/t/{n}.jpg", f"/t/{n}.trashinfo") for n in range(3)]
    labelled = TrashAction(1, 0.0, "3 exact copies", files)
    assert trash_undo_text(labelled) == "&Undo Move 3 exact copies to Trash"
    # Trashed from the Search tab: the journal has no label, the photos are counted.
    assert trash_undo_text(TrashAction(2, 0.0, "", files[:1])) == "&Undo Move 1 photo to Trash"


def test_window_wide_keys_leave_backspace_to_the_views(qapp):
    back = shortcuts(QKeySequence.StandardKey.Back, "Alt+Left")
    assert QKeySequence("Alt+Left") in back and QKeySequence("Backspace") not in back
    assert back[0] == QKeySequence.keyBindings(QKeySequence.StandardKey.Back)[0]  # the platform's first
    forward = shortcuts(QKeySequence.StandardKey.Forward, "Alt+Right")
    assert QKeySequence("Alt+Right") in forward and QKeySequence("Shift+Backspace") not in forward
    assert len({k.toString() for k in back}) == len(back)


def test_go_menu_walks_the_search_history_like_its_buttons(qtbot, main_window, tmp_path):
    w = main_window
    sv = w.search_view
    photos = make_photos(tmp_path / "Queries", 3)
    wait_ready(qtbot, w)
    go = _menu(w, "Go")
    assert go.actions() == [w.back_action, w.forward_action]
    assert QKeySequence("Alt+Left") in w.back_action.shortcuts()
    assert QKeySequence("Alt+Right") in w.forward_action.shortcuts()
    assert not w.back_action.shortcut().isEmpty()  # shown beside the item
    assert not w.back_action.isEnabled() and not w.forward_action.isEnabled()

    for p in photos:
        sv.set_query(Query(p, p.name))
    assert w.back_action.isEnabled() and not w.forward_action.isEnabled()
    assert photos[1].name in w.back_action.toolTip()
    w.back_action.trigger()
    assert sv.query.label == photos[1].name
    assert w.back_action.isEnabled() and w.forward_action.isEnabled() and sv.forward_button.isEnabled()
    sv.back_button.click()  # the button and the menu walk the one history
    assert sv.query.label == photos[0].name
    assert not w.back_action.isEnabled() and w.forward_action.isEnabled()

    # From another tab: the Search tab comes to the front with the query.
    w.duplicates_action.trigger()
    w.forward_action.trigger()
    assert w.tabs.currentWidget() is sv and sv.query.label == photos[1].name

    # The keys: one action each (the Search tab's own would make them ambiguous, and nothing would fire).
    _active(qtbot, w)
    sv.results.setFocus()
    qtbot.keyClick(sv.results, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert sv.query.label == photos[2].name and not w.forward_action.isEnabled()
    qtbot.keyClick(sv.results, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert sv.query.label == photos[1].name


def test_edit_undo_takes_back_a_move_then_a_duplicates_trash(qtbot, main_window, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    w = main_window
    sv, dv = w.search_view, w.duplicates_view
    folder = tmp_path / "Dups"
    make_photos(folder, 6)
    (folder / "copies").mkdir()
    copy = folder / "copies" / "photo_001 (copy).jpg"
    shutil.copy2(folder / "photo_001.jpg", copy)
    wait_ready(qtbot, w)
    w.add_folders([folder])
    wait_indexed(qtbot, w, 7)
    edit = _menu(w, "Edit")
    assert edit.actions()[0] is w.undo_action
    assert QKeySequence(QKeySequence.StandardKey.Undo) in w.undo_action.shortcuts()
    assert not w.undo_action.isEnabled() and w.undo_action.text() == "&Undo"

    # The Search tab: move two photos away; Ctrl+Z (Edit > Undo) puts them back, as its Undo bar does.
    sv.set_query(Query(folder / "photo_002.jpg", "photo_002.jpg"))
    hits = wait_results(qtbot, sv)
    # Not the photo with a copy: the Duplicates part below finds that pair while these are re-indexed.
    chosen = [h for h in hits if Path(h.path).parent == folder and Path(h.path).name != "photo_001.jpg"][:2]
    moved = [Path(h.path) for h in chosen]
    dest = tmp_path / "Elsewhere"
    dest.mkdir()
    monkeypatch.setattr(batch_actions, "ask", lambda *a: True)
    monkeypatch.setattr(batch_actions, "choose_folder", lambda *a: dest)
    sv.batch.request(MOVE_TO, chosen)
    qtbot.waitUntil(lambda: all((dest / p.name).exists() for p in moved), timeout=WAIT_MS)
    qtbot.waitUntil(w.undo_action.isEnabled, timeout=WAIT_MS)
    assert w.undo_action.text() == "&Undo Move 2 photos to Elsewhere"
    _active(qtbot, w)
    sv.results.setFocus()
    qtbot.keyClick(sv.results, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: all(p.exists() for p in moved) and not any(dest.iterdir()), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not sv.batch.busy, timeout=WAIT_MS)
    assert not w.undo_action.isEnabled() and w.undo_action.text() == "&Undo" and sv.undo_bar.isHidden()
    wait_indexed(qtbot, w, 7)

    # The Duplicates tab: trash the exact copy; Edit > Undo names it and puts it back, as its button does.
    w.duplicates_action.trigger()
    assert not w.undo_action.isEnabled()  # nothing in the trash journal yet
    dv.find_button.click()
    qtbot.waitUntil(lambda: dv.report is not None and dv.find_button.isEnabled(), timeout=WAIT_MS)
    assert dv.exact_tree.topLevelItemCount() == 1
    dv.check_all_but_best("exact")
    (victim,) = (Path(p) for p in dv.checked_paths("exact"))
    monkeypatch.setattr(dv, "confirm_trash", lambda kind: True)
    dv.trash_buttons["exact"].click()
    qtbot.waitUntil(lambda: not victim.exists() and w.undo_action.isEnabled(), timeout=WAIT_MS)
    assert w.undo_action.text() == "&Undo Move 1 exact copy to Trash"
    # Undo follows the tab in front: the Search tab has nothing left to undo.
    w.tabs.setCurrentWidget(sv)
    assert not w.undo_action.isEnabled()
    w.tabs.setCurrentWidget(dv)
    assert w.undo_action.isEnabled()
    w.undo_action.trigger()
    qtbot.waitUntil(victim.exists, timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: dv.exact_tree.topLevelItemCount() == 1 and not dv.undo_button.isEnabled(), timeout=WAIT_MS
    )
    assert not w.undo_action.isEnabled() and w.undo_action.text() == "&Undo"
