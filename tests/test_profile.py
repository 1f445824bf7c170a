"""infomax.engine.profile and ``infomax bench profile``: where a train step's time goes.
A tiny AMDIM config, one profiled step: every op's self time lands in one category, so the
categories add up to the profiled step; the phases and the NCE's parts are all seen; the
profiled step computes what an unprofiled one does."""

from __future__ import annotations

import json

import pytest
import torch

from infomax.cli import main
from infomax.config import make_config
from infomax.engine import bench
from infomax.engine.profile import (_NCE, CATEGORIES, PHASES, format_profile,
                                    profile_train_step)
from infomax.engine.speed import prepare_step
from infomax.losses.amdim import NCE_RANGES

# tests/test_speed.py's TINY, with the preset's test-view probes (one more encoder pass).
TINY = ["model.ndf=4", "model.n_rkhs=16", "data.batch_size=4", "probe.online_replay=0",
        "probe.online_ema=0", "probe.online_view=test"]


@pytest.fixture(scope="module")
def result(one_thread: None) -> dict:
    return profile_train_step(make_config("fmnist-tiny", TINY), steps=1, warmup=0)


def test_categories_add_up_to_the_profiled_step(result: dict) -> None:
    cats = {c["key"]: c for c in result["categories"]}
    assert list(cats) == list(CATEGORIES)
    total = sum(c["ms"] for c in cats.values())
    # Every event's self time in exactly one category: the sum is the steps' CPU time ...
    assert total == pytest.approx(result["profiled_ms_per_step"], rel=1e-6)
    assert sum(c["share"] for c in cats.values()) == pytest.approx(1.0, rel=1e-6)
    # ... which is the step's wall time as timed around it, to a few percent.
    assert total == pytest.approx(result["seconds_per_step"] * 1e3, rel=0.05)
    for c in cats.values():
        assert c["forward_ms"] >= 0 and c["backward_ms"] >= 0
        assert c["forward_ms"] + c["backward_ms"] <= c["ms"] * (1 + 1e-9)
    for key in ("convolutions", "nce_scores", "nce_regularizer", "soft_clip", "nce_masks",
                "log_sum_exp", "batch_norm", "elementwise", "probes", "test_view",
                "optimizer"):
        assert cats[key]["ms"] > 0, key
    for key in ("convolutions", "nce_scores", "soft_clip", "nce_masks", "log_sum_exp"):
        assert cats[key]["forward_ms"] > 0 and cats[key]["backward_ms"] > 0, key
    assert cats["test_view"]["backward_ms"] == 0  # no gradients through the test views
    assert cats["optimizer"]["forward_ms"] == cats["optimizer"]["backward_ms"] == 0
    assert any(o["name"].startswith("aten::tanh") for o in cats["soft_clip"]["ops"])


def test_phases_are_all_present(result: dict) -> None:
    phases = {p["key"]: p for p in result["phases"]}
    assert list(phases) == list(PHASES)
    for key in ("forward/encoder", "forward/loss", "forward/probes", "forward/test-view pass",
                "backward/encoder", "backward/loss", "backward/probes", "optimizer"):
        assert phases[key]["ms"] > 0, key
    assert sum(p["ms"] for p in phases.values()) == pytest.approx(
        result["profiled_ms_per_step"], rel=1e-6)


def test_result_rows_and_text(result: dict) -> None:
    r = result
    assert r["steps"] == 1 and r["batch_size"] == 4 and r["precision"] == "32"
    assert len(r["top_ops"]) == 15
    selfs = [o["self_ms"] for o in r["top_ops"]]
    assert selfs == sorted(selfs, reverse=True)
    names = {row["name"] for row in r["key_averages"]}
    assert {"aten::mm", "aten::tanh_", "infomax:forward", "nce:soft clip"} <= names
    for row in r["key_averages"]:
        assert set(row) >= {"name", "count", "self_cpu_time_total", "cpu_time_total"}
    json.dumps(r)
    text = format_profile(r)
    assert "convolutions" in text and "NCE scores (matmul)" in text and "phases:" in text


def test_every_nce_range_has_a_category() -> None:
    assert list(_NCE) == list(NCE_RANGES)
    assert set(_NCE.values()) <= set(CATEGORIES)


