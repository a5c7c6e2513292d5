"""The Duplicates tab's view model without Qt: checks kept per kind (no action reaches another kind),
look-alikes never bulk-ticked, the confirmation's files, space and folders, the folder column's text."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from irt_desktop.gui.duplicates_model import KINDS, DuplicatesModel, shown_folders
from irt_desktop.library.records import DuplicateGroup, DuplicateReport, ImageInfo


def _i(n: int, path: str, size: int = 1000) -> ImageInfo:
    return ImageInfo(n, Path(path), 1, size, 10, 10, datetime(2020, 1, 1), "ok")


def _model() -> DuplicatesModel:
    groups = [
        DuplicateGroup("exact", [_i(1, "/p/A/x.jpg"), _i(2, "/p/Backup/x.jpg")]),
        DuplicateGroup("near", [_i(3, "/p/A/y.jpg"), _i(4, "/p/Web/y.jpg", 300)]),
        DuplicateGroup("lookalike", [_i(5, "/p/B/b1.jpg"), _i(6, "/p/B/b2.jpg"), _i(7, "/p/B/b3.jpg")]),
    ]
    model = DuplicatesModel(lambda paths: 100 * len(paths))
    model.set_report(DuplicateReport(exact=[], near=[], groups=groups))
    return model


def test_every_action_names_one_kind_and_touches_no_other():
    model = _model()
    for kind in ("exact", "near"):
        before = {k: set(v) for k, v in model.checked.items()}
        model.check_all_but_keeper(kind)
        assert {k: v for k, v in model.checked.items() if k != kind} == {
            k: v for k, v in before.items() if k != kind
        }
    assert model.checked == {"exact": {2}, "near": {4}, "lookalike": set()}
    with pytest.raises(ValueError):
        model.check_all_but_keeper("lookalike")
    model.set_checked("lookalike", 6, True)
    model.clear("near")
    assert model.checked == {"exact": {2}, "near": set(), "lookalike": {6}}
    assert [i.id for i in model.checked_infos("lookalike")] == [6]
    assert model.trash_label("lookalike") == "Move 1 look-alike to trash…"
    assert set(model.checked) == set(KINDS)


def test_confirmation_names_files_space_and_folders_with_counts():
    model = _model()
    model.check_all_but_keeper("exact")
    head, details = model.describe("exact")
    assert head.startswith("Move 1 exact copy (100 B") and "from 1 folder" in head
    assert "/p/Backup  (1)" in details and "keeps at least one photo" in details
    model.set_checked("exact", 1, True)
    head, _ = model.describe("exact")
    assert head.startswith("Every copy of 1 photo is checked")


def test_a_new_report_keeps_only_ticks_still_shown():
    model = _model()
    model.check_all_but_keeper("exact")
    model.set_report(DuplicateReport(exact=[], near=[], groups=[]))
    assert model.checked == {k: set() for k in KINDS}


def test_folder_column_shows_what_differs():
    assert shown_folders(["/a/Pictures/Holidays", "/a/Pictures/Backup copy/Holidays"]) == [
        "Holidays",
        "Backup copy/Holidays",
    ]
    assert shown_folders(["/a/P/Family", "/a/P/Family/Bursts"]) == ["Family", "Family/Bursts"]
    assert shown_folders(["/a/P/Same", "/a/P/Same"]) == ["Same", "Same"]


def test_an_undo_entry_without_a_kind_label_reads_cleanly():
    """A trash from the Search tab has no kind label: no "(, from …" in the Undo list."""
    import time

    from irt_desktop.gui.duplicates_model import history_label
    from irt_desktop.library.trash import TrashAction, TrashedFile

    now = time.time()
    item = TrashedFile("/photos/trip/a.jpg", "/trash/files/a.jpg", "/trash/info/a.jpg.trashinfo")
    when = time.strftime("%H:%M", time.localtime(now))
    assert history_label(TrashAction(1, now, "", [item]), now) == f"Put back 1 file (from trip, {when})"
    labelled = history_label(TrashAction(2, now, "exact copies", [item, item]), now)
    assert labelled == f"Put back 2 files (exact copies, from trip, {when})"
