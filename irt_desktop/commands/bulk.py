"""`irt-desktop export-manifest OUT.parquet` and `irt-desktop import-vectors PARQUET`: embedding an
archive elsewhere (a Ray cluster: examples/ray_embed.py) and bringing the vectors back, checked.

export-manifest opens the library read-only (it caches the full-content hashes it computes only when
no writer is at work); import-vectors is a writer, like `index`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from irt_desktop.commands import CommandError
from irt_desktop.commands.library import library_errors, open_library

# Refusals printed one line each up to this many; the rest are counted (all of them with --json).
SHOWN_REFUSALS = 200


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser(
        "export-manifest",
        help="write the files the model still has to embed (path, size, mtime, hashes) as Parquet",
        description="Write the photos the library's model has not embedded yet to OUT (Parquet: path, "
        "size, mtime_ns, quick_hash, full_hash; the model id in its metadata), for an embedding job "
        "elsewhere (examples/ray_embed.py). `irt-desktop index --scan-only FOLDER` catalogues folders "
        "without embedding them.",
    )
    e.add_argument("out", type=Path, metavar="OUT.parquet")
    e.add_argument("--json", action="store_true", help="print the report as JSON")
    e.set_defaults(handler=run_export)

    i = sub.add_parser(
        "import-vectors",
        help="add vectors embedded elsewhere, after checking their model and each file's content",
        description="Import the vectors an embedding job wrote (a Parquet file or a folder of them). A "
        "vector counts only if it is from the model the library embeds with and its file is a "
        "catalogued photo whose content still has the hash that was embedded; the rest are refused, "
        "one line each, and stay pending for `irt-desktop index`.",
    )
    i.add_argument("source", type=Path, metavar="PARQUET")
    i.add_argument("--json", action="store_true", help="print the report as JSON")
    i.set_defaults(handler=run_import)


def _progress(word: str):
    if not sys.stderr.isatty():
        return None
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.2 or done == total:
            last[0] = now
            print(f"\r\033[K{word}: {done}/{total}", end="", file=sys.stderr, flush=True)

    return show


def run_export(args: argparse.Namespace) -> int:
    from irt_desktop.library.bulk import export_manifest

    if args.out.is_dir():
        raise CommandError(f"{args.out} is a folder: give the Parquet file to write, e.g. manifest.parquet")
    if not args.out.parent.is_dir():
        raise CommandError(f"{args.out.parent} is not a folder (or is not reachable now)")
    with library_errors(), open_library(args) as lib:
        report = export_manifest(lib, args.out, _progress("hashing") if not args.json else None)
    if sys.stderr.isatty() and not args.json:
        print("\r\033[K", end="", file=sys.stderr)
    if args.json:
        out = {
            "manifest": str(args.out),
            "model_id": report.model_id,
            "files": report.exported,
            "hashed": report.hashed,
            "unreadable": [{"path": r.path, "reason": r.reason} for r in report.unreadable],
        }
        print(json.dumps(out, indent=2))
        return 0
    print(
        f"{args.out}: {report.exported} photos to embed with model {report.model_id} "
        f"({report.hashed} files read for their content hash)"
    )
    for r in report.unreadable:
        print(f"  left out: {r.path}: {r.reason}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from irt_desktop.library.bulk import import_vectors

    with library_errors(), open_library(args, write=True) as lib:
        report = import_vectors(lib, args.source, _progress("importing") if not args.json else None)
        target = lib.target_model_id
    if sys.stderr.isatty() and not args.json:
        print("\r\033[K", end="", file=sys.stderr)
    if args.json:
        out = {
            "model_id": report.model_id,
            "imported": report.imported,
            "already_indexed": report.already,
            "refused": [{"path": r.path or None, "reason": r.reason} for r in report.refused],
            "pending": report.pending,
            "seconds": round(report.seconds, 3),
        }
        print(json.dumps(out, indent=2))
        return 1 if report.refused and not report.imported and not report.already else 0
    print(
        f"imported {report.imported} vectors of model {report.model_id}, refused {len(report.refused)}"
        + (f", already indexed {report.already}" if report.already else "")
        + f"; pending {report.pending}"
    )
    for r in report.refused[:SHOWN_REFUSALS]:
        print(f"  refused: {r.path}: {r.reason}" if r.path else f"  refused: {r.reason}")
    if len(report.refused) > SHOWN_REFUSALS:
        print(f"  ... and {len(report.refused) - SHOWN_REFUSALS} more (--json lists them all)")
    code = 1 if report.refused and not report.imported and not report.already else 0
    if report.pending:
        print("the pending photos are embedded by `irt-desktop index` (or export them again)")
    elif target:
        print("every photo has the new model's vector: `irt-desktop index` finishes the switch")
    return code
