"""The NCE loss of instance discrimination (Wu et al. 2018, "Unsupervised feature learning
via non-parametric instance discrimination", Sec. 3.2, Eqs. (3)-(6)).

Pure functions of tensors, computed in float32 (float64 when given float64).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from infomax.numerics import score_dtype



def estimate_log_partition(neg_logits: Tensor, n: int) -> Tensor:
    """log Z by Monte Carlo (Wu et al. Eq. (5)): Z = sum_j exp(v_j^T f / tau) over all n
    bank rows is estimated from m uniform draws per anchor as n * mean(exp(logits)), the
    mean taken over the anchors of the batch and their m noise samples. ``neg_logits``:
    (B, m) scores v'^T f / tau. Returns a 0-dim tensor without gradient."""
    s = neg_logits.detach().to(score_dtype(neg_logits)).reshape(-1)
    # log(n * mean(exp s)) = log n + logsumexp(s) - log(#samples): no overflow at small tau.
    return math.log(n) + torch.logsumexp(s, 0) - math.log(s.numel())


def instdisc_nce_loss(pos_logits: Tensor, neg_logits: Tensor, log_z: Tensor | float,
                      n: int) -> Tensor:
    """NCE loss of Wu et al. Eq. (4) with Eqs. (3), (5), (6), averaged over the batch.

    Args:
        pos_logits: (B,) v_i^T f_i / tau, f_i the anchor's feature, v_i its bank row.
        neg_logits: (B, m) v'^T f_i / tau for the m noise rows v' drawn per anchor.
        log_z: log of the normalising constant Z (``estimate_log_partition``), a constant.
        n: number of bank rows (training images); the noise distribution is P_n = 1/n.

    With P(i|v) = exp(logit) / Z and h(i, v) = P(i|v) / (P(i|v) + m P_n) (Eq. (3)):
    loss = mean_i [ -log h(i, v_i) - sum_{v'} log(1 - h(i, v')) ]. Since
    h = sigmoid(logit - log Z - log(m / n)), both terms are softplus terms (stable at any
    temperature).
    """
    if pos_logits.dim() != 1 or neg_logits.dim() != 2 or neg_logits.shape[0] != pos_logits.shape[0]:
        raise ValueError(f"instdisc_nce_loss expects pos (B,) and neg (B, m); got "
                         f"{tuple(pos_logits.shape)} and {tuple(neg_logits.shape)}")
    dtype = score_dtype(pos_logits)
    m = neg_logits.shape[1]
    log_z = torch.as_tensor(log_z, dtype=dtype, device=pos_logits.device)
    shift = log_z + math.log(m / n)   # log(Z m P_n)
    pos = pos_logits.to(dtype) - shift
    neg = neg_logits.to(dtype) - shift
    # -log sigmoid(x) = softplus(-x); -log(1 - sigmoid(x)) = softplus(x).
    return (F.softplus(-pos) + F.softplus(neg).sum(1)).mean()
