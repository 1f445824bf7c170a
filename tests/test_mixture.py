"""AMDIM's mixture-based representations and the single-scale cost (paper Sec. 3.7; spec
amdim.md Sec. 3): the cost against a float64 loop reference, its k = 1 reduction to the
plain cost, the mixture head, and the method wiring."""

import math

import numpy as np
import pytest
import torch

from infomax.config import make_config
from infomax.errors import ConfigError
from infomax.losses import amdim_mixture_nce, amdim_multiscale_loss, amdim_pair_nce
from infomax.methods import METHODS, Batch
from infomax.nn.amdim import EncoderOutput, MixtureHead

from test_losses_amdim import _rand_out, reference_pair_nce, reference_scores


def reference_mixture_nce(src, trg, tclip, tau, alpha, reg_coef=0.05, pos_offset=0):
    """Loops over (b, j, l) in float64 numpy, straight from the spec: s_ij the NCE
    log-softmax score of component j for target i, q = softmax_j(tau s), cost =
    -mean_i [sum_j q s + alpha H(q)]."""
    src = np.asarray(src, dtype=np.float64)
    b_n, k_n, _ = src.shape
    n, _, locs = np.shape(trg)
    s = np.stack([reference_scores(src[:, j], trg) for j in range(k_n)], 1)  # (B, K, N, L)
    reg = reg_coef * np.mean(s ** 2)
    if tclip:
        s = tclip * np.tanh(s / tclip)
    terms = []
    for b in range(b_n):
        own = b + pos_offset
        for l in range(locs):
            log_scores = []
            for j in range(k_n):
                negs = [s[b, j, c, m] for c in range(n) if c != own for m in range(locs)]
                vals = np.array([s[b, j, own, l]] + negs)
                mx = vals.max()
                log_scores.append(s[b, j, own, l] - (mx + math.log(np.exp(vals - mx).sum())))
            log_scores = np.array(log_scores)
            z = tau * log_scores
            q = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
            entropy = -sum(qj * math.log(qj) for qj in q if qj > 0)
            terms.append(-(float(q @ log_scores) + alpha * entropy))
    return float(np.mean(terms)), float(reg)


@pytest.mark.parametrize("tau,alpha,tclip,scale", [(1.0, 1.0, 20.0, 1.0), (5.0, 0.1, 20.0, 4.0),
                                                   (0.3, 2.0, None, 2.0), (2.0, 0.0, 5.0, 6.0)])
def test_mixture_cost_matches_float64_reference(tau, alpha, tclip, scale):
    g = torch.Generator().manual_seed(0)
    src = torch.randn(5, 3, 12, generator=g, dtype=torch.float64) * scale
    trg = torch.randn(5, 12, 4, generator=g, dtype=torch.float64) * scale
    loss, reg = amdim_mixture_nce(src, trg, tclip, tau=tau, alpha=alpha)
    ref_loss, ref_reg = reference_mixture_nce(src.numpy(), trg.numpy(), tclip, tau, alpha)
    assert loss.item() == pytest.approx(ref_loss, rel=1e-10)
    assert reg.item() == pytest.approx(ref_reg, rel=1e-10)
    loss32, reg32 = amdim_mixture_nce(src.float(), trg.float(), tclip, tau=tau, alpha=alpha)
    assert loss32.item() == pytest.approx(ref_loss, rel=1e-5)
    assert reg32.item() == pytest.approx(ref_reg, rel=1e-5)


def test_mixture_cost_gradient_flows_through_q_like_the_reference():
    # Gradients of the vectorised cost equal those of a per-(b, l) autograd reference, in
    # float64; the reference keeps q inside the graph, as the spec's cost does.
    g = torch.Generator().manual_seed(1)
    src = (torch.randn(4, 3, 8, generator=g, dtype=torch.float64) * 3).requires_grad_()
    trg = (torch.randn(4, 8, 5, generator=g, dtype=torch.float64) * 3).requires_grad_()
    loss, _ = amdim_mixture_nce(src, trg, 20.0, tau=3.0, alpha=0.2)
    got = torch.autograd.grad(loss, (src, trg))

    s = 20.0 * torch.tanh(torch.einsum("bjd,cdl->bjcl", src, trg) / math.sqrt(8) / 20.0)
    terms = []
    for b in range(4):
        for l in range(5):
            ls = torch.stack([s[b, j, b, l] - torch.logsumexp(torch.cat(
                [s[b, j, b, l:l + 1], torch.cat([s[b, j, c] for c in range(4) if c != b])]), 0)
                for j in range(3)])
            q = torch.softmax(3.0 * ls, 0)
            terms.append(-((q * ls).sum() - 0.2 * (q * q.log()).sum()))
    want = torch.autograd.grad(torch.stack(terms).mean(), (src, trg))
    for a, w in zip(got, want):
        torch.testing.assert_close(a, w, rtol=1e-10, atol=1e-12)


