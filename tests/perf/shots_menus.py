"""The menu bar's part of tests/perf/screenshots.py: Go (Back / Forward) and Edit (Undo naming the
Duplicates tab's last trash) open, with their keys, grabbed from the screen (a popup is its own window).

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python tests/perf/screenshots.py --only window
"""

from __future__ import annotations

import os
from pathlib import Path


def _open(w, title: str):
    for action in w.menuBar().actions():
        if action.menu() is not None and action.text().replace("&", "") == title:
            w.menuBar().setActiveAction(action)
            return action.menu()
    raise LookupError(title)


def _shoot(app, w, title: str, path: Path, pump, settle, grab_screen) -> None:
    menu = _open(w, title)
    pump(app, menu.isVisible, timeout=10)
    settle(app, 0.5)
    grab_screen(app, w, path)
    menu.hide()
    settle(app)


def menus_section(app, w, out: Path, trash_home: Path, pump, settle, grab_screen) -> None:
    """Needs the duplicates found (an exact copy to trash); the trash goes to `trash_home` and is undone."""
    sv, dv = w.search_view, w.duplicates_view
    w.move(0, 0)
    w.tabs.setCurrentWidget(sv)
    w.activateWindow()
    settle(app)
    _shoot(app, w, "Go", out / "menu-go.png", pump, settle, grab_screen)
    keys = [k.toString() for k in w.back_action.shortcuts()]
    print(f"Back: enabled {w.back_action.isEnabled()}, keys {keys}")

    os.environ["XDG_DATA_HOME"] = str(trash_home)  # never the user's own trash
    w.tabs.setCurrentWidget(dv)
    dv.check_all_but_best("exact")
    if dv.model.checked["exact"]:
        dv.confirm_trash = lambda kind: True
        dv.trash_checked("exact")
        pump(app, w.undo_action.isEnabled, timeout=120)
    _shoot(app, w, "Edit", out / "menu-edit-undo.png", pump, settle, grab_screen)
    print(f"Edit > {w.undo_action.text()!r} ({w.undo_action.shortcut().toString()})")
    if w.undo_action.isEnabled():
        w.undo_action.trigger()
        # Put back, and the lists found again with it (the window matrix shows them next).
        pump(app, lambda: dv.exact_tree.topLevelItemCount() > 0 and dv.find_button.isEnabled(), timeout=120)
    dv.__dict__.pop("confirm_trash", None)
    _shoot(app, w, "Edit", out / "menu-edit-nothing.png", pump, settle, grab_screen)
