"""infomax.mi: the critics of Tschannen et al. 2020 against per-pair loops, make_critic, and
the |I_est - t| objective. The estimator formulas are tested in test_estimators.py."""

import pytest
import torch
from torch import nn

from infomax import mi
from infomax.losses import estimators

DX, DY = 3, 5
BX, BY = 4, 6  # unequal row counts catch a transposed score matrix


def _batch(dx=DX, dy=DY, bx=BX, by=BY, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(bx, dx, generator=g, dtype=torch.float64)
    y = torch.randn(by, dy, generator=g, dtype=torch.float64)
    return x, y


def _critic(name, dx=DX, dy=DY, seed=0):
    torch.manual_seed(seed)
    return mi.make_critic(name, dx, dy).double()


def _pairwise(f, x, y):
    """The (len(x), len(y)) matrix of f(x_i, y_j), one pair at a time."""
    return torch.tensor([[float(f(x[i], y[j]).detach()) for j in range(len(y))]
                         for i in range(len(x))], dtype=torch.float64)


def test_inner_critic_is_the_dot_product_of_each_pair():
    x, y = _batch(dx=4, dy=4)
    got = _critic("inner", 4, 4)(x, y)
    ref = _pairwise(lambda a, b: sum(a[k] * b[k] for k in range(4)), x, y)
    assert got.shape == (BX, BY)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)


def test_bilinear_critic_is_x_w_y_for_each_pair():
    x, y = _batch()
    critic = _critic("bilinear")
    w = critic.weight.detach()
    assert w.shape == (DX, DY)
    ref = _pairwise(lambda a, b: sum(a[p] * w[p, q] * b[q] for p in range(DX)
                                     for q in range(DY)), x, y)
    torch.testing.assert_close(critic(x, y).detach(), ref, rtol=1e-12, atol=1e-12)


def test_bilinear_init_gives_unit_scale_scores():
    torch.manual_seed(0)
    critic = mi.BilinearCritic(64, 32)
    x, y = _batch(dx=64, dy=32, bx=200, by=200, seed=3)
    std = critic.double()(x, y).detach().std().item()
    assert 0.7 < std < 1.3


def test_separable_critic_is_phi1_dot_phi2_for_each_pair():
    x, y = _batch()
    critic = _critic("separable")
    # Tschannen et al.: one-hidden-layer ReLU MLPs, 100 hidden units, 100 outputs.
    for phi, d in ((critic.phi1, DX), (critic.phi2, DY)):
        assert [m.weight.shape for m in phi if isinstance(m, nn.Linear)] == [(100, d),
                                                                             (100, 100)]

    def mlp(phi, v):
        lin1, lin2 = phi[0], phi[2]
        return lin2.weight @ torch.relu(lin1.weight @ v + lin1.bias) + lin2.bias

    ref = _pairwise(lambda a, b: mlp(critic.phi1, a) @ mlp(critic.phi2, b), x, y)
    torch.testing.assert_close(critic(x, y).detach(), ref, rtol=1e-10, atol=1e-10)


def test_concat_critic_is_an_mlp_on_the_concatenated_pair():
    x, y = _batch()
    critic = _critic("concat")
    # The same network written as Tschannen et al.'s MLP([x, y]): one hidden layer of 200.
    mlp = nn.Sequential(nn.Linear(DX + DY, 200), nn.ReLU(), nn.Linear(200, 1)).double()
    with torch.no_grad():
        mlp[0].weight.copy_(torch.cat([critic.wx.weight, critic.wy.weight], dim=1))
        mlp[0].bias.copy_(critic.wx.bias)
        mlp[2].weight.copy_(critic.out.weight)
        mlp[2].bias.copy_(critic.out.bias)
    ref = _pairwise(lambda a, b: mlp(torch.cat([a, b]))[0], x, y)
    got = critic(x, y)
    assert got.shape == (BX, BY)
    torch.testing.assert_close(got.detach(), ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["bilinear", "separable", "concat"])
def test_trained_critics_get_gradients_through_an_estimator(name):
    x, y = _batch(bx=5, by=5)
    critic = _critic(name)
    (-mi.infonce_lower_bound(critic(x, y))).backward()
    grads = [p.grad for p in critic.parameters()]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_make_critic_builds_each_named_critic_and_refuses_the_rest():
    classes = {"inner": mi.InnerCritic, "bilinear": mi.BilinearCritic,
               "separable": mi.SeparableCritic, "concat": mi.ConcatCritic}
    assert set(classes) == set(mi.CRITICS)
    for name, cls in classes.items():
        critic = mi.make_critic(name, 4, 4)
        assert isinstance(critic, cls) and isinstance(critic, nn.Module)
    with pytest.raises(ValueError, match="unknown critic 'mlp'"):
        mi.make_critic("mlp", 4, 4)
    with pytest.raises(ValueError, match="equal sizes"):
        mi.make_critic("inner", 4, 5)


def test_public_estimators_are_the_square_estimators():
    assert tuple(mi.LOWER_BOUNDS) == mi.ESTIMATOR_NAMES == estimators.NAMES
    s = torch.randn(6, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for name, fn in mi.LOWER_BOUNDS.items():
        assert fn(s).item() == estimators.ESTIMATORS[name](s).item()


def test_target_bound_loss_is_the_distance_to_the_target():
    est = torch.tensor([1.5, 2.0, 4.5], dtype=torch.float64, requires_grad=True)
    loss = mi.target_bound_loss(est, 2.0)
    torch.testing.assert_close(loss, torch.tensor([0.5, 0.0, 2.5], dtype=torch.float64))
    loss[[0, 2]].sum().backward()
    # Below the target the loss pushes the bound up, above it pushes it down.
    torch.testing.assert_close(est.grad, torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64))
    scalar = mi.target_bound_loss(torch.tensor(3.25), 4.0)
    assert scalar.dim() == 0 and scalar.item() == pytest.approx(0.75)
