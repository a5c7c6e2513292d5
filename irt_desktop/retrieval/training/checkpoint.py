"""Training checkpoints: everything needed to resume a run exactly, in formats that cannot run code.

A checkpoint is a folder:
- `tensors.safetensors`: model, momentum encoder and cross-batch memory (flat name -> tensor);
- `optimizer.pt`: optimizer / grad-scaler state and the torch RNG state, plain tensors and containers
  written with torch.save and read back with `weights_only=True` (no arbitrary unpickling);
- `state.json`: iteration, settings, data fingerprint and the loss history.

It is written next to its final place and swapped in with renames, so a run killed mid-save leaves the
previous checkpoint usable.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

# Defined torch-free: a process without torch unpickles it from a run in a child process.
from irt_desktop.retrieval.training.errors import CheckpointError as CheckpointError

FORMAT = 1
TENSORS_FILE = "tensors.safetensors"
STATE_FILE = "optimizer.pt"
META_FILE = "state.json"


@dataclass
class Checkpoint:
    iteration: int
    tensors: dict[str, torch.Tensor]
    state: dict[str, Any]
    meta: dict[str, Any]


def save_checkpoint(
    folder: Path,
    iteration: int,
    tensors: dict[str, torch.Tensor],
    state: dict[str, Any],
    meta: dict[str, Any],
) -> Path:
    """Write `folder` atomically (temp folder + renames); returns it."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp, old = folder.with_name(folder.name + ".tmp"), folder.with_name(folder.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    # safetensors refuses shared or strided storage: give it its own contiguous CPU copies.
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    save_file(flat, str(tmp / TENSORS_FILE), metadata={"format": "irt-desktop-checkpoint"})
    torch.save(_to_cpu(state), tmp / STATE_FILE)
    (tmp / META_FILE).write_text(
        json.dumps({**meta, "format": FORMAT, "iteration": iteration}), encoding="utf-8"
    )
    _fsync_dir(tmp)
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def load_checkpoint(folder: Path) -> Checkpoint | None:
    """The checkpoint in `folder` (or the one a crash mid-save left as `.old`); None if there is none."""
    folder = Path(folder)
    if not (folder / META_FILE).is_file():
        old = folder.with_name(folder.name + ".old")
        if not (old / META_FILE).is_file():
            return None
        folder = old
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        if int(meta.get("format", 0)) > FORMAT:
            raise CheckpointError(
                f"{folder}: checkpoint format {meta['format']} is newer than this irt-desktop"
            )
        tensors = load_file(str(folder / TENSORS_FILE))
        state = torch.load(folder / STATE_FILE, map_location="cpu", weights_only=True)
    except (OSError, ValueError, RuntimeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{folder}: damaged checkpoint ({exc})") from exc
    return Checkpoint(int(meta["iteration"]), tensors, state, meta)


def prefixed(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in state.items()}


def unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    head = prefix + "."
    return {k[len(head) :]: v for k, v in tensors.items() if k.startswith(head)}


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def _fsync_dir(folder: Path) -> None:
    for p in folder.iterdir():
        with open(p, "rb") as f:
            os.fsync(f.fileno())
