"""AMDIM NCE costs against float64 references written straight from the spec (Sec. 3)."""

import math

import numpy as np
import pytest
import torch

from infomax.losses import amdim_multiscale_loss, amdim_pair_nce, clipped_cross_entropy
from infomax.nn.amdim import EncoderOutput


def reference_scores(src, trg):
    """s[b, c, l] = <src_b, trg_{c, l}> / sqrt(D), by loops in float64 numpy."""
    src = np.asarray(src, dtype=np.float64)
    trg = np.asarray(trg, dtype=np.float64)
    b_n, d = src.shape
    n, _, locs = trg.shape
    s = np.empty((b_n, n, locs))
    for b in range(b_n):
        for c in range(n):
            for l in range(locs):
                s[b, c, l] = sum(src[b, k] * trg[c, k, l] for k in range(d)) / math.sqrt(d)
    return s


def reference_pair_nce(src, trg, tclip, reg_coef=0.05, pos_offset=0):
    """Loops over (b, l), exactly the spec's steps 1-5, in float64 numpy."""
    s = reference_scores(src, trg)
    b_n, n, locs = s.shape
    reg = reg_coef * np.mean(s ** 2)
    if tclip:
        s = tclip * np.tanh(s / tclip)
    terms = []
    for b in range(b_n):
        own = b + pos_offset
        negs = [s[b, c, m] for c in range(n) if c != own for m in range(locs)]
        for l in range(locs):
            pos = s[b, own, l]
            vals = np.array([pos] + negs)
            mx = vals.max()
            log_denominator = mx + math.log(np.exp(vals - mx).sum())
            terms.append(-(pos - log_denominator))
    return float(np.mean(terms)), float(reg)


@pytest.mark.parametrize("scale,tclip", [(1.0, 20.0), (8.0, 20.0), (8.0, 5.0), (3.0, None)])
def test_pair_nce_matches_float64_reference(scale, tclip):
    g = torch.Generator().manual_seed(0)
    src = torch.randn(6, 16, generator=g, dtype=torch.float64) * scale
    trg = torch.randn(6, 16, 5, generator=g, dtype=torch.float64) * scale
    loss, reg = amdim_pair_nce(src, trg, tclip)
    ref_loss, ref_reg = reference_pair_nce(src.numpy(), trg.numpy(), tclip)
    assert loss.item() == pytest.approx(ref_loss, rel=1e-10)
    assert reg.item() == pytest.approx(ref_reg, rel=1e-10)
    # float32 inputs: same figures to 1e-5 relative.
    loss32, reg32 = amdim_pair_nce(src.float(), trg.float(), tclip)
    assert loss32.item() == pytest.approx(ref_loss, rel=1e-5)
    assert reg32.item() == pytest.approx(ref_reg, rel=1e-5)


def test_clip_is_active_in_the_large_scale_case():
    g = torch.Generator().manual_seed(0)
    src = torch.randn(6, 16, generator=g, dtype=torch.float64) * 8
    trg = torch.randn(6, 16, 5, generator=g, dtype=torch.float64) * 8
    raw = torch.einsum("bd,cdl->bcl", src, trg) / 4.0
    assert raw.abs().max() > 40  # far past tclip = 20: tanh saturates
    clipped, _ = amdim_pair_nce(src, trg, 20.0)
    unclipped, _ = amdim_pair_nce(src, trg, None)
    assert abs(clipped.item() - unclipped.item()) > 1.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tanh_clip_in_place_changes_no_bit(dtype):
    """tanh_clip's in-place tanh on the quotient: bitwise the values and gradients of
    clip * torch.tanh(x / clip)."""
    from infomax.losses import tanh_clip

    g = torch.Generator().manual_seed(0)
    x = (torch.randn(64, 3, 32, 49, generator=g) * 30).to(dtype).requires_grad_()
    w = torch.randn(x.shape, generator=g).to(dtype)
    out = tanh_clip(x, 20.0)
    (grad,) = torch.autograd.grad((out * w).sum(), x)
    ref = 20.0 * torch.tanh(x / 20.0)
    (ref_grad,) = torch.autograd.grad((ref * w).sum(), x)
    assert torch.equal(out, ref) and torch.equal(grad, ref_grad)
    assert tanh_clip(x, None) is x and tanh_clip(x, 0.0) is x


