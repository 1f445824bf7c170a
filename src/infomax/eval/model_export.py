"""``infomax export``: a checkpoint's encoder as a file other tools read.

- ``torchvision`` / ``timm`` (ResNet encoders): the state_dict under the target library's
  own names, the classifier excluded, for ``torchvision.models.resnetN()`` or
  ``timm.create_model("resnetN", num_classes=0, in_chans=C)`` with the encoder's stem
  (for inputs up to 64 px the small-image stem: a 3x3 stride-1 conv1 and no max-pool),
  loadable with ``strict=True``; for a ``timm:<name>`` encoder, ``timm``: its timm
  model's own state_dict, for ``timm.create_model(name, num_classes=0, in_chans=C)`` (and
  ``img_size`` where the run built it with one). ``loading_code`` gives the two Python
  lines that build that model and load the file.
- ``safetensors`` (every encoder): the encoder's own state_dict, with its config (the
  encoder, its input, the model section, the test view's preprocessing, the infomax
  version) in the file's metadata and, for reading, in ``<file>.json`` beside it;
  ``load_exported`` rebuilds the encoder, with its test view, from the file.
- ``onnx`` (every encoder): input ``images`` (B, C, S, S) float32 test-view tensors, output
  ``features`` (B, D), the batch dimension dynamic, exported with torch's dynamo exporter
  (``torch.onnx.export(..., dynamo=True)``) and checked with onnxruntime against the torch
  encoder on a random batch before it is written: a file that does not reproduce the
  features to 1e-5 is never left. Weights past 1 GiB go beside the model, in
  ``<file>.data`` (ONNX's external data; the protobuf of one file holds 2 GB).

Every file is written whole or not at all (``infomax.files``); an existing one is replaced.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from infomax.config import ModelConfig, ViewsConfig
from infomax.data.registry import DatasetInfo
from infomax.data.views import test_resize
from infomax.devices import resolve_device
from infomax.errors import InfomaxError
from infomax.eval.pretrained import PretrainedEncoder, view_info
from infomax.files import atomic_save, atomic_write, atomic_write_bytes, atomic_write_text
from infomax.nn import timm_backbones
from infomax.nn.encoders import ENCODERS, RESNETS, ResNetEncoder, encoder_builder, is_timm
from infomax.nn.timm_backbones import TimmEncoder, layout
from infomax.runs import load_method

FORMATS = ("torchvision", "timm", "safetensors", "onnx")
# The formats every encoder can be written in; the ResNets also have FORMATS' first two.
ANY_ENCODER = ("safetensors", "onnx")
CONFIG_FORMAT = "infomax-encoder"
CONFIG_VERSION = 1
METADATA_KEY = "infomax"
SIDECAR_SUFFIX = ".json"
ONNX_TOLERANCE = 1e-5  # relative and absolute, onnxruntime against torch
ONNX_CHECK_BATCH = 3  # another batch size than the one traced (2): the axis is dynamic
# Weights beyond this go to ONNX's external data file (the protobuf of one file holds 2 GB).
ONNX_SINGLE_FILE_BYTES = 1 << 30
ONNX_INSTALL = "pip install 'infomax[export]' (onnx, onnxscript and onnxruntime)"

__all__ = ["ANY_ENCODER", "FORMATS", "ExportResult", "check_onnx", "encoder_config",
           "export_encoder", "load_exported", "loading_code", "preprocessing",
           "resnet_weights", "sidecar_path"]


@dataclass(frozen=True)
class ExportResult:
    """What ``export_encoder`` wrote: the file, the files written (the safetensors file
    and its JSON config), the format, the Python lines that load it, a description of the
    input it takes, and for ONNX the largest difference onnxruntime gave against torch."""

    path: Path
    format: str
    files: tuple[Path, ...]
    code: tuple[str, ...]
    input: str
    max_difference: float | None = None


def sidecar_path(path: str | Path) -> Path:
    """The JSON config beside a safetensors export: ``<file>.json``."""
    path = Path(path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def preprocessing(info: DatasetInfo, views: ViewsConfig | None = None) -> dict[str, Any]:
    """The test view of images described by ``info`` as data: size, channels, the 28 -> 32
    padding, the resize rule, normalization, and the same in words (``description``)."""
    views = views or ViewsConfig()
    size, channels = info.image_size, info.channels
    mean, std = [float(v) for v in info.mean], [float(v) for v in info.std]
    if size == 32:
        other = ("resized (shorter side, bicubic, antialiased) and center-cropped"
                 if views.fit == "resize" else "zero-padded or center-cropped")
        geometry = (f"images of 28 x 28 px zero-padded to 32 x 32 (other sizes first {other} "
                    f"to 28 x 28)" if info.pad_to_32 else
                    f"images of 32 x 32 px as they are (other sizes {other} to 32 x 32)")
        resize = None
    else:
        resize = test_resize(size)
        geometry = (("zero-padded by 2 px, then " if info.pad_to_32 else "")
                    + f"shorter side resized to {resize} px (bicubic, antialiased), center "
                      f"crop {size} x {size}")
    colour = "gray repeated to RGB" if channels == 3 else "RGB to luminance"
    description = (f"{geometry}; {channels} channel{'s' if channels > 1 else ''} ({colour}); "
                   f"pixels scaled to [0, 1] and normalized with mean "
                   f"{_numbers(mean)} and std {_numbers(std)}")
    return {"image_size": size, "channels": channels, "mean": mean, "std": std,
            "pad_to_32": bool(info.pad_to_32), "fit": views.fit, "resize": resize,
            "interpolation": "bicubic", "description": description}


def _numbers(values: list[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"


def encoder_config(method: Any, checkpoint: str | Path) -> dict[str, Any]:
    """The JSON config of an export of ``method``'s encoder (read from ``checkpoint``)."""
    from infomax import __version__

    cfg = method.cfg
    info = view_info(cfg.data, method.in_channels, method.image_size)
    return {
        "format": CONFIG_FORMAT, "format_version": CONFIG_VERSION,
        "infomax_version": __version__,
        "encoder": cfg.model.encoder, "in_channels": method.in_channels,
        "image_size": method.image_size, "feature_dim": int(method.encoder.feature_dim),
        "model": dataclasses.asdict(cfg.model),
        "method": cfg.method, "data": cfg.data.name, "checkpoint": str(checkpoint),
        "channels_last": bool(cfg.train.channels_last),
        "input": {"name": "images", "shape": ["batch", method.in_channels, method.image_size,
                                              method.image_size], "dtype": "float32"},
        "output": {"name": "features", "shape": ["batch", int(method.encoder.feature_dim)],
                   "dtype": "float32"},
        "preprocessing": preprocessing(info, cfg.views),
    }


