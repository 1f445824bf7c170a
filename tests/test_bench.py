"""`infomax bench speed` and `infomax bench loader` end to end, on tiny settings."""

from __future__ import annotations

import json

import pytest

from infomax.cli import main

SMALL = ["model.ndf=8", "model.n_rkhs=32", "model.n_depth=1"]


def test_bench_speed_writes_table_and_json(tmp_path, capfd):
    out = tmp_path / "speed.json"
    rc = main(["bench", "speed", "--presets", "fmnist-tiny", "--precision", "32", "bf16-mixed",
               "--steps", "1", "--warmup", "0", "--gemm-sizes", "128", "--batch-size", "4",
               "--json", str(out), *SMALL])
    stdout, _ = capfd.readouterr()
    assert rc == 0
    res = json.loads(out.read_text())
    assert [r["precision"] for r in res["results"]] == ["32", "bf16-mixed"]
    assert set(res["gemm_peak_gflops"]) == {"float32", "bfloat16"}
    for r in res["results"]:
        assert r["batch_size"] == 4 and r["model"]["ndf"] == 8
        assert r["images_per_s"] > 0 and r["peak_mem_mb"] > 0
        assert r["fraction_of_peak"] == pytest.approx(
            r["achieved_gflops"] / res["gemm_peak_gflops"][r["compute_dtype"]])
    # Both precisions count the same FLOPs: autocast changes the dtype, not the work.
    a, b = res["results"]
    assert a["flops_per_step"] == b["flops_per_step"]
    assert "% of peak" in stdout and "fmnist-tiny" in stdout and "FLOP share" in stdout


@pytest.mark.parametrize("device_aug", [False, True])
def test_bench_loader_compares_with_the_train_step(fake_fmnist, tmp_path, capfd, device_aug):
    out = tmp_path / "loader.json"
    rc = main(["bench", "loader", "--preset", "fmnist-tiny", "--workers", "0", "1",
               "--batches", "3", "--data-dir", str(fake_fmnist), "--json", str(out),
               "data.batch_size=16", f"data.augment_device={str(device_aug).lower()}",
               *SMALL])
    stdout, _ = capfd.readouterr()
    assert rc == 0
    res = json.loads(out.read_text())
    rows = res["loader"]
    assert [r["num_workers"] for r in rows] == [0, 1]
    for r in rows:
        assert r["augment_device"] is device_aug
        assert r["images_per_s"] > 0 and r["batches"] == 3
        assert r["ratio_to_train_step"] == pytest.approx(
            r["images_per_s"] / res["train_step_images_per_s"])
    assert "x train step" in stdout


def test_measure_loader_refuses_too_few_batches(fake_fmnist):
    from infomax.config import make_config
    from infomax.engine.bench import measure_loader

    cfg = make_config("fmnist-tiny", [f"data.dir={fake_fmnist}", "data.batch_size=64"])
    with pytest.raises(ValueError, match="4 batches"):
        measure_loader(cfg, 0, batches=10)
