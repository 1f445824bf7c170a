"""Augmented views of an image, built on torchvision.transforms.v2 from a run's ``views``
config section (``infomax.config.ViewsConfig``; its defaults are AMDIM's, spec section 1).

Inputs are uint8 image tensors (C, H, W) as the data sets in ``infomax.data.registry`` yield
them (PIL images and numpy HWC arrays are converted first; an image with another number of
channels than ``info.channels`` is converted: 1 -> 3 by repeating, 3 -> 1 to luminance).
Outputs are float32 tensors (C, S, S), S = ``info.image_size`` (any size), normalized with
the data set's mean and std.

A training view is a geometric part (``geometric_view``: zero padding 28 -> 32 for the
grayscale sets, then a random translation or random resized crop, all on uint8) followed by a
photometric part (``photometric_view``: the augmentation of ``data.augment`` if any
(torchvision's RandAugment, or a Fast AutoAugment policy, ``infomax.data.autoaugment``, on
the uint8 view), color jitter, random grayscale for 3-channel data, then, when their
probability is not 0, Gaussian blur and solarization, scaling to [0, 1] and
normalization). A step whose probability is 0 is left out of the
pipeline (it draws nothing from the RNG), so the defaults draw exactly what AMDIM's views do.
The horizontal flip is not part of a single view: ``TwoViews`` draws it once per image and
applies it before both views (``views.flip_shared``; else each view draws its own).
The fine-tuning protocol's view (``finetune_view``) is the geometric part and the flip
only.
``TwoViews(info, photometric=False)`` stops after the geometric part (uint8 views; with
Fast AutoAugment after it, which stays on the CPU: ``worker_view``);
``infomax.data.device_views.DevicePhotometric`` then runs the rest of the photometric part
(RandAugment included) batched on the accelerator.

Every function takes an optional ``views`` (a ``ViewsConfig``; None: the defaults). The
per-view sections ``views.first`` and ``views.second`` reach the view they name through
``TwoViews``; the single-view functions use the shared settings (or pass
``views.for_view(i)``).

All transforms are module-level classes, so they pickle for DataLoader workers.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import torch
from torchvision.transforms import InterpolationMode, v2
from torchvision.transforms.v2 import functional as F

from infomax.config import ViewsConfig, augment_kind
from infomax.data.autoaugment import FastAutoAugment, resolve_policy
from infomax.data.registry import DatasetInfo

__all__ = [
    "AsImageTensor",
    "FitToSize",
    "ResizeTo",
    "ToChannels",
    "TwoViews",
    "adapted_test_view",
    "blur_kernel_size",
    "finetune_view",
    "geometric_view",
    "photometric_view",
    "geometric_test_view",
    "test_resize",
    "test_view",
    "to_channels",
    "train_view",
    "worker_view",
]

# Numbers of spec section 1: the defaults of the views config section.
_DEFAULTS = ViewsConfig()
TRANSLATE_PX = _DEFAULTS.translate_px  # 32 px: translation by up to 4 px in x and y ...
TRANSLATE_P = _DEFAULTS.translate_p  # ... applied with this probability
CROP_SCALE = tuple(_DEFAULTS.crop_scale)  # 64 / 128 px random resized crop
CROP_RATIO = tuple(_DEFAULTS.crop_ratio)
TEST_RESIZE = {64: 70, 128: 146}  # resize before the center crop of the test view
JITTER = tuple(_DEFAULTS.jitter)  # brightness, contrast, saturation, hue
JITTER_P = _DEFAULTS.jitter_p
GRAYSCALE_P = _DEFAULTS.grayscale_p
FLIP_P = _DEFAULTS.flip_p
SOLARIZE_THRESHOLD = 128  # of 255: pixels at or above it are inverted
# The keys of the views section that the photometric part reads.
PHOTOMETRIC_KEYS = ("jitter", "jitter_strength", "jitter_p", "grayscale_p", "blur_p",
                    "blur_sigma", "solarize_p")


def to_channels(img: torch.Tensor, channels: int | None) -> torch.Tensor:
    """A uint8 (C, H, W) image with ``channels`` channels: 1 -> 3 by repeating, 3 -> 1 to
    luminance (torchvision's rgb_to_grayscale; a gray image keeps its values); the image
    itself when it has them already."""
    if channels is None or img.shape[0] == channels:
        return img
    if img.shape[0] == 1 and channels == 3:
        return img.expand(3, -1, -1).contiguous()
    if img.shape[0] == 3 and channels == 1:
        if torch.equal(img[0], img[1]) and torch.equal(img[1], img[2]):
            # A gray image stored as RGB: its luminance is its value (rgb_to_grayscale's
            # weights sum to 0.9999 and would lower some values by 1).
            return img[:1].clone()
        return F.rgb_to_grayscale(img, num_output_channels=1)
    raise ValueError(f"cannot turn a {img.shape[0]}-channel image into a {channels}-channel one")


class ToChannels:
    """``to_channels(img, channels)`` as a transform."""

    def __init__(self, channels: int) -> None:
        self.channels = channels

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        return to_channels(img, self.channels)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(channels={self.channels})"


class AsImageTensor:
    """Pass a (C, H, W) tensor through; turn a PIL image or numpy (H, W[, C]) array into one.
    With ``channels``, the image is then given that many channels (``to_channels``)."""

    def __init__(self, channels: int | None = None) -> None:
        self.channels = channels

    def __call__(self, img):
        return to_channels(self._tensor(img), self.channels)

    @staticmethod
    def _tensor(img):
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
        shown = "" if self.channels is None else f"channels={self.channels}"
        return f"{type(self).__name__}({shown})"


class FitToSize:
    """An image of ``size`` x ``size`` passes unchanged; any other is resized (shorter side
    to ``size``, bicubic, antialiased) and center-cropped to ``size`` x ``size``. For the
    steps that expect the image at its size already (the translation, the 32 px test
    view)."""

    def __init__(self, size: int, fit: str = "resize") -> None:
        self.size, self.fit = size, fit

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        if tuple(img.shape[-2:]) == (self.size, self.size):
            return img
        if self.fit == "resize":
            img = F.resize(img, self.size, interpolation=InterpolationMode.BICUBIC,
                           antialias=True)
        # center_crop pads with zeros, centered (left/top get the smaller half), where the
        # image is smaller: 28 -> 32 is v2.Pad(2) exactly.
        return F.center_crop(img, self.size)

    def __repr__(self) -> str:
        fit = "" if self.fit == "resize" else f", fit={self.fit!r}"
        return f"{type(self).__name__}(size={self.size}{fit})"


def _views(views: ViewsConfig | None) -> ViewsConfig:
    return _DEFAULTS if views is None else views


def _natural_size(info: DatasetInfo) -> int:
    """The side of the images the data set's views start from (28 for the padded sets)."""
    return 28 if info.pad_to_32 else info.image_size


def _pad(info: DatasetInfo) -> list:
    """Zero padding 28 -> 32 for the grayscale sets (train and test)."""
    return [v2.Pad(2, fill=0)] if info.pad_to_32 else []


def _translates(info: DatasetInfo, views: ViewsConfig) -> bool:
    return views.crop == "translate" or (views.crop == "auto" and info.image_size == 32)


def geometric_view(info: DatasetInfo, views: ViewsConfig | None = None) -> v2.Compose:
    """The geometric part of a training view, on uint8 (no flip): output (C, S, S) uint8."""
    views = _views(views)
    size = info.image_size
    steps: list = [AsImageTensor(info.channels)]
    if _translates(info, views):
        steps += [FitToSize(_natural_size(info), views.fit), *_pad(info)]
        if views.translate_px > 0 and views.translate_p > 0:
            crop = v2.RandomCrop(size, padding=views.translate_px, padding_mode="reflect")
            steps.append(v2.RandomApply([crop], p=views.translate_p))
    else:
        steps += [*_pad(info), v2.RandomResizedCrop(
            size,
            scale=tuple(views.crop_scale),
            ratio=tuple(views.crop_ratio),
            interpolation=InterpolationMode.BICUBIC,
            antialias=True,
        )]
    return v2.Compose(steps)


def test_resize(size: int) -> int:
    """The side the test view resizes the shorter image side to before its center crop:
    AMDIM's 70 / 146 at 64 / 128 px, else ``size * 8 / 7`` rounded (224 -> 256)."""
    return TEST_RESIZE.get(size, round(size * 8 / 7))


def geometric_test_view(info: DatasetInfo, views: ViewsConfig | None = None) -> v2.Compose:
    """The geometric part of the test view, on uint8: output (C, S, S) uint8. (Of the
    ``views`` keys only ``fit`` changes it, at 32 px: it depends on the image size and
    channels.)"""
    size = info.image_size
    steps: list = [AsImageTensor(info.channels)]
    if size == 32:
        steps += [FitToSize(_natural_size(info), _views(views).fit), *_pad(info)]
    else:
        steps += [
            *_pad(info),
            v2.Resize(test_resize(size), interpolation=InterpolationMode.BICUBIC, antialias=True),
            v2.CenterCrop(size),
        ]
    return v2.Compose(steps)


def _to_normalized(info: DatasetInfo) -> list:
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(info.mean), list(info.std))]


