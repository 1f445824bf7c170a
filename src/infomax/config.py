"""Typed run configuration, YAML presets and ``key=value`` overrides.

Unknown keys and bad values are refused with a ``ConfigError`` whose one-line message
names the key, the value and what is valid.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Literal

import yaml

from infomax.errors import ConfigError


def setting(default: Any, *, min: float | None = None,
            choices: tuple | Callable[[], tuple] | None = None,
            help: str | Callable[[], str] = "") -> Any:
    """A config field with validation metadata: a lower bound ``min``, valid ``choices``
    and a ``help`` text. ``choices`` and ``help`` may be functions, read when a config is
    checked or described (e.g. the names of a registry, filled when its module loads)."""
    meta = {"min": min, "choices": choices, "help": help}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


_f = setting


def _choices(meta: dict) -> tuple | None:
    choices = meta.get("choices")
    return choices() if callable(choices) else choices


def _help(meta: dict) -> str:
    text = meta.get("help", "")
    return text() if callable(text) else text


def _data_names() -> str:
    from infomax.data.registry import valid_data_names

    return valid_data_names()


def _encoder_help() -> str:
    from infomax.nn.encoders import encoder_names

    return (f"backbone: {', '.join(encoder_names())}: the AMDIM encoder (sized by ndf, "
            f"n_rkhs, n_depth, use_bn), a torchvision ResNet adapted to small images, or any "
            f"model of timm (random init)")


def _methods() -> Any:
    """The method registry, with every built-in method registered."""
    from infomax.methods import METHODS

    return METHODS


def _sections() -> dict[str, type]:
    """Every config section a registered method owns, by name, in registration order."""
    return {name: section for _, cls in _methods().items()
            for name, section in cls.config_sections.items()}


# data.augment: what is added to the views. "strong", the key's first value, is read as
# "randaugment" (what it always meant), so that saved configs and --augment strong keep
# working.
AUGMENTS = ("plain", "randaugment", "fast-autoaugment")
AUGMENT_ALIASES = {"strong": "randaugment"}
AUGMENT_CHOICES = (*AUGMENTS, *AUGMENT_ALIASES)
AUGMENT_POLICIES = ("auto", "cifar10", "imagenet")


def augment_kind(augment: str | bool) -> str:
    """``data.augment`` as one of ``AUGMENTS``: an alias (``strong``) as what it names; a
    bool (the former ``strong`` argument of the views) as randaugment (True) or plain."""
    if isinstance(augment, bool):
        return "randaugment" if augment else "plain"
    kind = AUGMENT_ALIASES.get(augment, augment)
    if kind not in AUGMENTS:
        raise ConfigError(f"data.augment: {augment!r} is not valid; choose one of "
                          f"{', '.join(AUGMENT_CHOICES)}")
    return kind


@dataclass
class DataConfig:
    name: str = _f("fashion-mnist", help=lambda: f"data set: {_data_names()}")
    eval: str | None = _f(None, help="a labeled source (a data set, or a labeled image "
                          "folder) that the online probes learn on and are scored on, and "
                          "that probe, report and best.ckpt use; default: data.name itself, "
                          "when it has labels (an unlabeled source then trains without "
                          "probes)")
    image_size: int | None = _f(None, min=32, help="model input size in px; default: the "
                                "source's (32 for the 28 and 32 px sets, 64 for stl10, 128 for "
                                "image folders, 224 for imagenet). The AMDIM encoder takes "
                                "32, 64 or 128, the ResNets any size >= 32")
    channels: int | None = _f(None, min=1, help="image channels the model sees, 1 or 3; "
                              "default: the source's (3 for image folders; 1 turns colour "
                              "images to grayscale)")
    mean: list[float] | None = _f(None, help="per-channel mean the views normalize with, "
                                  "in [0, 1] pixel units; default: the source's (ImageNet's "
                                  "for image folders)")
    std: list[float] | None = _f(None, min=0.0, help="per-channel std, as data.mean")
    dir: str | None = _f(None, help="data root (else $INFOMAX_DATA, else ~/.cache/infomax/data)")
    download: bool = _f(True, help="download with torchvision when missing")
    batch_size: int = _f(200, min=2, help="images per step (per process)")
    num_workers: int = _f(2, min=0, help="DataLoader worker processes")
    augment: str = _f("plain", choices=AUGMENT_CHOICES, help="the augmentation added to "
                      "the views: plain (none); randaugment (torchvision's RandAugment, 2 "
                      "operations at magnitude 9); fast-autoaugment (the Fast AutoAugment "
                      "policy data.augment_policy, Lim et al. 2019); strong is the former "
                      "name of randaugment and is read as it")
    augment_policy: str = _f("auto", choices=AUGMENT_POLICIES, help="the policy of "
                             "data.augment=fast-autoaugment: cifar10 (the authors' policy "
                             "searched on reduced CIFAR-10), imagenet (on reduced ImageNet); "
                             "auto: imagenet for images of 64 px or more, else cifar10")
    augment_device: bool = _f(False, help="run the photometric part of the views (jitter, "
                                          "grayscale, normalization, RandAugment) batched on the "
                                          "accelerator with kornia, per-sample random parameters; "
                                          "workers only crop and flip (and apply Fast "
                                          "AutoAugment, which stays in the workers)")
    pretrain_subset: int | None = _f(None, min=2, help="use only this many pretraining "
                                                       "images (a fixed random subset)")
    val_subset: int | None = _f(None, min=1, help="evaluate the online probes on this many "
                                                  "test images (a fixed random subset)")
    strict: bool = _f(False, help="stop at the first image file that cannot be read (else it "
                                  "is reported, counted in summary.json and replaced by the "
                                  "next readable image of its folder)")


CROPS = ("auto", "translate", "resized")
FITS = ("resize", "pad")

# The keys of a view that the per-view sections (views.first, views.second) may override.
PER_VIEW_KEYS = ("crop_scale", "crop_ratio", "translate_px", "translate_p", "flip_p", "jitter",
                 "jitter_strength", "jitter_p", "grayscale_p", "blur_p", "blur_sigma",
                 "solarize_p")


@dataclass
class ViewOverrides:
    """One view's own settings (``views.first`` or ``views.second``), for asymmetric
    recipes: each key left null takes the shared value of the ``views`` section."""

    EXAMPLE: typing.ClassVar[str] = "blur_p=1.0"  # for the error of a plain value given

    crop_scale: list[float] | None = _f(None, help="this view's views.crop_scale")
    crop_ratio: list[float] | None = _f(None, help="this view's views.crop_ratio")
    translate_px: int | None = _f(None, min=0, help="this view's views.translate_px")
    translate_p: float | None = _f(None, min=0.0, help="this view's views.translate_p")
    flip_p: float | None = _f(None, min=0.0, help="this view's views.flip_p (needs "
                                                  "views.flip_shared=false)")
    jitter: list[float] | None = _f(None, min=0.0, help="this view's views.jitter")
    jitter_strength: float | None = _f(None, min=0.0, help="this view's views.jitter_strength")
    jitter_p: float | None = _f(None, min=0.0, help="this view's views.jitter_p")
    grayscale_p: float | None = _f(None, min=0.0, help="this view's views.grayscale_p")
    blur_p: float | None = _f(None, min=0.0, help="this view's views.blur_p")
    blur_sigma: list[float] | None = _f(None, help="this view's views.blur_sigma")
    solarize_p: float | None = _f(None, min=0.0, help="this view's views.solarize_p")

    def given(self) -> dict[str, Any]:
        """The keys this view sets (not null)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass
