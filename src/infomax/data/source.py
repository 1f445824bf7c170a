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

from infomax.data.registry import (IMAGEFOLDER_PREFIX, DatasetInfo, build_dataset, dataset_info,
                                   resolve_data_root)


def resolve_name(name: str, root: Path) -> str:
    """``imagefolder:<path>`` with a relative path is taken relative to the data root."""
    if name.startswith(IMAGEFOLDER_PREFIX):
        path = Path(name.split(":", 1)[1]).expanduser()
        if not path.is_absolute() and not path.exists():
            return f"{IMAGEFOLDER_PREFIX}{root / path}"
    return name


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
        section's ``dir``, else $INFOMAX_DATA, else the default root)."""
        root = resolve_data_root(data_dir if data_dir is not None else data.dir)
        resolved = resolve_name(name or data.name, root)
        return cls(resolved, root, dataset_info(resolved), data.download)

    def build(self, split: str, transform: Callable | None = None,
              skip_unreadable: bool = False, download: bool | None = None) -> Dataset:
        """Split ``split`` ("pretrain", "train" or "test"), see ``build_dataset``."""
        return build_dataset(self.name, split, self.root, transform,
                             self.download if download is None else download,
                             skip_unreadable=skip_unreadable)
