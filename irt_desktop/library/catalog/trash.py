"""Catalog: what the duplicates review reads and writes: live paths (to pair RAW files with their camera
JPEGs), files moved to the trash (soft-deleted at once, reason 'trashed', vectors kept) and their
restoration (the row and its vectors back, nothing re-embedded)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from irt_desktop.library.catalog.base import LIVE, CatalogBase, Tx, chunks, marks
from irt_desktop.library.records import ImageStatus

TRASHED = "trashed"


class TrashMixin(CatalogBase):
    def live_image_paths(self) -> list[tuple[int, str]]:
        """(id, path) of every live image."""
        return self.conn.execute(f"SELECT id, path FROM images WHERE {LIVE}").fetchall()

    def mark_trashed(self, tx: Tx, image_ids: Iterable[int], at: float) -> None:
        """The files went to the trash: out of search at once (soft delete), vectors kept for an undo."""
        tx.executemany(
            "UPDATE images SET status = ?, reason = ?, deleted_at = ?, updated_at = ? WHERE id = ?",
            [(ImageStatus.DELETED.value, TRASHED, at, at, int(i)) for i in image_ids],
        )

    def restore_trashed(self, tx: Tx, image_ids: Sequence[int], at: float) -> list[int]:
        """The files are back from the trash: rows live again with their vectors; the ids restored."""
        done = []
        for chunk in chunks([int(i) for i in image_ids]):
            rows = tx.execute(
                f"SELECT id FROM images WHERE id IN ({marks(len(chunk))}) AND status = ? AND reason = ?",
                [*chunk, ImageStatus.DELETED.value, TRASHED],
            ).fetchall()
            done += [r[0] for r in rows]
        tx.executemany(
            "UPDATE images SET status = CASE WHEN EXISTS "
            "(SELECT 1 FROM vectors v WHERE v.image_id = images.id) THEN ? ELSE ? END, "
            "reason = NULL, deleted_at = NULL, updated_at = ? WHERE id = ?",
            [(ImageStatus.OK.value, ImageStatus.PENDING.value, at, i) for i in done],
        )
        return done
