"""BYOL (Grill et al. 2020): an online network with a predictor regresses the projection
of the other view by a target network, the online network's exponential moving average;
no negatives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from infomax.config import setting
from infomax.losses.contrastive import byol_regression
from infomax.methods import recipes
from infomax.methods.base import register_method
from infomax.methods.contract import Batch, StepOutput
from infomax.methods.momentum import MomentumMethod
from infomax.nn.heads import projection_mlp
from infomax.nn.momentum import byol_momentum


@dataclass
class BYOLConfig:
    proj_dim: int = setting(256, min=1, help="projection and prediction size")
    hidden_dim: int = setting(4096, min=1, help="hidden width of projector and predictor")
    momentum: float = setting(0.996, min=0.0, help="base target EMA rate, raised to 1 on a "
                                                   "cosine schedule over training")


@register_method("byol", sections={"byol": BYOLConfig},
                 summary="regress a momentum target network's projection; no negatives",
                 recipe=recipes.BYOL)
class BYOL(MomentumMethod):
    """The symmetric loss of the paper (Sec. 3.1): L + L~, both view orders, each
    2 - 2 cos(q, z') averaged over the batch. One encoder pass per view, as the public code
    does (BatchNorm statistics of each view's batch). The target is updated after each
    optimizer step with tau_k rising from ``byol.momentum`` to 1 on a cosine over the run's
    steps (``infomax.nn.momentum.byol_momentum``); without a Trainer it stays at the base."""

    def __init__(self, config: Any, num_classes: int, in_channels: int, image_size: int) -> None:
        super().__init__(config, num_classes, in_channels, image_size)
        c = self.cfg.byol
        self.encoder = self.make_backbone()
        d = self.encoder.feature_dim
        self.projector = projection_mlp(d, c.hidden_dim, c.proj_dim)
        self.predictor = projection_mlp(c.proj_dim, c.hidden_dim, c.proj_dim)
        self.add_momentum_copy("target_encoder", "encoder")
        self.add_momentum_copy("target_projector", "projector")
        self.build_probes(d)

    def ssl_step(self, batch: Batch) -> StepOutput:
        x1, x2 = batch.views
        h1 = self.encoder.embed(self._memory_format(x1))
        h2 = self.encoder.embed(self._memory_format(x2))
        p1 = self.predictor(self.projector(h1))
        p2 = self.predictor(self.projector(h2))
        with torch.no_grad():
            z1 = self.target_projector(self.target_encoder.embed(self._memory_format(x1)))
            z2 = self.target_projector(self.target_encoder.embed(self._memory_format(x2)))
        l12 = byol_regression(p1, z2)
        l21 = byol_regression(p2, z1)
        logs = {"loss_12": l12.detach(), "loss_21": l21.detach()}
        return StepOutput(l12 + l21, logs, torch.cat([h1, h2]),
                          torch.cat([batch.labels, batch.labels]))

    def momentum(self) -> float:
        """tau for the update that follows optimizer step k = global_step - 1."""
        base = self.cfg.byol.momentum
        trainer = self._trainer
        if trainer is None:
            return base
        total = trainer.estimated_stepping_batches
        if not total or total == float("inf"):
            return base
        return byol_momentum(base, self.global_step - 1, int(total))
