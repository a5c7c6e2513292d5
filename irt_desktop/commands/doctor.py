"""`irt-desktop doctor`: what this installation has and would use."""

from __future__ import annotations

import argparse
import platform


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor", help="print versions, the compute device, the library path and weights status"
    )
    p.add_argument("--device", default=None, help="device to check (auto, cpu, cuda, mps)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import faiss
    import timm
    import torch

    from irt_desktop import __version__
    from irt_desktop.device import autocast_dtype, best_device, describe_device
    from irt_desktop.gui.about import qt_versions
    from irt_desktop.paths import models_dir
    from irt_desktop.retrieval.bundle import list_bundles
    from irt_desktop.retrieval.card import shipped_cards
    from irt_desktop.retrieval.weights import cached_weights

    qt = qt_versions()
    device = best_device(args.device)
    low = autocast_dtype(device)
    rows = [
        ("irt-desktop", __version__),
        ("python", f"{platform.python_version()} on {platform.platform()}"),
        ("torch", f"{torch.__version__} (CUDA build: {torch.version.cuda or 'no'})"),
        ("timm", timm.__version__),
        ("faiss", faiss.__version__),
        ("Qt", qt),
        ("device", f"{device}: {describe_device(device)}"),
        ("inference precision", f"{str(low).removeprefix('torch.')} autocast" if low else "fp32"),
        ("library", str(args.library)),
    ]
    bundles = list_bundles(models_dir(args.library))
    rows.append(("installed models", ", ".join(b.id for b in bundles) or "none"))
    for name, card in shipped_cards().items():
        try:
            where = cached_weights(card)
        except Exception as exc:  # a broken cache must not stop the report
            where = None
            status = f"unknown ({exc})"
        else:
            status = f"available offline ({where})" if where else "not downloaded"
        rows.append((f"weights {name}", status))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0
