"""Exact resume of a data-parallel run on an image folder: a 2-process (gloo, CPU, DDP)
pretraining on ``imagefolder:<root>``, killed with SIGKILL inside an epoch (the main
process, the rank-1 process Lightning started, their DataLoader workers: the whole
process group, as a crashed job dies) and continued with ``--resume``, ends with the
weights, optimizer state, schedule, RNG states of every process, data position, logs and
summary of the uninterrupted 2-process run, bit for bit. Also with a truncated JPEG in the
folder (data.strict=false): it is skipped and replaced by the same image in both runs, and
counted once."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torch.utils.data import Dataset

import infomax
from conftest import TINY
from infomax.data.module import EpochSampler, PretrainData
from test_pretrain import assert_same_tensors, load, read_csv

CLASSES = ("ant", "bee", "cow")
PER_CLASS = 32  # 96 training images; val/: 4 per class
BATCH = 16  # per process: 32 images a step, 3 steps per epoch, 2 epochs
WORLD = 2
STEPS_PER_EPOCH = PER_CLASS * len(CLASSES) // (BATCH * WORLD)
EPOCHS = 2
SEED = 0  # train.seed
DATA_STATE = PretrainData.__qualname__  # the checkpoint key of the data's position
INFOMAX = str(Path(sys.executable).parent / "infomax")  # the console script

# The killed run: ``infomax pretrain`` whose main process, once HOLD_AT optimizer steps are
# done (last.ckpt of that step written), holds at the start of the next training step, so
# that the test kills it at a known point; the rank-1 process goes on into that step and
# waits for it in the step's first collective. Lightning relaunches this script, with the
# same arguments, for rank 1.
HELD_PRETRAIN = """\
import os, sys, time
from infomax.methods.base import SSLMethod

HOLD_AT = int(os.environ["HOLD_AT"])
original = SSLMethod.training_step


def training_step(self, batch, batch_idx):
    if self.global_step >= HOLD_AT and self.global_rank == 0:
        time.sleep(3600)  # until SIGKILL
    return original(self, batch, batch_idx)


SSLMethod.training_step = training_step
from infomax.cli import main

