"""IRT training: settings and recipes, m-per-class sampling, the trainer, checkpoints, evaluation."""

from irt_desktop.retrieval.training.checkpoint import CheckpointError
from irt_desktop.retrieval.training.config import Recipe, RecipeError, TrainConfig, list_recipes, load_recipe
from irt_desktop.retrieval.training.evaluate import evaluate_bundle, evaluate_model, extract_features
from irt_desktop.retrieval.training.sampler import MPerClassSampler
from irt_desktop.retrieval.training.trainer import Trainer, TrainProgress, TrainResult

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
