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
    """Global batch k: `batch_size` distinct images, `m` of each class where the class has them, plus a
    per-image augmentation seed.

    No image is taken twice in a batch while the training set has at least `batch_size` images: two
    augmentations of one image are not a positive pair (the contrastive loss excludes equal indices), and
    KoLeo, whose largest push is between a sample and its nearest neighbour, would spend it on pushing
    the twins apart, against augmentation invariance. The batch is filled in this order:

    1. `batch_size // m` classes in epochs of a shuffled order (every class appears about equally often),
       with `m` images each, drawn without replacement, or all of a class's images when it has fewer;
    2. what classes smaller than `m` left free goes to further classes (random order, up to `m` images
       and at least 2, so that each still brings a positive pair);
    3. then further images of the batch's classes (one more per class per round);
    4. then images of single-image classes. They have no positive anywhere, so the only use of one is
       as a negative, in the batch and, through it, in the cross-batch memory; but a batch slot spent
       on it is a slot not spent on an image with positives, which is what the paper's m-per-class
       batches are made of. So they fill only what the classes with pairs cannot: with data in which
       every class has a pair they are never drawn (as with the paper's datasets), while small,
       singleton-heavy sets (a user's albums) use them instead of repeating images;
    5. a slot still free (an odd one, when the classes drawn have no image left) takes any image not in
       the batch yet: a negative here, with its positives in the memory;
    6. only when the whole training set has fewer than `batch_size` images are images repeated (every
       image once, then again, in a shuffled cycle).
    """

    def __init__(self, labels: Sequence[int] | np.ndarray, m: int, batch_size: int, seed: int = 0) -> None:
        labels = np.asarray(labels).ravel()
        if len(labels) == 0:
            raise ValueError("cannot sample batches from an empty training set")
        if m < 1 or batch_size < m:
            raise ValueError(f"need 1 <= m ({m}) <= batch_size ({batch_size})")
        self.seed = int(seed)
        self.m = m
        self.batch_size = batch_size
        self.n_images = len(labels)
        _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
        # Members of each class in dataset order, without a per-class scan of the whole label array.
        groups = np.split(np.argsort(inverse, kind="stable"), np.cumsum(counts)[:-1])
        self.members = [g for g in groups if len(g) >= 2]
        self.singles = np.array([g[0] for g in groups if len(g) == 1], dtype=np.int64)
        self.classes_per_batch = min(batch_size // m, len(self.members))

    def _class_order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch, 0]).permutation(len(self.members))

    def _primary_classes(self, k: int) -> list[int]:
        """Positions k*c .. k*c+c-1 of the endless sequence of shuffled epochs of the classes with pairs."""
        n, c = len(self.members), self.classes_per_batch
        chosen: list[int] = []
        if c == 0:
            return chosen
        start = k * c
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
        return chosen

    def batch(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(dataset indices, augmentation seeds) of global batch `k`, each `[batch_size]`."""
        rng = np.random.default_rng([self.seed, k, 1])
        if self.n_images <= self.batch_size:
            indices = np.resize(rng.permutation(self.n_images), self.batch_size)
        else:
            indices = self._distinct(k, rng)
        seeds = rng.integers(0, _MAX_SEED, size=len(indices), dtype=np.int64)
        return indices.astype(np.int64), seeds

    def _distinct(self, k: int, rng: np.random.Generator) -> np.ndarray:
        """`batch_size` distinct indices, filled in the order of the class docstring (needs enough images)."""
        remaining = self.batch_size
        taken: list[np.ndarray] = []
        spare: list[np.ndarray] = []  # per chosen class, its images not taken yet
        chosen = self._primary_classes(k)

        def take(cls: int) -> None:
            nonlocal remaining
            images = rng.permutation(self.members[cls])
            n = min(self.m, len(images), remaining)
            taken.append(images[:n])
            spare.append(images[n:])
            remaining -= n

        for cls in chosen:
            take(cls)
        if remaining >= 2 and len(chosen) < len(self.members):
            used = set(chosen)
            for cls in rng.permutation(len(self.members)).tolist():
                if remaining < 2:
                    break
                if cls not in used:
                    take(cls)
        while remaining > 0 and any(len(s) for s in spare):
            for j, s in enumerate(spare):
                if remaining > 0 and len(s):
                    taken.append(s[:1])
                    spare[j] = s[1:]
                    remaining -= 1
        if remaining > 0 and len(self.singles):
            extra = rng.permutation(self.singles)[:remaining]
            taken.append(extra)
            remaining -= len(extra)
        if remaining > 0:
            # Only a lone slot left beside classes that were not drawn: any image not in the batch yet.
            unused = np.setdiff1d(np.arange(self.n_images), np.concatenate(taken))
            taken.append(rng.choice(unused, size=remaining, replace=False))
        return np.concatenate(taken)

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
