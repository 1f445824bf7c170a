"""A run's data source resolved once: the data set's name, its root and its constants.

Every caller that turns a config's ``data`` section (or a ``--data`` / ``--data-dir``
given on the command line) into data goes through ``DataSource.resolve``: pretraining,
the probes, embeddings, the report, the speed benchmarks and ``infomax data``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from torch.utils.data import Dataset

from infomax.data.registry import (DatasetInfo, build_dataset, canonical_data_name,
                                   dataset_info, path_source, resolve_data_root)
from infomax.errors import ConfigError, DataNotFoundError


def resolve_name(name: str, root: Path) -> str:
    """A path source (``imagefolder:<path>``, ...) with a relative path that does not exist
    from here is taken relative to the data root."""
    source = path_source(name)
    if source is not None and source.on_disk:
        path = Path(name[len(source.prefix):]).expanduser()
        exists = source.exists or Path.exists
        if not path.is_absolute() and not exists(path):
            return f"{source.prefix}{root / path}"
    return name


def same_source(a: str | None, b: str | None, root: Path) -> bool:
    """Whether two data names (spellings forgiven, relative paths under ``root``) name
    the same source."""
    if a is None or b is None:
        return False
    return resolve_name(canonical_data_name(a), root) == resolve_name(canonical_data_name(b),
                                                                      root)


def with_settings(info: DatasetInfo, data: Any) -> DatasetInfo:
    """``info`` with the data section's image size, channels, mean and std where set;
    ConfigError where mean or std do not give one value per channel."""
    channels = getattr(data, "channels", None) or info.channels
    mean, std = getattr(data, "mean", None), getattr(data, "std", None)
    if mean is None and channels != info.channels:
        # Colour images seen as grayscale take the mean of their channels' statistics;
        # grayscale ones seen as colour repeat theirs.
        mean = [sum(info.mean) / len(info.mean)] * channels
    if std is None and channels != info.channels:
        std = [sum(info.std) / len(info.std)] * channels
    for key, values in (("mean", mean), ("std", std)):
        if values is not None and len(values) != channels:
            raise ConfigError(f"data.{key}: {list(values)!r} has {len(values)} values for "
                              f"{channels}-channel images; give one per channel")
    return dataclasses.replace(
        info, image_size=getattr(data, "image_size", None) or info.image_size,
        channels=channels, mean=tuple(mean) if mean is not None else info.mean,
        std=tuple(std) if std is not None else info.std)


def _given(data_dir: str | Path | None) -> bool:
    """Whether ``data_dir`` names a root (else $INFOMAX_DATA or the default root is used)."""
    return data_dir is not None and str(data_dir) != ""


def _refuse_missing_root(root: Path) -> None:
    # Only roots given explicitly: the default root is made by the first download.
    if not root.exists():
        raise DataNotFoundError(f"data root {root} does not exist (from --data-dir or "
                                f"data.dir); create it, or pass the folder that holds the data")


def data_root(data_dir: str | Path | None) -> Path:
    """``resolve_data_root(data_dir)``; a ``data_dir`` given that does not exist is refused
    (DataNotFoundError), rather than the data set being looked for elsewhere."""
    root = resolve_data_root(data_dir)
    if _given(data_dir):
        _refuse_missing_root(root)
    return root


@dataclass(frozen=True)
class DataSource:
    """A data set by name (image folders with their resolved path), the data root it is
    looked up under, its constants, and whether it may be downloaded."""

    name: str
    root: Path
    info: DatasetInfo
    download: bool = True

    @classmethod
    def resolve(cls, data: Any, name: str | None = None,
                data_dir: str | Path | None = None) -> DataSource:
        """The source a config's ``data`` section names, or ``name`` when given (another
        data set, e.g. for a transfer probe), under ``data_dir`` when given (else the
        section's ``dir``, else $INFOMAX_DATA, else the default root). A root given (by
        ``data_dir`` or ``dir``) that does not exist is refused (DataNotFoundError) when
        it is used: not for an image folder found without it (an absolute path)."""
        given = data_dir if data_dir is not None else data.dir
        root = resolve_data_root(given)
        named = name or data.name
        canonical_data_name(named)  # an unknown name is refused first
        resolved = resolve_name(named, root)
        if _given(given) and (path_source(resolved) is None or resolved != named):
            _refuse_missing_root(root)
        info = dataset_info(resolved)
        if name is None:
            info = with_settings(info, data)
        return cls(resolved, root, info, data.download)

    @classmethod
    def resolve_eval(cls, data: Any, data_dir: str | Path | None = None) -> DataSource | None:
        """The labeled source the probes use: ``data.eval`` (its images seen as the run's:
        the image size, channels and normalization of ``data.name``'s views), else
        ``data.name`` when it has labels, else None. ConfigError for a ``data.eval``
        without labels."""
        run = cls.resolve(data, data_dir=data_dir)
        eval_name = getattr(data, "eval", None)
        if eval_name is None or same_source(eval_name, data.name, run.root):
            return run if run.info.num_classes > 0 else None
        source = cls.resolve(data, eval_name, data_dir)
        if source.info.num_classes == 0:
            raise ConfigError(f"data.eval: {eval_name} has no labels; name a labeled source "
                              f"(a data set, or an image folder with train/<class>/ and "
                              f"val/<class>/)")
        return source.seen_as(run.info)

    def seen_as(self, run: DatasetInfo) -> DataSource:
        """This source with its images seen as ``run``'s (size, channels, mean and std;
        its own name, classes and 28 px padding)."""
        info = dataclasses.replace(run, name=self.info.name, num_classes=self.info.num_classes,
                                   pad_to_32=self.info.pad_to_32)
        return dataclasses.replace(self, info=info)

    @property
    def labeled(self) -> bool:
        return self.info.num_classes > 0

    def build(self, split: str, transform: Callable | None = None,
              skip_unreadable: bool = False, download: bool | None = None) -> Dataset:
        """Split ``split`` ("pretrain", "train" or "test"), see ``build_dataset``."""
        return build_dataset(self.name, split, self.root, transform,
                             self.download if download is None else download,
                             skip_unreadable=skip_unreadable)
