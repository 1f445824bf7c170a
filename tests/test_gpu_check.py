"""benchmarks/gpu_check.sh, dry (GPU_CHECK_DRY=1): every step of the GPU check runs on the
CPU at tiny sizes, on a small Fashion-MNIST the test writes, so that the script is known to
work before a GPU is lent."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_fake_fmnist

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.sh"


def run_check(tmp_path: Path, env_extra: dict) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / "out"
    env = {**os.environ, "PYTHON": sys.executable, "GPU_CHECK_DRY": "1", **env_extra}
    proc = subprocess.run(["bash", str(SCRIPT), str(out)], env=env, capture_output=True,
                          text=True, timeout=600)
    return proc, out


@pytest.mark.slow
def test_gpu_check_dry_run_writes_every_step(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_fake_fmnist(data)
    proc, out = run_check(tmp_path, {"DATA_DIR": str(data)})
    log = (out / "gpu_check.log").read_text()
    assert proc.returncode == 0, proc.stderr[-2000:] + log[-4000:]
    doc = json.loads((out / "gpu_check.json").read_text())
    # The compiled step is the GPU run's only (compiling takes minutes on a CPU).
    assert set(doc["steps"]) == {"machine", "speed", "loader", "loader_workers", "pretrain",
                                 "probe"}
    assert all(s["rc"] == 0 for s in doc["steps"].values()), doc["steps"]
    rows = doc["train_step"]
    assert set(rows) == {"bf16-mixed", "32"}
    for row in rows.values():
        assert row["images_per_s"] > 0 and 0 < row["fraction_of_peak"]
        assert row["batch_size"] == 4
    assert doc["loader_device_aug"] and doc["loader_workers"]
    assert doc["pretrain_summary"]["steps"] == 3  # train.limit_train_batches=3
    probe = doc["probe"]
    assert {"linear", "knn"} <= set(probe)
    # The probe read the data set the test wrote: 256 training and 64 test images.
    assert (probe["train_images"], probe["test_images"]) == (256, 64)
    # ... on the check's device (the CPU here), its extraction measured, not cached.
    assert probe["device"] == "cpu"
    extraction = doc["probe_extraction"]
    assert set(extraction) == {"train", "test"}
    assert extraction["train"]["device"] == "cpu" and extraction["train"]["precision"] == "fp32"
    assert extraction["train"]["images"] == 256 and extraction["train"]["images_per_s"] > 0


def test_gpu_check_failing_steps_are_reported_and_the_rest_still_run(tmp_path: Path) -> None:
    """A Python that fails every infomax command (but gathers the JSON): each step still
    runs after the ones before it failed, the JSON has each step's exit status, and the
    script says which failed and exits 1."""
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\n[ "$1" = - ] && exec {sys.executable} "$@"\nexit 3\n')
    wrapper.chmod(0o755)
    proc, out = run_check(tmp_path, {"PYTHON": str(wrapper)})
    assert proc.returncode == 1
    doc = json.loads((out / "gpu_check.json").read_text())
    assert doc["steps"]["machine"]["rc"] == 0  # not Python: it ran and succeeded
    failed = [n for n, s in doc["steps"].items() if s["rc"] == 3]
    assert failed == ["speed", "loader", "loader_workers", "pretrain", "probe"]
    assert f"failed steps: {', '.join(failed)}" in proc.stderr
    assert doc["speed"] is None and doc["train_step"] == {} and doc["probe_extraction"] == {}
