"""The descriptor model and bundles: real timm ViTs (tiny, random init), real safetensors files."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from imagegen import TINY_SPEC, photo, save_photo
from PIL import Image

from irt_desktop.retrieval.bundle import BundleError, find_bundle, list_bundles, load_bundle, save_bundle
from irt_desktop.retrieval.card import ModelCard, shipped_cards
from irt_desktop.retrieval.embedder import Embedder
from irt_desktop.retrieval.model import IRT, ModelSpec
from irt_desktop.retrieval.pca import PCAProjection
from irt_desktop.retrieval.pooling import TokenPool
from irt_desktop.retrieval.weights import random_init_bundle


def test_bundle_loads_and_embeds_deterministically_with_unit_norm(tiny_bundle):
    images = [photo(i) for i in range(5)]
    a = Embedder.from_bundle(tiny_bundle, device="cpu", low_precision=False).embed(images)
    b = Embedder.from_bundle(load_bundle(tiny_bundle.path), device="cpu", low_precision=False).embed(images)
    assert a.shape == (5, 64) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(a, b)
    # Different images must get different descriptors, or "deterministic" would be trivially true.
    assert (a @ a.T)[~np.eye(5, dtype=bool)].max() < 0.9999


def test_same_image_through_file_and_memory_gives_same_vector(tiny_embedder, tmp_path):
    from irt_desktop.images import open_image

    path = save_photo(tmp_path / "p.jpg", seed=3, size=(400, 300), quality=92)
    data = path.read_bytes()
    from_file = tiny_embedder.embed([open_image(path, min_side=tiny_embedder.min_side)])
    from_memory = tiny_embedder.embed([open_image(io.BytesIO(data), min_side=tiny_embedder.min_side)])
    from_bytes = tiny_embedder.embed([open_image(data, min_side=tiny_embedder.min_side)])
    np.testing.assert_array_equal(from_file, from_memory)
    np.testing.assert_array_equal(from_file, from_bytes)


def test_bundle_id_depends_on_weights_and_is_stable(tmp_path):
    a = random_init_bundle(TINY_SPEC, "tiny", tmp_path, seed=0)
    again = random_init_bundle(TINY_SPEC, "tiny", tmp_path, seed=0)
    other = random_init_bundle(TINY_SPEC, "tiny", tmp_path, seed=1)
    assert a.id == again.id and a.path == again.path
    assert other.id != a.id
    assert [b.id for b in list_bundles(tmp_path)] == sorted([a.id, other.id])
    assert find_bundle(tmp_path, a.id[:10] if a.id[:10] != other.id[:10] else a.id).id == a.id


def test_damaged_bundle_is_refused_with_reason(tiny_bundle, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_bundle.path, copy)
    with open(copy / "model.safetensors", "r+b") as f:
        f.seek(-8, 2)
        f.write(b"\0" * 8)
    with pytest.raises(BundleError, match="checksum"):
        load_bundle(copy).load_model()
    (copy / "card.toml").unlink()
    with pytest.raises(BundleError, match=r"card\.toml"):
        load_bundle(copy)


def test_pca_reduces_dims_and_output_stays_unit_norm(tiny_bundle, tmp_path):
    model = tiny_bundle.load_model()
    x = torch.randn(40, 3, 32, 32)
    with torch.inference_mode():
        feats = model.features(x)
    pca = PCAProjection.fit(feats, 16)
    # PCA rows are orthonormal directions and the map centres the data.
    np.testing.assert_allclose((pca.weight @ pca.weight.T).numpy(), np.eye(16), atol=1e-4)
    assert torch.allclose(pca(feats).mean(0), torch.zeros(16), atol=1e-3)
    model.set_pca(pca)
    with torch.inference_mode():
        z = model(x)
    assert z.shape == (40, 16)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(40))
    # Saved and reloaded, the PCA travels inside the bundle.
    bundle = save_bundle(model, ModelCard(name="tiny-pca", spec=model.spec), tmp_path)
    assert bundle.card.spec.dims == 16 and bundle.card.to_dict()["model"]["pca"] is True
    with torch.inference_mode():
        torch.testing.assert_close(bundle.load_model()(x), z)


def test_pca_runs_in_float32_under_bf16_autocast(tiny_bundle):
    """Autocast would run the PCA's linear map in bf16 (3 significant digits), losing the small components
    that a 128-d projection of 384-d features keeps; the projection must see and produce float32."""
    model = tiny_bundle.load_model()
    x = torch.randn(40, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        pca = PCAProjection.fit(model.features(x), 16)
    model.set_pca(pca)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        feats = model.features(x)  # what the bf16 backbone produced (float32 after its final LayerNorm)
        z = model(x)
        projected = pca(feats)
    assert projected.dtype == torch.float32
    with torch.inference_mode():
        expected = torch.nn.functional.linear(feats.float(), pca.weight, pca.bias)
    torch.testing.assert_close(projected, expected, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(z, torch.nn.functional.normalize(expected, dim=-1), rtol=1e-6, atol=1e-6)


def test_pca_needs_more_samples_than_dims():
    with pytest.raises(ValueError, match="more than 16"):
        PCAProjection.fit(np.random.rand(10, 64).astype(np.float32), 16)


def test_token_pooling_variants():
    tokens = torch.randn(2, 1 + 4, 8)
    assert torch.equal(TokenPool("cls")(tokens), tokens[:, 0])
    assert torch.allclose(TokenPool("mean")(tokens), tokens[:, 1:].mean(1))
    assert torch.equal(TokenPool("max")(tokens), tokens[:, 1:].amax(1))
    pos = tokens.abs() + 0.1
    gem = TokenPool("gem", gem_p=3.0)(pos)
    assert torch.allclose(gem, (pos[:, 1:] ** 3).mean(1) ** (1 / 3))
    with pytest.raises(ValueError, match="unknown pooling"):
        TokenPool("avg")


def test_distilled_deit_descriptor_is_the_cls_token_only():
    spec = ModelSpec(
        backbone="deit_tiny_distilled_patch16_224",
        input_size=32,
        backbone_kwargs={"depth": 1, "patch_size": 8, "embed_dim": 32, "num_heads": 2},
    )
    torch.manual_seed(0)
    model = IRT(spec).eval()
    assert model.pool.num_prefix_tokens == 2
    x = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        tokens = model.backbone.forward_features(x)
        z = model(x)
    torch.testing.assert_close(z, torch.nn.functional.normalize(tokens[:, 0], dim=-1))
    assert not torch.allclose(z, torch.nn.functional.normalize((tokens[:, 0] + tokens[:, 1]) / 2, dim=-1))


@pytest.mark.parametrize("size", [32, 48, 64])
def test_input_size_is_part_of_the_model(size):
    spec = ModelSpec(**{**TINY_SPEC.__dict__, "input_size": size})
    model = IRT(spec).eval()
    with torch.inference_mode():
        assert model(torch.randn(1, 3, size, size)).shape == (1, 64)


@pytest.mark.parametrize(
    "backbone", ["vit_tiny_patch16_224", "deit_tiny_patch16_224", "deit_tiny_distilled_patch16_224"]
)
def test_non_square_inputs_and_square_outputs_unchanged(backbone):
    """Landmark images keep their aspect ratio (a non-square patch grid, timm's dynamic_img_size); at the
    model's own square size nothing changes: same state-dict keys and shapes, same descriptors."""
    import timm

    kwargs = {"depth": 1, "patch_size": 8, "embed_dim": 32, "num_heads": 2}
    spec = ModelSpec(backbone=backbone, input_size=32, backbone_kwargs=kwargs)
    torch.manual_seed(0)
    model = IRT(spec).eval()
    assert model.patch_size == 8
    fixed = timm.create_model(backbone, num_classes=0, img_size=32, **kwargs).eval()
    ours, theirs = model.backbone.state_dict(), fixed.state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}
    fixed.load_state_dict(ours)
    x = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(model.backbone.forward_features(x), fixed.forward_features(x))
        wide = model(torch.randn(2, 3, 24, 32))  # 3 x 4 patches
        tall = model(torch.randn(1, 3, 32, 16))
    assert wide.shape == (2, 32) and tall.shape == (1, 32)
    torch.testing.assert_close(wide.norm(dim=1), torch.ones(2))
    if "distilled" in backbone:
        with torch.inference_mode():
            tokens = model.backbone.forward_features(torch.randn(1, 3, 24, 32))
        assert tokens.shape[1] == 2 + 12  # CLS, distillation token, 3 x 4 patches


