"""Lower bounds on mutual information from critic scores (spec/family.md, "Estimators").

Two forms, both pure functions returning the MI *estimate* (maximise it; the loss is its
negative):

- the square form, ``infonce(F)``, ``nwj(F)``, ``dv(F)``, ``jsd(F)``: F is a (B, B) score
  matrix F[i, j] = f(x_i, y_j) of B positive pairs, positives on the diagonal;
- the general form, ``estimate(name, scores, pos_mask, neg_mask=None)``: ``scores`` is
  (R, M), R sources each scored against M candidates, and boolean masks say which
  (source, candidate) pairs are positive and which are negative (default: every pair that
  is not positive). Local DIM is R = B global vectors against M = N * L locations with
  the L locations of a source's own image as its positives (``offset_mask``); the square
  form is ``estimate(name, F, eye)``.

In the general form an estimator's expectations are means over all positive pairs (E_P)
and over all negative pairs (E_N); InfoNCE instead scores every positive pair against the
negatives of its own row. Scores are computed in float32, or float64 when given float64.

Under data parallelism each process holds its own sources against the global candidates.
Means over equal-sized process shares average to the global means, so JSD, NWJ and
InfoNCE need nothing more; DV takes the log of a mean over all negative pairs, which is
not an average of per-process values: pass ``reduce_sum`` (a differentiable all-reduce
sum over processes) to make its negative term that of the global batch.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from infomax.dist import all_reduce_, world_size
from infomax.numerics import in_score_dtype
from infomax.registry import Registry

ReduceSum = Callable[[Tensor], Tensor]
# The square-form estimators by name, each registered where it is defined.
ESTIMATORS: Registry[Callable[[Tensor], Tensor]] = Registry("MI estimator")


def _square(scores: Tensor, fn: str) -> tuple[Tensor, Tensor]:
    if scores.dim() != 2 or scores.shape[0] != scores.shape[1] or scores.shape[0] < 2:
        raise ValueError(f"{fn} expects a square (B, B) score matrix with B >= 2, got "
                         f"{tuple(scores.shape)}")
    eye = torch.eye(scores.shape[0], dtype=torch.bool, device=scores.device)
    return in_score_dtype(scores), eye


@ESTIMATORS.decorator("infonce")
def infonce(scores: Tensor) -> Tensor:
    """InfoNCE (van den Oord et al. 2018, Eq. 4; Poole et al. 2019, Eq. 12):
    mean_i (F[i,i] - logsumexp_j F[i,j]) + log B. Never exceeds log B."""
    s, _ = _square(scores, "infonce")
    return (s.diagonal() - s.logsumexp(1)).mean() + math.log(s.shape[0])


@ESTIMATORS.decorator("nwj")
def nwj(scores: Tensor) -> Tensor:
    """NWJ / f-GAN KL bound (Nguyen, Wainwright and Jordan 2010) in Tschannen et al.'s
    (2020) f - 1 form: 1 + mean_i (F[i,i] - 1) - mean_{i != j} exp(F[i,j] - 1)."""
    s, eye = _square(scores, "nwj")
    return 1 + (s.diagonal() - 1).mean() - (s[~eye] - 1).exp().mean()


@ESTIMATORS.decorator("dv")
def dv(scores: Tensor) -> Tensor:
    """Donsker-Varadhan bound (MINE, Belghazi et al. 2018, Eq. 10):
    mean_i F[i,i] - log mean_{i != j} exp(F[i,j])."""
    s, eye = _square(scores, "dv")
    neg = s[~eye]
    return s.diagonal().mean() - (neg.logsumexp(0) - math.log(neg.numel()))


@ESTIMATORS.decorator("jsd")
def jsd(scores: Tensor) -> Tensor:
    """Jensen-Shannon surrogate of local DIM (Hjelm et al. 2019, Eq. 4):
    mean_i -softplus(-F[i,i]) - mean_{i != j} softplus(F[i,j])."""
    s, eye = _square(scores, "jsd")
    return -F.softplus(-s.diagonal()).mean() - F.softplus(s[~eye]).mean()


NAMES: tuple[str, ...] = ESTIMATORS.names()


# -- the general form ------------------------------------------------------------------


def offset_mask(rows: int, targets: int, per_target: int = 1, offset: int = 0, *,
                device: torch.device | str | None = None) -> Tensor:
    """(rows, targets * per_target) bool: source r's positives are the ``per_target``
    candidates of target ``r + offset`` (candidates laid out target-major, as a (N, L)
    grid flattened). Under data parallelism ``offset`` is this process's first row in the
    gathered targets (``infomax.dist.gather_targets``)."""
    if not 0 <= offset <= targets - rows:
        raise ValueError(f"offset {offset} out of range for {rows} sources, {targets} targets")
    mask = torch.zeros(rows, targets, per_target, dtype=torch.bool, device=device)
    mask[torch.arange(rows, device=device), torch.arange(rows, device=device) + offset] = True
    return mask.view(rows, targets * per_target)


def _mean(values: Tensor, mask: Tensor) -> Tensor:
    # where(), not multiplication: exp() may overflow to inf on pairs the mask leaves out.
    return torch.where(mask, values, 0).sum() / mask.sum()


def estimate(name: str, scores: Tensor, pos_mask: Tensor, neg_mask: Tensor | None = None, *,
             reduce_sum: ReduceSum | None = None) -> Tensor:
    """MI estimate ``name`` (one of ``NAMES``) from (R, M) scores with boolean masks.

    Args:
        scores: (R, M) critic scores f(source r, candidate m).
        pos_mask: (R, M) positive pairs (any number per row, at least one overall).
        neg_mask: (R, M) negative pairs; default ``~pos_mask``. Pairs in neither mask are
            ignored.
        reduce_sum: differentiable sum over processes (DV only, see the module docstring).

    Returns the scalar estimate:
        infonce: mean over positives (r, m) of s[r,m] - log(e^{s[r,m]} + sum_{n in N_r}
            e^{s[r,n]}) + log(1 + |N_r|), N_r the negatives of row r (Oord et al. 2018);
            with one positive per row and N_r the rest of the row this is ``infonce``, and
            it is local DIM's InfoNCE (Hjelm et al. 2019, Eq. 5) for DIM's masks.
        nwj: 1 + E_P[s - 1] - E_N[exp(s - 1)];
        dv:  E_P[s] - log E_N[exp(s)];
        jsd: E_P[-softplus(-s)] - E_N[softplus(s)],
    with E_P, E_N the means over all positive and all negative pairs.
    """
    if name not in NAMES:
        raise ValueError(f"unknown MI estimator {name!r}; choose one of {', '.join(NAMES)}")
    if (scores.dim() != 2 or pos_mask.shape != scores.shape
            or (neg_mask is not None and neg_mask.shape != scores.shape)):
        neg = "" if neg_mask is None else f" and neg_mask {tuple(neg_mask.shape)}"
        raise ValueError(f"estimate expects (R, M) scores and masks of the same shape, got "
                         f"scores {tuple(scores.shape)}, pos_mask {tuple(pos_mask.shape)}{neg}")
    s = in_score_dtype(scores)
    pos = pos_mask.bool()
    neg = ~pos if neg_mask is None else neg_mask.bool() & ~pos
    if name == "infonce":
        neg_lse = s.masked_fill(~neg, float("-inf")).logsumexp(1, keepdim=True)  # (R, 1)
        n_neg = neg.sum(1, keepdim=True).to(s.dtype)
        per_pair = s - torch.logaddexp(s, neg_lse) + torch.log1p(n_neg)
        return _mean(per_pair, pos)
    if name == "nwj":
        return 1 + _mean(s - 1, pos) - _mean((s - 1).exp(), neg)
    if name == "jsd":
        return _mean(-F.softplus(-s), pos) - _mean(F.softplus(s), neg)
    # dv: log of the mean of exp over the negatives, as a shifted log-sum-exp. The shift
    # is a constant (any common value is exact), the same on every process.
    neg_s = s.masked_fill(~neg, float("-inf"))
    shift = neg_s.detach().max()
    count = neg.sum().to(s.dtype)
    if reduce_sum is not None:
        shift = _global_max(shift)
    total = (neg_s - shift).exp().sum()
    if reduce_sum is not None:
        total, count = reduce_sum(total), reduce_sum(count)
    return _mean(s, pos) - (total.log() + shift - count.log())


def _global_max(x: Tensor) -> Tensor:
    """Maximum of a (detached) scalar over processes; itself with one process."""
    return all_reduce_(x.clone(), "max") if world_size() > 1 else x
