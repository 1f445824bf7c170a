"""What a method receives and returns in one training step.

Every method sees a ``Batch`` and returns a ``StepOutput`` from ``ssl_step``; the shared
base turns that into ``StepLosses`` (the self-supervised loss, the online probes' loss and
what is logged). ``Batch`` is the data layer's (infomax.data.batch): the pretraining
DataModule hands out Batch objects directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

from infomax.data.batch import Batch


@dataclass
class StepOutput:
    """What a method's ``ssl_step`` returns: the self-supervised ``loss`` (a scalar to
    minimise), named ``terms`` to log (detached scalars), and the global ``features``
    (N, D) the online probes learn from with their ``labels`` (N,). N may be a multiple of
    the batch size (e.g. both views' features, labels repeated)."""

    loss: Tensor
    terms: dict[str, Tensor] = field(default_factory=dict)
    features: Tensor | None = None
    labels: Tensor | None = None


@dataclass
class StepLosses:
    """One batch's losses as the shared base computes them (``compute_losses``): the
    method's ``ssl`` loss and its ``terms``, the online probes' ``probe`` loss, and the
    probes' ``logits`` per head with their ``labels`` for this batch (not for replayed
    features). An update minimises ``total``."""

    ssl: Tensor
    probe: Tensor
    terms: dict[str, Tensor]
    logits: dict[str, Tensor]
    labels: Tensor

    @property
    def total(self) -> Tensor:
        return self.ssl + self.probe


__all__ = ["Batch", "StepLosses", "StepOutput"]
