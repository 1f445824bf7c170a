"""Why the online linear probe reads lower than the offline one: the gap split into its
parts on one checkpoint.

    python benchmarks/probe_gap.py RUN_DIR [--lrs 1e-3 3e-3 ...] [--ema 0.98] [--json ...]

On the checkpoint's frozen final features it trains a linear head as the run trained its
online probe (Adam, betas 0.8/0.999, the clipped cross entropy; the run's probe rate,
optim.probe_lr or else optim.lr, under the run's schedule, without the cooldown where
optim.probe_cooldown is false; the run's rows per update: the batch, both views of it with
probe.online_view=augmented, times 1 + probe.online_replay; scored by an average of its
weights where probe.online_ema is set) for the online probe's number of updates, once on
test-view features of the training images and once on augmented training views, and
compares both with the online figure (features moving under the probe during pretraining)
and the offline protocol (30 epochs on standardized test-view features). The views part is
the difference between the two kinds of views (none for a run whose probes learn on test
views); the drift part is what the online probe loses against the head on its own kind of
view. A sweep of the head's learning rate on the frozen final features asks whether a
better rate alone could close the budget part, and the same sweep scoring an exponential
moving average of the head's weights (``--ema``) whether averaging could, on either kind
of view. Every head is scored on the test-view features of the test split.
"""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from infomax.data.registry import build_dataset, dataset_info, resolve_data_root
from infomax.data.views import TwoViews
from infomax.engine.probe import run_probe
from infomax.eval.features import checkpoint_features
from infomax.losses import clipped_cross_entropy
from infomax.methods.schedule import WarmupMultiStep
from infomax.nn.probes import linear_head
from infomax.runs import config_from_run, load_method


