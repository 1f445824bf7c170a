"""Backbones from timm (``model.encoder=timm:<name>``) and ``model.init_from``: the backbone
contract on CNNs and ViTs, the local map's stage, the names and sizes refused, every method
one step on a tiny timm model, weights started from timm, torchvision and infomax files,
and a timm run's checkpoint reloaded, probed and embedded without the network."""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import sys

import numpy as np
import pytest
import timm
import torch
import torchvision
from safetensors.torch import save_file

from conftest import tiny_args
from infomax.cli import main
from infomax.config import make_config
from infomax.errors import ConfigError, InfomaxError
from infomax.methods import METHODS, Batch
from infomax.nn import timm_backbones
from infomax.nn.global_bn import GlobalBatchNormAct, convert_global_batchnorm
from infomax.nn.encoders import (ResNetEncoder, build_encoder, check_image_size,
                                 is_fixed_input, takes_input_size)
from infomax.nn.timm_backbones import TimmEncoder, local_stage
from infomax.runs import init_backbones, load_method, read_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

# A tiny ResNet (0.37 M parameters) and a tiny ViT (patch 16, 64-d) that timm ships for
# tests.
CNN, VIT = "timm:test_resnet", "timm:test_vit"
SMALL = {"cmc": ["cmc.split=views", "cmc.num_negatives=8", "cmc.embed_dim=16"],
         "moco": ["moco.queue_size=16", "moco.hidden_dim=32", "moco.embed_dim=16"],
         "simclr": ["simclr.hidden_dim=32", "simclr.embed_dim=16"],
         "byol": ["byol.hidden_dim=32", "byol.proj_dim=16"],
         "instdisc": ["instdisc.num_negatives=8", "instdisc.embed_dim=16"],
         "dim": ["dim.embed_dim=16"], "cpc": ["cpc.context_dim=16"],
         "swav": ["swav.hidden_dim=32", "swav.embed_dim=16", "swav.nmb_prototypes=16"]}
FAMILY = [m for m in METHODS.names() if m != "amdim"]


def _method(method: str, encoder: str, channels: int = 1, size: int = 32, *extra: str):
    torch.manual_seed(0)
    cfg = make_config("fmnist-tiny", [f"method={method}", f"model.encoder={encoder}",
                                      "train.channels_last=false", *SMALL.get(method, []),
                                      *extra])
    return METHODS[method](cfg, num_classes=10, in_channels=channels, image_size=size)


def _step(model, channels: int = 1, size: int = 32) -> float:
    """One SGD step of the method's loss (and its probes') on a random batch of 4."""
    if hasattr(model, "init_memory"):
        model.init_memory(32)
    g = torch.Generator().manual_seed(1)
    views = tuple(torch.randn(4, channels, size, size, generator=g) for _ in range(2))
    batch = Batch(views, torch.arange(4))
    if model.needs_index:
        batch.index = torch.tensor([0, 5, 9, 30])
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    out = model.compute_losses(batch)
    (out.ssl + out.probe).backward()
    opt.step()
    return float(out.ssl.detach())


def _backbone_params(model) -> dict[str, torch.Tensor]:
    return {f"{i}.{k}": v.detach().clone() for i, b in enumerate(model.backbones)
            for k, v in b.named_parameters()}


# ---------------------------------------------------------------------- the backbone contract

def test_a_timm_cnn_gives_its_pooled_output_and_a_finer_stage_as_local_map():
    enc = TimmEncoder("test_resnet", in_channels=1, image_size=32).eval()
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        g, local = enc.forward_features(x)
        # timm's own features: the pooled output without a classifier, and the stage maps.
        ref = enc.model(x)
        _, maps = enc.model.forward_intermediates(x)
    assert enc.feature_dim == enc.model.num_features == 96 and g.shape == (2, 96)
    torch.testing.assert_close(g, ref)
    torch.testing.assert_close(enc.embed(x), g)
    # Stages at 32 px: 16, 8, 4, 2, 1 a side; the local map is the stride-8 one (4x4).
    assert [m.shape[-1] for m in maps] == [16, 8, 4, 2, 1]
    assert local.shape == (2, enc.local_dim, 4, 4) and enc.local_size == 4
    assert enc.local_dim == enc.model.feature_info[2]["num_chs"]
    torch.testing.assert_close(local, maps[2])
    # At 224 px the stride-16 stage (14x14), as the small-image ResNet's third stage.
    assert TimmEncoder("test_resnet", 3, 224).local_size == 14


