"""Augmented views (AMDIM spec section 1)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.transforms import InterpolationMode, v2
from torchvision.transforms.v2 import functional as F

from infomax.data import views
from infomax.data.registry import IMAGENET_MEAN, IMAGENET_STD, ArrayImageDataset, DatasetInfo, dataset_info


# Views work on tiny tensors; intra-op threads only add contention (as in DataLoader
# workers). The fixture is tests/conftest.py's.
pytestmark = pytest.mark.usefixtures("one_thread")


FASHION = dataset_info("fashion-mnist")
CIFAR = dataset_info("cifar10")
STL = dataset_info("stl10")
FOLDER = DatasetInfo("imagefolder:/data/x", 128, 3, 5, IMAGENET_MEAN, IMAGENET_STD, False)

# (info, input height, input width)
CASES = [(FASHION, 28, 28), (CIFAR, 32, 32), (STL, 96, 96), (FOLDER, 150, 200)]
CASE_IDS = ["fashion-28px-1ch", "cifar-32px", "stl-96px", "folder-150x200"]


def random_image(channels: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (channels, height, width), dtype=torch.uint8, generator=g)


def normalized(pixels: torch.Tensor, info: DatasetInfo) -> torch.Tensor:
    """Expected output for uint8 pixels (C, H, W), computed by hand."""
    mean = torch.tensor(info.mean, dtype=torch.float64).view(-1, 1, 1)
    std = torch.tensor(info.std, dtype=torch.float64).view(-1, 1, 1)
    return ((pixels.double() / 255 - mean) / std).float()


def pixels_of(output: torch.Tensor, info: DatasetInfo) -> torch.Tensor:
    """Undo the normalization: pixel values in 0..255 (float)."""
    mean = torch.tensor(info.mean).view(-1, 1, 1)
    std = torch.tensor(info.std).view(-1, 1, 1)
    return (output * std + mean) * 255


@pytest.mark.parametrize("info, height, width", CASES, ids=CASE_IDS)
def test_shapes_and_dtypes(info, height, width):
    torch.manual_seed(0)
    size = info.image_size
    x = random_image(info.channels, height, width)
    for transform in (views.train_view(info), views.train_view(info, augment="randaugment"),
                      views.test_view(info)):
        for _ in range(10):
            out = transform(x)
            assert out.dtype == torch.float32 and out.shape == (info.channels, size, size)
            assert torch.isfinite(out).all()
    for augment in (False, True, "fast-autoaugment"):
        a, b = views.TwoViews(info, augment)(x)
        assert a.shape == b.shape == (info.channels, size, size) and a.dtype == b.dtype == torch.float32
    geo = views.geometric_view(info)(x)
    assert geo.dtype == torch.uint8 and geo.shape == (info.channels, size, size)
    assert views.geometric_test_view(info)(x).shape == (info.channels, size, size)
    assert x.shape == (info.channels, height, width)  # the input is left alone


def test_pil_and_numpy_inputs():
    array = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    two = views.TwoViews(CIFAR)
    for img in (Image.fromarray(array), array):
        a, b = two(img)
        assert a.shape == b.shape == (3, 32, 32)
    expected = normalized(torch.from_numpy(array).permute(2, 0, 1), CIFAR)
    assert torch.allclose(views.test_view(CIFAR)(Image.fromarray(array)), expected, atol=1e-5)
    gray = np.random.default_rng(1).integers(0, 256, (28, 28), dtype=np.uint8)
    assert views.test_view(FASHION)(gray).shape == (1, 32, 32)


# ----------------------------------------------------------------------------- flip


def halves_image(channels: int, size: int) -> torch.Tensor:
    """Dark left half, bright right half, the same in every channel (no hue to shift)."""
    x = torch.full((channels, size, size), 230, dtype=torch.uint8)
    x[:, :, : size // 2] = 20
    return x


def bright_side(view: torch.Tensor) -> str:
    half = view.shape[-1] // 2
    view = view.float()  # uint8 for geometric-only views
    return "left" if view[0, :, :half].mean() > view[0, :, half:].mean() else "right"


@pytest.mark.parametrize("photometric", [True, False], ids=["full", "geometric-only"])
@pytest.mark.parametrize("info, size", [(CIFAR, 32), (FASHION, 28)], ids=["cifar", "fashion"])
def test_two_views_share_one_flip(info, size, photometric):
    torch.manual_seed(0)
    two = views.TwoViews(info, photometric=photometric)
    x = halves_image(info.channels, size)
    flipped = 0
    for _ in range(200):
        a, b = two(x)
        # Translation, jitter and grayscale keep the bright half bright; only a flip moves it.
        assert bright_side(a) == bright_side(b)
        flipped += bright_side(a) == "left"
    assert 70 <= flipped <= 130  # p = 0.5, drawn once per image


def test_flip_probability_is_honoured():
    x = halves_image(3, 32)
    two = views.TwoViews(CIFAR)
    assert two.flip_p == 0.5
    two.flip_p = 1.0
    assert all(bright_side(v) == "left" for v in two(x))
    two.flip_p = 0.0
    assert all(bright_side(v) == "right" for v in two(x))


def test_single_view_has_no_flip():
    torch.manual_seed(1)
    view = views.train_view(CIFAR)
    x = halves_image(3, 32)
    assert all(bright_side(view(x)) == "right" for _ in range(100))


def test_two_views_differ():
    torch.manual_seed(2)
    two = views.TwoViews(CIFAR)
    differ = 0
    for seed in range(20):
        a, b = two(random_image(3, 32, 32, seed))
        differ += not torch.equal(a, b)
    assert differ >= 19


# ----------------------------------------------------------------------------- geometry


@pytest.mark.parametrize("info, size, centre", [(CIFAR, 32, 16), (FASHION, 28, 14)], ids=["cifar", "fashion"])
def test_translation_is_at_most_4_px(info, size, centre):
    torch.manual_seed(3)
    geometry = views.geometric_view(info)
    x = torch.zeros(info.channels, size, size, dtype=torch.uint8)
    x[:, centre, centre] = 255
    base = centre + (2 if info.pad_to_32 else 0)
    shifts = []
    for _ in range(400):
        out = geometry(x)
        assert out.shape == (info.channels, 32, 32) and int((out[0] == 255).sum()) == 1
        y, xx = divmod(int(out[0].argmax()), 32)
        shifts.append((y - base, xx - base))
    dy = np.array([s[0] for s in shifts])
    dx = np.array([s[1] for s in shifts])
    assert np.abs(dy).max() == 4 and np.abs(dx).max() == 4  # up to 4 px, and 4 px is reached
    unmoved = np.mean((dy == 0) & (dx == 0))
    assert 0.12 <= unmoved <= 0.32  # 0.2 not applied + 0.8 / 81 zero offset


def test_translation_fills_by_reflection():
    torch.manual_seed(4)
    geometry = views.geometric_view(CIFAR)
    x = torch.full((3, 32, 32), 200, dtype=torch.uint8)
    for _ in range(50):
        assert (geometry(x) == 200).all()  # no zero (constant) fill at the borders


def test_grayscale_sets_are_zero_padded():
    torch.manual_seed(5)
    x = torch.full((1, 28, 28), 255, dtype=torch.uint8)
    padded = views.geometric_test_view(FASHION)(x)
    assert padded.shape == (1, 32, 32)
    assert (padded[:, 2:30, 2:30] == 255).all() and int(padded.sum()) == 255 * 28 * 28
    # Training: zero padding first, then the translation with reflect fill on the 32 x 32 image.
    x = random_image(1, 28, 28, seed=15)
    padded = F.pad(x, [2], fill=0)
    reflected = F.pad(padded, [4], padding_mode="reflect")
    crops = {(dy, dx): reflected[:, dy : dy + 32, dx : dx + 32] for dy in range(9) for dx in range(9)}
    geometry = views.geometric_view(FASHION)
    for _ in range(50):
        out = geometry(x)
        assert any(torch.equal(out, crop) for crop in crops.values())


def test_random_resized_crop_settings():
    for info in (STL, FOLDER):
        crop = views.geometric_view(info).transforms[-1]
        assert isinstance(crop, v2.RandomResizedCrop)
        assert tuple(crop.size) == (info.image_size, info.image_size)
        assert tuple(crop.scale) == (0.3, 1.0) and tuple(crop.ratio) == (0.7, 1.4)
        assert crop.interpolation == InterpolationMode.BICUBIC and crop.antialias
    move = views.geometric_view(CIFAR).transforms[-1]
    assert isinstance(move, v2.RandomApply) and move.p == 0.8


def test_bicubic_resize_clamps_instead_of_wrapping():
    board = torch.zeros(3, 96, 96, dtype=torch.uint8)
    board[:, :, (torch.arange(96) // 8) % 2 == 1] = 255  # sharp edges make bicubic overshoot both ways
    out = views.geometric_test_view(STL)(board)
    exact = F.resize(board.float(), 70, interpolation=InterpolationMode.BICUBIC, antialias=True)
    exact = F.center_crop(exact, 64)
    assert exact.min() < -1 and exact.max() > 256  # the float result does overshoot
    assert out.dtype == torch.uint8
    assert (out.float() - exact.clamp(0, 255).round()).abs().max() <= 1


# ----------------------------------------------------------------------------- test view


def test_test_view_32px_is_the_normalized_image():
    x = random_image(3, 32, 32, seed=6)
    view = views.test_view(CIFAR)
    out = view(x)
    assert torch.equal(out, view(x))
    assert torch.allclose(out, normalized(x, CIFAR), atol=1e-5)


def test_test_view_pads_grayscale_28_to_32():
    x = random_image(1, 28, 28, seed=7)
    expected = torch.zeros(1, 32, 32, dtype=torch.uint8)
    expected[:, 2:30, 2:30] = x
    out = views.test_view(FASHION)(x)
    assert torch.allclose(out, normalized(expected, FASHION), atol=1e-5)
    assert torch.allclose(out[0, 0, 0], torch.tensor(-0.2860 / 0.3530), atol=1e-5)


@pytest.mark.parametrize(
    "info, height, width, top, left",
    [(STL, 70, 70, 3, 3), (STL, 70, 140, 3, 38), (FOLDER, 146, 146, 9, 9), (FOLDER, 200, 146, 36, 9)],
    ids=["stl-70", "stl-70x140", "folder-146", "folder-200x146"],
)
def test_test_view_resize_then_center_crop(info, height, width, top, left):
    """An image whose shorter side already is the resize target is only center-cropped."""
    x = random_image(3, height, width, seed=8)
    size = info.image_size
    out = views.test_view(info)(x)
    expected = normalized(x[:, top : top + size, left : left + size], info)
    assert torch.allclose(out, expected, atol=1e-5)


def test_test_view_resizes_stl_96_to_70():
    x = random_image(3, 96, 96, seed=9)
    resized = F.resize(x, 70, interpolation=InterpolationMode.BICUBIC, antialias=True)
    out = views.test_view(STL)(x)
    assert torch.allclose(out, normalized(resized[:, 3:67, 3:67], STL), atol=1e-5)


@pytest.mark.parametrize("info", [FASHION, CIFAR, STL, FOLDER], ids=["fashion", "cifar", "stl", "folder"])
def test_normalization_constants(info):
    size = info.image_size
    side = 28 if info.pad_to_32 else size
    mean = torch.tensor(info.mean).view(-1, 1, 1)
    std = torch.tensor(info.std).view(-1, 1, 1)
    for value in (0, 77, 255):
        x = torch.full((info.channels, side, side), value, dtype=torch.uint8)
        out = views.test_view(info)(x)
        centre = out[:, size // 2, size // 2]
        assert torch.allclose(centre, ((value / 255 - mean) / std).flatten(), atol=1e-5)


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "stl10"])
def test_pixels_with_dataset_statistics_come_out_standardized(name):
    """Half the rows at mean + std, half at mean - std: per channel mean 0 and std 1 after."""
    info = dataset_info(name)
    size = info.image_size
    mean = torch.tensor(info.mean).view(-1, 1, 1)
    std = torch.tensor(info.std).view(-1, 1, 1)
    x = ((mean + std) * 255).round().to(torch.uint8).expand(3, size, size).clone()
    x[:, : size // 2] = ((mean - std) * 255).round().to(torch.uint8)
    x = F.resize(x, [70, 70], interpolation=InterpolationMode.NEAREST) if size == 64 else x
    out = views.test_view(info)(x)
    assert torch.allclose(out.mean(dim=(1, 2)), torch.zeros(3), atol=0.03)
    assert torch.allclose(out.std(dim=(1, 2)), torch.ones(3), atol=0.03)


# ----------------------------------------------------------------------------- photometric part


def test_photometric_steps():
    gray_steps = views.photometric_view(FASHION).transforms
    color_steps = views.photometric_view(CIFAR).transforms
    assert not any(isinstance(t, v2.RandomGrayscale) for t in gray_steps)
    grayscale = [t for t in color_steps if isinstance(t, v2.RandomGrayscale)]
    assert len(grayscale) == 1 and grayscale[0].p == 0.25
    for steps, channels in ((gray_steps, 1), (color_steps, 3)):
        jitter_apply = [t for t in steps if isinstance(t, v2.RandomApply)]
        assert len(jitter_apply) == 1 and jitter_apply[0].p == 0.8
        jitter = jitter_apply[0].transforms[0]
        assert isinstance(jitter, v2.ColorJitter)
        assert jitter.brightness == (0.6, 1.4) and jitter.contrast == (0.6, 1.4)
        if channels == 3:
            assert jitter.saturation == (0.6, 1.4) and jitter.hue == (-0.2, 0.2)
    assert isinstance(views.photometric_view(CIFAR, "randaugment").transforms[1], v2.RandAugment)
    assert not any(isinstance(t, v2.RandAugment) for t in color_steps)


def test_full_jitter_leaves_one_channel_images_alone_in_saturation_and_hue():
    """Why 1-channel data gets brightness/contrast only: torchvision skips the rest there."""
    x = random_image(1, 32, 32, seed=10)
    assert torch.equal(F.adjust_saturation(x, 1.4), x) and torch.equal(F.adjust_hue(x, 0.2), x)


def test_jitter_probability_on_one_channel():
    torch.manual_seed(11)
    photometric = views.photometric_view(FASHION)
    x = torch.full((1, 32, 32), 120, dtype=torch.uint8)
    x[:, :16] = 60  # contrast has something to act on
    plain = normalized(x, FASHION)
    outs = [photometric(x) for _ in range(300)]
    assert all(o.shape == (1, 32, 32) for o in outs)
    untouched = np.mean([torch.allclose(o, plain, atol=1e-5) for o in outs])
    assert 0.12 <= untouched <= 0.28  # jitter applied with p = 0.8


def test_grayscale_probability():
    torch.manual_seed(12)
    photometric = views.photometric_view(CIFAR)
    x = torch.stack([torch.full((32, 32), v, dtype=torch.uint8) for v in (200, 60, 30)])
    gray = 0
    for _ in range(400):
        pixels = pixels_of(photometric(x), CIFAR)
        gray += bool((pixels.amax(0) - pixels.amin(0)).max() < 1.0)
    assert 0.17 <= gray / 400 <= 0.33  # p = 0.25


def test_strong_views_keep_channels():
    torch.manual_seed(13)
    for info, side in ((FASHION, 28), (CIFAR, 32)):
        view = views.train_view(info, augment="randaugment")
        x = random_image(info.channels, side, side, seed=14)
        for _ in range(60):
            out = view(x)
            assert out.shape == (info.channels, 32, 32) and out.dtype == torch.float32


# ----------------------------------------------------------------------------- workers


def test_views_pickle():
    for info in (FASHION, CIFAR, STL, FOLDER):
        transforms = (views.train_view(info, augment="randaugment"), views.test_view(info),
                      views.TwoViews(info, True))
        for transform in transforms:
            again = pickle.loads(pickle.dumps(transform))
            side = 28 if info.pad_to_32 else info.image_size
            out = again(random_image(info.channels, side, side))
            first = out[0] if isinstance(out, tuple) else out
            assert first.shape == (info.channels, info.image_size, info.image_size)


def test_two_views_in_dataloader_workers():
    images = torch.randint(0, 256, (12, 1, 28, 28), dtype=torch.uint8)
    ds = ArrayImageDataset(images, torch.arange(12) % 10, views.TwoViews(FASHION))
    loader = DataLoader(ds, batch_size=4, num_workers=2)
    batches = list(loader)
    assert len(batches) == 3
    (a, b), labels = batches[0]
    assert a.shape == b.shape == (4, 1, 32, 32) and labels.tolist() == [0, 1, 2, 3]


# ----------------------------------------------------------------------------- the defaults draw as before

# A frozen copy of the views as they were before the views config section: torchvision
# transforms with AMDIM's numbers written out. With the default views config the views
# must give bit-identical tensors for the same seeds (the demo's figures depend on it).
STL64 = DatasetInfo("stl10-64", 64, 3, 10, (0.44, 0.43, 0.40), (0.26, 0.25, 0.27), False)


def frozen_geometric(info):
    pad = [v2.Pad(2, fill=0)] if info.pad_to_32 else []
    if info.image_size == 32:
        move = v2.RandomApply([v2.RandomCrop(32, padding=4, padding_mode="reflect")], p=0.8)
    else:
        move = v2.RandomResizedCrop(info.image_size, scale=(0.3, 1.0), ratio=(0.7, 1.4),
                                    interpolation=InterpolationMode.BICUBIC, antialias=True)
    return v2.Compose([*pad, move])


def frozen_normalize(info):
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(info.mean), list(info.std))]


def frozen_photometric(info, strong):
    steps = [v2.RandAugment()] if strong else []
    if info.channels == 1:
        steps.append(v2.RandomApply([v2.ColorJitter(0.4, 0.4)], p=0.8))
    else:
        steps += [v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.2)], p=0.8),
                  v2.RandomGrayscale(p=0.25)]
    return v2.Compose([*steps, *frozen_normalize(info)])


def frozen_test_geometric(info):
    steps = [v2.Pad(2, fill=0)] if info.pad_to_32 else []
    if info.image_size != 32:
        resize = {64: 70, 128: 146}[info.image_size]
        steps += [v2.Resize(resize, interpolation=InterpolationMode.BICUBIC, antialias=True),
                  v2.CenterCrop(info.image_size)]
    return v2.Compose(steps) if steps else (lambda x: x)


def frozen_two_views(info, strong, photometric, with_test_view):
    geometric = frozen_geometric(info)
    view = v2.Compose([geometric, frozen_photometric(info, strong)]) if photometric else geometric
    test = frozen_test_geometric(info)
    if photometric:
        test = v2.Compose([test, *frozen_normalize(info)])

    def two(img):
        clean = (test(img),) if with_test_view else ()
        if torch.rand(()).item() < 0.5:
            img = F.horizontal_flip(img)
        return (view(img), view(img), *clean)

    return two


EQUIVALENCE = [(FASHION, 28, 28), (CIFAR, 32, 32), (STL64, 96, 96), (FOLDER, 150, 200)]


@pytest.mark.parametrize("info, height, width", EQUIVALENCE,
                         ids=["fashion-28px-1ch", "cifar-32px", "64px", "128px"])
@pytest.mark.parametrize("given", ["none", "default-section", "make_config"])
def test_default_views_are_bit_identical_to_the_amdim_views(info, height, width, given):
    from infomax.config import ViewsConfig, make_config

    config = {"none": None, "default-section": ViewsConfig(),
              "make_config": make_config("fmnist-tiny").views}[given]
    for strong in (False, True):
        for photometric, with_test_view in ((True, False), (False, False), (True, True)):
            new = views.TwoViews(info, strong, photometric, with_test_view, views=config)
            old = frozen_two_views(info, strong, photometric, with_test_view)
            for seed in range(8):
                x = random_image(info.channels, height, width, seed=100 + seed)
                torch.manual_seed(seed)
                expected = old(x)
                after_old = torch.rand(3)
                torch.manual_seed(seed)
                got = new(x)
                assert torch.equal(torch.rand(3), after_old)  # the same number of draws
                assert len(got) == len(expected)
                for a, b in zip(got, expected):
                    assert a.dtype == b.dtype and torch.equal(a, b)
    x = random_image(info.channels, height, width, seed=99)
    frozen_test = v2.Compose([frozen_test_geometric(info), *frozen_normalize(info)])
    assert torch.equal(views.test_view(info, config)(x), frozen_test(x))
    image = frozen_test_geometric(info)(x)  # at the view size
    torch.manual_seed(7)
    expected = frozen_photometric(info, True)(image)
    torch.manual_seed(7)
    assert torch.equal(views.photometric_view(info, True, config)(image), expected)


def test_the_view_constants_are_the_config_defaults():
    from infomax.config import ViewsConfig

    d = ViewsConfig()
    assert (views.TRANSLATE_PX, views.TRANSLATE_P, views.FLIP_P) == (d.translate_px, d.translate_p, d.flip_p) == (4, 0.8, 0.5)
    assert views.CROP_SCALE == tuple(d.crop_scale) == (0.3, 1.0) and views.CROP_RATIO == tuple(d.crop_ratio) == (0.7, 1.4)
    assert views.JITTER == tuple(d.jitter) == (0.4, 0.4, 0.4, 0.2)
    assert (views.JITTER_P, views.GRAYSCALE_P) == (d.jitter_p, d.grayscale_p) == (0.8, 0.25)
    assert (d.jitter_strength, d.blur_p, d.solarize_p, d.crop, d.flip_shared) == (1.0, 0.0, 0.0, "auto", True)
