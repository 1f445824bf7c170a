"""``train.logger``: the loggers by name (tensorboard, csv, wandb), several at once; the
W&B run of a tiny pretraining in W&B's offline mode (read back from its .wandb file), a
resume continuing it and --overwrite starting a new one; only the main process logging;
the one-line errors (a bad name, wandb not installed); the report of a run without
metrics.csv."""

from __future__ import annotations

import json
import pickle
import re
import shutil
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import tiny_args
from infomax.cli import main
from infomax.config import make_config
from infomax.engine.loggers import log_locations, make_loggers, wandb_run_id
from infomax.errors import ConfigError, InfomaxError
from infomax.report import read_metrics, read_tensorboard, write_report
from infomax.runs import config_from_run
from test_pretrain import LOSS_TERMS, read_csv

# 96 images in batches of 32: 3 steps an epoch.
SMALL = ("data.pretrain_subset=96", "data.val_subset=32")
STEPS = 3


@pytest.fixture
def wandb_offline(tmp_path, monkeypatch):
    """W&B in offline mode, quiet, with every folder of its own under ``tmp_path``: nothing
    leaves the machine or lands in the home folder."""
    pytest.importorskip("wandb")
    home = tmp_path / "wandb-home"
    for name, sub in (("WANDB_DIR", "dir"), ("WANDB_CACHE_DIR", "cache"),
                      ("WANDB_CONFIG_DIR", "config"), ("WANDB_DATA_DIR", "data"),
                      ("WANDB_ARTIFACT_DIR", "artifacts")):
        monkeypatch.setenv(name, str(home / sub))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    return home


# ----------------------------------------------------------------------------- .wandb files


