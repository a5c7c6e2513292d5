"""The shared fine-tune job without Qt: planning (batch rounding, schedule, splits, work folder), the run's
typed events, and the same run in a spawned child process with cancel over a multiprocessing Event."""

from __future__ import annotations

import dataclasses
import pickle
import threading
from pathlib import Path

import pytest
from imagegen import save_albums, save_photo

from irt_desktop.retrieval.bundle import load_bundle
from irt_desktop.retrieval.datasets import scan_class_folders
from irt_desktop.retrieval.training import RecipeError
from irt_desktop.retrieval.training.data import loader_workers_for
from irt_desktop.retrieval.training.finetune import (
    Baseline,
    Evaluating,
    FinetuneError,
    FinetuneResult,
    FinetuneSettings,
    Finished,
    Stage,
    Started,
    Step,
    estimate_seconds,
    plan_finetune,
    round_batch,
    run_finetune,
    run_finetune_in_child,
    usable_classes,
)

QUICK = FinetuneSettings(iterations=2, batch_size=8, num_workers=0, precision="fp32", holdout=0.5)


@pytest.fixture(scope="module")
def albums(tmp_path_factory) -> Path:
    """4 classes of 6 photos (one generated scene each, at several sizes) and a class of one photo."""
    root = save_albums(tmp_path_factory.mktemp("albums"), 4, 500)
    save_photo(root / "lonely" / "only.jpg", 900)
    return root


def plan(albums, tiny_bundle, tmp_path, settings=QUICK, **kwargs):
    kwargs.setdefault("work_root", tmp_path / "training")
    return plan_finetune(
        [albums], settings, base=tiny_bundle, models_dir=tmp_path / "models", device="cpu", **kwargs
    )


def test_round_batch_to_whole_groups_of_a_class():
    assert round_batch(32, 4) == (32, None)
    assert round_batch(30, 4) == (32, "batch 30 rounded to 32 (a multiple of 4 images per class)")
    assert round_batch(29, 4)[0] == 28 and round_batch(31, 4)[0] == 32
    assert round_batch(2, 4)[0] == 4  # never below one group
    assert round_batch(7, 1) == (7, None)


def test_batch_30_with_4_per_class_is_rounded_and_said_so(albums, tiny_bundle, tmp_path):
    p = plan(albums, tiny_bundle, tmp_path, dataclasses.replace(QUICK, batch_size=30))
    assert p.config.batch_size == 32 and p.config.m_per_class == 4
    assert p.notes == ("batch 30 rounded to 32 (a multiple of 4 images per class)",)
    # The same through the command line's --set.
    via_set = dataclasses.replace(QUICK, batch_size=None, overrides={"batch_size": 30})
    assert plan(albums, tiny_bundle, tmp_path, via_set).config.batch_size == 32


def test_plan_splits_sizes_the_schedule_and_names_the_work_folder(albums, tiny_bundle, tmp_path):
    settings = FinetuneSettings(iterations=800, holdout=0.5, split_by="class", name="mine")
    p = plan(albums, tiny_bundle, tmp_path, settings)
    # 5 classes, half of them held out whole; the held-out photos are measured before, 7 times during
    # and after training.
    assert usable_classes(p.train) + usable_classes(p.held_out) == 4
    assert len(p.train) + len(p.held_out) == 25
    assert p.baseline and p.config.eval_every == 100 and p.config.checkpoint_every == 200
    assert p.evaluations == 9
    assert p.config.dataset == "folders" and p.config.recipe == "folders" and p.data_name == albums.name
    assert p.config.device == "cpu" and p.config.num_workers == loader_workers_for("cpu")
    assert p.config.input_size is None  # the starting model's own size
    assert p.name == "mine"
    assert p.estimate_s(100.0) == pytest.approx(estimate_seconds(800 * 64, 9 * len(p.held_out), 100.0))
    # The same settings again: the same folder (a stopped run resumes); another trajectory: another.
    assert plan(albums, tiny_bundle, tmp_path, settings).work_dir == p.work_dir
    other = plan(albums, tiny_bundle, tmp_path, dataclasses.replace(settings, batch_size=32))
    assert other.work_dir != p.work_dir and other.work_dir.parent == tmp_path / "training"
    # Photos of every class instead of whole classes; nothing held out at all.
    by_image = plan(albums, tiny_bundle, tmp_path, dataclasses.replace(settings, split_by="image"))
    assert usable_classes(by_image.train) == 4 and usable_classes(by_image.held_out) == 4
    none = plan(albums, tiny_bundle, tmp_path, dataclasses.replace(settings, holdout=0))
    assert none.held_out is None and not none.baseline and none.evaluations == 0


