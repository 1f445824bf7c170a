"""Local Deep InfoMax (Hjelm et al., ICLR 2019): the global vector of an image against
every location of an intermediate feature map, negatives from the other images."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from infomax.config import setting
from infomax.dist import gather_targets, global_sum, world_size
from infomax.errors import ConfigError
from infomax.losses.dim import dim_loss
from infomax.methods import recipes
from infomax.methods.base import SSLMethod, register_method
from infomax.methods.contract import Batch, StepOutput
from infomax.nn.timm_backbones import LOCAL_MIN


@dataclass
class DIMConfig:
    estimator: str = setting("jsd", choices=("jsd", "infonce", "dv"),
                        help="MI estimator of the local (and global) term")
    embed_dim: int = setting(512, min=1, help="size of the critic's embeddings (global MLP and "
                                               "local 1x1-conv MLP)")
    local_weight: float = setting(1.0, min=0.0, help="beta: weight of the local term")
    global_weight: float = setting(0.0, min=0.0, help="alpha: weight of the optional global term "
                                                      "(global vector against the flattened map)")


class EmbedHead(nn.Module):
    """DIM's critic embedding (the public code's MI1x1ConvNet / MIFCNet): a one-hidden-layer
    ReLU MLP plus a linear shortcut, n_in -> n_out. ``conv`` applies it at every location
    of a (B, C, H, W) map as 1x1 convolutions; otherwise to (B, C) vectors."""

    def __init__(self, n_in: int, n_out: int, conv: bool) -> None:
        super().__init__()
        layer = (lambda i, o: nn.Conv2d(i, o, 1)) if conv else nn.Linear
        self.mlp = nn.Sequential(layer(n_in, n_out), nn.ReLU(inplace=True), layer(n_out, n_out))
        self.shortcut = layer(n_in, n_out)

    def forward(self, x: Tensor) -> Tensor:
        return self.mlp(x) + self.shortcut(x)


@register_method("dim", sections={"dim": DIMConfig},
                 summary="local Deep InfoMax: the global vector against every location",
                 recipe=recipes.DIM)
class DIM(SSLMethod):
    """Local DIM with the ``dim`` config section (estimator, embed_dim, local_weight beta,
    global_weight alpha). DIM has no augmented views: only view x1 of each batch is used
    (x2 is ignored). The online probes train on the encoder's global vector."""

    def __init__(self, config: Any, num_classes: int, in_channels: int, image_size: int) -> None:
        super().__init__(config, num_classes, in_channels, image_size)
        self.encoder = self.make_backbone()
        self._check_local_map(image_size)
        e = self.cfg.dim.embed_dim
        self.global_head = EmbedHead(self.encoder.feature_dim, e, conv=False)
        self.local_head = EmbedHead(self.encoder.local_dim, e, conv=True)
        self.build_probes(self.encoder.feature_dim)

    def _check_local_map(self, image_size: int) -> None:
        # An encoder that says how large its local map is (timm's) must give the local
        # term LOCAL_MIN x LOCAL_MIN locations at least (the ViTs' patch grid at 32 px does
        # not).
        side = getattr(self.encoder, "local_size", None)
        if side is not None and side < LOCAL_MIN:
            need = -(-image_size * LOCAL_MIN // max(side, 1))
            raise ConfigError(
                f"model.encoder: {self.cfg.model.encoder} gives a {side}x{side} local map on "
                f"{image_size} px images, and dim needs at least {LOCAL_MIN}x{LOCAL_MIN}; set "
                f"data.image_size to {need} or more, or choose another model.encoder")

    def ssl_step(self, batch: Batch) -> StepOutput:
        x1 = batch.views[0]
        g, local = self.encoder.forward_features(self._memory_format(x1))
        src = self.global_head(g)
        trg = self.local_head(local).flatten(2)  # (B, E, h * w)
        # Negatives are the other images of the global batch: gather the local targets.
        trg, offset = gather_targets(trg)
        c = self.cfg.dim
        out = dim_loss(src, trg, c.estimator, local_weight=c.local_weight,
                       global_weight=c.global_weight, pos_offset=offset,
                       reduce_sum=global_sum if world_size() > 1 else None)
        logs = {"local_mi": out.local}
        if c.global_weight:
            logs["global_mi"] = out.global_
        return StepOutput(out.total, logs, g, batch.labels)
