"""A procedural image-retrieval dataset in the CUB-200-2011 layout, for the smoke suite and tests.

A class is a combination of a shape, a colour and a texture; its images show that object under a random
rotation, scale and position on a random smooth background with a little colour jitter. Train classes
are numbered from 1 and test classes from 101, so the CUB reader's split (1-100 train, 101-200 test)
gives disjoint train and test classes, and the test classes are combinations never seen in training.
"""

from __future__ import annotations

import colorsys
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "star", "cross", "ring", "diamond", "hexagon")
HUES = (0.0, 0.08, 0.16, 0.33, 0.5, 0.62, 0.75, 0.88)
TEXTURES = ("solid", "stripes", "checks", "dots")
TEST_LABEL_OFFSET = 100


@dataclass(frozen=True)
class SmokeClass:
    shape: str
    hue: float
    texture: str

    @property
    def slug(self) -> str:
        return f"{self.shape}_{int(self.hue * 100):02d}_{self.texture}"


def smoke_classes(n: int, seed: int = 0) -> list[SmokeClass]:
    """`n` distinct classes in a seeded random order."""
    combos = list(itertools.product(SHAPES, HUES, TEXTURES))
    if n > len(combos):
        raise ValueError(f"at most {len(combos)} smoke classes, asked for {n}")
    order = np.random.default_rng(seed).permutation(len(combos))[:n]
    return [SmokeClass(*combos[i]) for i in order]


def _rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0), 1), min(max(v, 0), 1))
    return int(r * 255), int(g * 255), int(b * 255)


def _polygon(shape: str, c: float, r: float) -> list[tuple[float, float]]:
    def ring(n: int, radius: float, phase: float = -math.pi / 2) -> list[tuple[float, float]]:
        return [
            (
                c + radius * math.cos(phase + 2 * math.pi * i / n),
                c + radius * math.sin(phase + 2 * math.pi * i / n),
            )
            for i in range(n)
        ]

    if shape == "triangle":
        return ring(3, r)
    if shape == "diamond":
        return [(c, c - r), (c + 0.6 * r, c), (c, c + r), (c - 0.6 * r, c)]
    if shape == "hexagon":
        return ring(6, r)
    if shape == "star":
        outer, inner = ring(5, r), ring(5, 0.42 * r, -math.pi / 2 + math.pi / 5)
        return [p for pair in zip(outer, inner, strict=True) for p in pair]
    raise ValueError(shape)


def _mask(shape: str, side: int) -> Image.Image:
    m = Image.new("L", (side, side), 0)
    d = ImageDraw.Draw(m)
    c, r = side / 2, side * 0.45
    if shape == "circle":
        d.ellipse((c - r, c - r, c + r, c + r), fill=255)
    elif shape == "ring":
        d.ellipse((c - r, c - r, c + r, c + r), fill=255)
        d.ellipse((c - 0.55 * r, c - 0.55 * r, c + 0.55 * r, c + 0.55 * r), fill=0)
    elif shape == "square":
        d.rectangle((c - 0.8 * r, c - 0.8 * r, c + 0.8 * r, c + 0.8 * r), fill=255)
    elif shape == "cross":
        w = 0.32 * r
        d.rectangle((c - r, c - w, c + r, c + w), fill=255)
        d.rectangle((c - w, c - r, c + w, c + r), fill=255)
    else:
        d.polygon(_polygon(shape, c, r), fill=255)
    return m


