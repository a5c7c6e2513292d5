"""Recall@K for category-level retrieval (SOP, CUB, In-Shop; PAPER.md "Datasets and protocols")."""

from __future__ import annotations

from collections.abc import Iterable

import faiss
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
    """C-contiguous float32 rows scaled to unit length (zero rows stay zero), as FAISS inner product wants."""
    x = np.array(as_numpy(feats), dtype=np.float32, copy=True, order="C")
    if x.ndim != 2:
        raise ValueError(f"features must be [n, d], got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, norms, out=x, where=norms > 0)
    return x


def recall_at_k(
    query_feats: ArrayLike,
    query_labels: ArrayLike,
    ks: Iterable[int],
    gallery_feats: ArrayLike | None = None,
    gallery_labels: ArrayLike | None = None,
    *,
    chunk_size: int = 2048,
) -> dict[int, float]:
    """Fraction of queries with at least one same-label item among their K nearest neighbours.

    Without a gallery, every query searches all the other queries (leave-one-out; the query is removed
    by its index, not by distance, so an exact duplicate of it still counts as a neighbour). With a
    gallery, queries search the gallery only.

    Similarity is the inner product of L2-normalised float32 features (cosine). Ties are broken
    deterministically: among equal scores the lower gallery index ranks first. FAISS returns an
    arbitrary member of a tie at the last place it fetches, so one item more than the K kept is fetched:
    a query whose K-th kept score equals the next candidate's (a tie across the boundary, which may
    continue among unfetched items) is re-ranked exactly against the whole gallery; every other query's
    top K is exact as fetched. K larger than the gallery means "all of it".
    """
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"ks must be positive integers, got {ks}")
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

    k_max = min(ks[-1], n_ref)
    # K to keep, the query itself (leave-one-out) and one candidate beyond the K-th to detect a tie there.
    k_fetch = min(k_max + loo + 1, len(g))
    partial = k_fetch < len(g)
    first_hit = np.full(len(q), np.iinfo(np.int64).max, dtype=np.int64)
    for start in range(0, len(q), chunk_size):
        qc = q[start : start + chunk_size]
        rows = np.arange(start, start + len(qc))
        scores, ids = faiss.knn(qc, g, k_fetch, metric=faiss.METRIC_INNER_PRODUCT)
        is_self = ids == rows[:, None] if loo else np.zeros_like(ids, dtype=bool)
        # Self last, then by descending score, then by ascending gallery index.
        order = np.lexsort((ids, -scores, is_self), axis=-1)
        ranked_ids = np.take_along_axis(ids, order, 1)
        ranked_scores = np.take_along_axis(scores, order, 1)
        hits = g_labels[ranked_ids[:, :k_max]] == q_labels[rows, None]
        first_hit[rows] = np.where(hits.any(1), hits.argmax(1), first_hit[rows])
        if partial:
            # Column k_max is the best candidate not kept, never the query itself: at least k_max + 1
            # fetched items are not the query. Every unfetched item scores <= it, so unless it ties with
            # the K-th kept item, the kept K are exactly the K best. A tie may continue among unfetched
            # items, of which a lower gallery index would rank first: those queries are rescanned.
            for r in np.flatnonzero(ranked_scores[:, k_max - 1] <= ranked_scores[:, k_max]):
                first_hit[rows[r]] = _exact_first_hit(
                    qc[r], g, g_labels, q_labels[rows[r]], rows[r] if loo else -1
                )
    return {k: float(np.mean(first_hit < k)) for k in ks}


def _exact_first_hit(
    qv: np.ndarray, g: np.ndarray, g_labels: np.ndarray, label: object, self_idx: int
) -> int:
    """Rank (0-based) of the best positive under the same tie rule, from a full scan of the gallery."""
    scores = g @ qv
    keep = np.ones(len(g), dtype=bool)
    if self_idx >= 0:
        keep[self_idx] = False
    positives = np.flatnonzero((g_labels == label) & keep)
    if len(positives) == 0:
        return np.iinfo(np.int64).max
    best = positives[np.argmax(scores[positives])]  # argmax takes the lowest index among ties
    ahead = (scores > scores[best]) | ((scores == scores[best]) & (np.arange(len(g)) < best))
    return int(np.count_nonzero(ahead & keep))
