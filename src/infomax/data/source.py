"""A run's data source resolved once: the data set's name, its root and its constants.

Every caller that turns a config's ``data`` section (or a ``--data`` / ``--data-dir``
given on the command line) into data goes through ``DataSource.resolve``: pretraining,
the probes, embeddings, the report, the speed benchmarks and ``infomax data``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from torch.utils.data import Dataset

from infomax.data.registry import (IMAGEFOLDER_PREFIX, DatasetInfo, build_dataset,
                                   canonical_data_name, dataset_info, resolve_data_root)
from infomax.errors import DataNotFoundError


def resolve_name(name: str, root: Path) -> str:
    """``imagefolder:<path>`` with a relative path is taken relative to the data root."""
    if name.startswith(IMAGEFOLDER_PREFIX):
        path = Path(name.split(":", 1)[1]).expanduser()
        if not path.is_absolute() and not path.exists():
            return f"{IMAGEFOLDER_PREFIX}{root / path}"
    return name


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
        if _given(given) and (not resolved.startswith(IMAGEFOLDER_PREFIX) or resolved != named):
            _refuse_missing_root(root)
        return cls(resolved, root, dataset_info(resolved), data.download)

    def build(self, split: str, transform: Callable | None = None,
              skip_unreadable: bool = False, download: bool | None = None) -> Dataset:
        """Split ``split`` ("pretrain", "train" or "test"), see ``build_dataset``."""
        return build_dataset(self.name, split, self.root, transform,
                             self.download if download is None else download,
                             skip_unreadable=skip_unreadable)
