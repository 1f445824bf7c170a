"""The encoder registry: every method builds its backbone here, by the name the config
gives (``model.encoder``). An encoder registers the function that builds it with
``@register_encoder(name)``: ``(in_channels, image_size, model_config) -> nn.Module``.

A backbone is an ``nn.Module`` with
- ``embed(x) -> (B, feature_dim)``: the global vector the probes and evaluations use;
- ``forward_features(x) -> (global (B, feature_dim), local (B, local_dim, h, w))``: the
  global vector and an intermediate feature map, computed in one pass;
- ``feature_dim`` and ``local_dim`` (ints), ``in_channels`` and ``image_size``.

Besides the registered names, ``timm:<name>`` names any model of timm
(``infomax.nn.timm_backbones``); ``encoder_builder`` and the size rules below know both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
import torchvision
from torch import Tensor, nn

from infomax.errors import ConfigError
from infomax.nn import timm_backbones
from infomax.nn.amdim import AMDIMEncoder
from infomax.nn.timm_backbones import TimmEncoder, is_timm
from infomax.registry import Registry

Builder = Callable[[int, int, Any], nn.Module]
ENCODERS: Registry[Builder] = Registry("encoder")


def register_encoder(name: str) -> Callable[[Builder], Builder]:
    """Register the decorated ``build(in_channels, image_size, model_config)`` as encoder
    ``name``; ``model_config`` is the run's ``model`` section (ndf, n_rkhs, ...)."""
    return ENCODERS.decorator(name)


# Input sizes each encoder takes: (predicate, the sizes in words), by encoder name.
IMAGE_SIZES: dict[str, tuple[Callable[[int], bool], str]] = {}


def encoder_names() -> tuple[str, ...]:
    """The encoder names, as shown to users: the registered ones, then ``timm:<name>``."""
    return (*ENCODERS.names(), timm_backbones.PREFIX + "<name>")


def check_encoder_name(name: str, key: str = "model.encoder") -> None:
    """ConfigError (one line) unless ``name`` is a registered encoder or ``timm:<name>`` of
    a model timm builds (with its closest names where it is not)."""
    if is_timm(name):
        timm_backbones.model_name(name)
    elif name not in ENCODERS:
        timm_has = isinstance(name, str) and name in timm_backbones.model_names()
        hint = f" (timm:{name} for timm's)" if timm_has else ""
        raise ConfigError(f"{key}: {name!r} is not valid{hint}; choose one of "
                          f"{', '.join(ENCODERS.names())}, or timm:<name> for a model of "
                          f"timm (timm.list_models())")


def encoder_builder(name: str) -> Builder:
    """The builder of encoder ``name``: a registered one, or a timm model's for
    ``timm:<name>``; ConfigError for an unknown name."""
    if is_timm(name):
        model = timm_backbones.model_name(name)
        return lambda c, size, m: TimmEncoder(model, c, size)
    check_encoder_name(name)
    return ENCODERS[name]


def size_rule(encoder: str) -> tuple[Callable[[int], bool], str] | None:
    """The input sizes encoder ``encoder`` takes, (predicate, the sizes in words), or None
    where it takes any. A timm model takes any size at least its output stride (so that its
    last stage keeps one location), and, when laid out for one size (a ViT, built for
    data.image_size), that size only (see ``is_fixed_input``)."""
    if is_timm(encoder):
        reduction = timm_backbones.facts(timm_backbones.model_name(encoder)).reduction
        return (lambda s: s >= reduction,
                f"any size >= {reduction} (its output stride)")
    return IMAGE_SIZES.get(encoder)


def is_fixed_input(encoder: str) -> bool:
    """Whether encoder ``encoder``, once built for an image size, takes inputs of that size
    only: the AMDIM encoder (laid out for 32, 64 or 128 px), and the timm models built
    with ``img_size`` that do not resize (``dynamic_img_size``)."""
    if is_timm(encoder):
        return timm_backbones.facts(timm_backbones.model_name(encoder)).fixed_input
    return encoder in FIXED_INPUT


def check_image_size(encoder: str, size: int, key: str = "image size") -> None:
    """ConfigError (one line) if encoder ``encoder`` cannot take ``size`` px images."""
    rule = size_rule(encoder)
    if rule is not None and not rule[0](size):
        raise ConfigError(f"{key}: the {encoder} encoder takes {rule[1]} px images, not "
                          f"{size}; set data.image_size to one of those (or choose another "
                          f"model.encoder)")


IMAGE_SIZES["amdim"] = (lambda s: s in (32, 64, 128), "32, 64 or 128")
# Encoders whose network, once built for an image size, takes inputs of that size only
# (the AMDIM encoder's layers are laid out for its 32, 64 or 128 px); timm models: see
# ``is_fixed_input``.
FIXED_INPUT: set[str] = {"amdim"}


