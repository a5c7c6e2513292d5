"""The photo library: catalog (SQLite), vector index (FAISS), scanning, indexing, watching, search.

Knows nothing of Qt: the GUI drives it from worker threads through this API, the CLI directly.
"""

from irt_desktop.library.errors import LibraryError, NoModelError, QueryError, SchemaTooNew
from irt_desktop.library.library import Library
from irt_desktop.library.pipeline import PipelineConfig
from irt_desktop.library.records import (
    DuplicateReport,
    Failure,
    ImageInfo,
    IndexProgress,
    IndexReport,
    LibraryStatus,
    Root,
    ScanReport,
    SearchHit,
)

__all__ = [
    "DuplicateReport",
    "Failure",
    "ImageInfo",
    "IndexProgress",
    "IndexReport",
    "Library",
    "LibraryError",
    "LibraryStatus",
    "NoModelError",
    "PipelineConfig",
    "QueryError",
    "Root",
    "ScanReport",
    "SchemaTooNew",
    "SearchHit",
]
