"""m-per-class batches: composition, determinism, coverage, sharding over ranks and micro-batches."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from irt_desktop.retrieval.training.sampler import MicroBatches, MPerClassSampler


def _labels(n_classes: int, per_class: int) -> np.ndarray:
    return np.repeat(np.arange(n_classes) * 10 + 3, per_class)  # arbitrary, non-contiguous class ids


def test_batch_has_m_images_of_distinct_classes():
    labels = _labels(40, 6)
    s = MPerClassSampler(labels, m=4, batch_size=64, seed=1)
    for k in range(20):
        idx, seeds = s.batch(k)
        assert len(idx) == len(seeds) == 64
        counts = Counter(labels[idx].tolist())
        assert len(counts) == 16 and set(counts.values()) == {4}
        # Classes with at least m images never repeat an image within the batch.
        for c in counts:
            members = idx[labels[idx] == c]
            assert len(set(members.tolist())) == 4


def test_deterministic_per_seed_and_iteration():
    labels = _labels(30, 5)
    a, b = MPerClassSampler(labels, 4, 32, seed=5), MPerClassSampler(labels, 4, 32, seed=5)
    assert all(np.array_equal(a.batch(k)[0], b.batch(k)[0]) for k in (0, 7, 123))
    assert np.array_equal(a.batch(3)[1], b.batch(3)[1])
    c = MPerClassSampler(labels, 4, 32, seed=6)
    assert not np.array_equal(a.batch(0)[0], c.batch(0)[0])


def test_every_class_is_drawn_equally_over_epochs():
    labels = _labels(24, 5)
    s = MPerClassSampler(labels, m=2, batch_size=16, seed=0)  # 8 classes per batch, 3 batches an epoch
    seen = Counter(labels[np.concatenate([s.batch(k)[0] for k in range(30)])].tolist())
    assert len(seen) == 24 and max(seen.values()) - min(seen.values()) <= 2 * 2


def test_small_classes_and_few_classes():
    # Single-image classes give no positive pair: not drawn while others can be.
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 3, 4])
    s = MPerClassSampler(labels, m=2, batch_size=4, seed=0)
    assert set(labels[s.batch(0)[0]].tolist()) == {0, 1}
    # Fewer classes than batch_size / m, with enough images: every class, more (distinct) images each.
    labels = _labels(3, 30)
    s = MPerClassSampler(labels, m=4, batch_size=64, seed=0)
    idx = s.batch(0)[0]
    assert s.classes_per_batch == 3 and len(idx) == 64 and len(set(idx.tolist())) == 64
    assert sorted(Counter(labels[idx].tolist()).values()) == [21, 21, 22]
    # The whole set is smaller than a batch: the only case with repeats, every image as often as possible.
    s = MPerClassSampler(_labels(3, 2), m=4, batch_size=64, seed=0)
    counts = Counter(s.batch(0)[0].tolist())
    assert s.batch_size == 64 and len(counts) == 6 and set(counts.values()) == {10, 11}


def _assert_distinct(s, ks=range(40)):
    for k in ks:
        idx, seeds = s.batch(k)
        assert len(idx) == len(seeds) == s.batch_size
        assert len(set(idx.tolist())) == len(idx), f"batch {k} repeats an image"


def test_small_classes_never_repeat_an_image_and_more_classes_fill_the_batch():
    # SOP-like: many classes of 2 or 3 images, fewer than m = 4.
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(300), rng.integers(2, 4, size=300))
    s = MPerClassSampler(labels, m=4, batch_size=64, seed=3)
    _assert_distinct(s)
    for k in range(10):
        counts = Counter(labels[s.batch(k)[0]].tolist())
        # Classes bring a positive pair (but for at most one odd slot left over), none more than m.
        assert list(counts.values()).count(1) <= 1 and max(counts.values()) <= 4
        assert len(counts) > 16  # more classes than 64 / 4, since the small ones give fewer images


def test_no_repeats_whenever_the_data_can_fill_a_batch():
    # Mixed sizes, singletons, and few classes with many images: all distinct.
    labels = np.array([0] * 30 + [1] * 30 + [2] * 3 + list(range(10, 20)))  # 10 single-image classes
    _assert_distinct(MPerClassSampler(labels, m=4, batch_size=64, seed=0))
    # Exactly enough images (73 > 64 with the singletons needed to fill).
    labels = np.array([0] * 2 + [1] * 3 + list(range(10, 70)))
    s = MPerClassSampler(labels, m=4, batch_size=64, seed=1)
    _assert_distinct(s)
    assert set(labels[s.batch(0)[0]].tolist()) >= {0, 1}  # the pairs come first


def test_single_image_classes_only_fill_what_classes_with_pairs_cannot():
    singles = list(range(100, 120))
    # Every class has >= m images: singletons are never drawn (the paper's m-per-class batches).
    labels = np.array([*np.repeat(np.arange(40), 4), *singles])
    s = MPerClassSampler(labels, 4, 64, seed=0)
    assert all(labels[s.batch(k)[0]].max() < 100 for k in range(20))
    # Too few images in classes with pairs: singletons fill the rest instead of repeats.
    labels = np.array([0, 0, 0, 1, 1, *singles])
    s = MPerClassSampler(labels, m=2, batch_size=8, seed=0)
    _assert_distinct(s)
    batch = labels[s.batch(0)[0]].tolist()
    assert batch.count(0) == 3 and batch.count(1) == 2 and len([c for c in batch if c >= 100]) == 3


def test_shards_and_micro_batches_partition_the_global_batch():
    s = MPerClassSampler(_labels(20, 4), 4, 32, seed=2)
    idx, _ = s.batch(4)
    parts = [s.shard(4, r, 2)[0] for r in range(2)]
    assert np.array_equal(np.concatenate(parts), idx)
    micro = list(MicroBatches(s, 4, 5, chunks=2, rank=1, world_size=2))
    assert len(micro) == 2 and [i for i, _ in micro[0] + micro[1]] == parts[1].tolist()
    with pytest.raises(ValueError, match="divisible"):
        s.shard(0, 0, 3)


def test_rejects_empty_or_bad_sizes():
    with pytest.raises(ValueError):
        MPerClassSampler([], 4, 64)
    with pytest.raises(ValueError):
        MPerClassSampler([1, 1], 8, 4)
