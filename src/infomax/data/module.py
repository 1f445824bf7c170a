"""LightningDataModule for pretraining: two-view batches from the pretraining split, and
test-time views of the test split for the online probes.

The pretraining order and augmentations are functions of the run's seed, the epoch and
each image's position, never of the global RNG, the number of DataLoader workers or their
scheduling: ``EpochSampler`` draws the epoch's permutation and can start a pass after the
batches an interrupted run had done; ``SeededItems`` seeds each item's random draws.
Checkpoints hold the position reached (``PretrainData.state_dict``), so that a run resumed
from a checkpoint written inside an epoch sees exactly the batches of an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import signal
from typing import Any, Callable, Sequence

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from infomax.config import DataConfig, ViewsConfig, augment_kind
from infomax.data.batch import Batch, BatchCollate
from infomax.data.multicrop import ExtraCrops, MultiCrop, crop_augment
from infomax.data.registry import DatasetInfo, EncodedImages
from infomax.data.source import DataSource
from infomax.data.views import PHOTOMETRIC_KEYS, TwoViews, geometric_test_view, test_view
from infomax.dist import gather_objects, rank, world_size


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


def item_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of item ``index``'s random draws in ``epoch``: a hash of the three (numpy's
    SeedSequence), so that neighbouring seeds, epochs or indices give unrelated streams."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1, np.uint64)[0])


class SeededItems(Dataset):
    """Items by key ``(index, epoch)``: ``dataset[index]`` drawn with torch's RNG seeded by
    ``item_seed(seed, epoch, index)``, the caller's RNG state restored afterwards.

    An item's augmentations are then fixed by (seed, epoch, index) alone: the same with any
    number of DataLoader workers, in any order of their work, and after a resume. Loading in
    the main process (num_workers=0) leaves the global RNG, which the methods draw from
    (negatives, device-side augmentations), untouched. The views draw from torch's RNG only
    (torchvision.transforms.v2)."""

    def __init__(self, dataset: Dataset, seed: int, probe_items: Dataset | None = None
                 ) -> None:
        self.dataset = dataset
        self.seed = seed
        self.probe_items = probe_items

    def __len__(self) -> int:
        return len(self.dataset)

    def probe_index(self, index: int, epoch: int) -> int:
        """The ``probe_items`` image that goes with pretraining image ``index`` in
        ``epoch``: the pretraining set's positions laid over the probe set's one epoch
        after another, so that every probe image comes in turn (each once per epoch when
        the two sets have the same size)."""
        return (index + epoch * len(self.dataset)) % len(self.probe_items)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        index, epoch = key
        with torch.random.fork_rng(devices=[]):
            # The CPU generator only: torch.manual_seed would seed every device's too, at
            # ten times the cost of the rest of this wrapper.
            torch.default_generator.manual_seed(item_seed(self.seed, epoch, index))
            item = self.dataset[index]
            if self.probe_items is None:
                return item
            # A labeled image of the data.eval source, in its test-time view, for the
            # online probes: (two views, test view), its label (, index).
            image, label = self.probe_items[self.probe_index(index, epoch)]
            views, _, *rest = item
            return ((views[0], views[1], image, *views[2:]), label, *rest)


class EpochSampler(DistributedSampler):
    """The pretraining order: keys ``(index, epoch)`` for ``SeededItems``, in a permutation
    that is a function of (seed, epoch) alone (DistributedSampler's: every process draws the
    same one and takes its share).

    ``start(epoch, batches)`` makes the next pass begin in ``epoch`` after its first
    ``batches`` batches (of ``batch_size`` keys per process), where an interrupted run
    stopped. The length stays that of a whole epoch, which Lightning counts the epoch's
    batches against. ``position`` is where training stands in the pass begun last, counted
    by ``batch_done``. Being a DistributedSampler, Lightning keeps it under data parallelism
    instead of putting its own in its place."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, num_replicas: int = 1,
                 rank: int = 0) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True,
                         seed=seed)
        self.batch_size = batch_size
        self._skip = 0
        self.position = (0, 0)  # (epoch, batches trained on) of the pass begun last

    def start(self, epoch: int, batches: int) -> None:
        self.epoch, self._skip = epoch, batches
        self.position = (epoch, batches)

    def set_epoch(self, epoch: int) -> None:
        # Lightning sets the epoch at every epoch start; on a resume it does so after the
        # first pass has begun, with the epoch ``start`` gave.
        if epoch != self.epoch:
            self.epoch, self._skip = epoch, 0

    def __iter__(self):
        epoch, skip = self.epoch, self._skip
        self._skip = 0  # only the first pass after a resume starts late
        self.position = (epoch, skip)
        indices = itertools.islice(super().__iter__(), skip * self.batch_size, None)
        return ((i, epoch) for i in indices)

    def batch_done(self) -> None:
        """One more batch of the current pass went to training."""
        epoch, batches = self.position
        self.position = (epoch, batches + 1)


# The signals a run stops for (see infomax.engine.signals).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGUSR1")
                     if hasattr(signal, name))


