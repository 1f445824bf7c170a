"""Exact resume after a crash: a run killed with SIGKILL at some step and continued with
``--resume`` ends with the weights, optimizer state, schedule, RNG states, queues and memory
banks of the uninterrupted run, bit for bit. Also the pieces this rests on: the epoch
sampler, per-item seeding of the views, and checkpoints written atomically."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from conftest import tiny_args
from infomax.cli import main
from infomax.data.module import EpochSampler, PretrainData, SeededItems
from infomax.methods.base import SSLMethod
from test_pretrain import assert_same_tensors, load, read_csv

# 96 images in batches of 32: 3 steps per epoch, 2 epochs; last.ckpt after every step.
STEPS_PER_EPOCH = 3
RUN = ("data.pretrain_subset=96", "data.val_subset=32", "train.epochs=2",
       "train.checkpoint_every_n_steps=1")
METHOD = {"amdim": (),
          # online probes on test views, learning from replayed features, scored averaged
          "amdim-online": ("probe.online_view=test", "probe.online_replay=2",
                           "probe.online_window=2", "probe.online_ema=0.9"),
          "moco": ("method=moco", "moco.queue_size=64", "moco.hidden_dim=32",
                   "moco.embed_dim=16"),
          "instdisc": ("method=instdisc", "instdisc.num_negatives=16", "instdisc.embed_dim=16"),
          # multi-crop (2 small crops), a queue of 2 batches filled from the start and used
          # from step 3, prototypes frozen in epoch 1
          "swav": ("method=swav", "swav.nmb_prototypes=16", "swav.hidden_dim=32",
                   "swav.embed_dim=16", "swav.small_crops=2", "swav.queue_length=64",
                   "swav.queue_start_epoch=0"),
          # SimCLR's recipe (LARS, cosine) with two batches per update: 2 updates an epoch
          "simclr-accumulate": ("method=simclr", "simclr.hidden_dim=32", "simclr.embed_dim=16",
                                "optim.accumulate=2")}
DATA_STATE = PretrainData.__qualname__  # the checkpoint key of the data's position


# ----------------------------------------------------------------------------- killed runs


def _die_at(step: int, hook: str, argv: list[str]) -> None:
    """``infomax pretrain`` that SIGKILLs itself in the first call of ``hook``
    (training_step or validation_step) once ``step`` optimizer steps are done: inside the
    next step (loader workers running, batches prefetched), or in the validation after an
    epoch's last step. Nothing is flushed or closed: what is on disk then is what a crash
    leaves."""
    original = getattr(SSLMethod, hook)

    def hooked(self, batch, batch_idx):
        if self.global_step >= step:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, batch, batch_idx)

    setattr(SSLMethod, hook, hooked)
    main(argv)


def killed_run(argv: list[str], step: int, hook: str, timeout: float = 60.0) -> None:
    """Run ``_die_at`` in a forked child (killed as a crash kills, without the start-up
    time of a fresh interpreter) and wait for the child itself to die. The child leads its
    own process group: its DataLoader workers, orphaned by the kill, are killed with the
    group afterwards, as a job scheduler ends a crashed job. (Waiting on the child through
    multiprocessing would also wait for those workers, which hold its sentinel pipe.) A
    killed run takes about 2 s; the timeout only bounds a hung child (see conftest's note
    on OpenMP after fork)."""
    pid = os.fork()
    if pid == 0:  # the child
        status = 1
        try:
            os.setpgid(0, 0)
            _die_at(step, hook, argv)
        finally:
            os._exit(status)  # only when _die_at did not kill it: the test then fails
    deadline = time.monotonic() + timeout
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            assert time.monotonic() < deadline, f"the killed run did not die in {timeout} s"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status


@pytest.fixture(scope="module")
def straight_runs(fake_fmnist_session, tmp_path_factory, module_registry):
    """Uninterrupted 2-epoch runs (data.num_workers=0), one per method, made when asked."""
    runs: dict[str, Path] = {}

    def get(method: str) -> Path:
        if method not in runs:
            out = tmp_path_factory.mktemp(f"straight-{method}")
            assert main(tiny_args(fake_fmnist_session, out, *RUN, *METHOD[method])) == 0
            runs[method] = out / "tiny"
        return runs[method]

    return get


TRAIN, VAL = "training_step", "validation_step"

# (method; kill points: where and after how many optimizer steps the run, then each resumed
# run, dies; DataLoader workers of these runs; what last.ckpt holds after each death:
# global step, data position (epoch, batches of it done))
CASES = [
    pytest.param("amdim", [(TRAIN, 4)], 0, [(4, (1, 1))], id="amdim-inside-epoch-2"),
    pytest.param("amdim-online", [(TRAIN, 4)], 2, [(4, (1, 1))],
                 id="amdim-online-probe-options-inside-epoch-2-workers"),
    # last.ckpt: the end-of-epoch checkpoint
    pytest.param("amdim", [(TRAIN, 3)], 2, [(3, (1, 0))], id="amdim-start-of-epoch-2-workers"),
    # last.ckpt: the step checkpoint before the epoch's last step (none follows that step)
    pytest.param("moco", [(VAL, 3)], 2, [(2, (0, 2))], id="moco-validation-of-epoch-1-workers"),
    pytest.param("instdisc", [(TRAIN, 1)], 0, [(1, (0, 1))], id="instdisc-inside-epoch-1"),
    # batches 0-1 and 2 of each epoch make its two updates: the step checkpoint of update 3
    # (epoch 2's batches 0-1), killed in batch 2
    pytest.param("simclr-accumulate", [(TRAIN, 3)], 0, [(3, (1, 2))],
                 id="simclr-recipe-accumulating-2-batches-inside-epoch-2"),
    pytest.param("swav", [(TRAIN, 4)], 2, [(4, (1, 1))],
                 id="swav-multicrop-queue-inside-epoch-2-workers"),
    pytest.param("instdisc", [(VAL, 3), (TRAIN, 5)], 2, [(2, (0, 2)), (5, (1, 2))],
                 id="instdisc-validation-of-epoch-1-then-inside-epoch-2-workers"),
]


@pytest.mark.slow
@pytest.mark.parametrize("method, kills, workers, saved", CASES)
def test_a_killed_run_resumes_to_the_uninterrupted_runs_state(
        method, kills, workers, saved, straight_runs, fake_fmnist_session, tmp_path,
        module_registry):
    """The uninterrupted run loads its data in the main process; the killed and resumed
    one, in some cases, with 2 workers: the views do not depend on the workers."""
    argv = tiny_args(fake_fmnist_session, tmp_path, *RUN, *METHOD[method],
                     f"data.num_workers={workers}")
    run = tmp_path / "tiny"
    for i, ((hook, step), (global_step, position)) in enumerate(zip(kills, saved)):
        killed_run([*argv, "--resume"] if i else argv, step, hook)
        crashed = load(run / "last.ckpt")
        assert crashed["global_step"] == global_step
        assert (crashed[DATA_STATE]["epoch"], crashed[DATA_STATE]["batches"]) == position
        assert not (run / "summary.json").exists()

    assert main([*argv, "--resume"]) == 0
    straight_run = straight_runs(method)
    straight = load(straight_run / "last.ckpt")
    resumed = load(run / "last.ckpt")
    # 2 epochs of 3 batches: 6 updates, or 4 accumulating 2 batches (0-1, 2 in each epoch)
    updates = 4 if method == "simclr-accumulate" else 2 * STEPS_PER_EPOCH
    assert resumed["global_step"] == straight["global_step"] == updates
    for key in ("state_dict", "optimizer_states", "lr_schedulers", "rng_states", DATA_STATE,
                "probe_replay"):
        assert (key in straight) == (key in resumed) == (
            key != "probe_replay" or method == "amdim-online"), key
        if key in straight:
            assert_same_tensors(straight[key], resumed[key], key)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == updates and summary["epochs"] == 2
    assert summary["skipped_images"] == 0
    # The last epoch's validation ran, on the same weights; every logged number is there.
    assert summary["online"] == json.loads((straight_run / "summary.json").read_text())["online"]
    assert read_csv(run) == read_csv(straight_run)


# ----------------------------------------------------------------------------- the pieces


class Numbers(Dataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[int, float]:
        return i, torch.rand(()).item()


def keys(sampler: EpochSampler) -> list[tuple[int, int]]:
    return list(iter(sampler))


def test_the_epoch_sampler_order_is_a_function_of_seed_and_epoch():
    a, b = EpochSampler(Numbers(20), 4, seed=1), EpochSampler(Numbers(20), 4, seed=1)
    torch.manual_seed(0)
    first = keys(a)
    torch.manual_seed(123)  # the global RNG plays no part
    assert keys(b) == first == keys(a)
    assert sorted(i for i, _ in first) == list(range(20)) and {e for _, e in first} == {0}
    a.set_epoch(1)
    second = keys(a)
    assert [i for i, _ in second] != [i for i, _ in first] and {e for _, e in second} == {1}
    assert [i for i, _ in keys(EpochSampler(Numbers(20), 4, seed=2))] != [i for i, _ in first]
    # two processes: disjoint halves of the same permutation
    halves = [keys(EpochSampler(Numbers(20), 4, seed=1, num_replicas=2, rank=r)) for r in (0, 1)]
    assert sorted(halves[0] + halves[1]) == sorted(first)


def test_the_epoch_sampler_starts_after_the_batches_done_once():
    s = EpochSampler(Numbers(20), 4, seed=1)
    s.set_epoch(3)
    whole = keys(s)
    s.start(3, 2)
    s.set_epoch(3)  # Lightning's call at the start of the resumed epoch keeps the offset
    assert len(s) == 20 and keys(s) == whole[8:]
    assert keys(s) == whole  # the next pass of that epoch is whole again
    s.start(3, 2)
    s.set_epoch(4)  # another epoch: from its start
    assert len(keys(s)) == 20 and keys(s)[0][1] == 4


def test_items_are_seeded_by_seed_epoch_and_index_and_leave_the_global_rng_alone():
    items = SeededItems(Numbers(10), seed=5)
    state = torch.get_rng_state()
    forward = [items[(i, 0)] for i in range(10)]
    backward = [items[(i, 0)] for i in reversed(range(10))][::-1]
    assert torch.equal(torch.get_rng_state(), state)
    assert forward == backward
    assert len({x for _, x in forward}) == 10  # unrelated draws for neighbouring indices
    assert items[(3, 1)] != items[(3, 0)] and SeededItems(Numbers(10), 6)[(3, 0)] != items[(3, 0)]
