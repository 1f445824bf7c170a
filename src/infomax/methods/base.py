"""Shared base of every method (the encoder, the online probes, the optimizer and
schedule, logging) and the method registry.

A method is an ``SSLMethod`` subclass registered with ``@register_method``: its name, the
config sections it owns (dataclasses; their keys are ``<section>.<key>``), whether its
batches carry image indices. It builds ``self.encoder`` and its heads in ``__init__``,
calls ``self.build_probes(feature_dim)``, and defines ``ssl_step(batch: Batch) ->
StepOutput``. The cross-cutting step logic (non-finite steps, RNG states, probe replay)
is in infomax.methods.components, handed to the Trainer by ``configure_callbacks``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, ClassVar

import lightning as L
import torch
from torch import Tensor, nn

from infomax.dist import rank, world_size
from infomax.losses import clipped_cross_entropy
from infomax.methods.components import (NonFiniteGuard, ProbeReplayState, RNGStates,
                                        StepRecord)
from infomax.methods.contract import Batch, StepLosses, StepOutput
from infomax.methods.schedule import WarmupCosine, WarmupMultiStep
from infomax.nn.amdim import AMDIMEncoder
from infomax.nn.encoders import encoder_builder
from infomax.nn.global_bn import convert_global_batchnorm
from infomax.nn.probes import OnlineProbes
from infomax.numerics import profiler_range
from infomax.registry import Registry

if TYPE_CHECKING:
    from infomax.config import Config, Recipe
    from infomax.data.multicrop import ExtraCrops
    from infomax.data.registry import DatasetInfo

METHODS: Registry[type["SSLMethod"]] = Registry("method")
# Profiler ranges around the online probes' part of a step (``infomax bench profile``).
PROBES_RANGE, TEST_VIEW_RANGE = "infomax:probes", "infomax:test-view pass"


def register_method(name: str, *, sections: dict[str, type] | None = None,
                    needs_index: bool = False, summary: str = "",
                    recipe: Recipe | Callable[[dict[str, Any]], Recipe | None] | None = None
                    ) -> Callable[[type["SSLMethod"]], type["SSLMethod"]]:
    """Class decorator: register an SSLMethod subclass as method ``name`` (the value of
    the config's ``method`` key and of ``--method``). ``sections`` maps config section
    names to the dataclasses of the method's own settings (``{"moco": MoCoConfig}``: keys
    ``moco.*``); ``needs_index``: its batches carry each image's index in the pretraining
    set (``Batch.index``); ``summary``: a few words for the CLI's help; ``recipe``: the
    published training recipe (``infomax.config.Recipe``: optim and views settings and their
    source), or a function of the config's plain data that returns it (for methods whose
    papers give several), used by ``--method NAME`` (see ``infomax.config.make_config``)."""

    def add(cls: type[SSLMethod]) -> type[SSLMethod]:
        cls.name, cls.config_sections = name, dict(sections or {})
        cls.needs_index, cls.summary = needs_index, summary
        cls.recipe = recipe
        return METHODS.register(name, cls)

    return add


class SSLMethod(L.LightningModule):
    """Base LightningModule of every method (see the module docstring). ``ssl_step``
    returns the self-supervised loss, named terms to log, the features the online probes
    train on, and their labels (-1 where unlabelled).

    State updated outside the gradient step (momentum encoders, queues, memory banks) may
    be updated in ``after_step(batch)``, called right after each applied optimizer step,
    or at the end of ``ssl_step`` under ``torch.no_grad()``; ``self.train_set_size`` is
    the number of pretraining images.

    A step whose loss or gradients are not finite is never applied (``NonFiniteGuard``).
    ``nonfinite_buffers`` names buffers that may hold NaN in a checkpoint on purpose
    (e.g. a constant not estimated yet)."""

    # Set by @register_method.
    name: ClassVar[str] = ""
    config_sections: ClassVar[dict[str, type]] = {}
    needs_index: ClassVar[bool] = False
    summary: ClassVar[str] = ""
    recipe: ClassVar[Any] = None
    # The report's caption of the loss curves (the method's logged train/* terms).
    loss_caption: ClassVar[str] = ("The self-supervised loss and the terms the method logs, "
                                   "per logged training step.")
    nonfinite_buffers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Config | dict[str, Any], num_classes: int, in_channels: int,
                 image_size: int) -> None:
        super().__init__()
        from infomax.config import Config, config_from_dict

        cfg = config if isinstance(config, Config) else config_from_dict(config)
        self.cfg = cfg
        self.num_classes, self.in_channels, self.image_size = num_classes, in_channels, image_size
        self.save_hyperparameters({"config": cfg.to_dict(), "num_classes": num_classes,
                                   "in_channels": in_channels, "image_size": image_size})
        self.probes: OnlineProbes | None = None
        self.steps_per_epoch = 1
        self._train_set_size = 0
        self.current_step: StepRecord | None = None
        self.nonfinite_guard = NonFiniteGuard(cfg.train.skip_nonfinite)
        self.rng_states = RNGStates()
        self.probe_replay = ProbeReplayState()
        # Every backbone make_backbone built, in order (a plain list: the modules are
        # registered where the method keeps them, so the state dict is unchanged).
        self._backbones: list[nn.Module] = []

    @classmethod
    def check_config(cls, cfg: Config) -> None:
        """Refuse (ConfigError) a config this method cannot run or that sets this
        method's settings in a way another method cannot use. Called for every registered
        method when a config is built; none here."""

    @classmethod
    def extra_crops(cls, cfg: Config, info: DatasetInfo) -> tuple[ExtraCrops, ...]:
        """Crops this method's batches carry besides the two views (multi-crop), for
        ``cfg`` on images described by ``info``: groups of ``ExtraCrops``
        (infomax.data.multicrop), which arrive in ``Batch.crops`` in that order. Asked by
        whoever builds the pretraining data (``infomax.engine.train``); ConfigError for
        settings the data cannot serve. None here: the two views only."""
        return ()

    def configure_callbacks(self) -> list[L.Callback]:
        return [self.nonfinite_guard, self.rng_states, self.probe_replay]

    @property
    def skipped_nonfinite(self) -> int:
        """Steps refused for a non-finite loss or gradient, over the whole run."""
        return self.nonfinite_guard.skipped

    def make_backbone(self, in_channels: int | None = None, local_heads: bool = False
                      ) -> nn.Module:
        """The encoder ``model.encoder`` names, for this data set's images (``in_channels``
        overrides the data set's channel count, e.g. for one colour channel of CMC).

        The AMDIM encoder's local embedding heads (embed5, embed7) serve AMDIM's own cost
        only: unless ``local_heads``, they are frozen, which keeps them out of the
        optimizer and keeps DDP from waiting for gradients that never come."""
        m = self.cfg.model
        enc = encoder_builder(m.encoder)(in_channels or self.in_channels, self.image_size, m)
        if isinstance(enc, AMDIMEncoder) and not local_heads:
            enc.embed5.requires_grad_(False)
            enc.embed7.requires_grad_(False)
        if self.cfg.train.channels_last:
            enc.to(memory_format=torch.channels_last)
        self._backbones.append(enc)
        return enc

    @property
    def backbones(self) -> tuple[nn.Module, ...]:
        """The backbones ``make_backbone`` built, in the order it built them (one for most
        methods, CMC's two; momentum copies are not among them)."""
        return tuple(self._backbones)

    def backbones_loaded(self) -> None:
        """Called once new weights were loaded into ``backbones`` (``model.init_from``):
        whatever was derived from them at construction follows (momentum copies,
        ``MomentumMethod``). Nothing here."""

    @property
    def train_set_size(self) -> int:
        """Images in the pretraining set: as set by whoever builds the method for training
        (``infomax.runs.build_method``), else the Trainer's data module's
        ``num_pretrain_images``, else 0."""
        if self._train_set_size:
            return self._train_set_size
        trainer = self._trainer
        dm = getattr(trainer, "datamodule", None) if trainer is not None else None
        return int(getattr(dm, "num_pretrain_images", 0) or 0)

    @train_set_size.setter
    def train_set_size(self, n: int) -> None:
        self._train_set_size = int(n)

    def build_probes(self, feature_dim: int) -> None:
        """The online probes on ``feature_dim`` features; none without labels
        (``num_classes`` 0: an unlabeled source and no ``data.eval``)."""
        if self.num_classes == 0:
            self.probes = None
            return
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

    def ssl_step(self, batch: Batch) -> StepOutput:
        """The method's self-supervised step: every registered method defines it."""
        raise NotImplementedError(f"{type(self).__name__} defines no ssl_step; a method "
                                  f"returns StepOutput(loss, terms, features, labels)")

    def compute_losses(self, batch: Batch) -> StepLosses:
        """The losses of one batch; an update minimises their ``total``. Needs no Trainer.

        With ``probe.online_view=test`` and a batch that carries test-time views, the
        probes learn on the features of those views; otherwise on the features the method
        returns. The logits and labels are those of this batch (not of replayed ones)."""
        out = self.ssl_step(batch)
        feats, labels = out.features, out.labels
        if self.probes is None:  # no labels to learn from
            return StepLosses(out.loss, out.loss.new_zeros(()), out.terms, {}, batch.labels)
        if batch.test_view is not None and (self.cfg.probe.online_view == "test"
                                            or batch.probe_source):
            with profiler_range(TEST_VIEW_RANGE):
                feats, labels = self.test_view_features(batch.test_view), batch.labels
        with profiler_range(PROBES_RANGE):
            n = labels.shape[0]
            feats, replayed = self.probes.with_replay(feats, labels)
            logits = self.probes(feats)
            probe_loss = sum(clipped_cross_entropy(z, replayed) for z in logits.values())
        return StepLosses(out.loss, probe_loss, out.terms, {k: z[:n] for k, z in logits.items()},
                          labels)

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

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        losses = self.compute_losses(batch)
        loss, probe_loss, labels = losses.ssl, losses.probe, losses.labels
        bs = labels.shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=bs)
        for k, v in losses.terms.items():
            self.log(f"train/{k}", v, batch_size=bs)
        self.log("train/probe_loss", probe_loss, batch_size=bs)
        labelled = labels >= 0
        if labelled.any():
            for name, z in losses.logits.items():
                acc = (z[labelled].argmax(1) == labels[labelled]).float().mean()
                self.log(f"train/{name}_acc", acc, batch_size=int(labelled.sum()))
        self.log("lr", self.trainer.optimizers[0].param_groups[0]["lr"], batch_size=bs)
        total = losses.total
        # For the hooks after backward (NonFiniteGuard checks the loss with the gradients,
        # in one synchronization) and after the optimizer step (after_step).
        terms = {"loss": loss.detach(), **{k: v.detach() for k, v in losses.terms.items()},
                 "probe_loss": probe_loss.detach()}
        self.current_step = StepRecord(batch, total.detach(), terms)
        return total

    def on_step_refused(self) -> None:
        """Called by NonFiniteGuard when it refused this step, after putting the buffers
        back: the probes forget the features they kept, and the method resets whatever it
        caches about a buffer (``skipped_step``)."""
        if self.probes is not None and self.probes.replay:
            self.probes.forget_last()
        self.skipped_step()

    def skipped_step(self) -> None:
        """Called when a step was skipped, after its buffers were put back: a method that
        caches something about a buffer outside it resets that cache here."""

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Any,
                       optimizer_closure: Any = None) -> None:
        # The closure runs training_step (which records the step), backward and the
        # on_before_optimizer_step hooks (where NonFiniteGuard may refuse the step).
        super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)
        # Here rather than in on_train_batch_end: Lightning calls the callbacks'
        # on_train_batch_end first, so a checkpoint written there every N steps would hold
        # the momentum networks of the step before. A refused step updates nothing.
        record, self.current_step = self.current_step, None
        if record is not None and not record.refused:
            if self.probes is not None:
                self.probes.update_average()
            self.after_step(record.batch)

    def after_step(self, batch: Batch) -> None:
        """Updates outside the gradient step (EMA encoders, queues, banks); none here."""

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        if self.probes is None:
            return
        x, y = batch
        feats = self.encoder.embed(self._memory_format(x))
        for name, z in self.probes.scored(feats).items():
            acc = (z.argmax(1) == y).float().mean()
            # Averaged over processes under DDP (each evaluates its share of the split).
            self.log(f"val/{name}_acc", acc, prog_bar=name == "linear", batch_size=y.shape[0],
                     sync_dist=True)

    # -- optimisation -----------------------------------------------------------------
    def peak_lr(self) -> float:
        """``optim.lr``, scaled to the global batch when ``optim.lr_batch`` is set."""
        return peak_lr(self.cfg, world_size())

    def _param_groups(self) -> tuple[list[dict[str, Any]], list[str]]:
        """The optimizer's parameter groups and the role of each ("encoder", "no_decay",
        "probes"); the encoder's group first (its rate is the one logged). Without
        ``optim.exclude_bias_norm`` and with the probes at the encoder's rate and schedule,
        one group."""
        o = self.cfg.optim
        # Momentum (EMA) encoders hold parameters without gradients: not the optimizer's.
        params = [p for p in self.parameters() if p.requires_grad]
        mine = {id(p) for p in self.probes.parameters()} if self.probes is not None else set()
        own_probes = self.probes is not None and probes_own_group(o)
        encoder = [p for p in params if not (own_probes and id(p) in mine)]
        groups: list[dict[str, Any]] = []
        roles: list[str] = []
        if o.exclude_bias_norm:
            # timm's rule (optim.param_groups_weight_decay): one-dimensional parameters are
            # biases and normalization weights.
            groups += [{"params": [p for p in encoder if p.ndim > 1]},
                       {"params": [p for p in encoder if p.ndim <= 1], "weight_decay": 0.0}]
            roles += ["encoder", "no_decay"]
        else:
            groups.append({"params": encoder})
            roles.append("encoder")
        if own_probes:
            probe = {"params": [p for p in params if id(p) in mine],
                     "lr": self.peak_lr() if o.probe_lr is None else o.probe_lr}
            if o.exclude_bias_norm:
                probe["weight_decay"] = 0.0
            groups.append(probe)
            roles.append("probes")
        if o.name == "lars":
            # timm's LARS adapts a group's rate by the trust ratio when the group has weight
            # decay or always_adapt: here every encoder group but the excluded one.
            for group, role in zip(groups, roles):
                group["always_adapt"] = role == "encoder"
        if len(groups) == 1:
            return groups[0]["params"], roles
        return groups, roles

    def _optimizer(self, params: Any) -> torch.optim.Optimizer:
        o = self.cfg.optim
        lr = self.peak_lr()
        if o.name == "adam":
            return torch.optim.Adam(params, lr=lr, betas=tuple(o.betas), eps=o.eps,
                                    weight_decay=o.weight_decay)
        if o.name == "adamw":
            return torch.optim.AdamW(params, lr=lr, betas=tuple(o.betas), eps=o.eps,
                                     weight_decay=o.weight_decay)
        if o.name == "sgd":
            return torch.optim.SGD(params, lr=lr, momentum=o.momentum, nesterov=o.nesterov,
                                   weight_decay=o.weight_decay)
        from timm.optim import Lars  # imported when used: timm takes a second to load

        return Lars(params, lr=lr, momentum=o.momentum, nesterov=o.nesterov,
                    weight_decay=o.weight_decay, trust_coeff=o.lars_trust)

    def configure_optimizers(self) -> Any:
        o = self.cfg.optim
        params, roles = self._param_groups()
        opt = self._optimizer(params)
        steps = self.steps_per_epoch
        total_steps = steps * self.cfg.train.epochs
        if self._trainer is not None:
            total = self.trainer.estimated_stepping_batches
            epochs = max(1, self.trainer.max_epochs or 1)
            if total and total != float("inf"):
                steps = max(1, int(total) // epochs)
                total_steps = int(total)
        self.steps_per_epoch = steps
        encoder = make_schedule(self.cfg, steps, total_steps)
        probes = encoder if o.probe_cooldown else make_schedule(self.cfg, steps, total_steps,
                                                                cooldown=False)
        fns = [probes if role == "probes" else encoder for role in roles]
        sched = torch.optim.lr_scheduler.LambdaLR(opt, fns if len(fns) > 1 else encoder)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # -- exact resume -------------------------------------------------------------------
    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        trainer = self._trainer
        if trainer is not None and trainer.state.fn == "fit":
            self._follow_this_runs_plan(checkpoint)
        else:
            # Loaded outside Trainer.fit (load_from_checkpoint): the components' state
            # is taken here, the RNG states put back when training starts.
            self.nonfinite_guard.on_load_checkpoint(trainer, self, checkpoint)
            self.probe_replay.on_load_checkpoint(trainer, self, checkpoint)
            self.rng_states.load(checkpoint, now=False)

    def _follow_this_runs_plan(self, checkpoint: dict[str, Any]) -> None:
        """Resuming: the optimizer's settings and the schedule are this run's config's (a
        resume may change the rates, the schedule and its length: see
        infomax.engine.resume), applied to the restored state before Lightning loads it.
        With the config unchanged every value is the one saved; the optimizer's moments
        and the scheduler's step count are kept."""
        o = self.cfg.optim
        _, roles = self._param_groups()
        lr = self.peak_lr()
        lrs = [lr if role != "probes" or o.probe_lr is None else o.probe_lr for role in roles]
        for state in checkpoint.get("lr_schedulers", []):
            # The schedule's settings come from this run's config (the lambdas were built
            # from it); only the step count is the checkpoint's.
            for fn in state.get("lr_lambdas", []):
                if isinstance(fn, dict):
                    fn.clear()
            if "base_lrs" in state:
                state["base_lrs"] = lrs[:len(state["base_lrs"])]
        for opt in checkpoint.get("optimizer_states", []):
            for group, lr, role in zip(opt.get("param_groups", []), lrs, roles):
                settings = {"initial_lr": lr, "weight_decay": o.weight_decay}
                if o.name in ("adam", "adamw"):
                    settings.update(betas=tuple(o.betas), eps=o.eps)
                else:
                    settings.update(momentum=o.momentum, nesterov=o.nesterov)
                if o.name == "lars":
                    settings["trust_coeff"] = o.lars_trust
                if role == "no_decay" or (role == "probes" and o.exclude_bias_norm):
                    settings["weight_decay"] = 0.0
                group.update(settings)

    def on_train_start(self) -> None:
        # The rate of the next update under this run's plan (the same number as the
        # optimizer's restored one unless a resume changed the plan).
        for config in self.trainer.lr_scheduler_configs:
            sched = config.scheduler
            if isinstance(sched, torch.optim.lr_scheduler.LambdaLR):
                for group, base_lr, fn in zip(sched.optimizer.param_groups, sched.base_lrs,
                                              sched.lr_lambdas):
                    group["lr"] = base_lr * fn(sched.last_epoch)


def probes_own_group(o: Any) -> bool:
    """Whether the online probes get a parameter group of their own: with a rate or a
    cooldown of their own, or without weight decay (``optim.exclude_bias_norm``)."""
    return o.probe_lr is not None or not o.probe_cooldown or o.exclude_bias_norm


def global_batch(cfg: Config, processes: int) -> int:
    """Images per optimizer update: data.batch_size x processes x optim.accumulate."""
    return cfg.data.batch_size * processes * cfg.optim.accumulate


def peak_lr(cfg: Config, processes: int) -> float:
    """The run's peak rate: ``optim.lr``, times global batch / ``optim.lr_batch`` (or its
    square root) when that is set."""
    o = cfg.optim
    if o.lr_batch is None:
        return o.lr
    ratio = global_batch(cfg, processes) / o.lr_batch
    return o.lr * (ratio if o.lr_scaling == "linear" else ratio ** 0.5)


def schedule_scale(cfg: Config) -> float:
    """What the schedule's epoch numbers are multiplied by: train.epochs /
    optim.schedule_epochs (1 without it)."""
    o = cfg.optim
    return cfg.train.epochs / o.schedule_epochs if o.schedule_epochs else 1.0


def warmup_updates(cfg: Config, steps_per_epoch: int) -> int:
    o = cfg.optim
    if o.warmup_epochs is None:
        return o.warmup_steps
    return int(round(o.warmup_epochs * schedule_scale(cfg) * steps_per_epoch))


def make_schedule(cfg: Config, steps_per_epoch: int, total_steps: int,
                  cooldown: bool = True) -> WarmupMultiStep | WarmupCosine:
    """The lr factor per update that ``cfg.optim`` describes (``cooldown=False``: without
    the cooldown, for probes that keep their rate to the end)."""
    o = cfg.optim
    warmup = warmup_updates(cfg, steps_per_epoch)
    down = o.cooldown if cooldown else 0.0
    if o.schedule == "cosine":
        return WarmupCosine(warmup, total_steps, o.final_lr_ratio, cooldown=down,
                            warmup_from=o.warmup_from)
    scale = schedule_scale(cfg)
    milestones = o.milestones if scale == 1 else [m * scale for m in o.milestones]
    return WarmupMultiStep(warmup, milestones, o.gamma, steps_per_epoch,
                           total_steps=total_steps, cooldown=down, warmup_from=o.warmup_from)


def describe_optim(cfg: Config, processes: int) -> str:
    """One line: the optimizer, its rate (scaled to the global batch) and schedule, and the
    recipe the settings came from, for the first lines of a run."""
    from infomax.config import recipe_for

    o = cfg.optim
    rate = f"lr {o.lr:g}"
    if o.lr_batch is not None:
        b = global_batch(cfg, processes)
        factor = f"{b}/{o.lr_batch}" if o.lr_scaling == "linear" else f"sqrt({b}/{o.lr_batch})"
        rate = f"lr {o.lr:g} x {factor} = {peak_lr(cfg, processes):.4g}"
    decay = f"weight decay {o.weight_decay:g}" + (
        " (not on biases and norms)" if o.exclude_bias_norm else "")
    if o.warmup_epochs is not None:
        scale = schedule_scale(cfg)
        warm = f"warmup {o.warmup_epochs:g} epochs" + (
            f" of {o.schedule_epochs} (so {o.warmup_epochs * scale:g} of train.epochs="
            f"{cfg.train.epochs})" if scale != 1 else "")
    else:
        warm = f"warmup {o.warmup_steps} updates"
    if o.schedule == "cosine":
        sched = f"cosine to {o.final_lr_ratio:g} of the peak"
    else:
        ms = o.milestones if schedule_scale(cfg) == 1 else [
            round(m * schedule_scale(cfg), 3) for m in o.milestones]
        sched = f"x{o.gamma:g} at epochs {ms}" if ms else "constant"
    extra = []
    if o.accumulate > 1:
        extra.append(f"{o.accumulate} batches per update ({global_batch(cfg, processes)} "
                     f"images)")
    if o.clip_grad_norm:
        extra.append(f"gradient norm clipped to {o.clip_grad_norm:g}")
    line = f"optimizer {o.name}, {rate}, {decay}, {warm}, {sched}"
    line += "".join(f", {e}" for e in extra)
    recipe = recipe_for(cfg.recipe, cfg.to_dict()) if cfg.recipe else None
    if recipe is not None:
        line += f"; {cfg.recipe}'s recipe: {recipe.source}"
    return line
