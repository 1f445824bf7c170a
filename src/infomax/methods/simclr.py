"""SimCLR (Chen, Kornblith, Norouzi and Hinton 2020): NT-Xent between two views of each
image through a projection MLP, the other 2N - 2 views of the global batch as negatives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from infomax.config import setting
from infomax.dist import gather_targets
from infomax.losses.contrastive import nt_xent
from infomax.methods import recipes
from infomax.methods.base import SSLMethod, register_method
from infomax.methods.contract import Batch, StepOutput
from infomax.nn.heads import projection_mlp


@dataclass
class SimCLRConfig:
    embed_dim: int = setting(128, min=1, help="projection size")
    hidden_dim: int = setting(2048, min=1, help="hidden width of the projection MLP")
    temperature: float = setting(0.5, min=1e-6)


@register_method("simclr", sections={"simclr": SimCLRConfig},
                 summary="NT-Xent between two views through a projection MLP",
                 recipe=recipes.SIMCLR)
class SimCLR(SSLMethod):
    def __init__(self, config: Any, num_classes: int, in_channels: int, image_size: int) -> None:
        super().__init__(config, num_classes, in_channels, image_size)
        c = self.cfg.simclr
        self.encoder = self.make_backbone()
        d = self.encoder.feature_dim
        self.projector = projection_mlp(d, c.hidden_dim, c.embed_dim)
        self.build_probes(d)

    def ssl_step(self, batch: Batch) -> StepOutput:
        x1, x2 = batch.views
        b = x1.shape[0]
        # Both views in one pass, as the public SimCLR code: BatchNorm statistics are those
        # of all 2B views (of the global 2N under synchronized BatchNorm).
        h = self.encoder.embed(self._memory_format(torch.cat([x1, x2])))
        z = self.projector(h)
        z1, z2 = z[:b], z[b:]
        # Negatives from the global batch: both views gathered in one collective.
        full, offset = gather_targets(torch.stack([z1, z2], 1))
        loss = nt_xent(z1, z2, self.cfg.simclr.temperature,
                       targets=(full[:, 0], full[:, 1]), pos_offset=offset)
        return StepOutput(loss, {"nt_xent": loss.detach()}, h,
                          torch.cat([batch.labels, batch.labels]))
