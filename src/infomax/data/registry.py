"""Data sets by name: their constants, where they are on disk, and fast readers for them.

Every data set yields ``(image, label)`` with ``image`` a uint8 tensor of shape (C, H, W)
handed to ``transform`` (when one is given). The small sets (MNIST, Fashion-MNIST, CIFAR) are
read once into memory; STL-10 is memory-mapped (its unlabeled part alone is 2.7 GB); image
folders are decoded per item, every image mode to RGB, and a file that cannot be decoded is
an error naming it or, on request, skipped (``ImageFileDataset``).

Each named set is one ``DataSetEntry`` in ``DATASETS``, registered with ``register_dataset``
next to its reader: its name and other spellings, constants, torchvision layout, reader,
download and class names. The names, spellings, constants and readers used everywhere else
(``DATASET_NAMES``, ``canonical_data_name``, ``dataset_info``, ``build_dataset``,
``class_names``) are read from there.

Look-up order for the named sets: torchvision's on-disk layout under the data root, then the
system directories in ``SYSTEM_DIRS``, then torchvision's download (when ``download`` is
True). The found location is remembered per (name, data root).

The files in torchvision's layouts are read by this module rather than through the
torchvision classes: those classes hash every file with md5 on each construction (2.7 GB for
STL-10's unlabeled part) and go through PIL per item. Here a layout counts as present when its
files exist; the readers check their structure (headers, sizes, label ranges) and report a
damaged file as such. Downloads do go through torchvision, which verifies the archive's md5.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset

from infomax.errors import BadImageError, ConfigError, DataNotFoundError

__all__ = [
    "DATASETS",
    "DATASET_NAMES",
    "DATA_ALIASES",
    "DATA_SETS",
    "DEFAULT_DATA_ROOT",
    "ENV_VAR",
    "IMAGEFOLDER_PREFIX",
    "SPLITS",
    "SYSTEM_DIRS",
    "DataSetEntry",
    "DatasetInfo",
    "build_dataset",
    "canonical_data_name",
    "class_names",
    "dataset_info",
    "forget_locations",
    "register_dataset",
    "resolve_data_root",
    "valid_data_names",
]


@dataclass(frozen=True)
class DatasetInfo:
    """What the model and the views need to know about a data set."""

    name: str  # registry name, e.g. "cifar10" or "imagefolder:/data/imagenet"
    image_size: int  # model input size: 32, 64 or 128
    channels: int  # 1 for mnist/fashion-mnist, else 3
    num_classes: int
    mean: tuple[float, ...]  # per channel, in [0, 1] pixel units
    std: tuple[float, ...]
    pad_to_32: bool  # True for 28x28 grayscale sets (padded 28 -> 32 with zeros)


SPLITS: tuple[str, ...] = ("pretrain", "train", "test")
ENV_VAR = "INFOMAX_DATA"
DEFAULT_DATA_ROOT = "~/.cache/infomax/data"
IMAGEFOLDER_PREFIX = "imagefolder:"

# Directories searched after the data root, per data set: each entry's ``system_dirs``,
# put here by ``register_dataset`` (tests monkeypatch this).
SYSTEM_DIRS: dict[str, tuple[Path, ...]] = {}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Layout:
    """A named set's torchvision layout: the folder under the data root and its files."""

    folder: str
    files: dict[str, tuple[str, ...]]  # split -> files that split reads
    gzip_ok: bool  # idx files may also be present gzip'd (name + ".gz")
    expected: str  # how to get it, for the not-found message


@dataclass(frozen=True)
class DataSetEntry:
    """Everything about one named data set; ``register_dataset`` adds it to ``DATASETS``."""

    info: DatasetInfo  # its constants; ``info.name`` is the registry name
    layout: Layout  # where its files are under the data root
    # (entry, directory holding the layout's files, split, transform) -> the split's Dataset
    reader: Callable[[DataSetEntry, Path, str, Callable | None], Dataset]
    download: Callable[[Path], None]  # fetch it into ``layout`` under the given data root
    aliases: tuple[str, ...] = ()  # other spellings, lower case ("cifar-10")
    class_names: tuple[str, ...] | None = None  # None: the report shows class indices
    system_dirs: tuple[Path, ...] = ()  # searched after the data root

    @property
    def name(self) -> str:
        return self.info.name


# The named data sets, in registration order.
DATASETS: dict[str, DataSetEntry] = {}


def register_dataset(entry: DataSetEntry) -> DataSetEntry:
    """Add ``entry`` to ``DATASETS`` (its name and aliases must be new); returns it."""
    name = entry.name
    if name != name.strip().lower() or not name or path_source(name) is not None:
        raise ValueError(
            f"data set name {name!r} must be lower case and not start with a path source's "
            f"prefix ({', '.join(PATH_SOURCES)})"
        )
    for spelling in (name, *entry.aliases):
        if spelling != spelling.strip().lower():
            raise ValueError(f"data set {name}: spelling {spelling!r} must be lower case")
        if _lookup(spelling) is not None:
            raise ValueError(f"data set {name}: {spelling!r} is already registered")
    DATASETS[name] = entry
    if entry.system_dirs:
        SYSTEM_DIRS[name] = entry.system_dirs
    return entry


@dataclass(frozen=True)
class PathSourceEntry:
    """A kind of data named by a path rather than a name: ``<prefix><path>`` (image
    folders, ImageNet's official layout, WebDataset shards). ``register_path_source`` adds
    it to ``PATH_SOURCES``. Its functions take the path as written after the prefix
    (``~`` expanded, made absolute) and the others as ``build_dataset`` takes them."""

    prefix: str  # e.g. "imagefolder:"
    metavar: str  # what follows the prefix in the list of valid names and errors: "<path>"
    info: Callable[[Path], DatasetInfo]  # constants; ``info.name`` is prefix + path
    # (path, split, transform, skip_unreadable) -> the split's Dataset
    build: Callable[[Path, str, Callable | None, bool], Dataset]
    class_names: Callable[[Path], tuple[str, ...] | None]
    expected: str  # what the path must name, for the error of an empty one
    # False for names that are not file paths (Datasets given from Python): taken as
    # written, never made absolute or looked up under the data root.
    on_disk: bool = True
    # Whether the path names something here (a relative one that does not is taken under
    # the data root); None: ``Path.exists``. For paths that are patterns (shards).
    exists: Callable[[Path], bool] | None = None


