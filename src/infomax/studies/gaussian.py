"""``infomax study gaussian``: MI estimators calibrated on correlated Gaussians of known MI.

The experiment of Poole, Ozair, van den Oord, Alemi and Tucker (ICML 2019, "On variational
bounds of mutual information", Sec. 4 and Fig. 2): x, y in R^d with

    x, eps ~ N(0, I),   y = rho x + sqrt(1 - rho^2) eps,   I(X; Y) = -(d / 2) log(1 - rho^2),

and the true MI stepped through 2, 4, 6, 8, 10 nats while one critic per estimator is
trained (Adam, lr 5e-4 as in the paper) to maximise that estimator on fresh batches. Next
to each trained critic the same estimator is evaluated with the analytic optimal critic

    f*(x, y) = log p(y | x) - log p(y)                          (Poole et al. 2019, Sec. 2)

which isolates the estimator's own bias and variance from how well a critic can be
learned. NWJ is written here in Tschannen et al.'s f - 1 form, so its optimal critic is
f* + 1; InfoNCE and DV take f* itself. JSD (Hjelm et al. 2019) is not a bound on MI: it is
trained and plotted like the others but reported as an objective.

Writes into ``--output``: ``results.json`` (settings; per estimator and MI value the trained
critic's mean estimate over the last 10% of that stage's steps, and the optimal critic's
mean, standard deviation and standard error over ``--repeats`` batches) and
``gaussian_calibration.png`` (one panel per estimator, as Poole et al.'s Fig. 2).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor

from infomax.errors import InfomaxError
from infomax.mi import ESTIMATOR_NAMES, LOWER_BOUNDS, make_critic

LR = 5e-4  # Poole et al. 2019, Sec. 4: Adam with learning rate 5e-4
TAIL = 10  # the trained critic is summarised over the last 1/TAIL of each stage's steps
QUICK_STEPS = 1000  # --quick: training steps per MI value ...
QUICK_REPEATS = 20  # ... and optimal-critic batches
PNG = "gaussian_calibration.png"
RESULTS = "results.json"

# Added to f* to get each estimator's optimal critic: NWJ in the f - 1 form (mi.py) is
# tight at f* + 1, the others at f*.
OPTIMAL_SHIFT = {"infonce": 0.0, "nwj": 1.0, "dv": 0.0, "jsd": 0.0}
TITLES = {"infonce": "InfoNCE", "nwj": "NWJ", "dv": "DV (MINE)",
          "jsd": "JSD objective (not an MI bound)"}
KINDS = {"infonce": "lower bound on MI, at most log B", "nwj": "lower bound on MI",
         "dv": "lower bound on MI (biased upward on a finite batch)",
         "jsd": "objective (Jensen-Shannon surrogate), not an MI estimate"}


# ----------------------------------------------------------------------------- the data


def rho_for_mi(mi: float, dim: int) -> float:
    """The correlation rho for which I = -(d/2) log(1 - rho^2) equals ``mi`` nats in ``dim``
    dimensions (Poole et al. 2019, Sec. 4): rho = sqrt(1 - exp(-2 I / d))."""
    if mi < 0 or dim < 1:
        raise ValueError(f"need mi >= 0 and dim >= 1, got mi={mi}, dim={dim}")
    # -expm1 keeps small MI exact where 1 - exp(...) would cancel.
    return math.sqrt(-math.expm1(-2.0 * mi / dim))


def mi_for_rho(rho: float, dim: int) -> float:
    """I(X; Y) = -(d/2) log(1 - rho^2) of the correlated Gaussians (spec/family.md)."""
    return -0.5 * dim * math.log1p(-rho * rho)


def sample_pairs(batch: int, dim: int, rho: float, generator: torch.Generator,
                 dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """``batch`` pairs (x, y), each (batch, dim): x, eps ~ N(0, I), y = rho x + sqrt(1 -
    rho^2) eps. Drawn in float64 from ``generator`` and then cast, so a seed gives the same
    pairs in either precision."""
    x = torch.randn(batch, dim, generator=generator, dtype=torch.float64)
    eps = torch.randn(batch, dim, generator=generator, dtype=torch.float64)
    y = rho * x + math.sqrt(1.0 - rho * rho) * eps
    return x.to(dtype), y.to(dtype)


def optimal_critic(x: Tensor, y: Tensor, rho: float) -> Tensor:
    """(B, B) scores F[i, j] = f*(x_i, y_j) = log p(y_j | x_i) - log p(y_j) of the optimal
    critic (Poole et al. 2019, Sec. 2; spec/family.md), with p(y | x) = N(rho x, (1 - rho^2)
    I) and p(y) = N(0, I):

        f*(x, y) = -|y - rho x|^2 / (2 (1 - rho^2)) - (d/2) log(1 - rho^2) + |y|^2 / 2.
    """
    var = 1.0 - rho * rho
    diff = y[None, :, :] - rho * x[:, None, :]  # (B, B, d): y_j - rho x_i
    # The log(2 pi) terms of the two densities cancel.
    return (-(diff * diff).sum(-1) / (2.0 * var) - 0.5 * x.shape[1] * math.log(var)
            + 0.5 * (y * y).sum(-1)[None, :])


def optimal_estimates(estimators: Sequence[str], mi: float, dim: int, batch: int,
                      repeats: int, generator: torch.Generator) -> dict[str, Tensor]:
    """Each estimator with its optimal critic on ``repeats`` fresh batches of ``batch`` pairs
    at true MI ``mi``: {name: (repeats,) float64 estimates}. Every estimator sees the same
    batches, so their differences are paired."""
    rho = rho_for_mi(mi, dim)
    out = {name: torch.empty(repeats, dtype=torch.float64) for name in estimators}
    for r in range(repeats):
        x, y = sample_pairs(batch, dim, rho, generator, torch.float64)
        f = optimal_critic(x, y, rho)
        for name in estimators:
            out[name][r] = LOWER_BOUNDS[name](f + OPTIMAL_SHIFT[name])
    return out


# ----------------------------------------------------------------------------- training


def train_traces(estimators: Sequence[str], critic: str, mis: Sequence[float], dim: int,
                 batch: int, steps: int, *, lr: float = LR, seed: int = 0,
                 progress: bool = False) -> Tensor:
    """Train one ``critic`` per estimator, each maximising its own estimator, while the true
    MI steps through ``mis`` (``steps`` Adam steps at each value), as in Poole et al. 2019,
    Fig. 2. Returns the (len(estimators), len(mis) * steps) estimates of every step (the
    value on the batch the step trained on).

    All critics start from the same weights and see the same batches. A critic without
    parameters (the inner critic) is only evaluated."""
    from tqdm.auto import tqdm

    critics = []
    for _ in estimators:
        # The same initial weights for every estimator, without touching the caller's
        # global random state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            critics.append(make_critic(critic, dim, dim))
    params = [p for c in critics for p in c.parameters()]
    # One Adam over all critics equals one per critic: Adam acts on each element alone.
    opt = torch.optim.Adam(params, lr=lr) if params else None
    gen = torch.Generator().manual_seed(seed)
    fns = [LOWER_BOUNDS[name] for name in estimators]
    trace = torch.empty(len(estimators), len(mis) * steps, dtype=torch.float64)
    bar = tqdm(total=len(mis) * steps, desc="gaussian: training", disable=not progress,
               unit="step", leave=False)
    t = 0
    for mi in mis:
        rho = rho_for_mi(mi, dim)
        bar.set_postfix_str(f"I = {mi:g} nats")
        for _ in range(steps):
            x, y = sample_pairs(batch, dim, rho, gen)
            values = [fn(c(x, y)) for fn, c in zip(fns, critics)]
            trace[:, t] = torch.stack(values).detach().double()
            if opt is not None:
                # Each critic's gradient comes from its own estimate only. A non-finite
                # estimate (NWJ/DV can overflow exp) skips that critic's step instead of
                # writing NaN into its weights for good.
                total = sum(v for v in values if v.requires_grad and torch.isfinite(v))
                opt.zero_grad(set_to_none=True)
                if isinstance(total, Tensor):
                    (-total).backward()
                    opt.step()
            t += 1
            bar.update()
    bar.close()
    return trace


# ----------------------------------------------------------------------------- summary


def _tail_stats(values: Tensor) -> dict[str, Any]:
    finite = values[torch.isfinite(values)]
    return {"mean": finite.mean().item() if finite.numel() else float("nan"),
            "std": finite.std().item() if finite.numel() > 1 else float("nan"),
            "steps": values.numel(), "nonfinite": int(values.numel() - finite.numel())}


def summarise(estimators: Sequence[str], mis: Sequence[float], dim: int, steps: int,
              trace: Tensor, optimal: Sequence[dict[str, Tensor]]) -> dict[str, Any]:
    """{estimator: {kind, optimal_critic, stages: [per MI value ...]}}: the trained critic's
    mean (and s.d.) over the last 1/``TAIL`` of each stage, the optimal critic's mean, s.d.
    and standard error over its repeats."""
    tail = max(1, math.ceil(steps / TAIL))  # steps / 10, not 0.1 * steps: 0.1 * 30 > 3
    out: dict[str, Any] = {}
    for k, name in enumerate(estimators):
        stages = []
        for s, mi in enumerate(mis):
            end = (s + 1) * steps
            opt_values = optimal[s][name]
            n = opt_values.numel()
            sd = opt_values.std().item() if n > 1 else float("nan")
            stages.append({
                "true_mi": mi, "rho": rho_for_mi(mi, dim),
                "trained": _tail_stats(trace[k, end - tail:end]),
                "optimal": {"mean": opt_values.mean().item(), "std": sd,
                            "se": sd / math.sqrt(n), "repeats": n},
            })
        shift = OPTIMAL_SHIFT[name]
        out[name] = {"kind": KINDS[name],
                     "optimal_critic": "f* + 1" if shift == 1 else "f*",
                     "stages": stages}
    return out


def _json_safe(obj: Any) -> Any:
    """``obj`` with every non-finite float as None: JSON has no NaN or infinity."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _ema(values: list[float], span: float) -> list[float]:
    """Exponential moving average (alpha = 2 / (span + 1)), the smoothing of Poole et al.'s
    plots; non-finite values are skipped rather than poisoning the average."""
    alpha = 2.0 / (span + 1.0)
    out, m = [], None
    for v in values:
        if math.isfinite(v):
            m = v if m is None else m + alpha * (v - m)
        out.append(float("nan") if m is None else m)
    return out


