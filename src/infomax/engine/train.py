"""``infomax pretrain``: build the data, the method and a Lightning Trainer from a Config."""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import os
import shutil
import sys
import time
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from infomax.config import Config
from infomax.data.module import PretrainData
from infomax.engine.checkpoints import AtomicCheckpointIO
from infomax.errors import (BadImageError, ConfigError, InfomaxError, NonFiniteCheckpointError,
                            NonFiniteError)
from infomax.files import atomic_write_text, stale_temp_files
from infomax.methods import METHODS, SSLMethod
from infomax.runs import (BEST, CONFIG_FILE, LAST, LAST_PREVIOUS, SUMMARY_FILE,
                          UNREADABLE_SUFFIX, build_method, epochs_done, read_checkpoint)

def _quiet_lightning() -> None:
    # Lightning's tips about workers, tensor cores and litlogger are noise for our users.
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
                 "lightning.pytorch.accelerators.cuda"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*litlogger.*")
    # Untrue here: a resumed run keeps its metrics.csv rows (_CSVLogger), and --overwrite
    # removes the old logs itself.
    warnings.filterwarnings("ignore", message=".*Previous log files in this directory will be "
                                              "deleted.*")
    # Untrue here: the pretraining data resume inside an epoch by themselves (the DataModule's
    # state in the checkpoint, see infomax.data.module).
    warnings.filterwarnings("ignore", message=".*dataloader is not resumable.*")
    # The run folder holds config.yaml before the first checkpoint: expected, not a problem.
    warnings.filterwarnings("ignore", message=".*Checkpoint directory .* exists and is not empty.*")


def _check_resumable(ckpt: dict[str, Any], path: str, cfg: Config, model: SSLMethod) -> None:
    """Refuse to resume from a checkpoint whose network differs from ``cfg``'s."""
    hp = ckpt["hyper_parameters"]
    saved = hp["config"]
    diffs = []
    if saved.get("method") != cfg.method:
        diffs.append(f"method: {saved.get('method')!r} there, {cfg.method!r} here")
    for key, value in dataclasses.asdict(cfg.model).items():
        if saved.get("model", {}).get(key) != value:
            diffs.append(f"model.{key}: {saved.get('model', {}).get(key)!r} there, {value!r} here")
    section = cfg.method_config
    if section is not None:
        for key, value in dataclasses.asdict(section).items():
            there = saved.get(cfg.method, {}).get(key)
            if there != value:
                diffs.append(f"{cfg.method}.{key}: {there!r} there, {value!r} here")
    for key in ("num_classes", "in_channels", "image_size"):
        if hp.get(key) != getattr(model, key):
            diffs.append(f"data set {key}: {hp.get(key)!r} there, {getattr(model, key)!r} here")
    if diffs:
        raise InfomaxError(f"cannot resume from {path}: it was trained with another network "
                           f"({'; '.join(diffs)}); resume with the run's config "
                           f"(--config {Path(path).parent / CONFIG_FILE})")


