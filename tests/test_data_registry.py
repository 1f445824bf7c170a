"""Data registry: names, data roots, and readers of the real on-disk formats (tiny files)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
from PIL import Image

from infomax.data import registry
from infomax.data.registry import (
    DATASET_NAMES,
    DATASETS,
    DataSetEntry,
    DatasetInfo,
    build_dataset,
    canonical_data_name,
    class_names,
    dataset_info,
    register_dataset,
    resolve_data_root,
    valid_data_names,
)
from infomax.errors import ConfigError, DataNotFoundError, InfomaxError
from conftest import write_cifar, write_idx, write_stl, write_stl_x

REAL_DOWNLOAD = registry._download  # taken before the autouse fixture replaces it


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch):
    """No remembered locations, no real system directories, and no download attempts."""
    registry.forget_locations()
    monkeypatch.setattr(registry, "SYSTEM_DIRS", {})

    def no_network(name, root):
        raise URLError("no network in tests")

    monkeypatch.setattr(registry, "_download", no_network)
    yield
    registry.forget_locations()


# ----------------------------------------------------------------------------- file writers


def write_mnist(directory: Path, seed: int, n_train: int = 7, n_test: int = 5, gz: bool = True):
    """The four idx files; returns {split: (images (N, 28, 28), labels (N,))}."""
    rng = np.random.default_rng(seed)
    suffix = ".gz" if gz else ""
    out = {}
    for prefix, n, split in (("train", n_train, "train"), ("t10k", n_test, "test")):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
        out[split] = (images, labels)
    return out


def write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def images_of(dataset) -> torch.Tensor:
    return torch.stack([dataset[i][0] for i in range(len(dataset))])


def labels_of(dataset) -> list[int]:
    return [dataset[i][1] for i in range(len(dataset))]


def assert_one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text.strip() == text and text
    return text


# ----------------------------------------------------------------------------- names and roots


def test_dataset_info_constants():
    assert DATASET_NAMES == ("fashion-mnist", "mnist", "cifar10", "cifar100", "stl10")
    sizes = {"fashion-mnist": 32, "mnist": 32, "cifar10": 32, "cifar100": 32, "stl10": 64}
    for name in DATASET_NAMES:
        info = dataset_info(name)
        assert isinstance(info, DatasetInfo) and info.name == name
        assert info.image_size == sizes[name]
        assert info.channels == (1 if "mnist" in name else 3)
        assert len(info.mean) == len(info.std) == info.channels
        assert info.pad_to_32 == ("mnist" in name)
        assert info.num_classes == (100 if name == "cifar100" else 10)
    assert dataset_info("cifar10").mean == (0.4914, 0.4822, 0.4465)
    assert dataset_info("cifar10").std == (0.2470, 0.2435, 0.2616)
    assert dataset_info("fashion-mnist").mean == (0.2860,) and dataset_info("fashion-mnist").std == (0.3530,)
    assert dataset_info("mnist").mean == (0.1307,) and dataset_info("mnist").std == (0.3081,)
    assert dataset_info("stl10").mean == (0.4467, 0.4398, 0.4066)
    assert dataset_info("cifar100").std == (0.2673, 0.2564, 0.2762)
    with pytest.raises(Exception):
        dataset_info("cifar10").image_size = 64  # frozen


def test_spellings_are_forgiven():
    assert dataset_info("CIFAR10").name == "cifar10"
    assert dataset_info("fashion_mnist").name == "fashion-mnist"
    assert dataset_info("STL-10").name == "stl10"


def test_unknown_name_lists_valid_names(tmp_path):
    for call in (lambda: dataset_info("imagenette"), lambda: build_dataset("imagenette", "train", tmp_path)):
        with pytest.raises(ConfigError) as err:
            call()
        text = assert_one_line(err.value)
        assert "imagenette" in text
        for name in DATASET_NAMES + ("imagefolder:<path>",):
            assert name in text
    with pytest.raises(ConfigError):
        dataset_info("imagefolder:")
    assert issubclass(ConfigError, InfomaxError)


def test_one_registration_is_seen_everywhere(tmp_path, monkeypatch):
    """A toy set registered once is named, spelled, described, read, fetched and labelled."""
    from infomax import report

    def read_toy(entry, directory, split, transform):
        (filename,) = entry.layout.files[split]
        raw = np.frombuffer((directory / filename).read_bytes(), dtype=np.uint8)
        images = torch.from_numpy(raw.copy()).view(-1, 1, 2, 2)
        return registry.ArrayImageDataset(images, torch.arange(len(images)) % 3, transform)

    def fetch_toy(root):
        (root / "Toy").mkdir(parents=True)
        (root / "Toy" / "toy_test.bin").write_bytes(bytes(range(8)))

    toy = DataSetEntry(
        DatasetInfo("toy", 2, 1, 3, (0.5,), (0.25,), False),
        registry.Layout(
            "Toy", {"pretrain": ("toy_train.bin",), "train": ("toy_train.bin",),
                    "test": ("toy_test.bin",)}, False, "Expected Toy/toy_*.bin under the data root"
        ),
        read_toy,
        fetch_toy,
        aliases=("toy-set",),
        class_names=("a", "b", "c"),
    )
    (tmp_path / "Toy").mkdir()
    (tmp_path / "Toy" / "toy_train.bin").write_bytes(bytes(range(12)))
    before = dict(DATASETS)
    try:
        assert register_dataset(toy) is toy and list(DATASETS)[-1] == "toy"
        assert canonical_data_name("Toy-Set") == canonical_data_name(" TOY ") == "toy"
        assert valid_data_names().endswith("stl10, toy, imagefolder:<path>, imagenet:<root>, "
                                         "webdataset:<shards>")
        assert dataset_info("toy-set") is toy.info
        train = build_dataset("toy", "train", tmp_path, download=False)
        assert len(train) == 3 and labels_of(train) == [0, 1, 2]
        assert torch.equal(train[1][0], torch.tensor([[[4, 5], [6, 7]]], dtype=torch.uint8))
        with pytest.raises(DataNotFoundError) as err:
            build_dataset("toy", "test", tmp_path, download=False)
        text = assert_one_line(err.value)
        assert text.startswith("toy not found") and "(lacks toy_test.bin)" in text
        assert text.endswith("Expected Toy/toy_*.bin under the data root.")
        monkeypatch.setattr(registry, "_download", REAL_DOWNLOAD)  # the entry's own download
        assert len(build_dataset("toy", "test", tmp_path / "fresh", download=True)) == 2
        assert class_names("TOY") == ("a", "b", "c")
        assert report.class_names("toy", 3) == ["a", "b", "c"]
        with pytest.raises(ValueError):
            register_dataset(toy)  # once only, and no spelling twice
        with pytest.raises(ValueError):
            register_dataset(DataSetEntry(DatasetInfo("toy2", 2, 1, 3, (0.5,), (0.25,), False),
                                          toy.layout, read_toy, fetch_toy, aliases=("cifar-10",)))
    finally:
        DATASETS.clear()
        DATASETS.update(before)
    with pytest.raises(ConfigError) as err:
        canonical_data_name("toy")
    assert "toy" not in valid_data_names() and "valid names: fashion-mnist," in str(err.value)
    assert report.class_names("toy", 3) == ["0", "1", "2"]


def test_class_names():
    from infomax import report

    assert class_names("fashion-mnist") == ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
    assert class_names("mnist") == tuple("0123456789")
    assert class_names("cifar10")[:2] == ("airplane", "automobile") and len(class_names("cifar10")) == 10
    assert class_names("stl10")[:3] == ("airplane", "bird", "car") and len(class_names("stl10")) == 10
    assert class_names("cifar100") is None
    assert report.class_names("cifar100", 100) == [str(i) for i in range(100)]
    assert report.class_names("cifar10", 100) == [str(i) for i in range(100)]  # wrong count
    with pytest.raises(ConfigError):
        class_names("imagenette")


def test_unknown_split(tmp_path):
    with pytest.raises(ConfigError) as err:
        build_dataset("cifar10", "val", tmp_path, download=False)
    text = assert_one_line(err.value)
    assert "'val'" in text and "pretrain" in text and "test" in text


def test_data_root_resolution_order(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("INFOMAX_DATA", raising=False)
    assert resolve_data_root(None) == tmp_path / "home" / ".cache" / "infomax" / "data"
    monkeypatch.setenv("INFOMAX_DATA", str(tmp_path / "env"))
    assert resolve_data_root(None) == tmp_path / "env"
    assert resolve_data_root(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_root(str(tmp_path / "arg")) == tmp_path / "arg"
    assert resolve_data_root("~/x") == tmp_path / "home" / "x"
    monkeypatch.setenv("INFOMAX_DATA", "~/envdata")
    assert resolve_data_root(None) == tmp_path / "home" / "envdata"


# ----------------------------------------------------------------------------- MNIST family


@pytest.mark.parametrize(
    "name, folder, gz", [("mnist", "MNIST", False), ("fashion-mnist", "FashionMNIST", True)]
)
def test_mnist_raw_layout_round_trips(tmp_path, name, folder, gz):
    written = write_mnist(tmp_path / folder / "raw", seed=5, gz=gz)
    for split, source in (("pretrain", "train"), ("train", "train"), ("test", "test")):
        ds = build_dataset(name, split, tmp_path, download=False)
        images, labels = written[source]
        assert len(ds) == len(labels)
        image, label = ds[0]
        assert image.dtype == torch.uint8 and image.shape == (1, 28, 28) and isinstance(label, int)
        assert torch.equal(images_of(ds), torch.from_numpy(images).unsqueeze(1))
        assert labels_of(ds) == labels.tolist()


def test_mnist_matches_torchvision_reader(tmp_path):
    from torchvision.datasets.mnist import read_image_file, read_label_file

    written = write_mnist(tmp_path / "MNIST" / "raw", seed=6, gz=False)
    ds = build_dataset("mnist", "test", tmp_path, download=False)
    raw = tmp_path / "MNIST" / "raw"
    assert torch.equal(images_of(ds)[:, 0], read_image_file(str(raw / "t10k-images-idx3-ubyte")))
    assert labels_of(ds) == read_label_file(str(raw / "t10k-labels-idx1-ubyte")).tolist()
    assert len(ds) == len(written["test"][1])


def test_fashion_mnist_from_system_dir(tmp_path, monkeypatch):
    system = tmp_path / "usr-share-datasets-fashion-mnist"
    written = write_mnist(system, seed=7)
    monkeypatch.setattr(registry, "SYSTEM_DIRS", {"fashion-mnist": (system,)})
    root = tmp_path / "root"
    ds = build_dataset("fashion-mnist", "train", root, download=False)
    assert torch.equal(images_of(ds), torch.from_numpy(written["train"][0]).unsqueeze(1))
    assert labels_of(ds) == written["train"][1].tolist()
    assert not root.exists()  # nothing was written, the system dir was only read


def test_root_layout_is_searched_before_system_dir(tmp_path, monkeypatch):
    system = tmp_path / "system"
    write_mnist(system, seed=8)
    in_root = write_mnist(tmp_path / "root" / "FashionMNIST" / "raw", seed=9)
    monkeypatch.setattr(registry, "SYSTEM_DIRS", {"fashion-mnist": (system,)})
    ds = build_dataset("fashion-mnist", "test", tmp_path / "root", download=False)
    assert labels_of(ds) == in_root["test"][1].tolist()
    assert torch.equal(images_of(ds)[:, 0], torch.from_numpy(in_root["test"][0]))


def test_found_location_is_remembered(tmp_path, monkeypatch):
    system = tmp_path / "system"
    written = write_mnist(system, seed=10)
    monkeypatch.setattr(registry, "SYSTEM_DIRS", {"fashion-mnist": (system,)})
    build_dataset("fashion-mnist", "train", tmp_path / "root", download=False)
    looked = []
    original = registry._missing

    def spy(directory, files, gzip_ok):
        looked.append(directory)
        return original(directory, files, gzip_ok)

    monkeypatch.setattr(registry, "_missing", spy)
    monkeypatch.setattr(registry, "SYSTEM_DIRS", {})
    ds = build_dataset("fashion-mnist", "test", tmp_path / "root", download=False)
    assert labels_of(ds) == written["test"][1].tolist()
    assert looked == [system]  # only the remembered place was checked


def test_fashion_mnist_not_found_is_one_line(tmp_path, monkeypatch):
    system = tmp_path / "nowhere"
    monkeypatch.setattr(registry, "SYSTEM_DIRS", {"fashion-mnist": (system,)})
    root = tmp_path / "data"
    with pytest.raises(DataNotFoundError) as err:
        build_dataset("fashion-mnist", "train", root, download=False)
    text = assert_one_line(err.value)
    assert text.startswith("fashion-mnist not found")
    assert str(root / "FashionMNIST" / "raw") in text and str(system) in text
    assert "apt-get install dataset-fashion-mnist" in text and "--data-dir" in text
    assert "download is turned off" in text

    with pytest.raises(DataNotFoundError) as err:
        build_dataset("fashion-mnist", "train", root, download=True)
    text = assert_one_line(err.value)
    assert "could not be downloaded" in text and "no network in tests" in text


def test_failed_torchvision_download_is_reported_in_one_line(tmp_path, monkeypatch):
    """The real download path, with torchvision's fetch failing as it does without network."""
    import torchvision.datasets.cifar
    import torchvision.datasets.mnist

    monkeypatch.setattr(registry, "_download", REAL_DOWNLOAD)

    def offline(*args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", offline)
    monkeypatch.setattr(torchvision.datasets.cifar, "download_and_extract_archive", offline)
    for name, folder in (("mnist", "MNIST/raw"), ("cifar10", "cifar-10-batches-py")):
        with pytest.raises(DataNotFoundError) as err:
            build_dataset(name, "test", tmp_path, download=True)
        text = assert_one_line(err.value)
        assert text.startswith(f"{name} not found")
        assert str(tmp_path / folder) in text
        assert "could not be downloaded" in text and "name resolution" in text


def test_successful_download_is_used(tmp_path, monkeypatch):
    root = tmp_path / "data"
    written = {}

    def fake_download(name, where):
        assert name == "mnist" and where == root
        written.update(write_mnist(where / "MNIST" / "raw", seed=11))

    monkeypatch.setattr(registry, "_download", fake_download)
    ds = build_dataset("mnist", "train", root, download=True)
    assert labels_of(ds) == written["train"][1].tolist()


def test_damaged_idx_file(tmp_path):
    write_mnist(tmp_path / "MNIST" / "raw", seed=12, gz=False)
    path = tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataNotFoundError) as err:
        build_dataset("mnist", "test", tmp_path, download=False)
    text = assert_one_line(err.value)
    assert str(path) in text and "damaged" in text


@pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").is_file(),
    reason="Debian package dataset-fashion-mnist is not installed",
)
def test_real_system_fashion_mnist(tmp_path, monkeypatch):
    system = (Path("/usr/share/datasets/fashion-mnist"),)
    monkeypatch.setattr(registry, "SYSTEM_DIRS", {"fashion-mnist": system})
    ds = build_dataset("fashion-mnist", "test", tmp_path, download=False)
    assert len(ds) == 10000
    image, label = ds[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.uint8 and label == 9  # ankle boot
    assert sorted(set(ds.targets.tolist())) == list(range(10))


# ----------------------------------------------------------------------------- CIFAR


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_round_trips(tmp_path, name):
    written = write_cifar(tmp_path, name)
    for split, source in (("pretrain", "train"), ("train", "train"), ("test", "test")):
        ds = build_dataset(name, split, tmp_path, download=False)
        data, labels = written[source]
        assert len(ds) == len(labels) == (20 if source == "train" and name == "cifar10" else len(data))
        image, label = ds[1]
        assert image.dtype == torch.uint8 and image.shape == (3, 32, 32)
        assert torch.equal(images_of(ds), torch.from_numpy(data).reshape(-1, 3, 32, 32))
        assert labels_of(ds) == labels.tolist()


def test_cifar_matches_torchvision(tmp_path, monkeypatch):
    """Same pixels and orientation as torchvision's CIFAR10 on the same files (python-2 style str keys)."""
    import torchvision.datasets.cifar as tv_cifar

    write_cifar(tmp_path, "cifar10", str_keys=True)
    # The tiny files cannot have the published md5 sums; let torchvision accept any present file.
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda path, md5=None: os.path.isfile(path))
    for train, split in ((True, "train"), (False, "test")):
        reference = tv_cifar.CIFAR10(str(tmp_path), train=train, download=False)
        ds = build_dataset("cifar10", split, tmp_path, download=False)
        assert torch.equal(images_of(ds).permute(0, 2, 3, 1), torch.from_numpy(reference.data))
        assert labels_of(ds) == list(reference.targets)


