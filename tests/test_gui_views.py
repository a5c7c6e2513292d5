"""Views over a stand-in library with jobs run inline (TaskRunner(executor=run_inline)): no model, no
event loop to wait on, so each behaviour is checked the moment it is asked for. Also: newest search wins,
errors are matched by type, and the Search tab's view model."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import pytest
from imagegen import photo
from PySide6.QtGui import QImage

from irt_desktop.gui.library_client import READY, LibraryClient
from irt_desktop.gui.query import Query
from irt_desktop.gui.search_model import SearchAnswer, SearchRequest, SearchState
from irt_desktop.gui.tasks import TaskRunner, run_inline
from irt_desktop.library.records import (
    DuplicateReport,
    ImageInfo,
    IndexReport,
    LibraryStatus,
    Root,
    SearchHit,
)


def info(path: Path, size: int, image_id: int) -> ImageInfo:
    return ImageInfo(image_id, path, 1, size, 96, 72, datetime(2020, 1, image_id), "ok")


class StandInLibrary:
    """The few Library calls the views make, answered from memory."""

    model_id = "stand-in"
    target_model_id = None
    device = None
    low_precision = False

    def __init__(self, report: DuplicateReport | None = None) -> None:
        self.exclude_patterns: list[str] = []
        self.report = report
        self.searches: list[int] = []
        self.release = threading.Event()
        self.release.set()
        self.closed = False

    def roots(self) -> list[Root]:
        return [Root(1, Path("/photos"), True, False, False, "indexed", 3, 0)]

    def status(self) -> LibraryStatus:
        return LibraryStatus(3, 3, 0, 0, self.model_id, self.roots())

    def index(self, progress=None, cancel=None, pause=None) -> IndexReport:
        return IndexReport(model_id=self.model_id)

    def duplicates(self, threshold: float = 0.95) -> DuplicateReport:
        assert self.report is not None
        return self.report

    def query_vector(self, source=None, crop=None, image_id=None):
        return [1.0, 0.0]

    def search_by_vector(self, vector, k=50, exclude=(), **options) -> list[SearchHit]:
        self.searches.append(k)
        self.release.wait(10)
        return [SearchHit(k, Path(f"/photos/{k}.jpg"), 0.9, 10, 96, 72, None)]

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def inline_runner(qapp):
    return TaskRunner(executor=run_inline)


def open_client(library: StandInLibrary, settings, tmp_path, runner: TaskRunner | None) -> LibraryClient:
    client = LibraryClient(tmp_path / "library", settings, opener=lambda d, s: library, runner=runner)
    client.start()
    return client


def test_query_preview_is_decoded_by_the_runner(qtbot, inline_runner, tmp_path):
    from irt_desktop.gui.query_view import QueryView

    good = tmp_path / "good.jpg"
    photo(4, (200, 100)).save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a photo")
    view = QueryView(runner=inline_runner)
    qtbot.addWidget(view)
    failures = []
    view.preview_failed.connect(failures.append)

    view.load(good, crop=(10, 10, 50, 40))
    assert view.has_image and view.full_size == (200, 100)
    assert view.region() == (10, 10, 50, 40)
    view.load(bad)
    assert not view.has_image and failures


# The Duplicates tab's tests over a stand-in library live in test_gui_duplicates.py.


def test_a_newer_search_drops_the_older_ones(qtbot, gui_settings, tmp_path):
    library = StandInLibrary()
    client = open_client(library, gui_settings, tmp_path, runner=None)
    qtbot.waitUntil(lambda: client.state == READY, timeout=10_000)
    answers: list[SearchAnswer] = []
    library.release.clear()
    query = Query(Path("/q.jpg"), "q")
    for k in (1, 2, 3):
        client.search(SearchRequest(query, k=k), answers.append, pytest.fail)
        if k == 1:
            qtbot.waitUntil(lambda: library.searches == [1], timeout=10_000)
    library.release.set()
    qtbot.waitUntil(lambda: bool(answers), timeout=10_000)
    qtbot.wait(100)
    # The first was running and is not answered; the second never ran; the newest is the answer.
    assert library.searches == [1, 3]
    assert [a.request.k for a in answers] == [3]
    client.close()


def test_errors_are_matched_by_type_not_by_name():
    from irt_desktop.gui.library_open import is_no_model_error
    from irt_desktop.gui.model_setup import is_unavailable
    from irt_desktop.library.errors import NoModelError
    from irt_desktop.retrieval.weights import WeightsUnavailable

    class Lookalike(Exception):
        pass

    Lookalike.__name__ = "NoModelError"
    assert is_no_model_error(NoModelError("no model"))
    assert not is_no_model_error(Lookalike()) and not is_no_model_error(ValueError())
    assert is_unavailable(WeightsUnavailable("offline")) and not is_unavailable(RuntimeError())


def test_search_state_builds_requests_and_reuses_the_encoded_image(qapp):
    state = SearchState()
    assert state.request(10, 0.0, None) is None and state.query_text() == "No query yet"
    image = QImage(8, 8, QImage.Format.Format_RGB888)
    state.set_query(Query(image, "pasted image"))
    assert state.set_crop((1, 2, 5, 6))
    request = state.request(10, 0.0, 7)
    assert (request.k, request.min_score, request.roots) == (10, None, [7])
    assert state.query_text() == "pasted image — region 4 × 4 at (1, 2)"
    state.started()
    hit = SearchHit(5, Path("/p/x.jpg"), 0.5, 1, 8, 8, None)
    state.answered(SearchAnswer(request, [hit], 0.012, encoded=b"png"))
    assert not state.searching and state.query.source == b"png" and state.query.crop == (1, 2, 5, 6)
    assert state.summary(state.last_answer, "Holidays") == "1 photo found in Holidays (12 ms)"
    more = state.more_like(hit)
    assert (more.image_id, more.label, more.crop) == (5, "x.jpg", None)


def test_the_gui_accepts_the_library_s_image_suffixes(tmp_path):
    from irt_desktop.gui.query import image_file_filter, is_image_file
    from irt_desktop.images import IMAGE_EXTENSIONS

    for suffix in (".jfif", ".JPG", ".heic"):
        (tmp_path / f"p{suffix}").write_bytes(b"x")
        assert is_image_file(tmp_path / f"p{suffix}")
    (tmp_path / "notes.txt").write_text("x")
    assert not is_image_file(tmp_path / "notes.txt")
    assert all(f"*{s}" in image_file_filter() for s in IMAGE_EXTENSIONS)
