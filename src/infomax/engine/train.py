"""``infomax pretrain``: build the data, the method and a Lightning Trainer from a Config."""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from infomax.config import Config, config_from_dict, load_config_file
from infomax.data.module import PretrainData
from infomax.errors import ConfigError, InfomaxError
from infomax.methods import METHODS, SSLMethod

CONFIG_FILE = "config.yaml"
SUMMARY_FILE = "summary.json"


def _quiet_lightning() -> None:
    # Lightning's tips about workers, tensor cores and litlogger are noise for our users.
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
                 "lightning.pytorch.accelerators.cuda"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*litlogger.*")


def build_method(cfg: Config, data: PretrainData) -> SSLMethod:
    info = data.info
    return METHODS[cfg.method](cfg, num_classes=info.num_classes, in_channels=info.channels,
                               image_size=info.image_size)


def load_method(checkpoint: str | Path, map_location: str = "cpu") -> SSLMethod:
    """Restore a method (encoder, probes, config) from a checkpoint written by pretrain."""
    path = Path(checkpoint)
    if not path.is_file():
        raise InfomaxError(f"checkpoint {path} does not exist; pass the path of a .ckpt file "
                           f"written by 'infomax pretrain' (e.g. runs/<name>/last.ckpt)")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated or foreign file
        raise InfomaxError(f"checkpoint {path} cannot be read ({type(e).__name__}); it may be "
                           f"incomplete or not an infomax checkpoint") from None
    hp = ckpt.get("hyper_parameters", {})
    if "config" not in hp:
        raise InfomaxError(f"checkpoint {path} holds no infomax config; it was not written by "
                           f"'infomax pretrain'")
    cfg = config_from_dict(hp["config"])
    model = METHODS[cfg.method](cfg, hp["num_classes"], hp["in_channels"], hp["image_size"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


class _Progress(TQDMProgressBar):
    """Lightning's bar, without the version number column."""

    def get_metrics(self, trainer: Any, pl_module: Any) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        return items


def pretrain(cfg: Config, resume: str | None = None, progress: bool = True,
             overwrite: bool = False) -> Path:
    """Train ``cfg`` and return its run directory (config.yaml, last.ckpt, best.ckpt, logs,
    summary.json). ``resume`` is a checkpoint path or ``"auto"`` for the run's last.ckpt."""
    _quiet_lightning()
    run_dir = cfg.run_dir
    last = run_dir / "last.ckpt"
    ckpt_path: str | None = None
    if resume is not None:
        ckpt_path = str(last if resume == "auto" else Path(resume))
        if not Path(ckpt_path).is_file():
            raise InfomaxError(f"cannot resume: {ckpt_path} does not exist")
    elif last.exists() and not overwrite:
        raise InfomaxError(f"{run_dir} already holds a run; continue it with --resume, or "
                           f"choose another train.run_name (or --overwrite to start over)")
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.save(run_dir / CONFIG_FILE)

    L.seed_everything(cfg.train.seed, workers=True, verbose=False)
    data = PretrainData(cfg.data, seed=cfg.train.seed)
    data.setup()
    model = build_method(cfg, data)

    t = cfg.train
    checkpoint = ModelCheckpoint(dirpath=run_dir, filename="best", monitor="val/linear_acc",
                                 mode="max", save_last=True, enable_version_counter=False)
    loggers = [TensorBoardLogger(run_dir, name="tensorboard", version=""),
               CSVLogger(run_dir, name="csv", version="")]
    callbacks: list[Any] = [checkpoint]
    if progress:
        callbacks.append(_Progress())
    trainer = L.Trainer(
        max_epochs=t.epochs,
        max_time=timedelta(minutes=t.max_minutes) if t.max_minutes else None,
        precision=t.precision, accelerator=t.accelerator, devices=t.devices,
        log_every_n_steps=t.log_every_n_steps,
        limit_train_batches=t.limit_train_batches,
        callbacks=callbacks, logger=loggers, default_root_dir=run_dir,
        enable_progress_bar=progress, enable_model_summary=False,
        num_sanity_val_steps=0, deterministic=False)
    start = time.time()
    trainer.fit(model, datamodule=data, ckpt_path=ckpt_path)
    if trainer.interrupted:
        raise InfomaxError(f"training was interrupted; continue with "
                           f"'infomax pretrain --resume {last}'")
    summary = {
        "run_dir": str(run_dir), "epochs": trainer.current_epoch, "steps": trainer.global_step,
        "seconds": round(time.time() - start, 1),
        "last_checkpoint": str(last),
        "best_checkpoint": checkpoint.best_model_path or None,
        "online": {k: float(v) for k, v in trainer.callback_metrics.items()
                   if k.startswith("val/")},
    }
    (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    return run_dir


def config_from_run(run_dir: str | Path) -> Config:
    return config_from_dict(load_config_file(Path(run_dir) / CONFIG_FILE))


def check_devices(cfg: Config) -> None:
    """Refuse device requests the machine cannot meet, before any work starts."""
    acc, devices = cfg.train.accelerator, cfg.train.devices
    if acc in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.accelerator: {acc!r} asked for but no CUDA GPU is visible; "
                          f"use train.accelerator=cpu or auto")
    if acc in ("gpu", "cuda") and devices > torch.cuda.device_count():
        raise ConfigError(f"train.devices: {devices} asked for but {torch.cuda.device_count()} "
                          f"GPUs are visible")
    if acc in ("auto", "cpu") and not torch.cuda.is_available() and devices > (os.cpu_count() or 1):
        raise ConfigError(f"train.devices: {devices} CPU processes asked for but this machine "
                          f"has {os.cpu_count()} cores")