def test_cifar_incomplete_layout(tmp_path):
    write_cifar(tmp_path, "cifar10")
    (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()
    assert len(build_dataset("cifar10", "train", tmp_path, download=False)) == 20
    with pytest.raises(DataNotFoundError) as err:
        build_dataset("cifar10", "test", tmp_path, download=False)
    text = assert_one_line(err.value)
    assert f"{tmp_path / 'cifar-10-batches-py'} (lacks test_batch)" in text
    assert "cifar-10-batches-py/" in text and "under the data root" in text


def test_cifar_damaged_pickle(tmp_path):
    write_cifar(tmp_path, "cifar100")
    path = tmp_path / "cifar-100-python" / "test"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataNotFoundError) as err:
        build_dataset("cifar100", "test", tmp_path, download=False)
    text = assert_one_line(err.value)
    assert str(path) in text and "damaged" in text


# ----------------------------------------------------------------------------- STL-10


def test_stl10_splits_labels_and_pixels(tmp_path):
    written = write_stl(tmp_path)
    train = build_dataset("stl10", "train", tmp_path, download=False)
    test = build_dataset("stl10", "test", tmp_path, download=False)
    pretrain = build_dataset("stl10", "pretrain", tmp_path, download=False)
    assert (len(train), len(test), len(pretrain)) == (5, 4, 8)
    assert labels_of(train) == (written["train"][1].astype(int) - 1).tolist()  # 1-based on disk
    assert labels_of(test) == (written["test"][1].astype(int) - 1).tolist()
    assert labels_of(pretrain) == labels_of(train) + [-1, -1, -1]
    assert pretrain.targets.tolist() == labels_of(pretrain)
    expected = np.concatenate([written["train"][0], written["unlabeled"][0]])
    got = images_of(pretrain)
    assert got.dtype == torch.uint8 and got.shape == (8, 3, 96, 96) and got[0].is_contiguous()
    assert torch.equal(got, torch.from_numpy(expected))
    assert torch.equal(images_of(test), torch.from_numpy(written["test"][0]))
    # The bar is tall and thin in the top-left corner: rows and columns are not swapped.
    first = got[0, 0]
    assert (first[:12, :3] == 255).all() and first[:3, 3:12].sum() == 0


