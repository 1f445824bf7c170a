"""Fast AutoAugment (``infomax.data.autoaugment``, ``data.augment=fast-autoaugment``): the
published policies entry by entry, the level -> value mapping, every operation against the
authors' PIL function, tensors against PIL images, determinism and pickling, the config
keys (``strong`` still RandAugment), and short pretraining runs."""

from __future__ import annotations

import collections
import hashlib
import json
import pickle
import random

import numpy as np
import PIL.Image
import PIL.ImageDraw
import PIL.ImageEnhance
import PIL.ImageOps
import pytest
import torch
from torchvision.transforms import v2

from infomax.cli import main
from infomax.config import DataConfig, ViewsConfig, config_from_dict, make_config
from infomax.data import autoaugment as faa
from infomax.data import views
from infomax.data.autoaugment import FastAutoAugment
from infomax.data.multicrop import ExtraCrops, MultiCrop
from infomax.data.registry import dataset_info

from conftest import tiny_args

FASHION = dataset_info("fashion-mnist")
CIFAR = dataset_info("cifar10")
STL = dataset_info("stl10")  # 64 px

# ----------------------------------------------------------------- the published policies
# Copied from FastAutoAugment/archive.py of github.com/kakaobrain/fast-autoaugment (commit
# 5d86146346e7658796e4725fc74f521e4354d8c6): whole sub-policies at the given positions,
# each policy's number of sub-policies and of each operation, and the SHA-256 of the
# published list literal (the text after ``p = `` in fa_reduced_cifar10() and
# fa_resnet50_rimagenet()), which the module's table must reproduce character for
# character when written as JSON (the authors' literal is JSON: double quotes, ", ").
PUBLISHED = {
    "cifar10": {
        "function": "fa_reduced_cifar10",
        "count": 493,
        "sha256": "1784766ba9150a9b241ecb023331964de9299f11a260fe37e70d415dad50e834",
        "ops": {"Cutout": 79, "Invert": 75, "Equalize": 74, "TranslateY": 73,
                "AutoContrast": 70, "Contrast": 66, "TranslateX": 66, "Color": 65,
                "Rotate": 64, "ShearX": 64, "Posterize": 63, "ShearY": 63, "Sharpness": 62,
                "Brightness": 54, "Solarize": 48},
        "sub_policies": {
            0: [["Contrast", 0.8320659688593578, 0.49884310562180767],
                ["TranslateX", 0.41849883971249136, 0.394023086494538]],
            1: [["Color", 0.3500483749890918, 0.43355143929883955],
                ["Color", 0.5120716140300229, 0.7508299643325016]],
            2: [["Rotate", 0.9447932604389472, 0.29723465088990375],
                ["Sharpness", 0.1564936149799504, 0.47169309978091745]],
            246: [["Invert", 0.9417455522972059, 0.9021733684991224],
                  ["Solarize", 0.7693107057723746, 0.7268007946568782]],
            491: [["Brightness", 0.33840706322846814, 0.07917167871493658],
                  ["ShearY", 0.15693175752528676, 0.6282773652129153]],
            492: [["Cutout", 0.7550520024859294, 0.08982367300605598],
                  ["ShearX", 0.5844942417320858, 0.36051195083380105]],
        },
    },
    "imagenet": {
        "function": "fa_resnet50_rimagenet",
        "count": 498,
        "sha256": "93d0e6451516b467e7efd36ad2f7535df0667bee5ce1cba9c1e8456084b04640",
        "ops": {"Sharpness": 105, "Brightness": 96, "AutoContrast": 88, "Posterize": 78,
                "Cutout": 76, "Color": 75, "Contrast": 75, "ShearY": 70, "Rotate": 66,
                "ShearX": 60, "TranslateX": 50, "TranslateY": 44, "Equalize": 44,
                "Solarize": 36, "Invert": 33},
        "sub_policies": {
            0: [["ShearY", 0.14143816458479197, 0.513124791615952],
                ["Sharpness", 0.9290316227291179, 0.9788406212603302]],
            1: [["Color", 0.21502874228385338, 0.3698477943880306],
                ["TranslateY", 0.49865058747734736, 0.4352676987103321]],
            2: [["Brightness", 0.6603452126485386, 0.6990174510500261],
                ["Cutout", 0.7742953773992511, 0.8362550883640804]],
            246: [["Sharpness", 0.28459340191768434, 0.7802208350806028],
                  ["Rotate", 0.15097973114238117, 0.5259683294104645]],
            496: [["Equalize", 0.32519644258946145, 0.15763390340309183],
                  ["TranslateX", 0.6149090364414208, 0.7454832565718259]],
            497: [["AutoContrast", 0.5404508567155423, 0.7472387762067986],
                  ["Equalize", 0.05649876539221024, 0.5628180219887216]],
        },
    },
}