def test_k1_reduces_exactly_to_the_plain_cost():
    g = torch.Generator().manual_seed(2)
    src = torch.randn(6, 16, generator=g) * 3
    trg = torch.randn(6, 16, 9, generator=g) * 3
    for tau, alpha in ((1.0, 1.0), (7.0, 0.3)):  # q = 1 and H = 0 whatever tau and alpha
        mix = amdim_mixture_nce(src[:, None], trg, 20.0, tau=tau, alpha=alpha, pos_offset=0)
        plain = amdim_pair_nce(src, trg, 20.0)
        for m, p in zip(mix, plain):
            assert m.item() == pytest.approx(p.item(), rel=1e-6)
    # The whole multiscale cost, with the global vectors given as one-component mixtures.
    o1, o2 = _rand_out(g, 5, 8), _rand_out(g, 5, 8)
    mixed = amdim_multiscale_loss(o1, o2, 20.0, mix1=o1.global_[:, None],
                                  mix2=o2.global_[:, None], tau=4.0, alpha=0.5,
                                  generator=torch.Generator().manual_seed(3))
    plain = amdim_multiscale_loss(o1, o2, 20.0, generator=torch.Generator().manual_seed(3))
    for field in ("total", "l1t5", "l1t7", "l5t5", "reg"):
        assert getattr(mixed, field).item() == pytest.approx(getattr(plain, field).item(),
                                                             rel=1e-10), field


def test_tau_alpha_one_gives_the_logsumexp_over_components():
    # q is then the exact posterior softmax(s), and sum q s + H(q) = logsumexp_j s_j.
    g = torch.Generator().manual_seed(4)
    src = torch.randn(4, 5, 6, generator=g, dtype=torch.float64) * 2
    trg = torch.randn(4, 6, 3, generator=g, dtype=torch.float64) * 2
    loss, _ = amdim_mixture_nce(src, trg, 20.0, tau=1.0, alpha=1.0)
    per_component = torch.stack([torch.stack([_log_scores(src[b, j], trg, b) for j in range(5)])
                                 for b in range(4)])           # (B, K, L)
    want = -torch.logsumexp(per_component, 1).mean()
    assert loss.item() == pytest.approx(want.item(), rel=1e-10)
    # ... and more components cannot do worse than any single one of them.
    single = amdim_pair_nce(src[:, 0], trg, 20.0)[0]
    assert loss.item() <= single.item()


def _log_scores(v, trg, own):
    """(L,) NCE log-softmax scores of one source vector for its positive image ``own``."""
    s = 20.0 * torch.tanh(torch.einsum("d,cdl->cl", v, trg) / math.sqrt(v.shape[0]) / 20.0)
    negs = torch.cat([s[c] for c in range(s.shape[0]) if c != own])
    return torch.stack([s[own, l] - torch.logsumexp(torch.cat([s[own, l:l + 1], negs]), 0)
                        for l in range(s.shape[1])])


def test_mixture_cost_with_gathered_targets_equals_global_batch():
    g = torch.Generator().manual_seed(5)
    src = torch.randn(6, 2, 8, generator=g, dtype=torch.float64) * 3
    trg = torch.randn(6, 8, 4, generator=g, dtype=torch.float64) * 3
    full, full_reg = amdim_mixture_nce(src, trg, 20.0, tau=2.0, alpha=0.5)
    a, ra = amdim_mixture_nce(src[:3], trg, 20.0, tau=2.0, alpha=0.5, pos_offset=0)
    b, rb = amdim_mixture_nce(src[3:], trg, 20.0, tau=2.0, alpha=0.5, pos_offset=3)
    assert (0.5 * (a + b)).item() == pytest.approx(full.item(), rel=1e-12)
    assert (0.5 * (ra + rb)).item() == pytest.approx(full_reg.item(), rel=1e-12)


