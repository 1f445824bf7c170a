"""``infomax bench speed``, ``infomax bench profile`` and ``infomax bench loader``: the train
step against the machine's GEMM peak, where the step's time goes, and the input pipeline
against what the train step consumes."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from infomax.config import Config, make_config
from infomax.machine import slow_bf16_note
from infomax.engine.profile import format_profile, profile_train_step
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
    note = slow_bf16_note("bf16-mixed" if "bf16-mixed" in precisions else "32",
                          on_cpu=torch.device(dev).type == "cpu")
    if note:  # measured all the same: the comparison is what bench speed is for
        _log(note)
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


def trace_path(trace: str | Path, preset: str, precision: str, several: bool) -> Path:
    """Where the Chrome trace of one preset and precision goes: ``trace`` itself, or with
    several, ``<trace stem>.<preset>.<precision><suffix>`` beside it."""
    path = Path(trace)
    if not several:
        return path
    suffix = path.suffix or ".json"
    return path.with_name(f"{path.stem if path.suffix else path.name}.{preset}.{precision}"
                          f"{suffix}")


def profile(presets: list[str], precisions: list[str], *, overrides: list[str] = (),
            batch_size: int | None = None, steps: int = 1, warmup: int = 1,
            device: str | None = None, top: int = 15, trace: str | Path | None = None,
            json_path: Path | None = None, command: str = "") -> dict[str, Any]:
    """``profile_train_step`` of every preset at every precision. Prints progress to stderr
    and returns (and writes to ``json_path``, after every row) the results."""
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    configs = [make_config(p, list(overrides)) for p in presets]  # bad names fail first
    for p in precisions:
        precision_dtype(p)
    out: dict[str, Any] = {"command": command, "machine": machine_info(dev), "results": []}
    several = len(configs) * len(precisions) > 1
    for cfg in configs:
        for precision in precisions:
            where = (trace_path(trace, cfg.preset or "config", precision, several)
                     if trace is not None else None)
            r = profile_train_step(cfg, batch_size=batch_size, steps=steps, warmup=warmup,
                                   precision=precision, device=dev, top=top, trace=where)
            out["results"].append(r)
            _write(json_path, out)  # a run cut short keeps its finished rows
            _log(f"{cfg.preset} {precision}: {r['profiled_ms_per_step']:.0f} ms per "
                 f"profiled step")
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


# ----------------------------------------------------------------------------- decoders

DECODER_ROWS = ("pillow", "torchvision", "shards")


def _resnet_views() -> Any:
    """ResNet-style (SimCLR) views as a views config: random resized crop (scale 0.08-1),
    a flip per view, colour jitter (0.4, 0.4, 0.4, 0.1) with p 0.8, random grayscale with
    p 0.2."""
    from infomax.config import ViewsConfig

    return ViewsConfig(crop="resized", crop_scale=[0.08, 1.0], flip_shared=False,
                       jitter=[0.4, 0.4, 0.4, 0.1], grayscale_p=0.2)


def _views(info: Any, augment: str, policy: str = "auto") -> tuple[Any, str]:
    """The pretraining views at ``info.image_size``: AMDIM's at the sizes of its encoder
    (32, 64, 128), else ResNet-style ones, with the augmentation ``augment``
    (``data.augment``) and ``policy`` (``data.augment_policy``); and their name."""
    from infomax.data.views import TwoViews

    if info.image_size in (32, 64, 128):
        return TwoViews(info, augment, policy=policy), "AMDIM (TwoViews)"
    return (TwoViews(info, augment, views=_resnet_views(), policy=policy),
            "ResNet/SimCLR (random resized crop 0.08-1, jitter, gray)")


class _FileBytes(torch.utils.data.Dataset):
    """The encoded bytes of each image file (uint8 tensors), for decoding on the GPU."""

    def __init__(self, samples: list[tuple[str, int]]) -> None:
        self.paths = [p for p, _ in samples]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        from torchvision.io import read_file

        return read_file(self.paths[i])


def _list_collate(items: list) -> list:
    return items


def _shape(image: torch.Tensor) -> torch.Size:
    """What decoding alone hands back: not the pixels, whose transfer from the workers
    would be timed instead of the decoding."""
    return image.shape


def _files_of(dataset: Any) -> Any:
    """The ImageFileDataset or ShardDataset under ``fixed_subset``'s Subset, if any."""
    while hasattr(dataset, "dataset"):
        dataset = dataset.dataset
    return dataset


