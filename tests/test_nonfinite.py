"""Non-finite losses and gradients: a bad step is never applied (parameters, optimizer
moments and buffers stay bit for bit), train.skip_nonfinite bad steps are skipped, the next
one stops the run with one line, and no checkpoint ever holds a NaN."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest
import torch

from conftest import tiny_args
from infomax.cli import main
from infomax.config import make_config
from infomax.errors import ConfigError
from infomax.methods import SSLMethod

# Two epochs of two steps (0, 1 | 2, 3); checkpoints after steps 1 and 3.
SHORT = ["train.epochs=2", "train.limit_train_batches=2", "data.val_subset=32"]
NAN = float("nan")


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def clone_state(model: SSLMethod) -> dict:
    """Parameters, buffers and the optimizer's per-parameter state, copied."""
    opt = model.trainer.optimizers[0].state_dict()["state"]
    return {"params": {n: p.detach().clone() for n, p in model.named_parameters()},
            "buffers": {n: b.detach().clone() for n, b in model.named_buffers()},
            "optimizer": {i: {k: v.clone() for k, v in s.items()} for i, s in opt.items()}}


def same_bits(x: torch.Tensor, y: torch.Tensor) -> bool:
    """Equal dtype, shape and bytes (NaN included, unlike torch.equal)."""
    return (x.dtype == y.dtype and x.shape == y.shape and
            x.contiguous().numpy().tobytes() == y.contiguous().numpy().tobytes())


def assert_bitwise_equal(a: dict, b: dict, parts=("params", "buffers", "optimizer")) -> None:
    for part in parts:
        assert a[part].keys() == b[part].keys(), part
        for k in a[part]:
            x, y = a[part][k], b[part][k]
            if isinstance(x, dict):
                assert x.keys() == y.keys() and all(same_bits(x[j], y[j]) for j in x), \
                    f"{part}.{k} changed"
            else:
                assert same_bits(x, y), f"{part}.{k} changed"


def all_finite(ckpt: dict) -> bool:
    tensors = [v for v in ckpt["state_dict"].values()]
    for opt in ckpt["optimizer_states"]:
        for state in opt["state"].values():
            tensors += list(state.values())
    return all(torch.isfinite(t).all() for t in tensors if t.is_floating_point())


@pytest.fixture
def faults(monkeypatch):
    """Inject faults: {step: "loss" | "gradient"}; returns a record of the training state
    at the start of every step, the steps after_step ran for, and the model."""
    plan: dict[int, str] = {}
    seen: dict = {"start": {}, "after_step": [], "model": None}
    compute_losses = SSLMethod.compute_losses

    def faulty_compute_losses(self, batch):
        out = compute_losses(self, batch)
        loss = out.ssl
        kind = plan.get(self.global_step)
        if kind == "loss":
            loss = loss * NAN  # after the forward pass: buffers have moved
        elif kind == "gradient":  # a finite loss whose backward sends NaN
            loss.register_hook(lambda g: torch.full_like(g, NAN))
        return dataclasses.replace(out, ssl=loss)

    def on_train_batch_start(self, batch, batch_idx):
        seen["model"] = self
        seen["start"][self.global_step] = clone_state(self)

    after_step = SSLMethod.after_step

    def recording_after_step(self, batch):
        # Runs right after the optimizer step, before Lightning counts the step.
        seen["after_step"].append(self.global_step)
        after_step(self, batch)

    monkeypatch.setattr(SSLMethod, "compute_losses", faulty_compute_losses)
    monkeypatch.setattr(SSLMethod, "on_train_batch_start", on_train_batch_start)
    monkeypatch.setattr(SSLMethod, "after_step", recording_after_step)
    seen["plan"] = plan
    return seen


