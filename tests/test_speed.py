"""infomax.engine.speed: the train-step benchmark's numbers and its FLOP count, checked
against FLOPs derived by hand from the layer shapes."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from infomax.config import make_config
from infomax.data.registry import dataset_info
from infomax.engine.speed import (FLOP_NOTE, format_table, measure_gemm_peak,
                                  measure_train_step)
from infomax.losses import clipped_cross_entropy
from infomax.methods import METHODS, Batch

# The public code's online probes (the preset's test-view probes add a forward pass: see
# test_test_view_probes_count_one_more_encoder_forward).
PROBES = ["probe.online_view=augmented", "probe.online_replay=0", "probe.online_ema=0"]
TINY = ["model.ndf=4", "model.n_rkhs=16", "data.batch_size=4", *PROBES]
HIDDEN = 1024  # the MLP probe's hidden width
N_CLASSES = 10  # Fashion-MNIST


def conv(c_in: int, c_out: int, k: int, side_out: int) -> int:
    """2 * Cin * Cout * k * k * Hout * Wout (multiply and add; the bias is not counted)."""
    return 2 * c_in * c_out * k * k * side_out * side_out


def res_unit(c_in: int, c_out: int, k: int, side_out: int) -> int:
    """Res(i, o, k, s): conv_kxk, conv_1x1, and the learned shortcut conv when o < i (else
    pooling and zero padding, which are not FLOPs of the counter)."""
    f = conv(c_in, c_out, k, side_out) + conv(c_out, c_out, 1, side_out)
    if c_out < c_in:
        f += conv(c_in, c_out, k, side_out)
    return f


def block(c_in: int, c_out: int, k: int, side_out: int, depth: int) -> int:
    return res_unit(c_in, c_out, k, side_out) + (depth - 1) * res_unit(c_out, c_out, 1, side_out)


def encoder_forward_32px(c_in: int, n: int, d: int, depth: int) -> tuple[int, int]:
    """(forward FLOPs of one 32 px image, FLOPs of the first conv) for AMDIMEncoder:
    32 -conv3-> 30 -Res1x1-> 30 -Block(k4,s2)-> 14 -Block(k2,s2)-> 7 | -Block(k3)-> 5 |
    -Block(k3)-> 3 -Res(k3)-> 1, plus the 1x1 embedding MLPs on the 7x7 and 5x5 maps."""
    w = 4 * n
    first = conv(c_in, n, 3, 30)
    f = first + res_unit(n, n, 1, 30)
    f += block(n, 2 * n, 4, 14, depth) + block(2 * n, w, 2, 7, depth)
    f += block(w, w, 3, 5, depth)
    f += block(w, w, 3, 3, depth) + res_unit(w, d, 3, 1)
    for side in (7, 5):  # EmbedMLP: conv1 (w -> d), conv2 (d -> d), shortcut (w -> d)
        f += conv(w, d, 1, side) + conv(d, d, 1, side) + conv(w, d, 1, side)
    return f, first


def expected_flops(c_in: int, n: int, d: int, depth: int, b: int,
                   test_views: bool = False) -> dict[str, dict[str, int]]:
    """With ``test_views`` (probe.online_view=test): one more encoder forward, without the
    local embedding heads (``embed``) and without backward, and probes on B features."""
    per_image, first = encoder_forward_32px(c_in, n, d, depth)
    views = 2 * b
    # Every conv's backward costs two forwards (grad input + grad weight), except the first
    # one's grad input: the images do not require grad.
    encoder = {"forward": views * per_image, "backward": views * (2 * per_image - first)}
    if test_views:
        heads = sum(conv(4 * n, d, 1, side) + conv(d, d, 1, side) + conv(4 * n, d, 1, side)
                    for side in (7, 5))
        encoder["forward"] += b * (per_image - heads)
        views = b  # the probes' rows
    # Six (B, D) @ (D, B * L) score GEMMs: 1->5, 1->7, 5->5 in both directions; backward
    # needs grads for both operands.
    loss_fwd = 2 * sum(2 * b * d * b * locs for locs in (25, 49, 25))
    loss = {"forward": loss_fwd, "backward": 2 * loss_fwd}
    # Probes on 2B detached features: Linear(d, C); MLP Linear(d, H, no bias) ... Linear(H, C).
    # Backward: grad weight only for layers fed by the detached features, both for the last.
    lin = 2 * views * d * N_CLASSES
    mlp1, mlp2 = 2 * views * d * HIDDEN, 2 * views * HIDDEN * N_CLASSES
    probes = {"forward": lin + mlp1 + mlp2, "backward": lin + mlp1 + 2 * mlp2}
    return {"encoder": encoder, "loss": loss, "probes": probes, "optimizer": {"step": 0}}


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def tiny_result(one_thread: None) -> dict:
    cfg = make_config("fmnist-tiny", TINY)
    return measure_train_step(cfg, steps=1, warmup=0, gemm_peak=10.0)


def test_result_has_positive_finite_numbers(tiny_result: dict) -> None:
    r = tiny_result
    for key in ("images_per_s", "seconds_per_step", "flops_per_step", "achieved_gflops",
                "gemm_peak_gflops", "fraction_of_peak", "peak_mem_mb"):
        assert isinstance(r[key], (int, float)) and math.isfinite(r[key]) and r[key] > 0, key
    assert math.isfinite(r["final_loss"])
    assert r["batch_size"] == 4 and r["precision"] == "32" and len(r["step_times_s"]) == 1
    assert r["images_per_s"] == pytest.approx(4 / r["seconds_per_step"])
    assert r["achieved_gflops"] == pytest.approx(r["flops_per_step"] / r["seconds_per_step"] / 1e9)
    assert r["fraction_of_peak"] == pytest.approx(r["achieved_gflops"] / 10.0)
    assert sum(r["flop_share"].values()) == pytest.approx(1.0)
    assert r["flop_note"] == FLOP_NOTE
    assert {"cpu", "torch_threads", "torch", "date"} <= set(r["machine"])
    json.dumps(r)  # serialisable as is


# The second config has n_rkhs < 4 * ndf (the last unit's shortcut is a learned conv),
# depth 2 (extra 1x1 units in every block) and an odd batch.
@pytest.mark.parametrize("overrides", [TINY, ["model.ndf=4", "model.n_rkhs=8",
                                              "model.n_depth=2", "data.batch_size=3",
                                              *PROBES]])
def test_flops_match_hand_count(overrides: list[str], tiny_result: dict) -> None:
    cfg = make_config("fmnist-tiny", overrides)
    r = (tiny_result if overrides == TINY
         else measure_train_step(cfg, steps=1, warmup=0, gemm_peak=1.0))
    m = cfg.model
    expected = expected_flops(1, m.ndf, m.n_rkhs, m.n_depth, cfg.data.batch_size)
    assert r["flops"] == expected
    assert r["flops_per_step"] == sum(sum(p.values()) for p in expected.values())


def test_test_view_probes_count_one_more_encoder_forward() -> None:
    cfg = make_config("fmnist-tiny", [*TINY, "probe.online_view=test"])
    r = measure_train_step(cfg, steps=1, warmup=0, gemm_peak=1.0)
    m = cfg.model
    assert r["flops"] == expected_flops(1, m.ndf, m.n_rkhs, m.n_depth, cfg.data.batch_size,
                                        test_views=True)


def test_flops_match_one_fused_training_step(tiny_result: dict) -> None:
    """The split backward used for the breakdown counts what the plain training step does."""
    cfg = make_config("fmnist-tiny", TINY)
    info = dataset_info(cfg.data.name)
    model = METHODS[cfg.method](cfg, info.num_classes, info.channels, info.image_size)
    x = torch.randn(2, 4, info.channels, info.image_size, info.image_size)
    labels = torch.randint(0, info.num_classes, (4,))
    with FlopCounterMode(display=False) as counter:
        out = model.ssl_step(Batch((x[0], x[1]), labels))
        loss, feats, y = out.loss, out.features, out.labels
        probe_loss = sum(clipped_cross_entropy(z, y) for z in model.probes(feats).values())
        (loss + probe_loss).backward()
    assert counter.get_total_flops() == tiny_result["flops_per_step"]


def test_bf16_mixed_counts_the_same_flops(tiny_result: dict) -> None:
    cfg = make_config("fmnist-tiny", TINY)
    r = measure_train_step(cfg, steps=1, warmup=0, precision="bf16-mixed", gemm_peak=1.0)
    assert r["compute_dtype"] == "bfloat16"
    assert r["peak_mem_mb"] > 0  # not hidden by memory an earlier measurement freed
    assert r["flops_per_step"] == tiny_result["flops_per_step"]
    assert r["seconds_per_step"] > 0 and math.isfinite(r["final_loss"])


@pytest.mark.slow
def test_compile_is_measured_after_an_untimed_compiling_step(tiny_result: dict) -> None:
    """train.compile: the encoder is compiled after the eager FLOP count; the compiling
    step is untimed and reported as compile_s, and the steps are the eager ones (the same
    loss after the same number of updates, to float rounding)."""
    eager = measure_train_step(make_config("fmnist-tiny", TINY), steps=1, warmup=1,
                               gemm_peak=10.0)
    cfg = make_config("fmnist-tiny", [*TINY, "train.compile=true"])
    r = measure_train_step(cfg, steps=1, warmup=0, gemm_peak=10.0)
    assert r["compile"] is True and r["compile_s"] > 0
    assert eager["compile"] is False and eager["compile_s"] is None
    assert r["flops_per_step"] == eager["flops_per_step"] == tiny_result["flops_per_step"]
    assert len(r["step_times_s"]) == 1 and r["compile_s"] > r["seconds_per_step"]
    assert r["final_loss"] == pytest.approx(eager["final_loss"], rel=1e-4)


def test_time_budget_still_times_one_step() -> None:
    cfg = make_config("fmnist-tiny", TINY)
    r = measure_train_step(cfg, steps=3, warmup=2, gemm_peak=1.0, max_seconds=0.0)
    assert r["steps"] == 1 and r["steps_requested"] == 3 and len(r["step_times_s"]) == 1


def test_bad_arguments_are_refused() -> None:
    cfg = make_config("fmnist-tiny", TINY)
    with pytest.raises(ValueError, match="precision"):
        measure_train_step(cfg, precision="8", gemm_peak=1.0)
    with pytest.raises(ValueError, match="steps"):
        measure_train_step(cfg, steps=0, gemm_peak=1.0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            measure_train_step(cfg, precision="16-mixed", gemm_peak=1.0)


def test_gemm_peak_is_positive() -> None:
    peak = measure_gemm_peak(torch.float32, n=(64, 128), repeats=2)
    assert math.isfinite(peak) and peak > 0
    # A time budget too small for anything still runs the smallest size once.
    assert measure_gemm_peak(torch.float32, n=(32, 4096), max_seconds_per_matmul=1e-9) > 0


def test_format_table(tiny_result: dict) -> None:
    text = format_table([tiny_result])
    header, rule, row = text.splitlines()[:3]
    assert header.split()[:3] == ["preset", "precision", "batch"] and set(rule) == {"-"}
    assert row.split()[:3] == ["fmnist-tiny", "32", "4"]
    assert FLOP_NOTE in text
    assert "fp32 peak" not in header
    with_fp32 = format_table([dict(tiny_result, fraction_of_fp32_peak=0.5)])
    assert "% of fp32 peak" in with_fp32.splitlines()[0] and " 50.0 " in with_fp32.splitlines()[2]
