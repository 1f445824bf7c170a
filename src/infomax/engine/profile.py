"""Where a training step's time goes: torch.profiler around full training steps, their ops'
self time grouped into named categories (convolutions, the NCE's scores, masks, soft clip
and log-sum-exp, layout conversions, batch norm, ...) and into the step's phases.

The step is the one ``measure_train_step`` times (``speed.prepare_step``: the method as
``infomax pretrain`` builds it, random inputs, the precision's autocast, channels_last as
configured), labelled without changing what it computes: ``torch.profiler.record_function``
ranges around the forward pass, the backward pass and the optimizer's part; around the
encoder's, the probes' and the probes' test-view forward passes (module hooks and wrapped
methods, removed afterwards); and, inside AMDIM's NCE, around the scores, the regularizer,
the soft clip, the masks and the log-sum-exp (``losses.amdim.NCE_RANGES``, entered only
while a profiler records).

Every op's self time goes to exactly one category, so the categories add up to the
profiled step. An op of the backward pass is attributed through the autograd node that
runs it: the node's name says which forward op it differentiates (``TanhBackward0``:
``tanh``) and its sequence number links it to that op's ranges (the backward of an op in
the soft-clip range is soft-clip time, the backward of the encoder's ops is the encoder's
backward).
"""

from __future__ import annotations

import contextlib
import re
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterator

import torch
from torch.profiler import ProfilerActivity, record_function

from infomax.config import Config
from infomax.engine.speed import (_resolve_device, _sync, check_step_args, machine_info,
                                  prepare_step, step_setting)
from infomax.losses.amdim import NCE_RANGES
from infomax.methods import SSLMethod
from infomax.methods.base import PROBES_RANGE, TEST_VIEW_RANGE

__all__ = ["CATEGORIES", "PHASES", "format_profile", "profile_train_step"]

STEP = "infomax:step"
SECTIONS = ("forward", "backward", "optimizer")  # the ranges _train_step opens
ENCODER, PROBES, TEST_VIEW = "infomax:encoder", PROBES_RANGE, TEST_VIEW_RANGE

CATEGORIES: dict[str, str] = {
    "convolutions": "convolutions",
    "nce_scores": "NCE scores (matmul)",
    "matmul": "other matmul",
    "nce_regularizer": "NCE regularizer (mean s^2)",
    "soft_clip": "soft clip (tanh)",
    "nce_masks": "NCE masks and positives",
    "log_sum_exp": "log-sum-exp, softplus, softmax",
    "layout": "layout conversions and casts",
    "batch_norm": "batch norm",
    "pool_pad": "pooling and padding",
    "elementwise": "elementwise and reductions",
    "probes": "probes (heads, cross-entropy)",
    "test_view": "probes' test-view pass",
    "optimizer": "optimizer (Adam, zero_grad, scheduler)",
    "other": "other (views, allocation, autograd, Python)",
}
PHASES: dict[str, str] = {
    "forward/encoder": "encoder forward",
    "forward/loss": "loss forward",
    "forward/probes": "probes forward",
    "forward/test-view pass": "probes' test-view pass",
    "backward/encoder": "encoder backward",
    "backward/loss": "loss backward",
    "backward/probes": "probes backward",
    "backward/other": "backward, other (gradient accumulation, engine)",
    "optimizer": "optimizer (step, zero_grad, scheduler)",
    "other": "between the phases",
}

# losses.amdim.NCE_RANGES, in order: the category of each range's ops.
_NCE = dict(zip(NCE_RANGES, ("nce_scores", "nce_regularizer", "soft_clip", "nce_masks",
                             "log_sum_exp", "log_sum_exp")))


def _ops(*names: str) -> frozenset[str]:
    return frozenset(_norm(n) for n in names)


def _norm(name: str) -> str:
    """An op's name without ``aten::`` and underscores, lower case: the form an autograd
    node's name takes without ``Backward0`` (``aten::_to_copy`` and ``ToCopyBackward0``
    are both ``tocopy``)."""
    return name.removeprefix("aten::").replace("_", "").lower()


_SECTION_OF = {f"infomax:{s}": s for s in SECTIONS}
LABELS = frozenset({ENCODER, PROBES, TEST_VIEW, *_NCE})
_NODE = re.compile(r"^([A-Za-z0-9_]+?)Backward\d*$")
_EVALUATE = "autograd::engine::evaluate_function: "

