"""Strict weight import: refusals in one line, architecture detection, honest provenance, no switching."""

from __future__ import annotations

import json
import os

import pytest
import timm
import torch
from safetensors.torch import save_file

from irt_desktop.cli import main
from irt_desktop.retrieval.architecture import WeightsMismatch, check_fits, detect
from irt_desktop.retrieval.bundle import list_bundles, sha256_file
from irt_desktop.retrieval.card import ModelCard
from irt_desktop.retrieval.model import ModelSpec
from irt_desktop.retrieval.provenance import Kind, Provenance, finetune_title
from irt_desktop.retrieval.weights import WeightsFileError, import_weights, read_checkpoint

TINY_KW = {"depth": 1, "embed_dim": 32, "num_heads": 2}


def _state(name: str, **kwargs) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = timm.create_model(name, num_classes=1000, **kwargs)
    return {k: v.contiguous() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def deit_tiny_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "deit_tiny.safetensors"
    save_file(_state("deit_tiny_patch16_224"), str(path))
    return path


def _cli(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize(
    "name",
    [
        "deit_tiny_patch16_224",
        "deit_small_patch16_224",
        "deit_small_distilled_patch16_224",
        "vit_small_patch14_dinov2",
    ],
)
def test_detects_the_architecture_from_random_init_tensors(name):
    assert detect(_state(name)).backbone == name


def test_detection_prefers_the_matching_position_grid():
    with torch.device("meta"):
        state = timm.create_model("deit_base_patch16_384", num_classes=0).state_dict()
    found = detect(state)
    assert found.backbone == "deit_base_patch16_384"
    assert found.native_size == 384


def test_architecturally_identical_models_resolve_to_the_deit_and_say_so():
    found = detect(_state("vit_small_patch16_224"))
    assert found.backbone == "deit_small_patch16_224"
    assert "vit_small_patch16_224" in found.same_as


def test_unrelated_tensor_is_refused_in_one_sentence(tmp_path):
    path = tmp_path / "foo.safetensors"
    save_file({"foo": torch.zeros(3)}, str(path))
    with pytest.raises(WeightsMismatch) as err:
        check_fits(read_checkpoint(path), "deit_small_patch16_224")
    message = str(err.value)
    assert message.startswith("1 tensors, 0 match DeiT-S: this is not DeiT-S weights; missing e.g. blocks.0.")
    assert "\n" not in message and len(message) < 200


def test_wrong_shapes_name_what_the_weights_really_are():
    with pytest.raises(WeightsMismatch, match=r"these are DeiT-Ti weights .*not DeiT-S"):
        check_fits(_state("deit_tiny_patch16_224"), "deit_small_patch16_224")


def test_missing_tensors_are_refused_not_left_at_random_init():
    state = _state("deit_tiny_patch16_224", **TINY_KW)
    del state["blocks.0.attn.qkv.weight"]
    with pytest.raises(WeightsMismatch, match=r"incomplete .* missing e.g. blocks.0.attn.qkv.weight"):
        check_fits(state, "deit_tiny_patch16_224", TINY_KW)


def test_unknown_extra_tensors_are_refused_but_heads_are_dropped():
    state = _state("deit_tiny_patch16_224", **TINY_KW)
    check_fits(state, "deit_tiny_patch16_224", TINY_KW)  # head.weight / head.bias are known heads
    state["adapter.weight"] = torch.zeros(2)
    with pytest.raises(WeightsMismatch, match=r"adapter\.weight"):
        check_fits(state, "deit_tiny_patch16_224", TINY_KW)


def _bad_files(tmp_path, good):
    files = {}
    files["random"] = tmp_path / "random.safetensors"
    files["random"].write_bytes(os.urandom(4096))
    blob = good.read_bytes()
    files["truncated"] = tmp_path / "truncated.safetensors"
    files["truncated"].write_bytes(blob[: len(blob) // 2])
    files["lying"] = tmp_path / "lying.safetensors"
    files["lying"].write_bytes((10**12).to_bytes(8, "little") + b"{" + b" " * 64)
    files["empty"] = tmp_path / "empty.safetensors"
    files["empty"].write_bytes(b"")
    return files


@pytest.mark.parametrize("kind", ["random", "truncated", "lying", "empty"])
def test_unreadable_files_are_clear_refusals(tmp_path, deit_tiny_file, kind):
    path = _bad_files(tmp_path, deit_tiny_file)[kind]
    with pytest.raises(WeightsFileError) as err:
        read_checkpoint(path)
    assert str(err.value).startswith(path.name)
    assert "\n" not in str(err.value)


class _WritesMarker:
    marker = ""

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_payload_never_runs(tmp_path):
    marker = tmp_path / "MARKER"
    evil = _WritesMarker()
    evil.marker = str(marker)
    path = tmp_path / "evil.pth"
    torch.save({"model": {"x": evil}}, path)
    with pytest.raises(WeightsFileError, match="holds objects other than tensors"):
        read_checkpoint(path)
    assert not marker.exists()


def test_a_pth_renamed_safetensors_still_reads(tmp_path):
    state = _state("deit_tiny_patch16_224", **TINY_KW)
    path = tmp_path / "renamed.safetensors"
    torch.save({"model": state, "epoch": 3}, path)
    assert set(read_checkpoint(path)) == set(state)


def test_cli_refusals_are_one_line_with_exit_2_and_install_nothing(tmp_path, capsys, deit_tiny_file):
    lib = tmp_path / "lib"
    files = _bad_files(tmp_path, deit_tiny_file)
    foo = tmp_path / "foo.safetensors"
    save_file({"foo": torch.zeros(3)}, str(foo))
    marker = tmp_path / "MARKER"
    evil = _WritesMarker()
    evil.marker = str(marker)
    torch.save({"model": evil}, tmp_path / "evil.pth")
    cases = [*files.values(), foo, tmp_path / "evil.pth"]
    for path in cases:
        rc, _, err = _cli(capsys, "--library", str(lib), "models", "import", str(path))
        assert rc == 2, path
        assert err.count("\n") == 1 and err.startswith("irt-desktop: "), err
        assert "Traceback" not in err
    args = ["--library", str(lib), "models", "import", str(deit_tiny_file), "--card", "deit-s"]
    rc, _, err = _cli(capsys, *args)
    assert rc == 2 and "DeiT-Ti" in err
    assert not marker.exists()
    assert not list_bundles(lib / "models")


def test_import_without_card_detects_installs_and_does_not_activate(tmp_path, capsys, deit_tiny_file):
    lib = tmp_path / "lib"
    rc, out, err = _cli(capsys, "--library", str(lib), "models", "import", str(deit_tiny_file), "--json")
    assert rc == 0, err
    row = json.loads(out)
    assert row["backbone"] == "deit_tiny_patch16_224"
    assert row["verified"] is False and row["provenance"] == "imported, unverified"
    assert "unverified" in row["title"]
    assert not row["active"]
    rc, out, _ = _cli(capsys, "--library", str(lib), "models", "list", "--json")
    rows = json.loads(out)
    assert [r["id"] for r in rows] == [row["id"]]
    assert {"id", "name", "provenance", "verified", "active"} <= set(rows[0])


def test_an_import_whose_hash_is_listed_is_verified(tmp_path, deit_tiny_file):
    spec = ModelSpec(backbone="deit_tiny_patch16_224")
    listed = ModelCard(
        name="deit-ti",
        spec=spec,
        title="DeiT-Ti (ImageNet-1k), off the shelf",
        weights={"source_sha256": [sha256_file(deit_tiny_file)]},
        provenance={"kind": "pretrained", "source": "DeiT"},
    )
    bundle = import_weights(deit_tiny_file, listed, tmp_path / "models")
    prov = Provenance.from_dict(bundle.card.provenance)
    assert prov.kind is Kind.PRETRAINED and prov.verified and prov.verified_by == "sha256"
    assert prov.is_paper_off_the_shelf
    other = ModelCard(name="deit-ti", spec=spec, weights={"source_sha256": ["0" * 64]}, provenance={})
    prov = Provenance.from_dict(import_weights(deit_tiny_file, other, tmp_path / "m2").card.provenance)
    assert prov.kind is Kind.IMPORTED and not prov.verified and not prov.is_paper_off_the_shelf


def test_provenance_reads_old_cards_and_nests_bases():
    old_import = Provenance.from_dict({"kind": "imported", "imported_as": "pretrained", "source": "DeiT"})
    assert not old_import.verified and not old_import.is_paper_off_the_shelf
    base = Provenance(Kind.PRETRAINED, verified=True, verified_by="hub")
    tuned = Provenance(Kind.FINETUNED, variant="IRT_R", data_name="birds", base=base)
    again = Provenance.from_dict(tuned.to_dict())
    assert again.base == base and again.from_verified_base and again.depth == 1
    twice = Provenance(Kind.FINETUNED, variant="IRT_R", data_name="cars", base=again)
    assert twice.depth == 2 and not twice.from_verified_base
    assert Provenance.from_dict({"kind": "trained", "variant": "IRT_L"}).kind is Kind.FINETUNED
    assert twice.label() == "fine-tuned on cars from fine-tuned on birds from pretrained, verified"


def test_finetune_titles_do_not_grow_by_repetition():
    first = finetune_title("Birds", "DeiT-S (ImageNet-1k), off the shelf")
    assert first == "Fine-tuned on Birds from DeiT-S (ImageNet-1k), off the shelf"
    second = finetune_title("Cars", first)
    assert second == "Fine-tuned on Cars from DeiT-S (ImageNet-1k), off the shelf (round 2)"
    assert finetune_title("Dogs", second).endswith("off the shelf (round 3)")