def test_pair_nce_regularizer_coefficient_and_pos_offset():
    g = torch.Generator().manual_seed(1)
    src = torch.randn(8, 12, generator=g, dtype=torch.float64) * 4
    trg = torch.randn(8, 12, 3, generator=g, dtype=torch.float64) * 4
    full, full_reg = amdim_pair_nce(src, trg, 20.0, reg_coef=0.04)
    assert full_reg.item() == pytest.approx(reference_pair_nce(src, trg, 20.0, 0.04)[1], rel=1e-10)
    # Two "processes", each with half the sources and the global targets: mean = full.
    a, ra = amdim_pair_nce(src[:4], trg, 20.0, reg_coef=0.04, pos_offset=0)
    b, rb = amdim_pair_nce(src[4:], trg, 20.0, reg_coef=0.04, pos_offset=4)
    assert (0.5 * (a + b)).item() == pytest.approx(full.item(), rel=1e-12)
    assert (0.5 * (ra + rb)).item() == pytest.approx(full_reg.item(), rel=1e-12)
    ref_b, _ = reference_pair_nce(src[4:], trg, 20.0, 0.04, pos_offset=4)
    assert b.item() == pytest.approx(ref_b, rel=1e-10)


def test_pair_nce_gradients_are_exact():
    g = torch.Generator().manual_seed(2)
    src = (torch.randn(4, 6, generator=g, dtype=torch.float64) * 5).requires_grad_()
    trg = (torch.randn(4, 6, 3, generator=g, dtype=torch.float64) * 5).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda s, t: torch.stack(amdim_pair_nce(s, t, 20.0)), (src, trg))


def test_pair_nce_same_image_locations_are_not_negatives():
    # Scores of image b against its own other locations must not enter its denominator:
    # making those scores huge changes nothing when they are positives only.
    d = 4
    src = torch.zeros(2, d, dtype=torch.float64)
    src[:, 0] = 1.0
    trg = torch.zeros(2, d, 2, dtype=torch.float64)
    trg[0, 0, :] = torch.tensor([1.0, 3.0])   # image 0: two positives of different scores
    trg[1, 0, :] = torch.tensor([0.5, -0.5])
    loss, _ = amdim_pair_nce(src, trg, None, reg_coef=0.0)
    s = trg[:, 0, :] / 2.0  # <src, trg> / sqrt(d)
    # row 0: negatives are image 1's locations; row 1: image 0's locations
    lse0 = torch.logsumexp(s[1], 0)
    lse1 = torch.logsumexp(s[0], 0)
    terms = [torch.nn.functional.softplus(lse0 - s[0, l]) for l in range(2)]
    terms += [torch.nn.functional.softplus(lse1 - s[1, l]) for l in range(2)]
    assert loss.item() == pytest.approx(torch.stack(terms).mean().item(), rel=1e-12)


def test_pair_nce_rejects_bad_shapes():
    with pytest.raises(ValueError, match="src"):
        amdim_pair_nce(torch.randn(3, 4), torch.randn(3, 4))
    with pytest.raises(ValueError, match="differ"):
        amdim_pair_nce(torch.randn(3, 4), torch.randn(3, 5, 2))


def _rand_out(g, b, d):
    return EncoderOutput(torch.randn(b, d, generator=g, dtype=torch.float64) * 3,
                         torch.randn(b, d, 5, 5, generator=g, dtype=torch.float64) * 3,
                         torch.randn(b, d, 7, 7, generator=g, dtype=torch.float64) * 3)


