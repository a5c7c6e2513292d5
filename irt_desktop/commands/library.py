"""`irt-desktop index | search | status | duplicates`: the photo library from the command line.

Thin over irt_desktop.library.Library, which does the work; this module only parses and prints.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from irt_desktop.commands import CommandError

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
    d.add_argument("--threshold", type=float, default=0.95, help="near-duplicate score threshold (0.95)")
    d.add_argument("--json", action="store_true")
    d.set_defaults(handler=run_duplicates)


def _open(args: argparse.Namespace):
    from irt_desktop.library import Library, LibraryError

    try:
        return Library.open(
            args.library,
            device=getattr(args, "device", None),
            low_precision=not getattr(args, "fp32", False),
        )
    except LibraryError as exc:
        raise CommandError(str(exc)) from exc


def _library_errors():
    from irt_desktop.library import LibraryError
    from irt_desktop.retrieval.bundle import BundleError

    return (LibraryError, BundleError)


def run_index(args: argparse.Namespace) -> int:
    from irt_desktop.paths import models_dir
    from irt_desktop.retrieval.bundle import find_bundle

    with _open(args) as lib:
        try:
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
                    path,
                    recursive=not args.no_recursive,
                    network=args.network,
                    follow_symlinks=args.follow_symlinks,
                )
                if not args.json:
                    print(f"folder {root.id}: {root.path}", file=sys.stderr)
            if not lib.roots():
                raise CommandError("the library has no folders yet: `irt-desktop index FOLDER`")
            report = lib.index(progress=_Progress() if sys.stderr.isatty() and not args.json else None)
        except _library_errors() as exc:
            raise CommandError(str(exc)) from exc
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


def run_search(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        try:
            hits = lib.search(
                args.image,
                k=args.k,
                roots=args.root,
                min_score=args.min_score,
                exclude_self=args.exclude_self,
            )
        except _library_errors() as exc:
            raise CommandError(str(exc)) from exc
    if args.json:
        print(json.dumps([_hit_json(h) for h in hits], indent=2))
    else:
        for h in hits:
            print(f"{h.score:.4f}  {h.path}")
        if not hits:
            print("no results", file=sys.stderr)
    return 0


def run_status(args: argparse.Namespace) -> int:
    with _open(args) as lib:
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
            out["failures"] = [{"path": str(f.path), "reason": f.reason} for f in failures]
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
        print(f"  failed: {f.path}: {f.reason}")
    _print_skipped(skipped)
    return 0


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
    if not 0 < args.threshold <= 1:
        raise CommandError("--threshold must be in (0, 1]")
    with _open(args) as lib:
        try:
            report = lib.duplicates(args.threshold)
        except _library_errors() as exc:
            raise CommandError(str(exc)) from exc

    def group(g):
        return [{"image_id": i.id, "path": str(i.path), "size": i.size} for i in g]

    if args.json:
        out = {
            "threshold": report.threshold,
            "exact": [group(g) for g in report.exact],
            "near": [group(g) for g in report.near],
        }
        print(json.dumps(out, indent=2))
        return 0
    print(f"exact copies: {len(report.exact)} groups")
    for g in report.exact:
        print("  " + "\n    = ".join(str(i.path) for i in g))
    print(f"near duplicates (score >= {report.threshold}): {len(report.near)} groups")
    for g in report.near:
        print("  " + "\n    ~ ".join(str(i.path) for i in g))
    return 0
