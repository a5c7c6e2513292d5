"""Bundle -> OpenVINO IR, with the agreement check: the torch side of the OpenVINO backend.

The IR holds the backbone and the token pooling; PCA and L2 normalisation run after it in numpy float32
(openvino_runtime), as the torch path runs them in float32 under bf16 autocast: in bf16 the centring of
PCA loses most of its digits.

Runs in a child process (openvino_cache.compile_in_child): torch and OpenVINO must not both hold thread
pools in a process that serves. Here they run one after the other: torch computes the fp32 reference
descriptors of a probe batch, then the converted model is compiled at the serving precision and must
agree with them to cosine >= MIN_AGREEMENT, or the conversion is refused (and torch serves instead).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

# Bumped when what the cached IR computes changes (2: pooled features; PCA and L2 outside the IR).
CACHE_FORMAT = 2
# Descriptors must agree with torch fp32 at least this well (worst image of the probe batch).
MIN_AGREEMENT = 0.9999
PROBE_IMAGES = 8


def probe_batch(input_size: int, n: int = PROBE_IMAGES, seed: int = 0) -> Any:
    """Smooth random fields, normalised like photos: closer to real inputs than white noise."""
    import torch

    g = torch.Generator().manual_seed(seed)
    low = torch.randn(n, 3, 7, 7, generator=g)
    return torch.nn.functional.interpolate(low, size=input_size, mode="bicubic", align_corners=False)


def convert_bundle(bundle_dir: Path, out_dir: Path, precision: str) -> dict[str, Any]:
    """Write `out_dir` (model.xml, model.bin, meta.json) atomically; returns the metadata.

    Raises ConversionRefused when the converted model does not agree with torch fp32."""
    import openvino as ov
    import torch

    from irt_desktop.retrieval.bundle import load_bundle
    from irt_desktop.retrieval.openvino_runtime import OpenVINOEmbedder, openvino_version

    started = time.monotonic()
    bundle = load_bundle(bundle_dir)
    model = bundle.load_model().eval()
    size = bundle.card.spec.input_size
    probe = probe_batch(size)
    with torch.inference_mode():
        reference = model(probe).float().numpy()
    with torch.no_grad():
        converted = ov.convert_model(
            _features_module(model), example_input=probe[:1], input=[ov.PartialShape([-1, 3, size, size])]
        )
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out_dir.parent))
    try:
        ov.save_model(converted, str(tmp / "model.xml"), compress_to_fp16=False)
        pca = pca_of(bundle_dir)
        tried: dict[str, float] = {}
        # bf16 where the CPU runs it natively, unless it moves descriptors too far: then f32, which
        # OpenVINO still runs faster than eager torch.
        for served in [precision, "f32"] if precision == "bf16" else [precision]:
            runtime = OpenVINOEmbedder(
                tmp / "model.xml", bundle.card.spec, model.dim, bundle.id, served, pca=pca
            )
            got = runtime.embed_array(probe.numpy())
            del runtime
            tried[served] = float((reference * got).sum(axis=1).min())
            if tried[served] >= MIN_AGREEMENT:
                break
        else:
            worst = ", ".join(f"{k} to cosine {v:.6f}" for k, v in tried.items())
            raise ConversionRefused(
                f"OpenVINO descriptors agree with torch fp32 only {worst} (needs {MIN_AGREEMENT})"
            )
        meta = {
            "format": CACHE_FORMAT,
            "bundle_id": bundle.id,
            "openvino": openvino_version(),
            "requested": precision,
            "precision": served,
            "agreement": tried[served],
            "tried": tried,
            "dim": int(model.dim),
            "input_size": size,
            "seconds": round(time.monotonic() - started, 2),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        _make_shareable(tmp)
        if out_dir.exists():
            shutil.rmtree(out_dir, ignore_errors=True)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


def _features_module(model: Any) -> Any:
    import torch

    class Features(torch.nn.Module):
        """The pooled token before PCA and L2, in float32: what the IR computes."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.model.features(x).float()

    return Features().eval()


def pca_of(bundle_dir: Path) -> tuple[Any, Any] | None:
    """The bundle's PCA (weight, bias) as numpy float32 arrays, read without torch; None without PCA."""
    from safetensors import safe_open

    with safe_open(str(Path(bundle_dir) / "model.safetensors"), framework="numpy") as f:
        keys = set(f.keys())
        if "pca.weight" not in keys:
            return None
        return f.get_tensor("pca.weight").astype("float32"), f.get_tensor("pca.bias").astype("float32")


def _make_shareable(folder: Path) -> None:
    """mkdtemp makes 0700 folders; the cache should follow the umask like any other file."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)


class ConversionRefused(RuntimeError):
    """The converted model does not compute the same descriptors; torch keeps serving."""
