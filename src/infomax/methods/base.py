"""Shared base of every method: the encoder, the online probes, the optimizer and schedule,
logging, and the RNG state carried in checkpoints."""

from __future__ import annotations

import copy
import random
import sys
from typing import Any, ClassVar

import lightning as L
import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from infomax.config import Config, config_from_dict
from infomax.dist import gather_objects, rank, world_size
from infomax.numerics import first_nonfinite
from infomax.errors import NonFiniteCheckpointError, NonFiniteError
from infomax.losses import clipped_cross_entropy
from infomax.nn.amdim import AMDIMEncoder
from infomax.nn.encoders import build_encoder
from infomax.nn.global_bn import convert_global_batchnorm
from infomax.nn.probes import linear_head, mlp_head


class WarmupMultiStep:
    """lr factor at update ``step``: linear warmup over ``warmup`` updates, times ``gamma``
    for every milestone epoch reached (epoch = step // steps_per_epoch), times a linear
    cooldown to 0 over the last ``cooldown`` fraction of ``total_steps`` updates. A
    callable object, so that LambdaLR stores its state in checkpoints."""

    def __init__(self, warmup: int, milestones: list[int], gamma: float,
                 steps_per_epoch: int, total_steps: int = 0, cooldown: float = 0.0) -> None:
        self.warmup, self.milestones, self.gamma = warmup, list(milestones), gamma
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.total_steps, self.cooldown = total_steps, cooldown

    def __call__(self, step: int) -> float:
        warm = min(1.0, (step + 1) / self.warmup) if self.warmup > 0 else 1.0
        epoch = step // self.steps_per_epoch
        factor = warm * self.gamma ** sum(epoch >= m for m in self.milestones)
        if self.cooldown > 0 and self.total_steps > 0:
            # Step s is the (s+1)-th update: the last one runs at 1/n of the rate, n being
            # the cooldown's length in updates, so that no update is wasted at rate 0.
            n = max(1.0, self.cooldown * self.total_steps)
            factor *= min(1.0, max(0.0, (self.total_steps - step) / n))
        return factor