# The kinds of data named by a path, by prefix, in registration order.
PATH_SOURCES: dict[str, PathSourceEntry] = {}


def register_path_source(entry: PathSourceEntry) -> PathSourceEntry:
    """Add ``entry`` to ``PATH_SOURCES`` (a new prefix ending in ':'); returns it."""
    prefix = entry.prefix
    if not prefix.endswith(":") or prefix != prefix.lower() or prefix in PATH_SOURCES:
        raise ValueError(f"path source prefix {prefix!r} must be new, lower case and end in ':'")
    PATH_SOURCES[prefix] = entry
    return entry


def path_source(name: str) -> PathSourceEntry | None:
    """The path source ``name`` is written for (``imagefolder:...``), or None."""
    if not isinstance(name, str):
        return None
    return next((e for p, e in PATH_SOURCES.items() if name.startswith(p)), None)


def source_path(name: str) -> Path:
    """The path of a path-source name, ``~`` expanded and made absolute."""
    entry = path_source(name)
    assert entry is not None, name
    text = name[len(entry.prefix):].strip()
    return Path(text).expanduser().absolute() if entry.on_disk else Path(text)


def _lookup(key: str) -> DataSetEntry | None:
    """The entry named or spelled ``key`` (already lower case), or None."""
    entry = DATASETS.get(key)
    if entry is None:
        entry = next((e for e in DATASETS.values() if key in e.aliases), None)
    return entry


def _torchvision_download(cls_name: str, **kwargs) -> Callable[[Path], None]:
    """A download through torchvision's ``cls_name`` (which checks md5), of the split named by
    ``kwargs``: torchvision fetches the whole archive for any split."""

    def download(root: Path) -> None:
        import torchvision.datasets as tvd

        getattr(tvd, cls_name)(str(root), download=True, **kwargs)

    return download


# (name, data root) -> directory the data set was found in.
_LOCATIONS: dict[tuple[str, str], Path] = {}


def forget_locations() -> None:
    """Forget where data sets were found, so the next build looks again."""
    _LOCATIONS.clear()


# ----------------------------------------------------------------------------- names and roots


def resolve_data_root(data_dir: str | os.PathLike | None) -> Path:
    """The data root: ``data_dir`` if given, else ``$INFOMAX_DATA``, else ~/.cache/infomax/data."""
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_VAR, "")
    if env:
        return Path(env).expanduser()
    return Path(DEFAULT_DATA_ROOT).expanduser()


def valid_data_names() -> str:
    return ", ".join(data_name_choices())


def data_name_choices() -> tuple[str, ...]:
    """The registered sets' names and each path source's form (``imagefolder:<path>``)."""
    return (*DATASETS, *(e.prefix + e.metavar for e in PATH_SOURCES.values() if e.on_disk))


def canonical_data_name(name: str) -> str:
    """The registry name for ``name`` (case and a few spellings forgiven), or ConfigError.
    ``imagefolder:<path>`` is returned as given; its folder is not looked at here."""
    if not isinstance(name, str):
        raise ConfigError(f"data set name must be a string, got {name!r}; valid names: "
                          f"{valid_data_names()}")
    source = path_source(name)
    if source is not None:
        if not name[len(source.prefix):].strip():
            raise ConfigError(f"data set {name!r} names no path; write "
                              f"{source.prefix}{source.metavar}: {source.expected}")
        return name
    entry = _lookup(name.strip().lower())
    if entry is None:
        raise ConfigError(f"unknown data set {name!r}; valid names: {valid_data_names()}")
    return entry.name


def class_names(name: str) -> tuple[str, ...] | None:
    """The class names of data set ``name`` (spellings forgiven), in label order: a named
    set's (None where it has none), an image folder's class folders; ConfigError for an
    unknown name, DataNotFoundError for a missing or malformed image folder."""
    key = canonical_data_name(name)
    source = path_source(key)
    if source is not None:
        return source.class_names(source_path(key))
    return DATASETS[key].class_names


def dataset_info(name: str) -> DatasetInfo:
    """Constants of data set ``name``; ConfigError for an unknown name.

    For a path source (``imagefolder:<path>``) the path is inspected (an image folder's
    number of classes is the number of class folders in ``<path>/train``, 0 for an
    unlabeled folder), so a missing folder raises DataNotFoundError.
    """
    key = canonical_data_name(name)
    source = path_source(key)
    if source is not None:
        return source.info(source_path(key))
    return DATASETS[key].info


def build_dataset(
    name: str,
    split: str,
    root: Path,
    transform: Callable | None = None,
    download: bool = True,
    skip_unreadable: bool = False,
) -> Dataset:
    """Data set ``name``'s ``split`` ("pretrain", "train" or "test") found under ``root``.

    Items are ``(transform(image), label)`` with ``image`` a uint8 (C, H, W) tensor, returned
    as is when ``transform`` is None. "pretrain" is the training split, for stl10 followed by
    the unlabeled part (label -1). For ``imagefolder:<path>`` the path is in the name and
    ``root`` is not used (the same for the other path sources); an image file that cannot be decoded raises BadImageError, or with
    ``skip_unreadable`` is reported and replaced (see ``ImageFileDataset``).
    """
    key = canonical_data_name(name)
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    source = path_source(key)
    if source is not None:
        return source.build(source_path(key), split, transform, skip_unreadable)
    root = resolve_data_root(root)
    where = _locate(key, split, root, download)
    entry = DATASETS[key]
    return entry.reader(entry, where, split, transform)


