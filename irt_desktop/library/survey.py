"""The read-only half of a scan: what is on disk under each root, compared with the catalog, as a
`Survey` of what would change. Nothing here writes; the Scanner applies a survey in one transaction.

Kept apart so a whole-library rescan can survey in another process (library/survey_process.py): at
10^6 photos the walk and the comparison are tens of seconds of Python that, run in the window's
process, shared its GIL and its two cores with the GUI thread and made scrolling stutter. What they
hand back for an unchanged library is a few counts.

The survey of a root: is it reachable; an empty folder where photos used to be (an unmounted drive);
the walk; the catalogued rows; the mount guard's verdict (library/mounts.py); the diff.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from irt_desktop.library import mounts
from irt_desktop.library.catalog import Catalog, StoredImage
from irt_desktop.library.excludes import ExcludeRules
from irt_desktop.library.folders import RootRow
from irt_desktop.library.records import ImageStatus, ScanReport
from irt_desktop.library.walk import Listing, SeenCallback, walk


@dataclass
class Diff:
    new: list[tuple[str, int, int, int]] = field(default_factory=list)  # path, root id, size, mtime
    changed: list[tuple[str, StoredImage, int, int]] = field(default_factory=list)  # path, row, size, mtime
    reappeared: list[tuple[StoredImage, int, int]] = field(default_factory=list)
    missing: list[StoredImage] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)  # the paths of `missing`
    retry: list[int] = field(default_factory=list)  # transient failures whose wait is over

    def any_change(self) -> bool:
        return bool(self.new or self.changed or self.reappeared or self.missing)


@dataclass
class GuardedRoot:
    root_id: int
    regions: list[str] | None  # None: the whole root
    result: mounts.Guarded
    skipped: list[tuple[str, str]] | None  # None: the walk was interrupted, keep what is recorded


@dataclass
class Survey:
    """What a scan of whole roots found, before anything is written."""

    diff: Diff = field(default_factory=Diff)
    report: ScanReport = field(default_factory=ScanReport)  # the counts a diff decides (seen, unchanged...)
    offline: list[int] = field(default_factory=list)  # roots to mark offline
    guarded: list[GuardedRoot] = field(default_factory=list)
    scanned: list[int] = field(default_factory=list)  # roots walked in full
    at: float = 0.0  # when the mount guard judged
    # Where it ran, for the log and the tests: the process, its niceness, its peak resident memory.
    pid: int = 0
    nice: int | None = None
    peak_rss_mb: float | None = None


def reachable(root: RootRow) -> bool:
    try:
        if not os.path.isdir(root.path):
            return False
        with os.scandir(root.path):
            pass
    except OSError:
        return False
    return True


def survey_roots(
    catalog: Catalog,
    roots: Iterable[RootRow],
    exclude: ExcludeRules,
    cancel: threading.Event | None = None,
    on_seen: SeenCallback | None = None,
) -> Survey:
    """Walk every root and compare it with the catalog (reads only)."""
    survey = Survey(at=time.time(), pid=os.getpid())
    probe = mounts.new_probe()
    seen_total = 0

    def counted(n: int, path: str) -> None:
        if on_seen is not None:
            on_seen(seen_total + n, path)

    for root in roots:
        if cancel is not None and cancel.is_set():
            break
        if not reachable(root):
            survey.offline.append(root.id)
            continue
        listing = Listing()
        walk(
            root.path,
            listing,
            recursive=root.recursive,
            follow_symlinks=root.follow_symlinks,
            cancel=cancel,
            on_seen=counted,
            exclude=exclude,
        )
        seen_total += len(listing.files)
        rows = catalog.images_under(root.id, hashes=False)
        if (
            not listing.files
            and not listing.unlisted
            and not listing.excluded
            and any(r.status != ImageStatus.DELETED for r in rows.values())
        ):
            # An empty mount point where photos used to be: an unmounted drive, not a mass deletion.
            survey.offline.append(root.id)
            continue
        survey.guarded.append(
            guard_root(catalog, root, listing, rows, None, probe, survey.at, survey.report, exclude)
        )
        diff_root(root, listing, rows, survey.diff, survey.report)
        survey.scanned.append(root.id)
    return survey


def guard_root(
    catalog: Catalog,
    root: RootRow,
    listing: Listing,
    rows: dict[str, StoredImage],
    regions: list[str] | None,
    probe: mounts.Probe,
    at: float,
    report: ScanReport,
    exclude: ExcludeRules,
) -> GuardedRoot:
    """Hold back deletions under file systems that are away or not the ones catalogued (mounts.py)."""
    if root.path in listing.unlisted:  # an interrupted walk: it proves nothing, records nothing
        return GuardedRoot(root.id, regions, mounts.Guarded([], [], []), None)
    guard = mounts.MountGuard(
        root.path,
        catalog.mount_records(root.id),
        recursive=root.recursive,
        probe=probe,
        excluded=(lambda p: exclude.excludes_path(p, root.path, False)) if exclude else None,
    )
    live = [p for p, r in rows.items() if r.status != ImageStatus.DELETED]
    result = guard.check(listing.files, live, listing.mounts, regions, at)
    listing.unlisted.extend(result.held)
    report.held.extend(result.held)
    return GuardedRoot(root.id, regions, result, listing.skipped)


def diff_root(
    root: RootRow, listing: Listing, rows: dict[str, StoredImage], diff: Diff, report: ScanReport
) -> None:
    report.seen += len(listing.files)
    report.skipped_names += listing.skipped_names
    report.excluded += listing.excluded
    now = time.time()
    for path, (size, mtime_ns) in listing.files.items():
        row = rows.get(path)
        if row is None:
            diff.new.append((path, root.id, size, mtime_ns))
        elif row.status == ImageStatus.DELETED:
            diff.reappeared.append((row, size, mtime_ns))
        elif (row.size, row.mtime_ns) != (size, mtime_ns):
            diff.changed.append((path, row, size, mtime_ns))
        elif row.status == ImageStatus.FAILED and row.retry_at is not None and row.retry_at <= now:
            diff.retry.append(row.id)
        else:
            report.unchanged += 1
    for path, row in rows.items():
        if row.status != ImageStatus.DELETED and path not in listing.files and not listing.hides(path):
            diff.missing.append(row)
            diff.gone.add(path)
