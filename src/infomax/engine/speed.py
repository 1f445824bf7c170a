"""Throughput of one full training step, its FLOPs, and how close it gets to the machine's
GEMM peak.

``measure_train_step`` builds the method exactly as ``infomax pretrain`` does (``METHODS``
with the data set's channels, image size and class count) and times, without a Trainer and
without data files, the whole update on random inputs: both views through the encoder, the
multiscale loss, the online probes and their loss, backward, the Adam step, the scheduler
step and ``zero_grad``.

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode``, which counts matrix
multiplications and convolutions (forward and backward) only: element-wise ops,
normalisation, activations, the soft clip, log-sum-exp and the optimizer update are not
counted. Achieved GFLOP/s are therefore a lower bound on the work done, and the ratio to the
GEMM peak is the fraction of the machine's dense matmul throughput the step reaches.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime as _dt
import gc
import math
import os
import platform
import resource
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from infomax.config import Config
from infomax.data.source import DataSource
from infomax.machine import cpu_model
from infomax.methods import METHODS, Batch, SSLMethod
from infomax.runs import build_method

__all__ = [
    "DEFAULT_GEMM_SIZES",
    "FLOP_NOTE",
    "PRECISIONS",
    "PreparedStep",
    "check_step_args",
    "format_table",
    "machine_info",
    "measure_gemm_peak",
    "measure_train_step",
    "precision_dtype",
    "prepare_step",
]

PRECISIONS = ("32", "bf16-mixed", "16-mixed")
FLOP_NOTE = ("FLOPs counted by torch.utils.flop_counter: matmul and convolution ops only "
             "(forward and backward); element-wise ops, norms, activations and the optimizer "
             "update are not counted")
DEFAULT_GEMM_SIZES = (1024, 2048, 3072, 4096)

_MiB = 1024 * 1024


# --------------------------------------------------------------------------------------
# Devices, precision, machine


def _resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def precision_dtype(precision: str) -> torch.dtype:
    """The dtype the matmuls and convolutions run in under ``precision``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return {"32": torch.float32, "bf16-mixed": torch.bfloat16,
            "16-mixed": torch.float16}[precision]


def _autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """What Lightning's mixed-precision plugin wraps the training step's forward in."""
    if precision == "32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=precision_dtype(precision))


def machine_info(device: str | torch.device | None = None) -> dict[str, Any]:
    """What the numbers were measured on: CPU, threads, torch, accelerator, date."""
    dev = _resolve_device(device)
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(dev),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if dev.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(dev)
        info["cuda"] = torch.version.cuda
    return info


# --------------------------------------------------------------------------------------
# GEMM peak


