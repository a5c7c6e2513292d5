"""The library folder's safety net: who may write it, whether the catalog is sound, the backups, the
crash leftovers, and `repair`. The SQLite side of it is in catalog/health.py.

Opening (`Storage`):
- A writer (index, the GUI, repair, models install/import) takes the writer lock (library/lock.py)
  first, then opens the catalog with its cheap checks (header, tables, schema version). `catalog.open`
  marks a writer at work; a writer that finds it left behind (a crash, kill -9, a power cut) adds
  PRAGMA quick_check, which reads the whole file, before trusting the catalog. A missing catalog.sqlite
  is created, except when the folder has backups: then the catalog was lost, and `repair` is the way.
  Temporary files a crashed writer left (vectors/.tmp-*, models/.bundle-*, models/.install-*,
  backups/.tmp-*) are removed by the process that has just taken the lock, and only those older than
  that moment whose writer (the pid in the name, see irt_desktop.fsutil) is gone.
- A reader (search, status, duplicates, models list) takes no lock and creates nothing: a folder without
  catalog.sqlite is "no library here" (NoLibrary), never a new empty one.

Backups: SQLite's online backup API copies the catalog into backups/catalog-<UTC time>.sqlite when it
changed since the last one, at most every BACKUP_INTERVAL_S: after an indexing run (the watcher's
included) and at a writer's clean close; a library without a backup gets one at its first clean close.
BACKUP_KEEP are kept. Why throttled at close too: at 10^6 photos the catalog is gigabytes, and a backup at
every close (each rescan records its time) kept three copies of it and held the window's exit for 13 s.
A backup that fails (disk full) is logged and never fails the close. The FAISS files are not backed up:
they are a cache rebuilt from the catalog.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from irt_desktop.fsutil import (
    make_shareable,
    os_reason,
    pid_alive,
    temp_name,
    temp_prefix,
    temp_writer_pid,
)
from irt_desktop.library.catalog import Catalog
from irt_desktop.library.catalog.health import verify
from irt_desktop.library.errors import CatalogDamaged, NoLibrary, StorageError
from irt_desktop.library.lock import Holder, WriterLock
from irt_desktop.paths import LibraryLayout

log = logging.getLogger(__name__)

BACKUP_KEEP = 3
BACKUP_INTERVAL_S = 3600.0
BACKUP_GLOB = "catalog-*.sqlite"
# (folder inside the library, temp kind): where atomic writers put their temporary files.
LEFTOVERS = (("vectors", "tmp"), ("models", "bundle"), ("models", "install"), ("backups", "tmp"), ("", "tmp"))
# Where a pid cannot be checked (Windows), a leftover this old is taken for a crash's.
LEFTOVER_MIN_AGE_S = 24 * 3600.0


def refuse_non_folder(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise NoLibrary(f"{root} is a file, not a library folder")


class Storage:
    """The library folder's lock, checked catalog, open marker and backups, for one Library."""

    def __init__(
        self,
        layout: LibraryLayout,
        *,
        read_only: bool = False,
        wait_s: float = 0.0,
        role: str = "",
        on_wait: Callable[[Holder | None], None] | None = None,
    ) -> None:
        self.layout = layout
        self.read_only = read_only
        self.lock = WriterLock(layout.root, role=role)
        self.backups = Backups(layout)
        self._backed_up_at_commit = 0
        self.catalog = self._open_reader() if read_only else self._open_writer(wait_s, on_wait)

    def _open_reader(self) -> Catalog:
        root = self.layout.root
        refuse_non_folder(root)
        if not self.layout.catalog.is_file():
            raise NoLibrary(
                f"no library at {root} (no catalog.sqlite there); `irt-desktop index FOLDER` creates one"
            )
        return Catalog(self.layout.catalog, read_only=True, writer_lock=self.lock)

    def _open_writer(self, wait_s: float, on_wait: Callable[[Holder | None], None] | None) -> Catalog:
        refuse_non_folder(self.layout.root)
        for folder in self.layout.folders():
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create the library folder {folder}: {os_reason(exc)}") from exc
        self.lock.acquire(wait_s, on_wait)
        try:
            marker = self.layout.open_marker
            if not self.layout.catalog.exists() and self.backups.list():
                raise CatalogDamaged(
                    f"{self.layout.catalog} is missing but the library has backups: run `irt-desktop repair` "
                    f"to restore the newest"
                )
            unclean = self.lock.first and marker.exists()
            if self.lock.first:
                since = self.lock.acquired_at or time.time()
                for path in remove_leftovers(self.layout, since):
                    log.info("removed %s, left by an interrupted writer", path)
            if unclean:
                log.warning("the last writer of %s did not close it: checking the catalog", self.layout.root)
            catalog = Catalog(self.layout.catalog, writer_lock=self.lock, full_check=unclean)
            try:
                marker.write_text(f"{os.getpid()}\n", encoding="ascii")
            except OSError as exc:
                catalog.close()
                raise StorageError(
                    f"cannot write to the library folder {self.layout.root}: {os_reason(exc)}"
                ) from exc
            return catalog
        except BaseException:
            self.lock.release()
            raise

    def after_run(self) -> None:
        """After an indexing run: a backup if the catalog changed and the last one is an hour old."""
        if self.read_only or self.catalog.commits == self._backed_up_at_commit:
            return
        if self.backups.due(BACKUP_INTERVAL_S):
            self._backup()

    def close(self, backup: bool = True) -> None:
        """Close the catalog; a writer first backs it up (if it changed and the last backup is an hour
        old, or it has none yet), then
        clears the open marker (when no other holder in this process has it open) and the lock."""
        if self.read_only:
            self.catalog.close()
            return
        try:
            changed = self.catalog.commits != self._backed_up_at_commit
            if backup and (not self.backups.list() or (changed and self.backups.due(BACKUP_INTERVAL_S))):
                self._backup()
        finally:
            self.catalog.close()
            if self.lock.held:
                if self.lock.sole_holder():
                    with contextlib.suppress(OSError):
                        self.layout.open_marker.unlink()
                self.lock.release()

    def _backup(self) -> None:
        commits = self.catalog.commits
        if self.backups.make(self.catalog) is not None:
            self._backed_up_at_commit = commits


