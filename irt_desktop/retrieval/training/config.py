"""Training settings (TrainConfig) and the recipes in model/recipes/*.toml that fill them.

IRT_O, IRT_L and IRT_R are settings, not code paths (PAPER.md): IRT_O is no training (iterations 0),
IRT_L the contrastive loss alone (koleo_weight 0), IRT_R contrastive + KoLeo.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from irt_desktop.retrieval.zoo import DEFAULT_CARD

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# Settings that change the optimisation trajectory: a checkpoint only resumes a run that agrees on all.
TRAJECTORY_FIELDS = (
    "batch_size",
    "m_per_class",
    "lr",
    "weight_decay",
    "beta",
    "koleo_weight",
    "memory_size",
    "memory_fraction",
    "memory_start",
    "momentum",
    "input_size",
    "seed",
    "grad_accum",
)


class RecipeError(ValueError):
    """A recipe that cannot be found or read; the message names the file."""


@dataclass
class TrainConfig:
    """One training run. Defaults are the paper's category-level settings (PAPER.md "Optimisation")."""

    iterations: int
    batch_size: int = 64
    m_per_class: int = 4
    lr: float = 3e-5
    weight_decay: float = 5e-4
    beta: float = 0.5
    koleo_weight: float = 0.7
    # Cross-batch memory entries; None: memory_fraction x the training set size (PAPER.md: the dataset
    # size, In-Shop 0.2x). 0 disables the memory (batch-only contrastive loss).
    memory_size: int | None = None
    memory_fraction: float = 1.0
    # First iteration that uses (and fills) the memory. XBM (Wang et al. 2020) waits until the features
    # have settled; fine-tuning a pretrained model needs no wait (the paper's recipes: 0), training from
    # scratch does: stale near-identical memory entries would otherwise swamp the batch's signal.
    memory_start: int = 0
    # Momentum of the key encoder that fills the memory (In-Shop: 0.999); None: the live model's outputs.
    momentum: float | None = None
    # Training input size; None keeps the starting model's. Position embeddings are resampled by timm.
    input_size: int | None = None
    eval_every: int = 0
    checkpoint_every: int = 0
    seed: int = 0
    device: str | None = None
    precision: str = "auto"
    # Split each batch into this many micro-batches (same gradient as the whole batch, less memory).
    grad_accum: int = 1
    # Fit a PCA to this many dims on the training features at the end (PAPER.md: 128).
    pca_dims: int | None = None
    num_workers: int = 2
    # Recall@K reported by the periodic evaluation.
    recall_ks: tuple[int, ...] = (1, 2, 4, 8)
    # Provenance: which recipe (and benchmark dataset) these settings came from.
    recipe: str = ""
    dataset: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.recall_ks = tuple(int(k) for k in self.recall_ks)
        problems = []
        if self.iterations < 0:
            problems.append("iterations must be >= 0")
        if self.batch_size < 2 or self.m_per_class < 1 or self.batch_size % self.m_per_class:
            problems.append(
                f"batch_size ({self.batch_size}) must be a multiple of m_per_class ({self.m_per_class})"
            )
        if self.grad_accum < 1 or self.batch_size % self.grad_accum:
            problems.append(
                f"batch_size ({self.batch_size}) must be divisible by grad_accum ({self.grad_accum})"
            )
        if self.momentum is not None and not 0 <= self.momentum < 1:
            problems.append("momentum must be in [0, 1)")
        if self.memory_size is not None and self.memory_size < 0:
            problems.append("memory_size must be >= 0")
        if self.memory_start < 0:
            problems.append("memory_start must be >= 0")
        if not 0 < self.memory_fraction <= 1:
            problems.append("memory_fraction must be in (0, 1]")
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {', '.join(PRECISIONS)}")
        if self.koleo_weight < 0:
            problems.append("koleo_weight must be >= 0")
        if problems:
            raise ValueError("invalid training settings: " + "; ".join(problems))

    @property
    def variant(self) -> str:
        """IRT_O (no training), IRT_L (contrastive only) or IRT_R (with KoLeo)."""
        if self.iterations == 0:
            return "IRT_O"
        return "IRT_L" if self.koleo_weight == 0 else "IRT_R"

    def resolved_memory_size(self, n_train: int) -> int:
        if self.memory_size is not None:
            return self.memory_size
        return max(1, round(self.memory_fraction * n_train))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["recall_ks"] = list(self.recall_ks)
        d["variant"] = self.variant
        return d

    def trajectory(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in TRAJECTORY_FIELDS}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "settings") -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names - {"variant"}
        if unknown:
            raise RecipeError(f"{where}: unknown training setting(s) {', '.join(sorted(unknown))}")
        try:
            return cls(**{k: v for k, v in d.items() if k in names})
        except (TypeError, ValueError) as exc:
            raise RecipeError(f"{where}: {exc}") from exc

    @classmethod
    def from_recipe(cls, name_or_path: str | Path, **overrides: Any) -> TrainConfig:
        """`model/recipes/<name>.toml` (or a recipe file), with `overrides` applied on top."""
        recipe = load_recipe(name_or_path)
        settings = {**recipe.train, "recipe": recipe.name, "dataset": recipe.dataset}
        settings.update(overrides)
        return cls.from_dict(settings, where=str(recipe.path))


@dataclass(frozen=True)
class Recipe:
    """A recipe file: `name`, `dataset`, `description`, the starting `card`, and a [train] table."""

    name: str
    path: Path
    dataset: str
    description: str
    card: str
    train: dict[str, Any]


def recipe_path(name_or_path: str | Path) -> Path:
    from irt_desktop.resources import data_path

    as_path = Path(name_or_path)
    if as_path.suffix == ".toml" or as_path.is_file():
        return as_path
    return data_path("model", "recipes") / f"{name_or_path}.toml"


def load_recipe(name_or_path: str | Path) -> Recipe:
    path = recipe_path(name_or_path)
    if not path.is_file():
        raise RecipeError(
            f"no training recipe {str(name_or_path)!r} ({path} not found); known: {', '.join(list_recipes())}"
        )
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{path}: not valid TOML: {exc}") from exc
    train = doc.get("train")
    if not isinstance(train, dict) or "iterations" not in train:
        raise RecipeError(f"{path}: a recipe needs a [train] table with at least `iterations`")
    return Recipe(
        name=str(doc.get("name", path.stem)),
        path=path,
        dataset=str(doc.get("dataset", "")),
        description=str(doc.get("description", "")),
        card=str(doc.get("card", DEFAULT_CARD)),
        train=dict(train),
    )


def list_recipes() -> list[str]:
    from irt_desktop.resources import data_path

    try:
        return sorted(p.stem for p in data_path("model", "recipes").glob("*.toml"))
    except FileNotFoundError:
        return []
