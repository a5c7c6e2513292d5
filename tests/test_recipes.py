"""The recipes state the choices the paper leaves open, and what they state is what the code does."""

from __future__ import annotations

import threading
import tomllib

import pytest
import torch

from irt_desktop.resources import data_path
from irt_desktop.retrieval.training import TrainConfig
from irt_desktop.retrieval.training.config import load_recipe

PAPER_RECIPES = ("sop", "cub", "inshop", "sfm120k", "sfm120k-deit-b", "folders")


def _choices(name: str) -> dict:
    return tomllib.loads((data_path("model", "recipes") / f"{name}.toml").read_text())["choices"]


@pytest.mark.parametrize("name", PAPER_RECIPES)
def test_every_paper_recipe_states_the_open_choices(name):
    choices = _choices(name)
    for key in ("weight_decay_on", "weight_decay_why", "gem_signed_tokens", "training_precision"):
        assert len(choices[key]) > 40, key
    assert choices["weight_decay_on"].startswith("all parameters")
    assert "clamp(min=1e-6)" in choices["gem_signed_tokens"]
    assert choices["training_precision"].startswith("auto")
    assert load_recipe(name).train.get("precision", "auto") == "auto"


def test_landmark_recipes_use_the_papers_landmark_lambda():
    for name in ("sfm120k", "sfm120k-deit-b"):
        recipe = load_recipe(name)
        assert recipe.dataset == "sfm120k" and 3 <= recipe.train["koleo_weight"] <= 4
    assert load_recipe("sfm120k").card == "deit-s-distilled"
    assert load_recipe("sfm120k-deit-b").card == "deit-b-distilled-384"


def test_weight_decay_applies_to_every_parameter_as_stated(tiny_bundle):
    from irt_desktop.retrieval.training import trainer as trainer_module
    from irt_desktop.retrieval.training.distributed import init_distributed

    cfg = TrainConfig.from_recipe("cub", iterations=1, device="cpu", num_workers=0, memory_size=0)
    records = [trainer_module.ImageRecord(f"/x/{i}.jpg", i % 2) for i in range(8)]
    t = trainer_module.Trainer(tiny_bundle, records, cfg)
    run = trainer_module._Run(t, init_distributed("cpu"), lambda p: None, threading.Event())
    (group,) = run.optimizer.param_groups
    assert group["weight_decay"] == 5e-4
    assert {id(p) for p in group["params"]} == {id(p) for p in run.model.parameters()}
    # Including what DeiT would exclude: norms, biases, the class token and position embeddings.
    names = {n for n, _ in run.model.named_parameters()}
    assert any("norm" in n for n in names) and any(n.endswith("bias") for n in names)
    assert any("cls_token" in n for n in names) and any("pos_embed" in n for n in names)
    # "cannot matter": the decoupled decay over the paper's longest schedule.
    assert 1 - (1 - cfg.lr * cfg.weight_decay) ** 35_000 < 6e-4


def test_gem_clamps_signed_tokens_as_stated():
    from irt_desktop.retrieval.pooling import TokenPool

    tokens = torch.tensor([[[9.0, 9.0], [-8.0, 1.0], [-8.0, 8.0]]])  # CLS, then two patch tokens
    pooled = TokenPool("gem", num_prefix_tokens=1)(tokens)
    # The first channel's patch values are both negative: clamped to 1e-6, not -8.
    assert pooled[0, 0] == pytest.approx(1e-6, rel=1e-3)
    assert pooled[0, 1] == pytest.approx(((1 + 8**3) / 2) ** (1 / 3))