# augment_list() of FastAutoAugment/augmentations.py, its first 15 entries (the list the
# search draws from): (operation, min, max).
AUGMENT_LIST = [
    ("ShearX", -0.3, 0.3), ("ShearY", -0.3, 0.3), ("TranslateX", -0.45, 0.45),
    ("TranslateY", -0.45, 0.45), ("Rotate", -30, 30), ("AutoContrast", 0, 1),
    ("Invert", 0, 1), ("Equalize", 0, 1), ("Solarize", 0, 256), ("Posterize", 4, 8),
    ("Contrast", 0.1, 1.9), ("Color", 0.1, 1.9), ("Brightness", 0.1, 1.9),
    ("Sharpness", 0.1, 1.9), ("Cutout", 0, 0.2),
]


@pytest.fixture(params=["cifar10", "imagenet"])
def published(request):
    return request.param, PUBLISHED[request.param]


def test_the_tables_are_the_published_ones(published):
    name, paper = published
    table = faa.POLICIES[name]
    assert faa.SOURCES[name] == paper["function"]
    assert len(table) == paper["count"]
    for index, sub_policy in paper["sub_policies"].items():
        assert [list(step) for step in table[index]] == sub_policy, index
    counts = collections.Counter(step[0] for sub in table for step in sub)
    assert counts == paper["ops"]
    # every sub-policy's operations, probabilities and levels, in order: the published
    # literal, character for character
    text = json.dumps([[list(step) for step in sub] for sub in table])
    assert hashlib.sha256(text.encode()).hexdigest() == paper["sha256"]
    for sub in table:
        assert len(sub) == 2
        for op, probability, level in sub:
            assert op in faa.OPERATIONS and 0 <= probability <= 1 and 0 <= level <= 1


def test_the_ranges_are_augment_lists():
    assert [(name, *faa.RANGES[name]) for name in faa.RANGES] == AUGMENT_LIST
    assert list(faa.OPERATIONS) == [name for name, _, _ in AUGMENT_LIST]


@pytest.mark.parametrize("name, low, high", AUGMENT_LIST, ids=[n for n, _, _ in AUGMENT_LIST])
def test_level_to_value(name, low, high, monkeypatch):
    """value = level * (max - min) + min, and that value is what the operation gets."""
    for level in (0.0, 0.25, 0.5, 0.9021733684991224, 1.0):
        assert faa.op_value(name, level) == pytest.approx(level * (high - low) + low, abs=1e-12)
    assert faa.op_value(name, 0.0) == low and faa.op_value(name, 1.0) == pytest.approx(high)
    seen = []
    monkeypatch.setitem(faa.OPERATIONS, name, lambda img, v: seen.append(v) or img)
    faa.apply_operation(None, name, 0.3)
    assert seen == [pytest.approx(0.3 * (high - low) + low)]


# --------------------------------------------------------------- the authors' operations
# Each operation as FastAutoAugment/augmentations.py writes it (PIL), with the random draws
# made from torch in the order the module makes them: the sign first (negated when the
# draw is < 0.5; the authors negate when random.random() > 0.5: the same probability),
# the cutout's x then y.

def _sign() -> int:
    return -1 if torch.rand(()).item() < 0.5 else 1


