"""``infomax.load_encoder``: the encoder with its run's test view, whose ``embed`` takes
every kind of image and gives the data pipeline's features; ``infomax embed --images``
on folders and patterns of image files of mixed sizes and modes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from infomax import load_encoder
from infomax.cli import main
from infomax.data.registry import ImageFileDataset
from infomax.data.source import DataSource
from infomax.data.views import test_view
from infomax.devices import default_device
from infomax.errors import InfomaxError
from infomax.eval.features import checkpoint_features, resolve_probe_data
from infomax.eval.linear import extract_features
from infomax.eval.pretrained import PretrainedEncoder
from infomax.nn.amdim import AMDIMEncoder, EncoderOutput
from infomax.runs import load_method

pytestmark = pytest.mark.usefixtures("one_thread")
TOL = {"rtol": 1e-5, "atol": 1e-5}


def test_the_wrapper_keeps_the_backbones_interface(tiny_run):
    ckpt = tiny_run / "last.ckpt"
    enc = load_encoder(ckpt)
    raw = load_method(ckpt).encoder.eval()
    assert isinstance(enc, PretrainedEncoder) and isinstance(enc.encoder, AMDIMEncoder)
    assert not enc.training and not enc.encoder.training
    assert (enc.feature_dim, enc.in_channels, enc.image_size) == (32, 1, 32)
    assert enc.device == torch.device("cpu") and enc.config.model.n_rkhs == 32
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        out, expected = enc(x), raw(x)
        assert isinstance(out, EncoderOutput)
        for a, b in zip(out, expected):
            torch.testing.assert_close(a, b, **TOL)
        torch.testing.assert_close(enc.forward_features(x)[0], raw.embed(x), **TOL)
    torch.testing.assert_close(enc.embed(x), raw.embed(x), **TOL)
    assert enc.embed(x).dtype == torch.float32 and not enc.embed(x).requires_grad
    with pytest.raises(AttributeError):
        enc.no_such_attribute


def _png(image: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def test_every_kind_of_input_gives_the_data_pipelines_features(run_copy, tmp_path):
    ckpt = run_copy / "last.ckpt"
    expected = checkpoint_features(ckpt, "test", progress=False).features[:8]
    enc = load_encoder(ckpt)
    test = DataSource.resolve(enc.config.data).build("test")
    uint8 = [test[i][0] for i in range(8)]  # (1, 28, 28) each
    pil = [Image.fromarray(x[0].numpy(), "L") for x in uint8]
    paths = [_png(im, tmp_path / f"{i}.png") for i, im in enumerate(pil)]
    kinds = {
        "uint8 list": uint8,
        "uint8 batch": torch.stack(uint8),
        "PIL L": pil,
        "PIL RGB": [im.convert("RGB") for im in pil],
        "numpy": [x[0].numpy() for x in uint8],
        "str paths": [str(p) for p in paths],
        "Path paths": paths,
        "preprocessed": torch.stack([enc.transform(x) for x in uint8]),
        "mixed": [uint8[0], pil[1], str(paths[2]), paths[3], enc.transform(uint8[4]),
                  torch.stack(uint8[5:7]), pil[7].convert("RGBA")],
    }
    for kind, images in kinds.items():
        for batch_size in (256, 3):
            got = enc.embed(images, batch_size=batch_size)
            assert got.shape == (8, 32), kind
            torch.testing.assert_close(got, expected, **TOL, msg=kind)
    one = enc.embed(pil[0])
    assert one.shape == (1, 32)
    torch.testing.assert_close(one, expected[:1], **TOL)
    assert enc.embed([]).shape == (0, 32)


def _mixed_images(folder: Path) -> list[Path]:
    """Image files of several sizes and modes (RGB, L, RGBA; PNG and JPEG), nested."""
    rng = np.random.default_rng(0)

    def pixels(h, w, c):
        return rng.integers(0, 256, (h, w, c) if c > 1 else (h, w), dtype=np.uint8)

    files = [
        _png(Image.fromarray(pixels(40, 30, 3), "RGB"), folder / "a_rgb.png"),
        _png(Image.fromarray(pixels(28, 28, 1), "L"), folder / "b_gray.png"),
        _png(Image.fromarray(pixels(50, 50, 4), "RGBA"), folder / "c_rgba.png"),
        _png(Image.fromarray(pixels(64, 48, 3), "RGB"), folder / "sub" / "d_rgb.jpg"),
        _png(Image.fromarray(pixels(20, 36, 1), "L"), folder / "sub" / "e_gray.jpg"),
    ]
    return files


@pytest.mark.parametrize("run", ["tiny_run", "tiny_resnet_rgb_run"])
def test_files_of_any_size_and_mode_match_the_data_pipeline(run, request, tmp_path,
                                                            module_registry):
    # The files through the pipeline's own pieces: decoded as image folders decode them
    # (ImageFileDataset), the run's test view (the one checkpoint_features uses on its
    # data), batched by extract_features.
    ckpt = request.getfixturevalue(run) / "last.ckpt"
    files = sorted(str(p) for p in _mixed_images(tmp_path / "images"))
    method = load_method(ckpt)
    cfg = method.cfg
    view = test_view(resolve_probe_data(method, None, None).info, cfg.views)
    if cfg.train.channels_last:
        method.encoder.to(memory_format=torch.channels_last)
    expected, _ = extract_features(method.encoder.eval().embed,
                                   ImageFileDataset([(f, 0) for f in files], view),
                                   progress=False, channels_last=cfg.train.channels_last)
    enc = load_encoder(ckpt)
    assert repr(enc.transform.view) == repr(view)
    torch.testing.assert_close(enc.embed(files), expected, **TOL)
    torch.testing.assert_close(enc.embed([Image.open(f) for f in files]), expected, **TOL)


def test_devices_and_bad_inputs_are_one_line_errors(tiny_run):
    ckpt = tiny_run / "last.ckpt"
    assert load_encoder(ckpt, device="cpu").device == torch.device("cpu")
    assert load_encoder(ckpt, device="auto").device.type == default_device().type
    with pytest.raises(InfomaxError, match=r"^device: 'cuda:99' is not a device"):
        load_encoder(ckpt, device="cuda:99")
    enc = load_encoder(ckpt)
    bad = {"no such file": "missing.png", "two channels": torch.zeros(2, 2, 8, 8, dtype=torch.uint8),
           "a number": 42, "a 1-d float tensor": torch.zeros(5), "nested": [[torch.zeros(1, 8, 8)]],
           "batch size": None}
    for what, images in bad.items():
        with pytest.raises(InfomaxError) as info:
            if what == "batch size":
                enc.embed(torch.zeros(1, 1, 32, 32), batch_size=0)
            else:
                enc.embed(images)
        assert "\n" not in str(info.value), what


# -- infomax embed --images -------------------------------------------------------------


@pytest.fixture
def image_folder(tmp_path) -> tuple[Path, list[str]]:
    """A folder of readable images, a broken one, a hidden one and a text file; the
    readable ones' paths, sorted."""
    folder = tmp_path / "photos"
    good = _mixed_images(folder)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    _png(Image.new("L", (8, 8)), folder / ".hidden.png")
    (folder / "notes.txt").write_text("not an image")
    return folder, sorted(str(p) for p in good)


