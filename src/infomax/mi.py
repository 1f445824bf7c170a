"""Mutual-information estimators and critics: the public toolkit (spec/family.md).

Estimators take the (B, B) critic matrix ``scores[i, j] = f(x_i, y_j)`` of a batch of B
positive pairs (positives on the diagonal) and return the batch estimate in nats:

- ``infonce_lower_bound``: InfoNCE (van den Oord et al. 2018), never above log B;
- ``nwj_lower_bound``: NWJ in Tschannen et al.'s f - 1 form (with the optimal critic f*,
  pass f* + 1 to make it tight);
- ``dv_lower_bound``: Donsker-Varadhan (MINE);
- ``jsd_objective``: the Jensen-Shannon surrogate of DIM (not a bound on MI).

Critics map a batch of x (B, dx) and y (B, dy) to that matrix, each an ``nn.Module``:
``InnerCritic``, ``BilinearCritic``, ``SeparableCritic``, ``ConcatCritic`` (the four of
Tschannen et al. 2020, Sec. 3), built by name with ``make_critic``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from infomax.losses.estimators import NAMES, dv, estimate, infonce, jsd, nwj, offset_mask

CRITICS = ("inner", "bilinear", "separable", "concat")
ESTIMATOR_NAMES = NAMES


def infonce_lower_bound(scores: Tensor) -> Tensor:
    """mean_i (F[i,i] - logsumexp_j F[i,j]) + log B (van den Oord et al. 2018, Eq. 4)."""
    return infonce(scores)


def nwj_lower_bound(scores: Tensor) -> Tensor:
    """1 + mean_i (F[i,i] - 1) - mean_{i != j} exp(F[i,j] - 1) (Nguyen, Wainwright and
    Jordan 2010, as written by Tschannen et al. 2020)."""
    return nwj(scores)


def dv_lower_bound(scores: Tensor) -> Tensor:
    """mean_i F[i,i] - log mean_{i != j} exp(F[i,j]) (Donsker-Varadhan; Belghazi et al.
    2018)."""
    return dv(scores)


def jsd_objective(scores: Tensor) -> Tensor:
    """mean_i -softplus(-F[i,i]) - mean_{i != j} softplus(F[i,j]) (Hjelm et al. 2019)."""
    return jsd(scores)


LOWER_BOUNDS = {"infonce": infonce_lower_bound, "nwj": nwj_lower_bound,
                "dv": dv_lower_bound, "jsd": jsd_objective}


def target_bound_loss(estimate_: Tensor, target: float) -> Tensor:
    """|I_est - t|: train to a fixed value t of the bound, not to its maximum (Tschannen
    et al. 2020, Sec. 4, the encoder experiment)."""
    return (estimate_ - target).abs()


class InnerCritic(nn.Module):
    """f(x, y) = x^T y (AMDIM's critic, the embeddings made by the encoders)."""

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return x @ y.T


class BilinearCritic(nn.Module):
    """f(x, y) = x^T W y, W initialised N(0, 1 / (dx dy)): unit-scale scores for
    unit-scale inputs."""

    def __init__(self, dx: int, dy: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(dx, dy) / math.sqrt(dx * dy))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return x @ self.weight @ y.T


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))


class SeparableCritic(nn.Module):
    """f(x, y) = phi1(x)^T phi2(y), each phi a one-hidden-layer ReLU MLP (Tschannen et al.:
    100 hidden units, 100 outputs)."""

    def __init__(self, dx: int, dy: int, hidden: int = 100, out: int = 100) -> None:
        super().__init__()
        self.phi1, self.phi2 = _mlp(dx, hidden, out), _mlp(dy, hidden, out)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.phi1(x) @ self.phi2(y).T


class ConcatCritic(nn.Module):
    """f(x, y) = MLP([x, y]), one hidden ReLU layer (Tschannen et al.: 200 units), scored
    for all B x B pairs. The first layer acts on the concatenation as W_x x + W_y y + b, so
    the (B, B, hidden) activations are built from two (B, hidden) products."""

    def __init__(self, dx: int, dy: int, hidden: int = 200) -> None:
        super().__init__()
        self.wx = nn.Linear(dx, hidden)
        self.wy = nn.Linear(dy, hidden, bias=False)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = torch.relu(self.wx(x)[:, None, :] + self.wy(y)[None, :, :])  # (B, B, hidden)
        return self.out(h).squeeze(-1)


def make_critic(name: str, dx: int, dy: int) -> nn.Module:
    """Critic ``name`` (one of ``CRITICS``) for x of size dx and y of size dy."""
    if name == "inner":
        if dx != dy:
            raise ValueError(f"the inner critic needs equal sizes, got {dx} and {dy}")
        return InnerCritic()
    if name == "bilinear":
        return BilinearCritic(dx, dy)
    if name == "separable":
        return SeparableCritic(dx, dy)
    if name == "concat":
        return ConcatCritic(dx, dy)
    raise ValueError(f"unknown critic {name!r}; choose one of {', '.join(CRITICS)}")


__all__ = ["CRITICS", "ESTIMATOR_NAMES", "LOWER_BOUNDS", "BilinearCritic", "ConcatCritic",
           "InnerCritic", "SeparableCritic", "dv_lower_bound", "estimate", "infonce_lower_bound",
           "jsd_objective", "make_critic", "nwj_lower_bound", "offset_mask",
           "target_bound_loss"]
