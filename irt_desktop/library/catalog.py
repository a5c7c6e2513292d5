"""The catalog: one SQLite file (WAL), the source of truth for roots, images, models and vectors.

Each thread gets its own connection (SQLite connections must not be shared across threads mid-
transaction); writes go through `transaction()`, which takes the write lock up front (BEGIN IMMEDIATE)
so two writers never deadlock upgrading a read lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import sqlite_utils

from irt_desktop.library.records import Failure, ImageInfo
from irt_desktop.library.schema import migrate

CATALOG_FILE = "catalog.sqlite"
# Live = present on disk as far as we know (or under an offline root); 'deleted' rows are kept a while
# so that a file moved out and back in (or between roots across two scans) keeps its vectors.
LIVE = "status != 'deleted'"
BUSY_TIMEOUT_MS = 30_000
# SQLite's default limit on host parameters is 32766 on 3.32+; stay far below it.
CHUNK = 900


class Catalog:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        conn = self.conn
        sqlite_utils.Database(conn).enable_wal()
        migrate(conn)

    # -- connections ---------------------------------------------------------------------------------

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise RuntimeError("the catalog is closed")
            # check_same_thread=False only so close() can close every thread's connection at the end.
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            # Safe in WAL mode: a power cut can lose the last commits but never corrupts the file.
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @property
    def db(self) -> sqlite_utils.Database:
        return sqlite_utils.Database(self.conn)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.conn
        if conn.in_transaction:  # nested use joins the outer transaction
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        self._closed = True
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    def scalar(self, sql: str, params: Sequence | dict = ()) -> object:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    # -- settings and models -------------------------------------------------------------------------

    def setting(self, key: str, default: str | None = None) -> str | None:
        value = self.scalar("SELECT value FROM settings WHERE key = ?", (key,))
        return default if value is None else str(value)

    def set_setting(self, key: str, value: str | None) -> None:
        with self.transaction() as conn:
            if value is None:
                conn.execute("DELETE FROM settings WHERE key = ?", (key,))
            else:
                conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)", (key, value))

    def register_model(self, model_id: str, name: str, dim: int, path: Path | None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO models(id, name, dim, path, added_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET path = excluded.path",
                (model_id, name, dim, None if path is None else str(path), time.time()),
            )

    def model_dim(self, model_id: str) -> int | None:
        value = self.scalar("SELECT dim FROM models WHERE id = ?", (model_id,))
        return None if value is None else int(value)

    # -- images --------------------------------------------------------------------------------------

    def image_infos(self, ids: Sequence[int]) -> dict[int, ImageInfo]:
        out: dict[int, ImageInfo] = {}
        for chunk in _chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT id, path, root_id, size, width, height, exif_taken, mtime_ns, status, reason "
                f"FROM images WHERE id IN ({marks})",
                chunk,
            )
            for row in rows:
                out[row[0]] = image_info(row)
        return out

    def image_id_for_path(self, path: str) -> int | None:
        value = self.scalar(f"SELECT id FROM images WHERE path = ? AND {LIVE}", (path,))
        return None if value is None else int(value)

    def failures(self) -> list[Failure]:
        rows = self.conn.execute(
            "SELECT id, path, reason FROM images WHERE status = 'failed' ORDER BY path"
        ).fetchall()
        return [Failure(r[0], Path(r[1]), r[2] or "unknown error") for r in rows]

    def pending_for(self, model_id: str) -> list[tuple[int, str]]:
        """(id, path) of live, readable images that have no vector from `model_id` yet, oldest first."""
        return self.conn.execute(
            "SELECT id, path FROM images i WHERE status IN ('pending', 'ok') AND NOT EXISTS "
            "(SELECT 1 FROM vectors v WHERE v.model_id = ? AND v.image_id = i.id) ORDER BY id",
            (model_id,),
        ).fetchall()

    def count_pending(self, model_id: str | None) -> int:
        if model_id is None:
            return int(self.scalar("SELECT count(*) FROM images WHERE status IN ('pending', 'ok')") or 0)
        return int(
            self.scalar(
                "SELECT count(*) FROM images i WHERE status IN ('pending', 'ok') AND NOT EXISTS "
                "(SELECT 1 FROM vectors v WHERE v.model_id = ? AND v.image_id = i.id)",
                (model_id,),
            )
            or 0
        )

    # -- vectors -------------------------------------------------------------------------------------

    def next_seq(self, conn: sqlite3.Connection) -> int:
        """A new write generation for vectors; call inside the transaction that writes them."""
        row = conn.execute(
            "INSERT INTO settings(key, value) VALUES ('vector_seq', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING value"
        ).fetchone()
        return int(row[0])

    def put_vectors(
        self, conn: sqlite3.Connection, model_id: str, ids: Sequence[int], vectors: np.ndarray, seq: int
    ) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        conn.executemany(
            "INSERT OR REPLACE INTO vectors(model_id, image_id, seq, vector) VALUES (?, ?, ?, ?)",
            [(model_id, int(i), seq, v.tobytes()) for i, v in zip(ids, vectors, strict=True)],
        )

    def live_vectors(self, model_id: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids int64, vectors float32 n x dim) of every live image that has a vector from `model_id`."""
        rows = self.conn.execute(
            f"SELECT v.image_id, v.vector FROM vectors v JOIN images i ON i.id = v.image_id "
            f"WHERE v.model_id = ? AND i.{LIVE} ORDER BY v.image_id",
            (model_id,),
        )
        ids: list[int] = []
        blobs: list[bytes] = []
        for image_id, blob in rows:
            ids.append(image_id)
            blobs.append(blob)
        if not ids:
            return np.zeros(0, np.int64), np.zeros((0, dim), np.float32)
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), dim)
        return np.asarray(ids, np.int64), matrix

    def vectors_for(self, model_id: str, ids: Sequence[int]) -> dict[int, np.ndarray]:
        out = {}
        for chunk in _chunks(list(ids)):
            marks = ",".join("?" * len(chunk))
            for image_id, blob in self.conn.execute(
                f"SELECT image_id, vector FROM vectors WHERE model_id = ? AND image_id IN ({marks})",
                [model_id, *chunk],
            ):
                out[image_id] = np.frombuffer(blob, dtype=np.float32)
        return out

    def vector_state(self, model_id: str) -> tuple[int, str]:
        """(count, checksum) of the live vectors of `model_id`: what a saved FAISS file must match."""
        rows = self.conn.execute(
            f"SELECT v.image_id, v.seq FROM vectors v JOIN images i ON i.id = v.image_id "
            f"WHERE v.model_id = ? AND i.{LIVE} ORDER BY v.image_id",
            (model_id,),
        ).fetchall()
        pairs = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
        return len(pairs), hashlib.blake2b(pairs.tobytes(), digest_size=16).hexdigest()

    def count_vectors(self, model_id: str) -> int:
        return int(
            self.scalar(
                f"SELECT count(*) FROM vectors v JOIN images i ON i.id = v.image_id "
                f"WHERE v.model_id = ? AND i.{LIVE}",
                (model_id,),
            )
            or 0
        )

    def drop_model_vectors(self, model_id: str) -> None:
        # In slices, so a 1M-row delete does not hold the write lock for long.
        while True:
            with self.transaction() as conn:
                n = conn.execute(
                    "DELETE FROM vectors WHERE model_id = ? AND image_id IN "
                    "(SELECT image_id FROM vectors WHERE model_id = ? LIMIT 5000)",
                    (model_id, model_id),
                ).rowcount
            if n == 0:
                return

    def model_ids_with_vectors(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT model_id FROM vectors")]


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
        status=status,
        reason=reason,
    )


def _chunks(items: list, n: int = CHUNK) -> Iterable[list]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