def error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("infomax: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("kind", ["loss", "gradient"])
def test_the_first_nonfinite_step_stops_the_run_before_the_update(fake_fmnist, tmp_path, faults,
                                                                  capfd, kind):
    faults["plan"][3] = kind
    capfd.readouterr()
    rc = main(tiny_args(fake_fmnist, tmp_path, *SHORT))
    line = error_line(capfd.readouterr().err)
    assert rc == 2
    assert f"non-finite {kind}" in line and "at step 3 (loss=" in line and "l1t5=" in line
    if kind == "gradient":
        assert "gradient of encoder." in line  # the first parameter whose gradient is bad
    run = tmp_path / "tiny"
    assert f"last good checkpoint {run / 'last.ckpt'} (step 2) is kept" in line
    # Nothing of the bad step was applied: the parameters and Adam's state are as at the
    # start of step 3. (The buffers are not put back when the run stops: nothing saves them.)
    model = faults["model"]
    assert_bitwise_equal(faults["start"][3], clone_state(model), ("params", "optimizer"))
    assert not torch.equal(faults["start"][2]["params"]["encoder.to7.0.conv.weight"],
                           faults["start"][3]["params"]["encoder.to7.0.conv.weight"])
    assert faults["after_step"] == [0, 1, 2]
    # Every checkpoint left is finite and the one of before the fault.
    ckpts = sorted(p.name for p in run.glob("*.ckpt"))
    assert ckpts == ["best.ckpt", "last.ckpt"]
    for name in ckpts:
        ckpt = load(run / name)
        assert ckpt["global_step"] == 2 and all_finite(ckpt)
    assert not (run / "summary.json").exists()


def test_skip_nonfinite_skips_the_bad_steps_and_the_run_finishes(fake_fmnist, tmp_path, faults,
                                                                 capfd):
    faults["plan"].update({1: "loss", 2: "gradient"})
    capfd.readouterr()
    rc = main(tiny_args(fake_fmnist, tmp_path, *SHORT, "--skip-nonfinite", "2"))
    err = capfd.readouterr().err
    assert rc == 0, err
    warnings = [ln for ln in err.splitlines() if ln.startswith("infomax: warning: non-finite")]
    assert len(warnings) == 2
    assert "non-finite loss at step 1 (loss=nan" in warnings[0] and "(1 of" in warnings[0]
    assert "non-finite gradient of encoder." in warnings[1] and "at step 2" in warnings[1]
    # Each skipped step left parameters, Adam's state and every buffer (BatchNorm
    # statistics included) exactly as they were, and ran no after_step.
    start = faults["start"]
    assert any(".running_mean" in n for n in start[1]["buffers"])
    assert_bitwise_equal(start[1], start[2])
    assert_bitwise_equal(start[2], start[3])
    for part, name in (("params", "encoder.to7.0.conv.weight"),
                       ("buffers", "encoder.to1.2.running_mean")):
        assert not torch.equal(start[0][part][name], start[1][part][name])  # step 0 applied
    assert faults["after_step"] == [0, 3]
    run = tmp_path / "tiny"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["skipped_nonfinite"] == 2 and summary["steps"] == 4
    for name in ("last.ckpt", "last.prev.ckpt", "best.ckpt"):
        assert all_finite(load(run / name)), name
    assert load(run / "last.ckpt")["skipped_nonfinite"] == 2
    with open(run / "csv" / "metrics.csv", newline="") as f:
        logged = {int(r["step"]): float(r["train/skipped_nonfinite"])
                  for r in csv.DictReader(f) if r.get("train/skipped_nonfinite")}
    assert logged == {0: 0.0, 1: 1.0, 2: 2.0, 3: 2.0}


def test_one_bad_step_more_than_allowed_stops_the_run(fake_fmnist, tmp_path, faults, capfd):
    faults["plan"].update({0: "loss", 3: "loss"})
    capfd.readouterr()
    rc = main(tiny_args(fake_fmnist, tmp_path, *SHORT, "train.skip_nonfinite=1"))
    line = error_line(capfd.readouterr().err)
    assert rc == 2 and "at step 3" in line and "train.skip_nonfinite=1, 1 skipped before" in line
    ckpt = load(tmp_path / "tiny" / "last.ckpt")
    assert ckpt["global_step"] == 2 and ckpt["skipped_nonfinite"] == 1 and all_finite(ckpt)


def test_a_skipped_first_step_of_instdisc_puts_its_bank_and_constant_back(fake_fmnist, tmp_path,
                                                                         faults):
    # The first step estimates log Z and writes the batch's bank rows inside ssl_step.
    faults["plan"][0] = "loss"
    rc = main(tiny_args(fake_fmnist, tmp_path, "method=instdisc", "instdisc.num_negatives=32",
                        "train.epochs=1", "train.limit_train_batches=2", "data.val_subset=32",
                        "train.skip_nonfinite=1"))
    assert rc == 0  # log Z, NaN again, is estimated anew by the next step
    start = faults["start"]
    assert torch.isnan(start[1]["buffers"]["log_z"])
    assert_bitwise_equal(start[0], start[1])
    ckpt = load(tmp_path / "tiny" / "last.ckpt")
    assert torch.isfinite(ckpt["state_dict"]["log_z"]) and ckpt["skipped_nonfinite"] == 1
    assert not torch.equal(ckpt["state_dict"]["bank.bank"], start[1]["buffers"]["bank.bank"])


def test_a_checkpoint_holding_a_nan_is_never_written(fake_fmnist, tmp_path, monkeypatch, capfd):
    # A NaN that no loss or gradient shows (here: a BatchNorm statistic, put there after
    # step 2): the save at the end of epoch 2 is refused and the epoch-1 checkpoint stays.
    after_step = SSLMethod.after_step

    def poison(self, batch):
        after_step(self, batch)
        if self.global_step == 2:  # right after the optimizer step of step 2
            self.encoder.to1[2].running_var.fill_(NAN)

    monkeypatch.setattr(SSLMethod, "after_step", poison)
    capfd.readouterr()
    rc = main(tiny_args(fake_fmnist, tmp_path, *SHORT))
    line = error_line(capfd.readouterr().err)
    assert rc == 2
    assert "refusing to save a checkpoint at step 4" in line
    assert "state_dict.encoder.to1.2.running_var" in line and "--skip-nonfinite" not in line
    run = tmp_path / "tiny"
    assert sorted(p.name for p in run.glob("*.ckpt")) == ["best.ckpt", "last.ckpt"]
    for name in ("best.ckpt", "last.ckpt"):
        ckpt = load(run / name)
        assert ckpt["global_step"] == 2 and all_finite(ckpt)


def test_skip_nonfinite_config_key_and_flag():
    assert make_config("fmnist-tiny").train.skip_nonfinite == 0
    assert make_config("fmnist-tiny", ["train.skip_nonfinite=3"]).train.skip_nonfinite == 3
    with pytest.raises(ConfigError, match="skip_nonfinite"):
        make_config("fmnist-tiny", ["train.skip_nonfinite=-1"])


def test_a_skipped_step_leaves_the_online_probes_replay_and_average_alone(
        fake_fmnist, tmp_path, faults, monkeypatch):
    faults["plan"][1] = "loss"
    kept: dict[int, int] = {}
    start = SSLMethod.on_train_batch_start

    def record(self, batch, batch_idx):
        kept[self.global_step] = len(self.probes.recent)
        start(self, batch, batch_idx)

    monkeypatch.setattr(SSLMethod, "on_train_batch_start", record)
    rc = main(tiny_args(fake_fmnist, tmp_path, *SHORT, "train.skip_nonfinite=1",
                        "probe.online_replay=1", "probe.online_window=8",
                        "probe.online_ema=0.5"))
    assert rc == 0
    # Batches kept for replay: none of the skipped step's.
    assert kept == {0: 0, 1: 1, 2: 1, 3: 2}
    # The averaged heads (parameters without gradients) moved after step 0, not step 1.
    s = faults["start"]
    name = "probes.averaged.linear.weight"
    assert not torch.equal(s[0]["params"][name], s[1]["params"][name])
    assert_bitwise_equal(s[1], s[2])
