"""Catalog: image rows. What a scan writes (new, changed, moved, copied, deleted files), what an
embedding batch writes (decoded metadata, failures), and the reads that search, reports and the GUI use."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from irt_desktop.library.catalog.base import LIVE, NO_VECTOR, READABLE, Tx, chunks, marks
from irt_desktop.library.catalog.vectors import VectorsMixin
from irt_desktop.library.folders import prefix_range
from irt_desktop.library.records import Failure, FailureKind, ImageInfo, ImageStatus

_INFO_COLUMNS = "id, path, root_id, size, width, height, exif_taken, mtime_ns, status, reason"
_IF_STILL_READABLE = f"WHERE id = ? AND {READABLE}"  # a row removed meanwhile is left alone


@dataclass(slots=True)
class StoredImage:
    """What a scan compares a file on disk against (slots: a scan of a 10^6-photo root holds one per
    file, and a per-instance dict would double what they take). Not frozen: a frozen dataclass sets each
    field through object.__setattr__, which made reading a root's rows a third slower. Treat as read-only."""

    id: int
    size: int
    mtime_ns: int
    status: ImageStatus
    quick_hash: str | None
    full_hash: str | None = None
    # A transient failure's next try (None for every other row).
    retry_at: float | None = None


# (root id, path, size, mtime_ns, quick hash or None[, full hash or None]) of a file seen for the first
# time.
NewFile = tuple[int, str, int, int, str | None] | tuple[int, str, int, int, str | None, str | None]

_STATUS = {s.value: s for s in ImageStatus}

# A failure's end: the row is readable again with nothing left of the failed attempts.
_NO_FAILURE = "reason = NULL, failure_kind = NULL, attempts = 0, retry_at = NULL, unfinished = 0"


