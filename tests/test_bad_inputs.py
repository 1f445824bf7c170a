"""Every bad value a user can give, across the subcommands: one line on stderr that names
the key, the value and what is valid, a non-zero exit status, no traceback, and no
expensive work (training, data loading, measurements) started before the refusal.

The runs are in-process (``infomax.cli.main``) with the expensive entry points replaced by
tripwires; a few go through ``python -m infomax`` to show that nothing escapes at the
process level either."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import infomax.engine.bench
import infomax.engine.probe
import infomax.engine.train
import infomax.eval.export
import infomax.eval.features
import infomax.studies.gaussian
import infomax.studies.tschannen
from infomax.cli import main

SRC = Path(infomax.cli.__file__).resolve().parents[1]
CPUS = os.cpu_count() or 1
PRESETS = ["cifar10-large", "cifar10-small", "cifar100-small", "fmnist-tiny", "stl10"]
METHODS = ["amdim", "dim", "cpc", "cmc", "instdisc", "moco", "simclr", "byol", "swav"]
DATA_SETS = ["fashion-mnist", "mnist", "cifar10", "cifar100", "stl10", "imagefolder:<path>",
             "imagenet:<root>"]

# The entry points of the expensive work; a refused command must not reach any of them.
EXPENSIVE = [
    (infomax.engine.train, "pretrain"),
    (infomax.engine.bench, "measure_gemm_peak"),
    (infomax.engine.bench, "measure_train_step"),
    (infomax.engine.bench, "measure_loader"),
    (infomax.engine.bench, "profile_train_step"),
    (infomax.engine.probe, "checkpoint_features"),
    (infomax.eval.export, "checkpoint_features"),
    (infomax.eval.features, "checkpoint_features"),
    (infomax.studies.gaussian, "train_traces"),
    (infomax.studies.tschannen, "_load_split"),
]

# (id, command line, exit status, words the error line must hold: the key, the value and,
# where there is a finite set or a range, what is valid). {tmp}, {run}, ... are filled in
# by the ``paths`` fixture.
BAD = [
    # -- pretrain: flags and key=value overrides, refused before the data is read
    ("negative-batch-size", ["pretrain", "data.batch_size=-4"], 2,
     ["data.batch_size", "-4", ">= 2"]),
    ("unknown-preset", ["pretrain", "--preset", "cifar11"], 2, ["preset", "cifar11", *PRESETS]),
    ("unknown-data-set", ["pretrain", "data.name=imagenette"], 2,
     ["data.name", "imagenette", *DATA_SETS]),
    ("unknown-data-flag", ["pretrain", "--data", "imagenette"], 2,
     ["data.name", "unknown data set", "imagenette", *DATA_SETS]),
    ("unknown-data-flag-after-override", ["pretrain", "train.epochs=1", "--data", "cifar11"], 2,
     ["data.name", "unknown data set", "cifar11", *DATA_SETS]),
    ("imagefolder-without-path", ["pretrain", "data.name=imagefolder: "], 2,
     ["data.name", "imagefolder:", "imagefolder:<path>"]),
    ("bad-precision-flag", ["pretrain", "--precision", "fp8"], 2,
     ["train.precision", "fp8", "32", "bf16-mixed", "16-mixed"]),
    ("cpu-devices-beyond-cores", ["pretrain", "train.accelerator=cpu", "--devices",
                                  str(CPUS + 1)], 2,
     ["train.devices", str(CPUS + 1), f"1..{CPUS}"]),
    ("devices-beyond-machine", ["pretrain", "--devices", "4096"], 2,
     ["train.devices", "4096", "1.."]),
    ("zero-devices", ["pretrain", "--devices", "0"], 2, ["train.devices", "0", ">= 1"]),
    ("zero-nodes", ["pretrain", "--num-nodes", "0"], 2, ["train.num_nodes", "0", ">= 1"]),
    ("bad-strategy", ["pretrain", "--strategy", "horovod"], 2,
     ["train.strategy", "horovod", "auto", "ddp", "ddp_spawn", "ddp_notebook"]),
    ("unknown-method", ["pretrain", "--method", "nosuch"], 2, ["method", "nosuch", *METHODS]),
    ("swav-one-large-crop", ["pretrain", "--method", "swav", "swav.large_crops=1"], 2,
     ["swav.large_crops=1", "at least 2 large crops", "swav.large_crops to 2 or more"]),
    ("swav-small-scale-decreasing", ["pretrain", "--method", "swav",
                                     "swav.small_scale=[0.14, 0.05]"], 2,
     ["swav.small_scale", "[0.14, 0.05]", "0 < low <= high <= 1"]),
    ("swav-small-size-above-the-image", ["pretrain", "--method", "swav", "data.image_size=32",
                                         "swav.small_size=64"], 2,
     ["swav.small_size", "64", "larger than the images", "32"]),
    ("swav-small-size-amdim-cannot-take", ["pretrain", "--method", "swav", "data.image_size=64",
                                           "swav.small_size=32"], 2,
     ["swav.small_size", "32", "amdim", "64 px inputs only", "null"]),
    ("unknown-encoder", ["pretrain", "--method", "simclr", "--encoder", "vgg16"], 2,
     ["model.encoder", "vgg16", "amdim", "resnet18", "resnet34", "resnet50"]),
    ("amdim-on-resnet", ["pretrain", "--encoder", "resnet18"], 2,
     ["model.encoder", "resnet18", "model.encoder=amdim", "--method"]),
    ("negative-seed", ["pretrain", "--seed", "-1"], 2, ["train.seed", "-1", "0..4294967295"]),
    ("unknown-key", ["pretrain", "model.width=3"], 2, ["model.width", "ndf", "n_rkhs", "n_depth"]),
    ("zero-epochs", ["pretrain", "train.epochs=0"], 2, ["train.epochs", "0", ">= 1"]),
    # -- the config parser, through 'infomax config'
    ("unknown-section", ["config", "modle.ndf=3"], 2, ["modle", "model", "optim", "train"]),
    ("int-of-wrong-type", ["config", "model.ndf=wide"], 2, ["model.ndf", "wide", "integer >= 1"]),
    ("float-of-wrong-type", ["config", "optim.lr=fast"], 2, ["optim.lr", "fast", "number >= 0.0"]),
    ("bool-of-wrong-type", ["config", "model.use_bn=maybe"], 2,
     ["model.use_bn", "maybe", "true or false"]),
    ("list-for-a-choice", ["config", "train.precision=[32]"], 2,
     ["train.precision", "[32]", "32, bf16-mixed, 16-mixed"]),
    ("infinite-number", ["config", "optim.lr=.inf"], 2, ["optim.lr", "inf", "finite"]),
    ("one-beta", ["config", "optim.betas=[0.9]"], 2,
     ["optim.betas", "[0.9]", "two numbers in [0, 1)"]),
    ("decreasing-milestones", ["config", "probe.milestones=[9,3]"], 2,
     ["probe.milestones", "[9, 3]", "increasing", ">= 1"]),
    ("unknown-augment", ["config", "data.augment=heavy"], 2,
     ["data.augment", "heavy", "plain, randaugment, fast-autoaugment"]),
    ("unknown-augment-flag", ["pretrain", "--augment", "heavy"], 2,
     ["data.augment", "heavy", "plain, randaugment, fast-autoaugment"]),
    ("unknown-augment-policy", ["config", "data.augment_policy=svhn"], 2,
     ["data.augment_policy", "svhn", "auto, cifar10, imagenet"]),
    ("unknown-estimator", ["config", "method=dim", "dim.estimator=mine"], 2,
     ["dim.estimator", "mine", "jsd, infonce, dv"]),
    ("unknown-accelerator", ["config", "train.accelerator=tpu"], 2,
     ["train.accelerator", "tpu", "auto, cpu, gpu, cuda, mps"]),
    ("section-as-value", ["config", "model=3"], 2, ["model", "3", "mapping"]),
    ("config-unknown-preset", ["config", "--preset", "nope"], 2, ["preset", "nope", *PRESETS]),
    ("override-without-equals", ["config", "model.ndf"], 2, ["model.ndf", "key=value"]),
    ("override-empty-key", ["config", "model..ndf=3"], 2, ["model..ndf=3", "empty key"]),
    # -- config files
    ("config-file-bad-yaml", ["pretrain", "--config", "{bad_yaml}"], 2,
     ["bad.yaml", "not valid YAML", "line 2"]),
    ("config-file-list", ["pretrain", "--config", "{list_yaml}"], 2,
     ["list.yaml", "list [1, 2]", "mapping"]),
    ("config-file-unknown-key", ["pretrain", "--config", "{unknown_yaml}"], 2,
     ["model.depth", "n_depth"]),
    ("config-file-bad-value", ["pretrain", "--config", "{value_yaml}"], 2,
     ["data.batch_size", "'many'", "integer >= 2"]),
    ("config-file-missing", ["pretrain", "--config", "{tmp}/none.yaml"], 2,
     ["none.yaml", "does not exist"]),
    # -- probe, embed, report
    ("probe-missing-checkpoint", ["probe", "{tmp}/none.ckpt"], 2, ["none.ckpt", "does not exist"]),
    ("probe-unknown-protocol", ["probe", "{tmp}/none.ckpt", "--protocol", "linear", "svm"], 2,
     ["--protocol", "svm", "linear", "mlp", "knn", "fractions"]),
    ("probe-zero-epochs", ["probe", "{tmp}/none.ckpt", "--epochs", "0"], 2,
     ["--epochs", "0", ">= 1"]),
    ("probe-zero-knn-k", ["probe", "{tmp}/none.ckpt", "--knn-k", "0"], 2, ["--knn-k", "0", ">= 1"]),
    ("probe-negative-workers", ["probe", "{tmp}/none.ckpt", "--workers", "-1"], 2,
     ["--workers", "-1", ">= 0"]),
    ("embed-missing-checkpoint", ["embed", "{tmp}/none.ckpt", "-o", "{tmp}/f.npz"], 2,
     ["none.ckpt", "does not exist"]),
    ("embed-bad-extension", ["embed", "{tmp}/none.ckpt", "-o", "{tmp}/f.csv"], 2,
     ["-o", "f.csv", ".npz", ".parquet"]),
    ("embed-bad-split", ["embed", "{tmp}/none.ckpt", "-o", "{tmp}/f.npz", "--split", "val"], 2,
     ["--split", "val", "train", "test"]),
    ("probe-unknown-device", ["probe", "{tmp}/none.ckpt", "--device", "tpu"], 2,
     ["--device", "'tpu'", "use auto or cpu"]),
    ("embed-unknown-device", ["embed", "{tmp}/none.ckpt", "-o", "{tmp}/f.npz", "--device",
                              "cuda:99"], 2, ["--device", "'cuda:99'", "use auto or cpu"]),
    ("report-unknown-device", ["report", "{run}", "--device", "gpu"], 2,
     ["--device", "'gpu'", "use auto or cpu"]),
    ("report-missing-run", ["report", "{tmp}/none-run"], 2, ["none-run", "does not exist"]),
    ("report-missing-last-checkpoint", ["report", "{run}"], 2, ["last.ckpt", "does not exist"]),
    ("report-missing-checkpoint", ["report", "{run}", "--checkpoint", "{tmp}/none.ckpt"], 2,
     ["--checkpoint", "none.ckpt", "does not exist"]),
    # -- data
    ("data-unknown", ["data", "imagenette"], 2, ["imagenette", *DATA_SETS]),
    ("data-imagefolder-without-path", ["data", "imagefolder:"], 2, ["imagefolder:", "<path>"]),
    # -- bench
    ("bench-nothing", ["bench"], 2, ["bench speed", "bench loader"]),
    ("bench-unknown-preset", ["bench", "speed", "--presets", "cifar11"], 2, ["cifar11", *PRESETS]),
    ("bench-bad-precision", ["bench", "speed", "--precision", "8"], 2,
     ["--precision", "8", "32", "bf16-mixed", "16-mixed"]),
    ("bench-zero-steps", ["bench", "speed", "--steps", "0"], 2, ["--steps", "0", ">= 1"]),
    ("bench-negative-max-seconds", ["bench", "speed", "--max-seconds", "-1"], 2,
     ["--max-seconds", "-1", "> 0"]),
    ("bench-zero-gemm-size", ["bench", "speed", "--gemm-sizes", "64", "0"], 2,
     ["--gemm-sizes", "0", ">= 1"]),
    ("bench-unknown-device", ["bench", "speed", "--device", "tpu"], 2, ["--device", "tpu", "cpu"]),
    ("bench-bad-override", ["bench", "speed", "data.batch_size=1"], 2,
     ["data.batch_size", "1", ">= 2"]),
    ("bench-profile-zero-top", ["bench", "profile", "--top", "0"], 2, ["--top", "0", ">= 1"]),
    ("bench-profile-unknown-preset", ["bench", "profile", "--presets", "cifar11"], 2,
     ["cifar11", *PRESETS]),
    ("bench-profile-fp16-on-cpu", ["bench", "profile", "--precision", "16-mixed", "--device",
                                   "cpu"], 2, ["--precision", "16-mixed", "CUDA"]),
    ("bench-loader-negative-workers", ["bench", "loader", "--workers", "0", "-1"], 2,
     ["--workers", "-1", ">= 0"]),
    ("bench-loader-zero-batches", ["bench", "loader", "--batches", "0"], 2,
     ["--batches", "0", ">= 1"]),
    ("bench-loader-unknown-device", ["bench", "loader", "--device", "npu:0"], 2,
     ["--device", "npu:0", "cpu"]),
    # -- study
    ("study-nothing", ["study"], 2, ["gaussian", "tschannen"]),
    ("study-unknown", ["study", "infomin"], 2, ["infomin", "gaussian", "tschannen"]),
    ("gaussian-zero-dim", ["study", "gaussian", "--dim", "0"], 2, ["--dim", "0", "at least 1"]),
    ("gaussian-negative-mi", ["study", "gaussian", "--mi", "2", "-1"], 2,
     ["--mi", "-1.0", "positive"]),
    ("gaussian-batch-of-one", ["study", "gaussian", "--batch-size", "1"], 2,
     ["--batch-size", "1", "at least 2"]),
    ("gaussian-zero-repeats", ["study", "gaussian", "--repeats", "0"], 2,
     ["--repeats", "0", "at least 1"]),
    ("gaussian-unknown-critic", ["study", "gaussian", "--critic", "deep"], 2,
     ["--critic", "deep", "inner", "bilinear", "separable", "concat"]),
    ("gaussian-unwritable-output", ["study", "gaussian", "--steps", "1", "-o",
                                    "/proc/infomax-study/out"], 1,
     ["/proc/infomax-study", "No such file or directory"]),
    ("tschannen-colour-data", ["study", "tschannen", "--data", "cifar10"], 2,
     ["--data", "cifar10", "mnist", "fashion-mnist"]),
    ("tschannen-zero-seeds", ["study", "tschannen", "--seeds", "0"], 2,
     ["--seeds", "0", "at least 1"]),
    # -- the command line itself
    ("unknown-command", ["frobnicate"], 2, ["frobnicate", "pretrain", "probe"]),
    ("int-flag-not-int", ["pretrain", "--seed", "abc"], 2, ["--seed", "abc", "int"]),
    ("unknown-option", ["pretrain", "--bogus"], 2, ["--bogus"]),
    ("abbreviated-option", ["pretrain", "--pres", "fmnist-tiny"], 2,
     ["unrecognized arguments: --pres"]),
    ("abbreviated-flag", ["pretrain", "--no-prog"], 2, ["unrecognized arguments: --no-prog"]),
    ("ambiguous-abbreviation", ["pretrain", "--pre", "32"], 2, ["unrecognized arguments: --pre"]),
]


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Files the bad commands name, the working directory moved to ``tmp_path``, and the
    expensive entry points replaced by tripwires."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INFOMAX_DATA", raising=False)
    for module, name in EXPENSIVE:
        def tripwire(*args, _name=f"{module.__name__}.{name}", **kwargs):
            raise AssertionError(f"{_name} ran before the bad input was refused")
        monkeypatch.setattr(module, name, tripwire)
    files = {"bad_yaml": "model: {ndf: [1, 2\n", "list_yaml": "- 1\n- 2\n",
             "unknown_yaml": "model: {depth: 3}\n", "value_yaml": "data: {batch_size: many}\n"}
    out = {"tmp": str(tmp_path)}
    for key, text in files.items():
        path = tmp_path / key.replace("_", ".")
        path.write_text(text)
        out[key] = str(path)
    run = tmp_path / "run"  # a run folder whose training log exists but has no checkpoint
    (run / "csv").mkdir(parents=True)
    (run / "csv" / "metrics.csv").write_text("epoch,step\n")
    out["run"] = str(run)
    return out


def test_the_table_is_large_and_its_ids_distinct():
    assert len(BAD) >= 35
    assert len({case[0] for case in BAD}) == len(BAD)
    commands = {argv[0] for _, argv, _, _ in BAD}
    assert {"pretrain", "probe", "embed", "report", "config", "data", "bench",
            "study"} <= commands


@pytest.mark.parametrize("argv, code, words", [pytest.param(a, c, w, id=i) for i, a, c, w in BAD])
def test_bad_input_is_refused_in_one_line(argv, code, words, paths, capsys):
    rc = main([token.format(**paths) for token in argv])
    out, err = capsys.readouterr()
    assert rc == code, err
    assert "Traceback" not in out + err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("infomax: error: "), err
    for word in words:
        assert word in err, (word, err)


def test_pretrain_without_preset_still_says_it_uses_fmnist_tiny(paths, capsys, monkeypatch):
    """The notice that used to precede the error line is printed once the config passes."""
    seen = []

    def stop(cfg, **kwargs):
        seen.append(cfg)
        raise KeyboardInterrupt

    monkeypatch.setattr(infomax.engine.train, "pretrain", stop)
    rc = main(["pretrain", "train.accelerator=cpu"])
    _, err = capsys.readouterr()
    assert rc == 130 and seen and seen[0].preset == "fmnist-tiny"
    assert err.splitlines() == [
        "infomax: no --preset or --config given; using the fmnist-tiny preset",
        "infomax: interrupted"]


# (command line, exit status, the exact error line), run as separate processes. The
# probe one imports torch and Lightning first, whose import-time warnings would also land
# on stderr.
PROCESS = [
    (["probe", "none.ckpt"], 2,
     "infomax: error: checkpoint none.ckpt does not exist; pass the path of a .ckpt file "
     "written by 'infomax pretrain' (e.g. runs/<name>/last.ckpt)"),
    (["pretrain", "--config", "list.yaml"], 2,
     "infomax: error: config file list.yaml holds list [1, 2], not a mapping of keys like "
     "'model: {ndf: 64}'"),
    (["config", "data.name=imagenette"], 2,
     "infomax: error: data.name: unknown data set 'imagenette'; valid names: fashion-mnist, "
     "mnist, cifar10, cifar100, stl10, imagefolder:<path>, imagenet:<root>, webdataset:<shards>"),
    (["pretrain", "--data", "imagenette", "--out", "runs"], 2,
     "infomax: error: data.name: unknown data set 'imagenette'; valid names: fashion-mnist, "
     "mnist, cifar10, cifar100, stl10, imagefolder:<path>, imagenet:<root>, webdataset:<shards>"),
    (["pretrain", "--pres", "fmnist-tiny"], 2,
     "infomax: error: unrecognized arguments: --pres (see 'infomax --help')"),
    (["probe", "none.ckpt", "--knn-k", "many"], 2,
     "infomax: error: argument --knn-k: invalid int value: 'many' (see 'infomax probe --help')"),
]


@pytest.mark.parametrize("argv, code, line", PROCESS, ids=[" ".join(p[0]) for p in PROCESS])
def test_python_m_infomax_exits_without_traceback(argv, code, line, tmp_path):
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run([sys.executable, "-m", "infomax", *argv], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == code
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [line]
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == [tmp_path / "list.yaml"]  # no run folder was made


# Inputs that used to be taken silently, with a wrong result: each is refused in one line
# naming what is wrong, and nothing is written (no run folder, no result file). {tmp} and
# the files are the ``paths`` fixture's, with ``SILENT_FILES`` added.
SILENT_FILES = {"empty.yaml": "", "comments.yaml": "# only comments\n\n   \n",
                "null.yaml": "null\n", "section.yaml": "train: 5\n",
                "twice.yaml": "train:\n  epochs: 2\n  seed: 1\n  epochs: 300\n",
                "epochs.yaml": "train: {epochs: 2}\n"}
SILENT = [
    # a section given a plain value, then a key of it from another source
    ("section-scalar-then-flag", ["pretrain", "--preset", "fmnist-tiny", "train=5", "--seed",
                                  "1"],
     "train: expected a mapping of keys like train.epochs=300, got 5"),
    ("section-list-then-override", ["pretrain", "model=[1, 2]", "model.ndf=8"],
     "model: expected a mapping of keys like model.encoder=amdim, got [1, 2]"),
    ("section-scalar-in-config-file", ["pretrain", "--config", "{tmp}/section.yaml", "--seed",
                                       "1"],
     "train: expected a mapping of keys like train.epochs=300, got 5"),
    ("section-scalar-over-config-file", ["pretrain", "--config", "{tmp}/epochs.yaml",
                                         "train=null"],
     "train: expected a mapping of keys like train.epochs=300, got None"),
    ("method-section-scalar", ["config", "--preset", "fmnist-tiny", "simclr=1",
                               "simclr.embed_dim=8"],
     "simclr: expected a mapping of keys like simclr.embed_dim=128, got 1"),
    # config files: a key twice, nothing in them
    ("config-file-key-twice", ["pretrain", "--config", "{tmp}/twice.yaml"],
     "config file {tmp}/twice.yaml: the key train.epochs appears twice, at lines 2 and 4; "
     "keep one"),
    *((f"config-file-{kind}", ["pretrain", "--config", f"{{tmp}}/{kind}.yaml"],
       f"config file {{tmp}}/{kind}.yaml is empty; write the keys to set, like "
       f"'model: {{{{ndf: 64}}}}' ('{{{{}}}}' for the library's defaults)")
      for kind in ("empty", "comments", "null")),
    # a data root given that does not exist (without --no-download, 'infomax data' makes it
    # to download into)
    ("data-root-missing", ["data", "mnist", "--data-dir", "{tmp}/nope", "--no-download"],
     "data root {tmp}/nope does not exist (from --data-dir or data.dir); create it, or pass "
     "the folder that holds the data"),
    ("tschannen-data-root-missing", ["study", "tschannen", "--data-dir", "{tmp}/nope",
                                     "-o", "{tmp}/out"],
     "data root {tmp}/nope does not exist (from --data-dir or data.dir); create it, or pass "
     "the folder that holds the data"),
    # numbers that are not finite
    ("probe-nan-knn-temperature", ["probe", "{tmp}/none.ckpt", "--knn-temperature", "nan"],
     "argument --knn-temperature: must be a finite number, got 'nan' "
     "(see 'infomax probe --help')"),
    ("bench-infinite-max-seconds", ["bench", "speed", "--max-seconds", "inf"],
     "argument --max-seconds: must be a finite number, got 'inf' "
     "(see 'infomax bench speed --help')"),
    ("gaussian-nan-mi", ["study", "gaussian", "--mi", "2", "nan", "-o", "{tmp}/out"],
     "argument --mi: must be a finite number, got 'nan' (see 'infomax study gaussian --help')"),
    ("gaussian-minus-infinite-mi", ["study", "gaussian", "--mi=-inf"],
     "argument --mi: must be a finite number, got '-inf' "
     "(see 'infomax study gaussian --help')"),
]


def _files_under(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() if p.is_file() else "/"
            for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("argv, line", [pytest.param(a, w, id=i) for i, a, w in SILENT])
def test_what_used_to_be_taken_silently_is_refused(argv, line, paths, capsys):
    tmp = Path(paths["tmp"])
    for name, text in SILENT_FILES.items():
        (tmp / name).write_text(text)
    before = _files_under(tmp)
    rc = main([token.format(**paths) for token in argv])
    out, err = capsys.readouterr()
    assert (rc, out, err) == (2, "", f"infomax: error: {line.format(**paths)}\n")
    assert _files_under(tmp) == before  # no run folder, no output folder, no file


def test_pretrain_refuses_a_data_root_that_does_not_exist(tmp_path, monkeypatch, capsys):
    """Given by --data-dir or data.dir, it is not replaced by a system folder or a
    download elsewhere. Refused when the data are resolved (real pretraining, to there):
    no config.yaml, checkpoint or log is written. (engine.train makes the run folder
    itself first: an empty folder may be left.)"""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INFOMAX_DATA", raising=False)
    for flag in (["--data-dir", str(tmp_path / "nope")], [f"data.dir={tmp_path / 'nope'}"]):
        rc = main(["pretrain", "--preset", "fmnist-tiny", "--no-progress", "--out",
                   str(tmp_path / "runs"), "train.accelerator=cpu", *flag])
        out, err = capsys.readouterr()
        assert (rc, out) == (2, "")
        assert err == (f"infomax: error: data root {tmp_path / 'nope'} does not exist (from "
                       f"--data-dir or data.dir); create it, or pass the folder that holds "
                       f"the data\n")
        assert not [p for p in tmp_path.rglob("*") if not p.is_dir()]
        assert not (tmp_path / "nope").exists()


def test_an_absolute_image_folder_does_not_need_the_data_root(tmp_path):
    from infomax.config import DataConfig
    from infomax.data.source import DataSource
    from infomax.errors import ConfigError, DataNotFoundError

    folder = tmp_path / "images"
    for split in ("train", "val"):
        (folder / split / "a").mkdir(parents=True)
    source = DataSource.resolve(DataConfig(name=f"imagefolder:{folder}", dir=str(tmp_path / "no")))
    assert source.name == f"imagefolder:{folder}"
    # a relative one is looked up under the root: refused when the root is missing
    with pytest.raises(DataNotFoundError, match="data root .* does not exist"):
        DataSource.resolve(DataConfig(name="imagefolder:images-elsewhere",
                                      dir=str(tmp_path / "no")))
    with pytest.raises(ConfigError, match="unknown data set 'imagenette'"):  # the name first
        DataSource.resolve(DataConfig(name="imagenette", dir=str(tmp_path / "no")))
    # the root from $INFOMAX_DATA or the default one is not refused (a download makes it)
    assert DataSource.resolve(DataConfig(name="mnist", dir=None)).name == "mnist"
    assert DataSource.resolve(DataConfig(name="mnist"), data_dir="").name == "mnist"


def _float_options(parser, path=()):
    """(subcommand path, option string, type) of every option of ``parser`` and its
    subcommands whose values are numbers with a fraction (type float or _finite_float)."""
    import argparse

    import infomax.cli

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _float_options(sub, (*path, name))
        elif action.type in (float, infomax.cli._finite_float) and action.option_strings:
            yield path, action.option_strings[-1], action.type


FLOAT_OPTIONS = list(_float_options(infomax.cli._parser()))


def test_every_float_option_refuses_what_is_not_finite():
    assert {(" ".join(path), option) for path, option, _ in FLOAT_OPTIONS} >= {
        ("probe", "--knn-temperature"), ("bench speed", "--max-seconds"),
        ("study gaussian", "--mi")}
    assert all(tp is infomax.cli._finite_float for _, _, tp in FLOAT_OPTIONS), FLOAT_OPTIONS


@pytest.mark.parametrize("path, option", [(p, o) for p, o, _ in FLOAT_OPTIONS],
                         ids=[" ".join((*p, o)) for p, o, _ in FLOAT_OPTIONS])
@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "NaN", "+Infinity", "1e999"])
def test_a_float_option_given_a_non_finite_number_exits_in_one_line(path, option, text, paths,
                                                                    capsys):
    before = _files_under(Path(paths["tmp"]))
    rc = main([*path, f"{option}={text}"])
    out, err = capsys.readouterr()
    assert (rc, out) == (2, "")
    assert err == (f"infomax: error: argument {option}: must be a finite number, got "
                   f"{text!r} (see 'infomax {' '.join(path)} --help')\n")
    if not text.startswith("-"):  # "--opt -inf": argparse takes -inf for an option
        rc = main([*path, option, text])
        assert rc == 2 and capsys.readouterr().err == err
    assert _files_under(Path(paths["tmp"])) == before
