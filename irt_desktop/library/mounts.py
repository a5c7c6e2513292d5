"""Mount points: telling an unmounted, offline or replaced file system from photos that were deleted.

A scan soft-deletes the catalogued files it did not find. That is right when the user deleted them and
wrong when their folder is a mount point whose drive is not there: unmounted (leaving the empty mount-
point folder, perhaps with a stray photo in it), offline, or another drive in its place. So the catalog
remembers, per root, each file system a scan saw: the root's own and every mount point's under it
(device id, the folder's inode, whether it was a mount point: a MountRecord). Before a scan takes
anything for deleted, `MountGuard` judges each against what is there now:

- not reachable: held (nothing under it is taken for deleted);
- not the file system remembered (another device or root inode; a mount point that is a plain folder
  now; a folder that has become a mount point): held while it holds fewer than half of the photos
  catalogued under it (an unmounted mount point, a stray photo, another card); with most of them there
  it is the same one remounted (network and FUSE mounts get a new device id each time): remembered anew;
- the same file system, a mount point holding far fewer photos than catalogued (under a tenth, of at
  least FEW_MIN): held, for at most HOLD_RELEASE_S, after which the deletions are believed;
- otherwise: remembered as seen now.

A held file system is away (`away_since`): the rows soft-deleted under it are kept past the usual
retention until it is back (Catalog.purge_deleted_unless_away). New files in a held folder are still
indexed; only deletions wait.

Mount points are found by device ids (a folder on another device than its parent: the walk sees that at
no extra cost) and, on Linux, in /proc/self/mountinfo (bind mounts of one file system keep its device id).
`MountEvents` lets the watcher hear of mounts and unmounts at once on Linux; elsewhere it polls.

Knows no catalog (the watcher uses it too): the scanner reads and writes the records. Tests replace the
probe of what is on disk through `new_probe`.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from irt_desktop.library.folders import MountRecord, is_under

# Another file system than remembered holding fewer than this share of the photos catalogued under it
# is not taken for the same one.
FEW_IF_CHANGED = 0.5
# The same file system holding fewer than this share (of at least FEW_MIN photos) looks like a different
# card in the same reader, or a mount gone wrong, more than like a deliberate mass deletion...
FEW_IF_SAME = 0.1
FEW_MIN = 20
# ...but after this long in that state, the deletions are believed.
HOLD_RELEASE_S = 7 * 24 * 3600.0

MOUNTINFO = "/proc/self/mountinfo"


@dataclass(frozen=True)
class Identity:
    """A folder's file system as it is now."""

    device: int
    inode: int
    mount: bool


class Probe:
    """What is on disk now. The mount table is read once per probe (one probe per scan)."""

    def __init__(self) -> None:
        self._table: frozenset[str] | None = None

    def mount_table(self) -> frozenset[str]:
        if self._table is None:
            self._table = frozenset(read_mount_points())
        return self._table

    def identity(self, path: str) -> Identity | None:
        """None when `path` is not a reachable folder."""
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            return None
        if not stat.S_ISDIR(st.st_mode):
            return None
        return Identity(st.st_dev, st.st_ino, self._is_mount(path, st))

    def _is_mount(self, path: str, st: os.stat_result) -> bool:
        if path in self.mount_table():
            return True
        parent = os.path.dirname(path)
        if parent == path:
            return True
        try:
            return os.stat(parent).st_dev != st.st_dev
        except OSError:
            return False

    def mounts_under(self, folder: str) -> set[str]:
        """Mount points strictly inside `folder` that the mount table lists (empty where there is none)."""
        return {m for m in self.mount_table() if m != folder and is_under(m, folder)}


# Replaced by tests that fake mounts.
new_probe: Callable[[], Probe] = Probe


