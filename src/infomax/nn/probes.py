"""Classifier heads on frozen or detached features (spec Sec. 4; the public code's
``MLPClassifier``)."""

from __future__ import annotations

from torch import nn


def linear_head(n_in: int, n_classes: int) -> nn.Module:
    return nn.Linear(n_in, n_classes)


def mlp_head(n_in: int, n_classes: int, hidden: int = 1024, dropout: float = 0.2) -> nn.Module:
    """Dropout -> Linear (no bias) -> BatchNorm -> ReLU -> Dropout -> Linear."""
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(n_in, hidden, bias=False),
                         nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                         nn.Linear(hidden, n_classes))
