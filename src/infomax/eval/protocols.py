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
from infomax.devices import resolve_device
from infomax.eval.linear import train_probe

KNN_K = 200
KNN_TEMPERATURE = 0.1
FRACTIONS = (0.01, 0.1)
FRACTION_SEEDS = (0, 1, 2)


# The memory a kNN block may take on the CPU: at 1024 test rows of 256-d features it holds
# every training image up to about 100k of them (Fashion-MNIST's 60k and CIFAR's 50k in
# one block each).
KNN_CPU_MEMORY = 1 << 30
# On an accelerator: this fraction of its free memory, at most KNN_GPU_MEMORY_MAX.
KNN_GPU_MEMORY_FRACTION = 0.25
KNN_GPU_MEMORY_MAX = 8 << 30
# Bytes per (test row, training row) cell of a block: the float32 similarity and as much
# again for top-k's work space; per training row and feature dimension, the block's
# features moved to the device and normalized (float32, twice); and per test row and
# neighbour, the running (similarity, index) pairs, their merge with the block's, and the
# block's own top-k.
_CELL_BYTES = 8
_FEATURE_BYTES = 8
_NEIGHBOUR_BYTES = 48
# Below this many training rows a block is more loop than matmul: fewer test rows instead.
_MIN_BLOCK_COLUMNS = 4096