def one_pass(x: torch.Tensor, y: torch.Tensor, xte: torch.Tensor, yte: torch.Tensor,
             batch: int, steps: int, seed: int = 0, lr: float = 1e-3,
             ema: float | None = None,
             schedule: Callable[[int], float] | None = None) -> float:
    """A linear head trained like the online one for ``steps`` updates of ``batch`` rows
    (shuffled, without replacement while the rows last), scored on (xte, yte); with
    ``ema``, the head scored is an exponential moving average of the weights (decay
    ``ema`` per update); ``schedule`` scales the rate at each update, as the run's does."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    head = linear_head(x.shape[1], int(y.max()) + 1)
    avg = copy.deepcopy(head)
    opt = torch.optim.Adam(head.parameters(), lr=lr, betas=(0.8, 0.999), weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule or (lambda step: 1.0))
    order = torch.cat([torch.randperm(len(x), generator=g)
                       for _ in range(batch * steps // len(x) + 1)])
    for s in range(steps):
        idx = order[s * batch:(s + 1) * batch]
        loss = clipped_cross_entropy(head(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if ema is not None:
            with torch.no_grad():
                for pa, p in zip(avg.parameters(), head.parameters()):
                    pa.lerp_(p, 1 - ema)
    with torch.no_grad():
        scored = avg if ema is not None else head
        return (scored(xte).argmax(1) == yte).float().mean().item()


@torch.no_grad()
def augmented_features(run_dir: Path, steps: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Final-encoder features of ``steps`` pretraining batches (two views each)."""
    cfg = config_from_run(run_dir)
    model = load_method(run_dir / "last.ckpt")
    info = dataset_info(cfg.data.name)
    data = build_dataset(cfg.data.name, "pretrain", resolve_data_root(cfg.data.dir),
                         TwoViews(info, cfg.data.augment, views=cfg.views,
                                  policy=cfg.data.augment_policy),
                         download=False)
    torch.manual_seed(0)
    loader = DataLoader(data, batch_size=cfg.data.batch_size, shuffle=True, drop_last=True,
                        num_workers=cfg.data.num_workers)
    feats, labels = [], []
    for i, ((a, b), y) in enumerate(loader):
        if i == steps:
            break
        feats.append(model.encoder.embed(torch.cat([a, b])))
        labels.append(torch.cat([y, y]))
    return torch.cat(feats), torch.cat(labels), cfg.data.batch_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--json", default=str(Path(__file__).resolve().parent / "results" /
                                          "probe_gap.json"))
    ap.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 3e-3, 1e-2, 3e-2, 1e-1],
                    help="head learning rates tried on the frozen final features")
    ap.add_argument("--ema", type=float, default=0.98,
                    help="the sweep again, scoring a moving average of the head's weights")
    args = ap.parse_args()
    run = Path(args.run_dir)
    summary = json.loads((run / "summary.json").read_text())
    steps = int(summary["steps"])
    cfg = config_from_run(run)
    o, p = cfg.optim, cfg.probe
    probe_lr = o.probe_lr if o.probe_lr is not None else o.lr
    schedule = WarmupMultiStep(o.warmup_steps, o.milestones, o.gamma,
                               steps // max(1, int(summary["epochs"])), total_steps=steps,
                               cooldown=o.cooldown if o.probe_cooldown else 0.0)
    run_ema = p.online_ema or None
    train = checkpoint_features(run / "last.ckpt", "train", progress=False)
    test = checkpoint_features(run / "last.ckpt", "test", progress=False)
    xa, ya, batch = augmented_features(run, steps)
    # The online head's rows per update: the batch (both of its views unless the probes
    # learn on test views), and as many again per replayed batch.
    rows = batch * (1 if p.online_view == "test" else 2) * (1 + p.online_replay)
    kw = {"batch": rows, "steps": steps, "schedule": schedule}
    clean = one_pass(train.features, train.labels, test.features, test.labels, lr=probe_lr,
                     ema=run_ema, **kw)
    # Could a better learning rate for the head close the budget part? The best of a sweep.
    sweep = {lr: one_pass(train.features, train.labels, test.features, test.labels, lr=lr,
                          **kw) for lr in args.lrs}
    best_lr = max(sweep, key=sweep.get)
    aug = one_pass(xa, ya, test.features, test.labels, lr=probe_lr, ema=run_ema, **kw)
    own = clean if p.online_view == "test" else aug  # the kind of view the probe learned on
    # Does averaging the weights make up for the single pass? Both view kinds.
    averaged = {kind: {lr: one_pass(x, y, test.features, test.labels, lr=lr, ema=args.ema,
                                    **kw) for lr in args.lrs}
                for kind, (x, y) in (("test_views", (train.features, train.labels)),
                                     ("augmented", (xa, ya)))}
    aug_sweep = {lr: one_pass(xa, ya, test.features, test.labels, lr=lr, **kw)
                 for lr in args.lrs}
    offline = run_probe(run / "last.ckpt", progress=False,
                        out=Path(args.json).with_suffix(".probe.json"))["linear"]["top1"]
    online = summary["online"]["val/linear_acc"]
    out = {
        "run": str(run), "updates": steps, "rows_per_update": rows,
        "probe_lr": probe_lr, "cooldown": o.cooldown, "probe_cooldown": o.probe_cooldown,
        "online_view": p.online_view, "online_replay": p.online_replay,
        "online_ema": p.online_ema,
        "offline_protocol": offline,
        "frozen_final_features_test_views_online_budget": clean,
        "frozen_final_features_test_views_online_budget_lr_sweep": {str(k): v for k, v
                                                                    in sweep.items()},
        "frozen_final_features_augmented_views_online_budget": aug,
        "frozen_final_features_augmented_views_online_budget_lr_sweep": {
            str(k): v for k, v in aug_sweep.items()},
        "ema": args.ema,
        "frozen_final_features_online_budget_ema_lr_sweep": {
            kind: {str(k): v for k, v in sw.items()} for kind, sw in averaged.items()},
        "online": online,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2))
    print(f"offline protocol (30 epochs, standardized test views): {100 * offline:.2f}%")
    averaging = f", EMA {p.online_ema:g}" if run_ema else ""
    print(f"the run's head{averaging}, final features, test views:  {100 * clean:.2f}%  "
          f"(budget: {100 * (offline - clean):+.2f} points)")
    print(f"  without averaging, the best head lr of {args.lrs} ({best_lr:g}): "
          f"{100 * sweep[best_lr]:.2f}%  ({100 * (offline - sweep[best_lr]):+.2f} points)")
    print(f"the run's head{averaging}, final features, augmented:   {100 * aug:.2f}%  "
          f"(views: {100 * (clean - aug):+.2f})")
    for kind, sw in averaged.items():
        best = max(sw, key=sw.get)
        plain = (sweep if kind == "test_views" else aug_sweep)[best]
        print(f"  {kind.replace('_', ' ')}, EMA {args.ema:g} of the weights, best lr {best:g}: "
              f"{100 * sw[best]:.2f}% (without the EMA {100 * plain:.2f}%)")
    print(f"online probe (features moving, {p.online_view} views): {100 * online:.2f}%  "
          f"(drift: {100 * (own - online):+.2f})")
    print(f"written: {args.json}")


if __name__ == "__main__":
    main()
