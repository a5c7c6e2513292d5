"""A whole-library survey (library/survey.py) run in a child process at lowered priority.

Why: at 10^6 photos the rescan's walk and comparison are ~30 s of Python. In the window's process they
shared the GIL and the two cores with the GUI thread, and scrolling a result grid meanwhile had frames
over 50 ms; the same launch without the rescan had none over 20 ms. A child has a GIL of its own, runs
niced, and takes its ~600 MB of maps with it when it exits.

The child only reads: it opens the catalog read-only (WAL readers never block the writer) and sends back
the survey, its long lists in chunks so the parent never spends one long stretch unpickling. The parent
keeps the writer lock and applies the survey in its own transaction, as it would one made in-process.
Cancelling terminates the child, which wrote nothing. A child that cannot start or dies raises
SurveyFailed, and the scanner surveys in its own process instead.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from irt_desktop.library.excludes import ExcludeRules
from irt_desktop.library.folders import RootRow
from irt_desktop.library.survey import Diff, Survey, survey_roots
from irt_desktop.library.walk import SeenCallback

# At least this niceness: the survey is background work, the window's threads come first.
SURVEY_NICE = 10
# Items per message: unpickling 20,000 tuples takes the parent a few milliseconds of GIL.
CHUNK = 20_000
POLL_S = 0.1
SEEN_EVERY_S = 0.2
_LISTS = ("new", "changed", "reappeared", "missing", "gone", "retry")

# Spawned, not forked: a fork of a process with Qt, OpenVINO and decode threads can deadlock in the child.
_context = multiprocessing.get_context("spawn")


class SurveyFailed(Exception):
    pass


@dataclass(frozen=True)
class _Job:
    catalog: str
    roots: list[RootRow]
    exclude: tuple[str, ...]
    nice: int
    chunk: int
    parent: int  # the asking process: the child stops if it is gone (killed, not closed)


def survey_in_child(
    catalog_path: Path,
    roots: Sequence[RootRow],
    exclude: ExcludeRules,
    cancel: threading.Event | None = None,
    on_seen: SeenCallback | None = None,
    *,
    chunk: int = CHUNK,
) -> Survey | None:
    """The survey of `roots`, made in a child process; None if `cancel` was set meanwhile. `chunk`:
    list items per message."""
    nice = max(SURVEY_NICE, _thread_nice())
    job = _Job(str(catalog_path), list(roots), tuple(exclude.patterns), nice, max(1, chunk), os.getpid())
    receiving, sending = _context.Pipe(duplex=False)
    process = _context.Process(target=_child_main, args=(sending, job), name="irt-survey", daemon=True)
    try:
        process.start()
    except (OSError, RuntimeError) as exc:
        raise SurveyFailed(f"the scanning process did not start ({exc})") from exc
    finally:
        sending.close()
    try:
        return _receive(receiving, process, cancel, on_seen)
    finally:
        receiving.close()
        if process.is_alive():
            process.terminate()
        process.join(5)


def _receive(
    conn: Connection,
    process: Any,
    cancel: threading.Event | None,
    on_seen: SeenCallback | None,
) -> Survey | None:
    parts: dict[str, list] = {name: [] for name in _LISTS}
    while True:
        if cancel is not None and cancel.is_set():
            return None
        try:
            if not conn.poll(POLL_S):
                if not process.is_alive() and not conn.poll(0):
                    raise SurveyFailed(f"the scanning process ended early (exit code {process.exitcode})")
                continue
            kind, payload = conn.recv()
        except (EOFError, OSError) as exc:
            raise SurveyFailed(f"the scanning process ended early (exit code {process.exitcode})") from exc
        if kind == "seen":
            if on_seen is not None:
                on_seen(*payload)
        elif kind == "part":
            name, items = payload
            parts[name].extend(items)
        elif kind == "error":
            raise SurveyFailed(payload)
        else:
            survey: Survey = payload
            gone = set(parts.pop("gone"))
            survey.diff = Diff(**parts, gone=gone)
            return survey


def _thread_nice() -> int:
    """The calling thread's niceness (Linux applies nice per thread; the GUI lowers its workers')."""
    try:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    except (AttributeError, OSError):
        return 0


def _child_main(conn: Connection, job: _Job) -> None:
    try:
        nice = _lower_priority(job.nice)
        # A short-lived process of acyclic maps: reference counting frees them, the collector would only
        # walk them again and again as they grow.
        gc.disable()
        from irt_desktop.library.catalog import Catalog

        last = [0.0]

        def seen(n: int, path: str) -> None:
            now = time.monotonic()
            if now - last[0] >= SEEN_EVERY_S:
                last[0] = now
                if os.getppid() != job.parent:
                    raise SystemExit(0)  # nobody is waiting for this survey any more
                conn.send(("seen", (n, path)))

        catalog = Catalog(Path(job.catalog), read_only=True)
        try:
            survey = survey_roots(catalog, job.roots, ExcludeRules.of(job.exclude), None, seen)
        finally:
            catalog.close()
        survey.nice, survey.peak_rss_mb = nice, _peak_rss_mb()
        diff, survey.diff = survey.diff, Diff()
        for name in _LISTS:
            items = list(getattr(diff, name))
            for start in range(0, len(items), job.chunk):
                conn.send(("part", (name, items[start : start + job.chunk])))
        conn.send(("done", survey))
    except BaseException as exc:  # told to the parent, which scans in its own process instead
        with contextlib.suppress(OSError):
            conn.send(("error", f"the scanning process failed: {exc or type(exc).__name__}"))
    finally:
        conn.close()


def _lower_priority(nice: int) -> int | None:
    if not hasattr(os, "nice"):
        return None
    current = os.nice(0)
    if nice > current:
        current = os.nice(nice - current)
    return current


def _peak_rss_mb() -> float | None:
    # VmHWM, not getrusage: Linux carries ru_maxrss over exec, so a spawned child would report the
    # parent's peak (the window's ~800 MB) as its own.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024
