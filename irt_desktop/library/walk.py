"""The walk: which photo files are under a folder, and which names had to be left out and why.

Nothing is left out silently. Names that cannot be catalogued (not UTF-8, a path longer than the system
allows), folders that cannot be read, symlinks when the root does not follow them, and FIFOs, sockets
or device files named like photos are counted and listed (`Listing.skipped`, shown by `status
--failures` and the GUI). Only system junk and hidden files are passed over without a word (see
folders.is_junk_name). Nothing here opens a file: every entry's type comes from stat, so a FIFO named
x.jpg cannot block a scan.

Folders on another device than the folder above them (mount points) are noted for the mount guard
(library/mounts.py); the stat that proves a folder is not a symlink loop gives that for free.

Threads: the indexing thread.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from irt_desktop.images import is_image_name
from irt_desktop.library.excludes import NONE, ExcludeRules
from irt_desktop.library.folders import is_junk_name, is_under

_WIN_HIDDEN = 0x2  # FILE_ATTRIBUTE_HIDDEN

SeenCallback = Callable[[int, str], None]

# Why a name was left out (the reasons `Library.skipped()` reports).
NOT_UTF8 = "name is not valid UTF-8 (cannot be catalogued)"
TOO_LONG = "path longer than the system allows"
SYMLINK = "symbolic link, not followed (index --follow-symlinks PATH follows them)"
UNREADABLE = "folder cannot be read"
NOT_REGULAR = "not a regular file"
# A listing keeps at most this many skipped names (the count goes on).
SKIPPED_LISTED_MAX = 10_000


def not_regular(mode: int) -> str:
    """'not a regular file (a FIFO)' and the like, for a file mode that is not S_ISREG."""
    if stat.S_ISFIFO(mode):
        kind = "a FIFO"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device file"
    else:
        return NOT_REGULAR
    return f"{NOT_REGULAR} ({kind})"


def _hidden_on_windows(entry: os.DirEntry) -> bool:
    attrs = getattr(entry.stat(follow_symlinks=False), "st_file_attributes", 0)
    return bool(attrs & _WIN_HIDDEN)


def storable(path: str) -> bool:
    # A name that is not valid UTF-8 (possible on Linux) cannot be stored as SQLite text.
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(path: str) -> str:
    """`path` as text that can be stored and printed: bytes that are not UTF-8 become \\xNN escapes."""
    if storable(path):
        return path
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _os_reason(exc: OSError, what: str) -> str:
    if exc.errno == errno.ENAMETOOLONG:
        return TOO_LONG
    return f"{what}: {exc.strerror or exc}"


@dataclass
class Listing:
    files: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (size, mtime_ns)
    # Folders that could not be read: nothing under them may be taken for deleted.
    unlisted: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (shown path, reason), capped
    skipped_names: int = 0  # every name left out, listed or not
    excluded: int = 0  # files and folders left out by the user's exclude patterns
    mounts: set[str] = field(default_factory=set)  # folders on another device than their parent

    def hides(self, path: str) -> bool:
        return any(is_under(path, d) for d in self.unlisted)

    def skip(self, path: str, reason: str) -> None:
        self.skipped_names += 1
        if len(self.skipped) < SKIPPED_LISTED_MAX:
            self.skipped.append((shown(path), reason))


def walk(
    top: str,
    listing: Listing,
    *,
    recursive: bool,
    follow_symlinks: bool,
    cancel: threading.Event | None = None,
    on_seen: SeenCallback | None = None,
    exclude: ExcludeRules = NONE,
    base: str | None = None,
) -> None:
    """Add the image files under `top` to `listing`; never raises for unreadable folders.

    `exclude` is matched relative to `base` (the root; default `top`), one entry at a time: the caller
    checks that `top` itself and the folders above it are not excluded."""
    base = top if base is None else base
    visited: set[tuple[int, int]] = set()
    # (folder, device of the folder above it or None, reached through a symlink)
    stack: list[tuple[str, int | None, bool]] = [(top, None, False)]
    while stack:
        if cancel is not None and cancel.is_set():
            listing.unlisted.append(top)  # an interrupted walk proves nothing about what is missing
            return
        folder, parent_dev, via_link = stack.pop()
        try:
            st = os.stat(folder)
            key = (st.st_dev, st.st_ino)
            if key in visited:  # a symlink loop, or two links to one folder
                continue
            visited.add(key)
            entries = list(os.scandir(folder))
        except OSError as exc:
            listing.unlisted.append(folder)
            if folder != base:  # an unreachable root is the caller's to report (offline)
                listing.skip(folder, _os_reason(exc, UNREADABLE))
            continue
        if parent_dev is not None and st.st_dev != parent_dev and not via_link:
            listing.mounts.add(folder)
        for entry in entries:
            _entry(entry, listing, st.st_dev, stack, recursive, follow_symlinks, exclude, base, on_seen)


def _entry(
    entry: os.DirEntry,
    listing: Listing,
    dev: int,
    stack: list[tuple[str, int | None, bool]],
    recursive: bool,
    follow_symlinks: bool,
    exclude: ExcludeRules,
    base: str,
    on_seen: SeenCallback | None,
) -> None:
    name = entry.name
    if is_junk_name(name):
        return
    path = entry.path
    try:
        link = entry.is_symlink()
        if link and not follow_symlinks:
            # Worth a word only if it would have counted: a photo's name, or a folder.
            counts = (recursive and entry.is_dir(follow_symlinks=True)) or is_image_name(name)
            if counts and not (exclude and exclude.matches_entry(name, path, base, entry.is_dir())):
                listing.skip(path, SYMLINK)
            return
        if os.name == "nt" and _hidden_on_windows(entry):
            return
        if entry.is_dir(follow_symlinks=follow_symlinks):
            if not recursive:
                return
            if exclude and exclude.matches_entry(name, path, base, True):
                listing.excluded += 1
            elif not storable(path):
                listing.skip(path, NOT_UTF8)  # nothing under it could be catalogued either
            else:
                stack.append((path, dev, link))
            return
        if not is_image_name(name):
            return
        if exclude and exclude.matches_entry(name, path, base, False):
            listing.excluded += 1
            return
        st = entry.stat(follow_symlinks=follow_symlinks)
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ESTALE):  # vanished: the next scan sees it again
            listing.skip(path, _os_reason(exc, "cannot be read"))
        return
    if not stat.S_ISREG(st.st_mode):
        listing.skip(path, not_regular(st.st_mode))
        return
    if not storable(path):
        listing.skip(path, NOT_UTF8)
        return
    listing.files[path] = (st.st_size, st.st_mtime_ns)
    if on_seen is not None:
        on_seen(len(listing.files), path)
