"""The ``infomax`` command: thin subcommands over library functions.

Every error a user can cause ends in one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from pathlib import Path
from typing import Sequence

from infomax.errors import InfomaxError

EPILOG_PRETRAIN = """\
Any config key can be set as key=value after the options, e.g.
  infomax pretrain --preset cifar10-small train.epochs=100 model.ndf=64
List the keys with 'infomax config --keys'; the presets with 'infomax presets'."""


class _UsageError(InfomaxError):
    """A command line argparse refuses."""


class _Parser(argparse.ArgumentParser):
    """argparse, except that a bad command line is reported in one line (as every other
    error is) rather than as the usage followed by the error."""

    def error(self, message: str) -> typing.NoReturn:
        raise _UsageError(f"{message} (see '{self.prog} --help')")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="infomax", description="Self-supervised representation learning by "
                "maximizing mutual information across views.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    pt = sub.add_parser("pretrain", help="pretrain an encoder (AMDIM)", epilog=EPILOG_PRETRAIN,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    pt.add_argument("--preset", help="a named configuration (see 'infomax presets')")
    pt.add_argument("--config", help="a YAML config file (e.g. a run's config.yaml)")
    pt.add_argument("--data-dir", help="data root (default: $INFOMAX_DATA or "
                                       "~/.cache/infomax/data)")
    pt.add_argument("--seed", type=int, help="random seed (train.seed)")
    pt.add_argument("--out", help="folder for runs (train.out_dir, default: runs)")
    pt.add_argument("--name", help="run name (train.run_name, default: the preset's name)")
    pt.add_argument("--resume", nargs="?", const="auto", metavar="CKPT",
                    help="continue from CKPT, or from the run's last.ckpt when no path is given")
    pt.add_argument("--overwrite", action="store_true",
                    help="start over in a run folder that already holds a run")
    pt.add_argument("--no-progress", action="store_true", help="no progress bar")
    pt.add_argument("overrides", nargs="*", metavar="key=value")

    pr = sub.add_parser("probe", help="linear / MLP probe of a pretrained encoder")
    pr.add_argument("checkpoint", help="a .ckpt written by 'infomax pretrain'")
    pr.add_argument("--data", help="probe on another data set (default: the pretraining one)")
    pr.add_argument("--data-dir", help="data root")
    pr.add_argument("--mlp", action="store_true", help="also train the MLP head")
    pr.add_argument("--pixel-baseline", action="store_true",
                    help="also fit the same linear probe on raw pixels")
    pr.add_argument("--epochs", type=int, help="classifier epochs (default: the config's)")
    pr.add_argument("--workers", type=int, help="DataLoader workers for feature extraction")
    pr.add_argument("-o", "--output", help="result JSON (default: probe-<ckpt>.json beside it)")
    pr.add_argument("--no-progress", action="store_true", help="no progress bars")

    da = sub.add_parser("data", help="find (or download) a data set and show its splits")
    da.add_argument("name", help="fashion-mnist, mnist, cifar10, cifar100, stl10 or "
                                 "imagefolder:<path>")
    da.add_argument("--data-dir", help="data root")
    da.add_argument("--no-download", action="store_true", help="only look on disk")

    sub.add_parser("presets", help="list the named configurations")

    cf = sub.add_parser("config", help="print a resolved config, or every key")
    cf.add_argument("--preset")
    cf.add_argument("--keys", action="store_true", help="list every key with its default")
    cf.add_argument("overrides", nargs="*", metavar="key=value")
    return p


def _pretrain(args: argparse.Namespace) -> int:
    from infomax.config import load_config_file, make_config
    from infomax.engine.train import check_devices, pretrain

    flags = []
    for key, value in (("data.dir", args.data_dir), ("train.seed", args.seed),
                       ("train.out_dir", args.out), ("train.run_name", args.name)):
        if value is not None:
            flags.append(f"{key}={json.dumps(value) if isinstance(value, str) else value}")
    if args.resume is not None and "=" in args.resume and not Path(args.resume).exists():
        # `--resume key=value`: argparse took the first override for the optional path.
        args.overrides.insert(0, args.resume)
        args.resume = "auto"
    base = None
    if args.config:
        base = load_config_file(args.config)
    elif args.resume not in (None, "auto") and not args.preset:
        # Resuming a checkpoint by path: its run's saved config is the base.
        saved = Path(args.resume).parent / "config.yaml"
        if saved.is_file():
            base = load_config_file(saved)
    preset = args.preset
    if preset is None and base is None:
        preset = "fmnist-tiny"
        print("infomax: no --preset or --config given; using the fmnist-tiny preset",
              file=sys.stderr)
    cfg = make_config(preset, [*args.overrides, *flags], base=base)
    check_devices(cfg)
    run_dir = pretrain(cfg, resume=args.resume, progress=not args.no_progress,
                       overwrite=args.overwrite)
    summary = json.loads((run_dir / "summary.json").read_text())
    online = summary["online"]
    print(f"run folder:      {run_dir}")
    print(f"last checkpoint: {summary['last_checkpoint']}")
    if summary["best_checkpoint"]:
        print(f"best checkpoint: {run_dir / Path(summary['best_checkpoint']).name}")
    if online:
        print("online probes:   " + ", ".join(f"{k.split('/')[1]} {100 * v:.2f}%"
                                                  for k, v in sorted(online.items())))
    print(f"logs:            {run_dir / 'tensorboard'} (tensorboard --logdir), "
          f"{run_dir / 'csv' / 'metrics.csv'}")
    return 0


def _probe(args: argparse.Namespace) -> int:
    from infomax.engine.probe import run_probe

    if args.workers is not None and args.workers < 0:
        raise InfomaxError(f"--workers: {args.workers} must be >= 0")
    res = run_probe(args.checkpoint, data=args.data, data_dir=args.data_dir, mlp=args.mlp,
                    pixel_baseline=args.pixel_baseline, epochs=args.epochs,
                    num_workers=args.workers, progress=not args.no_progress, out=args.output)
    print(f"data: {res['data']} ({res['train_images']} train / {res['test_images']} test "
          f"images, {res['feature_dim']}-d features)")
    for kind in ("linear", "mlp", "pixels"):
        if kind in res:
            label = {"linear": "linear probe", "mlp": "MLP probe",
                     "pixels": "raw-pixel baseline"}[kind]
            print(f"{label:>19}: top-1 {100 * res[kind]['top1']:.2f}%  "
                  f"top-5 {100 * res[kind]['top5']:.2f}%")
    print(f"result: {res['path']}")
    return 0


def _data(args: argparse.Namespace) -> int:
    from infomax.data.module import resolve_name
    from infomax.data.registry import build_dataset, dataset_info, resolve_data_root

    root = resolve_data_root(args.data_dir)
    name = resolve_name(args.name, root)
    info = dataset_info(name)
    sizes = {split: len(build_dataset(name, split, root, None, not args.no_download))
             for split in ("pretrain", "train", "test")}
    print(f"{name}: {info.num_classes} classes, {info.channels}-channel, {info.image_size} px "
          f"views; pretrain {sizes['pretrain']}, train {sizes['train']}, test {sizes['test']} "
          f"images")
    return 0


def _presets(args: argparse.Namespace) -> int:
    from infomax.config import make_config, preset_names

    for name in preset_names():
        c = make_config(name)
        print(f"{name:<20} {c.data.name:<24} ndf {c.model.ndf:<4} n_rkhs {c.model.n_rkhs:<5} "
              f"depth {c.model.n_depth:<3} batch {c.data.batch_size:<4} epochs {c.train.epochs}")
    return 0


def _config(args: argparse.Namespace) -> int:
    from infomax.config import describe_keys, make_config

    if args.keys:
        print(describe_keys())
    else:
        print(make_config(args.preset, args.overrides).to_yaml(), end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as e:
        print(f"infomax: error: {e}", file=sys.stderr)
        return 2
    if args.command is None:
        parser.print_help()
        return 2
    handlers = {"pretrain": _pretrain, "probe": _probe, "presets": _presets, "data": _data, "config": _config}
    try:
        return handlers[args.command](args)
    except InfomaxError as e:
        print(f"infomax: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. a folder that cannot be written
        print(f"infomax: error: {e}", file=sys.stderr)
        return 1
    except FloatingPointError as e:
        print(f"infomax: error: {e}; the last good checkpoint is kept. Lower optim.lr or "
              f"check the data", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("infomax: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
