"""Runs that stop cleanly when a scheduler or a user asks.

SIGTERM (what SLURM, Kubernetes and ``timeout`` send before they kill), SIGINT (Ctrl-C)
and SIGUSR1 (SLURM's warning before preemption, ``#SBATCH --signal=USR1@90``) all stop a
run the same way: the current step finishes, every process agrees on the step to stop
at, last.ckpt is written (atomically, as always), summary.json says ``"status":
"interrupted"``, one line gives the command that continues, and the process exits with
128 + the signal's number (143 for SIGTERM, 130 for SIGINT, 138 for SIGUSR1). Under SLURM,
SIGUSR1 also requeues the job (``scontrol requeue``), so that the same command line runs
again and continues (``infomax pretrain ... --resume``). A second Ctrl-C stops at once.

Lightning's own handlers (its SIGTERM handler exits with status 0, its SLURM handler
writes an ``hpc_ckpt`` file of its own) are replaced while training runs; DataLoader
workers ignore these signals, so that a signal sent to the whole process group does not
kill them under the main process (they are stopped by it, without a traceback).

Commands with nothing to save on the way, which write their result only when they end
(``infomax probe``, fine-tuning included), stop at once instead (``stop_at_once``): one
line, the same exit status, and nothing written.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import lightning as L
import torch

from infomax.data.module import STOP_SIGNALS
from infomax.dist import all_reduce_, rank, world_size
from infomax.errors import StoppedBySignal, TrainingInterrupted


@contextlib.contextmanager
def stop_at_once(what: str, kept: str) -> Iterator[None]:
    """While inside, a stop signal (SIGTERM, SIGINT, SIGUSR1) raises ``StoppedBySignal``
    at once in the main thread, wherever it is: for work that has nothing to save on the
    way and writes its result only at its end, atomically (a probe, fine-tuning included),
    so that a stopped command ends in one line (``what`` stopped by SIGTERM; ``kept``) and
    128 + the signal's number. The previous handlers are restored on the way out; outside
    the main thread nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: Any) -> None:
        raise StoppedBySignal(signum, what, kept)

    previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def slurm_job_id() -> str | None:
    """The id ``scontrol requeue`` takes for this SLURM job (array jobs included), or None
    outside SLURM."""
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    job = (f"{array}_{os.environ.get('SLURM_ARRAY_TASK_ID', '')}" if array
           else os.environ.get("SLURM_JOB_ID"))
    return job if job and re.fullmatch(r"[0-9_]+", job) else None


class GracefulStop(L.Callback):
    """Stop training at the first step end after a stop signal, with ``last`` written
    (see the module docstring): raises ``TrainingInterrupted`` out of ``Trainer.fit``.
    A signal during an epoch's last step waits for that epoch's own checkpoint (written
    after validation) and stops before the next epoch begins; one after the last epoch's
    last step lets the run complete."""

    def __init__(self, last: Path) -> None:
        self.last = Path(last)
        self.requested: int | None = None  # the first signal received here
        self._agreed: int | None = None  # the signal every process stops for
        self._previous: dict[int, Any] = {}

    # -- handlers -----------------------------------------------------------------------
    def _handle(self, signum: int, frame: Any) -> None:
        if signum == signal.SIGINT and self.requested is not None:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        if self.requested is None:
            self.requested = signum

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in STOP_SIGNALS:
            previous = signal.signal(sig, self._handle)
            self._previous.setdefault(sig, previous)

    def uninstall(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, handler in self._previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        # Lightning registers its handlers just before training starts: take them back.
        self.install()

    # -- stopping -----------------------------------------------------------------------
    def _agree(self) -> int | None:
        """The signal to stop for, the same on every process (the largest number any
        process received), or None."""
        if world_size() == 1:
            return self.requested
        flag = all_reduce_(torch.tensor([self.requested or 0]), "max")
        return int(flag.item()) or None

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self._agreed is not None:
            return
        if (batch_idx + 1) % max(1, trainer.accumulate_grad_batches) != 0 and (
                batch_idx + 1 < trainer.num_training_batches):
            # Inside an update that accumulates gradients over several batches: a
            # checkpoint here would hold none of them; stop once the update is applied.
            return
        signum = self._agree()
        if signum is None:
            return
        self._agreed = signum
        if batch_idx + 1 >= trainer.num_training_batches:
            return  # the epoch's end follows, with its own checkpoint
        trainer.save_checkpoint(self.last, weights_only=False)
        self._stop(trainer, signum)

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if self._agreed is not None:
            self._stop(trainer, self._agreed)

    def _stop(self, trainer: Any, signum: int) -> None:
        if signum == getattr(signal, "SIGUSR1", None) and rank() == 0:
            self.requeue()
        raise TrainingInterrupted(signum, trainer.global_step)

    @staticmethod
    def requeue() -> None:
        job = slurm_job_id()
        if job is None:
            return
        try:
            done = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True)
        except OSError as e:
            print(f"infomax: warning: could not requeue SLURM job {job} ({e})", file=sys.stderr)
            return
        if done.returncode != 0:
            print(f"infomax: warning: 'scontrol requeue {job}' failed: "
                  f"{(done.stderr or done.stdout).strip()}", file=sys.stderr)