# ----------------------------------------------------------------------------- locating files


def _existing(directory: Path, filename: str, gzip_ok: bool) -> Path | None:
    """``directory/filename``, or its gzip'd twin where allowed, if it is a file."""
    plain = directory / filename
    if plain.is_file():
        return plain
    if gzip_ok:
        packed = directory / (filename + ".gz")
        if packed.is_file():
            return packed
    return None


def _missing(directory: Path, files: tuple[str, ...], gzip_ok: bool) -> list[str]:
    return [f for f in files if _existing(directory, f, gzip_ok) is None]


def _describe(directory: Path, missing: list[str]) -> str:
    """A searched directory for the not-found message, with what it lacked if it exists."""
    if directory.is_dir() and missing:
        return f"{directory} (lacks {', '.join(missing)})"
    return str(directory)


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short_reason(exc: BaseException) -> str:
    text = _one_line(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _download(name: str, root: Path) -> None:
    """Download ``name`` into its torchvision layout under ``root`` (torchvision checks md5)."""
    root.mkdir(parents=True, exist_ok=True)
    DATASETS[name].download(root)


def _locate(name: str, split: str, root: Path, download: bool) -> Path:
    """The directory holding the files ``split`` of ``name`` needs; DataNotFoundError if none."""
    layout = DATASETS[name].layout
    needed = layout.files[split]
    key = (name, str(root))
    cached = _LOCATIONS.get(key)
    if cached is not None and not _missing(cached, needed, layout.gzip_ok):
        return cached

    candidates = [root / layout.folder] + [Path(d) for d in SYSTEM_DIRS.get(name, ())]
    looked = []
    for directory in candidates:
        missing = _missing(directory, needed, layout.gzip_ok)
        if not missing:
            _LOCATIONS[key] = directory
            return directory
        looked.append(_describe(directory, missing))

    if not download:
        outcome = "and download is turned off"
    else:
        try:
            _download(name, root)
        except Exception as exc:  # any failure to fetch (URLError, OSError, md5 mismatch, ...)
            outcome = f"and could not be downloaded: {_short_reason(exc)}"
        else:
            target = root / layout.folder
            missing = _missing(target, needed, layout.gzip_ok)
            if not missing:
                _LOCATIONS[key] = target
                return target
            outcome = f"and the download did not produce {', '.join(missing)} in {target}"
    stop = "" if outcome.endswith(".") else "."
    raise DataNotFoundError(
        f"{name} not found (looked in {', '.join(looked)}) {outcome}{stop} {layout.expected}."
    )


def _damaged(name: str, path: Path, why: str) -> DataNotFoundError:
    return DataNotFoundError(
        f"{name}: {path} is damaged or not in the expected format ({_one_line(why)}); "
        f"delete it and fetch the data set again"
    )


# ----------------------------------------------------------------------------- in-memory sets


class ArrayImageDataset(Dataset):
    """Images held in memory as one uint8 tensor (N, C, H, W), with int64 labels (N,)."""

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, transform: Callable | None = None):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        if targets.shape != (images.shape[0],):
            raise ValueError(f"need one label per image, got {tuple(targets.shape)} for {images.shape[0]}")
        self.images = images
        self.targets = targets.to(torch.int64)
        self.transform = transform

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int):
        image = self.images[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[index])


def _read_idx(name: str, path: Path) -> np.ndarray:
    """An idx file (optionally gzip'd) of unsigned bytes, as a writable numpy array."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError) as exc:
        raise _damaged(name, path, str(exc)) from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise _damaged(name, path, "no idx header")
    if raw[2] != 0x08:
        raise _damaged(name, path, f"idx element type 0x{raw[2]:02x}, expected 0x08 (unsigned byte)")
    ndim = raw[3]
    start = 4 + 4 * ndim
    if ndim == 0 or len(raw) < start:
        raise _damaged(name, path, "truncated idx header")
    dims = struct.unpack(f">{ndim}I", raw[4:start])
    expected = int(np.prod(dims))
    if len(raw) - start != expected:
        raise _damaged(name, path, f"{len(raw) - start} data bytes for shape {dims}")
    return np.frombuffer(bytearray(raw[start:]), dtype=np.uint8).reshape(dims)


def _read_mnist(
    entry: DataSetEntry, directory: Path, split: str, transform: Callable | None
) -> Dataset:
    name = entry.name
    image_file, label_file = entry.layout.files[split]
    image_path = _existing(directory, image_file, True)
    label_path = _existing(directory, label_file, True)
    images = _read_idx(name, image_path)
    labels = _read_idx(name, label_path)
    if images.ndim != 3:
        raise _damaged(name, image_path, f"image array of shape {images.shape}, expected (N, H, W)")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise _damaged(name, label_path, f"{labels.shape} labels for {images.shape[0]} images")
    if labels.size and labels.max() >= 10:
        raise _damaged(name, label_path, f"label {int(labels.max())} out of range 0..9")
    return ArrayImageDataset(
        torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)), transform
    )


_MNIST_FILES = {
    "pretrain": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

register_dataset(DataSetEntry(
    DatasetInfo("fashion-mnist", 32, 1, 10, (0.2860,), (0.3530,), True),
    Layout(
        "FashionMNIST/raw",
        _MNIST_FILES,
        True,
        "Get it with 'apt-get install dataset-fashion-mnist' or run with internet access, "
        "or pass --data-dir to where it is",
    ),
    _read_mnist,
    _torchvision_download("FashionMNIST", train=False),
    aliases=("fashion_mnist", "fashionmnist", "fmnist"),
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"),
    system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
))

register_dataset(DataSetEntry(
    DatasetInfo("mnist", 32, 1, 10, (0.1307,), (0.3081,), True),
    Layout(
        "MNIST/raw",
        _MNIST_FILES,
        True,
        "Expected MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] under the data "
        "root; run once with internet access to download it, or pass --data-dir to where it is",
    ),
    _read_mnist,
    _torchvision_download("MNIST", train=False),
    class_names=tuple(str(i) for i in range(10)),
))


def _entry(d: dict, key: str):
    """``d[key]`` for a pickle loaded from Python 2 (str keys) or written by Python 3 (bytes keys)."""
    if key in d:
        return d[key]
    return d[key.encode()]


def _read_cifar(
    entry: DataSetEntry, directory: Path, split: str, transform: Callable | None, *, label_key: str
) -> Dataset:
    """A CIFAR split: pickled batches holding ``data`` and the labels under ``label_key``."""
    name = entry.name
    images, labels = [], []
    for filename in entry.layout.files[split]:
        path = directory / filename
        try:
            with open(path, "rb") as f:
                batch = pickle.load(f, encoding="latin1")
            data = np.asarray(_entry(batch, "data"))
            batch_labels = np.asarray(_entry(batch, label_key), dtype=np.int64)
        except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError, ValueError) as exc:
            raise _damaged(name, path, f"{type(exc).__name__}: {exc}") from exc
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise _damaged(name, path, f"data {data.dtype} {data.shape}, expected uint8 (N, 3072)")
        if batch_labels.shape != (data.shape[0],):
            raise _damaged(name, path, f"{batch_labels.shape} labels for {data.shape[0]} images")
        images.append(data)
        labels.append(batch_labels)
    data = np.concatenate(images).reshape(-1, 3, 32, 32)  # rows are R, G, B planes: already CHW
    targets = np.concatenate(labels)
    num_classes = entry.info.num_classes
    if targets.size and (targets.min() < 0 or targets.max() >= num_classes):
        raise _damaged(name, directory, f"labels outside 0..{num_classes - 1}")
    images = torch.from_numpy(np.ascontiguousarray(data))
    return ArrayImageDataset(images, torch.from_numpy(targets), transform)


def _cifar_layout(folder: str, archive: str, train: tuple[str, ...], test: str) -> Layout:
    """The layout of a CIFAR set's python version (``archive`` unpacked into ``folder``)."""
    return Layout(
        folder,
        {"pretrain": train, "train": train, "test": (test,)},
        False,
        f"Expected {folder}/ (the python version, {archive} from "
        "https://www.cs.toronto.edu/~kriz/cifar.html, unpacked) under the data root; run once "
        "with internet access to download it, or pass --data-dir to where it is",
    )


