"""The views config section: each key does what it says, the checks of its values, the
device-side views following it, ``infomax views`` and the resume refusal of a change."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from infomax.cli import main
from infomax.config import ViewOverrides, ViewsConfig, describe_keys, make_config
from infomax.data import views
from infomax.data.registry import IMAGENET_MEAN, IMAGENET_STD, DatasetInfo
from infomax.data.view_grid import grid_pixels
from infomax.errors import ConfigError

from conftest import tiny_args
from test_views import CIFAR, FASHION, halves_image, bright_side, normalized, pixels_of, random_image

# No random change of the image but the one a test is about.
QUIET = dict(translate_p=0.0, jitter_p=0.0, grayscale_p=0.0, flip_p=0.0)


def quiet(**kwargs) -> ViewsConfig:
    return ViewsConfig(**{**QUIET, **kwargs})


def size_info(size: int, channels: int = 3) -> DatasetInfo:
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if channels == 3 else ((0.5,), (0.25,))
    return DatasetInfo(f"folder-{size}", size, channels, 10, mean, std, False)


def kinds(pipeline) -> list[type]:
    """The types of every transform in a (nested) Compose, RandomApply's contents included."""
    out = []
    for t in getattr(pipeline, "transforms", [pipeline]):
        out.append(type(t))
        if isinstance(t, (v2.Compose, v2.RandomApply)):
            out += kinds(t)
    return out


# ----------------------------------------------------------------------------- photometric keys


def test_solarize_inverts_the_pixels_at_or_above_128():
    x = torch.arange(256, dtype=torch.uint8).view(1, 16, 16).expand(3, -1, -1).contiguous()
    out = views.photometric_view(CIFAR, views=quiet(solarize_p=1.0))(x)
    expected = torch.where(x >= 128, 255 - x, x)
    assert torch.allclose(out, normalized(expected, CIFAR), atol=1e-5)


def test_blur_changes_the_image_and_p_0_leaves_no_blur_in_the_pipeline():
    assert v2.GaussianBlur not in kinds(views.train_view(CIFAR))
    assert v2.RandomSolarize not in kinds(views.train_view(CIFAR))
    assert v2.GaussianBlur not in kinds(views.photometric_view(CIFAR, views=quiet(blur_p=0.0)))
    x = random_image(3, 32, 32, seed=1)
    blurred = views.photometric_view(CIFAR, views=quiet(blur_p=1.0))
    blur = [t for t in blurred.transforms if isinstance(t, v2.GaussianBlur)]
    assert len(blur) == 1 and tuple(blur[0].kernel_size) == (3, 3)  # 10% of 32 px: 3
    assert tuple(blur[0].sigma) == (0.1, 2.0)
    torch.manual_seed(0)
    out = blurred(x)
    assert not torch.allclose(out, normalized(x, CIFAR), atol=1e-3)
    # a blur keeps the mean and lowers the spread of a noise image
    assert pixels_of(out, CIFAR).std() < x.float().std()
    half = views.photometric_view(CIFAR, views=quiet(blur_p=0.5))
    assert any(isinstance(t, v2.RandomApply) and t.p == 0.5 for t in half.transforms)


@pytest.mark.parametrize("size, kernel", [(32, 3), (64, 7), (96, 9), (128, 13), (224, 23)])
def test_blur_kernel_is_the_odd_size_nearest_a_tenth_of_the_side(size, kernel):
    assert views.blur_kernel_size(size) == kernel


def test_grayscale_p_1_gives_equal_channels():
    x = random_image(3, 32, 32, seed=2)
    out = pixels_of(views.photometric_view(CIFAR, views=quiet(grayscale_p=1.0))(x), CIFAR)
    assert (out.amax(0) - out.amin(0)).max() < 0.01 * 255


