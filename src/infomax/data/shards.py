"""WebDataset tar shards as a path source, ``webdataset:<shards>``, and ``write_shards``
(``infomax data shard``), which writes any data source as such shards.

``<shards>`` is a brace pattern (``/data/train-{000000..000099}.tar``, expanded with
braceexpand), a single ``.tar``, or a folder written by ``write_shards``: per-split shards
``<split>-000000.tar ...`` and ``index.json`` (each split's shards with their sample counts
and sizes, the number of classes and their names). Shards are plain, uncompressed tar files
in WebDataset's convention: consecutive members with the same key (the member name up to
the first dot of its base name, as ``webdataset.tariterators.base_plus_ext`` splits it) are
one sample; its image is under an image extension (``jpg``, ``png``, ``webp``, ... every
format Pillow decodes), its label, if any, under ``cls`` (an integer as text). A shard set
with labels is labeled (``num_classes`` from the index, else the largest label + 1), one
without is unlabeled (``num_classes`` 0, every label -1), as image folders are.

Splits: a folder serves the splits its index names; a pattern or a single .tar serves
"pretrain" and "train" from the same shards and refuses "test" (name a labeled source for
the probes with ``data.eval``, or write a split folder).

Map-style access, hence exact resume and distinct samples under DDP. Each shard is indexed
once: its tar headers are read with ``tarfile`` (which checks every header's checksum and
that each member's data is whole), and each sample's key, label and the offset and size of
its image's bytes are kept in ``<shard>.idx.json`` beside the shard (when its folder can be
written; else for the process), checked against the shard's size and modification time on
every use. ``ShardDataset`` is then a map-style Dataset in a fixed order (shards in the
pattern's or the index's order, samples in tar order); item ``i`` is one positioned read of
the image's bytes, decoded as image files are (``registry.decode_rgb``: every mode to uint8
RGB (3, H, W)), then ``transform``. It goes into ``EpochSampler`` and ``SeededItems``
unchanged: items are drawn by (seed, epoch, index) and every DDP process reads its own
share of one permutation of all samples, so a run killed and resumed from a checkpoint sees
exactly the batches and views of an uninterrupted one (``tests/test_shards.py``).

Why not ``wids.ShardListDataset``, webdataset's own indexed reader: it keeps a per-worker
LRU of open shards (10 by default) and re-reads a shard's headers on every miss (42 ms for
a 1,000-sample shard here), and the uniform random order above misses on nearly every item
once there are more shards than the LRU holds; its in-memory index takes about 430 KB per
1,000 samples; and it copies local shards into a cache folder or, told to read them in
place, writes a lock file beside each, which a read-only data folder refuses. The index
here is a few numbers per sample and a read is one ``os.pread``.

Bad input is reported in one line: missing shards of a pattern (the first missing file and
how many), a damaged, truncated or compressed tar (DataNotFoundError naming the shard), a
sample without an image (shard and key), a shard that no longer matches the index
``write_shards`` wrote; an image that cannot be decoded is a BadImageError naming shard and
key, or with ``data.strict=false`` is skipped as unreadable image files are.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from infomax.data import registry
from infomax.data.registry import (IMAGENET_MEAN, IMAGENET_STD, DatasetInfo, EncodedImages,
                                   PathSourceEntry, register_path_source)
from infomax.errors import BadImageError, DataNotFoundError
from infomax.files import atomic_write_text

__all__ = ["INDEX", "PREFIX", "ShardDataset", "shard_names", "write_shards"]

PREFIX = "webdataset:"
INDEX = "index.json"  # a folder's index, written last by write_shards
SIDECAR = ".idx.json"  # a shard's own index: <shard>.idx.json beside it
FORMAT, SHARD_FORMAT, VERSION = "infomax-shards", "infomax-shard-index", 1
SPLIT_NAMES = ("pretrain", "train", "test")
_PREFERRED = ("jpg", "jpeg", "png", "webp")  # a sample's image, when it holds several
_META = re.compile(r"__[^/]*__($|/)")  # members webdataset's reader skips
_EXPECTED = ("a brace pattern of tar shards (/data/train-{000000..000099}.tar), a single "
             ".tar, or a folder written by 'infomax data shard'")


def _warn(message: str) -> None:
    print(f"infomax: warning: {message}", file=sys.stderr, flush=True)


def _reason(exc: BaseException) -> str:
    return registry._short_reason(exc)


# ----------------------------------------------------------------------------- one shard


@dataclass(frozen=True)
class ShardIndex:
    """Where each sample's image is in one shard: keys, image extensions, labels (-1: no
    ``cls``), and the offset and size of the image's bytes."""

    path: str
    size: int  # the shard's size in bytes and modification time when it was indexed
    mtime_ns: int
    keys: tuple[str, ...]
    exts: tuple[str, ...]
    labels: np.ndarray  # int64
    offsets: np.ndarray  # int64
    sizes: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.keys)

    def to_json(self) -> str:
        return json.dumps({"format": SHARD_FORMAT, "version": VERSION, "size": self.size,
                           "mtime_ns": self.mtime_ns, "keys": list(self.keys),
                           "exts": list(self.exts), "labels": self.labels.tolist(),
                           "offsets": self.offsets.tolist(), "sizes": self.sizes.tolist()})

    @classmethod
    def from_json(cls, path: str, text: str) -> ShardIndex | None:
        """The index in ``text``, or None where it is not one (another format, damaged)."""
        try:
            d = json.loads(text)
            if d.get("format") != SHARD_FORMAT or d.get("version") != VERSION:
                return None
            n = len(d["keys"])
            arrays = [np.asarray(d[k], dtype=np.int64) for k in ("labels", "offsets", "sizes")]
            if len(d["exts"]) != n or any(a.shape != (n,) for a in arrays):
                return None
            return cls(path, int(d["size"]), int(d["mtime_ns"]), tuple(d["keys"]),
                       tuple(d["exts"]), *arrays)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def _image_exts() -> frozenset[str]:
    return frozenset(e.lstrip(".") for e in registry.image_extensions())


