"""A run's training logs: the Lightning loggers ``train.logger`` names, one or several, each
writing into the run folder (``infomax.runs.LOG_DIRS``).

- ``tensorboard``: Lightning's TensorBoardLogger, ``<run>/tensorboard``.
- ``csv``: Lightning's CSVLogger, ``<run>/csv/metrics.csv``; a resumed run keeps the rows
  logged before its checkpoint.
- ``wandb``: Lightning's WandbLogger (Weights & Biases; the ``wandb`` package is optional),
  its local files under ``<run>/wandb``. The W&B run is named after the run, holds the
  run's config as its config, and lives in ``train.wandb_project`` (and
  ``train.wandb_entity``); its id is kept in ``<run>/wandb-id.txt``, so that a resume
  continues the same W&B run and a fresh start (``--overwrite``) begins a new one.
  ``train.wandb_mode`` (else W&B's own rule: ``WANDB_MODE``, else online) says whether it
  uploads as it goes, only writes locally (``wandb sync`` uploads later) or does nothing.

Only the main process logs: Lightning's loggers write on global rank 0 alone (the W&B run
is started there, on its first use), and only the main process writes the id file.
"""

from __future__ import annotations

import csv
import re
import secrets
import string
from pathlib import Path
from typing import Any

# WandbLogger imports wandb only when it starts a run: this module loads without it.
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger, WandbLogger
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from infomax.config import Config
from infomax.errors import ConfigError, InfomaxError
from infomax.files import atomic_write_text
from infomax.runs import LOG_DIRS, METRICS_CSV, WANDB_ID_FILE

# What W&B accepts as a run id (letters, digits, - and _), and how it makes one itself:
# 8 lowercase letters and digits.
_WANDB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ID_CHARACTERS = string.ascii_lowercase + string.digits


def check_loggers(cfg: Config) -> None:
    """Refuse (ConfigError, one line) loggers this machine cannot run: wandb without the
    wandb package. Called before any work starts."""
    if "wandb" in cfg.train.logger:
        try:
            import wandb  # noqa: F401
        except ImportError:
            raise ConfigError("train.logger: wandb needs the wandb package, which is not "
                              "installed; pip install wandb (or pip install 'infomax[wandb]'), "
                              "or leave wandb out of train.logger") from None


class MetricsCSVLogger(CSVLogger):
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
        # (On the other processes the experiment is a stand-in whose attributes are no-ops.)
        if self._kept and isinstance(getattr(writer, "metrics", None), list):
            writer.metrics = self._kept + writer.metrics
            self._kept = []
            writer.save()
        return writer


def wandb_run_id(run_dir: Path, resuming: bool) -> str:
    """The id of the run's W&B run: the one kept in ``<run>/wandb-id.txt`` when the run is
    resumed, else a new one, written there. Called on the main process only."""
    path = run_dir / WANDB_ID_FILE
    if resuming and path.is_file():
        try:
            kept = path.read_text().strip()
        except (OSError, UnicodeDecodeError):
            kept = ""
        if not _WANDB_ID.fullmatch(kept):
            raise InfomaxError(f"{path} holds no W&B run id; remove it to log the resumed run "
                               f"to a new W&B run")
        return kept
    new = "".join(secrets.choice(_ID_CHARACTERS) for _ in range(8))
    atomic_write_text(path, new + "\n")
    return new


class RunWandbLogger(WandbLogger):
    """Lightning's WandbLogger, with the run's config as the W&B run's config (its keys at
    the top level: ``data.name``, ``optim.lr``, ..., beside the data set's shape), a W&B run
    that cannot start (not logged in, no connection) refused in one line, and the W&B run
    finished when training ends, marked failed when it ended in an error or a stop signal.
    (A class of this module, not of a function: ddp_spawn pickles the loggers.)"""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Lightning always passes wandb.init anonymous=None, and W&B (0.31) warns that the
        # setting has no effect whenever it is given.
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)

    @property
    def experiment(self) -> Any:
        import wandb

        try:
            return super().experiment
        except wandb.errors.Error as e:  # not logged in, no connection, a bad project
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise InfomaxError(f"train.logger: W&B could not start a run ({first}); log in "
                               f"with 'wandb login', or set train.wandb_mode=offline and "
                               f"upload later with 'wandb sync'") from None

    @rank_zero_only
    def log_hyperparams(self, params: Any) -> None:
        params = dict(vars(params) if not isinstance(params, dict) else params)
        config = params.pop("config", None)
        super().log_hyperparams({**config, **params} if isinstance(config, dict) else params)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        super().finalize(status)
        if self._experiment is not None:
            self._experiment.finish(exit_code=0 if status in ("success", "finished") else 1)


def make_loggers(cfg: Config, run_dir: Path, *, main: bool,
                 keep_before_step: int | None = None) -> list[Logger]:
    """The loggers of ``train.logger``, in its order, writing into ``run_dir``.
    ``keep_before_step``: the step a resumed run continues from (metrics.csv keeps the rows
    before it; the W&B run of ``<run>/wandb-id.txt`` is continued); None for a fresh start.
    ``main``: whether this is the main process (the only one that writes the id file)."""
    t = cfg.train
    loggers: list[Logger] = []
    for name in t.logger:
        if name == "tensorboard":
            loggers.append(TensorBoardLogger(run_dir, name=LOG_DIRS["tensorboard"], version=""))
        elif name == "csv":
            # metrics.csv written out as often as last.ckpt, so that a crash loses no rows
            # before it
            flush = ({"flush_logs_every_n_steps": t.checkpoint_every_n_steps}
                     if t.checkpoint_every_n_steps else {})
            loggers.append(MetricsCSVLogger(run_dir, name=LOG_DIRS["csv"], version="",
                                            keep_before_step=keep_before_step, **flush))
        elif name == "wandb":
            check_loggers(cfg)
            # The other processes never start a W&B run (Lightning's WandbLogger logs on
            # rank 0 only), so they need no id.
            run_id = wandb_run_id(run_dir, keep_before_step is not None) if main else None
            options: dict[str, Any] = {"entity": t.wandb_entity} if t.wandb_entity else {}
            if t.wandb_mode is not None:
                options["mode"] = t.wandb_mode
            loggers.append(RunWandbLogger(
                name=run_dir.name, project=t.wandb_project, save_dir=str(run_dir),
                id=run_id, resume="allow", **options))
        else:  # pragma: no cover - the config refuses other names
            raise ConfigError(f"train.logger: unknown logger {name!r}")
    return loggers


def log_locations(cfg: Config, run_dir: Path) -> str:
    """Where the run's logs are, in ``train.logger``'s order, for the line pretrain ends
    with."""
    parts = []
    for name in cfg.train.logger:
        if name == "tensorboard":
            parts.append(f"{run_dir / LOG_DIRS['tensorboard']} (tensorboard --logdir)")
        elif name == "csv":
            parts.append(str(run_dir / METRICS_CSV))
        elif name == "wandb":
            path = run_dir / WANDB_ID_FILE
            run_id = path.read_text().strip() if path.is_file() else "?"
            where = "/".join(p for p in (cfg.train.wandb_entity, cfg.train.wandb_project) if p)
            parts.append(f"{run_dir / LOG_DIRS['wandb']} (W&B run {run_id} in {where})")
    return ", ".join(parts)
