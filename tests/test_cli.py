"""The ``infomax`` command: every user error is one line on stderr and a non-zero exit
status, never a traceback; the informational commands print what they should."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
import yaml

from conftest import TINY, isolated_registry, tiny_args
from infomax.cli import main
from infomax.config import describe_keys, make_config, preset_names


@pytest.fixture
def env(tiny_run, fake_fmnist_session, tmp_path, monkeypatch):
    """Paths the bad invocations use: a real run, damaged checkpoints, an empty data root."""
    ckpt = tiny_run / "last.ckpt"
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(os.urandom(4096))
    truncated = tmp_path / "truncated.ckpt"
    raw = ckpt.read_bytes()
    truncated.write_bytes(raw[: len(raw) // 2])
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "epoch": 3}, foreign)
    empty = tmp_path / "empty-data"
    empty.mkdir()
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("model: {ndf: [1, 2\n")
    unknown_yaml = tmp_path / "unknown.yaml"
    unknown_yaml.write_text("model: {depth: 3}\n")
    with isolated_registry(monkeypatch):
        yield {"ckpt": str(ckpt), "garbage": str(garbage), "truncated": str(truncated),
               "foreign": str(foreign), "empty": str(empty), "data": str(fake_fmnist_session),
               "runs": str(tiny_run.parent), "out": str(tmp_path / "runs"),
               "bad_yaml": str(bad_yaml), "unknown_yaml": str(unknown_yaml),
               "run_dir": tiny_run}


def argv_of(tokens: list[str], e: dict) -> list[str]:
    """``tokens`` with the paths of ``e`` filled in. PRETRAIN starts a tiny pretraining into
    a fresh folder (these fail before training); RUN one into the folder of the shared run."""
    args = [t.format(**e) for t in tokens]
    if args[0] == "PRETRAIN":
        return tiny_args(e["data"], e["out"], *args[1:])
    if args[0] == "RUN":
        return tiny_args(e["data"], e["runs"], *args[1:])
    return args


TOO_MANY_CPUS = (os.cpu_count() or 1) + 1

# (id, command line, words the error line must hold)
BAD = [
    ("unknown-preset", ["pretrain", "--preset", "cifar11"], ["cifar11", "cifar10-small"]),
    ("config-unknown-preset", ["config", "--preset", "nope"], ["nope", "fmnist-tiny"]),
    ("unknown-key", ["PRETRAIN", "model.width=3"], ["model.width", "ndf"]),
    ("unknown-top-key", ["config", "modle.ndf=3"], ["modle", "model"]),
    ("negative-batch", ["PRETRAIN", "data.batch_size=-4"], ["data.batch_size", "-4"]),
    ("bad-precision", ["config", "train.precision=64"], ["train.precision", "64", "bf16-mixed"]),
    ("bad-bool", ["config", "model.use_bn=maybe"], ["model.use_bn", "maybe"]),
    ("bad-list", ["config", "optim.milestones=[1,"], ["optim.milestones", "[1,"]),
    ("decreasing-milestones", ["config", "optim.milestones=[5,3]"],
     ["optim.milestones", "[5, 3]"]),
    ("bad-number", ["config", "optim.lr=fast"], ["optim.lr", "fast"]),
    ("unknown-logger", ["PRETRAIN", "train.logger=[csv,mlflow]"],
     ["train.logger", "'mlflow'", "tensorboard, csv, wandb"]),
    ("negative-seed", ["PRETRAIN", "--seed", "-1"], ["train.seed", "-1"]),
    ("override-without-equals", ["config", "model.ndf"], ["model.ndf", "key=value"]),
    ("override-empty-key", ["config", "=3"], ["=3"]),
    ("probe-missing-checkpoint", ["probe", "{out}/nope.ckpt"], ["nope.ckpt", "does not exist"]),
    ("probe-garbage-checkpoint", ["probe", "{garbage}"], ["garbage.ckpt", "cannot be read"]),
    ("probe-truncated-checkpoint", ["probe", "{truncated}"], ["truncated.ckpt", "cannot be read"]),
    ("probe-foreign-checkpoint", ["probe", "{foreign}"], ["foreign.ckpt", "no infomax config"]),
    ("probe-epochs-0", ["probe", "{ckpt}", "--epochs", "0"], ["--epochs", "0"]),
    ("probe-negative-workers", ["probe", "{ckpt}", "--workers", "-1"], ["--workers", "-1"]),
    # A 1-channel encoder takes 3-channel CIFAR-10 (converted to luma): the data is looked
    # for, and its absence is the one line (the shapes' refusal: test_transfer_shapes.py).
    ("probe-other-shape-missing-data", ["probe", "{ckpt}", "--data", "cifar10", "--no-progress",
                                        "--data-dir", "{empty}"],
     ["cifar10 not found", "empty-data"]),
    ("probe-unwritable-output", ["probe", "{ckpt}", "-o", "/proc/infomax/p.json"],
     ["/proc/infomax"]),
    ("probe-unknown-data", ["probe", "{ckpt}", "--data", "imagenette"], ["imagenette"]),
    ("unknown-data-set", ["PRETRAIN", "data.name=foo"], ["'foo'", "cifar10"]),
    ("missing-cifar10", ["pretrain", "--preset", "cifar10-small", "--no-progress", "--data-dir",
                         "{empty}", "--out", "{out}", "data.download=false"],
     ["cifar10 not found", "empty-data", "download is turned off"]),
    ("missing-imagefolder", ["PRETRAIN", "data.name=imagefolder:{empty}/nope"],
     ["nope", "not found"]),
    ("resume-missing-path", ["PRETRAIN", "--resume", "{out}/x/last.ckpt"],
     ["cannot resume", "x/last.ckpt"]),
    ("resume-garbage", ["PRETRAIN", "--resume", "{garbage}"], ["garbage.ckpt", "cannot be read"]),
    ("resume-other-network", ["RUN", "model.ndf=16", "train.epochs=3", "--resume"],
     ["cannot resume", "model.ndf: 8 there, 16 here", "config.yaml"]),
    ("run-exists", ["RUN"], ["already holds a run", "--resume", "--overwrite"]),
    ("too-many-cpu-devices", ["PRETRAIN", "train.accelerator=cpu",
                              f"train.devices={TOO_MANY_CPUS}"],
     ["train.devices", str(TOO_MANY_CPUS)]),
    ("mps-missing", ["PRETRAIN", "train.accelerator=mps"], ["train.accelerator", "mps"]),
    ("config-file-missing", ["pretrain", "--config", "{out}/c.yaml"], ["c.yaml", "does not exist"]),
    ("config-file-bad-yaml", ["pretrain", "--config", "{bad_yaml}"], ["bad.yaml", "YAML"]),
    ("config-file-unknown-key", ["pretrain", "--config", "{unknown_yaml}"], ["model.depth"]),
    ("unwritable-out", ["PRETRAIN", "--out", "/proc/infomax-runs"], ["/proc/infomax-runs"]),
    ("data-unknown", ["data", "imagenette"], ["imagenette"]),
    ("data-missing", ["data", "mnist", "--data-dir", "{empty}", "--no-download"],
     ["mnist not found", "empty-data"]),
    ("zero-devices", ["PRETRAIN", "--devices", "0"], ["train.devices", "0"]),
    ("zero-nodes", ["PRETRAIN", "--num-nodes", "0"], ["train.num_nodes", "0"]),
    ("bad-strategy", ["PRETRAIN", "--strategy", "horovod"], ["train.strategy", "horovod", "ddp"]),
    ("bad-precision-flag", ["PRETRAIN", "--precision", "8"], ["train.precision", "8", "bf16-mixed"]),
    ("bench-nothing", ["bench"], ["bench speed", "bench loader"]),
    ("bench-unknown-preset", ["bench", "speed", "--presets", "cifar11"], ["cifar11"]),
    ("bench-zero-steps", ["bench", "speed", "--steps", "0"], ["--steps", "0"]),
    ("bench-bad-precision", ["bench", "speed", "--precision", "8"], ["--precision", "8"]),
    ("bench-fp16-on-cpu", ["bench", "speed", "--precision", "16-mixed", "--device", "cpu"],
     ["16-mixed", "CUDA"]),
    ("bench-loader-missing-data", ["bench", "loader", "--preset", "cifar10-small", "--data-dir",
                                   "{empty}", "data.download=false"], ["cifar10", "not found"]),
    ("bench-loader-negative-workers", ["bench", "loader", "--workers", "-1"], ["--workers"]),
    ("argparse-bad-int", ["pretrain", "--seed", "abc"], ["--seed", "abc"]),
    ("argparse-unknown-option", ["pretrain", "--bogus"], ["--bogus"]),
    ("argparse-unknown-command", ["frobnicate"], ["frobnicate"]),
    ("argparse-probe-no-checkpoint", ["probe"], ["checkpoint"]),
]


def run(argv, capfd):
    rc = main(argv)
    out, err = capfd.readouterr()
    return rc, out, err


@pytest.mark.parametrize("argv, words", [pytest.param(a, w, id=i) for i, a, w in BAD])
def test_bad_invocations_fail_in_one_line(argv, words, env, capfd):
    if "mps" in words and torch.backends.mps.is_available():
        pytest.skip("this machine has an Apple GPU")
    before = sorted(p.name for p in env["run_dir"].iterdir())
    stamp = (env["run_dir"] / "last.ckpt").stat().st_mtime_ns
    capfd.readouterr()
    rc, out, err = run(argv_of(argv, env), capfd)
    assert rc != 0
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("infomax: error: "), err
    for word in words:
        assert word in lines[0], (word, lines[0])
    # The shared run is never touched by a refused command.
    assert sorted(p.name for p in env["run_dir"].iterdir()) == before
    assert (env["run_dir"] / "last.ckpt").stat().st_mtime_ns == stamp


def test_at_least_fifteen_bad_invocations():
    assert len(BAD) >= 15


def test_gpu_requests_without_a_gpu(env, capfd):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    rc, out, err = run(argv_of(["PRETRAIN", "train.accelerator=gpu"], env), capfd)
    assert rc != 0 and "Traceback" not in out + err
    assert err.startswith("infomax: error: train.accelerator: 'gpu'") and err.count("\n") == 1


def test_the_module_entry_point_exits_non_zero_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "infomax.cli", "config", "model.ndf=zero"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "infomax: error: model.ndf: expected an integer >= 1, got 'zero'"]
    assert proc.stdout == ""


# ----------------------------------------------------------------------------- good commands


def test_presets_lists_every_preset(capfd):
    rc, out, err = run(["presets"], capfd)
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == preset_names()
    for line in lines:
        cfg = make_config(line.split()[0])
        assert cfg.data.name in line
        if cfg.model.encoder == "amdim":
            assert f"ndf {cfg.model.ndf} " in line and f"n_rkhs {cfg.model.n_rkhs} " in line
            assert f"depth {cfg.model.n_depth} " in line
        else:  # the sizes of the AMDIM encoder are not shown for another one
            assert f" {cfg.model.encoder} " in line and "ndf" not in line
        assert line.endswith(f"method {cfg.method}") == (cfg.method != "amdim")
    assert any(line.startswith("cifar10-large") and "ndf 256" in line for line in lines)
    assert any(line.startswith("imagenet-resnet50") and "resnet50" in line for line in lines)


def test_config_keys_lists_every_key(capfd):
    rc, out, err = run(["config", "--keys"], capfd)
    assert rc == 0 and err == ""
    assert out == describe_keys() + "\n"
    assert "optim.lr = 0.0002" in out and "data.batch_size = 200" in out


def test_config_prints_the_resolved_config(capfd):
    rc, out, err = run(["config", "--preset", "cifar10-small", "model.ndf=64", "optim.lr=1e-3"],
                       capfd)
    assert rc == 0 and err == ""
    data = yaml.safe_load(out)
    assert data["preset"] == "cifar10-small"
    assert data["model"] == {"encoder": "amdim", "ndf": 64, "n_rkhs": 1024, "n_depth": 10,
                             "use_bn": False, "init_from": None}
    assert data["optim"]["lr"] == 1e-3 and data["data"]["name"] == "cifar10"
    assert data == make_config("cifar10-small", ["model.ndf=64", "optim.lr=1e-3"]).to_dict()


def test_config_method_and_config_file_as_pretrain_takes_them(capfd, tmp_path):
    rc, out, err = run(["config", "--preset", "fmnist-tiny", "--method", "byol"], capfd)
    assert rc == 0 and err == ""
    data = yaml.safe_load(out)
    assert data["method"] == "byol" and data["recipe"] == "byol"
    assert data["optim"]["name"] == "lars" and data["views"]["second"]["solarize_p"] == 0.2
    assert data == make_config("fmnist-tiny", ["method=byol"]).to_dict()
    saved = tmp_path / "config.yaml"
    saved.write_text(out)
    rc, again, err = run(["config", "--config", str(saved), "optim.lr=0.1"], capfd)
    assert rc == 0 and yaml.safe_load(again) == {**data, "optim": {**data["optim"], "lr": 0.1}}
    rc, out, err = run(["config", "--method", "nosuch"], capfd)
    assert rc == 2 and "method: 'nosuch' is not valid; choose one of amdim" in err


def test_config_without_preset_prints_the_defaults(capfd):
    rc, out, err = run(["config"], capfd)
    assert rc == 0 and yaml.safe_load(out) == make_config().to_dict()


def test_data_shows_the_splits(fake_fmnist, capfd):
    rc, out, err = run(["data", "fashion-mnist", "--data-dir", str(fake_fmnist), "--no-download"],
                       capfd)
    assert rc == 0, err
    assert "fashion-mnist: 10 classes, 1-channel, 32 px" in out
    assert "pretrain 256, train 256, test 64 images" in out


def test_no_command_prints_help(capfd):
    rc, out, err = run([], capfd)
    assert rc == 2 and "pretrain" in out and "probe" in out


def test_tiny_settings_are_valid():
    cfg = make_config("fmnist-tiny", TINY)
    assert (cfg.model.ndf, cfg.model.n_rkhs, cfg.model.n_depth) == (8, 32, 1)


def test_augment_flag_sets_strong_views(fake_fmnist, tmp_path):
    """--augment strong, the flag's first value, is RandAugment as it always was (the run
    saves it by its name, randaugment)."""
    from infomax.data.module import PretrainData
    from infomax.runs import config_from_run

    argv = tiny_args(fake_fmnist, tmp_path, "train.epochs=1", "train.limit_train_batches=1")
    assert main(argv[:1] + ["--augment", "strong"] + argv[1:]) == 0
    cfg = config_from_run(tmp_path / "tiny")
    assert cfg.data.augment == "randaugment"
    data = PretrainData(cfg.data, seed=0)
    data.setup()
    dataset = data._train
    while hasattr(dataset, "dataset"):  # subsets and wrappers
        dataset = dataset.dataset
    assert "RandAugment" in repr(dataset.transform.view)


# ------------------------------------------------------------ the command line's own habits


def pretrain_config(argv: list[str], monkeypatch) -> tuple:
    """The Config and the resume argument ``infomax pretrain`` hands to the training."""
    import infomax.engine.train

    seen = []

    def stop(cfg, **kwargs):
        seen.append((cfg, kwargs))
        raise KeyboardInterrupt

    monkeypatch.setattr(infomax.engine.train, "pretrain", stop)
    assert main(argv) == 130
    (cfg, kwargs), = seen
    return cfg, kwargs["resume"]


PLACES = [
    ["pretrain", "--preset", "fmnist-tiny", "train.epochs=3", "--out", "X", "--name", "Y"],
    ["pretrain", "--preset", "fmnist-tiny", "--out", "X", "--name", "Y", "train.epochs=3"],
    ["pretrain", "train.epochs=3", "--preset", "fmnist-tiny", "--out", "X", "--name", "Y"],
    ["pretrain", "--preset", "fmnist-tiny", "--out", "X", "train.epochs=3", "--name", "Y"],
]


def test_pretrain_overrides_anywhere_on_the_line(monkeypatch, capfd):
    configs = [pretrain_config(argv, monkeypatch)[0].to_dict() for argv in PLACES]
    assert all(c == configs[0] for c in configs)
    assert configs[0]["train"]["epochs"] == 3
    assert (configs[0]["train"]["out_dir"], configs[0]["train"]["run_name"]) == ("X", "Y")
    assert configs[0] == make_config("fmnist-tiny", ["train.epochs=3", "train.out_dir=X",
                                                     "train.run_name=Y"]).to_dict()
    # Among themselves the overrides keep their order: the last one wins.
    cfg, _ = pretrain_config(["pretrain", "train.epochs=3", "--out", "X", "train.epochs=4"],
                             monkeypatch)
    assert cfg.train.epochs == 4


def test_pretrain_resume_takes_no_override_for_its_path(monkeypatch, capfd):
    for argv in (["pretrain", "--preset", "fmnist-tiny", "--resume", "train.epochs=3",
                  "--out", "X", "optim.lr=1e-3"],
                 ["pretrain", "--preset", "fmnist-tiny", "train.epochs=3", "--resume",
                  "--out", "X", "optim.lr=1e-3"],
                 ["pretrain", "--preset", "fmnist-tiny", "train.epochs=3", "--out", "X",
                  "optim.lr=1e-3", "--resume"]):
        cfg, resume = pretrain_config(argv, monkeypatch)
        assert resume == "auto", argv
        assert (cfg.train.epochs, cfg.optim.lr, cfg.train.out_dir) == (3, 1e-3, "X"), argv


def test_pretrain_data_flag_sets_data_name(monkeypatch, capfd):
    cfg, _ = pretrain_config(["pretrain", "--preset", "fmnist-tiny", "--data", "mnist"],
                             monkeypatch)
    assert cfg.data.name == "mnist"
    same, _ = pretrain_config(["pretrain", "--preset", "fmnist-tiny", "data.name=mnist"],
                              monkeypatch)
    assert cfg.to_dict() == same.to_dict()


def test_pretrain_bad_data_flag_fails_as_data_name_does(capfd):
    lines = []
    for argv in (["pretrain", "--data", "imagenette"], ["pretrain", "data.name=imagenette"]):
        assert main(argv) == 2
        out, err = capfd.readouterr()
        assert out == "" and err.count("\n") == 1, err
        lines.append(err)
    assert lines[0] == lines[1]
    assert lines[0].startswith("infomax: error: data.name: unknown data set 'imagenette'; "
                               "valid names: fashion-mnist, ")


def data_help(command: str, capfd) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out, _ = capfd.readouterr()
    block = out[out.index("  --data DATA "):]
    block = block[: block.index("\n  -", 1)]
    return " ".join(block.split())


def test_data_flag_help_is_one_text_from_the_registry(capfd):
    from infomax.data.registry import valid_data_names

    texts = {c: data_help(c, capfd) for c in ("pretrain", "probe", "embed")}
    assert len(set(texts.values())) == 1, texts
    assert valid_data_names() in texts["pretrain"]


def test_config_overrides_anywhere_on_the_line(capfd):
    outputs = []
    for argv in (["config", "--preset", "cifar10-small", "model.ndf=64", "optim.lr=1e-3"],
                 ["config", "model.ndf=64", "--preset", "cifar10-small", "optim.lr=1e-3"],
                 ["config", "model.ndf=64", "optim.lr=1e-3", "--preset", "cifar10-small"]):
        rc, out, err = run(argv, capfd)
        assert rc == 0 and err == "", err
        outputs.append(out)
    assert outputs[0] == outputs[1] == outputs[2]
    assert yaml.safe_load(outputs[0]) == make_config(
        "cifar10-small", ["model.ndf=64", "optim.lr=1e-3"]).to_dict()


def test_bench_overrides_after_many_valued_options():
    from infomax.cli import _parser

    args = _parser().parse_args(["bench", "speed", "a.b=1", "--presets", "fmnist-tiny",
                                 "c.d=2", "--precision", "32", "e.f=3", "--gemm-sizes", "64",
                                 "g.h=4", "--steps", "1"])
    assert (args.presets, args.precision, args.gemm_sizes, args.steps) == (
        ["fmnist-tiny"], ["32"], [64], 1)
    assert args.overrides == ["a.b=1", "c.d=2", "e.f=3", "g.h=4"]
    args = _parser().parse_args(["bench", "loader", "--workers", "0", "1", "x.y=1",
                                 "--batches", "2"])
    assert (args.workers, args.batches, args.overrides) == ([0, 1], 2, ["x.y=1"])


def test_ablate_overrides_anywhere_on_the_line(monkeypatch):
    import infomax.studies.ablation

    seen = []
    monkeypatch.setattr(infomax.studies.ablation, "run", lambda options: seen.append(options) or 0)
    for argv in (["ablate", "--preset", "fmnist-tiny", "train.seed=1", "--rows", "full",
                  "single-scale", "model.ndf=16", "--seeds", "0", "1", "optim.lr=1e-3",
                  "--epochs", "1"],
                 ["ablate", "--preset", "fmnist-tiny", "--epochs", "1", "--rows", "full",
                  "single-scale", "--seeds", "0", "1", "train.seed=1", "model.ndf=16",
                  "optim.lr=1e-3"]):
        assert main(argv) == 0
    first, second = seen
    assert first.rows == ("full", "single-scale") and first.seeds == (0, 1)
    assert first.overrides == ("train.seed=1", "model.ndf=16", "optim.lr=1e-3")
    assert first == second


def parsers(parser):
    """``parser`` and every subparser below it."""
    import argparse

    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from parsers(sub)


def test_no_option_may_be_abbreviated(capfd):
    from infomax.cli import _parser

    every = list(parsers(_parser()))
    assert len(every) > 10 and all(p.allow_abbrev is False for p in every)
    for argv, option in ((["pretrain", "--pres", "fmnist-tiny"], "--pres"),
                         (["pretrain", "--no-prog"], "--no-prog"),
                         (["config", "--pre", "fmnist-tiny"], "--pre"),
                         (["bench", "speed", "--step", "1"], "--step")):
        rc, out, err = run(argv, capfd)
        assert rc == 2 and out == "", argv
        assert err == f"infomax: error: unrecognized arguments: {option} (see 'infomax --help')\n"
