"""Instance discrimination (Wu, Xiong, Yu and Lin 2018, "Unsupervised feature learning via
non-parametric instance discrimination"): every image is its own class, scored against a
memory bank of features with NCE (Sec. 3.1-3.2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomax.config import setting
from infomax.dist import gather_no_grad, world_size
from infomax.losses.instdisc import estimate_log_partition, instdisc_nce_loss
from infomax.methods import recipes
from infomax.methods.base import SSLMethod, register_method
from infomax.methods.contract import Batch, StepOutput
from infomax.nn.memory import MemoryBank, bank_generator
from infomax.numerics import in_score_dtype


@dataclass
class InstDiscConfig:
    embed_dim: int = setting(128, min=1, help="size of the normalized features in the bank")
    temperature: float = setting(0.07, min=1e-6)
    num_negatives: int = setting(4096, min=1, help="m: negatives drawn from the bank (NCE)")
    bank_momentum: float = setting(0.5, min=0.0, help="memory bank update: v <- m v + (1 - m) f")


def mean_log_partition(log_z: Tensor) -> Tensor:
    """Under data parallelism, the Monte Carlo estimate over the samples of every process
    (equal counts per process): log mean_r Z_r. Identical on every rank."""
    w = world_size()
    if w == 1:
        return log_z
    parts = gather_no_grad(log_z.reshape(1))
    return torch.logsumexp(parts, 0) - torch.log(torch.tensor(float(w)))


@register_method("instdisc", sections={"instdisc": InstDiscConfig}, needs_index=True,
                 summary="every image its own class, NCE against a memory bank",
                 recipe=recipes.INSTDISC)
class InstDisc(SSLMethod):
    """Backbone -> linear head -> L2-normalized ``embed_dim`` features f. The loss is the NCE
    of Eq. (4) against the bank (positive: the image's own bank row; m uniform noise rows);
    afterwards the bank rows of the batch are updated with the current features, momentum
    ``bank_momentum`` (0.5 in the paper). One augmented view per image (x1), as the paper.

    The bank has one row per pretraining image; it is sized in ``setup('fit')`` (or by
    ``init_memory(n)``) and, when a checkpoint is loaded, takes the checkpoint's size.
    Z (Eq. (5)) is estimated once, on the first batch, and kept in the ``log_z`` buffer."""

    nonfinite_buffers = ("log_z",)  # NaN until the first step estimates it

    def __init__(self, config: Any, num_classes: int, in_channels: int, image_size: int) -> None:
        super().__init__(config, num_classes, in_channels, image_size)
        c = self.cfg.instdisc
        self.encoder = self.make_backbone()
        self.head = nn.Linear(self.encoder.feature_dim, c.embed_dim)
        self.bank = MemoryBank(0, c.embed_dim)
        # NaN: not estimated yet. A buffer, so that a resumed run keeps the same constant.
        self.register_buffer("log_z", torch.tensor(float("nan"), dtype=torch.float64))
        self._z_known = False
        self.build_probes(self.encoder.feature_dim)

    def init_memory(self, n: int) -> None:
        """A fresh random bank of ``n`` rows (one per pretraining image)."""
        self.bank.resize(n, bank_generator(self.cfg.train.seed))

    def setup(self, stage: str) -> None:
        super().setup(stage)
        if stage == "fit":
            n = self.train_set_size
            # A bank of the right size is kept (e.g. one loaded from a checkpoint).
            if n and self.bank.size != n:
                self.init_memory(n)

    def skipped_step(self) -> None:
        # log_z was put back: NaN again if the skipped step was the one that estimated it.
        self._z_known = False

    def ssl_step(self, batch: Batch) -> StepOutput:
        x1, index = batch.views[0], batch.index
        c = self.cfg.instdisc
        h = self.encoder.embed(self._memory_format(x1))
        z = F.normalize(self.head(h), dim=1)
        n, b = self.bank.size, z.shape[0]
        neg_idx = self.bank.sample(b, c.num_negatives)
        with torch.autocast(device_type=z.device.type, enabled=False):
            zf = in_score_dtype(z)
            pos = (zf * self.bank(index).to(zf.dtype)).sum(1) / c.temperature
            neg = torch.bmm(self.bank(neg_idx).to(zf.dtype), zf[:, :, None])[..., 0]
            neg = neg / c.temperature
        if not self._z_known:
            if torch.isnan(self.log_z):
                self.log_z.fill_(float(mean_log_partition(estimate_log_partition(neg, n))))
            self._z_known = True
        loss = instdisc_nce_loss(pos, neg, self.log_z, n)
        with torch.no_grad():  # after the loss, with the current features (Sec. 3.2)
            self.bank.update(index, z, c.bank_momentum)
        logs = {"nce": loss.detach(), "log_z": self.log_z.detach().float()}
        return StepOutput(loss, logs, h, batch.labels)
