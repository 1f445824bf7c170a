"""Frozen features of a checkpoint's encoder over a whole split, cached on disk.

Every evaluation protocol (linear, MLP, kNN, label fractions, transfer, embedding export,
the report) reads its features through ``checkpoint_features``: the encoder in eval mode,
the deterministic test-time view, every image of the split in order (no last batch
dropped), batched with a progress bar. The result is cached beside the checkpoint in
``features/<checkpoint>-<data>-<split>.pt`` and reused while the checkpoint file (size and
modification time), the data set, the split and the view are unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from infomax.data.registry import DatasetInfo, path_source
from infomax.data.source import DataSource, same_source
from infomax.data.views import test_view
from infomax.errors import ConfigError
from infomax.eval.linear import extract_features
from infomax.files import atomic_save
from infomax.runs import load_method

CACHE_VERSION = 1


@dataclass
class FeatureSet:
    """Features (N, D) float32, labels (N,) int64 and one identity per image: the file path
    for image folders, ``<data>:<split>:<index>`` otherwise."""

    features: Tensor
    labels: Tensor
    ids: list[str]
    data: str
    split: str
    info: DatasetInfo


def image_ids(dataset: Dataset, name: str, split: str) -> list[str]:
    samples = getattr(dataset, "samples", None)
    if samples is not None and len(samples) == len(dataset):
        return [str(path) for path, _ in samples]
    return [f"{name}:{split}:{i}" for i in range(len(dataset))]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[-80:]


def _cache_key(checkpoint: Path, name: str, split: str, view: str) -> dict[str, Any]:
    st = checkpoint.stat()
    return {"version": CACHE_VERSION, "checkpoint": str(checkpoint.resolve()),
            "size": st.st_size, "mtime_ns": st.st_mtime_ns, "data": name, "split": split,
            "view": view}


def resolve_probe_data(model: Any, data: str | None, data_dir: str | None) -> DataSource:
    """The data a probe of ``model`` runs on: ``data`` when given, else the run's labeled
    source (``data.eval``, else the pretraining set). ``data.eval`` (named or by default)
    is seen as the pretraining images (their size, channels and normalization). ConfigError
    when the run has no labeled source and ``data`` is not given, or when the encoder
    cannot read the data."""
    cfg_data = model.cfg.data
    root = DataSource.resolve(cfg_data, data_dir=data_dir).root
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
    if source.info.num_classes == 0:
        raise ConfigError(f"--data: {source.name} has no labels; the probes need a labeled "
                          f"source (a data set, or an image folder with train/<class>/ and "
                          f"val/<class>/)")
    info = source.info
    if (info.channels, info.image_size) != (model.in_channels, model.image_size):
        raise ConfigError(
            f"data set {source.name} gives {info.channels}-channel {info.image_size} px views "
            f"but the encoder takes {model.in_channels}-channel {model.image_size} px input")
    return source


def checkpoint_features(checkpoint: str | Path, split: str, data: str | None = None,
                        data_dir: str | None = None, *, model: Any = None,
                        batch_size: int = 256, num_workers: int | None = None,
                        progress: bool = True, cache: bool = True) -> FeatureSet:
    """Global features of ``checkpoint``'s encoder for every image of ``split`` ("train" or
    "test") of its pretraining data set or of ``data``. ``model`` is the loaded method when
    the caller has it already (else it is loaded only when the cache misses)."""
    ckpt = Path(checkpoint)
    if model is None:
        model = load_method(ckpt)
    source = resolve_probe_data(model, data, data_dir)
    name, info = source.name, source.info
    view = repr(test_view(info, model.cfg.views))
    path = ckpt.parent / "features" / f"{_slug(ckpt.stem)}-{_slug(name)}-{split}.pt"
    key = _cache_key(ckpt, name, split, view)
    if cache and path.is_file():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            if saved.get("key") == key:
                return FeatureSet(saved["features"], saved["labels"], list(saved["ids"]), name,
                                  split, info)
        except Exception:  # unreadable or from another version: recompute
            pass
    cfg = model.cfg
    encoder = model.encoder.eval()
    if cfg.train.channels_last:
        encoder.to(memory_format=torch.channels_last)
    dataset = source.build(split, test_view(info, cfg.views))
    workers = cfg.data.num_workers if num_workers is None else num_workers
    feats, labels = extract_features(encoder.embed, dataset, batch_size=batch_size,
                                     num_workers=workers, desc=f"{split} features",
                                     progress=progress, channels_last=cfg.train.channels_last)
    ids = image_ids(dataset, name, split)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Whole or absent: a cut-off write never looks like a cache entry.
        atomic_save({"key": key, "features": feats, "labels": labels, "ids": ids}, path)
    return FeatureSet(feats, labels, ids, name, split, info)
