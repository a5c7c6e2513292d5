"""Cancelling an indexing run: it stops after the batch being embedded, keeps every committed batch,
and the next run picks up the rest without re-embedding anything (Qt-free)."""

from __future__ import annotations

import threading

from test_library_support import make_tree, wait_for

from irt_desktop.library.records import IndexProgress


def _vectors(lib) -> int:
    return int(lib.catalog.scalar("SELECT count(*) FROM vectors") or 0)


def test_cancel_after_the_first_batch_keeps_it_and_the_next_run_resumes(tmp_path, open_library):
    photos = tmp_path / "photos"
    make_tree(photos, n=20)
    lib = open_library()
    lib.add_root(photos)
    cancel = threading.Event()
    seen: list[IndexProgress] = []

    def progress(p: IndexProgress) -> None:
        seen.append(p)
        if p.phase == "embed" and p.done >= 4:
            cancel.set()  # the user pressed Cancel while the first batch was committed

    report = lib.index(progress=progress, cancel=cancel)
    assert report.cancelled
    # Batches of 4: the one committed when Cancel came is kept, nothing after it started.
    assert report.embedded == 4 and _vectors(lib) == 4
    assert lib.status().n_pending == 16 and lib.status().n_indexed == 4
    assert not report.switched_model

    again = lib.index()
    assert not again.cancelled
    assert again.embedded == 16  # the 4 already embedded are not embedded twice
    assert lib.status().n_pending == 0 and _vectors(lib) == 20


def test_cancel_while_paused_ends_the_run_at_once(tmp_path, open_library):
    photos = tmp_path / "photos"
    make_tree(photos, n=12)
    lib = open_library()
    lib.add_root(photos)
    cancel, pause = threading.Event(), threading.Event()
    pause.set()  # paused before the first batch
    result: list = []
    runner = threading.Thread(target=lambda: result.append(lib.index(cancel=cancel, pause=pause)))
    runner.start()
    try:
        # The scan is done and the pass waits in the pause: nothing embedded.
        wait_for(lambda: lib.status().n_pending == 12, 60, "the scan")
        assert runner.is_alive() and _vectors(lib) == 0
        cancel.set()
        runner.join(30)
        assert not runner.is_alive(), "a paused run did not notice Cancel"
    finally:
        cancel.set()
        runner.join(30)
    assert result[0].cancelled and result[0].embedded == 0
    assert lib.status().n_pending == 12
    assert lib.index().embedded == 12


def test_cancel_during_the_scan_is_reported_and_embeds_nothing(tmp_path, open_library):
    photos = tmp_path / "photos"
    make_tree(photos, n=9)
    lib = open_library()
    lib.add_root(photos)
    cancel = threading.Event()
    cancel.set()
    report = lib.index(cancel=cancel)
    assert report.cancelled and report.embedded == 0
    assert _vectors(lib) == 0
    report = lib.index()
    assert not report.cancelled and report.embedded == 9
