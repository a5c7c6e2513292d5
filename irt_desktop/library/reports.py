"""Reports on the library: its status and counts, the files that could not be read, one image's
record, duplicate groups.

Threads: any thread, alongside indexing. They only read (duplicates also caches full-content hashes,
reading whole files, so the GUI asks for it from a worker).
"""

from __future__ import annotations

from irt_desktop.library.catalog import Catalog
from irt_desktop.library.duplicates import find_duplicates
from irt_desktop.library.errors import LibraryError
from irt_desktop.library.models import ModelRegistry
from irt_desktop.library.records import DuplicateReport, Failure, ImageInfo, ImageStatus, LibraryStatus
from irt_desktop.library.roots import Roots
from irt_desktop.library.vector_cache import VectorCache


class Reports:
    def __init__(self, catalog: Catalog, models: ModelRegistry, vectors: VectorCache, roots: Roots) -> None:
        self._catalog = catalog
        self._models = models
        self._vectors = vectors
        self._roots = roots

    def status(self) -> LibraryStatus:
        serving, target = self._models.serving, self._models.target
        counts = self._catalog.status_counts()
        vi = self._vectors.loaded(serving) if serving else None  # never loads an index just to report
        return LibraryStatus(
            n_images=sum(counts.values()),
            n_indexed=self._catalog.count_vectors(serving) if serving else 0,
            n_pending=self._catalog.count_pending(target or serving),
            n_failed=counts.get(ImageStatus.FAILED, 0),
            model_id=serving,
            roots=self._roots.records(target or serving),
            target_model_id=target,
            index_kind=None if vi is None else vi.info.kind,
        )

    def failures(self) -> list[Failure]:
        return self._catalog.failures()

    def image(self, image_id: int) -> ImageInfo:
        info = self._catalog.image_infos([image_id]).get(image_id)
        if info is None:
            raise LibraryError(f"there is no image with id {image_id}")
        return info

    def duplicates(self, threshold: float = 0.95) -> DuplicateReport:
        """Exact copies, and groups of near-identical images scoring >= `threshold` (serving model)."""
        model_id = self._models.serving
        vi = self._vectors.index_for(model_id) if model_id else None
        return find_duplicates(self._catalog, vi, model_id, threshold)
