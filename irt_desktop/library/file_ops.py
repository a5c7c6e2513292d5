"""Copying and moving photos to a folder, and undoing it, without ever losing one.

- Nothing is overwritten: a name already taken in the destination (or given twice in one batch) is
  refused for that file, and the answer says so; the rest goes ahead.
- A move on one file system is a hard link to the new name then the old name's removal (the bytes
  never move, and the link fails rather than replace a file that appeared meanwhile). Across file
  systems (or where links are not supported) it is copy to a hidden temporary name, fsync, compare
  byte for byte, then link or rename to the final name, and only then remove the original.
- Undo puts moved files back by the same rules, and removes copies only while they are still exactly
  what was copied (same size and modification time), so an edited copy is kept.

The library notices the new and vanished paths through its watcher (or the next scan): a move keeps its
vectors (same content hash), so nothing is re-embedded. Threads: any; the GUI runs these off its thread.
"""

from __future__ import annotations

import contextlib
import errno
import filecmp
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

COPY, MOVE = "copy", "move"
PARTIAL_PREFIX = ".irt-partial-"
# errnos that say "no hard links here": fall back to copy, verify, rename.
_NO_LINKS = {errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TransferPlan:
    """What a copy or move of `sources` into `folder` would do, for the question asked first."""

    op: str
    folder: Path
    items: list[tuple[Path, Path]]  # (source, target) that will be done
    clashes: list[tuple[Path, str]]  # (source, why it will be skipped)
    total_bytes: int

    @property
    def count(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class Transferred:
    source: Path
    target: Path
    size: int
    mtime_ns: int  # the target's, right after the transfer: undo of a copy checks it is unchanged


@dataclass
class TransferResult:
    op: str
    folder: Path
    done: list[Transferred] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(t.size for t in self.done)


class FileOpError(OSError):
    """One file could not be copied or moved (the reason is the message)."""


def plan_transfer(op: str, sources: Sequence[Path | str], folder: Path | str) -> TransferPlan:
    """Check a copy or move before asking: which files go where, which are skipped and why, how many
    bytes. Reads only file metadata."""
    if op not in (COPY, MOVE):
        raise ValueError(f"unknown file operation {op!r}")
    folder = Path(os.path.abspath(folder))
    items: list[tuple[Path, Path]] = []
    clashes: list[tuple[Path, str]] = []
    taken: set[str] = set()
    total = 0
    for raw in sources:
        src = Path(os.path.abspath(raw))
        target = folder / src.name
        key = os.path.normcase(str(target))
        if not src.is_file():
            clashes.append((src, "it no longer exists"))
        elif src.parent == folder:
            clashes.append((src, "it is already in that folder"))
        elif key in taken:
            clashes.append((src, f"another selected photo is also called {src.name}"))
        elif os.path.lexists(target):
            clashes.append((src, f"{folder.name} already has a file called {src.name}"))
        else:
            taken.add(key)
            items.append((src, target))
            total += src.stat().st_size
    return TransferPlan(op, folder, items, clashes, total)


def run_transfer(plan: TransferPlan, progress: Progress | None = None) -> TransferResult:
    """Do what `plan` says, file by file; a file that fails is reported and the others go on."""
    result = TransferResult(plan.op, plan.folder, failed=list(plan.clashes))
    if plan.items and not plan.folder.is_dir():
        plan.folder.mkdir(parents=True, exist_ok=True)
    for n, (src, target) in enumerate(plan.items, 1):
        try:
            if plan.op == MOVE:
                result.done.append(move_file(src, target))
            else:
                result.done.append(copy_file(src, target))
        except OSError as exc:
            result.failed.append((src, _why(exc)))
        if progress is not None:
            progress(n, len(plan.items))
    return result


def undo_transfer(result: TransferResult) -> TransferResult:
    """Put things back: moved files to where they were, copies removed if still unchanged."""
    back = TransferResult(result.op, result.folder)
    for t in reversed(result.done):
        try:
            if result.op == MOVE:
                move_file(t.target, t.source)
            else:
                _remove_copy(t)
            back.done.append(t)
        except OSError as exc:
            back.failed.append((t.target, _why(exc)))
    return back


def copy_file(src: Path, target: Path) -> Transferred:
    """`src` copied to `target` (which must not exist), content verified before it takes the name."""
    size = src.stat().st_size
    tmp = _verified_copy(src, target)
    try:
        _take_name(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return Transferred(src, target, size, target.stat().st_mtime_ns)


def move_file(src: Path, target: Path) -> Transferred:
    """`src` moved to `target` (which must not exist); the original goes only once the target is sound."""
    st = src.stat()
    if os.path.lexists(target):
        raise FileOpError(f"{target.name} is already in {target.parent}")
    try:
        os.link(src, target)
    except FileExistsError:
        raise FileOpError(f"{target.name} is already in {target.parent}") from None
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        copy_file(src, target)
    src.unlink()
    return Transferred(src, target, st.st_size, target.stat().st_mtime_ns)


def _verified_copy(src: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{PARTIAL_PREFIX}{os.getpid()}-{target.name}")
    try:
        shutil.copy2(src, tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if not filecmp.cmp(src, tmp, shallow=False):
            raise FileOpError(f"the copy of {src.name} does not match the original")
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp


def _take_name(tmp: Path, target: Path) -> None:
    """Give `tmp` the name `target`, never replacing a file that has it."""
    try:
        os.link(tmp, target)
        return
    except FileExistsError:
        raise FileOpError(f"{target.name} is already in {target.parent}") from None
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
    # No hard links (FAT, some network shares): the narrow race of a check and a rename.
    if os.path.lexists(target):
        raise FileOpError(f"{target.name} is already in {target.parent}")
    os.rename(tmp, target)


def _remove_copy(t: Transferred) -> None:
    try:
        st = t.target.stat()
    except FileNotFoundError:
        return  # already gone: nothing to undo
    if st.st_size != t.size or st.st_mtime_ns != t.mtime_ns:
        raise FileOpError(f"{t.target.name} was changed after it was copied; it is kept")
    if not t.source.is_file():
        raise FileOpError(f"the original of {t.target.name} is gone; the copy is kept")
    t.target.unlink()


def _why(exc: OSError) -> str:
    if isinstance(exc, FileOpError):
        return str(exc)
    return exc.strerror or str(exc)
