"""Recall@K for category-level retrieval (SOP, CUB, In-Shop; PAPER.md "Datasets and protocols")."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike


def as_numpy(x: ArrayLike) -> np.ndarray:
    """numpy view of an array-like; torch tensors on any device or dtype (bf16 included) are accepted."""
    if hasattr(x, "detach"):  # a torch.Tensor, without making the metrics import torch
        x = x.detach().cpu()
        x = x.float() if x.is_floating_point() else x
        return x.numpy()
    return np.asarray(x)


def unit_float32(feats: ArrayLike) -> np.ndarray:
    """C-contiguous float32 rows scaled to unit length (zero rows stay zero), for inner-product search."""
    x = np.array(as_numpy(feats), dtype=np.float32, copy=True, order="C")
    if x.ndim != 2:
        raise ValueError(f"features must be [n, d], got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, norms, out=x, where=norms > 0)
    return x


def unique_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct rows, inverse): `distinct[inverse] == x`, rows compared bit for bit.

    Scores are computed once per distinct row and shared by its copies. A BLAS product does not give
    bit-identical rows bit-identical scores (which kernel computes a row depends on its position: edge
    tiles, the tail of a gemv), so without this two copies of one image would differ by a few 1e-8 and
    their tie would be broken by position instead of by the documented rule.
    """
    x = np.ascontiguousarray(x)
    if len(x) == 0:
        return x, np.zeros(0, dtype=np.int64)
    keys = x.view(np.dtype((np.void, x.dtype.itemsize * x.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    if len(first) == len(x):
        return x, np.arange(len(x))
    return x[first], inverse.ravel()


def similarity(
    q: np.ndarray, g: np.ndarray, g_unique: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """`[len(q), len(g)]` float32 inner products, identical gallery rows scoring identically."""
    distinct, inverse = g_unique if g_unique is not None else unique_rows(g)
    scores = q @ distinct.T
    return scores if len(distinct) == len(g) else scores[:, inverse]


def recall_at_k(
    query_feats: ArrayLike,
    query_labels: ArrayLike,
    ks: Iterable[int],
    gallery_feats: ArrayLike | None = None,
    gallery_labels: ArrayLike | None = None,
    *,
    chunk_size: int = 256,
) -> dict[int, float]:
    """Fraction of queries with at least one same-label item among their K nearest neighbours.

    Without a gallery, every query searches all the other queries (leave-one-out; the query is removed
    by its index, not by distance, so an exact duplicate of it still counts as a neighbour). With a
    gallery, queries search the gallery only.

    Similarity is the inner product of L2-normalised float32 features (cosine). Ties follow one rule on
    every query: among equal scores the lower gallery index ranks first. The rule needs scores that are
    equal when the vectors are: each query's scores against the whole gallery come from one matrix
    product over the distinct gallery rows (see `unique_rows`), and a query's rank of its best positive
    is counted exactly from that one row of scores (no top-K fetch, no second scoring path that could
    round differently). K larger than the gallery means "all of it".
    """
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"ks must be positive integers, got {ks}")  # before the features are searched
    ranks = first_hit_ranks(query_feats, query_labels, gallery_feats, gallery_labels, chunk_size=chunk_size)
    return recall_from_ranks(ranks, ks)


def recall_from_ranks(ranks: np.ndarray, ks: Iterable[int]) -> dict[int, float]:
    """Recall@K from each query's 0-based rank of its first match (first_hit_ranks)."""
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"ks must be positive integers, got {ks}")
    ranks = np.asarray(ranks)
    return {k: float(np.mean(ranks < k)) for k in ks}


def first_hit_ranks(
    query_feats: ArrayLike,
    query_labels: ArrayLike,
    gallery_feats: ArrayLike | None = None,
    gallery_labels: ArrayLike | None = None,
    *,
    chunk_size: int = 256,
) -> np.ndarray:
    """Per query, the 0-based rank of its best same-label item (int64 max when it has none), under
    the rules of recall_at_k: what Recall@K counts, kept per query for a bootstrap over the queries."""
    q = unit_float32(query_feats)
    q_labels = as_numpy(query_labels).ravel()
    loo = gallery_feats is None
    g = q if loo else unit_float32(gallery_feats)
    g_labels = q_labels if loo else as_numpy(gallery_labels).ravel()
    if len(q_labels) != len(q) or len(g_labels) != len(g):
        raise ValueError("features and labels differ in length")
    if g.shape[1] != q.shape[1]:
        raise ValueError(f"query dim {q.shape[1]} != gallery dim {g.shape[1]}")
    n_ref = len(g) - loo
    if len(q) == 0 or n_ref < 1:
        raise ValueError("recall needs at least one query and one item to search")

    g_unique = unique_rows(g)
    first_hit = np.empty(len(q), dtype=np.int64)
    for start in range(0, len(q), chunk_size):
        rows = np.arange(start, min(start + chunk_size, len(q)))
        first_hit[rows] = _first_hits(q[rows], q_labels[rows], g, g_labels, g_unique, rows if loo else None)
    return first_hit


def _first_hits(
    qc: np.ndarray,
    labels: np.ndarray,
    g: np.ndarray,
    g_labels: np.ndarray,
    g_unique: tuple[np.ndarray, np.ndarray],
    self_rows: np.ndarray | None,
) -> np.ndarray:
    """0-based rank of each query's best positive (int64 max when it has none): the number of other
    items scoring above it, or equal to it with a lower index."""
    scores = similarity(qc, g, g_unique)
    keep = np.ones(scores.shape, dtype=bool)
    if self_rows is not None:
        keep[np.arange(len(qc)), self_rows] = False
    positive = (g_labels[None, :] == labels[:, None]) & keep
    has_positive = positive.any(axis=1)
    masked = np.where(positive, scores, -np.inf)
    best_score = masked.max(axis=1, keepdims=True)
    best = np.argmax(positive & (masked == best_score), axis=1)  # the lowest index among tied positives
    index = np.arange(scores.shape[1])[None, :]
    ahead = (scores > best_score) | ((scores == best_score) & (index < best[:, None]))
    ranks = np.count_nonzero(ahead & keep, axis=1)
    return np.where(has_positive, ranks, np.iinfo(np.int64).max)
