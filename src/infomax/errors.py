"""Errors a user can cause. The CLI prints their message as one line and exits non-zero."""

from __future__ import annotations

from pathlib import Path


class InfomaxError(Exception):
    """Base class: the message says what happened and what to do."""


class ConfigError(InfomaxError):
    """A config key or value is wrong."""


class DataNotFoundError(InfomaxError):
    """A data set is not on disk and cannot be downloaded."""


class UnreadableCheckpointError(InfomaxError):
    """A checkpoint file that is truncated, corrupt or not a checkpoint at all."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"checkpoint {path} cannot be read ({reason}); use another "
                         f"checkpoint of its run (best.ckpt, last.prev.ckpt), or continue the "
                         f"run with 'infomax pretrain --resume', which falls back to one")


class NonFiniteError(InfomaxError):
    """A training step with a non-finite loss or gradient, beyond train.skip_nonfinite;
    raised before the optimizer applied it."""


class NonFiniteCheckpointError(NonFiniteError):
    """A checkpoint about to be written holds a NaN or an infinity; it is not written."""
