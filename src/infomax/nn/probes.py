"""Classifier heads on frozen or detached features (spec Sec. 4; the public code's
``MLPClassifier``), and the online probes every method trains beside its loss."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn


def linear_head(n_in: int, n_classes: int) -> nn.Module:
    return nn.Linear(n_in, n_classes)


def mlp_head(n_in: int, n_classes: int, hidden: int = 1024, dropout: float = 0.2) -> nn.Module:
    """Dropout -> Linear (no bias) -> BatchNorm -> ReLU -> Dropout -> Linear."""
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(n_in, hidden, bias=False),
                         nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                         nn.Linear(hidden, n_classes))


class OnlineProbes(nn.Module):
    """Linear and MLP classifiers trained on detached global features (spec Sec. 4).

    ``replay`` R > 0: each update also learns from R batches of features drawn from the
    last ``window`` steps, kept in ``recent``: more learning on nearly current features at
    no encoder cost. The draws come from a generator of the probes' own (seeded with
    ``seed``); the global one, which the methods draw from, is left alone. ``ema`` > 0: the
    probes are scored (``scored``) by a moving average of their weights, updated by
    ``update_average`` after every applied update; the batch statistics of the MLP's
    BatchNorm are copied."""

    def __init__(self, n_in: int, n_classes: int, ema: float = 0.0, replay: int = 0,
                 window: int = 16, seed: int = 0) -> None:
        super().__init__()
        self.linear = linear_head(n_in, n_classes)
        self.mlp = mlp_head(n_in, n_classes)
        self.ema, self.replay, self.window = ema, replay, window
        self.averaged: nn.ModuleDict | None = None
        if ema > 0:
            self.averaged = nn.ModuleDict({"linear": copy.deepcopy(self.linear),
                                           "mlp": copy.deepcopy(self.mlp)})
            self.averaged.requires_grad_(False)
        self.recent: list[tuple[Tensor, Tensor]] = []
        self.generator = torch.Generator().manual_seed(seed)

    def _prepare(self, feats: Tensor) -> Tensor:
        # Detached, and in the probes' own dtype (features may arrive in bf16 or fp16).
        return feats.detach().to(self.linear.weight.dtype)

    def forward(self, feats: Tensor) -> dict[str, Tensor]:
        feats = self._prepare(feats)
        return {"linear": self.linear(feats), "mlp": self.mlp(feats)}

    def scored(self, feats: Tensor) -> dict[str, Tensor]:
        """Logits of the classifiers the probes are scored by (the averaged ones with
        ``ema``)."""
        if self.averaged is None:
            return self(feats)
        feats = self._prepare(feats)
        return {name: head(feats) for name, head in self.averaged.items()}

    def with_replay(self, feats: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """(features, labels) of this update: the current batch first, then ``replay``
        batches drawn from the last ``window`` steps; the current batch is kept for the
        next steps."""
        if self.replay == 0:
            return feats, labels
        feats = self._prepare(feats)
        drawn = [self.recent[i] for i in torch.randint(
            len(self.recent), (self.replay,), generator=self.generator).tolist()
                 ] if self.recent else []
        self.recent = (self.recent + [(feats, labels)])[-self.window:]
        # (.to: batches restored from a checkpoint arrive on the CPU)
        return (torch.cat([feats, *(f.to(feats.device) for f, _ in drawn)]),
                torch.cat([labels, *(y.to(labels.device) for _, y in drawn)]))

    def replay_state(self) -> dict[str, Any]:
        """What an exact resume needs: the kept batches and the generator's state."""
        return {"recent": list(self.recent), "generator": self.generator.get_state()}

    def load_replay_state(self, state: dict[str, Any]) -> None:
        self.recent = list(state["recent"])
        self.generator.set_state(state["generator"])

    def forget_last(self) -> None:
        """Drop the batch ``with_replay`` kept last (its step was refused)."""
        self.recent = self.recent[:-1]

    @torch.no_grad()
    def update_average(self) -> None:
        if self.averaged is None:
            return
        for name, head in (("linear", self.linear), ("mlp", self.mlp)):
            avg = self.averaged[name]
            torch._foreach_lerp_(list(avg.parameters()), list(head.parameters()), 1 - self.ema)
            for b_avg, b in zip(avg.buffers(), head.buffers()):
                b_avg.copy_(b)
