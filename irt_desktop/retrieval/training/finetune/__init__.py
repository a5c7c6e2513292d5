"""The fine-tune job the wizard and `irt-desktop train` share, free of Qt.

plan_finetune(data, settings, ...) -> FinetunePlan decides and checks everything (size_run sizes a run to
the photos and the measured cost of this device); run_finetune(plan, on_event, cancel) -> FinetuneResult
trains with typed progress events and compares before / after with bootstrap intervals (compare);
run_finetune_in_child does the same in a spawned process (events over a multiprocessing queue, cancel
over a multiprocessing Event). runs: the names earlier runs and installed models already use.

Importing the package loads no torch (a GUI where OpenVINO serves plans, sizes and names runs, and
receives their events, while a child process trains): run_finetune, measure_cost and measure_speed,
which compute with torch, are loaded on first use of their names.
"""

from typing import Any

from irt_desktop.retrieval.training.finetune.child import (
    ChildProcessFailed,
    call_in_child,
    measure_cost_in_child,
    measure_speed_in_child,
    run_finetune_in_child,
)
from irt_desktop.retrieval.training.finetune.compare import Interval, RecallComparison, compare_recall
from irt_desktop.retrieval.training.finetune.events import (
    Baseline,
    Evaluating,
    FinetuneEvent,
    FinetuneResult,
    Finished,
    Stage,
    Started,
    Step,
)
from irt_desktop.retrieval.training.finetune.plan import (
    DEFAULT_RECIPE,
    TIME_BUDGET_S,
    VARIANTS,
    DeviceCost,
    FinetuneError,
    FinetunePlan,
    FinetuneSettings,
    RunSize,
    default_work_root,
    estimate_seconds,
    model_slug,
    periodic_evaluations,
    plan_finetune,
    recipe_defaults,
    round_batch,
    size_run,
    split_counts,
    usable_classes,
)
from irt_desktop.retrieval.training.finetune.runs import NameUse, PastRun, name_use, set_aside, unique_name

__all__ = [
    "DEFAULT_RECIPE",
    "TIME_BUDGET_S",
    "VARIANTS",
    "Baseline",
    "ChildProcessFailed",
    "DeviceCost",
    "Evaluating",
    "FinetuneError",
    "FinetuneEvent",
    "FinetunePlan",
    "FinetuneResult",
    "FinetuneSettings",
    "Finished",
    "Interval",
    "NameUse",
    "PastRun",
    "RecallComparison",
    "RunSize",
    "Stage",
    "Started",
    "Step",
    "call_in_child",
    "compare_recall",
    "default_work_root",
    "estimate_seconds",
    "measure_cost",
    "measure_cost_in_child",
    "measure_speed",
    "measure_speed_in_child",
    "model_slug",
    "name_use",
    "periodic_evaluations",
    "plan_finetune",
    "recipe_defaults",
    "round_batch",
    "run_finetune",
    "run_finetune_in_child",
    "set_aside",
    "size_run",
    "split_counts",
    "unique_name",
    "usable_classes",
]

# Computed with torch (finetune.run): loaded when first named.
_LAZY = ("measure_cost", "measure_speed", "run_finetune")


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.run"), name)
    globals()[name] = value
    return value
