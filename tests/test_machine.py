"""infomax.machine: the CPU's model and flags, and the one line that says bf16-mixed will
be slow on a CPU without bfloat16 in hardware."""

from __future__ import annotations

import pytest

import infomax.machine as machine
from infomax.cli import main
from infomax.config import make_config
from infomax.engine.train import precision_note

EPYC_FLAGS = "fpu vme sse sse2 avx avx2 fma bmi2 sha_ni"  # AVX2 only
XEON_FLAGS = "fpu sse avx avx2 avx512f avx512bw avx512_bf16 amx_bf16 amx_tile amx_int8"


@pytest.fixture
def cpuinfo(tmp_path, monkeypatch):
    """A /proc/cpuinfo of the CPU the test names, read in place of the machine's."""
    real = machine.Path

    def use(model: str, flags: str) -> None:
        path = tmp_path / "cpuinfo"
        path.write_text(f"processor\t: 0\nmodel name\t: {model}\nflags\t\t: {flags}\n\n"
                        f"processor\t: 1\nmodel name\t: {model}\nflags\t\t: {flags}\n")
        monkeypatch.setattr(machine, "Path",
                            lambda p: path if p == "/proc/cpuinfo" else real(p))
        machine.cpu_model.cache_clear()
        machine.cpu_flags.cache_clear()

    yield use
    machine.cpu_model.cache_clear()
    machine.cpu_flags.cache_clear()


def test_flags_and_model_are_read_as_lscpu_lists_them(cpuinfo):
    cpuinfo("AMD EPYC 7B13", EPYC_FLAGS)
    assert machine.cpu_model() == "AMD EPYC 7B13"
    assert machine.cpu_flags() == frozenset(EPYC_FLAGS.split())
    assert not machine.cpu_has_fast_bf16()
    cpuinfo("Intel(R) Xeon(R) Platinum 8488C", XEON_FLAGS)
    assert machine.cpu_has_fast_bf16()
    cpuinfo("Intel(R) Xeon(R) with AVX-512 BF16 only", "avx2 avx512f avx512_bf16")
    assert machine.cpu_has_fast_bf16()


def test_bf16_on_a_cpu_without_it_says_why_in_one_line(cpuinfo):
    cpuinfo("AMD EPYC 7B13", EPYC_FLAGS)
    note = machine.slow_bf16_note("bf16-mixed", on_cpu=True)
    assert note is not None and "\n" not in note
    assert "AMD EPYC 7B13" in note and "slower than 32" in note
    assert "AVX-512 BF16" in note and "AMX" in note and "train.precision=32" in note
    # Nothing to say for float32, on a GPU, or on a CPU that has bfloat16 in hardware.
    assert machine.slow_bf16_note("32", on_cpu=True) is None
    assert machine.slow_bf16_note("bf16-mixed", on_cpu=False) is None
    cpuinfo("Intel(R) Xeon(R) Platinum 8488C", XEON_FLAGS)
    assert machine.slow_bf16_note("bf16-mixed", on_cpu=True) is None


def test_precision_note_follows_the_run_config(cpuinfo, monkeypatch):
    cpuinfo("AMD EPYC 7B13", EPYC_FLAGS)
    cpu = make_config("fmnist-tiny", ["train.precision=bf16-mixed", "train.accelerator=cpu"])
    assert "slower than 32" in precision_note(cpu)
    assert precision_note(make_config("fmnist-tiny", ["train.accelerator=cpu"])) is None
    # "auto" trains on an Apple GPU where there is one (Lightning's choice): no CPU note.
    import torch

    auto = make_config("fmnist-tiny", ["train.precision=bf16-mixed", "train.accelerator=auto"])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert precision_note(auto) is None
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert "slower than 32" in precision_note(auto)
    cpuinfo("Intel(R) Xeon(R) Platinum 8488C", XEON_FLAGS)
    assert precision_note(cpu) is None


def test_pretrain_prints_the_note_once_and_still_trains(cpuinfo, monkeypatch, capfd):
    import infomax.engine.train

    cpuinfo("AMD EPYC 7B13", EPYC_FLAGS)
    seen = []
    monkeypatch.setattr(infomax.engine.train, "pretrain",
                        lambda cfg, **kw: seen.append(cfg) or (_ for _ in ()).throw(
                            KeyboardInterrupt))
    assert main(["pretrain", "--preset", "fmnist-tiny", "--precision", "bf16-mixed",
                 "train.accelerator=cpu", "--out", "X"]) == 130
    err = capfd.readouterr().err
    assert err.count("bf16-mixed on this CPU (AMD EPYC 7B13) will be slower than 32") == 1
    assert seen and seen[0].train.precision == "bf16-mixed"  # a note, not a refusal


def test_bench_speed_says_it_once_after_checking_the_presets(cpuinfo, monkeypatch, capfd):
    import infomax.engine.bench as bench

    cpuinfo("AMD EPYC 7B13", EPYC_FLAGS)
    assert main(["bench", "speed", "--presets", "cifar11", "--precision", "bf16-mixed"]) == 2
    assert capfd.readouterr().err.count("\n") == 1  # the bad preset's line only
    monkeypatch.setattr(bench, "measure_gemm_peak", lambda *a, **k: 1.0)
    monkeypatch.setattr(bench, "measure_train_step", lambda *a, **k: (_ for _ in ()).throw(
        KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        bench.speed(["fmnist-tiny"], ["32", "bf16-mixed"], device="cpu")
    assert capfd.readouterr().err.count("will be slower than 32") == 1
    with pytest.raises(KeyboardInterrupt):
        bench.speed(["fmnist-tiny"], ["32"], device="cpu")
    assert "slower" not in capfd.readouterr().err