def test_a_vit_local_map_is_its_patch_tokens_as_a_grid():
    enc = TimmEncoder("test_vit", in_channels=3, image_size=64).eval()
    x = torch.randn(2, 3, 64, 64)
    seen = {}
    hook = enc.model.blocks[-1].register_forward_hook(lambda m, i, o: seen.update(out=o))
    with torch.no_grad():
        g, local = enc.forward_features(x)
    hook.remove()
    tokens = seen["out"][:, enc.model.num_prefix_tokens:]  # (B, 16, D): 4x4 patches of 16 px
    grid = tokens.reshape(2, 4, 4, -1).permute(0, 3, 1, 2)
    assert local.shape == (2, 64, 4, 4) and enc.local_dim == 64 and enc.local_size == 4
    torch.testing.assert_close(local, grid)
    with torch.no_grad():
        torch.testing.assert_close(g, enc.embed(x))
    assert g.shape == (2, enc.model.num_features)


def test_the_local_stage_rule():
    # The deepest stage finer than the last with at least 4x4...
    assert local_stage([(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]) == 2
    assert local_stage([(56, 56), (28, 28), (14, 14), (7, 7)]) == 2
    assert local_stage([(16, 16), (8, 8), (2, 2), (1, 1)]) == 1
    # ... else the deepest of the largest maps: a ViT's last block.
    assert local_stage([(2, 2)] * 6) == 5
    assert local_stage([(3, 3), (2, 2), (1, 1)]) == 0


def test_a_model_without_forward_intermediates_is_built_features_only(monkeypatch):
    def unsupported(self, *args, **kwargs):
        raise NotImplementedError

    monkeypatch.setattr(timm.models.resnet.ResNet, "forward_intermediates", unsupported)
    timm_backbones.layout.cache_clear()
    try:
        enc = TimmEncoder("test_resnet", in_channels=1, image_size=32).eval()
        x = torch.randn(2, 1, 32, 32)
        with torch.no_grad():
            g, local = enc.forward_features(x)
            maps = enc.model(x)
        assert not enc.intermediates and len(maps) == 2
        assert local.shape == (2, 48, 4, 4) and g.shape == (2, enc.feature_dim)
        torch.testing.assert_close(g, maps[-1].mean((2, 3)))
        torch.testing.assert_close(enc.embed(x), g)
    finally:
        timm_backbones.layout.cache_clear()


def test_global_batchnorm_keeps_the_activation_of_timm_batchnorm_layers():
    # EfficientNets apply their activations inside timm's BatchNormAct2d: the global
    # BatchNorm of data-parallel runs must keep them, under the same names.
    torch.manual_seed(0)
    enc = TimmEncoder("test_efficientnet", in_channels=3, image_size=32)
    twin = convert_global_batchnorm(copy.deepcopy(enc))
    kinds = {type(m).__name__ for m in twin.modules()}
    assert "GlobalBatchNormAct" in kinds and "BatchNormAct2d" not in kinds
    assert any(isinstance(m, GlobalBatchNormAct) and not isinstance(m.act, torch.nn.Identity)
               for m in twin.modules())
    assert list(twin.state_dict()) == list(enc.state_dict())
    x = torch.randn(4, 3, 32, 32)
    torch.testing.assert_close(twin.embed(x), enc.embed(x))  # batch statistics, one process


# ---------------------------------------------------------------------- names and sizes

def test_an_unknown_timm_name_is_refused_with_close_matches():
    with pytest.raises(ConfigError) as e:
        make_config("fmnist-tiny", ["method=simclr", "model.encoder=timm:resnet10x"])
    text = str(e.value)
    assert "\n" not in text and "model.encoder" in text and "'resnet10x'" in text
    assert "timm:resnet101" in text and "timm.list_models()" in text


def test_a_pretrained_tag_is_refused_with_the_way_to_local_weights():
    with pytest.raises(ConfigError, match=r"timm:resnet18\.a1_in1k names pretrained weights.*"
                                          r"timm:resnet18 with model\.init_from"):
        make_config("fmnist-tiny", ["method=simclr", "model.encoder=timm:resnet18.a1_in1k"])


def test_an_unregistered_name_timm_knows_points_to_timm():
    with pytest.raises(ConfigError, match=r"'vgg16' is not valid \(timm:vgg16 for timm's\)"):
        make_config("fmnist-tiny", ["method=simclr", "model.encoder=vgg16"])


def test_amdim_refuses_a_timm_encoder():
    with pytest.raises(ConfigError, match="cannot run method amdim"):
        make_config("fmnist-tiny", [f"model.encoder={CNN}"])


def test_fixed_input_models_take_their_own_size_only():
    # test_vit resizes its position embedding (dynamic_img_size); test_vit_relpos does not.
    assert not is_fixed_input(CNN) and not is_fixed_input(VIT)
    assert is_fixed_input("timm:test_vit_relpos")
    assert not takes_input_size("timm:test_vit_relpos", 64, 32)
    assert takes_input_size("timm:test_vit_relpos", 64, 64)
    # A CNN takes any size down to its output stride (32).
    assert takes_input_size(CNN, 64, 32) and not takes_input_size(CNN, 64, 16)
    with pytest.raises(ConfigError, match=r"any size >= 32 \(its output stride\) px images"):
        check_image_size(CNN, 16)


def test_dim_refuses_a_local_map_under_4x4_in_one_line():
    with pytest.raises(ConfigError) as e:
        _method("dim", VIT)  # 32 px: 2x2 patches of 16 px
    text = str(e.value)
    assert "\n" not in text and "2x2 local map" in text and "at least 4x4" in text
    assert "data.image_size to 64" in text


def test_a_model_that_cannot_take_the_size_is_refused_in_one_line():
    with pytest.raises(ConfigError) as e:
        TimmEncoder("test_vit_relpos", 3, 8)  # a patch of 16 px does not fit
    text = str(e.value)
    assert "\n" not in text and "timm:test_vit_relpos cannot be built" in text
    assert "data.image_size" in text and "160 px" in text


@pytest.mark.slow
def test_timm_is_imported_only_when_a_timm_encoder_is_used():
    code = ("import sys\n"
            "from infomax.config import make_config\n"
            "from infomax.methods import METHODS\n"
            "cfg = make_config('fmnist-tiny', ['method=simclr', 'model.encoder=resnet18'])\n"
            "METHODS['simclr'](cfg, 10, 1, 32)\n"
            "assert 'timm' not in sys.modules, 'timm imported'\n"
            "make_config('fmnist-tiny', ['method=simclr', 'model.encoder=timm:test_resnet'])\n"
            "assert 'timm' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ---------------------------------------------------------------------- training a step

@pytest.mark.parametrize("method", FAMILY)
def test_every_method_trains_a_step_on_a_timm_cnn(method):
    model = _method(method, CNN)
    assert all(isinstance(b, TimmEncoder) for b in model.backbones) and model.backbones
    before = _backbone_params(model)
    loss = _step(model)
    assert np.isfinite(loss)
    after = _backbone_params(model)
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_cmc_lab_builds_one_and_two_channel_timm_models():
    model = _method("cmc", CNN, 3, 32, "cmc.split=lab")
    assert [b.in_channels for b in model.backbones] == [1, 2]
    before = _backbone_params(model)
    assert np.isfinite(_step(model, channels=3))
    after = _backbone_params(model)
    for i in (0, 1):  # both encoders learn
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(f"{i}."))


@pytest.mark.parametrize("method", ["simclr", "cpc"])
def test_a_vit_trains_a_step(method):
    model = _method(method, VIT)
    before = _backbone_params(model)
    assert np.isfinite(_step(model))
    after = _backbone_params(model)
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_dim_trains_on_a_vit_at_64px():
    model = _method("dim", VIT, 1, 64)
    assert model.encoder.local_size == 4
    before = _backbone_params(model)
    assert np.isfinite(_step(model, size=64))
    assert any(not torch.equal(v, _backbone_params(model)[k]) for k, v in before.items())


def test_cpc_resizes_its_patches_for_a_fixed_input_vit():
    model = _method("cpc", "timm:test_vit_relpos")
    assert model.encoder.resize_to == 32
    assert _method("cpc", VIT).encoder.resize_to is None


# ---------------------------------------------------------------------- model.init_from

def _timm_state(name: str, channels: int = 3) -> dict[str, torch.Tensor]:
    torch.manual_seed(123)
    return timm.create_model(name, pretrained=False, in_chans=channels).state_dict()


@pytest.mark.parametrize("kind", ["pth", "safetensors"])
def test_init_from_a_timm_state_dict(kind, tmp_path):
    state = _timm_state("test_resnet")  # with its classifier (fc), which has nowhere to go
    path = tmp_path / f"weights.{kind}"
    if kind == "pth":
        torch.save(state, path)
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    model = _method("simclr", CNN, 3)
    line = init_backbones(model, path)
    own = model.encoder.model.state_dict()
    assert set(own) == set(state) - {"fc.weight", "fc.bias"}
    for k, v in own.items():
        torch.testing.assert_close(v, state[k], rtol=0, atol=0)
    assert line == f"{path}: loaded {len(own)} tensors"


def test_init_from_skips_the_tensors_of_another_shape_and_names_them(tmp_path):
    path = tmp_path / "weights.pth"
    state = _timm_state("test_resnet")
    torch.save(state, path)
    model = _method("simclr", CNN, 1)  # one channel: the first convolution differs
    first = model.encoder.model.conv1[0].weight.detach().clone()
    line = init_backbones(model, path)
    assert "skipped conv1.0.weight (shape (16, 1, 3, 3) here, (16, 3, 3, 3) in the file)" in line
    assert f"loaded {len(state) - 3} tensors" in line and "\n" not in line
    torch.testing.assert_close(model.encoder.model.conv1[0].weight, first, rtol=0, atol=0)
    torch.testing.assert_close(model.encoder.model.layer4[0].conv1.weight,
                               state["layer4.0.conv1.weight"], rtol=0, atol=0)


def _torchvision_resnet18(tmp_path):
    torch.manual_seed(7)
    state = torchvision.models.resnet18(weights=None).state_dict()
    path = tmp_path / "resnet18-tv.pth"
    torch.save(state, path)
    return state, path


def test_init_from_a_torchvision_resnet_into_timm_and_infomax_resnets(tmp_path):
    state, path = _torchvision_resnet18(tmp_path)
    # timm's resnet18 has torchvision's names: everything but the classifier loads.
    model = _method("byol", "timm:resnet18", 3, 64)
    line = init_backbones(model, path)
    own = model.encoder.model.state_dict()
    assert line == f"{path}: loaded {len(own)} tensors" and len(own) == len(state) - 2
    for k, v in own.items():
        torch.testing.assert_close(v, state[k], rtol=0, atol=0)
    # BYOL's target network starts as the loaded encoder, as it starts as the random one.
    for k, v in model.target_encoder.state_dict().items():
        torch.testing.assert_close(v, model.encoder.state_dict()[k], rtol=0, atol=0)

    # infomax's small-image ResNet: stem.0 is conv1 (3x3 here, 7x7 there), stem.4 layer1.
    small = _method("simclr", "resnet18", 1, 32)
    line = init_backbones(small, path)
    assert "skipped conv1.weight (shape (64, 1, 3, 3) here, (64, 3, 7, 7) in the file)" in line
    enc = small.encoder
    assert isinstance(enc, ResNetEncoder)
    torch.testing.assert_close(enc.stem[1].weight, state["bn1.weight"], rtol=0, atol=0)
    torch.testing.assert_close(enc.stem[4][0].conv1.weight, state["layer1.0.conv1.weight"],
                               rtol=0, atol=0)
    torch.testing.assert_close(enc.stem[6][1].bn2.running_var, state["layer3.1.bn2.running_var"],
                               rtol=0, atol=0)
    torch.testing.assert_close(enc.layer4[1].conv2.weight, state["layer4.1.conv2.weight"],
                               rtol=0, atol=0)
    # At 128 px the ImageNet stem stays: all of it loads.
    large = build_encoder("resnet18", 3, 128)
    from infomax.nn.weights import load_matching

    report = load_matching(large, state, "tv")
    assert report.loaded == len(state) - 2 and not report.skipped and not report.missing
    torch.testing.assert_close(large.stem[0].weight, state["conv1.weight"], rtol=0, atol=0)


def test_init_from_a_file_of_another_architecture_is_one_line(tmp_path):
    _, path = _torchvision_resnet18(tmp_path)
    with pytest.raises(InfomaxError) as e:
        init_backbones(_method("simclr", VIT), path)
    text = str(e.value)
    assert "\n" not in text and "no tensor of" in text and "matches the encoder" in text


def test_init_from_a_missing_or_unreadable_file_is_one_line(tmp_path):
    with pytest.raises(InfomaxError, match="does not exist"):
        init_backbones(_method("simclr", CNN), tmp_path / "none.pth")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(InfomaxError, match="cannot read") as e:
        init_backbones(_method("simclr", CNN), bad)
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="model.init_from: 'w.onnx' is not a file it reads"):
        make_config("fmnist-tiny", ["method=simclr", "model.init_from=w.onnx"])


