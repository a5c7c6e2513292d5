"""Losses against slow, direct double-loop references (PAPER.md Eq. 1 and KoLeo)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from irt_desktop.retrieval.losses import ContrastiveLoss, CrossBatchMemory, KoLeoLoss


def _ref_contrastive(z, y, idx, mz, my, midx, beta=0.5):
    """Eq. 1 written out pair by pair, float64."""
    n = z.shape[0]
    total = z.new_zeros(())
    for i in range(n):
        refs = [(z[j], int(y[j]), None if idx is None else int(idx[j]), j) for j in range(n)]
        if mz is not None:
            refs += [
                (mz[j].detach(), int(my[j]), None if midx is None else int(midx[j]), None)
                for j in range(mz.shape[0])
            ]
        for zj, yj, ij, bj in refs:
            if bj == i or (idx is not None and ij is not None and ij == int(idx[i])):
                continue
            s = torch.dot(z[i], zj)
            total = total + ((1 - s) if yj == int(y[i]) else torch.clamp(s - beta, min=0))
    return total / n


def _unit(n, d, gen):
    return F.normalize(torch.randn(n, d, generator=gen, dtype=torch.float64), dim=1)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("with_memory", [False, True])
def test_contrastive_matches_pairwise_reference(seed, with_memory):
    gen = torch.Generator().manual_seed(seed)
    n, d = 12, 6
    z = _unit(n, d, gen).requires_grad_()
    y = torch.randint(0, 4, (n,), generator=gen)
    idx = torch.randperm(50, generator=gen)[:n]
    mz = my = midx = None
    if with_memory:
        mz = _unit(20, d, gen)
        my = torch.randint(0, 4, (20,), generator=gen)
        midx = torch.randint(0, 50, (20,), generator=gen)
        midx[:3] = idx[:3]  # own entries present in memory
    loss = ContrastiveLoss(0.5)(z.double(), y, idx, mz, my, midx)
    (g,) = torch.autograd.grad(loss, z)
    z2 = z.detach().clone().requires_grad_()
    ref = _ref_contrastive(z2, y, idx, mz, my, midx)
    (g_ref,) = torch.autograd.grad(ref, z2)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5, abs=1e-6)
    assert torch.allclose(g.double(), g_ref, atol=1e-5)


def test_terms_add_up_and_scale_is_sum_over_pairs():
    # Two identical-class pairs of orthogonal vectors: every positive pair costs exactly 1.
    z = torch.eye(4)
    y = torch.tensor([0, 0, 1, 1])
    t = ContrastiveLoss().terms(z, y)
    assert t.pos.item() == pytest.approx(4 / 4)  # 4 ordered positive pairs, 1/N with N = 4
    assert t.neg.item() == 0.0
    assert t.loss.item() == pytest.approx(t.pos.item() + t.neg.item())


def test_self_pair_excluded_in_batch():
    z = F.normalize(torch.randn(5, 3), dim=1)
    y = torch.arange(5)  # all different: no positives, so only negatives above beta count
    t = ContrastiveLoss(beta=0.5).terms(z, y)
    assert t.pos.item() == 0.0  # z_i.z_i = 1 would have been a positive
    assert t.neg.item() == pytest.approx(_ref_contrastive(z, y, None, None, None, None).item(), abs=1e-6)


def test_own_memory_entry_excluded():
    z = F.normalize(torch.randn(3, 4), dim=1)
    y = torch.tensor([0, 1, 2])
    idx = torch.tensor([10, 11, 12])
    loss = ContrastiveLoss()
    # Memory holds only the batch's own entries, slightly moved (older versions of the same samples).
    mz = F.normalize(z + 0.3 * torch.randn(3, 4), dim=1)
    with_own = loss.terms(z, y, idx, mz, y, idx)
    without = loss.terms(z, y, idx)
    assert with_own.pos.item() == 0.0
    assert with_own.loss.item() == pytest.approx(
        without.loss.item() + _cross_negatives(z, y, mz, y), abs=1e-6
    )
    # Without indices, the same memory would count each own entry as a positive.
    assert loss.terms(z, y, None, mz, y).pos.item() > 0


def _cross_negatives(z, y, mz, my, beta=0.5):
    s = z @ mz.T
    diff = y[:, None] != my[None, :]
    return (torch.clamp(s - beta, min=0) * diff).sum().item() / z.shape[0]


def test_same_index_twice_in_batch_is_not_a_pair():
    z = F.normalize(torch.randn(3, 4), dim=1)
    y = torch.tensor([0, 0, 1])
    t = ContrastiveLoss().terms(z, y, torch.tensor([7, 7, 8]))
    assert t.pos.item() == 0.0


def test_sample_without_positive_and_all_same_class():
    z = F.normalize(torch.randn(6, 5, dtype=torch.float64), dim=1)
    y = torch.tensor([0, 0, 0, 1, 1, 2])  # sample 5 has no positive
    ref = _ref_contrastive(z, y, None, None, None, None)
    assert ContrastiveLoss()(z, y).item() == pytest.approx(ref.item(), rel=1e-6)
    same = torch.zeros(6, dtype=torch.long)
    t = ContrastiveLoss().terms(z, same)
    assert t.neg.item() == 0.0
    expected = (6 * 5 - ((z @ z.T).sum() - 6)) / 6  # sum over i != j of (1 - s_ij), / N
    assert t.pos.item() == pytest.approx(expected.item(), rel=1e-5)


def test_contrastive_argument_checks_and_empty_memory():
    z, y = F.normalize(torch.randn(4, 3), dim=1), torch.tensor([0, 0, 1, 1])
    loss = ContrastiveLoss()
    with pytest.raises(ValueError):
        loss(z, y, None, z, y, torch.arange(4))
    with pytest.raises(ValueError):
        loss(z, y, None, z)
    empty = torch.zeros(0, 3)
    assert loss(z, y, torch.arange(4), empty, torch.zeros(0, dtype=torch.long), torch.zeros(0)).item() == (
        pytest.approx(loss(z, y).item())
    )


def _ref_koleo(z, eps=1e-8):
    n = z.shape[0]
    total = z.new_zeros(())
    for i in range(n):
        rho = min(torch.linalg.vector_norm(z[i] - z[j]) for j in range(n) if j != i)
        total = total + torch.log(rho + eps)
    return -total / n


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_koleo_matches_brute_force(seed):
    gen = torch.Generator().manual_seed(seed)
    z = _unit(10, 4, gen).requires_grad_()
    loss = KoLeoLoss()(z)
    (g,) = torch.autograd.grad(loss, z)
    z2 = z.detach().clone().requires_grad_()
    ref = _ref_koleo(z2)
    (g_ref,) = torch.autograd.grad(ref, z2)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    # KoLeo normalises internally: compare gradients in the tangent space of the sphere.
    tangent = g_ref - (g_ref * z2).sum(1, keepdim=True) * z2
    assert torch.allclose(g.double(), tangent, atol=1e-4)


def test_koleo_duplicates_are_finite():
    z = F.normalize(torch.randn(4, 3), dim=1)
    z = torch.cat([z, z[:1]]).requires_grad_()
    loss = KoLeoLoss(eps=1e-8)(z)
    assert math.isfinite(loss.item())
    assert loss.item() > 0  # two terms at -log(1e-8) dominate
    loss.backward()
    assert torch.isfinite(z.grad).all()
    assert KoLeoLoss()(torch.randn(1, 3)).item() == 0.0


def _ref_koleo_by_index(z, idx, eps=1e-8):
    """rho_i over the samples with another dataset index: two views of one image are not neighbours."""
    n = z.shape[0]
    logs = []
    for i in range(n):
        others = [j for j in range(n) if int(idx[j]) != int(idx[i])]
        if others:
            logs.append(torch.log(min(torch.linalg.vector_norm(z[i] - z[j]) for j in others) + eps))
    return -torch.stack(logs).mean()


def test_koleo_ignores_the_twin_view_of_the_same_image():
    gen = torch.Generator().manual_seed(4)
    z = _unit(8, 5, gen)
    # Rows 6 and 7 are second augmentations of images 0 and 2: close to them, as augmentation
    # invariance wants, and each other's nearest neighbour if the index is ignored.
    twins = F.normalize(z[[0, 2]] + 0.01 * torch.randn(2, 5, generator=gen, dtype=torch.float64), dim=1)
    batch = torch.cat([z[:6], twins]).requires_grad_()
    idx = torch.tensor([10, 11, 12, 13, 14, 15, 10, 12])
    got = KoLeoLoss()(batch, idx)
    ref = _ref_koleo_by_index(batch.detach(), idx)
    assert got.item() == pytest.approx(ref.item(), rel=1e-6)
    # The same as the batch without the twin pairs: rho of each twin is measured to the other images.
    assert got.item() != pytest.approx(KoLeoLoss()(batch).item(), rel=1e-3)
    (g,) = torch.autograd.grad(got, batch)
    assert torch.isfinite(g).all()
    # Distinct indices: exactly the unmasked loss; a batch of one image only: a zero in the graph.
    assert KoLeoLoss()(z, torch.arange(8)).item() == pytest.approx(KoLeoLoss()(z).item(), rel=1e-12)
    same = KoLeoLoss()(batch, torch.zeros(8, dtype=torch.long))
    assert same.item() == 0.0 and same.requires_grad


def test_objective_passes_indices_to_koleo():
    from irt_desktop.retrieval.training.objective import IRTObjective

    z = F.normalize(torch.randn(4, 3, generator=torch.Generator().manual_seed(1)), dim=1)
    z = torch.cat([z, z[:1] + 1e-4])  # a second view of image 0
    y, idx = torch.tensor([0, 0, 1, 1, 0]), torch.tensor([0, 1, 2, 3, 0])
    terms = IRTObjective(koleo_weight=0.7)(z, y, idx)
    assert terms.koleo.item() == pytest.approx(KoLeoLoss()(z, idx).item())


def test_memory_fifo_wraps_around():
    mem = CrossBatchMemory(size=5, dim=2)
    assert len(mem) == 0 and mem.get()[0].shape == (0, 2)
    mem.enqueue(torch.ones(3, 2), torch.tensor([0, 1, 2]), torch.tensor([0, 1, 2]))
    assert len(mem) == 3
    mem.enqueue(2 * torch.ones(4, 2), torch.tensor([3, 4, 5, 6]), torch.tensor([3, 4, 5, 6]))
    _, y, idx = mem.get()
    assert len(mem) == 5 and sorted(idx.tolist()) == [2, 3, 4, 5, 6]  # 0 and 1 were the oldest
    assert torch.equal(y, idx)
    # A batch larger than the whole memory keeps its newest entries.
    mem.enqueue(torch.zeros(7, 2), torch.arange(7), torch.arange(100, 107))
    assert sorted(mem.get()[2].tolist()) == [102, 103, 104, 105, 106]


def test_memory_state_round_trip_and_detach():
    mem = CrossBatchMemory(size=6, dim=3)
    z = torch.randn(4, 3, requires_grad=True)
    mem.enqueue(z * 2, torch.arange(4), torch.arange(4))
    assert not mem.get()[0].requires_grad
    state = {k: v.clone() for k, v in mem.state_dict().items()}
    other = CrossBatchMemory(size=6, dim=3)
    other.load_state_dict(state)
    for a, b in zip(mem.get(), other.get(), strict=True):
        assert torch.equal(a, b)
    # The resumed queue continues where the saved one stopped.
    for m in (mem, other):
        m.enqueue(torch.ones(3, 3), torch.arange(3), torch.arange(10, 13))
    assert torch.equal(mem.get()[2], other.get()[2]) and int(other.ptr) == 1
    with pytest.raises(ValueError):
        mem.enqueue(torch.ones(2, 4), torch.arange(2), torch.arange(2))


def test_losses_stay_float32_under_autocast():
    gen = torch.Generator().manual_seed(5)
    z = F.normalize(torch.randn(16, 32, generator=gen), dim=1)
    y = torch.randint(0, 4, (16,), generator=gen)
    mz = F.normalize(torch.randn(40, 32, generator=gen), dim=1)
    my = torch.randint(0, 4, (40,), generator=gen)
    expected = ContrastiveLoss()(z, y, ref_z=mz, ref_y=my).item(), KoLeoLoss()(z).item()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = ContrastiveLoss()(z, y, ref_z=mz, ref_y=my).item(), KoLeoLoss()(z).item()
    assert got == pytest.approx(expected, rel=1e-6)