class WorkerInit:
    """A DataLoader worker's start: it ignores the stop signals (the main process stops
    the run and then its workers; a signal sent to the whole process group would
    otherwise kill them under it, which ends in a long DataLoader traceback), then seeds
    itself as Lightning does under ``seed_everything(workers=True)`` (the function
    Lightning would have added had there been none)."""

    def __init__(self, rank: int) -> None:
        self.rank = rank

    def __call__(self, worker_id: int) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        if int(os.environ.get("PL_SEED_WORKERS", 0)):
            from lightning.fabric.utilities.seed import pl_worker_init_function

            pl_worker_init_function(worker_id, rank=self.rank)


class PretrainData(L.LightningDataModule):
    """Pretraining batches as ``Batch`` objects (two augmented views and labels; with
    ``with_index`` the images' indices, with ``test_views`` their test-time views) and
    test-view validation batches ``(x, y)``.

    The views follow ``views`` (the run's ``views`` section; None: the defaults).
    ``extra_crops``: crops beyond the two views (``ExtraCrops`` groups, see
    infomax.data.multicrop), or a function of the data's ``DatasetInfo`` that gives them
    (``SSLMethod.extra_crops``); batches then carry them in ``Batch.crops``. Without them
    the pipeline is the two views alone.
    ``cfg.augment`` adds its augmentation to the views (and to the extra crops):
    RandAugment, or Fast AutoAugment with the policy ``cfg.augment_policy``.
    With ``cfg.augment_device`` the workers only crop and flip (uint8 views; Fast
    AutoAugment, which has no device version, is applied there too) and the
    photometric part (RandAugment included) runs on the training batches after their
    transfer to the device (``on_after_batch_transfer``), batched with per-sample
    parameters (``DevicePhotometric``; ``device_augment`` for the first view,
    ``device_augment_second`` for the second when its photometric settings are its own,
    else None: the same).
    """

    def __init__(self, cfg: DataConfig, seed: int = 0, pin_memory: bool | None = None,
                 with_index: bool = False, test_views: bool = False,
                 views: ViewsConfig | None = None,
                 extra_crops: Sequence[ExtraCrops] | Callable[[DatasetInfo],
                                                              Sequence[ExtraCrops]] = ()
                 ) -> None:
        super().__init__()
        self.cfg = cfg
        self.views = ViewsConfig() if views is None else views
        self.with_index = with_index
        self.test_views = test_views
        self.seed = seed
        self.source = DataSource.resolve(cfg)
        self.root, self.name = self.source.root, self.source.name
        # The labeled source of the online probes (None: no labels, no probes), and
        # whether it is another source than the pretraining one (then each item brings
        # one of its images, see SeededItems).
        self.eval_source = DataSource.resolve_eval(cfg)
        self.separate_eval = (self.eval_source is not None
                              and self.eval_source.name != self.source.name)
        # What the method is built for: the pretraining images, the eval source's classes.
        self.info: DatasetInfo = dataclasses.replace(
            self.source.info, num_classes=(self.eval_source.info.num_classes
                                           if self.eval_source is not None else 0))
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self._train: Dataset | None = None
        self._val: Dataset | None = None
        self._probe_items: Dataset | None = None  # data.eval's training split
        self.description = ""  # what an image folder holds, in one line (after setup)
        self._start = (0, 0)  # (epoch, batches done in it) of the first training pass
        self._sampler: EpochSampler | None = None
        self._files: list[EncodedImages] = []  # image files, shards: their unreadable images
        self._unreadable: set[str] = set()  # found by any process, as of the last checkpoint
        self.device_augment: Any = None
        self.device_augment_second: Any = None
        if cfg.augment_device:
            from infomax.data.device_views import DevicePhotometric  # imports kornia

            # RandAugment runs on the device; Fast AutoAugment stays in the workers.
            strong = augment_kind(cfg.augment) == "randaugment"
            first, second = self.views.for_view(0), self.views.for_view(1)
            self.device_augment = DevicePhotometric(self.info, strong=strong, views=first)
            if any(getattr(first, k) != getattr(second, k) for k in PHOTOMETRIC_KEYS):
                self.device_augment_second = DevicePhotometric(self.info, strong=strong,
                                                               views=second)
        self.extra_crops: tuple[ExtraCrops, ...] = tuple(
            extra_crops(self.info) if callable(extra_crops) else extra_crops)
        self.device_augment_crops: list[Any] = []  # one per group of extra crops
        if cfg.augment_device and self.extra_crops:
            self.device_augment_crops = crop_augment(
                self.info, self.extra_crops, self.views, self.device_augment.strong)

    @property
    def has_labels(self) -> bool:
        """Whether the run has a labeled source for the online probes."""
        return self.eval_source is not None

    def setup(self, stage: str | None = None) -> None:
        if self._train is None:
            views = TwoViews(self.info, self.cfg.augment, policy=self.cfg.augment_policy,
                             photometric=not self.cfg.augment_device,
                             with_test_view=self.test_views and not self.separate_eval,
                             views=self.views)
            if self.extra_crops:
                views = MultiCrop(views, self.extra_crops, self.views)
            skip = not self.cfg.strict
            train = self.source.build("pretrain", views, skip_unreadable=skip)
            self.description = getattr(train, "description", "")
            self._train = fixed_subset(train, self.cfg.pretrain_subset, self.seed)
            if self.with_index:
                self._train = WithIndex(self._train)
            built = [train]
            if self.eval_source is not None:
                info = self.eval_source.info
                clean = (geometric_test_view(info, self.views) if self.cfg.augment_device
                         else test_view(info, self.views))
                if self.separate_eval:
                    self._probe_items = self.eval_source.build("train", clean,
                                                               skip_unreadable=skip)
                    built.append(self._probe_items)
                val = self.eval_source.build("test", test_view(info, self.views),
                                             skip_unreadable=skip)
                self._val = fixed_subset(val, self.cfg.val_subset, self.seed)
                built.append(val)
            self._files = [d for d in built if isinstance(d, EncodedImages)]
            for files in self._files:
                files.mark_unreadable(self._unreadable)

    @property
    def num_pretrain_images(self) -> int:
        """Images in the pretraining set (after ``data.pretrain_subset``)."""
        self.setup()
        return len(self._train)

    def _loader(self, dataset: Dataset, **kwargs: Any) -> DataLoader:
        # A generator of its own: the worker seeds the DataLoader draws at every epoch
        # start (unused: items seed themselves) come from it rather than the global RNG.
        return DataLoader(dataset, batch_size=self.cfg.batch_size,
                          num_workers=self.cfg.num_workers, pin_memory=self.pin_memory,
                          generator=torch.Generator().manual_seed(self.seed),
                          worker_init_fn=WorkerInit(rank()), **kwargs)

    def train_dataloader(self) -> DataLoader:
        self.setup()
        sampler = EpochSampler(self._train, self.cfg.batch_size, self.seed,
                               num_replicas=world_size(), rank=rank())
        sampler.start(*self._start)
        self._sampler = sampler
        return self._loader(SeededItems(self._train, self.seed, self._probe_items),
                            sampler=sampler, drop_last=len(sampler) >= self.cfg.batch_size,
                            collate_fn=BatchCollate(self.test_views, self.with_index,
                                                    probe_source=self.separate_eval,
                                                    crops=sum(c.count for c in
                                                              self.extra_crops)))

    def val_dataloader(self) -> DataLoader | list:
        """The eval source's test split in test-time views; none without labels (the
        Trainer is then built with no validation, see infomax.engine.train)."""
        self.setup()
        return self._loader(self._val) if self._val is not None else []

    def skipped_images(self) -> list[str]:
        """Image files found unreadable and skipped: by this process, and by every process
        as of the last checkpoint."""
        found = set(self._unreadable)
        for files in self._files:
            found.update(files.unreadable)
        return sorted(found)

    def state_dict(self) -> dict[str, Any]:
        """For checkpoints: the epoch and the number of its batches done (where the resumed
        run's first pass starts), and the unreadable image files found so far (skipped
        without a new try after a resume). Called on every process."""
        trainer, sampler = self.trainer, self._sampler
        if trainer is None or sampler is None:
            return {}
        # Counted here rather than read from Lightning's loop counters, which do not all
        # survive a resume (see train._StepCheckpoint). Checkpoints are written between
        # steps, where every batch handed to training has been trained on.
        epoch, done = sampler.position
        if done >= trainer.num_training_batches:
            epoch, done = epoch + 1, 0
        for found in gather_objects(self.skipped_images()):
            self._unreadable.update(found)
        return {"epoch": epoch, "batches": done, "unreadable": sorted(self._unreadable)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "epoch" in state_dict:
            self._start = (int(state_dict["epoch"]), int(state_dict["batches"]))
        self._unreadable = set(state_dict.get("unreadable", ()))
        for files in self._files:
            files.mark_unreadable(self._unreadable)

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        # Called once for every training batch, right before its step.
        if self._sampler is not None and self.trainer is not None and self.trainer.training:
            self._sampler.batch_done()
        return batch

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """With ``augment_device``: the photometric part of both views of a training batch,
        on the batch's device (and the normalization of its test-time views, if any), then
        that of its extra crops. Validation batches (normalized test views) pass
        unchanged."""
        aug = self.device_augment
        if aug is None or self.trainer is None or not self.trainer.training:
            return batch
        second = self.device_augment_second or aug
        x1, x2 = batch.views
        for module in {id(aug): aug, id(second): second}.values():
            if module.mean.device != x1.device:
                module.to(x1.device)
        test = None if batch.test_view is None else aug.normalize(batch.test_view)
        return Batch((aug(x1), second(x2)), batch.labels, test, batch.index,
                     batch.probe_source, crops=self._device_crops(batch.crops))

    def _device_crops(self, crops: tuple[Any, ...]) -> tuple[Any, ...]:
        """The photometric part of the extra crops, group by group, after the views'."""
        out: list[Any] = []
        groups = iter(crops)
        for group, aug in zip(self.extra_crops, self.device_augment_crops):
            for x in itertools.islice(groups, group.count):
                if aug.mean.device != x.device:
                    aug.to(x.device)
                out.append(aug(x))
        return tuple(out)
