"""`irt-desktop models list | show | install | import | activate | remove | rename`: a library's models.

Installing or importing never switches the library to the new model: that is `models activate` (or
`import --activate`), which re-embeds in the background while the old vectors keep serving, and is
immediate when the model's vectors are still in the library (switching back). `remove` moves a bundle
and its search index to the trash and refuses the model in use; `rename` changes the displayed title
only (the id, and so the library's vectors, stay). Every action takes --json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from irt_desktop.commands import CommandError, OperationFailed
from irt_desktop.retrieval.zoo import DEFAULT_CARD


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, install, import, activate, rename or remove descriptor models")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    ls = msub.add_parser("list", help="installed bundles and shipped starting points")
    ls.add_argument("--json", action="store_true", help="one row per installed bundle, as JSON")
    ls.set_defaults(handler=run_list)
    show = msub.add_parser("show", help="a bundle's card")
    show.add_argument("id", help="bundle id, unique id prefix, name, or bundle folder")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=run_show)
    install = msub.add_parser("install", help="download a starting point's pretrained weights into a bundle")
    install.add_argument("card", nargs="?", default=DEFAULT_CARD, help=f"card name (default {DEFAULT_CARD})")
    install.add_argument("--json", action="store_true")
    install.set_defaults(handler=run_install)
    imp = msub.add_parser(
        "import",
        help="make a bundle from a timm/DeiT/DINOv2 checkpoint (.safetensors or .pth); the backbone is "
        "detected from the tensors unless --card or --backbone names it",
    )
    imp.add_argument("path", type=Path)
    imp.add_argument("--card", default=None, help="a shipped card the weights are for (see `models list`)")
    imp.add_argument("--backbone", default=None, metavar="TIMM_NAME", help="any timm ViT/DeiT name")
    imp.add_argument("--input-size", type=_positive, default=None, help="descriptor input size in pixels")
    imp.add_argument("--activate", action="store_true", help="switch the library to it once imported")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(handler=run_import)
    act = msub.add_parser(
        "activate",
        help="switch the library to an installed model (re-embeds in the background; search keeps the "
        "current model until that is done; immediate when its vectors are still there)",
    )
    act.add_argument("id", help="bundle id, unique id prefix or name")
    act.add_argument("--json", action="store_true")
    act.set_defaults(handler=run_activate)
    rm = msub.add_parser(
        "remove", help="move an installed model and its search index to the trash (not the one in use)"
    )
    rm.add_argument("id", help="bundle id, unique id prefix or name")
    rm.add_argument("--json", action="store_true")
    rm.set_defaults(handler=run_remove)
    rn = msub.add_parser("rename", help="change the title a model is shown with (its id stays)")
    rn.add_argument("id", help="bundle id, unique id prefix or name")
    rn.add_argument("title", help="the new title")
    rn.add_argument("--json", action="store_true")
    rn.set_defaults(handler=run_rename)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of pixels, not {value}")
    return value


def _card(name: str):
    from irt_desktop.retrieval.card import shipped_cards

    cards = shipped_cards()
    if name not in cards:
        raise CommandError(f"unknown model card {name!r}; known: {', '.join(cards)}")
    return cards[name]


def _has_library(library: Path) -> bool:
    from irt_desktop.paths import LibraryLayout

    return LibraryLayout(library).catalog.is_file()


@contextlib.contextmanager
def _manager(args: argparse.Namespace, create: bool = False) -> Iterator[Any]:
    """The library's ModelManager, the library open as its writer (its lock held); None when there is no
    library yet and `create` is False (a command that only changes bundles must not create a library)."""
    if not create and not _has_library(args.library):
        yield None
        return
    from irt_desktop.commands.library import library_errors
    from irt_desktop.library import Library
    from irt_desktop.library.models import ModelManager

    with library_errors():
        lib = Library.open(args.library, role="models")
    with lib, library_errors():
        yield ModelManager.of(lib)


def _active_ids(library: Path) -> tuple[str | None, str | None]:
    """(serving, target) model ids of the library, read-only: nothing created, no lock, no waiting."""
    serving, target, _previous, _counts = _standing(library)
    return serving, target


def _standing(library: Path) -> tuple[str | None, str | None, str | None, dict[str, int]]:
    """(serving, target, previous model, vectors per model) of the library, read-only."""
    if not _has_library(library):
        return None, None, None, {}
    from irt_desktop.commands.library import library_errors
    from irt_desktop.library import Library

    with library_errors(), Library.open(library, read_only=True) as lib:
        return lib.model_id, lib.target_model_id, lib.catalog.previous_model(), lib.catalog.vector_counts()


def _check_library(library: Path) -> bool:
    """Whether `library` holds a library; a mistyped --library is refused rather than shown as empty
    (the default folder may simply not exist yet: False, and the starting points are still listed)."""
    from irt_desktop.paths import LibraryLayout, default_library_dir

    layout = LibraryLayout(library)
    if layout.root.exists() and not layout.root.is_dir():
        raise CommandError(f"{layout.root} is a file, not a library folder")
    if layout.catalog.is_file() or layout.models.is_dir():
        return True
    if layout.root == default_library_dir():
        return False
    raise CommandError(
        f"no library at {layout.root}; `irt-desktop index FOLDER` or `irt-desktop models install` makes one"
    )


@contextlib.contextmanager
def _writing(args: argparse.Namespace):
    """Hold the library's writer lock while a bundle is written into it (see library/lock.py)."""
    from irt_desktop.commands.library import library_errors
    from irt_desktop.library.health import refuse_non_folder
    from irt_desktop.library.lock import WriterLock

    with library_errors():
        refuse_non_folder(args.library)
        args.library.mkdir(parents=True, exist_ok=True)
        lock = WriterLock(args.library, role="models")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def bundle_row(
    bundle: Any,
    serving: str | None = None,
    target: str | None = None,
    previous: str | None = None,
    vectors: dict[str, int] | None = None,
) -> dict[str, Any]:
    """What `models list --json` prints for one bundle (library.model_store.InstalledModel.row, the
    facts the GUI's model manager shows too)."""
    from dataclasses import replace

    from irt_desktop.library.model_store import describe

    entry = describe(bundle)
    return replace(
        entry,
        serving=entry.id == serving,
        target=entry.id == target,
        previous=entry.id == previous and entry.id != serving,
        vectors=(vectors or {}).get(entry.id, 0),
    ).row()