def test_stl10_orientation_matches_torchvision(tmp_path, monkeypatch):
    import torchvision.datasets.stl10 as tv_stl

    write_stl(tmp_path)
    monkeypatch.setattr(tv_stl, "check_integrity", lambda path, md5=None: os.path.isfile(path))
    reference = tv_stl.STL10(str(tmp_path), split="train+unlabeled", download=False)
    ours = build_dataset("stl10", "pretrain", tmp_path, download=False)
    assert torch.equal(images_of(ours), torch.from_numpy(np.ascontiguousarray(reference.data)))
    assert labels_of(ours) == reference.labels.tolist()


def test_stl10_dataset_pickles_without_its_pixels(tmp_path):
    write_stl(tmp_path)
    ds = build_dataset("stl10", "test", tmp_path, download=False)
    first = ds[0][0]
    blob = pickle.dumps(ds)
    assert len(blob) < 10_000
    again = pickle.loads(blob)
    assert torch.equal(again[0][0], first) and again[-1][1] == ds[3][1]
    with pytest.raises(IndexError):
        ds[4]


def test_stl10_wrong_size(tmp_path):
    write_stl(tmp_path)
    path = tmp_path / "stl10_binary" / "test_X.bin"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DataNotFoundError) as err:
        build_dataset("stl10", "test", tmp_path, download=False)
    assert str(path) in assert_one_line(err.value)


