"""Catalog: what the duplicates review reads and writes: live paths (to pair RAW files with their camera
JPEGs), files moved to the trash (soft-deleted at once, reason 'trashed', vectors kept) and their
restoration (the row and its vectors back, nothing re-embedded), and the trash journal: each action and
where its files went (schema 5), so undo works after a restart and for the last several actions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from irt_desktop.library.catalog.base import LIVE, CatalogBase, Tx, chunks, marks
from irt_desktop.library.records import ImageStatus

TRASHED = "trashed"
# (image id or None, original path, where it is in the trash, its .trashinfo record, size)
JournalItem = tuple[int | None, str, str, str, int]


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

    # -- the trash journal ---------------------------------------------------------------------------

    def record_trash_action(self, tx: Tx, at: float, label: str, items: Sequence[JournalItem]) -> int:
        """One trash action and where each of its files went; its id."""
        action = tx.execute("INSERT INTO trash_actions (at, label) VALUES (?, ?)", (at, label)).lastrowid
        tx.executemany(
            "INSERT OR REPLACE INTO trash_items (action_id, image_id, original, trashed, info, size) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(action, *item) for item in items],
        )
        return int(action)

    def trash_actions(self, limit: int) -> list[tuple[int, float, str, int]]:
        """(id, at, label, files still in the trash) of the latest actions not fully undone, newest first.
        A catalog not yet at schema 5 (a reader beside an older writer) has none."""
        try:
            return self.conn.execute(
                "SELECT a.id, a.at, a.label, count(i.original) FROM trash_actions a "
                "JOIN trash_items i ON i.action_id = a.id AND i.restored_at IS NULL "
                "WHERE a.undone_at IS NULL GROUP BY a.id ORDER BY a.id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        except sqlite3.OperationalError:
            return []

    def trash_action_items(self, action_id: int) -> list[JournalItem]:
        """The files of one action still in the trash (not restored yet)."""
        return self.conn.execute(
            "SELECT image_id, original, trashed, info, size FROM trash_items "
            "WHERE action_id = ? AND restored_at IS NULL ORDER BY original",
            (action_id,),
        ).fetchall()

    def trash_action_of(self, trashed: str) -> int | None:
        """The latest action that put a file at `trashed` (its place in the trash) and left it there."""
        value = self.scalar(
            "SELECT max(action_id) FROM trash_items WHERE trashed = ? AND restored_at IS NULL", (trashed,)
        )
        return None if value is None else int(value)

    def mark_trash_restored(self, tx: Tx, action_id: int, originals: Sequence[str], at: float) -> None:
        """These files of the action are back; the action is undone once none is left in the trash."""
        tx.executemany(
            "UPDATE trash_items SET restored_at = ? WHERE action_id = ? AND original = ?",
            [(at, action_id, o) for o in originals],
        )
        tx.execute(
            "UPDATE trash_actions SET undone_at = ? WHERE id = ? AND NOT EXISTS "
            "(SELECT 1 FROM trash_items WHERE action_id = ? AND restored_at IS NULL)",
            (at, action_id, action_id),
        )
