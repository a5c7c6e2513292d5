"""Which compute device to use, and whether bf16 autocast is worth it there.

torch is imported inside the functions: the GUI must open its window before torch's ~1 s import.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path


@functools.cache
def cpu_has_bf16() -> bool:
    """True when the CPU executes bf16 natively (AVX512-BF16 or AMX); emulated bf16 is slower than fp32."""
    listed = cpuinfo_bf16()
    if listed is not None:
        return listed
    import torch

    probe = getattr(torch.backends.cpu, "get_cpu_capability", None)
    flags = probe().lower() if probe is not None else ""
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cpuinfo_bf16() -> bool | None:
    """Whether /proc/cpuinfo lists AVX512-BF16 or AMX; None where there is no /proc/cpuinfo (each
    runtime then asks its own probe). Torch-free: the OpenVINO serving path reads it too."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return None
    flags = cpuinfo.read_text(errors="replace")
    return "avx512_bf16" in flags or "amx_bf16" in flags


def best_device(preference: str | None = None) -> str:
    """`cuda`, `mps` or `cpu`; `preference` (or $IRT_DEVICE) forces one, `auto`/None picks the fastest."""
    import torch

    choice = (preference or os.environ.get("IRT_DEVICE") or "auto").lower()
    if choice != "auto":
        if choice.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError("CUDA was requested but torch sees no CUDA device")
        if choice == "mps" and not torch.backends.mps.is_available():
            raise RuntimeError("MPS was requested but this torch build or machine has no MPS")
        return choice
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def autocast_dtype(device: str, allow_low_precision: bool = True):
    """The dtype for inference autocast on `device`, or None for plain fp32."""
    import torch

    if not allow_low_precision:
        return None
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "cpu" and cpu_has_bf16():
        return torch.bfloat16
    return None


def describe_device(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return f"CUDA: {torch.cuda.get_device_name(torch.device(device))}"
    if device == "mps":
        return "Apple GPU (MPS)"
    bf16 = "with bf16" if cpu_has_bf16() else "without bf16"
    return f"CPU ({os.cpu_count()} cores, {bf16})"
