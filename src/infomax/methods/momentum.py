"""The shared base of the methods with momentum networks (MoCo's key encoder, BYOL's
target network)."""

from __future__ import annotations

from typing import Any

from infomax.methods.base import SSLMethod
from infomax.methods.contract import Batch
from infomax.nn.momentum import ema_update_, frozen_copy


class MomentumMethod(SSLMethod):
    """An SSLMethod with momentum (EMA) copies of some of its networks. ``add_momentum_copy
    (name, online)`` makes ``self.<name>`` a frozen deep copy of ``self.<online>``; after
    every applied optimizer step each copy moves towards its online network:
    theta_copy <- m theta_copy + (1 - m) theta_online, m = ``momentum()`` (buffers are
    copied; see ``infomax.nn.momentum.ema_update_``). Copies are updated in the order they
    were added."""

    def __init__(self, config: Any, num_classes: int, in_channels: int, image_size: int) -> None:
        super().__init__(config, num_classes, in_channels, image_size)
        self.momentum_pairs: list[tuple[str, str]] = []

    def add_momentum_copy(self, name: str, online: str) -> None:
        setattr(self, name, frozen_copy(getattr(self, online)))
        self.momentum_pairs.append((name, online))

    def backbones_loaded(self) -> None:
        # The copies start equal to their online networks, as at construction.
        for name, online in self.momentum_pairs:
            getattr(self, name).load_state_dict(getattr(self, online).state_dict())

    def momentum(self) -> float:
        """m for the update after the optimizer step just taken: each momentum method
        defines it (MoCo a constant, BYOL a cosine schedule)."""
        raise NotImplementedError(f"{type(self).__name__} defines no momentum()")

    def after_step(self, batch: Batch) -> None:
        m = self.momentum()
        for name, online in self.momentum_pairs:
            ema_update_(getattr(self, name), getattr(self, online), m)
