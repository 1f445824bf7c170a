"""``infomax pretrain``: build the data, the method and a Lightning Trainer from a Config."""

from __future__ import annotations

import functools
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

from infomax.config import Config, OptimConfig
from infomax.data.module import PretrainData
from infomax.engine.checkpoints import AtomicCheckpointIO
from infomax.engine.loggers import check_loggers, make_loggers
from infomax.errors import (BadImageError, ConfigError, InfomaxError, NonFiniteCheckpointError,
                            NonFiniteError, TrainingInterrupted)
from infomax.files import atomic_write_text, stale_temp_files
from infomax.machine import slow_bf16_note
from infomax.methods import METHODS, SSLMethod
from infomax.methods.base import describe_optim
from infomax.engine.resume import describe_changes, resume_changes
from infomax.engine.signals import GracefulStop, slurm_job_id
from infomax.runs import (BEST, CONFIG_FILE, LAST, LAST_PREVIOUS, LOG_DIRS, SUMMARY_FILE,
                          UNREADABLE_SUFFIX, WANDB_ID_FILE, RunLock, build_method,
                          epochs_done, init_backbones, read_checkpoint)

def _quiet_lightning() -> None:
    # Lightning's tips about workers, tensor cores and litlogger are noise for our users.
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
                 "lightning.pytorch.accelerators.cuda"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*litlogger.*")
    # Untrue here: a resumed run keeps its metrics.csv rows (MetricsCSVLogger), and --overwrite
    # removes the old logs itself.
    warnings.filterwarnings("ignore", message=".*Previous log files in this directory will be "
                                              "deleted.*")
    # Untrue here: the pretraining data resume inside an epoch by themselves (the DataModule's
    # state in the checkpoint, see infomax.data.module).
    warnings.filterwarnings("ignore", message=".*dataloader is not resumable.*")
    # The run folder holds config.yaml before the first checkpoint: expected, not a problem.
    warnings.filterwarnings("ignore", message=".*Checkpoint directory .* exists and is not empty.*")
    # Nothing to act on: each process's rank is not news, and a short epoch is logged at
    # its end anyway.
    logging.getLogger("lightning.fabric.utilities.distributed").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    # broadcast_buffers=False is what lightning_strategy wants (every buffer is kept the
    # same on all processes already); its replacement would also sync buffers at start.
    warnings.filterwarnings("ignore", message=".*`broadcast_buffers` is deprecated.*")


def _check_resumable(ckpt: dict[str, Any], path: str, model: SSLMethod) -> None:
    """Refuse to resume from a checkpoint of images of another shape or class count (an
    image folder that changed under the same name)."""
    hp = ckpt["hyper_parameters"]
    diffs = [f"data set {key}: {hp.get(key)!r} there, {getattr(model, key)!r} here"
             for key in ("num_classes", "in_channels", "image_size")
             if hp.get(key) != getattr(model, key)]
    if diffs:
        raise InfomaxError(f"cannot resume from {path}: it was trained on other data "
                           f"({'; '.join(diffs)}); resume with the run's data")


class _MovableCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint, for run folders that move: resumed from a checkpoint
    written in another folder (the run folder copied or moved, or a run continued
    elsewhere), it keeps the best-checkpoint record where that folder's best.ckpt came
    along, and starts the record afresh where it did not (instead of Lightning's warning
    and a record that names files of the other folder)."""

    def _generate_state_key(self, **kwargs: Any) -> str:
        # Under the name Lightning's own class gives its state, so that checkpoints written
        # with it (every run before this class) restore into this one.
        name = "ModelCheckpoint" if type(self) is _MovableCheckpoint else type(self).__qualname__
        return f"{name}{kwargs!r}"

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        old = state_dict.get("dirpath")
        if old is None or self.dirpath is None or Path(old) == Path(self.dirpath):
            return super().load_state_dict(state_dict)
        here = Path(self.dirpath)

        def rebase(path: Any) -> Any:
            return str(here / Path(path).name) if path else path

        best = rebase(state_dict.get("best_model_path"))
        if best and Path(best).is_file():
            state = {**state_dict, "best_model_path": best,
                     "kth_best_model_path": rebase(state_dict.get("kth_best_model_path")),
                     "last_model_path": rebase(state_dict.get("last_model_path")),
                     "best_k_models": {rebase(k): v for k, v in
                                       state_dict.get("best_k_models", {}).items()}}
        else:
            state = {**state_dict, "best_model_score": None, "best_model_path": "",
                     "kth_best_model_path": "", "kth_value": self.kth_value,
                     "best_k_models": {}, "last_model_path": ""}
        super().load_state_dict({**state, "dirpath": self.dirpath})


class _StepCheckpoint(_MovableCheckpoint):
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
        # With gradient accumulation, only after a batch that ended an update: after the
        # others the gradients summed so far are in no checkpoint.
        update = (batch_idx + 1) % max(1, trainer.accumulate_grad_batches) == 0
        if update and batch_idx + 1 < trainer.num_training_batches:
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


def _has_run(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a run's checkpoints."""
    return any((run_dir / name).exists() for name in (LAST, LAST_PREVIOUS, BEST,
                                                      LAST + UNREADABLE_SUFFIX))


