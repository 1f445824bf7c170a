"""Starting a backbone from weights in a file (``model.init_from``): reading a state_dict
(torch's .pth / .pt / .bin, or .safetensors), and copying its tensors into a backbone by
name where the shapes agree.

Names are compared in one naming, torchvision's and timm's (they agree for ResNets:
``conv1``, ``bn1``, ``layer1`` ... ``layer4``, ``fc``): a timm backbone's own names less
its ``model.`` prefix, and those of infomax's small-image ResNet (``stem.0`` is
``conv1``, ``stem.1`` ``bn1``, ``stem.4`` to ``stem.6`` ``layer1`` to ``layer3``). So a
torchvision or timm ResNet's state_dict starts either ResNet backbone, and an infomax
ResNet's starts a timm one. Tensors whose shapes differ (a small-image stem, another
channel count) are skipped and named; the classifier (``fc``, ``head``) has nowhere to go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from infomax.errors import InfomaxError
from infomax.nn.encoders import ResNetEncoder
from infomax.nn.timm_backbones import TimmEncoder

# infomax's small-image ResNet -> torchvision's names (ResNetEncoder.stem is conv1, bn1,
# relu, maxpool, layer1, layer2, layer3).
RESNET_NAMES = {"stem.0.": "conv1.", "stem.1.": "bn1.", "stem.4.": "layer1.",
                "stem.5.": "layer2.", "stem.6.": "layer3."}
# Where a state_dict of a training script keeps the weights, tried in this order.
NESTED = ("state_dict", "model", "module", "model_state_dict")
# Prefixes that wrappers add (DataParallel and DistributedDataParallel: module.).
WRAPPER_PREFIXES = ("module.",)


def common_name(backbone: nn.Module, key: str) -> str:
    """``backbone``'s state-dict key ``key`` in the shared naming (see the module
    docstring)."""
    if isinstance(backbone, TimmEncoder) and key.startswith("model."):
        return key[len("model."):]
    if isinstance(backbone, ResNetEncoder):
        for ours, theirs in RESNET_NAMES.items():
            if key.startswith(ours):
                return theirs + key[len(ours):]
    return key


def common_names(backbone: nn.Module, state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """``state`` (a state dict of ``backbone``'s kind) by the shared names."""
    return {common_name(backbone, k): v for k, v in state.items()}


def _tensors(obj: Any, path: Path) -> dict[str, Tensor]:
    """The state dict inside what torch.load returned: the mapping itself, or the one a
    training script nested under ``state_dict``, ``model``, ..., less a ``module.``
    prefix."""
    if isinstance(obj, Mapping):
        for key in NESTED:
            inner = obj.get(key)
            if isinstance(inner, Mapping) and any(isinstance(v, Tensor)
                                                  for v in inner.values()):
                obj = inner
                break
    if not isinstance(obj, Mapping) or not any(isinstance(v, Tensor) for v in obj.values()):
        raise InfomaxError(f"model.init_from: {path} holds no state_dict (a mapping of "
                           f"names to tensors); save one with torch.save(model.state_dict(), "
                           f"path)")
    out = {str(k): v for k, v in obj.items() if isinstance(v, Tensor)}
    for prefix in WRAPPER_PREFIXES:
        if out and all(k.startswith(prefix) for k in out):
            out = {k[len(prefix):]: v for k, v in out.items()}
    return out


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """The tensors of a state_dict file: .safetensors (safetensors), else torch.load with
    ``weights_only`` (no code runs); InfomaxError (one line) for a missing or unreadable
    file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InfomaxError(f"model.init_from: {path} does not exist; give the path of a "
                           f"state_dict (.pth, .pt, .bin, .safetensors) or of an infomax "
                           f"checkpoint (.ckpt)")
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(path), device="cpu")
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        text = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise InfomaxError(f"model.init_from: cannot read {path} ({type(e).__name__}"
                           f"{': ' + text[:160] if text else ''}); give a state_dict saved "
                           f"with torch.save or safetensors") from None
    return _tensors(obj, path)


def _shape(t: Tensor) -> str:
    return "(" + ", ".join(str(n) for n in t.shape) + ")"


@dataclass
class LoadReport:
    """What ``load_matching`` copied: ``loaded`` tensors; ``skipped`` (name, shape here,
    shape in the file) where the shapes differ; ``missing``: the backbone's tensors the
    file lacks (they keep their initialization)."""

    loaded: int = 0
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    missing: int = 0

    def line(self) -> str:
        text = f"loaded {self.loaded} tensors"
        if self.skipped:
            shown = ", ".join(f"{n} (shape {here} here, {there} in the file)"
                              for n, here, there in self.skipped[:3])
            more = len(self.skipped) - 3
            text += f", skipped {shown}" + (f" and {more} more" if more > 0 else "")
        if self.missing:
            text += f"; {self.missing} not in the file keep their initialization"
        return text


@torch.no_grad()
def load_matching(backbone: nn.Module, source: Mapping[str, Tensor], what: str) -> LoadReport:
    """Copy into ``backbone`` every tensor of ``source`` (a state dict in the shared
    naming: ``common_names``) whose name and shape match; InfomaxError (one line) when
    none does. ``what`` names the file in that error."""
    report = LoadReport()
    own = backbone.state_dict(keep_vars=True)
    for key, target in own.items():
        name = common_name(backbone, key)
        value = source.get(name)
        if value is None:
            report.missing += 1
        elif value.shape != target.shape:
            report.skipped.append((name, _shape(target), _shape(value)))
        else:
            target.data.copy_(value.to(dtype=target.dtype, device=target.device))
            report.loaded += 1
    if report.loaded == 0:
        mine = ", ".join(common_name(backbone, k) for k in list(own)[:2])
        theirs = ", ".join(list(source)[:2]) or "none"
        raise InfomaxError(f"model.init_from: no tensor of {what} matches the encoder "
                           f"(whose tensors are named like {mine}; the file's like {theirs}); "
                           f"give weights of the same architecture")
    return report