def test_jitter_values_and_strength():
    steps = views.photometric_view(CIFAR, views=ViewsConfig(jitter=[0.8, 0.8, 0.8, 0.2],
                                                            jitter_strength=0.5,
                                                            jitter_p=0.3)).transforms
    apply = [t for t in steps if isinstance(t, v2.RandomApply)]
    assert len(apply) == 1 and apply[0].p == 0.3
    jitter = apply[0].transforms[0]
    assert jitter.brightness == (0.6, 1.4) and jitter.saturation == (0.6, 1.4)
    assert jitter.hue == (-0.1, 0.1)
    assert not any(isinstance(t, v2.RandomApply)
                   for t in views.photometric_view(CIFAR, views=ViewsConfig(jitter_p=0.0)).transforms)


# ----------------------------------------------------------------------------- flips and per-view settings


def test_flip_shared_false_lets_the_views_flip_independently():
    x = halves_image(3, 32)
    torch.manual_seed(3)
    two = views.TwoViews(CIFAR, views=quiet(flip_p=0.5, flip_shared=False))
    sides = [tuple(bright_side(v) for v in two(x)) for _ in range(200)]
    differ = sum(a != b for a, b in sides)
    assert 60 <= differ <= 140  # 0.5 of the pairs
    torch.manual_seed(3)
    shared = views.TwoViews(CIFAR, views=quiet(flip_p=0.5))
    assert all(bright_side(a) == bright_side(b) for a, b in (shared(x) for _ in range(100)))


def test_per_view_flip_probabilities():
    x = halves_image(3, 32)
    two = views.TwoViews(CIFAR, views=quiet(flip_shared=False, first=ViewOverrides(flip_p=1.0),
                                            second=ViewOverrides(flip_p=0.0)))
    for _ in range(20):
        a, b = two(x)
        assert (bright_side(a), bright_side(b)) == ("left", "right")


def test_per_view_overrides_reach_only_their_view():
    x = random_image(3, 32, 32, seed=4)
    two = views.TwoViews(CIFAR, views=quiet(first=ViewOverrides(grayscale_p=1.0),
                                            second=ViewOverrides(solarize_p=1.0)))
    assert two.views[0] is not two.views[1]
    a, b = two(x)
    gray = pixels_of(a, CIFAR)
    assert (gray.amax(0) - gray.amin(0)).max() < 0.01 * 255
    assert torch.allclose(b, normalized(torch.where(x >= 128, 255 - x, x), CIFAR), atol=1e-5)
    # BYOL's asymmetric blur and solarization
    byol = make_config(None, ["views.first.blur_p=1.0", "views.second.blur_p=0.1",
                              "views.second.solarize_p=0.2"]).views
    first, second = byol.for_view(0), byol.for_view(1)
    assert (first.blur_p, first.solarize_p, second.blur_p, second.solarize_p) == (1.0, 0.0, 0.1, 0.2)
    assert byol.blur_p == 0.0 and first.first == ViewOverrides()
    # the same settings on both sides: one pipeline
    same = views.TwoViews(CIFAR)
    assert same.views[0] is same.views[1] is same.view


# ----------------------------------------------------------------------------- crops and sizes


def test_crop_resized_at_32_px():
    geometry = views.geometric_view(CIFAR, ViewsConfig(crop="resized", crop_scale=[0.5, 0.5]))
    crop = geometry.transforms[-1]
    assert isinstance(crop, v2.RandomResizedCrop) and tuple(crop.scale) == (0.5, 0.5)
    out = geometry(random_image(3, 32, 32))
    assert out.shape == (3, 32, 32) and out.dtype == torch.uint8


def test_crop_translate_at_64_px_fits_the_image_first():
    info = size_info(64)
    geometry = views.geometric_view(info, ViewsConfig(crop="translate", translate_px=8))
    move = geometry.transforms[-1]
    assert isinstance(move, v2.RandomApply) and move.transforms[0].padding == [8, 8, 8, 8]
    assert geometry(random_image(3, 96, 120)).shape == (3, 64, 64)
    # an image at the size is not resized: with no translation it comes out unchanged
    x = random_image(3, 64, 64)
    assert torch.equal(views.geometric_view(info, ViewsConfig(crop="translate", translate_p=0.0))(x), x)