def blur_kernel_size(image_size: int) -> int:
    """The Gaussian blur's kernel side: the odd number nearest 10% of the image side (SimCLR)."""
    return max(1, 2 * round((image_size / 10 - 1) / 2) + 1)


def jitter_values(views: ViewsConfig) -> tuple[float, float, float, float]:
    """brightness, contrast, saturation and hue of the color jitter, times its strength."""
    return tuple(v * views.jitter_strength for v in views.jitter)  # type: ignore[return-value]


def _maybe(transform, p: float) -> list:
    """``transform`` applied with probability ``p``: left out at 0, unconditional at 1."""
    if p <= 0:
        return []
    return [transform] if p >= 1 else [v2.RandomApply([transform], p=p)]


def _augmentation(info: DatasetInfo, augment: str | bool, policy: str) -> list:
    """The step of ``data.augment`` (``augment``: plain, randaugment, fast-autoaugment, or
    True / False for randaugment / plain): none, torchvision's RandAugment (its defaults:
    2 operations at magnitude 9) or the Fast AutoAugment ``policy`` (``auto``: by the image
    size, ``resolve_policy``)."""
    kind = augment_kind(augment)
    if kind == "randaugment":
        return [v2.RandAugment()]
    if kind == "fast-autoaugment":
        return [FastAutoAugment(resolve_policy(policy, info.image_size))]
    return []


