"""Local (and global) Deep InfoMax objective (Hjelm et al., ICLR 2019, Sec. 3.1-3.2).

Pure functions of the critic's embeddings; the estimators are ``infomax.losses.estimators``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from infomax.losses.estimators import ReduceSum, estimate, offset_mask
from infomax.numerics import score_dtype


class DIMLoss(NamedTuple):
    """``total`` is minimised: -(local_weight * local + global_weight * global_). ``local``
    and ``global_`` are the MI estimates (global_ is 0 when its weight is 0)."""

    total: Tensor
    local: Tensor
    global_: Tensor


def dim_scores(src: Tensor, trg: Tensor) -> Tensor:
    """Dot-product critic (the DIM code's "dot" local critic): (B, E) sources against
    (N, E, L) targets -> (B, N * L) scores, target-major, in float32 (float64 for float64)."""
    if src.dim() != 2 or trg.dim() != 3 or src.shape[1] != trg.shape[1]:
        raise ValueError(f"dim_scores expects src (B, E) and trg (N, E, L) of one E; got "
                         f"{tuple(src.shape)} and {tuple(trg.shape)}")
    dtype = score_dtype(src)
    n, e, locs = trg.shape
    with torch.autocast(device_type=src.device.type, enabled=False):
        # One GEMM: (B, E) @ (E, N * L), columns ordered (image, location).
        return src.to(dtype) @ trg.to(dtype).permute(1, 0, 2).reshape(e, n * locs)


def dim_loss(global_emb: Tensor, local_emb: Tensor, estimator: str = "jsd", *,
             local_weight: float = 1.0, global_weight: float = 0.0, pos_offset: int = 0,
             reduce_sum: ReduceSum | None = None) -> DIMLoss:
    """Local DIM: the global vector of image b against every location of every image's
    local map; positives are image b's own L locations, negatives all locations of the
    other images (Hjelm et al. 2019, Eq. 6-7 with the JSD, InfoNCE or DV estimator).

    Args:
        global_emb: (B, E) embedded global vectors of this process's images.
        local_emb: (N, E, L) embedded local maps (L locations), N >= B: the global batch
            under data parallelism, ``pos_offset`` locating this process's images in it.
        estimator: "jsd", "infonce" or "dv" (or "nwj"), see ``estimators.estimate``.
        local_weight: beta, weight of the local term.
        global_weight: alpha, weight of the global term (Eq. 5-6): here the global vector
            against each image's mean-pooled local embedding, positives on the offset
            diagonal; skipped when 0.
        reduce_sum: differentiable sum over processes, needed by DV under DDP.
    """
    if (global_emb.dim() != 2 or local_emb.dim() != 3
            or global_emb.shape[1] != local_emb.shape[1]):
        raise ValueError(f"dim_loss expects global_emb (B, E) and local_emb (N, E, L); got "
                         f"{tuple(global_emb.shape)} and {tuple(local_emb.shape)}")
    b = global_emb.shape[0]
    n, _, locs = local_emb.shape
    device = global_emb.device
    local = estimate(estimator, dim_scores(global_emb, local_emb),
                     offset_mask(b, n, locs, pos_offset, device=device), reduce_sum=reduce_sum)
    glob = local.new_zeros(())
    if global_weight:
        pooled = local_emb.mean(2, keepdim=True)  # (N, E, 1)
        glob = estimate(estimator, dim_scores(global_emb, pooled),
                        offset_mask(b, n, 1, pos_offset, device=device), reduce_sum=reduce_sum)
    return DIMLoss(-(local_weight * local + global_weight * glob), local, glob)
