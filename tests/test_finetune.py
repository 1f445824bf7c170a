"""The fine-tuning protocol (``infomax probe --protocol finetune``): a copy of the encoder
and a fresh linear head trained end to end, on every label or on the fractions protocol's
per-class draw, scored on the test split; the checkpoint only read, one line per bad
input, nothing written when stopped."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml
import torch.nn.functional as F
from torch import nn

from infomax.cli import main
from infomax.config import ViewsConfig
from infomax.data.registry import dataset_info
from infomax.data.views import finetune_view, test_view
from infomax.errors import ConfigError, InfomaxError, NonFiniteError
from infomax.eval.features import checkpoint_features, resolve_probe_data
from infomax.eval.finetune import (FinetuneResult, _accuracy, check_label_fraction, finetune,
                                   finetune_checkpoint, fraction_epochs, split_labels)
from infomax.eval.protocols import per_class_subset, topk_accuracy
from infomax.runs import load_method


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def tiny(tiny_run, module_registry, one_thread):
    """The tiny run's last checkpoint, its restored method and labeled source, and a short
    fine-tuning schedule (1 epoch on every label, batches of 32: 8 updates)."""
    ckpt = tiny_run / "last.ckpt"
    model = load_method(ckpt)
    source = resolve_probe_data(model, None, None)
    cfg = dataclasses.replace(model.cfg.probe, finetune_epochs=1, finetune_batch_size=32)
    return SimpleNamespace(ckpt=ckpt, model=model, source=source, cfg=cfg)


@pytest.fixture(scope="module")
def tuned(tiny) -> FinetuneResult:
    """Fine-tuning on 10% of the labels (2 epochs of one batch)."""
    return finetune(tiny.model, tiny.source, tiny.cfg, label_fraction=0.1, device="cpu",
                    progress=False)


# ----------------------------------------------------------------------------- the pieces


def test_the_view_is_the_crop_and_the_flip_only():
    info = dataset_info("fashion-mnist")
    img = torch.randint(0, 256, (1, 28, 28), dtype=torch.uint8)
    # Without the translation and the flip nothing random is left: the colour settings of
    # the views (jitter p 0.8 by default) are not part of the view, and it is the test view.
    still = ViewsConfig(translate_p=0.0, flip_p=0.0)
    assert still.jitter_p > 0
    torch.testing.assert_close(finetune_view(info, still)(img), test_view(info, still)(img),
                               rtol=0, atol=0)
    flipped = finetune_view(info, ViewsConfig(translate_p=0.0, flip_p=1.0))(img)
    torch.testing.assert_close(flipped, test_view(info, still)(img).flip(-1), rtol=0, atol=0)
    # The translation (AMDIM's at 32 px) moves the image.
    moved = finetune_view(info, ViewsConfig(translate_p=1.0, flip_p=0.0))
    torch.manual_seed(0)
    assert any(not torch.equal(moved(img), test_view(info, still)(img)) for _ in range(8))


def test_the_epochs_grow_as_simclrs_for_fewer_labels():
    assert (fraction_epochs(15, 1.0), fraction_epochs(15, 0.1), fraction_epochs(15, 0.01)) == (
        15, 30, 60)
    assert fraction_epochs(1, 0.1) == 2 and fraction_epochs(1, 0.5) == 1
    assert all(fraction_epochs(e, f) >= e for e in (1, 7, 30) for f in (0.9, 0.3, 0.001))


@pytest.mark.parametrize("fraction", [0, 0.0, 1.5, -0.1, float("nan")])
def test_a_label_fraction_outside_0_1_is_refused(fraction):
    with pytest.raises(ConfigError, match=r"--label-fraction: .* is not in \(0, 1\]") as e:
        check_label_fraction(fraction)
    assert "\n" not in str(e.value)


def test_no_label_fraction_means_every_label():
    assert check_label_fraction(None) == 1.0 and check_label_fraction(1) == 1.0


class Scores(nn.Module):
    """An "encoder" whose features are its input: the head's input is the score matrix."""

    feature_dim = 7

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return x


@pytest.mark.parametrize("classes, batch_size", [(7, 16), (3, 5), (7, 200)])
def test_the_scores_are_counted_as_topk_accuracy_counts_them(classes, batch_size):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(103, classes, generator=g)
    y = torch.randint(classes, (103,), generator=g)
    data = torch.utils.data.TensorDataset(x, y)
    got = _accuracy(Scores(), nn.Identity(), data, batch_size=batch_size, num_workers=0,
                    device=torch.device("cpu"), channels_last=False, desc="", progress=False)
    assert got == pytest.approx([topk_accuracy(x, y, 1), topk_accuracy(x, y, 5)], abs=1e-6)


