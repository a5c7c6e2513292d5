"""The Duplicates tab over a stand-in library, jobs run inline: three kinds with their own actions (the
exact bulk action ticks no near copy or look-alike; look-alikes have no bulk tick and are reviewed one
group at a time), folder column and full-path tooltips, the calibrated thresholds shown, movable and
recalibrated, the confirmation naming files, space and folders, trash then undo of any of the last
several actions, and the side-by-side compare view driven from the keyboard."""

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
from irt_desktop.library.trash import TrashAction, TrashResult, move_to_trash, restore_file


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
        burst = tmp / "Burst"
        burst.mkdir()
        self.album_copy = _info(album / "DSC 1.jpg", 1)
        self.backup_copy = _info(backup / "DSC 1.jpg", 2)
        self.big = _info(album / "IMG 2.jpg", 3, (400, 300))
        self.small = _info(tmp / "IMG 2 small.jpg", 4, (200, 150))
        # Two bursts of three frames each: look-alikes.
        self.frames = []
        for n in range(6):
            photo(10 + n // 3, (160, 120)).rotate(3 * (n % 3)).save(burst / f"BURST_{n}.jpg")
            self.frames.append(_info(burst / f"BURST_{n}.jpg", 10 + n, (160, 120)))
        self.calls: list[tuple] = []
        self.trashed: set[int] = set()
        self.journal: list[TrashAction] = []

    def roots(self) -> list[Root]:
        return [Root(1, Path("/photos"), True, False, False, "indexed", 4, 0)]

    def status(self) -> LibraryStatus:
        return LibraryStatus(4, 4, 0, 0, self.model_id, self.roots())

    def index(self, progress=None, cancel=None, pause=None) -> IndexReport:
        return IndexReport(model_id=self.model_id)

    def duplicates(
        self, threshold=None, *, keep_folders=None, lookalike_threshold=None, recalibrate=False
    ) -> DuplicateReport:
        self.calls.append((threshold, keep_folders, lookalike_threshold, recalibrate))
        cal = Calibration(
            "stand-in",
            0.9731,
            [0.99, 0.995],
            [0.9, 0.91],
            8,
            "midpoint of 0.99 and 0.95 (test)",
            0.9312,
            [0.94, 0.95],
            "midpoint of second frames 0.94 and 0.92 (test)",
        )
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
        for b in range(2):
            frames = [f for f in self.frames[3 * b : 3 * b + 3] if f.id not in self.trashed]
            if len(frames) > 1:
                groups.append(
                    DuplicateGroup(
                        "lookalike",
                        frames,
                        "Kept because: the shorter path",
                        [1.0] + [0.95] * (len(frames) - 1),
                        [""] * len(frames),
                        [None] * len(frames),
                    )
                )
        return DuplicateReport(
            exact=[g.members for g in groups if g.kind == "exact"],
            near=[g.members for g in groups if g.kind == "near"],
            threshold=cal.threshold if threshold is None else threshold,
            groups=groups,
            calibration=cal,
            keep_folders=list(keep_folders or []),
            lookalike_threshold=cal.lookalike_threshold
            if lookalike_threshold is None
            else lookalike_threshold,
        )

    def trash(self, ids, label="") -> TrashResult:
        by_id = {i.id: i for i in (self.album_copy, self.backup_copy, self.big, self.small, *self.frames)}
        result = TrashResult(moved=[move_to_trash(by_id[i].path, i) for i in ids])
        result.action_id = len(self.journal) + 1
        self.journal.insert(0, TrashAction(result.action_id, 1e9 + len(self.journal), label, result.moved))
        self.trashed |= set(ids)
        return result

    def trash_history(self, limit=10) -> list[TrashAction]:
        return self.journal[:limit]

    def restore(self, action: TrashAction) -> TrashResult:
        for item in action.items:
            restore_file(item)
            self.trashed.discard(item.image_id)
        self.journal = [a for a in self.journal if a.id != action.id]
        return TrashResult(moved=list(action.items))

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


def test_no_action_ticks_more_than_one_kind(view):
    view.find_button.click()
    lib = view.library
    counts = {k: view.trees[k].topLevelItemCount() for k in ("exact", "near", "lookalike")}
    assert counts == {"exact": 1, "near": 1, "lookalike": 2}
    assert [view.tabs.tabText(n) for n in range(3)] == [
        "Exact copies (1)",
        "Near copies (1)",
        "Look-alikes (2)",
    ]
    view.check_buttons["exact"].click()
    assert view.checked_paths() == [str(lib.backup_copy.path)]
    assert view.checked_paths("near") == [] and view.checked_paths("lookalike") == []
    assert view.trash_buttons["exact"].text() == "Move 1 exact copy to trash…"
    assert not view.trash_buttons["near"].isEnabled() and not view.trash_buttons["lookalike"].isEnabled()
    view.check_buttons["near"].click()
    assert view.checked_paths("near") == [str(lib.small.path)]
    assert (
        view.checked_paths("exact") == [str(lib.backup_copy.path)] and view.checked_paths("lookalike") == []
    )
    view.uncheck_buttons["exact"].click()
    assert view.checked_paths() == [str(lib.small.path)]
    # Every action, each kind: before and after, the other kinds' ticks are untouched.
    for kind in ("exact", "near", "lookalike"):
        for action in (view.check_buttons[kind], view.uncheck_buttons[kind]):
            others = {k: view.checked_paths(k) for k in ("exact", "near", "lookalike") if k != kind}
            if not action.isHidden():
                action.click()
            assert others == {k: view.checked_paths(k) for k in others}


def test_lookalikes_have_no_bulk_tick_and_are_reviewed_one_by_one(view, qtbot):
    view.find_button.click()
    lib = view.library
    assert view.check_buttons["lookalike"].isHidden() and not view.check_buttons["exact"].isHidden()
    with pytest.raises(ValueError, match="one group at a time"):
        view.model.check_all_but_keeper("lookalike")
    assert "review each group" in view.panes["lookalike"].explain.text()
    dialog = view.compare_selected("lookalike")
    assert "group 1 of 2" in dialog.windowTitle()
    qtbot.waitUntil(lambda: all(p.source is not None for p in dialog.panes), timeout=5000)
    # Nothing is chosen for the user: every frame starts as "keep".
    assert dialog.model.to_trash() == set()
    qtbot.keyClick(dialog, Qt.Key.Key_Right)
    qtbot.keyClick(dialog, Qt.Key.Key_B)  # keep only this frame
    assert dialog.model.to_trash() == {lib.frames[0].id, lib.frames[2].id}
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    # Enter applied and moved on to the second burst.
    second = view.compare
    assert second is not dialog and "group 2 of 2" in second.windowTitle()
    qtbot.keyClick(second, Qt.Key.Key_T)  # trash the first frame of the second burst only
    qtbot.keyClick(second, Qt.Key.Key_Return)
    assert sorted(view.checked_paths("lookalike")) == sorted(str(lib.frames[i].path) for i in (0, 2, 3))
    assert view.checked_paths("exact") == view.checked_paths("near") == []
    assert view.trash_buttons["lookalike"].text() == "Move 3 look-alikes to trash…"


def test_folder_column_full_path_tooltip_and_keeper_reason(view):
    view.find_button.click()
    top = view.exact_tree.topLevelItem(0)
    keeper, copy = top.child(0), top.child(1)
    lib = view.library
    # The two rows share a name: the folder column tells them apart.
    assert keeper.text(0) == copy.text(0) == "DSC 1.jpg"
    # Shown from the group's common folder on, whole in the tooltip.
    assert (keeper.text(1), copy.text(1)) == ("Album", "Backup copy")
    assert keeper.toolTip(1) == str(lib.album_copy.path.parent)
    assert copy.toolTip(1) == str(lib.backup_copy.path.parent)
    assert keeper.toolTip(0).startswith(str(lib.album_copy.path)) and "Kept because" in keeper.toolTip(0)
    assert copy.toolTip(0) == str(lib.backup_copy.path)
    assert view.near_tree.topLevelItem(0).child(1).text(5) == "0.9810"


def test_calibrated_thresholds_shown_movable_and_recalibrated(view):
    view.find_button.click()
    lib = view.library
    assert lib.calls[-1][0] is None and lib.calls[-1][2] is None  # the calibrated ones were asked for
    text, tip = view.calibration_label.text(), view.calibration_label.toolTip()
    assert "0.9731" in text and "0.9312" in text and "8 photos" in text
    assert "midpoint" in tip and "second frames" in tip and "median" in tip
    assert view.threshold == pytest.approx(0.9731) and view.lookalike_threshold == pytest.approx(0.9312)
    view.set_threshold(0.95, lookalike=0.9)
    assert view.reset_button.isEnabled()
    view.find_button.click()
    assert lib.calls[-1][0] == pytest.approx(0.95) and lib.calls[-1][2] == pytest.approx(0.9)
    assert view.report.threshold == pytest.approx(0.95) and "you chose" in view.calibration_label.text()
    # A look-alike threshold never reaches the near-copy one.
    view.set_threshold(0.91)
    assert view.lookalike_threshold < view.threshold
    view.reset_button.click()
    assert lib.calls[-1][0] is None and view.threshold == pytest.approx(0.9731)
    view.recalibrate_button.click()
    assert lib.calls[-1][3] is True and lib.calls[-1][0] is None


def test_confirmation_names_files_space_folders_then_trash_and_undo(view, monkeypatch):
    view.find_button.click()
    lib = view.library
    data = lib.backup_copy.path.read_bytes()
    view.check_all_but_best("exact")
    head, details = view.describe("exact")
    from irt_desktop.gui import formatting

    assert "1 exact copy" in head and "1 folder" in head and formatting.size(len(data)) in head
    assert str(lib.backup_copy.path.parent) in details

    monkeypatch.setattr(view, "confirm_trash", lambda kind: False)
    view.trash_buttons["exact"].click()
    assert lib.backup_copy.path.exists()

    asked = []
    monkeypatch.setattr(view, "confirm_trash", lambda kind: asked.append(kind) or True)
    view.trash_buttons["exact"].click()
    assert asked == ["exact"] and not lib.backup_copy.path.exists()
    # The lists refreshed: the exact group is gone, the others untouched and unticked.
    assert view.exact_tree.topLevelItemCount() == 0 and view.near_tree.topLevelItemCount() == 1
    assert view.checked_paths() == [] and view.undo_button.isEnabled()
    assert (
        "1 file" in view.undo_button.text() and str(lib.backup_copy.path.parent) in view.undo_button.toolTip()
    )

    view.undo_button.click()
    assert lib.backup_copy.path.read_bytes() == data
    assert view.exact_tree.topLevelItemCount() == 1 and not view.undo_button.isEnabled()


def test_undo_offers_the_last_several_actions(view, monkeypatch):
    view.find_button.click()
    lib = view.library
    monkeypatch.setattr(view, "confirm_trash", lambda kind: True)
    view.check_all_but_best("exact")
    view.trash_buttons["exact"].click()
    view.check_all_but_best("near")
    view.trash_buttons["near"].click()
    entries = [a.text() for a in view.undo_menu.actions()]
    assert len(entries) == 2 and "1 near copy" in entries[0] and "1 exact copy" in entries[1]
    # Put back the older one (the exact copy) from the menu: the near copy stays in the trash.
    view.undo_menu.actions()[1].trigger()
    assert lib.backup_copy.path.exists() and not lib.small.path.exists()
    assert [a.text() for a in view.undo_menu.actions()] == entries[:1]


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


def test_tab_fits_1024_by_700(view, qapp):
    view.find_button.click()
    view.check_all_but_best("exact")
    view.resize(1024 - 290, 700 - 130)  # the tab inside a 1024x700 window, beside the library panel
    view.show()
    hint = view.minimumSizeHint()
    assert hint.width() <= 1024 - 290 and hint.height() <= 700 - 130, hint
    for n, pane in enumerate(view.panes.values()):
        view.tabs.setCurrentIndex(n)
        qapp.processEvents()
        for b in (pane.check_button, pane.uncheck_button, pane.compare_button, pane.trash_button):
            if not b.isHidden():
                assert b.width() >= b.sizeHint().width(), b.text()  # no clipped label
        assert pane.tree.columnWidth(1) >= 100  # the folder column stays readable


def test_trashing_every_copy_of_a_photo_is_said_first(view):
    view.find_button.click()
    lib = view.library
    view.check_all_but_best("exact")
    view.model.set_checked("exact", lib.album_copy.id, True)
    head, details = view.describe("exact")
    assert "keeps at least one" not in details
    assert head.startswith("Every copy of 1 photo is checked") and "DSC 1.jpg" in head
    view.model.set_checked("exact", lib.album_copy.id, False)
    assert view.describe("exact")[0].startswith("Move 1 exact copy")
