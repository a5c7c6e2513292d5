"""Search: query (file, bytes, PIL image, catalogued image) -> descriptor -> FAISS top-k -> catalog rows,
narrowed by a SearchFilter inside the search and put in the asked-for order (library/filters.py).

Threads: any thread, alongside indexing (FAISS and the catalog are safe for that). A query is embedded
on the caller's thread by the serving model; searches never start a thread pool of their own.
"""

from __future__ import annotations

import io
import math
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from irt_desktop.images import ImageError, open_image
from irt_desktop.library.catalog import Catalog
from irt_desktop.library.decode import Tensorizer
from irt_desktop.library.errors import LibraryError, QueryError
from irt_desktop.library.filters import SearchFilter, SortKey, sort_hits
from irt_desktop.library.folders import canonical
from irt_desktop.library.models import ModelRegistry
from irt_desktop.library.records import ImageStatus, SearchHit
from irt_desktop.library.vector_cache import VectorCache
from irt_desktop.library.vector_index import VectorIndex
from irt_desktop.library.walk import not_regular

Query = Path | str | bytes | bytearray | memoryview | Image.Image
Box = tuple[int, int, int, int]


def load_query(query: Query, *, min_side: int, crop: Box | None = None) -> Image.Image:
    """The query as an upright RGB image, cropped to `crop` (left, top, right, bottom in its own pixels)."""
    # A crop box is in full-resolution pixels, so the image must not be decoded at a reduced size.
    side = None if crop is not None else min_side
    try:
        if isinstance(query, Image.Image):
            im = query if query.mode == "RGB" else query.convert("RGB")
        elif isinstance(query, bytes | bytearray | memoryview):
            im = open_image(io.BytesIO(bytes(query)), min_side=side)
        elif isinstance(query, str | os.PathLike):
            _refuse_non_regular(Path(query))
            im = open_image(Path(query), min_side=side)
        else:
            raise TypeError(f"cannot search by a {type(query).__name__}; give a path, bytes or a PIL image")
    except ImageError as exc:
        raise QueryError(f"cannot read the query image: {exc}", exc.reason) from None
    if crop is not None:
        left, top, right, bottom = (int(v) for v in crop)
        w, h = im.size
        if not (0 <= left < right <= w and 0 <= top < bottom <= h):
            raise QueryError(f"crop box {crop} does not fit in the {w}x{h} query image", "bad crop box")
        im = im.crop((left, top, right, bottom))
    return im


