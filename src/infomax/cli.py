"""The ``infomax`` command: thin subcommands over library functions.

Every error a user can cause ends in one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import typing
from pathlib import Path
from typing import Any, Sequence

from infomax.errors import InfomaxError, StoppedBySignal, TrainingInterrupted

EPILOG_PRETRAIN = """\
Any config key can be set as key=value, anywhere on the line, e.g.
  infomax pretrain --preset cifar10-small train.epochs=100 model.ndf=64 --out runs
List the keys with 'infomax config --keys'; the presets with 'infomax presets'."""

EPILOG_VIEWS = """\
Any config key can be set as key=value, e.g. the views of BYOL's recipe:
  infomax views --preset cifar10-small views.flip_shared=false views.first.blur_p=1.0 \\
      views.second.blur_p=0.1 views.second.solarize_p=0.2 -o byol-views.png
List the keys with 'infomax config --keys' (views.*)."""



# The help of --data for pretrain, probe and embed; %(names)s is filled in (from the
# option's attribute names, as argparse fills %(default)s) when the help is printed.
DATA_HELP = ("data set: %(names)s (default: the preset's data.name; for probe, embed "
             "and report, the checkpoint's labeled data: data.eval, else data.name)")

# The help of --device for probe, embed and report.
DEVICE_HELP = ("where the features are extracted (and the probes and fine-tuning run): auto (default: cuda "
               "when there is a GPU, else cpu), cpu, cuda, cuda:N or mps; on cuda under "
               "autocast (bf16, or fp16 where the GPU lacks bf16), features kept in fp32")


class _Names:
    """The names of a registry ("data", "method", "encoder" or "estimator"), read only
    when they are needed (a help text printed, a choice checked): the registries import
    torch (seconds), which nothing else in parsing a command line needs. Usable as a help
    placeholder (str) and as argparse ``choices`` (``in`` and iteration)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def names(self) -> tuple[str, ...]:
        if self.kind == "method":
            from infomax.methods import METHODS

            return METHODS.names()
        if self.kind == "encoder":
            from infomax.nn.encoders import encoder_names

            return encoder_names()
        if self.kind == "estimator":
            from infomax.losses.estimators import NAMES

            return NAMES
        from infomax.data.registry import DATASETS, IMAGEFOLDER_PREFIX

        return (*DATASETS, IMAGEFOLDER_PREFIX + "<path>")

    def __str__(self) -> str:
        if self.kind == "data":
            from infomax.data.registry import valid_data_names

            return valid_data_names()
        return ", ".join(self.names())

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def __iter__(self):
        return iter(self.names())


def _finite_float(text: str) -> float:
    """``type=`` of every number option: a float, refusing 'nan' and 'inf' (which pass any
    range check: nan <= 0 is false) in argparse's one line."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


class _UsageError(InfomaxError):
    """A command line argparse refuses."""


class _Parser(argparse.ArgumentParser):
    """argparse, except that a bad command line is reported in one line (as every other
    error is) rather than as the usage followed by the error; that no option may be
    abbreviated (argparse's prefix matching would take ``--no-prog`` for ``--no-progress``
    and ``--pre`` for whichever of ``--preset``/``--precision`` is unique); and, with
    ``intermixed=True``, that the positionals (the ``key=value`` overrides) may stand
    anywhere among the options.

    Overrides anywhere: ``parse_intermixed_args`` is argparse's means, but it refuses a
    parser with subparsers (the top parser here: "positional arg with nargs=A...") and
    would not reach into the subparser anyway. So each subcommand that takes overrides is
    made with ``intermixed=True``, and its ``parse_known_args`` (which the subparsers
    action calls) parses intermixed. An option that takes a value still takes the next
    item, ``--name a=b`` included, as plain argparse does; ``--resume key=value`` and
    ``ablate --rows a key=value`` are sorted out by their handlers, as before. The one
    addition: ``key=value`` items that a many-valued option (``--presets``, ``--workers``,
    ``--precision``, ``--rows``, ... nargs + or *) would take as its values are moved in
    front of the options they follow, none of those options having a value with "=" in
    it."""

    def __init__(self, *args, intermixed: bool = False, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self._intermixed = intermixed
        self._mixing = False

    def error(self, message: str) -> typing.NoReturn:
        raise _UsageError(f"{message} (see '{self.prog} --help')")

    def parse_known_args(self, args=None, namespace=None):
        if not self._intermixed or self._mixing:
            # parse_known_intermixed_args calls this method itself (up to Python 3.12).
            return super().parse_known_args(args, namespace)
        self._mixing = True
        try:
            args = self._overrides_out_of_lists(sys.argv[1:] if args is None else list(args))
            return self.parse_known_intermixed_args(_resume_last(args), namespace)
        finally:
            self._mixing = False

    def _overrides_out_of_lists(self, args: list[str]) -> list[str]:
        """``args`` with each key=value item that a many-valued option would take as one
        of its values moved in front of the options it follows, where it is taken as an
        override; the overrides keep their order (a later one wins)."""
        nargs = {s: a.nargs for a in self._actions for s in a.option_strings}
        out: list[str] = []
        start = None  # where the options since the last complete item begin in ``out``
        want, got = 0, 0  # the values the last option takes (-1: any number), has taken
        for i, arg in enumerate(args):
            if arg == "--":
                return out + args[i:]
            if arg.startswith("-") and not _NEGATIVE_NUMBER.match(arg):
                start = len(out) if start is None else start
                n = None if "=" in arg else nargs.get(arg, 0)  # --opt=value has its value
                want = {None: 1, "?": 1, "+": -1, "*": -1}.get(n, n if isinstance(n, int)
                                                                else 0)
                got = 0
            elif want == -1 and "=" in arg:
                out.insert(start, arg)
                start += 1
                continue
            elif want == -1 or got < want:
                got += 1
                if got == want:  # the option is complete: what follows is free
                    start, want = None, 0
            else:
                start = None  # a positional
            out.append(arg)
        return out


def _resume_last(args: list[str]) -> list[str]:
    """``--resume`` (whose path is optional) moved past the ``key=value`` items that follow
    it and name no file, which argparse would take for its path: ``--resume k=v`` resumes
    the run's last.ckpt with the override k=v, in its place among the other overrides."""
    out = list(args)
    i = 0
    while i < len(out):
        if out[i] == "--resume":
            j = i + 1
            while j < len(out) and "=" in out[j] and not out[j].startswith("-") \
                    and not Path(out[j]).exists():
                j += 1
            if j > i + 1:
                out[i:j] = [*out[i + 1:j], "--resume"]
                i = j - 1
        i += 1
    return out


