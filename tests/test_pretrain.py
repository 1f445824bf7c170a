"""End-to-end ``infomax pretrain`` on a fake Fashion-MNIST with a tiny AMDIM: what a run
folder holds, and exact resume (an interrupted run continues bit for bit as if it had not
been interrupted)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch

from conftest import TINY, isolated_registry, tiny_args
from infomax.cli import main
from infomax.config import make_config
from infomax.runs import config_from_run
from infomax.methods.base import SSLMethod

pytestmark = pytest.mark.slow

LOSS_TERMS = ("train/l1t5", "train/l1t7", "train/l5t5", "train/reg")
STEPS_PER_EPOCH = 256 // 32


def read_csv(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "csv" / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def column(rows, key):
    return [(int(r["step"]), float(r[key])) for r in rows if r.get(key)]


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def assert_same_tensors(a, b, where=""):
    """Equal nested structures; tensors bit for bit."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a, b), f"{where}: max difference {(a.double() - b.double()).abs().max()}"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same_tensors(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_tensors(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def cli(*argv: str) -> None:
    rc = main(list(argv))
    assert rc == 0


# ----------------------------------------------------------------------------- a 2-epoch run


def test_run_folder_contents(tiny_run, fake_fmnist_session):
    run = tiny_run
    for name in ("config.yaml", "last.ckpt", "best.ckpt", "summary.json"):
        assert (run / name).is_file(), name
    expected = make_config("fmnist-tiny", [*TINY, "train.epochs=2",
                                           f"data.dir={fake_fmnist_session}",
                                           f"train.out_dir={run.parent}", "train.run_name=tiny"])
    assert config_from_run(run) == expected
    assert load(run / "last.ckpt")["hyper_parameters"]["config"] == expected.to_dict()

    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs"] == 2 and summary["steps"] == 2 * STEPS_PER_EPOCH
    assert summary["last_checkpoint"] == str(run / "last.ckpt")
    assert summary["best_checkpoint"] == str(run / "best.ckpt")
    assert set(summary["online"]) == {"val/linear_acc", "val/mlp_acc"}
    assert all(0.0 <= v <= 1.0 for v in summary["online"].values())

    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", *LOSS_TERMS, "val/linear_acc", "val/mlp_acc", "lr"} <= tags
    assert len(events.Scalars("train/loss")) == 2 * STEPS_PER_EPOCH


def test_metrics_csv_has_the_loss_terms_and_the_probes(tiny_run):
    rows = read_csv(tiny_run)
    for key in ("train/loss", *LOSS_TERMS, "val/linear_acc", "val/mlp_acc", "lr"):
        assert key in rows[0], key
    for key in ("train/loss", *LOSS_TERMS):
        assert [s for s, _ in column(rows, key)] == list(range(2 * STEPS_PER_EPOCH)), key
    val = column(rows, "val/linear_acc")
    assert len(val) == 2 and all(0.0 <= v <= 1.0 for _, v in val)
    assert len(column(rows, "val/mlp_acc")) == 2
    # the loss is the sum of its terms
    by_step = {int(r["step"]): r for r in rows if r.get("train/loss")}
    for r in by_step.values():
        total = sum(float(r[k]) for k in LOSS_TERMS)
        assert float(r["train/loss"]) == pytest.approx(total, rel=1e-5)
    # warmup over 5 updates to the preset's lr 1e-3
    lrs = [v for _, v in column(rows, "lr")]
    assert lrs[:5] == pytest.approx([2e-4, 4e-4, 6e-4, 8e-4, 1e-3])
    assert lrs[5:] == pytest.approx([1e-3] * (len(lrs) - 5))


def test_loss_goes_down(tiny_run):
    loss = [v for _, v in column(read_csv(tiny_run), "train/loss")]
    assert sum(loss[-4:]) / 4 < sum(loss[:4]) / 4 - 0.2, loss