def photometric_view(info: DatasetInfo, augment: str | bool = "plain",
                     views: ViewsConfig | None = None, policy: str = "auto") -> v2.Compose:
    """The photometric part of a training view: uint8 (C, H, W) in, normalized float32 out.

    ``augment`` (``data.augment``; True / False: randaugment / plain) adds its augmentation
    first, on the uint8 view: RandAugment, or the Fast AutoAugment ``policy``
    (``data.augment_policy``).

    On 1-channel images torchvision's saturation and hue adjustments return the image
    unchanged, so for 1-channel data the jitter is brightness and contrast only (the same
    result without drawing the two unused factors) and random grayscale is left out.
    """
    views = _views(views)
    steps: list = [AsImageTensor(info.channels), *_augmentation(info, augment, policy)]
    brightness, contrast, saturation, hue = jitter_values(views)
    if info.channels != 1 and views.jitter_p > 0 and any((brightness, contrast, saturation, hue)):
        steps.append(v2.RandomApply([v2.ColorJitter(brightness, contrast, saturation, hue)],
                                    p=views.jitter_p))
    elif info.channels == 1 and views.jitter_p > 0 and any((brightness, contrast)):
        steps.append(v2.RandomApply([v2.ColorJitter(brightness, contrast)], p=views.jitter_p))
    if info.channels != 1 and views.grayscale_p > 0:
        steps.append(v2.RandomGrayscale(p=views.grayscale_p))
    if views.blur_p > 0:
        kernel = blur_kernel_size(info.image_size)
        steps += _maybe(v2.GaussianBlur(kernel, sigma=tuple(views.blur_sigma)), views.blur_p)
    if views.solarize_p > 0:
        steps.append(v2.RandomSolarize(SOLARIZE_THRESHOLD, p=views.solarize_p))
    steps += _to_normalized(info)
    return v2.Compose(steps)


