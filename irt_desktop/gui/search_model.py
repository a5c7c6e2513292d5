"""The Search tab's view model, apart from its widgets (in the spirit of dupeGuru's core/gui split): what
is being searched by, the request the controls make of it, the newest answer and the texts that describe
them. `run_search` is the worker side of one request. Nothing here draws or needs an event loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QImage

from irt_desktop.gui import formatting
from irt_desktop.gui.query import Crop, Query, encode_png

if TYPE_CHECKING:
    from irt_desktop.library import Library
    from irt_desktop.library.records import SearchHit


@dataclass(frozen=True)
class SearchRequest:
    query: Query
    k: int = 50
    min_score: float | None = None
    roots: list[int] | None = None


@dataclass
class SearchAnswer:
    request: SearchRequest
    hits: list[SearchHit]
    seconds: float
    # PNG bytes when the query was a decoded image: later searches reuse them instead of re-encoding.
    encoded: bytes | None = None


def run_search(library: Library, request: SearchRequest) -> SearchAnswer:
    """One request against the open library (worker side): by a library image's stored vector when the
    whole of it is wanted, else by the image (encoded here if it came as decoded data)."""
    t0 = time.perf_counter()
    q = request.query
    encoded = None
    options = {"k": request.k, "roots": request.roots, "min_score": request.min_score}
    if q.image_id is not None and q.crop is None:
        hits = library.search_similar(q.image_id, **options)
    else:
        source = q.source
        if isinstance(source, QImage):
            source = encoded = encode_png(source)
        hits = library.search(source, crop=q.crop, **options)
    return SearchAnswer(request, list(hits), time.perf_counter() - t0, encoded)


class SearchState:
    """The query, whether a search is out, and the last answer; the view asks it what to show."""

    def __init__(self) -> None:
        self.query: Query | None = None
        self.last_answer: SearchAnswer | None = None
        self.searching = False

    def set_query(self, query: Query) -> None:
        self.query = query

    def set_crop(self, crop: Crop | None) -> bool:
        """The region changed; False when there is no query to crop."""
        if self.query is None:
            return False
        self.query = self.query.with_crop(crop)
        return True

    def more_like(self, hit: SearchHit) -> Query:
        path = Path(hit.path)
        return Query(path, path.name, None, int(hit.image_id))

    def request(self, k: int, min_score: float | None, root_id: int | None) -> SearchRequest | None:
        if self.query is None:
            return None
        return SearchRequest(self.query, k, min_score or None, [root_id] if root_id is not None else None)

    def started(self) -> None:
        self.searching = True

    def answered(self, answer: SearchAnswer) -> None:
        self.searching = False
        self.last_answer = answer
        q = self.query
        if answer.encoded is not None and q is not None and answer.request.query.source is q.source:
            # Later searches (another region, another k) reuse the PNG instead of encoding again.
            self.query = Query(answer.encoded, q.label, q.crop, q.image_id)

    def failed(self) -> None:
        self.searching = False

    def query_text(self) -> str:
        return "No query yet" if self.query is None else self.query.describe()

    def query_tooltip(self) -> str:
        q = self.query
        if q is None:
            return ""
        return str(q.source) if isinstance(q.source, Path) else q.label

    @staticmethod
    def summary(answer: SearchAnswer, folder: str = "") -> str:
        """The results header: how many, where, how fast; or what to try when nothing matched."""
        n = len(answer.hits)
        if not n:
            return "No photos matched. Lower the minimum similarity, or add folders to the library."
        where = f" in {folder}" if folder else ""
        return f"{formatting.plural(n, 'photo')} found{where} ({answer.seconds * 1000:.0f} ms)"

    @staticmethod
    def failure_text(exc: BaseException, library_ready: bool) -> str:
        reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
        return reason if library_ready else "The library is not ready yet: " + reason
