"""Numerical helpers shared by the losses, the methods and the checkpoint checks, and the
profiler ranges they open."""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor


def score_dtype(x: Tensor) -> torch.dtype:
    """The dtype scores and their log-sum-exps are computed in: float64 for float64 input,
    else float32. Never half precision: exp/logsumexp of bf16 or fp16 scores lose whole
    nats."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def in_score_dtype(x: Tensor) -> Tensor:
    """``x`` in ``score_dtype(x)`` (itself when it is already)."""
    return x.to(score_dtype(x))


def first_nonfinite(named: dict[str, Tensor]) -> str | None:
    """The name of the first floating tensor in ``named`` holding a NaN or an infinity,
    or None. One pass and one device synchronization when all are finite."""
    floats = {k: t for k, t in named.items()
              if isinstance(t, Tensor) and t.is_floating_point() and t.numel()}
    if not floats:
        return None
    # The max-norm is NaN or inf exactly when some element is (no overflow, unlike sums).
    if torch.isfinite(torch.nn.utils.get_total_norm(list(floats.values()), float("inf"))):
        return None
    return next(k for k, t in floats.items() if not torch.isfinite(t).all())


def profiler_range(name: str) -> contextlib.AbstractContextManager:
    """A torch.profiler range named ``name`` while a profiler records (``infomax bench
    profile`` groups the time of the ops inside it, and of their backward, under the
    name), else nothing; what the block computes is the same either way."""
    if torch.autograd._profiler_enabled():
        return torch.profiler.record_function(name)
    return contextlib.nullcontext()
