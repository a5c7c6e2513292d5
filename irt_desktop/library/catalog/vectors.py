"""Catalog: descriptor vectors (BLOBs of float32, one per image and model) and their write generations."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from irt_desktop.library.catalog.base import LIVE, NO_VECTOR, CatalogBase, Tx, chunks, marks
from irt_desktop.library.records import ImageStatus

# Rows per slice when the state of a model's vectors is hashed.
STATE_SLICE = 50_000
# The vectors of one model (the parameter) that belong to live images.
LIVE_JOIN = f"FROM vectors v JOIN images i ON i.id = v.image_id WHERE v.model_id = ? AND i.{LIVE}"


class VectorsMixin(CatalogBase):
    def next_seq(self, tx: Tx) -> int:
        """A new write generation for vectors, to stamp the vectors `tx` writes."""
        row = tx.execute(
            "INSERT INTO settings(key, value) VALUES ('vector_seq', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING value"
        ).fetchone()
        return int(row[0])

    def put_vectors(self, tx: Tx, model_id: str, ids: Sequence[int], vectors: np.ndarray, seq: int) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        tx.executemany(
            "INSERT OR REPLACE INTO vectors(model_id, image_id, seq, vector) VALUES (?, ?, ?, ?)",
            [(model_id, int(i), seq, v.tobytes()) for i, v in zip(ids, vectors, strict=True)],
        )

    def copy_vectors(self, tx: Tx, source_id: int, target_id: int) -> None:
        """Give `target_id` every model's vector of `source_id` (a byte-identical file)."""
        tx.execute(
            "INSERT INTO vectors(model_id, image_id, seq, vector) SELECT model_id, ?, ?, vector FROM vectors "
            "WHERE image_id = ?",
            (target_id, self.next_seq(tx), source_id),
        )

    def has_vectors(self, tx: Tx, image_id: int) -> bool:
        return (
            tx.execute("SELECT 1 FROM vectors WHERE image_id = ? LIMIT 1", (image_id,)).fetchone() is not None
        )

    def live_vectors(self, model_id: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids int64, vectors float32 n x dim) of every live image that has a vector from `model_id`.

        Filled row by row into one array sized by a count taken in the same snapshot: at 10^6 vectors
        the BLOBs are never all held as Python bytes beside the matrix made from them (that was 2x)."""
        with self.snapshot():
            n = self.count_vectors(model_id)
            ids = np.empty(n, np.int64)
            matrix = np.empty((n, dim), np.float32)
            rows = self.conn.execute(
                f"SELECT v.image_id, v.vector {LIVE_JOIN} ORDER BY v.image_id", (model_id,)
            )
            got = 0
            for got, (image_id, blob) in enumerate(rows, start=1):
                ids[got - 1] = image_id
                matrix[got - 1] = np.frombuffer(blob, dtype=np.float32)
        return ids[:got], matrix[:got]

    def vectors_for(self, model_id: str, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """image id -> its vector from `model_id`, for those of `ids` that have one (live or not)."""
        out = {}
        for chunk in chunks(list(ids)):
            for image_id, blob in self.conn.execute(
                "SELECT image_id, vector FROM vectors "
                f"WHERE model_id = ? AND image_id IN ({marks(len(chunk))})",
                [model_id, *chunk],
            ):
                out[image_id] = np.frombuffer(blob, dtype=np.float32)
        return out

    def vector_state(self, model_id: str) -> tuple[int, str]:
        """(count, checksum) of the live vectors of `model_id`: what a saved FAISS file must match.

        Hashed in slices (the digest is that of all (id, seq) pairs as one int64 array): at 10^6 rows
        no list of a million tuples is built."""
        digest = hashlib.blake2b(digest_size=16)
        count = 0
        cur = self.conn.execute(f"SELECT v.image_id, v.seq {LIVE_JOIN} ORDER BY v.image_id", (model_id,))
        while rows := cur.fetchmany(STATE_SLICE):
            digest.update(np.asarray(rows, dtype=np.int64).reshape(-1, 2).tobytes())
            count += len(rows)
        return count, digest.hexdigest()

    def count_vectors(self, model_id: str) -> int:
        """Live images with a vector from `model_id`: all of the model's vectors (counted in the narrow
        vectors_state index, not the table whose pages hold the BLOBs), less those of soft-deleted rows
        (few: probed through the (root, status) index). At 10^6 vectors the join of every vector with
        its image row was most of `status`."""
        with self.snapshot():
            total = self.scalar("SELECT count(*) FROM vectors WHERE model_id = ?", (model_id,))
            deleted = self.vectors_of_images_with_status(model_id, (ImageStatus.DELETED,))
        return int(total or 0) - deleted

    def vectors_of_images_with_status(self, model_id: str, statuses: Sequence[ImageStatus]) -> int:
        """How many images with one of `statuses` have a vector from `model_id` (for the rare statuses:
        each such image is probed)."""
        sql = (
            f"SELECT count(*) FROM images i WHERE i.root_id IN (SELECT id FROM roots) "
            f"AND i.status IN ({marks(len(statuses))}) AND NOT {NO_VECTOR}"
        )
        return int(self.scalar(sql, [*(str(s) for s in statuses), model_id]) or 0)

    def vector_counts(self) -> dict[str, int]:
        """model id -> how many live images have a vector from it (models without vectors are absent)."""
        rows = self.conn.execute(
            "SELECT v.model_id, count(*) FROM vectors v JOIN images i ON i.id = v.image_id "
            f"WHERE i.{LIVE} GROUP BY v.model_id"
        )
        return {str(model_id): int(n) for model_id, n in rows}

    def drop_model_vectors(self, model_id: str) -> None:
        # In slices, so a 1M-row delete does not hold the write lock for long.
        while True:
            with self.transaction() as tx:
                n = tx.execute(
                    "DELETE FROM vectors WHERE model_id = ? AND image_id IN "
                    "(SELECT image_id FROM vectors WHERE model_id = ? LIMIT 5000)",
                    (model_id, model_id),
                ).rowcount
            if n == 0:
                return

    def model_ids_with_vectors(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT model_id FROM vectors")]