def test_input_size_must_be_a_multiple_of_the_patch():
    with pytest.raises(ValueError, match="multiple of the patch size"):
        IRT(ModelSpec(**{**TINY_SPEC.__dict__, "input_size": 36}))


def test_imported_checkpoint_is_resized_to_the_input_size(tmp_path):
    """A checkpoint at 224 px (official .pth layout) loads into a 160 px model: timm resamples pos_embed."""
    from irt_desktop.retrieval.weights import import_weights

    kwargs = {"depth": 1, "embed_dim": 32, "num_heads": 2}
    source = IRT(ModelSpec(backbone="deit_tiny_patch16_224", input_size=224, backbone_kwargs=kwargs))
    ckpt = tmp_path / "deit.pth"
    torch.save({"model": source.backbone.state_dict(), "epoch": 300}, ckpt)
    card = ModelCard(
        name="tiny-deit",
        spec=ModelSpec(backbone="deit_tiny_patch16_224", input_size=160, backbone_kwargs=kwargs),
    )
    bundle = import_weights(ckpt, card, tmp_path / "models")
    model = bundle.load_model()
    assert model.backbone.pos_embed.shape[1] == 1 + (160 // 16) ** 2
    torch.testing.assert_close(model.backbone.cls_token, source.backbone.cls_token)
    assert bundle.card.provenance["kind"] == "imported"


def test_pickled_code_in_a_checkpoint_is_refused(tmp_path):
    from irt_desktop.retrieval.weights import read_checkpoint

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pth"
    torch.save({"model": Evil()}, path)
    with pytest.raises(ValueError, match="holds objects other than tensors"):
        read_checkpoint(path)


def test_shipped_cards_name_the_papers_backbones():
    cards = shipped_cards()
    assert cards["deit-s"].spec.backbone == "deit_small_patch16_224"
    assert cards["deit-s-distilled"].spec.backbone == "deit_small_distilled_patch16_224"
    assert cards["deit-b"].spec.backbone == "deit_base_patch16_224"
    assert all(c.spec.pooling == "cls" for c in cards.values())
    # 224 px everywhere but the paper's DeiT-B† 384 row.
    assert {c.spec.input_size for c in cards.values() if "384" not in c.name} == {224}


def test_eval_preprocessing_resizes_short_side_and_centre_crops():
    from irt_desktop.retrieval.transforms import eval_transform, resize_side

    spec = ModelSpec(input_size=224)
    assert resize_side(spec) == 256
    # A wide image with a distinct left third: the centre crop of the 256-high resize drops it.
    im = Image.new("RGB", (768, 256), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 256, 256))
    x = eval_transform(spec)(im)
    assert x.shape == (3, 224, 224)
    assert x[0].max() < 0  # no red survives: the crop is centred
