"""Folder facts shared by the scanner, the catalog and the watcher: one string per folder, containment,
system junk, and a watched folder (root) as the catalog stores it.

Pure functions and records (no I/O beyond os.path), so the watcher can use them without a catalog.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Compared lower-case. Names starting with "." (hidden on POSIX; also .DS_Store, ._AppleDouble files,
# .Trashes, .thumbnails) are skipped separately.
JUNK_NAMES = frozenset(
    {
        "@eadir",  # Synology thumbnails
        "thumbs.db",
        "desktop.ini",
        "system volume information",
        "$recycle.bin",
        "lost+found",
        "#recycle",
        "#snapshot",
    }
)


def is_junk_name(name: str) -> bool:
    return name.startswith((".", "~$")) or name.lower() in JUNK_NAMES


def canonical(path: Path | str) -> str:
    """Absolute, symlink-free, case-normalised where the platform ignores case: one folder, one string."""
    return os.path.normcase(os.path.realpath(os.path.abspath(os.path.expanduser(os.fspath(path)))))


def is_under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def prefix_range(folder: str) -> tuple[str, str]:
    """[lo, hi) bounds that select the strings under `folder/` with an index range scan (no LIKE escaping)."""
    lo = folder.rstrip(os.sep) + os.sep
    return lo, lo[:-1] + chr(ord(os.sep) + 1)


@dataclass(frozen=True)
class RootRow:
    """A watched folder as stored (the GUI's `Root` adds counts and a status to it)."""

    id: int
    path: str
    recursive: bool
    follow_symlinks: bool
    network: bool
    online: bool
    scanned_at: float | None

    def covers(self, path: str) -> bool:
        """True if a file at `path` belongs to this root (recursion taken into account)."""
        if not is_under(path, self.path):
            return False
        return self.recursive or os.path.dirname(path) == self.path


@dataclass(frozen=True)
class MountRecord:
    """A file system as a scan last saw it at `path`: the root itself, or a mount point under it.

    `mount`: the folder was a mount point (another file system, or a bind mount). `away_since`: since
    when what was remembered has not been there (unmounted, replaced, offline); while it is away, scans
    delete nothing under it and the rows deleted under it outlive the usual retention."""

    path: str
    device: int
    inode: int
    mount: bool
    away_since: float | None = None
