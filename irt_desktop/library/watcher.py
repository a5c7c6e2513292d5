"""Watching roots with watchdog: reports settled batches of changed paths, and does nothing else.

The watcher knows no Library and no catalog. It is given three callables: `roots()` (the folders to
watch, asked again when new ones may have appeared or an offline one may be back), `rules()` (the
exclude patterns; called on watchdog's event threads, so it must answer from memory) and `sink(paths)`
(receives each settled batch, on the watcher's own thread). Whoever composes it does the indexing: the
GUI's indexing worker, the CLI's `index --watch` loop (see Library.watch).

A photo being copied produces a burst of created/modified events; a path is reported only after it
has been quiet for `debounce_s` and its size and mtime held still across that wait, so it is indexed
once, complete. Roots marked as network mounts use a polling observer (inotify and friends do not see
changes made by other machines). With `reconcile`, the first batch is every root itself (a re-check of
each whole root catches what changed while the app was closed). Paths matching the exclude rules are
dropped as their events arrive.

Remounts: every `offline_retry_s`, and at once when Linux says the mount table changed, each root is
looked at again. One that went away (unplugged, unmounted, renamed) stops being watched and is reported
(the scan marks it offline); one that is back, or whose folder is another one now (another device or
inode: renamed away and a new folder put in its place, a drive mounted over it), or under which a mount
point came, went or changed, is watched afresh (events were lost meanwhile, and watches on an unmounted
file system are gone) and reported for one rescan: the root, or the mount points that changed. A root
the catalog says is offline while its folder is there (it went away and came back between two looks)
is reported too, at most every OFFLINE_RECHECK looks.

Threads: start(), stop() and watch_new_roots() from any thread; `roots()` is called on the caller's
thread (start, watch_new_roots), on the watcher's own and on its looking thread (the periodic looks at
the roots, apart so that a stat hanging on a dead network mount holds up no report); `sink` only on the
watcher's own thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

import irt_desktop.library.mounts as mounts
from irt_desktop.images import is_image_path
from irt_desktop.library.excludes import ExcludeRules
from irt_desktop.library.folders import RootRow, is_junk_name

log = logging.getLogger(__name__)

_IGNORED_EVENTS = frozenset({"opened", "closed_no_write"})
# What the watches ask the kernel for. Without a filter inotify also reports every open and every
# read-only close, so the library's own reads (indexing decodes each photo, thumbnails) flooded the
# event queue: at 10^6 photos it overflowed 21 times in one session, and each overflow re-walks the
# whole tree.
WATCHED_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileClosedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]
# A root the catalog has offline while its folder is there is reported again after this many looks.
OFFLINE_RECHECK = 10

# Receives settled paths (files or folders, as str); runs on the watcher's thread.
PathsCallback = Callable[[list[str]], None]
RootsSource = Callable[[], Sequence[RootRow]]
RulesSource = Callable[[], ExcludeRules]


@dataclass
class _Seen:
    """A root's folder and the mount points under it, as last looked at: (device, inode) each."""

    folder: tuple[int, int] | None
    mounts: dict[str, tuple[int, int]] = field(default_factory=dict)


def _look(root: RootRow, probe: mounts.Probe) -> _Seen:
    found = probe.identity(root.path)
    if found is None:
        return _Seen(None)
    seen = _Seen((found.device, found.inode))
    if root.recursive:
        for path in probe.mounts_under(root.path):
            inner = probe.identity(path)
            if inner is not None:
                seen.mounts[path] = (inner.device, inner.inode)
    return seen


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher, root: str) -> None:
        self.watcher = watcher
        self.root = root

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in _IGNORED_EVENTS:
            return
        if event.is_directory and event.event_type == "modified":
            # A folder's entries changed: they have events of their own. Re-walking the whole folder
            # for each photo copied into it would cost a full listing per file.
            return
        paths = [event.src_path]
        dest = getattr(event, "dest_path", "")
        if dest:
            paths.append(dest)
        for p in paths:
            p = os.fsdecode(p)
            name = os.path.basename(p)
            # Folders matter (a moved folder moves its photos); other non-image files do not.
            if is_junk_name(name) or not (
                event.is_directory or is_image_path(name) or not os.path.splitext(name)[1]
            ):
                continue
            if self.watcher.rules().excludes_path(p, self.root, event.is_directory):
                continue
            self.watcher.touch(p)


