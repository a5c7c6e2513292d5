"""Scanning: what is on disk under the roots, compared with the catalog by (path, size, mtime_ns).

A scan never deletes what it could not see: an unreachable root is marked offline, an unreadable
sub-folder keeps its rows, and an empty root folder that used to hold photos is taken for an unmounted
drive. Moves and renames keep their row id, so their vectors stay, and copies share vectors, only when
the full-content hash agrees (library.identity: the quick hash + size only proposes candidates).

Threads: the indexing thread (the Indexer runs one scan at a time); files are hashed before the write
transaction, so other threads' reads and searches are never held up by disk I/O.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from irt_desktop.images import is_image_path
from irt_desktop.library.catalog import Catalog, NewFile, StoredImage, Tx
from irt_desktop.library.excludes import NONE, ExcludeRules, relative
from irt_desktop.library.folders import RootRow, is_junk_name, is_under
from irt_desktop.library.identity import gather
from irt_desktop.library.records import ImageStatus, ScanReport

_WIN_HIDDEN = 0x2  # FILE_ATTRIBUTE_HIDDEN

SeenCallback = Callable[[int, str], None]


def _hidden_on_windows(entry: os.DirEntry) -> bool:
    attrs = getattr(entry.stat(follow_symlinks=False), "st_file_attributes", 0)
    return bool(attrs & _WIN_HIDDEN)


@dataclass
class Listing:
    files: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (size, mtime_ns)
    # Folders that could not be read: nothing under them may be taken for deleted.
    unlisted: list[str] = field(default_factory=list)
    skipped_names: int = 0
    excluded: int = 0  # files and folders left out by the user's exclude patterns

    def hides(self, path: str) -> bool:
        return any(is_under(path, d) for d in self.unlisted)


def walk(
    top: str,
    listing: Listing,
    *,
    recursive: bool,
    follow_symlinks: bool,
    cancel: threading.Event | None = None,
    on_seen: SeenCallback | None = None,
    exclude: ExcludeRules = NONE,
    base: str | None = None,
) -> None:
    """Add the image files under `top` to `listing`; never raises for unreadable folders.

    `exclude` is matched relative to `base` (the root; default `top`), one entry at a time: the caller
    checks that `top` itself and the folders above it are not excluded."""
    base = top if base is None else base
    visited: set[tuple[int, int]] = set()
    stack = [top]
    while stack:
        if cancel is not None and cancel.is_set():
            listing.unlisted.append(top)  # an interrupted walk proves nothing about what is missing
            return
        folder = stack.pop()
        try:
            st = os.stat(folder)
            key = (st.st_dev, st.st_ino)
            if key in visited:  # a symlink loop, or two links to one folder
                continue
            visited.add(key)
            entries = list(os.scandir(folder))
        except OSError:
            listing.unlisted.append(folder)
            continue
        for entry in entries:
            name = entry.name
            if is_junk_name(name):
                continue
            try:
                if entry.is_symlink() and not follow_symlinks:
                    continue
                if os.name == "nt" and _hidden_on_windows(entry):
                    continue
                if entry.is_dir(follow_symlinks=follow_symlinks):
                    if recursive:
                        if exclude and exclude.matches(relative(entry.path, base), True):
                            listing.excluded += 1
                        else:
                            stack.append(entry.path)
                    continue
                if not is_image_path(name):
                    continue
                if exclude and exclude.matches(relative(entry.path, base), False):
                    listing.excluded += 1
                    continue
                st = entry.stat(follow_symlinks=follow_symlinks)
            except OSError:
                continue  # vanished or unreadable entry: the next scan will see it again
            if not stat.S_ISREG(st.st_mode):
                continue
            path = entry.path
            if not _storable(path):
                listing.skipped_names += 1
                continue
            listing.files[path] = (st.st_size, st.st_mtime_ns)
            if on_seen is not None:
                on_seen(len(listing.files), path)


def _storable(path: str) -> bool:
    # A name that is not valid UTF-8 (possible on Linux) cannot be stored as SQLite text.
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass
class ScanOutcome:
    report: ScanReport = field(default_factory=ScanReport)
    removed_ids: list[int] = field(default_factory=list)  # no longer searchable
    restored_ids: list[int] = field(default_factory=list)  # searchable again with their stored vectors
    touched_roots: set[int] = field(default_factory=set)


@dataclass
class _Diff:
    new: list[tuple[str, int, int, int]] = field(default_factory=list)  # path, root id, size, mtime
    changed: list[tuple[str, StoredImage, int, int]] = field(default_factory=list)  # path, row, size, mtime
    reappeared: list[tuple[StoredImage, int, int]] = field(default_factory=list)
    missing: list[StoredImage] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)  # the paths of `missing`
    retry: list[int] = field(default_factory=list)  # transient failures whose wait is over


# Runs inside the scan's write transaction with (removed ids, restored ids), to update FAISS in step.
ChangeHook = Callable[[list[int], list[int]], None]


class Scanner:
    def __init__(
        self,
        catalog: Catalog,
        transaction: Callable[[], contextlib.AbstractContextManager[Tx]] | None = None,
        on_changes: ChangeHook | None = None,
        exclude: ExcludeRules = NONE,
    ) -> None:
        self.catalog = catalog
        self._transaction = transaction or catalog.transaction
        self.on_changes = on_changes
        # Excluded files are left out of the listing, so rows already catalogued for them count as
        # missing and are soft-deleted like files that went away (and revived if the pattern goes).
        self.exclude = exclude

    # -- entry points ----------------------------------------------------------------------------------

    def scan_roots(
        self,
        roots: Iterable[RootRow],
        cancel: threading.Event | None = None,
        on_seen: SeenCallback | None = None,
    ) -> ScanOutcome:
        outcome = ScanOutcome()
        diff = _Diff()
        seen_total = 0
        scanned: list[int] = []

        def counted(n: int, path: str) -> None:
            if on_seen is not None:
                on_seen(seen_total + n, path)

        for root in roots:
            if cancel is not None and cancel.is_set():
                break
            if not self._reachable(root, outcome):
                continue
            listing = Listing()
            walk(
                root.path,
                listing,
                recursive=root.recursive,
                follow_symlinks=root.follow_symlinks,
                cancel=cancel,
                on_seen=counted,
                exclude=self.exclude,
            )
            seen_total += len(listing.files)
            rows = self.catalog.images_under(root.id)
            if (
                not listing.files
                and not listing.unlisted
                and not listing.excluded
                and any(r.status != ImageStatus.DELETED for r in rows.values())
            ):
                # An empty mount point where photos used to be: an unmounted drive, not a mass deletion.
                self.catalog.set_root_online(root.id, False)
                outcome.report.offline_roots.append(root.id)
                continue
            self._diff(root, listing, rows, diff, outcome.report)
            scanned.append(root.id)
        self._apply(diff, outcome)
        self.catalog.record_scan(online=(), scanned=scanned, at=time.time())
        outcome.touched_roots.update(scanned)
        return outcome

    def scan_paths(self, roots: Iterable[RootRow], paths: Iterable[str]) -> ScanOutcome:
        """Re-check just these files or folders (from the watcher); vanished ones count as missing."""
        outcome = ScanOutcome()
        diff = _Diff()
        regions = _outermost(sorted({os.path.normpath(p) for p in paths}))
        whole: list[int] = []  # roots re-scanned in full (a root that came back online)
        for root in roots:
            mine = [p for p in regions if is_under(p, root.path)]
            if not mine or not self._reachable(root, outcome):
                continue
            listing = Listing()
            rows: dict[str, StoredImage] = {}
            for region in mine:
                rel = os.path.relpath(region, root.path)
                if rel != "." and any(is_junk_name(part) for part in rel.split(os.sep)):
                    continue
                is_dir = os.path.isdir(region)
                if self.exclude.excludes_path(region, root.path, is_dir):
                    pass  # nothing listed: its catalogued rows (if any) go as missing
                elif is_dir:
                    if region == root.path or root.recursive:
                        walk(
                            region,
                            listing,
                            recursive=root.recursive,
                            follow_symlinks=root.follow_symlinks,
                            exclude=self.exclude,
                            base=root.path,
                        )
                elif root.covers(region) and is_image_path(region) and _storable(region):
                    try:
                        st = os.stat(region, follow_symlinks=root.follow_symlinks)
                    except OSError:
                        st = None
                    if st is not None and stat.S_ISREG(st.st_mode):
                        listing.files[region] = (st.st_size, st.st_mtime_ns)
                rows.update(self.catalog.images_under(root.id, region))
            listing.files = {p: v for p, v in listing.files.items() if root.covers(p)}
            self._diff(root, listing, rows, diff, outcome.report)
            outcome.touched_roots.add(root.id)
            whole.extend([root.id] if root.path in mine else [])
        self._apply(diff, outcome)
        self.catalog.record_scan(online=outcome.touched_roots, scanned=whole, at=time.time())
        return outcome

    # -- helpers ---------------------------------------------------------------------------------------

    def _reachable(self, root: RootRow, outcome: ScanOutcome) -> bool:
        try:
            ok = os.path.isdir(root.path)
            if ok:
                with os.scandir(root.path):
                    pass
        except OSError:
            ok = False
        if not ok:
            self.catalog.set_root_online(root.id, False)
            outcome.report.offline_roots.append(root.id)
        return ok

    @staticmethod
    def _diff(
        root: RootRow, listing: Listing, rows: dict[str, StoredImage], diff: _Diff, report: ScanReport
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

    def _apply(self, diff: _Diff, outcome: ScanOutcome) -> None:
        report = outcome.report
        catalog = self.catalog
        # Hashing reads files: done before the write transaction so it does not hold the lock during I/O.
        ev = gather(catalog, diff.new, diff.changed, diff.gone)
        missing_by_key: dict[tuple[str, int, str], list[StoredImage]] = {}
        for row in diff.missing:
            if row.quick_hash is not None and row.full_hash is not None:
                missing_by_key.setdefault((row.quick_hash, row.size, row.full_hash), []).append(row)
        now = time.time()
        used: set[int] = set()
        with self._transaction() as tx:
            for image_id, full in ev.filled.items():
                catalog.set_full_hash(tx, image_id, full)
            catalog.retry_failed(tx, diff.retry, now)
            report.retried += len(diff.retry)
            for _, row, size, mtime_ns in diff.changed:
                if row.id in ev.touched:
                    catalog.touch_image(tx, row.id, mtime_ns, now)
                    report.unchanged += 1
                    continue
                catalog.reset_image(tx, row.id, size, mtime_ns, now)
                outcome.removed_ids.append(row.id)
                report.changed += 1
            for row, size, mtime_ns in diff.reappeared:
                # A file that came back where it was: unchanged, it is a move back; else new content.
                if (row.size, row.mtime_ns) == (size, mtime_ns):
                    catalog.revive_image(tx, row.id, mtime_ns, now)
                    outcome.restored_ids.append(row.id)
                    report.moved += 1
                else:
                    catalog.reset_image(tx, row.id, size, mtime_ns, now)
                    report.new += 1
            inserts: list[NewFile] = []
            for path, root_id, size, mtime_ns in diff.new:
                h, full = ev.quick.get(path), ev.full.get(path)
                if h is not None and full is not None:
                    moved = [r for r in missing_by_key.get((h, size, full), []) if r.id not in used]
                    if moved:
                        row = moved[0]
                        used.add(row.id)
                        catalog.move_image(tx, row.id, path, root_id, mtime_ns, now)
                        report.moved += 1
                        continue
                    source = _match(catalog.images_with_content(tx, h, size, full), used)
                    if source is not None and source[1] == ImageStatus.DELETED:
                        used.add(source[0])
                        catalog.revive_image(tx, source[0], mtime_ns, now, path=path, root_id=root_id)
                        outcome.restored_ids.append(source[0])
                        report.moved += 1
                        continue
                    if source is not None:
                        new_id = catalog.copy_image(tx, source[0], path, root_id, mtime_ns, now)
                        outcome.restored_ids.append(new_id)
                        report.copied += 1
                        continue
                inserts.append((root_id, path, size, mtime_ns, h, full))
            catalog.insert_new_images(tx, inserts, now)
            report.new += len(inserts)
            gone = [r.id for r in diff.missing if r.id not in used]
            catalog.mark_deleted(tx, gone, now)
            outcome.removed_ids.extend(gone)
            report.deleted += len(gone)
            if self.on_changes is not None and (outcome.removed_ids or outcome.restored_ids):
                self.on_changes(outcome.removed_ids, outcome.restored_ids)


def _outermost(paths: list[str]) -> list[str]:
    """Drop paths inside another listed path (sorted input): each region is walked once."""
    out: list[str] = []
    for p in paths:
        if not out or not is_under(p, out[-1]):
            out.append(p)
    return out


def _match(rows: list[tuple[int, ImageStatus]], used: set[int]) -> tuple[int, ImageStatus] | None:
    """A row with this content: a deleted one (to revive) before a live one (to copy from)."""
    for image_id, status in rows:
        if status != ImageStatus.DELETED or image_id not in used:
            return image_id, status
    return None
