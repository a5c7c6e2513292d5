"""The photo library: catalog (SQLite), vector index (FAISS), scanning, indexing, watching, search.

Knows nothing of Qt: the GUI drives it from worker threads through this API, the CLI directly.

Names are imported on first use (PEP 562), so `from irt_desktop.library import records, errors` (or
`LibraryError`) loads neither torch nor FAISS; `Library` and `PipelineConfig` bring them in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from irt_desktop.library.errors import LibraryError, NoModelError, QueryError, SchemaTooNew
    from irt_desktop.library.library import Library
    from irt_desktop.library.pipeline import PipelineConfig
    from irt_desktop.library.records import (
        DuplicateReport,
        Failure,
        ImageInfo,
        ImageStatus,
        IndexProgress,
        IndexReport,
        LibraryStatus,
        Root,
        RootStatus,
        ScanReport,
        SearchHit,
        Skipped,
    )

__all__ = [
    "DuplicateReport",
    "Failure",
    "ImageInfo",
    "ImageStatus",
    "IndexProgress",
    "IndexReport",
    "Library",
    "LibraryError",
    "LibraryStatus",
    "NoModelError",
    "PipelineConfig",
    "QueryError",
    "Root",
    "RootStatus",
    "ScanReport",
    "SchemaTooNew",
    "SearchHit",
    "Skipped",
]
# Where each name lives; everything not named here is a record.
_HOME = {
    **{name: "records" for name in __all__},
    **{name: "errors" for name in ("LibraryError", "NoModelError", "QueryError", "SchemaTooNew")},
    "Library": "library",
    "PipelineConfig": "pipeline",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        # Not ours: AttributeError lets `from irt_desktop.library import records` import the submodule.
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
