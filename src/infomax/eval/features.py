"""Frozen features of a checkpoint's encoder over a whole split, cached on disk.

Every evaluation protocol (linear, MLP, kNN, label fractions, transfer, embedding export,
the report) reads its features through ``checkpoint_features``: the encoder in eval mode,
the deterministic test-time view, every image of the split in order (no last batch
dropped), batched with a progress bar, on the device asked for (``extract_features``: on
CUDA under autocast, features returned as float32 on the CPU). The result is cached beside
the checkpoint in ``features/<checkpoint>-<data>-<split>.pt`` (CPU features) or
``...-<split>-<device>-<precision>.pt`` (e.g. ``-cuda-bf16``), and reused while the
checkpoint file (size and modification time), the data set, the split, the view and the
device type and precision are unchanged: features made in bfloat16 on a GPU are never
served for the CPU's float32 ones, nor the reverse.

Data of another input shape than the encoder's (``probe_input``): 3-channel images for a
1-channel encoder are converted to luminance, 1-channel images for a 3-channel encoder
repeated over the channels, any other channel count is refused; a fixed-size data set of
another size is resized (bilinear, antialiased) to the encoder's size after its own test
view. See docs/evaluation.md.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import torch
from torch import Tensor
from torch.utils.data import Dataset

from infomax.config import ViewsConfig
from infomax.data.registry import DatasetInfo, dataset_info, path_source
from infomax.data.source import DataSource, same_source, with_settings
from infomax.data.views import adapted_test_view, test_view
from infomax.devices import resolve_device
from infomax.errors import ConfigError, InfomaxError
from infomax.eval.linear import extract_features, extraction_precision
from infomax.files import atomic_save
from infomax.runs import load_method

CACHE_VERSION = 2

# Images per extraction batch by default: 1024 for inputs of up to 32 px (the Fashion-MNIST
# demo's encoder extracted 1.1-1.6x as many images/s as at 256 on 2 contended CPU cores,
# as many on idle ones, with the same features bit for bit: BENCHMARKS.md), else 256 as
# before (1024 images of 32 px hold as many pixels as 256 of 64 px).
EXTRACT_BATCH_SMALL = 1024
EXTRACT_BATCH = 256

# How the channels of a probe's images are made the encoder's: the conversions there are.
CHANNEL_RULES = {(3, 1): "luma", (1, 3): "replicated"}
CHANNEL_WORDS = {
    "kept": "kept",
    "luma": "converted to luminance (ITU-R BT.601 luma, torchvision's rgb_to_grayscale: "
            "0.2989 R + 0.587 G + 0.114 B; a gray image stored as RGB keeps its value)",
    "replicated": "repeated over the 3 channels",
}
STATISTICS_WORDS = {
    "pretraining": "the pretraining data's statistics (the images are seen as the "
                   "pretraining images)",
    "own": "the data set's own statistics",
    "own, averaged over channels": "the data set's own statistics, the mean of its channels' "
                                   "means and stds (as data.channels=1 does in pretraining)",
    "own, repeated": "the data set's own statistics, repeated over the channels (as "
                     "data.channels=3 does in pretraining)",
}


@dataclass(frozen=True)
class InputAdaptation:
    """How the images of a probe's data are made the encoder's input: ``channels``
    ("kept", "luma", "replicated"), ``resize`` ("none"; "bilinear" for a data set of
    another fixed size; "test view" for images of any size, seen as the pretraining
    images and fitted by the encoder's test view), the normalization's ``mean`` and
    ``std`` and whose ``statistics`` they are. ``data_size`` None: images of any size."""

    data: str
    data_channels: int
    data_size: int | None
    encoder_channels: int
    encoder_size: int
    channels: str
    resize: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    statistics: str

    @property
    def adapted(self) -> bool:
        """Whether the images are converted in channels or size for the encoder."""
        return self.channels != "kept" or self.resize == "bilinear"

    def view(self, info: DatasetInfo, views: ViewsConfig | None) -> Callable:
        """The test-time transform of ``info``'s images (uint8 in, normalized float32 of
        the encoder's shape out): the plain test view unless the data set's fixed shape
        is converted (``adapted_test_view``)."""
        if self.data_size is None or not self.adapted:
            return test_view(info, views)
        return adapted_test_view(info, self.encoder_channels, self.encoder_size, self.mean,
                                 self.std, views)

    def rule(self) -> str:
        """The adaptation in words."""
        size = "any size" if self.data_size is None else f"{self.data_size} px"
        text = (f"{self.data}: {self.data_channels}-channel images of {size} for an encoder "
                f"of {self.encoder_channels}-channel {self.encoder_size} px input; channels "
                f"{CHANNEL_WORDS[self.channels]}")
        if self.resize == "bilinear":
            text += (f"; its test view resized from {self.data_size} to {self.encoder_size} "
                     f"px (bilinear, antialiased)")
        elif self.resize == "test view":
            text += f"; each image fitted to {self.encoder_size} px by the encoder's test view"
        return text + f"; normalized with {STATISTICS_WORDS[self.statistics]}"

    def as_dict(self) -> dict[str, Any]:
        return {"adapted": self.adapted,
                "data": [self.data_channels, self.data_size if self.data_size else "any"],
                "encoder": [self.encoder_channels, self.encoder_size],
                "channels": self.channels, "resize": self.resize,
                "normalization": {"statistics": self.statistics, "mean": list(self.mean),
                                  "std": list(self.std)},
                "rule": self.rule()}


@dataclass
class FeatureSet:
    """Features (N, D) float32, labels (N,) int64 and one identity per image: the file path
    for image folders, ``<data>:<split>:<index>`` otherwise. ``adaptation``: how the images
    became the encoder's input; ``extraction``: where and how fast the features were made
    (device, precision, seconds, images/s; ``cached`` true when read from the cache)."""

    features: Tensor
    labels: Tensor
    ids: list[str]
    data: str
    split: str
    info: DatasetInfo
    adaptation: InputAdaptation | None = None
    extraction: dict[str, Any] | None = None


def image_ids(dataset: Dataset, name: str, split: str) -> list[str]:
    samples = getattr(dataset, "samples", None)
    if samples is not None and len(samples) == len(dataset):
        return [str(path) for path, _ in samples]
    return [f"{name}:{split}:{i}" for i in range(len(dataset))]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[-80:]


def _cache_key(checkpoint: Path, name: str, split: str, view: str, device: torch.device,
               precision: str) -> dict[str, Any]:
    st = checkpoint.stat()
    return {"version": CACHE_VERSION, "checkpoint": str(checkpoint.resolve()),
            "size": st.st_size, "mtime_ns": st.st_mtime_ns, "data": name, "split": split,
            "view": view, "device": device.type, "precision": precision}


def cache_path(checkpoint: Path, name: str, split: str, device: torch.device,
               precision: str) -> Path:
    """Where the features of ``checkpoint`` on ``name``'s ``split`` made on ``device`` in
    ``precision`` are cached: CPU float32 features under the plain name, others with the
    device type and precision appended."""
    tail = "" if (device.type, precision) == ("cpu", "fp32") else f"-{device.type}-{precision}"
    stem = f"{_slug(checkpoint.stem)}-{_slug(name)}-{split}{tail}"
    return checkpoint.parent / "features" / f"{stem}.pt"


def _refuse_shape(name: str, channels: int, size: int | None, enc_channels: int,
                  enc_size: int) -> ConfigError:
    convertible = sorted({c for c, e in CHANNEL_RULES if e == enc_channels} | {enc_channels})
    wanted = " or ".join(f"{c}-channel" for c in convertible)
    shown = "any-size" if size is None else f"{size} px"
    return ConfigError(
        f"data set {name} gives {channels}-channel {shown} images but the encoder takes "
        f"{enc_channels}-channel {enc_size} px input; only 3 channels to 1 (luma) and 1 to 3 "
        f"(repeated) are converted, so probe it on {wanted} data")


def _native_info(source: DataSource) -> DatasetInfo:
    """The constants of ``source``'s images as they are stored (before a run's
    ``data.channels`` or ``data.image_size``, or ``seen_as``), where the registry has them."""
    try:
        return dataset_info(source.name)
    except InfomaxError:  # e.g. a Python Dataset not registered in this process
        return source.info


def _adaptation(source: DataSource, native: DatasetInfo, seen_as_pretraining: bool,
                enc_channels: int, enc_size: int) -> InputAdaptation:
    """The rule for ``source`` (whose images natively are ``native``'s) and the encoder."""
    name = source.name
    if seen_as_pretraining:
        # Images of any size (image folders, ImageNet, shards) or the pretraining data
        # itself: seen as the pretraining images, through the encoder's own test view.
        data_size = None if path_source(name) is not None else native.image_size
        if (native.channels, enc_channels) not in CHANNEL_RULES and native.channels != enc_channels:
            raise _refuse_shape(name, native.channels, data_size, enc_channels, enc_size)
        return InputAdaptation(name, native.channels, data_size, enc_channels, enc_size,
                               CHANNEL_RULES.get((native.channels, enc_channels), "kept"),
                               "none" if data_size == enc_size else "test view",
                               source.info.mean, source.info.std, "pretraining")
    info = source.info
    if info.channels != enc_channels and (info.channels, enc_channels) not in CHANNEL_RULES:
        raise _refuse_shape(name, info.channels, info.image_size, enc_channels, enc_size)
    # The data set's own statistics, converted for the channels as pretraining converts
    # them (data.channels): the encoder gets inputs standardized as its pretraining
    # inputs were, which is also what a same-shape transfer (Fashion-MNIST -> MNIST) does.
    stats = with_settings(info, SimpleNamespace(channels=enc_channels, image_size=None,
                                                mean=None, std=None))
    channels = CHANNEL_RULES.get((info.channels, enc_channels), "kept")
    statistics = {"kept": "own", "luma": "own, averaged over channels",
                  "replicated": "own, repeated"}[channels]
    return InputAdaptation(name, info.channels, info.image_size, enc_channels, enc_size,
                           channels, "bilinear" if info.image_size != enc_size else "none",
                           stats.mean, stats.std, statistics)


def probe_input(model: Any, data: str | None, data_dir: str | None
                ) -> tuple[DataSource, InputAdaptation]:
    """The data a probe of ``model`` runs on and how its images become the encoder's input.
    The data: ``data`` when given, else the run's labeled source (``data.eval``, else the
    pretraining set). ``data.eval`` (named or by default) and sources of images of any size
    (image folders, ImageNet, shards) are seen as the pretraining images (their size,
    channels and normalization); another named data set keeps its own statistics, and
    when its shape differs from the encoder's it is adapted (``InputAdaptation``).
    ConfigError when the run has no labeled source and ``data`` is not given, for data
    without labels, or for a channel count that is not converted (naming both shapes)."""
    cfg_data = model.cfg.data
    enc_channels, enc_size = model.in_channels, model.image_size
    root = DataSource.resolve(cfg_data, data_dir=data_dir).root
    seen = True
    if data is None or same_source(data, getattr(cfg_data, "eval", None), root):
        source = DataSource.resolve_eval(cfg_data, data_dir)
        if source is None:
            raise ConfigError(f"the run pretrained on {cfg_data.name}, which has no labels, "
                              f"and names no data.eval; pass --data <labeled source> (a data "
                              f"set, or an image folder with train/<class>/ and val/<class>/)")
    else:
        source = DataSource.resolve(cfg_data, data, data_dir)
        if same_source(data, cfg_data.name, root):
            source = DataSource.resolve(cfg_data, data_dir=data_dir)
        elif path_source(source.name) is not None:
            # Images of no fixed size (image folders, ImageNet, shards) are seen as the
            # pretraining images: their size, channels and normalization.
            source = source.seen_as(DataSource.resolve(cfg_data, data_dir=data_dir).info)
        else:
            seen = False
    if source.info.num_classes == 0:
        raise ConfigError(f"--data: {source.name} has no labels; the probes need a labeled "
                          f"source (a data set, or an image folder with train/<class>/ and "
                          f"val/<class>/)")
    native = _native_info(source) if seen else source.info
    adaptation = _adaptation(source, native, seen, enc_channels, enc_size)
    if seen and (source.info.channels, source.info.image_size) != (enc_channels, enc_size):
        # The run's own views differ from its encoder's input (not for a run pretrain
        # wrote; the check there always was).
        raise _refuse_shape(source.name, source.info.channels, source.info.image_size,
                            enc_channels, enc_size)
    return source, adaptation


def resolve_probe_data(model: Any, data: str | None, data_dir: str | None) -> DataSource:
    """The data a probe of ``model`` runs on (``probe_input`` without the adaptation)."""
    return probe_input(model, data, data_dir)[0]


def extraction_batch_size(image_size: int) -> int:
    """The default extraction batch for an encoder taking ``image_size`` px input."""
    return EXTRACT_BATCH_SMALL if image_size <= 32 else EXTRACT_BATCH


def checkpoint_features(checkpoint: str | Path, split: str, data: str | None = None,
                        data_dir: str | None = None, *, model: Any = None,
                        batch_size: int | None = None, num_workers: int | None = None,
                        progress: bool = True, cache: bool = True,
                        device: str | torch.device | None = "auto") -> FeatureSet:
    """Global features of ``checkpoint``'s encoder for every image of ``split`` ("train" or
    "test") of its pretraining data set or of ``data``, extracted on ``device`` ("auto" or
    None: CUDA when there is a GPU, else the CPU; ``infomax.devices.resolve_device``) and
    returned as float32 on the CPU, ``batch_size`` images at a time (None:
    ``extraction_batch_size`` of the encoder's input size). ``model`` is the loaded method
    when the caller has it already (else it is loaded only when the cache misses); its
    encoder is moved to the device for the extraction and back afterwards."""
    dev = resolve_device(device)
    precision = extraction_precision(dev)
    ckpt = Path(checkpoint)
    if model is None:
        model = load_method(ckpt)
    source, adaptation = probe_input(model, data, data_dir)
    name, info = source.name, source.info
    cfg = model.cfg
    transform = adaptation.view(info, cfg.views)
    path = cache_path(ckpt, name, split, dev, precision)
    key = _cache_key(ckpt, name, split, repr(transform), dev, precision)
    made = {"device": str(dev), "precision": precision}
    if cache and path.is_file():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            if saved.get("key") == key:
                return FeatureSet(saved["features"], saved["labels"], list(saved["ids"]), name,
                                  split, info, adaptation, {**made, "cached": True})
        except Exception:  # unreadable or from another version: recompute
            pass
    encoder = model.encoder.eval()
    home = next((p.device for p in encoder.parameters()), torch.device("cpu"))
    if cfg.train.channels_last:
        encoder.to(memory_format=torch.channels_last)
    dataset = source.build(split, transform)
    workers = cfg.data.num_workers if num_workers is None else num_workers
    if batch_size is None:
        batch_size = extraction_batch_size(model.image_size)
    start = time.perf_counter()
    encoder.to(dev)
    try:
        feats, labels = extract_features(encoder.embed, dataset, batch_size=batch_size,
                                         num_workers=workers, desc=f"{split} features",
                                         progress=progress,
                                         channels_last=cfg.train.channels_last, device=dev,
                                         precision=precision)
    finally:
        encoder.to(home)
    seconds = time.perf_counter() - start
    made.update(cached=False, images=len(labels), seconds=round(seconds, 3),
                images_per_s=round(len(labels) / max(seconds, 1e-9), 1),
                batch_size=batch_size, workers=workers)
    ids = image_ids(dataset, name, split)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Whole or absent: a cut-off write never looks like a cache entry.
        atomic_save({"key": key, "features": feats, "labels": labels, "ids": ids}, path)
    return FeatureSet(feats, labels, ids, name, split, info, adaptation, made)