def test_init_from_an_amdim_run_starts_another_method_on_its_encoder(tiny_run):
    # The fixtures' run is AMDIM: its encoder starts a SimCLR model on the AMDIM encoder.
    ckpt = tiny_run / "last.ckpt"
    model = _method("simclr", "amdim", 1, 32, "model.ndf=8", "model.n_rkhs=32",
                    "model.n_depth=1")
    line = init_backbones(model, ckpt)
    saved = {k[len("encoder."):]: v for k, v in read_checkpoint(ckpt)["state_dict"].items()
             if k.startswith("encoder.")}
    own = model.encoder.state_dict()
    assert set(own) == set(saved) and line == f"{ckpt}: loaded {len(own)} tensors"
    for k, v in own.items():
        torch.testing.assert_close(v, saved[k], rtol=0, atol=0)


# ---------------------------------------------------------------------- a timm run end to end

RUN = ["method=simclr", f"model.encoder={CNN}", *SMALL["simclr"], "train.limit_train_batches=2"]


@pytest.fixture(scope="module")
def timm_run(fake_fmnist_session, tmp_path_factory, module_registry):
    out = tmp_path_factory.mktemp("timm-runs")
    assert main(tiny_args(fake_fmnist_session, out, *RUN)) == 0
    return out / "tiny"