def test_stl10_pretrain_needs_unlabeled(tmp_path):
    write_stl(tmp_path)
    (tmp_path / "stl10_binary" / "unlabeled_X.bin").unlink()
    assert len(build_dataset("stl10", "train", tmp_path, download=False)) == 5
    with pytest.raises(DataNotFoundError) as err:
        build_dataset("stl10", "pretrain", tmp_path, download=False)
    text = assert_one_line(err.value)
    assert "lacks unlabeled_X.bin" in text and "stl10_binary/" in text


# ----------------------------------------------------------------------------- image folders


def make_image_folder(base: Path, eval_name: str = "val") -> dict:
    rng = np.random.default_rng(4)
    written = {}
    for split, per_class in (("train", 3), (eval_name, 2)):
        for cls in ("cat", "dog"):
            for i in range(per_class):
                array = rng.integers(0, 256, (20 + i, 24, 3), dtype=np.uint8)
                path = base / split / cls / f"{i}.png"
                write_png(path, array)
                written[str(path)] = array
    gray = rng.integers(0, 256, (16, 18), dtype=np.uint8)
    write_png(base / "train" / "dog" / "gray.png", gray)
    written[str(base / "train" / "dog" / "gray.png")] = np.repeat(gray[:, :, None], 3, axis=2)
    (base / "train" / "dog" / "notes.txt").write_text("not an image")
    return written


