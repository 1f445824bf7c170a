"""The learning-rate schedules of every method: warmup, then step decay or a half cosine,
and an optional linear cooldown. Each is a callable object (the factor of the peak rate at
update ``step``), so that LambdaLR stores its state in checkpoints."""

from __future__ import annotations

import math


def _warm(step: int, warmup: int, start: float) -> float:
    """The linear warmup's factor at update ``step``: (step + 1) / warmup, or from
    ``start`` (a fraction of the peak) to 1 over the ``warmup`` updates; 1 after it."""
    if warmup <= 0:
        return 1.0
    ramp = min(1.0, (step + 1) / warmup)
    return ramp if start == 0 else start + (1.0 - start) * ramp


def _cooled(factor: float, step: int, total_steps: int, cooldown: float) -> float:
    if cooldown > 0 and total_steps > 0:
        # Step s is the (s+1)-th update: the last one runs at 1/n of the rate, n being
        # the cooldown's length in updates, so that no update is wasted at rate 0.
        n = max(1.0, cooldown * total_steps)
        factor *= min(1.0, max(0.0, (total_steps - step) / n))
    return factor


class WarmupMultiStep:
    """lr factor at update ``step``: linear warmup over ``warmup`` updates, times ``gamma``
    for every milestone reached (milestone m, in epochs, is reached at update
    m * steps_per_epoch; m may be fractional), times a linear cooldown to 0 over the last
    ``cooldown`` fraction of ``total_steps`` updates. ``warmup_from``: the warmup starts
    at that fraction of the peak."""

    def __init__(self, warmup: int, milestones: list[float], gamma: float,
                 steps_per_epoch: int, total_steps: int = 0, cooldown: float = 0.0,
                 warmup_from: float = 0.0) -> None:
        self.warmup, self.milestones, self.gamma = warmup, list(milestones), gamma
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.total_steps, self.cooldown = total_steps, cooldown
        self.warmup_from = warmup_from

    def __call__(self, step: int) -> float:
        warm = _warm(step, self.warmup, getattr(self, "warmup_from", 0.0))
        # For whole-epoch milestones the same test as step // steps_per_epoch >= m.
        reached = sum(step >= m * self.steps_per_epoch for m in self.milestones)
        return _cooled(warm * self.gamma ** reached, step, self.total_steps, self.cooldown)


class WarmupCosine:
    """lr factor at update ``step``: linear warmup over ``warmup`` updates (from
    ``warmup_from`` of the peak), then a half cosine from 1 to ``final`` over the remaining
    updates of ``total_steps`` (SimCLR, MoCo v2, BYOL, SwAV), times the optional linear
    cooldown."""

    def __init__(self, warmup: int, total_steps: int, final: float = 0.0,
                 cooldown: float = 0.0, warmup_from: float = 0.0) -> None:
        self.warmup, self.total_steps, self.final = warmup, max(1, total_steps), final
        self.cooldown, self.warmup_from = cooldown, warmup_from

    def __call__(self, step: int) -> float:
        warm = _warm(step, self.warmup, self.warmup_from)
        span = max(1, self.total_steps - self.warmup)
        progress = min(1.0, max(0.0, (step - self.warmup) / span))
        cosine = self.final + (1.0 - self.final) * 0.5 * (1.0 + math.cos(math.pi * progress))
        return _cooled(warm * cosine, step, self.total_steps, self.cooldown)
