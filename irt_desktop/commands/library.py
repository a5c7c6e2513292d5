"""`irt-desktop index | search | status | duplicates`: the photo library from the command line.

Thin over irt_desktop.library.Library, which does the work; this module only parses and prints.

Writers and readers (library/lock.py): `index` holds the library's writer lock while it runs. Another
writer has it: `index` exits 1 at once with "library in use by pid N (...)", or waits with --wait; when
the holder is the desktop application, `index FOLDER...` hands the folders to it (the single-instance
channel) and exits 0 instead. `search`, `status` and `duplicates` open the library read-only: no lock,
no waiting, and a folder without a library is refused (exit 2), never created.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import queue
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from irt_desktop.commands import CommandError, OperationFailed

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="add folders to the library and index them (or re-index all folders)")
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="folders to add (default: none)")
    p.add_argument(
        "--watch", action="store_true", help="keep watching the folders for changes (Ctrl-C stops)"
    )
    p.add_argument("--model", metavar="BUNDLE_OR_ID", help="model bundle folder or installed id to use")
    p.add_argument("--no-recursive", action="store_true", help="do not descend into sub-folders")
    p.add_argument("--network", action="store_true", help="the folders are network mounts (polled)")
    p.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="follow symbolic links inside the folders given (loops are detected); by default they are "
        "skipped and listed by `status --failures`",
    )
    p.add_argument("--batch-size", type=int, default=None, help="images per model batch")
    p.add_argument(
        "--wait",
        nargs="?",
        type=float,
        const=math.inf,
        default=0.0,
        metavar="SECONDS",
        help="if another process is writing the library, wait for it (for SECONDS at most) instead of "
        "exiting at once",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="skip files and folders matching PATTERN from now on (repeatable; kept in the library): a name "
        "glob such as '*_draft.jpg' or 'Private', 'Screenshots/' for folders only, or a path inside the "
        "folder such as '2019/raw' or '**/cache/**'; photos already indexed that match leave the results",
    )
    p.add_argument("--clear-excludes", action="store_true", help="forget the stored exclude patterns first")
    p.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:N, mps or auto (default: auto, or $IRT_DEVICE)"
    )
    p.add_argument("--fp32", action="store_true", help="no bf16/fp16 autocast, even where it is fast")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=run_index)

    s = sub.add_parser("search", help="find the library's photos most like IMAGE")
    s.add_argument("image", type=Path, metavar="IMAGE")
    s.add_argument("-k", type=int, default=20, help="number of results (default 20)")
    s.add_argument("--min-score", type=float, default=None, help="leave out results scoring below this")
    s.add_argument("--root", type=int, action="append", default=None, help="only this folder id (repeatable)")
    s.add_argument("--exclude-self", action="store_true", help="leave IMAGE itself out if it is indexed")
    s.add_argument("--json", action="store_true", help="print results as JSON")
    s.set_defaults(handler=run_search)

    st = sub.add_parser("status", help="folders, counts, the model and files that could not be read")
    st.add_argument("--json", action="store_true")
    st.add_argument("--failures", action="store_true", help="list files that could not be read, with why")
    st.set_defaults(handler=run_status)

    d = sub.add_parser("duplicates", help="exact copies and near-duplicate groups")
    d.add_argument(
        "--threshold", type=float, default=None, help="near-copy score threshold (default: calibrated)"
    )
    d.add_argument("--json", action="store_true")
    d.add_argument(
        "--keep-folder", action="append", default=[], metavar="FOLDER", help="always keep copies here"
    )
    d.add_argument(
        "--rotations", action=argparse.BooleanOptionalAction, default=None, help="rotated/mirrored"
    )
    d.add_argument("--recalibrate", action="store_true", help="derive the threshold again for this model")
    d.set_defaults(handler=run_duplicates)


def _open(args: argparse.Namespace, *, write: bool = False, wait_s: float = 0.0):
    """The library of --library: read-only for the reading commands, as the writer for `index`."""
    from irt_desktop.library import Library

    options = {"device": getattr(args, "device", None), "low_precision": not getattr(args, "fp32", False)}
    if not write:
        return Library.open(args.library, read_only=True, **options)
    return Library.open(args.library, role=args.command, wait_s=wait_s, on_wait=_say_waiting, **options)


def _say_waiting(holder) -> None:
    from irt_desktop.library.lock import busy_message

    print(f"irt-desktop: {busy_message(holder)}; waiting for it to finish", file=sys.stderr, flush=True)


def command_error(exc: BaseException) -> CommandError | None:
    """The CLI's one line and exit status for a library failure (None: not one of ours). Library errors
    that are bad input exit 2; those of a library that cannot do it now (in use, damaged, read-only,
    disk full) and broken model bundles exit 1."""
    from irt_desktop.library.catalog.health import translate
    from irt_desktop.library.errors import LibraryError, LibraryUnavailable
    from irt_desktop.retrieval.bundle import BundleError

    if isinstance(exc, CommandError):
        return exc
    exc = translate(exc) or exc  # sqlite3 errors: disk full, read-only, damaged
    if isinstance(exc, LibraryUnavailable | BundleError):
        return OperationFailed(str(exc))
    if isinstance(exc, LibraryError):
        return CommandError(str(exc))
    return None


@contextlib.contextmanager
def library_errors():
    """Library failures inside the block leave it as CommandErrors (see command_error)."""
    try:
        yield
    except Exception as exc:
        error = command_error(exc)
        if error is None or error is exc:
            raise
        raise error from exc


def _check_index_args(args: argparse.Namespace) -> None:
    if args.batch_size is not None and args.batch_size <= 0:
        raise CommandError(f"--batch-size must be a positive number of images, not {args.batch_size}")
    if math.isnan(args.wait) or args.wait < 0:
        raise CommandError(f"--wait takes a number of seconds (0 or more), not {args.wait}")


def run_index(args: argparse.Namespace) -> int:
    _check_index_args(args)
    with library_errors():
        lib = _open_for_index(args)
        if lib is None:
            return 0  # handed over to the desktop application
        with lib:
            return _index(args, lib)


def _open_for_index(args: argparse.Namespace):
    """The library as the writer; None when the folders went to the desktop application instead."""
    from irt_desktop.library.errors import LibraryBusy

    try:
        return _open(args, write=True)
    except LibraryBusy as busy:
        holder = busy.holder
        in_app = getattr(holder, "is_gui", False)
        if in_app and _can_hand_over(args) and _hand_over(args, holder):
            return None
        if not args.wait:
            if in_app:
                raise OperationFailed(
                    f"{busy}: the desktop application has it open and keeps it indexed "
                    f"(`irt-desktop index FOLDER` hands it new folders)"
                ) from busy
            raise
    return _open(args, write=True, wait_s=args.wait)


def _can_hand_over(args: argparse.Namespace) -> bool:
    """Only adding folders can go to the app: the other options change how this process indexes."""
    return bool(args.paths) and not (
        args.model or args.exclude or args.clear_excludes or args.batch_size or args.device or args.fp32
    )


def _hand_over(args: argparse.Namespace, holder) -> bool:
    """Send the folders to the desktop application that has the library open; False if it did not answer."""
    for path in args.paths:
        if not path.is_dir():
            raise CommandError(f"{path} is not a folder (or is not reachable now)")
    folders = [p.expanduser().absolute() for p in args.paths]
    try:
        from irt_desktop.gui.single_instance import hand_over_folders
    except ImportError:  # no Qt here: then there is no window to hand them to either
        return False
    if not hand_over_folders(
        args.library, folders, recursive=not args.no_recursive, network=args.network
    ):
        return False
    if args.json:
        print(json.dumps({"handed_over_to": holder.pid, "folders": [str(f) for f in folders]}, indent=2))
    else:
        print(
            f"the library is open in irt-desktop (pid {holder.pid}): handed it "
            f"{', '.join(str(f) for f in folders)} to index"
        )
    return True


def _index(args: argparse.Namespace, lib) -> int:
    from irt_desktop.paths import models_dir
    from irt_desktop.retrieval.bundle import find_bundle

    if args.batch_size:
        lib.pipeline_config.batch_size = args.batch_size
    if args.clear_excludes or args.exclude:
        kept = [] if args.clear_excludes else lib.exclude_patterns
        lib.set_exclude_patterns(kept + args.exclude)
        if not args.json:
            shown = ", ".join(lib.exclude_patterns) or "none"
            print(f"exclude patterns: {shown}", file=sys.stderr)
    if args.model:
        lib.activate_model(find_bundle(models_dir(args.library), args.model))
    for path in args.paths:
        root = lib.add_root(
            path, recursive=not args.no_recursive, network=args.network, follow_symlinks=args.follow_symlinks
        )
        if not args.json:
            print(f"folder {root.id}: {root.path}", file=sys.stderr)
    if not lib.roots():
        raise CommandError("the library has no folders yet: `irt-desktop index FOLDER`")
    report = lib.index(progress=_Progress() if sys.stderr.isatty() and not args.json else None)
    if args.json:
        print(json.dumps(_report_json(report, lib), indent=2))
    else:
        _print_report(report, lib)
    if args.watch:
        _watch(lib)
    return 0


def _watch(lib) -> None:
    def changed(report) -> None:
        s = report.scan
        print(
            f"{time.strftime('%H:%M:%S')} new {s.new}, changed {s.changed}, moved {s.moved}, "
            f"deleted {s.deleted}, embedded {report.embedded}, failed {report.failed}",
            flush=True,
        )

    def failed(exc: BaseException) -> None:
        print(f"irt-desktop: update failed: {exc}", file=sys.stderr, flush=True)

    loop = WatchLoop(lib, on_report=changed, on_error=failed, reconcile=False)
    loop.start()  # watches are in place before the line says so (a change from then on is seen)
    print("watching for changes; Ctrl-C stops", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(1)
    finally:
        # Ctrl-C or SIGTERM (cli.py makes both a KeyboardInterrupt, which goes on to exit 130): stop the
        # loop and save the FAISS index; a second signal meanwhile must not cut that short.
        with _signals_deferred():
            loop.stop()


@contextlib.contextmanager
def _signals_deferred():
    """SIGINT and SIGTERM wait until the block is done (main thread only; elsewhere a no-op)."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    old = {sig: signal.signal(sig, lambda n, _f: caught.append(n)) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