# The formats of 'infomax export' (infomax.eval.model_export.FORMATS, which imports torch).
EXPORT_FORMATS = ("torchvision", "timm", "safetensors", "onnx")

_NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")  # argparse's own test


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="infomax", description="Self-supervised representation learning by "
                "maximizing mutual information across views.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    pt = sub.add_parser("pretrain", help="pretrain an encoder (AMDIM, or --method NAME)", epilog=EPILOG_PRETRAIN,
                        formatter_class=argparse.RawDescriptionHelpFormatter, intermixed=True)
    pt.add_argument("--preset", help="a named configuration (see 'infomax presets')")
    pt.add_argument("--config", help="a YAML config file (e.g. a run's config.yaml)")
    pt.add_argument("--method", help="%(names)s (method; default amdim); a method's own "
                                     "settings are its config sections, e.g. moco.*"
                    ).names = _Names("method")
    pt.add_argument("--encoder", help="%(names)s (model.encoder; timm:<name>: any model of "
                                      "timm.list_models(), random init)"
                    ).names = _Names("encoder")
    pt.add_argument("--augment", help="plain (default), randaugment (torchvision's "
                                      "RandAugment on the views) or fast-autoaugment (Fast "
                                      "AutoAugment, the paper's '+strong aug'; its policy: "
                                      "data.augment_policy); strong is read as randaugment "
                                      "(data.augment)")
    pt.add_argument("--data", help=DATA_HELP).names = _Names("data")
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
    pt.add_argument("--skip-nonfinite", type=int, metavar="N",
                    help="skip up to N steps with a non-finite loss or gradient instead of "
                         "stopping at the first (train.skip_nonfinite, default 0)")
    pt.add_argument("--strict-data", action="store_true",
                    help="stop at the first unreadable image file instead of skipping it "
                         "(data.strict)")
    scale = pt.add_argument_group("scale and speed")
    scale.add_argument("--devices", type=int, help="processes per machine: GPUs, or CPU "
                                                    "processes (train.devices)")
    scale.add_argument("--num-nodes", type=int, help="machines (train.num_nodes); launch "
                                                      "with torchrun or srun")
    scale.add_argument("--strategy", help="auto, ddp, ddp_spawn or ddp_notebook "
                                          "(train.strategy)")
    scale.add_argument("--no-sync-batchnorm", action="store_true",
                       help="BatchNorm statistics per process instead of over the global "
                            "batch (train.sync_batchnorm=false)")
    scale.add_argument("--precision", help="32, bf16-mixed or 16-mixed (train.precision)")
    scale.add_argument("--compile", action="store_true", help="torch.compile the encoder")
    pt.add_argument("overrides", nargs="*", metavar="key=value")

    pr = sub.add_parser("probe", help="evaluate a pretrained encoder: linear, MLP, kNN, label "
                                      "fractions, fine-tuning, on its data set or another "
                                      "(transfer)")
    pr.add_argument("checkpoint", help="a .ckpt written by 'infomax pretrain'")
    pr.add_argument("--protocol", nargs="+", default=["linear"], metavar="P",
                    help="any of: linear, mlp, knn, fractions, finetune (default: linear)")
    pr.add_argument("--data", help=DATA_HELP).names = _Names("data")
    pr.add_argument("--data-dir", help="data root")
    pr.add_argument("--mlp", action="store_true", help="also the MLP head (= --protocol ... mlp)")
    pr.add_argument("--pixel-baseline", action="store_true",
                    help="also fit the same linear probe on raw pixels")
    pr.add_argument("--epochs", type=int, help="epochs of the classifiers (probe.epochs) and "
                                               "of fine-tuning on every label "
                                               "(probe.finetune_epochs, which --label-fraction "
                                               "stretches); default: the config's")
    pr.add_argument("--knn-k", type=int, default=200, help="neighbours of the kNN (200)")
    pr.add_argument("--knn-temperature", type=_finite_float, default=0.1,
                    help="temperature of the kNN vote weights exp(sim / t) (0.1)")
    pr.add_argument("--workers", type=int, help="DataLoader workers for feature extraction "
                                                "and fine-tuning")
    pr.add_argument("--no-cache", action="store_true",
                    help="extract the features again (else reused from <run>/features/)")
    ft = pr.add_argument_group("fine-tuning", "--protocol finetune: the encoder and a new "
                               "linear head trained end to end (SimCLR's protocol)")
    ft.add_argument("--label-fraction", type=_finite_float, metavar="F",
                    help="fine-tune on this share of every class's labels, in (0, 1], e.g. "
                         "0.01 or 0.1: the fixed draw of the fractions protocol (default: all)")
    ft.add_argument("--label-seed", type=int, default=0, metavar="N",
                    help="which fixed draw of --label-fraction (the fractions protocol's "
                         "are 0, 1, 2; default 0)")
    ft.add_argument("--finetune-lr", type=_finite_float, metavar="LR",
                    help="rate per 256 images (probe.finetune_lr, SimCLR's 0.05)")
    ft.add_argument("--finetune-batch-size", type=int, metavar="B",
                    help="images per update (probe.finetune_batch_size, 256)")
    pr.add_argument("-o", "--output", help="result JSON (default: probe-<ckpt>.json beside it)")
    pr.add_argument("--device", default="auto", help=DEVICE_HELP)
    pr.add_argument("--no-progress", action="store_true", help="no progress bars")

    em = sub.add_parser("embed", help="export frozen features, labels and image identities "
                                      "of a data set's splits, or of any image files")
    em.add_argument("checkpoint", help="a .ckpt written by 'infomax pretrain'")
    em.add_argument("--data", help=DATA_HELP).names = _Names("data")
    em.add_argument("--data-dir", help="data root")
    em.add_argument("--split", nargs="+", choices=("train", "test"),
                    help="the data set's splits (default: train test)")
    em.add_argument("--images", metavar="DIR|GLOB",
                    help="embed these image files instead of a data set: every image under "
                         "a folder (recursively), the files a glob pattern matches (quote "
                         "it; ** crosses folders), or one file")
    em.add_argument("-o", "--output", required=True,
                    help="output file: .npz, or .parquet (needs pyarrow)")
    em.add_argument("--workers", type=int, help="DataLoader workers")
    em.add_argument("--device", default="auto", help=DEVICE_HELP)
    em.add_argument("--no-progress", action="store_true", help="no progress bars")

    ex = sub.add_parser("export", help="write a checkpoint's encoder for other tools: "
                                       "torchvision or timm weights (ResNets), safetensors "
                                       "with its config, or ONNX checked with onnxruntime")
    ex.add_argument("checkpoint", help="a .ckpt written by 'infomax pretrain'")
    ex.add_argument("--format", required=True, choices=EXPORT_FORMATS,
                    help="torchvision / timm: a ResNet's state_dict under that library's "
                         "names (fc excluded); safetensors: the encoder's weights with its "
                         "config (FILE.json beside it; infomax.load_exported reads it); "
                         "onnx: images (B, C, S, S) -> features (B, D), dynamic batch "
                         "(needs onnx, onnxscript, onnxruntime)")
    ex.add_argument("-o", "--output", required=True, help="the file to write (replaced if "
                                                            "it exists)")

    rp = sub.add_parser("report", help="plots and one self-contained HTML page for a run")
    rp.add_argument("run_dir", help="a run folder written by 'infomax pretrain'")
    rp.add_argument("--checkpoint", help="checkpoint for the embedding pictures (default: "
                                         "the run's last.ckpt)")
    rp.add_argument("--data", help=DATA_HELP).names = _Names("data")
    rp.add_argument("--data-dir", help="data root")
    rp.add_argument("-o", "--output", help="folder for the report (default: RUN_DIR/report)")
    rp.add_argument("--device", default="auto", help=DEVICE_HELP)
    rp.add_argument("--no-progress", action="store_true", help="no progress bars")

    da = sub.add_parser("data", help="find (or download) a data set and show its splits; "
                                     "'data shard SOURCE OUT' writes one as tar shards",
                        description="infomax data NAME: find (or download) a data set and "
                                    "show its splits. infomax data shard SOURCE OUT: write "
                                    "every split SOURCE has as WebDataset tar shards "
                                    "OUT/<split>-000000.tar ... with OUT/index.json, for "
                                    "--data webdataset:OUT.", intermixed=True)
    da.add_argument("name", metavar="NAME", help="%(names)s, or 'shard'").names = _Names("data")
    da.add_argument("source", nargs="?", metavar="SOURCE",
                    help="with 'shard': the data to write, any data name")
    da.add_argument("out", nargs="?", metavar="OUT", help="with 'shard': the folder to write")
    da.add_argument("--data-dir", help="data root")
    da.add_argument("--no-download", action="store_true", help="only look on disk")
    da.add_argument("--shard-size", type=int, default=1000, metavar="N",
                    help="with 'shard': images per shard (1000)")
    da.add_argument("--copy-files", action="store_true",
                    help="with 'shard': an image folder's files go into the shards as they "
                         "are (JPEG stays JPEG) instead of as PNG")
    da.add_argument("--overwrite", action="store_true",
                    help="with 'shard': replace the shards already in OUT")
    da.add_argument("--no-progress", action="store_true", help="no progress bar")

    sub.add_parser("presets", help="list the named configurations")

    be = sub.add_parser("bench", help="measure speed: train step, input pipeline")
    bsub = be.add_subparsers(dest="bench", metavar="WHAT")
    bs = bsub.add_parser("speed", help="train-step images/s, achieved GFLOP/s against the "
                                       "GEMM peak measured in the same run, peak memory",
                         intermixed=True)
    _step_flags(bs, presets=["fmnist-tiny", "cifar10-small"], precisions=["32", "bf16-mixed"],
                steps=5, warmup=2, steps_help="timed steps (the median is reported)")
    bs.add_argument("--max-seconds", type=_finite_float,
                    help="time budget per preset and precision (at least one step is timed)")
    bs.add_argument("--gemm-sizes", type=int, nargs="+", help="square matmul sizes tried for "
                                                              "the GEMM peak")
    bp = bsub.add_parser("profile", help="where a train step's time goes: torch.profiler's "
                                         "self time by category (convolutions, the NCE's "
                                         "scores, masks and soft clip, layout conversions, "
                                         "...) and by phase, and the top ops",
                         intermixed=True)
    _step_flags(bp, presets=["fmnist-tiny"], precisions=["32"], steps=1, warmup=1,
                steps_help="profiled steps (1)")
    bp.add_argument("--top", type=int, default=15, help="ops listed by self time (15)")
    bp.add_argument("--trace", metavar="FILE",
                    help="write the Chrome trace (chrome://tracing, Perfetto) to FILE; with "
                         "several presets or precisions, FILE.<preset>.<precision>.json")
    bl = bsub.add_parser("loader", help="two-view images/s the DataLoader delivers per "
                                        "worker count, against the train step's consumption",
                         intermixed=True)
    bl.add_argument("--preset", default="fmnist-tiny")
    bl.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    bl.add_argument("--batches", type=int, default=30, help="timed batches per worker count")
    bl.add_argument("--data-dir", help="data root")
    bl.add_argument("--device", help="default: cuda when available, else cpu")
    bl.add_argument("--json", help="write every number to this JSON file")
    dec = bl.add_argument_group("decoders", "with --data or --decoders: JPEG decoders "
                                "compared on an image folder (or shards) instead")
    dec.add_argument("--data", help="an image folder (a path or imagefolder:<path>) or "
                                    "webdataset:<shards>")
    dec.add_argument("--decoders", nargs="+", choices=("pillow", "torchvision", "shards"),
                     help="pillow, torchvision (torchvision.io.decode_jpeg; also batched on "
                          "the GPU when there is one), shards (the folder written to "
                          "temporary tar shards first); default: all three")
    dec.add_argument("--image-size", type=int, nargs="+", default=[128, 224],
                     help="view sizes, px (128 224)")
    dec.add_argument("--batch-size", type=int, default=32, help="images per batch (32)")
    dec.add_argument("--repeats", type=int, default=3,
                     help="timings of --batches batches per figure; the median is shown (3)")
    bl.add_argument("overrides", nargs="*", metavar="key=value",
                    help="e.g. data.augment_device=true")

    st = sub.add_parser("study", help="reproduce a published experiment: the Gaussian MI "
                                      "calibration, the Tschannen et al. critic study")
    ssub = st.add_subparsers(dest="study", metavar="NAME")
    sg = ssub.add_parser("gaussian", help="MI estimators on correlated Gaussians of known MI "
                                          "(Poole et al. 2019): estimate against truth")
    sg.add_argument("--dim", type=int, default=20, help="dimension d of x and y (20)")
    sg.add_argument("--mi", type=_finite_float, nargs="+", default=[2.0, 4.0, 6.0, 8.0, 10.0],
                    help="true MI values in nats, stepped during training")
    sg.add_argument("--estimators", nargs="+", choices=_Names("estimator"),
                    help="default: all of them")
    sg.add_argument("--critic", default="separable",
                    choices=("inner", "bilinear", "separable", "concat"),
                    help="the trained critic (the analytic optimal critic is always run too)")
    sg.add_argument("--batch-size", type=int, default=128)
    sg.add_argument("--steps", type=int, default=4000,
                    help="training steps per MI value for the trained critic")
    sg.add_argument("--repeats", type=int, default=50,
                    help="batches averaged for the optimal critic's estimates")
    sg.add_argument("--seed", type=int, default=0)
    sg.add_argument("--quick", action="store_true", help="a reduced run (minutes)")
    sg.add_argument("-o", "--output", default="docs/studies/gaussian",
                    help="folder for results.json and the plots")
    sg.add_argument("--no-progress", action="store_true", help="no progress bars")
    sn = ssub.add_parser("tschannen", help="Tschannen et al. 2020: critics and encoders on "
                                           "image halves, linear evaluation")
    sn.add_argument("--data", default="mnist", help="mnist (the paper's) or fashion-mnist")
    sn.add_argument("--data-dir", help="data root")
    sn.add_argument("--experiments", nargs="+", default=["critic", "encoder"],
                    choices=("critic", "encoder"))
    sn.add_argument("--seeds", type=int, help="runs per setting (default: 20, --quick: 2)")
    sn.add_argument("--iterations", type=int,
                    help="training iterations (default: 21000, --quick: fewer)")
    sn.add_argument("--quick", action="store_true",
                    help="a reduced run: under 20 minutes on 2 CPU cores")
    sn.add_argument("-o", "--output", default="docs/studies/tschannen",
                    help="folder for results.json, the table and the plots")
    sn.add_argument("--replot", action="store_true",
                    help="train nothing: write the table and the plots again from the "
                         "results.json in --output")
    sn.add_argument("--no-progress", action="store_true", help="no progress bars")

    ab = sub.add_parser("ablate", help="AMDIM's ablations: the full model and single changes "
                                       "(multiscale, regularizer, augmentation, mixtures, "
                                       "encoder size) at one budget, probed alike",
                        intermixed=True)
    ab.add_argument("--preset", required=True, help="the full model (see 'infomax presets')")
    ab.add_argument("--rows", nargs="+", metavar="ROW",
                    help="rows to run (default: all): full, single-scale, no-stability, "
                         "strong-aug, randaugment, mixtures, encoder-half; full is always "
                         "run")
    ab.add_argument("--seeds", nargs="+", metavar="SEED", help="seeds per row (default: 0)")
    budget = ab.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=int, help="pretraining epochs per row")
    budget.add_argument("--steps", type=int, help="pretraining steps per row (within one "
                                                  "epoch)")
    ab.add_argument("--out", default="runs", help="runs and results go to "
                                                   "OUT/<preset>-ablation (default: runs)")
    ab.add_argument("--data-dir", help="data root")
    ab.add_argument("--again", action="store_true", help="re-run rows already measured")
    ab.add_argument("--no-progress", action="store_true", help="no progress bars")
    ab.add_argument("overrides", nargs="*", metavar="key=value",
                    help="changes to the full model, applied to every row")

    vw = sub.add_parser("views", help="draw sample view pairs: a grid of images of the "
                                      "pretraining set, each with its test view and two "
                                      "augmented views", epilog=EPILOG_VIEWS,
                        formatter_class=argparse.RawDescriptionHelpFormatter, intermixed=True)
    vw.add_argument("--preset", help="a named configuration (see 'infomax presets'; default "
                                     "fmnist-tiny)")
    vw.add_argument("--config", help="a YAML config file (e.g. a run's config.yaml)")
    vw.add_argument("--data", help="data set: %(names)s (default: the preset's data.name)"
                    ).names = _Names("data")
    vw.add_argument("--data-dir", help="data root")
    vw.add_argument("-o", "--output", required=True, help="the PNG file to write")
    vw.add_argument("--images", type=int, default=8, help="rows: images of the pretraining "
                                                          "set (8)")
    vw.add_argument("--seed", type=int, default=0, help="chooses the images and draws the "
                                                        "views (0)")
    vw.add_argument("overrides", nargs="*", metavar="key=value")

    cf = sub.add_parser("config", help="print a resolved config, or every key",
                        intermixed=True)
    cf.add_argument("--preset", help="a named configuration (see 'infomax presets')")
    cf.add_argument("--config", help="a YAML config file (e.g. a run's config.yaml)")
    cf.add_argument("--method", help="%(names)s (method): with its published recipe"
                    ).names = _Names("method")
    cf.add_argument("--keys", action="store_true", help="list every key with its default")
    cf.add_argument("overrides", nargs="*", metavar="key=value")
    return p