def run_list(args: argparse.Namespace) -> int:
    from irt_desktop.paths import models_dir
    from irt_desktop.retrieval.bundle import scan_bundles
    from irt_desktop.retrieval.card import shipped_cards

    exists = _check_library(args.library)
    standing = _standing(args.library) if exists else (None, None, None, {})
    bundles, broken = scan_bundles(models_dir(args.library))
    rows = []
    for b in bundles:
        try:
            rows.append(bundle_row(b, *standing))
        except Exception as exc:  # a card that loads but whose provenance cannot be shown
            broken.append((b.path, f"{b.path / 'card.toml'}: {type(exc).__name__}: {exc}"[:300]))
    if args.json:
        for path, why in broken:
            print(f"irt-desktop: not usable: {path}: {why}", file=sys.stderr)
        print(json.dumps(rows, indent=2))
        return 0
    empty = "Installed models: none usable" if broken else "Installed models: none"
    print("Installed models:" if rows else empty)
    for r in rows:
        mark = "*" if r["active"] else (">" if r["switching_to"] else ("<" if r["previous"] else " "))
        dims = r["dims"] or "full"
        print(f" {mark} {r['id']:<32} {r['backbone']} {r['input_size']}px {dims}-d  ({r['provenance']})")
        print(f"   {'':<32} {r['title']}; {r['vectors']:,} photos indexed")
    if any(r["active"] or r["switching_to"] or r["previous"] for r in rows):
        print("   (* in use, > being switched to, < used before: switching back to it is immediate)")
    for path, why in broken:
        print(f" ! {path.name}: not usable: {why}")
    print("Starting points (install with `irt-desktop models install NAME`):")
    for name, card in shipped_cards().items():
        print(f"   {name:<32} {card.title}")
    return 0


def _find(args: argparse.Namespace, ref: str):
    from irt_desktop.paths import models_dir
    from irt_desktop.retrieval.bundle import BundleError, find_bundle

    try:
        return find_bundle(models_dir(args.library), ref)
    except BundleError as exc:
        raise CommandError(str(exc)) from exc


def _find_installed(args: argparse.Namespace, ref: str):
    """Like _find, but only a bundle inside this library's models folder (remove and rename change it)."""
    from irt_desktop.paths import models_dir

    bundle = _find(args, ref)
    folder = models_dir(args.library)
    if Path(bundle.path).resolve().parent != folder.resolve():
        raise CommandError(f"{bundle.path} is not installed in this library ({folder})")
    return bundle


def run_show(args: argparse.Namespace) -> int:
    bundle = _find(args, args.id)
    if args.json:
        serving, target = _active_ids(args.library)
        print(json.dumps({**bundle_row(bundle, serving, target), "card": bundle.card.to_dict()}, indent=2))
        return 0
    print(f"id: {bundle.id}\npath: {bundle.path}")
    print((bundle.path / "card.toml").read_text(encoding="utf-8"))
    return 0