register_dataset(DataSetEntry(
    DatasetInfo(
        "cifar10", 32, 3, 10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), False
    ),
    _cifar_layout(
        "cifar-10-batches-py",
        "cifar-10-python.tar.gz",
        tuple(f"data_batch_{i}" for i in range(1, 6)),
        "test_batch",
    ),
    partial(_read_cifar, label_key="labels"),
    _torchvision_download("CIFAR10", train=False),
    aliases=("cifar-10", "cifar_10"),
    class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                 "truck"),
))

register_dataset(DataSetEntry(
    DatasetInfo(
        "cifar100", 32, 3, 100, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), False
    ),
    _cifar_layout("cifar-100-python", "cifar-100-python.tar.gz", ("train",), "test"),
    partial(_read_cifar, label_key="fine_labels"),
    _torchvision_download("CIFAR100", train=False),
    aliases=("cifar-100", "cifar_100"),
))


# ----------------------------------------------------------------------------- STL-10

_STL_SIDE = 96
_STL_BYTES = 3 * _STL_SIDE * _STL_SIDE


class STL10BinaryDataset(Dataset):
    """Images of one STL-10 ``*_X.bin`` file, memory-mapped; labels given (or -1 for all).

    The file stores each image as 3 planes of 96 x 96 bytes in column-major order; items
    come out as contiguous uint8 (3, 96, 96) tensors in the usual row-major orientation.
    """

    def __init__(
        self, path: Path, targets: torch.Tensor | None, count: int, transform: Callable | None = None
    ):
        self.path = Path(path)
        self.count = count
        self.targets = (
            torch.full((count,), -1, dtype=torch.int64) if targets is None else targets.to(torch.int64)
        )
        self.transform = transform
        self._array: np.ndarray | None = None

    def _images(self) -> np.ndarray:
        if self._array is None:
            shape = (self.count, 3, _STL_SIDE, _STL_SIDE)
            mapped = np.memmap(self.path, dtype=np.uint8, mode="r", shape=shape)
            self._array = mapped.view(np.ndarray)
        return self._array

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_array"] = None  # workers map the file again instead of receiving its bytes
        return state

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int):
        if index < 0:
            index += self.count
        if not 0 <= index < self.count:
            raise IndexError(f"index {index} out of range for {self.count} images")
        image = torch.from_numpy(np.ascontiguousarray(self._images()[index].transpose(0, 2, 1)))
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[index])


class _ConcatWithTargets(ConcatDataset):
    """ConcatDataset that also exposes the concatenated ``targets``."""

    @property
    def targets(self) -> torch.Tensor:
        return torch.cat([d.targets for d in self.datasets])


def _stl_part(
    name: str, directory: Path, x_file: str, y_file: str | None, transform: Callable | None
) -> STL10BinaryDataset:
    x_path = directory / x_file
    size = x_path.stat().st_size
    if size % _STL_BYTES:
        raise _damaged(name, x_path, f"{size} bytes is not a whole number of 3x96x96 images")
    count = size // _STL_BYTES
    if count == 0:
        raise _damaged(name, x_path, "the file is empty")
    targets = None
    if y_file is not None:
        y_path = directory / y_file
        labels = np.fromfile(y_path, dtype=np.uint8).astype(np.int64)
        if labels.shape[0] != count:
            raise _damaged(name, y_path, f"{labels.shape[0]} labels for {count} images")
        if labels.size and (labels.min() < 1 or labels.max() > 10):
            raise _damaged(name, y_path, "labels outside 1..10")
        targets = torch.from_numpy(labels - 1)  # 1-based on disk
    return STL10BinaryDataset(x_path, targets, count, transform)


