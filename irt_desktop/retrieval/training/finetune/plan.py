"""Planning a fine-tune run: every decision and every check made before a model is loaded.

The wizard and `irt-desktop train` describe a run the same way (FinetuneSettings) and get the same
FinetunePlan back: the training settings with a batch that the m-per-class sampler can fill (rounded, and
said so in `notes`, rather than refused), periodic evaluation and checkpoints sized to the run, the
train / held-out split, the work folder and the data-loader workers for the device. The plan is a
plain picklable dataclass, so it can be made in one process and run in another; planning loads no torch
where the device is known without it (training.hardware), so a GUI where OpenVINO serves plans for the
child process that trains.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from irt_desktop.retrieval.bundle import ModelBundle
from irt_desktop.retrieval.datasets import (
    CategoryBenchmark,
    FolderDataset,
    RetrievalSplit,
    scan_class_folders,
    split_folder_dataset,
)
from irt_desktop.retrieval.training.config import TrainConfig, load_recipe
from irt_desktop.retrieval.training.hardware import loader_workers_for, plan_device
from irt_desktop.retrieval.training.progress import EvalSplit, data_fingerprint

DEFAULT_RECIPE = "folders"
VARIANTS = ("IRT_R", "IRT_L")
# Under the library folder: one sub-folder per run, holding the checkpoint it resumes from.
WORK_FOLDER = "training"
# A folder run is small and its held-out photos are few: measuring them 8 times draws the recall curve
# the wizard shows, and 4 checkpoints bound what a stop loses. Benchmark runs keep their recipe's.
EVALS_PER_RUN = 8
CHECKPOINTS_PER_RUN = 4
# Embedding for evaluation is a forward pass only: about 3x the training images/s.
EVAL_SPEEDUP = 3.0
FOLDER_DATA = "folders"

# Sizing a run to the photos and the device (size_run). A first run should end while the user waits.
TIME_BUDGET_S = 15 * 60
# Passes over the training photos: the paper's CUB schedule is 2,000 iterations of 64 over 5,864 images,
# about 22; fewer photos need no more passes, and a pretrained model moves little in fewer.
TARGET_EPOCHS = 20
MIN_ITERATIONS = 10
# The periodic measurements of the held-out photos may take at most this share of the time.
EVAL_SHARE = 0.2


class FinetuneError(ValueError):
    """A run that cannot be planned; the message says what to change."""


@dataclass(frozen=True)
class FinetuneSettings:
    """What the user chose. None means: the recipe's value (or, where noted, a rule of the plan)."""

    recipe: str | None = None  # name or .toml; None: "folders", or a benchmark's own recipe
    variant: str = "IRT_R"  # IRT_R (contrastive + KoLeo) or IRT_L (contrastive only), any case
    iterations: int | None = None
    batch_size: int | None = None  # rounded to a multiple of the recipe's images per class
    input_size: int | None = None
    holdout: float = 0.3  # folders: share held out to measure Recall@K (0: none)
    split_by: str = "class"  # folders: hold out whole classes, or photos of every class ("image")
    name: str | None = None  # of the trained model
    data_name: str | None = None  # for the model card; None: the folders' names or the benchmark's
    precision: str | None = None
    pca_dims: int | None = None
    num_workers: int | None = None  # None: loader_workers_for(device)
    evaluations: int | None = None  # folders: held-out measurements during training (None: 7)
    resume: bool = True
    work_dir: Path | None = None  # None: a folder per run under the plan's work root
    overrides: Mapping[str, Any] = field(default_factory=dict)  # any other TrainConfig field