class Backups:
    """backups/catalog-<UTC time>.sqlite, newest first."""

    def __init__(self, layout: LibraryLayout, keep: int = BACKUP_KEEP) -> None:
        self.folder = layout.backups
        self.keep = keep

    def list(self) -> list[Path]:
        try:
            found = [p for p in self.folder.glob(BACKUP_GLOB) if p.is_file()]
        except OSError:
            return []
        return sorted(found, key=_backup_order, reverse=True)

    def due(self, interval_s: float) -> bool:
        backups = self.list()
        if not backups:
            return True
        try:
            return time.time() - backups[0].stat().st_mtime >= interval_s
        except OSError:
            return True

    def make(self, catalog: Catalog) -> Path | None:
        """A new backup of `catalog` (the older ones beyond `keep` removed); None if it could not be made."""
        tmp: Path | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = temp_name(self.folder, "tmp", ".sqlite")  # the backup API makes its own file
            started = time.monotonic()
            catalog.backup_to(tmp)
            make_shareable(tmp)
            final = self.new_path()
            os.replace(tmp, final)
            tmp = None
            log.info("backed up the catalog to %s in %.2f s", final, time.monotonic() - started)
            self.prune()
            return final
        except Exception as exc:  # a backup must never fail the run or the close it follows
            log.warning("could not back up the catalog into %s: %s", self.folder, exc)
            return None
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    tmp.unlink()

    def prune(self) -> None:
        for old in self.list()[self.keep :]:
            with contextlib.suppress(OSError):
                old.unlink()

    def new_path(self) -> Path:
        """A name for a new backup, newer than every one there (made or moved in by the caller)."""
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        path = self.folder / f"catalog-{stamp}Z.sqlite"
        n = 1
        while path.exists():
            n += 1
            path = self.folder / f"catalog-{stamp}Z-{n}.sqlite"
        return path


def _backup_order(path: Path) -> tuple[str, int]:
    """catalog-<stamp>Z.sqlite, then catalog-<stamp>Z-2.sqlite… within one second: by name alone the
    second would sort before the first ('-' < '.')."""
    stamp, sep, n = path.stem.rpartition("Z-")
    if not sep or not n.isdigit():
        return path.stem.removesuffix("Z"), 1
    return stamp, int(n)