CONV = _ops("conv1d", "conv2d", "conv3d", "convolution", "_convolution", "mkldnn_convolution",
            "thnn_conv2d", "_slow_conv2d_forward", "cudnn_convolution",
            "convolution_backward", "_slow_conv2d_backward", "conv_transpose2d")
NORM = _ops("batch_norm", "native_batch_norm", "_batch_norm_impl_index",
            "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
            "cudnn_batch_norm", "native_batch_norm_backward", "layer_norm",
            "native_layer_norm", "group_norm", "native_group_norm", "instance_norm")
MATMUL = _ops("mm", "bmm", "matmul", "addmm", "linear", "baddbmm", "addbmm", "einsum", "dot",
              "mv", "addmv", "_addmm_activation")
LOG_SUM_EXP = _ops("logsumexp", "softplus", "softmax", "_softmax", "log_softmax",
                   "_log_softmax")
TANH = _ops("tanh")
POOL_PAD = _ops("avg_pool2d", "max_pool2d", "max_pool2d_with_indices", "adaptive_avg_pool2d",
                "_adaptive_avg_pool2d", "pad", "constant_pad_nd", "reflection_pad2d",
                "replication_pad2d")
LAYOUT = _ops("to", "_to_copy", "copy_", "_copy_from", "contiguous", "clone")
# Inside a convolution, matmul or norm: the casts autocast adds, the copies to the layout
# a kernel wants (a bare copy_ there is the kernel's own, e.g. im2col).
CONVERSIONS = _ops("to", "_to_copy", "contiguous", "clone")
# Views cost nothing unless a reshape has to copy (the copy is then a layout conversion);
# AccumulateGrad copies a gradient whose strides the parameter's do not match.
VIEWS = _ops("reshape", "flatten", "view", "_unsafe_view", "_reshape_alias", "permute",
             "transpose", "t", "expand", "squeeze", "unsqueeze", "select", "slice",
             "as_strided", "narrow", "view_as", "unflatten", "split", "chunk", "unbind",
             "diagonal", "alias", "detach", "AccumulateGrad")
COPIES = _ops("clone", "copy_", "empty_like", "empty", "empty_strided", "contiguous")
ALLOCATION = _ops("empty", "empty_strided", "empty_like", "resize_", "arange",
                  "scalar_tensor", "lift_fresh", "item", "_local_scalar_dense", "is_nonzero",
                  "set_", "result_type")
CROSS_ENTROPY = _ops("cross_entropy_loss", "nll_loss", "nll_loss_nd", "nll_loss2d",
                     "nll_loss_forward", "nll_loss_backward")


def _category(top: str | None, event: str, labels: tuple[str, ...], section: str,
              converts: bool) -> str:
    """The category of an event's self time. ``top``: the normalized name of the op it is
    part of (the outermost op below the labels; in the backward pass, the op the autograd
    node differentiates), None for time outside any op (labels, the autograd engine,
    Python between ops); ``event`` its own normalized name; ``labels`` the ranges around
    it (around its forward op, for backward events); ``converts``: a cast or a layout copy
    inside a convolution, matmul or norm."""
    if TEST_VIEW in labels:
        return "test_view"
    if section == "optimizer":
        return "optimizer"
    if PROBES in labels or top in CROSS_ENTROPY:
        return "probes"
    if top is None:
        return "other"
    if converts or top in LAYOUT:
        return "layout"
    if top in VIEWS:
        return "layout" if event != top and event in COPIES else "other"
    if top in CONV:
        return "convolutions"
    if top in NORM:
        return "batch_norm"
    if top in MATMUL:
        return "nce_scores" if "nce:scores" in labels else "matmul"
    nce = [label for label in labels if label in _NCE]
    if nce:
        return _NCE[nce[-1]]
    if top in TANH:
        return "soft_clip"
    if top in LOG_SUM_EXP:
        return "log_sum_exp"
    if top in POOL_PAD:
        return "pool_pad"
    if top in ALLOCATION:
        return "other"
    return "elementwise"