@pytest.mark.parametrize("size, channels", [(224, 3), (96, 3), (48, 1)])
def test_any_image_size(size, channels):
    info = size_info(size, channels)
    torch.manual_seed(5)
    x = random_image(channels, 300, 260)
    for transform in (views.train_view(info), views.test_view(info),
                      views.train_view(info, views=ViewsConfig(crop="translate", blur_p=1.0))):
        out = transform(x)
        assert out.shape == (channels, size, size) and out.dtype == torch.float32
    a, b = views.TwoViews(info, with_test_view=False)(x)
    assert a.shape == b.shape == (channels, size, size)
    if size == 224:
        assert views.test_resize(224) == 256
        resize = [t for t in views.geometric_test_view(info).transforms if isinstance(t, v2.Resize)]
        assert resize[0].size == [256]


def test_an_image_of_another_size_in_the_32_px_test_view_is_resized_and_cropped():
    x = random_image(3, 40, 64, seed=6)
    out = views.geometric_test_view(CIFAR)(x)
    expected = F.center_crop(F.resize(x, 32, interpolation=v2.InterpolationMode.BICUBIC,
                                      antialias=True), 32)
    assert torch.equal(out, expected)
    fit = views.FitToSize(32)
    same = random_image(3, 32, 32)
    assert fit(same) is same


# ----------------------------------------------------------------------------- channels


def test_one_channel_images_become_three_and_three_become_one():
    gray = random_image(1, 32, 32, seed=7)
    out = views.test_view(CIFAR)(gray)
    assert out.shape == (3, 32, 32)
    pixels = pixels_of(out, CIFAR)
    assert torch.allclose(pixels, gray.float().expand(3, -1, -1), atol=1e-3)
    color = random_image(3, 28, 28, seed=8)
    out = views.test_view(FASHION)(color)
    assert out.shape == (1, 32, 32)
    luminance = F.pad(F.rgb_to_grayscale(color), [2], fill=0)
    assert torch.allclose(out, normalized(luminance, FASHION), atol=1e-5)
    a, b = views.TwoViews(CIFAR)(gray)
    assert a.shape == b.shape == (3, 32, 32)
    same = random_image(3, 32, 32)
    assert views.to_channels(same, 3) is same and views.ToChannels(3)(same) is same
    assert views.ToChannels(1)(same).shape == (1, 32, 32)
    rgb = np.random.default_rng(0).integers(0, 256, (28, 28, 3), dtype=np.uint8)
    assert views.test_view(FASHION)(Image.fromarray(rgb)).shape == (1, 32, 32)


def test_configured_views_pickle():
    config = ViewsConfig(crop="resized", blur_p=0.5, solarize_p=0.5, flip_shared=False,
                         second=ViewOverrides(grayscale_p=1.0))
    for transform in (views.TwoViews(CIFAR, True, views=config), views.test_view(CIFAR, config),
                      views.ToChannels(3), views.FitToSize(32)):
        again = pickle.loads(pickle.dumps(transform))
        out = again(random_image(3, 32, 32))
        assert (out[0] if isinstance(out, tuple) else out).shape == (3, 32, 32)


# ----------------------------------------------------------------------------- the config section


def test_views_keys_from_overrides_and_in_the_key_list():
    cfg = make_config("fmnist-tiny", ["views.second.blur_p=0.1", "views.crop=resized",
                                      "views.crop_scale=[0.08, 1]", "views.flip_shared=false",
                                      "views.first.flip_p=0.25"])
    assert cfg.views.second.blur_p == 0.1 and cfg.views.crop == "resized"
    assert cfg.views.crop_scale == [0.08, 1.0] and cfg.views.first.flip_p == 0.25
    assert cfg.views.changed() == {"crop": "resized", "crop_scale": [0.08, 1.0],
                                   "flip_shared": False, "first.flip_p": 0.25,
                                   "second.blur_p": 0.1}
    assert make_config(None, [], base=cfg.to_dict()) == cfg  # config.yaml round trip
    keys = [line.split(" = ")[0] for line in describe_keys().splitlines()]
    assert "views.crop" in keys and "views.first.blur_p" in keys and "views.second.solarize_p" in keys
    assert keys.index("data.strict") < keys.index("views.crop") < keys.index("model.encoder")
    assert [f.name for f in dataclasses.fields(make_config().__class__)][:5] == \
        ["method", "preset", "recipe", "data", "views"]


