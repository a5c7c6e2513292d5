"""`irt-desktop duplicates`: exact copies and near-duplicate groups (read-only)."""

from __future__ import annotations

import argparse
import json

from irt_desktop.commands import CommandError
from irt_desktop.commands.library import library_errors, open_library


def register(sub: argparse._SubParsersAction) -> None:
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


def run_duplicates(args: argparse.Namespace) -> int:
    if args.threshold is not None and not 0 < args.threshold <= 1:
        raise CommandError(f"--threshold must be a score above 0 and at most 1, not {args.threshold}")
    with library_errors(), open_library(args) as lib:
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
    if report.lookalike_threshold is not None:
        # Different shots of one scene: listed for review, no keeper suggested (no rule picks a burst's
        # best frame).
        looks = report.of_kind("lookalike")
        print(f"look-alikes (score >= {report.lookalike_threshold}, review one by one): {len(looks)} groups")
        for g in looks:
            print("  ? " + "\n    ? ".join(str(m.path) for m in g.members))
    return 0
