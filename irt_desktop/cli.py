"""`irt-desktop`: the GUI by default, `--benchmark` headless, and sub-commands for scripting.

Each sub-command lives in its own module under irt_desktop/commands/ and registers itself; they import
torch and friends inside their handlers so that `--help` and the GUI's first paint stay fast.
"""

from __future__ import annotations

import argparse
import importlib
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
        type=Path,
        default=None,
        help=f"library folder (default: $IRT_LIBRARY or {default_library_dir()})",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in pkgutil.iter_modules(commands.__path__):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser, set(sub.choices)


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
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except commands.CommandError as exc:
        print(f"irt-desktop: {exc}", file=sys.stderr)
        return 2


def _first_positional_slot(args: list[str]) -> int:
    """Where a sub-command goes: after the global options (`--library DIR`).

    Stops at the first option that is not global: in `--benchmark --datasets cub`, `--datasets` is the
    sub-command's, so `benchmark` must go before it.
    """
    i = 0
    while i < len(args) and (args[i] in _GLOBAL_FLAGS or args[i].startswith("--library=")):
        i += 2 if args[i] == "--library" else 1
    return i


_GLOBAL_FLAGS = ("--library", "--version", "-h", "--help")


def _run_gui(parser: argparse.ArgumentParser, args_in: list[str]) -> int:
    gui_parser = argparse.ArgumentParser(prog="irt-desktop", parents=[], add_help=False)
    gui_parser.add_argument("--library", type=Path, default=None)
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
    try:
        from irt_desktop.gui.app import run_app
    except ImportError as exc:
        print(f"irt-desktop: the desktop application is not available ({exc}); see --help", file=sys.stderr)
        return 2
    return run_app(library, args.photos)


if __name__ == "__main__":
    raise SystemExit(main())
