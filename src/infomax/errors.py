"""Errors a user can cause. The CLI prints their message as one line and exits non-zero."""

from __future__ import annotations

from pathlib import Path

_WORKER_PREFIX = "Caught "
_WORKER_TRACEBACK = "\nOriginal Traceback"


def _original_message(message: object) -> object:
    """The message an error was raised with in a DataLoader worker process.

    PyTorch re-creates such an error in the main process from the worker's formatted
    traceback: "Caught BadImageError in DataLoader worker process 0.\\nOriginal Traceback
    (most recent call last): ...\\ninfomax.errors.BadImageError: <message>". A user is
    shown <message>, the traceback's last line without the qualified class name."""
    if isinstance(message, str) and message.startswith(_WORKER_PREFIX) \
            and _WORKER_TRACEBACK in message:
        last = message.rstrip().splitlines()[-1]
        return last.partition(": ")[2] or last
    return message


class InfomaxError(Exception):
    """Base class: the message says what happened and what to do."""

    def __init__(self, *args: object) -> None:
        if args:
            args = (_original_message(args[0]), *args[1:])
        super().__init__(*args)


class ConfigError(InfomaxError):
    """A config key or value is wrong."""


class DataNotFoundError(InfomaxError):
    """A data set is not on disk and cannot be downloaded."""


class BadImageError(InfomaxError):
    """An image file cannot be read or decoded."""


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


class TrainingInterrupted(InfomaxError):
    """Training stopped for a signal (SIGTERM, SIGINT, SIGUSR1) after a checkpoint was
    written; the exit status is 128 + the signal's number."""

    def __init__(self, signum: int, step: int) -> None:
        import signal

        self.signum, self.step = int(signum), int(step)
        self.signal_name = signal.Signals(self.signum).name
        super().__init__(f"interrupted by {self.signal_name} at step {self.step}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StoppedBySignal(InfomaxError):
    """Work stopped at once for a signal (SIGTERM, SIGINT, SIGUSR1), before it wrote its
    result (``infomax.engine.signals.stop_at_once``); the exit status is 128 + the signal's
    number."""

    def __init__(self, signum: int, what: str, kept: str) -> None:
        import signal

        self.signum = int(signum)
        self.signal_name = signal.Signals(self.signum).name
        super().__init__(f"{what} stopped by {self.signal_name}; {kept}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
