"""MI estimators against float64 loop references written from spec/family.md."""

import math

import numpy as np
import pytest
import torch

from infomax.losses.estimators import (ESTIMATORS, NAMES, dv, estimate, infonce, jsd, nwj,
                                       offset_mask)


def softplus(x):
    return math.log1p(math.exp(-abs(x))) + max(x, 0.0)


def logsumexp(values):
    m = max(values)
    return m + math.log(sum(math.exp(v - m) for v in values))


def reference(name, s, pos, neg=None):
    """The general form, one pair at a time: E_P / E_N over the masked pairs; InfoNCE per
    positive against its row's negatives."""
    s = np.asarray(s, dtype=np.float64)
    rows, cols = s.shape
    pos = np.asarray(pos, dtype=bool)
    neg = ~pos if neg is None else np.asarray(neg, dtype=bool) & ~pos
    P = [s[r, c] for r in range(rows) for c in range(cols) if pos[r, c]]
    N = [s[r, c] for r in range(rows) for c in range(cols) if neg[r, c]]
    if name == "infonce":
        terms = []
        for r in range(rows):
            negs = [s[r, c] for c in range(cols) if neg[r, c]]
            for c in range(cols):
                if pos[r, c]:
                    terms.append(s[r, c] - logsumexp([s[r, c], *negs]) + math.log(1 + len(negs)))
        return sum(terms) / len(terms)
    if name == "nwj":
        return 1 + sum(p - 1 for p in P) / len(P) - sum(math.exp(n - 1) for n in N) / len(N)
    if name == "dv":
        return sum(P) / len(P) - (logsumexp(N) - math.log(len(N)))
    return sum(-softplus(-p) for p in P) / len(P) - sum(softplus(n) for n in N) / len(N)


def square_reference(name, s):
    """family.md's square formulas, written out literally."""
    b = s.shape[0]
    diag = [s[i, i] for i in range(b)]
    off = [s[i, j] for i in range(b) for j in range(b) if i != j]
    if name == "infonce":
        return sum(s[i, i] - logsumexp(list(s[i])) for i in range(b)) / b + math.log(b)
    if name == "nwj":  # NWJ's original form; Tschannen's f - 1 form equals it
        return sum(diag) / b - math.exp(-1) * sum(math.exp(v) for v in off) / len(off)
    if name == "dv":
        return sum(diag) / b - math.log(sum(math.exp(v) for v in off) / len(off))
    return sum(-softplus(-v) for v in diag) / b - sum(softplus(v) for v in off) / len(off)


def _scores(shape, scale=2.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64) * scale


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scale", [0.5, 4.0])
def test_square_estimators_match_the_formulas(name, scale):
    s = _scores((7, 7), scale)
    ref = square_reference(name, s.numpy())
    got = ESTIMATORS[name](s)
    assert got.dtype == torch.float64
    assert got.item() == pytest.approx(ref, rel=1e-10)
    # The general form with the diagonal as positives is the same estimator.
    eye = torch.eye(7, dtype=torch.bool)
    assert estimate(name, s, eye).item() == pytest.approx(ref, rel=1e-10)
    # float32 at least, whatever comes in.
    assert ESTIMATORS[name](s.float()).item() == pytest.approx(ref, rel=1e-5)
    assert ESTIMATORS[name](s.bfloat16()).dtype == torch.float32


@pytest.mark.parametrize("name", NAMES)
def test_general_form_matches_loop_reference(name):
    """Several positives per row, and a negative mask that leaves pairs out."""
    s = _scores((5, 12), 3.0, seed=1)
    pos = offset_mask(5, 6, 2, offset=1)
    g = torch.Generator().manual_seed(2)
    neg = torch.rand(5, 12, generator=g) < 0.7
    for n_mask in (None, neg):
        ref = reference(name, s.numpy(), pos.numpy(), None if n_mask is None else n_mask.numpy())
        assert estimate(name, s, pos, n_mask).item() == pytest.approx(ref, rel=1e-10)


def test_offset_mask_layout():
    m = offset_mask(2, 4, 3, offset=1).view(2, 4, 3)
    assert m[0, 1].all() and m[1, 2].all() and m.sum() == 6
    with pytest.raises(ValueError, match="offset"):
        offset_mask(2, 4, 1, offset=3)


def test_square_and_general_forms_refuse_bad_input():
    with pytest.raises(ValueError, match="square"):
        infonce(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="unknown MI estimator"):
        estimate("mine", torch.zeros(3, 3), torch.eye(3, dtype=torch.bool))


@pytest.mark.parametrize("b", [2, 16])
def test_infonce_never_exceeds_log_b(b):
    # Even a perfect critic (huge diagonal) saturates at log B.
    s = _scores((b, b), 1.0) + 1e3 * torch.eye(b, dtype=torch.float64)
    assert infonce(s).item() <= math.log(b) + 1e-12
    assert infonce(s).item() == pytest.approx(math.log(b), rel=1e-9)
    for seed in range(5):
        assert infonce(_scores((b, b), 10.0, seed)).item() <= math.log(b)


def test_estimators_on_correlated_gaussians_with_the_optimal_critic():
    """Poole et al. 2019's calibration: y = rho x + sqrt(1 - rho^2) eps, I = -(d/2) log(1 -
    rho^2); with f* = log p(y|x) - log p(y), every bound lands near I when I << log B (NWJ
    with f* + 1, its own optimal critic)."""
    d, rho, b = 2, 0.6, 1024
    g = torch.Generator().manual_seed(0)
    x = torch.randn(b, d, generator=g, dtype=torch.float64)
    y = rho * x + math.sqrt(1 - rho ** 2) * torch.randn(b, d, generator=g, dtype=torch.float64)
    true_mi = -(d / 2) * math.log(1 - rho ** 2)
    var = 1 - rho ** 2
    cond = -((y[None, :, :] - rho * x[:, None, :]) ** 2).sum(-1) / (2 * var) - d / 2 * math.log(var)
    marg = -(y[None, :, :] ** 2).sum(-1) / 2
    f = cond - marg  # f[i, j] = log p(y_j | x_i) - log p(y_j)
    for name, scores in (("infonce", f), ("dv", f), ("nwj", f + 1)):
        assert ESTIMATORS[name](scores).item() == pytest.approx(true_mi, abs=0.1), name
    assert jsd(f).item() < 0  # a surrogate, not an MI value
    assert nwj(f + 1).item() <= dv(f).item() + 1e-9  # NWJ <= DV for the same critic
