"""Batched inference: images -> float32 descriptors on the best device, with bf16 where it is safe."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from PIL import Image

from irt_desktop.device import autocast_dtype, best_device
from irt_desktop.retrieval.bundle import ModelBundle
from irt_desktop.retrieval.model import IRT
from irt_desktop.retrieval.transforms import eval_transform, resize_side

# bf16 is used only while it keeps descriptors this close to fp32 (cosine similarity, worst image).
BF16_MIN_COSINE = 0.999


class Embedder:
    """Owns one model on one device. Not thread-safe: one worker thread drives it."""

    backend = "torch"

    def __init__(
        self,
        model: IRT,
        model_id: str = "",
        device: str | None = None,
        low_precision: bool = True,
        batch_size: int = 32,
    ) -> None:
        self.device = best_device(device)
        self.model = model.to(self.device).eval()
        self.model_id = model_id
        self.batch_size = batch_size
        self.spec = model.spec
        self.transform = eval_transform(model.spec)
        self.min_side = resize_side(model.spec)  # what decoding must deliver
        self.autocast = autocast_dtype(self.device, low_precision)
        self.low_precision_check: float | None = None
        if self.autocast is not None:
            self.low_precision_check = self._agreement_with_fp32()
            if self.low_precision_check < BF16_MIN_COSINE:
                self.autocast = None

    @classmethod
    def from_bundle(cls, bundle: ModelBundle, **kwargs) -> Embedder:
        return cls(bundle.load_model(), model_id=bundle.id, **kwargs)

    @property
    def dim(self) -> int:
        return self.model.dim

    @property
    def precision(self) -> str:
        return "fp32" if self.autocast is None else str(self.autocast).removeprefix("torch.")

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        return torch.stack([self.transform(im.convert("RGB")) for im in images])

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), np.float32)
        return self.embed_batches(
            self.preprocess(images[i : i + self.batch_size]) for i in range(0, len(images), self.batch_size)
        )

    def embed_batches(self, batches: Iterable[torch.Tensor]) -> np.ndarray:
        out = [self.embed_tensor(b) for b in batches]
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def embed_array(self, x: np.ndarray) -> np.ndarray:
        """Descriptors of a preprocessed float32 NCHW batch (the backend-neutral entry point)."""
        return self.embed_tensor(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))

    def embed_tensor(self, x: torch.Tensor, autocast: torch.dtype | str | None = "auto") -> np.ndarray:
        dtype = self.autocast if autocast == "auto" else autocast
        ctx = (
            torch.autocast(device_type=self.device.split(":")[0], dtype=dtype)
            if dtype is not None
            else contextlib.nullcontext()
        )
        with torch.inference_mode(), ctx:
            z = self.model(x.to(self.device, non_blocking=True))
        return z.float().cpu().numpy()

    def _agreement_with_fp32(self) -> float:
        """Worst cosine similarity between low-precision and fp32 descriptors on a fixed probe batch."""
        g = torch.Generator().manual_seed(0)
        size = self.spec.input_size
        # Smooth random fields look more like photos than white noise does.
        probe = torch.nn.functional.interpolate(
            torch.randn(4, 3, 8, 8, generator=g), size=size, mode="bicubic"
        )
        full = self.embed_tensor(probe, autocast=None)
        low = self.embed_tensor(probe, autocast=self.autocast)
        return float((full * low).sum(axis=1).min())
