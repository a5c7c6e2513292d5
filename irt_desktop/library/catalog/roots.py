"""Catalog: the watched folders (roots) and the per-root counts the GUI shows."""

from __future__ import annotations

import time
from collections.abc import Iterable

from irt_desktop.library.catalog.base import LIVE, NO_VECTOR, READABLE, CatalogBase, Tx
from irt_desktop.library.folders import RootRow
from irt_desktop.library.records import ImageStatus


class RootsMixin(CatalogBase):
    def root_rows(self) -> list[RootRow]:
        """Every root, sorted by path."""
        rows = self.conn.execute(
            "SELECT id, path, recursive, follow_symlinks, network, online, scanned_at "
            "FROM roots ORDER BY path"
        ).fetchall()
        return [RootRow(r[0], r[1], bool(r[2]), bool(r[3]), bool(r[4]), bool(r[5]), r[6]) for r in rows]

    def insert_root(self, tx: Tx, path: str, *, recursive: bool, follow_symlinks: bool, network: bool) -> int:
        cur = tx.execute(
            "INSERT INTO roots(path, recursive, follow_symlinks, network, online, added_at) "
            "VALUES (?, ?, ?, ?, 1, ?)",
            (path, int(recursive), int(follow_symlinks), int(network), time.time()),
        )
        return int(cur.lastrowid)

    def make_root_recursive(self, tx: Tx, root_id: int) -> None:
        tx.execute("UPDATE roots SET recursive = 1 WHERE id = ?", (root_id,))

    def merge_root_into(self, tx: Tx, inner_id: int, outer_id: int) -> None:
        """The inner root's images (and so their vectors) now belong to the outer root; the inner goes."""
        tx.execute("UPDATE images SET root_id = ? WHERE root_id = ?", (outer_id, inner_id))
        # Its mount points (not the folder itself) are the outer root's now; its skipped names too.
        tx.execute(
            "INSERT OR IGNORE INTO root_mounts(root_id, path, device, inode, mount, seen_at, away_since) "
            "SELECT ?, path, device, inode, mount, seen_at, away_since FROM root_mounts "
            "WHERE root_id = ? AND mount = 1",
            (outer_id, inner_id),
        )
        tx.execute("UPDATE skipped_files SET root_id = ? WHERE root_id = ?", (outer_id, inner_id))
        tx.execute("DELETE FROM roots WHERE id = ?", (inner_id,))

    def delete_root(self, tx: Tx, root_id: int) -> list[int] | None:
        """Forget the root and every image row under it (vectors go with them); the ids of those rows,
        or None when there is no such root."""
        ids = [r[0] for r in tx.execute("SELECT id FROM images WHERE root_id = ?", (root_id,))]
        tx.execute("DELETE FROM images WHERE root_id = ?", (root_id,))
        if not tx.execute("DELETE FROM roots WHERE id = ?", (root_id,)).rowcount:
            return None
        return ids

    def set_root_follow_symlinks(self, tx: Tx, root_id: int, follow: bool) -> None:
        tx.execute("UPDATE roots SET follow_symlinks = ? WHERE id = ?", (int(follow), root_id))

    def set_root_online(self, root_id: int, online: bool) -> None:
        with self.transaction() as tx:
            tx.execute("UPDATE roots SET online = ? WHERE id = ?", (int(online), root_id))

    def record_scan(self, online: Iterable[int], scanned: Iterable[int], at: float) -> None:
        """Roots `online` were reachable; roots `scanned` were walked in full at time `at`."""
        with self.transaction(bookkeeping=True) as tx:
            tx.executemany("UPDATE roots SET online = 1 WHERE id = ?", [(i,) for i in online])
            tx.executemany(
                "UPDATE roots SET online = 1, scanned_at = ? WHERE id = ?", [(at, i) for i in scanned]
            )

    def root_status_counts(self) -> dict[int, dict[ImageStatus, int]]:
        """root id -> live image status -> count."""
        counts: dict[int, dict[ImageStatus, int]] = {}
        for root_id, status, n in self.conn.execute(
            f"SELECT root_id, status, count(*) FROM images WHERE {LIVE} GROUP BY root_id, status"
        ):
            counts.setdefault(root_id, {})[ImageStatus(status)] = n
        return counts

    def root_pending_counts(self, model_id: str) -> dict[int, int]:
        """root id -> images that have no vector from `model_id` yet (roots with none are left out)."""
        if not self.count_pending(model_id):  # counted without a probe per image (catalog/images.py)
            return {}
        return dict(
            self.conn.execute(
                f"SELECT root_id, count(*) FROM images i WHERE {READABLE} AND {NO_VECTOR} GROUP BY root_id",
                (model_id,),
            ).fetchall()
        )
