"""Runs meeting the world around them: a second run into the same folder, a resume into a
folder that holds another run, a resume with changed settings, a requeued job's bare
--resume, stop signals (SIGTERM, SIGINT; to the process or its whole group, DataLoader
workers included). Each case checks the exit status, the one line said, and that nothing
of another run changed."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infomax.cli import main
from infomax.runs import LOCK_FILE, RunLock

from conftest import tiny_args

ONE_STEP = ["train.limit_train_batches=2"]


def digest(folder: Path) -> dict[str, str]:
    """Every file of ``folder`` with its content's hash."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_main(capsys, args: list[str]) -> tuple[int, str]:
    rc = main(args)
    return rc, capsys.readouterr().err


# ----------------------------------------------------------------------------- ownership


def test_a_second_run_into_a_locked_folder_is_refused_naming_the_owner(fake_fmnist, tmp_path,
                                                                       capsys):
    run = tmp_path / "tiny"
    run.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / LOCK_FILE).write_text(json.dumps({"host": socket.gethostname(),
                                                 "pid": sleeper.pid, "started": "then"}))
        before = digest(run)
        rc, err = run_main(capsys, tiny_args(fake_fmnist, tmp_path, *ONE_STEP))
        assert rc == 2 and err.count("\n") == 1
        assert err.startswith(f"infomax: error: {run} is in use by another run (process "
                              f"{sleeper.pid} on this host, started then)")
        assert digest(run) == before
    finally:
        sleeper.kill()
        sleeper.wait()
    # Its process gone, the lock is stale: the next run takes it over, and leaves none.
    rc, err = run_main(capsys, tiny_args(fake_fmnist, tmp_path, *ONE_STEP))
    assert rc == 0, err
    assert not (run / LOCK_FILE).exists() and (run / "last.ckpt").is_file()


def test_a_lock_of_another_host_is_refused_and_every_exit_releases_it(tmp_path):
    lock = RunLock(tmp_path / "run")
    with lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
        with pytest.raises(Exception, match="in use by another run"):
            RunLock(tmp_path / "run").acquire()
    assert not lock.path.exists()
    with pytest.raises(RuntimeError):
        with RunLock(tmp_path / "run"):
            raise RuntimeError("a failed run")
    assert not lock.path.parent.exists()  # the folder the lock made, empty: gone again
    lock.path.parent.mkdir()
    lock.path.write_text(json.dumps({"host": "elsewhere", "pid": 1, "started": "then"}))
    with pytest.raises(Exception, match="process 1 on host elsewhere"):
        RunLock(tmp_path / "run").acquire()


def test_a_refused_run_leaves_no_folder_behind(fake_fmnist, tmp_path, capsys):
    rc, err = run_main(capsys, tiny_args(fake_fmnist, tmp_path, "data.name=imagefolder:/nope"))
    assert rc == 2 and not (tmp_path / "tiny").exists()


