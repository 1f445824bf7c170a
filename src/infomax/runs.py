"""A run folder and what is in it: the file names, reading a checkpoint, restoring the
method it holds, building a method for a config and its data. Below the engine (which
trains runs) and the evaluation tools (which read them): both import from here, never
from each other.

A run folder holds ``config.yaml``, ``last.ckpt`` (the newest state), ``last.prev.ckpt``
(the one before it), ``best.ckpt`` (the best online linear probe), ``summary.json`` and
the logs ``train.logger`` names: ``tensorboard/``, ``csv/metrics.csv``, and ``wandb/`` with
``wandb-id.txt`` (the W&B run a resume continues).
"""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from infomax.config import Config, config_from_dict, load_config_file
from infomax.data.registry import DatasetInfo
from infomax.data.source import DataSource
from infomax.errors import InfomaxError, UnreadableCheckpointError
from infomax.files import check_archive
from infomax.methods import METHODS, SSLMethod
from infomax.nn.encoders import check_image_size
from infomax.nn.weights import common_names, load_matching, read_state_dict

CONFIG_FILE = "config.yaml"
SUMMARY_FILE = "summary.json"
LAST, LAST_PREVIOUS, BEST = "last.ckpt", "last.prev.ckpt", "best.ckpt"
# Where --resume (no path) moves a last.ckpt it cannot read, so that the next save does not
# keep it as last.prev.ckpt in place of a good one.
UNREADABLE_SUFFIX = ".unreadable"
# The logs of train.logger: each logger's folder, Lightning's metrics.csv in the csv one,
# and the id of the run's W&B run, which a resume continues.
LOG_DIRS = {"tensorboard": "tensorboard", "csv": "csv", "wandb": "wandb"}
METRICS_CSV = "csv/metrics.csv"
WANDB_ID_FILE = "wandb-id.txt"

__all__ = ["BEST", "CONFIG_FILE", "LAST", "LAST_PREVIOUS", "LOCK_FILE", "LOG_DIRS",
           "METRICS_CSV", "SUMMARY_FILE", "UNREADABLE_SUFFIX", "WANDB_ID_FILE", "DataSource",
           "RunLock", "build_method", "config_from_run", "epochs_done", "init_backbones",
           "load_method", "read_checkpoint"]


def build_method(cfg: Config, info: DatasetInfo, train_set_size: int = 0) -> SSLMethod:
    """A fresh method for ``cfg`` on images described by ``info`` (``train_set_size``:
    images in the pretraining set, for memory banks and queue checks; 0 when unknown).
    ConfigError if the encoder cannot take images of ``info.image_size``."""
    check_image_size(cfg.model.encoder, info.image_size, f"data.image_size ({info.name})")
    model = METHODS[cfg.method](cfg, num_classes=info.num_classes, in_channels=info.channels,
                                image_size=info.image_size)
    model.train_set_size = train_set_size
    return model


