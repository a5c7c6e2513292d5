"""`irt-desktop models list | show | install | import`."""

from __future__ import annotations

import argparse
from pathlib import Path

from irt_desktop.commands import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, show, install or import descriptor models")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    msub.add_parser("list", help="installed bundles and shipped starting points").set_defaults(
        handler=run_list
    )
    show = msub.add_parser("show", help="a bundle's card")
    show.add_argument("id", help="bundle id, unique id prefix, name, or bundle folder")
    show.set_defaults(handler=run_show)
    install = msub.add_parser("install", help="download a starting point's pretrained weights into a bundle")
    install.add_argument("card", nargs="?", default="deit-s", help="card name (default deit-s)")
    install.set_defaults(handler=run_install)
    imp = msub.add_parser("import", help="make a bundle from a timm/DeiT checkpoint (.safetensors or .pth)")
    imp.add_argument("path", type=Path)
    imp.add_argument("--card", default="deit-s", help="which backbone the weights are for (default deit-s)")
    imp.add_argument("--input-size", type=int, default=None, help="descriptor input size (default: card's)")
    imp.set_defaults(handler=run_import)


def _card(name: str):
    from irt_desktop.retrieval.card import shipped_cards

    cards = shipped_cards()
    if name not in cards:
        raise CommandError(f"unknown model card {name!r}; known: {', '.join(cards)}")
    return cards[name]


def run_list(args: argparse.Namespace) -> int:
    from irt_desktop.paths import models_dir
    from irt_desktop.retrieval.bundle import list_bundles
    from irt_desktop.retrieval.card import shipped_cards

    bundles = list_bundles(models_dir(args.library))
    print("Installed models:" if bundles else "Installed models: none")
    for b in bundles:
        s = b.card.spec
        kind = b.card.provenance.get("kind", "?")
        print(f"  {b.id:<32} {s.backbone} {s.pooling} {s.input_size}px {s.dims or 'full'}-d  ({kind})")
    print("Starting points (install with `irt-desktop models install NAME`):")
    for name, card in shipped_cards().items():
        print(f"  {name:<32} {card.title}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from irt_desktop.paths import models_dir
    from irt_desktop.retrieval.bundle import BundleError, find_bundle

    try:
        bundle = find_bundle(models_dir(args.library), args.id)
    except BundleError as exc:
        raise CommandError(str(exc)) from exc
    print(f"id: {bundle.id}\npath: {bundle.path}")
    print((bundle.path / "card.toml").read_text(encoding="utf-8"))
    return 0


def run_install(args: argparse.Namespace) -> int:
    from irt_desktop.paths import models_dir
    from irt_desktop.retrieval.weights import WeightsUnavailable, install_pretrained

    card = _card(args.card)
    try:
        bundle = install_pretrained(card, models_dir(args.library))
    except WeightsUnavailable as exc:
        raise CommandError(str(exc)) from exc
    print(f"installed {bundle.id} at {bundle.path}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from irt_desktop.paths import models_dir
    from irt_desktop.retrieval.weights import import_weights

    card = _card(args.card)
    if args.input_size:
        card.spec = replace(card.spec, input_size=args.input_size)
    try:
        bundle = import_weights(args.path, card, models_dir(args.library))
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    print(f"imported {args.path} as {bundle.id} at {bundle.path}")
    return 0
