"""Catalog: what file systems each root was on when last scanned (the root itself and the mount points
under it; see library/mounts.py), the names scans had to skip, and the purge of long-deleted rows that
spares those under a file system that is away."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from irt_desktop.library.catalog.base import CatalogBase
from irt_desktop.library.folders import MountRecord, prefix_range
from irt_desktop.library.records import ImageStatus, Skipped

_NEXT_SEP = chr(ord(os.sep) + 1)


class MountsMixin(CatalogBase):
    # -- remembered file systems ---------------------------------------------------------------------

    def mount_records(self, root_id: int) -> list[MountRecord]:
        rows = self.conn.execute(
            "SELECT path, device, inode, mount, away_since FROM root_mounts WHERE root_id = ? ORDER BY path",
            (root_id,),
        ).fetchall()
        return [MountRecord(r[0], int(r[1]), int(r[2]), bool(r[3]), r[4]) for r in rows]

    def save_mount_records(
        self, root_id: int, keep: Iterable[MountRecord], drop: Iterable[str], at: float
    ) -> None:
        """Remember `keep` (added or updated) and forget the records at the paths in `drop`."""
        with self.transaction(bookkeeping=True) as tx:
            tx.executemany(
                "DELETE FROM root_mounts WHERE root_id = ? AND path = ?", [(root_id, p) for p in drop]
            )
            tx.executemany(
                "INSERT INTO root_mounts(root_id, path, device, inode, mount, seen_at, away_since) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(root_id, path) DO UPDATE SET "
                "device = excluded.device, inode = excluded.inode, mount = excluded.mount, "
                "seen_at = excluded.seen_at, away_since = excluded.away_since",
                [(root_id, r.path, r.device, r.inode, int(r.mount), at, r.away_since) for r in keep],
            )

    # -- skipped names -------------------------------------------------------------------------------

    def replace_skipped(
        self, root_id: int, regions: Sequence[str] | None, entries: Iterable[tuple[str, str]], at: float
    ) -> None:
        """The skipped (path, reason) pairs a scan found under `regions` (None: the whole root) replace
        what was recorded there before."""
        with self.transaction(bookkeeping=True) as tx:
            if regions is None:
                tx.execute("DELETE FROM skipped_files WHERE root_id = ?", (root_id,))
            for region in regions or ():
                lo, hi = prefix_range(region)
                tx.execute(
                    "DELETE FROM skipped_files WHERE root_id = ? AND (path = ? OR (path >= ? AND path < ?))",
                    (root_id, region, lo, hi),
                )
            tx.executemany(
                "INSERT OR REPLACE INTO skipped_files(path, root_id, reason, seen_at) VALUES (?, ?, ?, ?)",
                [(path, root_id, reason, at) for path, reason in entries],
            )

    def skipped_files(self) -> list[Skipped]:
        rows = self.conn.execute("SELECT path, reason, root_id FROM skipped_files ORDER BY path").fetchall()
        return [Skipped(r[0], r[1], r[2]) for r in rows]

    def skipped_counts(self) -> dict[int, int]:
        """root id -> names skipped under it (roots with none are left out)."""
        rows = self.conn.execute("SELECT root_id, count(*) FROM skipped_files GROUP BY root_id")
        return dict(rows.fetchall())

    # -- retention -----------------------------------------------------------------------------------

    def purge_deleted_unless_away(self, cutoff: float) -> int:
        """Really delete rows soft-deleted before `cutoff` (their vectors go with them), except those of
        an offline root or under a file system that is away: they come back with their vectors when it
        does. How many went."""
        with self.transaction() as tx:
            return tx.execute(
                "DELETE FROM images WHERE status = ? AND deleted_at < ? "
                "AND root_id NOT IN (SELECT id FROM roots WHERE online = 0) "
                "AND NOT EXISTS (SELECT 1 FROM root_mounts m WHERE m.away_since IS NOT NULL "
                "AND m.root_id = images.root_id AND (images.path = m.path OR "
                "(images.path >= rtrim(m.path, ?) || ? AND images.path < rtrim(m.path, ?) || ?)))",
                (ImageStatus.DELETED.value, cutoff, os.sep, os.sep, os.sep, _NEXT_SEP),
            ).rowcount
