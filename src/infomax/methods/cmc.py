"""Contrastive Multiview Coding (Tian, Krishnan and Isola 2019): one encoder per view
(L and ab of the Lab colour space, or two augmented views), a contrastive loss in both
directions (Sec. 3.1-3.3), negatives from memory banks or from the batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomax.config import setting
from infomax.data.registry import IMAGEFOLDER_PREFIX, IMAGENET_MEAN, IMAGENET_STD, dataset_info
from infomax.dist import gather_targets
from infomax.errors import ConfigError
from infomax.losses.cmc import bank_softmax_loss, batch_softmax_loss
from infomax.methods import recipes
from infomax.methods.base import SSLMethod, register_method
from infomax.methods.contract import Batch, StepOutput
from infomax.nn.memory import MemoryBank, bank_generator
from infomax.numerics import score_dtype


@dataclass
class CMCConfig:
    split: str = setting("lab", choices=("lab", "views"),
                    help="lab: L against ab of one view (colour data); views: two augmented "
                              "views, one encoder each (any data)")
    embed_dim: int = setting(128, min=1, help="size of the normalized projections")
    temperature: float = setting(0.07, min=1e-6)
    negatives: str = setting("bank", choices=("bank", "batch"),
                        help="bank: memory bank (NCE, num_negatives samples); batch: the other "
                                  "images of the (global) batch")
    num_negatives: int = setting(4096, min=1, help="K: negatives drawn from the bank per positive")
    bank_momentum: float = setting(0.5, min=0.0, help="memory bank update: v <- m v + (1 - m) f")

# Fixed affine maps of L, a, b to [-1, 1]: the extremes of each channel over the sRGB gamut
# (L in [0, 100]; a in [-86.183, 98.233], b in [-107.857, 94.478], measured with kornia on
# the faces of the RGB cube). Centre and half range per channel.
LAB_CENTER = (50.0, (98.233 - 86.183) / 2, (94.478 - 107.857) / 2)
LAB_HALF_RANGE = (50.0, (98.233 + 86.183) / 2, (94.478 + 107.857) / 2)


def normalized_lab(rgb: Tensor) -> Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> Lab, each channel mapped to about [-1, 1] with the fixed
    constants above (computed in float32, or float64 for float64 input)."""
    from kornia.color import rgb_to_lab

    dtype = score_dtype(rgb)
    with torch.autocast(device_type=rgb.device.type, enabled=False):
        lab = rgb_to_lab(rgb.to(dtype).clamp(0.0, 1.0))
        center = torch.tensor(LAB_CENTER, dtype=dtype, device=rgb.device).view(1, 3, 1, 1)
        half = torch.tensor(LAB_HALF_RANGE, dtype=dtype, device=rgb.device).view(1, 3, 1, 1)
        return (lab - center) / half


