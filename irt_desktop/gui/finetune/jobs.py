"""What the fine-tune wizard runs on the worker: the choices its settings page offers, the cost probe
its estimate comes from, and the run itself (in a child process where OpenVINO serves this one)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from irt_desktop.gui.library_client import LibraryClient

# What the probe computes after its set-up (finetune.run.measure_cost): 2 training steps of 8 images,
# and 2 forward passes of 8 (one to warm up).
PROBE_TRAIN_IMAGES, PROBE_EVAL_IMAGES = 16, 16


def torch_in_child(library: Any) -> bool:
    """Whether torch must compute in a child process: OpenVINO serves this process's searches (or is
    the backend the library chose), and two runtimes' thread pools on the same cores slow each other
    many times over. Worker side: asking may import OpenVINO."""
    models = getattr(library, "models", None)
    if models is None:
        return False
    from irt_desktop.retrieval.serving import choose_backend

    try:
        choice = choose_backend(getattr(models, "backend", None), getattr(models, "device", None))
    except ValueError:
        return False
    return choice.backend == "openvino"


def train_albums(
    choices: dict[str, Any],
    dataset: Any,
    base: Any,
    library_dir: Path,
    models_dir: Path,
    device: str | None,
    progress: Any,
    cancel: threading.Event,
    library: Any = None,
    start_over: bool = False,
) -> Any:
    """Worker side: plan the run from the wizard's choices, then run it (in a spawned child when OpenVINO
    serves `library` here); None if stopped before an answer. `start_over`: an earlier run in the plan's
    work folder is set aside first (kept, not deleted)."""
    from irt_desktop.retrieval.training import finetune
    from irt_desktop.retrieval.training.finetune import (
        FinetuneSettings,
        default_work_root,
        plan_finetune,
        set_aside,
    )

    plan = plan_finetune(
        dataset,
        FinetuneSettings(**choices),
        base=base,
        models_dir=models_dir,
        device=device,
        work_root=default_work_root(library_dir),
    )
    if start_over and plan.work_dir is not None:
        set_aside(plan.work_dir)
    # Named only here: finetune.run_finetune loads torch into this process.
    run = finetune.run_finetune_in_child if torch_in_child(library) else finetune.run_finetune
    try:
        return run(plan, progress, cancel)
    except Exception:
        if cancel.is_set():  # failed while stopping (e.g. mid-evaluation): a stop, not a failure
            return None
        raise


def load_choices(models_dir: Path, client: LibraryClient) -> dict[str, Any]:
    """Worker side: the installed models, the recipes, the device and the library's serving model.
    Loads no torch where the device is known without it (training.hardware): where OpenVINO serves,
    torch computes in a child process only."""
    from irt_desktop.retrieval.bundle import list_bundles
    from irt_desktop.retrieval.training import list_recipes
    from irt_desktop.retrieval.training.finetune import DEFAULT_RECIPE
    from irt_desktop.retrieval.training.hardware import device_text, plan_device

    library = client.library
    serving = None
    if library is not None:
        serving = getattr(library, "target_model_id", None) or getattr(library, "model_id", None)
    device = plan_device(None)
    return {
        "bundles": list_bundles(models_dir),
        "recipes": list_recipes(),
        "default_recipe": DEFAULT_RECIPE,
        "serving": serving,
        "device": device,
        "device_text": device_text(device),
    }


def probe_cost(
    base: Any, size: int, device: str, precision: str, sample: tuple[str, ...], library: Any
) -> Any:
    """Worker side: finetune.measure_cost, in a child process where OpenVINO serves this one (the run
    then starts one too: what starting it costs is counted as set-up)."""
    import dataclasses
    import time

    from irt_desktop.retrieval.training import finetune

    if not torch_in_child(library):
        return finetune.measure_cost(base, size, device, precision=precision, sample=sample)
    t0 = time.perf_counter()
    cost = finetune.measure_cost_in_child(base, size, device, precision, sample)
    wall = time.perf_counter() - t0
    timed = PROBE_TRAIN_IMAGES * cost.train_s + PROBE_EVAL_IMAGES * cost.eval_s + len(sample) * cost.decode_s
    return dataclasses.replace(cost, setup_s=max(cost.setup_s, wall - timed))