def read_checkpoint(checkpoint: str | Path, map_location: str = "cpu",
                    mmap: bool = False) -> dict[str, Any]:
    """The contents of a checkpoint written by pretrain; InfomaxError if it is missing or
    not an infomax checkpoint, UnreadableCheckpointError (an InfomaxError too) if it is
    truncated or corrupt: every byte is checked against the archive's CRC-32s first
    (torch.load checks none, and with ``mmap`` reads no tensor data at all)."""
    path = Path(checkpoint)
    if not path.is_file():
        raise InfomaxError(f"checkpoint {path} does not exist; pass the path of a .ckpt file "
                           f"written by 'infomax pretrain' (e.g. runs/<name>/last.ckpt)")
    check_archive(path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as e:  # a foreign file that happens to be a whole zip archive
        raise UnreadableCheckpointError(path, f"torch.load failed with {type(e).__name__}: "
                                              f"not an infomax checkpoint") from None
    hp = ckpt.get("hyper_parameters", {}) if isinstance(ckpt, dict) else {}
    if not isinstance(hp, dict) or "config" not in hp or "state_dict" not in ckpt:
        raise InfomaxError(f"checkpoint {path} holds no infomax config; it was not written by "
                           f"'infomax pretrain'")
    return ckpt


def load_method(checkpoint: str | Path, map_location: str = "cpu") -> SSLMethod:
    """Restore a method (encoder, probes, config) from a checkpoint written by pretrain."""
    ckpt = read_checkpoint(checkpoint, map_location)
    hp = ckpt["hyper_parameters"]
    cfg = config_from_dict(hp["config"])
    model = METHODS[cfg.method](cfg, hp["num_classes"], hp["in_channels"], hp["image_size"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


def init_backbones(model: SSLMethod, path: str | Path) -> str:
    """Start ``model``'s backbones from the weights in file ``path`` (``model.init_from``)
    and say what was loaded, in one line. An infomax checkpoint (.ckpt) gives the
    backbones of the method it holds, whatever that method: backbone i of ``model`` starts
    from its backbone i, or from its last where it has fewer (a CMC run's two encoders
    start a CMC model's two; one encoder starts both). Any other file is a state_dict
    (timm's or torchvision's names) that every backbone starts from. Tensors are matched
    by name and shape (``infomax.nn.weights``); InfomaxError (one line) when the file is
    missing or unreadable or nothing in it matches a backbone."""
    path = Path(path).expanduser()
    targets = model.backbones
    if not targets:
        raise InfomaxError(f"model.init_from: method {model.name} builds no backbone through "
                           f"make_backbone, so there is nothing to start from {path}")
    if not path.is_file():
        raise InfomaxError(f"model.init_from: {path} does not exist; give the path of an "
                           f"infomax checkpoint (.ckpt) or of a state_dict (.pth, .pt, .bin, "
                           f".safetensors)")
    if path.suffix.lower() == ".ckpt":
        source = load_method(path)
        if not source.backbones:
            raise InfomaxError(f"model.init_from: the {source.name} model in {path} has no "
                               f"backbone to start from")
        states = [common_names(b, b.state_dict()) for b in source.backbones]
    else:
        states = [read_state_dict(path)]
    reports = [load_matching(b, states[min(i, len(states) - 1)], str(path))
               for i, b in enumerate(targets)]
    model.backbones_loaded()
    if len(reports) == 1:
        return f"{path}: {reports[0].line()}"
    return f"{path}: " + "; ".join(f"encoder {i + 1}: {r.line()}"
                                   for i, r in enumerate(reports))


def config_from_run(run_dir: str | Path) -> Config:
    """The config a run folder was trained with (its config.yaml)."""
    return config_from_dict(load_config_file(Path(run_dir) / CONFIG_FILE))


def epochs_done(ckpt: dict[str, Any]) -> int:
    """Training epochs a checkpoint has finished (every batch processed: the end-of-epoch
    checkpoints are written before Lightning counts the epoch as completed)."""
    try:
        return int(ckpt["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"])
    except (KeyError, TypeError, ValueError):
        return int(ckpt.get("epoch", 0))


LOCK_FILE = "run.lock"


class RunLock:
    """A run folder's owner: ``run.lock`` holding the host, process id and start time of
    the run writing into it, created atomically (O_EXCL) and removed on every way out of
    ``with RunLock(folder):`` (an exception, a signal handled as one, Ctrl-C). A second
    run into the same folder is refused with a line naming the owner. A lock left by a
    process that no longer runs on this host (killed with SIGKILL, or its machine
    restarted) is taken over; one held by another host is refused, since its process
    cannot be checked from here."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / LOCK_FILE
        self.held = False
        self._made = False

    @staticmethod
    def _alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's live process
            return True
        return True

    def owner(self) -> dict[str, Any] | None:
        """The lock's contents, or None where there is no (readable) lock."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def acquire(self) -> None:
        self._made = not self.path.parent.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"host": socket.gethostname(), "pid": os.getpid(),
              "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                owner = self.owner()
                if owner is None or (owner.get("host") == me["host"]
                                     and not self._alive(int(owner.get("pid", -1)))):
                    # A stale lock (or one cut off while written): take it over.
                    self.path.unlink(missing_ok=True)
                    continue
                where = (f"process {owner.get('pid')} on this host" if owner.get("host") ==
                         me["host"] else f"process {owner.get('pid')} on host "
                                         f"{owner.get('host')}")
                raise InfomaxError(
                    f"{self.path.parent} is in use by another run ({where}, started "
                    f"{owner.get('started')}); wait for it to finish, or write to another "
                    f"folder (--name); if that run is gone, remove {self.path}")
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return
        raise InfomaxError(f"cannot take the lock {self.path}; remove it if no run uses "
                           f"{self.path.parent}")

    def release(self) -> None:
        if self.held:
            owner = self.owner()
            if owner is not None and owner.get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)
            self.held = False
            if getattr(self, "_made", False):
                # A folder this lock made for a run refused before it wrote anything.
                try:
                    self.path.parent.rmdir()
                except OSError:  # not empty: the run wrote into it
                    pass

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