class WatchLoop:
    """`index --watch`: the library's watcher reports settled paths into a queue, and this loop's own
    thread indexes them with `library.update()` (batches that arrive during an update are merged into
    the next one). The watcher itself never indexes.

    `runs` counts finished updates; `idle()` is true when nothing is queued, reported or running."""

    def __init__(
        self,
        library,
        on_report: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        **watch_options: Any,
    ) -> None:
        self.library = library
        self.on_report = on_report
        self.on_error = on_error
        self.runs = 0
        self._queue: queue.Queue[list[str]] = queue.Queue()
        self._outstanding = 0  # batches reported and not yet indexed
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.watcher = library.watch(on_paths=self._receive, on_error=on_error, **watch_options)

    @property
    def watched_roots(self) -> dict[int, str]:
        return self.watcher.watched_roots

    def idle(self) -> bool:
        with self._lock:
            return self._outstanding == 0 and self.watcher.idle.is_set()

    def start(self) -> WatchLoop:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="irt-watch-index", daemon=True)
            self._thread.start()
            self.watcher.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop watching, let a running update end at its next batch, and save the FAISS index."""
        self._stop.set()  # also cancels a running update at its next batch
        self.watcher.stop(timeout)
        if self._thread is not None:
            self._queue.put([])  # wakes the loop
            self._thread.join(timeout)
            self._thread = None
            cache = getattr(self.library, "vector_cache", None)
            try:
                if cache is not None:
                    cache.save(force=True)
            except Exception as exc:  # reported, not raised: the caller is on its way out
                log.warning("could not save the vector index: %s", exc)
                if self.on_error is not None:
                    self.on_error(exc)

    def __enter__(self) -> WatchLoop:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _receive(self, paths: list[str]) -> None:  # on the watcher's thread
        with self._lock:
            self._outstanding += 1
        self._queue.put(list(paths))

    def _run(self) -> None:
        while not self._stop.is_set():
            items = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while True:  # merge what else arrived meanwhile: one update, one scan
                    items.append(self._queue.get_nowait())
            batch = sorted({p for item in items for p in item})
            try:
                if batch and not self._stop.is_set():
                    report = self.library.update(batch, cancel=self._stop)
                    self.runs += 1
                    if self.on_report is not None:
                        self.on_report(report)
            except Exception as exc:  # the loop must outlive one bad update
                log.exception("watched update failed")
                if self.on_error is not None:
                    self.on_error(exc)
            finally:
                with self._lock:
                    self._outstanding -= sum(1 for item in items if item)  # stop()'s wake-up is empty


class _Progress:
    """One self-overwriting line on a terminal."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self, p) -> None:
        now = time.monotonic()
        if now - self.last < 0.2 and p.phase not in ("done", "load-model"):
            return
        self.last = now
        if p.phase == "scan":
            line = f"scanning: {p.done} photos found"
        elif p.phase == "embed":
            eta = f", {p.eta_s:.0f} s left" if p.eta_s is not None else ""
            line = f"indexing: {p.done}/{p.total} ({p.images_per_s:.1f}/s{eta})"
        else:
            line = {"load-model": "loading the model", "save": "saving", "done": ""}.get(p.phase, p.phase)
        print(f"\r\033[K{line}", end="" if p.phase != "done" else "\r\033[K", file=sys.stderr, flush=True)


