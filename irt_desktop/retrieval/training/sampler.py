"""m-per-class batches (PAPER.md: the XBM reference uses 4 images per class per batch).

pytorch-metric-learning's MPerClassSampler draws from numpy's global RNG, so a run can be neither
reproduced from a seed nor resumed mid-way, and it knows nothing of DistributedDataParallel ranks. Here a
batch is a pure function of (seed, iteration): resuming at iteration k needs no sampler state, and every
rank computes the same global batch and takes its own slice of it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

_MAX_SEED = 2**62


class MPerClassSampler:
    """Global batch k: `batch_size // m` distinct classes, `m` images of each, plus a per-image
    augmentation seed.

    Classes are taken in epochs of a shuffled order, so every class appears about equally often. Within a
    class, images are drawn without replacement when it has at least `m` (with replacement otherwise; a
    repeated image never pairs with itself, the loss excludes equal dataset indices). Classes with a single
    image give no positive pair and are not drawn, unless no class has two images. With fewer classes than
    `batch_size // m`, every class is in every batch with `batch_size // n_classes` images each.
    """

    def __init__(self, labels: Sequence[int] | np.ndarray, m: int, batch_size: int, seed: int = 0) -> None:
        labels = np.asarray(labels).ravel()
        if len(labels) == 0:
            raise ValueError("cannot sample batches from an empty training set")
        if m < 1 or batch_size < m:
            raise ValueError(f"need 1 <= m ({m}) <= batch_size ({batch_size})")
        self.seed = int(seed)
        classes, inverse = np.unique(labels, return_inverse=True)
        members = [np.flatnonzero(inverse == c) for c in range(len(classes))]
        usable = [c for c in range(len(classes)) if len(members[c]) >= 2] or list(range(len(classes)))
        self.members = [members[c] for c in usable]
        n = len(self.members)
        self.classes_per_batch = min(batch_size // m, n)
        self.m = m if self.classes_per_batch == batch_size // m else batch_size // n
        self.batch_size = self.classes_per_batch * self.m

    def _class_order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch, 0]).permutation(len(self.members))

    def batch(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(dataset indices, augmentation seeds) of global batch `k`, each `[batch_size]`."""
        n, c = len(self.members), self.classes_per_batch
        start = k * c
        chosen: list[int] = []
        epoch = start // n
        order = self._class_order(epoch)
        pos = start % n
        while len(chosen) < c:
            if pos == n:
                epoch, pos = epoch + 1, 0
                order = self._class_order(epoch)
            cls = int(order[pos])
            # Across an epoch boundary a class could come twice in one batch; skip the repeat.
            if cls not in chosen:
                chosen.append(cls)
            pos += 1
        rng = np.random.default_rng([self.seed, k, 1])
        picks = [
            rng.choice(self.members[cls], size=self.m, replace=len(self.members[cls]) < self.m)
            for cls in chosen
        ]
        indices = np.concatenate(picks).astype(np.int64)
        seeds = rng.integers(0, _MAX_SEED, size=len(indices), dtype=np.int64)
        return indices, seeds

    def shard(self, k: int, rank: int = 0, world_size: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """This rank's contiguous slice of global batch `k` (the batch size must divide evenly)."""
        if self.batch_size % world_size:
            raise ValueError(f"batch size {self.batch_size} is not divisible by {world_size} processes")
        per = self.batch_size // world_size
        indices, seeds = self.batch(k)
        return indices[rank * per : (rank + 1) * per], seeds[rank * per : (rank + 1) * per]


class MicroBatches:
    """Iterable for DataLoader(batch_sampler=...): iterations `start..stop`, each as `chunks` consecutive
    micro-batches of `(dataset index, augmentation seed)` pairs for this rank."""

    def __init__(
        self,
        sampler: MPerClassSampler,
        start: int,
        stop: int,
        *,
        chunks: int = 1,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.sampler, self.start, self.stop = sampler, start, stop
        self.chunks, self.rank, self.world_size = chunks, rank, world_size

    def __len__(self) -> int:
        return max(0, self.stop - self.start) * self.chunks

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for k in range(self.start, self.stop):
            indices, seeds = self.sampler.shard(k, self.rank, self.world_size)
            pairs = list(zip(indices.tolist(), seeds.tolist(), strict=True))
            for part in np.array_split(np.arange(len(pairs)), self.chunks):
                yield [pairs[i] for i in part]
