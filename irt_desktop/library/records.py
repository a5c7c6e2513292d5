"""Plain records the library hands out: no database handles, safe to pass to another thread.

Imports nothing heavy (no torch, FAISS or SQLite), so the GUI can type against it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path


class ImageStatus(StrEnum):
    """A catalogued file's state; the values are what the catalog stores."""

    PENDING = "pending"  # scanned, not embedded yet (or its content changed)
    OK = "ok"  # decoded and embedded (by some model)
    FAILED = "failed"  # could not be decoded; retried once the file changes
    DELETED = "deleted"  # gone from disk (or excluded); kept a while so a move back keeps its vectors


class RootStatus(StrEnum):
    """A watched folder's state as the GUI shows it."""

    INDEXED = "indexed"
    PENDING = "pending"
    OFFLINE = "offline"
    ERRORS = "errors"


@dataclass(frozen=True)
class Root:
    id: int
    path: Path
    recursive: bool
    network: bool
    follow_symlinks: bool
    status: RootStatus
    n_images: int
    n_failed: int
    n_pending: int = 0
    n_skipped: int = 0  # names the scans left out (Library.skipped())


@dataclass(frozen=True)
class ImageInfo:
    id: int
    path: Path
    root_id: int
    size: int
    width: int | None
    height: int | None
    # EXIF DateTimeOriginal when the photo has one, else the file's modification time.
    taken: datetime | None
    status: ImageStatus
    reason: str | None = None


@dataclass(frozen=True)
class SearchHit:
    image_id: int
    path: Path
    score: float
    size: int
    width: int | None
    height: int | None
    taken: datetime | None
    root_id: int = 0


@dataclass(frozen=True)
class Failure:
    image_id: int
    path: Path
    reason: str


@dataclass(frozen=True)
class Skipped:
    """A name a scan left out and why (not UTF-8, too long, an unreadable folder, a symlink not followed,
    not a regular file). `path` is for showing: bytes that are not UTF-8 appear as \\xNN escapes."""

    path: str
    reason: str
    root_id: int


@dataclass(frozen=True)
class IndexProgress:
    done: int
    total: int
    images_per_s: float
    eta_s: float | None
    current: str
    # 'scan' | 'load-model' | 'embed' | 'save' | 'done'
    phase: str


@dataclass
class ScanReport:
    """What one scan found; counts only, so a 1M-file scan does not build huge lists."""

    seen: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    moved: int = 0
    copied: int = 0
    deleted: int = 0
    offline_roots: list[int] = field(default_factory=list)
    skipped_names: int = 0  # names left out (Library.skipped() lists them)
    excluded: int = 0  # files and folders left out by exclude patterns (a folder counts once)
    # Folders under which nothing was taken for deleted: a mount point (or the root) that is unmounted,
    # offline or another file system than before, or holds far fewer photos than catalogued.
    held: list[str] = field(default_factory=list)


@dataclass
class IndexReport:
    scan: ScanReport = field(default_factory=ScanReport)
    embedded: int = 0
    failed: int = 0
    pending: int = 0
    cancelled: bool = False
    seconds: float = 0.0
    model_id: str | None = None
    # True when this run finished a model switch and search now uses the new model.
    switched_model: bool = False

    @property
    def images_per_s(self) -> float:
        return self.embedded / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class LibraryStatus:
    n_images: int
    n_indexed: int
    n_pending: int
    n_failed: int
    model_id: str | None
    roots: list[Root]
    # The model being embedded while the serving one answers searches; None when no switch is running.
    target_model_id: str | None = None
    index_kind: str | None = None


@dataclass(frozen=True)
class DuplicateReport:
    # Byte-identical files (same quick hash and size, confirmed by a full-content hash).
    exact: list[list[ImageInfo]]
    # Visually near-identical images: connected groups of pairs scoring >= threshold, exact copies
    # collapsed to one member so the two lists do not repeat each other.
    near: list[list[ImageInfo]]
    threshold: float = 0.95
