"""The trainer on a tiny ViT: it learns, resumes exactly, accumulates exactly, records what it did."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from benchmark_layouts import write_cub

from irt_desktop.retrieval.bundle import load_bundle
from irt_desktop.retrieval.datasets import load_cub
from irt_desktop.retrieval.provenance import Provenance
from irt_desktop.retrieval.training import (
    CheckpointError,
    RecipeError,
    TrainConfig,
    Trainer,
    evaluate_bundle,
    list_recipes,
)

FAST = dict(batch_size=16, m_per_class=4, lr=1e-3, num_workers=0, device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """8 train and 8 unseen classes of procedural shapes, 6 images each, in the CUB layout."""
    return load_cub(write_cub(tmp_path_factory.mktemp("cub"), 8, 8, 6))


def _losses(result):
    return [h.loss for h in result.history]


def test_thirty_iterations_improve_recall_on_the_training_classes(tiny_bundle, shapes, tmp_path):
    before = evaluate_bundle(tiny_bundle, shapes.train, (1,), device="cpu", num_workers=0)["R@1"]
    # Batch-only loss: this model starts from random weights, whose near-identical descriptors would fill
    # a memory with negatives that swamp 30 iterations' signal (memory_start exists for that; the
    # memory itself is exercised by the resume and DDP tests).
    cfg = TrainConfig(iterations=30, memory_size=0, **FAST)
    seen = []
    result = Trainer(tiny_bundle, shapes.train, cfg, eval_split=shapes.train, models_dir=tmp_path).run(
        progress=seen.append
    )
    after = result.metrics["R@1"]
    assert after >= before + 10, (before, after)
    assert [p.iteration for p in seen if p.phase == "train"] == list(range(1, 31))
    assert all(p.images_per_s > 0 and p.eta_s >= 0 for p in seen if p.phase == "train")
    assert seen[-1].phase == "save" and not result.cancelled
    # The loss is the paper's: contrastive + 0.7 KoLeo.
    h = result.history[5]
    assert h.loss == pytest.approx(h.loss_contrastive + 0.7 * h.loss_koleo, rel=1e-5)


@pytest.mark.parametrize(
    "extra",
    [{}, {"momentum": 0.9, "memory_size": 20, "grad_accum": 2}],
    ids=["plain", "momentum-memory-accumulation"],
)
def test_resume_after_interruption_reproduces_the_loss_curve(tiny_bundle, shapes, tmp_path, extra):
    cfg = TrainConfig(iterations=10, **{**FAST, **extra})
    straight = Trainer(tiny_bundle, shapes.train, cfg, models_dir=tmp_path / "a").run()

    cancel = threading.Event()
    work = tmp_path / "work"

    def stop_at_4(p):
        if p.iteration == 4:
            cancel.set()

    first = Trainer(tiny_bundle, shapes.train, cfg, work_dir=work, models_dir=tmp_path / "b").run(
        progress=stop_at_4, cancel=cancel
    )
    assert first.cancelled and first.bundle is None and len(first.history) == 4
    assert (work / "checkpoint" / "tensors.safetensors").is_file()
    # Resumed in a new Trainer, with image decoding in worker processes this time.
    resumed_cfg = dataclasses.replace(cfg, num_workers=2)
    second = Trainer(tiny_bundle, shapes.train, resumed_cfg, work_dir=work, models_dir=tmp_path / "b").run()
    assert _losses(second) == pytest.approx(_losses(straight), rel=1e-6, abs=1e-6)
    assert second.bundle.id == straight.bundle.id  # bit-identical weights


def test_gradient_accumulation_gives_the_full_batch_gradient(tiny_bundle, shapes, tmp_path):
    curves = [
        _losses(
            Trainer(
                tiny_bundle,
                shapes.train,
                TrainConfig(iterations=6, grad_accum=a, **FAST),
                models_dir=tmp_path,
            ).run()
        )
        for a in (1, 4)
    ]
    assert curves[1] == pytest.approx(curves[0], rel=1e-4)


def test_a_checkpoint_of_another_run_is_not_resumed(tiny_bundle, shapes, tmp_path):
    cfg = TrainConfig(iterations=2, checkpoint_every=1, **FAST)
    Trainer(tiny_bundle, shapes.train, cfg, work_dir=tmp_path, models_dir=tmp_path / "m").run()
    other = dataclasses.replace(cfg, lr=1e-4)
    with pytest.raises(CheckpointError, match="trajectory"):
        Trainer(tiny_bundle, shapes.train, other, work_dir=tmp_path, models_dir=tmp_path / "m").run()
    fresh = Trainer(
        tiny_bundle, shapes.train, other, work_dir=tmp_path, models_dir=tmp_path / "m", resume=False
    )
    assert len(fresh.run().history) == 2


def test_output_bundle_records_recipe_data_metrics_and_pca(tiny_bundle, shapes, tmp_path):
    cfg = TrainConfig.from_recipe("cub", iterations=3, pca_dims=8, recall_ks=(1, 2), **FAST)
    result = Trainer(
        tiny_bundle, shapes, cfg, eval_split=shapes, models_dir=tmp_path, name="my-model", data_name="shapes"
    ).run()
    bundle = load_bundle(result.bundle.path)
    model = bundle.load_model()
    assert model.dim == 8 and bundle.card.spec.dims == 8
    prov = bundle.card.provenance
    assert prov["kind"] == "fine-tuned" and prov["variant"] == "IRT_R"
    assert prov["base_model"] == tiny_bundle.id
    # Titled by what it is; the base's own provenance is recorded inside.
    assert bundle.card.title == f"Fine-tuned on shapes from {tiny_bundle.card.title}"
    assert Provenance.from_dict(prov).base == Provenance.from_dict(tiny_bundle.card.provenance)
    assert (
        prov["recipe"]["recipe"] == "cub"
        and prov["recipe"]["iterations"] == 3
        and prov["recipe"]["lr"] == 1e-3
    )
    assert prov["data"] == {
        "name": "shapes",
        "images": len(shapes.train),
        "classes": 8,
        "fingerprint": prov["data"]["fingerprint"],
    }
    assert set(prov["metrics"]) == {"R@1", "R@2"} and prov["pca"]["dims"] == 8
    assert bundle.card.name == "my-model"
    # The recorded metrics are those of the saved (PCA) model on the unseen classes.
    again = evaluate_bundle(bundle, shapes, (1, 2), device="cpu", num_workers=0)
    assert again == pytest.approx(prov["metrics"])


def test_cancel_before_the_first_step(tiny_bundle, shapes, tmp_path):
    cancel = threading.Event()
    cancel.set()
    result = Trainer(tiny_bundle, shapes.train, TrainConfig(iterations=5, **FAST), models_dir=tmp_path).run(
        cancel=cancel
    )
    assert result.cancelled and result.bundle is None and result.history == []


def test_input_size_and_bf16(tiny_bundle, shapes, tmp_path):
    cfg = TrainConfig(iterations=2, **{**FAST, "precision": "bf16"}, input_size=48, koleo_weight=0.0)
    result = Trainer(tiny_bundle, shapes.train, cfg, models_dir=tmp_path).run()
    assert result.bundle.card.spec.input_size == 48 and result.bundle.load_model().spec.input_size == 48
    assert result.bundle.card.provenance["variant"] == "IRT_L"
    assert all(h.loss == h.loss and h.loss_koleo == 0 for h in result.history)  # finite, no KoLeo


def test_recipes_carry_the_papers_settings():
    assert {"sop", "cub", "inshop", "sfm120k", "folders", "smoke"} <= set(list_recipes())
    sop, cub, inshop = (TrainConfig.from_recipe(n) for n in ("sop", "cub", "inshop"))
    for c in (sop, cub, inshop):
        assert (c.lr, c.weight_decay, c.batch_size, c.m_per_class, c.beta, c.koleo_weight) == (
            3e-5,
            5e-4,
            64,
            4,
            0.5,
            0.7,
        )
        assert c.variant == "IRT_R"
    assert (sop.iterations, cub.iterations, inshop.iterations) == (35000, 2000, 35000)
    assert sop.memory_size is None and sop.resolved_memory_size(59551) == 59551
    assert inshop.resolved_memory_size(25882) == round(0.2 * 25882) and inshop.momentum == 0.999
    assert 3 <= TrainConfig.from_recipe("sfm120k").koleo_weight <= 4
    assert sop.recall_ks == (1, 10, 100, 1000) and inshop.recall_ks == (1, 10, 20, 30)
    assert TrainConfig.from_recipe("cub", koleo_weight=0).variant == "IRT_L"
    assert TrainConfig.from_recipe("cub", iterations=0).variant == "IRT_O"


def test_bad_settings_and_recipes_are_explained(tmp_path):
    with pytest.raises(RecipeError, match="no training recipe"):
        TrainConfig.from_recipe("nope")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\niterations = 5\nlearning_rate = 1\n")
    with pytest.raises(RecipeError, match="learning_rate"):
        TrainConfig.from_recipe(bad)
    with pytest.raises(ValueError, match="multiple of m_per_class"):
        TrainConfig(iterations=1, batch_size=10, m_per_class=4)


def test_memory_starts_at_memory_start(tiny_bundle, shapes, tmp_path):
    none = _losses(
        Trainer(
            tiny_bundle, shapes.train, TrainConfig(iterations=5, memory_size=0, **FAST), models_dir=tmp_path
        ).run()
    )
    late = _losses(
        Trainer(
            tiny_bundle, shapes.train, TrainConfig(iterations=5, memory_start=3, **FAST), models_dir=tmp_path
        ).run()
    )
    # Iteration 4 (index 3) uses the memory while it is still empty: it is filled after that step.
    assert late[:4] == pytest.approx(none[:4]) and late[4] != pytest.approx(none[4])
