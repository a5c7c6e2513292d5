"""A fine-tune sized to the photos and the device (finetune.plan.size_run and the plan's estimate), and
the names earlier runs and installed models already use (finetune.runs)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from imagegen import save_photo

from irt_desktop.retrieval.training.finetune import (
    TIME_BUDGET_S,
    DeviceCost,
    FinetuneSettings,
    name_use,
    plan_finetune,
    set_aside,
    size_run,
    split_counts,
    unique_name,
)
from irt_desktop.retrieval.training.finetune.plan import (
    EVALS_PER_RUN,
    MIN_ITERATIONS,
    TARGET_EPOCHS,
    periodic_evaluations,
)
from irt_desktop.retrieval.training.finetune.runs import RUN_FILE, past_runs, record_run

# DeiT-S at 224 px on this project's 2-core CPU, as the wizard's probe times it (about 0.3 s per training
# image with bf16 autocast, a third of that to embed one, 20 ms to read a 400x300 JPEG).
TWO_CORE_DEIT_S = DeviceCost(train_s=0.3, eval_s=0.1, decode_s=0.02, setup_s=5.0)


def albums(root: Path, classes: int, per_class: int) -> Path:
    for c in range(classes):
        for i in range(per_class):
            save_photo(root / f"album_{c:02d}" / f"{i}.jpg", 100 * c + i, (48, 40))
    return root


def test_a_hundred_photos_fit_in_fifteen_minutes_on_two_cores():
    # 112 photos in 10 classes, 30 % of the classes held out: 7 classes of ~11 photos train.
    size = size_run(78, 7, 34, TWO_CORE_DEIT_S)
    assert size.batch_size == 28  # every training class once per batch, 4 photos each
    assert size.iterations == math.ceil(TARGET_EPOCHS * 78 / 28)  # about 20 passes over the photos
    assert not size.limited
    assert size.seconds <= TIME_BUDGET_S
    assert size.evaluations == EVALS_PER_RUN - 1
    # The figure is the cost model at these values: training, decoding, 1 + 7 + 1 measurements.
    measured = 2 + periodic_evaluations(size.iterations, size.evaluations)[1]
    expected = 5.0 + size.iterations * 28 * 0.32 + measured * 34 * 0.12
    assert size.seconds == pytest.approx(expected)


def test_the_budget_cuts_iterations_on_a_slow_device_but_never_below_the_minimum():
    slow = DeviceCost(train_s=1.5, eval_s=0.5, decode_s=0.05, setup_s=10.0)
    size = size_run(300, 20, 100, slow)
    assert size.limited and size.seconds <= TIME_BUDGET_S
    assert size.iterations >= MIN_ITERATIONS
    # Measuring the held-out photos takes at most a fifth of the budget: fewer measurements.
    assert size.evaluations < EVALS_PER_RUN - 1
    hopeless = DeviceCost(train_s=60.0, eval_s=20.0)
    tiny = size_run(300, 20, 100, hopeless)
    assert tiny.iterations == MIN_ITERATIONS and tiny.batch_size == 8  # 2 classes of 4, the least
    assert tiny.seconds > TIME_BUDGET_S  # and the estimate says so, rather than pretending


def test_a_fast_device_stops_at_the_photos_needs_and_the_recipes_limits():
    fast = DeviceCost(train_s=0.002, eval_s=0.001)
    size = size_run(5000, 400, 1000, fast, max_batch=64, max_iterations=1000)
    assert size.batch_size == 64 and size.iterations == 1000 and not size.limited
    few = size_run(10, 2, 4, fast)
    assert few.batch_size == 8 and few.iterations == max(MIN_ITERATIONS, math.ceil(20 * 10 / 8))


def test_the_plan_takes_the_sized_values_and_estimates_the_same(tmp_path, tiny_bundle):
    from irt_desktop.retrieval.datasets import scan_class_folders

    root = albums(tmp_path / "Albums", 10, 11)
    dataset = scan_class_folders([root])
    train, classes, held = split_counts(dataset, 0.3, "class")
    assert (train, classes, held) == (77, 7, 33)
    size = size_run(train, classes, held, TWO_CORE_DEIT_S)
    plan = plan_finetune(
        dataset,
        FinetuneSettings(
            iterations=size.iterations, batch_size=size.batch_size, evaluations=size.evaluations
        ),
        base=tiny_bundle,
        models_dir=tmp_path / "models",
        device="cpu",
    )
    assert plan.config.iterations == size.iterations and plan.config.batch_size == size.batch_size
    assert plan.evaluations == 2 + periodic_evaluations(size.iterations, size.evaluations)[1]
    assert plan.estimate(TWO_CORE_DEIT_S) == pytest.approx(size.seconds)
    # No periodic measurement asked: only before and after.
    none = plan_finetune(
        dataset,
        FinetuneSettings(iterations=20, evaluations=0),
        base=tiny_bundle,
        models_dir=tmp_path / "models",
        device="cpu",
    )
    assert none.config.eval_every == 0 and none.evaluations == 2


def test_periodic_evaluations_never_exceed_what_was_asked():
    for iterations in range(1, 60):
        for during in range(0, 9):
            every, count = periodic_evaluations(iterations, during)
            assert count <= during
            if every:
                assert count == (iterations - 1) // every


def test_names_taken_by_models_and_runs_and_the_next_free_one(tmp_path, tiny_bundle):
    from irt_desktop.library.model_store import install_bundle

    models, work = tmp_path / "models", tmp_path / "training"
    install_bundle(models, tiny_bundle)  # card name "tiny"
    assert name_use("tiny", models, work).taken
    assert unique_name("tiny", models, work) == "tiny-2"
    assert unique_name("fresh", models, work) == "fresh"

    root = albums(tmp_path / "Albums", 4, 4)
    plan = plan_finetune(
        root,
        FinetuneSettings(iterations=3, name="tiny-2"),
        base=tiny_bundle,
        models_dir=models,
        device="cpu",
        work_root=work,
    )
    assert plan.work_dir.parent == work and plan.work_dir.name.startswith("tiny-2-")
    record_run(plan)
    assert json.loads((plan.work_dir / RUN_FILE).read_text())["name"] == "tiny-2"
    use = name_use("tiny-2", models, work)
    assert use.taken and not use.models
    run = use.run_in(plan.work_dir)
    assert run is not None and (run.iteration, run.total) == (0, 0) and not run.resumable
    assert unique_name("tiny", models, work) == "tiny-3"

    # A checkpoint part of the way: resumable; set aside, it is kept and no longer counts.
    ckpt = plan.work_dir / "checkpoint"
    ckpt.mkdir()
    (ckpt / "state.json").write_text(json.dumps({"iteration": 2, "config": {"iterations": 3}}))
    assert name_use("tiny-2", models, work).run_in(plan.work_dir).resumable
    moved = set_aside(plan.work_dir)
    assert moved is not None and (moved / "checkpoint" / "state.json").is_file()
    assert not plan.work_dir.exists()
    assert past_runs(work) == [] and not name_use("tiny-2", models, work).taken
    assert set_aside(plan.work_dir) is None  # nothing left to move