def _report(args: argparse.Namespace, bundle: Any, verb: str) -> int:
    row = bundle_row(bundle)
    if args.json:
        print(json.dumps(row, indent=2))
    else:
        print(f"{verb} {bundle.id} ({row['title']}; {row['provenance']}) at {bundle.path}")
        print(f"Not in use yet: `irt-desktop models activate {bundle.id}` switches the library to it.")
    return 0


def run_install(args: argparse.Namespace) -> int:
    from irt_desktop.paths import models_dir
    from irt_desktop.retrieval.weights import WeightsUnavailable, install_pretrained

    card = _card(args.card)
    try:
        with _writing(args):
            bundle = install_pretrained(card, models_dir(args.library))
    except WeightsUnavailable as exc:  # offline, or the download failed: the input was fine
        raise OperationFailed(str(exc)) from exc
    return _report(args, bundle, "installed")


def run_import(args: argparse.Namespace) -> int:
    from irt_desktop.paths import models_dir
    from irt_desktop.retrieval.architecture import WeightsMismatch
    from irt_desktop.retrieval.weights import import_weights

    if args.card and args.backbone:
        raise CommandError("give --card or --backbone, not both")
    card = _card(args.card) if args.card else None
    try:
        with _writing(args):
            bundle = import_weights(
                args.path, card, models_dir(args.library), backbone=args.backbone, input_size=args.input_size
            )
    except WeightsMismatch as exc:
        raise CommandError(f"{args.path.name}: {exc}") from exc
    except (OSError, ValueError) as exc:
        # WeightsFileError and friends name the file themselves.
        raise CommandError(str(exc)) from exc
    if args.activate:
        return _activate(args, bundle, imported=True)
    return _report(args, bundle, "imported")


def run_activate(args: argparse.Namespace) -> int:
    bundle = _find(args, args.id)
    return _activate(args, bundle)


def _activate(args: argparse.Namespace, bundle: Any, imported: bool = False) -> int:
    from irt_desktop.library import LibraryError

    with _manager(args, create=True) as manager:
        try:
            activation = manager.activate(bundle)
        except LibraryError as exc:
            raise OperationFailed(str(exc)) from exc
        serving, target = manager.registry.serving, manager.registry.target
    title = bundle.card.title or bundle.card.name
    if args.json:
        row = {
            **bundle_row(bundle, serving, target),
            "imported": imported,
            "immediate": activation.immediate,
            "pending": activation.pending,
            "replaces": activation.previous,
            "message": activation.message(title),
        }
        print(json.dumps(row, indent=2))
        return 0
    if imported:
        print(f"imported {bundle.id} at {bundle.path}")
    print(activation.message(f"{title} ({bundle.id})"))
    if not activation.immediate:
        print("Run `irt-desktop index` to re-index now (the desktop app does it in the background).")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from irt_desktop.library import LibraryError
    from irt_desktop.library.models import ModelInUse

    bundle = _find_installed(args, args.id)
    with _manager(args) as manager:
        try:
            if manager is not None:
                removal = manager.remove(bundle.id)
            else:
                with _writing(args):
                    removal = _remove_without_library(bundle)
        except ModelInUse as exc:
            raise CommandError(str(exc)) from exc
        except LibraryError as exc:
            raise OperationFailed(str(exc)) from exc
    if args.json:
        print(
            json.dumps(
                {
                    "id": removal.model_id,
                    "title": removal.title,
                    "trashed": [str(p) for p in removal.trashed],
                    "vectors_dropped": removal.vectors_dropped,
                    "message": removal.message(),
                },
                indent=2,
            )
        )
    else:
        print(removal.message())
    return 0


def _remove_without_library(bundle: Any):
    from irt_desktop.library import LibraryError
    from irt_desktop.library.model_trash import TrashError, move_to_trash
    from irt_desktop.library.models import Removal

    title = bundle.card.title or bundle.card.name
    try:
        move_to_trash(Path(bundle.path))
    except (TrashError, OSError) as exc:
        raise LibraryError(f"{title} was not removed: {exc}") from exc
    return Removal(bundle.id, title, [Path(bundle.path)], 0)


def run_rename(args: argparse.Namespace) -> int:
    from irt_desktop.library import LibraryError
    from irt_desktop.library.model_store import describe, rename_bundle

    bundle = _find_installed(args, args.id)
    try:
        with _manager(args) as manager:
            if manager is not None:
                entry = manager.rename(bundle.id, args.title)
            else:
                with _writing(args):
                    entry = describe(rename_bundle(bundle, args.title))
    except LibraryError as exc:
        raise CommandError(str(exc)) from exc
    if args.json:
        print(json.dumps(entry.row(), indent=2))
    else:
        print(f"{entry.id} is now shown as {entry.title!r} (its id and vectors are unchanged)")
    return 0
