"""Evaluation protocols on frozen features: weighted kNN and label fractions (the linear and
MLP classifiers are ``infomax.eval.linear.train_probe``)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from infomax.config import ProbeConfig
from infomax.eval.linear import train_probe

KNN_K = 200
KNN_TEMPERATURE = 0.1
FRACTIONS = (0.01, 0.1)
FRACTION_SEEDS = (0, 1, 2)


@torch.no_grad()
def knn_predict(train_x: Tensor, train_y: Tensor, test_x: Tensor, num_classes: int,
                k: int = KNN_K, temperature: float = KNN_TEMPERATURE, chunk: int = 1024,
                progress: bool = False) -> Tensor:
    """Class scores (N_test, C) of the weighted cosine kNN of Wu et al. (2018): each of the
    ``k`` most cosine-similar training features votes for its class with weight
    exp(similarity / temperature)."""
    if k < 1 or temperature <= 0:
        raise ValueError(f"kNN needs k >= 1 and temperature > 0, got k={k}, "
                         f"temperature={temperature}")
    k = min(k, train_x.shape[0])
    train_n = F.normalize(train_x.float(), dim=1)
    test_n = F.normalize(test_x.float(), dim=1)
    labels = train_y.long()
    scores = torch.empty(test_x.shape[0], num_classes)
    starts = range(0, test_n.shape[0], chunk)
    for i in tqdm(starts, desc="kNN", disable=not progress, leave=False):
        sim = test_n[i:i + chunk] @ train_n.T                     # (chunk, N_train)
        top_sim, top_idx = sim.topk(k, dim=1)
        weights = (top_sim / temperature).exp()
        votes = torch.zeros(sim.shape[0], num_classes)
        votes.scatter_add_(1, labels[top_idx], weights)
        scores[i:i + chunk] = votes
    return scores


def topk_accuracy(scores: Tensor, y: Tensor, k: int) -> float:
    k = min(k, scores.shape[1])
    return (scores.topk(k, dim=1).indices == y[:, None]).any(1).float().mean().item()


def knn_eval(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor,
             num_classes: int, k: int = KNN_K, temperature: float = KNN_TEMPERATURE,
             progress: bool = False) -> dict[str, Any]:
    scores = knn_predict(train_x, train_y, test_x, num_classes, k, temperature,
                         progress=progress)
    return {"top1": topk_accuracy(scores, test_y, 1), "top5": topk_accuracy(scores, test_y, 5),
            "k": min(k, train_x.shape[0]), "temperature": temperature}


def per_class_subset(labels: Tensor, fraction: float, seed: int) -> Tensor:
    """Indices of a random ``fraction`` of every class's examples (at least one per class),
    the same for the same seed."""
    if not 0 < fraction <= 1:
        raise ValueError(f"label fraction must be in (0, 1], got {fraction}")
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c in torch.unique(labels[labels >= 0]).tolist():
        idx = (labels == c).nonzero().flatten()
        n = max(1, round(fraction * idx.numel()))
        picks.append(idx[torch.randperm(idx.numel(), generator=g)[:n]])
    return torch.cat(picks).sort().values


def fraction_eval(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor,
                  num_classes: int, cfg: ProbeConfig, fractions: tuple[float, ...] = FRACTIONS,
                  seeds: tuple[int, ...] = FRACTION_SEEDS, progress: bool = False
                  ) -> dict[str, Any]:
    """The linear probe trained on ``fraction`` of the labels per class, for each fraction
    and each seed's draw: mean and standard deviation of top-1 over the draws. The
    classifier gets as many updates as on the full split (the epochs are stretched and the
    milestones with them), so a small subset is not simply under-trained."""
    full_steps = math.ceil(train_x.shape[0] / cfg.batch_size) * cfg.epochs
    out: dict[str, Any] = {}
    for fraction in fractions:
        draws = []
        for seed in seeds:
            idx = per_class_subset(train_y, fraction, seed)
            steps_per_epoch = math.ceil(idx.numel() / cfg.batch_size)
            epochs = max(cfg.epochs, math.ceil(full_steps / steps_per_epoch))
            scale = epochs / cfg.epochs
            sub_cfg = replace(cfg, epochs=epochs,
                              milestones=[round(m * scale) for m in cfg.milestones])
            r = train_probe(train_x[idx], train_y[idx], test_x, test_y, num_classes, sub_cfg,
                            "linear", seed=seed, progress=progress)
            draws.append({"seed": seed, "labels": idx.numel(), "top1": r.top1, "top5": r.top5})
        top1 = torch.tensor([d["top1"] for d in draws])
        out[f"{100 * fraction:g}%"] = {
            "mean": top1.mean().item(),
            "std": top1.std().item() if len(draws) > 1 else 0.0,
            "draws": draws,
        }
    return out