def _rate(loader: Any, sampler: Any, batches: int, warmup: int, repeats: int = 1,
          consume: Any = None) -> tuple[list[float], int]:
    """Images/s over ``batches`` batches, ``repeats`` times in a row, after ``warmup``
    batches; passes follow each other (``sampler.set_epoch``) as long as needed. Returns
    the rates and the images of one timing."""
    import itertools

    rates: list[float] = []
    images, start, seen = 0, 0.0, 0
    for epoch in itertools.count():
        if sampler is not None:
            sampler.set_epoch(epoch)
        for batch in loader:
            if consume is not None:
                batch = consume(batch)
            seen += 1
            if seen > warmup:
                images += len(batch)
            if (seen - warmup) % batches == 0 and seen >= warmup:
                now = time.perf_counter()
                if seen > warmup:
                    rates.append(images / (now - start))
                    if len(rates) == repeats:
                        return rates, images
                start, images = now, 0
    raise AssertionError("unreachable")


def _timing(rates: list[float], images: int, num_workers: int, batch_size: int,
            batches: int) -> dict[str, Any]:
    import statistics

    rate = statistics.median(rates)
    return {"num_workers": num_workers, "batch_size": batch_size, "batches": batches,
            "images": images, "repeats": len(rates), "images_per_s_each": rates,
            "images_per_s": rate, "images_per_s_per_worker": rate / max(1, num_workers)}


def measure_decoding(dataset: Any, num_workers: int, *, batch_size: int, batches: int,
                     repeats: int = 3, seed: int = 0, views: bool = True) -> dict[str, Any]:
    """Images/s that the pretraining loader (EpochSampler, SeededItems, two views each)
    delivers from ``dataset`` with ``num_workers`` workers, the median of ``repeats``
    timings of ``batches`` batches; with ``views=False``, decoded images only."""
    from torch.utils.data import DataLoader

    from infomax.data.batch import BatchCollate
    from infomax.data.module import EpochSampler, SeededItems, WorkerInit

    warmup = 2 * max(1, num_workers) * 2 + 1
    common = dict(num_workers=num_workers, persistent_workers=num_workers > 0,
                  worker_init_fn=WorkerInit(0))
    if views:
        sampler = EpochSampler(dataset, batch_size, seed)
        loader = DataLoader(SeededItems(dataset, seed), sampler=sampler, batch_size=batch_size,
                            drop_last=True, collate_fn=BatchCollate(), **common)
    else:
        sampler = torch.utils.data.RandomSampler(dataset, generator=torch.Generator()
                                                 .manual_seed(seed))
        loader = DataLoader(dataset, sampler=sampler, batch_size=batch_size,
                            collate_fn=_list_collate, **common)
        sampler = None
    rates, images = _rate(loader, sampler, batches, warmup, repeats)
    del loader
    return _timing(rates, images, num_workers, batch_size, batches)