def _phase(labels: tuple[str, ...], section: str, category: str, linked: bool) -> str:
    if section == "optimizer" or section == "other":
        return section
    if TEST_VIEW in labels:
        return "forward/test-view pass"
    if PROBES in labels or category == "probes":
        return f"{section}/probes"
    if ENCODER in labels:
        return f"{section}/encoder"
    if section == "backward" and not linked:
        return "backward/other"
    return f"{section}/loss"


def _node_op(name: str) -> str | None:
    """The normalized op an autograd node's name differentiates, or None."""
    if name == "AccumulateGrad" or name == "torch::autograd::AccumulateGrad":
        return _norm("AccumulateGrad")
    m = _NODE.match(name)
    return m.group(1).lower() if m else None


class _Tally:
    """Self time per (category, section) and per phase, in microseconds."""

    def __init__(self) -> None:
        self.category: dict[tuple[str, str], float] = defaultdict(float)
        self.category_device: dict[tuple[str, str], float] = defaultdict(float)
        self.phase: dict[str, float] = defaultdict(float)
        self.ops: dict[tuple[str, str], float] = defaultdict(float)
        self.forward_labels: dict[int, tuple[str, ...]] = {}

    def walk(self, event: Any, labels: tuple[str, ...], section: str, top: str | None,
             chain: tuple[str, ...], linked: bool) -> None:
        """Tally ``event`` and, depth first, its children. ``top``: the op the event is part
        of (None outside ops); ``chain``: the ops from ``top`` down to the event."""
        name = event.name
        node = _node_op(name)
        if name in _SECTION_OF:
            section = _SECTION_OF[name]
            labels = labels + (name,)
        elif name in LABELS or name == STEP:
            labels = labels + (name,)
        elif name.startswith(_EVALUATE):
            top, chain = None, ()
        elif node is not None:
            # An autograd node: its ops are the backward of the forward op it names, in the
            # ranges that forward op ran in.
            top, chain = node, (node,)
            seq = getattr(event, "sequence_nr", -1)
            linked = seq in self.forward_labels
            if linked:
                labels = labels + self.forward_labels[seq]
        elif "::" in name:  # an op
            op = _norm(name)
            top = op if top is None else top
            chain = chain + (op,)
            seq = getattr(event, "sequence_nr", -1)
            if section == "forward" and seq >= 0:
                self.forward_labels[seq] = tuple(label for label in labels if label in LABELS)
        # (any other name is a range someone else opened: it changes nothing)
        converts = (top in CONV or top in MATMUL or top in NORM) and any(
            op in CONVERSIONS for op in chain)
        category = _category(top, _norm(name), labels, section, converts)
        self.category[category, section] += event.self_cpu_time_total
        self.ops[category, name] += event.self_cpu_time_total
        device = getattr(event, "self_device_time_total", 0) or 0
        if device:
            self.category_device[category, section] += device
        self.phase[_phase(labels, section, category, linked)] += event.self_cpu_time_total
        for child in event.cpu_children:
            self.walk(child, labels, section, top, chain, linked)


def _tally(events: Any) -> tuple[_Tally, float]:
    """The tally of every event inside a step, and the steps' summed CPU time (us)."""
    tally = _Tally()
    roots = sorted((e for e in events if e.cpu_parent is None),
                   key=lambda e: e.time_range.start)
    steps = [e for e in roots if e.name == STEP]
    spans = [(s.time_range.start, s.time_range.end) for s in steps]
    for root in roots:
        if root.name == STEP:
            tally.walk(root, (), "other", None, (), False)
        elif any(a <= root.time_range.start and root.time_range.end <= b for a, b in spans):
            # Work on another thread during a step (the autograd engine's device threads).
            section = "backward" if root.name.startswith(_EVALUATE) else "other"
            tally.walk(root, (), section, None, (), False)
    return tally, sum(s.cpu_time_total for s in steps)


