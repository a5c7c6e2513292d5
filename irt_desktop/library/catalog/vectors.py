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


# vector_state's checksum: the kind tag, then two mixes of (image_id, seq) summed over the live vectors.
# A mix is a linear start, then multiply-and-add rounds each modulo a different prime below 2^31: one
# linear map would let sums over different sets cancel (ids 1 + 4 and 2 + 3 of one batch); reductions
# by coprime moduli in turn do not keep such relations. Every product stays below 2^62 (SQLite turns
# an overflowing integer product into a float). The same arithmetic in Python: tests/test_scale_paths.py.
STATE_KIND = "mix2"
# Per mix: (id factor, seq factor, addend, prime) for the start, then (factor, addend, prime) per round.
STATE_MIXES = (
    ((1000003, 7919, 12345, 2147483647), ((1597334677, 3, 2147483629), (1664525, 1013904223, 2147483549))),
    ((9973, 1000033, 777, 2147483587), ((1103515245, 12345, 2147483563), (214013, 2531011, 2147483543))),
)


def _mix_sql(start: tuple[int, int, int, int], rounds: tuple[tuple[int, int, int], ...]) -> str:
    by_id, by_seq, add, prime = start
    x = f"(v.image_id * {by_id} + v.seq * {by_seq} + {add}) % {prime}"
    for mult, add, prime in rounds:
        x = f"(({x}) * {mult} + {add}) % {prime}"
    return x


STATE_SQL = (
    f"SELECT count(*), coalesce(sum({_mix_sql(*STATE_MIXES[0])}), 0), "
    f"coalesce(sum({_mix_sql(*STATE_MIXES[1])}), 0), coalesce(max(v.seq), 0) {LIVE_JOIN}"
)


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

        Computed inside SQLite in one pass, no Python object per vector: at 10^6 vectors the digest of
        every (id, seq) pair took 2-4 s ahead of the first search (and the GIL from everything else).
        The checksum is two sums of independent 31-bit mixes of (image_id, seq) and the largest seq.
        `seq` is a fresh generation at every write, so a vector written, removed or made live again
        moves the sums; two different live sets that agree on the count and both sums are a ~2^-62
        coincidence, and one would cost a stale cache (deleting vectors/*.faiss rebuilds it), never a
        photo."""
        row = self.conn.execute(STATE_SQL, (model_id,)).fetchone()
        return int(row[0]), f"{STATE_KIND}:{int(row[1]):x}:{int(row[2]):x}:{int(row[3]):x}"

    def legacy_vector_state(self, model_id: str) -> tuple[int, str]:
        """The state as FAISS files saved before the aggregate one carry it: blake2b of every live
        (image_id, seq) pair in id order, as one int64 array. Read once per such file, which is then
        saved again with vector_state (a rebuild at 10^6 would cost minutes of IVF training)."""
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
