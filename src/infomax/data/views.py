"""Augmented views of an image (AMDIM spec, section 1), built on torchvision.transforms.v2.

Inputs are uint8 image tensors (C, H, W) as the data sets in ``infomax.data.registry`` yield
them (PIL images and numpy HWC arrays are converted first). Outputs are float32 tensors
(C, S, S), S = ``info.image_size``, normalized with the data set's mean and std.

A training view is a geometric part (``geometric_view``: zero padding 28 -> 32 for the
grayscale sets, then a random translation at 32 px, of images made 32 x 32 first where they
are not, or a random resized crop at any other size of at least 32 px, all on uint8)
followed by a
photometric part (``photometric_view``: optional RandAugment, color jitter with p = 0.8,
random grayscale with p = 0.25 for 3-channel data, scaling to [0, 1] and normalization).
The horizontal flip is not part of a single view: ``TwoViews`` draws it once per image and
applies it before both views. ``TwoViews(info, photometric=False)`` stops after the geometric
part (uint8 views); ``infomax.data.device_views.DevicePhotometric`` then runs the photometric
part batched on the accelerator.

All transforms are module-level classes, so they pickle for DataLoader workers.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torchvision.transforms import InterpolationMode, v2
from torchvision.transforms.v2 import functional as F

from infomax.data.registry import DatasetInfo

__all__ = [
    "AsImageTensor",
    "FitTo",
    "TwoViews",
    "geometric_view",
    "photometric_view",
    "geometric_test_view",
    "test_view",
    "train_view",
]

# Numbers of spec section 1.
TRANSLATE_PX = 4  # 32 px: translation by up to 4 px in x and y ...
TRANSLATE_P = 0.8  # ... applied with this probability
CROP_SCALE = (0.3, 1.0)  # random resized crop, every size but 32 px
CROP_RATIO = (0.7, 1.4)
# Resize before the center crop of the test view: the spec's 64 and 128 px numbers, the
# usual 256 for 224 px; other sizes resize to 8/7 of the crop (as 256 / 224).
TEST_RESIZE = {64: 70, 128: 146, 224: 256}
JITTER = (0.4, 0.4, 0.4, 0.2)  # brightness, contrast, saturation, hue
JITTER_P = 0.8
GRAYSCALE_P = 0.25
FLIP_P = 0.5


class AsImageTensor:
    """Pass a (C, H, W) tensor through; turn a PIL image or numpy (H, W[, C]) array into one."""

    def __call__(self, img):
        if isinstance(img, torch.Tensor):
            if img.ndim == 2:
                return img.unsqueeze(0)
            if img.ndim != 3:
                raise ValueError(f"expected an image tensor (C, H, W), got shape {tuple(img.shape)}")
            return img
        if isinstance(img, np.ndarray):
            array = img[:, :, None] if img.ndim == 2 else img
            if array.ndim != 3:
                raise ValueError(f"expected an image array (H, W[, C]), got shape {img.shape}")
            return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).contiguous()
        return F.pil_to_tensor(img)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _check_size(info: DatasetInfo) -> None:
    if info.image_size < 32:
        raise ValueError(f"no views for image size {info.image_size}; views are 32 px or larger")


def _resize_side(size: int) -> int:
    """The shorter side the test view resizes to before its ``size`` px center crop."""
    return TEST_RESIZE.get(size, round(size * 8 / 7))


def _pad(info: DatasetInfo) -> list:
    """Zero padding 28 -> 32 for the grayscale sets (train and test)."""
    return [v2.Pad(2, fill=0)] if info.pad_to_32 else []


class FitTo:
    """32 px views of images of other sizes (image folders, ImageNet): the shorter side
    resized to ``size`` (bicubic, antialiased), then the center ``size`` x ``size`` crop.
    Images already ``size`` x ``size`` (CIFAR, padded Fashion-MNIST) pass unchanged."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        if tuple(img.shape[-2:]) == (self.size, self.size):
            return img
        img = F.resize(img, self.size, interpolation=InterpolationMode.BICUBIC, antialias=True)
        return F.center_crop(img, [self.size, self.size])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.size})"