def test_imagefolder(tmp_path):
    written = make_image_folder(tmp_path / "imgs")
    name = f"imagefolder:{tmp_path / 'imgs'}"
    info = dataset_info(name)
    assert (info.image_size, info.channels, info.num_classes) == (128, 3, 2)
    assert info.mean == (0.485, 0.456, 0.406) and info.std == (0.229, 0.224, 0.225)
    assert info.name == name and not info.pad_to_32
    train = build_dataset(name, "train", tmp_path / "unused")
    pretrain = build_dataset(name, "pretrain", tmp_path / "unused")
    test = build_dataset(name, "test", tmp_path / "unused")
    assert (len(train), len(pretrain), len(test)) == (7, 7, 4)
    for ds, split in ((train, "train"), (test, "val")):
        for (path, label), i in zip(ds.samples, range(len(ds))):
            image, got_label = ds[i]
            assert got_label == label == (0 if f"{os.sep}cat{os.sep}" in path else 1)
            assert image.dtype == torch.uint8 and image.shape[0] == 3
            assert torch.equal(image, torch.from_numpy(written[path]).permute(2, 0, 1))
            assert f"{os.sep}{split}{os.sep}" in path


def test_imagefolder_falls_back_to_test_dir(tmp_path):
    make_image_folder(tmp_path / "imgs", eval_name="test")
    test = build_dataset(f"imagefolder:{tmp_path / 'imgs'}", "test", tmp_path)
    assert len(test) == 4 and all(f"{os.sep}test{os.sep}" in p for p, _ in test.samples)


def test_imagefolder_errors(tmp_path):
    base = tmp_path / "imgs"
    expected = "train/<class>/<image>"
    with pytest.raises(DataNotFoundError) as err:
        dataset_info(f"imagefolder:{base}")
    assert str(base) in assert_one_line(err.value) and expected in str(err.value)
    base.mkdir()
    with pytest.raises(DataNotFoundError) as err:  # an empty folder: unlabeled, no images
        build_dataset(f"imagefolder:{base}", "pretrain", tmp_path)
    assert "no image files" in assert_one_line(err.value) and expected in str(err.value)
    with pytest.raises(DataNotFoundError) as err:  # and without labels, no labeled split
        build_dataset(f"imagefolder:{base}", "train", tmp_path)
    assert "has no labels" in assert_one_line(err.value) and "data.eval" in str(err.value)
    write_png(base / "train" / "a" / "0.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(DataNotFoundError) as err:
        build_dataset(f"imagefolder:{base}", "test", tmp_path)
    assert "half labeled" in assert_one_line(err.value) and "no val/ or test/" in str(err.value)
    write_png(base / "val" / "b" / "0.png", np.zeros((8, 8, 3), np.uint8))
    assert len(build_dataset(f"imagefolder:{base}", "train", tmp_path)) == 1
    with pytest.raises(DataNotFoundError) as err:
        build_dataset(f"imagefolder:{base}", "test", tmp_path)
    assert "train/ lacks (b)" in assert_one_line(err.value)
    (base / "val" / "b" / "0.png").unlink()
    (base / "val" / "b").rmdir()
    (base / "val" / "a").mkdir()
    (base / "val" / "a" / "notes.txt").write_text("not an image")
    with pytest.raises(DataNotFoundError) as err:
        build_dataset(f"imagefolder:{base}", "test", tmp_path)
    assert "no image files" in assert_one_line(err.value)


def test_transform_is_applied(tmp_path):
    from infomax.data.views import test_view as make_test_view

    write_cifar(tmp_path, "cifar10")
    info = dataset_info("cifar10")
    ds = build_dataset("cifar10", "test", tmp_path, transform=make_test_view(info), download=False)
    raw = build_dataset("cifar10", "test", tmp_path, download=False)
    image, label = ds[2]
    assert image.dtype == torch.float32 and image.shape == (3, 32, 32) and label == raw[2][1]
    mean = torch.tensor(info.mean).view(3, 1, 1)
    std = torch.tensor(info.std).view(3, 1, 1)
    assert torch.allclose(image, (raw[2][0].float() / 255 - mean) / std, atol=1e-6)