def _refuse_format(fmt: str, encoder: str) -> InfomaxError:
    also = " or a timm:<name> encoder" if fmt == "timm" else ""
    formats = (["timm"] if is_timm(encoder) else []) + list(ANY_ENCODER)
    return InfomaxError(f"--format {fmt}: the {encoder} encoder is not a {fmt} ResNet "
                        f"({', '.join(RESNETS)} are{also}); export it with --format "
                        f"{' or --format '.join(formats)}")


def resnet_weights(encoder: nn.Module, fmt: str, name: str | None = None
                   ) -> dict[str, torch.Tensor]:
    """A ResNet encoder's weights under the names of ``fmt`` ("torchvision" or "timm":
    the same names, those of torchvision's ResNet without fc), or, for ``fmt`` "timm", a
    ``timm:<name>`` encoder's own timm model's state_dict; InfomaxError naming the formats
    that work for any other encoder (``name``: the encoder's, for the message)."""
    if fmt == "timm" and isinstance(encoder, TimmEncoder):
        if not encoder.intermediates:
            # Built features_only (no forward_intermediates): its weights are named as
            # timm's feature wrapper names them, not as timm.create_model's model.
            raise InfomaxError(f"--format timm: timm:{encoder.name} was built with "
                               f"features_only=True, whose weights timm.create_model's "
                               f"model does not take; export it with --format "
                               f"{' or --format '.join(ANY_ENCODER)}")
        return {k: v.detach().clone() for k, v in encoder.model.state_dict().items()}
    if not isinstance(encoder, ResNetEncoder):
        raise _refuse_format(fmt, name or type(encoder).__name__)
    return encoder.torchvision_state_dict()


