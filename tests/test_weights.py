"""Pretrained weights: the Hugging Face cache path, fast offline failure, and imports through the CLI."""

from __future__ import annotations

import socket

import pytest
import torch
from safetensors.torch import save_file

from irt_desktop.cli import main
from irt_desktop.retrieval import weights
from irt_desktop.retrieval.bundle import list_bundles
from irt_desktop.retrieval.card import ModelCard
from irt_desktop.retrieval.model import IRT, ModelSpec

TINY_DEIT = ModelSpec(
    backbone="deit_tiny_patch16_224",
    input_size=32,
    backbone_kwargs={"depth": 1, "patch_size": 8, "embed_dim": 32, "num_heads": 2},
)
TINY_CARD = ModelCard(name="tiny-deit", spec=TINY_DEIT, weights={"timm_tag": "deit_tiny_patch16_224.fb_in1k"})


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache in tmp, and a hub that refuses connections at once."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    return tmp_path / "hub"


def _put_in_cache(cache, repo_id: str, state) -> None:
    """The cache layout huggingface_hub writes: refs/main names the snapshot holding the file."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    save_file(state, str(snapshot / "model.safetensors"))


def test_offline_with_nothing_cached_fails_fast_with_import_instructions(hub_cache):
    with pytest.raises(weights.WeightsUnavailable) as err:
        weights.install_pretrained(TINY_CARD, hub_cache.parent / "models")
    message = str(err.value)
    assert "irt-desktop models import" in message
    assert "huggingface.co/timm/deit_tiny_patch16_224.fb_in1k" in message
    assert not (hub_cache.parent / "models").exists() or not list_bundles(hub_cache.parent / "models")


def test_offline_probe_is_bounded_by_a_short_timeout(monkeypatch, hub_cache):
    seen = {}

    def never_answers(address, timeout=None):
        seen["timeout"] = timeout
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", never_answers)
    assert weights.hub_reachable() is False
    # huggingface_hub's own retries take ~45 s offline; the probe must give up within a couple of seconds.
    assert seen["timeout"] is not None and seen["timeout"] <= 2.0


def test_hf_hub_offline_setting_skips_the_network(monkeypatch, hub_cache):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("network touched"))
    assert weights.hub_reachable() is False


def test_cached_weights_install_offline_through_timms_path(hub_cache, tmp_path):
    torch.manual_seed(1)
    source = IRT(TINY_DEIT)
    _put_in_cache(hub_cache, "timm/deit_tiny_patch16_224.fb_in1k", source.backbone.state_dict())
    assert weights.cached_weights(TINY_CARD) is not None
    bundle = weights.install_pretrained(TINY_CARD, tmp_path / "models")
    model = bundle.load_model()
    torch.testing.assert_close(model.backbone.cls_token, source.backbone.cls_token)
    assert bundle.card.weights["timm_tag"] == "deit_tiny_patch16_224.fb_in1k"
    # Through the hub, which checks the file against its LFS record: verified pretrained weights.
    assert bundle.card.provenance == {"kind": "pretrained", "verified": True, "verified_by": "hub"}


def test_cli_models_import_list_show(tmp_path, capsys):
    torch.manual_seed(2)
    ckpt = tmp_path / "deit_small.safetensors"
    # A real DeiT-S layout: the import path must accept what timm publishes.
    save_file(IRT(ModelSpec(backbone="deit_small_patch16_224")).backbone.state_dict(), str(ckpt))
    lib = tmp_path / "lib"
    assert main(["--library", str(lib), "models", "import", str(ckpt), "--card", "deit-s"]) == 0
    out = capsys.readouterr().out
    (bundle,) = list_bundles(lib / "models")
    assert bundle.id in out and bundle.card.provenance["kind"] == "imported"
    assert main(["--library", str(lib), "models", "list"]) == 0
    assert bundle.id in capsys.readouterr().out
    assert main(["--library", str(lib), "models", "show", bundle.id[:12]]) == 0
    assert 'backbone = "deit_small_patch16_224"' in capsys.readouterr().out


def test_cli_import_of_a_wrong_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "notes.pth"
    bad.write_bytes(b"this is not a checkpoint")
    assert main(["--library", str(tmp_path / "lib"), "models", "import", str(bad)]) == 2
    assert "notes.pth is neither a safetensors file nor a PyTorch checkpoint" in capsys.readouterr().err
    missing = tmp_path / "missing.safetensors"
    assert main(["--library", str(tmp_path / "lib"), "models", "import", str(missing)]) == 2
    assert "no such weights file" in capsys.readouterr().err


def test_cli_install_offline_exits_with_guidance(hub_cache, capsys, monkeypatch):
    # Exit 1: the input was fine, the operation (a download) failed.
    assert main(["--library", str(hub_cache.parent / "lib"), "models", "install", "deit-s"]) == 1
    assert "irt-desktop models import PATH --card deit-s" in capsys.readouterr().err


def test_doctor_reports_versions_device_and_weights(tmp_path, capsys, hub_cache):
    assert main(["--library", str(tmp_path / "lib"), "doctor"]) == 0
    out = capsys.readouterr().out
    for key in ("torch", "timm", "faiss", "Qt", "device", "library", "weights deit-s"):
        assert any(line.startswith(key) for line in out.splitlines()), key
    assert "not downloaded" in out
    assert str(tmp_path / "lib") in out


def test_version_and_help(capsys):
    from irt_desktop import __version__

    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out
    assert main(["--help"]) == 0
    assert "doctor" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # a command's own --help is argparse's
        main(["models", "--help"])
    assert "import" in capsys.readouterr().out


def test_python_dash_m_entry_point(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "irt_desktop", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("irt-desktop ")