def train_view(info: DatasetInfo, augment: str | bool = "plain",
               views: ViewsConfig | None = None, policy: str = "auto") -> Callable:
    """One augmented training view (without the flip): uint8 (C, H, W) -> float32 (C, S, S).
    ``augment`` and ``policy`` as for ``photometric_view``."""
    return v2.Compose([geometric_view(info, views),
                       photometric_view(info, augment, views, policy)])


def worker_view(info: DatasetInfo, augment: str | bool = "plain",
                views: ViewsConfig | None = None, policy: str = "auto") -> Callable:
    """What the DataLoader workers make of a training view when the photometric part runs
    on the device (``data.augment_device``): the geometric part (uint8 (C, S, S)), then
    Fast AutoAugment when ``augment`` is fast-autoaugment (on uint8 too: it stays on the
    CPU; RandAugment runs on the device, in ``DevicePhotometric``)."""
    geometric = geometric_view(info, views)
    if augment_kind(augment) != "fast-autoaugment":
        return geometric
    return v2.Compose([geometric, *_augmentation(info, augment, policy)])


def finetune_view(info: DatasetInfo, views: ViewsConfig | None = None) -> Callable:
    """The training view of the fine-tuning protocol (SimCLR, App. B.5: random crop and
    horizontal flip only, no colour augmentation): the geometric part of the run's views
    (``geometric_view``: the translation at 32 px, else the random resized crop), the
    horizontal flip with the run's ``views.flip_p`` (left out at 0, as set for data a flip
    does not keep the label of), scaling to [0, 1] and normalization. uint8 (C, H, W) ->
    float32 (C, S, S)."""
    views = _views(views)
    flip = [v2.RandomHorizontalFlip(min(1.0, views.flip_p))] if views.flip_p > 0 else []
    return v2.Compose([geometric_view(info, views), *flip, *_to_normalized(info)])


def test_view(info: DatasetInfo, views: ViewsConfig | None = None) -> Callable:
    """The deterministic test-time view: uint8 (C, H, W) -> float32 (C, S, S), normalized."""
    return v2.Compose([geometric_test_view(info, views), *_to_normalized(info)])


# pytest would collect ``test_view`` as a test wherever it is imported into a test module.
test_view.__test__ = False