sys.exit(main())
"""


class _Indices(Dataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n


def share(rank: int, epoch: int) -> list[int]:
    """The pretraining indices process ``rank`` trains on in ``epoch``, in order."""
    sampler = EpochSampler(_Indices(PER_CLASS * len(CLASSES)), BATCH, SEED,
                           num_replicas=WORLD, rank=rank)
    sampler.set_epoch(epoch)
    return [i for i, _ in sampler]


def image_name(i: int) -> str:
    """Odd-numbered images are 40x36 RGB JPEGs, even ones 32x32 grayscale PNGs."""
    return f"{i:02d}.jpg" if i % 2 else f"{i:02d}.png"


def write_folder(root: Path, corrupt: int | None = None) -> Path:
    """``<root>/train/<class>/<name>`` and ``<root>/val/<class>/<name>``: noise around a
    class's own brightness, from a seeded RNG. Sorted (the pretraining order of indices),
    training image ``i`` is ``train/CLASSES[i // PER_CLASS]/image_name(i % PER_CLASS)``.
    ``corrupt``: that training image (a JPEG) is cut to half its bytes."""
    rng = np.random.default_rng(11)
    for split, n in (("train", PER_CLASS), ("val", 4)):
        for c, cls in enumerate(CLASSES):
            folder = root / split / cls
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                shape = (36, 40, 3) if i % 2 else (32, 32)
                pixels = np.clip(rng.normal(60 + 60 * c, 40, shape), 0, 255).astype(np.uint8)
                path = folder / image_name(i)
                if i % 2:
                    Image.fromarray(pixels, "RGB").save(path, quality=90)
                else:
                    Image.fromarray(pixels, "L").save(path)
    if corrupt is not None:
        path = train_file(root, corrupt)
        assert path.suffix == ".jpg"
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    return root


def train_file(root: Path, index: int) -> Path:
    return root / "train" / CLASSES[index // PER_CLASS] / image_name(index % PER_CLASS)


@pytest.fixture
def image_folder(tmp_path):
    """``write_folder`` into the test's folder: ``image_folder(corrupt=None) -> root``."""
    return lambda corrupt=None: write_folder(tmp_path / "images", corrupt)


def pretrain_args(root: Path, out: Path, workers: int) -> list[str]:
    return ["pretrain", "--preset", "fmnist-tiny", "--no-progress", "--out", str(out),
            "--name", "run", *TINY, f"data.name=imagefolder:{root}", "data.image_size=32",
            f"data.batch_size={BATCH}", f"data.num_workers={workers}",
            f"train.devices={WORLD}", "train.strategy=ddp", "train.accelerator=cpu",
            f"train.epochs={EPOCHS}", "train.checkpoint_every_n_steps=1"]


def environment(**extra: str) -> dict[str, str]:
    """This process's environment, with this checkout's sources first on the path (for
    the rank-1 process too) and one OpenMP thread per process."""
    src = str(Path(infomax.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", **extra}


def start(cmd: list[str], log: Path, **env: str) -> subprocess.Popen:
    """``cmd`` in a process group of its own, its output in ``log``."""
    with log.open("w") as f:
        return subprocess.Popen(cmd, env=environment(**env), stdout=f,
                                stderr=subprocess.STDOUT, start_new_session=True)


def finish(proc: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    """Wait for ``proc`` (up to ``timeout`` s), kill what is left of its group, and check
    that it succeeded."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == 0, log.read_text()[-3000:]


def group_gone(pgid: int, seconds: float = 30) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def rank_one_alive(pid: int) -> bool:
    """Whether the rank-1 process the main process ``pid`` started runs (Linux: found
    among its children by the LOCAL_RANK Lightning gives it; elsewhere assumed)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if not children.exists():
        return True
    for child in children.read_text().split():
        with contextlib.suppress(OSError):
            if b"LOCAL_RANK=1" in Path(f"/proc/{child}/environ").read_bytes().split(b"\0"):
                return True
    return False


def killed_run(args: list[str], hold_at: int, script: Path, log: Path,
               timeout: float = 240) -> None:
    """Start the run (its own process group), wait until its last.ckpt holds step
    ``hold_at`` with both processes alive, then SIGKILL the group."""
    script.write_text(HELD_PRETRAIN)
    run = Path(args[args.index("--out") + 1]) / "run"
    proc = start([sys.executable, str(script), *args], log, HOLD_AT=str(hold_at))
    try:
        deadline = time.monotonic() + timeout
        seen = None
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"step {hold_at} not reached in {timeout} s"
            last = run / "last.ckpt"
            stamp = last.stat().st_mtime_ns if last.exists() else None
            if stamp is not None and stamp != seen:
                seen = stamp
                step = load(last)["global_step"]
                assert step <= hold_at
                if step == hold_at:
                    break
            time.sleep(0.1)
        time.sleep(0.5)  # rank 1 well into the next step
        assert rank_one_alive(proc.pid), "the rank-1 process is not running"
        os.killpg(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        assert group_gone(proc.pid), "a process of the killed run is still alive"
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def the_corrupt_image(hold_at: int) -> int:
    """A JPEG that rank 1 meets in the first epoch and rank 0 in the second, after the
    kill: the killed run finds it (in rank 1), the resumed one only takes it from the
    checkpoint, the uninterrupted one finds it twice (once in each process)."""
    done = (hold_at - STEPS_PER_EPOCH) * BATCH
    later = set(share(0, 1)[done:])
    return next(i for i in share(1, 0) if i % 2 and i in later)


CASES = [
    # (a truncated JPEG in the folder; steps done when killed; DataLoader workers)
    pytest.param(False, STEPS_PER_EPOCH + 2, 0, id="clean-folder-killed-after-step-5"),
    pytest.param(True, STEPS_PER_EPOCH + 1, 1, id="truncated-jpeg-killed-after-step-4-workers"),
]


@pytest.mark.slow
@pytest.mark.parametrize("corrupt, hold_at, workers", CASES)
def test_a_killed_two_process_folder_run_resumes_to_the_uninterrupted_runs_state(
        corrupt, hold_at, workers, image_folder, tmp_path):
    bad = the_corrupt_image(hold_at) if corrupt else None
    root = image_folder(bad)
    bad_file = [str(train_file(root, bad))] if corrupt else []

    # The uninterrupted run alongside the killed one: the start of a 2-process run (two
    # interpreters importing torch and Lightning, one after the other) leaves a core idle.
    uninterrupted = start([INFOMAX, *pretrain_args(root, tmp_path / "straight", workers)],
                          tmp_path / "straight.log")
    try:
        args = pretrain_args(root, tmp_path / "killed", workers)
        killed_run(args, hold_at, tmp_path / "held_pretrain.py", tmp_path / "killed.log")
    except BaseException:
        finish(uninterrupted, tmp_path / "straight.log", timeout=0)
        raise
    finish(uninterrupted, tmp_path / "straight.log")
    straight_run = tmp_path / "straight" / "run"
    run = tmp_path / "killed" / "run"
    crashed = load(run / "last.ckpt")
    assert crashed["global_step"] == hold_at
    position = crashed[DATA_STATE]
    # genuinely inside the second epoch
    assert position["epoch"] == 1 and 0 < position["batches"] < STEPS_PER_EPOCH
    assert position["batches"] == hold_at - STEPS_PER_EPOCH
    # found by rank 1 in the first epoch, gathered into the main process's checkpoint
    assert position["unreadable"] == bad_file
    assert not (run / "summary.json").exists()

    finish(start([INFOMAX, *args, "--resume"], tmp_path / "resumed.log"),
           tmp_path / "resumed.log")
    straight, resumed = load(straight_run / "last.ckpt"), load(run / "last.ckpt")
    assert resumed["global_step"] == straight["global_step"] == EPOCHS * STEPS_PER_EPOCH
    assert resumed[DATA_STATE] == straight[DATA_STATE] == {
        "epoch": EPOCHS, "batches": 0, "unreadable": bad_file}
    for key in ("state_dict", "optimizer_states", "lr_schedulers", "rng_states",
                "rng_states_per_rank", "epoch"):
        assert_same_tensors(straight[key], resumed[key], key)
    assert len(resumed["rng_states_per_rank"]) == WORLD

    summary = json.loads((run / "summary.json").read_text())
    straight_summary = json.loads((straight_run / "summary.json").read_text())
    for s in (summary, straight_summary):
        assert s["status"] == "completed"
        assert s["steps"] == EPOCHS * STEPS_PER_EPOCH and s["epochs"] == EPOCHS
        assert s["skipped_images"] == len(bad_file) and s["skipped_image_files"] == bad_file
    assert summary["online"] == straight_summary["online"]
    assert read_csv(run) == read_csv(straight_run)
    if corrupt:
        # Reported where met (each process meets it: once in each of the uninterrupted
        # run's, at least in rank 1 of the killed one); the resumed run skips it untried.
        warning = f"infomax: warning: skipped unreadable image {bad_file[0]} "
        for name in ("straight", "killed"):
            assert warning in (tmp_path / f"{name}.log").read_text(), name
        resumed_log = (tmp_path / "resumed.log").read_text()
        assert warning not in resumed_log
        assert "infomax: warning: 1 unreadable image file was skipped" in resumed_log
