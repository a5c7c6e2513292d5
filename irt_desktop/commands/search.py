"""`irt-desktop search IMAGE`: the library's photos most like IMAGE (read-only)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from irt_desktop.commands import CommandError
from irt_desktop.commands.library import library_errors, open_library


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("search", help="find the library's photos most like IMAGE")
    s.add_argument("image", type=Path, metavar="IMAGE")
    s.add_argument("-k", type=int, default=20, help="number of results (default 20)")
    s.add_argument("--min-score", type=float, default=None, help="leave out results scoring below this")
    s.add_argument("--root", type=int, action="append", default=None, help="only this folder id (repeatable)")
    s.add_argument("--exclude-self", action="store_true", help="leave IMAGE itself out if it is indexed")
    s.add_argument("--json", action="store_true", help="print results as JSON")
    s.set_defaults(handler=run_search)


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
    with library_errors(), open_library(args) as lib:
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
