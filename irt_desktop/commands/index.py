"""`irt-desktop index`: add folders to the library and index them, optionally watching them.

`index` holds the library's writer lock while it runs. Another writer has it: `index` exits 1 at once
with "library in use by pid N (...)", or waits with --wait; when the holder is the desktop application,
`index FOLDER...` hands the folders to it (the single-instance channel) and exits 0 instead.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from irt_desktop.commands import CommandError, OperationFailed
from irt_desktop.commands.library import library_errors, open_library
from irt_desktop.commands.watch import WatchLoop, _signals_deferred


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
    p.add_argument(
        "--scan-only",
        action="store_true",
        help="catalogue the folders' photos without embedding them (for `irt-desktop export-manifest`)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=run_index)


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
        return open_library(args, write=True)
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
    return open_library(args, write=True, wait_s=args.wait)


def _can_hand_over(args: argparse.Namespace) -> bool:
    """Only adding folders can go to the app: the other options change how this process indexes."""
    return bool(args.paths) and not (
        args.model
        or args.exclude
        or args.clear_excludes
        or args.batch_size
        or args.device
        or args.fp32
        or args.scan_only
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
    if not hand_over_folders(args.library, folders, recursive=not args.no_recursive, network=args.network):
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
    if args.scan_only:
        return _scan_only(args, lib)
    report = lib.index(progress=_Progress() if sys.stderr.isatty() and not args.json else None)
    if args.json:
        print(json.dumps(_report_json(report, lib), indent=2))
    else:
        _print_report(report, lib)
    if args.watch:
        _watch(lib)
    return 0


def _scan_only(args: argparse.Namespace, lib) -> int:
    from irt_desktop.library.bulk import scan

    if args.watch:
        raise CommandError("--scan-only does not watch: leave out --watch")
    s = scan(lib)
    pending = lib.catalog.count_pending(lib.models.indexing)
    if args.json:
        fields = ("seen", "new", "changed", "moved", "copied", "deleted", "unchanged", "excluded")
        print(json.dumps({**{f: getattr(s, f) for f in fields}, "pending": pending}, indent=2))
        return 0
    print(
        f"scanned {s.seen} photos: {s.new} new, {s.changed} changed, {s.moved} moved, {s.copied} copies, "
        f"{s.deleted} deleted, {s.unchanged} unchanged; {pending} to embed "
        "(`irt-desktop export-manifest OUT.parquet` lists them)"
    )
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