def _choose_image(key: str, entries: dict[str, tuple[int, int]], shard: str) -> str:
    """The extension of sample ``key``'s image: the first of jpg, jpeg, png, webp it has,
    else its first entry in an image format; DataNotFoundError without one."""
    for ext in _PREFERRED:
        if ext in entries:
            return ext
    images = _image_exts()
    for ext in entries:
        if ext in images:
            return ext
    found = ", ".join(entries) or "nothing"
    raise DataNotFoundError(
        f"webdataset shard {shard}: sample {key!r} has no image entry (it has {found}); each "
        f"sample needs its image under jpg, png, webp or another image extension")


def _label(key: str, data: bytes, shard: str) -> int:
    text = data.decode("utf-8", "replace").strip()
    if not re.fullmatch(r"\d+", text):
        raise DataNotFoundError(f"webdataset shard {shard}: sample {key!r} has cls {text[:20]!r}, "
                                f"not a label (an integer >= 0 as text)")
    return int(text)


def scan_shard(path: str | os.PathLike) -> ShardIndex:
    """Index a shard by reading its tar headers with ``tarfile`` (and its ``cls`` entries);
    DataNotFoundError for a file that is not a whole uncompressed tar or has a sample
    without an image."""
    from webdataset.tariterators import base_plus_ext  # webdataset's own key convention

    path = os.fspath(path)
    st = os.stat(path)
    keys: list[str] = []
    exts: list[str] = []
    labels: list[int] = []
    offsets: list[int] = []
    sizes: list[int] = []
    key: str | None = None
    entries: dict[str, tuple[int, int]] = {}
    label = -1

    def finish() -> None:
        if key is None:
            return
        ext = _choose_image(key, entries, path)
        keys.append(key)
        exts.append(ext)
        labels.append(label)
        offsets.append(entries[ext][0])
        sizes.append(entries[ext][1])

    try:
        with open(path, "rb") as f, tarfile.open(fileobj=f, mode="r:") as tar:
            for member in tar:
                name = member.name
                if not member.isreg() or _META.match(name):
                    continue
                prefix, suffix = base_plus_ext(name)
                if prefix is None:
                    continue
                suffix = suffix.lower()
                if prefix != key:
                    finish()
                    key, entries, label = prefix, {}, -1
                if suffix in entries:
                    raise DataNotFoundError(f"webdataset shard {path}: sample {key!r} has two "
                                            f"{suffix} entries; keys must be unique and each "
                                            f"sample's entries consecutive")
                entries[suffix] = (member.offset_data, member.size)
                if suffix == "cls":
                    label = _label(key, tar.extractfile(member).read(), path)
            finish()
    except DataNotFoundError:
        raise
    except (tarfile.TarError, EOFError, OSError, UnicodeError) as exc:
        raise DataNotFoundError(
            f"webdataset shard {path} cannot be read as a tar file ({_reason(exc)}): it is "
            f"damaged, truncated or compressed (shards are read as uncompressed .tar); "
            f"write it again") from None
    return ShardIndex(path, st.st_size, st.st_mtime_ns, tuple(keys), tuple(exts),
                      np.asarray(labels, dtype=np.int64), np.asarray(offsets, dtype=np.int64),
                      np.asarray(sizes, dtype=np.int64))


