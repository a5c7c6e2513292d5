"""How the benchmark computes descriptors (precision, JPEG decoding, landmark scales) and the words and
software versions its report records about them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MULTISCALE = (1.0, 2**-0.5, 0.5)


@dataclass(frozen=True)
class Evaluation:
    """How descriptors are computed: `precision` ("fp32", or "auto": bf16 where it agrees with fp32),
    `decode` ("full" or "draft" JPEG decoding) and the landmark `scales`."""

    precision: str = "fp32"
    decode: str = "full"
    scales: tuple[float, ...] = (1.0,)

    def settings(self, spec: Any, fast: bool) -> dict[str, Any]:
        from irt_desktop.retrieval.spec import resize_side

        ms = ", ".join(f"{s:.4g}" for s in self.scales)
        return {
            "mode": "fast (--fast)" if fast else "paper (fp32, full decoding)",
            "precision": "fp32"
            if self.precision == "fp32"
            else "bf16 autocast where the device runs it and it agrees with fp32 (cosine >= 0.999), "
            "else fp32 (the precision used is in each dataset's details)",
            "decoding": "full JPEG decoding"
            if self.decode == "full"
            else "JPEG draft decoding (DCT scaling to at least the size the image is resized to)",
            "resolution": f"{spec.input_size} px: category level short side {resize_side(spec)} (bicubic) "
            f"then centre crop {spec.input_size}; landmarks longer side {spec.input_size}, queries at "
            "their full image's scale (cirtorch)",
            "landmark scales": "1 (single scale)"
            if self.scales == (1.0,)
            else f"{ms}: the mean of the L2-normalised descriptors, L2-normalised (cirtorch "
            "extract_ms, p = 1)",
        }


def device_name(device: str | None) -> str:
    from irt_desktop.device import best_device

    try:
        return best_device(device)
    except RuntimeError:
        return str(device)


def software_versions() -> dict[str, str]:
    """Versions of what computes the figures."""
    import platform
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("irt-desktop", "torch", "torchvision", "timm", "numpy", "pillow"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    import torch

    if torch.version.cuda:
        out["cuda"] = str(torch.version.cuda)
    return out
