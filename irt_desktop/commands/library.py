"""Shared by the library commands (index, search, status, duplicates, export-manifest, import-vectors):
opening the library of --library, and library failures as one CLI line with its exit status.

Writers and readers (library/lock.py): `index` and `import-vectors` hold the library's writer lock while
they run. `search`, `status`, `duplicates` and `export-manifest` open the library read-only: no lock, no
waiting, and a folder without a library is refused (exit 2), never created.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from irt_desktop.commands import CommandError, OperationFailed
from irt_desktop.commands.watch import WatchLoop

__all__ = ["WatchLoop", "command_error", "library_errors", "open_library"]


def register(sub: argparse._SubParsersAction) -> None:
    """No command of its own (cli.py calls every module's register): the commands are in index.py,
    search.py, status.py, duplicates.py and bulk.py."""


def open_library(args: argparse.Namespace, *, write: bool = False, wait_s: float = 0.0):
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
