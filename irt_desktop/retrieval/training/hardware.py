"""The device a run is planned for and the data-loader workers it gets, decided without torch where
the answer does not depend on it.

A process where OpenVINO serves (the GUI's) plans fine-tune runs that a child process trains: importing
torch there only to learn "cpu" would cost ~1 s and ~300 MB and put torch's thread pool next to
OpenVINO's. So an automatic choice on a machine with no GPU driver, and an explicit "cpu", are answered
here; anything that could be a GPU is asked of torch (irt_desktop.device.best_device), as before.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# CPU-only machines with this many cores or fewer decode in the training process itself.
SMALL_CPU_CORES = 4


def loader_workers_for(device: str) -> int:
    """DataLoader worker processes for training and evaluation on `device` (the one rule the wizard, the
    benchmark pane and the commands share).

    Workers are separate processes: on a small CPU-only machine they compete with the model for the
    same cores and cost their start-up, so decoding in-process is as fast; elsewhere two hide decoding
    behind the step."""
    cores = os.cpu_count() or 1
    return 0 if device == "cpu" and cores <= SMALL_CPU_CORES else 2


def accelerator_possible() -> bool:
    """False only where torch could not see a CUDA, ROCm or Apple GPU: no driver for one is installed.
    Errs towards True (then torch is asked): a wrong False would train on the CPU beside a GPU."""
    if sys.platform.startswith("linux"):
        nvidia = Path("/proc/driver/nvidia/gpus")
        return (
            (nvidia.is_dir() and any(nvidia.iterdir()))
            or any(Path("/dev").glob("nvidia[0-9]*"))
            or Path("/dev/kfd").exists()  # ROCm
            or Path("/dev/dxg").exists()  # WSL2's GPU
        )
    if sys.platform == "win32":
        system = Path(os.environ.get("SYSTEMROOT", r"C:\Windows")) / "System32"
        return (system / "nvcuda.dll").exists() or any(system.glob("amdhip64*.dll"))
    return True  # macOS: MPS on Apple and on some Intel Macs' GPUs, which only torch can tell


def plan_device(preference: str | None = None) -> str:
    """What irt_desktop.device.best_device(preference) answers (`cuda`, `mps` or `cpu`; `preference` or
    $IRT_DEVICE forces one), importing torch only where a GPU could be the answer or must be checked."""
    choice = (preference or os.environ.get("IRT_DEVICE") or "auto").lower()
    if choice == "cpu":
        return "cpu"
    if choice == "auto" and "torch" not in sys.modules and not accelerator_possible():
        return "cpu"
    from irt_desktop.device import best_device

    return best_device(preference)


def device_text(device: str) -> str:
    """irt_desktop.device.describe_device(device), without torch for the CPU: "CPU (8 cores, with bf16)"."""
    if device == "cpu" and "torch" not in sys.modules:
        from irt_desktop.retrieval.serving import cpu_bf16_native

        return f"CPU ({os.cpu_count()} cores, {'with' if cpu_bf16_native() else 'without'} bf16)"
    from irt_desktop.device import describe_device

    return describe_device(device)