class Watcher:
    def __init__(
        self,
        roots: RootsSource,
        rules: RulesSource,
        sink: PathsCallback,
        *,
        debounce_s: float = 2.0,
        poll_interval_s: float = 10.0,
        offline_retry_s: float = 30.0,
        reconcile: bool = True,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.roots = roots
        self.rules = rules
        self.sink = sink
        self.on_error = on_error
        self.debounce_s = debounce_s
        self.poll_interval_s = poll_interval_s
        self.offline_retry_s = offline_retry_s
        self.reconcile = reconcile
        self._dirty: dict[str, tuple[float, tuple[int, int] | None]] = {}
        self._dirty_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._observers: list = []
        self._watched: dict[int, str] = {}  # root id -> 'native' | 'polling'
        self._handles: dict[int, tuple[object, object]] = {}  # root id -> (observer, watch)
        self._seen: dict[int, _Seen] = {}  # root id -> its folder and mounts when it was scheduled
        self._offline_looks: dict[int, int] = {}  # root id -> looks since it was last reported offline
        self._mount_events: mounts.MountEvents | None = None
        self._network_roots: set[str] = set()
        self._schedule_lock = threading.Lock()  # the watcher's thread and add_root's caller both schedule
        self._thread: threading.Thread | None = None
        self._looker: threading.Thread | None = None  # looks at the roots again (_look_loop)
        self.idle = threading.Event()  # set while nothing is queued or being reported
        self.runs = 0  # batches of paths reported

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> Watcher:
        if self._thread is not None:
            return self
        self._stop.clear()
        self._mount_events = mounts.MountEvents()
        self._schedule_roots()
        self._thread = threading.Thread(target=self._run, name="irt-watcher", daemon=True)
        self._thread.start()
        # Its own thread: a stat that hangs on a dead network mount must not hold up the reporting.
        self._looker = threading.Thread(target=self._look_loop, name="irt-watcher-looks", daemon=True)
        self._looker.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        with self._schedule_lock:  # no look at the roots schedules anything on a stopping observer
            for obs in self._observers:
                with contextlib.suppress(Exception):
                    obs.stop()
            for obs in self._observers:
                with contextlib.suppress(Exception):
                    obs.join(timeout)
            self._observers.clear()
            self._watched.clear()
            self._handles.clear()
            self._seen.clear()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._looker is not None:
            self._looker.join(min(timeout, 2.0))  # it may be stuck on a dead mount; it is a daemon
            self._looker = None
        if self._mount_events is not None:
            self._mount_events.close()
            self._mount_events = None

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def watched_roots(self) -> dict[int, str]:
        return dict(self._watched)

    def watch_new_roots(self) -> None:
        """Start watching roots added since start() now (whoever adds a root calls it), not at the next
        offline retry."""
        if self._thread is not None and not self._stop.is_set():
            self._schedule_roots()

    # -- events ----------------------------------------------------------------------------------------

    def touch(self, path: str) -> None:
        """Queue `path` (file or folder) to be re-checked once it has been quiet for the debounce time."""
        with self._dirty_lock:
            self._dirty[path] = (time.monotonic(), _stat_key(path))
            self.idle.clear()
        self._wake.set()

    def _schedule_roots(self) -> None:
        with self._schedule_lock:
            self._schedule_new_roots()

    def _schedule_new_roots(self) -> None:
        """Watch the roots not watched yet whose folder is there."""
        probe = mounts.new_probe()
        for root in self.roots():
            if root.id in self._watched or not os.path.isdir(root.path):
                continue
            self._schedule(root, _look(root, probe))

    def _schedule(self, root: RootRow, seen: _Seen) -> None:
        """Watch `root`; `seen`: its folder and mounts, looked at just before (later changes: next look)."""
        native = next((o for o in self._observers if not isinstance(o, PollingObserver)), None)
        polling = next((o for o in self._observers if isinstance(o, PollingObserver)), None)
        kind = "polling" if root.network else "native"
        handler = _Handler(self, root.path)
        try:
            if kind == "native":
                native = native or self._observer("native")
                observer, watch = (
                    native,
                    native.schedule(
                        handler, root.path, recursive=root.recursive, event_filter=WATCHED_EVENTS
                    ),
                )
            else:
                polling = polling or self._observer("polling")
                observer, watch = (
                    polling,
                    polling.schedule(
                        handler, root.path, recursive=root.recursive, event_filter=WATCHED_EVENTS
                    ),
                )
                self._network_roots.add(root.path)
        except OSError as exc:
            # e.g. the inotify watch limit: fall back to polling rather than not watching at all
            log.warning("native watching of %s failed (%s); polling instead", root.path, exc)
            polling = polling or self._observer("polling")
            observer, watch = (
                polling,
                polling.schedule(handler, root.path, recursive=root.recursive, event_filter=WATCHED_EVENTS),
            )
            self._network_roots.add(root.path)
            kind = "polling"
        self._watched[root.id] = kind
        self._handles[root.id] = (observer, watch)
        self._seen[root.id] = seen

    def _unschedule(self, root_id: int) -> None:
        self._watched.pop(root_id, None)
        self._seen.pop(root_id, None)
        handle = self._handles.pop(root_id, None)
        if handle is not None:
            observer, watch = handle
            with contextlib.suppress(Exception):  # its emitter may have stopped already (folder deleted)
                observer.unschedule(watch)  # type: ignore[attr-defined]

    def _observer(self, kind: str):
        obs = Observer() if kind == "native" else PollingObserver(timeout=self.poll_interval_s)
        obs.daemon = True
        obs.start()
        self._observers.append(obs)
        return obs

    def _quiet_time(self, path: str) -> float:
        # A polling observer notices a growing file only once per poll: wait longer than one poll.
        if any(path.startswith(r) for r in self._network_roots):
            return max(self.debounce_s, 2 * self.poll_interval_s)
        return self.debounce_s

    def _take_ready(self) -> list[str]:
        now = time.monotonic()
        ready = []
        with self._dirty_lock:
            for path, (stamp, key) in list(self._dirty.items()):
                if now - stamp < self._quiet_time(path):
                    continue
                current = _stat_key(path)
                if current != key:  # still being written without telling us: wait another round
                    self._dirty[path] = (now, current)
                    continue
                ready.append(path)
                del self._dirty[path]
        return ready

    # -- worker ----------------------------------------------------------------------------------------

    def _run(self) -> None:
        if self.reconcile:
            # A re-check of each whole root is the reconciliation scan, run by the sink's owner.
            self._report([r.path for r in self._current_roots()])
        while not self._stop.is_set():
            self._wake.wait(timeout=min(0.25, self.debounce_s / 2 or 0.05))
            self._wake.clear()
            if self._stop.is_set():
                break
            ready = self._take_ready()
            if ready:
                self._report(ready)
            with self._dirty_lock:
                if not self._dirty:
                    self.idle.set()

    def _report(self, paths: list[str]) -> None:
        if not paths:
            return
        try:
            self.sink(paths)
            self.runs += 1
        except Exception as exc:  # a failing receiver must not end the watching
            log.exception("watcher callback failed")
            if self.on_error is not None:
                self.on_error(exc)

    def _current_roots(self) -> Sequence[RootRow]:
        try:
            return self.roots()
        except Exception as exc:  # e.g. the library closing under us: report, keep the thread alive
            log.warning("watcher could not list the roots: %s", exc)
            if self.on_error is not None:
                self.on_error(exc)
            return []

    def _look_loop(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(0.25):
            events = self._mount_events
            if (events is not None and events.changed()) or time.monotonic() - last > self.offline_retry_s:
                last = time.monotonic()
                self._look_again()

    def _look_again(self) -> None:
        """Re-attach roots that went away and came back, or changed under the watch (module doc)."""
        roots = self._current_roots()
        probe = mounts.new_probe()
        looks = {root.id: _look(root, probe) for root in roots}  # the disk I/O, outside the lock
        changed: list[str] = []
        with self._schedule_lock:
            if self._stop.is_set():
                return
            for root in roots:
                try:
                    changed += self._look_at(root, looks[root.id])
                except Exception as exc:  # one root's trouble must not end the watching of the others
                    log.warning("watcher could not look at %s again: %s", root.path, exc)
            listed = {r.id for r in roots}
            for root_id in [i for i in self._watched if i not in listed] if roots else []:
                self._unschedule(root_id)  # removed from the library
        for path in changed:
            self.touch(path)

    def _look_at(self, root: RootRow, now: _Seen) -> list[str]:
        """What to report for `root`, as it is `now` (rescheduling its watch where needed)."""
        if root.id not in self._watched:
            if now.folder is None:
                return []
            self._schedule(root, now)  # back (or there for the first time): watched, rescanned
            self._offline_looks.pop(root.id, None)
            return [root.path]
        before = self._seen.get(root.id)
        if now.folder is None:
            self._unschedule(root.id)  # gone: the rescan marks it offline; watched again once back
            return [root.path]
        if before is not None and now.folder != before.folder:
            self._unschedule(root.id)  # another folder (or drive) at its path: watch that one
            self._schedule(root, now)
            return [root.path]
        if before is not None and now.mounts != before.mounts:
            self._unschedule(root.id)  # watches on an unmounted file system are gone; a new one has none
            self._schedule(root, now)
            moved = set(before.mounts.items()) ^ set(now.mounts.items())
            return sorted({path for path, _ in moved})
        if root.online:
            self._offline_looks.pop(root.id, None)
            return []
        looks = self._offline_looks.get(root.id)
        if looks is None or looks >= OFFLINE_RECHECK:
            self._offline_looks[root.id] = 0  # away and back between two looks: rescan it
            return [root.path]
        self._offline_looks[root.id] = looks + 1
        return []


def _stat_key(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns
