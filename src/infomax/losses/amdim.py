"""AMDIM's NCE costs (Bachman et al. 2019, Sec. 3.2-3.5 and the public code's cost).

Pure functions of tensors. Scores and their log-sum-exp are always computed in float32
(or float64 when given float64), whatever precision the features arrive in.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from infomax.numerics import profiler_range as _range, score_dtype

from infomax.nn.amdim import EncoderOutput

DEFAULT_TCLIP = 20.0
DEFAULT_REG_COEF = 0.05

# The parts of the NCE as profiler ranges (``infomax bench profile`` groups the time of
# their ops, and of those ops' backward, under these names).
NCE_RANGES = ("nce:scores", "nce:regularizer", "nce:soft clip", "nce:masks",
              "nce:log-sum-exp", "nce:mixture")


def tanh_clip(x: Tensor, clip: float | None) -> Tensor:
    """Soft clip to (-clip, clip): clip * tanh(x / clip); ``None`` or 0 leaves x as is."""
    if not clip:
        return x
    # tanh in place on the fresh quotient (its backward needs only clip): the same values
    # and gradients as clip * torch.tanh(x / clip), one full-size tensor fewer.
    return clip * (x / clip).tanh_()



def _check_nce_shapes(name: str, src: Tensor, trg: Tensor, src_dims: int,
                      pos_offset: int) -> None:
    shape = "(B, D)" if src_dims == 2 else "(B, K, D)"
    if src.dim() != src_dims or trg.dim() != 3:
        raise ValueError(f"{name} expects src {shape} and trg (N, D, L); got "
                         f"{tuple(src.shape)} and {tuple(trg.shape)}")
    if src.shape[-1] != trg.shape[1]:
        raise ValueError(f"src and trg feature sizes differ: src {tuple(src.shape)}, trg "
                         f"{tuple(trg.shape)}")
    b, n = src.shape[0], trg.shape[0]
    if not 0 <= pos_offset <= n - b:
        raise ValueError(f"pos_offset {pos_offset} out of range for src {tuple(src.shape)} "
                         f"and trg {tuple(trg.shape)}: needs 0 <= pos_offset <= N - B")


def _nce_log_scores(src: Tensor, trg: Tensor, tclip: float | None, reg_coef: float,
                    pos_offset: int) -> tuple[Tensor, Tensor]:
    """(B, K, L) NCE log-softmax scores of the positive of every (source b, component k,
    target location l), and the regularizer reg_coef * mean(s^2) over every raw score.
    ``src`` is (B, K, D), ``trg`` (N, D, L); computed in float32 (float64 for float64)."""
    b, k, d = src.shape
    n, _, locs = trg.shape
    dtype = score_dtype(src)
    with torch.autocast(device_type=src.device.type, enabled=False):
        with _range("nce:scores"):
            # (B*K, D) @ (D, N*L): one GEMM for every score, then (B, K, N, L).
            trg_flat = trg.to(dtype).permute(1, 0, 2).reshape(d, n * locs)
            raw = (src.to(dtype).reshape(b * k, d) @ trg_flat).view(b, k, n, locs) / math.sqrt(d)
        with _range("nce:regularizer"):
            reg = reg_coef * raw.square().mean()
        with _range("nce:soft clip"):
            scores = tanh_clip(raw, tclip)
        with _range("nce:masks"):
            rows = torch.arange(b, device=src.device)
            own = rows + pos_offset
            pos = scores[rows, :, own]                              # (B, K, L)
            # Exclude the whole positive image (all its locations) from the negatives with a
            # (B, 1, N, 1) boolean mask broadcast over components and locations: no
            # B x K x N x L float mask.
            is_own = torch.zeros(b, 1, n, 1, dtype=torch.bool, device=src.device)
            is_own[rows, :, own] = True
            negatives = scores.masked_fill(is_own, float("-inf"))
        with _range("nce:log-sum-exp"):
            neg_lse = negatives.view(b, k, n * locs).logsumexp(2)
            # log(e^pos / (e^pos + e^neg_lse)) = -softplus(neg_lse - pos), stable for any sign.
            log_scores = -F.softplus(neg_lse[..., None] - pos)
    return log_scores, reg


def amdim_pair_nce(src: Tensor, trg: Tensor, tclip: float | None = DEFAULT_TCLIP, *,
                   reg_coef: float = DEFAULT_REG_COEF, pos_offset: int = 0
                   ) -> tuple[Tensor, Tensor]:
    """NCE cost of predicting every target location from a source vector (spec Sec. 3, 1-5).

    Args:
        src: (B, D) one source vector per image.
        trg: (N, D, L) L target vectors per image, N >= B. Under data parallelism ``trg``
            holds the global batch and ``src`` this process's share.
        tclip: soft-clip value c for the scores (None or 0: no clip).
        reg_coef: weight of the score regularizer mean(s^2), taken before the clip.
        pos_offset: target image index of ``src[0]``'s positive (rank * B under DDP).

    Returns:
        (loss, regularizer): loss = -mean_{b,l} log(exp(s[b,b,l]) / (exp(s[b,b,l]) +
        sum_{b' != b, l'} exp(s[b,b',l']))) with s = <src_b, trg_{b',l}> / sqrt(D) soft-
        clipped; regularizer = reg_coef * mean(s^2) over all (b, b', l) before clipping.
        The other locations of image b are neither positives nor negatives for it.
    """
    _check_nce_shapes("amdim_pair_nce", src, trg, 2, pos_offset)
    log_scores, reg = _nce_log_scores(src[:, None], trg, tclip, reg_coef, pos_offset)
    return -log_scores.mean(), reg


def amdim_mixture_nce(src: Tensor, trg: Tensor, tclip: float | None = DEFAULT_TCLIP, *,
                      tau: float = 1.0, alpha: float = 1.0,
                      reg_coef: float = DEFAULT_REG_COEF, pos_offset: int = 0
                      ) -> tuple[Tensor, Tensor]:
    """Mixture-based NCE cost (paper Sec. 3.7; spec Sec. 3): K source vectors per image.

    With s[b, j, l] the NCE log-softmax score of component j of source b for its positive
    at target location l (the scores and negatives of ``amdim_pair_nce``),
    q(j | b, l) = softmax_j(tau * s[b, j, l]) and the cost is

        -mean_{b,l} [ sum_j q(j | b, l) s[b, j, l] + alpha * H(q(. | b, l)) ].

    q is part of the cost, not a constant: the gradient flows through it too. With
    tau = alpha = 1, q is the exact posterior and the bracket equals logsumexp_j s[b, j, l].
    With K = 1 the cost is exactly ``amdim_pair_nce`` of that one component.

    Args:
        src: (B, K, D) K mixture vectors per image.
        trg, tclip, reg_coef, pos_offset: as for ``amdim_pair_nce``; the regularizer is
            taken over the scores of every component.

    Returns:
        (loss, regularizer).
    """
    _check_nce_shapes("amdim_mixture_nce", src, trg, 3, pos_offset)
    log_scores, reg = _nce_log_scores(src, trg, tclip, reg_coef, pos_offset)
    with torch.autocast(device_type=src.device.type, enabled=False), _range("nce:mixture"):
        logits = tau * log_scores
        q = logits.softmax(1)
        entropy = -(q * logits.log_softmax(1)).sum(1)               # (B, L)
        objective = (q * log_scores).sum(1) + alpha * entropy
    return -objective.mean(), reg


class MultiscaleLoss(NamedTuple):
    """The AMDIM costs (each averaged over both directions), the summed regularizer, and
    their total, which is what is minimised. ``l1t5`` and ``l5t5`` are None for the
    single-scale cost."""

    total: Tensor
    l1t5: Tensor | None
    l1t7: Tensor
    l5t5: Tensor | None
    reg: Tensor


def sample_locations(local: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One location per image, drawn uniformly: (B, D, H, W) -> (B, D)."""
    if local.dim() != 4:
        raise ValueError(f"sample_locations expects a local map (B, D, H, W); got "
                         f"{tuple(local.shape)}")
    b, d, h, w = local.shape
    idx = torch.randint(h * w, (b,), device=local.device, generator=generator)
    return local.flatten(2)[torch.arange(b, device=local.device), :, idx]


def amdim_multiscale_loss(out1: EncoderOutput, out2: EncoderOutput,
                          tclip: float | None = DEFAULT_TCLIP, *,
                          reg_coef: float = DEFAULT_REG_COEF,
                          trg1: EncoderOutput | None = None, trg2: EncoderOutput | None = None,
                          pos_offset: int = 0, multiscale: bool = True,
                          mix1: Tensor | None = None, mix2: Tensor | None = None,
                          tau: float = 1.0, alpha: float = 1.0,
                          generator: torch.Generator | None = None) -> MultiscaleLoss:
    """Multiscale AMDIM cost: 1->5, 1->7 and 5->5, each in both directions and averaged;
    total = L_1t5 + L_1t7 + L_5t5 + 0.5 * (sum of the six regularizers). With
    ``multiscale=False``, the single-scale cost: L_1t7 + 0.5 * (its two regularizers).

    ``out1``/``out2`` are the two views' encoder outputs for this process's images. The
    targets come from ``trg1``/``trg2`` when given (the views gathered over all processes,
    with ``pos_offset`` locating this process's images in them), else from out1/out2.
    ``mix1``/``mix2`` (B, K, D), when given, are the views' mixture vectors: the costs whose
    source is the global vector (1->5, 1->7) are then ``amdim_mixture_nce`` with ``tau`` and
    ``alpha``; 5->5 keeps its single source vector.
    """
    trg1 = out1 if trg1 is None else trg1
    trg2 = out2 if trg2 is None else trg2
    for name, out in (("out1", out1), ("out2", out2), ("trg1", trg1), ("trg2", trg2)):
        # Gathered targets carry no global vector (None): only their maps are read.
        if ((name.startswith("out") and (out.global_ is None or out.global_.dim() != 2))
                or out.local5.dim() != 4 or out.local7.dim() != 4):
            glob = None if out.global_ is None else tuple(out.global_.shape)
            raise ValueError(f"amdim_multiscale_loss expects {name} = (global (B, D), local5 "
                             f"and local7 (B, D, H, W)); got {glob}, "
                             f"{tuple(out.local5.shape)} and {tuple(out.local7.shape)}")
    if (mix1 is None) != (mix2 is None):
        raise ValueError("give the mixture vectors of both views (mix1 and mix2) or of none")
    if mix1 is not None:
        s1: tuple[Tensor, Tensor] = (mix1, mix2)

        def nce(src: Tensor, trg: Tensor) -> tuple[Tensor, Tensor]:
            return amdim_mixture_nce(src, trg, tclip, tau=tau, alpha=alpha,
                                     reg_coef=reg_coef, pos_offset=pos_offset)
    else:
        s1 = (out1.global_, out2.global_)

        def nce(src: Tensor, trg: Tensor) -> tuple[Tensor, Tensor]:
            return amdim_pair_nce(src, trg, tclip, reg_coef=reg_coef, pos_offset=pos_offset)

    def pair(src: Tensor, trg: Tensor) -> tuple[Tensor, Tensor]:
        return amdim_pair_nce(src, trg, tclip, reg_coef=reg_coef, pos_offset=pos_offset)

    def both(cost, src: tuple[Tensor, Tensor], trg: tuple[Tensor, Tensor]
             ) -> tuple[Tensor, Tensor]:
        la, ra = cost(src[0], trg[1])
        lb, rb = cost(src[1], trg[0])
        return 0.5 * (la + lb), ra + rb

    t7 = (trg1.local7.flatten(2), trg2.local7.flatten(2))
    l1t7, r1t7 = both(nce, s1, t7)
    if not multiscale:
        reg = 0.5 * r1t7
        return MultiscaleLoss(l1t7 + reg, None, l1t7, None, reg)
    t5 = (trg1.local5.flatten(2), trg2.local5.flatten(2))
    s5 = (sample_locations(out1.local5, generator), sample_locations(out2.local5, generator))
    l1t5, r1t5 = both(nce, s1, t5)
    l5t5, r5t5 = both(pair, s5, t5)
    reg = 0.5 * (r1t5 + r1t7 + r5t5)
    return MultiscaleLoss(l1t5 + l1t7 + l5t5 + reg, l1t5, l1t7, l5t5, reg)