def wandb_records(path: Path):
    """The records of a W&B run file (``run-<id>.wandb``), parsed with W&B's own protobuf
    schema. The file is W&B's header (':W&B', a 2-byte magic number, a version byte), then
    records in LevelDB's log format: blocks of 32 KiB, each record a 7-byte header (CRC,
    little-endian length, type: 1 whole, 2 first, 3 middle, 4 last piece) and its bytes; a
    block's last 6 bytes or fewer are padding."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B", path
    block, pos, pending = 32768, 7, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0 and length == 0:  # zeroed padding up to the block's end
            pos += left
            continue
        payload, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 1:
            yield wandb_internal_pb2.Record.FromString(payload)
        elif kind == 2:
            pending = payload
        elif kind == 3:
            pending += payload
        elif kind == 4:
            yield wandb_internal_pb2.Record.FromString(pending + payload)
        else:
            raise AssertionError(f"{path}: record type {kind} at byte {pos}")


def read_wandb_run(folder: Path) -> dict:
    """One offline run folder (``offline-run-<time>-<id>``): its run record, config,
    history rows (each {metric: value}), the last summary values and the exit code."""
    files = list(folder.glob("run-*.wandb"))
    assert len(files) == 1, files
    out = {"config": {}, "history": [], "summary": {}, "exit_code": None}
    for record in wandb_records(files[0]):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            out["run"] = record.run
        elif kind == "config":
            for item in record.config.update:
                out["config"][item.key or ".".join(item.nested_key)] = json.loads(item.value_json)
        elif kind == "history":
            out["history"].append({item.key or "/".join(item.nested_key):
                                   json.loads(item.value_json) for item in record.history.item})
        elif kind == "summary":
            for item in record.summary.update:
                out["summary"][item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
        elif kind == "exit":
            out["exit_code"] = record.exit.exit_code
    return out


def offline_runs(run: Path) -> list[Path]:
    return sorted((run / "wandb").glob("offline-run-*"))


# ----------------------------------------------------------------------------- the config


def test_logger_names_one_or_several_and_the_errors():
    assert make_config("fmnist-tiny").train.logger == ["tensorboard", "csv"]
    assert make_config("fmnist-tiny", ["train.logger=wandb"]).train.logger == ["wandb"]
    assert make_config("fmnist-tiny", ["train.logger=csv, wandb"]).train.logger == \
        ["csv", "wandb"]
    both = make_config("fmnist-tiny", ["train.logger=[tensorboard,wandb]"]).train
    assert both.logger == ["tensorboard", "wandb"]
    assert both.wandb_project == "infomax" and both.wandb_entity is None
    assert both.wandb_mode is None
    for value, words in (("[csv,mlflow]", "'mlflow' is not valid; choose one of "
                                          "tensorboard, csv, wandb"),
                         ("mlflow", "'mlflow' is not valid"),
                         ("csv,", "'' is not valid"),
                         ("[]", "logs nothing"),
                         ("[csv,wandb,csv]", "names csv twice"),
                         ("3", "expected a list like [tensorboard, csv]")):
        with pytest.raises(ConfigError) as e:
            make_config("fmnist-tiny", [f"train.logger={value}"])
        assert str(e.value).startswith("train.logger: ") and words in str(e.value)
        assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="train.wandb_mode: 'upload' is not valid; choose "
                                          "one of online, offline, disabled"):
        make_config("fmnist-tiny", ["train.wandb_mode=upload"])


def test_the_logs_line_names_what_the_run_wrote(tmp_path):
    run = Path("runs/x")
    assert log_locations(make_config("fmnist-tiny"), run) == \
        "runs/x/tensorboard (tensorboard --logdir), runs/x/csv/metrics.csv"
    (tmp_path / "wandb-id.txt").write_text("abc123\n")
    cfg = make_config("fmnist-tiny", ["train.logger=[wandb,csv]", "train.wandb_entity=team"])
    assert log_locations(cfg, tmp_path) == (f"{tmp_path / 'wandb'} (W&B run abc123 in "
                                            f"team/infomax), {tmp_path / 'csv/metrics.csv'}")


# ----------------------------------------------------------------------------- W&B


def test_only_the_main_process_starts_a_wandb_run(tmp_path, wandb_offline, monkeypatch):
    from lightning.fabric.utilities.rank_zero import rank_zero_only
    from lightning.pytorch.loggers import WandbLogger

    cfg = make_config("fmnist-tiny", ["train.logger=[wandb]", "train.wandb_entity=team",
                                      "train.wandb_mode=offline", "train.wandb_project=p"])
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    (logger,) = make_loggers(cfg, tmp_path, main=False)
    assert isinstance(logger, WandbLogger)
    init = logger._wandb_init
    assert (init["project"], init["entity"], init["mode"], init["name"], init["dir"],
            init["resume"], init["id"]) == ("p", "team", "offline", tmp_path.name,
                                            str(tmp_path), "allow", None)
    assert "anonymous" not in init
    logger.log_hyperparams({"config": cfg.to_dict()})
    logger.log_metrics({"train/loss": 1.0}, step=0)
    logger.finalize("success")
    assert type(logger.experiment).__name__ == "_DummyExperiment"
    # ddp_spawn pickles the loggers to the processes it starts.
    assert pickle.loads(pickle.dumps(logger))._wandb_init == init
    assert list(tmp_path.iterdir()) == []  # no id file, no wandb/ folder


def test_a_wandb_run_that_cannot_start_is_one_line(tmp_path, wandb_offline, monkeypatch):
    import wandb

    def not_logged_in(**kwargs):
        raise wandb.errors.UsageError("No API key configured. Use `wandb login` to log in.")

    monkeypatch.setattr(wandb, "init", not_logged_in)
    cfg = make_config("fmnist-tiny", ["train.logger=wandb"])
    (logger,) = make_loggers(cfg, tmp_path, main=True)
    with pytest.raises(InfomaxError) as e:
        logger.experiment
    message = str(e.value)
    assert message.startswith("train.logger: W&B could not start a run (No API key configured")
    assert "'wandb login'" in message and "train.wandb_mode=offline" in message
    assert "\n" not in message


def test_wandb_run_id_is_kept_for_a_resume_and_new_otherwise(tmp_path):
    first = wandb_run_id(tmp_path, resuming=False)
    assert re.fullmatch(r"[a-z0-9]{8}", first)
    assert (tmp_path / "wandb-id.txt").read_text() == first + "\n"
    assert wandb_run_id(tmp_path, resuming=True) == first
    second = wandb_run_id(tmp_path, resuming=False)
    assert second != first and wandb_run_id(tmp_path, resuming=True) == second
    (tmp_path / "wandb-id.txt").write_text("not an id!\n")
    with pytest.raises(InfomaxError, match="holds no W&B run id; remove it") as e:
        wandb_run_id(tmp_path, resuming=True)
    assert "\n" not in str(e.value)


@pytest.mark.slow
def test_a_run_logged_to_wandb_offline_its_resume_and_overwrite(fake_fmnist, tmp_path,
                                                                  wandb_offline, capfd):
    out = tmp_path / "runs"
    args = tiny_args(fake_fmnist, out, *SMALL, "train.logger=[csv,wandb]")
    assert main(args) == 0
    run = out / "tiny"
    logs = capfd.readouterr().out
    assert not (run / "tensorboard").exists()  # not chosen
    run_id = (run / "wandb-id.txt").read_text().strip()
    assert f"logs:            {run / 'csv' / 'metrics.csv'}, {run / 'wandb'} (W&B run " \
           f"{run_id} in infomax)" in logs
    (folder,) = offline_runs(run)
    assert folder.name.endswith(f"-{run_id}")
    assert not (wandb_offline / "dir").exists()  # the run's files are in the run folder
    logged = read_wandb_run(folder)
    assert (logged["run"].run_id, logged["run"].project, logged["run"].display_name) == \
        (run_id, "infomax", "tiny")
    # The run's config, key by key, beside the data set's shape.
    config = logged["config"]
    saved = config_from_run(run)
    for section in ("data", "model", "optim", "train", "probe"):
        assert config[section] == saved.to_dict()[section], section
    assert config["method"] == "amdim" and config["train"]["logger"] == ["csv", "wandb"]
    assert (config["num_classes"], config["in_channels"], config["image_size"]) == (10, 1, 32)
    # Every metric the CSV logger wrote, with the same values at the same steps.
    rows = read_csv(run)
    for key in ("train/loss", *LOSS_TERMS, "lr", "val/linear_acc", "val/mlp_acc"):
        csv_values = [(int(r["step"]), float(r[key])) for r in rows if r.get(key)]
        wandb_values = [(h["trainer/global_step"], h[key]) for h in logged["history"]
                        if key in h]
        assert wandb_values and np.allclose(wandb_values, csv_values, rtol=1e-6), key
    summary = json.loads((run / "summary.json").read_text())
    assert logged["summary"]["val/linear_acc"] == pytest.approx(
        summary["online"]["val/linear_acc"], rel=1e-6)
    assert logged["exit_code"] == 0

    # A resume continues the same W&B run, from the step it stopped at.
    assert main([*args, "train.epochs=2", "--resume"]) == 0
    assert (run / "wandb-id.txt").read_text().strip() == run_id
    first, second = offline_runs(run)
    assert first == folder and second.name.endswith(f"-{run_id}")
    resumed = read_wandb_run(second)
    assert resumed["run"].run_id == run_id
    steps = sorted({h["trainer/global_step"] for h in resumed["history"]})
    assert steps == list(range(STEPS, 2 * STEPS)), steps
    assert resumed["config"]["train"]["epochs"] == 2

    # --overwrite starts over: a new W&B run, the old files gone.
    assert main([*args, "--overwrite"]) == 0
    new_id = (run / "wandb-id.txt").read_text().strip()
    assert new_id != run_id
    (folder,) = offline_runs(run)
    assert folder.name.endswith(f"-{new_id}")


def test_wandb_not_installed_is_one_line_before_any_work(fake_fmnist, tmp_path, monkeypatch,
                                                         capfd):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb: ImportError
    out = tmp_path / "runs"
    capfd.readouterr()
    assert main(tiny_args(fake_fmnist, out, "train.logger=[csv,wandb]")) == 2
    err = capfd.readouterr().err.strip()
    assert err.startswith("infomax: error: train.logger: wandb needs the wandb package")
    assert "pip install wandb" in err and "\n" not in err
    assert not out.exists()  # nothing started
    from infomax.engine.train import pretrain

    cfg = make_config("fmnist-tiny", ["train.logger=wandb", f"train.out_dir={out}",
                                      f"data.dir={fake_fmnist}"])
    with pytest.raises(ConfigError, match="pip install wandb"):
        pretrain(cfg, progress=False)
    assert not out.exists()


# ----------------------------------------------------------------------------- without csv


def test_tensorboard_scalars_read_as_metrics_csv(tiny_run):
    from_csv = read_metrics(tiny_run / "csv" / "metrics.csv")
    from_events = read_tensorboard(tiny_run / "tensorboard")
    for key in ("train/loss", *LOSS_TERMS, "lr", "val/linear_acc", "train/linear_acc"):
        steps, values = from_events[key]
        assert steps.tolist() == from_csv[key][0].tolist(), key
        assert np.allclose(values, from_csv[key][1], rtol=1e-6), key


@pytest.mark.slow
def test_report_of_a_run_without_metrics_csv(run_copy, fake_fmnist_session, monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)  # t-SNE's map: no UMAP compilation
    shutil.rmtree(run_copy / "csv")
    index = write_report(run_copy, data_dir=str(fake_fmnist_session), progress=False,
                         max_points=48)
    page = index.read_text()
    assert "curves from tensorboard/ (no csv/metrics.csv)" in page
    shutil.rmtree(run_copy / "tensorboard")
    page = write_report(run_copy, data_dir=str(fake_fmnist_session), progress=False,
                        max_points=48).read_text()
    assert "no csv or tensorboard log in the run folder (train.logger=[tensorboard,csv])" \
        in page
    assert page.count("data:image/png;base64,") == 4  # the feature pictures still drawn
