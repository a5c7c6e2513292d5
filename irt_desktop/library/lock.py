"""The library's writer lock: one process at a time writes a library folder.

`library.lock` in the library folder is locked (POSIX: fcntl.flock on the whole file; Windows:
msvcrt.locking on one byte far past the end, so that the record below stays readable to others) for as
long as a writer has the library open: `irt-desktop index` and every command that writes, and the GUI
while a library is open in it. The file holds its holder's record (one JSON line: pid, command line,
role, host, since) so that a refused process can say who has it: "library in use by pid N (irt-desktop
index ...)". The operating system releases the lock when its holder dies, kill -9 included, so there is
never a stale lock to remove by hand; a stale *record* is overwritten by the next holder, and the file
itself is never deleted (deleting it would let two processes lock two different files).

Readers (search, status, duplicates) never take it to read; the caches they may write (a saved FAISS
file, full-content hashes) are written only inside `if_free()`, which takes the lock for a moment if
nobody has it and never waits.

Within one process the lock is shared: a second WriterLock on the same folder (the GUI reopening its
library, tests opening one library twice) joins the holding one, counted, and the file is unlocked when
the last one releases. Threads in one process already coordinate through SQLite's own locking.

Network filesystems: flock over NFS is emulated with fcntl byte-range locks by Linux (2.6.12+) and works
across clients; SMB honours it through the kernel client. A filesystem that offers no locking at all
makes `acquire` fail with the OS error, never silently succeed.

Imports nothing heavy (no torch, FAISS, SQLite or Qt): the CLI's refusal and the GUI's hand-over path
stay fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from irt_desktop.fsutil import os_reason
from irt_desktop.library.errors import LibraryBusy, StorageError

LOCK_FILE = "library.lock"
RECORD_MAX_BYTES = 4096
COMMAND_MAX_CHARS = 200
# Windows locks byte ranges and a locked byte cannot be read by other processes: lock one far past the
# record (locking past the end of a file is allowed there).
_WINDOWS_LOCK_OFFSET = 1 << 30
POLL_S = 0.25


@dataclass(frozen=True)
class Holder:
    """Who holds a library's writer lock, as its record says."""

    pid: int
    command: str
    role: str = ""  # "gui", "index", "repair", ...: what the process is
    host: str = ""
    since: float = 0.0

    def describe(self) -> str:
        """'pid 4242 (irt-desktop index /photos)'."""
        return f"pid {self.pid} ({self.command})" if self.command else f"pid {self.pid}"

    @property
    def is_gui(self) -> bool:
        return self.role == "gui"

    @classmethod
    def parse(cls, raw: bytes) -> Holder | None:
        try:
            data = json.loads(raw.decode("utf-8").strip() or "null")
            if not isinstance(data, dict):
                return None
            return cls(
                pid=int(data["pid"]),
                command=str(data.get("command", ""))[:COMMAND_MAX_CHARS],
                role=str(data.get("role", "")),
                host=str(data.get("host", "")),
                since=float(data.get("since", 0.0)),
            )
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return None


def busy_message(holder: Holder | None) -> str:
    if holder is None:
        return "library in use by another process"
    where = f" on {holder.host}" if holder.host and holder.host != socket.gethostname() else ""
    return f"library in use by {holder.describe()}{where}"


def current_command() -> str:
    """This process's command line as a user would have typed it: 'irt-desktop index /photos'."""
    argv = list(sys.argv)
    head = os.path.basename(argv[0]) if argv else ""
    if head in ("__main__.py", "irt-desktop", "irt-desktop.exe", "cli.py", "") or "irt" in head:
        head = "irt-desktop"
    text = " ".join([head, *(shlex.quote(a) for a in argv[1:])]).replace("\n", " ")
    return text if len(text) <= COMMAND_MAX_CHARS else text[: COMMAND_MAX_CHARS - 3] + "..."


@dataclass
class _Held:
    fd: int
    count: int
    acquired_at: float  # time.time() when this process locked the file


# Locks this process holds, by the lock file's real path.
_held: dict[str, _Held] = {}
_registry = threading.Lock()


