"""The photometric part of the views batched on the device (kornia), and the geometric-only
TwoViews that feeds it."""

from __future__ import annotations

from types import SimpleNamespace

import kornia.augmentation as K
import pytest
import torch
from torchvision.transforms import v2

from infomax.config import DataConfig
from infomax.data import device_views, views
from infomax.data.device_views import DevicePhotometric
from infomax.data.module import PretrainData


# conftest runs every test process with one thread; the views' tensors are tiny anyway.
from test_views import CIFAR, FASHION, STL  # noqa: E402


def random_batch(n: int, channels: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=g)


def torchvision_normalized(x: torch.Tensor, info) -> torch.Tensor:
    to_float = v2.Compose([v2.ToDtype(torch.float32, scale=True),
                           v2.Normalize(list(info.mean), list(info.std))])
    return to_float(x)


def unnormalized(out: torch.Tensor, info) -> torch.Tensor:
    """Undo the normalization: values in [0, 1]."""
    mean = torch.tensor(info.mean).view(1, -1, 1, 1)
    std = torch.tensor(info.std).view(1, -1, 1, 1)
    return out * std + mean


# ----------------------------------------------------------------------------- DevicePhotometric


@pytest.mark.parametrize("info", [FASHION, CIFAR], ids=["1ch", "3ch"])
def test_without_jitter_and_grayscale_it_is_torchvisions_normalization(info):
    torch.manual_seed(0)
    x = random_batch(8, info.channels)
    out = DevicePhotometric(info, jitter_p=0.0, grayscale_p=0.0)(x)
    expected = torchvision_normalized(x, info)
    assert out.dtype == torch.float32 and out.shape == x.shape
    assert torch.allclose(out, expected, rtol=0, atol=1e-6)
    assert x.dtype == torch.uint8  # the input is left alone


def test_steps_use_the_constants_of_views():
    color = DevicePhotometric(CIFAR).steps
    jitter, gray, norm = color
    assert isinstance(jitter, K.ColorJitter) and jitter.p == views.JITTER_P == 0.8
    assert (jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue) == views.JITTER
    assert isinstance(gray, K.RandomGrayscale) and gray.p == views.GRAYSCALE_P == 0.25
    assert isinstance(norm, K.Normalize)
    gray_steps = DevicePhotometric(FASHION).steps
    assert not any(isinstance(t, K.RandomGrayscale) for t in gray_steps)
    jitter = gray_steps[0]
    assert isinstance(jitter, K.ColorJitter) and jitter.p == 0.8
    assert (jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue) == (0.4, 0.4, 0.0, 0.0)
    assert DevicePhotometric(CIFAR).randaugment is None
    assert DevicePhotometric(CIFAR, strong=True).randaugment is not None


def test_parameters_are_drawn_per_sample_rgb():
    """256 copies of one image: many different outputs, a quarter of them grayscale."""
    torch.manual_seed(1)
    x = random_batch(1, 3, seed=2).expand(256, -1, -1, -1).contiguous()
    pixels = unnormalized(DevicePhotometric(CIFAR)(x), CIFAR)
    distinct = len({bytes(p.numpy().tobytes()) for p in pixels})
    assert distinct >= 150  # only "no jitter" (~0.2) outputs repeat
    spread = (pixels.amax(1) - pixels.amin(1)).flatten(1).amax(1)  # per sample
    gray = (spread < 1e-3).float().mean().item()
    assert 0.17 <= gray <= 0.33  # p = 0.25


def test_jitter_probability_per_sample_one_channel():
    torch.manual_seed(3)
    x = torch.full((1, 1, 32, 32), 120, dtype=torch.uint8)
    x[..., :16, :] = 60  # contrast has something to act on
    x = x.expand(256, -1, -1, -1).contiguous()
    out = DevicePhotometric(FASHION)(x)
    plain = torchvision_normalized(x, FASHION)
    untouched = torch.isclose(out, plain, rtol=0, atol=1e-5).flatten(1).all(1).float().mean().item()
    assert 0.12 <= untouched <= 0.28  # jitter applied with p = 0.8


@pytest.mark.parametrize("info, size", [(FASHION, 32), (CIFAR, 32), (STL, 64)],
                         ids=["1ch-32", "3ch-32", "3ch-64"])
@pytest.mark.parametrize("strong", [False, True], ids=["plain", "strong"])
def test_output_dtype_shape_finite(info, size, strong):
    torch.manual_seed(4)
    x = random_batch(24, info.channels, size, seed=5)
    out = DevicePhotometric(info, strong=strong)(x)
    assert out.dtype == torch.float32 and out.shape == x.shape
    assert torch.isfinite(out).all()
    pixels = unnormalized(out, info)
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5


def test_refuses_float_or_wrong_channels():
    aug = DevicePhotometric(CIFAR)
    with pytest.raises(TypeError):
        aug(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError):
        aug(torch.zeros(2, 1, 32, 32, dtype=torch.uint8))


