"""A pretrained encoder with its preprocessing: what ``infomax.load_encoder`` and
``infomax.load_exported`` return.

``PretrainedEncoder`` wraps a backbone (``infomax.nn.encoders``) in eval mode together with
the test-time view of the run it was trained in (``infomax.data.views.test_view``: the
same images, channels, size and normalization the probes and ``infomax embed`` see).
``embed`` takes images of any kind (PIL images, uint8 tensors, file paths, already
preprocessed float tensors, or lists of them), preprocesses them as the data pipeline
does, and runs them through the encoder in batches. The backbone itself stays reachable:
``wrapper(x)`` is its forward, its attributes (``feature_dim``, ``in_channels``,
``forward_features``, ...) are the wrapper's, and ``wrapper.encoder`` is the module.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from infomax.config import ViewsConfig
from infomax.data.registry import (IMAGENET_MEAN, IMAGENET_STD, DatasetInfo, dataset_info,
                                   load_rgb, path_source, pil_image_tensor)
from infomax.data.source import DataSource, with_settings
from infomax.data.views import test_view
from infomax.devices import resolve_device
from infomax.errors import InfomaxError

__all__ = ["EncoderView", "PretrainedEncoder", "load_encoder", "view_info"]


def view_info(data: Any, in_channels: int, image_size: int) -> DatasetInfo:
    """The constants of the images a run's encoder was trained on (its test view's size,
    channels, normalization and 28 -> 32 padding), from the run's ``data`` section and the
    encoder's input shape, without needing the data on disk.

    A named data set's constants are its own. A source named by a path (image folders,
    ImageNet, shards) is resolved where it is on this machine; where it is not (another
    machine's folder, a Python Dataset of another process) its views' constants are those
    every such source has: ImageNet's mean and std (their average per channel for
    grayscale), no padding. The data section's ``mean`` and ``std`` apply either way."""
    try:
        if path_source(data.name) is None:
            info = with_settings(dataset_info(data.name), data)
        else:
            info = DataSource.resolve(data).info
    except InfomaxError:
        mean = IMAGENET_MEAN if in_channels == 3 else (sum(IMAGENET_MEAN) / 3,) * in_channels
        std = IMAGENET_STD if in_channels == 3 else (sum(IMAGENET_STD) / 3,) * in_channels
        base = DatasetInfo(data.name, image_size, in_channels, 0, tuple(mean), tuple(std),
                           False)
        info = with_settings(base, dataclasses.replace(data, channels=None, image_size=None))
    if (info.channels, info.image_size) != (in_channels, image_size):
        info = dataclasses.replace(info, channels=in_channels, image_size=image_size)
    return info


def _is_pil(image: Any) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with torchvision
        return False
    return isinstance(image, Image.Image)


class EncoderView:
    """The test-time view of a run's encoder for one image: a PIL image of any mode, a
    uint8 tensor (C, H, W) or a uint8 numpy array (H, W[, C]) with 1 or 3 channels in, a
    normalized float32 tensor (C, S, S) out. A PIL image is read as ``load_rgb`` reads
    files (every mode but grayscale to RGB, alpha dropped); the channels then follow the
    run's (gray repeated to RGB, RGB to luminance) and the size the test view's rule."""

    def __init__(self, info: DatasetInfo, views: ViewsConfig | None = None) -> None:
        self.info, self.views = info, views
        self.view = test_view(info, views)

    def __call__(self, image: Any) -> Tensor:
        if _is_pil(image):
            image = pil_image_tensor(image)
        elif isinstance(image, np.ndarray) and image.ndim in (2, 3):
            image = torch.from_numpy(np.ascontiguousarray(
                image[:, :, None] if image.ndim == 2 else image)).permute(2, 0, 1)
        if not isinstance(image, Tensor) or image.dtype != torch.uint8:
            raise InfomaxError(f"the test view takes a PIL image or a uint8 image (C, H, W), "
                               f"not {_what(image)}")
        if image.ndim == 2:
            image = image.unsqueeze(0)
        if image.ndim != 3 or image.shape[0] not in (1, 3):
            raise InfomaxError(f"an image of shape {tuple(image.shape)}: give uint8 images "
                               f"(C, H, W) with 1 or 3 channels")
        return self.view(image)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.view!r})"


def _what(x: Any) -> str:
    if isinstance(x, (Tensor, np.ndarray)):
        return f"a {type(x).__name__} of {x.dtype} and shape {tuple(x.shape)}"
    return f"a {type(x).__name__}"


