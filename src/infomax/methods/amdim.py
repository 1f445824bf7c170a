"""AMDIM (Bachman, Hjelm and Buchwalter 2019): multiscale NCE between two augmented views."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from infomax.losses import amdim_multiscale_loss
from infomax.methods.base import SSLMethod
from infomax.nn.amdim import AMDIMEncoder


class AMDIM(SSLMethod):
    def __init__(self, config: Any, num_classes: int, in_channels: int, image_size: int) -> None:
        super().__init__(config, num_classes, in_channels, image_size)
        m = self.cfg.model
        self.encoder = AMDIMEncoder(image_size, in_channels, m.ndf, m.n_rkhs, m.n_depth, m.use_bn)
        self.build_probes(m.n_rkhs)
        if self.cfg.train.channels_last:
            self.encoder.to(memory_format=torch.channels_last)

    def ssl_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor], Tensor, Tensor]:
        (x1, x2), labels = batch
        # One encoder pass per view, as the public code does: BatchNorm statistics are
        # those of each view's batch, never mixed across the two views.
        o1 = self.encoder(self._memory_format(x1))
        o2 = self.encoder(self._memory_format(x2))
        loss = amdim_multiscale_loss(o1, o2, self.cfg.loss.tclip or None,
                                     reg_coef=self.cfg.loss.reg_coef)
        logs = {"l1t5": loss.l1t5, "l1t7": loss.l1t7, "l5t5": loss.l5t5, "reg": loss.reg}
        feats = torch.cat([o1.global_, o2.global_])
        return loss.total, logs, feats, torch.cat([labels, labels])
