"""SimCLR (Chen, Kornblith, Norouzi and Hinton 2020): NT-Xent between two views of each
image through a projection MLP, the other 2N - 2 views of the global batch as negatives."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from infomax.dist import gather_targets
from infomax.losses.contrastive import nt_xent
from infomax.methods.base import SSLMethod


def projection_mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    """Linear -> BatchNorm -> ReLU -> Linear (SimCLR's g, BYOL's projector and predictor)."""
    return nn.Sequential(nn.Linear(n_in, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                         nn.Linear(hidden, n_out))


class SimCLR(SSLMethod):
    def __init__(self, config: Any, num_classes: int, in_channels: int, image_size: int) -> None:
        super().__init__(config, num_classes, in_channels, image_size)
        c = self.cfg.simclr
        self.encoder = self.make_backbone()
        d = self.encoder.feature_dim
        self.projector = projection_mlp(d, c.hidden_dim, c.embed_dim)
        self.build_probes(d)

    def ssl_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor], Tensor, Tensor]:
        (x1, x2), labels = batch[0], batch[1]
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
        return loss, {"nt_xent": loss.detach()}, h, torch.cat([labels, labels])
