"""Data sets given from Python: any ``torch.utils.data.Dataset`` whose items are PIL
images, uint8 image tensors (C, H, W) or (H, W), numpy uint8 arrays (H, W[, C]), or
``(image, label)`` pairs of these with an integer label.

``infomax.pretrain(config, train=dataset, eval=labeled)`` registers the datasets here
under names ``python:<name>`` (a path source that is not on disk, see
``infomax.data.registry.PATH_SOURCES``), puts those names in ``data.name`` and
``data.eval``, and trains as for any other source: the sampler, per-item seeding, exact
resume and data parallelism are the same. The names are only valid in the process that
registered them (and, under DDP, in the processes Lightning starts by running the same
script again): a run folder's probe or report from the command line names a data set
with ``--data``.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from infomax.data.registry import (IMAGENET_MEAN, IMAGENET_STD, DatasetInfo, PathSourceEntry,
                                   _pixels, register_path_source)
from infomax.errors import ConfigError, DataNotFoundError

PREFIX = "python:"
# The share of a single labeled eval Dataset held out to score the online probes on.
HELD_OUT = 1 / 6


@dataclasses.dataclass
class _Registered:
    splits: dict[str, Dataset]  # split -> the user's Dataset (or a part of it)
    info: DatasetInfo
    class_names: tuple[str, ...] | None


_REGISTERED: dict[str, _Registered] = {}


def _what(item: Any) -> str:
    if isinstance(item, (torch.Tensor, np.ndarray)):
        return f"{type(item).__name__} of shape {tuple(item.shape)} and dtype {item.dtype}"
    return type(item).__name__


def as_image_and_label(item: Any, where: str) -> tuple[torch.Tensor, int]:
    """(uint8 (C, H, W) tensor, label or -1) of a Dataset item; ConfigError in one line
    naming ``where`` and what the item is when it is none of the accepted kinds."""
    label = -1
    if isinstance(item, (tuple, list)):
        if len(item) != 2:
            raise ConfigError(f"{where} is a {type(item).__name__} of {len(item)} values; "
                              f"yield an image or an (image, label) pair")
        item, label = item
        if isinstance(label, torch.Tensor) and label.numel() == 1:
            label = label.item()
        if isinstance(label, bool) or not isinstance(label, numbers.Integral):
            raise ConfigError(f"{where} has label {label!r}; labels must be integers >= 0")
        label = int(label)
        if label < 0:
            raise ConfigError(f"{where} has label {label}; labels must be integers >= 0")
    if isinstance(item, torch.Tensor):
        image = item.unsqueeze(0) if item.ndim == 2 else item
        if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] not in (1, 3):
            raise ConfigError(f"{where} is a {_what(item)}; yield uint8 tensors (C, H, W) with "
                              f"1 or 3 channels (torchvision.io.decode_image gives these)")
        return image.contiguous(), label
    if isinstance(item, np.ndarray):
        array = item[:, :, None] if item.ndim == 2 else item
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (1, 3):
            raise ConfigError(f"{where} is a {_what(item)}; yield uint8 arrays (H, W) or "
                              f"(H, W, 1 or 3)")
        return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).contiguous(), label
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with torchvision
        Image = None
    if Image is not None and isinstance(item, Image.Image):
        array = _pixels(item) if item.mode not in ("L",) else np.asarray(item)[:, :, None]
        return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).contiguous(), label
    raise ConfigError(f"{where} is a {_what(item)}; yield PIL images, uint8 image tensors "
                      f"(C, H, W) or (image, label) pairs")


class PythonItems(Dataset):
    """A user's Dataset as infomax reads data sets: items ``(transform(image), label)``,
    the image a uint8 (C, H, W) tensor, the label -1 where the item has none."""

    def __init__(self, dataset: Dataset, name: str, transform: Callable | None = None) -> None:
        self.dataset, self.name, self.transform = dataset, name, transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image, label = as_image_and_label(self.dataset[index], f"{self.name} item {index}")
        return (self.transform(image) if self.transform is not None else image), label


def _default_size(side: int) -> int:
    """The input size for images whose shorter side is ``side``: the smallest of the AMDIM
    encoder's sizes (32, 64, 128) that is at least ``side``, at most 128."""
    return next((s for s in (32, 64) if side <= s), 128)


def _info_of(key: str, image: torch.Tensor, num_classes: int) -> DatasetInfo:
    """Constants from the first image: its channels, the input size for its shorter side,
    ImageNet's statistics (their mean over the channels for 1-channel images)."""
    channels = image.shape[0]
    mean = IMAGENET_MEAN if channels == 3 else (sum(IMAGENET_MEAN) / 3,)
    std = IMAGENET_STD if channels == 3 else (sum(IMAGENET_STD) / 3,)
    return DatasetInfo(key, _default_size(min(image.shape[1:])), channels, num_classes,
                       mean, std, False)


