"""Moving files and folders to the desktop's trash, so that what the library removes can be restored.

The send2trash package does it on every platform (the freedesktop.org trash on Linux, the recycle bin,
the macOS trash). Without it, Linux falls back on a small implementation of the freedesktop.org Trash
specification (the home trash, or a `.Trash-$UID` folder at the top of another drive). Nothing here
ever deletes: a path the trash refuses stays where it is and the caller is told why.
"""

from __future__ import annotations

import contextlib
import os
import sys
from datetime import datetime
from pathlib import Path
from urllib.parse import quote


class TrashError(OSError):
    """The path could not be moved to the trash; it is still where it was."""


def move_to_trash(path: Path) -> None:
    """Move one file or folder to the trash, or raise TrashError and leave it in place."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise TrashError(f"{path} does not exist")
    send2trash = _native()
    if send2trash is not None:
        try:
            send2trash(os.fspath(path))
        except Exception as exc:
            raise TrashError(f"the trash refused {path}: {exc}") from exc
        return
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        _freedesktop_trash(path)
        return
    raise TrashError(f"{path} was not moved: moving to the trash here needs the send2trash package")


def _native():
    """send2trash's function when the package is installed, else None."""
    try:
        from send2trash import send2trash
    except ImportError:
        return None
    return send2trash


# -- freedesktop.org Trash specification, 1.0 ------------------------------------------------------------


def _home_trash() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data) / "Trash"


def _device(path: Path) -> int:
    return os.lstat(path).st_dev


def _mount_top(path: Path) -> Path:
    path = path.resolve()
    dev = path.stat().st_dev
    while path.parent != path and path.parent.stat().st_dev == dev:
        path = path.parent
    return path


def _trash_for(path: Path) -> Path:
    home = _home_trash()
    home_root = home
    while not home_root.exists() and home_root.parent != home_root:
        home_root = home_root.parent
    if _device(path) == home_root.stat().st_dev:
        return home
    top = _mount_top(path.parent)
    shared = top / ".Trash"
    uid = os.getuid()
    # $topdir/.Trash/$uid only when .Trash is a real folder with the sticky bit (the spec's check).
    if shared.is_dir() and not shared.is_symlink() and shared.stat().st_mode & 0o1000:
        return shared / str(uid)
    return top / f".Trash-{uid}"


def _freedesktop_trash(path: Path) -> None:
    try:
        trash = _trash_for(path)
        files, info = trash / "files", trash / "info"
        files.mkdir(parents=True, exist_ok=True, mode=0o700)
        info.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise TrashError(f"no trash folder can be used for {path}: {exc}") from exc
    original = path.absolute()
    stamp = datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
    stem = path.name
    for n in range(1000):
        name = stem if n == 0 else f"{stem}.{n}"
        info_file = info / f"{name}.trashinfo"
        try:
            fd = os.open(info_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise TrashError(f"the trash refused {path}: {exc}") from exc
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"[Trash Info]\nPath={quote(os.fspath(original))}\nDeletionDate={stamp}\n")
        try:
            os.rename(path, files / name)
        except OSError as exc:
            with contextlib.suppress(OSError):
                info_file.unlink()
            raise TrashError(f"the trash refused {path}: {exc}") from exc
        return
    raise TrashError(f"the trash refused {path}: too many items of that name in {trash}")
