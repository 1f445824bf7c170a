"""Data-parallel helpers: gathering in-batch negatives from every process.

Under data parallelism each process holds B images of a global batch of W * B. A loss that
contrasts an image with the batch's other images must see the *global* batch, or the
objective silently changes with the number of processes (fewer negatives, a different
bound). ``gather_targets`` concatenates a tensor over all processes in rank order, keeping
the autograd graph: its backward sums the gradients that every process's loss sends to a
process's rows (``torch.distributed.nn.functional.all_gather``). Combined with DDP's
averaging of parameter gradients over the W processes, the update is that of the
single-process objective on the global batch, provided each process's loss is a mean over
its own B sources of equal size (the pretraining loader drops the last partial batch and
Lightning's DistributedSampler gives every process the same number of images).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


class _ContiguousGrad(torch.autograd.Function):
    """The identity, whose backward makes the incoming gradient contiguous."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        return grad.contiguous()


def gather_targets(x: Tensor) -> tuple[Tensor, int]:
    """(x of every process concatenated on dim 0 in rank order, offset of this process's
    rows in it). With one process: (x, 0). Gradients flow back to every process's ``x``.
    All processes must call it with tensors of the same shape."""
    w = world_size()
    if w == 1:
        return x, 0
    parts = autograd_collective("all_gather")(x.contiguous())
    # all_gather's backward (a reduce-scatter, an all_to_all under gloo) misreads a
    # non-contiguous gradient, e.g. that of a transposed or strided use of the result: the
    # loss is right and the gradients silently wrong. Hand it a contiguous one.
    return _ContiguousGrad.apply(torch.cat(parts, dim=0)), rank() * x.shape[0]


@torch.no_grad()
def gather_no_grad(x: Tensor) -> Tensor:
    """``x`` of every process concatenated on dim 0 in rank order, without autograd (keys,
    bank updates); ``x`` itself with one process."""
    w = world_size()
    if w == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(w)]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)


def global_sum(x: Tensor) -> Tensor:
    """Sum of ``x`` over processes, differentiable (the identity with one process)."""
    if world_size() == 1:
        return x
    return autograd_collective("all_reduce")(x)


def autograd_collective(name: str):
    """torch.distributed.nn.functional's differentiable collective ``name``, without its
    deprecation notice (its suggested replacement is a private module)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from torch.distributed.nn import functional

    fn = getattr(functional, name)

    def call(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return fn(*args, **kwargs)

    return call


def all_reduce_(x: Tensor, op: str = "sum") -> Tensor:
    """``x`` reduced in place over processes (``op``: "sum" or "max"), without autograd;
    returned for chaining. With one process: ``x`` unchanged."""
    if world_size() > 1:
        ops = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX}
        dist.all_reduce(x, op=ops[op])
    return x


def broadcast_(x: Tensor, src: int = 0) -> Tensor:
    """``x`` overwritten in place by process ``src``'s ``x``; returned for chaining."""
    if world_size() > 1:
        dist.broadcast(x, src)
    return x


def gather_objects(obj: object) -> list[object]:
    """Every process's ``obj`` (a picklable value), in rank order; [obj] with one process."""
    w = world_size()
    if w == 1:
        return [obj]
    out: list[object] = [None] * w
    dist.all_gather_object(out, obj)
    return out