class ViewsConfig:
    """The augmented views of pretraining. The defaults are AMDIM's (spec section 1)."""

    fit: str = _f("resize", choices=FITS, help="how an image of another size is brought to "
                  "the size the translation and the 32 px test view start from: resize "
                  "(shorter side, bicubic, then the center crop) or pad (zero padding around "
                  "it, centered, as the 28 px sets are padded to 32; a larger image is "
                  "center-cropped)")
    crop: str = _f("auto", choices=CROPS, help="auto: a random translation at 32 px (AMDIM), "
                   "a random resized crop at any other size; translate; resized")
    crop_scale: list[float] = _f([0.3, 1.0], help="area range of the random resized crop, "
                                 "a fraction of the image in (0, 1]")
    crop_ratio: list[float] = _f([0.7, 1.4], help="aspect-ratio range of the random "
                                 "resized crop")
    translate_px: int = _f(4, min=0, help="the translation moves the image by up to this "
                                          "many pixels in x and y (reflect padding)")
    translate_p: float = _f(0.8, min=0.0, help="probability of the translation")
    flip_p: float = _f(0.5, min=0.0, help="probability of a horizontal flip")
    flip_shared: bool = _f(True, help="one flip decision per image, applied to both views "
                                      "(AMDIM); false: each view draws its own")
    jitter: list[float] = _f([0.4, 0.4, 0.4, 0.2], min=0.0,
                             help="color jitter: brightness, contrast, saturation, hue")
    jitter_strength: float = _f(1.0, min=0.0, help="multiplies the four jitter values "
                                                   "(SimCLR's strength s)")
    jitter_p: float = _f(0.8, min=0.0, help="probability of the color jitter")
    grayscale_p: float = _f(0.25, min=0.0, help="probability of turning a view gray "
                                                "(3-channel data only)")
    blur_p: float = _f(0.0, min=0.0, help="probability of a Gaussian blur (kernel: the odd "
                                          "size nearest 10% of the image side; 0: none)")
    blur_sigma: list[float] = _f([0.1, 2.0], help="range of the blur's standard deviation, "
                                                  "in pixels")
    solarize_p: float = _f(0.0, min=0.0, help="probability of solarizing (pixels >= 128 of "
                                              "255 inverted; 0: none)")
    first: ViewOverrides = field(default_factory=ViewOverrides)
    second: ViewOverrides = field(default_factory=ViewOverrides)

    def for_view(self, index: int) -> ViewsConfig:
        """The settings of view ``index`` (0: first, 1: second): the shared ones with that
        view's overrides applied (its own overrides then empty)."""
        own = (self.first, self.second)[index]
        return dataclasses.replace(self, **own.given(), first=ViewOverrides(),
                                   second=ViewOverrides())

    def changed(self) -> dict[str, Any]:
        """The keys (``crop``, ``second.blur_p``, ...) whose value is not the default."""
        here = flatten_keys(dataclasses.asdict(self))
        default = flatten_keys(dataclasses.asdict(ViewsConfig()))
        return {k: v for k, v in here.items() if v != default[k]}