def test_resume_into_a_folder_holding_another_run_is_refused_unless_overwrite(
        tiny_run, fake_fmnist, tmp_path, capsys):
    other = tmp_path / "tiny"
    assert run_main(capsys, tiny_args(fake_fmnist, tmp_path, *ONE_STEP))[0] == 0
    before = digest(other)
    ckpt = tiny_run / "last.ckpt"
    args = ["pretrain", "--resume", str(ckpt), "--no-progress", "--data-dir", str(fake_fmnist),
            "--out", str(tmp_path), "--name", "tiny", "train.epochs=3"]
    rc, err = run_main(capsys, args)
    assert rc == 2 and err.count("\n") == 1
    assert f"{other} already holds another run" in err and "--overwrite" in err
    assert digest(other) == before
    rc, err = run_main(capsys, [*args, "--overwrite"])
    assert rc == 0, err
    summary = json.loads((other / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == 3


def test_a_copied_run_folder_resumes_in_place_without_warnings(tiny_run, fake_fmnist, tmp_path,
                                                               capfd):
    import shutil

    copy = tmp_path / "moved"
    shutil.copytree(tiny_run, copy)
    capfd.readouterr()
    rc = main(["pretrain", "--resume", str(copy / "last.ckpt"), "--no-progress", "--data-dir",
               str(fake_fmnist), "train.epochs=3"])
    err = capfd.readouterr().err
    assert rc == 0, err
    assert "arn" not in err  # no warning of any kind
    assert err.strip() == (f"infomax: resuming {copy / 'last.ckpt'} with changed settings: "
                           f"train.epochs 2 -> 3")
    assert json.loads((copy / "summary.json").read_text())["epochs"] == 3
    assert (copy / "best.ckpt").is_file()
    assert json.loads((tiny_run / "summary.json").read_text())["epochs"] == 2  # untouched


# ----------------------------------------------------------------------------- changed settings


def logged_rates(run: Path) -> dict[int, float]:
    with (run / "csv" / "metrics.csv").open() as f:
        return {int(r["step"]): float(r["lr"]) for r in csv.DictReader(f) if r.get("lr")}


def test_a_resume_applies_a_changed_rate_and_refuses_a_changed_network_or_data(
        fake_fmnist, tmp_path, capsys):
    plan = ["optim.milestones=[100]", "optim.warmup_steps=2"]
    assert run_main(capsys, tiny_args(fake_fmnist, tmp_path, *plan))[0] == 0
    run = tmp_path / "tiny"
    resume = [*tiny_args(fake_fmnist, tmp_path, *plan, "train.epochs=2"), "--resume"]
    before = digest(run)
    for change, key in (("data.batch_size=16", "data.batch_size: 32 there, 16 here"),
                        ("model.ndf=16", "model.ndf: 8 there, 16 here"),
                        ("train.seed=3", "train.seed: 0 there, 3 here")):
        rc, err = run_main(capsys, [*resume, change])
        assert rc == 2 and err.count("\n") == 1 and key in err, err
        assert digest(run) == before
    rc, err = run_main(capsys, [*resume, "optim.lr=2.5e-4"])
    assert rc == 0, err
    assert "with changed settings: optim.lr 0.001 -> 0.00025, train.epochs 1 -> 2" in err
    rates = logged_rates(run)
    steps = sorted(rates)
    first_epoch = [s for s in steps if s < 8]
    assert [rates[s] for s in first_epoch[2:]] == pytest.approx([1e-3] * len(first_epoch[2:]))
    assert [rates[s] for s in steps if s >= 8] == pytest.approx([2.5e-4] * 8)


def test_a_bare_resume_starts_a_run_where_there_is_none_yet(fake_fmnist, tmp_path, capsys):
    rc, err = run_main(capsys, [*tiny_args(fake_fmnist, tmp_path, *ONE_STEP), "--resume"])
    assert rc == 0, err
    assert f"infomax: {tmp_path / 'tiny'} holds no run yet; starting one" in err
    # The same command line again (a requeued job) continues that run.
    rc, err = run_main(capsys, [*tiny_args(fake_fmnist, tmp_path, *ONE_STEP, "train.epochs=2"),
                                "--resume"])
    assert rc == 0, err
    assert json.loads((tmp_path / "tiny" / "summary.json").read_text())["epochs"] == 2


def test_16_mixed_on_a_cpu_is_refused(fake_fmnist, tmp_path, capsys):
    rc, err = run_main(capsys, [*tiny_args(fake_fmnist, tmp_path), "--precision", "16-mixed"])
    assert rc == 2 and err.count("\n") == 1 and "16-mixed needs a CUDA GPU" in err
    assert not (tmp_path / "tiny").exists()


# ----------------------------------------------------------------------------- signals


def start(root: Path, out: Path, *extra: str) -> subprocess.Popen:
    """A tiny run long enough to be signalled, in a process group of its own, writing
    last.ckpt after every step (so that the test knows training is under way)."""
    args = tiny_args(root, out, "train.epochs=50", "train.checkpoint_every_n_steps=1",
                     "data.num_workers=2", *extra)
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    return subprocess.Popen([sys.executable, "-m", "infomax", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)


def wait_for(path: Path, proc: subprocess.Popen, seconds: float = 240) -> None:
    end = time.time() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < end, f"{path} never appeared"
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.parametrize("sig, group, code", [(signal.SIGTERM, True, 143),
                                              (signal.SIGINT, False, 130),
                                              (signal.SIGUSR1, False, 138)])
def test_a_stop_signal_writes_last_ckpt_and_the_summary_and_exits_128_plus_n(
        fake_fmnist_session, module_registry, tmp_path, sig, group, code):
    proc = start(fake_fmnist_session, tmp_path)
    run = tmp_path / "tiny"
    wait_for(run / "last.ckpt", proc)
    (os.killpg if group else os.kill)(proc.pid, sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "Traceback" not in err and "Error" not in err, err
    name = signal.Signals(sig).name
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"infomax: interrupted by {name} at step ")
    assert last.endswith(f"continue with 'infomax pretrain --resume {run / 'last.ckpt'}'")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["signal"] == name
    step = int(last.split(" at step ")[1].split(";")[0])
    assert summary["steps"] == step
    import torch

    assert torch.load(run / "last.ckpt", weights_only=True)["global_step"] == step
    assert not (run / LOCK_FILE).exists()
    # The bare --resume of the same command line continues it.
    args = tiny_args(fake_fmnist_session, tmp_path, "train.epochs=1")
    if step < 8:  # still in the first epoch: finish it
        assert main([*args, "train.checkpoint_every_n_steps=1", "data.num_workers=2",
                     "--resume"]) == 0
        assert json.loads((run / "summary.json").read_text())["status"] == "completed"


def test_sigusr1_under_slurm_requeues_the_job(tmp_path, monkeypatch):
    from infomax.engine.signals import GracefulStop, slurm_job_id

    log = tmp_path / "calls"
    fake = tmp_path / "bin" / "scontrol"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID", raising=False)
    assert slurm_job_id() is None
    GracefulStop.requeue()  # outside SLURM: nothing
    assert not log.exists()
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    GracefulStop.requeue()
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "77")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    GracefulStop.requeue()
    assert log.read_text().splitlines() == ["requeue 4242", "requeue 77_3"]


@pytest.mark.slow
def test_two_processes_stop_at_the_same_step_and_only_the_first_reports(
        fake_fmnist_session, module_registry, tmp_path):
    proc = start(fake_fmnist_session, tmp_path, "train.devices=2", "data.num_workers=0")
    run = tmp_path / "tiny"
    wait_for(run / "last.ckpt", proc)
    os.kill(proc.pid, signal.SIGTERM)  # the main process only: it tells the other
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 143, err
    lines = [line for line in err.splitlines() if line.startswith("infomax:")]
    assert len(lines) == 1 and lines[0].startswith("infomax: interrupted by SIGTERM at step ")
    assert "Traceback" not in err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    end = time.time() + 30
    while True:  # every process of the run has exited
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.time() < end, "a process of the run is still alive"
        time.sleep(0.5)
