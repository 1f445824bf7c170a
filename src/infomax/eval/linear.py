"""Offline probes on frozen features: feature extraction with test-time views over the whole
split, and linear / MLP classifiers trained on the cached features.

Both run on any device. On the CPU they are what they always were (no autocast, the same
operations in the same order, so the same bits). On CUDA the encoder runs under autocast
(bfloat16 where the GPU has it, else float16) with pinned host memory and asynchronous
copies, and the features come back to the CPU as float32; the classifiers train in float32
on the device, with every random draw but dropout's taken from the same CPU generator as
on the CPU (the initial weights, each epoch's order).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from infomax.config import ProbeConfig
from infomax.devices import resolve_device
from infomax.errors import InfomaxError
from infomax.losses import clipped_cross_entropy
from infomax.nn.probes import linear_head, mlp_head

# Rows scored at once by a classifier trained on an accelerator (its logits and, for the
# MLP, its hidden layer: 64k x 1024 floats, 256 MB).
EVAL_ROWS = 1 << 16

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def extraction_precision(device: torch.device) -> str:
    """The precision features are extracted in on ``device``: "bf16" on a CUDA GPU with
    bfloat16 in hardware (Ampere and later), "fp16" on an older one (where bfloat16 would
    be emulated), "fp32" on the CPU and on Apple's MPS."""
    if device.type != "cuda":
        return "fp32"
    with torch.cuda.device(device):
        return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"


def _on_host(device: torch.device) -> bool:
    """Whether extraction on ``device`` takes the CPU's path (no autocast, the features
    gathered batch by batch) rather than the accelerator's."""
    return device.type == "cpu"


def _device(device: str | torch.device | None, default: torch.device) -> torch.device:
    """``device`` resolved (``resolve_device``), or ``default`` when it is None."""
    return default if device is None else resolve_device(device, flag="device")