def plot(path: Path, estimators: Sequence[str], mis: Sequence[float], steps: int,
         batch: int, trace: Tensor, optimal: Sequence[dict[str, Tensor]],
         summary: dict[str, Any], title: str) -> Path:
    """One panel per estimator, like Poole et al. 2019, Fig. 2: the trained critic's
    estimate per step (faint) and smoothed, the optimal critic's estimate on each of its
    batches (dots, spread over the stage) and their mean, the true-MI staircase and the
    log B ceiling of InfoNCE. Drawn on a ``Figure`` (Agg), never through pyplot, so the
    caller's backend is left alone."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    n = len(estimators)
    fig = Figure(figsize=(4.2 * n, 4.0), dpi=110, layout="constrained")
    axes = fig.subplots(1, n, sharey=True, squeeze=False)[0]
    total = len(mis) * steps
    steps_axis = list(range(1, total + 1))
    stairs_x = [v for s in range(len(mis)) for v in (s * steps, (s + 1) * steps)]
    stairs_y = [v for mi in mis for v in (mi, mi)]
    log_b = math.log(batch)
    # NWJ and DV swing far below zero early in training and on unlucky batches: keep the
    # axis on the range of the truth, and say where an off-scale mean lies.
    y_lo, y_hi = -2.0, max(max(mis), log_b) + 2.0
    span = max(2, min(200, steps // 10))
    for ax, (k, name) in zip(axes, enumerate(estimators)):
        raw = trace[k].tolist()
        ax.plot(steps_axis, raw, color="C0", alpha=0.2, lw=0.5)
        ax.plot(steps_axis, _ema(raw, span), color="C0", lw=1.6,
                label="trained critic" if name != "jsd" else "trained critic (objective)")
        crit = summary[name]["optimal_critic"]
        for s, stage in enumerate(summary[name]["stages"]):
            lo, hi = s * steps, (s + 1) * steps
            values = optimal[s][name].tolist()
            xs = [lo + (r + 0.5) * (hi - lo) / len(values) for r in range(len(values))]
            ax.scatter(xs, values, s=4, color="C3", alpha=0.35, lw=0)
            mean = stage["optimal"]["mean"]
            ax.hlines(mean, lo, hi, colors="C3", linestyles="--", lw=1.4,
                      label=f"optimal critic {crit}: batches, mean" if s == 0 else None)
            if not y_lo <= mean <= y_hi:
                ax.annotate(f"mean {mean:.3g}", ((lo + hi) / 2, y_lo if mean < y_lo else y_hi),
                            xytext=(0, 4 if mean < y_lo else -10), textcoords="offset points",
                            ha="center", fontsize=7, color="C3")
        ax.plot(stairs_x, stairs_y, color="black", lw=1.2, label="true MI")
        ax.axhline(log_b, color="0.45", ls=":", lw=1.3, label=f"log B = {log_b:.2f}")
        ax.set_title(TITLES[name], fontsize=11)
        ax.set_xlabel("training step")
        ax.set_xlim(0, total)
        ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))  # 5-digit labels collide
        ax.legend(fontsize=7, loc="upper left")
        ax.grid(alpha=0.25)
    axes[0].set_ylabel("nats")
    axes[0].set_ylim(y_lo, y_hi)
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, format="png", facecolor="white")
    return path


# ----------------------------------------------------------------------------- the command


@dataclass(frozen=True)
class GaussianOptions:
    """What ``infomax study gaussian`` runs (the defaults are the command's); checked when
    made, with the command's messages. ``quick`` caps ``steps`` and ``repeats`` at
    ``QUICK_STEPS`` and ``QUICK_REPEATS``."""

    dim: int = 20
    mi: tuple[float, ...] = (2.0, 4.0, 6.0, 8.0, 10.0)
    estimators: tuple[str, ...] = ESTIMATOR_NAMES
    critic: str = "separable"
    batch_size: int = 128
    steps: int = 4000
    repeats: int = 50
    seed: int = 0
    quick: bool = False
    output: str | Path = "docs/studies/gaussian"
    progress: bool = True
    lr: float = LR

    def __post_init__(self) -> None:
        object.__setattr__(self, "mi", tuple(self.mi or ()))
        object.__setattr__(self, "estimators", tuple(self.estimators))
        if self.dim < 1:
            raise InfomaxError(f"--dim must be at least 1, got {self.dim}")
        if not self.mi or any(not math.isfinite(m) or m <= 0 for m in self.mi):
            raise InfomaxError(f"--mi needs positive MI values in nats, got {list(self.mi)}")
        if self.batch_size < 2:
            raise InfomaxError(f"--batch-size must be at least 2, got {self.batch_size}")
        for flag, value in (("--steps", self.steps), ("--repeats", self.repeats)):
            if value < 1:
                raise InfomaxError(f"{flag} must be at least 1, got {value}")
        unknown = [e for e in self.estimators if e not in ESTIMATOR_NAMES]
        if unknown:
            raise InfomaxError(f"unknown estimator(s) {unknown}; choose from {ESTIMATOR_NAMES}")


def run(options: GaussianOptions) -> int:
    """The ``infomax study gaussian`` command: train, evaluate, write results.json and the
    plot into ``options.output``; returns the exit code."""
    steps, repeats = options.steps, options.repeats
    if options.quick:
        steps, repeats = min(steps, QUICK_STEPS), min(repeats, QUICK_REPEATS)
    estimators = list(dict.fromkeys(options.estimators))  # order kept, repeats dropped
    mis = [float(m) for m in options.mi]
    progress = options.progress
    lr = options.lr
    out = Path(options.output)
    out.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    # One thread: the (128, 100) products are far too small to split, and on a shared
    # machine two threads waiting on each other made each step several times slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trace = train_traces(estimators, options.critic, mis, options.dim,
                             options.batch_size, steps, lr=lr, seed=options.seed,
                             progress=progress)
    finally:
        torch.set_num_threads(threads)
    train_s = time.perf_counter() - start
    # A generator of its own: the optimal-critic numbers do not depend on --steps.
    gen = torch.Generator().manual_seed(options.seed + 1)
    optimal = [optimal_estimates(estimators, mi, options.dim, options.batch_size, repeats, gen)
               for mi in mis]
    summary = summarise(estimators, mis, options.dim, steps, trace, optimal)
    seconds = time.perf_counter() - start

    results = {
        "study": "gaussian",
        "reference": "Poole et al. 2019, On variational bounds of mutual information, Fig. 2",
        "settings": {"dim": options.dim, "mi": mis, "estimators": estimators,
                     "critic": options.critic, "batch_size": options.batch_size, "steps": steps,
                     "repeats": repeats, "seed": options.seed, "quick": bool(options.quick),
                     "optimizer": "Adam", "lr": lr, "tail_fraction": 1 / TAIL},
        "log_b": math.log(options.batch_size),
        "estimators": summary,
        "runtime_s": {"training": round(train_s, 2), "total": round(seconds, 2)},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "torch": torch.__version__, "threads": 1},
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    (out / RESULTS).write_text(json.dumps(_json_safe(results), indent=2, allow_nan=False)
                               + "\n")
    title = (f"Correlated Gaussians, d = {options.dim}, B = {options.batch_size}: {options.critic} "
             f"critic, Adam lr {lr:g}, {steps} steps per MI value; optimal critic over "
             f"{repeats} batches (Poole et al. 2019, Fig. 2)")
    plot(out / PNG, estimators, mis, steps, options.batch_size, trace, optimal, summary,
         title)

    print(f"{'estimator':<9} {'true MI':>7} {'trained':>8} {'optimal':>8} {'+- se':>6}")
    for name in estimators:
        for stage in summary[name]["stages"]:
            print(f"{name:<9} {stage['true_mi']:>7.2f} {stage['trained']['mean']:>8.3f} "
                  f"{stage['optimal']['mean']:>8.3f} {stage['optimal']['se']:>6.3f}")
    print(f"log B = {math.log(options.batch_size):.3f}; {seconds:.1f} s")
    print(f"results: {out / RESULTS}")
    print(f"plot:    {out / PNG}")
    return 0