# (path, size, mtime_ns) -> the shard's index, for this process.
_INDEXES: dict[tuple[str, int, int], ShardIndex] = {}


def shard_index(path: str | os.PathLike, save: bool = True) -> ShardIndex:
    """The index of the shard ``path``: remembered, else read from ``<shard>.idx.json``
    where that matches the shard's size and modification time, else scanned (and, with
    ``save``, written there; a folder that cannot be written keeps it for the process)."""
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise DataNotFoundError(f"webdataset shard {path} cannot be read ({_reason(exc)})") from None
    memo = (path, st.st_size, st.st_mtime_ns)
    if memo in _INDEXES:
        return _INDEXES[memo]
    sidecar = path + SIDECAR
    index = None
    try:
        with open(sidecar, encoding="utf-8") as f:
            index = ShardIndex.from_json(path, f.read())
    except (OSError, UnicodeError):
        pass
    if index is None or (index.size, index.mtime_ns) != (st.st_size, st.st_mtime_ns):
        index = scan_shard(path)
        if save:
            try:
                atomic_write_text(sidecar, index.to_json())
            except OSError:
                pass  # a read-only folder: indexed again by the next process
    _INDEXES[memo] = index
    return index


# ----------------------------------------------------------------------------- the source


def _is_pattern(text: str) -> bool:
    return "{" in text and "}" in text


def shard_names(pattern: str) -> list[str]:
    """The file names a brace pattern stands for, in order (braceexpand, as webdataset)."""
    import braceexpand

    return list(braceexpand.braceexpand(pattern))


def _exists(path: Path) -> bool:
    text = str(path)
    if _is_pattern(text):
        names = shard_names(text)
        return bool(names) and Path(names[0]).exists()
    return path.exists()


@dataclass(frozen=True)
class _Shard:
    path: str
    nsamples: int | None = None  # what the folder's index says, if it does
    filesize: int | None = None


@dataclass(frozen=True)
class _Source:
    """What ``webdataset:<path>`` names: its splits' shards, classes and kind."""

    path: Path
    folder: bool  # written by write_shards (or with an index.json of that form)
    splits: dict[str, tuple[_Shard, ...]]
    num_classes: int
    class_names: tuple[str, ...] | None


def _expand(pattern: str, where: str) -> list[str]:
    """Shard files of ``pattern``; DataNotFoundError naming the first missing one."""
    names = shard_names(pattern)
    missing = [n for n in names if not os.path.isfile(n)]
    if missing:
        count = (f"{len(missing)} of its {len(names)} shards are missing"
                 if len(names) > 1 else "its shard is missing")
        raise DataNotFoundError(f"webdataset {where}: {count} (first: {missing[0]}); check the "
                                f"pattern's range or copy the missing files")
    return names


def _max_label(shards: list[_Shard]) -> int:
    return max((int(shard_index(s.path).labels.max(initial=-1)) for s in shards), default=-1)