def _pretrain(args: argparse.Namespace) -> int:
    from infomax.config import load_config_file, make_config

    flags = []
    for key, value in (("method", args.method), ("model.encoder", args.encoder),
                       ("data.name", args.data), ("data.augment", args.augment),
                       ("data.dir", args.data_dir), ("train.seed", args.seed),
                       ("train.out_dir", args.out), ("train.run_name", args.name),
                       ("train.devices", args.devices), ("train.num_nodes", args.num_nodes),
                       ("train.strategy", args.strategy), ("train.precision", args.precision),
                       ("train.sync_batchnorm", False if args.no_sync_batchnorm else None),
                       ("train.compile", args.compile or None),
                       ("train.skip_nonfinite", args.skip_nonfinite),
                       ("data.strict", args.strict_data or None)):
        if value is not None:
            flags.append(f"{key}={json.dumps(value) if isinstance(value, str) else value}")
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
    where = []
    if args.resume not in (None, "auto"):
        # A checkpoint resumed by path continues in its own folder (wherever the folder was
        # copied or moved to), unless --out, --name or an override say otherwise.
        folder = Path(args.resume).absolute().parent
        where = [f"train.out_dir={json.dumps(str(folder.parent))}",
                 f"train.run_name={json.dumps(folder.name)}"]
    cfg = make_config(preset, [*where, *args.overrides, *flags], base=base)
    # Imported once the config is good: torch and Lightning take seconds to load.
    from infomax.engine.loggers import check_loggers, log_locations
    from infomax.engine.train import check_devices, is_main_process, precision_note, pretrain

    check_devices(cfg)
    check_loggers(cfg)
    note = precision_note(cfg)
    if note and is_main_process():
        print(note, file=sys.stderr)
    if args.preset is None and base is None and is_main_process():
        # Said once the config is known to be good: a refused one gets its error line only.
        print("infomax: no --preset or --config given; using the fmnist-tiny preset",
              file=sys.stderr)
    try:
        run_dir = pretrain(cfg, resume=args.resume, progress=not args.no_progress,
                           overwrite=args.overwrite)
    except TrainingInterrupted as e:
        if is_main_process():
            print(f"infomax: {e}; {cfg.run_dir / 'last.ckpt'} written, summary.json says "
                  f"interrupted; continue with 'infomax pretrain --resume "
                  f"{cfg.run_dir / 'last.ckpt'}'", file=sys.stderr)
        return e.exit_code
    if not is_main_process():
        return 0  # the main process reports
    summary = json.loads((run_dir / "summary.json").read_text())
    online = summary["online"]
    print(f"run folder:      {run_dir}")
    print(f"last checkpoint: {summary['last_checkpoint']}")
    if summary["best_checkpoint"]:
        print(f"best checkpoint: {run_dir / Path(summary['best_checkpoint']).name}")
    if online:
        print("online probes:   " + ", ".join(f"{k.split('/')[1]} {100 * v:.2f}%"
                                                  for k, v in sorted(online.items())))
    print(f"logs:            {log_locations(cfg, run_dir)}")
    return 0


