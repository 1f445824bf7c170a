"""The encoder's learning-rate schedule: warmup, milestone steps and the linear cooldown."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from conftest import tiny_args
from infomax.config import ConfigError, make_config
from infomax.methods import METHODS
from infomax.methods.schedule import WarmupMultiStep


def test_warmup_and_milestones_without_cooldown():
    f = WarmupMultiStep(warmup=4, milestones=[2, 3], gamma=0.5, steps_per_epoch=10,
                        total_steps=40)
    assert [f(s) for s in range(5)] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])
    assert [f(s) for s in (19, 20, 29, 30, 39)] == pytest.approx([1, 0.5, 0.5, 0.25, 0.25])


def test_cooldown_falls_linearly_to_one_nth_on_the_last_update():
    # 40 updates, the last quarter (10 updates) cooling down: steps 30..39 run at 10/10 of
    # the milestone's rate down to 1/10; nothing before step 30 changes.
    plain = WarmupMultiStep(4, [2], 0.5, 10, total_steps=40)
    cool = WarmupMultiStep(4, [2], 0.5, 10, total_steps=40, cooldown=0.25)
    assert [cool(s) for s in range(31)] == [plain(s) for s in range(31)]
    assert [cool(s) for s in range(30, 40)] == pytest.approx(
        [0.5 * (40 - s) / 10 for s in range(30, 40)])
    assert cool(39) > 0 and cool(40) == 0.0 and cool(45) == 0.0
    # the whole run cooling down: a straight line from the first update (after warmup)
    full = WarmupMultiStep(0, [], 0.5, 10, total_steps=40, cooldown=1.0)
    assert [full(s) for s in range(40)] == pytest.approx([(40 - s) / 40 for s in range(40)])


def test_configure_optimizers_cools_down_over_all_epochs_of_the_config():
    cfg = make_config("fmnist-tiny", ["model.ndf=8", "model.n_rkhs=32", "train.epochs=3",
                                      "optim.warmup_steps=0", "optim.milestones=[1000]",
                                      "optim.cooldown=0.5", "optim.probe_lr=null",
                                      "optim.probe_cooldown=true"])
    model = METHODS["amdim"](cfg, num_classes=10, in_channels=1, image_size=32)
    model.steps_per_epoch = 20
    sched = model.configure_optimizers()["lr_scheduler"]["scheduler"]
    (fn,) = sched.lr_lambdas
    assert (fn.total_steps, fn.cooldown) == (60, 0.5)
    assert fn(29) == 1.0 and fn(30) == 1.0 and fn(31) == pytest.approx(29 / 30)


@pytest.mark.parametrize("probe_lr", ["null", "0.01"])
def test_without_probe_cooldown_the_probes_keep_their_rate_to_the_end(probe_lr):
    cfg = make_config("fmnist-tiny", ["model.ndf=8", "model.n_rkhs=32", "train.epochs=2",
                                      "optim.warmup_steps=4", "optim.milestones=[1000]",
                                      "optim.cooldown=0.5", f"optim.probe_lr={probe_lr}",
                                      "optim.probe_cooldown=false"])
    model = METHODS["amdim"](cfg, num_classes=10, in_channels=1, image_size=32)
    model.steps_per_epoch = 10
    sched = model.configure_optimizers()["lr_scheduler"]["scheduler"]
    enc, probes = sched.optimizer.param_groups
    assert {id(p) for p in probes["params"]} == {
        id(p) for p in model.probes.parameters() if p.requires_grad}
    rate = 1e-3 if probe_lr == "null" else 0.01
    seen = []
    for _ in range(20):
        seen.append((enc["lr"], probes["lr"]))
        sched.optimizer.step()
        sched.step()
    # Warmup alike; then the encoder cools down over the last 10 updates, the probes not.
    assert [p for _, p in seen] == pytest.approx([rate * min(1, (s + 1) / 4) for s in range(20)])
    assert [e for e, _ in seen][10:] == pytest.approx([1e-3 * (20 - s) / 10
                                                      for s in range(10, 20)])


@pytest.mark.parametrize("value", ["1.5", "-0.1"])
def test_cooldown_outside_zero_one_is_refused(value):
    with pytest.raises(ConfigError, match="optim.cooldown"):
        make_config("fmnist-tiny", [f"optim.cooldown={value}"])


def _lrs(run: Path) -> dict[int, float]:
    with open(run / "csv" / "metrics.csv", newline="") as f:
        return {int(r["step"]): float(r["lr"]) for r in csv.DictReader(f) if r.get("lr")}


@pytest.mark.filterwarnings("ignore:The dirpath has changed")
def test_a_run_cools_down_and_a_resume_with_more_epochs_follows_the_new_plan(
        fake_fmnist_session, tmp_path):
    from infomax.cli import main

    short = ["train.limit_train_batches=2", "data.val_subset=32", "optim.warmup_steps=0",
             "optim.cooldown=0.5"]
    assert main(tiny_args(fake_fmnist_session, tmp_path, *short, "train.epochs=2")) == 0
    run = tmp_path / "tiny"
    # 4 updates, the last 2 cooling down: rates 1, 1, 1, 1/2 of the preset's 1e-3
    assert [_lrs(run)[s] for s in range(4)] == pytest.approx([1e-3, 1e-3, 1e-3, 5e-4])
    # Raised to 3 epochs: 6 updates, the last 3 cooling down, counted from the new end
    # (the finished run's rate of 1/2 is not carried on).
    assert main(tiny_args(fake_fmnist_session, tmp_path, *short, "train.epochs=3",
                          "--resume")) == 0
    assert [_lrs(run)[s] for s in (4, 5)] == pytest.approx([2e-3 / 3, 1e-3 / 3])
