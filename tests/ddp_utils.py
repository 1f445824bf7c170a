"""Helpers of the tests that compare several gloo processes with one."""

from __future__ import annotations

import socket

import torch


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now, for a process group's rendezvous."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def for_equivalence(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` made comparable across process counts, in float64: dropout off (the MLP
    probe's masks would differ) and every parameter moved a little from its
    initialisation (zero-initialised layers would otherwise give zero gradients)."""
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return model.double()
