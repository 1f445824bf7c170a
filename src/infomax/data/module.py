"""LightningDataModule for pretraining: two-view batches from the pretraining split, and
test-time views of the test split for the online probes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from infomax.config import DataConfig
from infomax.data.registry import DatasetInfo, build_dataset, dataset_info, resolve_data_root
from infomax.data.views import TwoViews, test_view


def resolve_name(name: str, root: Path) -> str:
    """``imagefolder:<path>`` with a relative path is taken relative to the data root."""
    if name.startswith("imagefolder:"):
        path = Path(name.split(":", 1)[1]).expanduser()
        if not path.is_absolute() and not path.exists():
            return f"imagefolder:{root / path}"
    return name


def fixed_subset(dataset: Dataset, n: int | None, seed: int) -> Dataset:
    """A fixed random subset of ``n`` items (the same for a given seed), or all of them."""
    if n is None or n >= len(dataset):
        return dataset
    g = torch.Generator().manual_seed(seed)
    return Subset(dataset, torch.randperm(len(dataset), generator=g)[:n].tolist())


class WithIndex(Dataset):
    """Items ``(*item, index)``: the position of each image in the pretraining set, for
    methods that keep one entry per image (memory banks)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple:
        return (*self.dataset[i], i)


class PretrainData(L.LightningDataModule):
    """Pretraining batches ``((x1, x2), y)`` (``((x1, x2), y, index)`` with ``with_index``)
    and test-view validation batches ``(x, y)``.

    With ``cfg.augment_device`` the workers only crop and flip (uint8 views) and the
    photometric part runs on the training batches after their transfer to the device
    (``on_after_batch_transfer``), batched with per-sample parameters (``DevicePhotometric``).
    """

    def __init__(self, cfg: DataConfig, seed: int = 0, pin_memory: bool | None = None,
                 with_index: bool = False) -> None:
        super().__init__()
        self.cfg = cfg
        self.with_index = with_index
        self.seed = seed
        self.root = resolve_data_root(cfg.dir)
        self.name = resolve_name(cfg.name, self.root)
        self.info: DatasetInfo = dataset_info(self.name)
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self._train: Dataset | None = None
        self._val: Dataset | None = None
        self.device_augment: Any = None
        if cfg.augment_device:
            from infomax.data.device_views import DevicePhotometric  # imports kornia

            self.device_augment = DevicePhotometric(self.info, strong=cfg.augment == "strong")

    def setup(self, stage: str | None = None) -> None:
        if self._train is None:
            views = TwoViews(self.info, strong=self.cfg.augment == "strong",
                             photometric=not self.cfg.augment_device)
            train = build_dataset(self.name, "pretrain", self.root, views, self.cfg.download)
            self._train = fixed_subset(train, self.cfg.pretrain_subset, self.seed)
            if self.with_index:
                self._train = WithIndex(self._train)
            val = build_dataset(self.name, "test", self.root, test_view(self.info),
                                self.cfg.download)
            self._val = fixed_subset(val, self.cfg.val_subset, self.seed)

    def _loader(self, dataset: Dataset, train: bool) -> DataLoader:
        # Workers are not persistent: each epoch's workers take fresh seeds from the main
        # process's RNG, which travels in checkpoints, so a resumed run draws the same
        # augmentations as an uninterrupted one.
        return DataLoader(dataset, batch_size=self.cfg.batch_size, shuffle=train,
                          drop_last=train and len(dataset) >= self.cfg.batch_size,
                          num_workers=self.cfg.num_workers, pin_memory=self.pin_memory)

    def train_dataloader(self) -> DataLoader:
        self.setup()
        return self._loader(self._train, train=True)

    def val_dataloader(self) -> DataLoader:
        self.setup()
        return self._loader(self._val, train=False)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """With ``augment_device``: the photometric part of both views of a training batch,
        on the batch's device. Validation batches (normalized test views) pass unchanged."""
        aug = self.device_augment
        if aug is None or self.trainer is None or not self.trainer.training:
            return batch
        (x1, x2), *rest = batch
        if aug.mean.device != x1.device:
            aug.to(x1.device)
        return ((aug(x1), aug(x2)), *rest)