def test_mixture_cost_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"src \(B, K, D\)"):
        amdim_mixture_nce(torch.randn(3, 4), torch.randn(3, 4, 2))
    with pytest.raises(ValueError, match="differ"):
        amdim_mixture_nce(torch.randn(3, 2, 4), torch.randn(3, 5, 2))
    o = _rand_out(torch.Generator().manual_seed(0), 3, 4)
    with pytest.raises(ValueError, match="both views"):
        amdim_multiscale_loss(o, o, mix1=torch.randn(3, 2, 4))


def test_single_scale_cost_is_the_1t7_cost_and_its_regularizer():
    g = torch.Generator().manual_seed(6)
    o1, o2 = _rand_out(g, 5, 8), _rand_out(g, 5, 8)
    loss = amdim_multiscale_loss(o1, o2, 20.0, multiscale=False)
    refs = [reference_pair_nce(s.numpy(), t.local7.flatten(2).numpy(), 20.0)
            for s, t in ((o1.global_, o2), (o2.global_, o1))]
    assert loss.l1t5 is None and loss.l5t5 is None
    assert loss.l1t7.item() == pytest.approx(0.5 * (refs[0][0] + refs[1][0]), rel=1e-10)
    assert loss.reg.item() == pytest.approx(0.5 * (refs[0][1] + refs[1][1]), rel=1e-10)
    assert loss.total.item() == pytest.approx((loss.l1t7 + loss.reg).item(), rel=1e-12)


def test_mixture_head_is_residual_and_its_components_differ():
    torch.manual_seed(0)
    head = MixtureHead(16, 4)
    f = torch.randn(5, 16)
    out = head(f)
    assert out.shape == (5, 4, 16)
    assert (out[:, 0] - out[:, 1]).abs().max() > 1e-3      # not k copies of one vector
    with torch.no_grad():
        head.fc2.weight.zero_()
        head.fc2.bias.zero_()
    torch.testing.assert_close(head(f), f[:, None].expand(-1, 4, -1))


def _amdim(*extra):
    torch.manual_seed(0)
    cfg = make_config("fmnist-tiny", ["model.ndf=8", "model.n_rkhs=32", "model.n_depth=1",
                                      "train.channels_last=false", *extra])
    return METHODS["amdim"](cfg, num_classes=10, in_channels=1, image_size=32)


def _batch(n=6):
    g = torch.Generator().manual_seed(1)
    return Batch((torch.randn(n, 1, 32, 32, generator=g), torch.randn(n, 1, 32, 32, generator=g)),
                 torch.randint(10, (n,), generator=g))


def test_amdim_with_mixtures_trains_the_head_and_probes_use_the_plain_feature():
    model = _amdim("mixture.k=3", "mixture.tau=2.0", "mixture.alpha=0.5")
    assert model.mixture is not None and model.mixture.k == 3
    out = model.ssl_step(_batch())
    loss, logs, feats = out.loss, out.terms, out.features
    loss.backward()
    assert set(logs) == {"l1t5", "l1t7", "l5t5", "reg"}
    assert model.mixture.fc1.weight.grad.abs().sum() > 0
    assert feats.shape == (12, 32)                          # the plain global vectors
    x = _batch().views[0]
    model.eval()
    torch.testing.assert_close(model.encoder.embed(x), model.encoder(x).global_)
    assert _amdim().mixture is None                         # k = 1: no head at all


def test_single_scale_amdim_freezes_the_5x5_embedding_and_logs_only_1t7():
    model = _amdim("loss.multiscale=false")
    out = model.ssl_step(_batch())
    loss, logs = out.loss, out.terms
    loss.backward()
    assert set(logs) == {"l1t7", "reg"}
    assert all(not p.requires_grad for p in model.encoder.embed5.parameters())
    assert all(p.grad is not None for p in model.encoder.embed7.parameters())


def test_mixture_settings_belong_to_amdim():
    with pytest.raises(ConfigError, match=r"mixture\.k.*amdim"):
        make_config("fmnist-tiny", ["method=simclr", "mixture.k=2"])
    assert "mixture" not in make_config("fmnist-tiny", ["method=simclr"]).to_dict()
    assert make_config("fmnist-tiny", ["mixture.k=4"]).to_dict()["mixture"]["k"] == 4
