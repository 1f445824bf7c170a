"""BatchNorm over the global batch of a data-parallel run, on any device.

``torch.nn.SyncBatchNorm`` refuses CPU tensors (and DDP refuses it on CPU modules), so it
cannot serve CPU runs with the gloo backend, nor the tests that compare two processes with
one. ``GlobalBatchNorm`` computes the batch statistics from sums all-reduced over the
processes with autograd-aware collectives (``torch.distributed.nn.functional.all_reduce``):
the forward pass and the gradients are those of BatchNorm on the concatenated global batch.
Statistics are taken in float32 or float64 (two passes: mean, then the centred sum of squares), as
cuDNN and torch's SyncBatchNorm keep them. With one process, or in eval mode, it is plain
BatchNorm. Parameters and buffers are those of ``nn.BatchNorm*d``, so checkpoints are
interchangeable.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from infomax.dist import all_reduce_, autograd_collective, world_size
from infomax.errors import InfomaxError


def _all_reduce(x: Tensor) -> Tensor:
    return autograd_collective("all_reduce")(x)


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm1d/2d/3d whose training statistics are over every process's batch."""

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2-D input (N, C, ...), got {x.dim()}-D")

    def forward(self, x: Tensor) -> Tensor:
        self._check_input_dim(x)
        if not (self.training and world_size() > 1):
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        count = torch.tensor([float(x.numel() // x.shape[1])], device=x.device,
                             dtype=xf.dtype)
        all_reduce_(count)
        n = count[0]
        mean = _all_reduce(xf.sum(dims)) / n
        centred = xf - mean.view(shape)
        var = _all_reduce(centred.square().sum(dims)) / n
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                     else self.momentum)
                self.running_mean.lerp_(mean.to(self.running_mean.dtype), m)
                unbiased = var * (n / (n - 1).clamp(min=1))
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), m)
        return y.to(x.dtype)


class GlobalBatchNormAct(GlobalBatchNorm):
    """``GlobalBatchNorm`` followed by the dropout and activation of a timm
    ``BatchNormAct2d`` (its children ``drop`` and ``act``, kept under those names)."""

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.drop(super().forward(x)))


# BatchNorm layers whose forward is plain BatchNorm's.
_PLAIN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def convert_global_batchnorm(module: nn.Module) -> nn.Module:
    """``module`` with every BatchNorm layer replaced by a ``GlobalBatchNorm`` that shares
    its parameters and buffers (the same tensors, so optimizers and checkpoints are
    unaffected). Returns the new root when ``module`` itself is a BatchNorm. A BatchNorm
    that also applies a dropout and an activation (timm's ``BatchNormAct2d``: children
    ``drop`` and ``act``) becomes a ``GlobalBatchNormAct`` with the same children; any
    other kind of BatchNorm is refused (InfomaxError), since its forward is not known."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(
            module, GlobalBatchNorm):
        children = dict(module.named_children())
        if type(module) not in _PLAIN and set(children) != {"drop", "act"}:
            raise InfomaxError(f"train.sync_batchnorm: {type(module).__name__} is a BatchNorm "
                               f"whose statistics cannot be taken over the global batch; "
                               f"set train.sync_batchnorm=false (--no-sync-batchnorm)")
        cls = GlobalBatchNormAct if children else GlobalBatchNorm
        new = cls(module.num_features, module.eps, module.momentum, module.affine,
                  module.track_running_stats, device="meta")
        for name, p in module.named_parameters(recurse=False):
            setattr(new, name, p)
        for name, b in module.named_buffers(recurse=False):
            new.register_buffer(name, b)
        for name, child in children.items():
            setattr(new, name, child)
        new.train(module.training)
        return new
    for name, child in module.named_children():
        new_child = convert_global_batchnorm(child)
        if new_child is not child:
            setattr(module, name, new_child)
    return module


__all__ = ["GlobalBatchNorm", "convert_global_batchnorm"]