@contextlib.contextmanager
def _labelled(model: SSLMethod) -> Iterator[None]:
    """A profiler range around every forward pass of the encoder (``forward``, ``embed``
    and ``forward_features``) for the duration of the block; nothing it computes
    changes. (The probes' ranges are opened by ``SSLMethod.compute_losses``.)"""
    encoder = getattr(model, "encoder", None)
    if not isinstance(encoder, torch.nn.Module):
        yield
        return
    open_ranges: list[Any] = []

    def enter(_module: Any, _args: Any) -> None:
        r = record_function(ENCODER)
        r.__enter__()
        open_ranges.append(r)

    def leave(_module: Any, _args: Any, _out: Any) -> None:
        open_ranges.pop().__exit__(None, None, None)

    def wrap(attr: str) -> None:
        original = getattr(encoder, attr)

        def labelled(*args: Any, **kwargs: Any) -> Any:
            with record_function(ENCODER):
                return original(*args, **kwargs)

        setattr(encoder, attr, labelled)

    handles = [encoder.register_forward_pre_hook(enter), encoder.register_forward_hook(leave)]
    methods = [a for a in ("embed", "forward_features") if callable(getattr(encoder, a, None))]
    for attr in methods:
        wrap(attr)
    try:
        yield
    finally:
        for h in handles:
            h.remove()
        for attr in methods:
            delattr(encoder, attr)  # the class's method again


def _phase_range(name: str) -> contextlib.AbstractContextManager:
    return record_function(f"infomax:{name}")


def _rows(tally: _Tally, steps: int, step_us: float, device: bool) -> list[dict[str, Any]]:
    rows = []
    for key, title in CATEGORIES.items():
        by = {s: tally.category.get((key, s), 0.0) / steps / 1e3 for s in (*SECTIONS, "other")}
        total = sum(by.values())
        row = {"key": key, "name": title, "forward_ms": by["forward"],
               "backward_ms": by["backward"], "ms": total,
               "share": total / (step_us / steps / 1e3) if step_us else 0.0}
        ops = sorted(((t, n) for (c, n), t in tally.ops.items() if c == key), reverse=True)
        row["ops"] = [{"name": n, "ms": t / steps / 1e3} for t, n in ops[:5]]
        if device:
            row["device_ms"] = sum(tally.category_device.get((key, s), 0.0)
                                   for s in (*SECTIONS, "other")) / steps / 1e3
        rows.append(row)
    return rows


def profile_train_step(cfg: Config, batch_size: int | None = None, steps: int = 1,
                       warmup: int = 1, precision: str = "32", *,
                       device: str | torch.device | None = None, seed: int = 0,
                       top: int = 15, trace: str | Path | None = None) -> dict[str, Any]:
    """Profile ``steps`` full training steps of ``cfg``'s method, after ``warmup`` untimed
    ones, with torch.profiler (CPU activity, and CUDA on a GPU; no shapes).

    Returns a JSON-serialisable dict: ``seconds_per_step`` (median wall time of the
    profiled steps, profiler overhead included), ``profiled_ms_per_step`` (the steps' CPU
    time as the profiler saw it), ``categories`` and ``phases`` (ms per step and share of
    the profiled step each; the categories also split into forward and backward),
    ``top_ops`` (the ``top`` ops by self CPU time), ``key_averages`` (every row of
    ``prof.key_averages()``: name, count, self and total CPU time in microseconds over all
    profiled steps), ``final_loss``, ``machine``, and with ``train.compile`` the seconds of
    the compiling step that comes before the warmup (``compile_s``; the profiled steps are
    then the compiled ones). With ``trace``, the Chrome trace is
    written there.
    """
    if steps < 1 or warmup < 0 or top < 1:
        raise ValueError(f"need steps >= 1, warmup >= 0 and top >= 1, got steps={steps}, "
                         f"warmup={warmup}, top={top}")
    dev = _resolve_device(device)
    bs = check_step_args(cfg, batch_size, precision, dev)
    step = prepare_step(cfg, bs, precision, dev, seed)
    compile_s = step.compile()  # train.compile: the compiling step before the warmup
    loss = None
    for _ in range(warmup):
        loss = step()
    _sync(dev)
    activities = [ProfilerActivity.CPU]
    if dev.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    times: list[float] = []
    with _labelled(step.model), torch.profiler.profile(activities=activities,
                                                        record_shapes=False) as prof:
        for _ in range(steps):
            _sync(dev)
            start = time.perf_counter()
            with record_function(STEP):
                loss = step(_phase_range)
            _sync(dev)
            times.append(time.perf_counter() - start)
    if trace is not None:
        Path(trace).parent.mkdir(parents=True, exist_ok=True)
        prof.export_chrome_trace(str(trace))
    on_device = dev.type == "cuda"
    tally, step_us = _tally(prof.events())
    categories = _rows(tally, steps, step_us, on_device)
    per_step_ms = step_us / steps / 1e3
    phases = [{"key": k, "name": title, "ms": tally.phase.get(k, 0.0) / steps / 1e3,
               "share": tally.phase.get(k, 0.0) / step_us if step_us else 0.0}
              for k, title in PHASES.items()]
    averages = []
    for e in prof.key_averages():
        row = {"name": e.key, "count": e.count, "self_cpu_time_total": e.self_cpu_time_total,
               "cpu_time_total": e.cpu_time_total}
        if on_device:
            row["self_device_time_total"] = getattr(e, "self_device_time_total", 0.0)
            row["device_time_total"] = getattr(e, "device_time_total", 0.0)
        averages.append(row)
    averages.sort(key=lambda r: -r["self_cpu_time_total"])
    ours = {STEP, *_SECTION_OF, *LABELS}
    top_ops = [{"name": r["name"], "calls_per_step": r["count"] / steps,
                "self_ms": r["self_cpu_time_total"] / steps / 1e3,
                "share": r["self_cpu_time_total"] / step_us if step_us else 0.0}
               for r in averages if r["name"] not in ours][:top]
    info = step.info
    return {
        **step_setting(cfg, info, precision, dev, bs),
        "compile": cfg.train.compile,
        "compile_s": compile_s,
        "steps": steps,
        "warmup": warmup,
        "step_times_s": times,
        "seconds_per_step": statistics.median(times),
        "profiled_ms_per_step": per_step_ms,
        "time_unit": "categories, phases and top_ops: ms per step; key_averages: "
                     "microseconds over all profiled steps",
        "categories": categories,
        "phases": phases,
        "top_ops": top_ops,
        "key_averages": averages,
        "trace": str(trace) if trace is not None else None,
        "final_loss": float(loss) if loss is not None else None,
        "machine": machine_info(dev),
    }