def _read_folder(path: Path) -> _Source:
    index_path = path / INDEX
    if not index_path.is_file():
        raise DataNotFoundError(
            f"webdataset {path}: the folder has no {INDEX}, so it was not written by 'infomax "
            f"data shard' or its write did not finish; write it again, or name its shards "
            f"with a pattern, e.g. webdataset:{path}/train-{{000000..000009}}.tar")
    try:
        meta = json.loads(index_path.read_text(encoding="utf-8"))
        raw_splits = meta["splits"]
        if not isinstance(raw_splits, dict):
            raise TypeError("splits is not a mapping")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataNotFoundError(f"webdataset {path}: {INDEX} cannot be read ({_reason(exc)}); "
                                f"write the folder again with 'infomax data shard'") from None
    splits: dict[str, tuple[_Shard, ...]] = {}
    for split, entry in raw_splits.items():
        if split not in SPLIT_NAMES:
            continue
        if isinstance(entry, dict) and "same_as" in entry:
            continue
        listed = entry.get("shards", []) if isinstance(entry, dict) else entry
        if isinstance(listed, str):
            listed = [listed]
        shards: list[_Shard] = []
        for item in listed:
            if isinstance(item, str):
                shards += [_Shard(n) for n in _expand(str(path / item), f"{path}: {split}")]
            elif isinstance(item, dict) and isinstance(item.get("url"), str):
                shards += [_Shard(str(path / item["url"]), item.get("nsamples"),
                                  item.get("filesize"))]
                _expand(shards[-1].path, f"{path}: {split}")
            else:
                raise DataNotFoundError(f"webdataset {path}: {INDEX} split {split!r} lists "
                                        f"{item!r}, not a shard (a file name or pattern, or "
                                        f"{{\"url\": ...}})")
        if not shards:
            raise DataNotFoundError(f"webdataset {path}: {INDEX} names no shards for {split!r}")
        splits[split] = tuple(shards)
    for split, entry in raw_splits.items():
        if isinstance(entry, dict) and "same_as" in entry:
            if entry["same_as"] not in splits:
                raise DataNotFoundError(f"webdataset {path}: {INDEX} says {split!r} is the same "
                                        f"as {entry['same_as']!r}, which it does not list")
            splits[split] = splits[entry["same_as"]]
    if "pretrain" not in splits:
        raise DataNotFoundError(f"webdataset {path}: {INDEX} has no 'pretrain' split")
    num_classes = meta.get("num_classes")
    if not isinstance(num_classes, int) or num_classes < 0:
        num_classes = _max_label([s for shards in splits.values() for s in shards]) + 1
    names = meta.get("class_names")
    names = tuple(str(n) for n in names) if isinstance(names, list) else None
    if names is not None and len(names) != num_classes:
        names = None
    return _Source(path, True, splits, num_classes, names)


def _read(path: Path) -> _Source:
    text = str(path)
    if _is_pattern(text):
        shards = tuple(_Shard(n) for n in _expand(text, text))
    elif path.is_dir():
        return _read_folder(path)
    elif path.is_file():
        shards = (_Shard(text),)
    else:
        raise DataNotFoundError(f"webdataset {path} not found; expected {_EXPECTED}")
    num_classes = _max_label(list(shards)) + 1
    return _Source(path, False, {"pretrain": shards, "train": shards}, num_classes, None)


