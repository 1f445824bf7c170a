"""Shared fixtures: a small fake Fashion-MNIST in the real on-disk format, and an isolated
data registry (no system copy of the data set, no download attempts)."""

from __future__ import annotations

import contextlib
import gzip
import os
import pickle
import struct
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch

from infomax.data import registry

FAKE_TRAIN = 256
FAKE_TEST = 64
SIDE = 28

# A tiny AMDIM for end-to-end runs on the fake data (seconds per epoch on 2 CPU cores).
TINY = ["model.ndf=8", "model.n_rkhs=32", "model.n_depth=1", "data.batch_size=32",
        "data.num_workers=0", "optim.warmup_steps=5", "train.log_every_n_steps=1",
        "train.accelerator=cpu", "probe.epochs=2", "probe.milestones=[1]",
        # The preset's demo schedule (several epochs, cooldown, fast probes) and online
        # probes (test views, replay, averaged weights) are not what these tests are about:
        # one epoch (tests set more), a constant rate, the public code's probes.
        "train.epochs=1", "optim.cooldown=0", "optim.probe_lr=null", "optim.probe_cooldown=true",
        "probe.online_view=augmented", "probe.online_replay=0", "probe.online_ema=0"]


def pytest_configure(config):
    # Two cores shared by the pytest-xdist workers (and whatever else runs): with one thread
    # per process the small convolutions of the end-to-end tests run several times faster
    # than with oversubscribed OpenMP threads.
    torch.set_num_threads(1)
    # numba (under umap-learn, in the report's map) would otherwise run its parallel loops on
    # the OpenMP layer, i.e. the libgomp that torch also loads, leaving a thread pool in this
    # process; a child forked afterwards (test_resume's killed runs) then hangs in its first
    # OpenMP region. numba's own thread pool is not inherited that way.
    os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")


def write_idx(path: Path, array: np.ndarray) -> None:
    """An idx file of unsigned bytes (gzip'd when the name ends in .gz), as torchvision's
    FashionMNIST/raw holds them: 0x00 0x00 0x08 ndim, big-endian dims, then the bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw += array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as f:
            f.write(raw)
    else:
        path.write_bytes(raw)


def class_templates(num_classes: int = 10, seed: int = 1234) -> np.ndarray:
    """One blocky 28x28 pattern per class in [0, 1]: a class is told apart by where its
    bright blocks are."""
    rng = np.random.default_rng(seed)
    coarse = (rng.random((num_classes, 7, 7)) < 0.35).astype(np.float32)
    return coarse.repeat(4, axis=1).repeat(4, axis=2)


def fake_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 images (n, 28, 28) and labels: each class's template, randomly dimmed
    and shifted by a pixel, plus noise. Labels cycle through the classes, so every class is
    present and balanced."""
    rng = np.random.default_rng(seed)
    templates = class_templates()
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images = np.empty((n, SIDE, SIDE), dtype=np.float32)
    for i, y in enumerate(labels):
        img = templates[y] * rng.uniform(150, 230)
        img = np.roll(img, tuple(rng.integers(-1, 2, size=2)), axis=(0, 1))
        images[i] = img + rng.normal(0, 25, (SIDE, SIDE))
    return np.clip(images, 0, 255).astype(np.uint8), labels


