"""Before / after Recall@1 on the held-out photos, with bootstrap confidence intervals.

A fine-tune on a few albums is measured on a few dozen held-out photos, where one photo more or less
found moves Recall@1 by 3 points: a difference of that size says nothing. The evaluation therefore
resamples the queries (the percentile bootstrap, Efron & Tibshirani 1993, ch. 13): each resample draws
n queries with replacement and computes Recall@1 of both models on the same draw, so the interval of the
difference is a paired one (the two models answer the same queries; their errors are correlated, and
comparing two separate intervals would be too cautious). The gallery is kept fixed, the usual
approximation for leave-one-out retrieval.

The verdict comes from the interval of the difference: "better" when all of it is above 0, "worse" when
all of it is below, otherwise "unclear" (the held-out set is too small to tell, or both models are at
the ceiling: 100 % before and after is no evidence of anything).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95
SEED = 0
# Resamples drawn per numpy call: bounds the index matrix at CHUNK x n.
CHUNK = 256


@dataclass(frozen=True)
class Interval:
    """A point value with its confidence interval, in percent."""

    value: float
    low: float
    high: float

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high

    def text(self, signed: bool = False) -> str:
        f = "{:+.1f}" if signed else "{:.1f}"
        return f"{f.format(self.value)} ({f.format(self.low)} to {f.format(self.high)})"


@dataclass(frozen=True)
class RecallComparison:
    """Recall@K of two models on the same `n` queries, with `level` bootstrap intervals."""

    k: int
    n: int
    before: Interval
    after: Interval
    diff: Interval  # after - before, paired
    level: float = LEVEL
    resamples: int = RESAMPLES

    @property
    def verdict(self) -> str:
        """ "better", "worse" or "unclear" (the interval of the difference holds 0)."""
        if self.diff.low > 0:
            return "better"
        if self.diff.high < 0:
            return "worse"
        return "unclear"

    @property
    def saturated(self) -> bool:
        """Both models find every query's match (or neither finds any): no room to show a difference."""
        return (self.before.low >= 100.0 and self.after.low >= 100.0) or (
            self.before.high <= 0.0 and self.after.high <= 0.0
        )

    @property
    def intervals_overlap(self) -> bool:
        return self.before.low <= self.after.high and self.after.low <= self.before.high

    def warning(self) -> str:
        """One plain sentence when the held-out photos cannot show that the new model is better; "" when
        they do."""
        pct = f"{self.level:.0%}"
        photos = f"{self.n} held-out photo{'s' if self.n != 1 else ''}"
        if self.saturated:
            where = "100 %" if self.before.low >= 100.0 else "0 %"
            return (
                f"Both models score {where} on the {photos}: the test is too easy (or too small) to show "
                "any difference, so there is no evidence that the new model is better."
            )
        if self.verdict == "worse":
            return (
                f"The new model is worse on the {photos}: the {pct} interval of the change, "
                f"{self.diff.low:+.1f} to {self.diff.high:+.1f} points, is below zero."
            )
        if self.verdict == "unclear":
            return (
                f"The {photos} are too few to tell the models apart: the {pct} interval of the change, "
                f"{self.diff.low:+.1f} to {self.diff.high:+.1f} points, includes zero."
            )
        return ""


def hits_at(ranks: Sequence[int] | np.ndarray, k: int = 1) -> np.ndarray:
    """1.0 where a query's first match is among its `k` nearest (0-based rank < k), else 0.0."""
    return (np.asarray(ranks, dtype=np.int64) < k).astype(np.float64)


def resample_means(values: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """`[resamples, columns]`: the column means of `values` (`[n, columns]`) over bootstrap draws of its
    rows. Resample r uses the r-th `rng.integers(0, n, size=n)` draw of a PCG64 generator seeded
    `seed`, the same rows for every column (a paired resample)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    n = len(values)
    if n == 0:
        raise ValueError("a bootstrap needs at least one value")
    rng = np.random.default_rng(seed)
    out = np.empty((resamples, values.shape[1]))
    for start in range(0, resamples, CHUNK):
        stop = min(start + CHUNK, resamples)
        idx = np.stack([rng.integers(0, n, size=n) for _ in range(stop - start)])
        out[start:stop] = values[idx].mean(axis=1)
    return out


def percentile_interval(value: float, draws: np.ndarray, level: float = LEVEL) -> Interval:
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    return Interval(float(value), float(low), float(high))


def compare_recall(
    before_ranks: Sequence[int] | np.ndarray,
    after_ranks: Sequence[int] | np.ndarray,
    *,
    k: int = 1,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = SEED,
) -> RecallComparison:
    """Recall@`k` before and after, each query's 0-based rank of its first match given for both models in
    the same query order (evaluate_model's `info["ranks"]`), with paired bootstrap intervals."""
    before = hits_at(before_ranks, k)
    after = hits_at(after_ranks, k)
    if len(before) != len(after):
        raise ValueError(f"the two models were measured on {len(before)} and {len(after)} queries")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    paired = np.stack([before, after, after - before], axis=1) * 100.0
    draws = resample_means(paired, resamples, seed)
    point = paired.mean(axis=0)
    return RecallComparison(
        k=k,
        n=len(before),
        before=percentile_interval(point[0], draws[:, 0], level),
        after=percentile_interval(point[1], draws[:, 1], level),
        diff=percentile_interval(point[2], draws[:, 2], level),
        level=level,
        resamples=resamples,
    )
