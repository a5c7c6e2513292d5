"""A large library's rescan surveys in a child process (library/survey_process.py): the same survey as one
made in this process, its long lists whole, cancellable, and a failed child leaves the scan to this one.
The scan tests of test_library_index.py also run with every survey in a child (their survey-in-child ids)."""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import threading

import pytest
from imagegen import save_photo
from test_library_support import SIZE, _record_child_surveys, make_tree

from irt_desktop.library import survey_process
from irt_desktop.library.excludes import ExcludeRules
from irt_desktop.library.survey import survey_roots


def _changed_library(open_library, tmp_path):
    """An indexed tree, then every kind of change a survey reports, none of it scanned yet."""
    photos = tmp_path / "photos"
    make_tree(photos, n=12)
    lib = open_library()
    lib.add_root(photos)
    lib.index()
    back = photos / "b" / "img_005.jpg"
    shutil.move(back, tmp_path / "away.jpg")
    lib.index()  # its row is deleted now; it comes back below
    shutil.move(tmp_path / "away.jpg", back)
    save_photo(photos / "a" / "img_000.jpg", 90, SIZE)  # changed content
    os.utime(photos / "a" / "img_000.jpg", ns=(1, 1_000_000_000))
    (photos / "a" / "img_003.jpg").unlink()  # missing
    (photos / "b" / "img_002.jpg").rename(photos / "b" / "renamed.jpg")  # missing + new
    for i in range(7):
        save_photo(photos / "new" / f"n{i}.jpg", 50 + i, SIZE)
    (photos / "b" / "link.jpg").symlink_to(photos / "a" / "img_006.jpg")  # a skipped name
    return lib, ExcludeRules.of(["deeper/"])


def _summary(survey):
    d, r = survey.diff, survey.report
    return {
        "new": sorted(d.new),
        "changed": sorted((p, row.id, size, mtime) for p, row, size, mtime in d.changed),
        "reappeared": sorted((row.id, size, mtime) for row, size, mtime in d.reappeared),
        "missing": sorted(row.id for row in d.missing),
        "gone": sorted(d.gone),
        "retry": sorted(d.retry),
        "counts": (r.seen, r.unchanged, r.skipped_names, r.excluded, r.held),
        "roots": (survey.offline, survey.scanned),
        "guarded": [(g.root_id, g.regions, g.result.held, g.skipped) for g in survey.guarded],
    }


def test_a_survey_in_a_child_process_is_the_one_made_here(open_library, tmp_path):
    lib, rules = _changed_library(open_library, tmp_path)
    roots = lib.catalog.root_rows()
    here = survey_roots(lib.catalog, roots, rules)
    # Three items per message: every list crosses in several chunks.
    there = survey_process.survey_in_child(lib.catalog.path, roots, rules, chunk=3)

    assert there is not None and there.pid != os.getpid()
    assert _summary(there) == _summary(here)
    d = there.diff
    assert (len(d.new), len(d.changed), len(d.reappeared), len(d.missing)) == (8, 1, 1, 6)
    assert there.report.excluded == 1 and there.report.skipped_names == 1
    if hasattr(os, "nice"):
        assert there.nice is not None and there.nice >= survey_process.SURVEY_NICE


def test_a_rescan_with_the_survey_in_a_child_applies_what_it_found(open_library, tmp_path, monkeypatch):
    lib, _ = _changed_library(open_library, tmp_path)
    lib.indexer.survey_in_child_from = lib.catalog.highest_image_id()  # this library counts as large
    surveys: list = []
    _record_child_surveys(monkeypatch, surveys)
    report = lib.index()
    assert len(surveys) == 1 and surveys[0].pid != os.getpid()
    scan = report.scan
    assert (scan.new, scan.changed, scan.moved, scan.deleted) == (7, 1, 2, 1)
    assert report.embedded == 8 and lib.status().n_images == 18


def test_a_cancelled_child_survey_ends_the_child_and_hands_back_nothing(open_library, tmp_path):
    lib, rules = _changed_library(open_library, tmp_path)
    cancel = threading.Event()
    cancel.set()
    assert survey_process.survey_in_child(lib.catalog.path, lib.catalog.root_rows(), rules, cancel) is None
    assert multiprocessing.active_children() == []

    lib.indexer.survey_in_child_from = 0
    report = lib.index(cancel=cancel)
    assert report.cancelled and report.scan.seen == 0 and report.embedded == 0
    assert lib.catalog.image_id_for_path(str(tmp_path / "photos" / "new" / "n0.jpg")) is None


def test_a_child_that_fails_says_so_in_one_line(tmp_path):
    photos = tmp_path / "photos"
    make_tree(photos, n=3)
    with pytest.raises(survey_process.SurveyFailed) as failed:
        survey_process.survey_in_child(
            tmp_path / "no-such-library" / "catalog.sqlite", [], ExcludeRules.of([])
        )
    message = str(failed.value)
    assert message.startswith("the scanning process failed") and "\n" not in message


def test_when_the_child_fails_the_scan_surveys_here(open_library, tmp_path, monkeypatch, caplog):
    lib, _ = _changed_library(open_library, tmp_path)
    lib.indexer.survey_in_child_from = 0

    def fails(*args, **kwargs):
        raise survey_process.SurveyFailed("the scanning process ended early (exit code -9)")

    monkeypatch.setattr(survey_process, "survey_in_child", fails)
    with caplog.at_level(logging.WARNING, logger="irt_desktop.library.scanner"):
        report = lib.index()
    assert (report.scan.new, report.scan.changed, report.scan.deleted) == (7, 1, 1)
    assert "scanning in this process instead" in caplog.text


def test_the_window_asks_for_child_surveys_and_the_command_line_does_not(tmp_path):
    from PySide6.QtCore import QSettings

    from irt_desktop.gui.library_open import open_real_library
    from irt_desktop.gui.settings import AppSettings
    from irt_desktop.library import Library
    from irt_desktop.library.scanner import SURVEY_IN_CHILD_FROM

    settings = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    with open_real_library(tmp_path / "window", settings) as lib:
        assert lib.indexer.survey_in_child_from == SURVEY_IN_CHILD_FROM
    with Library.open(tmp_path / "cli") as lib:
        assert lib.indexer.survey_in_child_from is None