def _probe(args: argparse.Namespace) -> int:
    from infomax.engine.probe import run_probe
    from infomax.engine.signals import stop_at_once

    if args.workers is not None and args.workers < 0:
        raise InfomaxError(f"--workers: {args.workers} must be >= 0")
    with stop_at_once("probe", "the checkpoint is unchanged and no result was written"):
        res = run_probe(args.checkpoint, data=args.data, data_dir=args.data_dir,
                        protocols=args.protocol, mlp=args.mlp,
                        pixel_baseline=args.pixel_baseline, epochs=args.epochs,
                        knn_k=args.knn_k, knn_temperature=args.knn_temperature,
                        num_workers=args.workers, progress=not args.no_progress,
                        cache=not args.no_cache, out=args.output,
                        label_fraction=args.label_fraction, label_seed=args.label_seed,
                        finetune_lr=args.finetune_lr,
                        finetune_batch_size=args.finetune_batch_size, device=args.device)
    transfer = f", pretrained on {res['pretrained_on']}" if res["transfer"] else ""
    print(f"data: {res['data']} ({res['train_images']} train / {res['test_images']} test "
          f"images, {res['feature_dim']}-d features{transfer})")
    if res["input"]["adapted"]:
        print(f"input: {res['input']['rule']}")
    labels = {"linear": "linear probe", "mlp": "MLP probe", "knn": "kNN",
              "pixels": "raw-pixel baseline"}
    for kind, label in labels.items():
        if kind in res:
            extra = (f"  (k {res[kind]['k']}, temperature {res[kind]['temperature']:g})"
                     if kind == "knn" else "")
            print(f"{label:>19}: top-1 {100 * res[kind]['top1']:.2f}%  "
                  f"top-5 {100 * res[kind]['top5']:.2f}%{extra}")
    for frac, r in res.get("fractions", {}).items():
        print(f"{'linear, ' + frac + ' labels':>19}: top-1 {100 * r['mean']:.2f}% "
              f"+- {100 * r['std']:.2f} ({len(r['draws'])} draws)")
    if "finetune" in res:
        r = res["finetune"]
        epochs = f"{r['epochs']} epoch{'s' * (r['epochs'] != 1)}"
        print(f"{'fine-tuned':>19}: top-1 {100 * r['top1']:.2f}%  top-5 {100 * r['top5']:.2f}%"
              f"  ({100 * r['label_fraction']:g}% labels: {r['labels']} images, {epochs}, "
              f"lr {r['lr']:g}, batch {r['batch_size']}, {r['device']})")
    print(f"result: {res['path']}")
    return 0