def write_fake_fmnist(root: Path, n_train: int = FAKE_TRAIN, n_test: int = FAKE_TEST,
                      seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``<root>/FashionMNIST/raw/*-ubyte.gz``; returns {split: (images, labels)}."""
    raw = Path(root) / "FashionMNIST" / "raw"
    out = {}
    parts = (("train", n_train, "train", seed), ("t10k", n_test, "test", seed + 1))
    for prefix, n, split, s in parts:
        images, labels = fake_images(n, s)
        write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", labels)
        out[split] = (images, labels)
    return out


def write_cifar(root: Path, name: str, n_per_batch: int = 4, n_test: int = 6, str_keys: bool = False):
    """cifar-10-batches-py or cifar-100-python with pickled dicts; returns {split: (data, labels)}."""
    rng = np.random.default_rng(1 if name == "cifar10" else 2)

    def key(k: str):
        return k if str_keys else k.encode()

    if name == "cifar10":
        folder, test_file = "cifar-10-batches-py", "test_batch"
        train_files = [f"data_batch_{i}" for i in range(1, 6)]
        label_key, num_classes = "labels", 10
        meta_file, meta = "batches.meta", {key("label_names"): [f"c{i}".encode() for i in range(10)]}
    else:
        folder, train_files, test_file = "cifar-100-python", ["train"], "test"
        label_key, num_classes = "fine_labels", 100
        meta_file, meta = "meta", {key("fine_label_names"): [f"c{i}".encode() for i in range(100)]}
    directory = root / folder
    directory.mkdir(parents=True)
    out = {"train": ([], []), "test": ([], [])}
    for split, files, n in (("train", train_files, n_per_batch), ("test", [test_file], n_test)):
        for filename in files:
            data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
            labels = [int(v) for v in rng.integers(0, num_classes, n)]
            entry = {key("data"): data, key(label_key): labels, key("batch_label"): b"batch"}
            if name == "cifar100":
                entry[key("coarse_labels")] = [v // 5 for v in labels]
            with open(directory / filename, "wb") as f:
                pickle.dump(entry, f)
            out[split][0].append(data)
            out[split][1].extend(labels)
    with open(directory / meta_file, "wb") as f:
        pickle.dump(meta, f)
    return {split: (np.concatenate(d), np.array(l)) for split, (d, l) in out.items()}


def write_stl_x(path: Path, images: np.ndarray) -> None:
    """STL-10 *_X.bin: each image as 3 planes of 96 x 96 bytes in column-major order."""
    path.write_bytes(np.ascontiguousarray(images.transpose(0, 1, 3, 2)).tobytes())


def write_stl(root: Path):
    """A tiny stl10_binary; returns the images (N, 3, 96, 96) and 1-based labels written."""
    rng = np.random.default_rng(3)
    directory = root / "stl10_binary"
    directory.mkdir(parents=True)
    out = {}
    for part, n in (("train", 5), ("test", 4), ("unlabeled", 3)):
        images = rng.integers(0, 200, (n, 3, 96, 96), dtype=np.uint8)
        write_stl_x(directory / f"{part}_X.bin", images)
        labels = None
        if part != "unlabeled":
            labels = rng.integers(1, 11, n, dtype=np.uint8)
            (directory / f"{part}_y.bin").write_bytes(labels.tobytes())
        out[part] = (images, labels)
    # An asymmetric marker: a tall thin bright bar in the top-left corner of train image 0.
    out["train"][0][0] = 0
    out["train"][0][0, :, :12, :3] = 255
    write_stl_x(directory / "train_X.bin", out["train"][0])
    (directory / "class_names.txt").write_text("\n".join(f"class{i}" for i in range(10)) + "\n")
    (directory / "fold_indices.txt").write_text("\n".join("0 1 2" for _ in range(10)) + "\n")
    return out


@contextlib.contextmanager
def isolated_registry(mp: pytest.MonkeyPatch):
    """No real system copy of any data set, no downloads, no remembered locations."""

    def no_network(name, root):
        raise URLError("no network in tests")

    registry.forget_locations()
    mp.setattr(registry, "SYSTEM_DIRS", {})
    mp.setattr(registry, "_download", no_network)
    mp.delenv(registry.ENV_VAR, raising=False)
    try:
        yield
    finally:
        registry.forget_locations()


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module of tiny models or tensors: more threads only add
    synchronisation at these sizes (and seconds, on a loaded machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def fake_fmnist(tmp_path, monkeypatch) -> Path:
    """The data root of a fake Fashion-MNIST (256 train, 64 test images)."""
    root = tmp_path / "data"
    write_fake_fmnist(root)
    with isolated_registry(monkeypatch):
        yield root


@pytest.fixture(scope="session")
def fake_fmnist_session(tmp_path_factory) -> Path:
    """The same fake Fashion-MNIST, written once per test process (use it with a
    module-scoped isolated registry, see ``module_registry``)."""
    root = tmp_path_factory.mktemp("fmnist") / "data"
    write_fake_fmnist(root)
    return root


@pytest.fixture(scope="module")
def module_registry():
    """``isolated_registry`` for module-scoped fixtures."""
    with pytest.MonkeyPatch.context() as mp, isolated_registry(mp):
        yield


def tiny_args(root: Path, out: Path, *extra: str) -> list[str]:
    """``infomax pretrain`` arguments for a tiny run on the fake data in ``out``."""
    return ["pretrain", "--preset", "fmnist-tiny", "--no-progress", "--data-dir", str(root),
            "--out", str(out), "--name", "tiny", *TINY, *extra]


@pytest.fixture(scope="session")
def tiny_run(fake_fmnist_session, tmp_path_factory) -> Path:
    """The run folder of a 2-epoch tiny pretraining on the fake data (trained once per
    test process)."""
    from infomax.cli import main

    out = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp, isolated_registry(mp):
        rc = main(tiny_args(fake_fmnist_session, out, "train.epochs=2"))
    assert rc == 0
    return out / "tiny"


# A tiny ResNet-18 run: SimCLR, two steps of four images (its BatchNorm statistics move).
TINY_RESNET = ["method=simclr", "model.encoder=resnet18", "simclr.hidden_dim=32",
               "data.batch_size=4", "train.limit_train_batches=2", "data.val_subset=4"]


def _resnet_run(root: Path, out: Path, *extra: str) -> Path:
    from infomax.cli import main

    with pytest.MonkeyPatch.context() as mp, isolated_registry(mp):
        rc = main(tiny_args(root, out, *TINY_RESNET, *extra))
    assert rc == 0
    return out / "tiny"


@pytest.fixture(scope="session")
def tiny_resnet_run(fake_fmnist_session, tmp_path_factory) -> Path:
    """The run folder of a tiny ResNet-18 on the fake data: 1 channel, 28 px images padded
    to 32 (the small-image stem)."""
    return _resnet_run(fake_fmnist_session, tmp_path_factory.mktemp("resnet"))


@pytest.fixture(scope="session")
def tiny_resnet_rgb_run(fake_fmnist_session, tmp_path_factory) -> Path:
    """The same on the fake data seen as 3-channel images (data.channels=3)."""
    return _resnet_run(fake_fmnist_session, tmp_path_factory.mktemp("resnet-rgb"),
                       "data.channels=3")


@pytest.fixture
def run_copy(tiny_run, tmp_path, monkeypatch):
    """A copy of the tiny run, for tests that write into the run folder (probes, features,
    reports), with an isolated data registry."""
    import shutil

    run = tmp_path / "tiny"
    shutil.copytree(tiny_run, run)
    with isolated_registry(monkeypatch):
        yield run
