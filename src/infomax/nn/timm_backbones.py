"""Backbones from timm (``model.encoder=timm:<name>``, any name of ``timm.list_models()``),
built with random weights: ``timm.create_model(name, pretrained=False, num_classes=0,
in_chans=C)``, plus ``img_size=S`` for the models that take one (ViTs and the other models
laid out for one input size).

One pass gives both features: ``forward_intermediates`` (timm >= 1.0) returns the last
stage and the stage chosen for the local map; the global vector is timm's own pooling of
the last stage (``forward_head(pre_logits=True)``: average pooling for CNNs, the class
token or the mean of the tokens for ViTs). ViT intermediates come as (B, D, h, w) maps of
the patch tokens. A model without ``forward_intermediates`` is built ``features_only``
instead, its last stage average-pooled.

The local map is the deepest stage of a finer resolution than the last whose map is at
least ``LOCAL_MIN`` x ``LOCAL_MIN`` at the run's image size (the stride-8 stage of a
stride-32 CNN at 32 px, the stride-16 one at 64 px and above), or the last stage where
every stage has one resolution (ViTs: the last block's patch tokens).

timm is imported only when a timm encoder is asked for (it takes a second or two to
load). Its layout for an image size (stage shapes, whether it takes ``img_size``) is read
once per name and size from a copy built on the meta device, which allocates nothing.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from infomax.errors import ConfigError

PREFIX = "timm:"
# The smallest local map the stage choice aims for (and DIM needs), per side.
LOCAL_MIN = 4


def is_timm(name: Any) -> bool:
    """Whether encoder name ``name`` names a timm model (``timm:<name>``)."""
    return isinstance(name, str) and name.startswith(PREFIX)


def _timm() -> Any:
    import timm  # imported when used: timm takes a second or two to load

    return timm


@functools.lru_cache(maxsize=1)
def model_names() -> frozenset[str]:
    """Every model name timm builds (``timm.list_models()``)."""
    return frozenset(_timm().list_models())


def model_name(encoder: str) -> str:
    """The timm model name of encoder ``timm:<name>``; ConfigError (one line, with the
    closest names) where timm has no such model."""
    name = encoder[len(PREFIX):]
    if name in model_names():
        return name
    arch = name.split(".", 1)[0]
    if "." in name and arch in model_names():
        raise ConfigError(f"model.encoder: {encoder} names pretrained weights (a tag), which "
                          f"nothing downloads here; use {PREFIX}{arch} with "
                          f"model.init_from=<a local file of those weights>")
    close = difflib.get_close_matches(name, sorted(model_names()), n=5, cutoff=0.6)
    hint = (f"close matches: {', '.join(PREFIX + c for c in close)}" if close else
            "no close match")
    raise ConfigError(f"model.encoder: timm has no model {name!r} ({hint}); "
                      f"python -c 'import timm; print(timm.list_models())' lists them all")


@dataclass(frozen=True)
class Facts:
    """What a timm model is, whatever the input size: whether its constructor takes
    ``img_size`` (and so is laid out for one size), whether it then takes other sizes all
    the same (``dynamic_img_size``), and its output stride (the last stage's reduction)."""

    takes_img_size: bool
    dynamic: bool
    reduction: int

    @property
    def fixed_input(self) -> bool:
        """Built for one image size, it takes inputs of that size only."""
        return self.takes_img_size and not self.dynamic


@dataclass(frozen=True)
class Layout:
    """A timm model built for ``in_channels`` x ``image_size`` px images: the keyword
    arguments it is built with, the feature size of its pooled output, the stage
    (``forward_intermediates`` index) of the local map, its channels and its side."""

    kwargs: tuple[tuple[str, Any], ...]
    feature_dim: int
    local_index: int
    local_dim: int
    local_size: int
    stages: int
    intermediates: bool
    facts: Facts


def _create(name: str, in_channels: int, image_size: int | None, **extra: Any
            ) -> tuple[nn.Module, dict[str, Any]]:
    """``timm.create_model`` with random weights and no classifier; ``img_size`` is passed
    to the models that take one (a TypeError naming it from the others)."""
    timm = _timm()
    kwargs: dict[str, Any] = {"pretrained": False, "num_classes": 0, "in_chans": in_channels}
    if image_size is not None:
        try:
            return (timm.create_model(name, img_size=image_size, **kwargs, **extra),
                    {"img_size": image_size})
        except TypeError as e:
            if "img_size" not in str(e):
                raise
    return timm.create_model(name, **kwargs, **extra), {}


def _on_meta(build: Any) -> Any:
    """``build()`` on the meta device (no memory, no initialization), or on the CPU where
    the model's constructor needs real tensors."""
    try:
        with torch.device("meta"):
            return build(), "meta"
    except Exception:  # e.g. a constructor that reads a tensor's value (.item())
        return build(), "cpu"


def _build_error(name: str, in_channels: int, image_size: int, e: Exception) -> ConfigError:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return ConfigError(f"model.encoder: timm:{name} cannot be built for {in_channels}-channel "
                       f"{image_size} px images ({type(e).__name__}: {text}); set "
                       f"data.image_size to a size it takes (its default input is "
                       f"{default_size(name)} px), or choose another model.encoder")


def default_size(name: str) -> int:
    """The input size timm's default configuration of ``name`` names (224 where none)."""
    cfg = _timm().models.get_pretrained_cfg(name)
    size = getattr(cfg, "input_size", None) if cfg is not None else None
    return int(size[-1]) if size else 224


@functools.lru_cache(maxsize=256)
def facts(name: str) -> Facts:
    """The size-independent facts of timm model ``name`` (built once, on the meta device,
    at its default size)."""
    size = default_size(name)
    try:
        (model, kwargs), _ = _on_meta(lambda: _create(name, 3, size))
    except Exception as e:
        raise _build_error(name, 3, size, e) from None
    # Every timm model has feature_info; one without it gets no size rule (stride 1).
    reduction = _reductions(model)[-1] if getattr(model, "feature_info", None) else 1
    return Facts("img_size" in kwargs, bool(getattr(model, "dynamic_img_size", False)),
                 int(reduction))


def _reductions(model: nn.Module) -> list[int]:
    info = model.feature_info
    if hasattr(info, "reduction"):  # a FeatureInfo (features_only models)
        return list(info.reduction())
    return [int(f["reduction"]) for f in info]


@functools.lru_cache(maxsize=256)
def layout(name: str, in_channels: int, image_size: int) -> Layout:
    """How timm model ``name`` is built and tapped for ``in_channels`` x ``image_size`` px
    images: one forward pass of a copy (on the meta device where it can be) gives the
    shape of every stage. ConfigError (one line) where the model cannot take that size."""
    fx = facts(name)

    def probe() -> tuple[dict[str, Any], list[torch.Size], torch.Size, bool]:
        model, kwargs = _create(name, in_channels, image_size)
        model.eval()
        device = next(iter(model.parameters())).device
        x = torch.zeros(1, in_channels, image_size, image_size, device=device)
        with torch.no_grad():
            if hasattr(model, "forward_intermediates"):
                try:
                    final, maps = model.forward_intermediates(x)
                    pooled = model.forward_head(final, pre_logits=True)
                    return kwargs, [m.shape for m in maps], pooled.shape, True
                except NotImplementedError:
                    # Some timm models define forward_intermediates but raise this for
                    # their variant; they are tapped through features_only below.
                    pass
            model, kwargs = _create(name, in_channels, image_size, features_only=True)
            model.eval()
            maps = model(x.to(next(iter(model.parameters())).device))
            return kwargs, [m.shape for m in maps], maps[-1].shape[:2], False

    try:
        try:
            with torch.device("meta"):
                kwargs, shapes, pooled, intermediates = probe()
        except Exception:
            kwargs, shapes, pooled, intermediates = probe()
    except ConfigError:
        raise
    except Exception as e:
        raise _build_error(name, in_channels, image_size, e) from None
    if len(pooled) != 2 or any(len(s) != 4 for s in shapes) or not shapes:
        raise ConfigError(f"model.encoder: timm:{name} gives no (B, C, h, w) stage maps and "
                          f"pooled (B, D) features; choose another model.encoder")
    index = local_stage([tuple(s[2:]) for s in shapes])
    side = min(shapes[index][2:])
    return Layout(tuple(sorted(kwargs.items())), int(pooled[1]), index,
                  int(shapes[index][1]), int(side), len(shapes), intermediates, fx)


def local_stage(sizes: list[tuple[int, int]]) -> int:
    """The stage of the local map, from the (h, w) of every stage: the deepest of a finer
    resolution than the last whose map is at least ``LOCAL_MIN`` a side; where none is
    (every stage of one resolution, as in ViTs, or none that large), the deepest of the
    largest maps."""
    last = min(sizes[-1])
    finer = [i for i, s in enumerate(sizes) if min(s) > last and min(s) >= LOCAL_MIN]
    if finer:
        return finer[-1]
    largest = max(min(s) for s in sizes)
    return max(i for i, s in enumerate(sizes) if min(s) == largest)


class TimmEncoder(nn.Module):
    """A timm model behind the backbone contract (``embed``, ``forward_features``,
    ``feature_dim``, ``local_dim``, ``in_channels``, ``image_size``), random init. The
    timm model is ``self.model``, so its weights are those of timm's own state dicts under
    ``model.``. ``local_size``: the local map's side at ``image_size``; ``fixed_input``:
    it takes ``image_size`` px inputs only."""

    def __init__(self, name: str, in_channels: int = 3, image_size: int = 224) -> None:
        super().__init__()
        spec = layout(name, in_channels, image_size)
        self.name, self.in_channels, self.image_size = name, in_channels, image_size
        self.feature_dim, self.local_dim = spec.feature_dim, spec.local_dim
        self.local_size, self.fixed_input = spec.local_size, spec.facts.fixed_input
        self.local_index, self.intermediates = spec.local_index, spec.intermediates
        extra = {} if spec.intermediates else {
            "features_only": True, "out_indices": sorted({spec.local_index, spec.stages - 1})}
        try:
            self.model = _timm().create_model(name, pretrained=False, num_classes=0,
                                              in_chans=in_channels, **dict(spec.kwargs),
                                              **extra)
        except Exception as e:
            raise _build_error(name, in_channels, image_size, e) from None

    def forward_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self._check_input(x)
        if not self.intermediates:
            maps = self.model(x)
            return maps[-1].mean((2, 3)), maps[0]
        final, maps = self.model.forward_intermediates(x, indices=[self.local_index])
        return self.model.forward_head(final, pre_logits=True), maps[0]

    def embed(self, x: Tensor) -> Tensor:
        self._check_input(x)
        if not self.intermediates:
            return self.model(x)[-1].mean((2, 3))
        return self.model(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.embed(x)

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"timm:{self.name} expects input (B, {self.in_channels}, H, W), "
                             f"got {tuple(x.shape)}")