def _read_stl10(
    entry: DataSetEntry, directory: Path, split: str, transform: Callable | None
) -> Dataset:
    name = entry.name
    if split == "test":
        return _stl_part(name, directory, "test_X.bin", "test_y.bin", transform)
    train = _stl_part(name, directory, "train_X.bin", "train_y.bin", transform)
    if split == "train":
        return train
    unlabeled = _stl_part(name, directory, "unlabeled_X.bin", None, transform)
    return _ConcatWithTargets([train, unlabeled])


register_dataset(DataSetEntry(
    DatasetInfo(
        "stl10", 64, 3, 10, (0.4467, 0.4398, 0.4066), (0.2603, 0.2566, 0.2713), False
    ),
    Layout(
        "stl10_binary",
        {
            "pretrain": ("train_X.bin", "train_y.bin", "unlabeled_X.bin"),
            "train": ("train_X.bin", "train_y.bin"),
            "test": ("test_X.bin", "test_y.bin"),
        },
        False,
        "Expected stl10_binary/ (stl10_binary.tar.gz from https://cs.stanford.edu/~acoates/stl10/, "
        "unpacked) under the data root; run once with internet access to download it, or pass "
        "--data-dir to where it is",
    ),
    _read_stl10,
    _torchvision_download("STL10", split="test"),
    aliases=("stl-10", "stl_10"),
    class_names=("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship",
                 "truck"),
))


# ----------------------------------------------------------------------------- the names

# The registered sets' names and other spellings (``infomax.config`` checks ``data.name``
# with ``canonical_data_name``, which reads ``DATASETS`` itself).
DATASET_NAMES: tuple[str, ...] = tuple(DATASETS)
DATA_SETS = DATASET_NAMES
DATA_ALIASES: dict[str, str] = {
    alias: entry.name for entry in DATASETS.values() for alias in entry.aliases
}


# ----------------------------------------------------------------------------- image folders

_IMAGEFOLDER_EXPECTED = (
    "expected images anywhere under {path} (unlabeled), or {path}/train/<class>/<image> and "
    "{path}/val/<class>/<image> (or test/ in place of val/) for labels"
)


def _warn(message: str) -> None:
    """One warning line on stderr (also from DataLoader worker processes)."""
    print(f"infomax: warning: {message}", file=sys.stderr, flush=True)


def _pillow_extensions() -> tuple[str, ...]:
    """The file extensions of every format Pillow can open and decode by itself: its
    registered formats, less the stubs that need a handler from elsewhere (BUFR, GRIB,
    HDF5, WMF) and PostScript (which needs Ghostscript)."""
    from PIL import Image, ImageFile

    Image.init()
    out = []
    for ext, fmt in Image.registered_extensions().items():
        if fmt not in Image.OPEN or fmt in ("EPS",):
            continue
        factory = Image.OPEN[fmt][0]
        if isinstance(factory, type) and issubclass(factory, ImageFile.StubImageFile):
            continue
        out.append(ext.lower())
    return tuple(sorted(out))


_EXTENSIONS: tuple[str, ...] | None = None


def image_extensions() -> tuple[str, ...]:
    """What counts as an image file in an image folder (see ``_pillow_extensions``)."""
    global _EXTENSIONS
    if _EXTENSIONS is None:
        _EXTENSIONS = _pillow_extensions()
    return _EXTENSIONS


