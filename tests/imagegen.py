"""Photo-like test images: smooth colour fields with shapes, so models and codecs see structure, not noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from irt_desktop.retrieval.model import ModelSpec

TINY_SPEC = ModelSpec(
    backbone="vit_tiny_patch16_224",
    input_size=32,
    backbone_kwargs={"depth": 2, "patch_size": 8, "embed_dim": 64, "num_heads": 2},
)


def photo(seed: int, size: tuple[int, int] = (96, 72)) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    coarse = rng.uniform(0, 255, (3, 4, 3)).astype(np.uint8)
    im = Image.fromarray(coarse, "RGB").resize((w, h), Image.BICUBIC)
    draw = ImageDraw.Draw(im)
    for _ in range(4):
        x0, y0 = rng.integers(0, w // 2), rng.integers(0, h // 2)
        x1, y1 = x0 + rng.integers(w // 8, w // 2), y0 + rng.integers(h // 8, h // 2)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    return im


def save_photo(path: Path, seed: int, size: tuple[int, int] = (96, 72), **save_kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    photo(seed, size).save(path, **save_kwargs)
    return path
