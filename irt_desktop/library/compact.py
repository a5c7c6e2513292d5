"""`repair --compact`: the catalog rewritten on 16 KB pages without free space, the old one kept.

Why: catalogs made before new ones got 16 KB pages (catalog/base.py, PAGE_SIZE) keep SQLite's 4 KB
pages, where every 1.5 KB vector row spills into an overflow page of its own: at 10^6 photos 5.1 GB
where 16 KB pages need about 2 GB. A page size cannot change in place under WAL, so the catalog is
copied (VACUUM INTO), the copy checked (quick_check, the same rows in every table), and only then put in
its place. The catalog it replaces becomes the newest backup (backups/, restored by `irt-desktop repair`
like any other), so nothing is lost if the new file ever turns out wrong; it goes when three newer
backups have been made. The FAISS files stay valid: row ids and vector sequence numbers are kept.

`plan_compaction` only reads, so the command can say what compacting would cost before it is asked to;
`compact` needs the writer lock held by the caller, and the app closed (it holds that lock).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from irt_desktop.fsutil import make_shareable, temp_name
from irt_desktop.library.catalog import Catalog
from irt_desktop.library.catalog.base import PAGE_SIZE
from irt_desktop.library.catalog.health import (
    compacted_copy,
    page_facts,
    settle_wal,
    table_counts,
    verify,
)
from irt_desktop.library.errors import CatalogDamaged, LibraryBusy, NoLibrary, StorageError
from irt_desktop.library.health import Backups
from irt_desktop.paths import LibraryLayout

# Below this share of free pages, on pages of PAGE_SIZE already, a rewrite would win too little.
WORTH_FREE_SHARE = 0.10
# Room kept free beyond the copy, so the disk is not filled to the last byte.
DISK_MARGIN_BYTES = 64 << 20


@dataclass(frozen=True)
class CompactPlan:
    catalog: Path
    size_bytes: int  # the catalog with its write-ahead log
    page_size: int
    free_share: float  # of the pages, those SQLite keeps empty
    disk_free_bytes: int

    @property
    def worth_it(self) -> bool:
        return self.page_size < PAGE_SIZE or self.free_share >= WORTH_FREE_SHARE

    @property
    def needed_bytes(self) -> int:
        """The copy is never larger than the catalog; the catalog itself is moved, not copied."""
        return self.size_bytes + DISK_MARGIN_BYTES

    @property
    def has_room(self) -> bool:
        return self.disk_free_bytes >= self.needed_bytes

    def no_room(self) -> str:
        """What to say when there is not room for the copy."""
        return (
            f"compacting needs up to {gb(self.needed_bytes)} free beside the catalog; "
            f"{gb(self.disk_free_bytes)} are"
        )

    def pages(self) -> str:
        """Its size and pages, as `doctor` and the command show them."""
        size, kb = gb(self.size_bytes), self.page_size // 1024
        return f"{size} on {kb} KB pages, {self.free_share:.0%} of them free"

    def describe(self) -> str:
        return f"{self.catalog.name}: {self.pages()}"

    def cost(self) -> str:
        return (
            f"compacting rewrites it on {PAGE_SIZE // 1024} KB pages into a new file beside it: it needs "
            f"up to {gb(self.needed_bytes)} free ({gb(self.disk_free_bytes)} are) and the time to read "
            f"the catalog twice and write it once (seconds to minutes at a million photos), with the app "
            f"closed. The present catalog is kept as the newest backup, "
            f"so it can be restored"
        )


@dataclass(frozen=True)
class CompactReport:
    before_bytes: int
    after_bytes: int
    seconds: float
    kept: Path  # the catalog as it was, now a backup

    def summary(self) -> str:
        return (
            f"compacted the catalog: {gb(self.before_bytes)} -> {gb(self.after_bytes)} in "
            f"{self.seconds:.0f} s; the catalog as it was is kept as {self.kept} until three newer "
            f"backups replace it"
        )


def gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def plan_compaction(layout: LibraryLayout) -> CompactPlan:
    catalog = layout.catalog
    if not catalog.is_file():
        raise NoLibrary(f"no catalog at {catalog}")
    facts = page_facts(catalog)
    wal = Path(f"{catalog}-wal")
    size = catalog.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    return CompactPlan(
        catalog,
        size,
        facts.page_size,
        facts.freelist_count / max(facts.page_count, 1),
        shutil.disk_usage(catalog.parent).free,
    )


def compact(layout: LibraryLayout, plan: CompactPlan) -> CompactReport:
    """Rewrite the catalog (see the module docstring). The caller holds the writer lock. Anything that
    goes wrong leaves the catalog as it was."""
    if not plan.has_room:
        raise StorageError(plan.no_room())
    catalog = layout.catalog
    problem = verify(catalog)
    if problem is not None:
        raise CatalogDamaged(f"{catalog} is not sound ({problem}): run `irt-desktop repair` first")
    started = time.monotonic()
    tmp = temp_name(catalog.parent, "tmp", ".sqlite")  # VACUUM INTO makes its own file
    try:
        before = table_counts(catalog)
        compacted_copy(catalog, tmp, PAGE_SIZE)
        problem = verify(tmp)
        if problem is None and table_counts(tmp) != before:
            problem = "its tables do not hold the same rows"
        if problem is not None:
            raise CatalogDamaged(f"the compacted copy failed its check ({problem}); the catalog is unchanged")
        make_shareable(tmp)
        if not settle_wal(catalog):
            raise LibraryBusy("another program is reading the library (search, status): try again after it")
        kept = _swap(layout, tmp)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return CompactReport(plan.size_bytes, catalog.stat().st_size, time.monotonic() - started, kept)


def _swap(layout: LibraryLayout, new: Path) -> Path:
    """The catalog becomes the newest backup and `new` takes its place; undone if the new one will not
    open as a writer would open it."""
    catalog = layout.catalog
    backups = Backups(layout)
    backups.folder.mkdir(parents=True, exist_ok=True)
    kept = backups.new_path()
    for suffix in ("-wal", "-shm"):  # settled and empty: they belong to the file that is moving away
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{catalog}{suffix}")
    os.replace(catalog, kept)
    try:
        os.replace(new, catalog)
        Catalog(catalog).close()  # WAL mode again, the schema checked
    except BaseException:
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{catalog}{suffix}")
        os.replace(kept, catalog)
        raise
    backups.prune()
    return kept