def measure_gpu_decoding(samples: list[tuple[str, int]], num_workers: int, *,
                         batch_size: int, batches: int, device: str,
                         repeats: int = 3) -> dict[str, Any]:
    """Images/s of torchvision.io.decode_jpeg on ``device`` (a CUDA GPU), batched: the
    workers read the files' bytes, the main process decodes each batch in one call."""
    from torch.utils.data import DataLoader
    from torchvision.io import ImageReadMode, decode_jpeg

    dataset = _FileBytes(samples)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True,
                        num_workers=num_workers, persistent_workers=num_workers > 0,
                        collate_fn=_list_collate,
                        generator=torch.Generator().manual_seed(0))

    def decode(batch: list) -> list:
        out = decode_jpeg(batch, mode=ImageReadMode.RGB, device=device)
        torch.cuda.synchronize(device)
        return out

    rates, images = _rate(loader, None, batches, 2 * max(1, num_workers) * 2 + 1, repeats,
                          consume=decode)
    return _timing(rates, images, num_workers, batch_size, batches)


def _data_name(data: str) -> str:
    """A plain folder or .tar path as a data name; data names unchanged."""
    from infomax.data.registry import path_source

    if path_source(data) is not None or not Path(data).expanduser().exists():
        return data
    path = Path(data).expanduser().absolute()
    return f"webdataset:{path}" if path.is_file() else f"imagefolder:{path}"


def decoders(data: str, image_sizes: list[int], decoder_names: list[str], workers: list[int],
             *, preset: str = "fmnist-tiny", overrides: list[str] = (), batch_size: int = 32,
             batches: int = 20, repeats: int = 3, device: str | None = None,
             json_path: Path | None = None, command: str = "") -> dict[str, Any]:
    """Decoders compared on ``data`` (an image folder, or shards): images/s of decoding
    alone and of the pretraining loader with two views at each image size, for each
    decoder and worker count. "pillow" and "torchvision" (decode_jpeg on the CPU for JPEG
    files, Pillow for the rest) read the files; "shards" reads them from temporary tar
    shards holding the same files' bytes (written first, not timed), with the default
    decoder. With a CUDA GPU, torchvision's batched GPU decoding (decoding alone) too.
    Each figure is the median of ``repeats`` timings; the main process runs with one
    torch thread, as each worker does, so that figures are per core."""
    import dataclasses
    import tempfile

    from infomax.config import DataConfig
    from infomax.data import registry
    from infomax.data.shards import ShardDataset, write_shards
    from infomax.data.source import DataSource

    cfg = make_config(preset, list(overrides))
    name = _data_name(data)
    source = DataSource.resolve(DataConfig(name=name, dir=cfg.data.dir, download=False))
    plain = source.build("pretrain")
    files = _files_of(plain)
    from_shards = isinstance(files, ShardDataset)
    if not isinstance(files, (registry.ImageFileDataset, ShardDataset)):
        raise ValueError(f"{name}: the decoders compare on image files or shards, not on "
                         f"{type(files).__name__}")
    if from_shards:
        jpeg = sum(files.read_bytes(i)[:3] == b"\xff\xd8\xff" for i in range(len(files)))
    else:
        jpeg = sum(p.lower().endswith(registry.JPEG_EXTENSIONS) for p, _ in files.samples)
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    out: dict[str, Any] = {
        "command": command, "machine": machine_info(dev), "data": source.name,
        "images": len(files), "jpeg_images": int(jpeg), "batch_size": batch_size,
        "batches": batches, "repeats": repeats, "default_jpeg_decoder": registry.JPEG_DECODER,
        "torchvision_device": "cpu", "main_process_torch_threads": 1, "views": {},
        "decode_only": [], "loader": []}
    tmp = tempfile.TemporaryDirectory(prefix="infomax-bench-shards-")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        sources = {}
        for d in decoder_names:
            if d == "shards" and not from_shards:
                started = time.perf_counter()
                write_shards(source, Path(tmp.name) / "shards", progress=False,
                             copy_files=True)
                out["shards_written_s"] = time.perf_counter() - started
                sources[d] = DataSource.resolve(DataConfig(
                    name=f"webdataset:{Path(tmp.name) / 'shards'}", download=False))
            elif d == "shards":
                continue  # the data are shards already: the other rows read them
            else:
                sources[d] = source
        decoder_of = {"pillow": "pillow", "torchvision": "torchvision", "shards": "auto"}

        def build(d: str, transform: Any) -> Any:
            dataset = sources[d].build("pretrain", transform)
            _files_of(dataset).decoder = decoder_of[d]
            return dataset

        # Decoders alternate inside each worker count, so that a machine getting busier or
        # quieter during the run does not favour the one measured first.
        for w in workers:
            for d in sources:
                r = measure_decoding(build(d, _shape), w, batch_size=batch_size,
                                     batches=batches, repeats=repeats, views=False)
                r["decoder"] = d
                out["decode_only"].append(r)
                _write(json_path, out)
                _log(f"decode only, {d}, {w} workers: {r['images_per_s']:.0f} img/s")
        if dev.startswith("cuda") and "torchvision" in decoder_names and not from_shards:
            out["torchvision_device"] = dev
            jpegs = [s for s in files.samples if s[0].lower().endswith(registry.JPEG_EXTENSIONS)]
            for w in workers:
                r = measure_gpu_decoding(jpegs, w, batch_size=batch_size, batches=batches,
                                         device=dev, repeats=repeats)
                r["decoder"] = "torchvision-cuda"
                out["decode_only"].append(r)
                _write(json_path, out)
                _log(f"decode only, torchvision on {dev}, {w} workers: "
                     f"{r['images_per_s']:.0f} img/s")
        for size in image_sizes:
            info = dataclasses.replace(source.info, image_size=size)
            views, what = _views(info, cfg.data.augment, cfg.data.augment_policy)
            out["views"][str(size)] = what
            for w in workers:
                for d in sources:
                    r = measure_decoding(build(d, views), w, batch_size=batch_size,
                                         batches=batches, repeats=repeats)
                    r.update(decoder=d, image_size=size)
                    out["loader"].append(r)
                    _write(json_path, out)
                    _log(f"{size} px, {d}, {w} workers: {r['images_per_s']:.0f} img/s")
    finally:
        torch.set_num_threads(threads)
        tmp.cleanup()
    _write(json_path, out)
    return out