def _embed(args: argparse.Namespace) -> int:
    from infomax.eval.export import export_embeddings, export_image_embeddings

    if args.workers is not None and args.workers < 0:
        raise InfomaxError(f"--workers: {args.workers} must be >= 0")
    if args.images is not None:
        given = [flag for flag, value in (("--data", args.data), ("--data-dir", args.data_dir),
                                          ("--split", args.split)) if value is not None]
        if given:
            raise InfomaxError(f"--images and {'/'.join(given)} exclude each other: --images "
                               f"embeds image files, --data/--split a data set's splits; "
                               f"pass one of them")
        res = export_image_embeddings(args.checkpoint, args.images, args.output,
                                      device=args.device, num_workers=args.workers or 0,
                                      progress=not args.no_progress)
        skipped = (f" ({len(res.unreadable)} unreadable file"
                   f"{'s' if len(res.unreadable) > 1 else ''} skipped)" if res.unreadable else "")
        print(f"wrote {res.path}: {res.count} images{skipped}")
        return 0
    path, counts = export_embeddings(args.checkpoint, args.output,
                                     splits=args.split or ["train", "test"],
                                     data=args.data, data_dir=args.data_dir,
                                     num_workers=args.workers, progress=not args.no_progress,
                                     device=args.device)
    print(f"wrote {path}: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + " images")
    return 0


def _export(args: argparse.Namespace) -> int:
    from infomax.eval.model_export import export_encoder

    res = export_encoder(args.checkpoint, args.output, args.format)
    written = " and ".join(str(p) for p in res.files)
    what = {"torchvision": "weights under torchvision's names (fc excluded)",
            "timm": "weights under timm's names (no classifier)",
            "safetensors": "the encoder's weights, its config in the metadata and beside it",
            "onnx": f"onnxruntime reproduces the features (largest difference "
                    f"{res.max_difference:.1e})" if res.max_difference is not None else ""}
    print(f"wrote {written}: {what[res.format]}")
    print(f"input: {res.input}")
    print("load it with:")
    for line in res.code:
        print(line)
    return 0


def _report(args: argparse.Namespace) -> int:
    from infomax.report import write_report

    html = write_report(args.run_dir, checkpoint=args.checkpoint, data=args.data,
                        data_dir=args.data_dir, out_dir=args.output,
                        progress=not args.no_progress, device=args.device)
    print(f"report: {html}")
    return 0


def _data(args: argparse.Namespace) -> int:
    from infomax.config import DataConfig
    from infomax.data.source import DataSource

    if args.name == "shard":
        return _shard(args)
    extra = [a for a in (args.source, args.out) if a is not None]
    given = [f for f, v in (("--shard-size", args.shard_size != 1000),
                            ("--copy-files", args.copy_files),
                            ("--overwrite", args.overwrite)) if v]
    if extra or given:
        raise InfomaxError(f"infomax data {args.name} takes no "
                           f"{extra[0] if extra else given[0]!r}; to write shards: infomax "
                           f"data shard SOURCE OUT [--shard-size N]")
    if args.data_dir and not args.no_download:
        Path(args.data_dir).expanduser().mkdir(parents=True, exist_ok=True)  # to download into
    source = DataSource.resolve(DataConfig(name=args.name, dir=args.data_dir,
                                           download=not args.no_download))
    name, info = source.name, source.info
    if not source.labeled:
        pretrain = source.build("pretrain")
        print(getattr(pretrain, "description", "") or f"{name}: unlabeled")
        print(f"{name}: unlabeled, {info.channels}-channel, {info.image_size} px views; "
              f"pretrain {len(pretrain)} images (no train/test splits: probes need a "
              f"labeled source, data.eval)")
        return 0
    sizes = {split: len(source.build(split)) for split in ("pretrain", "train", "test")}
    print(f"{name}: {info.num_classes} classes, {info.channels}-channel, {info.image_size} px "
          f"views; pretrain {sizes['pretrain']}, train {sizes['train']}, test {sizes['test']} "
          f"images")
    return 0


def _shard(args: argparse.Namespace) -> int:
    from infomax.config import DataConfig
    from infomax.data.shards import write_shards
    from infomax.data.source import DataSource

    if args.source is None or args.out is None:
        raise InfomaxError("infomax data shard needs SOURCE and OUT, e.g. 'infomax data shard "
                           "fashion-mnist shards/fmnist --shard-size 1000'")
    if args.shard_size < 1:
        raise InfomaxError(f"--shard-size: {args.shard_size} must be >= 1")
    if args.data_dir and not args.no_download:
        Path(args.data_dir).expanduser().mkdir(parents=True, exist_ok=True)
    source = DataSource.resolve(DataConfig(name=args.source, dir=args.data_dir,
                                           download=not args.no_download))
    index = write_shards(source, args.out, shard_size=args.shard_size,
                         progress=not args.no_progress, overwrite=args.overwrite,
                         copy_files=args.copy_files)
    parts = []
    for split, entry in index["splits"].items():
        if "same_as" in entry:
            parts.append(f"{split} = {entry['same_as']}")
        else:
            n = len(entry["shards"])
            parts.append(f"{split} {entry['samples']} images in {n} shard{'s' * (n > 1)}")
    classes = f"{index['num_classes']} classes" if index["num_classes"] else "no labels"
    print(f"wrote {Path(args.out).expanduser().absolute()}: {', '.join(parts)}; {classes}; "
          f"train with --data webdataset:{Path(args.out).expanduser().absolute()}")
    return 0


def _check_device(device: str | None) -> str | None:
    """Refuse a --device torch cannot use here, before any measurement starts; "auto"
    becomes the device it means (None stays None: the default)."""
    from infomax.devices import resolve_device

    return None if device is None else str(resolve_device(device))


def _step_flags(parser: argparse.ArgumentParser, *, presets: list[str],
                precisions: list[str], steps: int, warmup: int, steps_help: str) -> None:
    """The flags ``bench speed`` and ``bench profile`` share: which train steps to run."""
    parser.add_argument("--presets", nargs="+", default=presets)
    parser.add_argument("--precision", nargs="+", default=precisions,
                        choices=("32", "bf16-mixed", "16-mixed"))
    parser.add_argument("--batch-size", type=int,
                        help="images per step (default: each preset's)")
    parser.add_argument("--steps", type=int, default=steps, help=steps_help)
    parser.add_argument("--warmup", type=int, default=warmup,
                        help=f"untimed steps before them ({warmup})")
    parser.add_argument("--device", help="default: cuda when available, else cpu")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads")
    parser.add_argument("--json", help="write every number to this JSON file")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="applied to every preset, e.g. train.channels_last=false")


