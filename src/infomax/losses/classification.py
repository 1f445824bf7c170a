"""Classifier cost of AMDIM's online evaluation heads (spec Sec. 4; the public code's
``loss_xent``): cross entropy on logits soft-clipped at 10, plus 1e-3 * mean(logits^2)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from infomax.losses.amdim import tanh_clip


def clipped_cross_entropy(logits: Tensor, labels: Tensor, clip: float = 10.0,
                          reg_coef: float = 1e-3, ignore_index: int = -1) -> Tensor:
    """Mean cross entropy of ``clip * tanh(logits / clip)`` over labelled rows (label
    ``ignore_index`` marks unlabelled images), plus ``reg_coef * mean(logits^2)``."""
    if logits.dim() != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(f"clipped_cross_entropy expects logits (B, C) and labels (B,); got "
                         f"{tuple(logits.shape)} and {tuple(labels.shape)}")
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()  # the cost in fp32 under mixed precision
    reg = reg_coef * logits.square().mean()
    if (labels != ignore_index).any():
        xent = F.cross_entropy(tanh_clip(logits, clip), labels, ignore_index=ignore_index)
    else:  # a batch with no labels (STL-10 unlabeled) trains nothing but the regularizer
        xent = logits.sum() * 0.0
    return xent + reg
