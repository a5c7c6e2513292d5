"""Files the application writes atomically (a temporary name, then a rename), shared by the library and
retrieval. A leaf module: imports nothing of the project.

- Created files follow the umask: tempfile's mkstemp/mkdtemp make 0600/0700 entries, which would leave a
  library folder shared between users (a group-writable NAS share, say) unreadable to the others once a
  temporary file is renamed into place; `make_shareable` gives them the modes open()/mkdir() would.
- Temporary names carry their writer's pid (`.bundle-<pid>-xxxx`), so that the process holding a
  library's writer lock can tell a crash's leftover (its writer gone) from a file being written now.
"""

from __future__ import annotations

import errno
import os
import tempfile
import threading
from pathlib import Path

_lock = threading.Lock()


def current_umask() -> int:
    """The process's umask, read without changing it where the platform allows (Linux /proc), else by
    setting and restoring it under a lock (the brief window only this module's callers could see)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def file_mode() -> int:
    """What open() would give a new file: 0666 less the umask."""
    return 0o666 & ~current_umask()


def dir_mode() -> int:
    """What mkdir() would give a new folder: 0777 less the umask."""
    return 0o777 & ~current_umask()


def make_shareable(path: Path | str, fd: int | None = None) -> None:
    """Give a file (or, recursively, a folder) made by tempfile the modes the umask would have given it.
    Best effort: a filesystem without POSIX modes (FAT, some network shares) is left as it is."""
    path = Path(path)
    try:
        if fd is not None:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, file_mode())
            else:
                os.chmod(path, file_mode())
            return
        if path.is_dir():
            os.chmod(path, dir_mode())
            for child in path.rglob("*"):
                os.chmod(child, dir_mode() if child.is_dir() else file_mode())
        else:
            os.chmod(path, file_mode())
    except OSError:
        pass


def temp_prefix(kind: str) -> str:
    """The prefix for tempfile.mkstemp/mkdtemp: `.{kind}-{pid}-`."""
    return f".{kind}-{os.getpid()}-"


def temp_name(folder: Path | str, kind: str, suffix: str) -> Path:
    """A fresh temporary name in `folder` (prefix `temp_prefix(kind)`), for a call that makes the file
    itself (SQLite's backup API, VACUUM INTO): mkstemp reserves the name, then its empty file goes."""
    fd, name = tempfile.mkstemp(prefix=temp_prefix(kind), suffix=suffix, dir=folder)
    os.close(fd)
    os.unlink(name)
    return Path(name)


def temp_writer_pid(name: str, kind: str) -> int | None:
    """The pid in a temporary name made with `temp_prefix(kind)`; None for an older name without one."""
    head = f".{kind}-"
    if not name.startswith(head):
        return None
    pid, sep, _ = name[len(head) :].partition("-")
    return int(pid) if sep and pid.isdigit() else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this machine. On Windows, where os.kill(pid, 0) would
    terminate the process, a pid is assumed alive (callers then fall back on the file's age)."""
    if pid <= 0:
        return False
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OSError:
        return True
    return True


def os_reason(exc: OSError) -> str:
    """A short reason for an OSError, in the words the CLI uses for them."""
    return {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.EROFS: "the folder is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
    }.get(exc.errno or 0, exc.strerror or str(exc))
