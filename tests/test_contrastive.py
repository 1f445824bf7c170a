"""NT-Xent, MoCo's InfoNCE and BYOL's regression loss against float64 loops written from
the papers' equations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from infomax.losses.contrastive import byol_regression, moco_infonce, nt_xent


def _unit(v):
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


def _dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def ref_nt_xent(z1, z2, t):
    """SimCLR Eq. 1: l(i, j) = -log exp(s_ij / t) / sum_{k != i} exp(s_ik / t) over the 2N
    views (view 1 of image n at 2n, view 2 at 2n + 1), L = mean over all 2N anchors."""
    views = []
    for a, b in zip(z1.tolist(), z2.tolist()):
        views += [_unit(a), _unit(b)]
    n2 = len(views)
    total = 0.0
    for i in range(n2):
        j = i + 1 if i % 2 == 0 else i - 1
        denom = sum(math.exp(_dot(views[i], views[k]) / t) for k in range(n2) if k != i)
        total += -math.log(math.exp(_dot(views[i], views[j]) / t) / denom)
    return total / n2


def ref_moco(q, k, queue, t):
    """MoCo Eq. 1: -log exp(q.k+ / t) / (exp(q.k+ / t) + sum_i exp(q.k_i / t)), mean."""
    total = 0.0
    for qi, ki in zip(q.tolist(), k.tolist()):
        qi, ki = _unit(qi), _unit(ki)
        pos = math.exp(_dot(qi, ki) / t)
        neg = sum(math.exp(_dot(qi, kj) / t) for kj in queue.tolist())
        total += -math.log(pos / (pos + neg))
    return total / len(q)


def ref_byol(p, z):
    """BYOL Eq. 2: || p/|p| - z/|z| ||^2, mean over the batch."""
    total = 0.0
    for pi, zi in zip(p.tolist(), z.tolist()):
        pi, zi = _unit(pi), _unit(zi)
        total += sum((a - b) ** 2 for a, b in zip(pi, zi))
    return total / len(p)


def _randn(*shape, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64) * scale


@pytest.mark.parametrize("t", [0.5, 0.1, 0.05])
def test_nt_xent_matches_reference(t):
    z1, z2 = _randn(6, 5, seed=1, scale=3), _randn(6, 5, seed=2, scale=3)
    ref = ref_nt_xent(z1, z2, t)
    assert nt_xent(z1, z2, t).item() == pytest.approx(ref, rel=1e-12)
    assert nt_xent(z1.float(), z2.float(), t).item() == pytest.approx(ref, rel=1e-5)


def test_nt_xent_with_gathered_targets_and_offset_averages_to_the_global_loss():
    z1, z2 = _randn(8, 4, seed=3), _randn(8, 4, seed=4)
    full = nt_xent(z1, z2, 0.2)
    halves = [nt_xent(z1[s], z2[s], 0.2, targets=(z1, z2), pos_offset=s.start)
              for s in (slice(0, 4), slice(4, 8))]
    assert (0.5 * (halves[0] + halves[1])).item() == pytest.approx(full.item(), rel=1e-12)
    with pytest.raises(ValueError):
        nt_xent(z1[:4], z2[:4], 0.2, targets=(z1, z2), pos_offset=5)


def test_nt_xent_gradient_matches_float64_autograd_of_the_reference_form():
    z1 = _randn(5, 3, seed=5).requires_grad_()
    z2 = _randn(5, 3, seed=6).requires_grad_()
    nt_xent(z1, z2, 0.3).backward()
    # The same loss written the plain way, element by element, in autograd.
    a1 = z1.detach().clone().requires_grad_()
    a2 = z2.detach().clone().requires_grad_()
    v = torch.stack([x for pair in zip(a1, a2) for x in pair])
    v = v / v.norm(dim=1, keepdim=True)
    terms = []
    for i in range(10):
        j = i ^ 1
        s = torch.stack([v[i] @ v[k] / 0.3 for k in range(10) if k != i])
        terms.append(-(v[i] @ v[j] / 0.3 - torch.log(torch.exp(s).sum())))
    torch.stack(terms).mean().backward()
    torch.testing.assert_close(z1.grad, a1.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(z2.grad, a2.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("t", [0.07, 0.2, 1.0])
def test_moco_infonce_matches_reference(t):
    q, k = _randn(5, 6, seed=7, scale=2), _randn(5, 6, seed=8, scale=2)
    queue = _randn(11, 6, seed=9)
    queue = queue / queue.norm(dim=1, keepdim=True)
    ref = ref_moco(q, k, queue, t)
    assert moco_infonce(q, k, queue, t).item() == pytest.approx(ref, rel=1e-12)
    assert moco_infonce(q.float(), k.float(), queue.float(), t).item() == pytest.approx(
        ref, rel=1e-5)
    # Equal to cross-entropy with the positive at index 0, as the public code computes it.
    qn, kn = q / q.norm(dim=1, keepdim=True), k / k.norm(dim=1, keepdim=True)
    logits = torch.cat([(qn * kn).sum(1, keepdim=True), qn @ queue.T], 1) / t
    ce = torch.nn.functional.cross_entropy(logits, torch.zeros(5, dtype=torch.long))
    assert moco_infonce(q, k, queue, t).item() == pytest.approx(ce.item(), rel=1e-12)


def test_byol_regression_matches_reference_and_its_range():
    p, z = _randn(7, 4, seed=10, scale=5), _randn(7, 4, seed=11)
    ref = ref_byol(p, z)
    assert byol_regression(p, z).item() == pytest.approx(ref, rel=1e-12)
    assert byol_regression(p.float(), z.float()).item() == pytest.approx(ref, rel=1e-5)
    assert byol_regression(p, 3 * p).item() == pytest.approx(0.0, abs=1e-12)
    assert byol_regression(p, -p).item() == pytest.approx(4.0, rel=1e-12)


def test_losses_are_float32_under_half_inputs():
    z = _randn(4, 8, seed=12).to(torch.bfloat16)
    for loss in (nt_xent(z, z.flip(0), 0.5), moco_infonce(z, z.flip(0), z.float(), 0.2),
                 byol_regression(z, z.flip(0))):
        assert loss.dtype == torch.float32 and np.isfinite(loss.item())