def remove_leftovers(layout: LibraryLayout, since: float) -> list[Path]:
    """Remove the temporary files of writers that are gone (see the module docstring); call only while
    holding the writer lock, taken at `since` (time.time())."""
    removed = []
    for sub, kind in LEFTOVERS:
        folder = layout.root / sub if sub else layout.root
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if not entry.name.startswith(f".{kind}-"):
                continue
            pid = temp_writer_pid(entry.name, kind)
            if pid == os.getpid():
                continue
            try:
                mtime = entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue
            if mtime >= since:
                continue  # made after this process took the lock: its writer may be at work
            if pid is not None and not _writer_gone(pid, mtime):
                continue
            path = Path(entry.path)
            try:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except OSError as exc:
                log.warning("could not remove the leftover %s: %s", path, exc)
                continue
            removed.append(path)
    return removed


def _writer_gone(pid: int, mtime: float) -> bool:
    if not pid_alive(pid):
        return True
    # Windows: no pid check (pid_alive says yes); a day-old temporary file is a crash's.
    return os.name != "posix" and time.time() - mtime >= LEFTOVER_MIN_AGE_S


@dataclass
class RepairReport:
    ok: bool
    lines: list[str] = field(default_factory=list)
    restored: Path | None = None
    kept_aside: Path | None = None


def repair(layout: LibraryLayout, *, start_empty: bool = False) -> RepairReport:
    """Restore the newest sound backup over a damaged or missing catalog; the damaged file is kept aside
    (renamed, never deleted). With no sound backup, `start_empty` starts a new catalog instead. The caller
    holds the writer lock. FAISS files are removed: they are rebuilt from the restored catalog."""
    catalog = layout.catalog
    problem = verify(catalog) if _catalog_files(catalog) else "missing"
    if problem is None:
        with contextlib.suppress(OSError):
            layout.open_marker.unlink()
        return RepairReport(True, [f"{catalog} is sound (quick_check ok): nothing to repair"])
    report = RepairReport(False, [f"{catalog} is damaged: {problem}" if problem != "missing" else
                                  f"{catalog} is missing"])
    chosen = None
    for candidate in Backups(layout).list():
        why = verify(candidate)
        if why is None:
            chosen = candidate
            break
        report.lines.append(f"backup {candidate.name} is not usable either: {why}")
    if chosen is None and not start_empty:
        report.lines.append(
            f"no sound backup in {layout.backups} to restore; `irt-desktop repair --start-empty` keeps "
            f"the damaged catalog aside and starts an empty one (folders must then be added again)"
        )
        return report
    if _catalog_files(catalog):
        report.kept_aside = _move_aside(catalog)
        report.lines.append(f"kept the damaged catalog as {report.kept_aside}")
    if chosen is not None:
        _copy_into_place(chosen, catalog)
        report.restored = chosen
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(chosen.stat().st_mtime))
        report.lines.append(f"restored the backup of {when} ({chosen})")
        report.lines.append(
            "photos added or changed since then are picked up by the next `irt-desktop index`; "
            "the vector index is rebuilt from the catalog"
        )
    else:
        report.lines.append(
            "started an empty catalog: add the folders again with `irt-desktop index FOLDER`"
        )
    for faiss_file in layout.vectors.glob("*.faiss"):
        with contextlib.suppress(OSError):
            faiss_file.unlink()
    Catalog(catalog, full_check=True).close()  # opens as a writer would: WAL mode, schema up to date
    with contextlib.suppress(OSError):
        layout.open_marker.unlink()
    report.ok = True
    return report


def _catalog_files(catalog: Path) -> list[Path]:
    return [p for p in (catalog, Path(f"{catalog}-wal"), Path(f"{catalog}-shm")) if p.exists()]


def _move_aside(catalog: Path) -> Path:
    """catalog.sqlite (and its -wal/-shm, which belong to it) renamed to catalog-damaged-<time>.sqlite."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = catalog.with_name(f"catalog-damaged-{stamp}.sqlite")
    n = 1
    while aside.exists():
        n += 1
        aside = catalog.with_name(f"catalog-damaged-{stamp}-{n}.sqlite")
    for suffix in ("-wal", "-shm", ""):  # the log first: it must never be applied to the restored copy
        source = Path(f"{catalog}{suffix}")
        if source.exists():
            os.replace(source, Path(f"{aside}{suffix}"))
    return aside


def _copy_into_place(source: Path, target: Path) -> None:
    fd, name = tempfile.mkstemp(prefix=temp_prefix("tmp"), suffix=".sqlite", dir=target.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        make_shareable(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
