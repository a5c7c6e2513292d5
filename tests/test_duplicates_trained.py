"""Calibration on a briefly trained model (the tiny ViT fine-tuned a few steps, as the fine-tune tests do)
separates near copies from distinct photos on a generated library: the planted re-encode and resize
are found with their originals, no two distinct photos form a near group, and the look-alike threshold
sits below the near-copy one."""

from __future__ import annotations

import pytest
from imagegen import photo, save_albums, save_photo
from PIL import Image

from irt_desktop.library.library import Library
from irt_desktop.library.pipeline import PipelineConfig
from irt_desktop.retrieval.training.finetune import FinetuneSettings, plan_finetune, run_finetune


@pytest.fixture(scope="module")
def trained_embedder(tmp_path_factory, tiny_bundle):
    from irt_desktop.retrieval.embedder import Embedder

    root = tmp_path_factory.mktemp("trained")
    save_albums(root / "albums", 4, 600)
    settings = FinetuneSettings(iterations=4, batch_size=8, num_workers=0, precision="fp32", holdout=0.0)
    plan = plan_finetune(
        [root / "albums"], settings, base=tiny_bundle, models_dir=root / "models", device="cpu"
    )
    result = run_finetune(plan)
    assert result.bundle is not None and result.last_step.iteration == 4
    return Embedder.from_bundle(result.bundle, device="cpu", low_precision=False)


def test_calibration_on_a_trained_model_separates_copies_from_distinct_photos(tmp_path, trained_embedder):
    photos = tmp_path / "photos"
    for n in range(16):
        save_photo(photos / f"p{n:02d}.jpg", 1700 + n, (160, 120), quality=92)
    photo(1703, (160, 120)).save(photos / "p03 whatsapp.jpg", quality=55)
    photo(1707, (160, 120)).resize((80, 60), Image.BICUBIC).save(photos / "p07 small.jpg", quality=85)
    with Library.open(
        tmp_path / "library", lambda: trained_embedder, pipeline=PipelineConfig(batch_size=4)
    ) as lib:
        lib.add_root(photos)
        lib.index()
        report = lib.duplicates(rotations=False)
    cal = report.calibration
    assert cal is not None and cal.lookalike_threshold is not None
    assert 0.5 <= cal.lookalike_threshold < cal.threshold < 1
    assert min(cal.copy_scores) > 0.5 and cal.other_scores
    near = [{m.path.name for m in g.members} for g in report.of_kind("near")]
    assert {"p03.jpg", "p03 whatsapp.jpg"} in near, (cal.threshold, cal.how, near)
    assert {"p07.jpg", "p07 small.jpg"} in near, (cal.threshold, cal.how, near)
    # Distinct photos never make a near group: each group is one original and its copy.
    assert len(near) == 2
