"""Offline probes: feature extraction over whole splits, linear / MLP classifiers on frozen
features, and ``infomax probe`` end to end on a tiny pretrained run."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.data import Dataset

from infomax.cli import main
from infomax.config import ProbeConfig
from infomax.eval.linear import ProbeResult, extract_features, train_probe

FAST = ProbeConfig(epochs=15, milestones=[10], gamma=0.2, lr=1e-2, weight_decay=0.0,
                   batch_size=128)


def clusters(n_per_class: int, num_classes: int = 10, dim: int = 32, spread: float = 0.5,
             seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian clusters around fixed, well separated centres (the same for every seed)."""
    centres = torch.randn(num_classes, dim, generator=torch.Generator().manual_seed(99)) * 3
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(num_classes).repeat_interleave(n_per_class)
    x = centres[y] + spread * torch.randn(len(y), dim, generator=g)
    perm = torch.randperm(len(y), generator=g)
    return x[perm] + 5.0, y[perm]  # an offset: the probe standardizes its inputs


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_separable_clusters_are_learned(kind):
    xtr, ytr = clusters(60, seed=1)
    xte, yte = clusters(40, seed=2)
    res = train_probe(xtr, ytr, xte, yte, 10, FAST, kind, seed=0)
    assert isinstance(res, ProbeResult)
    assert res.top1 >= 0.99 and res.train_top1 >= 0.99
    assert res.top5 >= res.top1
    assert res.as_dict() == {"top1": res.top1, "top5": res.top5, "train_top1": res.train_top1}


def test_shuffled_labels_give_chance_on_the_test_set():
    xtr, ytr = clusters(100, seed=1)
    xte, yte = clusters(300, seed=2)  # 3000 test points: chance is 0.1 +- 0.006
    g = torch.Generator().manual_seed(5)
    ytr = ytr[torch.randperm(len(ytr), generator=g)]
    yte = yte[torch.randperm(len(yte), generator=g)]
    res = train_probe(xtr, ytr, xte, yte, 10, FAST, "linear", seed=0)
    assert abs(res.top1 - 0.1) < 0.03, res
    assert abs(res.top5 - 0.5) < 0.05, res
    assert res.top5 >= res.top1


def test_top5_is_clipped_to_the_number_of_classes_and_bounds_top1():
    xtr, ytr = clusters(30, num_classes=3, seed=1)
    xte, yte = clusters(30, num_classes=3, seed=2)
    res = train_probe(xtr, ytr, xte, yte, 3, ProbeConfig(epochs=1, milestones=[]), "linear")
    assert res.top5 == 1.0 and 0.0 <= res.top1 <= 1.0


