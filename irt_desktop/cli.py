"""`irt-desktop`: the GUI by default, `--benchmark` headless, and sub-commands for scripting.

Each sub-command lives in its own module under irt_desktop/commands/ and registers itself; they import
torch and friends inside their handlers so that `--help` and the GUI's first paint stay fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path

from irt_desktop import __version__, commands
from irt_desktop.paths import default_library_dir


def build_parser() -> tuple[argparse.ArgumentParser, set[str]]:
    parser = argparse.ArgumentParser(
        prog="irt-desktop",
        description="Search your photos by example image (IRT vision-transformer descriptors).",
        epilog="Without a command the desktop application opens. `irt-desktop --benchmark ...` is "
        "`irt-desktop benchmark ...`.",
    )
    parser.add_argument("--version", action="version", version=f"irt-desktop {__version__}")
    parser.add_argument(
        "--library",
        type=library_path,
        default=None,
        help=f"library folder (default: $IRT_LIBRARY or {default_library_dir()})",
    )
    parser.add_argument(
        "--backend",
        choices=("auto", "torch", "openvino"),
        default=None,
        help="inference backend (default: $IRT_BACKEND or auto: OpenVINO on x86 CPUs, torch on GPUs)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in pkgutil.iter_modules(commands.__path__):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser, set(sub.choices)


def library_path(text: str) -> Path:
    """--library's type: an empty string must not quietly mean the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("needs a folder, not an empty string")
    return Path(text).expanduser()


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if "--benchmark" in args_in:
        args_in.remove("--benchmark")
        args_in.insert(_first_positional_slot(args_in), "benchmark")
    parser, names = build_parser()
    slot = _first_positional_slot(args_in)
    if slot >= len(args_in) or args_in[slot] not in names:
        # No command: the desktop application, optionally searching by the photos given (Open with...).
        return _run_gui(parser, args_in)
    args = parser.parse_args(args_in)
    args.library = (args.library or default_library_dir()).expanduser()
    if args.backend:
        # Every Library the command opens reads it (retrieval.serving.checked_backend).
        os.environ["IRT_BACKEND"] = args.backend
    with _sigterm_as_interrupt():
        return _run_command(args)


def _run_command(args: argparse.Namespace) -> int:
    """Run a sub-command; every failure ends as one line on stderr and an exit status from the table
    in irt_desktop.commands (never a traceback: unexpected ones go to the log file)."""
    try:
        code = int(args.handler(args) or 0)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        _say("interrupted")
        return commands.EXIT_INTERRUPTED
    except commands.CommandError as exc:
        _say(str(exc))
        return exc.exit_code
    except BrokenPipeError:
        # `irt-desktop status --failures | head`: the reader left; stop writing to the closed pipe.
        _silence_stdout()
        _say("output closed early (broken pipe)")
        return commands.EXIT_FAILED
    except OSError as exc:
        _say(_os_error_line(exc))
        return commands.EXIT_FAILED
    except Exception as exc:
        where = _log_traceback(args)
        _say(f"unexpected error: {type(exc).__name__}: {_first_line(exc)}{where}")
        return commands.EXIT_FAILED


def _say(line: str) -> None:
    with contextlib.suppress(OSError):
        print(f"irt-desktop: {line}", file=sys.stderr, flush=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""


def _os_error_line(exc: OSError) -> str:
    import errno

    target = f" {exc.filename}" if getattr(exc, "filename", None) else ""
    reason = {
        errno.ENOSPC: "the disk is full",
        errno.EROFS: "the folder is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOENT: "no such file or folder",
        errno.EDQUOT: "the disk quota is exceeded",
    }.get(exc.errno or 0, exc.strerror or _first_line(exc) or type(exc).__name__)
    return f"{reason}:{target}" if target else reason


def _silence_stdout() -> None:
    import os

    # Python flushes stdout again at exit; point it at /dev/null so that flush cannot fail too.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _log_traceback(args: argparse.Namespace) -> str:
    """Write the traceback to the library's log folder; ' (details: PATH)' or '' when it cannot."""
    import time
    import traceback

    from irt_desktop.paths import LibraryLayout

    try:
        logs = LibraryLayout(args.library).logs
        if not logs.is_dir():
            return ""
        path = logs / f"error-{time.strftime('%Y%m%d-%H%M%S')}.log"
        path.write_text(traceback.format_exc(), encoding="utf-8")
        return f" (details: {path})"
    except OSError:
        return ""


class _sigterm_as_interrupt:
    """SIGTERM (a service manager, `kill`) stops a command like Ctrl-C: the same clean-up runs."""

    def __enter__(self) -> None:
        import signal
        import threading

        self._old = None
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGTERM, _raise_interrupt)

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _first_positional_slot(args: list[str]) -> int:
    """Where a sub-command goes: after the global options (`--library DIR`).

    Stops at the first option that is not global: in `--benchmark --datasets cub`, `--datasets` is the
    sub-command's, so `benchmark` must go before it.
    """
    i = 0
    while i < len(args) and (args[i] in _GLOBAL_FLAGS or args[i].startswith(("--library=", "--backend="))):
        i += 2 if args[i] in ("--library", "--backend") else 1
    return i


_GLOBAL_FLAGS = ("--library", "--backend", "--version", "-h", "--help")


def _run_gui(parser: argparse.ArgumentParser, args_in: list[str]) -> int:
    gui_parser = argparse.ArgumentParser(prog="irt-desktop", parents=[], add_help=False)
    gui_parser.add_argument("--library", type=library_path, default=None)
    gui_parser.add_argument("--backend", choices=("auto", "torch", "openvino"), default=None)
    gui_parser.add_argument("--version", action="store_true")
    gui_parser.add_argument("-h", "--help", action="store_true")
    gui_parser.add_argument("photos", nargs="*", type=Path)
    args = gui_parser.parse_args(args_in)
    if args.help:
        parser.print_help()
        return 0
    if args.version:
        print(f"irt-desktop {__version__}")
        return 0
    library = (args.library or default_library_dir()).expanduser()
    if args.backend:
        os.environ["IRT_BACKEND"] = args.backend
    try:
        from irt_desktop.gui.app import run_app
    except ImportError as exc:
        _say(f"the desktop application is not available ({exc}); see --help")
        return commands.EXIT_FAILED
    return run_app(library, args.photos)


if __name__ == "__main__":
    raise SystemExit(main())