def test_plan_takes_a_scanned_dataset_variants_and_overrides(albums, tiny_bundle, tmp_path):
    dataset = scan_class_folders(albums)
    settings = FinetuneSettings(
        recipe="cub", variant="irt_l", input_size=48, overrides={"eval_every": 5, "lr": 1e-4}
    )
    p = plan_finetune(dataset, settings, base=tiny_bundle, models_dir=tmp_path, device="cpu")
    cfg = p.config
    assert cfg.variant == "IRT_L" and cfg.koleo_weight == 0 and cfg.recipe == "cub"
    assert cfg.dataset == "folders"  # trained on the user's folders, whichever recipe
    assert cfg.input_size == 48 and cfg.eval_every == 5 and cfg.lr == 1e-4
    assert p.data_name == "your albums" and p.work_dir is None  # no work root: no checkpoints
    # The plan crosses a process boundary as it is.
    assert pickle.loads(pickle.dumps(p)) == p


def test_plan_explains_what_cannot_run(albums, tiny_bundle, tmp_path):
    with pytest.raises(FinetuneError, match="variant"):
        plan(albums, tiny_bundle, tmp_path, dataclasses.replace(QUICK, variant="IRT_X"))
    with pytest.raises(FinetuneError, match="holdout"):
        plan(albums, tiny_bundle, tmp_path, dataclasses.replace(QUICK, holdout=1.5))
    with pytest.raises(FinetuneError, match="grad_accum"):
        plan(albums, tiny_bundle, tmp_path, dataclasses.replace(QUICK, overrides={"grad_accum": 3}))
    with pytest.raises(RecipeError, match="no training recipe"):
        plan(albums, tiny_bundle, tmp_path, dataclasses.replace(QUICK, recipe="nope"))


def test_run_reports_typed_events_in_order(albums, tiny_bundle, tmp_path):
    p = plan(albums, tiny_bundle, tmp_path, dataclasses.replace(QUICK, batch_size=6, iterations=3))
    events = []
    result = run_finetune(p, events.append)
    assert isinstance(events[0], Started) and events[0].notes == p.notes and events[0].batch_size == 8
    assert isinstance(events[-1], Finished) and events[-1].result is result
    kinds = [type(e) for e in events]
    assert kinds.index(Evaluating) < kinds.index(Baseline) < kinds.index(Step)
    steps = [e for e in events if isinstance(e, Step)]
    assert [s.iteration for s in steps] == [1, 2, 3] and all(s.total == 3 for s in steps)
    assert steps[0].eval is not None  # measured during training (eval_every 1 for 3 iterations)
    assert Stage("save") in events
    assert not result.cancelled and result.bundle is not None
    assert set(result.before) == set(result.after) == {"R@1", "R@2", "R@4", "R@8"}
    assert result.last_step.iteration == 3
    saved = load_bundle(result.bundle.path)
    assert saved.card.provenance["recipe"]["batch_size"] == 8
    assert saved.card.provenance["data"]["name"] == albums.name


def test_run_in_a_spawned_child_reports_events_and_stops_on_cancel(albums, tiny_bundle, tmp_path):
    p = plan(albums, tiny_bundle, tmp_path, dataclasses.replace(QUICK, iterations=400, holdout=0))
    cancel = threading.Event()
    events = []

    def on_event(event):
        events.append(event)
        if isinstance(event, Step) and event.iteration >= 2:
            cancel.set()  # the caller's own threading.Event reaches the child's trainer

    result = run_finetune_in_child(p, on_event, cancel)
    assert isinstance(result, FinetuneResult) and result.cancelled and result.bundle is None
    assert isinstance(events[0], Started) and isinstance(events[-1], Finished)
    assert 2 <= result.last_step.iteration < 400
    assert (p.work_dir / "checkpoint").is_dir()  # kept, to resume from

    # Resumed (here, in-process) from where the child stopped: one more iteration finishes it.
    done_so_far = result.last_step.iteration
    short = dataclasses.replace(p, config=dataclasses.replace(p.config, iterations=done_so_far + 1))
    finished = run_finetune(short)
    assert not finished.cancelled and finished.bundle is not None
    assert [s.iteration for s in finished.history] == list(range(1, done_so_far + 2))


def test_an_error_in_the_child_is_raised_in_the_parent(albums, tiny_bundle, tmp_path):
    import shutil

    from irt_desktop.retrieval.bundle import BundleError

    broken = tmp_path / "broken"
    shutil.copytree(tiny_bundle.path, broken)
    (broken / "model.safetensors").write_bytes(b"not weights")
    p = plan(albums, load_bundle(broken), tmp_path)
    with pytest.raises(BundleError, match="checksum"):
        run_finetune_in_child(p)