def test_checkpoint_holds_the_training_state(tiny_run):
    ckpt = load(tiny_run / "last.ckpt")  # weights_only: no pickled code in checkpoints
    assert ckpt["epoch"] == 1 and ckpt["global_step"] == 2 * STEPS_PER_EPOCH
    (opt,) = ckpt["optimizer_states"]
    n_params = len(opt["param_groups"][0]["params"])
    assert n_params > 10 and len(opt["state"]) == n_params
    for state in opt["state"].values():
        assert set(state) >= {"step", "exp_avg", "exp_avg_sq"}
        assert float(state["step"]) == 2 * STEPS_PER_EPOCH
    (sched,) = ckpt["lr_schedulers"]
    assert sched["last_epoch"] == 2 * STEPS_PER_EPOCH
    assert sched["lr_lambdas"] == [{"warmup": 5, "milestones": [3], "gamma": 0.2,
                                    "steps_per_epoch": STEPS_PER_EPOCH,
                                    "total_steps": 2 * STEPS_PER_EPOCH, "cooldown": 0.0,
                                    "warmup_from": 0.0}]
    rng = ckpt["rng_states"]
    assert set(rng) == {"torch", "numpy", "python", "cuda"}
    assert rng["torch"].dtype == torch.uint8 and rng["torch"].numel() > 1000
    assert rng["numpy"][0] == "MT19937" and rng["numpy"][1].numel() == 624
    assert len(rng["python"][1]) == 625
    assert ckpt["hyper_parameters"]["in_channels"] == 1
    assert ckpt["hyper_parameters"]["image_size"] == 32
    best = load(tiny_run / "best.ckpt")
    assert best["global_step"] in (STEPS_PER_EPOCH, 2 * STEPS_PER_EPOCH)


def test_last_checkpoint_follows_every_epoch_when_the_probe_stops_improving(
        fake_fmnist_session, tmp_path, monkeypatch):
    # The online probe's accuracy never rises after epoch 1: best.ckpt stays at epoch 1,
    # and last.ckpt must still hold the newest state.
    def flat_accuracy(self, batch, batch_idx):
        self.log("val/linear_acc", 0.5, batch_size=batch[1].shape[0])

    monkeypatch.setattr(SSLMethod, "validation_step", flat_accuracy)
    with isolated_registry(monkeypatch):
        cli(*tiny_args(fake_fmnist_session, tmp_path, "train.epochs=3",
                       "train.limit_train_batches=2"))
    run = tmp_path / "tiny"
    assert load(run / "best.ckpt")["global_step"] == 2
    assert load(run / "last.ckpt")["global_step"] == 6
    summary = json.loads((run / "summary.json").read_text())
    assert summary["best_checkpoint"] == str(run / "best.ckpt") and summary["steps"] == 6


def test_summary_names_both_checkpoints_in_the_run_folder_as_given(fake_fmnist_session, tmp_path,
                                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)
    with isolated_registry(monkeypatch):
        cli(*tiny_args(fake_fmnist_session, Path("runs"), "train.limit_train_batches=2"))
    summary = json.loads((tmp_path / "runs" / "tiny" / "summary.json").read_text())
    assert summary["last_checkpoint"] == str(Path("runs") / "tiny" / "last.ckpt")
    assert summary["best_checkpoint"] == str(Path("runs") / "tiny" / "best.ckpt")


# ----------------------------------------------------------------------------- exact resume


@pytest.fixture(scope="module")
def resumed_run(fake_fmnist_session, tmp_path_factory, module_registry):
    """Run B with data.num_workers=0: 1 epoch, then --resume (auto) up to 2 epochs."""
    out = tmp_path_factory.mktemp("resume0")
    cli(*tiny_args(fake_fmnist_session, out, "train.epochs=1"))
    first = out / "tiny-after-1"
    shutil.copytree(out / "tiny", first)
    cli(*tiny_args(fake_fmnist_session, out, "train.epochs=2", "--resume"))
    return out / "tiny", first


def test_first_part_of_the_split_run_equals_the_straight_runs_first_epoch(tiny_run, resumed_run):
    _, first = resumed_run
    rows_a = read_csv(tiny_run)
    rows_b1 = read_csv(first)
    assert rows_b1 == [r for r in rows_a if int(r["step"]) < STEPS_PER_EPOCH]
    assert load(first / "last.ckpt")["global_step"] == STEPS_PER_EPOCH


def test_exact_resume_matches_the_uninterrupted_run_bit_for_bit(tiny_run, resumed_run):
    b, _ = resumed_run
    a_ckpt, b_ckpt = load(tiny_run / "last.ckpt"), load(b / "last.ckpt")
    assert b_ckpt["global_step"] == a_ckpt["global_step"] == 2 * STEPS_PER_EPOCH
    assert_same_tensors(a_ckpt["state_dict"], b_ckpt["state_dict"], "state_dict")
    assert_same_tensors(a_ckpt["optimizer_states"], b_ckpt["optimizer_states"], "optimizer")
    assert_same_tensors(a_ckpt["lr_schedulers"], b_ckpt["lr_schedulers"], "lr_schedulers")
    assert_same_tensors(a_ckpt["rng_states"], b_ckpt["rng_states"], "rng_states")


