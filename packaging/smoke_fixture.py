"""Write a tiny random-init model bundle and a folder of photos for the bundle smoke test."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from irt_desktop.retrieval.model import ModelSpec
from irt_desktop.retrieval.weights import random_init_bundle

TINY = ModelSpec(
    backbone="vit_tiny_patch16_224",
    input_size=32,
    backbone_kwargs={"depth": 2, "patch_size": 8, "embed_dim": 64, "num_heads": 2},
)


def photo(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    im = Image.fromarray(rng.uniform(0, 255, (3, 4, 3)).astype(np.uint8)).resize((320, 240), Image.BICUBIC)
    draw = ImageDraw.Draw(im)
    for _ in range(4):
        x, y = int(rng.integers(0, 200)), int(rng.integers(0, 150))
        draw.ellipse((x, y, x + 90, y + 70), fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    return im


def main(out: Path) -> None:
    photos = out / "photos" / "nested"
    photos.mkdir(parents=True, exist_ok=True)
    for i in range(12):
        photo(100 + i).save(photos / f"other-{i}.jpg", quality=90)
    target = photo(7)
    target.save(out / "photos" / "target.jpg", quality=90)
    target.resize((200, 150)).save(out / "query.jpg", quality=70)
    bundle = random_init_bundle(TINY, "tiny-smoke", out / "models")
    shutil.copytree(bundle.path, out / "tiny-bundle")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
