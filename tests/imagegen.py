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


# Photo sizes of a generated album: one scene at several sizes, so a class has real variation.
ALBUM_SIZES = [(64, 48), (48, 48), (72, 54), (40, 40), (80, 60), (56, 42)]


def save_albums(root: Path, classes: int, seed: int, sizes: list[tuple[int, int]] = ALBUM_SIZES) -> Path:
    """Class folders album_0…album_{classes-1} under `root`: class c is scene `seed + c` at every size
    in `sizes` (img_0.jpg…), the layout the fine-tune wizard and `irt-desktop train` read."""
    for c in range(classes):
        for i, size in enumerate(sizes):
            save_photo(root / f"album_{c}" / f"img_{i}.jpg", seed + c, size)
    return root