def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.slow
def test_a_timm_run_reloads_probes_and_embeds_without_the_network(timm_run, monkeypatch,
                                                                   fake_fmnist_session,
                                                                   tmp_path, capfd):
    _no_network(monkeypatch)
    model = load_method(timm_run / "last.ckpt")
    assert isinstance(model.encoder, TimmEncoder) and model.encoder.name == "test_resnet"
    saved = read_checkpoint(timm_run / "last.ckpt")["state_dict"]
    torch.testing.assert_close(model.encoder.model.conv1[0].weight,
                               saved["encoder.model.conv1.0.weight"], rtol=0, atol=0)
    out = tmp_path / "probe.json"
    assert main(["probe", str(timm_run / "last.ckpt"), "--data-dir", str(fake_fmnist_session),
                 "--epochs", "1", "--workers", "0", "--no-cache", "-o", str(out),
                 "--no-progress"]) == 0
    assert 0.0 <= json.loads(out.read_text())["linear"]["top1"] <= 1.0
    npz = tmp_path / "e.npz"
    assert main(["embed", str(timm_run / "last.ckpt"), "--data-dir", str(fake_fmnist_session),
                 "--split", "test", "-o", str(npz), "--workers", "0", "--no-progress"]) == 0
    with np.load(npz) as f:
        assert f["features"].shape == (64, model.encoder.feature_dim)