def reference(img: PIL.Image.Image, name: str, v: float) -> PIL.Image.Image:
    if name in ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate"):
        v *= _sign()
    if name == "ShearX":
        return img.transform(img.size, PIL.Image.AFFINE, (1, v, 0, 0, 1, 0))
    if name == "ShearY":
        return img.transform(img.size, PIL.Image.AFFINE, (1, 0, 0, v, 1, 0))
    if name == "TranslateX":
        return img.transform(img.size, PIL.Image.AFFINE, (1, 0, v * img.size[0], 0, 1, 0))
    if name == "TranslateY":
        return img.transform(img.size, PIL.Image.AFFINE, (1, 0, 0, 0, 1, v * img.size[1]))
    if name == "Rotate":
        return img.rotate(v)
    if name == "AutoContrast":
        return PIL.ImageOps.autocontrast(img)
    if name == "Invert":
        return PIL.ImageOps.invert(img)
    if name == "Equalize":
        return PIL.ImageOps.equalize(img)
    if name == "Solarize":
        return PIL.ImageOps.solarize(img, v)
    if name == "Posterize":
        return PIL.ImageOps.posterize(img, int(v))
    enhance = {"Contrast": PIL.ImageEnhance.Contrast, "Color": PIL.ImageEnhance.Color,
               "Brightness": PIL.ImageEnhance.Brightness,
               "Sharpness": PIL.ImageEnhance.Sharpness}
    if name in enhance:
        return enhance[name](img).enhance(v)
    assert name == "Cutout"
    if v <= 0:
        return img
    v = v * img.size[0]
    w, h = img.size
    # np.random.uniform(w) is uniform(low=w, high=1.0): low + (high - low) * u
    x0 = w + (1.0 - w) * torch.rand(()).item()
    y0 = h + (1.0 - h) * torch.rand(()).item()
    x0 = int(max(0, x0 - v / 2.0))
    y0 = int(max(0, y0 - v / 2.0))
    x1 = min(w, x0 + v)
    y1 = min(h, y0 + v)
    img = img.copy()
    # (125, 123, 114) as the authors; PIL refuses an RGB colour on a 1-channel image:
    # the colour's luminance there
    color = (125, 123, 114) if img.mode == "RGB" else faa.CUTOUT_GRAY
    PIL.ImageDraw.Draw(img).rectangle((x0, y0, x1, y1), color)
    return img


def test_the_cutout_gray_is_the_colours_luminance():
    gray = PIL.Image.new("RGB", (1, 1), faa.CUTOUT_COLOR).convert("L")
    assert gray.getpixel((0, 0)) == faa.CUTOUT_GRAY


# What a uint8 tensor may differ by from the PIL result (see the module docstring): the
# largest difference of a pixel value, and for the geometric operations the fraction of
# pixels that may take another pixel's value (PIL's fixed-point sampling). PIL images go
# through PIL itself: no difference at all.
GEOMETRIC = ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate")
MAX_DIFF = {"AutoContrast": 1, "Contrast": 1, "Color": 1, "Sharpness": 1}
GEOMETRIC_FRACTION = 0.03
SIZES = [(32, 32), (24, 40), (17, 29)]