def _time_matmul(a: Tensor, b: Tensor, device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    torch.mm(a, b)
    _sync(device)
    return time.perf_counter() - start


def measure_gemm_peak(dtype: torch.dtype = torch.float32,
                      n: int | tuple[int, ...] = DEFAULT_GEMM_SIZES, repeats: int = 3,
                      device: str | torch.device | None = None,
                      max_seconds_per_matmul: float = 1.5) -> float:
    """Best GFLOP/s of square ``n x n @ n x n`` matmuls (2 n^3 FLOPs each) in ``dtype``, with
    torch's current thread count.

    Sizes are tried in increasing order, each warmed up once and then timed ``repeats``
    times. A size is skipped (and so are the larger ones) when its predicted time, scaled as
    n^3 from the last size run, exceeds ``max_seconds_per_matmul``: a dtype the machine has
    no fast kernels for (bf16 on a CPU without AVX-512 BF16/AMX) stops after the smallest
    size instead of running for minutes. The smallest size always runs.
    """
    dev = _resolve_device(device)
    sizes = sorted({n} if isinstance(n, int) else set(n))
    if not sizes or sizes[0] < 1 or repeats < 1:
        raise ValueError(f"need sizes >= 1 and repeats >= 1, got n={n!r}, repeats={repeats}")
    gen = torch.Generator(device="cpu").manual_seed(0)
    best = 0.0
    last: tuple[int, float] | None = None
    for size in sizes:
        if last is not None and last[1] * (size / last[0]) ** 3 > max_seconds_per_matmul:
            break
        a = torch.randn(size, size, generator=gen).to(device=dev, dtype=dtype)
        b = torch.randn(size, size, generator=gen).to(device=dev, dtype=dtype)
        warm = _time_matmul(a, b, dev)
        times = [warm]
        if warm <= max_seconds_per_matmul:
            times += [_time_matmul(a, b, dev) for _ in range(repeats)]
        t = min(times)
        best = max(best, 2.0 * size ** 3 / t / 1e9)
        last = (size, t)
        del a, b
    return best


# --------------------------------------------------------------------------------------
# Peak memory


def _proc_status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _ru_maxrss_kib() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss // 1024 if platform.system() == "Darwin" else rss  # bytes on macOS


def _release_free_memory() -> None:
    """Collect garbage and hand the C heap's free pages back to the OS (glibc
    ``malloc_trim``), so that the resident set at the start of a measurement is the live
    memory, not what an earlier measurement freed but the allocator kept."""
    gc.collect()
    if platform.system() != "Linux":
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


@dataclass
class _PeakMemory:
    """Peak memory from ``start()`` to ``peak_mib()``: on CUDA the allocator's peak; on CPU
    the process's resident-set high-water mark minus the resident set at ``start()``
    (the high-water mark is reset through /proc/self/clear_refs where the kernel allows it,
    else ``ru_maxrss`` is used, which can only over-report when an earlier part of the
    process peaked higher)."""

    device: torch.device
    method: str = ""
    _base_kib: int = 0
    _base_bytes: int = 0
    _reset: bool = False

    def start(self) -> None:
        if self.device.type == "cuda":
            _sync(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base_bytes = torch.cuda.memory_allocated(self.device)
            self.method = "torch.cuda.max_memory_allocated (delta)"
            return
        _release_free_memory()
        reset = False
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM to the current RSS
            reset = _proc_status_kib("VmHWM") is not None
        except OSError:
            pass
        self.method = ("CPU max RSS delta (VmHWM after /proc/self/clear_refs)" if reset
                       else "CPU max RSS delta (ru_maxrss)")
        self._reset = reset
        current = _proc_status_kib("VmRSS")
        self._base_kib = current if current is not None else _ru_maxrss_kib()

    def peak_mib(self) -> float:
        if self.device.type == "cuda":
            _sync(self.device)
            return (torch.cuda.max_memory_allocated(self.device) - self._base_bytes) / _MiB
        peak = _proc_status_kib("VmHWM") if self._reset else None
        if peak is None:
            peak = _ru_maxrss_kib()
        return max(0, peak - self._base_kib) / 1024.0


# --------------------------------------------------------------------------------------
# The train step


def _build(cfg: Config, device: torch.device) -> tuple[SSLMethod, Any, Any, Any]:
    """The method as ``infomax pretrain`` builds it, plus its optimizer and scheduler."""
    info = DataSource.resolve(cfg.data).info
    model = build_method(cfg, info)
    if hasattr(model, "init_memory"):  # memory banks: one row per image of a CIFAR-sized set
        model.init_memory(BANK_ROWS)
    model.to(device).train()
    opt_conf = model.configure_optimizers()
    sched = opt_conf["lr_scheduler"]["scheduler"]
    return model, opt_conf["optimizer"], sched, info


BANK_ROWS = 50_000


def _random_batch(cfg: Config, batch_size: int, device: torch.device,
                  seed: int) -> Batch:
    info = DataSource.resolve(cfg.data).info
    gen = torch.Generator(device="cpu").manual_seed(seed)
    shape = (batch_size, info.channels, info.image_size, info.image_size)
    x1 = torch.randn(shape, generator=gen).to(device)
    x2 = torch.randn(shape, generator=gen).to(device)
    test = None
    if cfg.probe.online_view == "test":  # the online probes' extra forward pass counts too
        test = torch.randn(shape, generator=gen).to(device)
    labels = torch.randint(0, info.num_classes, (batch_size,), generator=gen).to(device)
    index = None
    if METHODS[cfg.method].needs_index:
        index = torch.randperm(BANK_ROWS, generator=gen)[:batch_size].to(device)
    crops = tuple(  # multi-crop: the extra crops the method's batches carry
        torch.randn(batch_size, info.channels, group.size, group.size, generator=gen).to(device)
        for group in METHODS[cfg.method].extra_crops(cfg, info) for _ in range(group.count))
    return Batch((x1, x2), labels, test, index, crops=crops)


def _no_phase(name: str) -> contextlib.AbstractContextManager:
    return contextlib.nullcontext()


def _train_step(model: SSLMethod, opt: Any, sched: Any, batch: Any,
                autocast: Callable[[], contextlib.AbstractContextManager],
                phase: Callable[[str], contextlib.AbstractContextManager] = _no_phase
                ) -> Tensor:
    """One full update as Lightning's automatic optimization runs it. ``phase(name)`` is
    entered around the forward pass, the backward pass and the optimizer's part ("forward",
    "backward", "optimizer"): the profiler's labels (``engine.profile``); it computes
    nothing."""
    with phase("forward"), autocast():
        losses = model.compute_losses(batch)
        loss, probe_loss = losses.ssl, losses.probe
        total = loss + probe_loss
    with phase("backward"):
        total.backward()
    with phase("optimizer"):
        opt.step()
        opt.zero_grad(set_to_none=True)
        sched.step()
    return total.detach()


@dataclass
class PreparedStep:
    """A method built as ``infomax pretrain`` builds it, with its optimizer, scheduler, a
    random batch and the precision's autocast: what ``measure_train_step`` times and
    ``engine.profile`` profiles. Calling it runs one full update and returns its loss."""

    model: SSLMethod
    opt: Any
    sched: Any
    batch: Batch
    info: Any
    precision: str
    device: torch.device
    scale: Callable[[Tensor], Tensor]
    step: Callable[..., Tensor]

    def autocast(self) -> contextlib.AbstractContextManager:
        return _autocast(self.precision, self.device)

    def __call__(self, phase: Callable[[str], contextlib.AbstractContextManager] = _no_phase
                 ) -> Tensor:
        return self.step(self.model, self.opt, self.sched, self.batch, self.autocast, phase)

    def compile(self) -> float | None:
        """With ``train.compile``, as the Trainer does before fitting: the encoder compiled
        in place, then one step, which traces and compiles; its seconds (None without
        ``train.compile``, nothing done). Eager work that must not meet a compiled graph
        (the FLOP count's dispatch mode) comes before it."""
        if not self.model.cfg.train.compile:
            return None
        self.model.configure_model()
        _sync(self.device)
        start = time.perf_counter()
        self()
        _sync(self.device)
        return time.perf_counter() - start


def check_step_args(cfg: Config, batch_size: int | None, precision: str,
                    device: torch.device) -> int:
    """The batch size a step of ``cfg`` runs at (default ``cfg.data.batch_size``), after
    refusing a precision, device or batch size it cannot run with (ValueError)."""
    precision_dtype(precision)
    if precision == "16-mixed" and device.type != "cuda":
        raise ValueError("precision '16-mixed' needs a CUDA device; use '32' or 'bf16-mixed'")
    bs = cfg.data.batch_size if batch_size is None else batch_size
    if bs < 2:
        raise ValueError(f"batch_size must be >= 2 (the NCE needs negatives), got {bs}")
    return bs


def prepare_step(cfg: Config, batch_size: int, precision: str, device: torch.device,
                 seed: int = 0) -> PreparedStep:
    """``cfg``'s method, optimizer and scheduler on ``device``, seeded with ``seed``, and a
    random batch of ``batch_size`` images (arguments checked by ``check_step_args``)."""
    torch.manual_seed(seed)
    model, opt, sched, info = _build(cfg, device)
    batch = _random_batch(cfg, batch_size, device, seed)
    scale: Callable[[Tensor], Tensor] = lambda t: t
    if precision == "16-mixed":
        opt = _ScaledOptimizer(opt, torch.amp.GradScaler("cuda"))
        scale = opt.scaler.scale
    step = _train_step if precision != "16-mixed" else _scaled_train_step
    return PreparedStep(model, opt, sched, batch, info, precision, device, scale, step)


@contextlib.contextmanager
def _flops_inside(module: torch.nn.Module, counter: FlopCounterMode,
                  sink: list[int]) -> Iterator[list[Any]]:
    """Adds to ``sink[0]`` the FLOPs ``counter`` sees inside every forward of ``module``,
    and yields the list the module's outputs are appended to."""
    outputs: list[Any] = []
    starts: list[int] = []

    def pre(_mod: Any, _args: Any) -> None:
        starts.append(counter.get_total_flops())

    def post(_mod: Any, _args: Any, out: Any) -> None:
        sink[0] += counter.get_total_flops() - starts.pop()
        outputs.append(out)

    handles = [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    try:
        yield outputs
    finally:
        for h in handles:
            h.remove()


@contextlib.contextmanager
def _flops_of_test_views(model: SSLMethod, counter: FlopCounterMode, enc_sink: list[int],
                         sink: list[int]) -> Iterator[None]:
    """Adds to ``sink[0]`` the FLOPs ``counter`` sees inside ``model.test_view_features``
    (the online probes' forward pass on test-time views) that the encoder's hooks did not
    already add to ``enc_sink[0]``."""
    original = model.test_view_features

    def counted(x: Tensor) -> Tensor:
        start, enc_start = counter.get_total_flops(), enc_sink[0]
        out = original(x)
        sink[0] += counter.get_total_flops() - start - (enc_sink[0] - enc_start)
        return out

    model.test_view_features = counted  # type: ignore[method-assign]
    try:
        yield
    finally:
        del model.test_view_features  # the class's method again


def _count_step_flops(model: SSLMethod, opt: Any, sched: Any, batch: Any,
                      autocast: Callable[[], contextlib.AbstractContextManager],
                      scale: Callable[[Tensor], Tensor] = lambda t: t
                      ) -> tuple[dict[str, dict[str, int]], Tensor]:
    """One full update with its FLOPs split into encoder, loss and probes (each forward and
    backward) and the optimizer step. The backward runs in three pieces (probe loss; the
    multiscale loss down to the encoder outputs; the encoder from those outputs), which
    executes the same autograd nodes as the single ``(loss + probe_loss).backward()`` of a
    training step, so the sum is that step's FLOP count (tests check the two agree).
    FlopCounterMode's own per-module attribution is not used: it attributes backward ops to
    the wrong modules.
    ``scale`` is the loss scaling of 16-mixed (identity otherwise)."""
    enc_fwd, probe_fwd, test_fwd = [0], [0], [0]
    with FlopCounterMode(display=False) as fwd:
        with _flops_inside(model.encoder, fwd, enc_fwd) as enc_outs, \
                _flops_inside(model.probes, fwd, probe_fwd), \
                _flops_of_test_views(model, fwd, enc_fwd, test_fwd):
            with autocast():
                losses = model.compute_losses(batch)
                loss, probe_loss = losses.ssl, losses.probe
                total = loss + probe_loss
    fwd_total = fwd.get_total_flops()

    with FlopCounterMode(display=False) as c:
        scale(probe_loss).backward()
    probe_bwd = c.get_total_flops()

    targets = [t for out in enc_outs if isinstance(out, tuple) for t in out
               if isinstance(t, Tensor) and t.requires_grad]
    if targets:
        with FlopCounterMode(display=False) as c:
            grads = torch.autograd.grad(scale(loss), targets, allow_unused=True)
        loss_bwd = c.get_total_flops()
        pairs = [(t, g) for t, g in zip(targets, grads) if g is not None]
        with FlopCounterMode(display=False) as c:
            torch.autograd.backward([t for t, _ in pairs], [g for _, g in pairs])
        enc_bwd = c.get_total_flops()
    else:
        # Methods that call their encoders through embed / forward_features (all but
        # AMDIM): no encoder outputs to cut the backward at, so the whole backward and
        # the forward outside ``model.encoder(...)`` calls count as "loss".
        with FlopCounterMode(display=False) as c:
            scale(loss).backward()
        loss_bwd, enc_bwd = c.get_total_flops(), 0

    with FlopCounterMode(display=False) as c:
        opt.step()
        opt.zero_grad(set_to_none=True)
        sched.step()
    opt_flops = c.get_total_flops()

    parts = {
        # (the encoder's forward passes on the online probes' test-time views included)
        "encoder": {"forward": enc_fwd[0] + test_fwd[0], "backward": enc_bwd},
        "loss": {"forward": fwd_total - enc_fwd[0] - test_fwd[0] - probe_fwd[0],
                 "backward": loss_bwd},
        "probes": {"forward": probe_fwd[0], "backward": probe_bwd},
        "optimizer": {"step": opt_flops},
    }
    return parts, total.detach()


def step_setting(cfg: Config, info: Any, precision: str, dev: torch.device,
                 batch_size: int) -> dict[str, Any]:
    """What a measured step was, for the head of its result: preset, method, data, input
    shape, model, precision and compute dtype, layout, device and batch size."""
    return {
        "preset": cfg.preset,
        "method": cfg.method,
        "dataset": info.name,
        "input_shape": [info.channels, info.image_size, info.image_size],
        "model": dict(vars(cfg.model)),
        "precision": precision,
        "compute_dtype": str(precision_dtype(precision)).removeprefix("torch."),
        "channels_last": cfg.train.channels_last,
        "device": str(dev),
        "batch_size": batch_size,
    }


def measure_train_step(cfg: Config, batch_size: int | None = None, steps: int = 5,
                       warmup: int = 2, precision: str = "32", *,
                       device: str | torch.device | None = None,
                       gemm_peak: float | None = None, seed: int = 0,
                       max_seconds: float | None = None) -> dict[str, Any]:
    """Time full training steps of ``cfg``'s method on random inputs.

    Args:
        cfg: the run configuration (method, model, loss, optimizer, data set name;
            ``train.channels_last`` and ``train.compile`` are honoured as in training; with
            ``train.compile`` the step after the FLOP count compiles the encoder, untimed,
            and its seconds are ``compile_s`` in the result).
        batch_size: images per step (default ``cfg.data.batch_size``); each image is a
            pair of views, so a step encodes ``2 * batch_size`` inputs.
        steps: timed steps; the reported step time is their median.
        warmup: untimed steps before them, after one untimed FLOP-counting step (which
            warms up kernels and caches as well).
        precision: "32", "bf16-mixed" (autocast to bfloat16 around forward and losses) or
            "16-mixed" (float16 autocast with a GradScaler; CUDA only).
        device: default CUDA when available, else CPU.
        gemm_peak: the machine's GEMM peak in GFLOP/s for the precision's dtype; measured
            with ``measure_gemm_peak`` when None.
        seed: seeds the weights, the inputs and the labels.
        max_seconds: time budget for the warmup and timed steps. A step is skipped when
            the time spent so far plus the last step's time (at first, the FLOP-counting
            step's) would exceed it; the first timed step always runs. ``steps`` in the
            result is the number actually timed.

    Returns a JSON-serialisable dict: throughput (``images_per_s``, ``seconds_per_step``,
    ``step_times_s``), FLOPs (``flops_per_step``; ``flops``: encoder, loss and probes
    forward and backward, and the optimizer step; ``flop_share`` of each part),
    ``achieved_gflops``, ``gemm_peak_gflops``, ``fraction_of_peak``, ``peak_mem_mb``, the
    last step's loss (``final_loss``) and ``machine`` info.
    """
    if steps < 1 or warmup < 0:
        raise ValueError(f"need steps >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    dev = _resolve_device(device)
    dtype = precision_dtype(precision)
    bs = check_step_args(cfg, batch_size, precision, dev)

    mem = _PeakMemory(dev)
    mem.start()
    prepared = prepare_step(cfg, bs, precision, dev, seed)
    model, opt, sched, batch, info = (prepared.model, prepared.opt, prepared.sched,
                                      prepared.batch, prepared.info)
    scale, autocast = prepared.scale, prepared.autocast

    _sync(dev)
    start = time.perf_counter()
    parts, last_loss = _count_step_flops(model, opt, sched, batch, autocast, scale)
    _sync(dev)
    step = _train_step if precision != "16-mixed" else _scaled_train_step
    # After the eager FLOP count; the compiling step is untimed and reported on its own.
    compile_s = prepared.compile()
    times: list[float] = []
    # The FLOP-counting step is a full step too: its time is the first estimate of a step's.
    began, last = time.perf_counter(), time.perf_counter() - start
    if compile_s is not None:  # the compiling step says nothing about a compiled step's time
        began, last = time.perf_counter(), 0.0
    for i in range(warmup + steps):
        timed = i >= warmup
        if (max_seconds is not None and not (timed and not times)
                and time.perf_counter() - began + last > max_seconds):
            if not timed:
                continue  # skip the rest of the warmup, still time one step
            break
        _sync(dev)
        start = time.perf_counter()
        last_loss = step(model, opt, sched, batch, autocast)
        _sync(dev)
        last = time.perf_counter() - start
        if timed:
            times.append(last)
    peak_mib = mem.peak_mib()

    if gemm_peak is None:
        gemm_peak = measure_gemm_peak(dtype, device=dev)
    per_part = {k: sum(p.values()) for k, p in parts.items()}
    flops = sum(per_part.values())
    median = statistics.median(times)
    achieved = flops / median / 1e9
    shares = {k: v / flops if flops else 0.0 for k, v in per_part.items()}
    return {
        **step_setting(cfg, info, precision, dev, bs),
        "compile": cfg.train.compile,
        "compile_s": compile_s,
        "steps": len(times),
        "steps_requested": steps,
        "warmup": warmup,
        "step_times_s": times,
        "seconds_per_step": median,
        "images_per_s": bs / median,
        "flops_per_step": flops,
        "flops": parts,
        "flop_share": shares,
        "flop_note": FLOP_NOTE,
        "achieved_gflops": achieved,
        "gemm_peak_gflops": gemm_peak,
        "fraction_of_peak": achieved / gemm_peak if gemm_peak > 0 else math.nan,
        "peak_mem_mb": peak_mib,
        "peak_mem_method": mem.method,
        "final_loss": float(last_loss),
        "machine": machine_info(dev),
    }


@dataclass
class _ScaledOptimizer:
    """An optimizer stepped through a GradScaler, as Lightning's 16-mixed plugin does."""

    opt: Any
    scaler: Any
    param_groups: list = field(init=False)

    def __post_init__(self) -> None:
        self.param_groups = self.opt.param_groups

    def step(self) -> None:
        self.scaler.step(self.opt)
        self.scaler.update()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.opt.zero_grad(set_to_none=set_to_none)


def _scaled_train_step(model: SSLMethod, opt: _ScaledOptimizer, sched: Any, batch: Any,
                       autocast: Callable[[], contextlib.AbstractContextManager],
                       phase: Callable[[str], contextlib.AbstractContextManager] = _no_phase
                       ) -> Tensor:
    """``_train_step`` with float16 loss scaling."""
    with phase("forward"), autocast():
        losses = model.compute_losses(batch)
        loss, probe_loss = losses.ssl, losses.probe
        total = loss + probe_loss
    with phase("backward"):
        opt.scaler.scale(total).backward()
    with phase("optimizer"):
        opt.step()
        opt.zero_grad(set_to_none=True)
        sched.step()
    return total.detach()


# --------------------------------------------------------------------------------------
# Reporting


_COLUMNS = (("preset", "preset", "{}"), ("precision", "precision", "{}"),
            ("batch", "batch_size", "{}"), ("img/s", "images_per_s", "{:.1f}"),
            ("ms/step", "seconds_per_step", "{:.0f}"),
            ("GFLOP/step", "flops_per_step", "{:.1f}"),
            ("GFLOP/s", "achieved_gflops", "{:.1f}"),
            ("GEMM peak GFLOP/s", "gemm_peak_gflops", "{:.1f}"),
            ("% of peak", "fraction_of_peak", "{:.1f}"),
            ("% of fp32 peak", "fraction_of_fp32_peak", "{:.1f}"),
            ("peak MB", "peak_mem_mb", "{:.0f}"))


def format_table(results: list[dict[str, Any]]) -> str:
    """A plain-text table of ``measure_train_step`` results, with the FLOP caveat below.
    The "% of fp32 peak" column appears when every result has ``fraction_of_fp32_peak``
    (set by the caller that measured the float32 peak too)."""
    scale = {"seconds_per_step": 1e3, "flops_per_step": 1e-9, "fraction_of_peak": 100.0,
             "fraction_of_fp32_peak": 100.0}
    columns = [c for c in _COLUMNS
               if c[1] != "fraction_of_fp32_peak" or all(c[1] in r for r in results)]
    rows = [[title for title, _, _ in columns]]
    for r in results:
        row = []
        for _, key, fmt in columns:
            value = r[key]
            if key in scale:
                value = value * scale[key]
            row.append(fmt.format(value))
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    dtypes = sorted({r["compute_dtype"] for r in results})
    lines.append("")
    lines.append(FLOP_NOTE + ".")
    lines.append("GEMM peak: best square matmul in the precision's compute dtype "
                 f"({', '.join(dtypes)}), measured in the same run; a pair of views is one "
                 "image.")
    return "\n".join(lines)