@pytest.mark.slow
def test_a_new_run_starts_from_init_from_once_and_a_resume_keeps_its_own(
        timm_run, fake_fmnist_session, module_registry, tmp_path, capfd):
    # A BYOL run started from the SimCLR run's encoder, at rate 0 so that its step keeps
    # the weights it started from: its config records the file, and a resume does not read
    # the file again.
    source = tmp_path / "source.ckpt"
    source.write_bytes((timm_run / "last.ckpt").read_bytes())
    args = tiny_args(fake_fmnist_session, tmp_path, "method=byol", f"model.encoder={CNN}",
                     *SMALL["byol"], "train.limit_train_batches=1", "optim.lr=0",
                     f"model.init_from={source}")
    capfd.readouterr()
    assert main(args) == 0
    err = capfd.readouterr().err
    (line,) = [ln for ln in err.splitlines() if "model.init_from" in ln]
    assert line.startswith(f"infomax: model.init_from {source}: loaded ")
    run = tmp_path / "tiny"
    assert f"init_from: {source}" in (run / "config.yaml").read_text()
    there = read_checkpoint(source)["state_dict"]
    here = read_checkpoint(run / "last.ckpt")["state_dict"]
    params = [k for k in here if k.startswith("encoder.") and k.endswith(".weight")]
    assert len(params) > 10
    for k in params:
        torch.testing.assert_close(here[k], there[k], rtol=0, atol=0)
        # The target moved by its EMA toward the same weights: equal up to rounding.
        torch.testing.assert_close(here["target_" + k], there[k], rtol=1e-6, atol=1e-7)
    source.unlink()  # a resume must not need it
    assert main([*args, "train.epochs=2", "--resume"]) == 0
    assert "model.init_from" not in capfd.readouterr().err
    assert read_checkpoint(run / "last.ckpt")["global_step"] == 2


