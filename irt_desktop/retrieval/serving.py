"""Which inference backend serves descriptors, and opening a bundle with it (torch-free until torch serves).

`auto` picks OpenVINO on x86 CPUs when no CUDA or Apple GPU is there to use, torch otherwise; `torch` and
`openvino` force one ($IRT_BACKEND, a setting or --backend). OpenVINO serves a model compiled once per
bundle in a child process and cached (retrieval.openvino_cache); when that fails — no wheel, a
conversion error, or descriptors that do not agree with torch fp32 — torch serves and the reason is
kept (`Served.reason`, shown by doctor). The test suite pins torch ($IRT_BACKEND=torch in conftest).
"""

from __future__ import annotations

import logging
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from irt_desktop.retrieval.spec import ModelSpec

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "openvino")


class DescriptorModel(Protocol):
    """What the library needs of an embedder, whichever backend runs it."""

    model_id: str
    spec: ModelSpec
    dim: int
    device: str
    batch_size: int
    precision: str
    backend: str

    def embed_array(self, x: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Choice:
    backend: str  # "torch" or "openvino"
    reason: str


def checked_backend(name: str | None) -> str:
    choice = (name or os.environ.get("IRT_BACKEND") or "auto").strip().lower()
    if choice not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: use {', '.join(BACKENDS)}")
    return choice


def gpu_present() -> bool:
    """An NVIDIA driver or an Apple GPU, found without importing torch."""
    if sys.platform == "darwin" and platform.machine() == "arm64":
        return True
    return Path("/proc/driver/nvidia/gpus").is_dir() and any(Path("/proc/driver/nvidia/gpus").iterdir())


def choose_backend(preference: str | None = None, device: str | None = None) -> Choice:
    """The backend to try first, and why."""
    wanted = checked_backend(preference)
    dev = (device or os.environ.get("IRT_DEVICE") or "auto").lower()
    if wanted == "torch":
        return Choice("torch", "asked for")
    if dev.startswith(("cuda", "mps")):
        return Choice("torch", f"device {dev} runs on torch")
    from irt_desktop.retrieval.openvino_runtime import openvino_version

    if openvino_version() is None:
        return Choice("torch", "OpenVINO is not installed (no wheel for this platform)")
    if wanted == "openvino":
        return Choice("openvino", "asked for")
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return Choice("torch", f"automatic: {platform.machine()} CPU (OpenVINO is chosen on x86 only)")
    if dev == "auto" and gpu_present():
        return Choice("torch", "automatic: a GPU is there for torch")
    return Choice("openvino", "automatic: x86 CPU")


def cpu_bf16_native() -> bool:
    """AVX512-BF16 or AMX in /proc/cpuinfo (Linux), else what OpenVINO's CPU plugin reports."""
    from irt_desktop.device import cpuinfo_bf16

    listed = cpuinfo_bf16()
    if listed is not None:
        return listed
    try:
        from irt_desktop.retrieval.openvino_runtime import cpu_precisions

        return "BF16" in cpu_precisions()
    except Exception:
        return False


@dataclass
class Served:
    """An opened embedder and how it came to be the one serving."""

    embedder: Any
    backend: str
    reason: str
    fallback: str = ""  # why the first choice did not serve, if it did not


def open_bundle(
    bundle: Any,
    *,
    backend: str | None = None,
    device: str | None = None,
    low_precision: bool = True,
    batch_size: int = 32,
    compile_if_missing: bool = True,
) -> Served:
    """An embedder for `bundle` (a retrieval.bundle.ModelBundle): OpenVINO when chosen and it works,
    else torch (imported only then)."""
    choice = choose_backend(backend, device)
    fallback = ""
    if choice.backend == "openvino":
        try:
            return Served(
                _open_openvino(bundle, low_precision, batch_size, compile_if_missing),
                "openvino",
                choice.reason,
            )
        except Exception as exc:
            fallback = f"OpenVINO did not serve: {exc}"
            log.warning("%s; torch serves %s", fallback, bundle.id)
    from irt_desktop.retrieval.embedder import Embedder

    embedder = Embedder.from_bundle(bundle, device=device, low_precision=low_precision, batch_size=batch_size)
    return Served(embedder, "torch", choice.reason if not fallback else "fallback", fallback)


def _open_openvino(bundle: Any, low_precision: bool, batch_size: int, compile_if_missing: bool) -> Any:
    from irt_desktop.retrieval.openvino_cache import CompileFailed, compile_in_child, find_compiled
    from irt_desktop.retrieval.openvino_convert import pca_of
    from irt_desktop.retrieval.openvino_runtime import OpenVINOEmbedder

    precision = "bf16" if low_precision and cpu_bf16_native() else "f32"
    compiled = find_compiled(bundle.id, precision)
    if compiled is None:
        if not compile_if_missing:
            raise CompileFailed("the model is not compiled for OpenVINO yet")
        compiled = compile_in_child(Path(bundle.path), bundle.id, precision)
    return OpenVINOEmbedder(
        compiled.xml,
        bundle.card.spec,
        compiled.dim,
        bundle.id,
        compiled.precision,
        batch_size=batch_size,
        pca=pca_of(Path(bundle.path)),
    )