class _CSVLogger(CSVLogger):
    """Lightning's CSVLogger, except that a resumed run keeps the rows logged before its
    checkpoint (Lightning's deletes an existing metrics.csv)."""

    def __init__(self, *args: Any, keep_before_step: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept: list[dict[str, str]] = []
        path = Path(self.log_dir) / "metrics.csv"
        if keep_before_step is not None and path.is_file():
            with path.open(newline="") as f:
                for row in csv.DictReader(f):
                    try:
                        if int(row.get("step") or "") < keep_before_step:
                            self._kept.append(row)
                    except ValueError:
                        continue

    @property
    def experiment(self) -> Any:
        if self._experiment is not None:
            return self._experiment
        writer = super().experiment  # removes the old metrics.csv
        if self._kept and hasattr(writer, "metrics"):
            writer.metrics = self._kept + writer.metrics
            self._kept = []
            writer.save()
        return writer


class _StepCheckpoint(ModelCheckpoint):
    """last.ckpt every N optimizer steps, except after an epoch's last step: there the
    end-of-epoch checkpoint follows (after validation). Lightning (2.6) resumes from a
    checkpoint written after an epoch's last step with its epoch counters one epoch behind:
    the checkpoints of the next epoch then read as written at an epoch's end, and a run
    resumed from one of them skips that epoch's validation."""

    def __init__(self, dirpath: Path, every_n_steps: int) -> None:
        super().__init__(dirpath=dirpath, filename="last", monitor=None, save_top_k=1,
                         every_n_train_steps=every_n_steps, enable_version_counter=False)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if batch_idx + 1 < trainer.num_training_batches:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


class _Progress(TQDMProgressBar):
    """Lightning's bar, without the version number column."""

    def get_metrics(self, trainer: Any, pl_module: Any) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        return items


def lightning_strategy(t: Any) -> Any:
    """The Lightning strategy for ``train.strategy``. Data parallelism is DDP without
    broadcasting module buffers from rank 0 before every forward pass: every buffer here
    is kept identical on all processes already (global BatchNorm statistics, EMA
    networks, queues and memory banks updated with every process's batch), and a memory
    bank of a large data set is tens of MB per step."""
    from lightning.fabric.utilities.imports import _IS_INTERACTIVE
    from lightning.pytorch.strategies import DDPStrategy

    if t.strategy == "auto" and t.devices * t.num_nodes == 1:
        return "auto"
    start = {"ddp": "popen", "ddp_spawn": "spawn", "ddp_notebook": "fork",
             "auto": "fork" if _IS_INTERACTIVE and t.num_nodes == 1 else "popen"}[t.strategy]
    return DDPStrategy(start_method=start, broadcast_buffers=False)


def _auto_resume(run_dir: Path, main: bool) -> tuple[str, dict[str, Any]]:
    """The checkpoint ``--resume`` without a path continues from, and its contents: the
    run's last.ckpt; where that is missing or unreadable, the newest readable of
    last.prev.ckpt and best.ckpt, said in one line on stderr (the unreadable last.ckpt is
    renamed last.ckpt.unreadable). InfomaxError when none is readable."""
    last = run_dir / LAST
    try:
        return str(last), read_checkpoint(last, mmap=True)
    except InfomaxError as e:
        problem = f"{last} cannot be read ({getattr(e, 'reason', e)})" if last.exists() \
            else f"{last} does not exist"
    found, failures = [], []
    for name in (LAST_PREVIOUS, BEST):
        path = run_dir / name
        if path.is_file():
            try:
                found.append((path, read_checkpoint(path, mmap=True)))
            except InfomaxError as e:
                failures.append(f"{name}: {getattr(e, 'reason', e)}")
    if not found:
        if not failures and not last.exists():
            raise InfomaxError(f"cannot resume: {last} does not exist")
        raise InfomaxError(f"cannot resume: {problem} and {run_dir} holds no other readable "
                           f"checkpoint ({'; '.join(failures) or 'none written'}); start "
                           f"over with --overwrite")
    # The newest; on a tie the kept previous last (it has every epoch-end state).
    path, ckpt = max(found, key=lambda pc: int(pc[1].get("global_step", 0)))
    if main:
        aside = ""
        if last.exists():
            os.replace(last, last.with_name(LAST + UNREADABLE_SUFFIX))
            aside = f"; the unreadable file is kept as {LAST + UNREADABLE_SUFFIX}"
        print(f"infomax: warning: {problem}; resuming from {path} (step "
              f"{int(ckpt.get('global_step', 0))}) instead{aside}", file=sys.stderr)
    return str(path), ckpt


def _stop_line(error: NonFiniteError, run_dir: Path) -> str:
    """``error``'s line, with the checkpoint the run can continue from."""
    last = run_dir / LAST
    try:
        step = int(read_checkpoint(last, mmap=True).get("global_step", 0))
        then = (f"its last good checkpoint {last} (step {step}) is kept: continue with "
                f"'infomax pretrain --resume'")
    except InfomaxError:
        then = "no checkpoint was written: start again with --overwrite"
    if isinstance(error, NonFiniteCheckpointError):
        return f"{error}; {then}, with a lower optim.lr"
    return (f"{error}; {then}, with a lower optim.lr, or with --skip-nonfinite N to skip up "
            f"to N such steps")


def is_main_process() -> bool:
    """False in the extra processes of a multi-process run (Lightning's DDP relaunches the
    command once per device; torchrun and SLURM set RANK / SLURM_PROCID before start)."""
    return getattr(rank_zero_only, "rank", 0) == 0


def pretrain(cfg: Config, resume: str | None = None, progress: bool = True,
             overwrite: bool = False) -> Path:
    """Train ``cfg`` and return its run directory (config.yaml, last.ckpt, the last.ckpt
    before it as last.prev.ckpt, best.ckpt, logs, summary.json). ``resume`` is a checkpoint
    path or ``"auto"`` for the run's last.ckpt (or, if that cannot be read, its newest
    readable checkpoint).

    Under data parallelism every process calls this; only the main one checks, prepares
    and writes the run folder, and only it writes summary.json."""
    _quiet_lightning()
    main = is_main_process()
    run_dir = cfg.run_dir
    last = run_dir / LAST
    ckpt_path: str | None = None
    resumed: dict[str, Any] | None = None
    if main:
        # Left by a process killed while writing a checkpoint; never a checkpoint.
        for tmp in stale_temp_files(run_dir):
            tmp.unlink(missing_ok=True)
    if resume is not None:
        if resume == "auto":
            ckpt_path, resumed = _auto_resume(run_dir, main)
        else:
            ckpt_path = resume
            if not Path(ckpt_path).is_file():
                raise InfomaxError(f"cannot resume: {ckpt_path} does not exist")
            resumed = read_checkpoint(ckpt_path, mmap=True)
        done = epochs_done(resumed)
        if done >= cfg.train.epochs and (run_dir / SUMMARY_FILE).is_file():
            print(f"infomax: {ckpt_path} has finished {done} epochs already (train.epochs="
                  f"{cfg.train.epochs}); nothing to do. Raise train.epochs to train longer",
                  file=sys.stderr)
            return run_dir
    elif (last.exists() or (run_dir / LAST_PREVIOUS).exists()) and not overwrite and main:
        raise InfomaxError(f"{run_dir} already holds a run; continue it with --resume, or "
                           f"choose another train.run_name (or --overwrite to start over)")
    elif overwrite and main:
        # Start over: no checkpoint, log or summary of the previous run may outlive it.
        for name in ("tensorboard", "csv"):
            shutil.rmtree(run_dir / name, ignore_errors=True)
        for name in (LAST, LAST_PREVIOUS, LAST + UNREADABLE_SUFFIX, BEST, SUMMARY_FILE):
            (run_dir / name).unlink(missing_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)

    L.seed_everything(cfg.train.seed, workers=True, verbose=False)
    data = PretrainData(cfg.data, seed=cfg.train.seed,
                        with_index=METHODS[cfg.method].needs_index,
                        test_views=cfg.probe.online_view == "test")
    data.setup()
    model = build_method(cfg, data.info, data.num_pretrain_images)
    if resumed is not None:
        _check_resumable(resumed, ckpt_path, cfg, model)
    if main:
        cfg.save(run_dir / CONFIG_FILE)

    t = cfg.train
    checkpoint = ModelCheckpoint(dirpath=run_dir, filename="best", monitor="val/linear_acc",
                                 mode="max", save_top_k=1, enable_version_counter=False)
    # last.ckpt at every epoch end. (Lightning's save_last rewrites it only at steps where a
    # top-k checkpoint was written, so it would go stale once the accuracy stops rising.)
    latest = ModelCheckpoint(dirpath=run_dir, filename="last", monitor=None, save_top_k=1,
                             enable_version_counter=False)
    callbacks: list[Any] = [checkpoint, latest]
    if t.checkpoint_every_n_steps:
        # The same last.ckpt, also every N optimizer steps: a crash loses at most N steps.
        callbacks.append(_StepCheckpoint(run_dir, t.checkpoint_every_n_steps))
    keep = int(resumed.get("global_step", 0)) if resumed is not None else None
    # metrics.csv written out as often as last.ckpt, so that a crash loses no rows before it
    flush = ({"flush_logs_every_n_steps": t.checkpoint_every_n_steps}
             if t.checkpoint_every_n_steps else {})
    loggers = [TensorBoardLogger(run_dir, name="tensorboard", version=""),
               _CSVLogger(run_dir, name="csv", version="", keep_before_step=keep, **flush)]
    resumed = None  # the Trainer reads the checkpoint itself
    if progress:
        callbacks.append(_Progress())
    trainer = L.Trainer(
        max_epochs=t.epochs,
        max_time=timedelta(minutes=t.max_minutes) if t.max_minutes else None,
        precision=t.precision, accelerator=t.accelerator, devices=t.devices,
        num_nodes=t.num_nodes, strategy=lightning_strategy(t),  # global BN: SSLMethod.setup
        log_every_n_steps=t.log_every_n_steps,
        limit_train_batches=t.limit_train_batches,
        callbacks=callbacks, logger=loggers, default_root_dir=run_dir,
        # Whole-or-absent checkpoint files; the replaced last.ckpt is kept as last.prev.ckpt.
        plugins=[AtomicCheckpointIO(keep_previous={LAST: LAST_PREVIOUS})],
        enable_progress_bar=progress, enable_model_summary=False,
        num_sanity_val_steps=0, deterministic=False)
    start = time.time()
    try:
        trainer.fit(model, datamodule=data, ckpt_path=ckpt_path)
    except NonFiniteError as e:
        # Raised before the optimizer applied the step; no checkpoint holds that state
        # (ModelCheckpoint saves on exceptions only with save_on_exception=True).
        raise NonFiniteError(_stop_line(e, run_dir)) from None
    except BadImageError as e:
        # Raised in a DataLoader worker, its traceback holds the loader's iterator in a
        # reference cycle: dropped, the workers stop now rather than in a later garbage
        # collection, which waits 5 s for each.
        e.__traceback__ = None
        raise
    if trainer.interrupted:
        raise InfomaxError(f"training was interrupted; continue with "
                           f"'infomax pretrain --resume {last}'")
    if not trainer.is_global_zero:
        return run_dir
    skipped = data.skipped_images()
    if skipped:
        files = "file was" if len(skipped) == 1 else "files were"
        print(f"infomax: warning: {len(skipped)} unreadable image {files} skipped (named "
              f"above and in {run_dir / SUMMARY_FILE}); --strict-data stops at the first",
              file=sys.stderr)
    summary = {
        "run_dir": str(run_dir),
        # Whole epochs finished; a max_minutes stop can end a run inside an epoch.
        "epochs": trainer.fit_loop.epoch_progress.current.completed,
        "steps": trainer.global_step,
        "seconds": round(time.time() - start, 1),
        "last_checkpoint": str(last),
        # In the run folder as given, like last_checkpoint (Lightning's path is absolute).
        "best_checkpoint": (str(run_dir / Path(checkpoint.best_model_path).name)
                            if checkpoint.best_model_path else None),
        "online": {k: float(v) for k, v in trainer.callback_metrics.items()
                   if k.startswith("val/")},
        # Steps with a non-finite loss or gradient that were not applied (train.skip_nonfinite).
        "skipped_nonfinite": model.skipped_nonfinite,
        # Image files that could not be decoded, each replaced by the next readable one.
        "skipped_images": len(skipped),
        "skipped_image_files": skipped,
    }
    atomic_write_text(run_dir / SUMMARY_FILE, json.dumps(summary, indent=2))
    return run_dir


def check_devices(cfg: Config) -> None:
    """Refuse device requests the machine cannot meet, before any work starts."""
    acc, devices = cfg.train.accelerator, cfg.train.devices
    if acc == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("train.accelerator: 'mps' asked for but no Apple GPU is available; "
                          "use train.accelerator=cpu or auto")
    if acc in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.accelerator: {acc!r} asked for but no CUDA GPU is visible; "
                          f"use train.accelerator=cpu or auto")
    # "auto" picks the GPUs where there are any (Lightning's choice), else the CPU.
    on_gpu = acc in ("gpu", "cuda") or (acc == "auto" and torch.cuda.is_available())
    if on_gpu and devices > torch.cuda.device_count():
        raise ConfigError(f"train.devices: {devices} asked for but {torch.cuda.device_count()} "
                          f"GPUs are visible; use 1..{torch.cuda.device_count()}")
    if (acc == "cpu" or (acc == "auto" and not on_gpu)) and devices > (os.cpu_count() or 1):
        raise ConfigError(f"train.devices: {devices} CPU processes asked for but this machine "
                          f"has {os.cpu_count()} cores; use 1..{os.cpu_count() or 1}")