def data_mean_std(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The normalization constants of the views of data set ``name``. An image folder's are
    ImageNet's (looked up without touching the folder, which may be absent when a trained
    model is loaded elsewhere)."""
    if name.startswith(IMAGEFOLDER_PREFIX):
        return IMAGENET_MEAN, IMAGENET_STD
    info = dataset_info(name)
    return info.mean, info.std


class CMCEncoder(nn.Module):
    """The two encoders as one backbone: ``embed(x)`` takes normalized images (test views)
    and returns the concatenation of both encoders' global vectors, CMC's representation.

    split "lab": x is undone to RGB, converted to Lab; encoder 1 sees L, encoder 2 ab.
    split "views": both encoders see x (in training each sees its own augmented view)."""

    def __init__(self, split: str, enc1: nn.Module, enc2: nn.Module, in_channels: int,
                 image_size: int, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.split, self.enc1, self.enc2 = split, enc1, enc2
        self.in_channels, self.image_size = in_channels, image_size
        self.feature_dim = enc1.feature_dim + enc2.feature_dim
        # Data constants, not learned state: kept out of checkpoints.
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def split_views(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The inputs of encoder 1 and encoder 2 for normalized images ``x``."""
        if self.split != "lab":
            return x, x
        rgb = x * self.std.to(x.dtype) + self.mean.to(x.dtype)
        lab = normalized_lab(rgb).to(x.dtype)
        return lab[:, :1].contiguous(), lab[:, 1:].contiguous()

    def embed(self, x: Tensor) -> Tensor:
        v1, v2 = self.split_views(x)
        return torch.cat([self.enc1.embed(v1), self.enc2.embed(v2)], 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.embed(x)


# needs_index: the bank variant keeps one row per image; the batch variant ignores the index.
@register_method("cmc", sections={"cmc": CMCConfig}, needs_index=True,
                 summary="contrastive multiview coding: one encoder per view (L / ab)",
                 recipe=recipes.CMC)
class CMC(SSLMethod):
    """CMC with two views (``cmc.split``), linear heads to ``embed_dim`` normalized
    projections, temperature ``cmc.temperature``, and the loss L(V1 -> V2) + L(V2 -> V1)
    (Eq. (3)). Negatives (``cmc.negatives``): "bank", one memory bank per view (K random
    rows of the *other* view's bank; positive that bank's row of the same image; banks
    updated with momentum after the loss); or "batch", the other images of the global
    batch. Both use the softmax cross-entropy form (see ``infomax.losses.cmc``)."""

    def __init__(self, config: Any, num_classes: int, in_channels: int, image_size: int) -> None:
        super().__init__(config, num_classes, in_channels, image_size)
        c = self.cfg.cmc
        if c.split == "lab":
            if in_channels != 3:
                raise ConfigError(f"cmc.split=lab needs colour images, but {self.cfg.data.name} "
                                  f"has {in_channels} channel(s); use cmc.split=views")
            enc1, enc2 = self.make_backbone(in_channels=1), self.make_backbone(in_channels=2)
        else:
            enc1, enc2 = self.make_backbone(), self.make_backbone()
        mean, std = data_mean_std(self.cfg.data.name)
        self.encoder = CMCEncoder(c.split, enc1, enc2, in_channels, image_size, mean, std)
        self.head1 = nn.Linear(enc1.feature_dim, c.embed_dim)
        self.head2 = nn.Linear(enc2.feature_dim, c.embed_dim)
        if c.negatives == "bank":
            self.bank1 = MemoryBank(0, c.embed_dim)
            self.bank2 = MemoryBank(0, c.embed_dim)
        self.build_probes(self.encoder.feature_dim)

    def init_memory(self, n: int) -> None:
        """Fresh random banks of ``n`` rows (one per pretraining image)."""
        g = bank_generator(self.cfg.train.seed)
        self.bank1.resize(n, g)
        self.bank2.resize(n, g)

    def setup(self, stage: str) -> None:
        super().setup(stage)
        if stage == "fit" and self.cfg.cmc.negatives == "bank":
            n = self.train_set_size
            if n and self.bank1.size != n:
                self.init_memory(n)

    def ssl_step(self, batch: Batch) -> StepOutput:
        x1, x2 = batch.views
        c = self.cfg.cmc
        enc = self.encoder
        v1, v2 = enc.split_views(x1) if c.split == "lab" else (x1, x2)
        h1 = enc.enc1.embed(self._memory_format(v1))
        h2 = enc.enc2.embed(self._memory_format(v2))
        z1 = F.normalize(self.head1(h1), dim=1)
        z2 = F.normalize(self.head2(h2), dim=1)
        if c.negatives == "bank":
            index = batch.index
            # One draw of negative indices for both directions, as CMC's code does.
            neg = self.bank1.sample(z1.shape[0], c.num_negatives)
            l12 = bank_softmax_loss(z1, self.bank2(index), self.bank2(neg), c.temperature)
            l21 = bank_softmax_loss(z2, self.bank1(index), self.bank1(neg), c.temperature)
            with torch.no_grad():  # after the loss, with the current features
                self.bank1.update(index, z1, c.bank_momentum)
                self.bank2.update(index, z2, c.bank_momentum)
        else:
            # Both views' projections of the global batch, in one collective.
            both, offset = gather_targets(torch.stack([z1, z2], 1))
            l12 = batch_softmax_loss(z1, both[:, 1], c.temperature, offset)
            l21 = batch_softmax_loss(z2, both[:, 0], c.temperature, offset)
        loss = l12 + l21
        logs = {"v1_to_v2": l12.detach(), "v2_to_v1": l21.detach()}
        return StepOutput(loss, logs, torch.cat([h1, h2], 1), batch.labels)
