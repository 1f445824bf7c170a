"""SwAV's swapped prediction (Caron et al. 2020, "Unsupervised learning of visual features
by contrasting cluster assignments", Sec. 3.1, Eqs. 1-3): the codes of one crop, computed
online by Sinkhorn-Knopp over the batch, are predicted from the prototype scores of every
other crop.

Pure functions of tensors. Scores, codes and log-softmaxes are computed in float32 at
least (float64 when given float64), with autocast off. Under data parallelism the codes are
those of the global batch: Sinkhorn's sums are all-reduced over the processes (as the
authors' ``distributed_sinkhorn``), and each process's loss is a mean over its own images,
so that DDP's averaging of the gradients gives the single-process update.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from infomax.dist import all_reduce_, world_size
from infomax.numerics import score_dtype


@torch.no_grad()
def sinkhorn(scores: Tensor, epsilon: float = 0.05, iterations: int = 3) -> Tensor:
    """Soft codes (B, K) of the prototype ``scores`` (B, K) of a batch by the Sinkhorn-Knopp
    algorithm (SwAV, Sec. 3.1 and App. A.1; the authors' ``distributed_sinkhorn``), without
    gradient.

    Q = exp(scores / epsilon)^T (K, B) is divided by its sum; then, ``iterations`` times,
    each row (prototype) is scaled to sum to 1/K and each column (image) to 1/B, B being
    the global number of images: B x the processes when torch.distributed is initialized,
    the row sums and the total then summed over every process. The codes returned are
    (Q x B)^T.

    After the last step, a column normalization, every row of the codes sums to 1 (to
    rounding): each image's code is a distribution over the prototypes. The prototype
    marginals (column sums of the codes over the global batch) are only close to B/K
    (the equipartition constraint), the closer the more iterations.

    The scores are shifted by their global maximum before the exponential: the
    normalizations remove any common factor, so the codes are those of
    exp(scores / epsilon), without its overflow for scores above about 4.4 at epsilon 0.05
    in float32. (For the same reason the division by the total and the value of B only
    scale what the next row normalization and the final scaling undo; they are kept as the
    authors write them. The all-reduced row sums are what make the codes the global
    batch's.)"""
    if scores.dim() != 2:
        raise ValueError(f"sinkhorn expects (B, K) scores; got shape {tuple(scores.shape)}")
    if iterations < 1 or epsilon <= 0:
        raise ValueError(f"sinkhorn needs iterations >= 1 and epsilon > 0; got "
                         f"{iterations} and {epsilon}")
    dtype = score_dtype(scores)
    with torch.autocast(device_type=scores.device.type, enabled=False):
        s = scores.detach().to(dtype)
        b, k = s.shape
        n = b * world_size()  # every process holds B rows (equal shares of the global batch)
        top = all_reduce_(s.max().clone(), "max")
        q = torch.exp((s - top) / epsilon).T                                   # (K, B)
        q /= all_reduce_(q.sum())
        for _ in range(iterations):
            q /= all_reduce_(q.sum(1, keepdim=True))   # each prototype: 1/K of the mass
            q /= k
            q /= q.sum(0, keepdim=True)                # each image: 1/B of the mass
            q /= n
        return (q * n).T


def swav_loss(large: Sequence[Tensor], small: Sequence[Tensor], temperature: float = 0.1,
              sinkhorn_iterations: int = 3, epsilon: float = 0.05,
              queue: Sequence[Tensor] | None = None) -> Tensor:
    """SwAV's multi-crop swapped-prediction loss (Caron et al. 2020, Eqs. 1-3 and Sec. 3.2),
    as the authors' code averages it.

    For each large crop i the codes q_i = ``sinkhorn(large[i])`` (no gradient; with
    ``queue``, Sinkhorn runs on ``cat(queue[i], large[i])`` and the last B rows are kept).
    Crop i's loss is the mean over every other crop v (the other large crops and all small
    ones) of the cross-entropy -sum_k q_i[b, k] log softmax(scores_v[b] / temperature)[k],
    averaged over the batch; the loss is the mean over the large crops.

    Args:
        large: prototype scores (B, K) of each large crop (the crops codes are computed for,
            the authors' ``crops_for_assign``), at least one.
        small: prototype scores (B, K) of each small crop (predicting only).
        temperature: tau of the softmax over the prototypes.
        sinkhorn_iterations, epsilon: of ``sinkhorn``.
        queue: None, or one (Q, K) tensor per large crop: the prototype scores of features
            of earlier batches kept for that crop (this process's share of the queue).
    """
    large, small = list(large), list(small)
    crops = large + small
    if not large or len(crops) < 2:
        raise ValueError(f"swav_loss needs at least one large crop and two crops in all; "
                         f"got {len(large)} large and {len(small)} small")
    shape = crops[0].shape
    if len(shape) != 2 or any(c.shape != shape for c in crops):
        raise ValueError(f"swav_loss expects (B, K) scores of one shape for every crop; got "
                         f"{[tuple(c.shape) for c in crops]}")
    if queue is not None and (len(queue) != len(large) or any(
            q.dim() != 2 or q.shape[1] != shape[1] for q in queue)):
        raise ValueError(f"swav_loss: queue must hold one (Q, {shape[1]}) tensor per large "
                         f"crop ({len(large)}); got {[tuple(q.shape) for q in queue]}")
    b = shape[0]
    dtype = score_dtype(crops[0])
    with torch.autocast(device_type=crops[0].device.type, enabled=False):
        log_p = [F.log_softmax(c.to(dtype) / temperature, dim=1) for c in crops]
        total = crops[0].new_zeros((), dtype=dtype)
        for i, scores in enumerate(large):
            assign = scores.detach().to(dtype)
            if queue is not None:
                assign = torch.cat([queue[i].detach().to(dtype), assign])
            codes = sinkhorn(assign, epsilon, sinkhorn_iterations)[-b:]
            others = [v for v in range(len(crops)) if v != i]
            crop_loss = sum(-(codes * log_p[v]).sum(1).mean() for v in others)
            total = total + crop_loss / len(others)
        return total / len(large)


__all__ = ["sinkhorn", "swav_loss"]
