"""Compiled OpenVINO models, cached per user: converted once per (bundle, OpenVINO version, precision).

The cache lives in the user's cache folder (platformdirs; $IRT_CACHE_DIR overrides it), not in the
library, so a read-only or shared library still serves with OpenVINO. A bundle's id changes with its
weights and card, and the key names the OpenVINO version, so a changed bundle or a new OpenVINO never
reads a stale model. Conversion needs torch and runs in a spawned child process; this module does not
import torch.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from irt_desktop.retrieval.openvino_convert import CACHE_FORMAT, MIN_AGREEMENT
from irt_desktop.retrieval.openvino_runtime import openvino_version

# A conversion of DeiT-S takes ~6 s here; a child that has not answered in this long is stuck.
CONVERT_TIMEOUT_S = 600.0


def cache_root() -> Path:
    env = os.environ.get("IRT_CACHE_DIR")
    if env:
        return Path(env).expanduser() / "openvino"
    base = Path(platformdirs.user_cache_dir("irt-desktop", appauthor=False))
    return base / "openvino"


def cache_dir(bundle_id: str, precision: str, version: str | None = None) -> Path:
    return cache_root() / f"{bundle_id}-ov{version or openvino_version()}-{precision}"


@dataclass(frozen=True)
class CompiledModel:
    xml: Path
    bundle_id: str
    precision: str
    agreement: float
    dim: int
    version: str


def find_compiled(bundle_id: str, precision: str) -> CompiledModel | None:
    """The cached model, if a valid one is there for this bundle, requested precision and OpenVINO
    version."""
    version = openvino_version()
    if version is None:
        return None
    folder = cache_dir(bundle_id, precision, version)
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    xml = folder / "model.xml"
    if not (xml.is_file() and (folder / "model.bin").is_file()):
        return None
    if (
        meta.get("format") != CACHE_FORMAT
        or meta.get("bundle_id") != bundle_id
        or meta.get("openvino") != version
        or meta.get("requested") != precision
        or float(meta.get("agreement", 0.0)) < MIN_AGREEMENT
    ):
        return None
    # `precision` is what serves: the one asked for, or f32 when bf16 moved descriptors too far.
    served = str(meta.get("precision", precision))
    return CompiledModel(xml, bundle_id, served, float(meta["agreement"]), int(meta["dim"]), version)


class CompileFailed(RuntimeError):
    """Conversion failed or was refused; the message is the reason torch serves instead."""


def _child(bundle_dir: str, out_dir: str, precision: str, answer: multiprocessing.Queue) -> None:
    try:
        from irt_desktop.retrieval.openvino_convert import convert_bundle

        reply: tuple = ("ok", convert_bundle(Path(bundle_dir), Path(out_dir), precision))
    except BaseException as exc:  # reported to the parent as the fallback's reason
        reply = ("error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    answer.put(reply)
    answer.close()
    answer.join_thread()  # the reply is in the pipe before the process goes
    # With both torch's OpenMP pool and OpenVINO's TBB pool alive, interpreter shutdown can hang in
    # their finalizers; the work is saved and answered, so leave without running them.
    os._exit(0)


def _wait_for_answer(proc: multiprocessing.process.BaseProcess, answer: multiprocessing.Queue) -> tuple:
    """The child's answer; a child that died without one (killed, out of memory) is a failure too."""
    import queue
    import time

    deadline = time.monotonic() + CONVERT_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            return answer.get(timeout=0.5)
        except queue.Empty:
            if not proc.is_alive():
                try:
                    return answer.get(timeout=1.0)
                except queue.Empty:
                    return "error", f"the conversion process ended without an answer (exit {proc.exitcode})"
    proc.kill()
    return "error", f"the conversion did not finish within {CONVERT_TIMEOUT_S:.0f} s"


def compile_in_child(bundle_dir: Path, bundle_id: str, precision: str) -> CompiledModel:
    """Convert the bundle in a fresh (spawned) process and return the cached result."""
    found = find_compiled(bundle_id, precision)
    if found is not None:
        return found
    if openvino_version() is None:
        raise CompileFailed("OpenVINO is not installed (no wheel for this platform)")
    ctx = multiprocessing.get_context("spawn")
    answer: multiprocessing.Queue = ctx.Queue()
    proc = ctx.Process(
        target=_child,
        args=(str(bundle_dir), str(cache_dir(bundle_id, precision)), precision, answer),
        name="irt-openvino-convert",
        daemon=True,
    )
    proc.start()
    try:
        status, payload = _wait_for_answer(proc, answer)
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
    if status != "ok":
        raise CompileFailed(str(payload))
    found = find_compiled(bundle_id, precision)
    if found is None:
        raise CompileFailed("the converted model was not found in the cache after conversion")
    return found
