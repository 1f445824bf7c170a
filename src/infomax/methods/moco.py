"""MoCo v1 and v2 (He et al. 2020; Chen, Fan, Girshick and He 2020): a query encoder
trained by gradient, a momentum key encoder, and a FIFO queue of keys as negatives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomax.config import setting
from infomax.dist import broadcast_, gather_no_grad, rank, world_size
from infomax.errors import ConfigError
from infomax.losses.contrastive import moco_infonce
from infomax.methods import recipes
from infomax.methods.base import register_method
from infomax.methods.contract import Batch, StepOutput
from infomax.methods.momentum import MomentumMethod
from infomax.nn.heads import moco_head
from infomax.nn.momentum import KeyQueue
from infomax.numerics import in_score_dtype

KEY_MODULES = ("key_encoder", "key_head")


@dataclass
class MoCoConfig:
    version: str = setting("v2", choices=("v1", "v2"), help="v1: linear head; v2: MLP head")
    temperature: float | None = setting(None, min=1e-6, help="default: 0.07 (v1), 0.2 (v2)")
    embed_dim: int = setting(128, min=1)
    hidden_dim: int = setting(2048, min=1, help="hidden width of the v2 MLP head")
    queue_size: int = setting(65536, min=1, help="K: keys kept as negatives")
    momentum: float = setting(0.999, min=0.0, help="key encoder: k <- m k + (1 - m) q")
    shuffle_bn: bool = setting(True, help="shuffle the key batch across processes (DDP)")


@register_method("moco", sections={"moco": MoCoConfig},
                 summary="a momentum key encoder and a queue of keys as negatives",
                 recipe=recipes.moco)
class MoCo(MomentumMethod):
    """Query from the first view, key from the second, as in the paper's Algorithm 1 (the
    asymmetric form; no symmetrized loss). The key encoder is updated after each optimizer
    step (``after_step``); the public code updates it at the start of the next forward,
    which is the same sequence of weights."""

    def __init__(self, config: Any, num_classes: int, in_channels: int, image_size: int) -> None:
        super().__init__(config, num_classes, in_channels, image_size)
        c = self.cfg.moco
        self.encoder = self.make_backbone()
        d = self.encoder.feature_dim
        # v1: a linear head; v2: a 2-layer MLP head (no BatchNorm, as MoCo v2)
        self.head = moco_head(d, c.embed_dim, c.hidden_dim if c.version == "v2" else None)
        self.add_momentum_copy("key_encoder", "encoder")
        self.add_momentum_copy("key_head", "head")
        self.queue = KeyQueue(c.embed_dim, c.queue_size)
        self.temperature = c.temperature if c.temperature is not None else (
            0.07 if c.version == "v1" else 0.2)
        self.build_probes(d)

    # -- setup ------------------------------------------------------------------------
    def check_queue_size(self) -> None:
        """Refuse a queue that would hold an older key of an image of the current batch:
        within an epoch each image appears once, so K <= N - (global batch) keeps them out."""
        n = self.train_set_size
        if n <= 0:
            return
        batch = self.cfg.data.batch_size * world_size()
        k = self.cfg.moco.queue_size
        if k > n - batch:
            raise ConfigError(
                f"moco.queue_size: {k} is too large for {n} pretraining images; it must be "
                f"at most {n - batch} (the set size minus one global batch of {batch}), or "
                f"older keys of the batch's own images would serve as negatives")

    def setup(self, stage: str) -> None:
        if stage == "fit":
            self.check_queue_size()
        shuffled = self.cfg.moco.shuffle_bn and world_size() > 1
        if not shuffled:
            super().setup(stage)
            return
        # Shuffled BN needs the key encoder's BatchNorms per process (that is its point:
        # statistics over a random subset of the global batch), so hide the key network from
        # the global-BatchNorm conversion of the base class. Placeholders keep the order of
        # the modules, and so of parameters and state_dict entries.
        saved = {name: self._modules[name] for name in KEY_MODULES}
        for name in KEY_MODULES:
            self._modules[name] = nn.Identity()
        try:
            super().setup(stage)
        finally:
            for name, module in saved.items():
                self._modules[name] = module

    # -- training ---------------------------------------------------------------------
    def _key_net(self, x: Tensor) -> Tensor:
        return self.key_head(self.key_encoder.embed(self._memory_format(x)))

    @torch.no_grad()
    def keys(self, x: Tensor) -> Tensor:
        """Keys (B, D) of ``x``; under DDP with ``moco.shuffle_bn`` through shuffled
        BatchNorm (He et al. 2020, Sec. 3.3): the global key batch is permuted with one
        permutation shared by every process, each process encodes its slice, and the keys
        are gathered back and unshuffled. With one process: a plain pass."""
        w = world_size()
        if not (self.cfg.moco.shuffle_bn and w > 1):
            return self._key_net(x)
        full = gather_no_grad(x)
        n, b = full.shape[0], x.shape[0]
        perm = torch.randperm(n, device=x.device) if rank() == 0 else torch.empty(
            n, dtype=torch.long, device=x.device)
        broadcast_(perm, 0)  # drawn by rank 0: every process uses the same permutation
        mine = perm.view(w, b)[rank()]
        shuffled_keys = gather_no_grad(self._key_net(full[mine]))  # row j: image perm[j]
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(n, device=x.device)
        return shuffled_keys[inverse].view(w, b, -1)[rank()]

    def ssl_step(self, batch: Batch) -> StepOutput:
        x1, x2 = batch.views
        h = self.encoder.embed(self._memory_format(x1))
        q = self.head(h)
        k = self.keys(x2)
        # A snapshot of the queue: it is written below, and the loss's backward needs the
        # negatives as they were.
        negatives = self.queue.keys.clone()
        loss = moco_infonce(q, k, negatives, self.temperature)
        with torch.no_grad():
            kn = F.normalize(in_score_dtype(k), dim=1)
            qn = F.normalize(q.detach().to(kn.dtype), dim=1)
            logs = {"pos_cos": (qn * kn).sum(1).mean(),
                    "neg_cos": (qn @ negatives.to(kn.dtype).T).mean()}
            self.queue.enqueue(kn)  # after the loss, as Algorithm 1: this batch's keys
        return StepOutput(loss, logs, h, batch.labels)

    def momentum(self) -> float:
        return self.cfg.moco.momentum