class WriterLock:
    """One library folder's writer lock (see the module docstring). Not reentrant per object: acquire
    once, release once; other objects on the same folder in this process share the holding."""

    def __init__(self, folder: Path, *, role: str = "", command: str | None = None) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self.role = role
        self.command = command if command is not None else current_command()
        self._mine = False
        # True when this object's acquire locked the file (the process's first holder of it).
        self.first = False

    @property
    def held(self) -> bool:
        return self._mine

    @property
    def acquired_at(self) -> float | None:
        """When this process locked the file (time.time()), while it holds it."""
        with _registry:
            held = _held.get(self._key())
        return None if held is None else held.acquired_at

    def sole_holder(self) -> bool:
        """True while this object holds the lock and no other in this process shares it."""
        with _registry:
            held = _held.get(self._key())
        return self._mine and held is not None and held.count == 1

    def acquire(self, wait_s: float = 0.0, on_wait: Callable[[Holder | None], None] | None = None) -> None:
        """Take the lock, waiting up to `wait_s` seconds (math.inf: for as long as it takes) for its holder
        to finish; `on_wait(holder)` is called once if it has to wait. Raises LibraryBusy naming the holder,
        or StorageError when no lock file can be made (a read-only folder)."""
        if self._mine:
            return
        deadline = time.monotonic() + max(0.0, wait_s)
        told = False
        while True:
            if self._try() is not None:
                return
            holder = self.holder()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LibraryBusy(busy_message(holder), holder)
            if on_wait is not None and not told:
                told = True
                on_wait(holder)
            time.sleep(min(POLL_S, remaining))

    def try_acquire(self) -> bool:
        """Take the lock if nobody else has it; never waits, never raises for a busy lock."""
        if self._mine:
            return True
        try:
            return self._try() is not None
        except StorageError:
            return False

    def release(self) -> None:
        if not self._mine:
            return
        self._mine = False
        self.first = False
        key = self._key()
        with _registry:
            held = _held.get(key)
            if held is None:
                return
            held.count -= 1
            if held.count > 0:
                return
            del _held[key]
            with contextlib.suppress(OSError):
                os.ftruncate(held.fd, 0)  # no record of a holder that is gone
            with contextlib.suppress(OSError):
                _unlock(held.fd)
            with contextlib.suppress(OSError):
                os.close(held.fd)

    @contextlib.contextmanager
    def if_free(self) -> Iterator[bool]:
        """Hold the lock for the block if nobody else holds it; yields whether it is held. Never waits;
        a folder where no lock file can be made (read-only) yields False. For caches a reader may write."""
        if self._mine:
            yield True
            return
        got = self.try_acquire()
        try:
            yield got
        finally:
            if got:
                self.release()

    def holder(self) -> Holder | None:
        """The holder's record, as the lock file says now (None: free, unknown or unreadable)."""
        try:
            with open(self.path, "rb") as f:
                return Holder.parse(f.read(RECORD_MAX_BYTES))
        except OSError:
            return None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # -- internals -------------------------------------------------------------------------------------

    def _key(self) -> str:
        return os.path.realpath(self.path)

    def _try(self) -> bool | None:
        """True: locked the file now; False: joined this process's holding; None: someone else has it."""
        key = self._key()
        with _registry:
            held = _held.get(key)
            if held is not None:
                held.count += 1
                self._mine, self.first = True, False
                return False
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
            except OSError as exc:
                why = os_reason(exc)
                raise StorageError(f"cannot write to the library folder {self.folder}: {why}") from exc
            try:
                locked = _lock(fd)
            except OSError:
                os.close(fd)
                raise
            if not locked:
                os.close(fd)
                return None
            now = time.time()
            _write_record(fd, Holder(os.getpid(), self.command, self.role, socket.gethostname(), now))
            _held[key] = _Held(fd, 1, now)
            self._mine, self.first = True, True
            return True


def _write_record(fd: int, holder: Holder) -> None:
    data = (json.dumps(asdict(holder)) + "\n").encode("utf-8")
    with contextlib.suppress(OSError):  # the lock holds even if the record cannot be written
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, data)


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> bool:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