@pytest.mark.parametrize("override, message", [
    ("views.flip_p=1.5", "views.flip_p: 1.5 is a probability; use a number in [0, 1]"),
    ("views.blur_p=-0.1", "views.blur_p: -0.1 is too small; it must be >= 0.0"),
    ("views.second.solarize_p=2", "views.second.solarize_p: 2.0 is a probability"),
    ("views.crop_scale=[0.5, 0.2]", "views.crop_scale: [0.5, 0.2] must be two numbers 0 < low <= high <= 1"),
    ("views.crop_scale=[0.5, 1.5]", "views.crop_scale: [0.5, 1.5] must be two numbers"),
    ("views.crop_scale=[0.5]", "views.crop_scale: [0.5] must be two numbers"),
    ("views.crop_ratio=[0, 1]", "views.crop_ratio: [0.0, 1.0] must be two numbers 0 < low <= high"),
    ("views.blur_sigma=[2, 1]", "views.blur_sigma: [2.0, 1.0] must be two numbers"),
    ("views.first.crop_scale=[1, 0.5]", "views.first.crop_scale: [1.0, 0.5] must be two numbers"),
    ("views.first.flip_p=0.3", "views.first.flip_p: 0.3 is a flip probability of one view, but "
                               "views.flip_shared=true draws one flip for both; set "
                               "views.flip_shared=false"),
    ("views.jitter=[0.4, 0.4]", "views.jitter: [0.4, 0.4] must be four numbers >= 0"),
    ("views.jitter_strength=3", "views.jitter_strength: the first view's hue jitter 0.2 x "
                                "strength 3.0 = 0.6 is more than 0.5"),
    ("views.second.jitter_strength=4", "views.second.jitter_strength: the second view's hue"),
    ("views.crop=center", "views.crop: 'center' is not valid; choose one of auto, translate, resized"),
    ("views.first=3", "views.first: expected a mapping of keys like views.first.blur_p=1.0, got 3"),
    ("views.first.crop=resized", "unknown config key 'views.first.crop'; valid keys in views.first"),
])
def test_bad_views_values_are_refused_in_one_line(override, message):
    with pytest.raises(ConfigError) as err:
        make_config("fmnist-tiny", [override])
    text = str(err.value)
    assert "\n" not in text and text.startswith(message), text


# ----------------------------------------------------------------------------- on the device


def test_device_views_follow_the_config():
    import kornia.augmentation as K

    from infomax.data.device_views import DevicePhotometric

    default = DevicePhotometric(CIFAR).steps
    assert not any(isinstance(t, (K.RandomGaussianBlur, K.RandomSolarize)) for t in default)
    x = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16).expand(2, 3, -1, -1).contiguous()
    solarized = DevicePhotometric(CIFAR, views=quiet(solarize_p=1.0))(x)
    expected = torch.where(x >= 128, 255 - x, x)
    assert torch.allclose(solarized, normalized(expected[0], CIFAR).expand(2, -1, -1, -1), atol=1e-5)
    blur = DevicePhotometric(CIFAR, views=quiet(blur_p=1.0, jitter=[0.8, 0, 0, 0],
                                                jitter_strength=0.5, jitter_p=0.5))
    jitter, gauss = blur.steps[0], blur.steps[1]
    assert isinstance(jitter, K.ColorJitter) and jitter.p == 0.5 and jitter.brightness == 0.4
    assert isinstance(gauss, K.RandomGaussianBlur) and gauss.flags["kernel_size"] == 3
    noise = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(DevicePhotometric(CIFAR, views=quiet(blur_p=1.0))(noise),
                              DevicePhotometric(CIFAR, views=quiet())(noise), atol=1e-3)


