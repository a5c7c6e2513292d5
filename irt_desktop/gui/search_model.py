"""The Search tab's view model, apart from its widgets (in the spirit of dupeGuru's core/gui split): what
is being searched by, the request the controls make of it, the newest answer and the texts that describe
them. `run_search` is the worker side of one request. Nothing here draws or needs an event loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QImage

from irt_desktop.gui import formatting
from irt_desktop.gui.history import QueryHistory
from irt_desktop.gui.query import Crop, Query, encode_png
from irt_desktop.library.filters import SearchFilter, SortKey

if TYPE_CHECKING:
    import numpy as np

    from irt_desktop.library import Library
    from irt_desktop.library.records import ImageInfo, SearchHit


@dataclass(frozen=True)
class SearchRequest:
    query: Query
    k: int = 50
    min_score: float | None = None
    roots: list[int] | None = None
    filters: SearchFilter | None = None
    sort: str = SortKey.SIMILARITY
    reverse: bool = False

    def options(self) -> dict:
        """The library's search options for this request (Library.search_by_vector)."""
        return {
            "k": self.k,
            "roots": self.roots,
            "min_score": self.min_score,
            "filters": self.filters,
            "sort": self.sort,
            "reverse": self.reverse,
        }


@dataclass
class SearchAnswer:
    request: SearchRequest
    hits: list[SearchHit]
    seconds: float
    # PNG bytes when the query was a decoded image: later searches reuse them instead of re-encoding.
    encoded: bytes | None = None
    # What was searched by, and with which model: a later check of the open results (recheck) asks
    # the library again with it instead of embedding the query anew.
    vector: np.ndarray | None = None
    model_id: str | None = None
    exclude: tuple[int, ...] = ()


def run_search(library: Library, request: SearchRequest) -> SearchAnswer:
    """One request against the open library (worker side): by a library image's stored vector when the
    whole of it is wanted, else by the image (encoded here if it came as decoded data)."""
    t0 = time.perf_counter()
    q = request.query
    encoded = None
    model_id = getattr(library, "model_id", None)
    exclude: tuple[int, ...] = ()
    if q.image_id is not None and q.crop is None:
        vector = library.query_vector(image_id=q.image_id)
        exclude = (int(q.image_id),)
    else:
        source = q.source
        if isinstance(source, QImage):
            source = encoded = encode_png(source)
        vector = library.query_vector(source, crop=q.crop)
    hits = library.search_by_vector(vector, exclude=list(exclude), **request.options())
    return SearchAnswer(request, list(hits), time.perf_counter() - t0, encoded, vector, model_id, exclude)


@dataclass(frozen=True)
class Recheck:
    """How the open results stand after the library changed (see recheck())."""

    gone: frozenset[int]  # shown photos no longer in the library
    moved: dict[int, ImageInfo]  # shown photos whose path or size changed: their new rows
    new: tuple[int, ...]  # photos that would now be among the results and are not shown
    model_changed: bool = False


def recheck(library: Library, answer: SearchAnswer, shown: list[SearchHit]) -> Recheck:
    """Worker side: which shown photos are gone or moved, and which new ones would match now. Nothing
    is embedded (the answer's own vector is searched by), and nothing the user sees changes by itself:
    the view drops what is gone and offers the rest."""
    ids = [h.image_id for h in shown]
    live = library.live_images(ids)
    gone = frozenset(ids) - frozenset(live)
    by_id = {h.image_id: h for h in shown}
    moved = {i: info for i, info in live.items() if _changed(by_id[i], info)}
    if answer.vector is None or getattr(library, "model_id", None) != answer.model_id:
        return Recheck(gone, moved, (), answer.vector is not None)
    hits = library.search_by_vector(answer.vector, exclude=list(answer.exclude), **answer.request.options())
    # Against what is shown, not what was answered: a photo that left and came back is offered again.
    known = set(ids)
    return Recheck(gone, moved, tuple(h.image_id for h in hits if h.image_id not in known))


def _changed(hit: SearchHit, info: ImageInfo) -> bool:
    return str(hit.path) != str(info.path) or hit.size != info.size or hit.taken != info.taken


def updated_hit(hit: SearchHit, info: ImageInfo) -> SearchHit:
    return replace(
        hit, path=info.path, size=info.size, width=info.width, height=info.height, taken=info.taken
    )


