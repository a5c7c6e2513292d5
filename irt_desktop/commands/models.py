"""`irt-desktop models list | show | install | import`: the descriptor models of a library.

Installing or importing never switches the library to the new model: that is `models activate`
(which re-embeds in the background while the old vectors keep serving).
"""

from __future__ import annotations

import argparse
import json
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
    """(serving, target) model ids of the library, without creating a library that is not there."""
    from irt_desktop.paths import LibraryLayout

    if not LibraryLayout(library).catalog.is_file():
        return None, None
    from irt_desktop.library import Library

    with Library.open(library) as lib:
        return lib.model_id, lib.target_model_id


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
    from irt_desktop.retrieval.bundle import list_bundles
    from irt_desktop.retrieval.card import shipped_cards

    serving, target = _active_ids(args.library)
    rows = [bundle_row(b, serving, target) for b in list_bundles(models_dir(args.library))]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print("Installed models:" if rows else "Installed models: none")
    for r in rows:
        mark = "*" if r["active"] else (">" if r["switching_to"] else " ")
        dims = r["dims"] or "full"
        print(f" {mark} {r['id']:<32} {r['backbone']} {r['input_size']}px {dims}-d  ({r['provenance']})")
    if any(r["active"] or r["switching_to"] for r in rows):
        print("   (* in use, > being switched to)")
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
        bundle = import_weights(
            args.path, card, models_dir(args.library), backbone=args.backbone, input_size=args.input_size
        )
    except WeightsMismatch as exc:
        raise CommandError(f"{args.path.name}: {exc}") from exc
    except (OSError, ValueError) as exc:
        # WeightsFileError and friends name the file themselves.
        raise CommandError(str(exc)) from exc
    return _report(args, bundle, "imported")