def _clear_run(run_dir: Path) -> None:
    """Start over: no checkpoint, log or summary of the previous run may outlive it."""
    for name in LOG_DIRS.values():
        shutil.rmtree(run_dir / name, ignore_errors=True)
    for name in (LAST, LAST_PREVIOUS, LAST + UNREADABLE_SUFFIX, BEST, SUMMARY_FILE,
                 WANDB_ID_FILE):
        (run_dir / name).unlink(missing_ok=True)


def _inside(path: str | Path, folder: Path) -> bool:
    return Path(path).resolve().parent == folder.resolve()


def pretrain(cfg: Config, resume: str | None = None, progress: bool = True,
             overwrite: bool = False) -> Path:
    """Train ``cfg`` and return its run directory (config.yaml, last.ckpt, the last.ckpt
    before it as last.prev.ckpt, best.ckpt, logs, summary.json). ``resume`` is a checkpoint
    path or ``"auto"``: the run's last.ckpt (or, if that cannot be read, its newest
    readable checkpoint), or a fresh start where the run folder holds no run yet (so that
    a requeued job's one command line serves both).

    A run folder has one writer at a time (``run.lock``). Resuming from a checkpoint of
    another folder into one that holds a run is refused unless ``overwrite``. Settings a
    resume may change (rates, schedule, epochs, probes, logging, workers: see
    infomax.engine.resume) take effect; those fixing the network or the data are refused.
    A stop signal ends training with last.ckpt written and raises TrainingInterrupted
    (see infomax.engine.signals).

    Under data parallelism every process calls this; only the main one checks, prepares
    and writes the run folder, and only it writes summary.json."""
    _quiet_lightning()
    check_loggers(cfg)
    main = is_main_process()
    run_dir = cfg.run_dir
    lock = RunLock(run_dir)
    if main:
        lock.acquire()
    try:
        return _pretrain_locked(cfg, resume, progress, overwrite, main, run_dir)
    finally:
        lock.release()


