"""Training data: the dataset reader's ImageDataset behind seeded augmentation and m-per-class batches."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import DataLoader, Dataset

from irt_desktop.retrieval.datasets import ImageRecord, RetrievalSplit
from irt_desktop.retrieval.datasets.image_dataset import ImageDataset
from irt_desktop.retrieval.model import ModelSpec
from irt_desktop.retrieval.training.hardware import SMALL_CPU_CORES, loader_workers_for
from irt_desktop.retrieval.training.sampler import MicroBatches
from irt_desktop.retrieval.transforms import resize_side, train_transform

# loader_workers_for lives in the torch-free hardware module (the planners import it from there).
__all__ = ["SMALL_CPU_CORES", "SeededAugmentation", "loader_workers_for", "train_dataset", "train_loader"]


class SeededAugmentation(Dataset):
    """Items are `(index, seed)`: the image's random crop and flip are drawn from `seed`.

    The augmentation is then a function of the batch's seed, not of which worker process decoded it or
    of what ran before, which is what makes a run reproducible and a resumed run identical.
    """

    def __init__(self, base: ImageDataset) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, item: tuple[int, int]) -> tuple[torch.Tensor, int, int]:
        index, seed = item
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.base[index]


def train_dataset(records: RetrievalSplit | Sequence[ImageRecord], spec: ModelSpec) -> SeededAugmentation:
    """PAPER.md train augmentation at the model's input size; JPEGs decoded near the size it resizes to."""
    return SeededAugmentation(ImageDataset(records, train_transform(spec), min_side=resize_side(spec)))


def train_loader(
    dataset: SeededAugmentation, batches: MicroBatches, num_workers: int, pin_memory: bool
) -> DataLoader:
    return DataLoader(
        dataset,
        batch_sampler=batches,
        num_workers=num_workers,
        pin_memory=pin_memory,
        # The trainer iterates one loader over the whole run, so workers start once; each prefetches two
        # micro-batches, which hides decoding time behind the step.
        persistent_workers=False,
        prefetch_factor=2 if num_workers > 0 else None,
    )