def _is_image(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(image_extensions())


def _image_files(directory: Path) -> list[str]:
    """Names of the image files directly in ``directory`` (hidden files left out)."""
    return sorted(entry.name for entry in os.scandir(directory)
                  if entry.is_file() and _is_image(entry.name))


def _subfolders(directory: Path) -> list[str]:
    """Names of the folders directly in ``directory`` (hidden ones left out), sorted."""
    return sorted(entry.name for entry in os.scandir(directory)
                  if entry.is_dir() and not entry.name.startswith("."))


def _directory_id(path: str | os.PathLike) -> tuple[int, int] | None:
    """(st_dev, st_ino) of the directory ``path`` names (through symlinks); None if unreadable."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _walk_images(directory: Path, tops: list[tuple[int, str]]
                 ) -> tuple[list[tuple[str, int]], list[str]]:
    """(path, label) of every image file under each ``(label, top)`` folder, in
    torchvision's ``make_dataset`` order (tops in the given order, each walked with
    ``sorted(os.walk(...))``, file names sorted; hidden files and folders left out), and
    the directories skipped because they were reached a second time.

    Symlinked directories are followed, but every real directory is walked once: the tops'
    own trees first (symlinks not followed), then each symlinked directory, in the order
    found. A directory seen before (a loop, two links to one folder, a link to another
    class's folder, to ``directory`` or to one of its parents) is skipped, so that a link
    can neither repeat images nor give them another class."""
    visited = {_directory_id(parent) for parent in directory.resolve().parents}
    if any(top != str(directory) for _, top in tops):
        visited.add(_directory_id(directory))
    skipped: list[str] = []
    walked: list[tuple[int, str, list[str]]] = []  # (label, root, image file names)
    links: list[tuple[int, str]] = []

    def first_visit(path: str) -> bool:
        key = _directory_id(path)
        if key is None:
            return False
        if key in visited:
            skipped.append(path)
            return False
        visited.add(key)
        return True

    def walk(top: str, label: int, defer_links: bool) -> None:
        if not first_visit(top):
            return
        for root, dirs, files in os.walk(top, followlinks=True):
            walked.append((label, root, sorted(f for f in files if _is_image(f))))
            kept = []
            for name in sorted(dirs):
                sub = os.path.join(root, name)
                if name.startswith("."):
                    continue
                if defer_links and os.path.islink(sub):
                    links.append((label, sub))
                elif first_visit(sub):
                    kept.append(name)
            dirs[:] = kept

    for label, top in tops:
        walk(top, label, defer_links=True)
    for label, link in links:
        walk(link, label, defer_links=False)
    walked.sort(key=lambda item: item[:2])
    samples = [(os.path.join(root, f), label) for label, root, files in walked for f in files]
    return samples, skipped


def image_files_under(directory: str | os.PathLike) -> list[str]:
    """Every image file under ``directory`` (recursively, symlinked folders followed once,
    hidden files and folders left out; what counts as an image: ``image_extensions``), the
    paths joined onto ``directory`` as given, sorted."""
    directory = Path(directory)
    samples, _ = _walk_images(directory, [(-1, str(directory))])
    return sorted(path for path, _ in samples)


def _class_samples(directory: Path, classes: list[str]) -> tuple[list[tuple[str, int]], list[str]]:
    """``_walk_images`` of ``directory/<class>/`` for each class, labelled by its index."""
    return _walk_images(directory, [(label, os.path.join(str(directory), name))
                                    for label, name in enumerate(classes)])


def _shown(names: list[str], limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


@dataclass(frozen=True)
class FolderLayout:
    """What ``imagefolder:<path>`` holds: labeled (``train/<class>/`` and ``val/<class>/``
    or ``test/<class>/``) or an unlabeled tree of images (flat or nested)."""

    path: Path
    labeled: bool
    train: Path  # labeled: path/train; unlabeled: path itself
    evaluation: Path | None  # labeled: path/val or path/test
    classes: tuple[str, ...]  # labeled: the class folders of train/, in label order


def folder_layout(path: Path) -> FolderLayout:
    """The layout of the image folder ``path``; DataNotFoundError where it is not a folder,
    is one split of a labeled folder, or is half labeled (train/ has class folders but
    there is no val/ or test/)."""
    expected = _IMAGEFOLDER_EXPECTED.format(path=path)
    if not path.is_dir():
        what = "is a file, not a folder" if path.exists() else "not found"
        raise DataNotFoundError(f"image folder {path} {what}; {expected}")
    parent = path.parent
    if (path.name in ("train", "val", "test") and (parent / "train").is_dir()
            and any((parent / s).is_dir() for s in ("val", "test") if s != path.name)
            and _subfolders(parent / "train")):
        raise DataNotFoundError(f"image folder {path} looks like one split of the labeled "
                                f"folder {parent}: point at {parent} instead")
    train = path / "train"
    classes = _subfolders(train) if train.is_dir() else []
    if not classes:
        return FolderLayout(path, False, path, None, ())
    evaluation = path / "val" if (path / "val").is_dir() else path / "test"
    if not evaluation.is_dir():
        raise DataNotFoundError(
            f"image folder {path} is half labeled: train/ has class folders "
            f"({_shown(classes)}) but there is no val/ or test/ folder; add "
            f"{path}/val/<class>/ with held-out images for a labeled folder, or point at a "
            f"folder without train/<class>/ to pretrain on it unlabeled")
    return FolderLayout(path, True, train, evaluation, tuple(classes))


def _imagefolder_info(path: Path) -> DatasetInfo:
    layout = folder_layout(path)
    return DatasetInfo(IMAGEFOLDER_PREFIX + str(path), 128, 3, len(layout.classes),
                       IMAGENET_MEAN, IMAGENET_STD, False)


def _imagefolder_classes(path: Path) -> tuple[str, ...] | None:
    layout = folder_layout(path)
    return layout.classes if layout.labeled else None


def _pixels(im) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels of a PIL image of any mode (see ``load_rgb``)."""
    if im.mode.startswith("I"):  # 16- or 32-bit integer grayscale: keep the top 8 bits of 16
        gray = np.clip(np.asarray(im).astype(np.int64) >> 8, 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if im.mode in ("P", "PA"):  # through RGBA: PIL warns on some palette transparencies
        im = im.convert("RGBA")
    return np.array(im.convert("RGB"))


def pil_image_tensor(im) -> torch.Tensor:
    """A PIL image as a contiguous uint8 tensor (C, H, W): a grayscale (L) image keeps its
    one channel, every other mode becomes RGB as ``load_rgb`` converts it."""
    array = np.array(im)[:, :, None] if im.mode == "L" else _pixels(im)
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).contiguous()


# File name endings of JPEG files: decoded by torchvision.io.decode_jpeg where
# ``JPEG_DECODER`` says so (see ``decode_rgb``).
JPEG_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".jfif")
_JPEG_MAGIC = b"\xff\xd8\xff"
DECODERS = ("auto", "pillow", "torchvision")
# What "auto" means for JPEG data (every other format: Pillow). torchvision: it gives
# Pillow's pixels exactly for baseline, progressive, grayscale and CMYK JPEGs of any
# chroma subsampling (tests/test_decoders.py) and decodes 2.2-2.5x as many images per
# core (BENCHMARKS.md, "JPEG decoding").
JPEG_DECODER = "torchvision"


def _pillow_rgb(source) -> torch.Tensor:
    from PIL import Image

    with Image.open(source) as im:
        array = _pixels(im)
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


_TORCHVISION: Any = None  # (decode_jpeg, ImageReadMode.RGB), or False where unavailable


def _torchvision_decoder() -> Any:
    """torchvision.io.decode_jpeg and its RGB mode; False where this torchvision has none
    (its image decoding is deprecated since 0.29, in favour of TorchCodec): JPEGs then go
    to Pillow, which gives the same pixels."""
    global _TORCHVISION
    if _TORCHVISION is None:
        try:
            import warnings

            from torchvision.io import ImageReadMode, decode_jpeg

            # Said on every call since torchvision 0.29; the fallback above covers it.
            warnings.filterwarnings("ignore", category=DeprecationWarning,
                                    message="The image decoding and encoding capabilities "
                                            "of TorchVision are deprecated")
            _TORCHVISION = (decode_jpeg, ImageReadMode.RGB)
        except Exception:
            _TORCHVISION = False
    return _TORCHVISION