def _images(channels: int, height: int, width: int, seed: int):
    g = np.random.default_rng(seed)
    array = g.integers(0, 256, (height, width, channels), dtype=np.uint8)
    if seed % 2:  # a narrower range, for autocontrast and equalize to act on
        array = (array // 3 + 40).astype(np.uint8)
    pil = PIL.Image.fromarray(array[..., 0] if channels == 1 else array)
    return pil, torch.from_numpy(array).permute(2, 0, 1).contiguous()


def _pixels(img) -> np.ndarray:
    if isinstance(img, torch.Tensor):
        return img.permute(1, 2, 0).numpy().astype(int)
    array = np.asarray(img).astype(int)
    return array[..., None] if array.ndim == 2 else array


@pytest.mark.parametrize("name", list(faa.RANGES))
@pytest.mark.parametrize("channels", [1, 3])
def test_each_operation_matches_the_authors_pil_function(name, channels):
    levels = np.random.default_rng(len(name) * channels).random(8)
    for i, level in enumerate(levels):
        pil, tensor = _images(channels, *SIZES[i % len(SIZES)], seed=i)
        value = faa.op_value(name, level)
        torch.manual_seed(i)
        expected = _pixels(reference(pil, name, value))
        after = torch.rand(3)
        for given in (pil, tensor):
            torch.manual_seed(i)
            out = faa.apply_operation(given, name, level)
            assert torch.equal(torch.rand(3), after)  # the same random draws
            assert type(out) is type(given)
            got = _pixels(out)
            assert got.shape == expected.shape
            if given is pil:
                assert np.array_equal(got, expected), (name, level)
            elif name in GEOMETRIC:
                assert (got != expected).any(-1).mean() <= GEOMETRIC_FRACTION, (name, level)
            else:
                assert np.abs(got - expected).max() <= MAX_DIFF.get(name, 0), (name, level)


def test_signs_and_extremes():
    """The geometric operations move both ways; Solarize at 256 and Cutout at 0 leave the
    image alone; Posterize keeps int(v) bits."""
    _, x = _images(3, 32, 32, seed=3)
    outs = set()
    for seed in range(12):
        torch.manual_seed(seed)
        outs.add(faa.translate_x(x, 0.25)[:, :, 16].sum().item())
    assert len(outs) == 2  # +8 px and -8 px
    assert torch.equal(faa.solarize(x, 256.0), x) and torch.equal(faa.cutout(x, 0.0), x)
    assert torch.equal(faa.posterize(x, 4.9), x & 0xF0)
    torch.manual_seed(0)
    cut = faa.cutout(torch.zeros(3, 20, 20, dtype=torch.uint8), 0.2)  # a 4 px square
    filled = (cut != 0).any(0)
    assert 9 <= filled.sum() <= 25 and cut[:, filled].T.unique(dim=0).tolist() == [[125, 123, 114]]


# ------------------------------------------------------------------------- the transform

def test_one_sub_policy_per_image_each_step_with_its_probability(monkeypatch):
    calls = []
    for name in ("Invert", "Equalize", "Solarize", "Posterize"):
        monkeypatch.setitem(faa.OPERATIONS, name,
                            lambda img, v, name=name: calls.append((name, v)) or img)
    table = ((("Invert", 1.0, 0.0), ("Equalize", 0.25, 0.0)),
             (("Solarize", 0.0, 1.0), ("Posterize", 1.0, 1.0)))
    monkeypatch.setitem(faa.POLICIES, "cifar10", table)
    transform = FastAutoAugment("cifar10")
    torch.manual_seed(0)
    counts = collections.Counter()
    for _ in range(2000):
        calls.clear()
        transform(torch.zeros(1, 4, 4, dtype=torch.uint8))
        names = [c[0] for c in calls]
        assert names in (["Invert"], ["Invert", "Equalize"], ["Posterize"])  # in order
        counts.update(names)
        if "Posterize" in names:
            assert calls == [("Posterize", 8.0)]
    assert abs(counts["Invert"] / 2000 - 0.5) < 0.04  # one of the two sub-policies
    assert abs(counts["Equalize"] / counts["Invert"] - 0.25) < 0.04
    assert counts["Invert"] + counts["Posterize"] == 2000


@pytest.mark.parametrize("policy", ["cifar10", "imagenet"])
@pytest.mark.parametrize("channels", [1, 3])
def test_tensor_and_pil_inputs_give_the_same_views(policy, channels):
    """Whole sub-policies: the same draws, and the same pixels but for the operations'
    differences, which a second operation can enlarge (AutoContrast stretching a
    Contrast's +-1): nearly every pixel within 1, the views alike on average."""
    transform = FastAutoAugment(policy)
    close = []
    for seed in range(40):
        pil, tensor = _images(channels, 32, 32, seed=seed)
        torch.manual_seed(seed)
        a = _pixels(transform(pil))
        after = torch.rand(3)
        torch.manual_seed(seed)
        out = transform(tensor)
        assert torch.equal(torch.rand(3), after)
        assert out.dtype == torch.uint8 and out.shape == tensor.shape
        diff = np.abs(_pixels(out) - a)
        close.append((diff <= 1).mean())
        assert diff.mean() < 3.0, seed
    assert np.mean(close) > 0.98


@pytest.mark.parametrize("policy", ["cifar10", "imagenet"])
def test_deterministic_under_torch_seed_and_leaves_other_generators_alone(policy):
    transform = FastAutoAugment(policy)
    _, x = _images(3, 32, 32, seed=5)
    random.seed(1)
    np.random.seed(1)
    py_state, np_state = random.getstate(), np.random.get_state()[1].copy()
    torch.manual_seed(7)
    first = [transform(x) for _ in range(20)]
    torch.manual_seed(7)
    again = [transform(x) for _ in range(20)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert len({a.numpy().tobytes() for a in first}) > 10  # sub-policies differ per call
    assert random.getstate() == py_state and np.array_equal(np.random.get_state()[1], np_state)


def test_pickles_small_and_reprs():
    transform = FastAutoAugment("imagenet")
    data = pickle.dumps(transform)
    assert len(data) < 2000  # the policy by name, not the table
    again = pickle.loads(data)
    _, x = _images(1, 28, 28, seed=2)
    torch.manual_seed(3)
    a = [transform(x) for _ in range(10)]
    torch.manual_seed(3)
    b = [again(x) for _ in range(10)]
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert repr(transform) == ("FastAutoAugment(policy='imagenet', sub_policies=498, "
                               "source='fa_resnet50_rimagenet')")
    with pytest.raises(ValueError, match="choose one of cifar10, imagenet"):
        FastAutoAugment("svhn")
    two = views.TwoViews(FASHION, "fast-autoaugment")
    out = pickle.loads(pickle.dumps(two))(x)
    assert len(out) == 2 and out[0].shape == (1, 32, 32)


# ------------------------------------------------------------------------- in the views

def test_auto_policy_follows_the_image_size():
    assert faa.resolve_policy("auto", 32) == "cifar10"
    assert faa.resolve_policy("auto", 63) == "cifar10"
    assert faa.resolve_policy("auto", 64) == "imagenet"
    assert faa.resolve_policy("cifar10", 224) == "cifar10"
    assert views.TwoViews(CIFAR, "fast-autoaugment").policy == "cifar10"
    assert views.TwoViews(STL, "fast-autoaugment").policy == "imagenet"
    assert views.TwoViews(STL, "fast-autoaugment", policy="cifar10").policy == "cifar10"


def _steps(pipeline) -> list:
    out = []
    for t in getattr(pipeline, "transforms", [pipeline]):
        out += _steps(t) if isinstance(t, v2.Compose) else [t]
    return out


def test_views_place_it_before_the_photometric_steps_on_the_cpu_and_in_the_workers():
    for photometric in (True, False):
        two = views.TwoViews(STL, "fast-autoaugment", photometric=photometric)
        steps = _steps(two.view)
        found = [s for s in steps if isinstance(s, FastAutoAugment)]
        assert len(found) == 1 and found[0].policy == "imagenet"
        after = steps[steps.index(found[0]) + 1:]
        assert not any(isinstance(s, (v2.RandomResizedCrop, v2.RandomCrop)) for s in after)
        if photometric:
            assert isinstance(after[0], v2.RandomApply)  # the jitter follows
        else:
            assert after == []  # uint8 out, for the device's photometric part
    # RandAugment stays out of the workers with augment_device (it runs on the device)
    steps = _steps(views.TwoViews(CIFAR, "randaugment", photometric=False).view)
    assert not any(isinstance(s, (v2.RandAugment, FastAutoAugment)) for s in steps)


def test_multicrop_crops_get_the_views_augmentation_and_policy():
    for photometric in (True, False):
        two = views.TwoViews(STL, "fast-autoaugment", photometric=photometric)
        multi = MultiCrop(two, (ExtraCrops(2, 32, (0.05, 0.14)),))
        for pipeline in multi.pipelines:
            found = [s for s in _steps(pipeline) if isinstance(s, FastAutoAugment)]
            # the views' policy (64 px: imagenet), not the one of the crops' 32 px
            assert len(found) == 1 and found[0].policy == "imagenet"
        out = multi(torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8))
        assert [tuple(o.shape) for o in out] == [(3, 64, 64)] * 2 + [(3, 32, 32)] * 2
        assert all(o.dtype == (torch.float32 if photometric else torch.uint8) for o in out)
    plain = MultiCrop(views.TwoViews(STL), (ExtraCrops(1, 32, (0.05, 0.14)),))
    assert not any(isinstance(s, FastAutoAugment) for s in _steps(plain.pipelines[0]))


# ------------------------------------------------------------------------------ config

def test_strong_is_randaugment_exactly_as_before():
    cfg = make_config("fmnist-tiny", ["data.augment=strong"])
    assert cfg.data.augment == "randaugment" and cfg.to_dict()["data"]["augment"] == "randaugment"
    # a saved run's config from before the key had other values
    saved = make_config("fmnist-tiny").to_dict()
    saved["data"]["augment"] = "strong"
    assert config_from_dict(saved).data.augment == "randaugment"
    x = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    old = views.TwoViews(CIFAR, True)  # the former strong=True
    for augment in ("strong", "randaugment"):
        new = views.TwoViews(CIFAR, augment)
        found = [s for s in _steps(new.view) if isinstance(s, v2.RandAugment)]
        assert len(found) == 1 and (found[0].num_ops, found[0].magnitude) == (2, 9)
        for seed in range(5):
            torch.manual_seed(seed)
            expected = old(x)
            torch.manual_seed(seed)
            assert all(torch.equal(a, b) for a, b in zip(new(x), expected))


@pytest.mark.parametrize("argv, words", [
    (["data.augment=heavy"], ["data.augment", "'heavy'", "plain, randaugment, fast-autoaugment"]),
    (["data.augment_policy=svhn"], ["data.augment_policy", "'svhn'", "auto, cifar10, imagenet"]),
])
def test_bad_values_end_in_one_line(argv, words, capsys):
    assert main(["config", "--preset", "fmnist-tiny", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and all(w in err for w in words), err


def test_the_keys_are_described():
    from infomax.config import describe_keys

    text = describe_keys()
    assert "data.augment = 'plain'" in text and "fast-autoaugment" in text
    assert "data.augment_policy = 'auto'" in text and "one of auto, cifar10, imagenet" in text


# ------------------------------------------------------------------------ end to end

def _train_transform(data):
    dataset = data._train
    while hasattr(dataset, "dataset"):  # subsets and wrappers
        dataset = dataset.dataset
    return dataset.transform


@pytest.mark.parametrize("device", [False, True], ids=["cpu-views", "augment-device"])
def test_pretrain_with_fast_autoaugment(fake_fmnist, tmp_path, device):
    from infomax.data.module import PretrainData
    from infomax.runs import config_from_run

    argv = tiny_args(fake_fmnist, tmp_path, "data.augment=fast-autoaugment",
                     f"data.augment_device={str(device).lower()}", "train.epochs=1",
                     "train.limit_train_batches=2")
    assert main(argv) == 0
    cfg = config_from_run(tmp_path / "tiny")
    assert (cfg.data.augment, cfg.data.augment_policy) == ("fast-autoaugment", "auto")
    data = PretrainData(cfg.data, seed=0)
    data.setup()
    found = [s for s in _steps(_train_transform(data).view) if isinstance(s, FastAutoAugment)]
    assert len(found) == 1 and found[0].policy == "cifar10"  # 32 px
    if device:  # the workers augment; the device runs no RandAugment
        assert data.device_augment.randaugment is None


def test_swav_multicrop_pretrains_with_fast_autoaugment(fake_fmnist, tmp_path):
    from infomax.data.module import PretrainData
    from infomax.methods import SwAV
    from infomax.runs import config_from_run

    argv = tiny_args(fake_fmnist, tmp_path, "method=swav", "swav.nmb_prototypes=16",
                     "swav.hidden_dim=32", "swav.embed_dim=16", "swav.small_crops=2",
                     "data.augment=fast-autoaugment", "train.epochs=1",
                     "train.limit_train_batches=2")
    assert main(argv) == 0
    cfg = config_from_run(tmp_path / "tiny")
    data = PretrainData(cfg.data, seed=0, views=cfg.views,
                        extra_crops=lambda info: SwAV.extra_crops(cfg, info))
    data.setup()
    multi = _train_transform(data)
    assert isinstance(multi, MultiCrop) and multi.count == 2
    for pipeline in (multi.transform.view, *multi.pipelines):
        assert sum(isinstance(s, FastAutoAugment) for s in _steps(pipeline)) == 1


def test_data_config_takes_the_policy(fake_fmnist):
    from infomax.data.module import PretrainData

    cfg = DataConfig(name="fashion-mnist", dir=str(fake_fmnist), download=False,
                     batch_size=8, num_workers=0, augment="fast-autoaugment",
                     augment_policy="imagenet")
    data = PretrainData(cfg, pin_memory=False, views=ViewsConfig())
    batch = next(iter(data.train_dataloader()))
    assert batch.views[0].shape == (8, 1, 32, 32) and torch.isfinite(batch.views[0]).all()
    found = [s for s in _steps(_train_transform(data).view) if isinstance(s, FastAutoAugment)]
    assert [f.policy for f in found] == ["imagenet"]