@dataclass(frozen=True)
class FinetunePlan:
    """A run ready to go: run_finetune(plan) trains `base` on `train` with `config`."""

    base: ModelBundle
    config: TrainConfig
    train: RetrievalSplit
    held_out: EvalSplit | None
    data_name: str
    models_dir: Path
    work_dir: Path | None
    name: str | None = None
    resume: bool = True
    baseline: bool = False  # measure the starting model on the held-out photos first
    notes: tuple[str, ...] = ()

    @property
    def device(self) -> str:
        return self.config.device or "cpu"

    @property
    def held_out_images(self) -> int:
        return held_out_size(self.held_out)

    @property
    def evaluations(self) -> int:
        """How many times the held-out photos are embedded: before, during and after training."""
        if self.held_out is None:
            return 0
        cfg = self.config
        during = (cfg.iterations - 1) // cfg.eval_every if cfg.eval_every and cfg.iterations else 0
        return int(self.baseline) + during + 1

    def estimate(self, cost: DeviceCost) -> float:
        """Seconds the run takes at the measured `cost` (decoding and the held-out measurements included)."""
        return cost.seconds(
            self.config.iterations, self.config.batch_size, self.held_out_images, self.evaluations
        )

    def estimate_s(self, images_per_s: float) -> float:
        """Seconds the run takes at `images_per_s` training images per second (decoding not counted)."""
        return estimate_seconds(
            self.config.iterations * self.config.batch_size,
            self.held_out_images * self.evaluations,
            images_per_s,
        )


@dataclass(frozen=True)
class DeviceCost:
    """Seconds per image on one device for one architecture and input size, measured by a probe
    (finetune.run.measure_cost): a training image (forward, backward, optimiser step), an embedded
    image (forward only), one of the user's photos decoded and augmented, and the start of a run."""

    train_s: float
    eval_s: float
    decode_s: float = 0.0
    setup_s: float = 0.0
    how: str = ""

    @property
    def images_per_s(self) -> float:
        return 1.0 / max(self.train_s, 1e-9)

    def seconds(self, iterations: int, batch_size: int, held_out: int, evaluations: int) -> float:
        """A run of `iterations` x `batch_size` that measures `held_out` photos `evaluations` times.
        Decoding adds to the compute: on a small CPU the loader decodes in the training process."""
        return (
            self.setup_s
            + iterations * batch_size * (self.train_s + self.decode_s)
            + evaluations * held_out * (self.eval_s + self.decode_s)
        )


@dataclass(frozen=True)
class RunSize:
    """What size_run chose: `evaluations` held-out measurements during training (before and after
    come on top), `seconds` the estimate at the measured cost, `passes` over the training photos."""

    iterations: int
    batch_size: int
    evaluations: int
    seconds: float
    passes: float
    limited: bool  # the time budget, not the photos, set the iterations


