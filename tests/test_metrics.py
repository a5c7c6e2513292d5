"""Recall@K and the revisited mAP protocol against straightforward loop implementations."""

from __future__ import annotations

import numpy as np
import pytest

from irt_desktop.retrieval.metrics import compute_map, evaluate_revisited, rank_database, recall_at_k


def _ref_recall(q, ql, ks, g=None, gl=None):
    loo = g is None
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-30)
    if loo:
        g, gl = q, ql
    else:
        g = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-30)
    out = {}
    for k in ks:
        hits = 0
        for i in range(len(q)):
            cand = [(-float(np.dot(q[i], g[j])), j) for j in range(len(g)) if not (loo and j == i)]
            cand.sort()  # descending score, then ascending index
            if any(gl[j] == ql[i] for _, j in cand[:k]):
                hits += 1
        out[k] = hits / len(q)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recall_leave_one_out_matches_reference(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, 8)).astype(np.float32)
    y = rng.integers(0, 12, size=60)
    ks = [1, 2, 4, 8, 100]
    got = recall_at_k(x, y, ks, chunk_size=16)
    assert got == pytest.approx(_ref_recall(x, y, ks))
    assert all(0.0 <= v <= 1.0 for v in got.values())


@pytest.mark.parametrize("seed", [0, 1])
def test_recall_query_to_gallery_matches_reference(seed):
    rng = np.random.default_rng(seed)
    q, g = rng.normal(size=(30, 6)), rng.normal(size=(45, 6))
    ql, gl = rng.integers(0, 10, size=30), rng.integers(0, 10, size=45)
    ks = [1, 10, 20, 30]
    assert recall_at_k(q, ql, ks, g, gl, chunk_size=7) == pytest.approx(_ref_recall(q, ql, ks, g, gl))


def test_recall_ties_break_by_gallery_index():
    # Axis-aligned vectors: scores are exactly 1 or 0, so there are large exact ties.
    e = np.eye(4, dtype=np.float32)
    g = np.stack([e[0], e[0], e[0], e[1], e[0]])
    gl = np.array([5, 6, 7, 8, 1])  # the only positive of the query is the last of 4 tied items
    q, ql = e[:1], np.array([1])
    assert recall_at_k(q, ql, [1, 3, 4, 5], g, gl) == {1: 0.0, 3: 0.0, 4: 1.0, 5: 1.0}
    assert recall_at_k(q, ql, [1, 3, 4], g, gl) == _ref_recall(q, ql, [1, 3, 4], g, gl)
    # Many ties around the K-th place, in leave-one-out, against the reference.
    rng = np.random.default_rng(3)
    x = np.eye(3, dtype=np.float32)[rng.integers(0, 3, size=40)]
    y = rng.integers(0, 6, size=40)
    ks = [1, 2, 5, 10]
    assert recall_at_k(x, y, ks, chunk_size=9) == pytest.approx(_ref_recall(x, y, ks))


def test_recall_duplicates_count_and_self_is_excluded_by_index():
    x = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    # Items 0 and 1 are exact duplicates of the same class: each other's nearest neighbour.
    assert recall_at_k(x, np.array([0, 0, 1]), [1]) == {1: pytest.approx(2 / 3)}
    # With a different label the duplicate is a miss, and the query never finds itself.
    assert recall_at_k(x, np.array([0, 1, 2]), [1, 2]) == {1: 0.0, 2: 0.0}


def test_recall_k_larger_than_gallery():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 4))
    y = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 5])  # the last two have no positive at all
    got = recall_at_k(x, y, [1, 9, 1000])
    assert got[9] == got[1000] == pytest.approx(0.8)
    assert got == pytest.approx(_ref_recall(x, y, [1, 9, 1000]))
    assert recall_at_k(x[:2], [0, 7], [5], x[2:5], [0, 9, 9]) == {5: 0.5}


