"""The shipped paper table agrees with shared/PAPER.md."""

from __future__ import annotations

import pytest

from irt_desktop.retrieval.paper_results import find_paper_results, load_paper_results, paper_value

DEIT_S, DEIT_S_DIST = "deit_small_patch16_224", "deit_small_distilled_patch16_224"


def test_category_level_numbers():
    assert paper_value("IRT_R", DEIT_S, 128, "sop", "R@1") == 83.4
    assert paper_value("IRT_R", DEIT_S, 128, "inshop", "R@30") == 99.0
    assert paper_value("IRT_R", DEIT_S, 384, "cub", "R@8") == 93.3
    assert paper_value("IRT_R", DEIT_S_DIST, 384, "cub", "R@1") == 76.6
    assert paper_value("IRT_R", DEIT_S_DIST, 384, "inshop", "R@30") == 98.9
    (row,) = find_paper_results(table="category_level", dims=128, dataset="sop", metric="R@1000")
    assert row.pca and row.value == 99.0


def test_ablations_and_landmarks():
    assert paper_value("IRT_O", DEIT_S, 384, "sop", "R@1") == 52.8
    assert paper_value("IRT_L", DEIT_S, 384, "roxford5k", "mAP_hard") == 11.4
    assert paper_value("IRT_R", DEIT_S, 384, "rparis6k", "mAP_medium") == 66.1
    # IRT_L CUB differs between the two ablations; the table picks which.
    assert paper_value("IRT_L", DEIT_S, 384, "cub", "R@1") == 74.2
    assert paper_value("IRT_L", DEIT_S, 384, "cub", "R@1", table="pooling_ablation") == 74.4
    assert paper_value("IRT_L", DEIT_S, 384, "cub", "R@1", pooling="gem") == 69.1
    assert paper_value("IRT_R", "deit_base_distilled_patch16_384", 768, "roxford5k", "mAP_medium") == 55.1
    assert paper_value("baseline", "resnet101", 2048, "rparis6k", "mAP_hard", pooling="gem") == 37.3
    assert paper_value("IRT_R", DEIT_S, 512, "sop", "R@1") is None


def test_every_row_is_complete():
    rows = load_paper_results()
    assert len(rows) > 80
    assert {r.dataset for r in rows} == {"sop", "cub", "inshop", "roxford5k", "rparis6k"}
    assert all(isinstance(r.value, float) and 0 < r.value <= 100 for r in rows)
    with pytest.raises(TypeError):
        find_paper_results(colour="red")


def test_training_data_resolution_and_pca_are_part_of_the_setting():
    # Category-level figures are of models fine-tuned on the dataset itself.
    assert paper_value("IRT_R", DEIT_S, 384, "cub", "R@1", train_data="cub") == 74.7
    assert paper_value("IRT_R", DEIT_S, 384, "cub", "R@1", train_data="sop") is None
    # Landmark figures of fine-tuned models come from SfM-120k, never from a category-level dataset.
    assert paper_value("IRT_L", DEIT_S, 384, "roxford5k", "mAP_hard", train_data="sfm120k") == 11.4
    assert paper_value("IRT_R", DEIT_S, 384, "rparis6k", "mAP_medium", train_data="sop") is None
    landmark = [r for r in load_paper_results() if r.dataset in ("roxford5k", "rparis6k")]
    assert {r.train_data for r in landmark if r.variant != "IRT_O"} == {"sfm120k"}
    # IRT_O is not fine-tuned at all.
    assert paper_value("IRT_O", DEIT_S, 384, "sop", "R@1", train_data=None) == 52.8
    assert paper_value("IRT_O", DEIT_S, 384, "roxford5k", "mAP_medium", train_data=None) == 20.3
    assert paper_value("IRT_O", DEIT_S, 384, "sop", "R@1", train_data="sop") is None
    # Input resolution and PCA.
    assert paper_value("IRT_R", DEIT_S, 384, "sop", "R@1", resolution=224, pca=False) == 84.0
    assert paper_value("IRT_R", DEIT_S, 384, "sop", "R@1", resolution=384) is None
    assert paper_value("IRT_R", DEIT_S, 128, "sop", "R@1", pca=True) == 83.4
    dist_b = "deit_base_distilled_patch16_384"
    assert paper_value("IRT_R", dist_b, 768, "roxford5k", "mAP_medium", resolution=384) == 55.1
    assert paper_value("IRT_R", dist_b, 768, "roxford5k", "mAP_medium", resolution=224) is None