# ----------------------------------------------------------------------------- fine-tuning


def test_a_copy_of_the_encoder_learns_and_the_checkpoint_is_only_read(tiny):
    before = digest(tiny.ckpt), tiny.ckpt.stat().st_mtime_ns
    original = {k: v.clone() for k, v in tiny.model.encoder.state_dict().items()}
    res = finetune(tiny.model, tiny.source, tiny.cfg, device="cpu", progress=False)
    assert (digest(tiny.ckpt), tiny.ckpt.stat().st_mtime_ns) == before
    # The restored method is unchanged; its fine-tuned copy moved.
    after = tiny.model.encoder.state_dict()
    assert all(torch.equal(original[k], after[k]) for k in original)
    tuned = res.encoder.state_dict()
    assert any(not torch.equal(original[k], tuned[k]) for k in original)
    assert res.encoder is not tiny.model.encoder and not res.encoder.training
    # Every label, 1 epoch of 8 batches of 32.
    assert (res.labels, res.label_fraction, res.epochs, res.updates) == (256, 1.0, 1, 8)
    assert torch.equal(res.indices, torch.arange(256))
    assert res.lr == pytest.approx(0.05 * 32 / 256) and res.batch_size == 32


def test_the_result_holds_the_scores_and_settings(tuned):
    d = tuned.as_dict()
    types = {"top1": float, "top5": float, "train_top1": float, "epochs": int,
             "full_label_epochs": int, "lr": float, "lr_per_256": float, "batch_size": int,
             "momentum": float, "weight_decay": float, "label_fraction": float,
             "labels": int, "label_seed": int, "seed": int, "updates": int,
             "train_images": int, "test_images": int, "feature_dim": int, "device": str,
             "precision": str, "seconds": float, "schedule": str, "view": str}
    assert set(d) == set(types)
    for key, kind in types.items():
        assert isinstance(d[key], kind), (key, d[key])
    assert 0 <= d["top1"] <= d["top5"] <= 1 and 0 <= d["train_top1"] <= 1
    assert (d["train_images"], d["test_images"], d["feature_dim"]) == (256, 64, 32)
    assert (d["device"], d["precision"], d["momentum"], d["weight_decay"]) == (
        "cpu", "32", 0.9, 0.0)
    json.dumps(d)  # plain data


def test_a_label_fraction_trains_on_the_fractions_protocols_draw(tiny, monkeypatch):
    seen = []
    cross_entropy = F.cross_entropy

    def spy(logits, y, *args, **kwargs):
        seen.append(y.clone())
        return cross_entropy(logits, y, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", spy)
    res = finetune(tiny.model, tiny.source, tiny.cfg, label_fraction=0.1, label_seed=2,
                   device="cpu", progress=False)
    # The labels the fractions protocol draws from are the same (those of the features).
    labels = split_labels(tiny.source.build("train", None))
    features = checkpoint_features(tiny.ckpt, "train", model=tiny.model, cache=False,
                                   progress=False)
    assert torch.equal(labels, features.labels)
    draw = per_class_subset(labels, 0.1, 2)
    assert torch.equal(res.indices, draw) and res.labels == draw.numel()
    # Each class gives round(10% of its images), at least one.
    per_class = torch.bincount(labels[draw], minlength=10)
    want = [max(1, round(0.1 * int((labels == c).sum()))) for c in range(10)]
    assert per_class.tolist() == want
    # 2 epochs (SimCLR's stretch of 1) of one batch each: every epoch sees exactly the draw.
    assert res.epochs == 2 and len(seen) == 2
    for y in seen:
        assert torch.bincount(y, minlength=10).tolist() == want
    other = finetune(tiny.model, tiny.source, tiny.cfg, label_fraction=0.1, label_seed=0,
                     device="cpu", progress=False)
    assert not torch.equal(other.indices, draw)


def test_the_same_seed_gives_the_same_result_and_leaves_the_global_rng_alone(tiny, tuned):
    torch.manual_seed(123)
    state = torch.get_rng_state()
    again = finetune(tiny.model, tiny.source, tiny.cfg, label_fraction=0.1, device="cpu",
                     progress=False)
    assert torch.equal(torch.get_rng_state(), state)
    strip = lambda r: {k: v for k, v in r.as_dict().items() if k != "seconds"}  # noqa: E731
    assert strip(again) == strip(tuned)
    a, b = again.encoder.state_dict(), tuned.encoder.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(again.head.weight, tuned.head.weight)
    other = finetune(tiny.model, tiny.source, tiny.cfg, label_fraction=0.1, seed=1,
                     device="cpu", progress=False)
    assert not torch.equal(other.head.weight, tuned.head.weight)


class BatchNormEncoder(nn.Module):
    """A small encoder with BatchNorm that records, at every call, whether it was in train
    mode and whether gradients were on."""

    feature_dim, in_channels, image_size = 8, 1, 32

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, stride=4)
        self.bn = nn.BatchNorm2d(8)
        self.calls: list[tuple[bool, bool]] = []

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append((self.training, torch.is_grad_enabled()))
        return self.bn(self.conv(x)).relu().mean((2, 3))


