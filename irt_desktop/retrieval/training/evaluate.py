"""Descriptors of a whole split and Recall@K on it: the trainer's periodic evaluation, the benchmark's
category-level protocol and the fine-tune wizard's before/after figures."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

from irt_desktop.retrieval.bundle import ModelBundle
from irt_desktop.retrieval.datasets import CategoryBenchmark, ImageRecord, RetrievalSplit
from irt_desktop.retrieval.datasets.image_dataset import ImageDataset
from irt_desktop.retrieval.embedder import Embedder
from irt_desktop.retrieval.metrics import first_hit_ranks, recall_from_ranks
from irt_desktop.retrieval.model import IRT
from irt_desktop.retrieval.training.progress import EvalSplit
from irt_desktop.retrieval.transforms import eval_transform, resize_side

Progress = Callable[[int, int], None]  # (images done, images total)


def extract_features(
    model: IRT,
    records: RetrievalSplit | Sequence[ImageRecord],
    *,
    device: str | None = None,
    raw: bool = False,
    batch_size: int = 64,
    num_workers: int = 2,
    progress: Progress | None = None,
    transform: Callable[[Image.Image], torch.Tensor] | None = None,
    min_side: int | None = None,
    precision: str = "auto",
    decode: str = "draft",
    info: dict | None = None,
) -> np.ndarray:
    """`[n, dim]` float32 descriptors (L2-normalised; `raw`: pooled features before PCA and L2).

    Test preprocessing: `transform`, by default the category-level eval_transform. `decode` "draft":
    JPEGs decoded near `min_side` (default: the size that transform resizes to) with DCT scaling, fast
    and a little different from a full decode; "full": every image decoded at full size (the paper
    benchmark's default). A transform may give images of different shapes (landmark_transform keeps the
    aspect ratio): each loaded batch is run as one forward pass per shape. `precision` "auto": bf16
    autocast where the Embedder finds it safe; "fp32": never. `info`, when given, receives the precision
    actually used. Leaves `model` in eval mode on `device`.
    """
    if precision not in ("auto", "fp32"):
        raise ValueError(f"precision must be auto or fp32, got {precision!r}")
    if decode not in ("draft", "full"):
        raise ValueError(f"decode must be draft or full, got {decode!r}")
    embedder = Embedder(model, device=device, batch_size=batch_size, low_precision=precision == "auto")
    if info is not None:
        info["precision"] = embedder.precision
    if decode == "full":
        min_side = None
    elif min_side is None:
        min_side = resize_side(model.spec)
    dataset = ImageDataset(records, transform or eval_transform(model.spec), min_side=min_side)
    loader = DataLoader(
        dataset, batch_size=batch_size, num_workers=num_workers, shuffle=False, collate_fn=_group_by_shape
    )
    width = model.width if raw else model.dim
    dev = embedder.device
    out, done = [], 0
    for groups in loader:
        chunk = np.zeros((sum(len(rows) for rows, _ in groups), width), np.float32)
        for rows, x in groups:
            if raw:
                ctx = (
                    torch.autocast(dev.split(":")[0], dtype=embedder.autocast)
                    if embedder.autocast is not None
                    else contextlib.nullcontext()
                )
                with torch.inference_mode(), ctx:
                    chunk[rows] = model.features(x.to(dev)).float().cpu().numpy()
            else:
                chunk[rows] = embedder.embed_tensor(x)
        out.append(chunk)
        done += len(chunk)
        if progress is not None:
            progress(done, len(dataset))
    return np.concatenate(out) if out else np.zeros((0, width), np.float32)


def _group_by_shape(items: list[tuple[torch.Tensor, int, int]]) -> list[tuple[list[int], torch.Tensor]]:
    """DataLoader collate: (positions in the batch, stacked images) for each image shape in the batch."""
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for pos, (image, _, _) in enumerate(items):
        by_shape.setdefault(tuple(image.shape), []).append(pos)
    return [(rows, torch.stack([items[i][0] for i in rows])) for rows in by_shape.values()]


def evaluate_model(
    model: IRT,
    split: EvalSplit,
    ks: Sequence[int],
    *,
    device: str | None = None,
    num_workers: int = 2,
    progress: Progress | None = None,
    precision: str = "auto",
    decode: str = "draft",
    info: dict | None = None,
) -> dict[str, float]:
    """`{"R@k": percent}`: leave-one-out within a RetrievalSplit (SOP, CUB, a held-out folder split),
    queries against the gallery for a benchmark that has one (In-Shop), else leave-one-out on its queries.
    `precision`, `decode`: as for extract_features; `info` also receives "ranks", each query's 0-based
    rank of its first match."""
    if isinstance(split, CategoryBenchmark):
        query, gallery = split.query, split.gallery
    else:
        query, gallery = split, None
    n_total = len(query) + (len(gallery) if gallery is not None else 0)

    def part(offset: int) -> Progress | None:
        return None if progress is None else (lambda done, _total: progress(offset + done, n_total))

    common = {"device": device, "num_workers": num_workers, "precision": precision, "decode": decode}
    q = extract_features(model, query, progress=part(0), info=info, **common)
    if gallery is None:
        ranks = first_hit_ranks(q, query.labels)
    else:
        g = extract_features(model, gallery, progress=part(len(query)), **common)
        ranks = first_hit_ranks(q, query.labels, g, gallery.labels)
    if info is not None:
        info["ranks"] = ranks  # per query, for a confidence interval over the queries
    return {f"R@{k}": 100.0 * v for k, v in recall_from_ranks(ranks, ks).items()}


def evaluate_bundle(
    bundle: ModelBundle,
    split: EvalSplit,
    ks: Sequence[int] = (1, 2, 4, 8),
    device: str | None = None,
    progress: Progress | None = None,
    num_workers: int = 2,
    info: dict | None = None,
) -> dict[str, float]:
    """Recall@K (percent) of a saved model on a split: the wizard's before/after comparison. `info`: as
    for evaluate_model."""
    return evaluate_model(
        bundle.load_model(), split, ks, device=device, num_workers=num_workers, progress=progress, info=info
    )
