"""Tschannen et al. (ICLR 2020), "On mutual information maximization for representation
learning": the critic experiment (Sec. 3.2, Fig. 3) and the encoder experiment (Sec. 3.3,
Fig. 4), run by ``infomax study tschannen``.

The task (spec/family.md, "The Tschannen et al. study"): an image is cut into its top half
(view 1, rows 0-13, 392 pixels) and its bottom half (view 2, rows 14-27); one encoder per
half is trained to maximise a lower bound on the mutual information between the two codes.
The representation is the 100-d code of the top half, scored by the paper's linear
evaluation: multinomial logistic regression (scikit-learn, saga, tol 0.1, C = 10) on
min-max scaled codes of the top halves of all training images, accuracy on the test images.
A logistic regression on the top-half pixels themselves is the baseline (about 0.835 on
MNIST in the paper).

- Critic experiment (Sec. 3.2): MLP encoders 392-300-300-100 (ReLU) for each half; critics
  bilinear, separable and MLP ("concat"); estimators InfoNCE and NWJ; downstream accuracy
  and the bound over training. The paper's finding: the simple critics (bilinear,
  separable) give clearly better representations than the high-capacity MLP critic, which
  barely beats the pixel baseline, although the MLP critic reaches a tighter bound.
- Encoder experiment (Sec. 3.3): the ConvNet of the paper (conv 64 5x5 stride 2, conv 128
  5x5 stride 2, LayerNorm, global average pooling, dense 100) against the MLP encoder, with
  the bilinear critic and InfoNCE, each trained to a fixed bound value t in {2, 4} with the
  loss |I_est - t|. The paper's finding: at the same value of the bound the ConvNet gives
  much better representations, so the bound's value alone does not decide their quality.
  (Fig. 4 also repeats this with NWJ; here only InfoNCE, as the spec sets it.)

Settings follow the paper and its companion notebook (google-research,
mutual_information_representation_learning/mirl.ipynb): Adam with learning rate 1e-4,
batch 128, 21,000 iterations, evaluation every 1,000 iterations, 20 runs per setting,
Keras-default initialisation (Glorot-uniform weights, zero biases). ``--quick`` shortens
the run to fit 20 minutes on 2 CPU cores; every reduction is written into results.json
and table.md.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from infomax.data.registry import canonical_data_name
from infomax.errors import ConfigError, InfomaxError
from infomax.machine import cpu_model
from infomax.mi import LOWER_BOUNDS, BilinearCritic, make_critic, target_bound_loss

__all__ = ["CODE_DIM", "CRITICS", "ConvEncoder", "ESTIMATORS", "HALF", "LayerNorm2d",
           "MLPEncoder", "Plan", "Setting", "TARGETS", "TschannenOptions", "linear_accuracy",
           "make_encoder", "make_plan", "run", "split_halves"]

HALF = (14, 28)  # rows x columns of one half image
HALF_PIXELS = HALF[0] * HALF[1]  # 392
CODE_DIM = 100  # the paper's code size, for both encoders
CRITICS = ("bilinear", "separable", "concat")
ESTIMATORS = ("infonce", "nwj")
TARGETS = (2.0, 4.0)  # the encoder experiment's bound values t (nats)
ENCODER_ESTIMATOR = "infonce"

PAPER_DEFAULT_DATA = "mnist"
STUDY_DATA = ("mnist", "fashion-mnist")  # the 28x28 grayscale sets the halves are cut from
_LABELS = {"bilinear": "bilinear", "separable": "separable", "concat": "MLP (concat)",
           "infonce": "InfoNCE", "nwj": "NWJ", "mlp": "MLP", "convnet": "ConvNet"}


# ----------------------------------------------------------------------------- data


def split_halves(images: Tensor) -> tuple[Tensor, Tensor]:
    """(top, bottom) halves of uint8 images (N, 1, 28, 28) (or (N, 28, 28)), each a float
    tensor (N, 392) in [0, 1]: rows 0-13 and rows 14-27, flattened row by row (the paper's
    views: the first and the last 392 pixels of the flattened image)."""
    if images.dim() == 4:
        if images.shape[1] != 1:
            raise ConfigError(f"the Tschannen study needs grayscale images, got "
                              f"{images.shape[1]} channels")
        images = images[:, 0]
    if tuple(images.shape[1:]) != (2 * HALF[0], HALF[1]):
        raise ConfigError(f"the Tschannen study needs 28x28 images, got "
                          f"{tuple(images.shape[1:])}")
    x = images.float() / 255.0
    n = x.shape[0]
    top = x[:, : HALF[0]].reshape(n, HALF_PIXELS).contiguous()
    bottom = x[:, HALF[0]:].reshape(n, HALF_PIXELS).contiguous()
    return top, bottom


@dataclass
class _Split:
    top: Tensor  # (N, 392) float in [0, 1]
    bottom: Tensor
    labels: np.ndarray  # (N,) int64


def _load_split(name: str, split: str, root, download: bool) -> _Split:
    from infomax.data.registry import build_dataset

    ds = build_dataset(name, split, root, download=download)
    if hasattr(ds, "images") and hasattr(ds, "targets"):  # the in-memory MNIST readers
        images, labels = ds.images, ds.targets
    else:  # any other dataset: gather the items (slow but general)
        items = [ds[i] for i in range(len(ds))]
        images = torch.stack([img for img, _ in items])
        labels = torch.tensor([label for _, label in items])
    top, bottom = split_halves(images)
    return _Split(top, bottom, np.asarray(labels, dtype=np.int64))


# ----------------------------------------------------------------------------- encoders


class MLPEncoder(nn.Module):
    """The paper's MLP encoder (Sec. 3.2): 392-300-300-100, ReLU after the hidden layers,
    a linear code."""

    def __init__(self, n_in: int = HALF_PIXELS, hidden: tuple[int, ...] = (300, 300),
                 n_out: int = CODE_DIM) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for width in hidden:
            layers += [nn.Linear(n_in, width), nn.ReLU()]
            n_in = width
        layers.append(nn.Linear(n_in, n_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.reshape(x.shape[0], -1))


class LayerNorm2d(nn.Module):
    """Layer normalisation of a (B, C, H, W) map as in the paper's notebook: each example is
    normalised over all of C, H and W together, then scaled and shifted per channel. That
    is GroupNorm with one group."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        return F.group_norm(x, 1, self.weight, self.bias, self.eps)