class ImagesMixin(VectorsMixin):
    # -- what a scan reads ---------------------------------------------------------------------------

    def images_under(
        self, root_id: int, region: str | None = None, hashes: bool = True
    ) -> dict[str, StoredImage]:
        """path -> row of the root's images (deleted ones too), or only those at or under `region`.
        `hashes=False` leaves the content hashes out (None): a whole-root scan at 10^6 rows held ~180 MB
        of them, and needs them only for the few rows it finds changed or missing (`image_hashes`)."""
        columns = "quick_hash, full_hash" if hashes else "NULL, NULL"
        sql = (
            f"SELECT path, id, size, mtime_ns, status, {columns}, "
            f"CASE WHEN failure_kind = '{FailureKind.TRANSIENT}' THEN retry_at END FROM images "
            "WHERE root_id = ?"
        )
        params: list = [root_id]
        if region is not None:
            lo, hi = prefix_range(region)
            sql += " AND (path = ? OR (path >= ? AND path < ?))"
            params += [region, lo, hi]
        status = _STATUS.__getitem__  # a dict lookup, not an Enum call per row (a third of the read)
        return {
            r[0]: StoredImage(r[1], r[2], r[3], status(r[4]), r[5], r[6], r[7])
            for r in self.conn.execute(sql, params)
        }

    def image_hashes(self, ids: Iterable[int]) -> dict[int, tuple[str | None, str | None]]:
        """image id -> (quick hash, full-content hash)."""
        found: dict[int, tuple[str | None, str | None]] = {}
        for chunk in chunks(sorted(set(ids))):
            for image_id, quick, full in self.conn.execute(
                f"SELECT id, quick_hash, full_hash FROM images WHERE id IN ({marks(len(chunk))})", chunk
            ):
                found[image_id] = (quick, full)
        return found

    def sizes_with_hash(self, sizes: Iterable[int]) -> set[int]:
        """Those of `sizes` that some row (live or deleted) with a quick hash has: only new files of
        these sizes can be moves or copies, so only they are worth hashing."""
        found: set[int] = set()
        for chunk in chunks(sorted(set(sizes))):
            found.update(
                r[0]
                for r in self.conn.execute(
                    f"SELECT DISTINCT size FROM images WHERE size IN ({marks(len(chunk))}) "
                    "AND quick_hash IS NOT NULL",
                    chunk,
                )
            )
        return found

    def image_path(self, image_id: int) -> str | None:
        value = self.scalar("SELECT path FROM images WHERE id = ?", (image_id,))
        return None if value is None else str(value)

    def content_candidates(
        self, keys: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], list[tuple[StoredImage, str]]]:
        """(quick hash, size) -> (row, path) of the rows, live or deleted, with that quick hash and size:
        the only ones a new file of that content could take vectors from, once its full hash agrees."""
        out: dict[tuple[str, int], list[tuple[StoredImage, str]]] = {}
        for quick, size in sorted(set(keys)):
            for r in self.conn.execute(
                "SELECT id, size, mtime_ns, status, quick_hash, full_hash, path FROM images "
                "WHERE quick_hash = ? AND size = ? ORDER BY id",
                (quick, size),
            ):
                row = StoredImage(r[0], r[1], r[2], ImageStatus(r[3]), r[4], r[5])
                out.setdefault((quick, size), []).append((row, r[6]))
        return out

    def images_with_content(
        self, tx: Tx, quick_hash: str, size: int, full_hash: str
    ) -> list[tuple[int, ImageStatus]]:
        """(id, status) of the rows whose whole content is this: deleted ones first (to revive), then
        embedded ones (to copy from)."""
        rows = tx.execute(
            "SELECT id, status FROM images WHERE quick_hash = ? AND size = ? AND full_hash = ? "
            f"ORDER BY status = '{ImageStatus.DELETED}' DESC, status = '{ImageStatus.OK}' DESC, id",
            (quick_hash, size, full_hash),
        ).fetchall()
        return [(image_id, ImageStatus(status)) for image_id, status in rows]

    def set_full_hash(self, tx: Tx, image_id: int, full_hash: str) -> None:
        """Record a row's full-content hash, taken from its file as catalogued (unchanged size and time)."""
        tx.execute("UPDATE images SET full_hash = ? WHERE id = ?", (full_hash, image_id))

    def images_by_hash(self, tx: Tx, quick_hash: str, size: int) -> list[tuple[int, ImageStatus]]:
        """(id, status) of the rows with this content: deleted ones first (to revive), then embedded."""
        rows = tx.execute(
            "SELECT id, status FROM images WHERE quick_hash = ? AND size = ? "
            f"ORDER BY status = '{ImageStatus.DELETED}' DESC, status = '{ImageStatus.OK}' DESC, id",
            (quick_hash, size),
        ).fetchall()
        return [(image_id, ImageStatus(status)) for image_id, status in rows]

    # -- what a scan writes --------------------------------------------------------------------------

    def insert_new_images(self, tx: Tx, files: Sequence[NewFile], at: float) -> None:
        """Rows for files seen for the first time, pending embedding."""
        tx.executemany(
            "INSERT INTO images(root_id, path, size, mtime_ns, quick_hash, full_hash, status, added_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [((*f, None) if len(f) == 5 else f) + (ImageStatus.PENDING.value, at, at) for f in files],
        )

    def touch_image(self, tx: Tx, image_id: int, mtime_ns: int, at: float) -> None:
        """Only the file's time changed (its content is the same): keep everything else."""
        tx.execute("UPDATE images SET mtime_ns = ?, updated_at = ? WHERE id = ?", (mtime_ns, at, image_id))

    def reset_image(self, tx: Tx, image_id: int, size: int, mtime_ns: int, at: float) -> None:
        """The file's content changed: forget everything derived from it, vectors included."""
        tx.execute(
            "UPDATE images SET size = ?, mtime_ns = ?, quick_hash = NULL, full_hash = NULL, width = NULL, "
            f"height = NULL, exif_taken = NULL, status = ?, {_NO_FAILURE}, deleted_at = NULL, "
            "updated_at = ? WHERE id = ?",
            (size, mtime_ns, ImageStatus.PENDING.value, at, image_id),
        )
        tx.execute("DELETE FROM vectors WHERE image_id = ?", (image_id,))

    def move_image(self, tx: Tx, image_id: int, path: str, root_id: int, mtime_ns: int, at: float) -> None:
        """A live row's file now lives at `path` (a move or rename seen within one scan)."""
        tx.execute(
            "UPDATE images SET path = ?, root_id = ?, mtime_ns = ?, updated_at = ? WHERE id = ?",
            (path, root_id, mtime_ns, at, image_id),
        )

    def revive_image(
        self,
        tx: Tx,
        image_id: int,
        mtime_ns: int,
        at: float,
        *,
        path: str | None = None,
        root_id: int | None = None,
    ) -> None:
        """A deleted row's file is back (where it was, or at `path` under `root_id`), with its vectors."""
        status = ImageStatus.OK if self.has_vectors(tx, image_id) else ImageStatus.PENDING
        tx.execute(
            "UPDATE images SET path = coalesce(?, path), root_id = coalesce(?, root_id), mtime_ns = ?, "
            "status = ?, deleted_at = NULL, updated_at = ? WHERE id = ?",
            (path, root_id, mtime_ns, status.value, at, image_id),
        )

    def copy_image(self, tx: Tx, source_id: int, path: str, root_id: int, mtime_ns: int, at: float) -> int:
        """A byte-identical copy of a catalogued file: a new row reusing the source's metadata and
        vectors. Returns the new row's id."""
        cur = tx.execute(
            "INSERT INTO images(root_id, path, size, mtime_ns, quick_hash, full_hash, width, height, "
            "exif_taken, status, reason, failure_kind, attempts, added_at, updated_at) "
            "SELECT ?, ?, size, ?, quick_hash, full_hash, width, height, exif_taken, status, reason, "
            "failure_kind, attempts, ?, ? FROM images WHERE id = ?",
            (root_id, path, mtime_ns, at, at, source_id),
        )
        new_id = int(cur.lastrowid)
        self.copy_vectors(tx, source_id, new_id)
        return new_id

    def mark_deleted(self, tx: Tx, image_ids: Iterable[int], at: float) -> None:
        """Soft delete: out of search, vectors kept until purge_deleted_before()."""
        tx.executemany(
            "UPDATE images SET status = ?, deleted_at = ?, updated_at = ? WHERE id = ?",
            [(ImageStatus.DELETED.value, at, at, i) for i in image_ids],
        )

    def purge_deleted_before(self, cutoff: float) -> int:
        """Really delete rows soft-deleted before `cutoff` (their vectors go with them); how many."""
        with self.transaction() as tx:
            return tx.execute(
                "DELETE FROM images WHERE status = ? AND deleted_at < ?", (ImageStatus.DELETED.value, cutoff)
            ).rowcount

    # -- what an embedding batch writes --------------------------------------------------------------

    def mark_embedded(
        self,
        tx: Tx,
        image_id: int,
        *,
        size: int,
        mtime_ns: int,
        quick_hash: str | None,
        width: int | None,
        height: int | None,
        exif_taken: float | None,
        at: float,
        full_hash: str | None = None,
    ) -> bool:
        """Record what decoding found; False if the row went away (its root removed) meanwhile."""
        return bool(
            tx.execute(
                f"UPDATE images SET status = ?, {_NO_FAILURE}, size = ?, mtime_ns = ?, quick_hash = ?, "
                "full_hash = ?, width = ?, height = ?, exif_taken = ?, updated_at = ? "
                f"{_IF_STILL_READABLE}",
                (
                    ImageStatus.OK.value,
                    size,
                    mtime_ns,
                    quick_hash,
                    full_hash,
                    width,
                    height,
                    exif_taken,
                    at,
                    image_id,
                ),
            ).rowcount
        )

    def mark_failed(
        self,
        tx: Tx,
        image_id: int,
        reason: str | None,
        *,
        size: int,
        mtime_ns: int,
        quick_hash: str | None,
        at: float,
        kind: FailureKind = FailureKind.PERMANENT,
        retry_at: float | None = None,
        full_hash: str | None = None,
    ) -> None:
        """The file could not be decoded; a size or time of 0 (file unreadable) keeps the stored one, and
        so does a missing hash. `retry_at`: when a transient failure may be tried again."""
        tx.execute(
            "UPDATE images SET status = ?, reason = ?, failure_kind = ?, attempts = attempts + 1, "
            "retry_at = ?, unfinished = 0, size = coalesce(nullif(?, 0), size), "
            "mtime_ns = coalesce(nullif(?, 0), mtime_ns), quick_hash = coalesce(?, quick_hash), "
            "full_hash = coalesce(?, full_hash), updated_at = ? "
            f"{_IF_STILL_READABLE}",
            (
                ImageStatus.FAILED.value,
                reason,
                kind.value,
                retry_at if kind == FailureKind.TRANSIENT else None,
                size,
                mtime_ns,
                quick_hash,
                full_hash,
                at,
                image_id,
            ),
        )

    # -- reads for search, reports and the GUI -------------------------------------------------------

    def image_infos(self, ids: Sequence[int]) -> dict[int, ImageInfo]:
        out: dict[int, ImageInfo] = {}
        for chunk in chunks(list(ids)):
            rows = self.conn.execute(
                f"SELECT {_INFO_COLUMNS} FROM images WHERE id IN ({marks(len(chunk))})", chunk
            )
            for row in rows:
                out[row[0]] = image_info(row)
        return out

    def image_id_for_path(self, path: str) -> int | None:
        """The live row at `path` (a canonical path string)."""
        value = self.scalar(f"SELECT id FROM images WHERE path = ? AND {LIVE}", (path,))
        return None if value is None else int(value)

    def failures(self) -> list[Failure]:
        rows = self.conn.execute(
            "SELECT id, path, reason, failure_kind, retry_at, attempts FROM images WHERE status = ? "
            "ORDER BY path",
            (ImageStatus.FAILED.value,),
        ).fetchall()
        return [
            Failure(
                r[0],
                Path(r[1]),
                r[2] or "unknown error",
                FailureKind(r[3] or FailureKind.PERMANENT),
                _when(r[4]) if r[3] == FailureKind.TRANSIENT else None,
                max(1, r[5] or 0),
            )
            for r in rows
        ]

    def status_counts(self) -> dict[ImageStatus, int]:
        """Live images by status."""
        rows = self.conn.execute(f"SELECT status, count(*) FROM images WHERE {LIVE} GROUP BY status")
        return {ImageStatus(status): n for status, n in rows}

    def highest_image_id(self) -> int:
        """At least the number of rows, read from the primary key's end: cheaper than a count."""
        return self.conn.execute("SELECT max(id) FROM images").fetchone()[0] or 0

    def pending_for(self, model_id: str) -> list[tuple[int, str]]:
        """(id, path) of live, readable images that have no vector from `model_id` yet, oldest first."""
        return self.conn.execute(
            f"SELECT id, path FROM images i WHERE {READABLE} AND {NO_VECTOR} ORDER BY id", (model_id,)
        ).fetchall()

    def count_pending(self, model_id: str | None) -> int:
        """Images `model_id` still has to embed (None: no model yet, so every readable image).

        Counted, not probed: readable images, less the model's vectors, plus those of its vectors whose
        image is not readable (failed or deleted: few, found through the (root, status) index). Every
        vector belongs to an image (foreign key), so this is exact; a probe of every readable image for
        its vector took ~0.5 s at 10^6 photos, at every status and after every indexing run."""
        readable = f"SELECT count(*) FROM images WHERE root_id IN (SELECT id FROM roots) AND {READABLE}"
        if model_id is None:
            return int(self.scalar(readable) or 0)
        with self.snapshot():
            n_readable = int(self.scalar(readable) or 0)
            total = int(self.scalar("SELECT count(*) FROM vectors WHERE model_id = ?", (model_id,)) or 0)
            elsewhere = self.vectors_of_images_with_status(
                model_id, (ImageStatus.FAILED, ImageStatus.DELETED)
            )
        return n_readable - (total - elsewhere)

    # -- exact duplicates ----------------------------------------------------------------------------

    def images_sharing_quick_hash(self) -> list[tuple[int, str, int, str | None]]:
        """(id, path, size, full hash or None) of live images whose quick hash and size another live
        image has: the candidates for byte-identical copies."""
        return self.conn.execute(
            f"SELECT id, path, size, full_hash FROM images WHERE {LIVE} AND quick_hash IS NOT NULL "
            f"AND (quick_hash, size) IN (SELECT quick_hash, size FROM images WHERE {LIVE} "
            f"AND quick_hash IS NOT NULL GROUP BY quick_hash, size HAVING count(*) > 1) ORDER BY id"
        ).fetchall()

    def set_full_hashes(self, hashes: Iterable[tuple[int, str]]) -> None:
        """Cache (image id, full-content hash) pairs; reset_image() clears them when a file changes."""
        with self.transaction() as tx:
            tx.executemany("UPDATE images SET full_hash = ? WHERE id = ?", [(h, i) for i, h in hashes])


def _when(stamp: float | None) -> datetime | None:
    if not stamp:
        return None
    with contextlib.suppress(OverflowError, OSError, ValueError):
        return datetime.fromtimestamp(stamp)
    return None


def image_info(row: Sequence) -> ImageInfo:
    """Row (id, path, root_id, size, width, height, exif_taken, mtime_ns, status, reason) -> ImageInfo."""
    image_id, path, root_id, size, width, height, exif_taken, mtime_ns, status, reason = row
    stamp = exif_taken if exif_taken is not None else (mtime_ns / 1e9 if mtime_ns else None)
    taken = None
    if stamp is not None:
        with contextlib.suppress(OverflowError, OSError, ValueError):
            taken = datetime.fromtimestamp(stamp)
    return ImageInfo(
        id=image_id,
        path=Path(path),
        root_id=root_id,
        size=size,
        width=width,
        height=height,
        taken=taken,
        status=ImageStatus(status),
        reason=reason,
    )