def flatten_keys(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten_keys(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@dataclass
class ModelConfig:
    encoder: str = _f("amdim", help=_encoder_help)
    ndf: int = _f(128, min=1, help="encoder base width")
    n_rkhs: int = _f(1024, min=1, help="embedding dimension")
    n_depth: int = _f(3, min=1, help="residual units per block")
    use_bn: bool = _f(False, help="optional BatchNorms in the encoder")
    init_from: str | None = _f(None, help="a local file the encoder starts from in a new run "
                               "(not on resume): an infomax checkpoint (.ckpt: its encoder, "
                               "whatever the method), or a timm or torchvision state_dict "
                               "(.pth, .pt, .bin, .safetensors); tensors whose shapes differ "
                               "are skipped")


OPTIMIZERS = ("adam", "adamw", "sgd", "lars")
SCHEDULES = ("multistep", "cosine")
LR_SCALINGS = ("linear", "sqrt")


@dataclass
class OptimConfig:
    """The optimizer and the learning-rate schedule. The defaults are AMDIM's (Adam, warmup,
    step decay); each method's published recipe (``Recipe``) sets its own."""

    name: str = _f("adam", choices=OPTIMIZERS, help="adam, adamw, sgd (momentum, nesterov) "
                   "or lars (timm's LARS: SGD with momentum and a per-layer trust ratio)")
    lr: float = _f(2e-4, min=0.0, help="peak learning rate; with optim.lr_batch, the rate "
                   "for that many images per update, scaled to the run's global batch")
    lr_batch: int | None = _f(None, min=1, help="the batch size optim.lr is given for: the "
                              "rate used is lr x (global batch / lr_batch), or its square "
                              "root with optim.lr_scaling=sqrt; global batch = "
                              "data.batch_size x processes x optim.accumulate; null: lr as "
                              "given (LARS recipes always give one)")
    lr_scaling: str = _f("linear", choices=LR_SCALINGS, help="how the rate follows the batch "
                         "size when optim.lr_batch is set (linear: Goyal et al. 2017)")
    betas: list[float] = _f([0.8, 0.999], help="adam, adamw")
    eps: float = _f(1e-8, min=0.0, help="adam, adamw")
    momentum: float = _f(0.9, min=0.0, help="sgd, lars")
    nesterov: bool = _f(False, help="sgd, lars: Nesterov momentum")
    weight_decay: float = _f(1e-5, min=0.0)
    exclude_bias_norm: bool = _f(False, help="biases and normalization weights (every "
                                 "parameter with one dimension) get no weight decay and, "
                                 "under LARS, no trust-ratio adaptation (SimCLR, BYOL); the "
                                 "online probes then get none either")
    lars_trust: float = _f(1e-3, min=0.0, help="lars: the trust coefficient eta")
    schedule: str = _f("multistep", choices=SCHEDULES, help="after the warmup: multistep "
                       "(times optim.gamma at each of optim.milestones) or cosine (a half "
                       "cosine to optim.final_lr_ratio at the end of training)")
    warmup_steps: int = _f(500, min=0, help="linear warmup over this many updates")
    warmup_epochs: float | None = _f(None, min=0.0, help="linear warmup over this many "
                                     "epochs instead (then optim.warmup_steps must be 0)")
    warmup_from: float = _f(0.0, min=0.0, help="the warmup starts from this fraction of the "
                            "peak rate (SwAV: 0.3 / 4.8); 0: from lr / warmup updates")
    milestones: list[int] = _f([250, 280], help="epochs at which lr is multiplied by gamma "
                               "(multistep)")
    gamma: float = _f(0.2, min=0.0)
    final_lr_ratio: float = _f(0.0, min=0.0, help="cosine: the rate at the end of training, "
                               "as a fraction of the peak")
    schedule_epochs: int | None = _f(None, min=1, help="the training length (epochs) that "
                                     "optim.warmup_epochs and optim.milestones are given "
                                     "for: a run of another train.epochs scales them in "
                                     "proportion (recipes give their paper's length); null: "
                                     "as given")
    cooldown: float = _f(0.0, min=0.0, help="fraction of all updates, at the end "
                         "of training, over which the rate falls linearly to 0 (0: none)")
    clip_grad_norm: float | None = _f(None, min=0.0, help="clip the gradients' global L2 "
                                      "norm to this before each update (null: no clipping)")
    accumulate: int = _f(1, min=1, help="sum the gradients of this many batches into one "
                         "update. It does not enlarge what a batch contrasts with: in-batch "
                         "negatives, BatchNorm statistics and SwAV's codes stay those of "
                         "each data.batch_size batch; queues and memory banks receive every "
                         "batch; momentum networks move once per update")
    probe_lr: float | None = _f(None, min=0.0, help="learning rate of the online probes "
                                "(same warmup and decay); default: optim.lr")
    probe_cooldown: bool = _f(True, help="the online probes' rate falls with the encoder's "
                              "during the cooldown; false: they keep it to the end, following "
                              "the settling encoder (score them by probe.online_ema)")


@dataclass(frozen=True)
class Recipe:
    """A method's published training recipe: the ``optim`` and ``views`` settings its paper
    states (plain data, as in a preset), and where they come from. ``make_config`` puts it
    under the preset, the config file and the overrides (see there)."""

    source: str
    optim: dict[str, Any] = field(default_factory=dict)
    views: dict[str, Any] = field(default_factory=dict)
    note: str = ""


# The sections a recipe sets: used unless the preset (of the same method) or the config
# file gives that section itself.
RECIPE_SECTIONS = ("optim", "views")


# train.logger: Lightning's loggers a run may write its training logs with.
LOGGERS = ("tensorboard", "csv", "wandb")
WANDB_MODES = ("online", "offline", "disabled")


@dataclass
class TrainConfig:
    epochs: int = _f(300, min=1)
    max_minutes: float | None = _f(None, min=0.0, help="stop after this much training time")
    seed: int = _f(0)
    precision: str = _f("32", choices=("32", "bf16-mixed", "16-mixed"))
    accelerator: str = _f("auto", choices=("auto", "cpu", "gpu", "cuda", "mps"))
    devices: int = _f(1, min=1, help="processes per node (GPUs, or CPU processes)")
    num_nodes: int = _f(1, min=1, help="machines (multi-node DDP under torchrun or SLURM)")
    strategy: str = _f("auto", choices=("auto", "ddp", "ddp_spawn", "ddp_notebook"),
                       help="Lightning strategy; auto is DDP when devices * num_nodes > 1")
    sync_batchnorm: bool = _f(True, help="BatchNorm statistics over the global batch when "
                                         "there are several processes (false: per process)")
    compile: bool = _f(False, help="torch.compile the encoder")
    channels_last: bool = _f(True, help="NHWC memory layout (faster convolutions)")
    out_dir: str = _f("runs", help="runs are written to out_dir/run_name")
    run_name: str | None = _f(None, help="default: the preset name (PRESET-METHOD for "
                                         "methods other than amdim)")
    log_every_n_steps: int = _f(20, min=1)
    limit_train_batches: int | None = _f(None, min=1, help="steps per epoch cap")
    skip_nonfinite: int = _f(0, min=0, help="steps with a non-finite loss or gradient that "
                                            "are skipped (not applied) before the run stops")
    checkpoint_every_n_steps: int | None = _f(None, min=1, help="also write last.ckpt every "
                                              "this many optimizer steps (besides every epoch "
                                              "end), so that --resume after a crash continues "
                                              "from inside the epoch")
    logger: list[str] = _f(["tensorboard", "csv"], choices=LOGGERS, help="where the "
                           "training logs go, one or several: tensorboard (<run>/tensorboard), "
                           "csv (<run>/csv/metrics.csv), wandb (Weights & Biases, under "
                           "<run>/wandb; needs pip install wandb); the report draws its curves "
                           "from csv, else tensorboard; names without brackets are read as "
                           "the list of them (train.logger=wandb, train.logger=csv,wandb)")
    wandb_project: str = _f("infomax", help="wandb: the W&B project the run is logged to")
    wandb_entity: str | None = _f(None, help="wandb: the W&B user or team (default: the "
                                  "account's default entity)")
    wandb_mode: str | None = _f(None, choices=WANDB_MODES, help="wandb: online, offline "
                                "(kept under <run>/wandb, uploaded later with wandb sync) or "
                                "disabled; null: W&B's own rule (WANDB_MODE, else online)")


ONLINE_VIEWS = ("augmented", "test")


@dataclass
class ProbeConfig:
    online_view: str = _f("augmented", choices=ONLINE_VIEWS, help="what the online probes "
                          "learn on: the augmented pretraining views (the public code), or "
                          "the test-time view of the same images, encoded without gradients "
                          "(one more forward pass per step)")
    online_replay: int = _f(0, min=0, help="each online probe update also learns from this "
                            "many batches of features drawn from the last online_window steps")
    online_window: int = _f(16, min=1, help="steps of features kept for online_replay")
    online_ema: float = _f(0.0, min=0.0, help="score the online probes by a moving average "
                           "of their weights with this decay per update (0: the weights "
                           "themselves)")
    epochs: int = _f(120, min=1, help="offline classifier epochs on frozen features")
    milestones: list[int] = _f([80, 110])
    gamma: float = _f(0.2, min=0.0)
    lr: float = _f(1e-3, min=0.0)
    weight_decay: float = _f(1e-5, min=0.0)
    batch_size: int = _f(256, min=1)
    # The fine-tuning protocol (infomax probe --protocol finetune): SimCLR's (Chen et al.
    # 2020, App. B.5) at the scale of Fashion-MNIST and CIFAR.
    finetune_epochs: int = _f(15, min=1, help="fine-tuning epochs on every label; on a "
                              "fraction f of them (--label-fraction) this x 2^log10(1/f): "
                              "SimCLR's 30 epochs at 10% and 60 at 1%")
    finetune_lr: float = _f(0.05, min=0.0, help="fine-tuning rate per 256 images: the rate "
                            "is finetune_lr x finetune_batch_size / 256, cosine to 0 over "
                            "the updates, no warmup (SimCLR: 0.05 x B/256)")
    finetune_batch_size: int = _f(256, min=2, help="images per fine-tuning update (at least "
                                  "2: BatchNorm learns from the batch)")
    finetune_momentum: float = _f(0.9, min=0.0, help="Nesterov momentum of the fine-tuning "
                                  "SGD (< 1; 0: plain SGD)")
    finetune_weight_decay: float = _f(0.0, min=0.0, help="weight decay of fine-tuning "
                                      "(SimCLR: none, no regularization at all)")


def _default_sections() -> dict[str, Any]:
    return {name: section() for name, section in _sections().items()}


@dataclass
class Config:
    """A whole run's settings. The sections of the methods (``loss`` and ``mixture`` of
    AMDIM, ``moco``, ``simclr``, ...) are the registered methods' own dataclasses
    (``@register_method(..., sections=...)``), kept in ``sections`` and read as
    attributes: ``cfg.moco.queue_size``. Every method's section is checked; only the
    selected method's are written (``to_dict``)."""

    method: str = _f("amdim", choices=lambda: _methods().names(),
                     help="what to train; each method's own settings are its sections (e.g. moco.*)")
    preset: str | None = _f(None, help="name of the preset this config started from")
    recipe: str | None = _f(None, help="the method whose published recipe (optim.* and "
                            "views.*) this config started from; null: none (the defaults "
                            "are AMDIM's)")
    data: DataConfig = field(default_factory=DataConfig)
    views: ViewsConfig = field(default_factory=ViewsConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    sections: dict[str, Any] = field(default_factory=_default_sections, repr=False)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not fields: a method's section.
        sections = self.__dict__.get("sections")
        if sections is not None and name in sections:
            return sections[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """Every section, except the settings of methods other than ``method``."""
        own = _methods()[self.method].config_sections
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "sections":
                out.update({name: dataclasses.asdict(value[name]) for name in own})
            else:
                out[f.name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) \
                    else value
        return out

    @property
    def method_config(self) -> Any:
        """The section named after the selected method (``moco`` for moco), or None (amdim,
        whose settings are the model and its loss and mixture sections)."""
        return self.sections.get(self.method)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_yaml())

    @property
    def run_dir(self) -> Path:
        default = self.preset or "run"
        # Another method than the preset's own (AMDIM unless it names one) keeps its runs
        # apart from the preset's.
        if self.method != _preset_method(self.preset):
            default = f"{default}-{self.method}"
        return Path(self.train.out_dir) / (self.train.run_name or default)


# --------------------------------------------------------------------------------------
# Building a config from plain data, with validation


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


# What reading YAML text may raise: besides YAMLError, PyYAML's constructors let plain
# Python errors of many kinds out for bad tagged scalars ('!!int abc' ValueError, '!!bool
# maybe' KeyError, '!!int' IndexError, '!!timestamp' AttributeError), and deep nesting
# ('[[[[...') exhausts the stack. Whatever the parser raises, the text is not usable YAML.
_YAML_ERRORS = (Exception,)


def _first_line(text: str) -> str:
    return (str(text).strip().splitlines() or [""])[0]


# A decimal number as YAML 1.2 and Python write it. PyYAML follows YAML 1.1, which reads
# "1e-3" and "1.0e3" (no dot, or no exponent sign) as strings.
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


class _DuplicateKeyError(yaml.YAMLError):
    """A mapping of a YAML text holds a key twice."""

    def __init__(self, key: str, first: int, second: int) -> None:
        super().__init__(f"the key {key} appears twice, at lines {first} and {second}; "
                         f"keep one")


_MERGE_TAG = "tag:yaml.org,2002:merge"


class _StrictLoader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, except that a mapping may not hold a key twice (PyYAML
    keeps the last one without a word). The keys are compared as constructed (``1`` and
    ``0x1`` are the same key); ``<<`` merges may repeat the keys they merge."""

    def construct_document(self, node: yaml.Node) -> Any:
        self._refuse_duplicate_keys(node)
        return super().construct_document(node)

    def _refuse_duplicate_keys(self, root: yaml.Node) -> None:
        # Iterative: a text nested as deep as the composer allows must not exhaust the stack
        # here. Aliases may make the node graph cyclic; each node is looked at once.
        seen: set[int] = set()
        todo: list[tuple[yaml.Node, str]] = [(root, "")]
        while todo:
            node, path = todo.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, yaml.SequenceNode):
                todo.extend((item, f"{path}[{i}]") for i, item in enumerate(node.value))
            elif isinstance(node, yaml.MappingNode):
                lines: dict[Any, int] = {}
                for key_node, value_node in node.value:
                    if key_node.tag == _MERGE_TAG:
                        todo.append((value_node, path))
                        continue
                    name = path
                    if isinstance(key_node, yaml.ScalarNode):  # others are refused later
                        key = self.construct_object(key_node)
                        name = f"{path}.{key}" if path else str(key)
                        line = key_node.start_mark.line + 1
                        if key in lines:
                            raise _DuplicateKeyError(name, lines[key], line)
                        lines[key] = line
                    todo.append((value_node, name))


def _load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, refusing mappings that hold a key twice."""
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader


def _accepts(meta: dict) -> str:
    """What a key's values must satisfy besides their type, for its type errors: ' >= 1'."""
    return "" if meta.get("min") is None else f" >= {meta['min']}"


def _coerce(key: str, value: Any, tp: Any, meta: dict) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(key, value, inner[0], meta)
    if origin is list:
        if isinstance(value, str) and args[0] is str:
            # A list of names given as one name (train.logger=wandb) or, where the names
            # are choices (none holds a comma), as names and commas (train.logger=csv,wandb).
            value = [v.strip() for v in value.split(",")] if _choices(meta) else [value]
        if not isinstance(value, (list, tuple)):
            names = _choices(meta) if args[0] is str else None
            example = f"[{', '.join(names[:2])}]" if names else "[1, 2]"
            raise ConfigError(f"{key}: expected a list like {example}, got {value!r}")
        return [_coerce(f"{key}[{i}]", v, args[0], meta) for i, v in enumerate(value)]
    if origin is Literal:
        tp = type(args[0])
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer{_accepts(meta)}, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number{_accepts(meta)}, got {value!r}")
        try:
            number = float(value)
        except OverflowError:  # an integer beyond the float range
            number = math.inf
        if not math.isfinite(number):
            raise ConfigError(f"{key}: expected a finite number{_accepts(meta)}, got "
                              f"{value!r}")
        return number
    if tp is str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # e.g. precision: 32
        elif isinstance(value, datetime.date):
            value = value.isoformat()  # YAML reads e.g. a run name 2024-05-01 as a date
        if not isinstance(value, str):
            choices = _choices(meta)
            wanted = f"one of {', '.join(choices)}" if choices else "a string"
            raise ConfigError(f"{key}: expected {wanted}, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported type {_type_name(tp)}")  # pragma: no cover


def _check(key: str, value: Any, meta: dict) -> None:
    if value is None:
        return
    values = value if isinstance(value, list) else [value]
    lo, choices = meta.get("min"), _choices(meta)
    for v in values:
        if lo is not None and v < lo:
            raise ConfigError(f"{key}: {v!r} is too small; it must be >= {lo}")
        if choices is not None and v not in choices:
            raise ConfigError(f"{key}: {v!r} is not valid; choose one of {', '.join(choices)}")


def _section_types(cls: type) -> dict[str, type]:
    """The keys of ``cls`` that are sections (a mapping of keys), with their dataclass: its
    dataclass fields and, for the whole config, every method's sections."""
    hints = typing.get_type_hints(cls)
    out: dict[str, type] = {}
    for f in dataclasses.fields(cls):
        if cls is Config and f.name == "sections":
            out.update(_sections())
        elif dataclasses.is_dataclass(hints[f.name]):
            out[f.name] = hints[f.name]
    return out


def _not_a_mapping(cls: type, prefix: str, value: Any) -> ConfigError:
    """The error for ``value`` given where section ``cls`` (keys ``prefix``...) belongs."""
    fields = [f for f in dataclasses.fields(cls) if f.name != "sections"]
    example = next((f for f in fields if f.default not in (None, dataclasses.MISSING)),
                   fields[0])
    default = (example.default if example.default is not dataclasses.MISSING
               else example.default_factory())  # type: ignore[misc]
    text = default if isinstance(default, str) else json.dumps(default)
    shown = getattr(cls, "EXAMPLE", None) or f"{example.name}={text}"
    return ConfigError(f"{prefix[:-1] or 'config'}: expected a mapping of keys like "
                       f"{prefix}{shown}, got {_short(value)}")


def _check_mappings(cls: type, data: Any, prefix: str = "") -> None:
    """Refuse a scalar or a list where ``data`` (plain data for ``cls``) has a section: a
    merge would replace it by another source's mapping of that section, or by nothing."""
    if not isinstance(data, dict):
        raise _not_a_mapping(cls, prefix, data)
    for key, section in _section_types(cls).items():
        if key in data:
            _check_mappings(section, data[key], f"{prefix}{key}.")


def _build(cls: type, data: dict[str, Any], prefix: str) -> Any:
    if not isinstance(data, dict):
        raise _not_a_mapping(cls, prefix, data)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    # The whole config: the methods' sections are keys at the top level, in the field's
    # place (after model).
    sections = _sections() if cls is Config else {}
    valid = [k for f in fields for k in (sections if f == "sections" else (f,))]
    for key in data:
        if key not in valid:
            where = f"in {prefix[:-1]}" if prefix else "at the top level"
            raise ConfigError(f"unknown config key {f'{prefix}{key}'!r}; valid keys {where}: "
                              f"{', '.join(valid)}")
    kwargs: dict[str, Any] = {}
    if sections:
        kwargs["sections"] = {name: _build(section, data.get(name, {}), f"{prefix}{name}.")
                              for name, section in sections.items()}
    for name, f in fields.items():
        if name not in data:
            continue
        key = f"{prefix}{name}"
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = _build(tp, data[name], key + ".")
        else:
            value = _coerce(key, data[name], tp, dict(f.metadata))
            _check(key, value, dict(f.metadata))
            kwargs[name] = value
    return cls(**kwargs)


def _validate(cfg: Config) -> Config:
    from infomax.data.registry import canonical_data_name

    d = cfg.data
    d.augment = augment_kind(d.augment)  # strong -> randaugment
    for key in ("name", "eval"):
        if getattr(d, key) is None:
            continue
        try:
            canonical_data_name(getattr(d, key))
        except ConfigError as e:
            raise ConfigError(f"data.{key}: {e}") from None
    if d.channels not in (None, 1, 3):
        raise ConfigError(f"data.channels: {d.channels!r} is not valid; choose 1 or 3 (or "
                          f"null for the source's own)")
    for key in ("mean", "std"):
        values = getattr(d, key)
        if values is not None and d.channels is not None and len(values) != d.channels:
            raise ConfigError(f"data.{key}: {values!r} has {len(values)} values for "
                              f"data.channels={d.channels}; give one per channel")
    if d.std is not None and any(v <= 0 for v in d.std):
        raise ConfigError(f"data.std: {d.std!r} must be positive numbers")
    from infomax.nn.encoders import check_encoder_name, check_image_size

    check_encoder_name(cfg.model.encoder)
    _validate_init_from(cfg.model.init_from)
    if d.image_size is not None:
        check_image_size(cfg.model.encoder, d.image_size, "data.image_size")
    _validate_optim(cfg.optim)
    if cfg.probe.online_ema >= 1:
        raise ConfigError(f"probe.online_ema: {cfg.probe.online_ema!r} is a decay per update; "
                          f"use a number in [0, 1), e.g. 0.98")
    loggers = cfg.train.logger
    if not loggers:
        raise ConfigError(f"train.logger: [] logs nothing; name one or several of "
                          f"{', '.join(LOGGERS)}, e.g. train.logger=[tensorboard,csv]")
    twice = next((name for i, name in enumerate(loggers) if name in loggers[:i]), None)
    if twice is not None:
        raise ConfigError(f"train.logger: {loggers!r} names {twice} twice; name each logger "
                          f"once")
    if cfg.probe.finetune_momentum >= 1:
        raise ConfigError(f"probe.finetune_momentum: {cfg.probe.finetune_momentum!r} must be "
                          f"in [0, 1), e.g. 0.9")
    if not 0 <= cfg.train.seed < 2**32:
        raise ConfigError(f"train.seed: {cfg.train.seed!r} must be in 0..{2**32 - 1}")
    _validate_views(cfg.views)
    for _, method in _methods().items():
        method.check_config(cfg)
    for key, ms in (("optim.milestones", cfg.optim.milestones),
                    ("probe.milestones", cfg.probe.milestones)):
        if ms != sorted(ms) or any(m < 1 for m in ms):
            raise ConfigError(f"{key}: {ms!r} must be increasing epoch numbers >= 1")
    return cfg


# The files model.init_from reads, by suffix (infomax.nn.weights reads them).
INIT_SUFFIXES = (".ckpt", ".pth", ".pt", ".bin", ".safetensors")


def _validate_init_from(path: str | None) -> None:
    if path is not None and not path.lower().endswith(INIT_SUFFIXES):
        raise ConfigError(f"model.init_from: {path!r} is not a file it reads; give an infomax "
                          f"checkpoint (.ckpt) or a state_dict "
                          f"({', '.join(INIT_SUFFIXES[1:])})")


def _validate_optim(o: OptimConfig) -> None:
    if len(o.betas) != 2 or not all(0.0 <= b < 1.0 for b in o.betas):
        raise ConfigError(f"optim.betas: {o.betas!r} must be two numbers in [0, 1)")
    if o.cooldown > 1:
        raise ConfigError(f"optim.cooldown: {o.cooldown!r} is a fraction of the "
                          f"updates; use a number in [0, 1]")
    if o.momentum >= 1:
        raise ConfigError(f"optim.momentum: {o.momentum!r} must be in [0, 1), e.g. 0.9")
    if o.nesterov and o.name not in ("sgd", "lars"):
        raise ConfigError(f"optim.nesterov: Nesterov momentum is for optim.name sgd or lars, "
                          f"not {o.name}; set optim.nesterov=false")
    if o.nesterov and o.momentum == 0:
        raise ConfigError("optim.nesterov: Nesterov momentum needs optim.momentum > 0, "
                          "e.g. 0.9")
    if o.name == "lars" and o.lr_batch is None:
        raise ConfigError("optim.lr_batch: LARS rates are given for a batch size (SimCLR: "
                          "0.3 per 256 images); set optim.lr_batch=256 (the rate is then "
                          "optim.lr x global batch / 256), or the batch your optim.lr is for")
    if o.warmup_epochs is not None and o.warmup_steps > 0:
        raise ConfigError(f"optim.warmup_epochs: {o.warmup_epochs!r} and optim.warmup_steps "
                          f"{o.warmup_steps!r} both set a warmup; set optim.warmup_steps=0 "
                          f"or optim.warmup_epochs=null")
    if o.warmup_from >= 1:
        raise ConfigError(f"optim.warmup_from: {o.warmup_from!r} is a fraction of the peak "
                          f"rate; use a number in [0, 1)")
    if o.final_lr_ratio > 1:
        raise ConfigError(f"optim.final_lr_ratio: {o.final_lr_ratio!r} is a fraction of the "
                          f"peak rate; use a number in [0, 1]")
    if o.clip_grad_norm is not None and o.clip_grad_norm <= 0:
        raise ConfigError(f"optim.clip_grad_norm: {o.clip_grad_norm!r} must be a positive "
                          f"norm, e.g. 1.0 (null: no clipping)")


_PROBABILITIES = ("translate_p", "flip_p", "jitter_p", "grayscale_p", "blur_p", "solarize_p")


def _check_range(key: str, value: list[float], example: str, unit: bool = False) -> None:
    """``value``: two numbers 0 < low <= high (<= 1 with ``unit``)."""
    ok = len(value) == 2 and 0 < value[0] <= value[1] and (not unit or value[1] <= 1)
    if not ok:
        bound = " <= 1" if unit else ""
        raise ConfigError(f"{key}: {value!r} must be two numbers 0 < low <= high{bound}, "
                          f"e.g. {example}")


def _validate_views(views: ViewsConfig) -> None:
    sources = [("views.", dataclasses.asdict(views))]
    sources += [(f"views.{name}.", getattr(views, name).given()) for name in ("first", "second")]
    for prefix, values in sources:
        for name in _PROBABILITIES:
            if name in values and values[name] > 1:
                raise ConfigError(f"{prefix}{name}: {values[name]!r} is a probability; use a "
                                  f"number in [0, 1]")
        if "crop_scale" in values:
            _check_range(f"{prefix}crop_scale", values["crop_scale"], "[0.3, 1.0]", unit=True)
        if "crop_ratio" in values:
            _check_range(f"{prefix}crop_ratio", values["crop_ratio"], "[0.75, 1.3333]")
        if "blur_sigma" in values:
            _check_range(f"{prefix}blur_sigma", values["blur_sigma"], "[0.1, 2.0]")
        if "jitter" in values and len(values["jitter"]) != 4:
            raise ConfigError(f"{prefix}jitter: {values['jitter']!r} must be four numbers >= 0: "
                              f"brightness, contrast, saturation, hue, e.g. [0.4, 0.4, 0.4, 0.2]")
    for name in ("first", "second"):
        if views.flip_shared and getattr(views, name).flip_p is not None:
            raise ConfigError(f"views.{name}.flip_p: {getattr(views, name).flip_p!r} is a flip "
                              f"probability of one view, but views.flip_shared=true draws one "
                              f"flip for both; set views.flip_shared=false")
    for index, name in enumerate(("first", "second")):
        view = views.for_view(index)
        hue = view.jitter[3] * view.jitter_strength
        if hue > 0.5:
            own = getattr(views, name).given()
            key = next((f"views.{name}.{k}" for k in ("jitter_strength", "jitter") if k in own),
                       "views.jitter_strength" if views.jitter_strength != 1 else "views.jitter")
            raise ConfigError(f"{key}: the {name} view's hue jitter {view.jitter[3]!r} x strength "
                              f"{view.jitter_strength!r} = {hue:g} is more than 0.5 (half a turn "
                              f"of the hue circle); lower the hue or the strength")


def config_from_dict(data: dict[str, Any]) -> Config:
    return _validate(_build(Config, data, ""))


# --------------------------------------------------------------------------------------
# Presets and overrides


def preset_names() -> list[str]:
    folder = resources.files("infomax") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _preset_method(name: str | None) -> str:
    """The method preset ``name`` trains: the one it names, else amdim (also for no preset
    or one this version does not have)."""
    if name is None or name not in preset_names():
        return "amdim"
    return load_preset_dict(name).get("method", "amdim")


def load_preset_dict(name: str) -> dict[str, Any]:
    names = preset_names()
    if name not in names:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(names)}")
    file = resources.files("infomax") / "presets" / f"{name}.yaml"
    try:
        data = _load_yaml(file.read_text()) or {}
    except _DuplicateKeyError as e:
        raise ConfigError(f"preset file {file}: {e}") from None
    data["preset"] = name
    return data


def merge_mappings(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra``'s keys, nested mappings merged key by key."""
    out = dict(base)
    for k, v in extra.items():
        out[k] = merge_mappings(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


_merge = merge_mappings


def parse_override(text: str) -> dict[str, Any]:
    """``a.b=value`` -> {"a": {"b": value}}; the value is read as YAML (numbers, lists,
    true/false, null)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key=value, e.g. model.ndf=64")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r} has an empty key; write e.g. train.epochs=10")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except _YAML_ERRORS:  # not YAML: the text itself (a key that wants a number says so)
        value = raw
    if isinstance(value, dict) and not raw.strip().startswith("{"):
        value = raw.strip()  # 'imagefolder:' is text; a mapping is written {key: value}
    out: dict[str, Any] = {}
    node = out
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def recipe_for(method: str, data: dict[str, Any] | None = None) -> Recipe | None:
    """The published recipe of ``method`` (None: none, or no such method), for a config
    whose plain data (preset, file and overrides merged) is ``data``: a method may have
    several (MoCo v1 and v2)."""
    methods = _methods()
    if method not in methods.names():
        return None
    recipe = getattr(methods[method], "recipe", None)
    return recipe(data or {}) if callable(recipe) else recipe


def make_config(preset: str | None = None, overrides: typing.Sequence[str] = (),
                base: dict[str, Any] | None = None) -> Config:
    """Defaults <- the method's recipe <- a config file ``base`` <- preset <- ``key=value``
    overrides.

    The recipe (``Recipe``: the paper's ``optim`` and ``views`` sections) is used for each
    of those sections that neither the config file nor the preset gives: a saved run's
    config gives both, and so keeps what it trained with. A preset made for another method
    (fmnist-tiny is AMDIM's) gives its data, model, training and probe settings, and not
    the sections the recipe sets: those are its own method's recipe as it adapts it. (A
    method without a recipe, CPC, trains with the preset's.) A run's saved config
    (``is_saved_run_config``) gets no recipe: one written before a section existed trained
    with that section's defaults."""
    # Each source is checked before it is merged: a section given a scalar or a list must
    # not be replaced, silently, by another source's keys of that section.
    file = dict(base or {})
    _check_mappings(Config, file)
    preset_data = load_preset_dict(preset) if preset is not None else {}
    _check_mappings(Config, preset_data)
    over = [parse_override(o) for o in overrides]
    for source in over:
        _check_mappings(Config, source)
    given: dict[str, Any] = {}
    for source in (file, preset_data, *over):
        given = _merge(given, source)
    method = given.get("method", "amdim")
    recipe = recipe_for(method, given) if isinstance(method, str) else None
    if is_saved_run_config(file):
        # A run's config.yaml: a section it lacks did not exist when it was written, so
        # the run trained with that section's defaults, not with a recipe.
        recipe = None
    if recipe is not None and preset_data and preset_data.get("method", "amdim") != method:
        preset_data = {k: v for k, v in preset_data.items()
                       if not (k in RECIPE_SECTIONS and getattr(recipe, k))}
    data: dict[str, Any] = {}
    if recipe is not None:
        sections = {k: getattr(recipe, k) for k in RECIPE_SECTIONS
                    if getattr(recipe, k) and k not in file and k not in preset_data}
        if sections:
            data = {**sections, "recipe": method}
    for source in (file, preset_data, *over):
        data = _merge(_drop_replaced(data, source), source)
    return config_from_dict(data)


# The sections every run's config.yaml has held since runs saved their config (before
# the ``recipe`` key and the ``views`` section existed).
SAVED_RUN_KEYS = ("method", "preset", "data", "model", "optim", "train", "probe")


def is_saved_run_config(data: dict[str, Any]) -> bool:
    """Whether ``data`` is a config a run saved (its config.yaml) rather than one a user
    wrote: it holds every section a run has saved (``SAVED_RUN_KEYS``). Such a config is
    complete for the version that wrote it, so ``make_config`` applies no recipe to it."""
    return all(k in data for k in SAVED_RUN_KEYS)


# Keys of which a config holds one: a source that gives one replaces the other of earlier
# sources (a preset's optim.warmup_steps=100 replaces a recipe's optim.warmup_epochs=10),
# at the value that turns it off.
EXCLUSIVE = (("optim", "warmup_steps", 0), ("optim", "warmup_epochs", None))


def _drop_replaced(data: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    for (section, a, off_a), (_, b, off_b) in (EXCLUSIVE, EXCLUSIVE[::-1]):
        given = source.get(section)
        if isinstance(given, dict) and a in given and b not in given and given[a] != off_a:
            old = data.get(section)
            if isinstance(old, dict) and old.get(b, off_b) != off_b:
                data = {**data, section: {**old, b: off_b}}
    return data


def load_config_file(path: str | Path) -> dict[str, Any]:
    try:
        data = _load_yaml(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {path} cannot be read ({type(e).__name__})") from None
    except _DuplicateKeyError as e:
        raise ConfigError(f"config file {path}: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = _first_line(getattr(e, "problem", None) or str(e))
        raise ConfigError(f"config file {path} is not valid YAML{where}: {problem}") from None
    except _YAML_ERRORS as e:
        raise ConfigError(f"config file {path} is not valid YAML: {type(e).__name__}: "
                          f"{_first_line(str(e))}") from None
    if data is None:  # no text, only comments, or null: not what a config file is for
        raise ConfigError(f"config file {path} is empty; write the keys to set, like "
                          f"'model: {{ndf: 64}}' ('{{}}' for the library's defaults)")
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} holds {type(data).__name__} {_short(data)}, "
                          f"not a mapping of keys like 'model: {{ndf: 64}}'")
    return data


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe_keys() -> str:
    """Every key with its default and help, for ``infomax config --keys``."""
    lines = []

    def walk(cls: type, obj: Any, prefix: str) -> None:
        for f in dataclasses.fields(cls):
            value = getattr(obj, f.name)
            if f.name == "sections" and cls is Config:
                for name, section in value.items():
                    walk(type(section), section, f"{prefix}{name}.")
                continue
            if dataclasses.is_dataclass(value):
                walk(type(value), value, f"{prefix}{f.name}.")
                continue
            extra = _help(f.metadata)
            choices = _choices(f.metadata)
            if choices:
                extra = (extra + "; " if extra else "") + "one of " + ", ".join(choices)
            lines.append(f"{prefix}{f.name} = {value!r}" + (f"  # {extra}" if extra else ""))

    walk(Config, Config(), "")  # every method's section
    return "\n".join(lines)
