"""The benchmark report is honest: models labelled by their provenance only, partial and broken datasets
kept apart from the paper's figures, the settings that decide the figures recorded, SfM-120k training
wired to the landmark rows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from benchmark_layouts import (
    use_layout_counts,
    write_cub,
    write_inshop,
    write_revisited,
    write_sfm120k,
    write_sop,
)

from irt_desktop.cli import main
from irt_desktop.retrieval.benchmark import run_benchmark
from irt_desktop.retrieval.bundle import list_bundles, save_bundle
from irt_desktop.retrieval.card import ModelCard, shipped_cards
from irt_desktop.retrieval.model import IRT, ModelSpec

MINI_DEIT_S = ModelSpec(backbone="deit_small_patch16_224", input_size=224, backbone_kwargs={"depth": 1})
VERIFIED = {"kind": "pretrained", "verified": True, "verified_by": "hub"}


@pytest.fixture(autouse=True)
def _layout_counts(monkeypatch):
    use_layout_counts(monkeypatch)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_sop(root / "sop")
    write_cub(root / "cub")
    write_inshop(root / "inshop")
    write_revisited(root, "roxford5k")
    write_sfm120k(root / "retrieval-SfM-120k")
    return root


def _bundle(tmp_path, name, provenance, spec=MINI_DEIT_S):
    torch.manual_seed(0)
    card = ModelCard(name=name, spec=spec, title=name, provenance=provenance)
    return save_bundle(IRT(spec).eval(), card, tmp_path / "models")


def _run(data, bundle, out, datasets="cub", **kw):
    kw.setdefault("num_workers", 0)
    return run_benchmark(datasets, data, model=bundle, out_dir=out, device="cpu", **kw)


def _fine_tune(variant="IRT_L", data_name="cub", iterations=2000, base=VERIFIED, seed=0):
    return {
        "kind": "fine-tuned",
        "variant": variant,
        "base": base,
        "data": {"name": data_name},
        "recipe": {"dataset": data_name, "iterations": iterations, "seed": seed},
        "training": {"iterations": iterations},
    }


# --- provenance decides the label ------------------------------------------------------------------------


def test_a_random_checkpoint_is_never_shown_as_irt_o(data, tmp_path):
    from irt_desktop.retrieval.weights import import_weights, random_init_bundle

    random = random_init_bundle(MINI_DEIT_S, "deit-s", tmp_path / "models", seed=1)
    # The case: random weights imported with the shipped DeiT-S card.
    ckpt = tmp_path / "random.pth"
    torch.save(IRT(MINI_DEIT_S).backbone.state_dict(), ckpt)
    card = shipped_cards()["deit-s"]
    card.spec = MINI_DEIT_S
    imported = import_weights(ckpt, card, tmp_path / "models")
    for bundle, label in ((random, "random init"), (imported, "unverified")):
        result = _run(data, bundle, tmp_path / label, "sop,cub")
        assert result.rows and {r.variant for r in result.rows} == {label}
        assert all(r.paper is None and r.diff is None for r in result.rows)
        report = (tmp_path / label / "report.md").read_text()
        assert "| IRT_O |" not in report and f"| sop | {label} | 384 | R@1 |" in report
        assert "no paper figure" in report
    # Verified published weights are IRT_O, beside the paper's figure.
    verified = _bundle(tmp_path, "deit-s", VERIFIED)
    r1 = next(r for r in _run(data, verified, tmp_path / "v").rows if r.metric == "R@1")
    assert (r1.variant, r1.paper, r1.provenance) == ("IRT_O", 58.5, "pretrained, verified")


def test_fine_tunes_are_traced_to_their_base(data, tmp_path):
    def r1(bundle, **kw):
        result = _run(data, bundle, tmp_path / bundle.card.name, **kw)
        return next(r for r in result.rows if r.metric == "R@1"), result

    row, _ = r1(_bundle(tmp_path, "one", _fine_tune()))
    assert (row.variant, row.paper, row.seeds) == ("IRT_L", 74.2, (0,))
    assert row.provenance == "fine-tuned from pretrained, verified"
    # A fine-tune of a fine-tune is recorded as such, with no paper figure.
    twice = _fine_tune("IRT_R", base=_fine_tune())
    row, result = r1(_bundle(tmp_path, "two", twice))
    assert (row.variant, row.paper) == ("IRT_R, fine-tune of a fine-tune", None)
    assert any("fine-tuned 2 times in a row" in n for n in result.notes)
    assert result.details["cub"]["identity"]["fine_tunes"] == 2
    # From random or unverified weights, or from a base nobody recorded: no paper figure either.
    for base, label in (
        ({"kind": "random-init"}, "IRT_L from random init"),
        ({"kind": "imported", "verified": False}, "IRT_L from unverified weights"),
        (None, "IRT_L, base unrecorded"),
    ):
        prov = _fine_tune()
        prov.pop("base")
        if base is not None:
            prov["base"] = base
        row, _ = r1(_bundle(tmp_path, label.replace(" ", "-").replace(",", ""), prov))
        assert (row.variant, row.paper) == (label, None)
    # A card written before bases were nested names its base by id: found installed, it is traced.
    base = _bundle(tmp_path, "base", VERIFIED)
    legacy = {**_fine_tune(), "kind": "trained", "base_model": base.id}
    legacy.pop("base")
    row, _ = r1(_bundle(tmp_path, "legacy", legacy), models_dir=tmp_path / "models")
    assert (row.variant, row.paper) == ("IRT_L", 74.2)


def test_several_seeds_give_mean_and_std(data, tmp_path):
    verified = _bundle(tmp_path, "deit-s", VERIFIED)
    result = _run(data, verified, tmp_path / "o", train="irt_l", iterations=1, seeds=[0, 1])
    r1 = next(r for r in result.rows if r.metric == "R@1")
    assert r1.seeds == (0, 1) and len(r1.runs) == 2 and r1.std is not None
    assert r1.ours == pytest.approx(np.mean(r1.runs)) and r1.std == pytest.approx(np.std(r1.runs, ddof=1))
    assert r1.variant == "IRT_L" and r1.paper == 74.2 and "1 iterations" in r1.caveat
    assert len(result.details["cub"]["models"]) == 2
    report = (tmp_path / "o" / "report.md").read_text()
    assert " ± " in report and "| 0,1 |" in report and "sample standard deviation" in report
    with pytest.raises(ValueError, match="several seeds need training"):
        _run(data, verified, tmp_path / "x", seeds=[0, 1])


# --- datasets that are partial or broken -----------------------------------------------------------------


def test_one_broken_dataset_among_three_keeps_the_others(tmp_path, capsys):
    root = tmp_path / "data"
    write_sop(root / "sop")
    cub = write_cub(root / "cub")
    write_inshop(root / "inshop")
    text = (cub / "images.txt").read_text()
    (cub / "images.txt").write_text(text[: len(text) - 15])  # cut mid-line, inside the last path
    bundle = _bundle(tmp_path, "deit-s", VERIFIED)
    out = tmp_path / "out"
    args = ["--library", str(tmp_path / "lib"), "--benchmark", "--datasets", "sop,cub,inshop"]
    args += ["--data-root", str(root), "--model", str(bundle.path), "--out", str(out), "--workers", "0"]
    rc = main([*args, "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 1  # figures for two, but one dataset asked for failed
    results = json.loads((out / "results.json").read_text())
    assert {r["dataset"] for r in results["rows"]} == {"sop", "inshop"}
    assert "images.txt, line 24: the image" in results["failed"]["cub"]
    assert "cub FAILED" in err and "images.txt, line 24" in err
    report = (out / "report.md").read_text()
    assert "## Failed datasets" in report and "### cub" in report and "| inshop | IRT_O |" in report


def test_an_unreadable_image_fails_its_dataset_only(data, tmp_path):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(data / "roxford5k", root / "roxford5k")
    write_cub(root / "cub")
    (root / "roxford5k" / "jpg" / "roxford5k_1_2.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    result = _run(root, _bundle(tmp_path, "deit-s", VERIFIED), tmp_path / "o", "roxford,cub")
    assert {r.dataset for r in result.rows} == {"cub"}
    assert "roxford5k_1_2.jpg: cannot be read" in result.failed["roxford"]
    assert any(n.startswith("roxford: FAILED") for n in result.notes)


def test_a_partial_dataset_is_refused_unless_allowed(tmp_path):
    root = tmp_path / "data"
    cub = write_cub(root / "cub")
    for name in ("images.txt", "image_class_labels.txt"):  # cut alike, at a line boundary
        lines = (cub / name).read_text().splitlines(keepends=True)
        (cub / name).write_text("".join(lines[:-6]))
    bundle = _bundle(tmp_path, "deit-s", VERIFIED)
    refused = _run(root, bundle, tmp_path / "a")
    assert not refused.rows and "--allow-partial" in refused.failed["cub"]
    allowed = _run(root, bundle, tmp_path / "b", allow_partial=True)
    assert allowed.rows and all(r.partial and r.paper is None for r in allowed.rows)
    assert "test: 6 images, the protocol has 12" in allowed.partial["cub"]
    report = (tmp_path / "b" / "report.md").read_text()
    assert "| cub (partial) | IRT_O |" in report and "PARTIAL dataset" in report
    assert allowed.settings["partial datasets"].startswith("allowed")


# --- the settings behind the figures ---------------------------------------------------------------------


def test_the_settings_are_recorded(data, tmp_path, capsys):
    bundle = _bundle(tmp_path, "deit-s", VERIFIED)
    out = tmp_path / "paper"
    args = ["--library", str(tmp_path / "lib"), "--benchmark", "--datasets", "cub,roxford"]
    args += ["--data-root", str(data), "--model", str(bundle.path), "--workers", "0", "--device", "cpu"]
    assert main([*args, "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    s = results["settings"]
    assert s["mode"] == "paper (fp32, full decoding)" and s["precision"] == "fp32"
    assert s["decoding"] == "full JPEG decoding" and s["backend"] == "torch (cpu)"
    assert (
        s["resolution"].startswith("224 px: category level short side 256") and "cirtorch" in s["resolution"]
    )
    assert s["landmark scales"] == "1 (single scale)"
    assert {"python", "torch", "timm", "numpy", "pillow", "irt-desktop"} <= set(s["software"])
    for name in ("cub", "roxford"):
        d = results["details"][name]
        assert d["precision"] == ["fp32"] and d["decoding"] == "full" and d["resolution"] == 224
    report = (out / "report.md").read_text()
    assert "- precision: fp32" in report and "- decoding: full JPEG decoding" in report
    assert "- software: python " in report and "torch " in report
    # --fast allows bf16 and draft decoding, and says so; --multiscale is recorded too.
    fast = tmp_path / "fast"
    assert main([*args, "--out", str(fast), "--fast", "--multiscale"]) == 0
    s = json.loads((fast / "results.json").read_text())["settings"]
    assert s["mode"] == "fast (--fast)" and "bf16" in s["precision"] and "draft" in s["decoding"]
    assert s["landmark scales"].startswith("1, 0.7071, 0.5")


def test_multiscale_averages_the_scales(data, tmp_path):
    bundle = _bundle(tmp_path, "deit-s", VERIFIED)
    one = _run(data, bundle, tmp_path / "a", "roxford")
    three = _run(data, bundle, tmp_path / "b", "roxford", multiscale=True)
    assert [r.metric for r in one.rows] == [r.metric for r in three.rows]
    assert one.details["roxford"]["metrics"] != three.details["roxford"]["metrics"]


# --- SfM-120k and the landmark rows ----------------------------------------------------------------------


def test_landmark_training_uses_sfm120k(data, tmp_path):
    bundle = _bundle(tmp_path, "deit-s", VERIFIED)
    result = _run(data, bundle, tmp_path / "o", "roxford", train="irt_r", iterations=1)
    (trained,) = [b for b in list_bundles(tmp_path / "o" / "models") if b.card.name != "deit-s"]
    assert trained.card.provenance["data"]["name"] == "sfm120k"
    assert trained.card.provenance["recipe"]["recipe"] == "sfm120k"
    assert trained.card.provenance["recipe"]["koleo_weight"] == 3.0  # PAPER.md: lambda 3 to 4 for landmarks
    assert trained.card.provenance["data"]["images"] == 12 and trained.card.provenance["data"]["classes"] == 3
    rows = {r.metric: r for r in result.rows}
    # DeiT-S 384-d IRT_R fine-tuned on SfM-120k: the supervision ablation's 34.0 / 11.5, flagged (PAPER.md
    # states no SfM-120k schedule), and the training set described.
    assert rows["mAP_medium"].paper == 34.0 and rows["mAP_hard"].paper == 11.5
    assert (
        rows["mAP_medium"].variant == "IRT_R"
        and "does not state the SfM-120k schedule" in rows["mAP_medium"].caveat
    )
    assert any(n.startswith("sfm120k: 12 training images in 3 clusters") for n in result.notes)


def test_landmark_training_without_sfm120k_says_so(tmp_path):
    root = write_revisited(tmp_path / "data", "rparis6k")
    bundle = _bundle(tmp_path, "deit-s", VERIFIED)
    result = _run(root, bundle, tmp_path / "o", "rparis", train="irt_l", iterations=1)
    assert "retrieval-SfM-120k.pkl" in result.missing["sfm120k"]
    assert any("fine-tunes its landmark models on SfM-120k, which is missing" in n for n in result.notes)
    assert {r.variant for r in result.rows} == {"IRT_O"}


def test_the_particular_objects_rows_are_matched(data, tmp_path):
    distilled = ModelSpec(
        backbone="deit_small_distilled_patch16_224", input_size=224, backbone_kwargs={"depth": 1}
    )
    prov = _fine_tune("IRT_R", "sfm120k", 35000)
    result = _run(data, _bundle(tmp_path, "s-dagger", prov, distilled), tmp_path / "o", "roxford")
    rows = {r.metric: r for r in result.rows}
    assert rows["mAP_medium"].paper == 34.5 and rows["mAP_hard"].paper == 15.8
    assert "does not name this row's variant" in rows["mAP_medium"].caveat
    # The DeiT-B† 384 card exists and its recipe is the SfM-120k one at 384 px.
    from irt_desktop.retrieval.benchmark.runner import landmark_recipe
    from irt_desktop.retrieval.paper_results import paper_value

    card = shipped_cards()["deit-b-distilled-384"]
    assert (card.spec.backbone, card.spec.input_size) == ("deit_base_distilled_patch16_384", 384)
    fake = type("B", (), {"card": card})()
    assert landmark_recipe(fake) == "sfm120k-deit-b"
    assert paper_value("IRT_R", card.spec.backbone, 768, "rparis6k", "mAP_hard", train_data="sfm120k") == 49.6


def test_pooling_option_evaluates_the_same_weights_with_another_pooling(data, tmp_path):
    bundle = _bundle(tmp_path, "deit-s", VERIFIED)
    result = _run(data, bundle, tmp_path / "o", train="irt_l", iterations=1, pooling="gem")
    r1 = next(r for r in result.rows if r.metric == "R@1")
    assert r1.paper == 69.1  # the pooling ablation's GeM row
    derived = [b for b in list_bundles(tmp_path / "o" / "models") if b.card.spec.pooling == "gem"]
    assert derived and all(
        b.card.provenance["pooling"] == "gem" for b in derived if "derived_from" in b.card.provenance
    )


def test_model_may_name_a_shipped_card(tmp_path, capsys, monkeypatch):
    from irt_desktop.retrieval import weights

    monkeypatch.setattr(weights, "cached_weights", lambda card: None)
    monkeypatch.setattr(weights, "hub_reachable", lambda timeout=2.0: False)
    args = ["--library", str(tmp_path), "--benchmark", "--datasets", "roxford", "--data-root", str(tmp_path)]
    assert main([*args, "--model", "deit-b-distilled-384"]) == 2
    err = capsys.readouterr().err
    assert "DeiT-B distilled 384 px" in err and "models import PATH --card deit-b-distilled-384" in err
    assert main([*args, "--model", "no-such-model"]) == 2
    assert "no model 'no-such-model'" in capsys.readouterr().err
    assert main([*args, "--seeds", "0,x", "--train", "irt_r"]) == 2
    assert "--seeds takes whole numbers" in capsys.readouterr().err
