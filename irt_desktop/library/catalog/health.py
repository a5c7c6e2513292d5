"""Catalog file checks and copies, the SQLite side of library/health.py.

- `check_header`: the cheap check every open makes before SQLite sees the file: not empty, SQLite's magic.
  A 0-byte or foreign catalog.sqlite must be refused, never turned into a new empty library.
- `check_schema`: the tables an irt-desktop catalog has, and a schema version this build understands.
- `quick_check`: PRAGMA quick_check, which reads the whole file: after an unclean shutdown and in repair.
- `verify`: all three on a file (a backup before it is restored), read-only.
- `backup`: a consistent copy through SQLite's online backup API, while writers go on.
- `page_facts`, `compacted_copy`, `table_counts`, `settle_wal`: what `repair --compact` reads and writes
  (library/compact.py).
- `translate`: the sqlite3 errors a user can meet (disk full, read-only, damaged, busy) as LibraryErrors.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from irt_desktop.library.errors import CatalogDamaged, LibraryBusy, LibraryError, StorageError
from irt_desktop.library.schema import SCHEMA_VERSION, schema_version

SQLITE_MAGIC = b"SQLite format 3\x00"
# The tables the first migration creates; a file at version >= 1 without them is not our catalog.
EXPECTED_TABLES = frozenset({"settings", "models", "roots", "images", "vectors"})
REPAIR_HINT = "run `irt-desktop repair`"
# An I/O error on a filesystem with less room than this is reported as a full disk.
FULL_BELOW_BYTES = 1 << 20


def check_header(path: Path) -> None:
    """Raise CatalogDamaged unless `path` starts like an SQLite database (a missing file passes)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not head:
        raise CatalogDamaged(f"{path} is empty (0 bytes), not a catalog: {REPAIR_HINT}")
    if head != SQLITE_MAGIC:
        raise CatalogDamaged(f"{path} is not an SQLite database (damaged or a foreign file): {REPAIR_HINT}")


def check_schema(conn: sqlite3.Connection, path: Path) -> int:
    """The file's schema version, after checking it holds an irt-desktop catalog."""
    version = schema_version(conn)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if version == 0:
        if tables:
            raise CatalogDamaged(
                f"{path} is an SQLite database but not an irt-desktop catalog (tables: "
                f"{', '.join(sorted(tables)[:5])}); use another --library folder"
            )
        return 0
    missing = EXPECTED_TABLES - tables
    if missing:
        raise CatalogDamaged(f"{path} lacks the tables {', '.join(sorted(missing))}: {REPAIR_HINT}")
    return version


