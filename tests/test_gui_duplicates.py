"""The Duplicates tab over a stand-in library, jobs run inline: two kinds with their own bulk actions (the
exact one ticks no near copy), folder column and full-path tooltips, the calibrated threshold shown and
movable, the confirmation naming files, space and folders, trash then undo, and the side-by-side compare
view driven from the keyboard."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from imagegen import photo
from PySide6.QtCore import Qt

from irt_desktop.gui.library_client import READY, LibraryClient
from irt_desktop.gui.tasks import TaskRunner, run_inline
from irt_desktop.library.records import (
    Calibration,
    DuplicateGroup,
    DuplicateReport,
    ImageInfo,
    IndexReport,
    LibraryStatus,
    Root,
)
from irt_desktop.library.trash import TrashResult, move_to_trash, restore_file


def _info(path: Path, image_id: int, size: tuple[int, int] = (96, 72)) -> ImageInfo:
    return ImageInfo(image_id, path, 1, path.stat().st_size, *size, datetime(2020, 1, image_id), "ok")


class StandIn:
    model_id = "stand-in"
    target_model_id = None
    device = None
    low_precision = False

    def __init__(self, tmp: Path) -> None:
        self.exclude_patterns: list[str] = []
        album, backup = tmp / "Album", tmp / "Backup copy"
        album.mkdir()
        backup.mkdir()
        photo(1).save(album / "DSC 1.jpg")
        (backup / "DSC 1.jpg").write_bytes((album / "DSC 1.jpg").read_bytes())
        photo(2, (400, 300)).save(album / "IMG 2.jpg")
        photo(2, (200, 150)).save(tmp / "IMG 2 small.jpg", quality=70)
        self.album_copy = _info(album / "DSC 1.jpg", 1)
        self.backup_copy = _info(backup / "DSC 1.jpg", 2)
        self.big = _info(album / "IMG 2.jpg", 3, (400, 300))
        self.small = _info(tmp / "IMG 2 small.jpg", 4, (200, 150))
        self.calls: list[tuple] = []
        self.trashed: set[int] = set()

    def roots(self) -> list[Root]:
        return [Root(1, Path("/photos"), True, False, False, "indexed", 4, 0)]

    def status(self) -> LibraryStatus:
        return LibraryStatus(4, 4, 0, 0, self.model_id, self.roots())

    def index(self, progress=None, cancel=None, pause=None) -> IndexReport:
        return IndexReport(model_id=self.model_id)

    def duplicates(self, threshold=None, *, keep_folders=None) -> DuplicateReport:
        self.calls.append((threshold, keep_folders))
        cal = Calibration("stand-in", 0.9731, [0.99], [0.9], 8, "midpoint of 0.99 and 0.95 (test)")
        groups = []
        if not self.trashed & {1, 2}:
            groups.append(
                DuplicateGroup("exact", [self.album_copy, self.backup_copy], "Kept because: not in a backup")
            )
        groups.append(
            DuplicateGroup(
                "near",
                [self.big, self.small],
                "Kept because: more pixels",
                [1.0, 0.981],
                ["", ""],
                [None, None],
            )
        )
        return DuplicateReport(
            exact=[g.members for g in groups if g.kind == "exact"],
            near=[g.members for g in groups if g.kind == "near"],
            threshold=cal.threshold if threshold is None else threshold,
            groups=groups,
            calibration=cal,
            keep_folders=list(keep_folders or []),
        )

    def trash(self, ids) -> TrashResult:
        by_id = {i.id: i for i in (self.album_copy, self.backup_copy, self.big, self.small)}
        result = TrashResult(moved=[move_to_trash(by_id[i].path, i) for i in ids])
        self.trashed |= set(ids)
        return result

    def restore(self, result: TrashResult) -> TrashResult:
        for item in result.moved:
            restore_file(item)
            self.trashed.discard(item.image_id)
        return TrashResult(moved=list(result.moved))

    def close(self) -> None:
        pass


@pytest.fixture
def view(qtbot, qapp, gui_settings, tmp_path, monkeypatch):
    from irt_desktop.gui.duplicates_view import DuplicatesView
    from irt_desktop.gui.thumbnails import ThumbnailCache, ThumbnailLoader

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    photos = tmp_path / "photos"
    photos.mkdir()
    library = StandIn(photos)
    runner = TaskRunner(executor=run_inline)
    client = LibraryClient(tmp_path / "library", gui_settings, opener=lambda d, s: library, runner=runner)
    client.start()
    assert client.state == READY
    v = DuplicatesView(
        client, gui_settings, ThumbnailLoader(ThumbnailCache(tmp_path / "thumbs")), runner=runner
    )
    qtbot.addWidget(v)
    v.library = library
    yield v
    client.close()


def test_two_kinds_bulk_action_for_exact_copies_ticks_no_near_copy(view):
    view.find_button.click()
    lib = view.library
    assert view.exact_tree.topLevelItemCount() == 1 and view.near_tree.topLevelItemCount() == 1
    view.check_buttons["exact"].click()
    assert view.checked_paths() == [str(lib.backup_copy.path)]
    assert view.checked_paths("near") == []
    assert view.trash_button.text() == "Move 1 checked file to &trash…"
    view.check_buttons["near"].click()
    assert view.checked_paths("near") == [str(lib.small.path)]
    view.uncheck_buttons["exact"].click()
    assert view.checked_paths() == [str(lib.small.path)]


def test_folder_column_full_path_tooltip_and_keeper_reason(view):
    view.find_button.click()
    top = view.exact_tree.topLevelItem(0)
    keeper, copy = top.child(0), top.child(1)
    lib = view.library
    # The two rows share a name: the folder column tells them apart.
    assert keeper.text(0) == copy.text(0) == "DSC 1.jpg"
    assert keeper.text(1) == str(lib.album_copy.path.parent) and copy.text(1) == str(
        lib.backup_copy.path.parent
    )
    assert keeper.toolTip(0).startswith(str(lib.album_copy.path)) and "Kept because" in keeper.toolTip(0)
    assert copy.toolTip(0) == str(lib.backup_copy.path)
    assert view.near_tree.topLevelItem(0).child(1).text(5) == "0.9810"


def test_calibrated_threshold_shown_and_movable(view):
    view.find_button.click()
    lib = view.library
    assert lib.calls[-1][0] is None  # the calibrated one was asked for
    assert "0.9731" in view.calibration_label.text() and "midpoint" in view.calibration_label.toolTip()
    assert view.threshold == pytest.approx(0.9731)
    view.set_threshold(0.95)
    assert view.reset_button.isEnabled()
    view.find_button.click()
    assert lib.calls[-1][0] == pytest.approx(0.95) and view.report.threshold == pytest.approx(0.95)
    view.reset_button.click()
    assert lib.calls[-1][0] is None and view.threshold == pytest.approx(0.9731)


def test_confirmation_names_files_space_folders_then_trash_and_undo(view, monkeypatch):
    view.find_button.click()
    lib = view.library
    data = lib.backup_copy.path.read_bytes()
    view.check_all_but_best("exact")
    head, details = view.describe(view.checked_infos())
    from irt_desktop.gui import formatting

    assert "1 file" in head and "1 folder" in head and formatting.size(len(data)) in head
    assert str(lib.backup_copy.path.parent) in details

    monkeypatch.setattr(view, "confirm_trash", lambda paths: False)
    view.trash_button.click()
    assert lib.backup_copy.path.exists()

    monkeypatch.setattr(view, "confirm_trash", lambda paths: True)
    view.trash_button.click()
    assert not lib.backup_copy.path.exists()
    # The lists refreshed: the exact group is gone, the near one untouched and unticked.
    assert view.exact_tree.topLevelItemCount() == 0 and view.near_tree.topLevelItemCount() == 1
    assert view.checked_paths() == [] and view.undo_button.isEnabled()
    assert "1 file" in view.undo_button.text()

    view.undo_button.click()
    assert lib.backup_copy.path.read_bytes() == data
    assert view.exact_tree.topLevelItemCount() == 1 and not view.undo_button.isEnabled()


def test_pin_folder_asks_to_keep_its_copies(view):
    view.find_button.click()
    tree = view.exact_tree
    tree.setCurrentItem(tree.topLevelItem(0).child(1))
    view.pin_button.click()
    assert view.library.calls[-1][1] == [str(view.library.backup_copy.path.parent)]


def test_compare_view_side_by_side_keyboard_and_zoom(view, qtbot):
    from irt_desktop.gui.compare_view import CompareView

    view.find_button.click()
    lib = view.library
    top = view.near_tree.topLevelItem(0)
    dialog = view.compare_group(top)
    assert isinstance(dialog, CompareView) and len(dialog.panes) == 2
    qtbot.waitUntil(lambda: all(p.source is not None for p in dialog.panes), timeout=5000)
    # Full resolution: each pane holds the file's own pixels.
    assert (dialog.panes[0].source.width(), dialog.panes[1].source.width()) == (400, 200)
    assert {"dimensions", "folder", "name", "size"} <= dialog.model.differing()
    assert "background" in dialog.panes[0].facts.text()
    # One zoom for all: 100% shows each at its own size.
    dialog.set_zoom(1.0)
    assert dialog.panes[0].image.pixmap().width() == 400 and dialog.panes[1].image.pixmap().width() == 200
    dialog.set_zoom(0.0)

    qtbot.keyClick(dialog, Qt.Key.Key_Right)
    assert dialog.model.current == 1
    qtbot.keyClick(dialog, Qt.Key.Key_T)
    assert dialog.model.trash[lib.small.id] and "Trash" in dialog.panes[1].verdict.text()
    # Never every copy: trashing the keeper too is refused.
    qtbot.keyClick(dialog, Qt.Key.Key_Left)
    qtbot.keyClick(dialog, Qt.Key.Key_Delete)
    assert not dialog.model.trash[lib.big.id]
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    assert view.checked_paths() == [str(lib.small.path)]
    assert view.checked_paths("exact") == []
