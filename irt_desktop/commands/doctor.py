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
        ("catalog", _catalog_row(args.library)),
    ]
    rows += _backend_rows(args.device)
    bundles = list_bundles(models_dir(args.library))
    rows.append(("installed models", ", ".join(b.id for b in bundles) or "none"))
    rows += _compiled_rows(bundles)
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


def _catalog_row(library) -> str:
    """Its size, and whether `repair --compact` would shrink it (catalogs made on 4 KB pages)."""
    from irt_desktop.library.compact import plan_compaction
    from irt_desktop.paths import LibraryLayout

    layout = LibraryLayout(library)
    if not layout.catalog.is_file():
        return "none yet"
    try:
        plan = plan_compaction(layout)
    except Exception as exc:  # no library yet, or one this cannot read: the report goes on
        return f"none readable ({exc})"
    line = plan.pages()
    return f"{line}; `irt-desktop repair --compact` would shrink it" if plan.worth_it else line


def _backend_rows(device: str | None) -> list[tuple[str, str]]:
    """Which inference backend serves and why (retrieval.serving), without running either runtime."""
    from irt_desktop.retrieval.openvino_runtime import openvino_version
    from irt_desktop.retrieval.serving import choose_backend, cpu_bf16_native

    version = openvino_version()
    choice = choose_backend(None, device)
    precision = "bf16" if cpu_bf16_native() else "f32"
    rows = [("openvino", version or "not installed")]
    serving = choice.backend if choice.backend == "torch" else f"openvino ({precision})"
    rows.append(("backend", f"{serving}: {choice.reason}"))
    return rows


def _compiled_rows(bundles: list) -> list[tuple[str, str]]:
    """For each installed model, whether OpenVINO has it compiled (or why it would not serve)."""
    from irt_desktop.retrieval.openvino_cache import find_compiled
    from irt_desktop.retrieval.openvino_runtime import openvino_version
    from irt_desktop.retrieval.serving import cpu_bf16_native

    if openvino_version() is None:
        return []
    precision = "bf16" if cpu_bf16_native() else "f32"
    rows = []
    for b in bundles:
        found = find_compiled(b.id, precision)
        state = (
            f"compiled ({found.precision}, agrees with torch fp32 to cosine {found.agreement:.6f})"
            if found
            else "not compiled yet (done on first use, in a child process; torch serves if it fails)"
        )
        rows.append((f"openvino {b.id}", state))
    return rows