def test_batchnorm_learns_in_train_mode_and_is_scored_in_eval_mode(tiny):
    model = SimpleNamespace(encoder=BatchNormEncoder().eval(), cfg=tiny.model.cfg)
    res = finetune(model, tiny.source, tiny.cfg, device="cpu", progress=False)
    training = [c for c in res.encoder.calls if c[1]]
    scoring = [c for c in res.encoder.calls if not c[1]]
    assert len(training) == res.updates == 8 and all(mode for mode, _ in training)
    assert scoring and not any(mode for mode, _ in scoring)
    # The copy's statistics followed the labeled images; the original's did not move.
    assert res.encoder.bn.num_batches_tracked.item() == 8
    assert not torch.equal(res.encoder.bn.running_mean, torch.zeros(8))
    assert torch.equal(model.encoder.bn.running_mean, torch.zeros(8))
    assert model.encoder.calls == []


def test_a_diverging_rate_stops_with_one_line(tiny):
    cfg = dataclasses.replace(tiny.cfg, finetune_lr=1e30)
    with pytest.raises(NonFiniteError, match="non-finite.*--finetune-lr") as e:
        finetune(tiny.model, tiny.source, cfg, device="cpu", progress=False)
    assert "\n" not in str(e.value)


def test_a_device_this_machine_lacks_is_refused_in_one_line(tiny):
    with pytest.raises(InfomaxError, match="--device: 'cuda:99'") as e:
        finetune(tiny.model, tiny.source, tiny.cfg, device="cuda:99", progress=False)
    assert "\n" not in str(e.value)


def test_finetune_checkpoint_reads_the_run_and_takes_its_seed(tiny, tuned):
    res = finetune_checkpoint(tiny.ckpt, cfg=tiny.cfg, label_fraction=0.1, device="cpu",
                              progress=False)
    assert res.seed == tiny.model.cfg.train.seed
    assert (res.top1, res.top5, res.labels) == (tuned.top1, tuned.top5, tuned.labels)


# ----------------------------------------------------------------------------- infomax probe


def test_probe_finetune_with_a_label_fraction_end_to_end(run_copy, capfd):
    ckpt = run_copy / "last.ckpt"
    before = digest(ckpt)
    rc = main(["probe", str(ckpt), "--protocol", "finetune", "--label-fraction", "0.1",
               "--epochs", "1", "--finetune-batch-size", "32", "--finetune-lr", "0.1",
               "--device", "cpu", "--no-progress"])
    out, err = capfd.readouterr()
    assert rc == 0, err
    assert digest(ckpt) == before
    path = run_copy / "probe-last.json"
    res = json.loads(path.read_text())
    ft = res["finetune"]
    model = load_method(ckpt)
    labels = split_labels(resolve_probe_data(model, None, None).build("train", None))
    assert ft["labels"] == per_class_subset(labels, 0.1, 0).numel()
    assert (ft["label_fraction"], ft["epochs"], ft["full_label_epochs"]) == (0.1, 2, 1)
    assert ft["batch_size"] == 32 and ft["lr"] == pytest.approx(0.1 * 32 / 256)
    assert ft["lr_per_256"] == 0.1 and ft["device"] == "cpu"
    assert (res["train_images"], res["test_images"], res["feature_dim"]) == (256, 64, 32)
    assert "linear" not in res and "protocol" not in res
    assert not (run_copy / "features").exists()  # fine-tuning alone reads no frozen features
    assert "fine-tuned: top-1" in out and "10% labels" in out and f"result: {path}" in out


