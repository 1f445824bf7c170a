"""Fine-tuning: a copy of a pretrained encoder and a fresh linear head trained end to end on
the labels (SimCLR, Chen et al. 2020, App. B.5), or on a fixed fraction of every class's
labels (its semi-supervised protocol: 1% and 10% of ImageNet), then scored on the whole
test split in the test-time view.

The schedule is SimCLR's at the scale of Fashion-MNIST and CIFAR (``probe.finetune_*``):
SGD with Nesterov momentum 0.9, no weight decay and no other regularization, the rate
0.05 x B/256 decayed by a half cosine to 0 over the updates without warmup (as its code's
fine-tuning runs), batches of 256, plain cross entropy, and only the crop (the geometric
part of the run's views) and the horizontal flip as augmentation (``finetune_view``). The
head's weights start from N(0, 0.01^2) and its bias from 0, as SimCLR's. On every label
the encoder is fine-tuned for ``probe.finetune_epochs`` (15) epochs, and on a fraction f
of them for 15 x 2^log10(1/f): SimCLR's 30 epochs at 10% and 60 at 1% (at 1% of
Fashion-MNIST, 600 images, that is 180 updates of 256: as many as SimCLR's 60 epochs of
4096 on 1% of ImageNet).

The encoder is in train mode while it learns (its BatchNorm statistics, where it has
BatchNorm, follow the labeled images) and in eval mode when it is scored. The checkpoint
is only read: the copy is what changes. On the CPU the result is the same for the same
seed; under CUDA the forward passes run in bf16 (fp16 with loss scaling where bf16 is not
supported).
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

from infomax.config import ProbeConfig
from infomax.data.module import WorkerInit
from infomax.data.source import DataSource
from infomax.data.views import finetune_view, test_view
from infomax.devices import resolve_device
from infomax.errors import ConfigError, NonFiniteError
from infomax.eval.features import resolve_probe_data
from infomax.eval.linear import extraction_precision
from infomax.eval.protocols import per_class_subset
from infomax.methods.schedule import WarmupCosine
from infomax.runs import load_method

LR_BATCH = 256  # the batch size probe.finetune_lr is given for
HEAD_INIT_STD = 0.01


def check_label_fraction(fraction: float | None, flag: str = "--label-fraction") -> float:
    """``fraction`` (None: every label, 1.0) when it is in (0, 1]; ConfigError (one line
    naming ``flag``) otherwise."""
    if fraction is None:
        return 1.0
    if not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ConfigError(f"{flag}: {fraction!r} is not in (0, 1]; give the share of every "
                          f"class's labels to fine-tune on, e.g. 0.01 or 0.1 (1: all)")
    return float(fraction)


def fraction_epochs(epochs: int, fraction: float) -> int:
    """Fine-tuning epochs on ``fraction`` of the labels when ``epochs`` is the number on all
    of them: ``epochs`` x 2^log10(1/fraction), rounded (SimCLR's longer schedules for fewer
    labels: 15 -> 30 at 10%, 60 at 1%), never fewer than ``epochs``."""
    return max(epochs, round(epochs * 2 ** math.log10(1 / fraction)))


def split_labels(dataset: Dataset) -> Tensor:
    """The labels of every item of ``dataset`` (int64, in order): its ``targets`` where it
    has one per item (every built-in source), else read item by item."""
    targets = getattr(dataset, "targets", None)
    if targets is not None and len(targets) == len(dataset):
        return torch.as_tensor(targets, dtype=torch.int64)
    return torch.tensor([int(dataset[i][1]) for i in range(len(dataset))], dtype=torch.int64)


@dataclass
class FinetuneResult:
    """Top-1 / top-5 on the test split, top-1 on the labeled training images (test-time
    view, eval mode), the settings used, and the fine-tuned ``encoder`` and ``head`` (on the
    device they were trained on); ``indices`` are the training images used (all the labeled
    ones, or the per-class draw)."""

    top1: float
    top5: float
    train_top1: float
    epochs: int
    full_label_epochs: int
    lr: float
    lr_per_256: float
    batch_size: int
    momentum: float
    weight_decay: float
    label_fraction: float
    labels: int
    label_seed: int
    seed: int
    updates: int
    train_images: int
    test_images: int
    feature_dim: int
    device: str
    precision: str
    seconds: float
    encoder: nn.Module = field(repr=False)
    head: nn.Module = field(repr=False)
    indices: Tensor = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        """What the probe's JSON holds: every field but the modules and the indices."""
        out = {k: v for k, v in self.__dict__.items()
               if k not in ("encoder", "head", "indices")}
        out["schedule"] = "SGD, Nesterov momentum, cosine to 0, no warmup"
        out["view"] = "crop and flip of the run's views (train), test-time view (scored)"
        return out


