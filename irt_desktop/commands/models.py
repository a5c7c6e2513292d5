"""`irt-desktop models list | show | install | import`: the descriptor models of a library.

Installing or importing never switches the library to the new model: that is `models activate`
(which re-embeds in the background while the old vectors keep serving).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from irt_desktop.commands import CommandError
from irt_desktop.retrieval.zoo import DEFAULT_CARD


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, show, install or import descriptor models")
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
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(handler=run_import)


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


def _active_ids(library: Path) -> tuple[str | None, str | None]:
    """(serving, target) model ids of the library, read-only: nothing created, no lock, no waiting."""
    from irt_desktop.paths import LibraryLayout

    if not LibraryLayout(library).catalog.is_file():
        return None, None
    from irt_desktop.commands.library import library_errors
    from irt_desktop.library import Library

    with library_errors(), Library.open(library, read_only=True) as lib:
        return lib.model_id, lib.target_model_id


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


def bundle_row(bundle: Any, serving: str | None = None, target: str | None = None) -> dict[str, Any]:
    """What `models list --json` prints for one bundle (and the GUI's model manager shows)."""
    from irt_desktop.retrieval.provenance import Provenance

    spec = bundle.card.spec
    prov = Provenance.from_dict(bundle.card.provenance)
    return {
        "id": bundle.id,
        "name": bundle.card.name,
        "title": bundle.card.title or bundle.card.name,
        "backbone": spec.backbone,
        "input_size": spec.input_size,
        "dims": spec.dims,
        "provenance": prov.label(),
        "kind": prov.kind.value,
        "verified": prov.verified,
        "active": bundle.id == serving,
        "switching_to": bundle.id == target,
        "path": str(bundle.path),
    }


def run_list(args: argparse.Namespace) -> int:
    from irt_desktop.paths import models_dir
    from irt_desktop.retrieval.bundle import scan_bundles
    from irt_desktop.retrieval.card import shipped_cards

    exists = _check_library(args.library)
    serving, target = _active_ids(args.library) if exists else (None, None)
    bundles, broken = scan_bundles(models_dir(args.library))
    rows = []
    for b in bundles:
        try:
            rows.append(bundle_row(b, serving, target))
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
        mark = "*" if r["active"] else (">" if r["switching_to"] else " ")
        dims = r["dims"] or "full"
        print(f" {mark} {r['id']:<32} {r['backbone']} {r['input_size']}px {dims}-d  ({r['provenance']})")
    if any(r["active"] or r["switching_to"] for r in rows):
        print("   (* in use, > being switched to)")
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
    except WeightsUnavailable as exc:
        raise CommandError(str(exc)) from exc
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
    return _report(args, bundle, "imported")