def _signature(path: Path) -> tuple:
    """What changes when the source does (checked on every use of a remembered one)."""
    text = str(path)
    names = shard_names(text) if _is_pattern(text) else [str(path / INDEX) if path.is_dir()
                                                         else text]
    out = []
    for name in names:
        try:
            st = os.stat(name)
            out.append((name, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((name, None, None))
    return tuple(out)


_SOURCES: dict[str, tuple[tuple, _Source]] = {}


def _source(path: Path) -> _Source:
    signature = _signature(path)
    known = _SOURCES.get(str(path))
    if known is not None and known[0] == signature:
        return known[1]
    source = _read(path)
    _SOURCES[str(path)] = (signature, source)
    return source


def _info(path: Path) -> DatasetInfo:
    source = _source(path)
    return DatasetInfo(PREFIX + str(path), 128, 3, source.num_classes, IMAGENET_MEAN,
                       IMAGENET_STD, False)


def _class_names(path: Path) -> tuple[str, ...] | None:
    return _source(path).class_names


def _checked_index(shard: _Shard, where: Path) -> ShardIndex:
    """The shard's index, checked against what the folder's index.json says of it."""
    if shard.filesize is not None:
        size = os.stat(shard.path).st_size
        if size != shard.filesize:
            raise DataNotFoundError(
                f"webdataset shard {shard.path} is {size} bytes, {where / INDEX} says "
                f"{shard.filesize}: it was truncated or changed since it was written; write "
                f"the shards again with 'infomax data shard'")
    index = shard_index(shard.path)
    if shard.nsamples is not None and len(index) != shard.nsamples:
        raise DataNotFoundError(
            f"webdataset shard {shard.path} holds {len(index)} samples, {where / INDEX} says "
            f"{shard.nsamples}: it was changed since it was written; write the shards again "
            f"with 'infomax data shard'")
    return index


def _build(path: Path, split: str, transform: Callable | None,
           skip_unreadable: bool) -> Dataset:
    source = _source(path)
    if split not in source.splits:
        if not source.folder:
            raise DataNotFoundError(
                f"webdataset {path}: a shard pattern or single .tar has no {split!r} split (it "
                f"serves 'pretrain' and 'train'); name a labeled eval source with "
                f"data.eval=<source>, or write a folder with pretrain/train/test splits with "
                f"'infomax data shard'")
        if source.num_classes == 0:
            raise DataNotFoundError(
                f"webdataset {path} has no labels, so it has no {split!r} split: it serves "
                f"pretraining only; name a labeled source for the probes with "
                f"data.eval=<source> (or --data)")
        raise DataNotFoundError(f"webdataset {path}: {INDEX} has no {split!r} split; add it "
                                f"or name a labeled source with data.eval=<source>")
    where = path if source.folder else path.parent
    indexes = [_checked_index(s, where) for s in source.splits[split]]
    total = sum(len(i) for i in indexes)
    if total == 0:
        raise DataNotFoundError(f"webdataset {path}: no samples in the {split!r} split's "
                                f"shards; expected {_EXPECTED}")
    if source.num_classes:
        for index in indexes:
            if len(index) and index.labels.max() >= source.num_classes:
                raise DataNotFoundError(
                    f"webdataset shard {index.path}: label {int(index.labels.max())} is out of "
                    f"range for {source.num_classes} classes ({where / INDEX})")
    dataset = ShardDataset(indexes, transform, skip_unreadable)
    kind = "labeled" if source.num_classes else "unlabeled"
    classes = f" in {source.num_classes} classes" if source.num_classes else ""
    shards = f"{len(indexes)} shard" + ("s" if len(indexes) > 1 else "")
    dataset.description = (f"webdataset {path}: {kind}, {total} images{classes} in {shards} "
                           f"({split})")
    return dataset


class ShardDataset(EncodedImages):
    """The samples of some indexed shards, in order: items ``(image, label)``, ``image`` a
    uint8 RGB (3, H, W) tensor decoded as image files are (then ``transform``), ``label``
    -1 for a sample without ``cls``. An image that cannot be decoded raises BadImageError
    naming shard and key, or is skipped (see ``EncodedImages``); a skipped one is named
    ``<shard>/<key>.<ext>``."""

    def __init__(self, indexes: list[ShardIndex], transform: Callable | None = None,
                 skip_unreadable: bool = False, decoder: str = "auto"):
        count = sum(len(i) for i in indexes)
        super().__init__(count, transform, skip_unreadable, decoder)
        self.paths = [i.path for i in indexes]
        self.shard_of = np.concatenate([np.full(len(i), n, dtype=np.int32)
                                        for n, i in enumerate(indexes)])
        self.offsets = np.concatenate([i.offsets for i in indexes])
        self.sizes = np.concatenate([i.sizes for i in indexes])
        self.labels = np.concatenate([i.labels for i in indexes])
        self.keys = np.array([k.encode() for i in indexes for k in i.keys], dtype=bytes)
        self.exts = np.array([e.encode() for i in indexes for e in i.exts], dtype=bytes)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def targets(self) -> torch.Tensor:
        return torch.from_numpy(self.labels.copy())

    def _where(self, index: int) -> tuple[str, str, str]:
        return (self.paths[self.shard_of[index]], self.keys[index].decode(),
                self.exts[index].decode())

    def read_bytes(self, index: int) -> bytes:
        """The encoded image of sample ``index``, as stored in its shard."""
        path = self.paths[self.shard_of[index]]
        size, offset = int(self.sizes[index]), int(self.offsets[index])
        fd = os.open(path, os.O_RDONLY)
        try:
            data = os.pread(fd, size, offset)
        finally:
            os.close(fd)
        if len(data) != size:
            raise OSError(f"the shard ends {size - len(data)} bytes into the image: it was "
                          f"truncated after it was indexed")
        return data

    def _load(self, index: int) -> tuple[torch.Tensor, int]:
        return registry.decode_rgb(self.read_bytes(index), self.decoder), int(self.labels[index])

    def _item_name(self, index: int) -> str:
        path, key, ext = self._where(index)
        return f"{path}/{key}.{ext}"

    def _bad_image(self, index: int, exc: BaseException) -> BadImageError:
        path, key, ext = self._where(index)
        return BadImageError(f"cannot read image {key}.{ext} (key {key!r}) in webdataset shard "
                             f"{path} ({_reason(exc)}); remove the sample or write the shard "
                             f"again")

    def _none_readable(self) -> BadImageError:
        return BadImageError(f"none of the {len(self)} images in the webdataset shards "
                             f"{self.paths[0]} ... can be read; check the shards")


register_path_source(PathSourceEntry(
    PREFIX, "<shards>", _info, _build, _class_names,
    "tar shards: " + _EXPECTED, exists=_exists))


# ----------------------------------------------------------------------------- writing


def _same_split(source: Any, a: Dataset, b: Dataset) -> bool:
    """Whether two splits of ``source`` (a DataSource) hold the same images: a named set
    whose layout reads the same files for both, an image folder's or shards' same list."""
    entry = registry.DATASETS.get(source.name)
    if entry is not None:
        return entry.layout.files.get("pretrain") == entry.layout.files.get("train")
    if isinstance(a, registry.ImageFileDataset) and isinstance(b, registry.ImageFileDataset):
        return a.samples == b.samples
    if isinstance(a, ShardDataset) and isinstance(b, ShardDataset):
        return a.paths == b.paths and np.array_equal(a.offsets, b.offsets)
    return False


def _png(image: torch.Tensor) -> bytes:
    import io

    from PIL import Image

    array = image.numpy()
    if array.ndim != 3 or array.shape[0] not in (1, 3) or array.dtype != np.uint8:
        raise ValueError(f"expected a uint8 (1 or 3, H, W) image, got {array.dtype} "
                         f"{array.shape}")
    pil = Image.fromarray(array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0))
    buf = io.BytesIO()
    pil.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _encoded(dataset: Dataset, index: int, copy_files: bool) -> tuple[str, bytes, int]:
    """(extension, bytes, label) of item ``index``: an image file's own bytes with
    ``copy_files`` (after checking that it decodes), else the decoded pixels as PNG."""
    if copy_files and isinstance(dataset, registry.ImageFileDataset):
        path, label = dataset.samples[index]
        ext = os.path.splitext(path)[1].lower().lstrip(".")
        if ext in _image_exts():
            registry.load_rgb(path)  # an unreadable file stops the write, named
            return ext, Path(path).read_bytes(), label
    image, label = dataset[index]
    return "png", _png(image), int(label)


def _remove_previous(out: Path) -> None:
    """Remove what an earlier write_shards left in ``out``: index.json first, so that the
    folder never looks complete while it is replaced."""
    (out / INDEX).unlink(missing_ok=True)
    pattern = re.compile(rf"^\.?({'|'.join(SPLIT_NAMES)})-\d+\.tar"
                         rf"({re.escape(SIDECAR)}|\..*\.partial)?$")
    for p in out.iterdir():
        if pattern.match(p.name) and p.is_file():
            p.unlink()


def _write_split(dataset: Dataset, out: Path, split: str, shard_size: int,
                 copy_files: bool, bar: Any) -> list[dict[str, Any]]:
    """Write ``dataset`` as ``out/<split>-000000.tar ...``, each shard under a temporary
    name until it is whole; returns the shards' entries for index.json."""
    import webdataset as wds

    written: list[dict[str, Any]] = []
    files: dict[str, tuple[Any, Path]] = {}

    def opener(fname: str):
        final = Path(fname)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.partial")
        files[fname] = (open(tmp, "wb"), tmp)
        return files[fname][0]

    def post(fname: str) -> None:
        f, tmp = files.pop(fname)
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(tmp, fname)
        index = shard_index(fname)
        written.append({"url": Path(fname).name, "nsamples": len(index),
                        "filesize": index.size})

    writer = wds.ShardWriter(str(out / f"{split}-%06d.tar"), maxcount=shard_size,
                             maxsize=float("inf"), post=post, verbose=0, opener=opener,
                             mtime=0.0)
    try:
        for i in range(len(dataset)):
            ext, data, label = _encoded(dataset, i, copy_files)
            sample = {"__key__": f"{i:08d}", ext: data}
            if label >= 0:
                sample["cls"] = str(label)
            writer.write(sample)
            bar.update(1)
    except BaseException:
        writer.post = None  # the shard being written is not whole: never under its name
        if writer.tarstream is not None:
            try:
                writer.tarstream.close()
            except Exception:
                pass
        for f, tmp in files.values():
            f.close()
            tmp.unlink(missing_ok=True)
        raise
    writer.close()
    return written


def write_shards(source: Any, out: str | os.PathLike, shard_size: int = 1000,
                 progress: bool = True, overwrite: bool = False,
                 copy_files: bool = False) -> dict[str, Any]:
    """Write every split ``source`` (a ``DataSource``) has as WebDataset tar shards in
    ``out``: ``<split>-000000.tar ...`` of ``shard_size`` samples each (key: the position in
    the split, the image as lossless PNG, or with ``copy_files`` an image folder's files as
    they are; ``cls``: the label where there is one), each shard's ``.idx.json``, and last
    ``index.json`` (each split's shards, sample counts and sizes; classes). A split equal
    to another (pretrain = train for most sets) is written once and recorded as the same.
    Each shard is written under a temporary name and renamed when whole, index.json
    last: a write cut off never looks complete. Returns the index."""
    from tqdm import tqdm

    out = Path(out).expanduser().absolute()
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    if out.exists() and not out.is_dir():
        raise DataNotFoundError(f"{out} is a file; name a folder for the shards")
    if out.is_dir() and ((out / INDEX).exists() or any(out.glob("*-*.tar"))):
        if not overwrite:
            raise DataNotFoundError(f"{out} already holds shards; pass --overwrite to replace "
                                    f"them, or name another folder")
        _remove_previous(out)
    out.mkdir(parents=True, exist_ok=True)

    labeled = source.info.num_classes > 0
    splits = {"pretrain": source.build("pretrain")}
    if labeled:
        for split in ("train", "test"):
            splits[split] = source.build(split)
    same_as = {}
    if labeled and _same_split(source, splits["pretrain"], splits["train"]):
        same_as["pretrain"] = "train"
    order = [s for s in ("train", "test", "pretrain") if s in splits and s not in same_as]
    total = sum(len(splits[s]) for s in order)
    index: dict[str, Any] = {"format": FORMAT, "version": VERSION, "source": source.name,
                             "num_classes": source.info.num_classes,
                             "class_names": None, "splits": {}}
    names = registry.class_names(source.name) if labeled else None
    if names is not None and len(names) == source.info.num_classes:
        index["class_names"] = list(names)
    with tqdm(total=total, unit="img", disable=not progress, file=sys.stderr,
              dynamic_ncols=True) as bar:
        for split in order:
            bar.set_description(split)
            shards = _write_split(splits[split], out, split, shard_size, copy_files, bar)
            index["splits"][split] = {"samples": sum(s["nsamples"] for s in shards),
                                      "shards": shards}
    for split, other in same_as.items():
        index["splits"][split] = {"same_as": other, "samples": index["splits"][other]["samples"]}
    index["splits"] = {s: index["splits"][s] for s in SPLIT_NAMES if s in index["splits"]}
    atomic_write_text(out / INDEX, json.dumps(index, indent=1) + "\n")
    return index