def format_profile(r: dict[str, Any]) -> str:
    """A plain-text report of one ``profile_train_step`` result: the categories (forward,
    backward, total ms per step and % of the profiled step), the phases, the top ops."""
    device = any("device_ms" in c for c in r["categories"])
    head = (f"{r['preset']} {r['precision']} ({r['compute_dtype']}), batch {r['batch_size']}, "
            f"{r['steps']} step(s) profiled after {r['warmup']} warmup: "
            f"{r['seconds_per_step'] * 1e3:.0f} ms/step wall, "
            f"{r['profiled_ms_per_step']:.0f} ms profiled")
    width = max(len(c["name"]) for c in r["categories"])
    cols = f"{'fwd ms':>9} {'bwd ms':>9} {'ms/step':>9} {'%':>6}"
    if device:
        cols += f" {'device ms':>10}"
    lines = [head, f"{'category':<{width}} {cols}"]
    for c in sorted(r["categories"], key=lambda c: -c["ms"]):
        if c["ms"] <= 0:
            continue
        line = (f"{c['name']:<{width}} {c['forward_ms']:>9.1f} {c['backward_ms']:>9.1f} "
                f"{c['ms']:>9.1f} {100 * c['share']:>6.1f}")
        if device:
            line += f" {c.get('device_ms', 0.0):>10.1f}"
        lines.append(line)
    total = sum(c["ms"] for c in r["categories"])
    lines.append(f"{'total':<{width}} {'':>9} {'':>9} {total:>9.1f} "
                 f"{100 * total / r['profiled_ms_per_step']:>6.1f}")
    lines.append("phases: " + ", ".join(f"{p['name']} {100 * p['share']:.1f}%"
                                        for p in r["phases"] if p["ms"] > 0))
    lines.append(f"top {len(r['top_ops'])} ops by self CPU time (ms/step, calls/step, %):")
    w = max([len(o["name"]) for o in r["top_ops"]] + [2])
    for o in r["top_ops"]:
        lines.append(f"  {o['name']:<{w}} {o['self_ms']:>9.1f} {o['calls_per_step']:>7.0f} "
                     f"{100 * o['share']:>6.1f}")
    return "\n".join(lines)
