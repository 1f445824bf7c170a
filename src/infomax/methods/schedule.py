"""The learning-rate schedule of every method: warmup, step decay and cooldown."""

from __future__ import annotations


class WarmupMultiStep:
    """lr factor at update ``step``: linear warmup over ``warmup`` updates, times ``gamma``
    for every milestone epoch reached (epoch = step // steps_per_epoch), times a linear
    cooldown to 0 over the last ``cooldown`` fraction of ``total_steps`` updates. A
    callable object, so that LambdaLR stores its state in checkpoints."""

    def __init__(self, warmup: int, milestones: list[int], gamma: float,
                 steps_per_epoch: int, total_steps: int = 0, cooldown: float = 0.0) -> None:
        self.warmup, self.milestones, self.gamma = warmup, list(milestones), gamma
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.total_steps, self.cooldown = total_steps, cooldown

    def __call__(self, step: int) -> float:
        warm = min(1.0, (step + 1) / self.warmup) if self.warmup > 0 else 1.0
        epoch = step // self.steps_per_epoch
        factor = warm * self.gamma ** sum(epoch >= m for m in self.milestones)
        if self.cooldown > 0 and self.total_steps > 0:
            # Step s is the (s+1)-th update: the last one runs at 1/n of the rate, n being
            # the cooldown's length in updates, so that no update is wasted at rate 0.
            n = max(1.0, self.cooldown * self.total_steps)
            factor *= min(1.0, max(0.0, (self.total_steps - step) / n))
        return factor
