"""The catalog's connections and transactions, which every part of the Catalog builds on.

Each thread gets its own connection (SQLite connections must not be shared across threads mid-
transaction); writes go through `transaction()`, which takes the write lock up front (BEGIN IMMEDIATE)
so two writers never deadlock upgrading a read lock. Reads that must see one state across several
statements go through `snapshot()`.

Methods whose first parameter is `tx` write inside the caller's transaction: `tx` is the connection
that `transaction()` (or the library's mutation, which wraps it) yielded on the calling thread. They
never commit, so the caller decides what else belongs to the same all-or-nothing unit.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import sqlite_utils

from irt_desktop.library.records import ImageStatus
from irt_desktop.library.schema import migrate

CATALOG_FILE = "catalog.sqlite"
BUSY_TIMEOUT_MS = 30_000
# SQLite's default limit on host parameters is 32766 on 3.32+; stay far below it.
CHUNK = 900

# Live = present on disk as far as we know (or under an offline root); 'deleted' rows are kept a while
# so that a file moved out and back in (or between roots across two scans) keeps its vectors.
LIVE = f"status != '{ImageStatus.DELETED}'"
# Rows the model can (still) be asked to embed.
READABLE = f"status IN ('{ImageStatus.PENDING}', '{ImageStatus.OK}')"

# The connection a transaction runs on, as handed to `tx` parameters.
Tx = sqlite3.Connection


class CatalogBase:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        conn = self.conn
        sqlite_utils.Database(conn).enable_wal()
        migrate(conn)

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (autocommit outside `transaction()`/`snapshot()`)."""
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

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction on this thread's connection; nested use joins the outer one."""
        conn = self.conn
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read transaction: every read on this thread inside it sees the same committed state (WAL
        lets writers go on meanwhile). Inside a transaction already, it simply joins that one."""
        conn = self.conn
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            if conn.in_transaction:  # nothing was written: ending the read is all this does
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
        """The first column of the first row (None if no row): for ad-hoc checks and tests."""
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]


def chunks(items: list, n: int = CHUNK) -> Iterable[list]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def marks(n: int) -> str:
    return ",".join("?" * n)
