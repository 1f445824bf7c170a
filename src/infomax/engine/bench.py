"""``infomax bench speed`` and ``infomax bench loader``: the train step against the machine's
GEMM peak, and the input pipeline against what the train step consumes."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from infomax.config import Config, make_config
from infomax.engine.speed import (format_table, machine_info, measure_gemm_peak,
                                  measure_train_step, precision_dtype)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _write(path: Path | None, out: dict[str, Any]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2) + "\n")


def breakdown_line(r: dict[str, Any]) -> str:
    """Where a step's FLOPs go: encoder, loss and probes, and the encoder's forward and
    backward GFLOP."""
    parts = ", ".join(f"{k} {100 * v:.1f}%" for k, v in r["flop_share"].items()
                      if k != "optimizer")
    enc = r["flops"]["encoder"]
    if not enc["forward"] and not enc["backward"]:
        return (f"{r['preset']} {r['precision']}: method {r['method']}: encoder and loss FLOPs "
                f"are not split for it (AMDIM only); probes "
                f"{100 * r['flop_share']['probes']:.1f}%")
    return (f"{r['preset']} {r['precision']}: FLOP share {parts}; encoder forward "
            f"{enc['forward'] / 1e9:.2f} GFLOP, backward {enc['backward'] / 1e9:.2f} GFLOP")


def speed(presets: list[str], precisions: list[str], *, overrides: list[str] = (),
          batch_size: int | None = None, steps: int = 5, warmup: int = 2,
          max_seconds: float | None = None, device: str | None = None,
          gemm_sizes: tuple[int, ...] | None = None, json_path: Path | None = None,
          command: str = "") -> dict[str, Any]:
    """Train-step throughput of every preset at every precision, with the GEMM peak of each
    compute dtype measured first, in the same process. Prints progress to stderr and
    returns (and writes to ``json_path``, after every row) the results."""
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    configs = [make_config(p, list(overrides)) for p in presets]  # bad names fail first
    dtypes = {torch.float32} | {precision_dtype(p) for p in precisions}
    peaks = {}
    for dtype in sorted(dtypes, key=str):
        kwargs = {"n": tuple(gemm_sizes)} if gemm_sizes else {}
        peaks[dtype] = measure_gemm_peak(dtype, device=dev, **kwargs)
        _log(f"GEMM peak {str(dtype).removeprefix('torch.')}: {peaks[dtype]:.1f} GFLOP/s")
    out: dict[str, Any] = {
        "command": command,
        "machine": machine_info(dev),
        "gemm_peak_gflops": {str(k).removeprefix("torch."): v for k, v in peaks.items()},
        "results": [],
    }
    for cfg in configs:
        for precision in precisions:
            r = measure_train_step(cfg, batch_size=batch_size, steps=steps, warmup=warmup,
                                   precision=precision, device=dev, max_seconds=max_seconds,
                                   gemm_peak=peaks[precision_dtype(precision)])
            r["fraction_of_fp32_peak"] = r["achieved_gflops"] / peaks[torch.float32]
            out["results"].append(r)
            _write(json_path, out)  # a run cut short keeps its finished rows
            _log(f"{cfg.preset} {precision}: {r['seconds_per_step'] * 1e3:.0f} ms/step, "
                 f"{r['images_per_s']:.1f} img/s")
    return out


def measure_loader(cfg: Config, num_workers: int, batches: int = 30,
                   warmup: int | None = None, device: str | None = None) -> dict[str, Any]:
    """Two-view images per second that ``cfg``'s pretraining DataLoader delivers with
    ``num_workers`` workers, read from the data set on disk.

    Timing starts after ``warmup`` batches (default: two rounds of every worker's prefetch,
    so the batches buffered while the workers started are not counted) and covers
    ``batches`` batches, each moved to ``device``. With ``data.augment_device`` the
    loader's uint8 views then go through the batched photometric part on ``device``, inside
    the timing: the pipeline's rate, not only the loader's."""
    from infomax.data.module import PretrainData

    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    data = PretrainData(dataclasses.replace(cfg.data, num_workers=num_workers),
                        seed=cfg.train.seed, views=cfg.views)
    data.setup()
    aug = data.device_augment.to(dev) if data.device_augment is not None else None
    aug_second = (data.device_augment_second.to(dev) if data.device_augment_second is not None
                  else aug)
    if warmup is None:
        warmup = 2 * max(1, num_workers) * 2 + 1  # 2 = DataLoader's default prefetch_factor
    loader = data.train_dataloader()
    if len(loader) < warmup + batches:
        raise ValueError(f"{cfg.data.name} has {len(loader)} batches of {cfg.data.batch_size}; "
                         f"the measurement needs {warmup + batches}")
    images = 0
    it = iter(loader)
    start = time.perf_counter()
    for i in range(warmup + batches):
        if i == warmup:
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            start, images = time.perf_counter(), 0
        batch = next(it)
        x1, x2 = (x.to(dev, non_blocking=True) for x in batch.views)
        if aug is not None:
            x1, x2 = aug(x1), aug_second(x2)
        images += len(batch)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    seconds = time.perf_counter() - start
    del it
    return {"num_workers": num_workers, "batches": batches, "batch_size": cfg.data.batch_size,
            "augment_device": cfg.data.augment_device, "seconds": seconds,
            "images_per_s": images / seconds,
            "images_per_s_per_worker": images / seconds / max(1, num_workers)}


def loader(preset: str, workers: list[int], *, overrides: list[str] = (), batches: int = 30,
           steps: int = 5, device: str | None = None, json_path: Path | None = None,
           command: str = "") -> dict[str, Any]:
    """The loader's images/s with each number of workers, next to the images/s the preset's
    fp32 train step consumes (measured in the same run), and their ratio."""
    cfg = make_config(preset, list(overrides))
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    rows = []
    for w in workers:
        r = measure_loader(cfg, w, batches=batches, device=dev)
        rows.append(r)
        _log(f"{w} workers: {r['images_per_s']:.0f} img/s")
    step = measure_train_step(cfg, steps=steps, warmup=1, device=dev)
    consumed = step["images_per_s"]
    _log(f"train step: {consumed:.1f} img/s")
    for r in rows:
        r["ratio_to_train_step"] = r["images_per_s"] / consumed
    out = {"command": command, "machine": machine_info(dev), "preset": preset,
           "overrides": list(overrides), "train_step_images_per_s": consumed, "loader": rows}
    _write(json_path, out)
    return out


def format_loader_table(out: dict[str, Any]) -> str:
    lines = [f"{out['preset']}: the fp32 train step consumes "
             f"{out['train_step_images_per_s']:.1f} two-view images/s",
             f"{'workers':>7}  {'img/s':>8}  {'img/s per worker':>16}  {'x train step':>12}"]
    for r in out["loader"]:
        lines.append(f"{r['num_workers']:>7}  {r['images_per_s']:>8.0f}  "
                     f"{r['images_per_s_per_worker']:>16.0f}  "
                     f"{r['ratio_to_train_step']:>12.1f}")
    lines.append("0 workers: the main process augments (one core); per worker figures divide "
                 "by the worker count.")
    return "\n".join(lines)


__all__ = ["breakdown_line", "format_loader_table", "format_table", "loader", "measure_loader",
           "speed"]
