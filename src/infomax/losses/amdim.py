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

from infomax.nn.amdim import EncoderOutput

DEFAULT_TCLIP = 20.0
DEFAULT_REG_COEF = 0.05


def tanh_clip(x: Tensor, clip: float | None) -> Tensor:
    """Soft clip to (-clip, clip): clip * tanh(x / clip); ``None`` or 0 leaves x as is."""
    if not clip:
        return x
    return clip * torch.tanh(x / clip)


def _score_dtype(x: Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


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
    if src.dim() != 2 or trg.dim() != 3:
        raise ValueError(f"amdim_pair_nce expects src (B, D) and trg (N, D, L); got "
                         f"{tuple(src.shape)} and {tuple(trg.shape)}")
    b, d = src.shape
    n, d_t, locs = trg.shape
    if d != d_t:
        raise ValueError(f"src and trg feature sizes differ: src {tuple(src.shape)}, trg "
                         f"{tuple(trg.shape)}")
    if not 0 <= pos_offset <= n - b:
        raise ValueError(f"pos_offset {pos_offset} out of range for src {tuple(src.shape)} "
                         f"and trg {tuple(trg.shape)}: needs 0 <= pos_offset <= N - B")
    dtype = _score_dtype(src)
    # (B, D) @ (D, N*L): one GEMM for every score, then (B, N, L).
    trg_flat = trg.to(dtype).permute(1, 0, 2).reshape(d, n * locs)
    with torch.autocast(device_type=src.device.type, enabled=False):
        raw = (src.to(dtype) @ trg_flat).view(b, n, locs) / math.sqrt(d)
        reg = reg_coef * raw.square().mean()
        scores = tanh_clip(raw, tclip)
        rows = torch.arange(b, device=src.device)
        own = rows + pos_offset
        pos = scores[rows, own]                                     # (B, L)
        # Exclude the whole positive image (all its locations) from the negatives with a
        # (B, N, 1) boolean mask broadcast over locations: no B x N x L float mask.
        is_own = torch.zeros(b, n, 1, dtype=torch.bool, device=src.device)
        is_own[rows, own] = True
        neg_lse = scores.masked_fill(is_own, float("-inf")).view(b, n * locs).logsumexp(1)
        # -log(e^pos / (e^pos + e^neg_lse)) = softplus(neg_lse - pos), stable for any sign.
        loss = F.softplus(neg_lse[:, None] - pos).mean()
    return loss, reg


class MultiscaleLoss(NamedTuple):
    """The three AMDIM costs (each averaged over both directions), the summed regularizer,
    and their total, which is what is minimised."""

    total: Tensor
    l1t5: Tensor
    l1t7: Tensor
    l5t5: Tensor
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
                          pos_offset: int = 0,
                          generator: torch.Generator | None = None) -> MultiscaleLoss:
    """Multiscale AMDIM cost: 1->5, 1->7 and 5->5, each in both directions and averaged;
    total = L_1t5 + L_1t7 + L_5t5 + 0.5 * (sum of the six regularizers).

    ``out1``/``out2`` are the two views' encoder outputs for this process's images. The
    targets come from ``trg1``/``trg2`` when given (the views gathered over all processes,
    with ``pos_offset`` locating this process's images in them), else from out1/out2.
    """
    trg1 = out1 if trg1 is None else trg1
    trg2 = out2 if trg2 is None else trg2
    for name, out in (("out1", out1), ("out2", out2), ("trg1", trg1), ("trg2", trg2)):
        if out.global_.dim() != 2 or out.local5.dim() != 4 or out.local7.dim() != 4:
            raise ValueError(f"amdim_multiscale_loss expects {name} = (global (B, D), local5 "
                             f"and local7 (B, D, H, W)); got {tuple(out.global_.shape)}, "
                             f"{tuple(out.local5.shape)} and {tuple(out.local7.shape)}")
    t5 = (trg1.local5.flatten(2), trg2.local5.flatten(2))
    t7 = (trg1.local7.flatten(2), trg2.local7.flatten(2))
    s5 = (sample_locations(out1.local5, generator), sample_locations(out2.local5, generator))
    s1 = (out1.global_, out2.global_)

    def both(src: tuple[Tensor, Tensor], trg: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        la, ra = amdim_pair_nce(src[0], trg[1], tclip, reg_coef=reg_coef, pos_offset=pos_offset)
        lb, rb = amdim_pair_nce(src[1], trg[0], tclip, reg_coef=reg_coef, pos_offset=pos_offset)
        return 0.5 * (la + lb), ra + rb

    l1t5, r1t5 = both(s1, t5)
    l1t7, r1t7 = both(s1, t7)
    l5t5, r5t5 = both(s5, t5)
    reg = 0.5 * (r1t5 + r1t7 + r5t5)
    return MultiscaleLoss(l1t5 + l1t7 + l5t5 + reg, l1t5, l1t7, l5t5, reg)