@pytest.mark.parametrize("info", [FASHION, CIFAR], ids=["1ch", "3ch"])
def test_randaugment_operations_are_drawn_per_sample(info, monkeypatch):
    """Each round, every sample gets one operation; one batch sees all 15 of kornia's policy
    (on 1-channel data too, color included)."""
    torch.manual_seed(6)
    aug = DevicePhotometric(info, strong=True, jitter_p=0.0, grayscale_p=0.0)
    policy = aug.randaugment.policy
    calls = []
    original = type(policy).forward

    def spy(self, x, *args, **kwargs):
        calls.append((self.chosen, x.shape[0]))
        return original(self, x, *args, **kwargs)

    monkeypatch.setattr(type(policy), "forward", spy)
    x = random_batch(128, info.channels, seed=7)
    out = aug(x)
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert aug.randaugment.num_choices == 15
    assert sum(rows for _, rows in calls) == 2 * 128  # two operations per sample
    assert {op for op, _ in calls} == set(range(15))
    assert len(calls) > 2  # not one operation for the whole batch


def test_module_to_moves_normalization():
    aug = DevicePhotometric(CIFAR).to(torch.float64)  # stands in for a device move
    assert aug.steps[-1].flags["mean"] is aug.mean and aug.mean.dtype == torch.float64


# ----------------------------------------------------------------------------- TwoViews


@pytest.mark.parametrize("info, side", [(FASHION, 28), (CIFAR, 32), (STL, 96)],
                         ids=["fashion", "cifar", "stl"])
def test_geometric_two_views_are_uint8(info, side):
    torch.manual_seed(8)
    two = views.TwoViews(info, "randaugment", photometric=False)
    x = random_batch(1, info.channels, side)[0]
    a, b = two(x)
    size = info.image_size
    assert a.dtype == b.dtype == torch.uint8
    assert a.shape == b.shape == (info.channels, size, size)


def test_photometric_two_views_draw_as_before():
    """photometric=True (the default) keeps the order of random draws: flip, view, view."""
    x = random_batch(1, 3, seed=10)[0]
    torch.manual_seed(11)
    a, b = views.TwoViews(CIFAR, photometric=True)(x)
    torch.manual_seed(11)
    view = views.train_view(CIFAR)
    img = views.F.horizontal_flip(x) if torch.rand(()).item() < views.FLIP_P else x
    assert torch.equal(a, view(img)) and torch.equal(b, view(img))


# ----------------------------------------------------------------------------- PretrainData


def data_config(root, augment_device: bool) -> DataConfig:
    return DataConfig(name="fashion-mnist", dir=str(root), download=False, batch_size=16,
                      num_workers=0, augment_device=augment_device)


def test_pretrain_data_with_device_augment(fake_fmnist):
    torch.manual_seed(12)
    data = PretrainData(data_config(fake_fmnist, True), pin_memory=False)
    assert isinstance(data.device_augment, DevicePhotometric)
    batch = next(iter(data.train_dataloader()))
    (x1, x2), y = batch.views, batch.labels
    assert x1.dtype == x2.dtype == torch.uint8 and x1.shape == x2.shape == (16, 1, 32, 32)

    data.trainer = None
    assert data.on_after_batch_transfer(batch, 0) is batch
    data.trainer = SimpleNamespace(training=False)  # validation, sanity check
    assert data.on_after_batch_transfer(batch, 0) is batch

    data.trainer = SimpleNamespace(training=True)
    out = data.on_after_batch_transfer(batch, 0)
    (a1, a2), y_out = out.views, out.labels
    assert y_out is y
    for a, x in ((a1, x1), (a2, x2)):
        assert a.dtype == torch.float32 and a.shape == x.shape and torch.isfinite(a).all()
        pixels = unnormalized(a, FASHION)
        assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5
    # Without the random part, the hook's output is the normalized batch.
    data.device_augment = DevicePhotometric(data.info, jitter_p=0.0)
    a1, a2 = data.on_after_batch_transfer(batch, 0).views
    assert torch.allclose(a1, torchvision_normalized(x1, FASHION), rtol=0, atol=1e-6)
    assert torch.allclose(a2, torchvision_normalized(x2, FASHION), rtol=0, atol=1e-6)

    (v, _) = next(iter(data.val_dataloader()))
    assert v.dtype == torch.float32  # test views are normalized in the workers as before


def test_pretrain_data_without_device_augment(fake_fmnist):
    torch.manual_seed(13)
    data = PretrainData(data_config(fake_fmnist, False), pin_memory=False)
    assert data.device_augment is None
    batch = next(iter(data.train_dataloader()))
    x1, x2 = batch.views
    assert x1.dtype == x2.dtype == torch.float32 and x1.shape == (16, 1, 32, 32)
    data.trainer = SimpleNamespace(training=True)
    assert data.on_after_batch_transfer(batch, 0) is batch


def test_device_views_import_the_constants():
    assert device_views.JITTER is views.JITTER
    assert device_views.JITTER_P is views.JITTER_P and device_views.GRAYSCALE_P is views.GRAYSCALE_P