def test_multiscale_loss_is_the_sum_of_six_pair_costs():
    g = torch.Generator().manual_seed(3)
    b, d = 5, 8
    o1, o2 = _rand_out(g, b, d), _rand_out(g, b, d)
    loss = amdim_multiscale_loss(o1, o2, 20.0, generator=torch.Generator().manual_seed(7))
    # Same draw of 5x5 source locations, made by hand: view 1 first, then view 2.
    gen = torch.Generator().manual_seed(7)
    i1 = torch.randint(25, (b,), generator=gen)
    i2 = torch.randint(25, (b,), generator=gen)
    s5_1 = torch.stack([o1.local5.flatten(2)[k, :, i1[k]] for k in range(b)])
    s5_2 = torch.stack([o2.local5.flatten(2)[k, :, i2[k]] for k in range(b)])
    t5_1, t5_2 = o1.local5.flatten(2).numpy(), o2.local5.flatten(2).numpy()
    t7_1, t7_2 = o1.local7.flatten(2).numpy(), o2.local7.flatten(2).numpy()
    pairs = {"1t5": [(o1.global_, t5_2), (o2.global_, t5_1)],
             "1t7": [(o1.global_, t7_2), (o2.global_, t7_1)],
             "5t5": [(s5_1, t5_2), (s5_2, t5_1)]}
    costs, reg = {}, 0.0
    for name, items in pairs.items():
        refs = [reference_pair_nce(s.numpy(), t, 20.0) for s, t in items]
        costs[name] = 0.5 * (refs[0][0] + refs[1][0])
        reg += 0.5 * (refs[0][1] + refs[1][1])
    assert loss.l1t5.item() == pytest.approx(costs["1t5"], rel=1e-10)
    assert loss.l1t7.item() == pytest.approx(costs["1t7"], rel=1e-10)
    assert loss.l5t5.item() == pytest.approx(costs["5t5"], rel=1e-10)
    assert loss.reg.item() == pytest.approx(reg, rel=1e-10)
    assert loss.total.item() == pytest.approx(sum(costs.values()) + reg, rel=1e-10)


def test_multiscale_loss_with_gathered_targets_equals_global_batch():
    # Two "processes" of 3 images each, their targets gathered: the mean of their costs
    # equals the cost of the global batch of 6 (given the same 5x5 source locations).
    g = torch.Generator().manual_seed(4)
    o1, o2 = _rand_out(g, 6, 8), _rand_out(g, 6, 8)
    full = amdim_multiscale_loss(o1, o2, 20.0, generator=torch.Generator().manual_seed(0))
    idx = torch.randint(25, (12,), generator=torch.Generator().manual_seed(0))
    locs = (idx[:6], idx[6:])  # the global draw: view 1's six indices, then view 2's

    def share(o, loc, sl):
        # a 5x5 map whose every location holds the drawn one, so any draw picks it
        picked = o.local5.flatten(2)[torch.arange(6), :, loc][sl]
        return EncoderOutput(o.global_[sl], picked[:, :, None, None].expand(-1, -1, 5, 5),
                             o.local7[sl])

    parts = [amdim_multiscale_loss(share(o1, locs[0], sl), share(o2, locs[1], sl), 20.0,
                                   trg1=o1, trg2=o2, pos_offset=sl.start)
             for sl in (slice(0, 3), slice(3, 6))]
    for field in ("l1t5", "l1t7", "l5t5", "reg", "total"):
        mean = 0.5 * (getattr(parts[0], field) + getattr(parts[1], field))
        assert mean.item() == pytest.approx(getattr(full, field).item(), rel=1e-10), field


def test_clipped_cross_entropy_reference():
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(7, 4, generator=g, dtype=torch.float64) * 30
    labels = torch.tensor([0, 1, 2, 3, -1, 1, 0])
    got = clipped_cross_entropy(logits, labels).item()
    z = 10 * np.tanh(logits.numpy() / 10)
    terms = [-(z[i, labels[i]] - np.log(np.exp(z[i]).sum())) for i in range(7) if labels[i] >= 0]
    ref = np.mean(terms) + 1e-3 * np.mean(logits.numpy() ** 2)
    assert got == pytest.approx(ref, rel=1e-6)
    # no labelled rows: only the regularizer, and still differentiable
    x = logits.clone().requires_grad_()
    out = clipped_cross_entropy(x, torch.full((7,), -1))
    assert out.item() == pytest.approx(1e-3 * np.mean(logits.numpy() ** 2), rel=1e-6)
    out.backward()
    assert torch.isfinite(x.grad).all()