def geometric_view(info: DatasetInfo) -> v2.Compose:
    """The geometric part of a training view, on uint8 (no flip): output (C, S, S) uint8."""
    _check_size(info)
    size = info.image_size
    if size == 32:
        fit = [FitTo(32)]
        move = v2.RandomApply(
            [v2.RandomCrop(32, padding=TRANSLATE_PX, padding_mode="reflect")], p=TRANSLATE_P
        )
    else:
        fit = []
        move = v2.RandomResizedCrop(
            size,
            scale=CROP_SCALE,
            ratio=CROP_RATIO,
            interpolation=InterpolationMode.BICUBIC,
            antialias=True,
        )
    return v2.Compose([AsImageTensor(), *_pad(info), *fit, move])


def geometric_test_view(info: DatasetInfo) -> v2.Compose:
    """The geometric part of the test view, on uint8: output (C, S, S) uint8."""
    _check_size(info)
    size = info.image_size
    steps: list = [AsImageTensor(), *_pad(info)]
    if size == 32:
        steps.append(FitTo(32))
    else:
        steps += [
            v2.Resize(_resize_side(size), interpolation=InterpolationMode.BICUBIC, antialias=True),
            v2.CenterCrop(size),
        ]
    return v2.Compose(steps)


def _to_normalized(info: DatasetInfo) -> list:
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(info.mean), list(info.std))]


def photometric_view(info: DatasetInfo, strong: bool = False) -> v2.Compose:
    """The photometric part of a training view: uint8 (C, H, W) in, normalized float32 out.

    On 1-channel images torchvision's saturation and hue adjustments return the image
    unchanged, so for 1-channel data the jitter is brightness and contrast only (the same
    result without drawing the two unused factors) and random grayscale is left out.
    """
    steps: list = [AsImageTensor()]
    if strong:
        steps.append(v2.RandAugment())
    brightness, contrast, saturation, hue = JITTER
    if info.channels == 1:
        steps.append(v2.RandomApply([v2.ColorJitter(brightness, contrast)], p=JITTER_P))
    else:
        steps.append(v2.RandomApply([v2.ColorJitter(brightness, contrast, saturation, hue)], p=JITTER_P))
        steps.append(v2.RandomGrayscale(p=GRAYSCALE_P))
    steps += _to_normalized(info)
    return v2.Compose(steps)


def train_view(info: DatasetInfo, strong: bool = False) -> Callable:
    """One augmented training view (without the flip): uint8 (C, H, W) -> float32 (C, S, S)."""
    return v2.Compose([geometric_view(info), photometric_view(info, strong)])


def test_view(info: DatasetInfo) -> Callable:
    """The deterministic test-time view: uint8 (C, H, W) -> float32 (C, S, S), normalized."""
    return v2.Compose([geometric_test_view(info), *_to_normalized(info)])


# pytest would collect ``test_view`` as a test wherever it is imported into a test module.
test_view.__test__ = False


class TwoViews:
    """The pretraining transform: one flip decision per image, then two independent views.

    With ``photometric=False`` the views are only the geometric part (``geometric_view``):
    uint8 (C, S, S) tensors, for a photometric part run later on the batch
    (``infomax.data.device_views.DevicePhotometric``); ``strong`` then has no effect here.
    With ``with_test_view`` a third item follows the two views: the image's test-time view
    (``test_view``, or with ``photometric=False`` its uint8 geometric part), unflipped, for
    online probes that learn on the views they are scored on.
    """

    def __init__(self, info: DatasetInfo, strong: bool = False, photometric: bool = True,
                 with_test_view: bool = False):
        self.info = info
        self.strong = strong
        self.photometric = photometric
        self.flip_p = FLIP_P
        self.to_image = AsImageTensor()
        self.view = train_view(info, strong) if photometric else geometric_view(info)
        self.test_view = None
        if with_test_view:
            self.test_view = test_view(info) if photometric else geometric_test_view(info)

    def __call__(self, img) -> tuple[torch.Tensor, ...]:
        img = self.to_image(img)
        clean = (self.test_view(img),) if self.test_view is not None else ()
        if torch.rand(()).item() < self.flip_p:
            img = F.horizontal_flip(img)
        return (self.view(img), self.view(img), *clean)

    def __repr__(self) -> str:
        clean = f", test_view={self.test_view}" if self.test_view is not None else ""
        return f"{type(self).__name__}(flip_p={self.flip_p}, view={self.view}{clean})"
