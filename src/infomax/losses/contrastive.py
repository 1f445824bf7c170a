"""Contrastive and regression costs of SimCLR, MoCo and BYOL.

Pure functions of tensors. Similarities and their log-sum-exp are computed in float32 at
least (float64 when given float64), with autocast off, whatever precision the inputs
arrive in.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from infomax.numerics import score_dtype



def nt_xent(z1: Tensor, z2: Tensor, temperature: float, *,
            targets: tuple[Tensor, Tensor] | None = None, pos_offset: int = 0) -> Tensor:
    """SimCLR's NT-Xent (Chen et al. 2020, Eq. 1), averaged over all 2B anchors.

    For an anchor view u of image i the positive is the other view of image i and the
    negatives are the 2N - 2 other views of the batch:
    l(u) = -log( exp(sim(u, pos) / t) / sum_{v != u} exp(sim(u, v) / t) ), sim = cosine.

    Args:
        z1, z2: (B, D) projections of the first and second view of this process's images.
        temperature: t.
        targets: (t1, t2), each (N, D): both views of the global batch (gathered from every
            process, ``infomax.dist.gather_targets``); default (z1, z2).
        pos_offset: index of this process's first image in the targets (rank * B).
    """
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError(f"nt_xent expects two (B, D) views of equal shape; got "
                         f"{tuple(z1.shape)} and {tuple(z2.shape)}")
    t1, t2 = targets if targets is not None else (z1, z2)
    b, n = z1.shape[0], t1.shape[0]
    if t1.shape != t2.shape or t1.shape[1] != z1.shape[1]:
        raise ValueError(f"nt_xent targets must be two (N, {z1.shape[1]}) tensors; got "
                         f"{tuple(t1.shape)} and {tuple(t2.shape)}")
    if not 0 <= pos_offset <= n - b:
        raise ValueError(f"pos_offset {pos_offset} out of range for {b} anchors, {n} targets")
    dtype = score_dtype(z1)
    with torch.autocast(device_type=z1.device.type, enabled=False):
        anchors = F.normalize(torch.cat([z1, z2]).to(dtype), dim=1)          # (2B, D)
        cands = F.normalize(torch.cat([t1, t2]).to(dtype), dim=1)            # (2N, D)
        logits = anchors @ cands.T / temperature                             # (2B, 2N)
        rows = torch.arange(2 * b, device=z1.device)
        own = torch.arange(b, device=z1.device) + pos_offset
        self_col = torch.cat([own, own + n])     # the anchor itself: neither pos nor neg
        pos_col = torch.cat([own + n, own])      # the other view of the same image
        pos = logits[rows, pos_col]
        logits = logits.index_put((rows, self_col),
                                  torch.tensor(float("-inf"), dtype=dtype, device=z1.device))
        return (logits.logsumexp(1) - pos).mean()


def moco_infonce(q: Tensor, k: Tensor, queue: Tensor, temperature: float) -> Tensor:
    """MoCo's InfoNCE (He et al. 2020, Eq. 1 and Algorithm 1): logits [q.k+, q.queue] / t,
    cross-entropy with the positive at index 0, mean over the B queries.

    Args:
        q: (B, D) queries; k: (B, D) their keys (the positives). Both are L2-normalized
            here, as the encoders' outputs are in MoCo.
        queue: (K, D) normalized keys of earlier batches, the negatives (not renormalized).
        temperature: t.
    """
    if q.shape != k.shape or q.dim() != 2 or queue.dim() != 2 or queue.shape[1] != q.shape[1]:
        raise ValueError(f"moco_infonce expects q, k (B, D) and queue (K, D); got "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(queue.shape)}")
    dtype = score_dtype(q)
    with torch.autocast(device_type=q.device.type, enabled=False):
        qn = F.normalize(q.to(dtype), dim=1)
        kn = F.normalize(k.to(dtype), dim=1)
        l_pos = (qn * kn).sum(1, keepdim=True)                               # (B, 1)
        l_neg = qn @ queue.to(dtype).T                                       # (B, K)
        logits = torch.cat([l_pos, l_neg], dim=1) / temperature
        return (logits.logsumexp(1) - logits[:, 0]).mean()


def byol_regression(p: Tensor, z: Tensor) -> Tensor:
    """BYOL's loss (Grill et al. 2020, Eq. 2): ||p/|p| - z/|z|||^2 = 2 - 2 cos(p, z) per
    sample, mean over the batch. ``z`` (the target projection) should carry no gradient."""
    if p.shape != z.shape or p.dim() != 2:
        raise ValueError(f"byol_regression expects p and z of one (B, D) shape; got "
                         f"{tuple(p.shape)} and {tuple(z.shape)}")
    dtype = score_dtype(p)
    with torch.autocast(device_type=p.device.type, enabled=False):
        cos = (F.normalize(p.to(dtype), dim=1) * F.normalize(z.to(dtype), dim=1)).sum(1)
        return (2.0 - 2.0 * cos).mean()


__all__ = ["byol_regression", "moco_infonce", "nt_xent"]