def _check_step_flags(args: argparse.Namespace, *extra: tuple[str, Any, int]) -> None:
    """The flags bench speed and bench profile share (and ``extra`` (flag, value, lowest)
    checks) and the device; sets the thread count."""
    import torch

    for name, value, low in (("--steps", args.steps, 1), ("--warmup", args.warmup, 0),
                             ("--batch-size", args.batch_size, 2),
                             ("--threads", args.threads, 1), *extra):
        if value is not None and value < low:
            raise InfomaxError(f"{name}: {value} must be >= {low}")
    args.device = _check_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    on_cuda = torch.cuda.is_available() and (args.device or "cuda").startswith("cuda")
    if "16-mixed" in args.precision and not on_cuda:
        raise InfomaxError("--precision 16-mixed needs a CUDA GPU; use 32 or bf16-mixed")


def _bench_profile(args: argparse.Namespace, command: str) -> int:
    from infomax.engine import bench

    _check_step_flags(args, ("--top", args.top, 1))
    out_json = Path(args.json) if args.json else None
    out = bench.profile(args.presets, args.precision, overrides=args.overrides,
                        batch_size=args.batch_size, steps=args.steps, warmup=args.warmup,
                        device=args.device, top=args.top, trace=args.trace,
                        json_path=out_json, command=command)
    for i, r in enumerate(out["results"]):
        print(("\n" if i else "") + bench.format_profile(r))
        if r["trace"]:
            print(f"trace: {r['trace']}")
    if out_json:
        print(f"\nwrote {out_json}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from infomax.engine import bench

    if args.bench is None:
        raise InfomaxError("say what to measure: 'infomax bench speed', 'infomax bench "
                           "profile' or 'infomax bench loader'")
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    if args.bench == "profile":
        return _bench_profile(args, command)
    out_json = Path(args.json) if args.json else None
    if args.bench == "speed":
        if args.max_seconds is not None and not args.max_seconds > 0:
            raise InfomaxError(f"--max-seconds: {args.max_seconds} must be > 0")
        _check_step_flags(args, *(("--gemm-sizes", n, 1) for n in args.gemm_sizes or ()))
        out = bench.speed(args.presets, args.precision, overrides=args.overrides,
                          batch_size=args.batch_size, steps=args.steps, warmup=args.warmup,
                          max_seconds=args.max_seconds, device=args.device,
                          gemm_sizes=args.gemm_sizes, json_path=out_json, command=command)
        print(bench.format_table(out["results"]))
        print()
        for r in out["results"]:
            print(bench.breakdown_line(r))
    else:
        for w in args.workers:
            if w < 0:
                raise InfomaxError(f"--workers: {w} must be >= 0")
        if args.batches < 1:
            raise InfomaxError(f"--batches: {args.batches} must be >= 1")
        args.device = _check_device(args.device)
        overrides = list(args.overrides)
        if args.data_dir:
            overrides.append(f"data.dir={json.dumps(args.data_dir)}")
        if args.data is not None or args.decoders is not None:
            if args.data is None:
                raise InfomaxError("--decoders: name the images with --data <folder or "
                                   "webdataset:<shards>>")
            for name, values, low in (("--image-size", args.image_size, 32),
                                      ("--batch-size", [args.batch_size], 1),
                                      ("--repeats", [args.repeats], 1)):
                bad = [v for v in values if v < low]
                if bad:
                    raise InfomaxError(f"{name}: {bad[0]} must be >= {low}")
            out = bench.decoders(args.data, args.image_size,
                                 args.decoders or ["pillow", "torchvision", "shards"],
                                 args.workers, preset=args.preset, overrides=overrides,
                                 batch_size=args.batch_size, batches=args.batches,
                                 repeats=args.repeats, device=args.device,
                                 json_path=out_json, command=command)
            print(bench.format_decoder_table(out))
            if out_json:
                print(f"\nwrote {out_json}")
            return 0
        out = bench.loader(args.preset, args.workers, overrides=overrides,
                           batches=args.batches, device=args.device, json_path=out_json,
                           command=command)
        print(bench.format_loader_table(out))
    if out_json:
        print(f"\nwrote {out_json}")
    return 0


def _presets(args: argparse.Namespace) -> int:
    from infomax.config import make_config, preset_names

    for name in preset_names():
        c = make_config(name)
        # ndf, n_rkhs and depth size the AMDIM encoder; another encoder is named instead.
        if c.model.encoder == "amdim":
            model = f"ndf {c.model.ndf:<4} n_rkhs {c.model.n_rkhs:<5} depth {c.model.n_depth:<3}"
        else:
            model = f"{c.model.encoder:<31}"
        method = f"  method {c.method}" if c.method != "amdim" else ""
        print(f"{name:<20} {c.data.name:<24} {model} batch {c.data.batch_size:<4} "
              f"epochs {c.train.epochs}{method}")
    return 0


def _config(args: argparse.Namespace) -> int:
    from infomax.config import describe_keys, load_config_file, make_config

    if args.keys:
        print(describe_keys())
        return 0
    base = load_config_file(args.config) if args.config else None
    method = [f"method={args.method}"] if args.method else []
    print(make_config(args.preset, [*args.overrides, *method], base=base).to_yaml(), end="")
    return 0


def _views(args: argparse.Namespace) -> int:
    from infomax.config import load_config_file, make_config

    if args.images < 1:
        raise InfomaxError(f"--images: {args.images} must be >= 1")
    if not 0 <= args.seed < 2**32:
        raise InfomaxError(f"--seed: {args.seed} must be in 0..{2**32 - 1}")
    if Path(args.output).suffix.lower() != ".png":
        raise InfomaxError(f"-o: {args.output} is not a .png file name; the grid is a PNG "
                           f"picture")
    flags = [f"{key}={json.dumps(value)}" for key, value in
             (("data.name", args.data), ("data.dir", args.data_dir)) if value is not None]
    base = load_config_file(args.config) if args.config else None
    preset = args.preset if args.preset is not None or base is not None else "fmnist-tiny"
    cfg = make_config(preset, [*args.overrides, *flags], base=base)
    from infomax.data.view_grid import draw_view_grid  # torch: once the config is good

    print(f"wrote {draw_view_grid(cfg, args.output, images=args.images, seed=args.seed)}")
    return 0


def _ablate(args: argparse.Namespace) -> int:
    from infomax.errors import ConfigError
    from infomax.studies.ablation import AblationOptions, run

    # "--rows a b key=value": the key=value items that --rows or --seeds took are overrides.
    rows = [r for r in args.rows or [] if "=" not in r]
    seed_texts = [s for s in args.seeds or [] if "=" not in s]
    overrides = [a for a in [*(args.rows or []), *(args.seeds or [])] if "=" in a]
    overrides += args.overrides
    bad = [s for s in seed_texts if not s.isdigit()]
    if bad:
        raise ConfigError(f"--seeds: {bad[0]!r} is not a seed; give integers >= 0, e.g. "
                          f"--seeds 0 1 2")
    if args.data_dir:
        overrides.append(f"data.dir={args.data_dir}")
    return run(AblationOptions(args.preset, rows=tuple(rows) or None,
                               seeds=tuple(int(s) for s in seed_texts) or None,
                               epochs=args.epochs, steps=args.steps, out=args.out,
                               overrides=tuple(overrides), again=args.again,
                               progress=not args.no_progress))


def _study(args: argparse.Namespace) -> int:
    if args.study is None:
        raise InfomaxError("name a study: infomax study gaussian | tschannen (see --help)")
    if args.study == "gaussian":
        from infomax.studies import gaussian

        return gaussian.run(gaussian.GaussianOptions(
            dim=args.dim, mi=tuple(args.mi),
            estimators=tuple(args.estimators or gaussian.GaussianOptions.estimators),
            critic=args.critic, batch_size=args.batch_size, steps=args.steps,
            repeats=args.repeats, seed=args.seed, quick=args.quick, output=args.output,
            progress=not args.no_progress))
    from infomax.studies import tschannen

    return tschannen.run(tschannen.TschannenOptions(
        data=args.data, data_dir=args.data_dir, experiments=tuple(args.experiments),
        seeds=args.seeds, iterations=args.iterations, quick=args.quick, output=args.output,
        replot=args.replot, progress=not args.no_progress))


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
    handlers = {"pretrain": _pretrain, "probe": _probe, "presets": _presets, "data": _data,
                "config": _config, "bench": _bench, "embed": _embed, "export": _export,
                "report": _report,
                "study": _study, "ablate": _ablate, "views": _views}
    try:
        return handlers[args.command](args)
    except TrainingInterrupted as e:  # a study or benchmark stopped by a signal
        print(f"infomax: {e}; what was finished is kept: run the same command again to "
              f"continue", file=sys.stderr)
        return e.exit_code
    except StoppedBySignal as e:  # a probe stopped by a signal, with nothing written
        print(f"infomax: {e}", file=sys.stderr)
        return e.exit_code
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
