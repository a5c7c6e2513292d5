"""`irt-desktop repair`: check the catalog through and through; restore the newest sound backup if it is
damaged or missing (the damaged file is kept aside, renamed, never deleted). The vector index is rebuilt
from the restored catalog. `--compact` rewrites a sound catalog on 16 KB pages (library/compact.py):
without `--yes` it only says what that would cost. Light: no torch, no model.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from irt_desktop.commands import CommandError, OperationFailed

if TYPE_CHECKING:
    from irt_desktop.paths import LibraryLayout


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser(
        "repair",
        help="check the catalog (PRAGMA quick_check); if it is damaged, keep it aside and restore the "
        "newest sound backup",
    )
    r.add_argument(
        "--start-empty",
        action="store_true",
        help="with no sound backup, keep the damaged catalog aside and start an empty one",
    )
    r.add_argument(
        "--compact",
        action="store_true",
        help="rewrite a sound catalog on 16 KB pages without free space (catalogs made on 4 KB pages shrink "
        "to about 40 %%); says what it costs and asks for --yes",
    )
    r.add_argument("--yes", action="store_true", help="with --compact: go ahead")
    r.set_defaults(handler=run_repair)


def run_repair(args: argparse.Namespace) -> int:
    from irt_desktop.commands.library import library_errors
    from irt_desktop.library.health import refuse_non_folder, remove_leftovers, repair
    from irt_desktop.library.lock import WriterLock
    from irt_desktop.paths import LibraryLayout

    layout = LibraryLayout(args.library)
    with library_errors():
        refuse_non_folder(layout.root)
        if not layout.root.is_dir():
            raise CommandError(f"no library at {layout.root}: nothing to repair")
        lock = WriterLock(layout.root, role="repair")
        lock.acquire()
        try:
            remove_leftovers(layout, lock.acquired_at or 0.0)
            if args.compact:
                return _compact(layout, args.yes)
            report = repair(layout, start_empty=args.start_empty)
        finally:
            lock.release()
    *lines, last = report.lines
    for line in lines if not report.ok else report.lines:
        print(line)
    if not report.ok:
        raise OperationFailed(last)
    return 0


def _compact(layout: LibraryLayout, yes: bool) -> int:
    from irt_desktop.library.compact import compact, plan_compaction

    plan = plan_compaction(layout)
    print(plan.describe())
    if not plan.worth_it:
        print("it is compact already: nothing to do")
        return 0
    if not plan.has_room:
        raise OperationFailed(plan.no_room())
    if not yes:
        print(plan.cost())
        print("run `irt-desktop repair --compact --yes` to compact it")
        return 0
    print("compacting...", flush=True)
    print(compact(layout, plan).summary())
    return 0