def test_embed_images_writes_paths_and_features_of_a_folder(tiny_run, image_folder, tmp_path,
                                                           capfd):
    folder, good = image_folder
    out = tmp_path / "photos.npz"
    ckpt = tiny_run / "last.ckpt"
    capfd.readouterr()
    rc = main(["embed", str(ckpt), "--images", str(folder), "-o", str(out), "--no-progress",
               "--device", "cpu"])
    stdout, err = capfd.readouterr()
    assert rc == 0, err
    assert stdout == f"wrote {out}: 5 images (1 unreadable file skipped)\n"
    assert err.count("\n") == 1 and "broken.png" in err and err.startswith("infomax: warning")
    z = np.load(out)
    assert z["ids"].tolist() == good
    assert z["features"].shape == (5, 32) and z["features"].dtype == np.float32
    assert (z["labels"] == -1).all() and set(z["split"].tolist()) == {"images"}
    assert str(z["data"]) == str(folder)
    expected = load_encoder(ckpt).embed(good).numpy()
    np.testing.assert_allclose(z["features"], expected, **TOL)


def test_embed_images_by_pattern_to_parquet(tiny_run, image_folder, tmp_path, capfd):
    pq = pytest.importorskip("pyarrow.parquet")
    folder, good = image_folder
    out = tmp_path / "jpegs.parquet"
    rc = main(["embed", str(tiny_run / "last.ckpt"), "--images", f"{folder}/**/*.jpg",
               "-o", str(out), "--no-progress", "--workers", "1"])
    assert rc == 0, capfd.readouterr().err
    table = pq.read_table(out)
    assert table.column("id").to_pylist() == [p for p in good if p.endswith(".jpg")]
    assert table.column("label").to_pylist() == [-1, -1]
    feats = np.array(table.column("features").to_pylist(), dtype=np.float32)
    expected = load_encoder(tiny_run / "last.ckpt").embed(table.column("id").to_pylist())
    np.testing.assert_allclose(feats, expected.numpy(), **TOL)


