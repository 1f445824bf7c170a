"""Transfer across input shapes: a data set whose images have another channel count or
size than the encoder's input is converted by the documented rule (3 -> 1 channels to
luminance, 1 -> 3 repeated, another size resized bilinearly after the data set's own test
view, normalized with the data set's own statistics converted for the channels), and the
probe's JSON says so; any other channel count is refused in one line naming both shapes."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

import infomax
from conftest import write_cifar, write_stl
from infomax.cli import main
from infomax.data import registry
from infomax.data.registry import DataSetEntry, DatasetInfo, Layout, dataset_info
from infomax.data.views import ResizeTo, adapted_test_view, test_view
from infomax.engine.probe import run_probe
from infomax.errors import ConfigError
from infomax.eval.features import checkpoint_features, probe_input
from infomax.runs import load_method
from test_probe_device import old_extract_features

pytestmark = pytest.mark.usefixtures("one_thread")

CIFAR = dataset_info("cifar10")
FMNIST = dataset_info("fashion-mnist")


def _normalized(img: torch.Tensor, mean, std) -> torch.Tensor:
    return TF.normalize(TF.to_dtype(img, torch.float32, scale=True), list(mean), list(std))


# ----------------------------------------------------------------------------- the views


def test_rgb_for_a_gray_encoder_is_luma_with_the_channel_mean_of_its_statistics():
    g = torch.Generator().manual_seed(0)
    img = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8, generator=g)
    mean, std = (sum(CIFAR.mean) / 3,), (sum(CIFAR.std) / 3,)
    view = adapted_test_view(CIFAR, 1, 32, mean, std)
    luma = TF.rgb_to_grayscale(img, num_output_channels=1)  # ITU-R BT.601 weights
    assert torch.equal(view(img), _normalized(luma, mean, std))
    # A gray picture stored as RGB keeps its gray value exactly.
    gray = img[:1].expand(3, -1, -1)
    assert torch.equal(view(gray), _normalized(img[:1], mean, std))


def test_gray_for_a_colour_encoder_of_another_size_is_repeated_then_resized():
    g = torch.Generator().manual_seed(1)
    img = torch.randint(0, 256, (1, 28, 28), dtype=torch.uint8, generator=g)
    mean, std = FMNIST.mean * 3, FMNIST.std * 3
    view = adapted_test_view(FMNIST, 3, 64, mean, std)
    padded = TF.pad(img, [2])  # Fashion-MNIST's own test view: 28 -> 32 with zeros
    resized = TF.resize(padded.expand(3, -1, -1), [64, 64],
                        interpolation=InterpolationMode.BILINEAR, antialias=True)
    out = view(img)
    assert out.shape == (3, 64, 64) and torch.equal(out, _normalized(resized, mean, std))
    assert torch.equal(out[0], out[1]) and torch.equal(out[1], out[2])
    assert "ResizeTo(size=64, bilinear, antialias)" in repr(view)
    assert torch.equal(ResizeTo(32)(padded), padded)  # the right size passes unchanged


def _model(preset: str, channels: int, size: int) -> SimpleNamespace:
    """What probe_input reads of a loaded method: its config and its input shape."""
    return SimpleNamespace(cfg=infomax.load_config(preset=preset), in_channels=channels,
                           image_size=size)


def test_the_rule_for_each_pair_of_shapes(tmp_path):
    model = _model("cifar10-small", 3, 32)
    root = str(tmp_path)
    _, a = probe_input(model, "fashion-mnist", root)
    assert (a.channels, a.resize, a.statistics) == ("replicated", "none", "own, repeated")
    assert a.mean == FMNIST.mean * 3 and a.std == FMNIST.std * 3 and a.adapted
    _, a = probe_input(model, "stl10", root)  # 64 px views for a 32 px encoder
    assert (a.channels, a.resize, a.statistics) == ("kept", "bilinear", "own")
    assert a.mean == dataset_info("stl10").mean and a.adapted
    assert "resized from 64 to 32 px (bilinear, antialiased)" in a.rule()
    _, a = probe_input(model, "cifar100", root)  # the same shape: nothing converted
    assert not a.adapted and (a.channels, a.resize, a.statistics) == ("kept", "none", "own")
    _, a = probe_input(model, None, root)  # the run's own data
    assert not a.adapted and a.statistics == "pretraining"
    gray = _model("fmnist-tiny", 1, 32)
    _, a = probe_input(gray, "cifar10", root)
    assert (a.channels, a.resize, a.statistics) == ("luma", "none", "own, averaged over channels")
    assert a.mean == pytest.approx((sum(CIFAR.mean) / 3,))
    assert a.as_dict()["data"] == [3, 32] and a.as_dict()["encoder"] == [1, 32]


def _toy_entry(channels: int) -> DataSetEntry:
    info = DatasetInfo(f"toy{channels}", 32, channels, 10, (0.5,) * channels,
                       (0.25,) * channels, False)
    return DataSetEntry(info, Layout("Toy", {"train": ("x",), "test": ("x",),
                                             "pretrain": ("x",)}, False, "nowhere"),
                        reader=None, download=None)


def test_other_channel_counts_are_refused_naming_both_shapes(tmp_path, monkeypatch):
    monkeypatch.setitem(registry.DATASETS, "toy4", _toy_entry(4))
    with pytest.raises(ConfigError) as err:
        probe_input(_model("fmnist-tiny", 1, 32), "toy4", str(tmp_path))
    assert str(err.value) == (
        "data set toy4 gives 4-channel 32 px images but the encoder takes 1-channel 32 px "
        "input; only 3 channels to 1 (luma) and 1 to 3 (repeated) are converted, so probe it "
        "on 1-channel or 3-channel data")
    with pytest.raises(ConfigError, match="takes 3-channel 32 px input;.* on 1-channel or "
                                          "3-channel data$"):
        probe_input(_model("cifar10-small", 3, 32), "toy4", str(tmp_path))


# ----------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_a_gray_fashion_mnist_encoder_probed_on_rgb_cifar(run_copy, capfd):
    root = run_copy.parent / "data"
    data = write_cifar(root, "cifar10", n_per_batch=6, n_test=8)  # 30 train, 8 test
    ckpt = run_copy / "last.ckpt"
    rc = main(["probe", str(ckpt), "--data", "cifar10", "--data-dir", str(root), "--protocol",
               "linear", "knn", "--epochs", "1", "--knn-k", "5", "--no-progress"])
    out, err = capfd.readouterr()
    assert rc == 0, err
    res = json.loads((run_copy / "probe-last.json").read_text())
    assert res["transfer"] and (res["train_images"], res["test_images"]) == (30, 8)
    shape = res["input"]
    assert shape["adapted"] and shape["data"] == [3, 32] and shape["encoder"] == [1, 32]
    assert (shape["channels"], shape["resize"]) == ("luma", "none")
    assert shape["normalization"]["statistics"] == "own, averaged over channels"
    assert shape["normalization"]["mean"] == pytest.approx([sum(CIFAR.mean) / 3])
    assert "input: cifar10: 3-channel images of 32 px for an encoder of 1-channel 32 px " \
           "input; channels converted to luminance" in out
    # The features are the encoder's on those luma images.
    model = load_method(ckpt)
    img = torch.from_numpy(data["test"][0][:1].reshape(1, 3, 32, 32))
    x = _normalized(TF.rgb_to_grayscale(img, num_output_channels=1),
                    shape["normalization"]["mean"], shape["normalization"]["std"])
    with torch.inference_mode():
        want = model.encoder.eval().embed(x.contiguous(memory_format=torch.channels_last))
    test = checkpoint_features(ckpt, "test", "cifar10", str(root), progress=False, model=model)
    torch.testing.assert_close(test.features[:1], want.float(), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_a_32px_encoder_probed_on_64px_stl10(run_copy):
    root = run_copy.parent / "data"
    write_stl(root)  # 5 train, 4 test images of 96 px (64 px test views)
    res = run_probe(run_copy / "last.ckpt", data="stl10", data_dir=str(root),
                    protocols=["knn"], knn_k=3, progress=False, device="cpu")
    shape = res["input"]
    assert shape["data"] == [3, 64] and shape["encoder"] == [1, 32]
    assert (shape["channels"], shape["resize"]) == ("luma", "bilinear")
    assert "resized from 64 to 32 px (bilinear, antialiased)" in shape["rule"]
    assert res["feature_dim"] == 32 and res["test_images"] == 4


@pytest.mark.slow
def test_an_rgb_image_folder_of_another_size_is_seen_as_the_pretraining_images(run_copy):
    """Image folders have no size of their own: each image goes through the encoder's test
    view (as before), converted to the encoder's channels; the JSON records it."""
    folder = run_copy.parent / "shapes"
    rng = np.random.default_rng(0)
    for split, n in (("train", 4), ("val", 2)):
        for c in ("a", "b"):
            (folder / split / c).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / split / c / f"{i}.png")
    ckpt = run_copy / "last.ckpt"
    res = run_probe(ckpt, data=f"imagefolder:{folder}", protocols=["knn"], knn_k=3,
                    progress=False, device="cpu")
    shape = res["input"]
    assert shape["data"] == [3, "any"] and shape["encoder"] == [1, 32]
    assert (shape["channels"], shape["resize"]) == ("luma", "test view")
    assert shape["normalization"]["statistics"] == "pretraining"
    assert shape["normalization"]["mean"] == list(FMNIST.mean)
    # The numbers of the earlier path: the pretraining images' test view, unchanged.
    model = load_method(ckpt)
    source, _ = probe_input(model, f"imagefolder:{folder}", None)
    encoder = model.encoder.eval().to(memory_format=torch.channels_last)
    old, _ = old_extract_features(encoder.embed, source.build(
        "test", test_view(source.info, model.cfg.views)), channels_last=True)
    fs = checkpoint_features(ckpt, "test", f"imagefolder:{folder}", model=model,
                             progress=False, device="cpu")
    assert torch.equal(fs.features, old)


@pytest.mark.slow
def test_probe_and_embed_refuse_a_4_channel_set_in_one_line(run_copy, monkeypatch, capfd):
    monkeypatch.setitem(registry.DATASETS, "toy4", _toy_entry(4))
    for argv in (["probe", str(run_copy / "last.ckpt"), "--data", "toy4"],
                 ["embed", str(run_copy / "last.ckpt"), "--data", "toy4", "-o",
                  str(run_copy / "e.npz")]):
        assert main([*argv, "--no-progress"]) == 2
        err = capfd.readouterr().err.strip().splitlines()
        assert err == ["infomax: error: data set toy4 gives 4-channel 32 px images but the "
                       "encoder takes 1-channel 32 px input; only 3 channels to 1 (luma) and "
                       "1 to 3 (repeated) are converted, so probe it on 1-channel or 3-channel "
                       "data"], err
