"""CPC on image patches (van den Oord et al. 2018, Sec. 3.3; Henaff et al. 2019, CPC v2
Sec. 2): InfoNCE of predicted patch codes against every patch code of the batch."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from infomax.losses.estimators import estimate
from infomax.numerics import score_dtype


def cpc_scores(preds: Sequence[Tensor], codes: Tensor, pos_offset: int = 0
               ) -> tuple[Tensor, Tensor]:
    """Scores of every prediction against every candidate code, and the positive mask.

    Args:
        preds: K tensors, preds[k - 1] of shape (B, D, R - k, C): W_k c[b, :, i, j] for the
            rows i with i + k < R (R x C the patch grid).
        codes: (N, D, R, C) patch codes z of the candidates' images, N >= B (the global
            batch under data parallelism; this process's images start at ``pos_offset``).

    Returns:
        (scores (P, N * R * C), pos_mask (P, N * R * C)) with P = sum_k B (R - k) C the
        predictions, ordered (k, b, i, j); the positive of prediction (k, b, i, j) is
        z[b + pos_offset, :, i + k, j]. Scores are float32 (float64 for float64 inputs).
    """
    if codes.dim() != 4:
        raise ValueError(f"cpc_scores expects codes (N, D, R, C); got {tuple(codes.shape)}")
    if not preds:
        raise ValueError("cpc_scores expects at least one prediction (B, D, R - k, C)")
    n, d, rows, cols = codes.shape
    dtype = score_dtype(codes)
    cand = codes.to(dtype).permute(0, 2, 3, 1).reshape(n * rows * cols, d)
    flat, pos = [], []
    for k, p in enumerate(preds, start=1):
        if p.dim() != 4 or not 0 <= pos_offset <= n - p.shape[0]:
            raise ValueError(f"prediction {k} has shape {tuple(p.shape)}; expected (B, {d}, "
                             f"{rows - k}, {cols}) with B <= {n - pos_offset} (codes "
                             f"{tuple(codes.shape)}, pos_offset {pos_offset})")
        b, d_p, r_k, c_k = p.shape
        if d_p != d or r_k != rows - k or c_k != cols:
            raise ValueError(f"prediction {k} has shape {tuple(p.shape)}; expected "
                             f"(B, {d}, {rows - k}, {cols})")
        flat.append(p.to(dtype).permute(0, 2, 3, 1).reshape(-1, d))
        bi, ii, jj = torch.meshgrid(torch.arange(b), torch.arange(r_k), torch.arange(cols),
                                    indexing="ij")
        pos.append((((bi + pos_offset) * rows + ii + k) * cols + jj).flatten())
    with torch.autocast(device_type=codes.device.type, enabled=False):
        scores = torch.cat(flat) @ cand.T
    index = torch.cat(pos).to(codes.device)
    mask = torch.zeros_like(scores, dtype=torch.bool)
    mask[torch.arange(index.numel(), device=codes.device), index] = True
    return scores, mask


def cpc_infonce(preds: Sequence[Tensor], codes: Tensor, pos_offset: int = 0) -> Tensor:
    """CPC's InfoNCE estimate (maximise it): mean over predictions of s_pos - logsumexp
    over all N * R * C candidate codes, + log(N * R * C). Every other patch of the batch,
    of the same image or another, is a negative (CPC v2)."""
    scores, mask = cpc_scores(preds, codes, pos_offset)
    return estimate("infonce", scores, mask)