def test_embed_images_refusals_are_one_line(tiny_run, image_folder, tmp_path, capfd):
    folder, _ = image_folder
    ckpt = str(tiny_run / "last.ckpt")
    out = str(tmp_path / "e.npz")
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.png").write_bytes(b"no image")
    cases = {
        "exclude each other": ["--images", str(folder), "--data", "mnist"],
        "--images and --split": ["--images", str(folder), "--split", "test"],
        "no image files": ["--images", str(empty)],
        "matches no file": ["--images", f"{folder}/*.gif"],
        "no such folder or file": ["--images", str(tmp_path / "nowhere")],
        "none of the 1 files": ["--images", str(broken)],
        "'cuda:99' is not a device": ["--images", str(folder), "--device", "cuda:99"],
    }
    for message, extra in cases.items():
        capfd.readouterr()
        rc = main(["embed", ckpt, "-o", out, "--no-progress", *extra])
        err = capfd.readouterr().err
        assert rc == 2, message
        assert err.splitlines()[-1].startswith("infomax: error: ") and message in err, err
        assert "Traceback" not in err
        assert not Path(out).exists()


def test_the_view_of_a_run_whose_images_are_not_here():
    from infomax.config import DataConfig
    from infomax.data.registry import IMAGENET_MEAN, IMAGENET_STD
    from infomax.eval.pretrained import view_info

    # A named set: its own constants, no data needed.
    info = view_info(DataConfig(name="cifar10", dir="/nowhere"), 3, 32)
    assert (info.mean, info.pad_to_32) == ((0.4914, 0.4822, 0.4465), False)
    # An image folder of another machine, seen as grayscale, and a Python Dataset of
    # another process: the constants every such source has.
    gray = view_info(DataConfig(name="imagefolder:/nowhere/photos", channels=1,
                                image_size=64), 1, 64)
    assert gray.mean == pytest.approx((sum(IMAGENET_MEAN) / 3,))
    assert gray.std == pytest.approx((sum(IMAGENET_STD) / 3,))
    assert (gray.channels, gray.image_size, gray.pad_to_32) == (1, 64, False)
    rgb = view_info(DataConfig(name="python:Elsewhere", mean=[0.5, 0.5, 0.5]), 3, 96)
    assert rgb.mean == (0.5, 0.5, 0.5) and rgb.std == IMAGENET_STD and rgb.image_size == 96