class ConvEncoder(nn.Module):
    """The paper's ConvNet encoder (Sec. 3.3): conv 64 5x5 stride 2, conv 128 5x5 stride 2
    (ReLU, "same" padding), LayerNorm, global average pooling, dense 100. Takes a half image
    (B, 1, 14, 28) or its flattened pixels (B, 392), as the notebook's Reshape layer does."""

    def __init__(self, channels: int = 64, kernel: int = 5, n_out: int = CODE_DIM) -> None:
        super().__init__()
        pad = kernel // 2  # "same" output size (14x28 -> 7x14 -> 4x7) for stride 2
        self.conv1 = nn.Conv2d(1, channels, kernel, stride=2, padding=pad)
        self.conv2 = nn.Conv2d(channels, 2 * channels, kernel, stride=2, padding=pad)
        self.norm = LayerNorm2d(2 * channels)
        self.fc = nn.Linear(2 * channels, n_out)

    def forward(self, x: Tensor) -> Tensor:
        h = x.reshape(x.shape[0], 1, *HALF)
        h = F.relu(self.conv1(h))
        h = F.relu(self.conv2(h))
        h = self.norm(h).mean(dim=(2, 3))  # global average pooling
        return self.fc(h)


def make_encoder(name: str) -> nn.Module:
    """"mlp" or "convnet", initialised as the paper's Keras code was (Glorot-uniform
    weights, zero biases): PyTorch's default initialisation is smaller and would change the
    early training the accuracy curves show."""
    if name == "mlp":
        encoder: nn.Module = MLPEncoder()
    elif name == "convnet":
        encoder = ConvEncoder()
    else:
        raise ConfigError(f"unknown encoder {name!r}; choose mlp or convnet")
    _keras_init(encoder)
    return encoder