class OnlineProbes(nn.Module):
    """Linear and MLP classifiers trained on detached global features (spec Sec. 4).

    ``replay`` R > 0: each update also learns from R batches of features drawn from the
    last ``window`` steps, kept in ``recent``: more learning on nearly current features at
    no encoder cost. The draws come from a generator of the probes' own (seeded with
    ``seed``); the global one, which the methods draw from, is left alone. ``ema`` > 0: the
    probes are scored (``scored``) by a moving average of their weights, updated by
    ``update_average`` after every applied update; the batch statistics of the MLP's
    BatchNorm are copied."""

    def __init__(self, n_in: int, n_classes: int, ema: float = 0.0, replay: int = 0,
                 window: int = 16, seed: int = 0) -> None:
        super().__init__()
        self.linear = linear_head(n_in, n_classes)
        self.mlp = mlp_head(n_in, n_classes)
        self.ema, self.replay, self.window = ema, replay, window
        self.averaged: nn.ModuleDict | None = None
        if ema > 0:
            self.averaged = nn.ModuleDict({"linear": copy.deepcopy(self.linear),
                                           "mlp": copy.deepcopy(self.mlp)})
            self.averaged.requires_grad_(False)
        self.recent: list[tuple[Tensor, Tensor]] = []
        self.generator = torch.Generator().manual_seed(seed)

    def _prepare(self, feats: Tensor) -> Tensor:
        # Detached, and in the probes' own dtype (features may arrive in bf16 or fp16).
        return feats.detach().to(self.linear.weight.dtype)

    def forward(self, feats: Tensor) -> dict[str, Tensor]:
        feats = self._prepare(feats)
        return {"linear": self.linear(feats), "mlp": self.mlp(feats)}

    def scored(self, feats: Tensor) -> dict[str, Tensor]:
        """Logits of the classifiers the probes are scored by (the averaged ones with
        ``ema``)."""
        if self.averaged is None:
            return self(feats)
        feats = self._prepare(feats)
        return {name: head(feats) for name, head in self.averaged.items()}

    def with_replay(self, feats: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """(features, labels) of this update: the current batch first, then ``replay``
        batches drawn from the last ``window`` steps; the current batch is kept for the
        next steps."""
        if self.replay == 0:
            return feats, labels
        feats = self._prepare(feats)
        drawn = [self.recent[i] for i in torch.randint(
            len(self.recent), (self.replay,), generator=self.generator).tolist()
                 ] if self.recent else []
        self.recent = (self.recent + [(feats, labels)])[-self.window:]
        # (.to: batches restored from a checkpoint arrive on the CPU)
        return (torch.cat([feats, *(f.to(feats.device) for f, _ in drawn)]),
                torch.cat([labels, *(y.to(labels.device) for _, y in drawn)]))

    def replay_state(self) -> dict[str, Any]:
        """What an exact resume needs: the kept batches and the generator's state."""
        return {"recent": list(self.recent), "generator": self.generator.get_state()}

    def load_replay_state(self, state: dict[str, Any]) -> None:
        self.recent = list(state["recent"])
        self.generator.set_state(state["generator"])

    def forget_last(self) -> None:
        """Drop the batch ``with_replay`` kept last (its step was refused)."""
        self.recent = self.recent[:-1]

    @torch.no_grad()
    def update_average(self) -> None:
        if self.averaged is None:
            return
        for name, head in (("linear", self.linear), ("mlp", self.mlp)):
            avg = self.averaged[name]
            torch._foreach_lerp_(list(avg.parameters()), list(head.parameters()), 1 - self.ema)
            for b_avg, b in zip(avg.buffers(), head.buffers()):
                b_avg.copy_(b)


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


class SSLMethod(L.LightningModule):
    """Base LightningModule. A subclass builds ``self.encoder`` (a module with ``.embed``;
    ``make_backbone`` builds the one ``model.encoder`` names), calls
    ``self.build_probes(feature_dim)``, and defines ``ssl_step(batch) -> (loss, logs, global
    features, labels)``: the self-supervised loss, named terms to log, the features the
    online probes train on, and their labels (-1 where unlabelled).

    Batches are ``((x1, x2), labels)``: two augmented views of each image, normalized; with
    ``needs_index`` True, ``((x1, x2), labels, index)`` with each image's position in the
    pretraining set. State updated outside the gradient step (momentum encoders, queues,
    memory banks) may be updated in ``after_step(batch)``, called right after each optimizer
    step, or at the end of ``ssl_step`` under ``torch.no_grad()``; ``self.train_set_size``
    is the number of pretraining images.

    A step whose loss or gradients are not finite is never applied: see
    ``on_before_optimizer_step``. ``nonfinite_buffers`` names buffers that may hold NaN in
    a checkpoint on purpose (e.g. a constant not estimated yet)."""

    needs_index: ClassVar[bool] = False
    nonfinite_buffers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Config | dict[str, Any], num_classes: int, in_channels: int,
                 image_size: int) -> None:
        super().__init__()
        cfg = config if isinstance(config, Config) else config_from_dict(config)
        self.cfg = cfg
        self.num_classes, self.in_channels, self.image_size = num_classes, in_channels, image_size
        self.save_hyperparameters({"config": cfg.to_dict(), "num_classes": num_classes,
                                   "in_channels": in_channels, "image_size": image_size})
        self.probes: OnlineProbes | None = None
        self.steps_per_epoch = 1
        # Steps refused for a non-finite loss or gradient, over the whole run (checkpointed).
        self.skipped_nonfinite = 0
        self._backup = BufferBackup()
        self._step_loss: Tensor | None = None
        self._step_logs: dict[str, Tensor] = {}
        self._skipped = False
        self._step_batch: Any = None

    def make_backbone(self, in_channels: int | None = None, local_heads: bool = False
                      ) -> nn.Module:
        """The encoder ``model.encoder`` names, for this data set's images (``in_channels``
        overrides the data set's channel count, e.g. for one colour channel of CMC).

        The AMDIM encoder's local embedding heads (embed5, embed7) serve AMDIM's own cost
        only: unless ``local_heads``, they are frozen, which keeps them out of the
        optimizer and keeps DDP from waiting for gradients that never come."""
        m = self.cfg.model
        enc = build_encoder(m.encoder, in_channels or self.in_channels, self.image_size,
                            ndf=m.ndf, n_rkhs=m.n_rkhs, n_depth=m.n_depth, use_bn=m.use_bn)
        if isinstance(enc, AMDIMEncoder) and not local_heads:
            enc.embed5.requires_grad_(False)
            enc.embed7.requires_grad_(False)
        if self.cfg.train.channels_last:
            enc.to(memory_format=torch.channels_last)
        return enc

    @property
    def train_set_size(self) -> int:
        """Images in the pretraining set (from the Trainer's DataModule; 0 without one)."""
        trainer = self._trainer
        dm = getattr(trainer, "datamodule", None) if trainer is not None else None
        if dm is not None:
            dm.setup()
            return len(dm._train)
        return int(getattr(self, "_train_set_size", 0))

    def build_probes(self, feature_dim: int) -> None:
        p = self.cfg.probe
        self.probes = OnlineProbes(feature_dim, self.num_classes, ema=p.online_ema,
                                   replay=p.online_replay, window=p.online_window,
                                   seed=self.cfg.train.seed)

    def setup(self, stage: str) -> None:
        # Under data parallelism every process starts from the same seed; give each its own
        # stream so that what the methods draw (negatives, device-side augmentations)
        # differs between processes. (The views seed themselves per image and epoch.)
        if stage == "fit" and world_size() > 1:
            L.seed_everything(self.cfg.train.seed + rank(), workers=True, verbose=False)
            if self.cfg.train.sync_batchnorm:
                # Before DDP wraps the model and the optimizer is built; the parameters stay
                # the same tensors.
                convert_global_batchnorm(self)

    def configure_model(self) -> None:
        # Called by the Trainer before fitting: compile the encoder in place (its parameter
        # names, and so checkpoints, stay those of the eager module).
        if self.cfg.train.compile and not getattr(self, "_compiled", False):
            self.encoder.compile()
            self._compiled = True

    # -- training ---------------------------------------------------------------------
    def _memory_format(self, x: Tensor) -> Tensor:
        if self.cfg.train.channels_last and x.dim() == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def compute_losses(self, batch: Any) -> tuple[Tensor, Tensor, dict[str, Tensor],
                                                  dict[str, Tensor], Tensor]:
        """(self-supervised loss, probe loss, named loss terms, probe logits, labels) of one
        batch; an update minimises the sum of the two losses. Needs no Trainer.

        With ``probe.online_view=test``, a batch whose views come with test-time views
        (``((x1, x2, xt), ...)``) gives the method its two views and the probes the
        features of the test-time views. The logits and labels returned are those of this
        batch (not of replayed ones)."""
        views, *rest = batch
        test_views = None
        if self.cfg.probe.online_view == "test" and len(views) == 3:
            *views, test_views = views
            batch = (tuple(views), *rest)
        loss, logs, feats, labels = self.ssl_step(batch)
        if test_views is not None:
            feats, labels = self.test_view_features(test_views), rest[0]
        n = labels.shape[0]
        feats, replayed = self.probes.with_replay(feats, labels)
        logits = self.probes(feats)
        probe_loss = sum(clipped_cross_entropy(z, replayed) for z in logits.values())
        return loss, probe_loss, logs, {k: z[:n] for k, z in logits.items()}, labels

    @torch.no_grad()
    def test_view_features(self, x: Tensor) -> Tensor:
        """Global features of test-time views by the current encoder, in eval mode (as the
        probes are scored) and without gradients."""
        was_training = self.encoder.training
        self.encoder.eval()
        try:
            return self.encoder.embed(self._memory_format(x))
        finally:
            self.encoder.train(was_training)

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        self._step_batch = batch
        if self.cfg.train.skip_nonfinite > 0:
            # A skipped step must leave the buffers as they were; without skips a fault
            # ends the run and the in-memory state is never saved.
            self._backup.save(self)
        loss, probe_loss, logs, logits, labels = self.compute_losses(batch)
        bs = labels.shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=bs)
        for k, v in logs.items():
            self.log(f"train/{k}", v, batch_size=bs)
        self.log("train/probe_loss", probe_loss, batch_size=bs)
        labelled = labels >= 0
        if labelled.any():
            for name, z in logits.items():
                acc = (z[labelled].argmax(1) == labels[labelled]).float().mean()
                self.log(f"train/{name}_acc", acc, batch_size=int(labelled.sum()))
        self.log("lr", self.trainer.optimizers[0].param_groups[0]["lr"], batch_size=bs)
        total = loss + probe_loss
        # Checked in on_before_optimizer_step, with the gradients, in one synchronization.
        self._step_loss = total.detach()
        self._step_logs = {"loss": loss.detach(), **{k: v.detach() for k, v in logs.items()},
                           "probe_loss": probe_loss.detach()}
        return total

    # -- numerical faults ---------------------------------------------------------------
    def on_before_optimizer_step(self, optimizer: Any) -> None:
        """Refuse a step whose loss or gradients hold a NaN or an infinity. Lightning calls
        this after backward (and DDP's gradient averaging) and before ``optimizer.step``
        applies the gradients. The first ``train.skip_nonfinite`` such steps are skipped:
        gradients dropped (the optimizer then changes no parameter and no moment), buffers
        put back, ``after_step`` not run, one warning line; the next one raises
        NonFiniteError, which stops the run. The step still counts (global_step and the
        learning-rate schedule advance, as for a batch Lightning skips). Under 16-mixed,
        non-finite gradients with a finite loss are the GradScaler's to skip (it lowers its
        scale), as usual."""
        self._skipped = False
        params = [p for g in optimizer.param_groups for p in g["params"]]
        fault = self._nonfinite(params)
        if fault is None:
            return
        step, limit = self.global_step, self.cfg.train.skip_nonfinite
        terms = ", ".join(f"{k}={float(v):.4g}" for k, v in self._step_logs.items())
        if fault == "loss" and torch.isfinite(self._step_loss):
            terms = f"in another process; here {terms}"
        if self.skipped_nonfinite >= limit:
            raise NonFiniteError(f"non-finite {fault} at step {step} ({terms}); the run "
                                 f"stopped before applying it (train.skip_nonfinite={limit}, "
                                 f"{self.skipped_nonfinite} skipped before)")
        for p in params:
            p.grad = None
        self._backup.restore(self)
        if self.probes is not None and self.probes.replay:
            self.probes.forget_last()
        self.skipped_step()
        self.skipped_nonfinite += 1
        self._skipped = True
        if rank() == 0:
            _say(f"infomax: warning: non-finite {fault} at step {step} ({terms}); step "
                 f"skipped ({self.skipped_nonfinite} of train.skip_nonfinite={limit})")

    def _nonfinite(self, params: list[nn.Parameter]) -> str | None:
        """What is not finite in this step ("loss", "gradient of NAME"), agreed by every
        process: gradients are identical after DDP's averaging, losses are not."""
        loss_bad = ~torch.isfinite(self._step_loss)
        grads = {n: p.grad for n, p in self.named_parameters() if p.grad is not None}
        check_grads = getattr(self.trainer.precision_plugin, "scaler", None) is None
        if check_grads and grads:
            norm = torch.nn.utils.get_total_norm(list(grads.values()), float("inf"))
            grad_bad = ~torch.isfinite(norm.to(loss_bad.device))
        else:
            grad_bad = torch.zeros_like(loss_bad)
        flags = torch.stack([loss_bad, grad_bad]).to(torch.int32)
        if world_size() > 1:
            torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
        loss_bad, grad_bad = (bool(f) for f in flags.tolist())
        if loss_bad:
            return "loss"
        if grad_bad:
            return f"gradient of {first_nonfinite(grads)}"
        return None

    def skipped_step(self) -> None:
        """Called when a step was skipped, after its buffers were put back: a method that
        caches something about a buffer outside it resets that cache here."""

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Any,
                       optimizer_closure: Any = None) -> None:
        # The closure runs training_step (which keeps its batch in _step_batch), backward
        # and on_before_optimizer_step (which may refuse the step: _skipped).
        super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)
        # Here rather than in on_train_batch_end: Lightning calls the callbacks'
        # on_train_batch_end first, so a checkpoint written there every N steps would hold
        # the momentum networks of the step before. A refused step updates nothing.
        if self._skipped:
            self._skipped = False
        else:
            if self.probes is not None:
                self.probes.update_average()
            self.after_step(self._step_batch)
        self._step_batch = None

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.cfg.train.skip_nonfinite > 0:  # the running count (without skips: always 0)
            self.log("train/skipped_nonfinite", float(self.skipped_nonfinite), batch_size=1)

    def after_step(self, batch: Any) -> None:
        """Updates outside the gradient step (EMA encoders, queues, banks); none here."""

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        feats = self.encoder.embed(self._memory_format(x))
        for name, z in self.probes.scored(feats).items():
            acc = (z.argmax(1) == y).float().mean()
            # Averaged over processes under DDP (each evaluates its share of the split).
            self.log(f"val/{name}_acc", acc, prog_bar=name == "linear", batch_size=y.shape[0],
                     sync_dist=True)

    # -- optimisation -----------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        o = self.cfg.optim
        # Momentum (EMA) encoders hold parameters without gradients: not the optimizer's.
        params = [p for p in self.parameters() if p.requires_grad]
        own_group = (o.probe_lr is not None or not o.probe_cooldown) and self.probes is not None
        if own_group:
            # The probes in a group of their own (the encoder's group first: it is the
            # logged lr), under the same schedule (without the cooldown unless
            # optim.probe_cooldown).
            mine = {id(p) for p in self.probes.parameters()}
            params = [{"params": [p for p in params if id(p) not in mine]},
                      {"params": [p for p in params if id(p) in mine],
                       "lr": o.lr if o.probe_lr is None else o.probe_lr}]
        opt = torch.optim.Adam(params, lr=o.lr, betas=tuple(o.betas), eps=o.eps,
                               weight_decay=o.weight_decay)
        steps = self.steps_per_epoch
        total_steps = steps * self.cfg.train.epochs
        if self._trainer is not None:
            total = self.trainer.estimated_stepping_batches
            epochs = max(1, self.trainer.max_epochs or 1)
            if total and total != float("inf"):
                steps = max(1, int(total) // epochs)
                total_steps = int(total)
        self.steps_per_epoch = steps
        encoder = WarmupMultiStep(o.warmup_steps, o.milestones, o.gamma, steps,
                                  total_steps=total_steps, cooldown=o.cooldown)
        probes = encoder if o.probe_cooldown else WarmupMultiStep(
            o.warmup_steps, o.milestones, o.gamma, steps, total_steps=total_steps)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, [encoder, probes] if own_group else encoder)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # -- exact resume: global RNG states travel with the checkpoint -------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Tensors, tuples and ints only, so the checkpoint loads with weights_only=True.
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        states = {
            "torch": torch.get_rng_state(),
            "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
            "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }
        checkpoint["rng_states"] = states
        # Every process's states (this hook runs on all of them; the main one writes).
        if world_size() > 1:
            checkpoint["rng_states_per_rank"] = gather_objects(states)
        checkpoint["skipped_nonfinite"] = self.skipped_nonfinite
        if self.probes is not None and self.probes.replay:  # an exact resume replays them
            checkpoint["probe_replay"] = self.probes.replay_state()
        self._refuse_nonfinite(checkpoint)

    def _refuse_nonfinite(self, checkpoint: dict[str, Any]) -> None:
        """NonFiniteError instead of a checkpoint holding a NaN or an infinity (in a
        parameter, a buffer or the optimizer's state): whatever let it in, the run's
        previous checkpoint stays the newest. Every process runs this on identical state,
        so all stop together."""
        named = {f"state_dict.{k}": v for k, v in checkpoint.get("state_dict", {}).items()
                 if k not in self.nonfinite_buffers}
        for i, opt in enumerate(checkpoint.get("optimizer_states", [])):
            for pid, state in opt.get("state", {}).items():
                named.update({f"optimizer_states[{i}].{pid}.{k}": v for k, v in state.items()})
        bad = first_nonfinite(named)
        if bad is not None:
            raise NonFiniteCheckpointError(f"refusing to save a checkpoint at step "
                                           f"{self.global_step}: {bad} holds a NaN or an "
                                           f"infinity")

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.skipped_nonfinite = int(checkpoint.get("skipped_nonfinite", 0))
        if self.probes is not None and "probe_replay" in checkpoint:
            self.probes.load_replay_state(checkpoint["probe_replay"])
        per_rank = checkpoint.get("rng_states_per_rank")
        if per_rank and len(per_rank) == world_size():
            self._pending_rng = per_rank[rank()]
        else:  # one process, or resumed on another number of processes
            self._pending_rng = checkpoint.get("rng_states")
        trainer = self._trainer
        if trainer is not None and trainer.state.fn == "fit":
            # Resuming: restore now, before anything of the resumed run draws from it. (The
            # data order and the views do not: see infomax.data.module; the methods do:
            # negatives, device-side augmentations, MoCo's shuffle.)
            self._restore_rng()
            # The cooldown's length follows this run's plan (a resume may raise
            # train.epochs), not the one the checkpoint was saved under.
            for state in checkpoint.get("lr_schedulers", []):
                for fn in state.get("lr_lambdas", []):
                    if isinstance(fn, dict):
                        fn.pop("total_steps", None)
                        fn.pop("cooldown", None)

    def on_train_start(self) -> None:
        # A checkpoint loaded outside Trainer.fit (load_from_checkpoint, then fit): restore
        # here. After a resume by Trainer.fit(ckpt_path=...) nothing is pending any more.
        self._restore_rng()
        # The rate of the next update under this run's plan (the same number as the
        # optimizer's restored one unless a resume changed the plan).
        for config in self.trainer.lr_scheduler_configs:
            sched = config.scheduler
            if isinstance(sched, torch.optim.lr_scheduler.LambdaLR):
                for group, base_lr, fn in zip(sched.optimizer.param_groups, sched.base_lrs,
                                              sched.lr_lambdas):
                    group["lr"] = base_lr * fn(sched.last_epoch)

    def _restore_rng(self) -> None:
        states = getattr(self, "_pending_rng", None)
        if states:
            torch.set_rng_state(states["torch"])
            kind, keys, pos, has_gauss, gauss = states["numpy"]
            np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
            random.setstate(states["python"])
            if states["cuda"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(states["cuda"])
        self._pending_rng = None


def _say(line: str) -> None:
    """One line on stderr that leaves a progress bar intact."""
    tqdm.write(line, file=sys.stderr)