def _timm_arguments(encoder: nn.Module) -> str:
    """The keyword arguments beyond num_classes and in_chans that built a ``timm:<name>``
    encoder's model (``img_size`` for the models laid out for one size)."""
    kwargs = dict(layout(encoder.name, encoder.in_channels, encoder.image_size).kwargs)
    kwargs = {k: v for k, v in kwargs.items()
              if k not in ("pretrained", "num_classes", "in_chans")}
    return "".join(f", {k}={v!r}" for k, v in sorted(kwargs.items()))


def loading_code(fmt: str, name: str, in_channels: int, image_size: int,
                 path: str | Path, timm_arguments: str = "") -> tuple[str, str]:
    """The two Python lines that load an export: the first builds the model (the target
    library's, with the encoder's stem) or opens the file, the second loads it (for
    torchvision and timm, ``strict=True``) or runs it. ``name`` "timm:<model>": that timm
    model as the run built it (``timm_arguments``: its further keyword arguments)."""
    where = json.dumps(str(path))
    if fmt == "timm" and is_timm(name):
        build = (f"import torch, timm; model = timm.create_model("
                 f"{json.dumps(timm_backbones.model_name(name))}, num_classes=0, "
                 f"in_chans={in_channels}{timm_arguments})")
        return build, f"model.eval().load_state_dict(torch.load({where}, weights_only=True))"
    small = image_size <= ResNetEncoder.SMALL_STEM_MAX
    stem = (f"; model.conv1 = torch.nn.Conv2d({in_channels}, 64, 3, 1, 1, bias=False); "
            f"model.maxpool = torch.nn.Identity()")
    if fmt == "torchvision":
        build = f"import torch, torchvision; model = torchvision.models.{name}()"
        if small:
            build += stem
        elif in_channels != 3:
            build += f"; model.conv1 = torch.nn.Conv2d({in_channels}, 64, 7, 2, 3, bias=False)"
        build += "; model.fc = torch.nn.Identity()"
        return build, f"model.eval().load_state_dict(torch.load({where}, weights_only=True))"
    if fmt == "timm":
        build = (f"import torch, timm; model = timm.create_model({json.dumps(name)}, "
                 f"num_classes=0, in_chans={in_channels})")
        if small:
            build += stem
        return build, f"model.eval().load_state_dict(torch.load({where}, weights_only=True))"
    if fmt == "safetensors":
        return (f"import infomax; encoder = infomax.load_exported({where})",
                "features = encoder.embed(images)  # PIL images, uint8 tensors, file paths")
    if fmt == "onnx":
        return (f"import onnxruntime; session = onnxruntime.InferenceSession({where})",
                f'features = session.run(["features"], {{"images": images}})[0]  '
                f"# images: (B, {in_channels}, {image_size}, {image_size}) float32, normalized")
    raise InfomaxError(f"--format {fmt}: unknown; choose one of {', '.join(FORMATS)}")


def _require_onnx() -> None:
    missing = []
    for module in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise InfomaxError(f"--format onnx needs {' and '.join(missing)}, which "
                           f"{'is' if len(missing) == 1 else 'are'} not installed: "
                           f"{ONNX_INSTALL}")