@pytest.mark.slow
def test_a_timm_run_exports_to_timm_and_safetensors(timm_run, tmp_path, capfd):
    # --format timm: the timm model's own state_dict, loaded strictly into the model the
    # printed lines build; --format safetensors: rebuilt through timm by load_exported.
    import infomax

    ckpt = timm_run / "last.ckpt"
    encoder = load_method(ckpt).encoder.eval()
    x = torch.randn(3, encoder.in_channels, encoder.image_size, encoder.image_size)
    with torch.no_grad():
        expected = encoder.embed(x)
    out = tmp_path / "timm.pt"
    capfd.readouterr()
    assert main(["export", str(ckpt), "--format", "timm", "-o", str(out)]) == 0
    lines = capfd.readouterr().out.splitlines()
    build, load = lines[lines.index("load it with:") + 1:]
    assert '"test_resnet", num_classes=0, in_chans=1' in build
    namespace: dict = {}
    exec(build, namespace)
    exec(load, namespace)  # strict=True
    with torch.no_grad():
        torch.testing.assert_close(namespace["model"](x), expected, rtol=1e-5, atol=1e-5)
    st = tmp_path / "enc.safetensors"
    assert main(["export", str(ckpt), "--format", "safetensors", "-o", str(st)]) == 0
    torch.testing.assert_close(infomax.load_exported(st).embed(x), expected,
                               rtol=1e-5, atol=1e-5)


def test_the_timm_loading_line_of_a_vit_gives_the_size_it_was_built_for():
    from infomax.eval.model_export import _timm_arguments, loading_code

    enc = TimmEncoder("test_vit", in_channels=3, image_size=64)
    extra = _timm_arguments(enc)
    assert extra == ", img_size=64"
    build, _ = loading_code("timm", VIT, 3, 64, "f.pt", extra)
    namespace: dict = {}
    exec(build, namespace)
    namespace["model"].load_state_dict(enc.model.state_dict())  # strict: same architecture


def test_torchvision_export_of_a_timm_encoder_points_to_the_timm_format():
    from infomax.eval.model_export import resnet_weights

    with pytest.raises(InfomaxError, match="--format timm or --format safetensors"):
        resnet_weights(TimmEncoder("test_resnet", 1, 32), "torchvision", CNN)
