"""Momentum (EMA) networks and the MoCo key queue.

- ``frozen_copy``: a deep copy without gradients, the starting point of a momentum network.
- ``ema_update_``: the key encoder of MoCo (He et al. 2020, Eq. 2) and the target network of
  BYOL (Grill et al. 2020, Sec. 3.1): theta_target <- m theta_target + (1 - m) theta_online.
- ``byol_momentum``: BYOL's schedule tau_k = 1 - (1 - tau_base) (cos(pi k / K) + 1) / 2.
- ``KeyQueue``: MoCo's FIFO dictionary of the K most recent (normalized) keys.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomax.dist import gather_no_grad


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy without gradients: a momentum (EMA) network."""
    twin = copy.deepcopy(module)
    twin.requires_grad_(False)
    return twin


@torch.no_grad()
def ema_update_(target: nn.Module, online: nn.Module, m: float) -> None:
    """In place: every parameter of ``target`` <- m * target + (1 - m) * online.

    Buffers (BatchNorm running statistics and counters) are *copied* from ``online``. They
    are used in eval mode only, never by the target in training (its BatchNorms normalize
    with batch statistics), so copying costs nothing in training, and a target taken for
    evaluation carries statistics measured by the online net rather than stale ones of its
    own. Both modules must have the same structure (the target is a deep copy)."""
    t_params, o_params = list(target.named_parameters()), list(online.named_parameters())
    if [n for n, _ in t_params] != [n for n, _ in o_params]:
        raise ValueError("ema_update_: target and online networks differ in structure")
    for (_, pt), (_, po) in zip(t_params, o_params):
        # Written as the rule itself (not lerp) so the result is exactly m t + (1 - m) o.
        pt.mul_(m).add_(po.detach().to(pt.dtype), alpha=1.0 - m)
    for bt, bo in zip(target.buffers(), online.buffers()):
        bt.copy_(bo)


def byol_momentum(base: float, step: int, total_steps: int) -> float:
    """BYOL's target decay rate at update ``step`` of ``total_steps`` (Grill et al. 2020,
    Sec. 3.2): 1 - (1 - base) (cos(pi k / K) + 1) / 2, from ``base`` at k = 0 up to 1 at
    k = K. Without a known total (``total_steps`` <= 0) it stays at ``base``."""
    if total_steps <= 0:
        return float(base)
    k = min(max(step, 0), total_steps)
    return 1.0 - (1.0 - base) * (math.cos(math.pi * k / total_steps) + 1.0) / 2.0


class KeyQueue(nn.Module):
    """MoCo's dictionary (He et al. 2020, Sec. 3.2): a FIFO queue of ``size`` keys of
    ``dim`` features. The keys and the write pointer are registered buffers, so a
    checkpoint holds the queue and a resumed run continues with exactly the same
    negatives. It starts as random unit vectors, as the public MoCo code does."""

    def __init__(self, dim: int, size: int) -> None:
        super().__init__()
        if dim < 1 or size < 1:
            raise ValueError(f"KeyQueue needs dim >= 1 and size >= 1, got {dim} and {size}")
        self.register_buffer("keys", F.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))

    @property
    def size(self) -> int:
        return self.keys.shape[0]

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Replace the oldest entries with ``keys`` (B, dim), the newest batch. Under data
        parallelism the keys of every process are gathered first (in rank order), so every
        process's queue stays identical. A batch that does not divide the queue size wraps
        around; one larger than the queue leaves only its last ``size`` keys."""
        keys = gather_no_grad(keys.detach()).to(self.keys.dtype)
        n, size = keys.shape[0], self.size
        idx = (int(self.ptr) + torch.arange(n, device=self.keys.device)) % size
        # With n > size, positions repeat: write only the newest ``size`` keys.
        self.keys[idx[-size:]] = keys[-size:]
        self.ptr.fill_((int(self.ptr) + n) % size)


__all__ = ["KeyQueue", "byol_momentum", "ema_update_", "frozen_copy"]