def knn_memory_budget(device: torch.device) -> int:
    """The bytes a kNN block may take on ``device``: ``KNN_CPU_MEMORY`` on the CPU; on
    CUDA ``KNN_GPU_MEMORY_FRACTION`` of the free memory, at most ``KNN_GPU_MEMORY_MAX``."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(min(KNN_GPU_MEMORY_MAX, KNN_GPU_MEMORY_FRACTION * free))
    return KNN_CPU_MEMORY


def knn_chunks(n_test: int, n_train: int, k: int, budget: int, dim: int = 0,
               max_test_rows: int = 1024) -> tuple[int, int]:
    """(test rows, training rows) of a kNN block of ``dim``-dimensional features that fits
    in ``budget`` bytes (its similarities, the block's training features, the test rows'
    top-k): up to ``max_test_rows`` test rows against every training row when that fits
    (the unchunked computation), else against as many as fit; fewer test rows where even
    ``_MIN_BLOCK_COLUMNS`` training rows would not fit beside ``max_test_rows``."""
    k = max(1, min(k, n_train))
    rows = max(1, min(n_test, max_test_rows))
    per_test_row = _NEIGHBOUR_BYTES * k
    per_train_row = _FEATURE_BYTES * dim

    def columns(r: int) -> int:
        return (budget - r * per_test_row) // (r * _CELL_BYTES + per_train_row)

    want = min(n_train, _MIN_BLOCK_COLUMNS)
    if columns(rows) < want:
        fit = (budget - want * per_train_row) // (want * _CELL_BYTES + per_test_row)
        rows = max(1, min(rows, fit))
    return rows, max(1, min(n_train, columns(rows)))


def _merge_topk(best_sim: Tensor, best_idx: Tensor, sim: Tensor, idx: Tensor, k: int
                ) -> tuple[Tensor, Tensor]:
    """The ``k`` largest of two candidate sets per row (similarities, training indices)."""
    cand_sim = torch.cat([best_sim, sim], dim=1)
    top_sim, pos = cand_sim.topk(min(k, cand_sim.shape[1]), dim=1)
    return top_sim, torch.cat([best_idx, idx], dim=1).gather(1, pos)


@torch.no_grad()
def knn_neighbours(train_x: Tensor, test_x: Tensor, k: int, chunk: int = 1024,
                   train_chunk: int | None = None, device: str | torch.device | None = None,
                   memory_budget: int | None = None, progress: bool = False
                   ) -> tuple[Tensor, Tensor]:
    """The ``k`` most cosine-similar training features of every test feature, most similar
    first: (similarities (N_test, k) float32, training indices (N_test, k) int64), on
    ``device`` (None: where ``test_x`` is).

    The similarities are computed in blocks of at most ``chunk`` test rows against
    ``train_chunk`` training rows (None: as many as ``memory_budget`` bytes allow,
    ``knn_chunks``; None: ``knn_memory_budget``), each training block normalized and moved
    to the device once;
    a running top-k per test row is merged with each block's. The memory is bounded by
    the budget, the test features and the running top-k, whatever the number of training
    images. With one training block (every training row fits) this is the plain
    computation: a block of test rows against all of them, then its top-k."""
    dev = torch.device(test_x.device) if device is None else resolve_device(device, "device")
    n_train, n_test = train_x.shape[0], test_x.shape[0]
    k = min(k, n_train)
    if train_chunk is None:
        budget = knn_memory_budget(dev) if memory_budget is None else memory_budget
        chunk, train_chunk = knn_chunks(n_test, n_train, k, budget, train_x.shape[1],
                                        max_test_rows=chunk)
    if chunk < 1 or train_chunk < 1:
        raise ValueError(f"kNN chunks must be >= 1, got {chunk} test and {train_chunk} "
                         f"training rows")
    test_n = F.normalize(test_x.to(dev).float(), dim=1)
    starts = range(0, n_test, chunk)
    if train_chunk >= n_train:
        train_n = F.normalize(train_x.to(dev).float(), dim=1)
        sims, idxs = [], []
        for i in tqdm(starts, desc="kNN", disable=not progress, leave=False):
            sim = test_n[i:i + chunk] @ train_n.T                     # (chunk, N_train)
            top_sim, top_idx = sim.topk(k, dim=1)
            sims.append(top_sim)
            idxs.append(top_idx)
        return torch.cat(sims), torch.cat(idxs)
    best_sim = torch.full((n_test, 0), -math.inf, device=dev)
    best_idx = torch.zeros((n_test, 0), dtype=torch.long, device=dev)
    blocks = range(0, n_train, train_chunk)
    bar = tqdm(total=len(blocks) * len(starts), desc="kNN", disable=not progress, leave=False)
    for j in blocks:
        block = F.normalize(train_x[j:j + train_chunk].to(dev).float(), dim=1)
        merged_sim, merged_idx = [], []
        for i in starts:
            sim = test_n[i:i + chunk] @ block.T                       # (chunk, train_chunk)
            top_sim, top_idx = sim.topk(min(k, block.shape[0]), dim=1)
            s, ix = _merge_topk(best_sim[i:i + chunk], best_idx[i:i + chunk], top_sim,
                                top_idx + j, k)
            merged_sim.append(s)
            merged_idx.append(ix)
            bar.update()
        best_sim, best_idx = torch.cat(merged_sim), torch.cat(merged_idx)
    bar.close()
    return best_sim, best_idx


@torch.no_grad()
def knn_predict(train_x: Tensor, train_y: Tensor, test_x: Tensor, num_classes: int,
                k: int = KNN_K, temperature: float = KNN_TEMPERATURE, chunk: int = 1024,
                progress: bool = False, train_chunk: int | None = None,
                device: str | torch.device | None = None, memory_budget: int | None = None
                ) -> Tensor:
    """Class scores (N_test, C), on the CPU, of the weighted cosine kNN of Wu et al.
    (2018): each of the ``k`` most cosine-similar training features votes for its class
    with weight exp(similarity / temperature). The neighbours are found on ``device``
    (None: where ``test_x`` is) in blocks of at most ``chunk`` test rows and
    ``train_chunk`` training rows (None: from ``memory_budget``): see ``knn_neighbours``."""
    if k < 1 or temperature <= 0:
        raise ValueError(f"kNN needs k >= 1 and temperature > 0, got k={k}, "
                         f"temperature={temperature}")
    top_sim, top_idx = knn_neighbours(train_x, test_x, k, chunk, train_chunk, device,
                                      memory_budget, progress)
    labels = train_y.to(top_idx.device).long()
    scores = torch.empty(test_x.shape[0], num_classes)
    for i in range(0, test_x.shape[0], chunk):
        weights = (top_sim[i:i + chunk] / temperature).exp()
        votes = torch.zeros(weights.shape[0], num_classes, device=weights.device)
        votes.scatter_add_(1, labels[top_idx[i:i + chunk]], weights)
        scores[i:i + chunk] = votes.cpu()
    return scores


def topk_accuracy(scores: Tensor, y: Tensor, k: int) -> float:
    k = min(k, scores.shape[1])
    return (scores.topk(k, dim=1).indices == y[:, None]).any(1).float().mean().item()


def knn_eval(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor,
             num_classes: int, k: int = KNN_K, temperature: float = KNN_TEMPERATURE,
             progress: bool = False, device: str | torch.device | None = None,
             memory_budget: int | None = None) -> dict[str, Any]:
    """Top-1 and top-5 of ``knn_predict`` on ``device`` (None: where ``test_x`` is)."""
    scores = knn_predict(train_x, train_y, test_x, num_classes, k, temperature,
                         progress=progress, device=device, memory_budget=memory_budget)
    test_y = test_y.cpu()
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
                  seeds: tuple[int, ...] = FRACTION_SEEDS, progress: bool = False,
                  device: str | torch.device | None = None) -> dict[str, Any]:
    """The linear probe trained on ``fraction`` of the labels per class, for each fraction
    and each seed's draw: mean and standard deviation of top-1 over the draws. The
    classifier gets as many updates as on the full split (the epochs are stretched and the
    milestones with them), so a small subset is not simply under-trained. The subsets are
    drawn on the CPU (the same on every device); the classifiers train on ``device``
    (None: where ``train_x`` is)."""
    full_steps = math.ceil(train_x.shape[0] / cfg.batch_size) * cfg.epochs
    out: dict[str, Any] = {}
    for fraction in fractions:
        draws = []
        for seed in seeds:
            idx = per_class_subset(train_y.cpu(), fraction, seed).to(train_x.device)
            steps_per_epoch = math.ceil(idx.numel() / cfg.batch_size)
            epochs = max(cfg.epochs, math.ceil(full_steps / steps_per_epoch))
            scale = epochs / cfg.epochs
            sub_cfg = replace(cfg, epochs=epochs,
                              milestones=[round(m * scale) for m in cfg.milestones])
            r = train_probe(train_x[idx], train_y[idx], test_x, test_y, num_classes, sub_cfg,
                            "linear", seed=seed, progress=progress, device=device)
            draws.append({"seed": seed, "labels": idx.numel(), "top1": r.top1, "top5": r.top5})
        top1 = torch.tensor([d["top1"] for d in draws])
        out[f"{100 * fraction:g}%"] = {
            "mean": top1.mean().item(),
            "std": top1.std().item() if len(draws) > 1 else 0.0,
            "draws": draws,
        }
    return out
