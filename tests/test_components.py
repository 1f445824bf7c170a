"""The step components (infomax.methods.components), each alone: no method, no Trainer
run (a stand-in module and trainer where a hook needs one)."""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from infomax.errors import NonFiniteCheckpointError, NonFiniteError
from infomax.methods.components import (BufferBackup, NonFiniteGuard, ProbeReplayState,
                                        RNGStates, StepRecord)
from infomax.nn.probes import OnlineProbes


class Tiny(nn.Module):
    """A module with a parameter, a buffer and what the guard asks of a method."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))
        self.register_buffer("count", torch.zeros(2))
        self.current_step: StepRecord | None = None
        self.global_step = 7
        self.refused = 0
        self.logged: dict[str, float] = {}

    def on_step_refused(self) -> None:
        self.refused += 1

    def log(self, name: str, value: float, **kwargs) -> None:
        self.logged[name] = value


TRAINER = SimpleNamespace(precision_plugin=SimpleNamespace())


def test_buffer_backup_puts_back_what_a_step_changed_and_follows_a_resize():
    m = Tiny()
    backup = BufferBackup()
    backup.save(m)
    m.count += 5
    backup.restore(m)
    assert torch.equal(m.count, torch.zeros(2))
    m.count = torch.ones(4)  # resized (a memory bank sized in setup)
    backup.save(m)
    m.count.zero_()
    backup.restore(m)
    assert torch.equal(m.count, torch.ones(4))


def test_the_guard_lets_finite_steps_through_and_refuses_up_to_its_limit():
    m = Tiny()
    guard = NonFiniteGuard(limit=1)
    opt = torch.optim.SGD(m.parameters(), lr=1.0)
    m.w.grad = torch.ones(3)
    m.current_step = StepRecord(None, torch.tensor(1.0))
    guard.on_before_optimizer_step(TRAINER, m, opt)
    assert not m.current_step.refused and m.w.grad is not None and guard.skipped == 0

    guard.on_train_batch_start(TRAINER, m, None, 0)  # buffers saved at the batch's start
    m.count += 3  # the forward pass moved them
    m.w.grad = torch.tensor([1.0, float("nan"), 0.0])
    m.current_step = StepRecord(None, torch.tensor(2.0), {"loss": torch.tensor(2.0)})
    guard.on_before_optimizer_step(TRAINER, m, opt)
    assert m.current_step.refused and m.w.grad is None and guard.skipped == 1
    assert torch.equal(m.count, torch.zeros(2)) and m.refused == 1
    guard.on_train_batch_end(TRAINER, m, None, None, 0)
    assert m.logged == {"train/skipped_nonfinite": 1.0}

    m.current_step = StepRecord(None, torch.tensor(float("inf")), {"loss": torch.tensor(2.0)})
    with pytest.raises(NonFiniteError, match="non-finite loss at step 7 .*1 skipped before"):
        guard.on_before_optimizer_step(TRAINER, m, opt)


def test_the_guard_names_the_gradient_and_refuses_a_nonfinite_checkpoint():
    m = Tiny()
    m.w.grad = torch.tensor([0.0, float("inf"), 0.0])
    assert NonFiniteGuard.fault(m, torch.tensor(0.5)) == "gradient of w"
    assert NonFiniteGuard.fault(m, torch.tensor(0.5), check_grads=False) is None
    ckpt = {"state_dict": {"w": torch.ones(2), "log_z": torch.tensor(float("nan"))},
            "optimizer_states": [{"state": {0: {"exp_avg": torch.zeros(2)}}}]}
    NonFiniteGuard.refuse_nonfinite(ckpt, 3, allowed=("log_z",))  # NaN on purpose there
    with pytest.raises(NonFiniteCheckpointError, match="state_dict.log_z holds a NaN"):
        NonFiniteGuard.refuse_nonfinite(ckpt, 3)
    guard = NonFiniteGuard(2)
    guard.skipped = 2
    saved: dict = {"state_dict": {}}
    guard.on_save_checkpoint(TRAINER, SimpleNamespace(global_step=1), saved)
    restored = NonFiniteGuard(2)
    restored.on_load_checkpoint(TRAINER, None, saved)
    assert saved["skipped_nonfinite"] == 2 and restored.skipped == 2


def test_rng_states_travel_with_a_checkpoint_and_come_back_when_training_starts():
    carrier = RNGStates()
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    ckpt: dict = {}
    carrier.on_save_checkpoint(None, None, ckpt)
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(9), np.random.seed(9), random.seed(9)  # the states move on
    carrier.load(ckpt, now=False)  # e.g. load_from_checkpoint: put back at train start
    assert carrier.pending is not None
    carrier.on_train_start(None, None)
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert got[2] == expected[2] and carrier.pending is None


def test_probe_replay_state_is_checkpointed_only_when_the_probes_replay():
    probes = OnlineProbes(4, 3, replay=2, window=3)
    for i in range(3):
        probes.with_replay(torch.full((2, 4), float(i)), torch.full((2,), i))
    module = SimpleNamespace(probes=probes)
    ckpt: dict = {}
    ProbeReplayState().on_save_checkpoint(None, module, ckpt)
    fresh = SimpleNamespace(probes=OnlineProbes(4, 3, replay=2, window=3, seed=5))
    ProbeReplayState().on_load_checkpoint(None, fresh, ckpt)
    assert [int(f[0, 0]) for f, _ in fresh.probes.recent] == [0, 1, 2]
    assert torch.equal(fresh.probes.generator.get_state(), probes.generator.get_state())
    plain: dict = {}
    ProbeReplayState().on_save_checkpoint(None, SimpleNamespace(probes=OnlineProbes(4, 3)),
                                          plain)
    assert "probe_replay" not in plain
