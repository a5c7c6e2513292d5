"""Sub-commands of `irt-desktop`; every module here defines `register(subparsers)` and is found by cli.py.

Exit status, the same for every command (README, "Exit status"):
0 done; 1 the operation failed (I/O, damaged data, lock held, disk full); 2 bad input or usage;
130 interrupted (Ctrl-C or SIGTERM).
"""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """A user-facing failure: printed as one line, no traceback. Bad input or usage by default (2)."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class OperationFailed(CommandError):
    """The input was fine but the operation could not be done (I/O, damaged data, lock held): exit 1."""

    exit_code = EXIT_FAILED