def test_pretrain_data_gives_each_view_its_device_module(fake_fmnist):
    from infomax.data.module import PretrainData

    cfg = make_config("fmnist-tiny", [f"data.dir={fake_fmnist}", "data.download=false",
                                      "data.augment_device=true", "data.num_workers=0",
                                      "views.second.solarize_p=0.5"])
    data = PretrainData(cfg.data, pin_memory=False, views=cfg.views)
    assert data.device_augment_second is not None
    assert any("Solarize" in type(t).__name__ for t in data.device_augment_second.steps)
    assert not any("Solarize" in type(t).__name__ for t in data.device_augment.steps)
    plain = PretrainData(cfg.data, pin_memory=False, views=ViewsConfig(crop="resized"))
    assert plain.device_augment_second is None  # crops are the workers' part


# ----------------------------------------------------------------------------- infomax views


def png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def test_infomax_views_draws_the_grid_from_fashion_mnist(fake_fmnist, tmp_path, capsys):
    out = tmp_path / "grids" / "grid.png"
    rc = main(["views", "--data-dir", str(fake_fmnist), "data.download=false", "-o", str(out)])
    stdout = capsys.readouterr().out
    assert rc == 0 and stdout == f"wrote {out}\n"
    assert png_size(out) == grid_pixels(8) == (480, 100 + 8 * 160)
    again = tmp_path / "again.png"
    assert main(["views", "--data-dir", str(fake_fmnist), "data.download=false", "-o",
                 str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()  # seeded
    other = tmp_path / "other.png"
    assert main(["views", "--data-dir", str(fake_fmnist), "data.download=false", "--images", "3",
                 "--seed", "4", "views.second.solarize_p=1.0", "views.flip_shared=false",
                 "data.augment_device=true", "-o", str(other)]) == 0
    assert png_size(other) == grid_pixels(3)


def test_infomax_views_draws_the_grid_from_an_image_folder(tmp_path, capsys):
    rng = np.random.default_rng(0)
    base = tmp_path / "imgs"
    for cls in ("cat", "dog"):
        for split in ("train", "val"):
            for i in range(2):
                path = base / split / cls / f"{i}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(rng.integers(0, 256, (40 + 10 * i, 50, 3), dtype=np.uint8)).save(path)
    out = tmp_path / "folder.png"
    rc = main(["views", "--data", f"imagefolder:{base}", "--images", "6", "views.blur_p=0.5",
               "-o", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert png_size(out) == grid_pixels(4)  # the folder holds 4 pretraining images


@pytest.mark.parametrize("args, message", [
    (["--preset", "nope"], "unknown preset 'nope'"),
    (["views.blur_p=2"], "views.blur_p: 2.0 is a probability"),
    (["--images", "0"], "--images: 0 must be >= 1"),
    (["--data", "cifar10", "data.download=false"], "cifar10 not found"),
])
def test_infomax_views_refuses_bad_input_in_one_line(args, message, fake_fmnist, tmp_path, capsys):
    out = tmp_path / "grid.png"
    rc = main(["views", "--data-dir", str(fake_fmnist), *args, "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and message in err, err
    assert not out.exists()


# ----------------------------------------------------------------------------- resume


def test_a_resume_refuses_a_changed_views_key(fake_fmnist, tmp_path, capsys):
    one_step = ["train.limit_train_batches=1", "data.pretrain_subset=32", "data.val_subset=16"]
    assert main(tiny_args(fake_fmnist, tmp_path, *one_step)) == 0
    capsys.readouterr()
    resume = [*tiny_args(fake_fmnist, tmp_path, *one_step, "train.epochs=2"), "--resume"]
    for change, shown in (("views.blur_p=0.5", "views.blur_p: 0.0 there, 0.5 here"),
                          ("views.second.solarize_p=0.2",
                           "views.second.solarize_p: None there, 0.2 here")):
        rc = main([*resume, change])
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1 and shown in err, err
    assert main(resume) == 0