class _Embed(nn.Module):
    """The encoder's ``embed`` as a module's forward, for the exporter."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder.embed(images)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _onnx_program(encoder: nn.Module, config: dict[str, Any]) -> Any:
    """The ONNX program (torch.onnx.ONNXProgram) of ``encoder.embed``: dynamo exporter,
    dynamic batch, the export's config in its metadata (``metadata_props["infomax"]``)."""
    module = _Embed(encoder).eval()
    c, s = config["in_channels"], config["image_size"]
    example = torch.randn(2, c, s, s, generator=torch.Generator().manual_seed(0))
    try:
        program = torch.onnx.export(module, (example,), input_names=["images"],
                                    output_names=["features"],
                                    dynamic_shapes=({0: torch.export.Dim("batch")},),
                                    dynamo=True, verbose=False)
    except Exception as e:
        raise InfomaxError(f"--format onnx: torch.onnx.export failed on the "
                           f"{config['encoder']} encoder ({_first_line(e)}); export it with "
                           f"--format safetensors instead") from None
    program.model.metadata_props[METADATA_KEY] = json.dumps(config)
    program.model.doc_string = (f"infomax {config['encoder']} encoder: images "
                                f"(B, {c}, {s}, {s}) -> features (B, {config['feature_dim']})")
    return program