class SearchState:
    """The query, whether a search is out, the last answer and the query history; the view asks it
    what to show."""

    def __init__(self) -> None:
        self.query: Query | None = None
        self.last_answer: SearchAnswer | None = None
        self.searching = False
        # Asked for before the library was open: run once it is (never a search that failed).
        self.waiting_for_library = False
        self.history: QueryHistory[Query] = QueryHistory()

    def set_query(self, query: Query, *, record: bool = True) -> None:
        """A new query; `record=False` when walking the history (Back, Forward)."""
        self.query = query
        if record:
            self.history.push(query, query.label)

    def set_crop(self, crop: Crop | None) -> bool:
        """The region changed; False when there is no query to crop. A first region of an image is a
        step in the history; moving or resizing it afterwards only changes that step."""
        if self.query is None:
            return False
        before = self.query
        self.query = before.with_crop(crop)
        if before.crop is not None and crop is not None:
            self.history.replace_current(self.query, self.query.label)
        else:
            self.history.push(self.query, self.query.label)
        return True

    def back(self) -> Query | None:
        entry = self.history.back()
        if entry is not None:
            self.query = entry.query
        return None if entry is None else entry.query

    def forward(self) -> Query | None:
        entry = self.history.forward()
        if entry is not None:
            self.query = entry.query
        return None if entry is None else entry.query

    def go_to(self, index: int) -> Query | None:
        entry = self.history.go_to(index)
        if entry is not None:
            self.query = entry.query
        return None if entry is None else entry.query

    def more_like(self, hit: SearchHit) -> Query:
        path = Path(hit.path)
        return Query(path, path.name, None, int(hit.image_id))

    def request(
        self,
        k: int,
        min_score: float | None,
        root_id: int | None,
        filters: SearchFilter | None = None,
        sort: str = SortKey.SIMILARITY,
        reverse: bool = False,
    ) -> SearchRequest | None:
        if self.query is None:
            return None
        roots = [root_id] if root_id is not None else None
        active = filters if filters is not None and filters.active else None
        return SearchRequest(self.query, k, min_score or None, roots, active, str(sort), reverse)

    def started(self) -> None:
        self.searching = True

    def answered(self, answer: SearchAnswer) -> None:
        self.searching = False
        self.waiting_for_library = False
        self.last_answer = answer
        q = self.query
        if answer.encoded is not None and q is not None and answer.request.query.source is q.source:
            # Later searches (another region, another k) reuse the PNG instead of encoding again.
            self.query = Query(answer.encoded, q.label, q.crop, q.image_id)
            self.history.replace_current(self.query, q.label)

    def failed(self, *, library_not_open: bool = False) -> None:
        """The search did not answer: its old results are no answer to it either. Only a search that
        never ran (the library was not open yet) is run again by itself, once it is."""
        self.searching = False
        self.last_answer = None
        self.waiting_for_library = library_not_open

    def query_text(self) -> str:
        return "No query yet" if self.query is None else self.query.describe()

    def query_tooltip(self) -> str:
        q = self.query
        if q is None:
            return ""
        return str(q.source) if isinstance(q.source, Path) else q.label

    @staticmethod
    def summary(answer: SearchAnswer, folder: str = "", shown: int | None = None, filters: str = "") -> str:
        """The results header: how many, where, how fast; or what to try when nothing matched.
        `shown`: how many are left on screen (photos that left the library since are taken away)."""
        n = len(answer.hits) if shown is None else shown
        narrowed = bool(folder or filters)
        if not n:
            if shown is not None and answer.hits:
                return "None of the results are in the library any more. Refresh to search again."
            if narrowed:
                return "No photos matched here. Widen the filters, or lower the minimum similarity."
            return "No photos matched. Lower the minimum similarity, or add folders to the library."
        where = f" in {folder}" if folder else ""
        extra = f" · {filters}" if filters else ""
        return f"{formatting.plural(n, 'photo')} found{where}{extra} ({answer.seconds * 1000:.0f} ms)"

    @staticmethod
    def failure_text(exc: BaseException, library_ready: bool) -> str:
        reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
        return reason if library_ready else "The library is not ready yet: " + reason