def test_probe_is_deterministic_for_a_seed_and_leaves_the_global_rng_alone():
    xtr, ytr = clusters(20, seed=1)
    xte, yte = clusters(20, seed=2)
    cfg = ProbeConfig(epochs=3, milestones=[2], lr=1e-3, batch_size=32)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = train_probe(xtr, ytr, xte, yte, 10, cfg, "linear", seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    b = train_probe(xtr, ytr, xte, yte, 10, cfg, "linear", seed=7)
    assert a == b


def test_probe_trains_on_standardized_features():
    # A feature scaled by 1e4 (and shifted) must not stall Adam: the probe standardizes.
    xtr, ytr = clusters(60, seed=1)
    xte, yte = clusters(40, seed=2)
    scale = torch.ones(xtr.shape[1])
    scale[0] = 1e4
    res = train_probe(xtr * scale + 1e3, ytr, xte * scale + 1e3, yte, 10, FAST, "linear")
    assert res.top1 >= 0.99


# ----------------------------------------------------------------------------- extract_features


class Numbered(Dataset):
    """Item i is a (1, 2, 2) image filled with i, labelled i % 7."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return torch.full((1, 2, 2), float(i)), i % 7


class Embed(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean((1, 2, 3))[:, None], 2 * x[:, 0, 0, :1]], dim=1)


@pytest.mark.parametrize("n, batch_size", [(37, 8), (8, 8), (5, 256), (1, 2)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_extract_features_returns_every_item_in_order(n, batch_size, channels_last):
    feats, labels = extract_features(Embed(), Numbered(n), batch_size=batch_size,
                                     progress=False, channels_last=channels_last)
    idx = torch.arange(n, dtype=torch.float32)
    assert feats.shape == (n, 2) and feats.dtype == torch.float32
    assert torch.equal(feats[:, 0], idx) and torch.equal(feats[:, 1], 2 * idx)
    assert labels.tolist() == [i % 7 for i in range(n)]


def test_extract_features_with_workers_and_then_a_probe():
    feats, labels = extract_features(Embed(), Numbered(21), batch_size=4, num_workers=2,
                                     progress=False)
    assert torch.equal(feats[:, 0], torch.arange(21, dtype=torch.float32))
    # Features made under inference mode can be trained on.
    res = train_probe(feats, labels, feats, labels, 7, ProbeConfig(epochs=2, milestones=[1]))
    assert 0.0 <= res.top1 <= 1.0


def test_extract_features_runs_without_gradients():
    seen = []

    def embed(x):
        seen.append(torch.is_grad_enabled())
        return x.flatten(1)

    extract_features(embed, Numbered(3), batch_size=2, progress=False)
    assert seen == [False, False]


# ----------------------------------------------------------------------------- infomax probe


@pytest.mark.slow
def test_probe_command_end_to_end(run_copy, capfd):
    ckpt = run_copy / "last.ckpt"
    rc = main(["probe", str(ckpt), "--pixel-baseline", "--epochs", "2", "--no-progress"])
    out, err = capfd.readouterr()
    assert rc == 0, err
    path = run_copy / "probe-last.json"
    res = json.loads(path.read_text())
    assert res["checkpoint"] == str(ckpt) and res["data"] == "fashion-mnist"
    assert res["train_images"] == 256 and res["test_images"] == 64  # the full splits
    assert res["feature_dim"] == 32
    assert res["protocol"]["epochs"] == 2 and res["protocol"]["milestones"] == [1]
    for kind in ("linear", "pixels"):
        for key in ("top1", "top5", "train_top1"):
            assert 0.0 <= res[kind][key] <= 1.0
        assert res[kind]["top5"] >= res[kind]["top1"]
    assert "mlp" not in res
    # The fake classes differ in their pixels: even 2 updates (one 256-image batch per
    # epoch) put the pixel baseline well above chance (0.1).
    assert res["pixels"]["top1"] > 0.25
    assert f"result: {path}" in out and "raw-pixel baseline" in out and "linear probe" in out
    assert "64 test" in out


@pytest.mark.slow
def test_probe_command_mlp_and_output_path(run_copy, capfd):
    out_path = run_copy / "results" / "deep" / "p.json"
    rc = main(["probe", str(run_copy / "best.ckpt"), "--mlp", "--epochs", "1", "--workers", "0",
               "-o", str(out_path), "--no-progress"])
    out, err = capfd.readouterr()
    assert rc == 0, err
    res = json.loads(out_path.read_text())
    assert set(res) >= {"linear", "mlp"} and "pixels" not in res
    assert res["protocol"]["milestones"] == []
    assert not (run_copy / "probe-best.json").exists()


def test_probe_of_a_run_that_found_its_data_in_a_system_dir(tmp_path, monkeypatch, capfd):
    """No data root anywhere (the default one was never made) and the data set read from
    a system directory, as Debian's package installs Fashion-MNIST: pretraining finds it,
    and so must the probe of that run (it used to take the default root for a root given
    with --data-dir and refuse it as missing)."""
    from conftest import TINY, isolated_registry, write_fake_fmnist
    from infomax.data import registry

    system = tmp_path / "usr-share-datasets"
    write_fake_fmnist(system)
    missing = tmp_path / "never-made"
    with isolated_registry(monkeypatch):
        monkeypatch.setattr(registry, "SYSTEM_DIRS",
                            {"fashion-mnist": (system / "FashionMNIST" / "raw",)})
        monkeypatch.setattr(registry, "DEFAULT_DATA_ROOT", str(missing))
        out = tmp_path / "runs"
        assert main(["pretrain", "--preset", "fmnist-tiny", "--no-progress", "--out",
                     str(out), "--name", "sys", *TINY]) == 0, capfd.readouterr().err
        ckpt = out / "sys" / "last.ckpt"
        rc = main(["probe", str(ckpt), "--protocol", "knn", "--no-progress"])
        err = capfd.readouterr().err
        assert rc == 0, err
        res = json.loads((out / "sys" / "probe-last.json").read_text())
        assert (res["train_images"], res["test_images"]) == (256, 64)
        assert not missing.exists()
