"""ImageNet (ILSVRC 2012) in its official layout: ``imagenet:<root>``.

``<root>`` holds what image-net.org distributes: ``ILSVRC2012_devkit_t12.tar.gz``,
``ILSVRC2012_img_train.tar`` (a tar of one tar per class) and ``ILSVRC2012_img_val.tar``
(the validation images, flat), or what torchvision's ``ImageNet`` makes of them on first
use: ``meta.bin`` (the classes and the validation labels, from the devkit), ``train/<wnid>/``
and ``val/<wnid>/``. torchvision parses the devkit and lays out the archives (once; it checks
each archive's md5 first); its samples list gives the files and their classes. The images
are decoded by ``registry.ImageFileDataset``, as image folders are: every mode becomes RGB,
an unreadable file is named or skipped, the views are infomax's.

Splits: "pretrain" and "train" read train/, "test" reads val/. Labels are torchvision's
class indices (the sorted WordNet ids), class names each class's first name.

Laying out an archive is done under a file lock (``<root>/.infomax-extract.lock``): of
several processes (DDP) the first extracts and the others wait, then find the folders. An
archive is extracted into ``<split>.partial`` and renamed when complete, so an interrupted
extraction is never taken for a finished one (the next run starts it again).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from torch.utils.data import Dataset

from infomax.data.registry import (IMAGENET_MEAN, IMAGENET_STD, DatasetInfo, ImageFileDataset,
                                   PathSourceEntry, _short_reason, register_path_source)
from infomax.errors import DataNotFoundError

__all__ = ["ARCHIVES", "DEVKIT", "IMAGENET_PREFIX", "LOCK_FILE", "META_FILE"]

IMAGENET_PREFIX = "imagenet:"
DEVKIT = "ILSVRC2012_devkit_t12.tar.gz"
ARCHIVES = {"train": "ILSVRC2012_img_train.tar", "val": "ILSVRC2012_img_val.tar"}
META_FILE = "meta.bin"  # torchvision's: (wnid -> class names, the validation images' wnids)
LOCK_FILE = ".infomax-extract.lock"
FOLDERS = {"pretrain": "train", "train": "train", "test": "val"}  # split -> folder of root

_FILES = f"{DEVKIT}, {ARCHIVES['train']} and {ARCHIVES['val']}"
_EXPECTED = (f"the folder holding ImageNet's {_FILES} (from image-net.org), or the meta.bin, "
             f"train/ and val/ torchvision makes from them")


def _note(message: str) -> None:
    print(f"infomax: imagenet: {message}", file=sys.stderr, flush=True)


def _check_root(root: Path) -> None:
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "not found"
        raise DataNotFoundError(f"imagenet: {root} {what}; name {_EXPECTED}")


def _lock(fd: int, path: Path) -> None:
    """An exclusive flock on ``fd`` (the lock file ``path``), waiting for its holder."""
    import fcntl

    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _note(f"waiting for another process extracting into {path.parent}")
            fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as exc:  # a file system without locks
        _note(f"cannot lock {path} ({_short_reason(exc)}); extracting without a lock: lay "
              f"{path.parent} out with one process (e.g. 'infomax data imagenet:{path.parent}') "
              f"before starting several")


@contextlib.contextmanager
def _extract_lock(root: Path) -> Iterator[None]:
    """Held while this process lays out archives in ``root``; waits for another process
    (of this run or another) doing so."""
    path = root / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise DataNotFoundError(
            f"imagenet: cannot write into {root} ({_short_reason(exc)}), where the archives are "
            f"extracted on first use; make it writable for the first run, or lay it out there "
            f"once with torchvision.datasets.ImageNet") from None
    try:
        _lock(fd, path)
        yield
    finally:
        os.close(fd)  # releases the lock


def _damaged(path: Path, exc: BaseException) -> DataNotFoundError:
    return DataNotFoundError(
        f"imagenet: {path} cannot be read ({_short_reason(exc)}); it is damaged or not the "
        f"official archive: download it again from image-net.org")


def _parse_devkit(root: Path) -> None:
    """``meta.bin`` from the devkit (torchvision), written whole or not at all."""
    from torchvision.datasets.imagenet import parse_devkit_archive

    devkit = root / DEVKIT
    if not devkit.is_file():
        raise DataNotFoundError(
            f"imagenet: {root} has no {DEVKIT} (nor the {META_FILE} made from it), which lists "
            f"the classes; put it there with {ARCHIVES['train']} and {ARCHIVES['val']} (all "
            f"from image-net.org)")
    _note(f"reading the classes from {DEVKIT} into {root / META_FILE} (once)")
    scratch = Path(tempfile.mkdtemp(prefix=".meta-", dir=root))
    try:
        # torchvision reads os.path.join(root, file), i.e. the absolute ``file``, and writes
        # meta.bin into ``root``: the scratch folder, moved into place once whole.
        parse_devkit_archive(str(scratch), str(devkit))
        os.replace(scratch / META_FILE, root / META_FILE)
    except Exception as exc:  # md5 mismatch (RuntimeError), tarfile.ReadError, a bad meta.mat
        raise _damaged(devkit, exc) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _meta(root: Path) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """(wnid -> class names, the validation images' wnids in file order), from meta.bin,
    made from the devkit first if need be."""
    from torchvision.datasets.imagenet import load_meta_file

    _check_root(root)
    if not (root / META_FILE).is_file():
        with _extract_lock(root):
            if not (root / META_FILE).is_file():
                _parse_devkit(root)
    try:
        wnid_to_classes, val_wnids = load_meta_file(str(root))
        if not wnid_to_classes:
            raise ValueError("no classes")
    except Exception as exc:
        raise DataNotFoundError(
            f"imagenet: {root / META_FILE} cannot be read ({_short_reason(exc)}); delete it: "
            f"it is made again from {DEVKIT}") from None
    return dict(wnid_to_classes), list(val_wnids)


def _extract(root: Path, folder: str, val_wnids: list[str]) -> None:
    """``root/folder`` (train or val) laid out from its archive by torchvision."""
    from torchvision.datasets.imagenet import parse_train_archive, parse_val_archive

    archive = root / ARCHIVES[folder]
    if not archive.is_file():
        raise DataNotFoundError(
            f"imagenet: {root} has neither {folder}/ nor {ARCHIVES[folder]} to extract it from; "
            f"put {ARCHIVES[folder]} (from image-net.org) in {root}")
    partial = root / f"{folder}.partial"
    if partial.exists():  # left by an interrupted extraction
        shutil.rmtree(partial)
    _note(f"extracting {ARCHIVES[folder]} into {root / folder} (once)")
    try:
        if folder == "train":
            parse_train_archive(str(root), folder=partial.name)
        else:
            parse_val_archive(str(root), wnids=val_wnids, folder=partial.name)
    except Exception as exc:  # md5 mismatch (RuntimeError), tarfile.ReadError, ...
        shutil.rmtree(partial, ignore_errors=True)
        raise _damaged(archive, exc) from None
    os.rename(partial, root / folder)


def _info(root: Path) -> DatasetInfo:
    wnid_to_classes, _ = _meta(root)
    return DatasetInfo(IMAGENET_PREFIX + str(root), 224, 3, len(wnid_to_classes),
                       IMAGENET_MEAN, IMAGENET_STD, False)


def _class_names(root: Path) -> tuple[str, ...]:
    wnid_to_classes, _ = _meta(root)
    return tuple(wnid_to_classes[wnid][0] for wnid in sorted(wnid_to_classes))


def _build(root: Path, split: str, transform: Callable | None,
           skip_unreadable: bool) -> Dataset:
    from torchvision.datasets import ImageNet

    wnid_to_classes, val_wnids = _meta(root)
    folder = FOLDERS[split]
    if not (root / folder).is_dir():
        with _extract_lock(root):
            if not (root / folder).is_dir():
                _extract(root, folder, val_wnids)
    try:
        found = ImageNet(str(root), split=folder)
    except Exception as exc:  # no class folder, an empty one, a folder the devkit lacks
        raise DataNotFoundError(
            f"imagenet: {root / folder} is not laid out as torchvision's ImageNet makes it "
            f"({_short_reason(exc)}); delete it to extract {ARCHIVES[folder]} again") from None
    # torchvision's indices are those of the folder's sorted wnids: the devkit's, unless
    # the folder lacks classes; labels follow the devkit's classes either way.
    index = {wnid: i for i, wnid in enumerate(sorted(wnid_to_classes))}
    samples = [(path, index[found.wnids[label]]) for path, label in found.samples]
    dataset = ImageFileDataset(samples, transform, skip_unreadable)
    dataset.description = (f"imagenet {root}: {len(samples)} images in {len(found.wnids)} "
                           f"classes ({folder}/)")
    return dataset


register_path_source(PathSourceEntry(IMAGENET_PREFIX, "<root>", _info, _build, _class_names,
                                     _EXPECTED))