def _autocast(device: torch.device) -> tuple[Any, torch.dtype | None]:
    """The autocast context and its dtype: bf16 (fp16 where the GPU has no bf16 in hardware) on CUDA,
    none elsewhere (the CPU path stays in fp32)."""
    if device.type != "cuda":
        return contextlib.nullcontext(), None
    # The same choice as feature extraction's: bf16 only where the GPU has it in hardware.
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[extraction_precision(device)]
    return torch.autocast("cuda", dtype=dtype), dtype


def _loader(dataset: Dataset, batch_size: int, num_workers: int, device: torch.device,
            shuffle: bool = False, generator: torch.Generator | None = None,
            drop_last: bool = False) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      drop_last=drop_last, num_workers=num_workers,
                      pin_memory=device.type == "cuda", persistent_workers=num_workers > 0,
                      worker_init_fn=WorkerInit(0) if num_workers > 0 else None)


@torch.inference_mode()
def _accuracy(encoder: nn.Module, head: nn.Module, dataset: Dataset, batch_size: int,
              num_workers: int, device: torch.device, channels_last: bool, desc: str,
              progress: bool) -> tuple[float, float]:
    """Top-1 and top-5 (top-C with fewer classes) of every item of ``dataset``, counted
    batch by batch (no (N, C) score matrix is kept)."""
    autocast, _ = _autocast(device)
    hits = torch.zeros(2, dtype=torch.int64)
    count = 0
    for x, y in tqdm(_loader(dataset, batch_size, num_workers, device), desc=desc,
                     disable=not progress, leave=False):
        x = x.to(device, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast:
            logits = head(encoder.embed(x))
        y = torch.as_tensor(y).to(device)
        top = logits.float().topk(min(5, logits.shape[1]), dim=1).indices == y[:, None]
        hits += torch.stack([top[:, 0].sum(), top.any(1).sum()]).cpu()
        count += len(y)
    return (hits / max(count, 1)).tolist()


def finetune(model: Any, source: DataSource, cfg: ProbeConfig | None = None, *,
             label_fraction: float | None = None, label_seed: int = 0, seed: int = 0,
             device: str | torch.device | None = None, num_workers: int = 0,
             progress: bool = True) -> FinetuneResult:
    """Fine-tune a copy of ``model.encoder`` (a method restored by ``runs.load_method``)
    with a fresh linear head end to end on the training split of ``source`` (see the
    module docstring for the protocol; ``cfg``: the ``probe.finetune_*`` settings, default
    the run's), and score it on the whole test split. ``label_fraction`` f in (0, 1]:
    train on ``per_class_subset(labels, f, label_seed)``, the draw the ``fractions``
    protocol makes for that seed, for the stretched epochs of ``fraction_epochs``.
    ``seed`` fixes the head's initialization, the order and the augmentations; the global
    RNG is left as it was. ``device``: as ``--device`` (``resolve_device``; None: CUDA when
    there is one). ``model`` itself is not changed."""
    start = time.time()
    cfg = cfg or model.cfg.probe
    fraction = check_label_fraction(label_fraction)
    dev = resolve_device(device)
    if cfg.finetune_momentum >= 1:
        raise ConfigError(f"probe.finetune_momentum: {cfg.finetune_momentum!r} must be in "
                          f"[0, 1), e.g. 0.9")
    info, views = source.info, model.cfg.views
    takes = (model.encoder.in_channels, model.encoder.image_size)  # the backbone contract
    if (info.channels, info.image_size) != takes:
        raise ConfigError(f"fine-tuning: data set {source.name} gives {info.channels}-channel "
                          f"{info.image_size} px views but the encoder takes "
                          f"{takes[0]}-channel {takes[1]} px input; "
                          f"fine-tune on data of the encoder's shape (the frozen protocols "
                          f"adapt other shapes)")
    channels_last = bool(model.cfg.train.channels_last)
    train_set = source.build("train", finetune_view(info, views))
    test_set = source.build("test", test_view(info, views))
    labels = split_labels(train_set)
    indices = per_class_subset(labels, fraction, label_seed)
    if indices.numel() < 2:
        raise ConfigError(f"fine-tuning needs at least 2 labeled training images; "
                          f"{source.name} has {indices.numel()}")
    epochs = fraction_epochs(cfg.finetune_epochs, fraction)
    batch = cfg.finetune_batch_size
    lr = cfg.finetune_lr * batch / LR_BATCH
    # A last batch of one image would stop BatchNorm in train mode: that image (another
    # one every epoch, the order is shuffled) sits the epoch out.
    drop_last = indices.numel() % batch == 1

    with torch.random.fork_rng(devices=[dev.index] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        encoder = copy.deepcopy(model.encoder).to(dev)
        head = nn.Linear(encoder.feature_dim, info.num_classes)
        nn.init.normal_(head.weight, std=HEAD_INIT_STD)
        nn.init.zeros_(head.bias)
        head = head.to(dev)
        if channels_last:
            encoder = encoder.to(memory_format=torch.channels_last)
        encoder.requires_grad_(True)  # every layer learns, whatever the method froze
        params = [*encoder.parameters(), *head.parameters()]
        opt = torch.optim.SGD(params, lr=lr, momentum=cfg.finetune_momentum,
                              nesterov=cfg.finetune_momentum > 0,
                              weight_decay=cfg.finetune_weight_decay)
        generator = torch.Generator().manual_seed(seed)
        loader = _loader(Subset(train_set, indices.tolist()), batch, num_workers, dev,
                         shuffle=True, generator=generator, drop_last=drop_last)
        total = epochs * len(loader)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, WarmupCosine(0, total))
        autocast, dtype = _autocast(dev)
        scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
        updates = 0
        for epoch in range(epochs):
            encoder.train()
            head.train()
            running = torch.zeros((), device=dev)
            bar = tqdm(loader, desc=f"fine-tune {epoch + 1}/{epochs}", disable=not progress,
                       leave=False)
            for i, (x, y) in enumerate(bar):
                x = x.to(dev, non_blocking=True)
                y = torch.as_tensor(y).to(dev, non_blocking=True)
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                with autocast:
                    logits = head(encoder.embed(x))
                loss = F.cross_entropy(logits.float(), y)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                sched.step()
                updates += 1
                running += loss.detach()
                if progress and (i + 1) % 20 == 0:
                    bar.set_postfix(loss=f"{running.item() / (i + 1):.3f}")
            if not torch.isfinite(running):
                raise NonFiniteError(
                    f"fine-tuning: the loss became non-finite in epoch {epoch + 1} of "
                    f"{epochs}; lower the rate (--finetune-lr, probe.finetune_lr: now "
                    f"{cfg.finetune_lr:g} per 256 images)")
        encoder.eval()
        head.eval()
        scored = dict(batch_size=max(batch, 256), num_workers=num_workers, device=dev,
                      channels_last=channels_last, progress=progress)
        top1, top5 = _accuracy(encoder, head, test_set, desc="fine-tuned test", **scored)
        train_clean = Subset(source.build("train", test_view(info, views)), indices.tolist())
        train_top1, _ = _accuracy(encoder, head, train_clean, desc="fine-tuned train",
                                  **scored)
    return FinetuneResult(
        top1=top1, top5=top5, train_top1=train_top1,
        epochs=epochs, full_label_epochs=cfg.finetune_epochs, lr=lr,
        lr_per_256=cfg.finetune_lr, batch_size=batch, momentum=cfg.finetune_momentum,
        weight_decay=cfg.finetune_weight_decay, label_fraction=fraction,
        labels=indices.numel(), label_seed=label_seed, seed=seed, updates=updates,
        train_images=len(train_set), test_images=len(test_set),
        feature_dim=encoder.feature_dim, device=str(dev),
        precision={None: "32", torch.bfloat16: "bf16-mixed"}.get(dtype, "16-mixed"),
        seconds=round(time.time() - start, 2), encoder=encoder, head=head, indices=indices)


def finetune_checkpoint(checkpoint: str | Path, data: str | None = None,
                        data_dir: str | None = None, cfg: ProbeConfig | None = None, *,
                        label_fraction: float | None = None, label_seed: int = 0,
                        seed: int | None = None, device: str | torch.device | None = None,
                        num_workers: int = 0, progress: bool = True) -> FinetuneResult:
    """``finetune`` of the encoder in ``checkpoint`` (only read) on its labeled data or on
    ``data`` (as ``infomax probe --data``); ``seed`` None: the run's ``train.seed``."""
    model = load_method(checkpoint)
    source = resolve_probe_data(model, data, data_dir)
    return finetune(model, source, cfg, label_fraction=label_fraction, label_seed=label_seed,
                    seed=model.cfg.train.seed if seed is None else seed, device=device,
                    num_workers=num_workers, progress=progress)