def _print_report(report, lib) -> None:
    s = report.scan
    print(
        f"scanned {s.seen} photos: {s.new} new, {s.changed} changed, {s.moved} moved, {s.copied} copies, "
        f"{s.deleted} deleted, {s.unchanged} unchanged"
        + (f", {s.excluded} excluded by pattern" if s.excluded else "")
    )
    rate = f" ({report.images_per_s:.1f} images/s)" if report.embedded else ""
    print(f"embedded {report.embedded}{rate}, failed {report.failed}, pending {report.pending}")
    if s.offline_roots:
        print(f"offline folders (nothing removed): {', '.join(map(str, s.offline_roots))}")
    if s.held:
        print(f"unmounted or replaced drives (nothing removed under them): {', '.join(s.held)}")
    if s.skipped_names:
        print(f"names skipped: {s.skipped_names} (see `irt-desktop status --failures`)")
    if report.failed:
        print("files that could not be read: `irt-desktop status --failures`")
    if report.cancelled:
        print("cancelled: run `irt-desktop index` again to continue")


def _report_json(report, lib) -> dict[str, Any]:
    s = report.scan
    return {
        "seen": s.seen,
        "new": s.new,
        "changed": s.changed,
        "moved": s.moved,
        "copied": s.copied,
        "deleted": s.deleted,
        "unchanged": s.unchanged,
        "excluded": s.excluded,
        "offline_roots": s.offline_roots,
        "held": s.held,
        "skipped_names": s.skipped_names,
        "embedded": report.embedded,
        "failed": report.failed,
        "pending": report.pending,
        "cancelled": report.cancelled,
        "seconds": round(report.seconds, 3),
        "model_id": lib.model_id,
    }


