"""Sub-commands of `irt-desktop`; every module here defines `register(subparsers)` and is found by cli.py."""


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2, no traceback."""