class ResizeTo:
    """A square image resized to ``size`` x ``size`` (bilinear, antialiased): how a data
    set of another fixed size is given to an encoder (``adapted_test_view``)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        if tuple(img.shape[-2:]) == (self.size, self.size):
            return img
        return F.resize(img, [self.size, self.size], interpolation=InterpolationMode.BILINEAR,
                        antialias=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, bilinear, antialias)"


def adapted_test_view(info: DatasetInfo, channels: int, size: int, mean: tuple[float, ...],
                      std: tuple[float, ...], views: ViewsConfig | None = None) -> v2.Compose:
    """The test view of data set ``info`` for an encoder of another input shape: the image
    given ``channels`` channels (``to_channels``: 3 -> 1 luminance, 1 -> 3 repeated), the
    data set's own geometric test view (its padding, its size), a bilinear antialiased
    resize to ``size`` when that differs, then scaling and normalization by ``mean`` and
    ``std``."""
    steps: list = [geometric_test_view(dataclasses.replace(info, channels=channels), views)]
    if info.image_size != size:
        steps.append(ResizeTo(size))
    return v2.Compose([*steps, v2.ToDtype(torch.float32, scale=True),
                       v2.Normalize(list(mean), list(std))])



class TwoViews:
    """The pretraining transform: one flip decision per image, then two independent views.

    With ``views.flip_shared`` (the default) one flip is drawn per image and applied before
    both views; without it each view draws its own (with its ``flip_p``) right before it.
    The views are built from ``views.for_view(0)`` and ``views.for_view(1)``: the shared
    settings with ``views.first`` / ``views.second`` applied (one pipeline when they are the
    same).

    ``augment`` (``data.augment``: plain, randaugment, fast-autoaugment; True / False:
    randaugment / plain) and ``policy`` (``data.augment_policy``) give the augmentation of
    both views (``photometric_view``); ``self.augment`` and ``self.policy`` hold them
    resolved (the kind, and the Fast AutoAugment policy that ``auto`` picks for
    ``info.image_size``), for the crops of ``MultiCrop``.

    With ``photometric=False`` the views are only what the workers run (``worker_view``):
    the geometric part, then Fast AutoAugment when it is the augmentation; uint8 (C, S, S)
    tensors, for a photometric part run later on the batch
    (``infomax.data.device_views.DevicePhotometric``, which runs RandAugment there).
    With ``with_test_view`` a third item follows the two views: the image's test-time view
    (``test_view``, or with ``photometric=False`` its uint8 geometric part), unflipped, for
    online probes that learn on the views they are scored on.
    """

    def __init__(self, info: DatasetInfo, augment: str | bool = "plain",
                 photometric: bool = True, with_test_view: bool = False,
                 views: ViewsConfig | None = None, policy: str = "auto"):
        views = _views(views)
        self.info = info
        self.augment = augment_kind(augment)
        self.policy = resolve_policy(policy, info.image_size)
        self.photometric = photometric
        self.flip_shared = views.flip_shared
        self.flip_p = views.flip_p
        self.to_image = AsImageTensor(info.channels)
        settings = (views.for_view(0), views.for_view(1))
        self.flip_ps = tuple(s.flip_p for s in settings)

        def build(s: ViewsConfig):
            view = train_view if photometric else worker_view
            return view(info, self.augment, s, self.policy)

        first = build(settings[0])
        self.views = (first, first if settings[0] == settings[1] else build(settings[1]))
        self.view = first
        self.test_view = None
        if with_test_view:
            self.test_view = test_view(info, views) if photometric else geometric_test_view(info, views)

    def __call__(self, img) -> tuple[torch.Tensor, ...]:
        img = self.to_image(img)
        clean = (self.test_view(img),) if self.test_view is not None else ()
        if self.flip_shared:
            if torch.rand(()).item() < self.flip_p:
                img = F.horizontal_flip(img)
            return (self.views[0](img), self.views[1](img), *clean)
        out = []
        for view, p in zip(self.views, self.flip_ps):
            flip = torch.rand(()).item() < p
            out.append(view(F.horizontal_flip(img) if flip else img))
        return (*out, *clean)

    def __repr__(self) -> str:
        clean = f", test_view={self.test_view}" if self.test_view is not None else ""
        flip = f"flip_p={self.flip_p}" if self.flip_shared else f"flip_p={self.flip_ps} per view"
        views = (f"view={self.views[0]}" if self.views[0] is self.views[1]
                 else f"views=({self.views[0]}, {self.views[1]})")
        return f"{type(self).__name__}({flip}, {views}{clean})"
