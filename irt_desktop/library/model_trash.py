"""Moving a removed model's bundle folder and FAISS file to the desktop's trash, so a removal can be undone.

On Linux and other freedesktop systems this is the freedesktop.org trash of library/trash.py (the same
trash folders and .trashinfo records the duplicates' undo uses), for folders as well as files. Elsewhere
the send2trash package does it (the recycle bin, the macOS trash). Nothing here ever deletes: a path the
trash refuses stays where it is and TrashError says why.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from urllib.parse import quote

from irt_desktop.library.trash import TrashError, trash_dir_for

__all__ = ["TrashError", "move_to_trash"]


def move_to_trash(path: Path) -> Path:
    """Move a file or folder to the trash; where it is now (or the original path when send2trash moved
    it, which does not say). TrashError leaves it in place."""
    path = Path(os.path.abspath(path))
    if not path.exists():
        raise TrashError(f"{path} does not exist")
    if sys.platform in ("win32", "darwin"):
        return _native(path)
    trash, top = trash_dir_for(path)
    files, info = trash / "files", trash / "info"
    for d in (files, info):
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
    shown = str(path.relative_to(top)) if top is not None else str(path)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    for n in range(1, 10_000):
        name = path.name if n == 1 else f"{path.name}.{n}"
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
            raise TrashError(f"the trash refused {path} ({exc.strerror})") from exc
        return target
    raise TrashError(f"the trash has too many items named {path.name}")


def _native(path: Path) -> Path:
    try:
        from send2trash import send2trash
    except ImportError as exc:
        raise TrashError(f"{path} was not moved: the trash here needs the send2trash package") from exc
    try:
        send2trash(os.fspath(path))
    except Exception as exc:
        raise TrashError(f"the trash refused {path}: {exc}") from exc
    return path