def _refuse_non_regular(path: Path) -> None:
    """A FIFO, socket or device named like a photo would block (or never end) the read: refused on its
    type alone, before anything opens it."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # missing or unreadable: open_image says so in its own words
    if not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else not_regular(mode)
        raise QueryError(f"cannot read the query image: {path} is {what}", what)


# A filtered search first asks FAISS for this many times k (at least MIN_FETCH) and keeps the matches;
# when too few of them pass, the filter is selective and the search is run among its matches instead.
OVERFETCH = 4
MIN_FETCH = 256
# Up to this many matching images, FAISS is asked for the best among exactly those (an ID selector).
CANDIDATES_MAX = 200_000
# IVF visits only a few lists: this many matching images or fewer are scored exactly from their vectors.
EXACT_AMONG_MAX = 20_000
# A filter that keeps a fair share of the ranking is answered by fetching deeper (at most WIDEN_MAX
# times deeper per round, WIDEN_ROUNDS rounds): cheaper than listing its matches from the catalog.
WIDEN_MAX = 32
WIDEN_ROUNDS = 3

VectorsOf = Callable[[Sequence[int]], dict[int, np.ndarray]]


def search_vector(
    catalog: Catalog,
    index: VectorIndex,
    vector: np.ndarray,
    *,
    k: int,
    roots: Sequence[int] | None = None,
    min_score: float | None = None,
    exclude: Sequence[int] = (),
    filters: SearchFilter | None = None,
    vectors_of: VectorsOf | None = None,
) -> list[SearchHit]:
    """The k live images most like `vector` (cosine, best first) that pass `filters` (and `roots`),
    leaving out `exclude`. `vectors_of(ids)`: stored vectors, for an exact pass over few candidates.

    Bounded at any size: an unfiltered search fetches k plus what is excluded (widened only past rows
    that vanished meanwhile); a filtered one over-fetches, then either fetches deeper (a filter that
    keeps a fair share) or searches among the filter's matches (a catalog query and a FAISS ID
    selector), and widens a bounded number of times at most."""
    if k <= 0 or index.ntotal == 0:
        return []
    f = (filters or SearchFilter()).with_roots(roots)
    excluded = {int(i) for i in exclude}
    total = index.ntotal
    fetch = min(total, k + len(excluded)) if not f.active else min(total, max(OVERFETCH * k, MIN_FETCH))
    rounds, tried_among = 0, False
    while True:
        scores, ids = index.search(vector, fetch)
        pairs = _pairs(scores[0], ids[0], min_score, excluded)
        if f.active:
            keep = catalog.filtered_among([i for i, _ in pairs], f)
            pairs = [(i, s) for i, s in pairs if i in keep]
        hits = _hits(catalog, pairs, k)
        below_min = min_score is not None and len(scores[0]) and float(scores[0][-1]) < min_score
        if len(hits) >= k or fetch >= total or len(ids[0]) < fetch or below_min:
            return hits
        if not f.active:
            fetch = min(total, fetch * 4)
            continue
        # What share of the ranking passes the filter says how far down k matches should lie: near
        # enough, one wider fetch; far (a selective filter), the search among its matches instead.
        needed = fetch * 8 if not hits else math.ceil(1.5 * fetch * k / len(hits))
        if not tried_among and (not hits or needed > WIDEN_MAX * fetch):
            tried_among = True
            among = catalog.filtered_ids(f, CANDIDATES_MAX)
            if among is not None:
                return _search_among(catalog, index, vector, among, k, min_score, excluded, vectors_of)
        if rounds >= WIDEN_ROUNDS:
            return hits
        rounds += 1
        fetch = min(total, max(needed, fetch * 2))


def _pairs(
    scores: np.ndarray, ids: np.ndarray, min_score: float | None, excluded: set[int]
) -> list[tuple[int, float]]:
    keep = ids >= 0
    if min_score is not None:
        keep &= scores >= min_score
    return [
        (int(i), float(s)) for i, s in zip(ids[keep], scores[keep], strict=True) if int(i) not in excluded
    ]


def _hits(catalog: Catalog, pairs: Sequence[tuple[int, float]], k: int) -> list[SearchHit]:
    """SearchHits of the first k pairs whose rows are still live (rows can vanish or be soft-deleted
    between the FAISS lookup and this read); only as many rows are read as can be needed."""
    hits: list[SearchHit] = []
    start = 0
    while len(hits) < k and start < len(pairs):
        batch = pairs[start : start + k - len(hits)]
        start += len(batch)
        infos = catalog.image_infos([i for i, _ in batch])
        for image_id, score in batch:
            info = infos.get(image_id)
            if info is None or info.status == ImageStatus.DELETED:
                continue
            hits.append(
                SearchHit(
                    image_id=image_id,
                    path=info.path,
                    score=min(1.0, score),
                    size=info.size,
                    width=info.width,
                    height=info.height,
                    taken=info.taken,
                    root_id=info.root_id,
                )
            )
    return hits


def _search_among(
    catalog: Catalog,
    index: VectorIndex,
    vector: np.ndarray,
    among: np.ndarray,
    k: int,
    min_score: float | None,
    excluded: set[int],
    vectors_of: VectorsOf | None,
) -> list[SearchHit]:
    """The best k of exactly the images in `among` (a selective filter's matches)."""
    if excluded:
        among = among[~np.isin(among, np.fromiter(excluded, dtype=np.int64))]
    if not len(among):
        return []
    # Some rows dropped out as the hits were read: ask for a few more than k.
    want = min(len(among), k + 16)
    if index.info.kind == "ivf" and len(among) <= EXACT_AMONG_MAX and vectors_of is not None:
        stored = vectors_of(among.tolist())
        if not stored:
            return []
        ids = np.fromiter(stored.keys(), dtype=np.int64, count=len(stored))
        scores = np.stack(list(stored.values())) @ np.asarray(vector, dtype=np.float32).reshape(-1)
        top = np.argsort(-scores, kind="stable")[:want]
        pairs = _pairs(scores[top], ids[top], min_score, excluded)
    else:
        scores, ids = index.search_among(vector, want, among)
        pairs = _pairs(scores[0], ids[0], min_score, excluded)
    return _hits(catalog, pairs, k)


class Searcher:
    """Search by the serving model: the search, "more like this" and in-memory embedding the GUI uses."""

    def __init__(self, catalog: Catalog, models: ModelRegistry, vectors: VectorCache) -> None:
        self._catalog = catalog
        self._models = models
        self._vectors = vectors

    def search(
        self,
        query: Query,
        *,
        k: int = 50,
        roots: Sequence[int] | None = None,
        min_score: float | None = None,
        crop: Box | None = None,
        exclude_self: bool = False,
        filters: SearchFilter | None = None,
        sort: SortKey | str = SortKey.SIMILARITY,
        reverse: bool = False,
    ) -> list[SearchHit]:
        """Images most like `query` (a file, encoded bytes or a PIL image), best first.

        `exclude_self`: when the query is a file that is itself in the library, leave it out."""
        model_id = self._models.serving_or_adopt()
        vector = self.query_vector(query, crop=crop, model_id=model_id)
        exclude: list[int] = []
        if exclude_self and isinstance(query, str | os.PathLike):
            own = self._catalog.image_id_for_path(canonical(query))
            if own is not None:
                exclude.append(own)
        return self.by_vector(
            vector,
            k=k,
            roots=roots,
            min_score=min_score,
            exclude=exclude,
            filters=filters,
            sort=sort,
            reverse=reverse,
            model_id=model_id,
        )

    def similar(
        self,
        image_id: int,
        *,
        k: int = 50,
        roots: Sequence[int] | None = None,
        min_score: float | None = None,
        filters: SearchFilter | None = None,
        sort: SortKey | str = SortKey.SIMILARITY,
        reverse: bool = False,
    ) -> list[SearchHit]:
        """'More like this' for a catalogued image, which is left out of its own results."""
        model_id = self._models.serving_or_adopt()
        vector = self.stored_vector(image_id, model_id)
        return self.by_vector(
            vector,
            k=k,
            roots=roots,
            min_score=min_score,
            exclude=[image_id],
            filters=filters,
            sort=sort,
            reverse=reverse,
            model_id=model_id,
        )

    def query_vector(
        self, query: Query, *, crop: Box | None = None, model_id: str | None = None
    ) -> np.ndarray:
        """The descriptor a search by `query` uses (embedded now, on the caller's thread)."""
        model_id = model_id or self._models.serving_or_adopt()
        embedder = self._models.embedder(model_id)
        im = load_query(query, min_side=Tensorizer(embedder.spec).resize, crop=crop)
        return self.embed([im], model_id)[0]

    def stored_vector(self, image_id: int, model_id: str | None = None) -> np.ndarray:
        """A catalogued image's descriptor from the serving model (what 'more like this' searches by)."""
        model_id = model_id or self._models.serving_or_adopt()
        found = self._catalog.vectors_for(model_id, [image_id])
        if image_id not in found:
            info = self._catalog.image_infos([image_id]).get(image_id)
            if info is None:
                raise LibraryError(f"there is no image with id {image_id}")
            raise LibraryError(f"{info.path} is not indexed yet ({info.status})")
        return found[image_id]

    def by_vector(
        self,
        vector: np.ndarray,
        *,
        k: int = 50,
        roots: Sequence[int] | None = None,
        min_score: float | None = None,
        exclude: Sequence[int] = (),
        filters: SearchFilter | None = None,
        sort: SortKey | str = SortKey.SIMILARITY,
        reverse: bool = False,
        model_id: str | None = None,
    ) -> list[SearchHit]:
        """The k best matches of a descriptor that pass `filters`, then put in `sort` order."""
        model_id = model_id or self._models.serving_or_adopt()
        index = self._vectors.index_for(model_id)
        hits = search_vector(
            self._catalog,
            index,
            vector,
            k=k,
            roots=roots,
            min_score=min_score,
            exclude=exclude,
            filters=filters,
            vectors_of=lambda ids: self._catalog.vectors_for(model_id, ids),
        )
        return sort_hits(hits, sort, reverse)

    def embed(self, images: Sequence[Image.Image], model_id: str | None = None) -> np.ndarray:
        """Descriptors of in-memory images, preprocessed exactly as indexing does."""
        embedder = self._models.embedder(model_id or self._models.serving_or_adopt())
        tensorize = Tensorizer(embedder.spec)
        return embedder.embed_array(np.stack([tensorize(im) for im in images]))