def _torchvision_jpeg(data: torch.Tensor) -> torch.Tensor | None:
    """(3, H, W) uint8 RGB pixels of JPEG bytes by torchvision.io.decode_jpeg (libjpeg-turbo,
    the same pixels as Pillow's, see tests/test_decoders.py); None where it fails or is
    unavailable, so that Pillow decodes the data or names the reason it cannot."""
    decoder = _torchvision_decoder()
    if not decoder:
        return None
    decode_jpeg, rgb = decoder
    try:
        return decode_jpeg(data, mode=rgb)
    except Exception:  # a truncated file, a JPEG variant libjpeg refuses, not a JPEG
        return None


def decode_rgb(source: str | os.PathLike | bytes | bytearray | memoryview,
               decoder: str = "auto") -> torch.Tensor:
    """An encoded image, a file or its bytes, decoded to a contiguous uint8 RGB tensor
    (3, H, W), every mode converted as ``load_rgb`` says; raises whatever Pillow raises
    for data it cannot decode.

    ``decoder``: "pillow"; "torchvision", torchvision.io.decode_jpeg for JPEG data (a file
    by its name's ending and its first bytes, bytes by their first bytes), Pillow for every
    other format and for a JPEG torchvision cannot decode; "auto": ``JPEG_DECODER``'s choice
    for JPEG data."""
    if decoder == "auto":
        decoder = JPEG_DECODER
    if decoder not in DECODERS:
        raise ValueError(f"unknown decoder {decoder!r}; valid: {', '.join(DECODERS)}")
    if isinstance(source, (bytes, bytearray, memoryview)):
        if decoder == "torchvision" and bytes(source[:3]) == _JPEG_MAGIC:
            image = _torchvision_jpeg(torch.frombuffer(bytearray(source), dtype=torch.uint8))
            if image is not None:
                return image
        import io

        from PIL import UnidentifiedImageError

        try:
            return _pillow_rgb(io.BytesIO(source))
        except UnidentifiedImageError:  # its message names the BytesIO object
            raise UnidentifiedImageError("not an image in a format Pillow decodes") from None
    if decoder == "torchvision" and os.fspath(source).lower().endswith(JPEG_EXTENSIONS):
        with open(source, "rb") as f:
            data = bytearray(os.fstat(f.fileno()).st_size)
            f.readinto(data)
        if bytes(data[:3]) == _JPEG_MAGIC:
            image = _torchvision_jpeg(torch.frombuffer(data, dtype=torch.uint8))
            if image is not None:
                return image
    return _pillow_rgb(source)


def _read_rgb(path: str | os.PathLike, decoder: str = "auto") -> torch.Tensor:
    return decode_rgb(path, decoder)


def load_rgb(path: str | os.PathLike, decoder: str = "auto") -> torch.Tensor:
    """Decode an image file to a contiguous uint8 RGB tensor (3, H, W); BadImageError,
    naming the file, if it cannot be read or decoded (truncated, not an image, unreadable).

    Every mode becomes RGB: grayscale (L) is repeated over the three channels, palette
    images (P) take their palette's colours, CMYK and YCbCr are converted, an alpha channel
    (RGBA, LA, PA, palette transparency) is dropped, keeping the colour stored under
    transparent pixels (as torchvision's loader does), and 16-bit grayscale (I;16, I) keeps
    its top 8 bits (value // 256). ``decoder``: see ``decode_rgb``.
    """
    try:
        return _read_rgb(path, decoder)
    except Exception as exc:  # PIL raises many kinds for broken files (OSError, SyntaxError, ...)
        raise BadImageError(
            f"cannot read image {path} ({_short_reason(exc)}); remove or replace the file"
        ) from None


class EncodedImages(Dataset):
    """Images decoded per item from encoded data (files, tar shards), with a label each.

    Subclasses give ``__len__``, ``_load(i) -> (image, label)`` (raising what the decoder
    raises for unreadable data), ``_item_name(i)`` (the file, or shard member, named in
    messages and checkpoints), ``_bad_image(i, exc)`` (the BadImageError of a strict read)
    and ``_none_readable()`` (the BadImageError when no item at all can be read).

    Data that cannot be decoded raises BadImageError naming it. With ``skip_unreadable``
    it is reported instead (one warning line on stderr, once), remembered, and the item is
    the next readable image of the list, with that image's label: a fixed replacement, so
    batches keep their size and every pass (or a resumed run) gets the same items.
    ``unreadable`` lists the items found so far by any DataLoader worker: the flags are in
    shared memory. ``decoder`` chooses the JPEG decoder (see ``decode_rgb``).
    """

    def __init__(self, count: int, transform: Callable | None = None,
                 skip_unreadable: bool = False, decoder: str = "auto"):
        self.description = ""  # one line on what was found, for the run's first lines
        self.transform = transform
        self.skip_unreadable = skip_unreadable
        self.decoder = decoder
        self._bad = torch.zeros(count, dtype=torch.bool).share_memory_() if skip_unreadable else None

    def _load(self, index: int) -> tuple[torch.Tensor, int]:
        raise NotImplementedError

    def _item_name(self, index: int) -> str:
        raise NotImplementedError

    def _bad_image(self, index: int, exc: BaseException) -> BadImageError:
        raise NotImplementedError

    def _none_readable(self) -> BadImageError:
        raise NotImplementedError

    @property
    def unreadable(self) -> list[str]:
        """Names of the items found unreadable so far (with ``skip_unreadable``)."""
        if self._bad is None:
            return []
        return [self._item_name(i) for i in self._bad.nonzero().flatten().tolist()]

    def mark_unreadable(self, names: Iterable[str]) -> None:
        """Skip these items from now on without trying them (those found by a run before it
        was resumed); names not in the data set are ignored."""
        if self._bad is None or not names:
            return
        wanted = set(names)
        for i in range(len(self)):
            if self._item_name(i) in wanted:
                self._bad[i] = True

    def _first_readable(self, index: int) -> tuple[torch.Tensor, int]:
        n = len(self)
        for j in ((index + k) % n for k in range(n)):
            if self._bad[j]:
                continue
            try:
                return self._load(j)
            except Exception as exc:  # as in load_rgb
                self._bad[j] = True
                _warn(f"skipped unreadable image {self._item_name(j)} ({_short_reason(exc)}); "
                      f"the next readable image takes its place")
        raise self._none_readable()

    def __getitem__(self, index: int):
        if self.skip_unreadable:
            image, label = self._first_readable(index)
        else:
            try:
                image, label = self._load(index)
            except Exception as exc:
                raise self._bad_image(index, exc) from None
        if self.transform is not None:
            image = self.transform(image)
        return image, label


