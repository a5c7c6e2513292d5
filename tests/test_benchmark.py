"""`irt-desktop --benchmark` end to end on tiny datasets of every format, the smoke suite, and `train`."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from benchmark_layouts import use_layout_counts, write_all, write_cub, write_inshop, write_revisited

from irt_desktop.cli import main
from irt_desktop.retrieval.benchmark import DATASETS, run_benchmark
from irt_desktop.retrieval.bundle import list_bundles, save_bundle
from irt_desktop.retrieval.card import ModelCard
from irt_desktop.retrieval.model import IRT, ModelSpec

# A one-block DeiT-S at 224 px: the paper's backbone name, input size and 384-d CLS, so the paper's
# figures apply.
MINI_DEIT_S = ModelSpec(backbone="deit_small_patch16_224", input_size=224, backbone_kwargs={"depth": 1})


@pytest.fixture(autouse=True)
def _layout_counts(monkeypatch):
    """The catalog expects the tiny layouts' counts, not the paper's (which they would fail)."""
    use_layout_counts(monkeypatch)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return write_all(tmp_path_factory.mktemp("benchmarks"))


@pytest.fixture(scope="module")
def deit_s_bundle(tmp_path_factory):
    """Stands in for the off-the-shelf DeiT-S (provenance: pretrained, hence IRT_O)."""
    import torch

    torch.manual_seed(0)
    card = ModelCard(name="deit-s", spec=MINI_DEIT_S, title="DeiT-S", provenance={"kind": "pretrained"})
    return save_bundle(IRT(MINI_DEIT_S).eval(), card, tmp_path_factory.mktemp("models"))


def _rows(out):
    return json.loads((out / "results.json").read_text())["rows"]


def test_benchmark_cli_every_format(data_root, deit_s_bundle, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(
        [
            "--library",
            str(tmp_path / "lib"),
            "--benchmark",
            "--datasets",
            "sop,cub,inshop,roxford,rparis",
            "--data-root",
            str(data_root),
            "--model",
            str(deit_s_bundle.path),
            "--out",
            str(out),
            "--workers",
            "0",
            "--device",
            "cpu",
        ]
    )
    printed = capsys.readouterr().out
    assert rc == 0
    metrics = {(r["dataset"], r["metric"]): r for r in _rows(out)}
    expected = {
        "sop": ["R@1", "R@10", "R@100", "R@1000"],
        "cub": ["R@1", "R@2", "R@4", "R@8"],
        "inshop": ["R@1", "R@10", "R@20", "R@30"],
        "roxford": ["mAP_medium", "mAP_hard", "mAP_easy"],
        "rparis": ["mAP_medium", "mAP_hard", "mAP_easy"],
    }
    assert set(metrics) == {(d, m) for d, ms in expected.items() for m in ms}
    for row in metrics.values():
        assert 0 <= row["ours"] <= 100 and row["variant"] == "IRT_O" and row["dims"] == 384
    # The paper's figures and the difference, from model/paper_results.toml.
    sop = metrics[("sop", "R@1")]
    assert sop["paper"] == 52.8 and sop["diff"] == pytest.approx(sop["ours"] - 52.8)
    assert (
        metrics[("roxford", "mAP_medium")]["paper"] == 20.3
        and metrics[("rparis", "mAP_hard")]["paper"] == 26.3
    )
    assert metrics[("sop", "R@10")]["paper"] is None  # the paper has no IRT_O R@10, and the notes say so
    notes = json.loads((out / "results.json").read_text())["notes"]
    assert any(n.startswith("sop: the paper reports no IRT_O figure for R@10, R@100, R@1000") for n in notes)
    # Recall is monotone in K; with 3 images per class and few items, R@1000 is everything.
    assert metrics[("sop", "R@1000")]["ours"] == 100.0
    report = (out / "report.md").read_text()
    assert "| sop | IRT_O | 384 | R@1 |" in report and "52.8" in report
    assert "sop" in printed and "52.8" in printed and "report.md" in printed


def test_train_then_evaluate_with_pca(data_root, deit_s_bundle, tmp_path):
    out, lib = tmp_path / "out", tmp_path / "lib"
    rc = main(
        [
            "--library",
            str(lib),
            "--benchmark",
            "--datasets",
            "cub,roxford",
            "--data-root",
            str(data_root),
            "--model",
            str(deit_s_bundle.path),
            "--train",
            "irt_r",
            "--iterations",
            "2",
            "--dims",
            "8",
            "--out",
            str(out),
            "--workers",
            "0",
            "--device",
            "cpu",
        ]
    )
    assert rc == 0
    results = json.loads((out / "results.json").read_text())
    cub = [r for r in results["rows"] if r["dataset"] == "cub"]
    assert {r["variant"] for r in cub} == {"IRT_R"} and {r["dims"] for r in cub} == {8}
    assert all(r["paper"] is None for r in cub)  # the paper has no 8-d figure
    trained = [b for b in list_bundles(lib / "models") if b.card.provenance.get("kind") == "fine-tuned"]
    assert len(trained) == 1 and trained[0].card.spec.dims == 8
    assert trained[0].card.provenance["recipe"]["recipe"] == "cub"
    assert results["details"]["cub"]["model"] == trained[0].id
    # Landmarks are trained on SfM-120k in the paper: evaluated as given, and said so.
    assert any("SfM-120k" in n for n in results["notes"])
    assert (out / "work" / "cub-irt_r" / "checkpoint").is_dir()


def test_trained_384d_rows_meet_the_papers_irt_r(data_root, deit_s_bundle, tmp_path):
    result = run_benchmark(
        ["cub"],
        data_root,
        model=deit_s_bundle,
        train="irt_l",
        dims=None,
        device="cpu",
        out_dir=tmp_path,
        iterations=1,
        num_workers=0,
    )
    r1 = next(r for r in result.rows if r.metric == "R@1")
    assert (r1.variant, r1.dims, r1.paper) == ("IRT_L", 384, 74.2)
    # One iteration is not the paper's 2,000: the figure is shown for reference, flagged, and said so.
    assert r1.caveat == "trained for 1 iterations, not the paper's 2000"
    assert any("not at the paper's setting" in n for n in result.notes)
    assert "| 74.2* |" in result.report_md and "shown for reference" in result.report_md
    assert "74.2*" in result.table()


def test_landmarks_are_embedded_whole_batched_by_shape(tmp_path, deit_s_bundle, monkeypatch):
    from PIL import Image

    from irt_desktop.retrieval.benchmark import runner
    from irt_desktop.retrieval.datasets import ImageRecord
    from irt_desktop.retrieval.embedder import Embedder
    from irt_desktop.retrieval.training import extract_features
    from irt_desktop.retrieval.transforms import landmark_transform

    model = deit_s_bundle.load_model()
    records = []
    for i, size in enumerate([(300, 200), (200, 300), (300, 200), (250, 250), (300, 200)]):
        path = tmp_path / f"{i}.png"
        Image.effect_mandelbrot(size, (-2 + i * 0.1, -1.5, 1, 1.5), 50).convert("RGB").save(path)
        records.append(ImageRecord(path, -1))
    size = model.spec.input_size
    transform = landmark_transform(model.spec, model.patch_size)
    common = {
        "device": "cpu",
        "num_workers": 0,
        "transform": transform,
        "precision": "fp32",
        "decode": "full",
    }
    together = extract_features(model, records, **common)
    one_by_one = extract_features(model, records, batch_size=1, **common)
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    # Each is the model applied to the whole image, its longer side shrunk to the input size (no crop).
    img = Image.open(records[1].path).convert("RGB")
    x = transform(img)
    assert x.shape == (3, size, 160)  # 149 x 224, padded to the patch grid
    direct = Embedder(model, device="cpu", low_precision=False).embed_tensor(x[None])
    np.testing.assert_allclose(together[1:2], direct, atol=1e-5)

    # The benchmark uses it for ROxford/RParis, and says what it does.
    seen = []
    real = runner.extract_features

    def spy(*args, **kwargs):
        seen.append(kwargs.get("transform"))
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "extract_features", spy)
    data = write_revisited(tmp_path / "data", "roxford5k")
    result = run_benchmark("roxford", data, model=deit_s_bundle, out_dir=tmp_path / "out", num_workers=0)
    assert len(seen) == 2 and all("LandmarkTransform" in repr(t) for t in seen)
    assert any("cirtorch ImagesFromList" in n and "full image's factor" in n for n in result.notes)


def _bundle(tmp_path, name, provenance, spec=MINI_DEIT_S):
    import torch

    torch.manual_seed(0)
    card = ModelCard(name=name, spec=spec, title=name, provenance=provenance)
    return save_bundle(IRT(spec).eval(), card, tmp_path / "models")


VERIFIED_BASE = {"kind": "pretrained", "verified": True, "verified_by": "hub"}


def _trained(data, iterations, variant="IRT_L", recipe_dataset=None, base=VERIFIED_BASE):
    return {
        "kind": "trained",
        "base": base,
        "variant": variant,
        "data": {"name": data},
        "recipe": {"dataset": recipe_dataset or data, "iterations": iterations},
        "training": {"iterations": iterations},
    }


def test_paper_figures_only_beside_the_same_setting(data_root, tmp_path):
    def bench(bundle, datasets):
        out = tmp_path / f"out-{bundle.card.name}"
        result = run_benchmark(datasets, data_root, model=bundle, out_dir=out, device="cpu", num_workers=0)
        return {(r.dataset, r.metric): r for r in result.rows}, result.notes

    # Trained on CUB at the paper's schedule: its CUB figure; on ROxford the paper's models come from
    # SfM-120k, so none there.
    rows, notes = bench(_bundle(tmp_path, "cub-l", _trained("cub", 2000)), "cub,roxford")
    assert rows[("cub", "R@1")].paper == 74.2 and not rows[("cub", "R@1")].caveat
    assert rows[("roxford", "mAP_medium")].paper is None
    assert any("roxford" in n and "fine-tuned on cub" in n and "sfm120k" in n for n in notes)
    # Trained on SOP, evaluated on CUB: the paper's CUB figure is of a CUB-trained model.
    rows, notes = bench(_bundle(tmp_path, "sop-l", _trained("sop", 35000)), "cub")
    assert rows[("cub", "R@1")].paper is None
    assert any(n.startswith("cub: no paper figure for R@1: this model is fine-tuned on sop") for n in notes)
    # Trained on SfM-120k (its recipe on class folders): the landmark figure.
    rows, _ = bench(_bundle(tmp_path, "sfm-r", _trained("landmarks", 35000, "IRT_R", "sfm120k")), "rparis")
    assert rows[("rparis", "mAP_hard")].paper == 40.2
    # Pooling: an IRT_L with GeM pooling meets the pooling ablation's GeM row, not the CLS one.
    gem = MINI_DEIT_S.__class__(**{**MINI_DEIT_S.__dict__, "pooling": "gem"})
    rows, _ = bench(_bundle(tmp_path, "cub-gem", _trained("cub", 2000), gem), "cub")
    assert rows[("cub", "R@1")].paper == 69.1
    # Off the shelf with mean pooling: the paper has no such IRT_O.
    mean = MINI_DEIT_S.__class__(**{**MINI_DEIT_S.__dict__, "pooling": "mean"})
    rows, notes = bench(_bundle(tmp_path, "o-mean", {"kind": "pretrained"}, mean), "cub")
    assert rows[("cub", "R@1")].paper is None and any("mean pooling" in n for n in notes)
    # Resolution: the paper's DeiT-S figures are at 224 px.
    small = MINI_DEIT_S.__class__(**{**MINI_DEIT_S.__dict__, "input_size": 32})
    rows, notes = bench(_bundle(tmp_path, "o-32", {"kind": "pretrained"}, small), "cub")
    assert rows[("cub", "R@1")].paper is None and any("32 px" in n and "224 px" in n for n in notes)
    # A model trained for fewer iterations than the paper, benchmarked as given: flagged.
    rows, notes = bench(_bundle(tmp_path, "cub-short", _trained("cub", 100)), "cub")
    assert rows[("cub", "R@1")].paper == 74.2 and "100 iterations" in rows[("cub", "R@1")].caveat


def test_variant_from_provenance(data_root, tmp_path):
    from irt_desktop.retrieval.benchmark import model_variant
    from irt_desktop.retrieval.benchmark.runner import training_data
    from irt_desktop.retrieval.card import shipped_cards
    from irt_desktop.retrieval.weights import import_weights

    assert model_variant(_bundle(tmp_path, "a", {"kind": "pretrained"})) == "IRT_O"
    # Imported with a shipped starting point's card: unverified (its hash is not a listed published
    # file), so never the paper's IRT_O; verified when the card lists the file's sha256.
    import torch

    from irt_desktop.retrieval.bundle import sha256_file

    ckpt = tmp_path / "deit.pth"
    torch.save(IRT(MINI_DEIT_S).backbone.state_dict(), ckpt)
    card = shipped_cards()["deit-s"]
    card.spec = MINI_DEIT_S
    imported = import_weights(ckpt, card, tmp_path / "models")
    assert imported.card.provenance["verified"] is False and model_variant(imported) == ""
    card.weights = {**card.weights, "source_sha256": [sha256_file(ckpt)]}
    verified = import_weights(ckpt, card, tmp_path / "models2")
    assert verified.card.provenance["verified"] is True and model_variant(verified) == "IRT_O"
    # Cards written before verification existed said only what card the file came in as: unverified.
    legacy = _bundle(tmp_path, "legacy", {"kind": "imported", "imported_as": "pretrained", "source": "x"})
    assert model_variant(legacy) == ""
    # Imported with a training record, or with nothing that says what it is: unknown, no paper figure.
    trained_import = {**_trained("sop", 35000), "kind": "imported", "imported_as": "pretrained"}
    assert model_variant(_bundle(tmp_path, "b", trained_import)) == ""
    assert model_variant(_bundle(tmp_path, "c", {"kind": "imported"})) == ""
    assert model_variant(_bundle(tmp_path, "d", {"kind": "random-init", "seed": 0})) == ""
    unknown = _bundle(tmp_path, "e", {"kind": "imported", "imported_from": "/x/irt_sop.pth"})
    result = run_benchmark("cub", data_root, model=unknown, out_dir=tmp_path / "o", num_workers=0)
    assert result.rows and all(r.paper is None and r.variant == "unverified" for r in result.rows)
    assert any("not verified as the published checkpoint" in n for n in result.notes)
    odd = _bundle(tmp_path, "h", {"kind": "something else"})
    result = run_benchmark("cub", data_root, model=odd, out_dir=tmp_path / "o2", num_workers=0)
    assert all(r.paper is None and r.variant == "unverified" for r in result.rows)
    assert any("records neither verified off-the-shelf weights nor a training run" in n for n in result.notes)
    # Training data as the paper names it.
    assert training_data(_bundle(tmp_path, "f", _trained("inshop", 35000))) == "inshop"
    assert training_data(_bundle(tmp_path, "g", {"kind": "pretrained"})) is None


def test_library_default_dims_is_full_width(data_root, tmp_path):
    wide = ModelSpec(
        backbone="vit_small_patch16_224",
        input_size=32,
        backbone_kwargs={"depth": 1, "embed_dim": 512, "num_heads": 8},
    )
    bundle = _bundle(tmp_path, "wide", {"kind": "pretrained"}, wide)
    result = run_benchmark("cub", data_root, model=bundle, out_dir=tmp_path / "o", num_workers=0)
    assert {r.dims for r in result.rows} == {512} and not any("PCA" in n for n in result.notes)
    assert result.settings["dims"] == "full"


def test_missing_dataset_says_what_to_download_where(tmp_path, deit_s_bundle, capsys):
    rc = main(
        [
            "--library",
            str(tmp_path),
            "--benchmark",
            "--datasets",
            "cub,roxford",
            "--data-root",
            str(tmp_path),
            "--model",
            str(deit_s_bundle.path),
            "--out",
            str(tmp_path / "out"),
            "--workers",
            "0",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2
    assert str(tmp_path / "cub" / "images.txt") in err and "CUB_200_2011.tgz" in err
    assert "gnd_roxford5k.pkl" in err and "revisitop" in err
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Missing datasets" in report and "CUB_200_2011.tgz" in report


def test_without_a_model_offline_the_weights_message(tmp_path, capsys, monkeypatch):
    from irt_desktop.retrieval import weights

    monkeypatch.setattr(weights, "cached_weights", lambda card: None)
    monkeypatch.setattr(weights, "hub_reachable", lambda timeout=2.0: False)
    rc = main(["--library", str(tmp_path), "--benchmark", "--datasets", "cub", "--data-root", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "irt-desktop models import" in err


def test_progress_has_an_eta_and_cancel_stops(data_root, deit_s_bundle, tmp_path):
    seen = []
    run_benchmark(
        "inshop", data_root, model=deit_s_bundle, out_dir=tmp_path / "a", progress=seen.append, num_workers=0
    )
    embed = [p for p in seen if p.stage == "embed" and p.done]
    assert embed and embed[-1].done == embed[-1].total and embed[-1].eta_s == pytest.approx(0.0)
    cancel = threading.Event()
    cancel.set()
    result = run_benchmark(
        "inshop,cub", data_root, model=deit_s_bundle, out_dir=tmp_path / "b", cancel=cancel, num_workers=0
    )
    assert result.cancelled and not result.rows and (tmp_path / "b" / "results.json").is_file()


def test_inshop_queries_search_the_gallery_only(tmp_path, deit_s_bundle):
    from irt_desktop.retrieval.datasets import load_inshop
    from irt_desktop.retrieval.metrics import recall_at_k
    from irt_desktop.retrieval.training import evaluate_bundle, extract_features

    bench = load_inshop(write_inshop(tmp_path))
    model = deit_s_bundle.load_model()
    q = extract_features(model, bench.query, device="cpu", num_workers=0)
    g = extract_features(model, bench.gallery, device="cpu", num_workers=0)
    expected = recall_at_k(q, bench.query.labels, (1, 10), g, bench.gallery.labels)
    got = evaluate_bundle(deit_s_bundle, bench, (1, 10), device="cpu", num_workers=0)
    assert got == pytest.approx({f"R@{k}": 100 * v for k, v in expected.items()})


def test_smoke_suite_quick(tmp_path, capsys):
    out = tmp_path / "smoke"
    rc = main(
        [
            "--library",
            str(tmp_path),
            "--benchmark",
            "--suite",
            "smoke",
            "--scale",
            "quick",
            "--out",
            str(out),
            "--workers",
            "0",
        ]
    )
    printed = capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    variants = {r["variant"] for r in results["rows"] if r["metric"] == "R@1"}
    assert variants == {"random init", "IRT_L", "IRT_R"}  # never IRT_O: no ImageNet weights here
    assert all(r["paper"] is None for r in results["rows"])
    assert results["settings"]["mode"].startswith("fast") and "draft" in results["settings"]["mode"]
    assert "torch" in results["settings"]["software"] and results["settings"]["seconds"] > 0
    # Too small to learn reliably: plumbing only, no verdict (the full scale has one).
    assert rc == 0 and results["passed"] is None and "no verdict" in printed
    # The generated data is in the CUB layout with disjoint train (1-100) and test (101-) classes.
    labels = (out / "smoke-data" / "image_class_labels.txt").read_text().split()
    classes = {int(c) for c in labels[1::2]}
    assert {c for c in classes if c <= 100} and {c for c in classes if c > 100}


def test_train_cli_on_class_folders(tmp_path, tiny_bundle, capsys):
    import shutil

    cub = write_cub(tmp_path / "cub", 4, 0, 6)
    albums = tmp_path / "albums"
    for cls in (cub / "images").iterdir():
        shutil.copytree(cls, albums / cls.name.split(".", 1)[1])
    lib = tmp_path / "lib"
    args = ["--library", str(lib), "train", "--folders", str(albums), "--model", str(tiny_bundle.path)]
    args += [
        "--iterations",
        "3",
        "--holdout",
        "0.5",
        "--workers",
        "0",
        "--device",
        "cpu",
        "--set",
        "batch_size=8",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "24 images in 4 classes" in printed and "before: R@1" in printed and "after:  R@1" in printed
    (bundle,) = list_bundles(lib / "models")
    assert bundle.card.provenance["recipe"]["recipe"] == "folders"
    assert bundle.card.provenance["recipe"]["batch_size"] == 8
    assert bundle.card.provenance["data"]["classes"] == 2  # half the classes held out
    # Same command again: the finished checkpoint is found, nothing is retrained.
    assert main(args) == 0
    assert "saved" in capsys.readouterr().out


def test_dataset_catalog_matches_the_cli():
    assert list(DATASETS) == ["sop", "cub", "inshop", "roxford", "rparis"]
    assert {d.paper_key for d in DATASETS.values()} == {"sop", "cub", "inshop", "roxford5k", "rparis6k"}
