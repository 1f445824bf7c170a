"""``infomax probe``: evaluation protocols on the frozen features of a pretrained encoder:
linear, MLP, weighted kNN, label fractions, on the pretraining data set or another one
(transfer, of the same input shape or adapted to it: ``infomax.eval.features``), on the
device asked for (the features extracted there, the classifiers and kNN run there); and
fine-tuning of the encoder itself (``infomax.eval.finetune``)."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import torch

from infomax.config import ProbeConfig
from infomax.data.source import same_source
from infomax.errors import ConfigError
from infomax.devices import resolve_device
from infomax.eval.features import checkpoint_features, extraction_batch_size, probe_input
from infomax.eval.finetune import check_label_fraction, finetune
from infomax.eval.linear import extract_features, train_probe
from infomax.eval.protocols import KNN_K, KNN_TEMPERATURE, fraction_eval, knn_eval
from infomax.files import atomic_write_text
from infomax.runs import load_method

PROTOCOLS = ("linear", "mlp", "knn", "fractions", "finetune")
# The protocols that read the frozen features (fine-tuning reads the images).
FROZEN = ("linear", "mlp", "knn", "fractions")


class PixelView:
    """Raw pixels in [0, 1], flattened: the input of the pixel baseline."""

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        return img.float().div(255.0).flatten()


def run_probe(checkpoint: str | Path, data: str | None = None, data_dir: str | None = None,
              protocols: list[str] | tuple[str, ...] = ("linear",), mlp: bool = False,
              pixel_baseline: bool = False, probe_cfg: ProbeConfig | None = None,
              epochs: int | None = None, knn_k: int = KNN_K,
              knn_temperature: float = KNN_TEMPERATURE, batch_size: int | None = None,
              num_workers: int | None = None, progress: bool = True, cache: bool = True,
              out: str | Path | None = None, device: str | torch.device | None = "auto",
              label_fraction: float | None = None, label_seed: int = 0,
              finetune_lr: float | None = None, finetune_batch_size: int | None = None
              ) -> dict[str, Any]:
    """Run ``protocols`` (any of linear, mlp, knn, fractions, finetune; ``mlp=True`` adds
    mlp), write ``probe-<checkpoint>.json`` (or ``out``, atomically, once every protocol
    has finished) and return it. linear, mlp, knn and fractions read the frozen global
    features of the train and test splits (test-time views, every image, cached beside the
    checkpoint); finetune trains a copy of the encoder on the images
    (``infomax.eval.finetune``), on every label or on the per-class draw
    ``label_fraction`` of seed ``label_seed``, at ``finetune_lr`` per 256 images and
    ``finetune_batch_size`` (None: the run's ``probe.finetune_*``). ``epochs`` replaces
    the classifier epochs (keeping the milestones that fall inside them) and the
    fine-tuning epochs on every label (which a label fraction stretches). ``batch_size``:
    images per extraction batch (None: ``extraction_batch_size``). Everything runs on
    ``device`` ("auto" or None: CUDA when there is a GPU, else the CPU). The result
    records the device, how the images became the encoder's input (``input``) and the
    extraction's speed (``extraction``)."""
    protocols = list(dict.fromkeys([*protocols, *(["mlp"] if mlp else [])]))
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown or not protocols:
        raise ConfigError(f"--protocol: {', '.join(unknown) or 'none given'}; choose from "
                          f"{', '.join(PROTOCOLS)}")
    if epochs is not None and epochs < 1:
        raise ConfigError(f"--epochs: {epochs} must be >= 1")
    if knn_k < 1 or knn_temperature <= 0:
        raise ConfigError(f"kNN needs --knn-k >= 1 and --knn-temperature > 0 (got {knn_k}, "
                          f"{knn_temperature})")
    if label_fraction is not None and "finetune" not in protocols:
        raise ConfigError("--label-fraction: only --protocol finetune takes it (the "
                          "fractions protocol draws 1% and 10% itself)")
    check_label_fraction(label_fraction)
    if label_seed < 0:
        raise ConfigError(f"--label-seed: {label_seed} must be >= 0")
    if finetune_lr is not None and not finetune_lr >= 0:
        raise ConfigError(f"--finetune-lr: {finetune_lr} must be >= 0")
    if finetune_batch_size is not None and finetune_batch_size < 2:
        raise ConfigError(f"--finetune-batch-size: {finetune_batch_size} must be >= 2")
    dev = resolve_device(device)
    start = time.time()
    ckpt = Path(checkpoint)
    model = load_method(ckpt)
    path = Path(out) if out else ckpt.with_name(f"probe-{ckpt.stem}.json")
    path.parent.mkdir(parents=True, exist_ok=True)  # fail now, not after the probes
    cfg = model.cfg
    source, adaptation = probe_input(model, data, data_dir)
    name, root, info = source.name, source.root, source.info
    probe_cfg = probe_cfg or cfg.probe
    if epochs is not None:
        probe_cfg = dataclasses.replace(probe_cfg, epochs=epochs, finetune_epochs=epochs,
                                        milestones=[m for m in probe_cfg.milestones if m < epochs])
    if finetune_lr is not None:
        probe_cfg = dataclasses.replace(probe_cfg, finetune_lr=finetune_lr)
    if finetune_batch_size is not None:
        probe_cfg = dataclasses.replace(probe_cfg, finetune_batch_size=finetune_batch_size)
    workers = cfg.data.num_workers if num_workers is None else num_workers
    # The data and root as given (not the resolved root as a --data-dir: a root found by
    # default, which need not exist when the data set is read from a system directory,
    # would then count as given and be refused).
    if "finetune" in protocols and adaptation.adapted:
        raise ConfigError(f"--protocol finetune: {adaptation.rule()}; fine-tuning trains on "
                          f"images of the encoder's own shape only: probe this data with the "
                          f"frozen protocols (linear, mlp, knn, fractions), or fine-tune on "
                          f"data of {model.in_channels}-channel {model.image_size} px images")
    result: dict[str, Any] = {
        "checkpoint": str(ckpt), "data": name,
        "transfer": not any(same_source(name, n, root) for n in (cfg.data.name, cfg.data.eval)),
        "pretrained_on": cfg.data.name, "eval_data": cfg.data.eval,
    }
    if any(kind in FROZEN for kind in protocols):
        train, test = (checkpoint_features(ckpt, split, data, data_dir, model=model,
                                           batch_size=batch_size, num_workers=workers,
                                           progress=progress, cache=cache, device=dev)
                       for split in ("train", "test"))
        xtr, ytr, xte, yte = train.features, train.labels, test.features, test.labels
        if dev.type != "cpu":  # once, for every protocol
            xtr, ytr, xte, yte = (t.to(dev, non_blocking=True) for t in (xtr, ytr, xte, yte))
        result.update({
            "train_images": len(ytr), "test_images": len(yte), "feature_dim": xtr.shape[1],
            "protocol": {"epochs": probe_cfg.epochs, "milestones": probe_cfg.milestones,
                         "lr": probe_cfg.lr, "batch_size": probe_cfg.batch_size,
                         "features": "frozen global vector, test-time views, standardized"},
            "extraction": {"train": train.extraction, "test": test.extraction},
        })
    result.update({"device": str(dev), "input": adaptation.as_dict()})
    seconds: dict[str, float] = {}
    for kind in protocols:
        t0 = time.time()
        if kind == "finetune":
            tuned = finetune(model, source, probe_cfg, label_fraction=label_fraction,
                             label_seed=label_seed, seed=cfg.train.seed, device=dev,
                             num_workers=workers, progress=progress)
            result["finetune"] = tuned.as_dict()
            for key in ("train_images", "test_images", "feature_dim"):
                result.setdefault(key, getattr(tuned, key))
        elif kind in ("linear", "mlp"):
            result[kind] = train_probe(xtr, ytr, xte, yte, info.num_classes, probe_cfg, kind,
                                       seed=cfg.train.seed, progress=progress,
                                       device=dev).as_dict()
        elif kind == "knn":
            result["knn"] = knn_eval(xtr, ytr, xte, yte, info.num_classes, knn_k,
                                     knn_temperature, progress=progress, device=dev)
        else:
            result["fractions"] = fraction_eval(xtr, ytr, xte, yte, info.num_classes,
                                                probe_cfg, progress=progress, device=dev)
        seconds[kind] = round(time.time() - t0, 2)
    if pixel_baseline:
        def pixels(split: str) -> tuple:
            # The raw pixels as stored (the encoder's input shape plays no part), read on
            # the CPU; the classifier trains on the device.
            dataset = source.build(split, PixelView())
            batch = batch_size or extraction_batch_size(info.image_size)
            return extract_features(torch.nn.Identity(), dataset, batch_size=batch,
                                    num_workers=workers, desc=f"{split} pixels",
                                    progress=progress)
        (pxtr, pytr), (pxte, pyte) = pixels("train"), pixels("test")
        result["pixels"] = train_probe(pxtr, pytr, pxte, pyte, info.num_classes, probe_cfg,
                                       "linear", seed=cfg.train.seed, progress=progress,
                                       device=dev).as_dict()
    result["protocol_seconds"] = seconds
    result["seconds"] = round(time.time() - start, 1)
    atomic_write_text(path, json.dumps(result, indent=2))
    result["path"] = str(path)
    return result
