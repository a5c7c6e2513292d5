"""The fine-tune job the wizard and `irt-desktop train` share, free of Qt.

plan_finetune(data, settings, ...) -> FinetunePlan decides and checks everything; run_finetune(plan,
on_event, cancel) -> FinetuneResult trains with typed progress events; run_finetune_in_child does the
same in a spawned process (events over a multiprocessing queue, cancel over a multiprocessing Event).
"""

from irt_desktop.retrieval.training.finetune.child import (
    ChildProcessFailed,
    call_in_child,
    measure_speed_in_child,
    run_finetune_in_child,
)
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
    VARIANTS,
    FinetuneError,
    FinetunePlan,
    FinetuneSettings,
    default_work_root,
    estimate_seconds,
    model_slug,
    plan_finetune,
    recipe_defaults,
    round_batch,
    usable_classes,
)
from irt_desktop.retrieval.training.finetune.run import measure_speed, run_finetune

__all__ = [
    "DEFAULT_RECIPE",
    "VARIANTS",
    "Baseline",
    "ChildProcessFailed",
    "Evaluating",
    "FinetuneError",
    "FinetuneEvent",
    "FinetunePlan",
    "FinetuneResult",
    "FinetuneSettings",
    "Finished",
    "Stage",
    "Started",
    "Step",
    "call_in_child",
    "default_work_root",
    "estimate_seconds",
    "measure_speed",
    "measure_speed_in_child",
    "model_slug",
    "plan_finetune",
    "recipe_defaults",
    "round_batch",
    "run_finetune",
    "run_finetune_in_child",
    "usable_classes",
]
