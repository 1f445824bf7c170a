"""Crops beyond the two views (multi-crop, Caron et al. 2020, Sec. 3.2), for methods that
ask for them (``SSLMethod.extra_crops``).

``ExtraCrops`` describes a group of crops: how many, their side, and the area range of
their random resized crop (None: the views' own geometric part, at the views' size).
``MultiCrop`` wraps the pretraining transform (``TwoViews``): it runs it first, unchanged
(the two views draw exactly what they draw without extra crops), then cuts each extra crop
from the image, each with its own horizontal flip (p = ``views.flip_p``, whatever
``views.flip_shared``; the SwAV code flips every crop on its own) and the photometric part
of the ``views`` section's shared settings (``views.first`` / ``views.second`` are the two
views' own), with the views' augmentation (``data.augment``: RandAugment, or Fast
AutoAugment with the views' policy, the one ``auto`` picks for the data's image size, not
the crop's). An item is then ``(view 1, view 2[, test view], *crops)``; the batch carries
the crops in ``Batch.crops`` in the order of the groups. Without extra crops none of this
is used: the pipeline is ``TwoViews`` alone.

With ``photometric=False`` (``data.augment_device``) the crops are uint8 like the views
(Fast AutoAugment applied in the workers, as for the views) and ``crop_augment`` gives the
batched photometric part of each group (RandAugment included), run on the device after
the transfer (``PretrainData.on_after_batch_transfer``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torchvision.transforms.v2 import functional as F

from infomax.config import ViewOverrides, ViewsConfig
from infomax.data.registry import DatasetInfo
from infomax.data.views import AsImageTensor, train_view, worker_view

__all__ = ["ExtraCrops", "MultiCrop", "crop_augment"]


@dataclass(frozen=True)
class ExtraCrops:
    """``count`` crops of ``size`` x ``size`` px. ``scale``: the area range (a fraction of
    the image) of their random resized crop, with the views' aspect ratios; None: the
    views' own geometric part (translation or resized crop, as ``views.crop`` says), which
    is at the data set's image size."""

    count: int
    size: int
    scale: tuple[float, float] | None = None


def crop_info(info: DatasetInfo, crops: ExtraCrops) -> DatasetInfo:
    """``info`` for crops of this group: their size (the blur's kernel follows it)."""
    return dataclasses.replace(info, image_size=crops.size)


def crop_views(views: ViewsConfig, crops: ExtraCrops) -> ViewsConfig:
    """The views settings of a group: the shared ones, with a resized crop at the group's
    scale when it has one."""
    shared = dataclasses.replace(views, first=ViewOverrides(), second=ViewOverrides())
    if crops.scale is None:
        return shared
    return dataclasses.replace(shared, crop="resized", crop_scale=list(crops.scale))


def crop_augment(info: DatasetInfo, crops: Sequence[ExtraCrops], views: ViewsConfig,
                 strong: Any = False) -> list[Any]:
    """The batched photometric part (``DevicePhotometric``) of each group, for crops
    that left the workers as uint8 (``data.augment_device``)."""
    from infomax.data.device_views import DevicePhotometric  # imports kornia

    return [DevicePhotometric(crop_info(info, c), strong=strong, views=crop_views(views, c))
            for c in crops]


class MultiCrop:
    """``transform`` (a ``TwoViews``) followed by the ``crops`` (``ExtraCrops`` groups)
    of the same image; see the module docstring. The augmentation (``augment``, ``policy``)
    and ``photometric`` are the transform's."""

    def __init__(self, transform: Any, crops: Sequence[ExtraCrops], views: ViewsConfig | None
                 = None) -> None:
        views = ViewsConfig() if views is None else views
        self.transform = transform
        self.crops = tuple(crops)
        info: DatasetInfo = transform.info
        augment, policy = transform.augment, transform.policy
        self.photometric = transform.photometric
        self.to_image = AsImageTensor(info.channels)
        self.flip_p = views.flip_p
        self.pipelines = []
        for group in self.crops:
            gi, gv = crop_info(info, group), crop_views(views, group)
            view = train_view if self.photometric else worker_view
            pipeline = view(gi, augment, gv, policy)
            self.pipelines += [pipeline] * group.count

    @property
    def count(self) -> int:
        """Extra crops per image."""
        return len(self.pipelines)

    def __call__(self, img) -> tuple[torch.Tensor, ...]:
        out = self.transform(img)  # first, as without extra crops
        img = self.to_image(img)
        crops = []
        for pipeline in self.pipelines:
            flip = self.flip_p > 0 and torch.rand(()).item() < self.flip_p
            crops.append(pipeline(F.horizontal_flip(img) if flip else img))
        return (*out, *crops)

    def __repr__(self) -> str:
        groups = ", ".join(f"{c.count} x {c.size} px" + (f" at scale {list(c.scale)}"
                                                         if c.scale else "")
                           for c in self.crops)
        return f"{type(self).__name__}({self.transform}, crops=[{groups}])"