def _pretrain_locked(cfg: Config, resume: str | None, progress: bool, overwrite: bool,
                     main: bool, run_dir: Path) -> Path:
    last = run_dir / LAST
    ckpt_path: str | None = None
    resumed: dict[str, Any] | None = None
    if main:
        # Left by a process killed while writing a checkpoint; never a checkpoint.
        for tmp in stale_temp_files(run_dir):
            tmp.unlink(missing_ok=True)
    if resume == "auto" and not _has_run(run_dir):
        if main:
            print(f"infomax: {run_dir} holds no run yet; starting one", file=sys.stderr)
        resume = None
    if resume is not None:
        if resume == "auto":
            ckpt_path, resumed = _auto_resume(run_dir, main)
        else:
            ckpt_path = resume
            if not Path(ckpt_path).is_file():
                raise InfomaxError(f"cannot resume: {ckpt_path} does not exist")
            resumed = read_checkpoint(ckpt_path, mmap=True)
            if not _inside(ckpt_path, run_dir) and _has_run(run_dir):
                if not overwrite:
                    raise InfomaxError(
                        f"{run_dir} already holds another run; resuming {ckpt_path} there "
                        f"would overwrite it: choose another folder (--out, --name), or "
                        f"--overwrite to replace that run")
                if main:
                    _clear_run(run_dir)
        done = epochs_done(resumed)
        if done >= cfg.train.epochs and (run_dir / SUMMARY_FILE).is_file():
            print(f"infomax: {ckpt_path} has finished {done} epochs already (train.epochs="
                  f"{cfg.train.epochs}); nothing to do. Raise train.epochs to train longer",
                  file=sys.stderr)
            return run_dir
    elif _has_run(run_dir) and not overwrite and main:
        raise InfomaxError(f"{run_dir} already holds a run; continue it with --resume, or "
                           f"choose another train.run_name (or --overwrite to start over)")
    elif overwrite and main:
        _clear_run(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    L.seed_everything(cfg.train.seed, workers=True, verbose=False)
    method = METHODS[cfg.method]
    data = PretrainData(cfg.data, seed=cfg.train.seed, with_index=method.needs_index,
                        test_views=cfg.probe.online_view == "test", views=cfg.views,
                        extra_crops=functools.partial(method.extra_crops, cfg))
    data.setup()
    if main and data.description:
        print(f"infomax: {data.description}", file=sys.stderr)
    if main and not data.has_labels:
        print(f"infomax: {data.name} has no labels and data.eval is not set: pretraining "
              f"without online probes, so the run writes last.ckpt and no best.ckpt (the "
              f"best online probe's); name a labeled source with data.eval=<source> to "
              f"probe while training", file=sys.stderr)
    elif main and data.separate_eval:
        print(f"infomax: online probes learn on and are scored on {data.eval_source.name} "
              f"(data.eval), in the test-time views of {data.name}", file=sys.stderr)
    model = build_method(cfg, data.info, data.num_pretrain_images)
    if resumed is None and cfg.model.init_from:
        # A new run only: a resumed run's own checkpoint holds its weights.
        loaded = init_backbones(model, cfg.model.init_from)
        if main:
            print(f"infomax: model.init_from {loaded}", file=sys.stderr)
    if resumed is not None:
        _check_resumable(resumed, ckpt_path, model)
        changes = resume_changes(resumed["hyper_parameters"]["config"], cfg, ckpt_path)
        shown = [c for c in changes if c[0] not in ("train.out_dir", "train.run_name",
                                                     "data.dir")]
        if shown and main:
            print(f"infomax: resuming {ckpt_path} with changed settings: "
                  f"{describe_changes(shown)}", file=sys.stderr)
    if main:
        cfg.save(run_dir / CONFIG_FILE)

    t = cfg.train
    # best.ckpt: the best online linear probe; none without labels.
    checkpoint = (_MovableCheckpoint(dirpath=run_dir, filename="best", monitor="val/linear_acc",
                                     mode="max", save_top_k=1, enable_version_counter=False)
                  if data.has_labels else None)
    # last.ckpt at every epoch end. (Lightning's save_last rewrites it only at steps where a
    # top-k checkpoint was written, so it would go stale once the accuracy stops rising.)
    latest = _MovableCheckpoint(dirpath=run_dir, filename="last", monitor=None, save_top_k=1,
                                enable_version_counter=False)
    stop = GracefulStop(last)
    callbacks: list[Any] = [_SayOptimizer(cfg), stop, *([checkpoint] if checkpoint is not None else []), latest]
    if t.checkpoint_every_n_steps:
        # The same last.ckpt, also every N optimizer steps: a crash loses at most N steps.
        callbacks.append(_StepCheckpoint(run_dir, t.checkpoint_every_n_steps))
    keep = int(resumed.get("global_step", 0)) if resumed is not None else None
    loggers = make_loggers(cfg, run_dir, main=main, keep_before_step=keep)
    resumed = None  # the Trainer reads the checkpoint itself
    if progress:
        callbacks.append(_Progress())
    plugins: list[Any] = [AtomicCheckpointIO(keep_previous={LAST: LAST_PREVIOUS})]
    if slurm_job_id() is not None:
        # Under SLURM, GracefulStop handles the signals and the requeue; Lightning's own
        # handler would write an hpc_ckpt file of its own and resume from it.
        from lightning.fabric.plugins.environments import SLURMEnvironment

        plugins.append(SLURMEnvironment(auto_requeue=False))
    trainer = L.Trainer(
        max_epochs=t.epochs,
        max_time=timedelta(minutes=t.max_minutes) if t.max_minutes else None,
        precision=t.precision, accelerator=t.accelerator, devices=t.devices,
        num_nodes=t.num_nodes, strategy=lightning_strategy(t),  # global BN: SSLMethod.setup
        log_every_n_steps=t.log_every_n_steps,
        limit_train_batches=t.limit_train_batches,
        accumulate_grad_batches=cfg.optim.accumulate,
        gradient_clip_val=cfg.optim.clip_grad_norm,
        gradient_clip_algorithm="norm" if cfg.optim.clip_grad_norm else None,
        limit_val_batches=None if data.has_labels else 0,
        callbacks=callbacks, logger=loggers, default_root_dir=run_dir,
        # Whole-or-absent checkpoint files; the replaced last.ckpt is kept as last.prev.ckpt.
        plugins=plugins,
        enable_progress_bar=progress, enable_model_summary=False,
        num_sanity_val_steps=0, deterministic=False)
    start = time.time()
    stop.install()  # from here on; again when training starts (over Lightning's handlers)
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
    except TrainingInterrupted as e:
        e.__traceback__ = None
        if trainer.is_global_zero:
            _write_summary(run_dir, trainer, checkpoint, model, data, start,
                           status="interrupted", signal=e.signal_name)
        raise
    finally:
        stop.uninstall()
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
    _write_summary(run_dir, trainer, checkpoint, model, data, start, status="completed")
    return run_dir


def _write_summary(run_dir: Path, trainer: Any, checkpoint: ModelCheckpoint | None,
                   model: SSLMethod, data: PretrainData, start: float, status: str,
                   **extra: Any) -> None:
    skipped = data.skipped_images()
    best = (Path(checkpoint.best_model_path)
            if checkpoint is not None and checkpoint.best_model_path else None)
    summary = {
        "run_dir": str(run_dir),
        # "completed", or "interrupted" (a stop signal; "signal" names it)
        "status": status,
        **extra,
        # Whole epochs finished; a max_minutes stop can end a run inside an epoch.
        "epochs": trainer.fit_loop.epoch_progress.current.completed,
        "steps": trainer.global_step,
        "seconds": round(time.time() - start, 1),
        "last_checkpoint": str(run_dir / LAST),
        # In the run folder as given, like last_checkpoint (Lightning's path is absolute).
        "best_checkpoint": (str(run_dir / best.name)
                            if best is not None and (run_dir / best.name).is_file() else None),
        "online": {k: float(v) for k, v in trainer.callback_metrics.items()
                   if k.startswith("val/")},
        # The pretraining source and the labeled one the online probes used (null: none,
        # the run trained without probes and best_checkpoint is null).
        "data": data.name,
        "eval_data": data.eval_source.name if data.eval_source is not None else None,
        "online_probes": data.has_labels,
        # Steps with a non-finite loss or gradient that were not applied (train.skip_nonfinite).
        "skipped_nonfinite": model.skipped_nonfinite,
        # Image files that could not be decoded, each replaced by the next readable one.
        "skipped_images": len(skipped),
        "skipped_image_files": skipped,
    }
    atomic_write_text(run_dir / SUMMARY_FILE, json.dumps(summary, indent=2))


class _SayOptimizer(L.Callback):
    """The optimizer, its rate and schedule in one line, once training starts (after the
    methods' own checks of the data), for a recipe or an optimizer other than AMDIM's
    Adam with step decay."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        cfg = self.cfg
        o, default = cfg.optim, OptimConfig()
        plain = all(getattr(o, k) == getattr(default, k) for k in (
            "name", "lr_batch", "schedule", "accumulate", "clip_grad_norm", "exclude_bias_norm"))
        if trainer.is_global_zero and (cfg.recipe is not None or not plain):
            print(f"infomax: {describe_optim(cfg, trainer.world_size)}", file=sys.stderr)


def _on_gpu(cfg: Config) -> bool:
    """Whether the run trains on CUDA GPUs: asked for, or "auto" (Lightning's choice: the
    GPUs where there are any, else the CPU)."""
    acc = cfg.train.accelerator
    return acc in ("gpu", "cuda") or (acc == "auto" and torch.cuda.is_available())


def precision_note(cfg: Config) -> str | None:
    """One line where ``train.precision`` will be slow on this machine (bf16-mixed on a CPU
    without bfloat16 in hardware), else None."""
    acc = cfg.train.accelerator
    on_mps = acc == "mps" or (acc == "auto" and torch.backends.mps.is_available())
    on_cpu = not _on_gpu(cfg) and not on_mps
    return slow_bf16_note(cfg.train.precision, on_cpu)


def check_devices(cfg: Config) -> None:
    """Refuse device requests the machine cannot meet, before any work starts."""
    acc, devices = cfg.train.accelerator, cfg.train.devices
    if acc == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("train.accelerator: 'mps' asked for but no Apple GPU is available; "
                          "use train.accelerator=cpu or auto")
    if acc in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.accelerator: {acc!r} asked for but no CUDA GPU is visible; "
                          f"use train.accelerator=cpu or auto")
    on_gpu = _on_gpu(cfg)
    if cfg.train.precision == "16-mixed" and not on_gpu:
        raise ConfigError("train.precision: 16-mixed needs a CUDA GPU (float16 autocast with "
                          "loss scaling); on this machine use 32 or bf16-mixed")
    if on_gpu and devices > torch.cuda.device_count():
        raise ConfigError(f"train.devices: {devices} asked for but {torch.cuda.device_count()} "
                          f"GPUs are visible; use 1..{torch.cuda.device_count()}")
    if (acc == "cpu" or (acc == "auto" and not on_gpu)) and devices > (os.cpu_count() or 1):
        raise ConfigError(f"train.devices: {devices} CPU processes asked for but this machine "
                          f"has {os.cpu_count()} cores; use 1..{os.cpu_count() or 1}")