def _inspect(dataset: Dataset, role: str, name: str, labeled: bool) -> tuple[torch.Tensor, int]:
    try:
        n = len(dataset)
    except TypeError:
        raise ConfigError(f"{role}: {type(dataset).__name__} has no len(); pass a map-style "
                          f"torch Dataset (with __len__ and __getitem__)") from None
    if n == 0:
        raise ConfigError(f"{role}: the Dataset {name} is empty")
    image, label = as_image_and_label(dataset[0], f"{role} ({name}) item 0")
    if labeled and label < 0:
        raise ConfigError(f"{role} ({name}) item 0 has no label; the eval Dataset must yield "
                          f"(image, label) pairs")
    return image, label


def _num_classes(dataset: Dataset, role: str, name: str) -> int:
    """The number of classes: ``len(dataset.classes)`` where it has them (torchvision's
    data sets do), else the largest label + 1 (from ``targets``, else from every item)."""
    base = dataset.dataset if isinstance(dataset, Subset) else dataset
    classes = getattr(base, "classes", None)
    if classes is not None and len(classes) > 0:
        return len(classes)
    targets = getattr(dataset, "targets", None)
    if targets is not None and len(targets) == len(dataset):
        labels = torch.as_tensor(targets)
    else:
        labels = torch.tensor([as_image_and_label(dataset[i], f"{role} ({name}) item {i}")[1]
                               for i in range(len(dataset))])
    if (labels < 0).any():
        raise ConfigError(f"{role} ({name}): item {int((labels < 0).nonzero()[0])} has no "
                          f"label; every item of a labeled Dataset needs one")
    return int(labels.max()) + 1


def _split(dataset: Dataset, seed: int) -> tuple[Dataset, Dataset]:
    """A fixed random partition (seeded): the probes learn on 5/6 and are scored on 1/6."""
    n = len(dataset)
    held = max(1, int(round(n * HELD_OUT)))
    if n < 2:
        raise ConfigError("eval: a single labeled Dataset is split into the probes' training "
                          "and test parts; it needs at least 2 items (or pass (train, test))")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return Subset(dataset, sorted(order[held:])), Subset(dataset, sorted(order[:held]))


def register(name: str, train: Dataset | None = None, evaluation: Any = None,
             seed: int = 0) -> dict[str, str | None]:
    """Register ``train`` (pretraining images; labels, if its items have them, are kept)
    and ``evaluation`` (a labeled Dataset, split into the probes' training and test
    parts, or a pair ``(train, test)`` of labeled Datasets) under ``python:<name>``
    names; return the data keys to set: ``{"name": ..., "eval": ...}``."""
    out: dict[str, str | None] = {"name": None, "eval": None}
    if train is not None:
        key = f"{PREFIX}{name}"
        image, label = _inspect(train, "train", name, labeled=False)
        info = _info_of(key, image, 0)
        # Labels of the pretraining items are not used by pretraining; a labeled train
        # Dataset without an eval one is its own eval source (split in two parts).
        _REGISTERED[key] = _Registered({"pretrain": train}, info, None)
        out["name"] = key
        if label >= 0 and evaluation is None:
            evaluation = train
    if evaluation is not None:
        key = f"{PREFIX}{name}-eval"
        if isinstance(evaluation, (tuple, list)):
            if len(evaluation) != 2:
                raise ConfigError("eval: pass a labeled Dataset or a pair (train, test) of them")
            fit, test = evaluation
        else:
            fit, test = _split(evaluation, seed)
        image, _ = _inspect(fit, "eval", name, labeled=True)
        _inspect(test, "eval (test)", name, labeled=True)
        classes = max(_num_classes(fit, "eval", name), _num_classes(test, "eval (test)", name))
        info = _info_of(key, image, classes)
        source = evaluation[0] if isinstance(evaluation, (tuple, list)) else evaluation
        _REGISTERED[key] = _Registered({"pretrain": fit, "train": fit, "test": test}, info,
                                       getattr(source, "classes", None))
        out["eval"] = key
    return out


def _entry(path: Any) -> _Registered:
    key = f"{PREFIX}{path}"
    entry = _REGISTERED.get(key)
    if entry is None:
        raise DataNotFoundError(
            f"{key} names a Dataset given from Python to infomax.pretrain in another process; "
            f"it is not known here: pass --data with a data set or folder (for probe, embed "
            f"and report), or call infomax.pretrain(config, train=...) again")
    return entry


def _info(path: Any) -> DatasetInfo:
    return _entry(path).info


def _build(path: Any, split: str, transform: Callable | None, skip_unreadable: bool) -> Dataset:
    entry = _entry(path)
    if split not in entry.splits:
        raise DataNotFoundError(f"{PREFIX}{path} has no labels, so it has no {split!r} split; "
                                f"pass eval=<labeled Dataset> to infomax.pretrain")
    return PythonItems(entry.splits[split], f"{PREFIX}{path}", transform)


def _classes(path: Any) -> tuple[str, ...] | None:
    names = _entry(path).class_names
    return tuple(names) if names is not None else None


register_path_source(PathSourceEntry(
    PREFIX, "<name>", _info, _build, _classes,
    "a Dataset given to infomax.pretrain(config, train=..., eval=...)", on_disk=False))