@pytest.mark.parametrize("loo", [True, False])
def test_recall_on_continuous_features_matches_reference(loo):
    rng = np.random.default_rng(11)
    q, g = rng.normal(size=(50, 8)).astype(np.float32), rng.normal(size=(70, 8)).astype(np.float32)
    ql, gl = rng.integers(0, 9, size=50), rng.integers(0, 9, size=70)
    ks = [1, 2, 4, 8]
    if loo:
        got, ref = recall_at_k(q, ql, ks, chunk_size=16), _ref_recall(q, ql, ks)
    else:
        got, ref = recall_at_k(q, ql, ks, g, gl, chunk_size=16), _ref_recall(q, ql, ks, g, gl)
    assert got == pytest.approx(ref)


def test_recall_ties_at_the_k_th_place():
    e = np.eye(4, dtype=np.float32)
    rng = np.random.default_rng(2)
    # Gallery: three exact copies of e0 (a tie at score 1 for query 0), then random items below them.
    g = np.concatenate([np.stack([e[0]] * 3), 0.3 * e[0] + rng.normal(size=(20, 4)).astype(np.float32)])
    gl = np.array([5, 6, 1, *range(10, 30)])
    q = np.stack([e[0], e[1] + 0.05 * e[2]])  # query 0 meets the tie at K = 2; query 1 does not
    ql = np.array([1, 99])
    assert recall_at_k(q, ql, [1, 2], g, gl) == _ref_recall(q, ql, [1, 2], g, gl) == {1: 0.0, 2: 0.0}
    got = recall_at_k(q, ql, [3, 4], g, gl)
    assert got == pytest.approx(_ref_recall(q, ql, [3, 4], g, gl)) and got[3] == 0.5


def test_recall_rejects_bad_input():
    x = np.zeros((3, 2))
    with pytest.raises(ValueError):
        recall_at_k(x, [0, 1, 2], [0])
    with pytest.raises(ValueError):
        recall_at_k(x, [0, 1], [1])
    with pytest.raises(ValueError):
        recall_at_k(x[:1], [0], [1])  # leave-one-out with one item: nothing to search


# --- revisited protocol ---------------------------------------------------------------------------


def _ref_map(ranks, gnd, kappas):
    """Per query, straight from the definitions with explicit lists."""
    aps, prs = [], []
    for q, g in enumerate(gnd):
        ok, junk = list(g["ok"]), list(g.get("junk", []))
        if not ok:
            continue
        ranking = [int(d) for d in ranks[:, q] if int(d) not in junk]  # junk removed from the list
        positions = [r for r, d in enumerate(ranking) if d in ok]
        ap = 0.0
        for j, r in enumerate(positions):
            before = 1.0 if r == 0 else j / r
            at = (j + 1) / (r + 1)
            ap += (before + at) / 2 / len(ok)
        aps.append(ap)
        last = positions[-1] + 1
        row = []
        for k in kappas:
            kq = min(last, k)
            row.append(sum(1 for d in ranking[:kq] if d in ok) / kq)
        prs.append(row)
    return float(np.mean(aps)), np.mean(np.array(prs), axis=0)


def test_map_hand_computed():
    ranks = np.array([[3, 0, 5, 1, 2, 4], [0, 1, 2, 3, 4, 5]]).T
    gnd = [{"ok": [0, 1], "junk": [5]}, {"ok": [], "junk": [0]}]  # the second query is skipped
    res = compute_map(ranks, gnd)
    assert res.map == pytest.approx(5 / 12)
    assert res.pr == pytest.approx([0.0, 2 / 3, 2 / 3])
    assert np.isnan(res.aps[1]) and res.aps[0] == pytest.approx(5 / 12)


