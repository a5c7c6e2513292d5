"""Inference precision: bf16 autocast is used on capable CPUs only while it agrees with fp32."""

from __future__ import annotations

import numpy as np
import pytest
from imagegen import photo

from irt_desktop.device import cpu_has_bf16
from irt_desktop.retrieval.embedder import BF16_MIN_COSINE, Embedder
from irt_desktop.retrieval.model import IRT, ModelSpec

needs_bf16 = pytest.mark.skipif(
    not cpu_has_bf16(), reason="this CPU has no native bf16 (avx512_bf16/amx_bf16)"
)


@needs_bf16
def test_bf16_descriptors_agree_with_fp32_on_deit_small_architecture():
    import torch

    torch.manual_seed(0)
    model = IRT(ModelSpec(backbone="deit_small_patch16_224", input_size=224))
    images = [photo(i, (320, 240)) for i in range(4)]
    fp32 = Embedder(model, device="cpu", low_precision=False).embed(images)
    bf16_embedder = Embedder(model, device="cpu", low_precision=True)
    assert bf16_embedder.precision == "bfloat16"
    bf16 = bf16_embedder.embed(images)
    cosine = (fp32 * bf16).sum(axis=1)
    assert cosine.min() >= BF16_MIN_COSINE, cosine
    assert not np.array_equal(fp32, bf16)  # autocast really ran in bf16


@needs_bf16
def test_low_precision_falls_back_to_fp32_when_it_disagrees(monkeypatch, tiny_bundle):
    monkeypatch.setattr("irt_desktop.retrieval.embedder.BF16_MIN_COSINE", 1.01)
    embedder = Embedder.from_bundle(tiny_bundle, device="cpu", low_precision=True)
    assert embedder.precision == "fp32"
    assert embedder.low_precision_check is not None and embedder.low_precision_check < 1.01


def test_setting_turns_low_precision_off(tiny_bundle):
    embedder = Embedder.from_bundle(tiny_bundle, device="cpu", low_precision=False)
    assert embedder.precision == "fp32" and embedder.low_precision_check is None


def test_empty_input_and_batching(tiny_embedder):
    assert tiny_embedder.embed([]).shape == (0, 64)
    images = [photo(i) for i in range(7)]
    small = Embedder(tiny_embedder.model, device="cpu", low_precision=False, batch_size=3)
    np.testing.assert_allclose(small.embed(images), tiny_embedder.embed(images), atol=1e-5)
