"""Contrastive losses of CMC (Tian et al. 2019, "Contrastive multiview coding", Sec. 3.1-3.3).

Both are the softmax cross-entropy (InfoNCE) over one positive and K negatives, Eq. (2)
with h = exp(<z1, z2> / tau) on normalized projections. CMC's paper approximates it with
NCE when negatives come from a memory bank; its public code also offers the softmax-CE
form with the bank and reports it to work better, so that is the form used here for both
negative sources. Pure functions, computed in float32 (float64 when given float64).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from infomax.numerics import score_dtype



def bank_softmax_loss(anchor: Tensor, positive: Tensor, negatives: Tensor,
                      temperature: float) -> Tensor:
    """One direction of CMC with a memory bank (e.g. L -> ab): each anchor of view 1 is
    scored against the other view's bank row of its own image (positive) and K random rows
    of that bank (negatives); mean over the batch of -log softmax of the positive.

    Args:
        anchor: (B, D) normalized features of view 1 (with gradient).
        positive: (B, D) the view-2 bank rows at the anchors' indices.
        negatives: (B, K, D) view-2 bank rows at K random indices per anchor.
    """
    if (anchor.dim() != 2 or positive.shape != anchor.shape or negatives.dim() != 3
            or negatives.shape[0] != anchor.shape[0] or negatives.shape[2] != anchor.shape[1]):
        raise ValueError(f"bank_softmax_loss expects anchor (B, D), positive (B, D) and "
                         f"negatives (B, K, D); got {tuple(anchor.shape)}, "
                         f"{tuple(positive.shape)} and {tuple(negatives.shape)}")
    dtype = score_dtype(anchor)
    with torch.autocast(device_type=anchor.device.type, enabled=False):
        a = anchor.to(dtype)
        pos = (a * positive.to(dtype)).sum(1, keepdim=True)              # (B, 1)
        neg = torch.bmm(negatives.to(dtype), a[:, :, None])[..., 0]      # (B, K)
        logits = torch.cat([pos, neg], 1) / temperature
        # -log softmax at column 0.
        return (torch.logsumexp(logits, 1) - logits[:, 0]).mean()


def batch_softmax_loss(z1: Tensor, z2_all: Tensor, temperature: float,
                       pos_offset: int = 0) -> Tensor:
    """One direction of CMC with in-batch negatives: each z1[b] against every row of z2_all
    (the global batch under data parallelism), positive z2_all[pos_offset + b]; mean over
    this process's anchors of -log softmax of the positive.

    Args:
        z1: (B, D) normalized view-1 features of this process's images.
        z2_all: (N, D) normalized view-2 features of the global batch, N >= B.
        pos_offset: row of z1[0]'s positive in z2_all (rank * B under DDP).
    """
    if z1.dim() != 2 or z2_all.dim() != 2 or z2_all.shape[1] != z1.shape[1]:
        raise ValueError(f"batch_softmax_loss expects z1 (B, D) and z2_all (N, D); got "
                         f"{tuple(z1.shape)} and {tuple(z2_all.shape)}")
    if not 0 <= pos_offset <= z2_all.shape[0] - z1.shape[0]:
        raise ValueError(f"pos_offset {pos_offset} out of range for z1 {tuple(z1.shape)} "
                         f"and z2_all {tuple(z2_all.shape)}")
    dtype = score_dtype(z1)
    with torch.autocast(device_type=z1.device.type, enabled=False):
        logits = z1.to(dtype) @ z2_all.to(dtype).T / temperature
        target = torch.arange(z1.shape[0], device=z1.device) + pos_offset
        return F.cross_entropy(logits, target)