class ImageFileDataset(EncodedImages):
    """Images read from files: ``samples`` is a list of (path, label). A file that cannot be
    decoded raises BadImageError naming it, or is skipped (see ``EncodedImages``)."""

    def __init__(
        self,
        samples: list[tuple[str, int]],
        transform: Callable | None = None,
        skip_unreadable: bool = False,
        decoder: str = "auto",
    ):
        super().__init__(len(samples), transform, skip_unreadable, decoder)
        self.samples = samples
        self.targets = torch.tensor([label for _, label in samples], dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.samples)

    def _load(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        return _read_rgb(path, self.decoder), label

    def _item_name(self, index: int) -> str:
        return self.samples[index][0]

    def _bad_image(self, index: int, exc: BaseException) -> BadImageError:
        return BadImageError(f"cannot read image {self.samples[index][0]} "
                             f"({_short_reason(exc)}); remove or replace the file")

    def _none_readable(self) -> BadImageError:
        folder = Path(self.samples[0][0]).parent.parent
        return BadImageError(f"none of the {len(self.samples)} images in {folder} can be "
                             f"read; check the folder's files")

    def mark_unreadable(self, paths: Iterable[str]) -> None:
        if self._bad is None or not paths:
            return
        wanted = set(paths)
        for i, (path, _) in enumerate(self.samples):
            if path in wanted:
                self._bad[i] = True


def _unlabeled_split(path: Path, split: str) -> DataNotFoundError:
    return DataNotFoundError(
        f"image folder {path} has no labels, so it has no {split!r} split: it serves "
        f"pretraining only; name a labeled source for the probes with data.eval=<source> "
        f"(or --data), e.g. a folder with train/<class>/ and val/<class>/")


def _build_imagefolder(path: Path, split: str, transform: Callable | None,
                       skip_unreadable: bool) -> Dataset:
    layout = folder_layout(path)
    extensions = " ".join(image_extensions()[:12]) + " ..."
    if not layout.labeled:
        if split != "pretrain":
            raise _unlabeled_split(path, split)
        samples, skipped = _walk_images(path, [(-1, str(path))])
        directory = path
    else:
        classes = list(layout.classes)
        directory = layout.evaluation if split == "test" else layout.train
        if split == "test":
            extra = sorted(set(_subfolders(directory)) - set(classes))
            if extra:
                raise DataNotFoundError(
                    f"image folder {path}: {directory.name}/ has class folders that train/ "
                    f"lacks ({_shown(extra)}); both must use the same class folder names")
        samples, skipped = _class_samples(directory, classes)
    if skipped:
        many = f"{len(skipped)} directories" if len(skipped) > 1 else "1 directory"
        _warn(f"image folder {path}: skipped {many} reached twice through symlinks "
              f"(first: {skipped[0]}); each directory's images are used once")
    if not samples:
        where = f"{directory}/<class>/" if layout.labeled else f"{directory} or below it"
        raise DataNotFoundError(f"image folder {path}: no image files ({extensions}) in "
                                f"{where}; {_IMAGEFOLDER_EXPECTED.format(path=path)}")
    if layout.labeled and directory == layout.train:
        # val/ may lack classes; a class without training images is a mistake.
        empty = sorted(set(classes) - {classes[label] for _, label in samples})
        if empty:
            raise DataNotFoundError(
                f"image folder {path}: class folders without images in train/ ({_shown(empty)}); "
                f"add images ({extensions}) to them or remove them"
            )
    if layout.labeled:
        loose = _image_files(directory)
        if loose:
            _warn(f"image folder {path}: image files directly in {directory.name}/, in no "
                  f"class folder, are not used ({_shown(loose, 3)})")
    dataset = ImageFileDataset(samples, transform, skip_unreadable)
    folders = len({os.path.dirname(p) for p, _ in samples})
    where = "folder" if folders == 1 else "folders"
    if layout.labeled:
        dataset.description = (f"image folder {path}: labeled, {len(samples)} images in "
                               f"{len(classes)} classes ({directory.name}/)")
    else:
        hint = ""
        if any(_image_files(path / sub) for sub in _subfolders(path)[:50]):
            hint = " (for labels: train/<class>/ and val/<class>/)"
        dataset.description = (f"image folder {path}: unlabeled, {len(samples)} images in "
                               f"{folders} {where}{hint}")
    return dataset


register_path_source(PathSourceEntry(
    IMAGEFOLDER_PREFIX, "<path>", _imagefolder_info, _build_imagefolder, _imagefolder_classes,
    "a folder of images, flat or nested (unlabeled), or with train/<class>/ and "
    "val/<class>/ (labeled)"))


# The other path sources, each in its module (they import from this one, now complete).
from infomax.data import imagenet as _imagenet  # noqa: E402,F401  (imagenet:<root>)
from infomax.data import shards as _shards  # noqa: E402,F401  (webdataset:<shards>)
from infomax.data import python as _python  # noqa: E402,F401  (python:<name>)