@torch.inference_mode()
def extract_features(embed: nn.Module | callable, dataset: Dataset, batch_size: int = 256,
                     num_workers: int = 0, desc: str = "features", progress: bool = True,
                     channels_last: bool = False, device: str | torch.device | None = None,
                     precision: str | None = None) -> tuple[Tensor, Tensor]:
    """Features (float32, on the CPU) and labels of every item of ``dataset`` (no item
    dropped), in order. The batches go to ``device`` (None: the CPU), where ``embed`` must
    be; ``precision`` ("fp32", "bf16", "fp16"; None: ``extraction_precision(device)``) is
    the autocast dtype the embedding runs in (none for fp32)."""
    dev = _device(device, torch.device("cpu"))
    precision = extraction_precision(dev) if precision is None else precision
    if precision not in _DTYPES:
        raise ValueError(f"precision must be one of {', '.join(_DTYPES)}, got {precision!r}")
    host = _on_host(dev)
    if host and precision != "fp32":
        raise ValueError("features are extracted in fp32 on the CPU")
    cuda = dev.type == "cuda"
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, drop_last=False,
                        num_workers=num_workers, pin_memory=cuda)
    autocast = (torch.autocast(dev.type, dtype=_DTYPES[precision]) if precision != "fp32"
                else contextlib.nullcontext())
    if host:
        feats, labels = [], []
        for x, y in tqdm(loader, desc=desc, disable=not progress, leave=False):
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            feats.append(embed(x).float().flatten(1))
            labels.append(torch.as_tensor(y))
        return torch.cat(feats), torch.cat(labels)
    # On an accelerator: each batch's features are copied into one pinned host tensor
    # without waiting for them (the copies are ordered on the stream), so the GPU never
    # waits for the host between batches; one synchronization at the end.
    out: Tensor | None = None
    labels, start = [], 0
    for x, y in tqdm(loader, desc=desc, disable=not progress, leave=False):
        x = x.to(dev, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast:
            f = embed(x)
        f = f.float().flatten(1)
        if out is None:
            out = torch.empty((len(dataset), f.shape[1]), dtype=torch.float32,
                              pin_memory=cuda)
        out[start:start + len(f)].copy_(f, non_blocking=True)
        start += len(f)
        labels.append(torch.as_tensor(y))
    if cuda:
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()
    if out is None:
        raise InfomaxError(f"{desc}: the data set is empty")
    feats = out[:start]
    if precision != "fp32" and not torch.isfinite(feats).all():
        raise InfomaxError(f"{desc}: the encoder's features overflowed in {precision} on "
                           f"{dev}; extract them in fp32 with --device cpu")
    return feats, torch.cat(labels)


@dataclass
class ProbeResult:
    top1: float
    top5: float
    train_top1: float

    def as_dict(self) -> dict[str, float]:
        return {"top1": self.top1, "top5": self.top5, "train_top1": self.train_top1}


def _topk(logits: Tensor, y: Tensor, k: int) -> float:
    k = min(k, logits.shape[1])
    return (logits.topk(k, dim=1).indices == y[:, None]).any(1).float().mean().item()


def _topk_in_chunks(head: nn.Module, x: Tensor, y: Tensor, ks: tuple[int, ...]
                    ) -> list[float]:
    """Top-k accuracies of ``head`` on ``x``, scored ``EVAL_ROWS`` rows at a time (memory
    bounded on an accelerator); the hits are counted exactly."""
    hits = [0] * len(ks)
    for i in range(0, x.shape[0], EVAL_ROWS):
        logits = head(x[i:i + EVAL_ROWS])
        top = logits.topk(min(max(ks), logits.shape[1]), dim=1).indices
        match = top == y[i:i + EVAL_ROWS, None]
        for j, k in enumerate(ks):
            hits[j] += int(match[:, :k].any(1).sum())
    return [h / max(1, x.shape[0]) for h in hits]


def train_probe(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor,
                num_classes: int, cfg: ProbeConfig, kind: str = "linear", seed: int = 0,
                progress: bool = False, device: str | torch.device | None = None
                ) -> ProbeResult:
    """Train a linear or MLP classifier on standardized frozen features (Adam, MultiStepLR
    at ``cfg.milestones``, the clipped cross entropy of the online heads) and score it on
    the test features. It trains on ``device`` (None: where ``train_x`` is). The initial
    weights and every epoch's order come from CPU generators seeded with ``seed`` on every
    device; the MLP's dropout draws from the device's generator (on the CPU the global
    one, as always; on CUDA the GPU's generator, forked and seeded with ``seed``)."""
    dev = _device(device, train_x.device)
    g = torch.Generator().manual_seed(seed)
    train_x, test_x = train_x.to(dev), test_x.to(dev)
    train_y, test_y = train_y.to(dev), test_y.to(dev)
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    xtr, xte = train_x.sub(mean).div_(std), test_x.sub(mean).div_(std)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        head = linear_head(xtr.shape[1], num_classes) if kind == "linear" else \
            mlp_head(xtr.shape[1], num_classes)
    head.to(dev)
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, cfg.milestones, cfg.gamma)
    n = xtr.shape[0]
    accelerator = dev.type != "cpu"
    cuda = dev.type == "cuda"
    with (torch.random.fork_rng(devices=[dev.index]) if cuda else contextlib.nullcontext()):
        if cuda:
            with torch.cuda.device(dev):
                torch.cuda.manual_seed(seed)
        head.train()
        for _ in tqdm(range(cfg.epochs), desc=f"{kind} probe", disable=not progress,
                      leave=False):
            perm = torch.randperm(n, generator=g).to(dev)
            for i in range(0, n, cfg.batch_size):
                idx = perm[i:i + cfg.batch_size]
                if kind == "mlp" and idx.numel() < 2:
                    continue  # BatchNorm needs two rows
                loss = clipped_cross_entropy(head(xtr[idx]), train_y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            sched.step()
    head.eval()
    with torch.no_grad():
        if not accelerator:
            lt, ltr = head(xte), head(xtr)
            return ProbeResult(top1=_topk(lt, test_y, 1), top5=_topk(lt, test_y, 5),
                               train_top1=_topk(ltr, train_y, 1))
        top1, top5 = _topk_in_chunks(head, xte, test_y, (1, 5))
        (train_top1,) = _topk_in_chunks(head, xtr, train_y, (1,))
    return ProbeResult(top1=top1, top5=top5, train_top1=train_top1)
