"""`irt-desktop repair`: check the catalog through and through; restore the newest sound backup if it is
damaged or missing (the damaged file is kept aside, renamed, never deleted). The vector index is rebuilt
from the restored catalog. Light: no torch, no model.
"""

from __future__ import annotations

import argparse

from irt_desktop.commands import CommandError, OperationFailed


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
            report = repair(layout, start_empty=args.start_empty)
        finally:
            lock.release()
    *lines, last = report.lines
    for line in lines if not report.ok else report.lines:
        print(line)
    if not report.ok:
        raise OperationFailed(last)
    return 0