def _keras_init(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for every dense and conv layer of ``module``
    (the Keras defaults the paper's notebook uses, for the encoders and the critics)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        if isinstance(m, BilinearCritic):
            # x^T W y with W a bias-free Dense(100) layer in the notebook.
            nn.init.xavier_uniform_(m.weight)
    wx, wy = getattr(module, "wx", None), getattr(module, "wy", None)
    if isinstance(wx, nn.Linear) and isinstance(wy, nn.Linear):
        # The concat critic's first layer is one Dense on [x, y] in the notebook: its Glorot
        # limit counts both inputs, which mi.ConcatCritic holds as two separate halves.
        fan_in = wx.in_features + wy.in_features
        limit = math.sqrt(6.0 / (fan_in + wx.out_features))
        nn.init.uniform_(wx.weight, -limit, limit)
        nn.init.uniform_(wy.weight, -limit, limit)


# ----------------------------------------------------------------------------- linear evaluation


# The notebook's pixel baseline adds N(0, 0.05^2) noise to the pixels (one draw, unseeded).
NOTEBOOK_NOISE_STD = 0.05
NOTEBOOK_NOISE_DRAWS = 3


def linear_accuracy(train_x, train_y, test_x, test_y, seed: int = 0) -> float:
    """The paper's linear evaluation: min-max scaling fitted on the training codes, then
    multinomial logistic regression (saga, tol 0.1, C = 10); the test accuracy. NaN when the
    codes are not finite (a diverged run)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import MinMaxScaler

    train_x = np.asarray(train_x, dtype=np.float64)
    test_x = np.asarray(test_x, dtype=np.float64)
    if not (np.isfinite(train_x).all() and np.isfinite(test_x).all()):
        return float("nan")
    scaler = MinMaxScaler()
    train_x = scaler.fit_transform(train_x)
    test_x = scaler.transform(test_x)
    clf = LogisticRegression(solver="saga", tol=0.1, C=10.0, random_state=seed)
    with warnings.catch_warnings():
        # tol 0.1 is the protocol; saga may still hit max_iter on hard codes, which is part
        # of the protocol too, so its warning is noise here.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(train_x, np.asarray(train_y))
    return float(clf.score(test_x, np.asarray(test_y)))


def noisy_pixel_baseline(train_x, train_y, test_x, test_y, std: float = NOTEBOOK_NOISE_STD,
                         draws: int = NOTEBOOK_NOISE_DRAWS) -> dict:
    """The pixel baseline as the paper's notebook measures it: the linear evaluation on the
    pixels plus N(0, std^2) noise, fresh noise on the training and the test images (the
    learned codes, there as here, are trained and scored on clean pixels). ``draws`` noise
    draws, seeded 0, 1, ...; {"std", "draws": accuracies, "mean"}."""
    train_x = np.asarray(train_x, dtype=np.float64)
    test_x = np.asarray(test_x, dtype=np.float64)
    accs = []
    for seed in range(draws):
        rng = np.random.default_rng(seed)
        noisy_train = train_x + std * rng.standard_normal(train_x.shape)
        noisy_test = test_x + std * rng.standard_normal(test_x.shape)
        accs.append(linear_accuracy(noisy_train, train_y, noisy_test, test_y))
    return {"std": std, "draws": accs, "mean": float(np.mean(accs))}


@torch.no_grad()
def _encode(encoder: nn.Module, x: Tensor, chunk: int = 4096) -> np.ndarray:
    return torch.cat([encoder(x[i:i + chunk]) for i in range(0, x.shape[0], chunk)]).numpy()


# ----------------------------------------------------------------------------- plan


@dataclass
class Plan:
    """How much of the paper's protocol a run does. ``reductions`` says, in words, where it
    departs from the paper (empty for the paper's own settings)."""

    seeds: int
    critic_iterations: int
    encoder_iterations: int
    critic_eval_every: int
    encoder_eval_every: int
    eval_train_size: int | None  # training images for the linear evaluation; None: all
    estimate_batches: int | None  # held-out batches for the bound's value; None: all
    batch_size: int = 128
    lr: float = 1e-4
    reductions: list[str] = field(default_factory=list)


PAPER = dict(iterations=21000, evals=21, seeds=20)
# --quick: sized for 20 minutes on 2 CPU cores shared with other work (measured there: an
# MLP step 15-40 ms, a ConvNet step ~230 ms, a ConvNet pass over 10k half images ~4 s, a
# saga fit on 60k codes ~5 s). The ConvNet's cost sets the short encoder experiment; the
# linear evaluation's cost sets the fixed training subset it fits on.
QUICK = dict(critic_iterations=1000, critic_evals=4, encoder_iterations=300,
             encoder_evals=2, seeds=2, estimate_batches=10, eval_train_size=20000)


def make_plan(quick: bool = False, iterations: int | None = None,
              seeds: int | None = None) -> Plan:
    """The paper's settings, or the reduced ``--quick`` ones; ``iterations`` (both
    experiments) and ``seeds`` override either."""
    if iterations is not None and iterations < 1:
        raise ConfigError(f"--iterations must be at least 1, got {iterations}")
    if seeds is not None and seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    if quick:
        c_iters = iterations or QUICK["critic_iterations"]
        e_iters = iterations or QUICK["encoder_iterations"]
        c_evals, e_evals = QUICK["critic_evals"], QUICK["encoder_evals"]
        n_seeds = seeds or QUICK["seeds"]
        est_batches, train_size = QUICK["estimate_batches"], QUICK["eval_train_size"]
    else:
        c_iters = e_iters = iterations or PAPER["iterations"]
        c_evals = e_evals = PAPER["evals"]
        n_seeds = seeds or PAPER["seeds"]
        est_batches, train_size = None, None
    plan = Plan(seeds=n_seeds, critic_iterations=c_iters, encoder_iterations=e_iters,
                critic_eval_every=max(1, c_iters // c_evals),
                encoder_eval_every=max(1, e_iters // e_evals),
                eval_train_size=train_size, estimate_batches=est_batches)
    r = plan.reductions
    if n_seeds < PAPER["seeds"]:
        r.append(f"{_runs(n_seeds)} per setting instead of {PAPER['seeds']}")
    for what, n in (("critic", c_iters), ("encoder", e_iters)):
        if n != PAPER["iterations"]:
            r.append(f"{what} experiment: {n} training iterations instead of "
                     f"{PAPER['iterations']}")
    if c_evals != PAPER["evals"] or e_evals != PAPER["evals"]:
        r.append(f"evaluated every {plan.critic_eval_every} (critic) and "
                 f"{plan.encoder_eval_every} (encoder) iterations instead of every 1000")
    if train_size is not None:
        r.append(f"linear evaluation (and the pixel baseline) fitted on a fixed random subset "
                 f"of {train_size} training images instead of all of them")
    if est_batches is not None:
        r.append(f"bound value averaged over {est_batches} held-out test batches instead of "
                 f"the whole test split")
    return plan


@dataclass(frozen=True)
class Setting:
    """One trained configuration: encoders, critic, estimator and (encoder experiment) the
    target bound value t of the loss |I_est - t|; None maximises the estimate."""

    experiment: str
    encoder: str
    critic: str
    estimator: str
    target: float | None = None

    @property
    def key(self) -> str:
        if self.experiment == "critic":
            return f"{self.critic}/{self.estimator}"
        return f"{self.encoder}/t={self.target:g}"

    @property
    def label(self) -> str:
        if self.experiment == "critic":
            return f"{_LABELS[self.critic]} critic, {_LABELS[self.estimator]}"
        return f"{_LABELS[self.encoder]}, t = {self.target:g}"


def _settings(experiment: str) -> list[Setting]:
    if experiment == "critic":
        return [Setting("critic", "mlp", c, e) for e in ESTIMATORS for c in CRITICS]
    return [Setting("encoder", enc, "bilinear", ENCODER_ESTIMATOR, t)
            for enc in ("convnet", "mlp") for t in TARGETS]


# ----------------------------------------------------------------------------- training


@dataclass
class _Data:
    train: _Split
    test: _Split
    eval_top: Tensor  # the top halves the linear evaluation fits on
    eval_labels: np.ndarray
    est_top: Tensor  # held-out pairs for the bound's value, in whole batches
    est_bottom: Tensor
    est_batch: int


def _prepare(train: _Split, test: _Split, plan: Plan) -> _Data:
    if plan.eval_train_size is not None and plan.eval_train_size < train.top.shape[0]:
        # A fixed subset, the same for every run, so that curves stay comparable.
        keep = torch.randperm(train.top.shape[0], generator=torch.Generator().manual_seed(0))
        keep = keep[: plan.eval_train_size]
        eval_top, eval_labels = train.top[keep], train.labels[keep.numpy()]
    else:
        eval_top, eval_labels = train.top, train.labels
    # The bound is a batch quantity (InfoNCE never exceeds log B), so it is measured on
    # held-out batches of the training batch size; a test split smaller than one batch
    # (the test suite's fake data) gives one smaller batch.
    est_batch = min(plan.batch_size, test.top.shape[0])
    n_batches = test.top.shape[0] // est_batch
    if plan.estimate_batches is not None:
        n_batches = min(n_batches, plan.estimate_batches)
    n = n_batches * est_batch
    return _Data(train, test, eval_top, eval_labels, test.top[:n], test.bottom[:n], est_batch)


class _Batches:
    """Indices of training batches: a fresh random permutation per epoch, the last partial
    batch dropped (as the notebook's ``batch(drop_remainder=True)``)."""

    def __init__(self, n: int, batch: int, generator: torch.Generator) -> None:
        if n < batch:
            raise ConfigError(f"{n} training images are fewer than one batch of {batch}")
        self.n, self.batch, self.gen = n, batch, generator
        self.perm, self.pos = torch.randperm(n, generator=generator), 0

    def next(self) -> Tensor:
        if self.pos + self.batch > self.n:
            self.perm, self.pos = torch.randperm(self.n, generator=self.gen), 0
        idx = self.perm[self.pos:self.pos + self.batch]
        self.pos += self.batch
        return idx


def _eval_points(iterations: int, every: int) -> list[int]:
    """0, every, 2 every, ... and the last iteration (the notebook stops one step short of
    it; here the trained model is always scored too)."""
    points = list(range(0, iterations, every))
    if points[-1] != iterations:
        points.append(iterations)
    return points


@torch.no_grad()
def _held_out_estimate(g1, g2, critic, bound, data: _Data) -> float:
    values = []
    for i in range(0, data.est_top.shape[0], data.est_batch):
        x, y = data.est_top[i:i + data.est_batch], data.est_bottom[i:i + data.est_batch]
        values.append(float(bound(critic(g1(x), g2(y)))))
    return float(np.mean(values))


def _train_run(setting: Setting, seed: int, plan: Plan, data: _Data, bar, fits) -> dict:
    """Train one setting from ``seed``; its curves at the evaluation points. The linear
    evaluations go to ``fits`` (an executor): their accuracies are futures until
    ``_resolve``."""
    iterations = plan.critic_iterations if setting.experiment == "critic" else \
        plan.encoder_iterations
    every = plan.critic_eval_every if setting.experiment == "critic" else \
        plan.encoder_eval_every
    # Same seed -> same encoder initialisation and batch order in every setting, so the
    # settings differ only in what the study varies.
    torch.manual_seed(seed)
    g1, g2 = make_encoder(setting.encoder), make_encoder(setting.encoder)
    critic = make_critic(setting.critic, CODE_DIM, CODE_DIM)
    _keras_init(critic)
    params = [*g1.parameters(), *g2.parameters(), *critic.parameters()]
    opt = torch.optim.Adam(params, lr=plan.lr)
    bound = LOWER_BOUNDS[setting.estimator]
    batches = _Batches(data.train.top.shape[0], plan.batch_size,
                       torch.Generator().manual_seed(seed))
    points = set(_eval_points(iterations, every))
    out = {"seed": seed, "iterations": [], "accuracy": [], "estimate": [],
           "train_estimate": [], "diverged_at": None}
    running: list[float] = []
    start = time.perf_counter()
    for it in range(iterations + 1):
        if it in points:
            # The codes are taken now; the logistic regression on them may run beside the
            # training that follows (saga releases the GIL), which it does not affect.
            out["accuracy"].append(fits.submit(
                linear_accuracy, _encode(g1, data.eval_top), data.eval_labels,
                _encode(g1, data.test.top), data.test.labels, seed))
            out["iterations"].append(it)
            out["estimate"].append(_held_out_estimate(g1, g2, critic, bound, data))
            out["train_estimate"].append(float(np.mean(running)) if running else float("nan"))
            running = []
            if bar is not None:
                bar.set_postfix_str(f"{setting.key} seed {seed} I_est "
                                    f"{out['estimate'][-1]:.2f}", refresh=False)
        if it == iterations:
            break
        idx = batches.next()
        est = bound(critic(g1(data.train.top[idx]), g2(data.train.bottom[idx])))
        loss = -est if setting.target is None else target_bound_loss(est, setting.target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        value = float(est.detach())
        if not math.isfinite(value):
            # NWJ's exp term can overflow; the run is recorded as diverged (NaN from here)
            # rather than stopping the whole study.
            out["diverged_at"] = it
            rest = sorted(p for p in points if p > it)
            out["iterations"] += rest
            for key in ("accuracy", "estimate", "train_estimate"):
                out[key] += [float("nan")] * len(rest)
            if bar is not None:
                bar.update(iterations - it)
            break
        running.append(value)
        if bar is not None:
            bar.update(1)
    out["seconds"] = time.perf_counter() - start
    return out


class _Now:
    """An executor that runs each job at once (``OVERLAP_FITS`` off)."""

    def submit(self, fn, *args) -> Future:
        done: Future = Future()
        done.set_result(fn(*args))
        return done

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


# Run the linear evaluations in a second thread beside the training: scikit-learn's saga
# is single-threaded and would otherwise leave a core idle for a large part of the study.
OVERLAP_FITS = True


def _run_experiment(experiment: str, plan: Plan, data: _Data, progress: bool) -> dict:
    settings = _settings(experiment)
    iterations = plan.critic_iterations if experiment == "critic" else plan.encoder_iterations
    results: dict[str, dict] = {}
    total = len(settings) * plan.seeds * iterations
    fits = ThreadPoolExecutor(1) if OVERLAP_FITS else _Now()
    try:
        with tqdm(total=total, desc=f"{experiment} experiment", disable=not progress,
                  mininterval=1.0, unit="it") as bar:
            for setting in settings:
                runs = [_train_run(setting, seed, plan, data, bar, fits)
                        for seed in range(plan.seeds)]
                results[setting.key] = {**asdict(setting), "label": setting.label,
                                        "iterations": runs[0]["iterations"], "runs": runs}
        for entry in results.values():
            for r in entry["runs"]:
                r["accuracy"] = [a.result() if isinstance(a, Future) else a
                                 for a in r["accuracy"]]
    finally:
        fits.shutdown(wait=True, cancel_futures=True)  # on an error, drop pending fits
    return results


# ----------------------------------------------------------------------------- summaries


def _final(runs: list[dict], key: str) -> tuple[float, float, int]:
    """Mean, std (over runs, ddof 0) and count of the finite final values of ``key``."""
    values = np.array([r[key][-1] for r in runs], dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan"), 0
    return float(values.mean()), float(values.std()), int(values.size)


def _runs(n: int) -> str:
    return "1 run" if n == 1 else f"{n} runs"


def _pm(mean: float, std: float, n: int, total: int, digits: int = 4) -> str:
    if n == 0:
        return "diverged"
    text = f"{mean:.{digits}f}" if total == 1 else f"{mean:.{digits}f} ± {std:.{digits}f}"
    return text if n == total else f"{text} ({total - n} of {total} diverged)"


def _table(results: dict, meta: dict) -> str:
    plan = meta["plan"]
    lines = [f"# Tschannen et al. (ICLR 2020) on {meta['data']}: "
             f"{'quick run' if meta['quick'] else 'full protocol'}", ""]
    base = meta["pixel_baseline"]
    spread = "" if plan["seeds"] == 1 else f": mean ± std over {_runs(plan['seeds'])}"
    lines += [f"Linear evaluation: logistic regression (saga, tol 0.1, C = 10) on min-max "
              f"scaled top-half codes of {meta['eval_train_images']} training images, "
              f"accuracy on {meta['test_images']} test images, at the last iteration"
              f"{spread}.", "",
              f"**Pixel baseline** (top-half pixels, same protocol, same run): "
              f"**{base:.4f}**", ""]
    noisy = meta.get("pixel_baseline_noisy")  # absent from results written before it
    if noisy:
        draws = ", ".join(f"{a:.4f}" for a in noisy["draws"])
        lines += [f"The same on pixels + N(0, {noisy['std']:g}^2) noise, as the paper's "
                  f"notebook measures its baseline (mean of {len(noisy['draws'])} noise draws: "
                  f"{draws}): **{noisy['mean']:.4f}**", ""]
    if "critic" in results:
        res = results["critic"]
        lines += [f"## Critic experiment (Sec. 3.2): MLP encoders, "
                  f"{plan['critic_iterations']} iterations", "",
                  "| critic | accuracy, InfoNCE | I_NCE (nats) | accuracy, NWJ | I_NWJ (nats) |",
                  "|---|---|---|---|---|"]
        for c in CRITICS:
            row = [_LABELS[c]]
            for e in ESTIMATORS:
                runs = res[f"{c}/{e}"]["runs"]
                row.append(_pm(*_final(runs, "accuracy"), len(runs)))
                row.append(_pm(*_final(runs, "estimate"), len(runs), digits=2))
            lines.append("| " + " | ".join(row) + " |")
        lines += ["", f"I_NCE never exceeds log {plan['batch_size']} = "
                      f"{math.log(plan['batch_size']):.2f} nats; bound values are measured on "
                      f"held-out test batches of {plan['batch_size']}.", ""]
    if "encoder" in results:
        res = results["encoder"]
        lines += [f"## Encoder experiment (Sec. 3.3): bilinear critic, InfoNCE, loss "
                  f"|I_NCE - t|, {plan['encoder_iterations']} iterations", "",
                  "| encoder | t | accuracy | I_NCE (nats) |", "|---|---|---|---|"]
        for key, entry in res.items():
            runs = entry["runs"]
            lines.append(f"| {_LABELS[entry['encoder']]} | {entry['target']:g} | "
                         f"{_pm(*_final(runs, 'accuracy'), len(runs))} | "
                         f"{_pm(*_final(runs, 'estimate'), len(runs), digits=2)} |")
        lines.append("")
    lines += ["## Settings", ""]
    # Only the experiments that ran.
    ran = [e for e in ("critic", "encoder") if e in results]
    reductions = []
    for r in plan["reductions"]:
        if " experiment:" in r and r.split(" experiment:")[0] not in ran:
            continue
        if r.startswith("evaluated every "):
            every = " and ".join(f"{plan[e + '_eval_every']} ({e})" for e in ran)
            r = f"evaluated every {every} iterations instead of every 1000"
        reductions.append(r)
    if reductions:
        lines += ["Reduced against the paper (21,000 iterations, 20 runs, MNIST):", ""]
        lines += [f"- {r}" for r in reductions]
    else:
        lines.append("The paper's settings (21,000 iterations, evaluation every 1,000, 20 runs).")
    if meta["data"] != PAPER_DEFAULT_DATA:
        lines.append(f"- data set {meta['data']} instead of the paper's MNIST")
    lines += ["", f"Wall time: {meta['wall_s'] / 60:.1f} min on {meta['machine']}.", ""]
    return "\n".join(lines)


def _band(ax, x, curves: np.ndarray, label: str, color, style: str = "-") -> None:
    """Mean over runs with a ± std band (NaN runs left out)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns of diverged runs
        mean, std = np.nanmean(curves, axis=0), np.nanstd(curves, axis=0)
    ax.plot(x, mean, style, color=color, label=label, lw=2)
    if curves.shape[0] > 1:
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2, lw=0)


def _curves(entry: dict, key: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.array(entry["iterations"], dtype=float)
    y = np.array([[np.nan if v is None else v for v in r[key]] for r in entry["runs"]],
                 dtype=float)
    return x, y


def _save(fig, path: Path) -> None:
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(path, dpi=120)


def _pixel_lines(ax, meta: dict) -> list[float]:
    """Draw the pixel baselines on an accuracy axis; their values, for the y range."""
    ax.axhline(meta["pixel_baseline"], color="k", ls="--", lw=1.5, label="pixel baseline")
    refs = [meta["pixel_baseline"]]
    noisy = meta.get("pixel_baseline_noisy")
    if noisy:
        ax.axhline(noisy["mean"], color="gray", ls="-.", lw=1.5,
                   label=f"pixels + N(0, {noisy['std']:g}²) (notebook)")
        refs.append(noisy["mean"])
    return refs


def _plots(results: dict, meta: dict, out: Path) -> list[str]:
    from matplotlib.figure import Figure

    written = []
    colors = {"bilinear": "tab:blue", "separable": "tab:green", "concat": "tab:red",
              ("convnet", 2.0): "tab:purple", ("convnet", 4.0): "tab:blue",
              ("mlp", 2.0): "tab:orange", ("mlp", 4.0): "tab:red"}
    n_runs = meta["plan"]["seeds"]
    spread = "1 run" if n_runs == 1 else f"mean ± std of {n_runs} runs"
    if "critic" in results:
        res = results["critic"]
        for key, ylabel, name in (("accuracy", "test accuracy (linear evaluation)",
                                   "critic_accuracy.png"),
                                  ("estimate", "bound value on held-out batches (nats)",
                                   "critic_estimate.png")):
            # Accuracy: both panels have the same lines, so one legend under them, where it
            # hides no curve.
            fig = Figure(figsize=(11, 4.6 if key == "accuracy" else 4.2),
                         layout="constrained" if key == "accuracy" else None)
            axes = fig.subplots(1, 2, sharey=(key == "accuracy"))
            for ax, est in zip(axes, ESTIMATORS):
                for c in CRITICS:
                    x, y = _curves(res[f"{c}/{est}"], key)
                    _band(ax, x, y, f"{_LABELS[c]} critic", colors[c])
                if key == "accuracy":
                    refs = _pixel_lines(ax, meta)
                elif est == "infonce":
                    ax.axhline(math.log(meta["plan"]["batch_size"]), color="gray", ls=":",
                               lw=1.5, label=f"log {meta['plan']['batch_size']}")
                ax.set_title(f"{_LABELS[est]} ({meta['data']}, {spread})")
                ax.set_xlabel("training iteration")
                ax.set_ylabel(ylabel)
                ax.grid(alpha=0.3)
                if key == "estimate":  # the bounds start low: the lower right is free
                    ax.legend(loc="lower right")
            if key == "accuracy":  # one shared axis
                fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center",
                           ncol=5, frameon=False)
                _zoom(axes[0], [_curves(res[k], key)[1] for k in res], refs, first=True)
            else:
                for ax, est in zip(axes, ESTIMATORS):
                    refs = [math.log(meta["plan"]["batch_size"])] if est == "infonce" else []
                    _zoom(ax, [_curves(res[f"{c}/{est}"], key)[1] for c in CRITICS], refs)
            _save(fig, out / name)
            written.append(name)
    if "encoder" in results:
        res = results["encoder"]
        fig = Figure(figsize=(11, 4.2))
        ax_acc, ax_est = fig.subplots(1, 2)
        for entry in res.values():
            color = colors[(entry["encoder"], float(entry["target"]))]
            style = "-" if entry["encoder"] == "convnet" else "--"
            x, y = _curves(entry, "accuracy")
            _band(ax_acc, x, y, entry["label"], color, style)
            x, y = _curves(entry, "estimate")
            _band(ax_est, x, y, entry["label"], color, style)
        refs = _pixel_lines(ax_acc, meta)
        _zoom(ax_acc, [_curves(e, "accuracy")[1] for e in res.values()], refs, first=True)
        _zoom(ax_est, [_curves(e, "estimate")[1] for e in res.values()], list(TARGETS))
        for t in TARGETS:
            ax_est.axhline(t, color="gray", ls=":", lw=1)
        ax_acc.set_ylabel("test accuracy (linear evaluation)")
        ax_est.set_ylabel("I_NCE on held-out batches (nats)")
        for ax, title in ((ax_acc, "downstream accuracy"), (ax_est, "bound value (targets dotted)")):
            ax.set_title(f"Encoders, bilinear critic: {title}")
            ax.set_xlabel("training iteration")
            ax.grid(alpha=0.3)
            # Both kinds of curve start low and rise: the upper left is free.
            ax.legend(loc="upper left", fontsize=9)
        _save(fig, out / "encoder.png")
        written.append("encoder.png")
    return written


def _zoom(ax, curves: list[np.ndarray], refs: list[float], first: bool = False) -> None:
    """Limit the y axis to the range of the curves and the reference lines, leaving out the
    untrained encoders' first points unless ``first``: a bound value there (NWJ: minus
    thousands) would squash the differences that matter. Accuracies keep them: where
    training starts from is part of the picture."""
    values = [c[:, 0 if first else 1:].ravel() for c in curves if c.shape[1] > 1]
    values += [np.asarray(refs, float)]
    values = np.concatenate(values)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return
    lo, hi = values.min(), values.max()
    pad = max(0.01, 0.08 * (hi - lo))
    ax.set_ylim(lo - pad, hi + pad)


# ----------------------------------------------------------------------------- entry point


def _machine() -> str:
    cpu = cpu_model()
    return f"{os.cpu_count()} CPU cores ({cpu}), torch {torch.__version__}, 1 torch thread " \
           f"+ 1 thread for the linear evaluations"


def _jsonable(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None  # NaN is not JSON
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def _study_data(data: str) -> str:
    """The canonical name of the data set ``data``, which must be one of ``STUDY_DATA``."""
    try:
        name = canonical_data_name(data)
    except ConfigError:
        name = None
    if name not in STUDY_DATA:  # refused before any image is read
        raise ConfigError(f"--data: {data!r} is not valid for this study; choose "
                          f"{' or '.join(STUDY_DATA)}")
    return name


@dataclass(frozen=True)
class TschannenOptions:
    """What ``infomax study tschannen`` runs (the defaults are the command's). ``seeds``
    and ``iterations`` None: the plan's (``make_plan``); ``replot``: train nothing, write
    the table and the plots again from ``output``/results.json. Checked when made, with the
    command's messages (with ``replot``, which reads only ``output``, nothing is checked)."""

    data: str = PAPER_DEFAULT_DATA
    data_dir: str | Path | None = None
    experiments: tuple[str, ...] = ("critic", "encoder")
    seeds: int | None = None
    iterations: int | None = None
    quick: bool = False
    output: str | Path = "docs/studies/tschannen"
    replot: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "experiments", tuple(self.experiments))
        if not self.replot:
            self.plan()
            _study_data(self.data)

    def plan(self) -> Plan:
        return make_plan(self.quick, self.iterations, self.seeds)


def run(options: TschannenOptions) -> int:
    """``infomax study tschannen``: train every setting, write results.json, table.md and the
    plots into ``options.output``; 0 on success (errors are raised as InfomaxError)."""
    from infomax.data.source import data_root

    if options.replot:
        return replot(Path(options.output))
    started = time.perf_counter()
    plan = options.plan()
    name = _study_data(options.data)
    experiments = [e for e in ("critic", "encoder") if e in options.experiments]
    root = data_root(options.data_dir)
    # Download only the paper's own data set; other sets are looked up where they are.
    download = name == PAPER_DEFAULT_DATA
    train = _load_split(name, "train", root, download)
    test = _load_split(name, "test", root, download)
    data = _prepare(train, test, plan)
    out = Path(options.output)
    out.mkdir(parents=True, exist_ok=True)
    progress = options.progress

    t0 = time.perf_counter()
    pixel = linear_accuracy(data.eval_top.numpy(), data.eval_labels, test.top.numpy(),
                            test.labels)
    pixel_s = time.perf_counter() - t0
    print(f"pixel baseline (top halves): {pixel:.4f} ({pixel_s:.0f} s)", flush=True)
    t0 = time.perf_counter()
    noisy = noisy_pixel_baseline(data.eval_top.numpy(), data.eval_labels, test.top.numpy(),
                                 test.labels)
    noisy["seconds"] = time.perf_counter() - t0
    print(f"pixel baseline on noisy pixels, as the paper's notebook (std {noisy['std']:g}, "
          f"{len(noisy['draws'])} draws): {noisy['mean']:.4f} ({noisy['seconds']:.0f} s)",
          flush=True)
    # One intra-op thread: a batch-128 MLP step is too small to gain from more, OpenMP
    # threads slow down many-fold when anything else runs on the machine, and the second
    # core is left to the linear evaluations (OVERLAP_FITS).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        results = {e: _run_experiment(e, plan, data, progress) for e in experiments}
    finally:
        torch.set_num_threads(threads)

    meta = {
        "paper": "Tschannen, Djolonga, Rubenstein, Gelly, Lucic: On mutual information "
                 "maximization for representation learning, ICLR 2020 (Sec. 3.2, 3.3)",
        "data": name, "quick": bool(options.quick), "plan": asdict(plan),
        "experiments": experiments,
        "train_images": int(train.top.shape[0]), "test_images": int(test.top.shape[0]),
        "eval_train_images": int(data.eval_top.shape[0]),
        "estimate_pairs": int(data.est_top.shape[0]),
        "pixel_baseline": pixel, "pixel_baseline_seconds": pixel_s,
        "pixel_baseline_noisy": noisy,
        "machine": _machine(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    meta["plots"] = _plots(results, meta, out)
    meta["wall_s"] = time.perf_counter() - started
    (out / "table.md").write_text(_table(results, meta))
    payload = {**meta, "results": results}
    (out / "results.json").write_text(json.dumps(_jsonable(payload), indent=1) + "\n")
    print(f"wrote {out / 'results.json'}, {out / 'table.md'} and "
          f"{', '.join(meta['plots'])} ({meta['wall_s'] / 60:.1f} min)", flush=True)
    return 0


def replot(out: Path) -> int:
    """Write table.md and the plots again from ``out``/results.json (nothing is trained;
    the results, their date and their timings stay as they were)."""
    path = out / "results.json"
    try:
        payload = json.loads(path.read_text())
        results = payload.pop("results")
        payload["plan"]["seeds"]
    except FileNotFoundError:
        raise InfomaxError(f"--replot: no {path}; run the study into {out} first") from None
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise InfomaxError(f"--replot: {path} is not a results.json written by this study "
                           f"({type(e).__name__}: {e})") from None
    # The reductions are re-derived from the plan, so that the text is this version's.
    stored = payload["plan"]
    same = stored.get("critic_iterations") == stored.get("encoder_iterations")
    try:
        again = asdict(make_plan(bool(payload.get("quick")),
                                 stored.get("critic_iterations") if same else None,
                                 stored.get("seeds")))
    except (ConfigError, TypeError):
        again = None
    if again is not None and all(again[k] == v for k, v in stored.items()
                                 if k != "reductions" and k in again):
        payload["plan"] = again
    (out / "table.md").write_text(_table(results, payload))
    plots = _plots(results, payload, out)
    print(f"wrote {out / 'table.md'} and {', '.join(plots)} from {path}", flush=True)
    return 0
