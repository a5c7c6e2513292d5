"""The catalog: one SQLite file (WAL), the source of truth for roots, images, models and vectors.

Every SQL statement of the library lives in this package (and the schema in library/schema.py), behind
methods named for what they do. One `Catalog` object, its methods grouped by concept:

- base.py      connections (one per thread), `transaction()`, `snapshot()`, the `tx` convention
- settings.py  settings: serving and target model, exclude patterns; registered models
- roots.py     watched folders and their per-root counts
- images.py    image rows: scan writes, embedding results, reads for search and reports
- vectors.py   descriptor vectors and the state a saved FAISS file must match
- attempts.py  decode markers (a file that killed the process), unfinished attempts, due retries
- mounts.py    the file systems each root was on, skipped names, the purge that spares away mounts
- trash.py     what the duplicates review trashes and restores
- bulk.py      the manifest of files still to embed, and the rows imported vectors are checked against
- search_filters.py  which images a filtered search may return; the folders the filter offers

Threads: any thread may call any method; each uses its own connection. Methods taking `tx` must be
called inside the caller's `transaction()` on the same thread.
"""

from irt_desktop.library.catalog.attempts import AttemptsMixin, DecodeMarks
from irt_desktop.library.catalog.base import CATALOG_FILE, LIVE, READABLE, Tx
from irt_desktop.library.catalog.bulk import BulkMixin
from irt_desktop.library.catalog.images import ImagesMixin, NewFile, StoredImage, image_info
from irt_desktop.library.catalog.mounts import MountsMixin
from irt_desktop.library.catalog.roots import RootsMixin
from irt_desktop.library.catalog.search_filters import SearchFiltersMixin
from irt_desktop.library.catalog.settings import SettingsMixin
from irt_desktop.library.catalog.trash import TrashMixin


class Catalog(
    SettingsMixin,
    RootsMixin,
    MountsMixin,
    ImagesMixin,
    AttemptsMixin,
    TrashMixin,
    BulkMixin,
    SearchFiltersMixin,
):
    """The library's SQLite catalog (see the package docstring)."""


__all__ = [
    "CATALOG_FILE",
    "LIVE",
    "READABLE",
    "Catalog",
    "DecodeMarks",
    "NewFile",
    "StoredImage",
    "Tx",
    "image_info",
]
