"""The catalog's connections and transactions, which every part of the Catalog builds on.

Each thread gets its own connection (SQLite connections must not be shared across threads mid-
transaction); writes go through `transaction()`, which takes the write lock up front (BEGIN IMMEDIATE)
so two writers never deadlock upgrading a read lock. Reads that must see one state across several
statements go through `snapshot()`.

Methods whose first parameter is `tx` write inside the caller's transaction: `tx` is the connection
that `transaction()` (or the library's mutation, which wraps it) yielded on the calling thread. They
never commit, so the caller decides what else belongs to the same all-or-nothing unit.

Opening checks the file before anything is written (catalog/health.py): an empty, foreign or damaged
file raises CatalogDamaged instead of becoming a new empty catalog; `full_check` adds PRAGMA quick_check
(the library asks for it after an unclean shutdown). A `read_only` catalog (search, status, duplicates
beside a running indexer) never migrates or switches journal modes on its own, waits at most
READ_BUSY_TIMEOUT_MS, and writes (the caches a reader may keep: full-content hashes, a model's bundle
path) only while it can take the library's writer lock without waiting: `transaction()` raises
LibraryBusy otherwise, which such callers skip on. In a folder it cannot write (a read-only mount) it
reads through `mode=ro` / `immutable=1` connections. Known sqlite3 errors (disk full, read-only, damaged)
leave `transaction()` as LibraryErrors that say so.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from irt_desktop.library.catalog.health import (
    backup,
    check_header,
    check_schema,
    connect_read_only,
    quick_check,
    translated,
)
from irt_desktop.library.errors import CatalogDamaged, LibraryBusy, StorageError
from irt_desktop.library.lock import WriterLock, busy_message
from irt_desktop.library.records import ImageStatus
from irt_desktop.library.schema import SCHEMA_VERSION, migrate


def _import_sqlite_utils():
    """sqlite_utils without pandas. It imports pandas (and pyarrow) at import time when installed, only
    to map DataFrame dtypes on insert, which the catalog never does; that import was 0.26 s of the
    ~1 s between the window showing and the first search result. A later `import pandas` elsewhere is
    unaffected: the name is blocked only while sqlite_utils loads."""
    if "sqlite_utils" in sys.modules or "pandas" in sys.modules:
        import sqlite_utils

        return sqlite_utils
    sys.modules["pandas"] = None  # type: ignore[assignment]  # makes `import pandas` raise ImportError
    try:
        import sqlite_utils
    finally:
        del sys.modules["pandas"]
    return sqlite_utils


sqlite_utils = _import_sqlite_utils()

CATALOG_FILE = "catalog.sqlite"
BUSY_TIMEOUT_MS = 30_000
# A reader waits this long at most (in WAL mode reads do not wait for writers at all, only for the
# moment a crashed writer's log is recovered).
READ_BUSY_TIMEOUT_MS = 2_000
# New catalogs' page size. A vector row (384 float32 = 1.5 KB) is larger than SQLite keeps in a 4 KB
# page of a WITHOUT ROWID table (~1 KB), so on 4 KB pages each one spilled into an overflow page of its
# own: 4.7 KB per vector, a 5 GB catalog at 10^6 photos, and every scan of the table 3x the reads. At
# 16 KB rows of up to ~4 KB (768-d vectors) stay in the page: ~1.8 KB per 384-d vector. Existing
# catalogs keep their page size (changing it needs a VACUUM out of WAL mode).
PAGE_SIZE = 16384
# SQLite's default limit on host parameters is 32766 on 3.32+; stay far below it.
CHUNK = 900

# Live = present on disk as far as we know (or under an offline root); 'deleted' rows are kept a while
# so that a file moved out and back in (or between roots across two scans) keeps its vectors.
LIVE = f"status != '{ImageStatus.DELETED}'"
# Rows the model can (still) be asked to embed.
READABLE = f"status IN ('{ImageStatus.PENDING}', '{ImageStatus.OK}')"

# For `images i`: no vector from the model given as the next parameter. The probe goes through the
# narrow image index: the planner would take the primary key, whose pages also hold the vector BLOBs
# (~8 rows a page), and at 10^6 images that made every pending count ~10x slower.
NO_VECTOR = (
    "NOT EXISTS (SELECT 1 FROM vectors v INDEXED BY vectors_image WHERE v.image_id = i.id AND v.model_id = ?)"
)

# The connection a transaction runs on, as handed to `tx` parameters.
Tx = sqlite3.Connection


class CatalogBase:
    def __init__(
        self,
        path: Path,
        *,
        read_only: bool = False,
        writer_lock: WriterLock | None = None,
        full_check: bool = False,
    ) -> None:
        """`writer_lock`: the library's; a `read_only` catalog writes only while it can take it."""
        self.path = Path(path)
        self.read_only = read_only
        self._writer_lock = writer_lock
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        # Write transactions that changed rows, committed through this object (the library backs up a
        # catalog that changed).
        self.commits = 0
        folder_writable = os.access(self.path.parent, os.W_OK)
        self._no_write_access = read_only and not (
            folder_writable and (not self.path.exists() or os.access(self.path, os.W_OK))
        )
        self._busy_ms = READ_BUSY_TIMEOUT_MS if read_only else BUSY_TIMEOUT_MS
        new_file = not self.path.exists()
        check_header(self.path)
        try:
            with translated(self.path):
                conn = self.conn
                version = check_schema(conn, self.path)
                if not read_only:
                    if new_file:
                        # Before anything is written (WAL mode fixes the page size for good).
                        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
                    sqlite_utils.Database(conn).enable_wal()
                    migrate(conn)
                elif version < SCHEMA_VERSION:
                    self._upgrade(conn, version)
                if full_check:
                    problem = quick_check(conn)
                    if problem is not None:
                        raise CatalogDamaged(
                            f"{self.path} is damaged (quick_check: {problem}): run `irt-desktop repair`"
                        )
        except BaseException:
            self.close()
            raise

    def _upgrade(self, conn: sqlite3.Connection, version: int) -> None:
        """A reader found an older schema: migrated only if no writer is at work (and nothing is
        written otherwise; a reader must not wait)."""
        with self._may_write() as ok:
            if not ok:
                raise LibraryBusy(
                    f"the catalog (schema {version}) must be upgraded to schema {SCHEMA_VERSION} by "
                    f"`irt-desktop index` first; {self._busy_text()}"
                )
            migrate(conn)

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (autocommit outside `transaction()`/`snapshot()`)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise RuntimeError("the catalog is closed")
            # check_same_thread=False only so close() can close every thread's connection at the end.
            if self._no_write_access:
                conn = connect_read_only(self.path, self._busy_ms / 1000)
            else:
                conn = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False, timeout=self._busy_ms / 1000
                )
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            conn.execute("PRAGMA foreign_keys = ON")
            # Safe in WAL mode: a power cut can lose the last commits but never corrupts the file.
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def transaction(self, bookkeeping: bool = False) -> Iterator[Tx]:
        """A write transaction on this thread's connection; nested use joins the outer one. Read-only:
        LibraryBusy unless the writer lock is free (see the module docstring). `bookkeeping`: what it
        writes a scan rebuilds anyway (when a root was walked, the file systems and skipped names it
        saw), so it does not count as a change the catalog must be backed up for."""
        conn = self.conn
        if conn.in_transaction:
            yield conn
            return
        with self._may_write() as ok:
            if not ok:
                raise LibraryBusy(f"not writing the catalog: {self._busy_text()}")
            with translated(self.path):
                conn.execute("BEGIN IMMEDIATE")
                before = conn.total_changes
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:  # SQLite may have rolled back already (disk full)
                        with contextlib.suppress(sqlite3.Error):
                            conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            # Only a commit that changed rows counts: a rescan that found nothing new is no reason to
            # back up a catalog of gigabytes.
            if conn.total_changes != before and not bookkeeping:
                self.commits += 1

    @contextlib.contextmanager
    def _may_write(self) -> Iterator[bool]:
        if self._no_write_access:
            folder = self.path.parent
            raise StorageError(f"cannot write to the library folder {folder}: the folder is read-only")
        if not self.read_only or self._writer_lock is None:
            yield True
            return
        with self._writer_lock.if_free() as free:
            yield free

    def _busy_text(self) -> str:
        holder = self._writer_lock.holder() if self._writer_lock is not None else None
        return busy_message(holder)

    def backup_to(self, target: Path) -> None:
        """A consistent copy of the catalog in `target` (SQLite's online backup; writers go on)."""
        with translated(self.path):
            backup(self.conn, target)

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