def _weight_bytes(module: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


def _copy_into(path: Path, source: Path) -> None:
    """``source``'s bytes as ``path``, whole or not at all."""
    with open(source, "rb") as src:
        atomic_write(path, lambda f: shutil.copyfileobj(src, f, 1 << 20))


def _write_onnx(encoder: nn.Module, config: dict[str, Any], out: Path
                ) -> tuple[tuple[Path, ...], float]:
    """Export, check (``check_onnx``) and write the ONNX model of ``encoder`` as ``out``,
    its weights inside it, or beside it in ``<out>.data`` (ONNX's external data) when
    they pass ``ONNX_SINGLE_FILE_BYTES``. The files written and the check's largest
    difference; nothing is written where the check fails."""
    program = _onnx_program(encoder, config)
    external = _weight_bytes(encoder) > ONNX_SINGLE_FILE_BYTES
    out.parent.mkdir(parents=True, exist_ok=True)
    # Saved and checked under its final name (the model names its data file), in a
    # folder beside the target: onnxruntime reads the external data from there.
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as folder:
        model = Path(folder) / out.name
        try:
            program.save(model, external_data=external)
        except Exception as e:
            raise InfomaxError(f"--format onnx: the {config['encoder']} encoder's ONNX model "
                               f"cannot be written ({_first_line(e)}); export it with "
                               f"--format safetensors instead") from None
        difference = check_onnx(model, encoder, config["in_channels"], config["image_size"])
        data = sorted(p for p in Path(folder).iterdir() if p != model)
        for part in data:  # the weights first: the model file is written last
            _copy_into(out.parent / part.name, part)
        _copy_into(out, model)
    stale = out.with_name(out.name + ".data")
    if not data and stale.is_file():  # the weights of the model this one replaced
        stale.unlink()
    return (out, *(out.parent / p.name for p in data)), difference


def check_onnx(model: str | Path | bytes, encoder: nn.Module, in_channels: int,
               image_size: int,
               batch: int = ONNX_CHECK_BATCH, tolerance: float = ONNX_TOLERANCE) -> float:
    """Run the ONNX ``model`` (a file, or its bytes) with onnxruntime on a random batch and
    compare its features with ``encoder.embed``'s; the largest absolute difference, or InfomaxError where any
    differs by more than ``tolerance`` (relative and absolute) or the shapes differ."""
    import onnxruntime

    x = torch.randn(batch, in_channels, image_size, image_size,
                    generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        reference = encoder.embed(x).float().cpu().numpy()
    source = model if isinstance(model, bytes) else str(model)
    session = onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"])
    out = session.run(["features"], {"images": x.numpy()})[0]
    if out.shape != reference.shape:
        raise InfomaxError(f"--format onnx: onnxruntime gives features of shape "
                           f"{out.shape}, torch {reference.shape}; nothing written")
    difference = float(np.abs(out - reference).max())
    if not np.allclose(out, reference, rtol=tolerance, atol=tolerance):
        raise InfomaxError(f"--format onnx: onnxruntime's features differ from torch's by up "
                           f"to {difference:.3g} (more than {tolerance:g}) on a random batch; "
                           f"nothing written; use --format safetensors")
    return difference


def export_encoder(checkpoint: str | Path, output: str | Path, fmt: str) -> ExportResult:
    """Write the encoder of ``checkpoint`` to ``output`` in format ``fmt`` (one of
    ``FORMATS``; see the module docstring). InfomaxError (one line) for a format the
    encoder has not, missing ONNX packages, or an ONNX model that does not reproduce the
    encoder."""
    if fmt not in FORMATS:
        raise InfomaxError(f"--format {fmt}: unknown; choose one of {', '.join(FORMATS)}")
    if fmt == "onnx":
        _require_onnx()
    out = Path(output)
    method = load_method(checkpoint)
    encoder = method.encoder.eval()
    config = encoder_config(method, checkpoint)
    name, c, s = config["encoder"], config["in_channels"], config["image_size"]
    files: tuple[Path, ...] = (out,)
    difference = None
    if fmt in ("torchvision", "timm"):
        weights = resnet_weights(encoder, fmt, name)
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_save(weights, out)
    elif fmt == "safetensors":
        from safetensors.torch import save

        tensors = {k: v.detach().contiguous() for k, v in encoder.state_dict().items()}
        data = save(tensors, metadata={METADATA_KEY: json.dumps(config)})
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out, data)
        atomic_write_text(sidecar_path(out), json.dumps(config, indent=2) + "\n")
        files = (out, sidecar_path(out))
    else:
        files, difference = _write_onnx(encoder, config, out)
    description = (f"(B, {c}, {s}, {s}) float32, the test view: "
                   f"{config['preprocessing']['description']}")
    extra = _timm_arguments(encoder) if fmt == "timm" and is_timm(name) else ""
    return ExportResult(out, fmt, files, loading_code(fmt, name, c, s, out, extra),
                        description, difference)


def load_exported(path: str | Path, device: str | torch.device | None = None
                  ) -> PretrainedEncoder:
    """The encoder of a safetensors file written by ``infomax export --format
    safetensors``, rebuilt from the config in its metadata, with its test view: the
    ``PretrainedEncoder`` that ``infomax.load_encoder`` gives for the checkpoint (its
    ``config`` is the export's JSON config). ``device`` as for ``load_encoder``."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    target = None if device is None else resolve_device(device, flag="device")
    if not path.is_file():
        raise InfomaxError(f"{path} does not exist; pass a .safetensors file written by "
                           f"'infomax export --format safetensors'")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(str(path))
    except Exception as e:
        raise InfomaxError(f"{path} cannot be read as a safetensors file "
                           f"({_first_line(e)})") from None
    text = metadata.get(METADATA_KEY)
    try:
        config = json.loads(text) if text is not None else None
    except ValueError:
        config = None
    if not isinstance(config, dict) or config.get("format") != CONFIG_FORMAT:
        raise InfomaxError(f"{path} holds no infomax encoder config; it was not written by "
                           f"'infomax export --format safetensors'")
    if int(config.get("format_version", 0)) > CONFIG_VERSION:
        raise InfomaxError(f"{path} was written by infomax {config.get('infomax_version')} "
                           f"(export format {config['format_version']}); upgrade infomax "
                           f"to read it")
    name, c, s = config["encoder"], int(config["in_channels"]), int(config["image_size"])
    try:
        build = encoder_builder(name)
    except InfomaxError:
        raise InfomaxError(f"{path}: encoder {name!r} is not one this infomax has "
                           f"({ENCODERS.choices()}, or timm:<name>)") from None
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    model = ModelConfig(**{k: v for k, v in config["model"].items() if k in known})
    encoder = build(c, s, model)
    try:
        encoder.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        raise InfomaxError(f"{path}: the weights do not fit the {name} encoder its config "
                           f"describes ({_first_line(e)})") from None
    pre = config["preprocessing"]
    info = DatasetInfo(str(config.get("data", "")), int(pre["image_size"]),
                       int(pre["channels"]), 0, tuple(pre["mean"]), tuple(pre["std"]),
                       bool(pre["pad_to_32"]))
    wrapper = PretrainedEncoder(encoder, info, ViewsConfig(fit=pre["fit"]), config=config,
                                channels_last=bool(config.get("channels_last", False)))
    return wrapper.to(target) if target is not None else wrapper