def read_mount_points(path: str = MOUNTINFO) -> list[str]:
    """The mount points of this process's mount namespace (Linux); [] where there is no such table."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    out = []
    for line in data.splitlines():
        fields = line.split(b" ")
        if len(fields) > 4:
            out.append(os.path.normcase(os.fsdecode(_unescape(fields[4]))))
    return out


def _unescape(raw: bytes) -> bytes:
    # The kernel writes space, tab, newline and backslash as \ooo octal escapes.
    return re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), raw)


class MountEvents:
    """Linux tells a reader of /proc/self/mountinfo that the mount table changed (POLLPRI): `changed()`
    answers without blocking. Elsewhere it is always False and callers rely on their periodic checks."""

    def __init__(self, path: str = MOUNTINFO) -> None:
        self._file = None
        self._poll = None
        if not hasattr(select, "poll"):
            return
        try:
            self._file = open(path, "rb")  # noqa: SIM115 (held open: the poll is on this file)
            self._file.read()
            self._poll = select.poll()
            self._poll.register(self._file.fileno(), select.POLLPRI | select.POLLERR)
        except OSError:
            self.close()

    def changed(self) -> bool:
        if self._poll is None or self._file is None:
            return False
        try:
            if not self._poll.poll(0):
                return False
            self._file.seek(0)
            self._file.read()  # re-arms the notification
        except OSError:
            return False
        return True

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        self._file = None
        self._poll = None


# -- the judgement ------------------------------------------------------------------------------------

HOLD = "hold"  # delete nothing under it
KEEP = "keep"  # as expected: remember what is there now


def judge(
    rec: MountRecord,
    now: Identity | None,
    present: int | None,
    catalogued: Callable[[bool], int],
    at: float,
) -> str:
    """HOLD or KEEP for one remembered file system. `present`: files the scan listed under it (None when
    only part of it was looked at); `catalogued(strict)`: the live rows under it (strict: only those the
    exclude patterns do not drop anyway; dearer, so asked only when the loose count says "few")."""
    if now is None:
        return HOLD
    changed = now.device != rec.device or now.mount != rec.mount or (rec.mount and now.inode != rec.inode)
    if present is None:
        return HOLD if changed else KEEP

    def few(share: float, minimum: int) -> bool:
        for strict in (False, True):
            n = catalogued(strict)
            if n < minimum or present >= n * share:
                return False
        return True

    if changed:
        return HOLD if few(FEW_IF_CHANGED, 1) else KEEP
    if rec.mount and few(FEW_IF_SAME, FEW_MIN):
        released = rec.away_since is not None and at - rec.away_since >= HOLD_RELEASE_S
        return KEEP if released else HOLD
    return KEEP


@dataclass
class Guarded:
    held: list[str]  # folders under which nothing may be taken for deleted
    keep: list[MountRecord]  # records to store (new or updated)
    drop: list[str]  # paths whose records go


class MountGuard:
    """One root's remembered file systems, judged against what is on disk now (see the module doc)."""

    def __init__(
        self,
        root: str,
        records: Sequence[MountRecord],
        *,
        recursive: bool = True,
        probe: Probe | None = None,
        excluded: Callable[[str], bool] | None = None,
    ) -> None:
        self.root = root
        self.records = {r.path: r for r in records}
        self.recursive = recursive
        self.probe = probe or new_probe()
        self.excluded = excluded

    def check(
        self,
        files: Iterable[str],
        live: Iterable[str],
        found: Iterable[str] = (),
        regions: Sequence[str] | None = None,
        at: float = 0.0,
    ) -> Guarded:
        """Judge every file system that matters to this scan.

        `files`: the paths the scan listed; `live`: the catalogued live paths it compared them with;
        `found`: folders the walk saw on another device than their parent;
        `regions`: the folders or files the scan covered (None: the whole root)."""
        whole_root = regions is None or self.root in regions
        candidates = {self.root}
        if self.recursive:
            candidates |= {p for p in self.records if is_under(p, self.root)}
            new = set(found) | self.probe.mounts_under(self.root)
            candidates |= {p for p in new if self.excluded is None or not self.excluded(p)}
        judged: dict[str, tuple[MountRecord, Identity | None, bool]] = {}
        for path in sorted(candidates):
            whole = whole_root or any(is_under(path, r) for r in regions or ())
            if not (whole or any(is_under(r, path) for r in regions or ())):
                continue  # nothing this scan looked at is in it
            now = self.probe.identity(path)
            rec = self.records.get(path)
            if rec is None:
                if now is None:
                    continue  # a mount table entry that is not a folder (a bind-mounted file)
                if path != self.root and not now.mount:
                    continue  # a plain folder: nothing to remember
                # Not seen before: compared with what the catalog has under it, as a plain folder of
                # the file system around it (the first scan of a root: as what it is).
                outer = self._outer(path, judged)
                rec = (
                    MountRecord(path, now.device, now.inode, now.mount)
                    if outer is None
                    else MountRecord(path, outer.device, 0, False)
                )
            judged[path] = (rec, now, whole)
        return self._verdicts(judged, list(files), list(live), at)

    def _outer(self, path: str, judged: Mapping[str, tuple[MountRecord, Identity | None, bool]]):
        best = None
        for other, (rec, _, _) in judged.items():
            if other != path and is_under(path, other) and (best is None or len(other) > len(best.path)):
                best = rec
        return best

    def _verdicts(
        self,
        judged: Mapping[str, tuple[MountRecord, Identity | None, bool]],
        files: list[str],
        live: list[str],
        at: float,
    ) -> Guarded:
        out = Guarded([], [], [])
        for path, (rec, now, whole) in judged.items():
            present = self._count(files, path) if whole else None

            def catalogued(strict: bool, path: str = path) -> int:
                if not strict or self.excluded is None:
                    return self._count(live, path)
                return sum(1 for p in live if is_under(p, path) and not self.excluded(p))

            verdict = judge(rec, now, present, catalogued, at)
            if verdict == HOLD:
                out.held.append(path)
                if whole:
                    out.keep.append(replace(rec, away_since=rec.away_since or at))
            elif whole and now is not None:
                if now.mount or path == self.root:
                    out.keep.append(MountRecord(path, now.device, now.inode, now.mount))
                elif path in self.records:
                    out.drop.append(path)  # a mount point no more, its photos here: a plain folder
        return out

    def _count(self, paths: list[str], folder: str) -> int:
        # Everything listed and catalogued is under the root: its count is the length.
        return len(paths) if folder == self.root else _count_under(paths, folder)


def _count_under(paths: list[str], folder: str) -> int:
    prefix = folder.rstrip(os.sep) + os.sep
    return sum(1 for p in paths if p.startswith(prefix) or p == folder)
