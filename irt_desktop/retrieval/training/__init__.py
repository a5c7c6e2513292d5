"""IRT training: settings and recipes, m-per-class sampling, the trainer, checkpoints, evaluation.

Importing the package loads no torch: the recipes, the settings and what a run reports are torch-free
(the fine-tune wizard plans a run in a process where OpenVINO serves and a child trains it), and so is
CheckpointError, which such a process may receive from the child; the trainer, checkpoints and
evaluation are loaded on first use of their names.
"""

from typing import Any

from irt_desktop.retrieval.training.config import Recipe, RecipeError, TrainConfig, list_recipes, load_recipe
from irt_desktop.retrieval.training.errors import CheckpointError
from irt_desktop.retrieval.training.progress import TrainProgress, TrainResult
from irt_desktop.retrieval.training.sampler import MPerClassSampler

# name -> the module that defines it (each imports torch).
_LAZY = {
    "evaluate_bundle": "evaluate",
    "evaluate_model": "evaluate",
    "extract_features": "evaluate",
    "Trainer": "trainer",
}

__all__ = [
    "CheckpointError",
    "MPerClassSampler",
    "Recipe",
    "RecipeError",
    "TrainConfig",
    "TrainProgress",
    "TrainResult",
    "Trainer",
    "evaluate_bundle",
    "evaluate_model",
    "extract_features",
    "list_recipes",
    "load_recipe",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once: later lookups do not come back here
    return value
