"""MoCo v1 and v2 (He et al. 2020; Chen, Fan, Girshick and He 2020): a query encoder
trained by gradient, a momentum key encoder, and a FIFO queue of keys as negatives."""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from infomax.dist import gather_no_grad, rank, world_size
from infomax.errors import ConfigError
from infomax.losses.contrastive import moco_infonce
from infomax.methods.base import SSLMethod
from infomax.nn.momentum import KeyQueue, ema_update_

KEY_MODULES = ("key_encoder", "key_head")


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy without gradients: a momentum (EMA) network."""
    twin = copy.deepcopy(module)
    twin.requires_grad_(False)
    return twin


class MoCo(SSLMethod):
    """Query from the first view, key from the second, as in the paper's Algorithm 1 (the
    asymmetric form; no symmetrized loss). The key encoder is updated after each optimizer
    step (``after_step``); the public code updates it at the start of the next forward,
    which is the same sequence of weights."""

    def __init__(self, config: Any, num_classes: int, in_channels: int, image_size: int) -> None:
        super().__init__(config, num_classes, in_channels, image_size)
        c = self.cfg.moco
        self.encoder = self.make_backbone()
        d = self.encoder.feature_dim
        if c.version == "v1":
            self.head: nn.Module = nn.Linear(d, c.embed_dim)
        else:  # v2: a 2-layer MLP head (no BatchNorm, as MoCo v2)
            self.head = nn.Sequential(nn.Linear(d, c.hidden_dim), nn.ReLU(inplace=True),
                                      nn.Linear(c.hidden_dim, c.embed_dim))
        self.key_encoder = frozen_copy(self.encoder)
        self.key_head = frozen_copy(self.head)
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
        dist.broadcast(perm, 0)  # drawn by rank 0: every process uses the same permutation
        mine = perm.view(w, b)[rank()]
        shuffled_keys = gather_no_grad(self._key_net(full[mine]))  # row j: image perm[j]
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(n, device=x.device)
        return shuffled_keys[inverse].view(w, b, -1)[rank()]

    def ssl_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor], Tensor, Tensor]:
        (x1, x2), labels = batch[0], batch[1]
        h = self.encoder.embed(self._memory_format(x1))
        q = self.head(h)
        k = self.keys(x2)
        # A snapshot of the queue: it is written below, and the loss's backward needs the
        # negatives as they were.
        negatives = self.queue.keys.clone()
        loss = moco_infonce(q, k, negatives, self.temperature)
        with torch.no_grad():
            kn = F.normalize(k.float() if k.dtype != torch.float64 else k, dim=1)
            qn = F.normalize(q.detach().to(kn.dtype), dim=1)
            logs = {"pos_cos": (qn * kn).sum(1).mean(),
                    "neg_cos": (qn @ negatives.to(kn.dtype).T).mean()}
            self.queue.enqueue(kn)  # after the loss, as Algorithm 1: this batch's keys
        return loss, logs, h, labels

    def after_step(self, batch: Any) -> None:
        m = self.cfg.moco.momentum
        ema_update_(self.key_encoder, self.encoder, m)
        ema_update_(self.key_head, self.head, m)