@pytest.mark.parametrize("argv, words", [
    (["--protocol", "finetune", "--label-fraction", "0"], ["--label-fraction", "0.0", "(0, 1]"]),
    (["--protocol", "finetune", "--label-fraction", "1.5"], ["--label-fraction", "1.5"]),
    (["--protocol", "finetune", "--label-fraction", "nan"], ["--label-fraction", "nan"]),
    (["--label-fraction", "0.1"], ["--label-fraction", "--protocol finetune"]),
    (["--protocol", "finetune", "--label-seed", "-1"], ["--label-seed", "-1"]),
    (["--protocol", "finetune", "--finetune-batch-size", "1"], ["--finetune-batch-size", "1"]),
    (["--protocol", "finetune", "--finetune-lr", "-1"], ["--finetune-lr", "-1"]),
    (["--protocol", "finetune", "--device", "cuda:99"], ["--device", "cuda:99"]),
    (["--protocol", "finetune", "--device", "tpu"], ["--device", "tpu"]),
])
def test_bad_fine_tuning_options_fail_in_one_line(argv, words, tiny_run, capfd):
    ckpt = tiny_run / "last.ckpt"
    before = sorted(p.name for p in tiny_run.iterdir()), digest(ckpt)
    rc = main(["probe", str(ckpt), "--no-progress", *argv])
    out, err = capfd.readouterr()
    assert rc == 2 and "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert (sorted(p.name for p in tiny_run.iterdir()), digest(ckpt)) == before


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stop_signal_writes_nothing_and_leaves_the_checkpoint(sig, code, run_copy, capfd,
                                                                monkeypatch):
    ckpt = run_copy / "last.ckpt"
    result = run_copy / "probe-last.json"
    result.write_text('{"linear": {"top1": 0.5}}')  # an earlier probe's result
    before = digest(ckpt), result.read_text(), sorted(p.name for p in run_copy.iterdir())
    cross_entropy = F.cross_entropy
    calls = []

    def signalled(logits, y, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # inside the first epoch
            os.kill(os.getpid(), sig)
        return cross_entropy(logits, y, *args, **kwargs)

    def unhandled(signum, frame):
        raise AssertionError(f"{signal.Signals(signum).name} reached the test's handler")

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", signalled)
    previous = signal.signal(sig, unhandled)
    try:
        rc = main(["probe", str(ckpt), "--protocol", "finetune", "--epochs", "3",
                   "--finetune-batch-size", "32", "--no-progress"])
        assert signal.getsignal(sig) is unhandled  # the probe's handler is gone again
    finally:
        signal.signal(sig, previous)
    out, err = capfd.readouterr()
    assert rc == code and len(calls) == 3
    assert err.splitlines() == [f"infomax: probe stopped by {signal.Signals(sig).name}; the "
                                f"checkpoint is unchanged and no result was written"]
    assert (digest(ckpt), result.read_text(),
            sorted(p.name for p in run_copy.iterdir())) == before  # no temporary file either


def test_finetune_beside_the_frozen_protocols(run_copy, capfd):
    rc = main(["probe", str(run_copy / "last.ckpt"), "--protocol", "knn", "finetune",
               "--epochs", "1", "--finetune-batch-size", "64", "--no-progress"])
    out, err = capfd.readouterr()
    assert rc == 0, err
    res = json.loads((run_copy / "probe-last.json").read_text())
    assert set(res) >= {"knn", "finetune", "protocol"} and res["feature_dim"] == 32
    assert res["finetune"]["updates"] == 4 and set(res["protocol_seconds"]) == {"knn",
                                                                               "finetune"}
    assert math.isfinite(res["finetune"]["top1"]) and "kNN" in out and "fine-tuned" in out


def test_a_run_saved_before_fine_tuning_existed_fine_tunes_with_the_defaults(
        fake_fmnist, tmp_path, capfd):
    run = tmp_path / "amdim"
    shutil.copytree(Path(__file__).parent / "fixtures" / "legacy" / "amdim", run)
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert not any(k.startswith("finetune") for k in saved["probe"])
    rc = main(["probe", str(run / "last.ckpt"), "--data-dir", str(fake_fmnist), "--protocol",
               "finetune", "--label-fraction", "0.5", "--finetune-batch-size", "64",
               "--epochs", "1", "--no-progress"])
    out, err = capfd.readouterr()
    assert rc == 0, err
    ft = json.loads((run / "probe-last.json").read_text())["finetune"]
    assert (ft["lr_per_256"], ft["momentum"], ft["weight_decay"]) == (0.05, 0.9, 0.0)
    source = resolve_probe_data(load_method(run / "last.ckpt"), None, str(fake_fmnist))
    labels = per_class_subset(split_labels(source.build("train")), 0.5, 0).numel()
    assert ft["labels"] == labels and ft["updates"] == math.ceil(labels / 64) == 2


def test_data_of_another_shape_is_refused_in_one_line_naming_both(tiny):
    import dataclasses

    other = dataclasses.replace(tiny.source, info=dataclasses.replace(tiny.source.info,
                                                                      channels=3))
    with pytest.raises(ConfigError) as err:
        finetune(tiny.model, other, tiny.cfg, device="cpu", progress=False)
    message = str(err.value)
    assert "\n" not in message and "3-channel 32 px" in message and "1-channel 32 px" in message