def test_resumed_run_keeps_the_metrics_of_the_first_part(tiny_run, resumed_run):
    b, _ = resumed_run
    # Every logged number of the split run equals the straight run's, epoch 1 included.
    assert read_csv(b) == read_csv(tiny_run)
    summary = json.loads((b / "summary.json").read_text())
    assert summary["epochs"] == 2 and summary["steps"] == 2 * STEPS_PER_EPOCH
    assert summary["online"] == json.loads((tiny_run / "summary.json").read_text())["online"]


def test_exact_resume_with_dataloader_workers(fake_fmnist_session, tmp_path, monkeypatch):
    """Workers are seeded from the main process's RNG: with 2 workers too, 1 + 1 epochs
    (resuming by checkpoint path, with the run's saved config) equal 2 straight epochs."""
    with isolated_registry(monkeypatch):
        workers = "data.num_workers=2"
        cli(*tiny_args(fake_fmnist_session, tmp_path / "a", workers, "train.epochs=2"))
        cli(*tiny_args(fake_fmnist_session, tmp_path / "b", workers, "train.epochs=1"))
        b = tmp_path / "b" / "tiny"
        cli("pretrain", "--no-progress", "--resume", str(b / "last.ckpt"), "train.epochs=2")
    a_ckpt, b_ckpt = load(tmp_path / "a" / "tiny" / "last.ckpt"), load(b / "last.ckpt")
    assert b_ckpt["global_step"] == 2 * STEPS_PER_EPOCH
    assert config_from_run(b).data.num_workers == 2
    assert_same_tensors(a_ckpt["state_dict"], b_ckpt["state_dict"], "state_dict")
    assert_same_tensors(a_ckpt["optimizer_states"], b_ckpt["optimizer_states"], "optimizer")
    assert read_csv(b) == read_csv(tmp_path / "a" / "tiny")


def test_resuming_a_finished_run_changes_nothing(tiny_run, tmp_path, fake_fmnist_session,
                                                 monkeypatch, capfd):
    out = tmp_path / "runs"
    shutil.copytree(tiny_run, out / "tiny")
    before = snapshot(out / "tiny")
    with isolated_registry(monkeypatch):
        for epochs in ("train.epochs=2", "train.epochs=1"):
            capfd.readouterr()
            cli(*tiny_args(fake_fmnist_session, out, epochs, "--resume"))
            captured = capfd.readouterr()
            assert "nothing to do" in captured.err and "Traceback" not in captured.err
            assert "last checkpoint:" in captured.out
            assert snapshot(out / "tiny") == before


# ----------------------------------------------------------------------------- run folders


def test_refuses_a_folder_that_holds_a_run_and_overwrite_starts_over(
        tiny_run, tmp_path, fake_fmnist_session, monkeypatch, capfd):
    out = tmp_path / "runs"
    run = out / "tiny"
    shutil.copytree(tiny_run, run)
    before = snapshot(run)
    with isolated_registry(monkeypatch):
        capfd.readouterr()
        assert main(tiny_args(fake_fmnist_session, out, "train.epochs=1")) == 2
        err = capfd.readouterr().err
        assert err.startswith("infomax: error: ") and "already holds a run" in err
        assert str(run) in err
        assert snapshot(run) == before
        cli(*tiny_args(fake_fmnist_session, out, "train.epochs=1", "--overwrite"))
    # A new 1-epoch run: nothing of the 2-epoch run is left.
    assert load(run / "last.ckpt")["global_step"] == STEPS_PER_EPOCH
    assert load(run / "best.ckpt")["global_step"] == STEPS_PER_EPOCH
    assert [s for s, _ in column(read_csv(run), "train/loss")] == list(range(STEPS_PER_EPOCH))
    assert len(list((run / "tensorboard").glob("events.out.tfevents.*"))) == 1
    assert json.loads((run / "summary.json").read_text())["epochs"] == 1
    assert config_from_run(run).train.epochs == 1
    # The same seed gives the same first epoch as the run it replaced.
    assert read_csv(run) == [r for r in read_csv(tiny_run) if int(r["step"]) < STEPS_PER_EPOCH]
