"""Step logic that every method shares, as Lightning callbacks, each usable and tested
alone: ``NonFiniteGuard`` (refuse a step whose loss or gradients are not finite, putting
the buffers back), ``RNGStates`` (the global RNG states travel with checkpoints, for exact
resume) and ``ProbeReplayState`` (the online probes' replayed features in checkpoints).

A method builds one of each and hands them to the Trainer from ``configure_callbacks``.
They talk to the module through a small surface: ``current_step`` (a ``StepRecord``),
``on_step_refused()``, ``nonfinite_buffers`` and ``probes``.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from infomax.dist import all_reduce_, gather_objects, rank, world_size
from infomax.errors import NonFiniteCheckpointError, NonFiniteError
from infomax.numerics import first_nonfinite


@dataclass
class StepRecord:
    """What one training step left for the hooks after it: its batch, its total loss and
    logged terms (detached), and whether ``NonFiniteGuard`` refused it."""

    batch: Any
    loss: Tensor
    terms: dict[str, Tensor] = field(default_factory=dict)
    refused: bool = False


class BufferBackup:
    """A copy of a module's buffers (BatchNorm statistics, queues, memory banks, estimated
    constants), taken before a training step and put back if the step is refused: a
    forward pass changes them before its loss can be checked. The copies are allocated
    once and refreshed in place."""

    def __init__(self) -> None:
        self._names: list[str] = []
        self._copies: list[Tensor] = []

    def save(self, module: nn.Module) -> None:
        named = list(module.named_buffers())
        names, bufs = [n for n, _ in named], [b.detach() for _, b in named]
        if names == self._names and all(
                c.shape == b.shape and c.dtype == b.dtype and c.device == b.device
                for c, b in zip(self._copies, bufs)):
            if bufs:
                torch._foreach_copy_(self._copies, bufs)  # one fused copy per device
        else:  # first step, or a buffer was resized (a memory bank sized in setup)
            self._names, self._copies = names, [b.clone() for b in bufs]

    def restore(self, module: nn.Module) -> None:
        bufs = dict(module.named_buffers())
        with torch.no_grad():
            for name, copy in zip(self._names, self._copies):
                bufs[name].copy_(copy)


class NonFiniteGuard(L.Callback):
    """Refuse a step whose loss or gradients hold a NaN or an infinity. Lightning calls
    ``on_before_optimizer_step`` after backward (and DDP's gradient averaging) and before
    ``optimizer.step`` applies the gradients. The first ``limit`` such steps are skipped:
    gradients dropped (the optimizer then changes no parameter and no moment), buffers put
    back (saved at the batch's start), the module told (``on_step_refused``), one warning
    line; the next one raises NonFiniteError, which stops the run. The step still counts
    (global_step and the learning-rate schedule advance, as for a batch Lightning skips).
    Under 16-mixed, non-finite gradients with a finite loss are the GradScaler's to skip
    (it lowers its scale), as usual.

    Checkpoints: the count of skipped steps travels in them (``skipped_nonfinite``), and a
    checkpoint holding a NaN or an infinity (in a parameter, a buffer not named in the
    module's ``nonfinite_buffers``, or the optimizer's state) is refused with
    NonFiniteCheckpointError: the run's previous checkpoint stays the newest."""

    def __init__(self, limit: int = 0) -> None:
        self.limit = limit
        self.skipped = 0  # over the whole run
        self._backup = BufferBackup()

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any,
                             batch_idx: int) -> None:
        # With gradient accumulation an update spans several batches: the buffers are
        # saved at the first one (batch_idx restarts at 0 each epoch, as the windows do).
        first = batch_idx % max(1, getattr(trainer, "accumulate_grad_batches", 1)) == 0
        if self.limit > 0 and first:
            # A skipped step must leave the buffers as they were; without skips a fault
            # ends the run and the in-memory state is never saved.
            self._backup.save(pl_module)

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        record: StepRecord | None = pl_module.current_step
        if record is None:
            return
        params = [p for g in optimizer.param_groups for p in g["params"]]
        check_grads = getattr(trainer.precision_plugin, "scaler", None) is None
        fault = self.fault(pl_module, record.loss, check_grads)
        if fault is None:
            return
        step = pl_module.global_step
        terms = ", ".join(f"{k}={float(v):.4g}" for k, v in record.terms.items())
        if fault == "loss" and torch.isfinite(record.loss):
            terms = f"in another process; here {terms}"
        if self.skipped >= self.limit:
            raise NonFiniteError(f"non-finite {fault} at step {step} ({terms}); the run "
                                 f"stopped before applying it (train.skip_nonfinite="
                                 f"{self.limit}, {self.skipped} skipped before)")
        for p in params:
            p.grad = None
        self._backup.restore(pl_module)
        pl_module.on_step_refused()
        self.skipped += 1
        record.refused = True
        if rank() == 0:
            _say(f"infomax: warning: non-finite {fault} at step {step} ({terms}); step "
                 f"skipped ({self.skipped} of train.skip_nonfinite={self.limit})")

    @staticmethod
    def fault(module: nn.Module, loss: Tensor, check_grads: bool = True) -> str | None:
        """What is not finite in this step ("loss", "gradient of NAME"), agreed by every
        process: gradients are identical after DDP's averaging, losses are not."""
        loss_bad = ~torch.isfinite(loss)
        grads = {n: p.grad for n, p in module.named_parameters() if p.grad is not None}
        if check_grads and grads:
            norm = torch.nn.utils.get_total_norm(list(grads.values()), float("inf"))
            grad_bad = ~torch.isfinite(norm.to(loss_bad.device))
        else:
            grad_bad = torch.zeros_like(loss_bad)
        flags = all_reduce_(torch.stack([loss_bad, grad_bad]).to(torch.int32), "max")
        loss_bad, grad_bad = (bool(f) for f in flags.tolist())
        if loss_bad:
            return "loss"
        if grad_bad:
            return f"gradient of {first_nonfinite(grads)}"
        return None

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self.limit > 0:  # the running count (without skips: always 0)
            pl_module.log("train/skipped_nonfinite", float(self.skipped), batch_size=1)

    def on_save_checkpoint(self, trainer: Any, pl_module: Any,
                           checkpoint: dict[str, Any]) -> None:
        checkpoint["skipped_nonfinite"] = self.skipped
        self.refuse_nonfinite(checkpoint, pl_module.global_step,
                              getattr(pl_module, "nonfinite_buffers", ()))

    def on_load_checkpoint(self, trainer: Any, pl_module: Any,
                           checkpoint: dict[str, Any]) -> None:
        self.skipped = int(checkpoint.get("skipped_nonfinite", 0))

    @staticmethod
    def refuse_nonfinite(checkpoint: dict[str, Any], step: int,
                         allowed: tuple[str, ...] = ()) -> None:
        """NonFiniteCheckpointError instead of a checkpoint holding a NaN or an infinity.
        Every process runs this on identical state, so all stop together."""
        named = {f"state_dict.{k}": v for k, v in checkpoint.get("state_dict", {}).items()
                 if k not in allowed}
        for i, opt in enumerate(checkpoint.get("optimizer_states", [])):
            for pid, state in opt.get("state", {}).items():
                named.update({f"optimizer_states[{i}].{pid}.{k}": v for k, v in state.items()})
        bad = first_nonfinite(named)
        if bad is not None:
            raise NonFiniteCheckpointError(f"refusing to save a checkpoint at step {step}: "
                                           f"{bad} holds a NaN or an infinity")


class RNGStates(L.Callback):
    """The global RNG states (torch, numpy, Python, CUDA) in every checkpoint, and put back
    on resume, before anything of the resumed run draws from them. (The data order and the
    views do not draw from them: see infomax.data.module; the methods do: negatives,
    device-side augmentations, MoCo's shuffle.) Under data parallelism every process's
    states are kept and each gets its own back when resumed on as many processes."""

    def __init__(self) -> None:
        self.pending: dict[str, Any] | None = None

    @staticmethod
    def capture() -> dict[str, Any]:
        # Tensors, tuples and ints only, so the checkpoint loads with weights_only=True.
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        return {
            "torch": torch.get_rng_state(),
            "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
            "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    @staticmethod
    def apply(states: dict[str, Any]) -> None:
        torch.set_rng_state(states["torch"])
        kind, keys, pos, has_gauss, gauss = states["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
        random.setstate(states["python"])
        if states["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(states["cuda"])

    def on_save_checkpoint(self, trainer: Any, pl_module: Any,
                           checkpoint: dict[str, Any]) -> None:
        states = self.capture()
        checkpoint["rng_states"] = states
        # Every process's states (this hook runs on all of them; the main one writes).
        if world_size() > 1:
            checkpoint["rng_states_per_rank"] = gather_objects(states)

    def load(self, checkpoint: dict[str, Any], now: bool) -> None:
        """Take a checkpoint's states: put back ``now``, or when training starts."""
        per_rank = checkpoint.get("rng_states_per_rank")
        if per_rank and len(per_rank) == world_size():
            self.pending = per_rank[rank()]
        else:  # one process, or resumed on another number of processes
            self.pending = checkpoint.get("rng_states")
        if now:
            self.restore()

    def on_load_checkpoint(self, trainer: Any, pl_module: Any,
                           checkpoint: dict[str, Any]) -> None:
        self.load(checkpoint, now=trainer.state.fn == "fit")

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        # States taken outside Trainer.fit (``load``, then fit) are put back here; after a
        # resume by Trainer.fit(ckpt_path=...) nothing is pending any more.
        self.restore()

    def restore(self) -> None:
        if self.pending:
            self.apply(self.pending)
        self.pending = None


class ProbeReplayState(L.Callback):
    """The online probes' kept feature batches and their generator's state in checkpoints
    (``probe_replay``), when the probes replay recent features: an exact resume replays
    the same ones."""

    def on_save_checkpoint(self, trainer: Any, pl_module: Any,
                           checkpoint: dict[str, Any]) -> None:
        probes = pl_module.probes
        if probes is not None and probes.replay:
            checkpoint["probe_replay"] = probes.replay_state()

    def on_load_checkpoint(self, trainer: Any, pl_module: Any,
                           checkpoint: dict[str, Any]) -> None:
        probes = pl_module.probes
        if probes is not None and "probe_replay" in checkpoint:
            probes.load_replay_state(checkpoint["probe_replay"])


def _say(line: str) -> None:
    """One line on stderr that leaves a progress bar intact."""
    tqdm.write(line, file=sys.stderr)
