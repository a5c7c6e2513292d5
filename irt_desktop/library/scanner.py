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
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from irt_desktop.images import is_image_path
from irt_desktop.library import mounts, survey_process
from irt_desktop.library.catalog import Catalog, NewFile, StoredImage, Tx
from irt_desktop.library.excludes import NONE, ExcludeRules
from irt_desktop.library.folders import RootRow, is_junk_name, is_under
from irt_desktop.library.gc_pause import cyclic_gc_paused
from irt_desktop.library.identity import gather
from irt_desktop.library.records import ImageStatus, ScanReport
from irt_desktop.library.survey import (
    Diff,
    GuardedRoot,
    Survey,
    diff_root,
    guard_root,
    reachable,
    survey_roots,
)
from irt_desktop.library.walk import NOT_UTF8, Listing, SeenCallback, not_regular, storable, walk
from irt_desktop.library.walk import SYMLINK as _SYMLINK

__all__ = ["Listing", "ScanOutcome", "Scanner", "SeenCallback", "walk"]

log = logging.getLogger(__name__)

# Where asked for (the window's library), a whole-library rescan of a catalog this large surveys in
# another process (survey_process.py says why). Below it the walk takes well under a second, about what
# starting that process costs (~0.35 s).
SURVEY_IN_CHILD_FROM = 20_000


@dataclass
class ScanOutcome:
    report: ScanReport = field(default_factory=ScanReport)
    removed_ids: list[int] = field(default_factory=list)  # no longer searchable
    restored_ids: list[int] = field(default_factory=list)  # searchable again with their stored vectors
    touched_roots: set[int] = field(default_factory=set)


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
        survey_in_child_from: int | None = None,
    ) -> None:
        """`survey_in_child_from`: catalogued images from which scan_roots surveys in another process
        (None: never)."""
        self.catalog = catalog
        self.survey_in_child_from = survey_in_child_from
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
        roots = list(roots)
        survey = self._survey(roots, cancel, on_seen)
        outcome = ScanOutcome()
        if survey is None:  # cancelled while another process surveyed: nothing was written
            return outcome
        outcome.report = survey.report
        for root_id in survey.offline:
            self.catalog.set_root_online(root_id, False)
            outcome.report.offline_roots.append(root_id)
        self._prepare(survey.diff)
        self._apply(survey.diff, outcome)
        self._remember(survey.guarded, survey.at)
        self.catalog.record_scan(online=(), scanned=survey.scanned, at=time.time())
        outcome.touched_roots.update(survey.scanned)
        return outcome

    def _survey(
        self, roots: list[RootRow], cancel: threading.Event | None, on_seen: SeenCallback | None
    ) -> Survey | None:
        """In another process for a large library (survey_process.py), else here."""
        limit = self.survey_in_child_from
        if limit is not None and roots and self.catalog.highest_image_id() >= limit:
            try:
                survey = survey_process.survey_in_child(
                    self.catalog.path, roots, self.exclude, cancel, on_seen
                )
            except survey_process.SurveyFailed as exc:
                log.warning("%s; scanning in this process instead", exc)
            else:
                if survey is not None:
                    log.debug(
                        "surveyed %d files in process %d (nice %s, peak %.0f MB)",
                        survey.report.seen, survey.pid, survey.nice, survey.peak_rss_mb or 0.0,
                    )
                return survey
        return survey_roots(self.catalog, roots, self.exclude, cancel, on_seen)

    def scan_paths(self, roots: Iterable[RootRow], paths: Iterable[str]) -> ScanOutcome:
        """Re-check just these files or folders (from the watcher); vanished ones count as missing."""
        outcome = ScanOutcome()
        diff = Diff()
        regions = _outermost(sorted({os.path.normpath(p) for p in paths}))
        whole: list[int] = []  # roots re-scanned in full (a root that came back online)
        guarded: list[GuardedRoot] = []
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
            report = outcome.report
            guarded.append(
                guard_root(self.catalog, root, listing, rows, looked, probe, at, report, self.exclude)
            )
            diff_root(root, listing, rows, diff, report)
            outcome.touched_roots.add(root.id)
            whole.extend([root.id] if root.path in mine else [])
        self._prepare(diff)
        self._apply(diff, outcome)
        self._remember(guarded, at)
        self.catalog.record_scan(online=outcome.touched_roots, scanned=whole, at=time.time())
        return outcome

    # -- helpers ---------------------------------------------------------------------------------------

    def _reachable(self, root: RootRow, outcome: ScanOutcome) -> bool:
        ok = reachable(root)
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

    def _prepare(self, diff: Diff) -> None:
        if self.prepare is not None and diff.any_change():
            self.prepare()

    def _remember(self, guarded: list[GuardedRoot], at: float) -> None:
        """After the scan's changes: what file systems were seen, and what names were skipped."""
        for g in guarded:
            if g.result.keep or g.result.drop:
                self.catalog.save_mount_records(g.root_id, g.result.keep, g.result.drop, at)
            if g.skipped is not None:
                self.catalog.replace_skipped(g.root_id, g.regions, g.skipped, at)

    def _fill_hashes(self, diff: Diff) -> None:
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

    def _apply(self, diff: Diff, outcome: ScanOutcome) -> None:
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