def takes_input_size(encoder: str, image_size: int, size: int) -> bool:
    """Whether encoder ``encoder`` built for ``image_size`` px images takes inputs of
    ``size`` px (e.g. multi-crop's smaller crops): only ``image_size`` itself for an
    encoder of fixed input (``is_fixed_input``), else the sizes of its ``size_rule``."""
    if is_fixed_input(encoder):
        return size == image_size
    rule = size_rule(encoder)
    return rule is None or rule[0](size)


@register_encoder("amdim")
def _amdim(in_channels: int, image_size: int, m: Any) -> nn.Module:
    return AMDIMEncoder(image_size, in_channels, m.ndf, m.n_rkhs, m.n_depth, m.use_bn)


RESNETS: dict[str, Callable[..., torchvision.models.ResNet]] = {
    "resnet18": torchvision.models.resnet18,
    "resnet34": torchvision.models.resnet34,
    "resnet50": torchvision.models.resnet50,
}


class ResNetEncoder(nn.Module):
    """A torchvision ResNet (random init) adapted to small images (Chen et al. 2020's CIFAR
    variant): for inputs up to 64 px the stem is a 3x3 stride-1 convolution without the
    max-pool, so a 32 px image keeps 32 -> 32 -> 16 -> 8 -> 4 through the four stages. The
    classifier is dropped: the global vector is the average-pooled last stage, the local
    map the third stage's output (8x8 for 32 px inputs).

    ``torchvision_state_dict()`` gives the weights under torchvision's own names (those of
    timm's ResNets too), for a ``torchvision.models.resnetN`` with the same stem."""

    # The torchvision ResNet's modules that ``stem`` holds, in order.
    STEM = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3")
    # Inputs up to this side get the small-image stem.
    SMALL_STEM_MAX = 64

    def __init__(self, name: str, in_channels: int = 3, image_size: int = 32) -> None:
        super().__init__()
        if name not in RESNETS:
            raise ValueError(f"unknown ResNet {name!r}; choose one of {', '.join(RESNETS)}")
        net = RESNETS[name](weights=None)
        if image_size <= self.SMALL_STEM_MAX:
            net.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
            net.maxpool = nn.Identity()
        else:
            net.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
        self.stem = nn.Sequential(*(getattr(net, part) for part in self.STEM))
        self.layer4 = net.layer4
        self.name, self.in_channels, self.image_size = name, in_channels, image_size
        self.feature_dim = net.fc.in_features
        self.local_dim = self.feature_dim // 2

    def forward_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self._check_input(x)
        local = self.stem(x)
        return torch.flatten(self.layer4(local).mean((2, 3)), 1), local

    def forward(self, x: Tensor) -> Tensor:
        return self.embed(x)

    def embed(self, x: Tensor) -> Tensor:
        return self.forward_features(x)[0]

    @property
    def small_stem(self) -> bool:
        """Whether the stem is the 3x3 stride-1 convolution without the max-pool."""
        return self.image_size <= self.SMALL_STEM_MAX

    def torchvision_state_dict(self) -> dict[str, Tensor]:
        """The weights and BatchNorm statistics under torchvision's ResNet names
        (``conv1.weight``, ``bn1.*``, ``layer1.*`` ... ``layer4.*``; no ``fc``), detached
        and contiguous: loadable with ``strict=True`` into ``torchvision.models.<name>()``
        once its conv1 (and, for the small-image stem, its maxpool) is this encoder's and
        its fc is ``nn.Identity()``."""
        out: dict[str, Tensor] = {}
        for key, value in self.state_dict().items():
            head, _, rest = key.partition(".")
            if head == "stem":
                index, _, rest = rest.partition(".")
                key = f"{self.STEM[int(index)]}.{rest}"
            out[key] = value.detach().contiguous()
        return out

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{self.name} expects input (B, {self.in_channels}, H, W), got "
                             f"{tuple(x.shape)}")


for _name in RESNETS:
    register_encoder(_name)(lambda c, size, m, name=_name: ResNetEncoder(name, c, size))
    IMAGE_SIZES[_name] = (lambda s: s >= 32, "any size >= 32 (224 standard)")


@dataclass(frozen=True)
class _Sizes:
    ndf: int = 128
    n_rkhs: int = 1024
    n_depth: int = 3
    use_bn: bool = False


def build_encoder(name: str, in_channels: int, image_size: int, *, ndf: int = 128,
                  n_rkhs: int = 1024, n_depth: int = 3, use_bn: bool = False) -> nn.Module:
    """Backbone ``name`` (one of ``ENCODERS``, or ``timm:<name>``) for ``in_channels`` x
    ``image_size`` px images; ``ndf``, ``n_rkhs``, ``n_depth`` and ``use_bn`` size the AMDIM
    encoder."""
    if name not in ENCODERS and not is_timm(name):
        raise ValueError(f"unknown encoder {name!r}; choose one of {ENCODERS.choices()}, or "
                         f"timm:<name>")
    return encoder_builder(name)(in_channels, image_size, _Sizes(ndf, n_rkhs, n_depth, use_bn))
