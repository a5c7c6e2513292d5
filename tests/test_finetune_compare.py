"""Before / after Recall@1 with paired bootstrap intervals (retrieval.training.finetune.compare): checked
against a direct, slow reference (a plain loop over the same draws), known cases, and the verdict and
warning the wizard shows; and the per-query ranks it is computed from against recall_at_k."""

from __future__ import annotations

import math

import numpy as np
import pytest

from irt_desktop.retrieval.metrics import first_hit_ranks, recall_at_k, recall_from_ranks
from irt_desktop.retrieval.training.finetune.compare import compare_recall, resample_means


def slow_interval(before: list[int], after: list[int], resamples: int, level: float, seed: int):
    """The percentile bootstrap written out: one draw of n indices per resample from the same generator,
    means by summing, quantiles by numpy's default (linear) rule done by hand."""
    rng = np.random.default_rng(seed)
    n = len(before)
    b_means, a_means, d_means = [], [], []
    for _ in range(resamples):
        idx = rng.integers(0, n, size=n)
        b = sum(100.0 * (before[i] < 1) for i in idx) / n
        a = sum(100.0 * (after[i] < 1) for i in idx) / n
        b_means.append(b)
        a_means.append(a)
        d_means.append(sum(100.0 * ((after[i] < 1) - (before[i] < 1)) for i in idx) / n)

    def quantile(values: list[float], q: float) -> float:
        v = sorted(values)
        h = (len(v) - 1) * q
        lo = math.floor(h)
        hi = min(lo + 1, len(v) - 1)
        return v[lo] + (h - lo) * (v[hi] - v[lo])

    tail = (1 - level) / 2
    return [(quantile(m, tail), quantile(m, 1 - tail)) for m in (b_means, a_means, d_means)]


def test_bootstrap_matches_a_direct_slow_reference():
    rng = np.random.default_rng(7)
    before = [int(x) for x in rng.integers(0, 3, size=37)]  # ranks 0 (a hit at 1), 1 or 2
    after = [int(x) for x in rng.integers(0, 2, size=37)]
    cmp = compare_recall(before, after, resamples=300, level=0.9, seed=11)
    (b_lo, b_hi), (a_lo, a_hi), (d_lo, d_hi) = slow_interval(before, after, 300, 0.9, 11)
    assert cmp.n == 37 and cmp.resamples == 300
    assert cmp.before.value == pytest.approx(100 * np.mean(np.array(before) < 1))
    assert cmp.after.value == pytest.approx(100 * np.mean(np.array(after) < 1))
    assert cmp.diff.value == pytest.approx(cmp.after.value - cmp.before.value)
    assert (cmp.before.low, cmp.before.high) == pytest.approx((b_lo, b_hi))
    assert (cmp.after.low, cmp.after.high) == pytest.approx((a_lo, a_hi))
    assert (cmp.diff.low, cmp.diff.high) == pytest.approx((d_lo, d_hi))


def test_resample_means_are_paired_and_chunked_alike():
    values = np.arange(600, dtype=float).reshape(300, 2)
    values[:, 1] = values[:, 0] * 2
    draws = resample_means(values, resamples=700, seed=3)  # more than one chunk of draws
    assert draws.shape == (700, 2)
    # The same rows for both columns: the second column's mean is exactly twice the first's.
    assert np.allclose(draws[:, 1], 2 * draws[:, 0])
    rng = np.random.default_rng(3)
    first = values[rng.integers(0, 300, size=300)].mean(axis=0)
    assert np.allclose(draws[0], first)


def test_known_cases_and_verdicts():
    # Every held-out photo found before and after: both at the ceiling, no evidence either way.
    full = compare_recall([0] * 32, [0] * 32)
    assert (full.before.low, full.before.high, full.after.low) == (100.0, 100.0, 100.0)
    assert (full.diff.low, full.diff.high) == (0.0, 0.0)
    assert full.saturated and full.verdict == "unclear" and full.intervals_overlap
    assert "100 %" in full.warning() and "32 held-out photos" in full.warning()

    # None found before, all after, on 40 photos: no resample can show anything but +100.
    clear = compare_recall([5] * 40, [0] * 40)
    assert clear.verdict == "better" and clear.diff.low == 100.0 and clear.warning() == ""
    assert not clear.intervals_overlap

    worse = compare_recall([0] * 40, [3] * 40)
    assert worse.verdict == "worse" and "worse" in worse.warning()

    # One photo more found out of 30: the interval of the change holds zero.
    small = compare_recall([0] * 20 + [1] * 10, [0] * 21 + [1] * 9)
    assert small.diff.value == pytest.approx(100 / 30)
    assert small.diff.low <= 0 <= small.diff.high
    assert small.verdict == "unclear" and not small.saturated
    assert "too few" in small.warning() and "includes zero" in small.warning()


def test_interval_of_a_proportion_is_near_the_normal_one():
    """Half of 2,000 queries found: the 95 % interval is about +-1.96 * sqrt(p (1 - p) / n)."""
    ranks = [0, 1] * 1000
    cmp = compare_recall(ranks, ranks, resamples=2000, seed=1)
    half_width = 1.96 * math.sqrt(0.25 / 2000) * 100
    assert cmp.before.value == 50.0
    assert cmp.before.low == pytest.approx(50 - half_width, abs=0.4)
    assert cmp.before.high == pytest.approx(50 + half_width, abs=0.4)
    assert (cmp.diff.low, cmp.diff.high) == (0.0, 0.0)  # the same answers: a paired difference of 0


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="measured on 2 and 3"):
        compare_recall([0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="at least one"):
        compare_recall([], [])
    with pytest.raises(ValueError, match="level"):
        compare_recall([0], [0], level=1.5)


def test_first_hit_ranks_give_recall_at_k():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(50, 8)).astype(np.float32)
    labels = rng.integers(0, 6, size=50)
    ranks = first_hit_ranks(feats, labels)
    assert ranks.shape == (50,)
    assert recall_from_ranks(ranks, [1, 2, 4, 8]) == recall_at_k(feats, labels, [1, 2, 4, 8])
    gallery = rng.normal(size=(30, 8)).astype(np.float32)
    g_labels = rng.integers(0, 6, size=30)
    with_gallery = first_hit_ranks(feats, labels, gallery, g_labels)
    assert recall_from_ranks(with_gallery, [1, 5]) == recall_at_k(feats, labels, [1, 5], gallery, g_labels)
    with pytest.raises(ValueError, match="positive"):
        recall_from_ranks(ranks, [0])
