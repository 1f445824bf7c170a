"""Could a better online head close the online-offline gap? Side heads in a real run.

    python benchmarks/probe_side_heads.py OUT [key=value ...] [--schedule step|cosine]
        [--follow-schedule] [--lrs ...] [--decays ...] [--kinds ...] [--replay R]

Pretrains ``fmnist-tiny`` (the `make demo` run, but with the public code's online probes:
on the augmented views, following the schedule, no replay or averaging) and, beside them,
trains extra linear heads during the same run on the same detached features, each with its
own Adam (betas 0.8/0.999, weight decay 1e-5, no schedule unless ``--follow-schedule``) and
learning rate, and with an exponential moving average (EMA) of its weights:

- ``aug``: on the augmented views' features, as the online probes see them;
- ``clean``: on the test-time view of the same training images, encoded by the current
  encoder in eval mode without gradients (one extra forward per step);
- ``clean-std``: the same features standardized by a BatchNorm without affine parameters
  before the linear layer (running statistics at test time; still a linear classifier).

With ``--replay R`` every head has a twin that also learns from R batches drawn from the
features of the last ``--replay-window`` steps: R more updates per step (``--replay-modes
steps``) or one update on the current and the R drawn batches together (``batch``); more
learning on nearly current features, no extra encoder work. ``--both-schedules``: every
head at a constant rate and following the run's schedule.

The side heads take no part in the update: the encoder trains exactly as in the demo (the
side heads' random initialisation leaves the global RNG state as it found it). After
pretraining every head is scored on the final encoder's test-view features of the test
split, and the offline linear protocol runs on the same checkpoint. ``--schedule step`` keeps
the config's schedule (the preset's, or ``optim.*`` overrides); ``--schedule cosine``
replaces it (after warmup) by a cosine decay to zero over the run: a settled encoder at the
end, less drift under the heads.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import math
from pathlib import Path

import torch

from infomax import cli
from infomax.data import batch as batch_module
from infomax.data import views
from infomax.data.registry import dataset_info
from infomax.engine.probe import run_probe
from infomax.eval.features import checkpoint_features
from infomax.losses import clipped_cross_entropy
from infomax.methods.amdim import AMDIM
from infomax.methods.schedule import WarmupMultiStep
from infomax.nn.probes import linear_head
from infomax.runs import load_method


class SideHead:
    """A linear head with its own Adam and EMA copies of its weights."""

    def __init__(self, n_in: int, n_classes: int, lr: float, decays: list[float],
                 standardize: bool = False) -> None:
        self.head = linear_head(n_in, n_classes)
        if standardize:
            self.head = torch.nn.Sequential(torch.nn.BatchNorm1d(n_in, affine=False),
                                            self.head)
        self.lr = lr
        self.opt = torch.optim.Adam(self.head.parameters(), lr=lr, betas=(0.8, 0.999),
                                    weight_decay=1e-5)
        self.emas = {d: copy.deepcopy(self.head) for d in decays}

    def update(self, feats: torch.Tensor, labels: torch.Tensor) -> None:
        with torch.enable_grad():
            loss = clipped_cross_entropy(self.head(feats), labels)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
        with torch.no_grad():
            for d, ema in self.emas.items():
                for pe, p in zip(ema.parameters(), self.head.parameters()):
                    pe.lerp_(p, 1 - d)
                for be, b in zip(ema.buffers(), self.head.buffers()):
                    be.copy_(b)


def install(lrs: list[float], decays: list[float], cosine: bool,
            follow: tuple[bool, ...] = (False,), kinds: tuple[str, ...] = ("aug", "clean"),
            replays: tuple[int, ...] = (0,), replay_modes: tuple[str, ...] = ("steps",),
            window: int = 16) -> dict[str, SideHead]:
    """Patch the demo's method, views and (with ``cosine``) schedule; return the heads,
    created at the first training step: one per kind, rate, schedule (constant, or
    following the run's) and replay (``steps``: R more updates on single recent batches;
    ``batch``: one update on the current batch and R recent ones together)."""
    heads: dict[str, SideHead] = {}
    specs: dict[str, tuple[str, float, bool, int, str]] = {}
    for kind, lr, f, r, mode in itertools.product(kinds, lrs, follow, replays, replay_modes):
        if r == 0:
            mode = "steps"  # nothing replayed: one head, whatever the mode
        name = (f"{kind} lr {lr:g}" + (" follow" if f else "")
                + (f" {'batch-' if mode == 'batch' else ''}replay {r}" if r else ""))
        specs.setdefault(name, (kind, lr, f, r, mode))
    recent: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {"aug": [], "clean": []}
    draw = torch.Generator().manual_seed(0)  # replay draws, apart from the run's stream
    if cosine:
        def cosine_factor(self: WarmupMultiStep, step: int) -> float:
            warm = min(1.0, (step + 1) / self.warmup) if self.warmup > 0 else 1.0
            t = min(step, self.total_steps) / max(1, self.total_steps)
            return warm * 0.5 * (1 + math.cos(math.pi * t))
        WarmupMultiStep.__call__ = cosine_factor

    two_views = views.TwoViews.__call__
    clean_view = views.test_view(dataset_info("fashion-mnist"))

    def three_views(self: views.TwoViews, img):  # noqa: ANN001, ANN202
        a, b = two_views(self, img)
        return a, b, clean_view(img)
    views.TwoViews.__call__ = three_views

    # The third view travels in the batch's test_view (the online probes, configured for
    # the augmented views, leave it alone).
    collate = batch_module.BatchCollate.__call__

    def collate_keeping_the_clean_view(self, items):  # noqa: ANN001, ANN202
        batch = collate(self, items)
        batch.test_view = torch.stack([item[0][2] for item in items])
        return batch
    batch_module.BatchCollate.__call__ = collate_keeping_the_clean_view

    ssl_step = AMDIM.ssl_step

    def ssl_step_with_side_heads(self: AMDIM, batch):  # noqa: ANN001, ANN202
        y, xc = batch.labels, batch.test_view
        out = ssl_step(self, batch)
        feats, labels = out.features, out.labels
        if self.training:
            aug = feats.detach().float()
            if not heads:
                state = torch.get_rng_state()
                for name, (kind, lr, *_) in specs.items():
                    torch.manual_seed(0)
                    heads[name] = SideHead(aug.shape[1], self.num_classes, lr, decays,
                                           standardize=kind.endswith("-std"))
                torch.set_rng_state(state)
            self.encoder.eval()
            with torch.no_grad():
                clean = self.encoder.embed(xc).float()
            self.encoder.train()
            # The rate of this update under the run's schedule.
            sched = self.trainer.lr_scheduler_configs[0].scheduler
            factor = sched.lr_lambdas[0](sched.last_epoch)
            for source, batch_ in (("aug", (aug, labels)), ("clean", (clean, y))):
                recent[source] = (recent[source] + [batch_])[-window:]
            for name, head in heads.items():
                kind, lr, f, r, mode = specs[name]
                for group in head.opt.param_groups:
                    group["lr"] = lr * factor if f else lr
                source = "aug" if kind.startswith("aug") else "clean"
                picks = [int(torch.randint(len(recent[source]), (1,), generator=draw))
                         for _ in range(r)]
                if mode == "batch":
                    chosen = [recent[source][-1]] + [recent[source][i] for i in picks]
                    head.update(torch.cat([c[0] for c in chosen]),
                                torch.cat([c[1] for c in chosen]))
                else:
                    head.update(*recent[source][-1])
                    for i in picks:
                        head.update(*recent[source][i])
        return out
    AMDIM.ssl_step = ssl_step_with_side_heads
    return heads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="runs folder (the run is OUT/fmnist-tiny)")
    ap.add_argument("--schedule", choices=("step", "cosine"), default="step")
    ap.add_argument("--follow-schedule", action="store_true",
                    help="scale the side heads' rates by the run's schedule (warmup, "
                         "milestones, cooldown), as the online probes' are")
    ap.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 3e-3, 1e-2, 3e-2])
    ap.add_argument("--decays", type=float, nargs="+", default=[0.9, 0.98])
    ap.add_argument("--kinds", nargs="+", default=["aug", "clean"],
                    choices=["aug", "clean", "aug-std", "clean-std"])
    ap.add_argument("--both-schedules", action="store_true",
                    help="every head twice: at a constant rate and following the schedule")
    ap.add_argument("--replay", type=int, default=0,
                    help="every head also with R replayed recent batches per step")
    ap.add_argument("--replay-modes", nargs="+", choices=("steps", "batch"),
                    default=["steps"])
    ap.add_argument("--replay-window", type=int, default=16)
    ap.add_argument("--json", default=None, help="default: OUT/side_heads.json")
    ap.add_argument("overrides", nargs="*", help="key=value config overrides")
    args = ap.parse_args()
    follow = (False, True) if args.both_schedules else (args.follow_schedule,)
    heads = install(args.lrs, args.decays, args.schedule == "cosine", follow,
                    tuple(args.kinds), tuple(sorted({0, args.replay})),
                    tuple(args.replay_modes), args.replay_window)
    # The online probes as the side heads were first compared with (the public code's,
    # before the preset learned on test views): the heads add their own test-view pass.
    public_probes = ["probe.online_view=augmented", "probe.online_replay=0",
                     "probe.online_ema=0", "optim.probe_cooldown=true"]
    rc = cli.main(["pretrain", "--preset", "fmnist-tiny", "--out", args.out, "--overwrite",
                   "--no-progress", *public_probes, *args.overrides])
    if rc:
        raise SystemExit(rc)
    run = Path(args.out) / "fmnist-tiny"
    ckpt = run / "last.ckpt"
    test = checkpoint_features(ckpt, "test", progress=False)
    model = load_method(ckpt)

    @torch.no_grad()
    def top1(head: torch.nn.Module) -> float:
        head.eval()
        return (head(test.features).argmax(1) == test.labels).float().mean().item()

    res = {"schedule": args.schedule, "overrides": args.overrides,
           "side_heads_follow_schedule": args.follow_schedule, "kinds": args.kinds,
           "both_schedules": args.both_schedules, "replay": args.replay,
           "replay_modes": args.replay_modes, "replay_window": args.replay_window,
           "offline_protocol": run_probe(ckpt, progress=False)["linear"]["top1"],
           "online_probe": top1(model.probes.linear), "side_heads": {}}
    for name, head in heads.items():
        res["side_heads"][name] = {"last": top1(head.head),
                                   **{f"ema {d:g}": top1(e) for d, e in head.emas.items()}}
    path = Path(args.json) if args.json else Path(args.out) / "side_heads.json"
    path.write_text(json.dumps(res, indent=2))
    print(f"offline protocol {100 * res['offline_protocol']:.2f}%, "
          f"online probe {100 * res['online_probe']:.2f}%")
    for name, accs in res["side_heads"].items():
        print(f"  {name:16s} " + "  ".join(f"{k} {100 * v:.2f}%" for k, v in accs.items()))
    print(f"written: {path}")


if __name__ == "__main__":
    main()
