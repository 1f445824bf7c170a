"""Offline probes on frozen features: feature extraction with test-time views over the whole
split, and linear / MLP classifiers trained on the cached features."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from infomax.config import ProbeConfig
from infomax.losses import clipped_cross_entropy
from infomax.nn.probes import linear_head, mlp_head


@torch.inference_mode()
def extract_features(embed: nn.Module | callable, dataset: Dataset, batch_size: int = 256,
                     num_workers: int = 0, desc: str = "features", progress: bool = True,
                     channels_last: bool = False) -> tuple[Tensor, Tensor]:
    """Features and labels of every item of ``dataset`` (no item dropped), in order."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, drop_last=False,
                        num_workers=num_workers)
    feats, labels = [], []
    for x, y in tqdm(loader, desc=desc, disable=not progress, leave=False):
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        feats.append(embed(x).float().flatten(1))
        labels.append(torch.as_tensor(y))
    return torch.cat(feats), torch.cat(labels)


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


def train_probe(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor,
                num_classes: int, cfg: ProbeConfig, kind: str = "linear", seed: int = 0,
                progress: bool = False) -> ProbeResult:
    """Train a linear or MLP classifier on standardized frozen features (Adam, MultiStepLR
    at ``cfg.milestones``, the clipped cross entropy of the online heads) and score it on
    the test features."""
    g = torch.Generator().manual_seed(seed)
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    xtr, xte = (train_x - mean) / std, (test_x - mean) / std
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        head = linear_head(xtr.shape[1], num_classes) if kind == "linear" else \
            mlp_head(xtr.shape[1], num_classes)
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, cfg.milestones, cfg.gamma)
    n = xtr.shape[0]
    head.train()
    for _ in tqdm(range(cfg.epochs), desc=f"{kind} probe", disable=not progress, leave=False):
        perm = torch.randperm(n, generator=g)
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
        lt, ltr = head(xte), head(xtr)
    return ProbeResult(top1=_topk(lt, test_y, 1), top5=_topk(lt, test_y, 5),
                       train_top1=_topk(ltr, train_y, 1))
