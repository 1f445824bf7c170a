"""SwAV (Caron et al. 2020, "Unsupervised learning of visual features by contrasting cluster
assignments"): online codes of each large crop, by Sinkhorn-Knopp over the batch against a
set of learned prototypes, are predicted from every other crop (swapped prediction), with
multi-crop: two large crops and several small ones of each image."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomax.config import setting
from infomax.data.multicrop import ExtraCrops
from infomax.dist import gather_no_grad, rank, world_size
from infomax.errors import ConfigError
from infomax.losses.swav import swav_loss
from infomax.methods import recipes
from infomax.methods.base import SSLMethod, register_method
from infomax.methods.contract import Batch, StepOutput
from infomax.nn.encoders import is_fixed_input, size_rule, takes_input_size
from infomax.nn.heads import projection_mlp
from infomax.numerics import score_dtype

# The small crops' side relative to the large ones' in the paper: 96 px to 224 px.
SMALL_RATIO = 96 / 224


@dataclass
class SwAVConfig:
    embed_dim: int = setting(128, min=1, help="projection size, the prototypes' dimension")
    hidden_dim: int = setting(2048, min=1, help="hidden width of the projection MLP")
    nmb_prototypes: int = setting(3000, min=1, help="K: prototypes (clusters)")
    temperature: float = setting(0.1, min=1e-6, help="of the softmax over the prototypes")
    epsilon: float = setting(0.05, min=1e-6, help="Sinkhorn's entropic regularization")
    sinkhorn_iterations: int = setting(3, min=1)
    freeze_prototypes_epochs: int = setting(1, min=0, help="the prototypes get no update "
                                            "during this many first epochs")
    large_crops: int = setting(2, help="crops at data.image_size, 2 or more: the two views "
                               "and more like them (their codes are predicted)")
    small_crops: int = setting(6, min=0, help="small crops per image (predicting only)")
    small_size: int | None = setting(None, min=1, help="small crops' side in px; default: "
                                     "data.image_size x 96/224 rounded where the encoder "
                                     "takes that size, else data.image_size (the AMDIM "
                                     "encoder takes only its own size)")
    small_scale: list[float] = setting([0.05, 0.14], help="area range of the small crops, "
                                       "a fraction of the image in (0, 1]")
    queue_length: int = setting(0, min=0, help="features of earlier batches kept per large "
                                "crop for the codes (0: no queue); each process uses "
                                "queue_length / processes of them")
    queue_start_epoch: int = setting(15, min=0, help="the queue fills from this epoch on "
                                     "and is used once full")


def default_small_size(encoder: str, image_size: int) -> int:
    """The small crops' side when ``swav.small_size`` is null: the paper's 96/224 of the
    image, rounded, where the encoder takes that size, else the image size itself (an
    encoder of one input size, the AMDIM encoder: the small crops are cut at
    ``swav.small_scale`` and resized to it)."""
    size = round(image_size * SMALL_RATIO)
    return size if takes_input_size(encoder, image_size, size) else image_size


def small_crop_size(cfg: Any, image_size: int) -> int:
    """``swav.small_size`` for images of ``image_size`` px, or its default; ConfigError for
    a size larger than the images or one the encoder cannot take."""
    given, encoder = cfg.swav.small_size, cfg.model.encoder
    default = default_small_size(encoder, image_size)
    if given is None:
        return default
    if given > image_size:
        raise ConfigError(f"swav.small_size: {given} is larger than the images ({image_size} "
                          f"px, data.image_size); choose at most {image_size}, or null for "
                          f"the default ({default} px)")
    if not takes_input_size(encoder, image_size, given):
        takes = (f"built for {image_size} px images takes {image_size} px inputs only"
                 if is_fixed_input(encoder) else f"takes {size_rule(encoder)[1]} px inputs")
        raise ConfigError(f"swav.small_size: {given} px cannot be fed to the {encoder} "
                          f"encoder, which {takes}; set swav.small_size to null (the "
                          f"default, {default} px) or choose another model.encoder")
    return given


@register_method("swav", sections={"swav": SwAVConfig},
                 summary="swapped prediction of Sinkhorn codes over prototypes; multi-crop",
                 recipe=recipes.SWAV)
class SwAV(SSLMethod):
    """The authors' training step (main_swav.py): the prototypes are L2-normalized at the
    start of every training step; the crops are encoded in one pass per run of crops of
    one size (BatchNorm statistics over those crops together), the projection MLP runs on
    all of them at once, and its output is L2-normalized and scored against the
    prototypes; the loss is ``infomax.losses.swav.swav_loss`` with the codes of every
    large crop. The prototypes' gradients are dropped during the first
    ``swav.freeze_prototypes_epochs`` epochs.

    Crops: the two views, then ``batch.crops`` as ``extra_crops`` lists them (the large
    crops beyond two, then the small ones). A batch without extra crops (built by hand)
    trains on its two views alone.

    The queue (``swav.queue_length`` > 0): from epoch ``swav.queue_start_epoch`` on, the
    normalized projections of each large crop are pushed in, newest first; once full (as
    in the authors' code, where an empty row would be a spurious all-zero sample) the
    codes of each large crop are computed together with its queue's scores under the
    current prototypes. The authors keep a queue per process of queue_length / processes
    rows; here every process keeps the global queue (each step's projections gathered
    from all processes, so that the buffer is the same everywhere and a checkpoint holds
    all of it) and uses its share of queue_length / processes rows. Sinkhorn's sums run
    over every process, so the codes depend on the rows of the global queue, not on how
    they are shared out: those of one process with the whole queue."""

    def __init__(self, config: Any, num_classes: int, in_channels: int, image_size: int) -> None:
        super().__init__(config, num_classes, in_channels, image_size)
        c = self.cfg.swav
        self.small_size = small_crop_size(self.cfg, image_size) if c.small_crops else None
        self.encoder = self.make_backbone()
        d = self.encoder.feature_dim
        self.projector = projection_mlp(d, c.hidden_dim, c.embed_dim)
        self.prototypes = nn.Linear(c.embed_dim, c.nmb_prototypes, bias=False)
        self.register_buffer("queue", torch.zeros(c.large_crops, c.queue_length, c.embed_dim))
        self.build_probes(d)

    # -- settings ---------------------------------------------------------------------
    @classmethod
    def check_config(cls, cfg: Any) -> None:
        c = cfg.swav
        if c.large_crops < 2:
            raise ConfigError(f"swav.large_crops={c.large_crops}: SwAV needs at least 2 "
                              f"large crops; set swav.large_crops to 2 or more")
        lo_hi = c.small_scale
        if len(lo_hi) != 2 or not 0 < lo_hi[0] <= lo_hi[1] <= 1:
            raise ConfigError(f"swav.small_scale: {lo_hi!r} must be two area fractions "
                              f"0 < low <= high <= 1, e.g. [0.05, 0.14]")
        if cfg.method == "swav" and cfg.data.image_size is not None and c.small_crops:
            small_crop_size(cfg, cfg.data.image_size)

    @classmethod
    def extra_crops(cls, cfg: Any, info: Any) -> tuple[ExtraCrops, ...]:
        """The large crops beyond the two views (the views' own crop, at the image size),
        then ``swav.small_crops`` small ones of ``small_crop_size`` px at
        ``swav.small_scale``."""
        c = cfg.swav
        groups = []
        if c.large_crops > 2:
            groups.append(ExtraCrops(c.large_crops - 2, info.image_size))
        if c.small_crops:
            groups.append(ExtraCrops(c.small_crops, small_crop_size(cfg, info.image_size),
                                     tuple(c.small_scale)))
        return tuple(groups)

    def setup(self, stage: str) -> None:
        n, w = self.cfg.swav.queue_length, world_size()
        if stage == "fit" and 0 < n < w:
            raise ConfigError(f"swav.queue_length: {n} rows cannot be shared by {w} "
                              f"processes; use at least {w} (or 0: no queue)")
        super().setup(stage)

    # -- training ---------------------------------------------------------------------
    def crops(self, batch: Batch) -> tuple[list[Tensor], list[Tensor]]:
        """The batch's large crops (the two views first) and small crops."""
        c = self.cfg.swav
        extra = list(batch.crops)
        if not extra:
            return list(batch.views), []
        if len(extra) != c.large_crops - 2 + c.small_crops:
            raise ValueError(f"SwAV expects {c.large_crops - 2 + c.small_crops} extra crops "
                             f"per batch (swav.large_crops={c.large_crops}, "
                             f"swav.small_crops={c.small_crops}); the batch has {len(extra)}")
        n = c.large_crops - 2
        return [*batch.views, *extra[:n]], extra[n:]

    def _encode(self, crops: list[Tensor]) -> Tensor:
        """Features of every crop, in order: one encoder pass per run of crops of one
        size, as the authors' multi-resolution forward."""
        out, start = [], 0
        while start < len(crops):
            end = start + 1
            while end < len(crops) and crops[end].shape[-2:] == crops[start].shape[-2:]:
                end += 1
            x = torch.cat(crops[start:end]) if end - start > 1 else crops[start]
            out.append(self.encoder.embed(self._memory_format(x)))
            start = end
        return torch.cat(out) if len(out) > 1 else out[0]

    def queue_full(self) -> bool:
        return self.queue.shape[1] > 0 and bool(self.queue[:, -1].any())

    def queue_share(self) -> Tensor:
        """This process's rows of the queue: (large crops, queue_length // processes, D)."""
        n = self.queue.shape[1] // world_size()
        return self.queue[:, rank() * n:(rank() + 1) * n]

    @torch.no_grad()
    def enqueue(self, z: Tensor) -> None:
        """Push the large crops' projections ``z`` (large crops, B, D) of every process to
        the front of the queue (newest first, processes in rank order)."""
        new = gather_no_grad(z.transpose(0, 1).contiguous()).transpose(0, 1)
        m, length = new.shape[1], self.queue.shape[1]
        if m >= length:
            self.queue.copy_(new[:, :length])
        else:
            self.queue[:, m:] = self.queue[:, :-m].clone()
            self.queue[:, :m] = new

    def ssl_step(self, batch: Batch) -> StepOutput:
        c = self.cfg.swav
        if self.training:
            with torch.no_grad():
                w = self.prototypes.weight
                w.copy_(F.normalize(w, dim=1))
        large, small = self.crops(batch)
        b = len(batch)
        h = self._encode(large + small)
        z = F.normalize(self.projector(h), dim=1)
        scores = self.prototypes(z).split(b)
        queue = None
        filling = (self.training and c.queue_length > 0
                   and self.current_epoch >= c.queue_start_epoch)
        if filling and self.queue_full():
            with torch.no_grad(), torch.autocast(z.device.type, enabled=False):
                dtype = score_dtype(z)
                protos = self.prototypes.weight.to(dtype)
                queue = [rows.to(dtype) @ protos.T for rows in self.queue_share()]
        n_large = len(large)
        loss = swav_loss(scores[:n_large], scores[n_large:], c.temperature,
                         c.sinkhorn_iterations, c.epsilon, queue=queue)
        terms = {"swav": loss.detach()}
        if c.queue_length > 0:
            terms["queue_used"] = loss.new_tensor(float(queue is not None))
        if filling:  # after the codes, as the authors' loop
            self.enqueue(z[:n_large * b].detach().view(n_large, b, -1).to(self.queue.dtype))
        return StepOutput(loss, terms, h[:n_large * b], batch.labels.repeat(n_large))

    def on_before_optimizer_step(self, optimizer: Any) -> None:
        # After backward (and DDP's averaging), before the update: the authors cancel the
        # prototypes' gradients during the first iterations.
        if self.current_epoch < self.cfg.swav.freeze_prototypes_epochs:
            self.prototypes.weight.grad = None
