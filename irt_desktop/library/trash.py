"""Moving photos to the trash and back: never an unlink.

Linux (and other freedesktop systems): the freedesktop.org trash specification, written here so the move
can be undone exactly: `$XDG_DATA_HOME/Trash` for files on the home volume, `$topdir/.Trash/$uid` (when
the admin made one, sticky) or `$topdir/.Trash-$uid` on other volumes; each file gets a `.trashinfo`
record (its original path and the deletion date) that undo, and any file manager, restores it from.
Where no trash can be had (a read-only or foreign network share, another platform), the file stays where
it is and the answer says why.

The catalog marks a trashed file at once (soft delete, reason 'trashed', vectors kept), so it leaves
searches and duplicate lists before any rescan; restore brings the row and its vectors back, nothing
re-embedded. Each action goes in the catalog's trash journal (what went where, the .trashinfo records)
in the same transaction, so undo works after a restart and for the last several actions; an item the
trash no longer holds (emptied) is reported with where it had gone, and leaves the journal.

Threads: any thread; it moves files, so the GUI calls it from a worker (the library lane).
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from irt_desktop.library.catalog import Catalog

if TYPE_CHECKING:
    # Only for annotations: the duplicates view imports this module when the window is built, which
    # must not load FAISS (it waits for the library to open).
    from irt_desktop.library.vector_cache import VectorCache


class TrashError(OSError):
    """This file cannot go to a trash (none on its volume, or no trash on this platform)."""


@dataclass(frozen=True)
class TrashedFile:
    original: str
    trashed: str  # where the file is now
    info: str  # its .trashinfo record
    image_id: int | None = None
    size: int = 0


@dataclass
class TrashResult:
    moved: list[TrashedFile] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, why not)
    freed: int = 0  # bytes freed once the trash is emptied (hard links counted once)
    action_id: int | None = None  # its entry in the catalog's trash journal (what undo() takes)

    @property
    def folders(self) -> list[str]:
        return sorted({str(Path(f.original).parent) for f in self.moved})


@dataclass(frozen=True)
class TrashAction:
    """One entry of the trash journal: what an action moved, still in the trash."""

    id: int
    at: float
    label: str
    items: list[TrashedFile]

    @property
    def folders(self) -> list[str]:
        return sorted({str(Path(f.original).parent) for f in self.items})

    @property
    def trash_folders(self) -> list[str]:
        """Where the files are now (the trash's files/ folders)."""
        return sorted({str(Path(f.trashed).parent) for f in self.items})


def _home_trash() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "Trash"


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _mount_point(path: Path) -> Path:
    path = path.resolve()
    dev = path.stat().st_dev
    while path != path.parent and path.parent.stat().st_dev == dev:
        path = path.parent
    return path


def trash_dir_for(path: Path) -> tuple[Path, Path | None]:
    """(trash directory, topdir for relative paths or None for the home trash) for `path`."""
    if sys.platform == "win32" or sys.platform == "darwin":
        raise TrashError("moving to the trash with undo is only supported on Linux/freedesktop systems here")
    home = _home_trash()
    if _existing_parent(home).stat().st_dev == path.stat().st_dev:
        return home, None
    top = _mount_point(path)
    uid = os.getuid()
    admin = top / ".Trash"
    try:
        st = os.lstat(admin)
        if stat.S_ISDIR(st.st_mode) and not stat.S_ISLNK(st.st_mode) and st.st_mode & stat.S_ISVTX:
            mine = admin / str(uid)
            mine.mkdir(mode=0o700, exist_ok=True)
            return mine, top
    except OSError:
        pass
    mine = top / f".Trash-{uid}"
    try:
        mine.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise TrashError(
            f"there is no trash on the drive at {top} ({exc.strerror}); nothing was moved"
        ) from exc
    return mine, top


def move_to_trash(path: Path, image_id: int | None = None) -> TrashedFile:
    path = Path(os.path.abspath(path))
    if not path.is_file():
        raise TrashError("it no longer exists")
    size = path.stat().st_size
    stem, suffix = path.stem, path.suffix
    names = (path.name if n == 1 else f"{stem}.{n}{suffix}" for n in range(1, 10_000))
    target, record = move_into_trash(
        path, names, lambda exc: TrashError(f"the trash refused it ({exc.strerror})")
    )
    if target is None:
        raise TrashError("the trash has too many files of this name")
    return TrashedFile(str(path), str(target), str(record), image_id, size)


def move_into_trash(
    path: Path, names: Iterable[str], refused: Callable[[OSError], TrashError]
) -> tuple[Path | None, Path | None]:
    """Move `path` (a file or folder) into its volume's freedesktop trash under the first of `names` that
    is free, its .trashinfo record written first: (where it is now, the record), or (None, None) when
    every name is taken. TrashError when the volume has no trash, or `refused(error)` when the move
    itself fails (the record taken back, the path left where it was)."""
    trash, top = trash_dir_for(path)
    files, info = trash / "files", trash / "info"
    for d in (files, info):
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
    shown = str(path.relative_to(top)) if top is not None else str(path)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    for name in names:
        record = info / f"{name}.trashinfo"
        try:
            fd = os.open(record, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"[Trash Info]\nPath={quote(shown)}\nDeletionDate={stamp}\n")
        target = files / name
        if target.exists():
            record.unlink()
            continue
        try:
            os.rename(path, target)  # same volume by construction: never a copy and delete
        except OSError as exc:
            record.unlink(missing_ok=True)
            raise refused(exc) from exc
        return target, record
    return None, None


def restore_file(item: TrashedFile) -> None:
    original = Path(item.original)
    if not os.path.lexists(item.trashed):
        if original.exists():
            return  # put back already (from a file manager): nothing left to move
        raise TrashError(
            f"it is no longer in the trash (it had gone to {Path(item.trashed).parent}; the trash may "
            "have been emptied)"
        )
    if original.exists():
        raise TrashError(f"{original} exists again; the trashed copy stays in {Path(item.trashed).parent}")
    original.parent.mkdir(parents=True, exist_ok=True)
    os.rename(item.trashed, original)
    Path(item.info).unlink(missing_ok=True)


def read_trashinfo(record: Path) -> str | None:
    """The original path a .trashinfo record names (relative ones as written)."""
    for line in record.read_text(encoding="utf-8").splitlines():
        if line.startswith("Path="):
            return unquote(line[5:])
    return None


def freed_bytes(paths: Sequence[str | Path]) -> int:
    """Bytes that trashing `paths` frees once the trash is emptied: a file with other hard links left
    frees nothing, and links to one inode count once."""
    by_inode: dict[tuple[int, int], list[os.stat_result]] = {}
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            continue
        by_inode.setdefault((st.st_dev, st.st_ino), []).append(st)
    return sum(sts[0].st_size for sts in by_inode.values() if sts[0].st_nlink <= len(sts))


def trash_images(
    catalog: Catalog, vectors: VectorCache, image_ids: Sequence[int], label: str = ""
) -> TrashResult:
    """Move these images' files to the trash, take them out of the catalog's live rows at once and
    journal the action (`label`: what it was, for the undo list)."""
    infos = catalog.image_infos(list(image_ids))
    result = TrashResult(freed=freed_bytes([str(infos[i].path) for i in image_ids if i in infos]))
    for image_id in image_ids:
        info = infos.get(image_id)
        if info is None:
            continue
        try:
            result.moved.append(move_to_trash(Path(info.path), image_id))
        except OSError as exc:
            result.failed.append((str(info.path), str(exc) if isinstance(exc, TrashError) else exc.strerror))
    ids = [f.image_id for f in result.moved if f.image_id is not None]
    if result.moved:
        now = time.time()
        with vectors.mutation() as tx:
            catalog.mark_trashed(tx, ids, now)
            result.action_id = catalog.record_trash_action(
                tx,
                now,
                label or f"{len(result.moved)} file(s)",
                [(f.image_id, f.original, f.trashed, f.info, f.size) for f in result.moved],
            )
            vectors.apply_scan_changes(ids, [])
    return result


def trash_history(catalog: Catalog, limit: int = 10) -> list[TrashAction]:
    """The latest actions with files still in the trash, newest first (survives a restart)."""
    out = []
    for action_id, at, label, _count in catalog.trash_actions(limit):
        items = [
            TrashedFile(original, trashed, info, image_id, size)
            for image_id, original, trashed, info, size in catalog.trash_action_items(action_id)
        ]
        out.append(TrashAction(action_id, at, label, items))
    return out


def restore_images(
    catalog: Catalog, vectors: VectorCache, items: Sequence[TrashedFile], action_id: int | None = None
) -> TrashResult:
    """Undo: the files back where they were, their rows and vectors live again (not re-embedded), and
    the journal told (`action_id`, or the action each file's place in the trash belongs to)."""
    result = TrashResult(action_id=action_id)
    closed: dict[int, list[str]] = {}
    for item in items:
        action = action_id if action_id is not None else catalog.trash_action_of(item.trashed)
        try:
            restore_file(item)
            result.moved.append(item)
        except OSError as exc:
            result.failed.append((item.original, str(exc)))
            if os.path.lexists(item.trashed):
                continue  # still in the trash: it stays in the journal for another try
        if action is not None:
            closed.setdefault(action, []).append(item.original)
    ids = [f.image_id for f in result.moved if f.image_id is not None]
    if ids or closed:
        now = time.time()
        with vectors.mutation() as tx:
            restored = catalog.restore_trashed(tx, ids, now) if ids else []
            for action, originals in closed.items():
                catalog.mark_trash_restored(tx, action, originals, now)
            if restored:
                vectors.apply_scan_changes([], restored)
    return result
