"""Catalog: what the bulk path reads and writes (library/bulk.py): the manifest of files a model still
has to embed, read in slices, and the rows that imported vectors are checked against.

The vectors themselves are committed with the same methods an indexing batch uses (next_seq,
mark_embedded, put_vectors), so an imported vector is indistinguishable from one embedded here."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from irt_desktop.library.catalog.base import NO_VECTOR, READABLE, CatalogBase, Tx, chunks, marks
from irt_desktop.library.records import ImageStatus

# Rows per slice of the manifest read: bounded memory at 10^6 rows, few round trips.
MANIFEST_SLICE = 20_000


@dataclass(frozen=True)
class ManifestRow:
    """A file a model has still to embed, as the catalog last saw it."""

    id: int
    path: str
    size: int
    mtime_ns: int
    quick_hash: str | None
    full_hash: str | None


@dataclass(frozen=True)
class ImportTarget:
    """The live row an imported vector is meant for, and whether `model_id` has a vector for it yet."""

    id: int
    size: int
    mtime_ns: int
    status: ImageStatus
    quick_hash: str | None
    full_hash: str | None
    has_vector: bool


class BulkMixin(CatalogBase):
    def manifest_slices(self, model_id: str | None, n: int = MANIFEST_SLICE) -> Iterator[list[ManifestRow]]:
        """The readable images `model_id` has no vector from yet (None: every readable image), in id
        order, `n` at a time (keyset paging: each slice is one short read, never all rows at once)."""
        last = 0
        while True:
            if model_id is None:
                rows = self.conn.execute(
                    "SELECT id, path, size, mtime_ns, quick_hash, full_hash FROM images "
                    f"WHERE {READABLE} AND id > ? ORDER BY id LIMIT ?",
                    (last, n),
                ).fetchall()
            else:
                rows = self.conn.execute(
                    "SELECT id, path, size, mtime_ns, quick_hash, full_hash FROM images i "
                    f"WHERE {READABLE} AND id > ? AND {NO_VECTOR} ORDER BY id LIMIT ?",
                    (last, model_id, n),
                ).fetchall()
            if not rows:
                return
            yield [ManifestRow(*r) for r in rows]
            last = rows[-1][0]

    def import_targets(self, model_id: str, paths: Sequence[str]) -> dict[str, ImportTarget]:
        """path -> its live, readable row (pending or embedded), for those of `paths` that have one."""
        out: dict[str, ImportTarget] = {}
        for chunk in chunks(list(paths)):
            rows = self.conn.execute(
                "SELECT i.path, i.id, i.size, i.mtime_ns, i.status, i.quick_hash, i.full_hash, "
                f"NOT {NO_VECTOR} "
                f"FROM images i WHERE i.path IN ({marks(len(chunk))}) AND i.{READABLE}",
                [model_id, *chunk],
            )
            for r in rows:
                out[r[0]] = ImportTarget(r[1], r[2], r[3], ImageStatus(r[4]), r[5], r[6], bool(r[7]))
        return out

    def cache_content_hashes(self, tx: Tx, hashes: Iterable[tuple[int, int, int, str, str]]) -> None:
        """Record (id, size, mtime_ns, quick hash, full hash) taken from files as catalogued: a row whose
        size or time changed meanwhile is left alone (its hashes would describe other bytes)."""
        tx.executemany(
            "UPDATE images SET quick_hash = ?, full_hash = ? WHERE id = ? AND size = ? AND mtime_ns = ?",
            [(q, f, i, s, m) for i, s, m, q, f in hashes],
        )
