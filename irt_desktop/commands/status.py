"""`irt-desktop status`: folders, counts, the model and (--failures) the files that could not be read."""

from __future__ import annotations

import argparse
import json
from typing import Any

from irt_desktop.commands.library import library_errors, open_library


def register(sub: argparse._SubParsersAction) -> None:
    st = sub.add_parser("status", help="folders, counts, the model and files that could not be read")
    st.add_argument("--json", action="store_true")
    st.add_argument("--failures", action="store_true", help="list files that could not be read, with why")
    st.set_defaults(handler=run_status)


def run_status(args: argparse.Namespace) -> int:
    with library_errors(), open_library(args) as lib:
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