def size_run(
    train_images: int,
    train_classes: int,
    held_out: int,
    cost: DeviceCost,
    *,
    m_per_class: int = 4,
    max_batch: int = 64,
    max_iterations: int = 1000,
    budget_s: float = TIME_BUDGET_S,
    baseline: bool = True,
) -> RunSize:
    """Iterations, batch and held-out measurements for `train_images` photos in `train_classes` classes
    (with 2 photos or more) on a device that costs `cost`: about TARGET_EPOCHS passes over the photos, in
    batches of every class up to the recipe's `max_batch`, cut to what fits in `budget_s` (never below
    MIN_ITERATIONS; the estimate then says how long it takes). `max_iterations`: the recipe's."""
    m = max(1, m_per_class)
    groups = max(2, min(max_batch // m, train_classes, max(2, train_images // m)))
    per_eval = held_out * (cost.eval_s + cost.decode_s)
    fixed = int(baseline) + 1 if held_out else 0  # the measurements before training and after it
    if held_out and per_eval > 0:
        during = int(EVAL_SHARE * budget_s // per_eval) - fixed
        during = max(0, min(EVALS_PER_RUN - 1, during))
    else:
        during = 0 if not held_out else EVALS_PER_RUN - 1

    def per_iteration(g: int) -> float:
        return g * m * (cost.train_s + cost.decode_s)

    room = budget_s - cost.setup_s - (fixed + during) * per_eval
    while groups > 2 and MIN_ITERATIONS * per_iteration(groups) > room:
        groups -= 1  # a slow device: smaller batches before fewer iterations than the minimum
    batch = groups * m
    wanted = max(MIN_ITERATIONS, min(max_iterations, math.ceil(TARGET_EPOCHS * train_images / batch)))
    fits = int(room // per_iteration(groups)) if per_iteration(groups) > 0 else wanted
    iterations = max(MIN_ITERATIONS, min(wanted, fits))
    measured = periodic_evaluations(iterations, during)[1] if held_out else 0
    seconds = cost.seconds(iterations, batch, held_out, fixed + measured)
    return RunSize(
        iterations=iterations,
        batch_size=batch,
        evaluations=during,
        seconds=seconds,
        passes=iterations * batch / max(train_images, 1),
        limited=iterations < wanted,
    )


def periodic_evaluations(iterations: int, during: int) -> tuple[int, int]:
    """(eval_every, measurements) for at most `during` held-out measurements spread over a run of
    `iterations` before its last one (the final measurement comes on top)."""
    if during <= 0 or iterations <= 1:
        return 0, 0
    every = math.ceil(iterations / (during + 1))
    return every, (iterations - 1) // every


def split_counts(dataset: FolderDataset, holdout: float, split_by: str = "class") -> tuple[int, int, int]:
    """(training photos, training classes with 2 photos or more, held-out photos) of the split a plan
    with these settings makes (0 held out where it cannot hold any out)."""
    if holdout <= 0:
        return len(dataset.records), usable_classes(dataset), 0
    try:
        train, held = split_folder_dataset(dataset, by=split_by, holdout=holdout)
    except ValueError:
        return len(dataset.records), usable_classes(dataset), 0
    return len(train), usable_classes(train), len(held)


def held_out_size(split: EvalSplit | None) -> int:
    if split is None:
        return 0
    if isinstance(split, CategoryBenchmark):
        return len(split.query) + (len(split.gallery) if split.gallery is not None else 0)
    return len(split)


def estimate_seconds(train_images: int, eval_images: int, images_per_s: float) -> float:
    """Training `train_images` and embedding `eval_images` at a measured training speed."""
    speed = max(images_per_s, 1e-9)
    return train_images / speed + eval_images / (EVAL_SPEEDUP * speed)


def round_batch(batch_size: int, m_per_class: int) -> tuple[int, str | None]:
    """The batch the m-per-class sampler can fill nearest to `batch_size`, and a note when it differs.

    A batch is whole groups of `m_per_class` images of one class; halves round up (30 of 4 -> 32)."""
    if m_per_class < 1 or batch_size % m_per_class == 0:
        return batch_size, None
    rounded = max(m_per_class, (batch_size + m_per_class // 2) // m_per_class * m_per_class)
    return rounded, (
        f"batch {batch_size} rounded to {rounded} (a multiple of {m_per_class} images per class)"
    )


def recipe_defaults(name: str) -> dict[str, Any]:
    """The recipe's values a settings form starts from."""
    cfg = TrainConfig.from_recipe(name)
    return {
        "iterations": cfg.iterations,
        "batch_size": cfg.batch_size,
        "m_per_class": cfg.m_per_class,
        "koleo_weight": cfg.koleo_weight,
    }


def usable_classes(dataset: FolderDataset | RetrievalSplit) -> int:
    """Classes with at least 2 images: the only ones that teach what makes two photos alike."""
    counts: dict[int, int] = {}
    for r in dataset.records:
        counts[r.label] = counts.get(r.label, 0) + 1
    return sum(1 for n in counts.values() if n >= 2)


def model_slug(text: str) -> str:
    """A model name safe in folder names and ids: lower case, words joined by '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "my-model"


def default_work_root(library: Path) -> Path:
    return Path(library) / WORK_FOLDER


def plan_finetune(
    data: FolderDataset | CategoryBenchmark | Sequence[str | Path] | str | Path,
    settings: FinetuneSettings | None = None,
    *,
    base: ModelBundle,
    models_dir: Path,
    device: str | None = None,
    work_root: Path | None = None,
) -> FinetunePlan:
    """Plan fine-tuning `base` on class folders (paths, or a FolderDataset already scanned) or on a
    benchmark's training split. `device`: as for best_device (None: the fastest here). Checkpoints go
    to `settings.work_dir`, else to a folder per run under `work_root` (neither: no checkpoints).

    Raises FinetuneError (or the reader's DatasetError for folders that hold no photos)."""
    settings = settings or FinetuneSettings()
    notes: list[str] = []
    train, held_out, data_name, default_recipe, folders = _split(data, settings)
    if not train.records:
        raise FinetuneError("the training set is empty: every photo was held out")
    if held_out is not None and held_out_size(held_out) == 0:
        held_out = None
        notes.append("no photo could be held out, so Recall@K is not measured")

    variant = settings.variant.upper()
    if variant not in VARIANTS:
        raise FinetuneError(f"variant must be one of {', '.join(VARIANTS)}, got {settings.variant!r}")
    recipe = load_recipe(settings.recipe or default_recipe)
    values: dict[str, Any] = {**recipe.train, "recipe": recipe.name, "dataset": recipe.dataset}
    values.update(settings.overrides)
    if folders:
        # The model card says what it was trained on: the user's folders, whichever recipe was used.
        values["dataset"] = FOLDER_DATA
    explicit = {
        "iterations": settings.iterations,
        "batch_size": settings.batch_size,
        "input_size": settings.input_size,
        "precision": settings.precision,
        "pca_dims": settings.pca_dims,
    }
    values.update({k: v for k, v in explicit.items() if v is not None})
    if variant == "IRT_L":
        values["koleo_weight"] = 0.0
    if values.get("input_size") == base.card.spec.input_size:
        # The starting model's own size: the same run (and checkpoint) as not naming a size at all.
        values["input_size"] = None
    try:
        resolved = plan_device(device if device is not None else values.get("device"))
    except RuntimeError as exc:
        raise FinetuneError(str(exc)) from exc
    values["device"] = resolved
    if settings.num_workers is not None:
        values["num_workers"] = settings.num_workers
    elif "num_workers" not in settings.overrides:
        values["num_workers"] = loader_workers_for(resolved)

    m = int(values.get("m_per_class", TrainConfig.m_per_class))
    batch, note = round_batch(int(values.get("batch_size", TrainConfig.batch_size)), m)
    values["batch_size"] = batch
    if note:
        notes.append(note)
    iterations = int(values.get("iterations", 0))
    if folders:
        if "eval_every" not in settings.overrides:
            during = EVALS_PER_RUN - 1 if settings.evaluations is None else max(0, settings.evaluations)
            values["eval_every"] = periodic_evaluations(iterations, during)[0]
        if "checkpoint_every" not in settings.overrides:
            values["checkpoint_every"] = max(1, iterations // CHECKPOINTS_PER_RUN)
    try:
        config = TrainConfig.from_dict(values, where=str(recipe.path))
    except ValueError as exc:
        raise FinetuneError(str(exc)) from exc

    return FinetunePlan(
        base=base,
        config=config,
        train=train,
        held_out=held_out,
        data_name=data_name,
        models_dir=Path(models_dir),
        work_dir=_work_dir(settings, work_root, base, train, config),
        name=settings.name or None,
        resume=settings.resume,
        baseline=folders and held_out is not None,
        notes=tuple(notes),
    )


def _split(
    data: FolderDataset | CategoryBenchmark | Sequence[str | Path] | str | Path, settings: FinetuneSettings
) -> tuple[RetrievalSplit, EvalSplit | None, str, str, bool]:
    """(train, held out, data name, default recipe, whether the data are class folders)."""
    if isinstance(data, CategoryBenchmark):
        return data.train, data, settings.data_name or data.name, data.name, False
    if isinstance(data, FolderDataset):
        dataset, names = data, ""
    else:
        roots = [Path(data)] if isinstance(data, str | Path) else [Path(p) for p in data]
        dataset, names = scan_class_folders(roots), ", ".join(p.name for p in roots)
    if settings.holdout > 0:
        try:
            train, held = split_folder_dataset(dataset, by=settings.split_by, holdout=settings.holdout)
        except ValueError as exc:
            raise FinetuneError(str(exc)) from exc
    else:
        train, held = dataset.as_split(), None
    return train, held, settings.data_name or names or "your albums", DEFAULT_RECIPE, True


def _work_dir(
    settings: FinetuneSettings,
    work_root: Path | None,
    base: ModelBundle,
    train: RetrievalSplit,
    config: TrainConfig,
) -> Path | None:
    """One folder per (starting model, training data, trajectory): running the same plan again resumes
    it, and a run that differs in any of those starts fresh instead of hitting another's checkpoint."""
    if settings.work_dir is not None:
        return Path(settings.work_dir)
    if work_root is None:
        return None
    key = hashlib.sha256(
        f"{base.id}\0{data_fingerprint(train.records)}\0{sorted(config.trajectory().items())}".encode()
    ).hexdigest()[:10]
    # Named by the model it makes: the wizard finds a name's earlier runs (finetune.runs) by it.
    stem = model_slug(settings.name) if settings.name else f"{config.recipe}-{config.variant.lower()}"
    return Path(work_root) / f"{stem}-{key}"