def format_decoder_table(out: dict[str, Any]) -> str:
    """The decoders' images/s per worker count: decoding alone, then the loader with views
    at each image size."""
    workers = sorted({r["num_workers"] for r in out["decode_only"] + out["loader"]})
    head = f"{'':<34}" + "".join(f"{f'{w} workers':>12}" for w in workers)

    def rows(items: list, label: Any) -> list[str]:
        lines = []
        for d in dict.fromkeys(r["decoder"] for r in items):
            rates = {r["num_workers"]: r["images_per_s"] for r in items if r["decoder"] == d}
            lines.append(f"{label(d):<34}" + "".join(
                f"{rates[w]:>12.0f}" if w in rates else f"{'-':>12}" for w in workers))
        return lines

    def label(d: str) -> str:
        return {"pillow": "pillow", "torchvision": "torchvision.io (cpu)",
                "torchvision-cuda": f"torchvision.io ({out['torchvision_device']}, batched)",
                "shards": f"shards ({out['default_jpeg_decoder']})"}.get(d, d)

    lines = [f"{out['data']}: {out['images']} images ({out['jpeg_images']} JPEG), batch "
             f"{out['batch_size']}; images/s", head, "decoding only:"]
    lines += ["  " + line for line in rows(out["decode_only"], label)]
    for size, what in out["views"].items():
        lines.append(f"two views at {size} px, {what}:")
        lines += ["  " + line for line in rows(
            [r for r in out["loader"] if r["image_size"] == int(size)], label)]
    lines.append("0 workers: the main process decodes (one torch thread); each figure is the "
                 "median of " + str(out["repeats"]) + " timings.")
    return "\n".join(lines)


__all__ = ["breakdown_line", "decoders", "format_decoder_table", "format_loader_table",
           "format_profile", "format_table", "loader", "measure_decoding", "measure_loader",
           "profile", "speed", "trace_path"]
