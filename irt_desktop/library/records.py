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
    FAILED = "failed"  # could not be decoded; see FailureKind for when it is tried again
    DELETED = "deleted"  # gone from disk (or excluded); kept a while so a move back keeps its vectors


class FailureKind(StrEnum):
    """Why a failed file is or is not tried again; the values are what the catalog stores."""

    # The file itself is the problem (not an image, too large, truncated, crashed the decoder): tried
    # again only once its size or modification time changes.
    PERMANENT = "permanent"
    # The problem may pass (permission denied, an I/O error, the file vanished mid-read): tried again
    # on a later scan, with a growing wait between attempts.
    TRANSIENT = "transient"


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
    kind: FailureKind = FailureKind.PERMANENT
    # Transient failures: when the next scan may try again (None: at the next scan); and how many
    # attempts have failed since the file last changed.
    retry_at: datetime | None = None
    attempts: int = 1


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
    retried: int = 0  # transient failures whose wait was over: pending again
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
class Calibration:
    """How a near-copy threshold was derived for one model on one library."""

    model_id: str
    threshold: float
    # Scores of a sample of the library's photos against their own re-encodings, resizes and crops.
    copy_scores: list[float]
    # Scores of the same photos against their nearest other photo (what a true non-copy reaches).
    other_scores: list[float]
    sample: int
    how: str
    # Look-alikes (bursts, the same scene shot again): a looser threshold, derived from the same photos
    # shifted, reframed and re-exposed (what a second frame of a burst is). None: calibrated before
    # look-alikes existed (the reports room calibrates again).
    lookalike_threshold: float | None = None
    lookalike_scores: list[float] = field(default_factory=list)
    lookalike_how: str = ""


@dataclass(frozen=True)
class DuplicateGroup:
    """One group of one kind, the suggested keeper first."""

    # 'exact' (same bytes) | 'near' (the same photo re-encoded, resized, cropped, rotated) | 'lookalike'
    # (a different shot of the same scene: bursts; reviewed one by one, never bulk-ticked)
    kind: str
    members: list[ImageInfo]
    # Why members[0] is kept (the keep rule, in order, for a tooltip).
    keep_reason: str = ""
    # Per member: its score against the keeper (1.0 for the keeper and for exact copies).
    scores: list[float] = field(default_factory=list)
    # Per member: how it matched the keeper ('', 'rotated', 'mirrored').
    how: list[str] = field(default_factory=list)
    # Per member: the paired camera JPEG of a RAW (one photo: never a trash candidate on its own).
    paired: list[Path | None] = field(default_factory=list)


@dataclass(frozen=True)
class DuplicateReport:
    # Byte-identical files (same quick hash and size, confirmed by a full-content hash), keeper first.
    exact: list[list[ImageInfo]]
    # Near copies: every member within the threshold of every other (complete linkage, never a chain),
    # exact copies collapsed to one member so the two lists do not repeat each other; keeper first.
    near: list[list[ImageInfo]]
    threshold: float = 0.95
    groups: list[DuplicateGroup] = field(default_factory=list)
    calibration: Calibration | None = None
    # RAW + camera JPEG pairs (same folder and name): one photo, shown together, never trashed as copies.
    pairs: list[list[ImageInfo]] = field(default_factory=list)
    # Whether rotated and mirrored copies were looked for (the library's photos decoded and embedded).
    rotations_checked: bool = False
    keep_folders: list[str] = field(default_factory=list)
    # Look-alike groups: every member within this looser threshold of every other, none a near copy of
    # another (near groups are folded to their keeper first); None: look-alikes were not looked for.
    lookalike_threshold: float | None = None

    def of_kind(self, kind: str) -> list[DuplicateGroup]:
        return [g for g in self.groups if g.kind == kind]