def _hit_json(hit) -> dict[str, Any]:
    return {
        "image_id": hit.image_id,
        "path": str(hit.path),
        "score": round(float(hit.score), 6),
        "size": hit.size,
        "width": hit.width,
        "height": hit.height,
        "taken": hit.taken.isoformat() if hit.taken else None,
    }


def _check_search_args(args: argparse.Namespace) -> None:
    if args.k <= 0:
        raise CommandError(f"-k must be a positive number of results, not {args.k}")
    if args.min_score is not None and not (math.isfinite(args.min_score) and -1 <= args.min_score <= 1):
        raise CommandError(f"--min-score must be a score from -1 to 1, not {args.min_score}")


def run_search(args: argparse.Namespace) -> int:
    _check_search_args(args)
    with library_errors(), _open(args) as lib:
        if args.root:
            known = {r.id for r in lib.roots()}
            unknown = [r for r in args.root if r not in known]
            if unknown:
                raise CommandError(
                    f"no folder with id {unknown[0]} in this library (`irt-desktop status` lists them)"
                )
        hits = lib.search(
            args.image,
            k=args.k,
            roots=args.root,
            min_score=args.min_score,
            exclude_self=args.exclude_self,
        )
    if args.json:
        print(json.dumps([_hit_json(h) for h in hits], indent=2))
    else:
        for h in hits:
            print(f"{h.score:.4f}  {h.path}")
        if not hits:
            print("no results", file=sys.stderr)
    return 0


def run_status(args: argparse.Namespace) -> int:
    with library_errors(), _open(args) as lib:
        status = lib.status()
        failures = lib.failures() if args.failures else []
        skipped = lib.skipped() if args.failures else []
        excludes = lib.exclude_patterns
    roots = [
        {
            "id": r.id,
            "path": str(r.path),
            "status": r.status,
            "n_images": r.n_images,
            "n_failed": r.n_failed,
            "n_pending": r.n_pending,
            "recursive": r.recursive,
            "network": r.network,
        }
        for r in status.roots
    ]
    if args.json:
        out = {
            "library": str(args.library),
            "n_images": status.n_images,
            "n_indexed": status.n_indexed,
            "n_pending": status.n_pending,
            "n_failed": status.n_failed,
            "model_id": status.model_id,
            "target_model_id": status.target_model_id,
            "exclude_patterns": excludes,
            "roots": roots,
        }
        if args.failures:
            out["failures"] = [
                {
                    "path": str(f.path),
                    "reason": f.reason,
                    "kind": str(f.kind),
                    "attempts": f.attempts,
                    "retry_at": f.retry_at.isoformat(timespec="seconds") if f.retry_at else None,
                }
                for f in failures
            ]
            out["skipped"] = _skipped_json(skipped)
        print(json.dumps(out, indent=2))
        return 0
    print(f"library: {args.library}")
    print(f"model: {status.model_id or 'none (see `irt-desktop models`)'}")
    if status.target_model_id:
        print(f"switching to: {status.target_model_id} ({status.n_pending} images left to embed)")
    print(
        f"images: {status.n_images}, indexed {status.n_indexed}, pending {status.n_pending}, "
        f"failed {status.n_failed}"
    )
    if excludes:
        print(f"exclude patterns: {', '.join(excludes)}")
    for r in roots:
        print(f"  [{r['id']}] {r['path']}  {r['status']}  ({r['n_images']} images, {r['n_failed']} failed)")
    for f in failures:
        print(f"  failed ({_failure_kind(f)}): {f.path}: {f.reason}")
    _print_skipped(skipped)
    return 0


