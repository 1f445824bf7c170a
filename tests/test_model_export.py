"""``infomax export`` to torchvision, timm and safetensors: each loaded into its target
library (torchvision, timm, ``infomax.load_exported``) gives the original encoder's
embeddings to 1e-5; the printed Python lines are executed; the refusals are one line.
ONNX: tests/test_onnx_export.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import infomax
from infomax.cli import EXPORT_FORMATS, main
from infomax.errors import InfomaxError
from infomax.eval.model_export import FORMATS, loading_code, resnet_weights
from infomax.nn.encoders import ResNetEncoder
from infomax.runs import load_method

pytestmark = pytest.mark.usefixtures("one_thread")
TOL = {"rtol": 1e-5, "atol": 1e-5}


def export(checkpoint, fmt, out, capfd) -> list[str]:
    """Run 'infomax export'; the lines it printed."""
    capfd.readouterr()
    rc = main(["export", str(checkpoint), "--format", fmt, "-o", str(out)])
    stdout, err = capfd.readouterr()
    assert rc == 0, err
    assert err == ""
    return stdout.splitlines()


def code(lines: list[str]) -> list[str]:
    """The Python lines printed after 'load it with:'."""
    return lines[lines.index("load it with:") + 1:]


def batch(encoder, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, encoder.in_channels, encoder.image_size, encoder.image_size,
                       generator=g)


def test_the_cli_offers_the_formats_the_library_writes():
    assert EXPORT_FORMATS == FORMATS


@pytest.mark.parametrize("fmt", ["torchvision", "timm"])
@pytest.mark.parametrize("run", ["tiny_resnet_run", "tiny_resnet_rgb_run"])
def test_resnet_weights_load_strictly_into_the_library_from_the_printed_lines(
        fmt, run, request, tmp_path, capfd):
    import timm
    import torchvision

    ckpt = request.getfixturevalue(run) / "last.ckpt"
    encoder = load_method(ckpt).encoder.eval()
    out = tmp_path / f"{fmt}.pt"
    lines = export(ckpt, fmt, out, capfd)
    assert lines[0].startswith(f"wrote {out}: weights under {fmt}'s names")
    assert lines[1].startswith(f"input: (B, {encoder.in_channels}, 32, 32) float32")
    build, load = code(lines)
    namespace: dict = {}
    exec(build, namespace)
    exec(load, namespace)  # load_state_dict's default: strict=True
    model = namespace["model"]
    assert isinstance(model, torchvision.models.ResNet if fmt == "torchvision"
                      else timm.models.ResNet)
    assert not model.training
    state = torch.load(out, weights_only=True)
    assert set(state) == set(model.state_dict()) and not any(k.startswith("fc.") for k in state)
    assert state["conv1.weight"].shape == (64, encoder.in_channels, 3, 3)
    x = batch(encoder, 5)
    with torch.no_grad():
        torch.testing.assert_close(model(x), encoder.embed(x), **TOL)


@pytest.mark.parametrize("fmt", ["torchvision", "timm"])
@pytest.mark.parametrize("channels", [1, 3])
def test_the_standard_stem_above_64_px(fmt, channels, tmp_path):
    torch.manual_seed(0)
    encoder = ResNetEncoder("resnet18", channels, 72)
    with torch.no_grad():  # BatchNorm statistics other than their initial ones
        encoder.train()(torch.randn(4, channels, 72, 72))
    encoder.eval()
    path = tmp_path / "w.pt"
    torch.save(resnet_weights(encoder, fmt), path)
    build, load = loading_code(fmt, "resnet18", channels, 72, path)
    assert "maxpool" not in build
    assert ("Conv2d" in build) == (fmt == "torchvision" and channels != 3)
    namespace: dict = {}
    exec(build, namespace)
    exec(load, namespace)
    x = torch.randn(3, channels, 72, 72)
    with torch.no_grad():
        torch.testing.assert_close(namespace["model"](x), encoder.embed(x), **TOL)


@pytest.mark.parametrize("fmt", ["torchvision", "timm"])
def test_amdim_has_no_torchvision_or_timm_weights(tiny_run, fmt, tmp_path, capfd):
    out = tmp_path / "w.pt"
    capfd.readouterr()
    rc = main(["export", str(tiny_run / "last.ckpt"), "--format", fmt, "-o", str(out)])
    err = capfd.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert f"--format {fmt}: the amdim encoder" in err
    assert "--format safetensors or --format onnx" in err
    assert not out.exists()


@pytest.mark.parametrize("run", ["tiny_run", "tiny_resnet_run"])
def test_safetensors_with_its_config_rebuild_the_encoder(run, request, tmp_path, capfd):
    from safetensors import safe_open

    ckpt = request.getfixturevalue(run) / "last.ckpt"
    method = load_method(ckpt)
    out = tmp_path / "encoder.safetensors"
    lines = export(ckpt, "safetensors", out, capfd)
    sidecar = tmp_path / "encoder.safetensors.json"
    assert lines[0].startswith(f"wrote {out} and {sidecar}")
    config = json.loads(sidecar.read_text())
    with safe_open(str(out), framework="pt") as f:
        assert json.loads(f.metadata()["infomax"]) == config
        assert set(f.keys()) == set(method.encoder.state_dict())
    assert config["encoder"] == method.cfg.model.encoder == ("amdim" if run == "tiny_run"
                                                             else "resnet18")
    assert (config["in_channels"], config["image_size"]) == (1, 32)
    assert config["feature_dim"] == method.encoder.feature_dim
    assert config["model"]["encoder"] == config["encoder"]
    assert config["model"]["n_rkhs"] == method.cfg.model.n_rkhs
    assert config["infomax_version"] == infomax.__version__
    pre = config["preprocessing"]
    assert pre["mean"] == pytest.approx([0.2860]) and pre["std"] == pytest.approx([0.3530])
    assert pre["pad_to_32"] is True and pre["resize"] is None and pre["fit"] == "resize"

    exported = infomax.load_exported(out)
    original = infomax.load_encoder(ckpt)
    assert not exported.training and exported.config == config
    assert repr(exported.transform) == repr(original.transform)
    x = batch(method.encoder, 6)
    torch.testing.assert_close(exported.embed(x), original.embed(x), **TOL)
    # The printed lines, on images.
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8), "L"),
              Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8), "RGB")]
    namespace: dict = {"images": images}
    for line in code(lines):
        exec(line, namespace)
    torch.testing.assert_close(namespace["features"], original.embed(images), **TOL)


def test_load_exported_refuses_files_it_cannot_read(tmp_path):
    from safetensors.torch import save_file

    with pytest.raises(InfomaxError, match="does not exist"):
        infomax.load_exported(tmp_path / "none.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(InfomaxError, match="cannot be read as a safetensors file"):
        infomax.load_exported(tmp_path / "junk.safetensors")
    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(InfomaxError, match="holds no infomax encoder config"):
        infomax.load_exported(tmp_path / "other.safetensors")


def test_export_refuses_a_missing_checkpoint_and_an_unknown_format(tmp_path, capfd):
    capfd.readouterr()
    assert main(["export", str(tmp_path / "none.ckpt"), "--format", "safetensors",
                 "-o", str(tmp_path / "e.safetensors")]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err
    assert main(["export", str(tmp_path / "none.ckpt"), "--format", "keras",
                 "-o", str(tmp_path / "e")]) == 2
    assert "invalid choice: 'keras'" in capfd.readouterr().err
