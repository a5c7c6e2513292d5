"""Catalog: decode attempts. A marker per file being decoded (so a file that kills the process is known
on the next run), the attempts that did not finish, and transient failures due for another try."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable

from irt_desktop.library.catalog.base import BUSY_TIMEOUT_MS, READABLE, CatalogBase, Tx, chunks, marks
from irt_desktop.library.records import FailureKind, ImageStatus


class DecodeMarks:
    """Markers written from the decode threads, on one connection of its own (decode threads come and go
    with each run; a connection per thread would outlive them). Each write commits at once: the marker
    must be on disk before the decode it announces starts."""

    def __init__(self, path: str, pid: int) -> None:
        self._pid = pid
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.execute("PRAGMA synchronous = NORMAL")

    def begin(self, image_id: int, at: float, *, alone: bool) -> None:
        """`image_id` is about to be decoded; `alone`: no other decode runs meanwhile."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO decoding(image_id, pid, alone, started_at) VALUES (?, ?, ?, ?)",
                (image_id, self._pid, int(alone), at),
            )

    def now_alone(self, image_id: int) -> None:
        """The rest of this decode runs with no other beside it."""
        with self._lock:
            self._conn.execute("UPDATE decoding SET alone = 1 WHERE image_id = ?", (image_id,))

    def end(self, image_id: int) -> None:
        """The decode finished (well or not); its result commits with the batch."""
        with self._lock:
            self._conn.execute("DELETE FROM decoding WHERE image_id = ?", (image_id,))

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._conn.close()


class AttemptsMixin(CatalogBase):
    def decode_marks(self, pid: int) -> DecodeMarks:
        """A marker writer for one embedding run of process `pid`; close() it at the end of the run."""
        return DecodeMarks(str(self.path), pid)

    def unfinished_decodes(self) -> list[tuple[int, int, bool]]:
        """(image id, pid, alone) of the markers left: decodes that began and never ended."""
        rows = self.conn.execute("SELECT image_id, pid, alone FROM decoding ORDER BY image_id").fetchall()
        return [(r[0], r[1], bool(r[2])) for r in rows]

    def settle_unfinished(
        self, tx: Tx, crashed: Iterable[int], suspects: Iterable[int], reason: str, at: float
    ) -> None:
        """Markers left by a process that died. `crashed` were decoded alone when it died: failed for
        good (until the file changes). `suspects` were among several decodes: each counts one unfinished
        attempt, so the next one runs alone."""
        crashed, suspects = list(crashed), list(suspects)
        tx.executemany(
            "UPDATE images SET status = ?, reason = ?, failure_kind = ?, attempts = attempts + 1, "
            f"retry_at = NULL, unfinished = unfinished + 1, updated_at = ? WHERE id = ? AND {READABLE}",
            [(ImageStatus.FAILED.value, reason, FailureKind.PERMANENT.value, at, i) for i in crashed],
        )
        tx.executemany(
            "UPDATE images SET unfinished = unfinished + 1 WHERE id = ?", [(i,) for i in suspects]
        )
        tx.executemany("DELETE FROM decoding WHERE image_id = ?", [(i,) for i in crashed + suspects])

    def suspect_ids(self) -> set[int]:
        """Readable images whose last decode did not finish: their next one runs alone."""
        rows = self.conn.execute(f"SELECT id FROM images WHERE unfinished > 0 AND {READABLE}")
        return {r[0] for r in rows}

    # -- transient failures ---------------------------------------------------------------------------

    def failed_attempts(self, image_ids: Iterable[int]) -> dict[int, int]:
        """image id -> failed attempts so far (since the file last changed), to space out the next."""
        out: dict[int, int] = {}
        for chunk in chunks(sorted(set(image_ids))):
            rows = self.conn.execute(
                f"SELECT id, attempts FROM images WHERE id IN ({marks(len(chunk))})", chunk
            )
            out.update((r[0], r[1]) for r in rows)
        return out

    def retry_failed(self, tx: Tx, image_ids: Iterable[int], at: float) -> None:
        """Transient failures whose wait is over: pending again (their attempts are still counted)."""
        tx.executemany(
            "UPDATE images SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
            [(ImageStatus.PENDING.value, at, i, ImageStatus.FAILED.value) for i in image_ids],
        )