class PretrainedEncoder(nn.Module):
    """A backbone in eval mode with its test-time view (``transform``).

    ``embed(images)`` gives the global features (N, feature_dim), float32, on the encoder's
    device (move it with ``.to(device)``; ``.cpu()`` the result for numpy). ``wrapper(x)``
    is the backbone's own forward and every attribute the wrapper lacks is the backbone's.
    ``config`` is the run's config (None for an encoder read from an export), ``info``
    the constants of its images."""

    def __init__(self, encoder: nn.Module, info: DatasetInfo, views: ViewsConfig | None = None,
                 *, config: Any = None, channels_last: bool = False) -> None:
        super().__init__()
        self.encoder = encoder.eval()
        self.info, self.config, self.channels_last = info, config, channels_last
        self.transform = EncoderView(info, views)
        if channels_last:
            self.encoder.to(memory_format=torch.channels_last)
        self.eval()

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            encoder = self.__dict__.get("_modules", {}).get("encoder")
            if encoder is None or name.startswith("__"):
                raise
            return getattr(encoder, name)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.encoder(*args, **kwargs)

    @property
    def device(self) -> torch.device:
        """Where the encoder's weights are (and ``embed`` runs)."""
        for tensor in self.encoder.parameters():
            return tensor.device
        return torch.device("cpu")

    def _items(self, images: Any) -> Iterator[Any]:
        """The single images of ``images``: a list or tuple is read item by item, a tensor
        batch (B, C, H, W) image by image."""
        if isinstance(images, (list, tuple)):
            for item in images:
                if isinstance(item, (list, tuple)):
                    raise InfomaxError("embed: a list inside the list of images; give one "
                                       "flat list of images")
                yield from self._items(item)
        elif isinstance(images, Tensor) and images.ndim == 4:
            yield from images
        else:
            yield images

    def _prepare(self, item: Any) -> Tensor:
        """One image as the encoder's input (C, S, S) float."""
        if isinstance(item, (str, os.PathLike)):
            if not Path(item).is_file():
                raise InfomaxError(f"embed: image file {item} does not exist")
            return self.transform(load_rgb(item))
        if isinstance(item, Tensor) and item.is_floating_point():
            if item.ndim != 3:
                raise InfomaxError(f"embed: a float tensor of shape {tuple(item.shape)}; give "
                                   f"preprocessed images as (B, C, H, W) or (C, H, W)")
            return item
        return self.transform(item)

    def _batches(self, images: Any, batch_size: int) -> Iterator[Tensor]:
        if isinstance(images, Tensor) and images.is_floating_point() and images.ndim == 4:
            # Already preprocessed: passed on as it is, in slices of batch_size.
            yield from images.split(batch_size)
            return
        chunk: list[Tensor] = []
        for item in self._items(images):
            chunk.append(self._prepare(item))
            if len(chunk) == batch_size:
                yield self._stack(chunk)
                chunk = []
        if chunk:
            yield self._stack(chunk)

    @staticmethod
    def _stack(chunk: list[Tensor]) -> Tensor:
        shapes = {tuple(x.shape) for x in chunk}
        if len(shapes) > 1:
            raise InfomaxError(f"embed: preprocessed images of different shapes "
                               f"({', '.join(map(str, sorted(shapes)))}); give them as the "
                               f"test view makes them, or as images")
        return torch.stack(chunk)

    def embed(self, images: Any, batch_size: int = 256, progress: bool = False) -> Tensor:
        """Global features (N, feature_dim) float32 on the encoder's device, one row per
        image, in order. ``images``: a PIL image, a uint8 tensor (C, H, W) or batch
        (B, C, H, W), a file path (str or Path), a float tensor batch already preprocessed
        by ``transform`` (as the backbone's own ``embed`` takes it), or a list or tuple
        mixing them. Images are preprocessed by ``transform`` and run ``batch_size`` at a
        time."""
        if batch_size < 1:
            raise InfomaxError(f"embed: batch_size {batch_size} must be >= 1")
        device = self.device
        feats = []
        with torch.no_grad():
            for x in tqdm(self._batches(images, batch_size), desc="features",
                          disable=not progress, leave=False):
                x = x.to(device)
                if self.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                feats.append(self.encoder.embed(x).float().flatten(1))
        if not feats:
            return torch.empty(0, self.encoder.feature_dim, device=device)
        return torch.cat(feats)


def load_encoder(checkpoint: str | Path, map_location: str = "cpu", *,
                 device: str | torch.device | None = None) -> PretrainedEncoder:
    """The encoder of ``checkpoint`` with its run's test view (see ``PretrainedEncoder``).
    ``device``: None keeps it where ``map_location`` loads it (the CPU by default); "auto",
    "cpu", "cuda", "cuda:N" or "mps" move it there (``infomax.devices.resolve_device``)."""
    from infomax.runs import load_method

    target = None if device is None else resolve_device(device, flag="device")
    method = load_method(checkpoint, map_location)
    cfg = method.cfg
    info = view_info(cfg.data, method.in_channels, method.image_size)
    wrapper = PretrainedEncoder(method.encoder, info, cfg.views, config=cfg,
                                channels_last=cfg.train.channels_last)
    return wrapper.to(target) if target is not None else wrapper