def test_evaluate_revisited_hand_computed():
    ranks = np.array([[2, 0, 4, 1, 3]]).T
    gnd = [{"easy": np.array([0]), "hard": [1], "junk": [3], "bbx": [0, 0, 1, 1]}]
    out = evaluate_revisited(ranks, gnd)
    assert out["easy"] == pytest.approx({"mAP": 0.25, "mP@1": 0.0, "mP@5": 0.5, "mP@10": 0.5})
    assert out["medium"] == pytest.approx({"mAP": 1 / 3, "mP@1": 0.0, "mP@5": 0.5, "mP@10": 0.5})
    assert out["hard"] == pytest.approx({"mAP": 1 / 6, "mP@1": 0.0, "mP@5": 1 / 3, "mP@10": 1 / 3})


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_map_matches_reference_on_random_rankings(seed):
    rng = np.random.default_rng(seed)
    n_db, nq = 80, 7
    ranks = np.stack([rng.permutation(n_db) for _ in range(nq)], axis=1)
    gnd = []
    for _ in range(nq):
        parts = np.split(rng.permutation(n_db), [rng.integers(0, 6), 12, 20])
        gnd.append({"easy": parts[0], "hard": parts[1][: rng.integers(0, 5)], "junk": parts[2]})
    out = evaluate_revisited(ranks, gnd, kappas=(1, 5, 10))
    for protocol, (ok, junk) in {
        "easy": (("easy",), ("junk", "hard")),
        "medium": (("easy", "hard"), ("junk",)),
        "hard": (("hard",), ("junk", "easy")),
    }.items():
        ref_gnd = [
            {"ok": [int(i) for k in ok for i in g[k]], "junk": [int(i) for k in junk for i in g[k]]}
            for g in gnd
        ]
        ref_map, ref_pr = _ref_map(ranks, ref_gnd, (1, 5, 10))
        assert out[protocol]["mAP"] == pytest.approx(ref_map)
        assert [out[protocol][f"mP@{k}"] for k in (1, 5, 10)] == pytest.approx(ref_pr)


def test_map_rejects_wrong_orientation_and_all_empty():
    with pytest.raises(ValueError, match="n_db"):
        compute_map(np.zeros((2, 5), dtype=int), [{"ok": [0]}])
    assert np.isnan(compute_map(np.zeros((3, 1), dtype=int), [{"ok": []}]).map)


def test_rank_database_orientation_and_ties():
    db = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.7, 0.7]])
    q = np.array([[1.0, 0.0], [0.0, 2.0]])
    ranks = rank_database(db, q)
    assert ranks.shape == (4, 2)
    assert ranks[:, 0].tolist() == [0, 2, 3, 1]  # tie 0/2 broken by index
    assert ranks[:, 1].tolist() == [1, 3, 0, 2]


def test_recall_accepts_torch_tensors():
    import torch

    x = torch.randn(20, 5, dtype=torch.bfloat16)
    y = torch.arange(20) % 4
    assert recall_at_k(x, y, [1, 5]) == recall_at_k(x.float().numpy(), y.numpy(), [1, 5])


def _duplicate_reference(distinct: np.ndarray, which: np.ndarray, labels: np.ndarray, ks) -> dict:
    """Leave-one-out Recall@K where every item is a copy of one of `distinct` (well separated in score):
    copies tie exactly, and among them the lower index ranks first."""
    s = distinct.astype(np.float64) @ distinct.astype(np.float64).T
    n = len(which)
    first = np.full(n, np.iinfo(np.int64).max)
    for i in range(n):
        sc = s[which[i], which]
        keep = np.ones(n, dtype=bool)
        keep[i] = False
        pos = np.flatnonzero((labels == labels[i]) & keep)
        if len(pos):
            best = pos[np.argmax(sc[pos])]
            ahead = (sc > sc[best]) | ((sc == sc[best]) & (np.arange(n) < best))
            first[i] = np.count_nonzero(ahead & keep)
    return {k: float(np.mean(first < k)) for k in ks}


@pytest.mark.parametrize("seed", [0, 1, 4])
def test_recall_duplicate_heavy_ties_follow_the_index_rule(seed):
    # 40 distinct 384-d vectors, each copied ~37 times, 1,503 items (not a multiple of 4: numpy's gemv
    # scores the last rows with another kernel, a few 1e-8 off their bit-identical copies). Every query
    # ties at its K-th place, so each one takes the exact re-rank path.
    rng = np.random.default_rng(seed)
    distinct = rng.normal(size=(40, 384)).astype(np.float32)
    distinct /= np.linalg.norm(distinct, axis=1, keepdims=True)
    which = rng.integers(0, 40, 1503)
    labels = rng.integers(0, 60, 1503)
    ks = (1, 2, 4, 8, 16, 27, 32)
    assert recall_at_k(distinct[which], labels, ks) == _duplicate_reference(distinct, which, labels, ks)