def _texture(kind: str, hue: float, side: int, rng: np.random.Generator) -> Image.Image:
    jitter = rng.normal(0, 0.02)
    main = _rgb(hue + jitter, 0.85 + rng.normal(0, 0.05), 0.9 + rng.normal(0, 0.05))
    second = _rgb(hue + jitter, 0.35, 0.35)
    tex = Image.new("RGB", (side, side), main)
    if kind == "solid":
        return tex
    d = ImageDraw.Draw(tex)
    period = max(4, side // 6)
    if kind == "stripes":
        for x in range(-side, 2 * side, period):
            d.polygon(
                [(x, 0), (x + period // 2, 0), (x + period // 2 + side, side), (x + side, side)], fill=second
            )
    elif kind == "checks":
        for i in range(0, side, period):
            for j in range(0, side, period):
                if (i // period + j // period) % 2:
                    d.rectangle((i, j, i + period - 1, j + period - 1), fill=second)
    elif kind == "dots":
        rad = period // 4
        for i in range(period // 2, side, period):
            for j in range(period // 2, side, period):
                d.ellipse((i - rad, j - rad, i + rad, j + rad), fill=second)
    return tex


def _background(size: int, rng: np.random.Generator) -> Image.Image:
    """A smooth, weakly coloured field with grain: clutter the model must learn to look past, without
    drowning the object's colour (a from-scratch model in a few CPU minutes could not)."""
    grey = rng.uniform(60, 200, (3, 3, 1))
    tint = rng.normal(0, 18, (3, 3, 3))
    coarse = np.clip(grey + tint, 0, 255).astype(np.uint8)
    bg = Image.fromarray(coarse, "RGB").resize((size, size), Image.BICUBIC)
    noise = rng.normal(0, 8, (size, size, 3))
    return Image.fromarray(np.clip(np.asarray(bg, np.float32) + noise, 0, 255).astype(np.uint8), "RGB")


def render(cls: SmokeClass, rng: np.random.Generator, size: int = 64) -> Image.Image:
    """One image of `cls`: random rotation, scale (45-85% of the frame), position and background."""
    big = size * 2  # drawn at twice the size, then downsampled: smooth edges
    side = int(big * rng.uniform(0.45, 0.85))
    angle = float(rng.uniform(0, 360))
    mask = _mask(cls.shape, side).rotate(angle, resample=Image.BICUBIC)
    tex = _texture(cls.texture, cls.hue, side, rng).rotate(angle, resample=Image.BICUBIC)
    canvas = _background(big, rng)
    x, y = (int(v) for v in rng.integers(0, big - side + 1, 2))
    canvas.paste(tex, (x, y), mask)
    return canvas.resize((size, size), Image.LANCZOS)


def smoke_counts(n_train_classes: int, n_test_classes: int, per_class: int):
    """The counts a generated set holds, for the CUB reader's check (datasets.protocol)."""
    from irt_desktop.retrieval.datasets import ExpectedCounts

    return ExpectedCounts(
        {"train": n_train_classes * per_class, "test": n_test_classes * per_class},
        {"train": n_train_classes, "test": n_test_classes},
    )


def make_smoke_dataset(
    root: Path,
    n_train_classes: int = 24,
    n_test_classes: int = 24,
    per_class: int = 20,
    size: int = 64,
    seed: int = 0,
) -> Path:
    """Write `root/images.txt`, `root/image_class_labels.txt` and `root/images/<class>/<n>.jpg`."""
    if n_train_classes > TEST_LABEL_OFFSET:
        raise ValueError(f"the CUB layout holds at most {TEST_LABEL_OFFSET} train classes")
    root = Path(root)
    classes = smoke_classes(n_train_classes + n_test_classes, seed)
    labels = list(range(1, n_train_classes + 1)) + [TEST_LABEL_OFFSET + i + 1 for i in range(n_test_classes)]
    images, class_labels = [], []
    image_id = 0
    for label, cls in zip(labels, classes, strict=True):
        folder = f"{label:03d}.{cls.slug}"
        (root / "images" / folder).mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng([seed, label])
        for i in range(per_class):
            image_id += 1
            rel = f"{folder}/{cls.slug}_{i:04d}.jpg"
            render(cls, rng, size).save(root / "images" / rel, quality=92)
            images.append(f"{image_id} {rel}")
            class_labels.append(f"{image_id} {label}")
    (root / "images.txt").write_text("\n".join(images) + "\n", encoding="utf-8")
    (root / "image_class_labels.txt").write_text("\n".join(class_labels) + "\n", encoding="utf-8")
    return root
