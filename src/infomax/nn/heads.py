"""Projection heads of the contrastive methods."""

from __future__ import annotations

from torch import nn


def projection_mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    """Linear -> BatchNorm -> ReLU -> Linear (SimCLR's g, BYOL's projector and predictor)."""
    return nn.Sequential(nn.Linear(n_in, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                         nn.Linear(hidden, n_out))


def moco_head(n_in: int, n_out: int, hidden: int | None = None) -> nn.Module:
    """MoCo's projection: linear (v1, ``hidden`` None) or a 2-layer MLP without BatchNorm
    (v2)."""
    if hidden is None:
        return nn.Linear(n_in, n_out)
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, n_out))