def quick_check(conn: sqlite3.Connection) -> str | None:
    """None if PRAGMA quick_check finds nothing wrong, else its first complaint."""
    rows = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
    return None if rows == ["ok"] else "; ".join(str(r) for r in rows)[:300]


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[sqlite3.Connection]:
    """A `mode=ro` connection to a catalog file, closed after: the file checks read through it."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        yield conn
    finally:
        conn.close()


def verify(path: Path) -> str | None:
    """None if `path` is a sound catalog this build can open (read-only, nothing written), else why not."""
    try:
        check_header(path)
        if not path.is_file():
            return "missing"
        with _reading(path) as conn:
            version = check_schema(conn, path)
            if version == 0 or version > SCHEMA_VERSION:
                return f"schema version {version} (this irt-desktop reads 1 to {SCHEMA_VERSION})"
            return quick_check(conn)
    except LibraryError as exc:
        return str(exc)
    except sqlite3.Error as exc:
        return str(exc) or type(exc).__name__


def backup(source: sqlite3.Connection, target: Path) -> None:
    """Copy the catalog that `source` is connected to into `target` (a new file), consistent as of one
    moment: one pass inside one read transaction, which in WAL mode blocks no writer (stepping instead
    would sleep between steps and restart whenever a write lands). The copy is left in rollback
    journal mode so that it is one self-contained file."""
    dest = sqlite3.connect(target)
    try:
        source.backup(dest, pages=-1)
        dest.execute("PRAGMA journal_mode = DELETE")
    finally:
        dest.close()


@dataclass(frozen=True)
class PageFacts:
    page_size: int
    page_count: int
    freelist_count: int


def page_facts(path: Path) -> PageFacts:
    with _reading(path) as conn:
        (size,), (count,), (free,) = (conn.execute(f"PRAGMA {p}").fetchone() for p in _PAGE_PRAGMAS)
        return PageFacts(size, count, free)


_PAGE_PRAGMAS = ("page_size", "page_count", "freelist_count")


def compacted_copy(path: Path, target: Path, page_size: int) -> None:
    """The catalog rewritten into `target` (a new file) on pages of `page_size`, without free pages:
    VACUUM INTO, which reads one consistent state and leaves `target` one self-contained file."""
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"PRAGMA page_size = {int(page_size)}")  # the page size VACUUM INTO writes
        conn.execute("VACUUM INTO ?", (str(target),))
    finally:
        conn.close()


def table_counts(path: Path) -> dict[str, int]:
    """Rows of every table: a compacted copy must hold exactly what the catalog held."""
    with _reading(path) as conn:
        tables = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        names = [r[0] for r in conn.execute(tables)]
        return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


def settle_wal(path: Path) -> bool:
    """Checkpoint the write-ahead log into the catalog and let it go; False if a reader elsewhere still
    holds it (the catalog file alone is then not the whole catalog)."""
    conn = sqlite3.connect(path)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.close()
    wal = Path(f"{path}-wal")
    return not busy and (not wal.exists() or wal.stat().st_size == 0)


def connect_read_only(path: Path, timeout_s: float) -> sqlite3.Connection:
    """A connection that never writes: `mode=ro`, or `immutable=1` where the folder cannot even hold
    SQLite's shared-memory file (a read-only mount or folder)."""
    uri = path.resolve().as_uri()
    can_share = os.access(path.parent, os.W_OK) or Path(f"{path}-shm").exists()
    params = "mode=ro" if can_share else "immutable=1"
    return sqlite3.connect(
        f"{uri}?{params}", uri=True, timeout=timeout_s, isolation_level=None, check_same_thread=False
    )


def translate(exc: BaseException, path: Path | None = None) -> LibraryError | None:
    """The LibraryError a user should see for an sqlite3 error, or None if it is not one we know."""
    if not isinstance(exc, sqlite3.Error):
        return None
    name = getattr(exc, "sqlite_errorname", "") or ""
    where = f" ({path})" if path is not None else ""
    text = str(exc) or name
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        return StorageError(f"the disk is full: cannot write the catalog{where}")
    if name.startswith("SQLITE_READONLY") or "readonly database" in text:
        return StorageError(f"the library is read-only: cannot write the catalog{where}")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in text:
        return LibraryBusy(f"the catalog is busy (another process is writing it){where}")
    damaged = "malformed" in text or "not a database" in text
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or damaged:
        return CatalogDamaged(f"the catalog is damaged ({text}){where}: {REPAIR_HINT}")
    if name.startswith("SQLITE_IOERR") or "disk I/O error" in text:
        if path is not None and _nearly_full(path):  # SQLite says IOERR when the -shm cannot grow
            return StorageError(f"the disk is full: cannot write the catalog{where}")
        return StorageError(f"I/O error on the catalog{where}: {text}")
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_PERM")) or "unable to open" in text:
        return StorageError(f"cannot open the catalog{where}: {text}")
    return None


def _nearly_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path.parent).free < FULL_BELOW_BYTES
    except OSError:
        return False


@contextlib.contextmanager
def translated(path: Path | None = None):
    """Re-raise known sqlite3 errors as LibraryErrors (the original stays as __cause__)."""
    try:
        yield
    except sqlite3.Error as exc:
        error = translate(exc, path)
        if error is None:
            raise
        raise error from exc
