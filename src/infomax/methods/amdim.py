"""AMDIM (Bachman, Hjelm and Buchwalter 2019): multiscale NCE between two augmented views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from infomax.config import Config, setting
from infomax.dist import gather_targets, world_size
from infomax.errors import ConfigError
from infomax.losses import amdim_multiscale_loss
from infomax.methods.base import SSLMethod, register_method
from infomax.methods.contract import Batch, StepOutput
from infomax.nn.amdim import AMDIMEncoder, EncoderOutput, MixtureHead


@dataclass
class LossConfig:
    tclip: float = setting(20.0, min=0.0, help="soft clip of the NCE scores (0: off)")
    reg_coef: float = setting(0.05, min=0.0, help="weight of the score regularizer")
    multiscale: bool = setting(True, help="AMDIM's three costs 1->5, 1->7 and 5->5; false: "
                                          "the single-scale 1->7 cost only")


@dataclass
class MixtureConfig:
    """AMDIM's mixture-based representations (paper Sec. 3.7; spec amdim.md Sec. 3)."""

    k: int = setting(1, min=1, help="mixture vectors per global feature (1: off, the plain cost)")
    tau: float = setting(1.0, min=0.0, help="q(j | i) = softmax_j(tau * s_ij)")
    alpha: float = setting(1.0, min=0.0, help="weight of the entropy term alpha * H(q)")


def gather_local_targets(o1: EncoderOutput, o2: EncoderOutput
                         ) -> tuple[EncoderOutput, EncoderOutput, int]:
    """The 5x5 and 7x7 maps of both views gathered over all processes (one collective),
    as target EncoderOutputs, and this process's offset in them. One process: as given."""
    if world_size() == 1:
        return o1, o2, 0
    d, h5, w5 = o1.local5.shape[1:]
    h7, w7 = o1.local7.shape[2:]
    # (B, 2, D, 25 + 49): both views, both scales, packed for a single all_gather.
    packed = torch.stack([torch.cat([o.local5.flatten(2), o.local7.flatten(2)], 2)
                          for o in (o1, o2)], 1)
    full, offset = gather_targets(packed)
    n = full.shape[0]
    l5, l7 = full[..., :h5 * w5], full[..., h5 * w5:]
    targets = [EncoderOutput(None, l5[:, v].reshape(n, d, h5, w5), l7[:, v].reshape(n, d, h7, w7))
               for v in (0, 1)]
    return targets[0], targets[1], offset


@register_method("amdim", sections={"loss": LossConfig, "mixture": MixtureConfig},
                 summary="multiscale NCE between two augmented views (the default)")
class AMDIM(SSLMethod):
    loss_caption = ("AMDIM's noise-contrastive losses per logged training step: global (1×1) "
                    "features predicting 5×5 and 7×7 local features of the other view, 5×5 "
                    "predicting 5×5, and their total; right: the weighted score regularizer.")

    @classmethod
    def check_config(cls, cfg: Config) -> None:
        if cfg.method == "amdim" and cfg.model.encoder != "amdim":
            raise ConfigError(f"model.encoder: {cfg.model.encoder!r} cannot run method amdim, "
                              f"whose multiscale cost needs the AMDIM encoder's 5x5 and 7x7 "
                              f"maps; use model.encoder=amdim, or another --method")
        if cfg.method != "amdim" and cfg.mixture.k > 1:
            raise ConfigError(f"mixture.k: {cfg.mixture.k} needs method amdim (mixture-based "
                              f"representations are part of AMDIM's cost); use mixture.k=1 "
                              f"with method {cfg.method}")

    def __init__(self, config: Any, num_classes: int, in_channels: int, image_size: int) -> None:
        super().__init__(config, num_classes, in_channels, image_size)
        self.encoder: AMDIMEncoder = self.make_backbone(local_heads=True)  # config: encoder=amdim
        if not self.cfg.loss.multiscale:
            # The single-scale cost (1->7) never reads the 5x5 embedding: freeze it, which
            # keeps it out of the optimizer and DDP from waiting for its gradients.
            self.encoder.embed5.requires_grad_(False)
        # Mixture vectors feed the cost only; probes and embeddings use the plain feature.
        k = self.cfg.mixture.k
        self.mixture = MixtureHead(self.encoder.feature_dim, k) if k > 1 else None
        self.build_probes(self.encoder.feature_dim)

    def ssl_step(self, batch: Batch) -> StepOutput:
        x1, x2 = batch.views
        # One encoder pass per view, as the public code does: BatchNorm statistics are
        # those of each view's batch, never mixed across the two views.
        o1 = self.encoder(self._memory_format(x1))
        o2 = self.encoder(self._memory_format(x2))
        # Negatives come from the global batch: targets gathered from every process.
        t1, t2, offset = gather_local_targets(o1, o2)
        mix = self.cfg.mixture
        mix1, mix2 = ((self.mixture(o1.global_), self.mixture(o2.global_))
                      if self.mixture is not None else (None, None))
        loss = amdim_multiscale_loss(o1, o2, self.cfg.loss.tclip or None,
                                     reg_coef=self.cfg.loss.reg_coef, trg1=t1, trg2=t2,
                                     pos_offset=offset, multiscale=self.cfg.loss.multiscale,
                                     mix1=mix1, mix2=mix2, tau=mix.tau, alpha=mix.alpha)
        logs = {name: value for name, value in
                (("l1t5", loss.l1t5), ("l1t7", loss.l1t7), ("l5t5", loss.l5t5),
                 ("reg", loss.reg)) if value is not None}
        feats = torch.cat([o1.global_, o2.global_])
        return StepOutput(loss.total, logs, feats, torch.cat([batch.labels, batch.labels]))
