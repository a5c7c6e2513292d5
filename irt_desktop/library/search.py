"""Search: query (file, bytes, PIL image, catalogued image) -> descriptor -> FAISS top-k -> catalog rows.

Threads: any thread, alongside indexing (FAISS and the catalog are safe for that). A query is embedded
on the caller's thread by the serving model; searches never start a thread pool of their own.
"""

from __future__ import annotations

import io
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


def search_vector(
    catalog: Catalog,
    index: VectorIndex,
    vector: np.ndarray,
    *,
    k: int,
    roots: Sequence[int] | None = None,
    min_score: float | None = None,
    exclude: Sequence[int] = (),
    accept: Callable[[int], bool] | None = None,
) -> list[SearchHit]:
    """Top-k live images by cosine; over-fetches and widens when filters (roots, excluded ids) drop hits."""
    if k <= 0:
        return []
    excluded = set(exclude)
    root_set = None if roots is None else set(roots)
    total = index.ntotal
    if total == 0:
        return []
    fetch = k + len(excluded) if root_set is None else max(4 * k, 64)
    while True:
        fetch = min(fetch, total)
        scores, ids = index.search(vector, fetch)
        scores, ids = scores[0], ids[0]
        keep = ids >= 0
        if min_score is not None:
            keep &= scores >= min_score
        cand = [
            (int(i), float(s)) for i, s in zip(ids[keep], scores[keep], strict=True) if int(i) not in excluded
        ]
        infos = catalog.image_infos([i for i, _ in cand])
        hits = []
        for image_id, score in cand:
            info = infos.get(image_id)
            # Rows can vanish or be soft-deleted between the FAISS lookup and this read.
            if info is None or info.status == ImageStatus.DELETED:
                continue
            if root_set is not None and info.root_id not in root_set:
                continue
            if accept is not None and not accept(image_id):
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
            if len(hits) == k:
                return hits
        exhausted = fetch >= total or len(ids) < fetch
        below_min = min_score is not None and len(scores) and float(scores[-1]) < min_score
        if exhausted or below_min:
            return hits
        fetch *= 4


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
    ) -> list[SearchHit]:
        """Images most like `query` (a file, encoded bytes or a PIL image), best first.

        `exclude_self`: when the query is a file that is itself in the library, leave it out."""
        model_id = self._models.serving_or_adopt()
        embedder = self._models.embedder(model_id)
        im = load_query(query, min_side=Tensorizer(embedder.spec).resize, crop=crop)
        vector = self.embed([im], model_id)[0]
        exclude: list[int] = []
        if exclude_self and isinstance(query, str | os.PathLike):
            own = self._catalog.image_id_for_path(canonical(query))
            if own is not None:
                exclude.append(own)
        index = self._vectors.index_for(model_id)
        return search_vector(
            self._catalog, index, vector, k=k, roots=roots, min_score=min_score, exclude=exclude
        )

    def similar(
        self,
        image_id: int,
        *,
        k: int = 50,
        roots: Sequence[int] | None = None,
        min_score: float | None = None,
    ) -> list[SearchHit]:
        """'More like this' for a catalogued image, which is left out of its own results."""
        model_id = self._models.serving_or_adopt()
        found = self._catalog.vectors_for(model_id, [image_id])
        if image_id not in found:
            info = self._catalog.image_infos([image_id]).get(image_id)
            if info is None:
                raise LibraryError(f"there is no image with id {image_id}")
            raise LibraryError(f"{info.path} is not indexed yet ({info.status})")
        index = self._vectors.index_for(model_id)
        return search_vector(
            self._catalog, index, found[image_id], k=k, roots=roots, min_score=min_score, exclude=[image_id]
        )

    def embed(self, images: Sequence[Image.Image], model_id: str | None = None) -> np.ndarray:
        """Descriptors of in-memory images, preprocessed exactly as indexing does."""
        embedder = self._models.embedder(model_id or self._models.serving_or_adopt())
        tensorize = Tensorizer(embedder.spec)
        return embedder.embed_array(np.stack([tensorize(im) for im in images]))
