"""The pretraining batch: what the DataModule hands out and every method receives.

Lightning moves a ``Batch`` to the device field by field (it is a dataclass); the
DataLoader's pin-memory thread calls its ``pin_memory``.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor
from torch.utils.data import default_collate


@dataclass
class Batch:
    """One pretraining batch.

    ``views``: two augmented views of each image, normalized (B, C, H, W) each.
    ``labels``: (B,) int64, -1 where an image has no label; with ``probe_source`` the
    labels of the ``test_view`` images.
    ``test_view``: the images' test-time views (B, C, H, W), present when the online probes
    learn on them (``probe.online_view=test``); methods ignore it. With ``probe_source``
    they are test-time views of other images: one per item from the training split of
    the run's labeled ``data.eval`` source, which the online probes learn on.
    ``index``: (B,) int64 positions of the images in the pretraining set, present for
    methods registered with ``needs_index`` (memory banks).
    ``crops``: the crops beyond the two views, normalized (B, C, h, w) each, for methods
    that ask for them (``SSLMethod.extra_crops``: multi-crop), in the order of the
    ``ExtraCrops`` groups (infomax.data.multicrop); empty for every other method."""

    views: tuple[Tensor, Tensor]
    labels: Tensor
    test_view: Tensor | None = None
    index: Tensor | None = None
    probe_source: bool = False
    crops: tuple[Tensor, ...] = ()

    def __len__(self) -> int:
        return self.labels.shape[0]

    def pin_memory(self) -> Batch:
        # Called by the DataLoader's pin-memory thread (torch looks for this method).
        pin = (lambda t: None if t is None else t.pin_memory())
        return Batch(tuple(v.pin_memory() for v in self.views), self.labels.pin_memory(),
                     pin(self.test_view), pin(self.index), self.probe_source,
                     tuple(c.pin_memory() for c in self.crops))


class BatchCollate:
    """The DataLoader's ``collate_fn`` for pretraining: items ``(views, label[, index])``,
    ``views`` being two augmented views or, with ``test_view``, those two and a
    test-time view, collated into one ``Batch``; with ``crops`` N, the last N tensors of
    ``views`` are extra crops (``Batch.crops``). A picklable object, for worker
    processes."""

    def __init__(self, test_view: bool = False, index: bool = False,
                 probe_source: bool = False, crops: int = 0) -> None:
        self.test_view, self.index = test_view or probe_source, index
        self.probe_source = probe_source
        self.crops = crops

    def __call__(self, items: list) -> Batch:
        views, labels, *rest = default_collate(items)
        test = views[2] if self.test_view else None
        crops = tuple(views[len(views) - self.crops:]) if self.crops else ()
        return Batch((views[0], views[1]), labels, test, rest[0] if self.index else None,
                     self.probe_source, crops)