def _failure_kind(f) -> str:
    """'permanent', or for a transient failure when the next scan tries it again."""
    from datetime import datetime

    if f.kind != "transient":
        return "permanent, tried again when the file changes"
    tries = f"{f.attempts} failed attempt{'s' if f.attempts != 1 else ''}"
    if f.retry_at is None or f.retry_at <= datetime.now():
        return f"transient, {tries}, tried again at the next scan"
    when = f.retry_at.strftime("%H:%M" if f.retry_at.date() == datetime.now().date() else "%Y-%m-%d %H:%M")
    return f"transient, {tries}, tried again by a scan after {when}"


def _skipped_json(skipped) -> list[dict[str, Any]]:
    return [{"path": s.path, "reason": s.reason, "root_id": s.root_id} for s in skipped]


def _print_skipped(skipped) -> None:
    """The names scans left out (`status --failures`), after the files that could not be read."""
    if not skipped:
        return
    print(f"skipped: {len(skipped)} names the scans left out")
    for s in skipped:
        print(f"  skipped: {s.path}: {s.reason}")


def run_duplicates(args: argparse.Namespace) -> int:
    if args.threshold is not None and not 0 < args.threshold <= 1:
        raise CommandError(f"--threshold must be a score above 0 and at most 1, not {args.threshold}")
    with library_errors(), _open(args) as lib:
        report = lib.duplicates(
            args.threshold,
            keep_folders=args.keep_folder or None,
            rotations=args.rotations,
            recalibrate=args.recalibrate,
        )

    def member(m, n, g):
        return {
            "image_id": m.id,
            "path": str(m.path),
            "folder": str(m.path.parent),
            "size": m.size,
            "width": m.width,
            "height": m.height,
            "taken": m.taken.isoformat() if m.taken else None,
            "keep": n == 0,
            "score": round(g.scores[n], 5) if n < len(g.scores) else None,
            "how": (g.how[n] if n < len(g.how) else "") or None,
            "paired_with": str(g.paired[n]) if n < len(g.paired) and g.paired[n] else None,
        }

    def group(g):
        return {
            "kind": g.kind,
            "keep_reason": g.keep_reason,
            "members": [member(m, n, g) for n, m in enumerate(g.members)],
        }

    cal = report.calibration
    if args.json:
        groups = [group(g) for g in report.groups]
        out = {
            "threshold": report.threshold,
            "calibration": None
            if cal is None
            else {"threshold": cal.threshold, "how": cal.how, "sample": cal.sample, "model_id": cal.model_id},
            "rotations_checked": report.rotations_checked,
            "keep_folders": report.keep_folders,
            "lookalike_threshold": report.lookalike_threshold,
            "kinds": {k: [x for x in groups if x["kind"] == k] for k in ("exact", "near", "lookalike")},
            "groups": groups,
            "raw_pairs": [[str(m.path) for m in p] for p in report.pairs],
            # The plain lists of earlier versions (keeper first).
            "exact": [
                [{"image_id": m.id, "path": str(m.path), "size": m.size} for m in g] for g in report.exact
            ],
            "near": [
                [{"image_id": m.id, "path": str(m.path), "size": m.size} for m in g] for g in report.near
            ],
        }
        print(json.dumps(out, indent=2))
        return 0
    if cal is not None:
        print(f"threshold {report.threshold} (calibrated {cal.threshold}: {cal.how})")
    print(f"exact copies: {len(report.exact)} groups")
    for g in report.exact:
        print("  keep " + str(g[0].path) + "".join(f"\n    = {i.path}" for i in g[1:]))
    print(f"near duplicates (score >= {report.threshold}): {len(report.near)} groups")
    for g in report.near:
        print("  keep " + str(g[0].path) + "".join(f"\n    ~ {i.path}" for i in g[1:]))
    return 0
