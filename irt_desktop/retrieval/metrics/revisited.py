"""Revisited Oxford/Paris protocol (Radenovic et al. 2018): mAP and mP@k, Easy / Medium / Hard.

A vectorised transcription of the reference `compute_map` / `evaluate` of the revisitop code. Results
are fractions in [0, 1] (the reference prints percentages). `ranks` is `[n_db, n_queries]`: column q
lists database indices from most to least similar to query q, as in the reference code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from irt_desktop.retrieval.metrics.recall import similarity, unit_float32

PROTOCOLS = ("easy", "medium", "hard")


class MapResult(NamedTuple):
    """Mean AP and mean precision at each kappa over the queries that have positives; per-query arrays
    hold NaN for the skipped ones."""

    map: float
    aps: np.ndarray
    pr: np.ndarray
    prs: np.ndarray


def compute_map(
    ranks: npt.ArrayLike, gnd: Sequence[Mapping[str, npt.ArrayLike]], kappas: Sequence[int] = (1, 5, 10)
) -> MapResult:
    """mAP and mP@kappa; `gnd[q]` has `ok` (positives) and optionally `junk` database indices.

    Junk images are taken out of the ranking (each positive moves up by the junk ranked above it); AP
    is the trapezoid rule over the positives with recall step 1/len(ok); queries without positives are
    skipped; mP@k divides by min(position of the last positive, k). A query whose positives are all
    absent from a truncated ranking gets AP 0 and precision 0.
    """
    ranks = np.asarray(ranks)
    if ranks.ndim != 2 or ranks.shape[1] != len(gnd):
        raise ValueError(f"ranks must be [n_db, n_queries={len(gnd)}], got shape {ranks.shape}")
    nq = len(gnd)
    aps = np.full(nq, np.nan)
    prs = np.full((nq, len(kappas)), np.nan)
    for q in range(nq):
        ok = np.asarray(gnd[q]["ok"], dtype=np.int64).ravel()
        if ok.size == 0:
            continue
        junk = np.asarray(gnd[q].get("junk", ()), dtype=np.int64).ravel()
        pos = np.flatnonzero(np.isin(ranks[:, q], ok))
        junk_pos = np.flatnonzero(np.isin(ranks[:, q], junk))
        pos = pos - np.searchsorted(junk_pos, pos)
        j = np.arange(len(pos))
        prec_before = np.divide(j, pos, out=np.ones(len(pos)), where=pos > 0)
        prec_at = (j + 1) / (pos + 1)
        aps[q] = np.sum(prec_before + prec_at) / 2 / len(ok)
        if len(pos) == 0:
            prs[q] = 0.0
            continue
        one_based = pos + 1
        for c, kappa in enumerate(kappas):
            kq = min(one_based.max(), kappa)
            prs[q, c] = np.count_nonzero(one_based <= kq) / kq
    valid = ~np.isnan(aps)
    if not valid.any():
        return MapResult(float("nan"), aps, np.full(len(kappas), np.nan), prs)
    return MapResult(float(aps[valid].mean()), aps, prs[valid].mean(0), prs)


def protocol_gnd(gnd: Sequence[Mapping[str, npt.ArrayLike]], protocol: str) -> list[dict[str, np.ndarray]]:
    """Positives/junk per query: easy (ok easy, junk junk+hard), medium (ok easy+hard, junk junk),
    hard (ok hard, junk junk+easy)."""

    def cat(g: Mapping[str, npt.ArrayLike], *keys: str) -> np.ndarray:
        return np.concatenate([np.asarray(g.get(k, ()), dtype=np.int64).ravel() for k in keys])

    split = {
        "easy": (("easy",), ("junk", "hard")),
        "medium": (("easy", "hard"), ("junk",)),
        "hard": (("hard",), ("junk", "easy")),
    }
    if protocol not in split:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    ok_keys, junk_keys = split[protocol]
    return [{"ok": cat(g, *ok_keys), "junk": cat(g, *junk_keys)} for g in gnd]


def evaluate_revisited(
    ranks: npt.ArrayLike, gnd: Sequence[Mapping[str, npt.ArrayLike]], kappas: Sequence[int] = (1, 5, 10)
) -> dict[str, dict[str, float]]:
    """`{"easy"|"medium"|"hard": {"mAP": .., "mP@1": .., ...}}`, fractions; gnd as in `gnd_*.pkl`."""
    out = {}
    for protocol in PROTOCOLS:
        res = compute_map(ranks, protocol_gnd(gnd, protocol), kappas)
        out[protocol] = {"mAP": res.map, **{f"mP@{k}": float(p) for k, p in zip(kappas, res.pr, strict=True)}}
    return out


def rank_database(db_feats: npt.ArrayLike, query_feats: npt.ArrayLike) -> np.ndarray:
    """`[n_db, n_queries]` ranking by cosine similarity, ties by ascending database index (identical
    database descriptors score identically: `recall.unique_rows`)."""
    scores = similarity(unit_float32(query_feats), unit_float32(db_feats)).T
    return np.argsort(-scores, axis=0, kind="stable")
