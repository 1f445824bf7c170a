"""``infomax probe``: offline linear (and MLP) probes of a pretrained encoder."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import torch

from infomax.config import ProbeConfig
from infomax.data.module import resolve_name
from infomax.data.registry import build_dataset, dataset_info, resolve_data_root
from infomax.data.views import test_view
from infomax.engine.train import load_method
from infomax.errors import ConfigError
from infomax.eval.linear import extract_features, train_probe


class PixelView:
    """Raw pixels in [0, 1], flattened: the input of the pixel baseline."""

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        return img.float().div(255.0).flatten()


def run_probe(checkpoint: str | Path, data: str | None = None, data_dir: str | None = None,
              mlp: bool = False, pixel_baseline: bool = False,
              probe_cfg: ProbeConfig | None = None, epochs: int | None = None,
              batch_size: int = 256,
              num_workers: int | None = None, progress: bool = True,
              out: str | Path | None = None) -> dict[str, Any]:
    """Extract frozen global features of the train and test splits (test-time views, every
    image), train the probes, write ``probe.json`` beside the checkpoint and return it.
    ``epochs`` shortens or lengthens the classifier schedule, keeping the milestones that
    fall inside it."""
    if epochs is not None and epochs < 1:
        raise ConfigError(f"--epochs: {epochs} must be >= 1")
    start = time.time()
    ckpt = Path(checkpoint)
    model = load_method(ckpt)
    path = Path(out) if out else ckpt.with_name(f"probe-{ckpt.stem}.json")
    path.parent.mkdir(parents=True, exist_ok=True)  # fail now, not after the probes
    cfg = model.cfg
    root = resolve_data_root(data_dir if data_dir is not None else cfg.data.dir)
    name = resolve_name(data or cfg.data.name, root)
    info = dataset_info(name)
    if (info.channels, info.image_size) != (model.in_channels, model.image_size):
        raise ConfigError(
            f"data set {name} gives {info.channels}-channel {info.image_size} px views but the "
            f"encoder takes {model.in_channels}-channel {model.image_size} px input")
    probe_cfg = probe_cfg or cfg.probe
    if epochs is not None:
        probe_cfg = dataclasses.replace(probe_cfg, epochs=epochs,
                                        milestones=[m for m in probe_cfg.milestones if m < epochs])
    workers = cfg.data.num_workers if num_workers is None else num_workers
    encoder = model.encoder.eval()
    if cfg.train.channels_last:
        encoder.to(memory_format=torch.channels_last)

    def features(embed: Any, transform: Any, what: str, channels_last: bool) -> tuple:
        """(train x, train y, test x, test y) of ``embed`` over every image of both splits."""
        out = []
        for split in ("train", "test"):
            dataset = build_dataset(name, split, root, transform, cfg.data.download)
            out += extract_features(embed, dataset, batch_size=batch_size, num_workers=workers,
                                    desc=f"{split} {what}", progress=progress,
                                    channels_last=channels_last)
        return tuple(out)

    xtr, ytr, xte, yte = features(encoder.embed, test_view(info), "features",
                                  cfg.train.channels_last)
    result: dict[str, Any] = {
        "checkpoint": str(ckpt), "data": name, "train_images": len(ytr),
        "test_images": len(yte), "feature_dim": xtr.shape[1],
        "protocol": {"epochs": probe_cfg.epochs, "milestones": probe_cfg.milestones,
                     "lr": probe_cfg.lr, "batch_size": probe_cfg.batch_size,
                     "features": "frozen global vector, test-time views, standardized"},
    }
    kinds = ["linear"] + (["mlp"] if mlp else [])
    for kind in kinds:
        result[kind] = train_probe(xtr, ytr, xte, yte, info.num_classes, probe_cfg, kind,
                                   seed=cfg.train.seed, progress=progress).as_dict()
    if pixel_baseline:
        pxtr, pytr, pxte, pyte = features(torch.nn.Identity(), PixelView(), "pixels", False)
        result["pixels"] = train_probe(pxtr, pytr, pxte, pyte, info.num_classes, probe_cfg,
                                       "linear", seed=cfg.train.seed,
                                       progress=progress).as_dict()
    result["seconds"] = round(time.time() - start, 1)
    path.write_text(json.dumps(result, indent=2))
    result["path"] = str(path)
    return result