def test_a_profiled_step_computes_what_an_unprofiled_one_does(one_thread: None) -> None:
    cfg = make_config("fmnist-tiny", TINY)
    profiled = profile_train_step(cfg, steps=1, warmup=1)
    step = prepare_step(cfg, 4, "32", torch.device("cpu"))
    step()
    assert float(step()) == profiled["final_loss"]  # bitwise: the labels compute nothing


def test_train_compile_is_honoured_before_the_warmup(one_thread: None, monkeypatch) -> None:
    """With train.compile the encoder is compiled (the Trainer's configure_model) once,
    before the warmup and the profiled steps, and the compiling step's seconds are in the
    result; without it nothing is compiled. (configure_model is replaced by a recorder: a
    real compile takes minutes on a CPU; tests/test_speed.py runs one.)"""
    from infomax.methods import SSLMethod

    calls = []
    monkeypatch.setattr(SSLMethod, "configure_model", lambda self: calls.append(self))
    r = profile_train_step(make_config("fmnist-tiny", [*TINY, "train.compile=true"]),
                           steps=1, warmup=0)
    assert len(calls) == 1 and r["compile"] is True and r["compile_s"] > 0
    calls.clear()
    r = profile_train_step(make_config("fmnist-tiny", TINY), steps=1, warmup=0)
    assert calls == [] and r["compile"] is False and r["compile_s"] is None


def test_bench_profile_writes_json_and_trace(one_thread: None, tmp_path) -> None:
    out = bench.profile(["fmnist-tiny"], ["32"], overrides=TINY, steps=1, warmup=0, top=5,
                        trace=tmp_path / "trace.json", json_path=tmp_path / "p.json",
                        command="test")
    written = json.loads((tmp_path / "p.json").read_text())
    assert written["command"] == "test" and len(written["results"]) == 1
    assert len(written["results"][0]["top_ops"]) == 5
    assert written["results"][0]["trace"] == str(tmp_path / "trace.json")
    assert "traceEvents" in json.loads((tmp_path / "trace.json").read_text())
    assert out["results"][0]["categories"] == written["results"][0]["categories"]


def test_trace_names() -> None:
    assert bench.trace_path("t.json", "fmnist-tiny", "32", False).name == "t.json"
    assert bench.trace_path("d/t.json", "fmnist-tiny", "bf16-mixed", True).as_posix() == \
        "d/t.fmnist-tiny.bf16-mixed.json"
    assert bench.trace_path("t", "a", "32", True).name == "t.a.32.json"


@pytest.mark.parametrize("argv, words", [
    (["--steps", "0"], ["--steps", "0", ">= 1"]),
    (["--warmup", "-1"], ["--warmup", "-1", ">= 0"]),
    (["--batch-size", "1"], ["--batch-size", "1", ">= 2"]),
    (["--threads", "0"], ["--threads", "0", ">= 1"]),
    (["--top", "0"], ["--top", "0", ">= 1"]),
    (["--device", "tpu"], ["--device", "tpu", "cpu"]),
    (["--presets", "cifar11"], ["cifar11", "fmnist-tiny"]),
    (["--precision", "8"], ["--precision", "8"]),
    (["data.batch_size=1"], ["data.batch_size", "1"]),
])
def test_cli_refuses_bad_values_in_one_line(argv, words, capfd, monkeypatch) -> None:
    def tripwire(*args, **kwargs):
        raise AssertionError("profiled before refusing")

    monkeypatch.setattr(bench, "profile_train_step", tripwire)
    assert main(["bench", "profile", *argv]) == 2
    out, err = capfd.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("infomax: error: ")
    for w in words:
        assert w in err, (w, err)


def test_cli_prints_the_table(capfd, tmp_path, one_thread: None) -> None:
    assert main(["bench", "profile", "--warmup", "0", "--json", str(tmp_path / "p.json"),
                 *TINY]) == 0
    out, _ = capfd.readouterr()
    assert "fmnist-tiny 32 (float32), batch 4" in out and "top 15 ops" in out
    assert json.loads((tmp_path / "p.json").read_text())["results"][0]["steps"] == 1
