"""Moving a removed model's bundle folder and FAISS file to the desktop's trash, so a removal can be undone.

On Linux and other freedesktop systems this is the freedesktop.org trash of library/trash.py (the same
trash folders and .trashinfo records the duplicates' undo uses), for folders as well as files. Elsewhere
the send2trash package does it (the recycle bin, the macOS trash). Nothing here ever deletes: a path the
trash refuses stays where it is and TrashError says why.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from irt_desktop.library.trash import TrashError, move_into_trash

__all__ = ["TrashError", "move_to_trash"]


def move_to_trash(path: Path) -> Path:
    """Move a file or folder to the trash; where it is now (or the original path when send2trash moved
    it, which does not say). TrashError leaves it in place."""
    path = Path(os.path.abspath(path))
    if not path.exists():
        raise TrashError(f"{path} does not exist")
    if sys.platform in ("win32", "darwin"):
        return _native(path)
    names = (path.name if n == 1 else f"{path.name}.{n}" for n in range(1, 10_000))
    target, _record = move_into_trash(
        path, names, lambda exc: TrashError(f"the trash refused {path} ({exc.strerror})")
    )
    if target is None:
        raise TrashError(f"the trash has too many items named {path.name}")
    return target


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
