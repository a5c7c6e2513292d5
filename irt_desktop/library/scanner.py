"""Scanning: what is on disk under the roots, compared with the catalog by (path, size, mtime_ns).

A scan never deletes what it could not see: an unreachable root is marked offline, an unreadable
sub-folder keeps its rows, and an empty root folder that used to hold photos is taken for an unmounted
drive. Nor what is on a drive that is not there: the root and the mount points under it are checked
against the file systems the catalog remembers (library/mounts.py), and nothing under one that is
unmounted, offline, replaced or far emptier than catalogued is taken for deleted. The walk itself (and
the names it has to skip, which are recorded for `Library.skipped()`) is library/walk.py. Moves and
renames keep their row id, so their vectors stay, and copies share vectors, only when the
full-content hash agrees (library/identity.py: the quick hash + size only proposes candidates).

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
from dataclasses import dataclass, field, replace

from irt_desktop.images import is_image_path
from irt_desktop.library import mounts
from irt_desktop.library.catalog import Catalog, NewFile, StoredImage, Tx
from irt_desktop.library.excludes import NONE, ExcludeRules
from irt_desktop.library.folders import RootRow, is_junk_name, is_under
from irt_desktop.library.gc_pause import cyclic_gc_paused
from irt_desktop.library.identity import gather
from irt_desktop.library.records import ImageStatus, ScanReport
from irt_desktop.library.walk import NOT_UTF8, Listing, SeenCallback, not_regular, storable, walk
from irt_desktop.library.walk import SYMLINK as _SYMLINK

__all__ = ["Listing", "ScanOutcome", "Scanner", "SeenCallback", "walk"]


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


@dataclass
class _Guarded:
    root_id: int
    regions: list[str] | None  # None: the whole root
    result: mounts.Guarded
    skipped: list[tuple[str, str]] | None  # None: the walk was interrupted, keep what is recorded


# Runs inside the scan's write transaction with (removed ids, restored ids), to update FAISS in step.
ChangeHook = Callable[[list[int], list[int]], None]


class Scanner:
    def __init__(
        self,
        catalog: Catalog,
        transaction: Callable[[], contextlib.AbstractContextManager[Tx]] | None = None,
        on_changes: ChangeHook | None = None,
        exclude: ExcludeRules = NONE,
        prepare: Callable[[], None] | None = None,
    ) -> None:
        self.catalog = catalog
        self._transaction = transaction or catalog.transaction
        self.on_changes = on_changes
        # Excluded files are left out of the listing, so rows already catalogued for them count as
        # missing and are soft-deleted like files that went away (and revived if the pattern goes).
        self.exclude = exclude
        # Called before a scan that found something to change writes it (the indexer loads the saved
        # FAISS indexes then, so the change reaches them and their files can be saved current).
        self.prepare = prepare

    # -- entry points ----------------------------------------------------------------------------------

    def scan_roots(
        self,
        roots: Iterable[RootRow],
        cancel: threading.Event | None = None,
        on_seen: SeenCallback | None = None,
    ) -> ScanOutcome:
        with cyclic_gc_paused():
            return self._scan_roots(roots, cancel, on_seen)

    def _scan_roots(
        self,
        roots: Iterable[RootRow],
        cancel: threading.Event | None,
        on_seen: SeenCallback | None,
    ) -> ScanOutcome:
        outcome = ScanOutcome()
        diff = _Diff()
        seen_total = 0
        scanned: list[int] = []
        guarded: list[_Guarded] = []
        probe = mounts.new_probe()
        at = time.time()

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
            rows = self.catalog.images_under(root.id, hashes=False)
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
            guarded.append(self._guard(root, listing, rows, None, probe, at, outcome.report))
            self._diff(root, listing, rows, diff, outcome.report)
            scanned.append(root.id)
        self._prepare(diff)
        self._apply(diff, outcome)
        self._remember(guarded, at)
        self.catalog.record_scan(online=(), scanned=scanned, at=time.time())
        outcome.touched_roots.update(scanned)
        return outcome

    def scan_paths(self, roots: Iterable[RootRow], paths: Iterable[str]) -> ScanOutcome:
        """Re-check just these files or folders (from the watcher); vanished ones count as missing."""
        outcome = ScanOutcome()
        diff = _Diff()
        regions = _outermost(sorted({os.path.normpath(p) for p in paths}))
        whole: list[int] = []  # roots re-scanned in full (a root that came back online)
        guarded: list[_Guarded] = []
        probe = mounts.new_probe()
        at = time.time()
        for root in roots:
            mine = [p for p in regions if is_under(p, root.path)]
            if not mine or not self._reachable(root, outcome):
                continue
            listing = Listing()
            rows: dict[str, StoredImage] = {}
            looked: list[str] = []
            for region in mine:
                rel = os.path.relpath(region, root.path)
                if rel != "." and any(is_junk_name(part) for part in rel.split(os.sep)):
                    continue
                if not storable(region):
                    # Not UTF-8: nothing at or under it can be in the catalog (or asked about in SQL).
                    if root.covers(region) and (os.path.isdir(region) or is_image_path(region)):
                        listing.skip(region, NOT_UTF8)
                    continue
                looked.append(region)
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
                elif root.covers(region) and is_image_path(region):
                    self._list_file(root, region, listing)
                rows.update(self.catalog.images_under(root.id, region))
            listing.files = {p: v for p, v in listing.files.items() if root.covers(p)}
            guarded.append(self._guard(root, listing, rows, looked, probe, at, outcome.report))
            self._diff(root, listing, rows, diff, outcome.report)
            outcome.touched_roots.add(root.id)
            whole.extend([root.id] if root.path in mine else [])
        self._prepare(diff)
        self._apply(diff, outcome)
        self._remember(guarded, at)
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
    def _list_file(root: RootRow, path: str, listing: Listing) -> None:
        """One file the watcher reported: listed if it is a regular file (stat only, never opened)."""
        try:
            st = os.stat(path, follow_symlinks=root.follow_symlinks)
        except OSError:
            return  # gone: its row (if any) counts as missing
        if stat.S_ISLNK(st.st_mode):
            listing.skip(path, _SYMLINK)
        elif not stat.S_ISREG(st.st_mode):
            listing.skip(path, not_regular(st.st_mode))
        else:
            listing.files[path] = (st.st_size, st.st_mtime_ns)

    def _guard(
        self,
        root: RootRow,
        listing: Listing,
        rows: dict[str, StoredImage],
        regions: list[str] | None,
        probe: mounts.Probe,
        at: float,
        report: ScanReport,
    ) -> _Guarded:
        """Hold back deletions under file systems that are away or not the ones catalogued (mounts.py)."""
        if root.path in listing.unlisted:  # an interrupted walk: it proves nothing, records nothing
            return _Guarded(root.id, regions, mounts.Guarded([], [], []), None)
        exclude = self.exclude
        guard = mounts.MountGuard(
            root.path,
            self.catalog.mount_records(root.id),
            recursive=root.recursive,
            probe=probe,
            excluded=(lambda p: exclude.excludes_path(p, root.path, False)) if exclude else None,
        )
        live = [p for p, r in rows.items() if r.status != ImageStatus.DELETED]
        result = guard.check(listing.files, live, listing.mounts, regions, at)
        listing.unlisted.extend(result.held)
        report.held.extend(result.held)
        return _Guarded(root.id, regions, result, listing.skipped)

    def _prepare(self, diff: _Diff) -> None:
        if self.prepare is not None and (diff.new or diff.changed or diff.reappeared or diff.missing):
            self.prepare()

    def _remember(self, guarded: list[_Guarded], at: float) -> None:
        """After the scan's changes: what file systems were seen, and what names were skipped."""
        for g in guarded:
            if g.result.keep or g.result.drop:
                self.catalog.save_mount_records(g.root_id, g.result.keep, g.result.drop, at)
            if g.skipped is not None:
                self.catalog.replace_skipped(g.root_id, g.regions, g.skipped, at)

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

    def _fill_hashes(self, diff: _Diff) -> None:
        """The content hashes of the rows found changed or missing: a whole-root scan reads its rows
        without them (Catalog.images_under), and only these rows' hashes decide moves and touches."""
        wanted = [row.id for _, row, _, _ in diff.changed] + [row.id for row in diff.missing]
        if not wanted:
            return
        hashes = self.catalog.image_hashes(wanted)

        def filled(row: StoredImage) -> StoredImage:
            quick, full = hashes.get(row.id, (row.quick_hash, row.full_hash))
            return replace(row, quick_hash=quick, full_hash=full)

        diff.changed = [(path, filled(row), size, mtime) for path, row, size, mtime in diff.changed]
        diff.missing = [filled(row) for row in diff.missing]

    def _apply(self, diff: _Diff, outcome: ScanOutcome) -> None:
        report = outcome.report
        catalog = self.catalog
        self._fill_hashes(diff)
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
